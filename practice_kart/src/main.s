; Practice Kart: a small SNES racing game whose race state mirrors Super Mario Kart's RAM.
;
; Screen: the driving view is Mode 7, as in Super Mario Kart: the track is one 1024 x 1024
; Mode 7 map, rotated so the kart's heading points up the screen and scaled per line for a
; perspective view from behind the kart. HDMA switches the video mode and layers per band:
;   lines   0-15  HUD             mode 1: BG2
;   lines  16-111 driving view    mode 7: the track, sprites (kart, big messages)
;   lines 112-223 track map       mode 1: BG2 (whole-track map), sprites (the kart's dot)
; Four more HDMA channels write the Mode 7 matrix on every line of the view, from
; precomputed tables in ROM (one per heading, see gen_assets.perspective_tables), so the
; perspective costs the CPU nothing per frame.
;
; Index registers stay 16-bit everywhere; A switches between 8 and 16 bits.

.p816
.smart

.include "ram.inc"
.include "assets.inc"

; ---- game constants --------------------------------------------------------------
TOP_SPEED       = 900     ; on road (and while airborne)
OFFROAD_SPEED   = 600     ; two thirds of top speed
ACCEL           = 6       ; per frame with B held
FRICTION        = 4       ; per frame with no pedal
BRAKE           = 20      ; per frame with Y held
OFFROAD_DRAG    = 24      ; per frame while above the off-road cap
REVERSE_MAX     = 240
TURN_RATE       = 2       ; heading units per frame
SLOW_TURN_RATE  = 1       ; below STEER_MIN_SPEED, with B held: turning from a standstill
STEER_MIN_SPEED = 16
WALL_TIMER      = 30      ; frames the collision timer runs after a wall contact
BOUNCE_MIN      = 128     ; a head-on hit sends the kart back at least this fast
KNOCKBACK       = 256     ; sub-pixels per frame that a wall pushes the kart away (1 px)
BOUNCE_DECAY    = 32      ; sub-pixels per frame that the push loses each frame
HOP_FRAMES      = 16
COUNT_STEP      = 40      ; frames per countdown number
FINAL_LAP_VALUE = 133

SURF_ROAD = $40
SURF_WALL = $80

BTN_B     = $8000
BTN_Y     = $4000
BTN_START = $1000
BTN_UP    = $0800
BTN_DOWN  = $0400
BTN_LEFT  = $0200
BTN_RIGHT = $0100
BTN_A     = $0080
BTN_L     = $0020

; VRAM word addresses. Mode 7 owns $0000-$3FFF: its map in the low bytes, its tile
; pixels in the high bytes.
VRAM_MODE7     = $0000
VRAM_BG2_CHARS = $4000
VRAM_OBJ_CHARS = $6000
VRAM_BG2_MAP   = $7000
HUD_BYTES      = 2 * 32 * 2  ; BG2 map rows 0-1, uploaded every race frame

; Sprites: 0 the kart, 1 its dot on the map, 2 its shadow, 3-10 a big message.
SPRITE_MESSAGE = 3
MESSAGE_Y      = 40
KART_SPRITE_Y  = PIVOT_LINE - 9   ; the 16x16 kart centred on the Mode 7 pivot

.macro A8
    sep #$20
    .a8
.endmacro

.macro A16
    rep #$20
    .a16
.endmacro

; Queue a DMA of `size` bytes from the 24-bit address `src` to VRAM word address `vram`.
.macro VRAM_COPY src, vram, size
    A16
    lda #.loword(src)
    sta dma_src
    lda #size
    sta dma_size
    lda #vram
    sta dma_vram
    A8
    lda #^src
    sta dma_src+2
    jsr vram_dma
.endmacro

; Hud word of font character c: palette 1, priority, char = ASCII - 32.
.define HUD(c) ($2400 + (c) - 32)

; =====================================================================================
.segment "CODE"

reset:
    sei
    clc
    xce                         ; native mode
    rep #$38                    ; 16-bit A and index, binary arithmetic
    .a16
    .i16
    ldx #$1FFF
    txs
    lda #$0000
    tcd
    A8
    pha
    plb                         ; data bank 0
    lda #$80
    sta $2100                   ; forced blank
    stz $4200                   ; no NMI while we set up

    ; Clear all 128 KiB of WRAM with a fixed-source DMA through $2180, so the game never
    ; depends on power-on RAM contents.
    stz $2181
    stz $2182
    stz $2183
    ldx #$8008                  ; mode 8: fixed source, one register; B-bus $80
    stx $4300
    ldx #.loword(zero_byte)
    stx $4302
    lda #^zero_byte
    sta $4304
    ldx #$0000                  ; 0 = 65536 bytes
    stx $4305
    lda #$01
    sta $420B
    stx $4305
    sta $420B

    jsr init_ppu
    jsr clear_vram
    jsr load_common_graphics
    lda #$81
    sta $4200                   ; NMI and joypad auto-read on
    jmp enter_title

; -------------------------------------------------------------------------------------
; The main loop: one pass per frame, after NMI.
main_loop:
    A16
    lda frame_count
@wait_nmi:
    cmp frame_count
    beq @wait_nmi
    A8
@wait_joypad:
    lda $4212
    and #$01
    bne @wait_joypad
    A16
    lda joy
    sta joy_prev
    lda $4218
    sta joy
    eor joy_prev
    and joy
    sta joy_new
    lda game_mode
    and #$00FF
    asl
    tax
    A8
    jsr (mode_handlers,x)
    A8
    lda #$01
    sta nmi_ready
    bra main_loop

mode_handlers:
    .addr title_update, select_update, race_update

; -------------------------------------------------------------------------------------
nmi:
    rep #$30
    .a16
    .i16
    pha
    phx
    phy
    phb
    phd
    lda #$0000
    tcd
    A8
    pha
    plb
    lda $4210                   ; acknowledge NMI
    lda nmi_ready
    bne @ready
    jmp @skip
@ready:
    ; sprites
    ldx #$0000
    stx $2102
    ldx #$0400                  ; mode 0 to $2104
    stx $4300
    ldx #oam_shadow
    stx $4302
    stz $4304
    ldx #544
    stx $4305
    lda #$01
    sta $420B
    ; scroll
    lda bg1_hofs
    sta $210D
    lda bg1_hofs+1
    sta $210D
    lda bg1_vofs
    sta $210E
    lda bg1_vofs+1
    sta $210E
    ; while racing: HUD rows, and the Mode 7 view of the frame the main loop just made
    lda game_mode
    cmp #$02
    bne @no_hud
    lda #$80
    sta $2115
    ldx #VRAM_BG2_MAP
    stx $2116
    ldx #$1801                  ; mode 1 to $2118/$2119
    stx $4300
    ldx #hud_buffer
    stx $4302
    stz $4304
    ldx #HUD_BYTES
    stx $4305
    lda #$01
    sta $420B
    lda m7_x
    sta $211F                   ; M7X: rotate and scale about the kart
    lda m7_x+1
    sta $211F
    lda m7_y
    sta $2120                   ; M7Y
    lda m7_y+1
    sta $2120
    jsr m7_tables
@no_hud:
    lda screen_pending
    beq @screen_done
    lda #$0F
    sta $2100
    stz screen_pending
@screen_done:
    stz nmi_ready
@skip:
    A16
    inc frame_count
    rep #$30
    pld
    plb
    ply
    plx
    pla
    rti

empty_handler:
    rti

; Point HDMA channels 1-4 (M7A-M7D) at the perspective tables of heading m7_heading:
; A and D at table t, B at table t + 64 (-sin), C at table t - 64 (+sin). HDMA reloads
; the addresses at the top of each frame, so this is called in vblank.
.macro M7_TABLE channel, turn
    lda m7_heading
    clc
    adc #turn
    pha
    ora #$80
    sta $4303 + channel * $10   ; table = $8000 + (heading & $7F) * 256 ...
    stz $4302 + channel * $10
    pla
    asl a                       ; ... in the bank of headings 0-127 or 128-255
    lda #^m7_tables_lo
    adc #$00
    sta $4304 + channel * $10
.endmacro

.a8
m7_tables:
    M7_TABLE 1, 0
    M7_TABLE 2, 64
    M7_TABLE 3, 192
    M7_TABLE 4, 0
    rts

; -------------------------------------------------------------------------------------
; PPU setup
.a8
init_ppu:
    ldx #$2101
@clear:
    stz $00,x                   ; $2101-$2133 to zero (scroll registers twice below)
    inx
    cpx #$2134
    bne @clear
    lda #VRAM_OBJ_CHARS >> 13
    sta $2101                   ; OBJ 8x8/16x16, chars at VRAM $6000
    lda #$01
    sta $2105                   ; mode 1 (HDMA switches the driving view to mode 7)
    lda #(VRAM_BG2_MAP >> 8)
    sta $2108                   ; BG2 map, 32x32
    lda #(VRAM_BG2_CHARS >> 8)
    sta $210B                   ; BG2 chars
    lda #$C0
    sta $211A                   ; M7SEL: outside the map, repeat tile 0 (barrier)
    lda #$FF                    ; BG2 vertical scroll -1: the SNES shows BG line 1 on screen line 0
    sta $2110
    sta $2110
    lda #$12
    sta $212C                   ; BG2 and sprites
    rts

clear_vram:
    lda #$80
    sta $2115
    ldx #$0000
    stx $2116
    ldx #$1809                  ; mode 9: fixed source, two registers
    stx $4300
    ldx #.loword(zero_byte)
    stx $4302
    lda #^zero_byte
    sta $4304
    ldx #$0000
    stx $4305                   ; 64 KiB
    lda #$01
    sta $420B
    rts

load_common_graphics:
    stz $2121
    ldx #$2200                  ; mode 0 to $2122
    stx $4300
    ldx #.loword(palette_data)
    stx $4302
    lda #^palette_data
    sta $4304
    ldx #PALETTE_SIZE
    stx $4305
    lda #$01
    sta $420B
    VRAM_COPY obj_chars_data, VRAM_OBJ_CHARS, OBJ_CHARS_SIZE
    rts

; Copy dma_size bytes from dma_src to VRAM word address dma_vram (screen must be off).
vram_dma:
    lda #$80
    sta $2115
    ldx dma_vram
    stx $2116
    ldx #$1801
    stx $4300
    ldx dma_src
    stx $4302
    lda dma_src+2
    sta $4304
    ldx dma_size
    stx $4305
    lda #$01
    sta $420B
    rts

; Copy dma_size bytes from dma_src into one byte of each VRAM word from dma_vram on: the
; low bytes with A = $00, the high bytes with A = $80 (Mode 7 keeps its map in the low
; bytes and its tile pixels in the high bytes). Screen must be off.
vram_dma_half:
    sta $2115                   ; increment after the low ($00) or high ($80) byte
    ldx dma_vram
    stx $2116
    ldx #$1800                  ; mode 0, to $2118 (low byte) ...
    cmp #$80
    bne @low
    ldx #$1900                  ; ... or to $2119 (high byte)
@low:
    stx $4300
    ldx dma_src
    stx $4302
    lda dma_src+2
    sta $4304
    ldx dma_size
    stx $4305
    lda #$01
    sta $420B
    rts

; Force blank and stop the per-frame uploads before a screen change.
screen_off:
    lda #$80
    sta $2100
    stz nmi_ready
    stz $420C                   ; HDMA off ...
    lda #$01
    sta $2105                   ; ... which may have left mode 7 on
    rts

; The screen comes back on in NMI, after the first frame's sprites, scroll and HUD are
; uploaded, so no half-built frame is ever shown.
screen_on:
    lda #$01
    sta screen_pending
    rts

; All sprites off screen.
hide_sprites:
    ldx #$0000
@loop:
    lda #$F0
    sta oam_shadow+1,x
    inx
    inx
    inx
    inx
    cpx #512
    bne @loop
    A16
    lda #$0000
    ldx #$0000
@high:
    sta oam_shadow+512,x
    inx
    inx
    cpx #32
    bne @high
    A8
    rts

; =====================================================================================
; Title screen

enter_title:
    A8
    ldx #$1FFF
    txs
    jsr screen_off
    lda #$00
    pha
    plb
    VRAM_COPY title_chars_data, VRAM_BG2_CHARS, TITLE_CHARS_SIZE
    VRAM_COPY title_map_data, VRAM_BG2_MAP, TITLE_MAP_SIZE
    lda #$12
    sta $212C
    ldx #$0000
    stx bg1_hofs
    stx bg1_vofs
    jsr hide_sprites
    stz game_mode
    jsr screen_on
    jmp main_loop

title_update:
    A16
    lda joy_new
    and #BTN_START
    beq @done
    jmp enter_select
@done:
    A8
    rts

; =====================================================================================
; Track select

enter_select:
    A8
    jsr screen_off
    VRAM_COPY select_chars_data, VRAM_BG2_CHARS, SELECT_CHARS_SIZE
    VRAM_COPY select_map_data, VRAM_BG2_MAP, SELECT_MAP_SIZE
    jsr hide_sprites
    lda #$01
    sta game_mode
    stz menu_cursor
    jsr place_cursor
    jsr screen_on
    ; Drop the stack frame of title_update: the mode switch restarts the main loop.
    ldx #$1FFF
    txs
    jmp main_loop

; The cursor is the kart, pointing east, beside the chosen track.
place_cursor:
    lda #92
    sta oam_shadow
    lda menu_cursor
    beq @first
    lda #48 + 72 + 12
    bra @set
@first:
    lda #48 + 12
@set:
    sta oam_shadow+1
    lda #8                      ; heading 64 = frame 4 = char 8
    sta oam_shadow+2
    lda #$30
    sta oam_shadow+3
    lda #$02                    ; sprite 0 large
    sta oam_shadow+512
    rts

select_update:
    A16
    lda joy_new
    and #BTN_START | BTN_B | BTN_A
    beq @move
    A8
    lda menu_cursor
    sta track_index
    jmp enter_race
@move:
    .a16
    lda joy_new
    and #BTN_UP
    beq @down
    A8
    stz menu_cursor
    bra @place
@down:
    .a16
    lda joy_new
    and #BTN_DOWN
    beq @done
    A8
    lda #$01
    sta menu_cursor
@place:
    jsr place_cursor
@done:
    A8
    rts

; =====================================================================================
; Race

enter_race:
    A8
    jsr screen_off
    ldx #$1FFF
    txs
    lda track_index
    inc a                       ; track 0 lives in bank 1, track 1 in bank 2
    sta dma_src+2
    pha
    plb                         ; the race runs with the track's bank as data bank
    ; Mode 7: the track's map (16 KiB per track, in the maps bank) and the tile pixels
    lda #^m7_maps
    sta dma_src+2
    ldx #.loword(m7_maps)
    lda track_index
    beq @map_address
    ldx #.loword(m7_maps) + 128 * 128
@map_address:
    stx dma_src
    ldx #128 * 128
    stx dma_size
    ldx #VRAM_MODE7
    stx dma_vram
    lda #$00
    jsr vram_dma_half
    ldx #.loword(m7_chars_data)
    stx dma_src
    lda #^m7_chars_data
    sta dma_src+2
    ldx #M7_CHARS_SIZE
    stx dma_size
    lda #$80
    jsr vram_dma_half
    ; BG2 race screen, font and minimap chars
    lda track_index
    inc a
    sta dma_src+2
    ldx #TRACK_RACE_MAP
    stx dma_src
    ldx #2048
    stx dma_size
    ldx #VRAM_BG2_MAP
    stx dma_vram
    jsr vram_dma
    ldx #TRACK_MAP_CHARS
    stx dma_src
    ldx TRACK_HEADER+6
    stx dma_size
    ldx #VRAM_BG2_CHARS + MAP_FIRST_CHAR * 16
    stx dma_vram
    jsr vram_dma
    VRAM_COPY font_chars_data, VRAM_BG2_CHARS, FONT_CHARS_SIZE
    ; HUD rows 0-1 start as the race screen's first rows
    A16
    ldx #$0000
@hud:
    lda TRACK_RACE_MAP,x
    sta hud_buffer,x
    inx
    inx
    cpx #HUD_BYTES
    bne @hud
    ; the grid
    lda TRACK_HEADER
    sta kart_x
    lda TRACK_HEADER+2
    sta kart_y
    A8
    lda #$80
    sta kart_x_sub
    sta kart_y_sub
    lda TRACK_HEADER+4
    sta heading
    lda TRACK_HEADER+5
    sta num_checkpoints
    dec a
    sta checkpoint              ; the grid is in the last zone, just behind the line
    sta checkpoint_alt
    lda #127
    sta laps
    ldx #$0000
    stx speed
    stx current_frame
    stz collision
    stz backward
    stz hop_timer
    stz paused
    stz race_state
    stz message_timer
    stz steer_lean
    ldx #$0000
    stx bounce_dx
    stx bounce_dy
    stz clock_frames
    stz clock_sec
    stz clock_min
    lda #SURF_ROAD
    sta surface
    sta ground
    ldx #3 * COUNT_STEP
    stx countdown
    ; HDMA channels 1-4 write the Mode 7 matrix M7A-M7D ($211B-$211E) twice per line
    lda #$02
    sta $4310
    sta $4320
    sta $4330
    sta $4340
    lda #$1B
    sta $4311
    inc a
    sta $4321
    inc a
    sta $4331
    inc a
    sta $4341
    ; channel 6 switches the video mode per band, channel 7 the main-screen layers
    stz $4360
    lda #$05
    sta $4361
    ldx #.loword(hdma_bgmode)
    stx $4362
    lda #^hdma_bgmode
    sta $4364
    stz $4370
    lda #$2C
    sta $4371
    ldx #.loword(hdma_layers)
    stx $4372
    lda #^hdma_layers
    sta $4374
    lda #$02
    sta game_mode
    jsr hide_sprites
    jsr race_display
    jsr m7_tables               ; valid tables before HDMA starts (NMI keeps them current)
    lda #$DE                    ; HDMA channels 1-4, 6 and 7
    sta $420C
    jsr screen_on
    jmp main_loop

race_update:
    A8
    lda race_state
    beq @countdown
    cmp #$01
    beq @racing
    ; finished: coast, START goes back to the title
    A16
    lda joy_new
    and #BTN_START
    beq @finished_coast
    jmp enter_title
@finished_coast:
    A8
    ldx #$0000
    stx joy                     ; no pedal, no steering
    stx joy_new
    jsr physics
    jmp race_display

@countdown:
    A16
    dec countdown
    bne @show
    A8
    lda #$01
    sta race_state
    lda #COUNT_STEP
    sta message_timer
@show:
    A8
    jmp race_display

@racing:
    A16
    lda joy_new
    and #BTN_START
    beq @no_pause
    A8
    lda paused
    eor #$01
    sta paused
@no_pause:
    A8
    lda paused
    bne @display
    jsr physics
    jsr update_clock
    lda message_timer
    beq @display
    dec message_timer
@display:
    jmp race_display

; -------------------------------------------------------------------------------------
; One frame of kart physics: steering, speed, movement with wall collisions, checkpoint
; zones and laps, and the wrong-way flag.
.a8
physics:
    lda collision
    beq @hop
    dec collision
@hop:
    lda hop_timer
    beq @can_hop
    dec hop_timer
    bra @steer
@can_hop:
    lda joy_new
    and #<BTN_L
    beq @steer
    lda #HOP_FRAMES
    sta hop_timer

@steer:
    ; full turn rate when moving; with B held the kart also turns slowly from a standstill
    ; (as in SMK), so it can always drive away from a wall it faces
    A16
    lda speed
    bpl @abs_done
    eor #$FFFF
    inc a
@abs_done:
    ldx #TURN_RATE
    stz steer_lean              ; upright unless a turn below says otherwise (A is 16-bit:
                                ; this also clears mul_sign, scratch for velocity)
    cmp #STEER_MIN_SPEED
    bcs @turn
    lda joy
    and #BTN_B
    beq @pedals
    ldx #SLOW_TURN_RATE
@turn:
    stx turn
    A8
    lda joy+1
    and #>BTN_LEFT
    beq @right
    dec steer_lean
    lda heading
    sec
    sbc turn
    sta heading
@right:
    lda joy+1
    and #>BTN_RIGHT
    beq @pedals
    inc steer_lean
    lda heading
    clc
    adc turn
    sta heading

@pedals:
    ; speed cap: top speed on road or in the air, two thirds on off-road
    A16
    ldx #TOP_SPEED
    lda hop_timer
    and #$00FF
    bne @cap_set
    lda ground
    and #$00FF
    cmp #SURF_ROAD
    beq @cap_set
    ldx #OFFROAD_SPEED
@cap_set:
    stx tmp0
    ; above the cap (off-road at speed): drag down towards it
    lda speed
    sec
    sbc tmp0
    bmi @below_cap
    beq @below_cap
    cmp #OFFROAD_DRAG
    bcc @to_cap
    lda speed
    sec
    sbc #OFFROAD_DRAG
    sta speed
    bra @move
@to_cap:
    lda tmp0
    sta speed
    bra @move
@below_cap:
    lda joy
    and #BTN_B
    beq @no_gas
    lda speed
    clc
    adc #ACCEL
    sta speed
    sec
    sbc tmp0
    bmi @move
    lda tmp0
    sta speed
    bra @move
@no_gas:
    lda joy
    and #BTN_Y
    beq @coast
    lda speed
    sec
    sbc #BRAKE
    sta tmp1
    clc
    adc #REVERSE_MAX
    bpl @brake_ok               ; not below -REVERSE_MAX
    lda #.loword(-REVERSE_MAX)
    sta tmp1
@brake_ok:
    lda tmp1
    sta speed
    bra @move
@coast:
    lda speed
    beq @move
    bmi @coast_up
    sec
    sbc #FRICTION
    bpl @store_coast
    lda #$0000
    bra @store_coast
@coast_up:
    clc
    adc #FRICTION
    bmi @store_coast
    lda #$0000
@store_coast:
    sta speed

@move:
    ; velocity = speed * (sin, -cos)(heading), plus what is left of a wall's push
    A16
    lda heading
    and #$00FF
    tax
    A8
    lda f:sin_table,x
    jsr velocity
    .a16                        ; velocity returns with a 16-bit A
    sta vel_x
    clc
    adc bounce_dx
    sta dx
    lda heading
    clc
    adc #64
    and #$00FF
    tax
    A8
    lda f:sin_table,x           ; cos(heading)
    eor #$FF
    inc a                       ; y grows southwards, north is -cos
    jsr velocity
    .a16                        ; velocity returns with a 16-bit A
    sta vel_y
    clc
    adc bounce_dy
    sta dy
    lda bounce_dx
    jsr decay
    sta bounce_dx
    lda bounce_dy
    jsr decay
    sta bounce_dy
    A8
    stz blocked

    ; x then y, each refused on its own so the kart slides along walls
    ldx dx
    jsr set_delta
    clc
    lda kart_x_sub
    adc delta
    sta new_pos
    lda kart_x
    adc delta+1
    sta new_pos+1
    lda kart_x+1
    adc delta+2
    and #$03
    sta new_pos+2
    ldx new_pos+1
    stx cell_x
    ldx kart_y
    stx cell_y
    jsr cell_of
    lda TRACK_SURFACE,x
    cmp #SURF_WALL
    bne @commit_x
    lda #$01                    ; bit 0: x refused
    tsb blocked
    bra @try_y
@commit_x:
    lda new_pos
    sta kart_x_sub
    ldx new_pos+1
    stx kart_x
@try_y:
    ldx dy
    jsr set_delta
    clc
    lda kart_y_sub
    adc delta
    sta new_pos
    lda kart_y
    adc delta+1
    sta new_pos+1
    lda kart_y+1
    adc delta+2
    and #$03
    sta new_pos+2
    ldx kart_x
    stx cell_x
    ldx new_pos+1
    stx cell_y
    jsr cell_of
    lda TRACK_SURFACE,x
    cmp #SURF_WALL
    bne @commit_y
    lda #$02                    ; bit 1: y refused
    tsb blocked
    bra @after_move
@commit_y:
    lda new_pos
    sta kart_y_sub
    ldx new_pos+1
    stx kart_y
@after_move:
    ldx kart_x
    stx cell_x
    ldx kart_y
    stx cell_y
    jsr cell_of                 ; X = the kart's cell from here on
    lda TRACK_SURFACE,x
    sta ground
    lda blocked
    beq @no_wall
    phx                         ; hit_wall uses X; the zone and direction checks need the cell
    jsr hit_wall
    plx
    bra @zones
@no_wall:
    lda ground
    sta surface

@zones:
    jsr update_checkpoint
    jmp update_backward

; A wall contact (the move was refused on the axes in `blocked`). Like SMK's walls, it
; never holds the kart: each refused axis gets a push away from the wall, so the next
; frames leave contact whatever the pedals do. A head-on contact (the refused axis
; carried most of the motion) turns the speed into a backward bounce of at least
; BOUNCE_MIN; a glancing one reflects the motion into the wall, keeps 3/4 of the speed,
; and lets the kart slide on along the free axis. Every contact restarts the timer.
hit_wall:
    lda #SURF_WALL
    sta surface
    lda #WALL_TIMER
    sta collision
    A16
    lda dx
    jsr abs16
    sta tmp0                    ; |dx|
    lda dy
    jsr abs16
    sta tmp1                    ; |dy|
    A8
    lda blocked
    cmp #$03
    beq @head_on                ; a corner: both axes refused
    cmp #$01
    bne @y_refused
    A16
    lda tmp0
    cmp tmp1
    bcs @head_on                ; x refused and x carried most of the motion
    bra @glancing
@y_refused:
    A16
    lda tmp1
    cmp tmp0
    bcs @head_on
@glancing:
    A16
    lda speed                   ; speed -= speed / 4
    cmp #$8000
    ror a
    cmp #$8000
    ror a
    eor #$FFFF
    inc a
    clc
    adc speed
    sta speed
    lda vel_x                   ; the push also cancels the motion into the wall
    sta tmp0
    lda vel_y
    sta tmp1
    bra @push
@head_on:
    A16
    lda speed                   ; speed = -speed / 2, at least BOUNCE_MIN the other way
    beq @still
    bmi @was_reversing
    lsr a
    cmp #BOUNCE_MIN
    bcs @back
    lda #BOUNCE_MIN
@back:
    eor #$FFFF
    inc a
    bra @set_speed
@was_reversing:
    eor #$FFFF
    inc a
    lsr a
    cmp #BOUNCE_MIN
    bcs @set_speed
    lda #BOUNCE_MIN
@set_speed:
    sta speed
@still:
    stz tmp0
    stz tmp1
@push:
    ; bounce = -(motion cancelled) - KNOCKBACK towards the wall, on each refused axis
    A8
    lda blocked
    and #$01
    beq @push_y
    A16
    lda dx
    ldx tmp0
    jsr push_from_wall
    sta bounce_dx
    A8
@push_y:
    lda blocked
    and #$02
    beq @done
    A16
    lda dy
    ldx tmp1
    jsr push_from_wall
    sta bounce_dy
@done:
    A8
    rts

; A = the refused step on one axis (its sign says which side the wall is on), X = the
; kart's own velocity on that axis. Returns the push: KNOCKBACK away from the wall, plus
; the velocity's part towards the wall cancelled (X = 0 for none).
.a16
push_from_wall:
    stx tmp2
    cmp #$8000
    bcs @wall_below             ; the step went negative: the wall is on the low side
    lda tmp2
    bmi @only_knock_down        ; the kart's own motion already points away
    eor #$FFFF
    inc a
    sec
    sbc #KNOCKBACK
    rts
@only_knock_down:
    lda #.loword(-KNOCKBACK)
    rts
@wall_below:
    lda tmp2
    bpl @only_knock_up
    eor #$FFFF
    inc a
    clc
    adc #KNOCKBACK
    rts
@only_knock_up:
    lda #KNOCKBACK
    rts

; A = |A| (16-bit)
.a16
abs16:
    cmp #$8000
    bcc @done
    eor #$FFFF
    inc a
@done:
    rts

; A = A moved BOUNCE_DECAY towards 0 (16-bit signed): a wall's push fades out.
.a16
decay:
    cmp #$8000
    bcs @negative
    sec
    sbc #BOUNCE_DECAY
    bcs @done
    lda #$0000
    rts
@negative:
    clc
    adc #BOUNCE_DECAY
    bcc @done
    lda #$0000
@done:
    rts

; velocity: A (8-bit) = a signed sine (-127..127). Returns A (16-bit) = 2 * floor(speed *
; sine / 256), the kart's step on one axis in sub-pixels (1/256 px) per frame: 900 at
; top speed is 3.5 px. It uses the CPU's unsigned 8x8 multiplier, because the PPU's
; signed multiplier shares M7A/M7B with the perspective HDMA.
.a8
velocity:
    stz mul_sign
    cmp #$80
    bcc @sine_positive
    eor #$FF
    inc a
    inc mul_sign
@sine_positive:
    sta $4202                   ; multiplicand: |sine|
    A16
    lda speed
    jsr abs16
    sta mul_abs
    A8
    lda speed+1
    bpl @signs_done
    lda mul_sign
    eor #$01
    sta mul_sign
@signs_done:
    lda mul_abs+1
    sta $4203                   ; |speed| high byte * |sine|, ready 8 cycles later
    nop
    nop
    nop
    nop
    A16
    lda $4216
    sta mul_high
    A8
    lda mul_abs
    sta $4203                   ; low byte * |sine|
    nop
    nop
    nop
    nop
    A16
    lda $4216
    sta mul_low
    A8
    lda mul_sign
    bne @negative
    A16
    lda mul_low
    xba
    and #$00FF                  ; (low product) >> 8 ...
    clc
    adc mul_high                ; ... + high product = |speed * sine| >> 8
    asl a
    rts
@negative:
    A16
    lda mul_low
    clc
    adc #255                    ; round the magnitude up, so the result is floored
    xba
    and #$00FF
    clc
    adc mul_high
    eor #$FFFF
    inc a
    asl a
    rts

; delta (3 bytes) = X sign-extended to 24 bits
.a8
set_delta:
    stx delta
    lda delta+1
    and #$80
    beq @positive
    lda #$FF
@positive:
    sta delta+2
    rts

; X = row-major index of the 16x16 cell holding (cell_x, cell_y) pixels
cell_of:
    A16
    lda cell_y
    and #$03F0
    asl a
    asl a
    sta tmp0
    lda cell_x
    lsr a
    lsr a
    lsr a
    lsr a
    and #$003F
    ora tmp0
    tax
    A8
    rts

; Zones advance by one or two at a time; passing the last zone into zone 0 completes a
; lap, and crossing the line backwards takes it away again. Bigger jumps (cutting across
; the infield) are ignored, so a shortcut does not count.
update_checkpoint:
    lda race_state
    cmp #$02
    beq @done                   ; laps stop counting after the finish
    lda TRACK_ZONE,x
    cmp #$FF
    beq @done
    sta tmp1
    sec
    sbc checkpoint
    bpl @mod
    clc
    adc num_checkpoints
@mod:
    beq @done
    cmp #3
    bcs @backwards
    clc
    adc checkpoint
    cmp num_checkpoints
    bcc @set
    inc laps
    lda laps
    cmp #FINAL_LAP_VALUE
    bcc @set
    lda #$02
    sta race_state
    lda #$FF
    sta message_timer
    bra @set
@backwards:
    sta tmp2
    lda num_checkpoints
    sec
    sbc tmp2                    ; zones stepped back
    cmp #3
    bcs @done
    sta tmp2
    lda checkpoint
    sec
    sbc tmp2
    bpl @set
    dec laps
@set:
    lda tmp1
    sta checkpoint
    sta checkpoint_alt
@done:
    rts

; Bit $10 of `backward` is set while the heading is more than 96/256 of a turn away from
; the track direction under the kart.
update_backward:
    lda heading
    sec
    sbc TRACK_DIRECTION,x
    bpl @abs
    eor #$FF
    inc a
@abs:
    cmp #97
    bcc @forward
    lda backward
    ora #$10
    sta backward
    rts
@forward:
    lda backward
    and #$EF
    sta backward
    rts

update_clock:
    A16
    inc current_frame
    A8
    inc clock_frames
    lda clock_frames
    cmp #60
    bcc @done
    stz clock_frames
    sed
    lda clock_sec
    clc
    adc #$01
    sta clock_sec
    cld
    cmp #$60
    bcc @done
    stz clock_sec
    lda clock_min
    cmp #9
    bcs @done
    inc clock_min
@done:
    rts

; -------------------------------------------------------------------------------------
; Display: scroll, sprites and HUD text for this frame.
race_display:
    ; Mode 7 view: the kart's position is the centre of rotation and is drawn at
    ; (128, PIVOT_LINE); the matrix tables rotate the heading up the screen
    A16
    lda kart_x
    sta m7_x
    sec
    sbc #128
    sta bg1_hofs
    lda kart_y
    sta m7_y
    sec
    sbc #PIVOT_LINE
    sta bg1_vofs
    A8
    lda heading
    sta m7_heading
    ; kart sprite, seen heading up, leaning into a turn, lifted while hopping
    lda #120
    sta oam_shadow
    A16
    lda hop_timer
    and #$00FF
    tax
    A8
    lda #KART_SPRITE_Y
    sec
    sbc f:hop_height,x
    sta oam_shadow+1
    lda steer_lean
    beq @upright
    bmi @lean_left
    lda #2                      ; frame 1 (heading 16): leaning right
    bra @lean_set
@lean_left:
    lda #46                     ; frame 15 (heading 240): leaning left
    bra @lean_set
@upright:
    lda #0                      ; frame 0: heading up
@lean_set:
    sta oam_shadow+2
    lda #$20
    sta oam_shadow+3
    ; map dot
    A16
    lda kart_x
    lsr a
    lsr a
    lsr a
    clc
    adc #64 - 4
    A8
    sta oam_shadow+4
    A16
    lda kart_y
    lsr a
    lsr a
    lsr a
    clc
    adc #112 - 4 - 1
    A8
    sta oam_shadow+5
    lda #64
    sta oam_shadow+6
    lda #$30
    sta oam_shadow+7
    ; shadow under a hopping kart
    lda #$F0
    sta oam_shadow+9
    lda hop_timer
    beq @no_shadow
    lda #120
    sta oam_shadow+8
    lda #KART_SPRITE_Y + 2
    sta oam_shadow+9
    lda #66
    sta oam_shadow+10
    lda #$20
    sta oam_shadow+11
@no_shadow:
    lda #$A2                    ; sprites 0, 2 and 3 are 16x16 ...
    sta oam_shadow+512
    lda #$AA                    ; ... and 4-10 (the message glyphs)
    sta oam_shadow+513
    lda #$2A
    sta oam_shadow+514
    jsr draw_message
    jmp draw_hud

; HUD: time M'SS"CC, lap, speed, and the message in the middle of the view.
.a8
draw_hud:
    A16
    lda clock_min
    and #$000F
    clc
    adc #HUD('0')
    sta hud_buffer + (0 * 32 + 6) * 2
    lda #HUD(39)                ; '
    sta hud_buffer + (0 * 32 + 7) * 2
    lda clock_sec
    jsr bcd_pair
    sta hud_buffer + (0 * 32 + 8) * 2
    stx hud_buffer + (0 * 32 + 9) * 2
    lda #HUD('"')
    sta hud_buffer + (0 * 32 + 10) * 2
    lda clock_frames
    and #$00FF
    tax
    lda f:centiseconds,x
    jsr bcd_pair
    sta hud_buffer + (0 * 32 + 11) * 2
    stx hud_buffer + (0 * 32 + 12) * 2
    ; lap = laps - 127, shown between 1 and 5
    lda laps
    and #$00FF
    sec
    sbc #127
    beq @lap_one
    bpl @lap_max
@lap_one:
    lda #1
@lap_max:
    cmp #6
    bcc @lap_show
    lda #5
@lap_show:
    clc
    adc #HUD('0')
    sta hud_buffer + (0 * 32 + 27) * 2
    ; speed, three digits of |speed|
    lda speed
    bpl @speed_abs
    eor #$FFFF
    inc a
@speed_abs:
    ldx #HUD('0')
@hundreds:
    cmp #100
    bcc @tens_start
    sbc #100
    inx
    bra @hundreds
@tens_start:
    stx hud_buffer + (1 * 32 + 7) * 2
    ldx #HUD('0')
@tens:
    cmp #10
    bcc @ones
    sbc #10
    inx
    bra @tens
@ones:
    stx hud_buffer + (1 * 32 + 8) * 2
    clc
    adc #HUD('0')
    sta hud_buffer + (1 * 32 + 9) * 2
    A8
    rts

; The message (3, 2, 1, GO!, PAUSE, FINISH!) as big sprites across the driving view:
; Mode 7 has no second background layer to write text on.
.a8
draw_message:
    jsr pick_message            ; X = the message's offset in `messages`
    lda f:messages,x
    sta tmp0                    ; glyph count
    lda f:messages+1,x
    sta tmp1                    ; screen x of the first glyph
    stz tmp2                    ; glyph index
    ldy #SPRITE_MESSAGE * 4
@glyph:
    lda tmp2
    cmp tmp0
    bcs @hide
    lda tmp1
    sta oam_shadow,y
    clc
    adc #16
    sta tmp1
    lda #MESSAGE_Y
    sta oam_shadow+1,y
    lda f:messages+2,x
    sta oam_shadow+2,y
    lda #$32                    ; priority 3, sprite palette 1
    sta oam_shadow+3,y
    bra @next
@hide:
    lda #$F0
    sta oam_shadow+1,y
@next:
    inx
    inc tmp2
    iny
    iny
    iny
    iny
    cpy #(SPRITE_MESSAGE + MESSAGE_GLYPHS) * 4
    bne @glyph
    rts

; A = BCD byte (16-bit A, high byte ignored) -> A = tens digit word, X = ones digit word
.a16
bcd_pair:
    and #$00FF
    pha
    and #$000F
    clc
    adc #HUD('0')
    tax
    pla
    lsr a
    lsr a
    lsr a
    lsr a
    clc
    adc #HUD('0')
    rts

; X = offset of the 8-character message to show
.a8
pick_message:
    ldx #MSG_NONE
    lda race_state
    bne @not_countdown
    A16
    lda countdown
    ldx #MSG_3
    cmp #2 * COUNT_STEP + 1
    bcs @done16
    ldx #MSG_2
    cmp #COUNT_STEP + 1
    bcs @done16
    ldx #MSG_1
@done16:
    A8
    rts
@not_countdown:
    cmp #$02
    bne @racing
    ldx #MSG_FINISH
    rts
@racing:
    lda paused
    beq @go
    ldx #MSG_PAUSE
    rts
@go:
    lda message_timer
    beq @none
    ldx #MSG_GO
@none:
    rts

; =====================================================================================
.segment "RODATA"

zero_byte:
    .byte 0

; Lines per band, then the main-screen layers ($212C) for that band.
hdma_layers:
    .byte 16, $02               ; HUD: BG2
    .byte 96, $11               ; driving view: the Mode 7 track, sprites
    .byte 112, $12              ; map: BG2, sprites
    .byte 0

; Lines per band, then the video mode ($2105) for that band.
hdma_bgmode:
    .byte 16, $01               ; HUD: mode 1
    .byte 96, $07               ; driving view: mode 7
    .byte 112, $01              ; map: mode 1
    .byte 0

hop_height:
    .byte 0, 2, 4, 6, 7, 8, 9, 9, 9, 9, 8, 7, 6, 4, 2, 0, 0

sin_table:
    .incbin "sin_table.bin"

centiseconds:
    .incbin "centiseconds.bin"

; Per message: two BG2 rows of MESSAGE_COLS words (big glyphs), at offsets MSG_*.
messages:
    .incbin "messages.bin"

; =====================================================================================
.segment "TRACK0"
    .incbin "track0.bin"

.segment "TRACK1"
    .incbin "track1.bin"

.segment "MODE7LO"
m7_tables_lo:      .incbin "m7_tables_lo.bin"   ; perspective tables, headings 0-127

.segment "MODE7HI"
m7_tables_hi:      .incbin "m7_tables_hi.bin"   ; headings 128-255: the next bank

.segment "MODE7MAPS"
m7_maps:           .incbin "m7_maps.bin"        ; track 0's map, then track 1's

.segment "COMMON"
palette_data:      .incbin "palette.bin"
m7_chars_data:     .incbin "m7_chars.bin"
obj_chars_data:    .incbin "obj_chars.bin"
font_chars_data:   .incbin "font_chars.bin"
title_chars_data:  .incbin "title_chars.bin"
title_map_data:    .incbin "title_map.bin"
select_chars_data: .incbin "select_chars.bin"
select_map_data:   .incbin "select_map.bin"

; =====================================================================================
.segment "HEADER"
    .byte "PRACTICE KART        "   ; 21-byte title
    .byte $20                   ; LoROM, slow ROM
    .byte $02                   ; ROM + SRAM + battery
    .byte $08                   ; ROM 256 KiB
    .byte $01                   ; SRAM 2 KiB, as Super Mario Kart declares
    .byte $01                   ; region: North America
    .byte $00                   ; developer
    .byte $00                   ; version
    .word $FFFF                 ; checksum complement (fixed by build.py)
    .word $0000                 ; checksum

.segment "VECTORS"
    ; native mode: unused, unused, COP, BRK, ABORT, NMI, unused, IRQ
    .word 0, 0, .loword(empty_handler), .loword(empty_handler)
    .word .loword(empty_handler), .loword(nmi), 0, .loword(empty_handler)
    ; emulation mode: unused, unused, COP, unused, ABORT, NMI, RESET, IRQ/BRK
    .word 0, 0, .loword(empty_handler), 0
    .word .loword(empty_handler), .loword(empty_handler), .loword(reset), .loword(empty_handler)
