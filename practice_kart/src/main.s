; Practice Kart: a small SNES racing game whose race state mirrors Super Mario Kart's RAM.
;
; Screen (mode 1): BG1 is the track as 16x16 metatiles, scrolled so the kart stays in the
; middle of the driving view; BG2 holds the HUD (rows 0-1), messages, and the whole-track
; map in the bottom half. An HDMA table switches the main screen layers per band:
;   lines   0-15  HUD             (BG2)
;   lines  16-111 driving view    (BG1, BG2 messages, sprites)
;   lines 112-223 track map       (BG2, sprites)
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
STEER_MIN_SPEED = 16
WALL_TIMER      = 30      ; frames the collision timer runs after a hit
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

; VRAM word addresses
VRAM_BG1_CHARS = $0000
VRAM_BG2_CHARS = $2000
VRAM_BG1_MAP   = $4000
VRAM_BG2_MAP   = $5000
VRAM_OBJ_CHARS = $6000

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
    beq @skip
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
    ; HUD rows while racing
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
    ldx #512
    stx $4305
    lda #$01
    sta $420B
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
    lda #$03
    sta $2101                   ; OBJ 8x8/16x16, chars at VRAM $6000
    lda #$11
    sta $2105                   ; mode 1, BG1 16x16 tiles
    lda #(VRAM_BG1_MAP >> 8) | $03
    sta $2107                   ; BG1 map, 64x64
    lda #(VRAM_BG2_MAP >> 8)
    sta $2108                   ; BG2 map, 32x32
    lda #(VRAM_BG2_CHARS >> 8)
    sta $210B                   ; BG1 chars at 0, BG2 chars at $2000
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
    VRAM_COPY bg1_chars_data, VRAM_BG1_CHARS, BG1_CHARS_SIZE
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

; Force blank and stop the per-frame uploads before a screen change.
screen_off:
    lda #$80
    sta $2100
    stz nmi_ready
    stz $420C                   ; HDMA off
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
    ; BG1 tilemap, BG2 race screen, font and minimap chars
    ldx #TRACK_BG1_MAP
    stx dma_src
    ldx #8192
    stx dma_size
    ldx #VRAM_BG1_MAP
    stx dma_vram
    jsr vram_dma
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
    ; HUD rows 0-7 start as the race screen's first rows
    A16
    ldx #$0000
@hud:
    lda TRACK_RACE_MAP,x
    sta hud_buffer,x
    inx
    inx
    cpx #512
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
    stz clock_frames
    stz clock_sec
    stz clock_min
    lda #SURF_ROAD
    sta surface
    sta ground
    ldx #3 * COUNT_STEP
    stx countdown
    ; HDMA channel 7 switches the main-screen layers per band
    stz $4370
    lda #$2C
    sta $4371
    ldx #.loword(hdma_layers)
    stx $4372
    lda #^hdma_layers
    sta $4374
    lda #$80
    sta $420C
    lda #$02
    sta game_mode
    jsr hide_sprites
    jsr race_display
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
    A16
    lda speed
    bpl @abs_done
    eor #$FFFF
    inc a
@abs_done:
    cmp #STEER_MIN_SPEED
    bcc @pedals
    A8
    lda joy+1
    and #>BTN_LEFT
    beq @right
    lda heading
    sec
    sbc #TURN_RATE
    sta heading
@right:
    lda joy+1
    and #>BTN_RIGHT
    beq @pedals
    lda heading
    clc
    adc #TURN_RATE
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
    ; velocity = speed * sin/cos(heading) using the PPU's signed 16x8 multiplier
    A8
    lda speed
    sta $211B
    lda speed+1
    sta $211B
    A16
    lda heading
    and #$00FF
    tax
    A8
    lda f:sin_table,x
    sta $211C
    A16
    lda $2135                   ; product >> 8
    asl a                       ; sub-pixels per frame: 900 at full speed is 3.5 px
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
    sta $211C
    A16
    lda $2135
    asl a
    sta dy
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
    inc blocked
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
    inc blocked
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
    jsr hit_wall
    bra @zones
@no_wall:
    lda ground
    sta surface

@zones:
    jsr update_checkpoint
    jmp update_backward

; A wall: a new hit bounces the kart back at a quarter of its speed and starts the
; collision timer; contact while the timer runs halves the speed.
hit_wall:
    lda #SURF_WALL
    sta surface
    A16
    lda collision
    and #$00FF
    bne @damp
    lda speed
    cmp #$8000
    ror a
    cmp #$8000
    ror a
    eor #$FFFF
    inc a
    sta speed
    A8
    lda #WALL_TIMER
    sta collision
    rts
@damp:
    .a16
    lda speed
    cmp #$8000
    ror a
    sta speed
    A8
    rts

; delta (3 bytes) = X sign-extended to 24 bits
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
    A16
    lda kart_x
    sec
    sbc #128
    sta bg1_hofs
    lda kart_y
    sec
    sbc #64 + 1
    sta bg1_vofs
    A8
    ; kart sprite, lifted while hopping
    lda #120
    sta oam_shadow
    A16
    lda hop_timer
    and #$00FF
    tax
    A8
    lda #56
    sec
    sbc f:hop_height,x
    sta oam_shadow+1
    lda heading
    clc
    adc #8
    lsr a
    lsr a
    lsr a
    lsr a                       ; frame 0-15
    pha
    and #$07
    asl a
    sta tmp0
    pla
    and #$08
    asl a
    asl a
    ora tmp0                    ; char (f % 8) * 2 + (f / 8) * 32
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
    lda #58
    sta oam_shadow+9
    lda #66
    sta oam_shadow+10
    lda #$20
    sta oam_shadow+11
@no_shadow:
    lda #$22                    ; sprites 0 and 2 are 16x16
    sta oam_shadow+512
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
    jsr pick_message
    A16
    ldy #$0000
@message:
    lda f:messages,x
    sta hud_buffer + (4 * 32 + 8) * 2,y
    lda f:messages + MESSAGE_COLS * 2,x
    sta hud_buffer + (5 * 32 + 8) * 2,y
    inx
    inx
    iny
    iny
    cpy #MESSAGE_COLS * 2
    bne @message
    A8
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
    .byte 96, $13               ; driving view: BG1, BG2 messages, sprites
    .byte 112, $12              ; map: BG2, sprites
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

.segment "COMMON"
palette_data:      .incbin "palette.bin"
bg1_chars_data:    .incbin "bg1_chars.bin"
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
