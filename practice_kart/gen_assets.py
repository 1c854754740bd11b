"""Generate Practice Kart's graphics and track banks as binary files for the assembler.

Outputs (into the build folder):
- common pieces: ``palette.bin``, ``m7_chars.bin`` (the Mode 7 tiles' pixels), ``obj_chars.bin``,
  ``title_chars.bin``/``title_map.bin``, ``select_chars.bin``/``select_map.bin``;
- ``track0.bin``, ``track1.bin``: one 32 KiB LoROM bank per track (layout in ``TRACK_BANK``);
- ``m7_maps.bin``: both tracks' 128 x 128 Mode 7 tile maps, 16 KiB each (one bank);
- ``m7_tables_lo.bin``, ``m7_tables_hi.bin``: the perspective HDMA tables, one per heading
  (see :func:`perspective_tables`), 128 headings per bank;
- ``assets.inc``: sizes for the assembler;
- ``tracks.json``: centrelines and start poses, for the scripted expert.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from practice_kart import tracks as T
from practice_kart.font import GLYPHS
from practice_kart.snesgfx import (
    Image,
    blank,
    blit,
    char_4bpp,
    image_to_tiles,
    palette_bytes,
    text_image,
    tilemap_entry,
)

# Offsets inside a track bank (the bank is mapped at $8000, so ROM address = $8000 + offset).
TRACK_BANK = {
    "header": 0x0000,  # start x (u16), start y (u16), heading (u8), checkpoints (u8), map chars bytes (u16)
    "race_map": 0x0100,  # BG2 tilemap of the race screen, 32x32 words
    "map_chars": 0x0900,  # minimap characters (4bpp), loaded after the font (MAP_FIRST_CHAR)
    "zone": 0x5000,  # per cell: checkpoint zone, 0xFF on walls
    "direction": 0x6000,  # per cell: heading byte of the track direction
    "surface": 0x7000,  # per cell: 0x40 road, 0x54 off-road, 0x80 wall
}

# Palette 0: the track (Mode 7 pixels are CGRAM indices, so the track uses colours 0-15).
# Palette 1: HUD, map and menus (BG2). OBJ palette 0: the kart; OBJ palette 1: big messages.
# Road and grass differ by at least 40 in grayscale luma (road 137/125, grass 82/65): agents
# see 84 x 84 grey frames, and with the first palette (road 113, grass 125) the track's edge
# showed only where a curb ran.
TRACK_COLORS = [
    (0, 0, 0),
    (136, 136, 144),
    (124, 124, 132),
    (40, 112, 40),
    (32, 88, 32),
    (184, 72, 56),
    (224, 208, 184),
    (40, 48, 88),
    (248, 248, 248),
    (16, 16, 16),
    (232, 200, 56),
    (136, 136, 144),
    (208, 40, 40),
    (56, 64, 112),
]
UI_COLORS = [
    (0, 0, 0),
    (248, 248, 248),
    (168, 168, 176),
    (56, 160, 56),
    (48, 56, 96),
    (248, 216, 48),
    (216, 48, 40),
    (72, 72, 80),
    (120, 176, 248),
    (24, 24, 40),
    (248, 136, 32),
    (24, 96, 40),
    (120, 120, 128),
]
KART_COLORS = [
    (0, 0, 0),
    (224, 40, 40),
    (136, 16, 24),
    (24, 24, 24),
    (248, 248, 248),
    (248, 216, 48),
    (240, 184, 136),
    (48, 96, 224),
    (40, 40, 40),
]
WHITE, GRAY, GREEN, SLATE, YELLOW, RED, DARK, BLUE, NAVY, ORANGE = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10

# Track metatiles: one 16x16-pixel world cell each, cut into four 8x8 Mode 7 tiles.
# BARRIER_T comes first: its (single, repeating) tile becomes tile 0, which Mode 7 also
# draws outside the 1024 x 1024 map (M7SEL = $C0), where the perspective view reaches.
BARRIER_T, ROAD_T, GRASS_T, WALL_T, FINISH_T, CURB_T = range(6)

# The driving view: lines 16-111 in Mode 7, heading-up, in perspective. The camera looks
# over the kart, whose position is drawn at (128, PIVOT_LINE); a ground row on screen line
# y is at scale (PIVOT_LINE - HORIZON_LINE) / (y - HORIZON_LINE) world pixels per screen
# pixel: 1 at the kart, 2.7 at the top of the view, which looks about 210 px (1 s at top
# speed) up the road. With the same scale across and along the road, the projection is a
# true perspective with the focal length PIVOT_LINE - HORIZON_LINE.
VIEW_TOP, VIEW_LINES = 16, 96
PIVOT_LINE = 96
HORIZON_LINE = -32
TABLE_STRIDE = 256  # bytes per heading's HDMA table (197 used), so 128 headings fill a bank


def _noise(x: int, y: int, seed: int) -> int:
    """A small deterministic hash, for texture speckles."""
    h = (x * 374761393 + y * 668265263 + seed * 2147483647) & 0xFFFFFFFF
    h = (h ^ (h >> 13)) * 1274126177 & 0xFFFFFFFF
    return h >> 24


def metatile(kind: int) -> Image:
    img = blank(16, 16)
    for y in range(16):
        for x in range(16):
            n = _noise(x, y, kind)
            if kind == ROAD_T:
                c = 2 if n < 40 else 1
            elif kind == GRASS_T:
                c = 4 if n < 60 or ((x + 2 * y) % 7 == 0 and n < 140) else 3
            elif kind == WALL_T:
                mortar = y % 8 == 7 or (x + (4 if y // 8 else 0)) % 8 == 7
                c = 6 if mortar else 5
            elif kind == BARRIER_T:
                c = 13 if (x + y) % 8 < 2 else 7
            elif kind == FINISH_T:
                c = 8 if (x // 4 + y // 4) % 2 else 9
            else:  # curb: red and white blocks
                c = 12 if (x // 4 + y // 4) % 2 else 8
            img[y][x] = c
    return img


def m7_tiles() -> tuple[bytes, dict[int, tuple[int, int, int, int]]]:
    """The Mode 7 tiles and, per metatile, its four tile numbers (top-left, top-right,
    bottom-left, bottom-right). Pixels are 8-bit CGRAM indices, 64 bytes a tile; equal
    quarters share a tile, and the barrier's tile is tile 0."""
    tiles: dict[bytes, int] = {}
    quarters = {}
    for kind in range(6):
        img = metatile(kind)
        ids = []
        for qy, qx in ((0, 0), (0, 8), (8, 0), (8, 8)):
            pixels = bytes(img[qy + y][qx + x] for y in range(8) for x in range(8))
            ids.append(tiles.setdefault(pixels, len(tiles)))
        quarters[kind] = tuple(ids)
    assert quarters[BARRIER_T] == (0, 0, 0, 0), "the barrier must be one repeating tile, tile 0"
    return b"".join(tiles), quarters


def perspective_tables() -> tuple[bytes, bytes]:
    """HDMA tables for the Mode 7 matrix, one per heading byte, ``TABLE_STRIDE`` bytes each.

    Table ``h`` holds ``scale(line) * cos(h)`` as signed 8.8 fixed point for every line of
    the driving view. With the kart's heading ``t``, M7A and M7D read table ``t``, M7B table
    ``t + 64`` (= -scale * sin t) and M7C table ``t - 64`` (= scale * sin t): a rotation that
    puts the heading up the screen, scaled per line for the perspective. The ROM only points
    four HDMA channels at tables here, so the view costs the CPU no work per frame.
    Returns the tables of headings 0-127 and 128-255 (one bank each).
    """

    def word(v: float) -> bytes:
        return (round(v * 256) & 0xFFFF).to_bytes(2, "little")

    banks = []
    for half in range(2):
        out = bytearray()
        for h in range(half * 128, half * 128 + 128):
            c = math.cos(h * math.pi / 128)
            table = bytearray([VIEW_TOP]) + word(0)  # lines 0-15: the HUD, not Mode 7
            table += bytes([0x80 | VIEW_LINES])  # then a new value on every line of the view
            for line in range(VIEW_TOP, VIEW_TOP + VIEW_LINES):
                table += word(c * (PIVOT_LINE - HORIZON_LINE) / (line - HORIZON_LINE))
            table += b"\0"  # the track map below: HDMA stops for the rest of the frame
            out += table + bytes(TABLE_STRIDE - len(table))
        banks.append(bytes(out))
    return banks[0], banks[1]


def kart_image(heading: int) -> Image:
    """The kart seen from above, pointing at SMK ``heading`` (0 = north)."""
    a = heading * math.pi / 128
    fx, fy = math.sin(a), -math.cos(a)  # forward
    rx, ry = math.cos(a), math.sin(a)  # right
    img = blank(16, 16)
    for py in range(16):
        for px in range(16):
            dx, dy = px - 7.5, py - 7.5
            u, v = dx * rx + dy * ry, dx * fx + dy * fy
            c = 0
            if 3.5 <= abs(u) <= 6.5 and 1.5 <= abs(v) <= 5.5:
                c = 3  # tyres
            elif abs(u) <= 4 and -6.5 <= v <= 6.5:
                c = 1 if abs(u) <= 2.5 or v > 0 else 2  # body, darker sides at the back
                if v > 4.5:
                    c = 5  # yellow nose
                if u * u + (v + 1) ** 2 <= 5.5:
                    c = 4  # white helmet
                if u * u + (v + 1.2) ** 2 <= 1.6:
                    c = 7  # blue visor
            img[py][px] = c
    return img


def big_glyph(ch: str) -> Image:
    """A 16x16 message glyph, yellow with a red shadow."""
    img = blank(16, 16)
    blit(img, [row[:15] for row in text_image(ch, YELLOW, scale=2, shadow=RED)[:16]], 2, 0)
    return img


def obj_chars() -> bytes:
    """256 sprite chars (8 KiB): 16 kart headings as 16x16 sprites, a map dot, a shadow, and
    the big message glyphs (16x16, sprite palette 1) from char ``GLYPH_FIRST_CHAR`` on."""
    sheet = blank(128, 128)
    for k in range(16):
        blit(sheet, kart_image(k * 16), (k % 8) * 16, (k // 8) * 16)
    dot = blank(8, 8)
    for y in range(2, 6):
        for x in range(2, 6):
            dot[y][x] = 4 if x in (2, 5) or y in (2, 5) else 1
    blit(sheet, dot, 0, 32)  # char 64
    shadow = blank(16, 16)
    for y in range(16):
        for x in range(16):
            if ((x - 7.5) / 6) ** 2 + ((y - 7.5) / 6) ** 2 <= 1:
                shadow[y][x] = 8
    blit(sheet, shadow, 16, 32)  # chars 66, 67, 82, 83
    for g, ch in enumerate(BIG_GLYPHS):
        blit(sheet, big_glyph(ch), (g % 8) * 16, 64 + (g // 8) * 16)
    return b"".join(char_4bpp(sheet, cx * 8, cy * 8) for cy in range(16) for cx in range(16))


# Messages shown big in the driving view, as sprites (Mode 7 has no second layer for text).
BIG_GLYPHS = "123GO!PAUSEFINH"
GLYPH_FIRST_CHAR = 128
MAP_FIRST_CHAR = 96
MESSAGES = {"NONE": "", "3": "3", "2": "2", "1": "1", "GO": "GO!", "PAUSE": "PAUSE", "FINISH": "FINISH!"}
MESSAGE_GLYPHS = 8  # sprites reserved for a message
MESSAGE_BYTES = 2 + MESSAGE_GLYPHS  # glyph count, x of the first glyph, one sprite char per glyph


def glyph_char(ch: str) -> int:
    g = BIG_GLYPHS.index(ch)
    return GLYPH_FIRST_CHAR + (g % 8) * 2 + (g // 8) * 32


def font_chars() -> bytes:
    """The race HUD's BG2 chars: 96 for ASCII 32..127 (char = code - 32; char 0 is blank),
    white with a dark shadow."""
    out = bytearray()
    for code in range(32, 128):
        ch = chr(code)
        img = blank(8, 8)
        if ch.upper() in GLYPHS and ch != " ":
            glyph = text_image(ch, WHITE, shadow=DARK)
            blit(img, [row[:7] for row in glyph[:8]], 1, 0)
        out += char_4bpp(img, 0, 0)
    return bytes(out)


def message_sprites() -> bytes:
    """Per message, ``MESSAGE_BYTES``: its glyph count, the screen x of its first glyph (the
    text centred on the screen), and each glyph's sprite char."""
    out = bytearray()
    for text in MESSAGES.values():
        assert len(text) <= MESSAGE_GLYPHS, text
        chars = [glyph_char(ch) for ch in text] + [0] * (MESSAGE_GLYPHS - len(text))
        out += bytes([len(text), 128 - 8 * len(text), *chars])
    return bytes(out)


def center(dst: Image, src: Image, y: int) -> None:
    blit(dst, src, (len(dst[0]) - len(src[0])) // 2, y)


def minimap(track: T.Track, scale: int) -> Image:
    """The track as ``scale`` px per cell: road grey, off-road green, walls dark, finish white."""
    colors = {T.ROAD: GRAY, T.OFFROAD: GREEN, T.WALL: SLATE}
    img = blank(T.COLS * scale, T.ROWS * scale)
    for i, surf in enumerate(track.surface):
        row, col = divmod(i, T.COLS)
        c = WHITE if track.finish[i] else colors[surf]
        for y in range(scale):
            for x in range(scale):
                img[row * scale + y][col * scale + x] = c
    return img


def screen_tiles(img: Image) -> tuple[bytes, bytes]:
    """A 256x224 menu screen as (chars from char 1, 32x32 tilemap); char 0 stays blank."""
    chars, words = image_to_tiles(img, first_char=1, palette=1)
    words += [tilemap_entry(0, 1)] * (32 * 32 - len(words))
    return bytes(32) + chars, b"".join(w.to_bytes(2, "little") for w in words)


def title_screen() -> Image:
    img = blank(256, 224)
    for y in range(12, 20):
        for x in range(256):
            img[y][x] = img[y + 192][x] = WHITE if (x // 8 + y // 4) % 2 else NAVY
    center(img, text_image("PRACTICE", YELLOW, scale=4, shadow=RED), 44)
    center(img, text_image("KART", YELLOW, scale=4, shadow=RED), 84)
    center(img, text_image("PRESS START", WHITE), 148)
    center(img, text_image("A HOMEBREW SNES ROM", GRAY), 172)
    center(img, text_image("FOR THE KART RL COURSE", GRAY), 182)
    return img


def select_screen(built: list[T.Track]) -> Image:
    img = blank(256, 224)
    center(img, text_image("SELECT TRACK", YELLOW, scale=2, shadow=RED), 16)
    for i, track in enumerate(built):
        y = 48 + i * 72
        blit(img, minimap(track, 1), 24, y, transparent=None)
        blit(img, text_image(f"{i + 1} {track.spec.name}", WHITE), 112, y + 16)
        blit(img, text_image(track.spec.difficulty, ORANGE if i else GREEN), 124, y + 28)
    center(img, text_image("UP/DOWN: CHOOSE  START: RACE", GRAY), 200)
    return img


def hud_word(ch: str) -> int:
    """A BG2 tilemap word showing font character ``ch`` over the track (priority set)."""
    return tilemap_entry(ord(ch) - 32, palette=1, priority=True)


def race_tilemap(track: T.Track, first_map_char: int) -> tuple[bytes, bytes]:
    """The race screen's BG2: HUD labels on rows 0-1, the minimap on rows 14-27."""
    words = [hud_word(" ")] * (32 * 32)

    def put(text: str, col: int, row: int) -> None:
        for i, ch in enumerate(text):
            words[row * 32 + col + i] = hud_word(ch)

    put("TIME", 1, 0)
    put("LAP", 21, 0)
    put("/5", 28, 0)
    put("SPEED", 1, 1)
    first, second = ([*track.spec.name.split(" "), ""])[:2]
    put(first, 0, 16)
    put(second, 0, 17)
    put(track.spec.difficulty, 25, 16)
    put("5 LAPS", 25, 17)
    chars, map_words = image_to_tiles(minimap(track, 2), first_char=first_map_char, palette=1)
    for i, w in enumerate(map_words):
        row, col = divmod(i, 16)
        words[(14 + row) * 32 + 8 + col] = w
    return chars, b"".join(w.to_bytes(2, "little") for w in words)


def m7_tilemap(track: T.Track, quarters: dict[int, tuple[int, int, int, int]]) -> bytes:
    """The track as a 128 x 128 Mode 7 map of tile numbers, row-major: 2 x 2 tiles per world
    cell; the rows below the 56-row world are barrier."""

    def surface(col: int, row: int) -> int:
        return track.surface[row * T.COLS + col] if 0 <= col < T.COLS and 0 <= row < T.ROWS else T.WALL

    def kind(col: int, row: int) -> int:
        if row >= T.ROWS:
            return BARRIER_T
        i = row * T.COLS + col
        surf = surface(col, row)
        near = [surface(col + dx, row + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        if surf == T.WALL:
            return WALL_T if any(s != T.WALL for s in near) else BARRIER_T
        if surf == T.OFFROAD:
            return GRASS_T
        if track.finish[i]:
            return FINISH_T
        edge = [surface(col + dx, row + dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
        return CURB_T if T.OFFROAD in edge else ROAD_T

    out = bytearray(128 * 128)
    for row in range(64):
        for col in range(64):
            tl, tr, bl, br = quarters[kind(col, row)]
            out[(2 * row) * 128 + 2 * col : (2 * row) * 128 + 2 * col + 2] = bytes([tl, tr])
            out[(2 * row + 1) * 128 + 2 * col : (2 * row + 1) * 128 + 2 * col + 2] = bytes([bl, br])
    return bytes(out)


def track_bank(track: T.Track) -> bytes:
    bank = bytearray(0x8000)
    map_chars, race_map = race_tilemap(track, first_map_char=MAP_FIRST_CHAR)
    x, y, heading = track.start
    header = x.to_bytes(2, "little") + y.to_bytes(2, "little") + bytes([heading, T.NUM_CHECKPOINTS])
    header += len(map_chars).to_bytes(2, "little")
    pad = [T.NO_ZONE] * (64 * 64 - len(track.zone))
    tables = {
        "header": header,
        "race_map": race_map,
        "map_chars": map_chars,
        "zone": bytes(track.zone + pad),
        "direction": bytes(track.direction + [0] * len(pad)),
        "surface": bytes(track.surface + [T.WALL] * len(pad)),
    }
    ends = [*sorted(TRACK_BANK.values()), 32768]
    for name, data in tables.items():
        start = TRACK_BANK[name]
        room = next(e for e in ends if e > start) - start
        assert len(data) <= room, f"{name} of {track.spec.name} is {len(data)} bytes, room for {room}"
        bank[start : start + len(data)] = data
    return bytes(bank)


def tracks_json(built: list[T.Track]) -> dict:
    return {
        "world": {"cell": T.CELL, "cols": T.COLS, "rows": T.ROWS},
        "num_checkpoints": T.NUM_CHECKPOINTS,
        "tracks": [
            {
                "index": i,
                "name": t.spec.name,
                "difficulty": t.spec.difficulty,
                "state": f"Level{i + 1}",
                "length_px": round(t.length, 1),
                "road_half_width": t.spec.road_half_width,
                "offroad_width": t.spec.offroad_width,
                "start": {"x": t.start[0], "y": t.start[1], "heading": t.start[2]},
                "centerline": [[round(x, 1), round(y, 1)] for x, y in t.centerline[::2]],
            }
            for i, t in enumerate(built)
        ],
    }


def generate(out: Path) -> list[T.Track]:
    """Write every asset into ``out`` and return the built tracks."""
    out.mkdir(parents=True, exist_ok=True)
    built = [T.build(spec) for spec in T.TRACKS]
    cgram = bytearray(512)
    cgram[0:32] = palette_bytes(TRACK_COLORS)
    cgram[32:64] = palette_bytes(UI_COLORS)
    cgram[256:288] = palette_bytes(KART_COLORS)
    cgram[288:320] = palette_bytes(UI_COLORS)
    m7_chars, quarters = m7_tiles()
    files = {
        "palette.bin": bytes(cgram),
        "m7_chars.bin": m7_chars,
        "obj_chars.bin": obj_chars(),
        "font_chars.bin": font_chars(),
    }
    files["sin_table.bin"] = bytes(round(127 * math.sin(h * math.pi / 128)) & 0xFF for h in range(256))
    files["centiseconds.bin"] = bytes(int(f"{f * 100 // 60:02d}", 16) for f in range(60))
    files["messages.bin"] = message_sprites()
    files["m7_maps.bin"] = b"".join(m7_tilemap(track, quarters) for track in built)
    files["m7_tables_lo.bin"], files["m7_tables_hi.bin"] = perspective_tables()
    files["title_chars.bin"], files["title_map.bin"] = screen_tiles(title_screen())
    files["select_chars.bin"], files["select_map.bin"] = screen_tiles(select_screen(built))
    for i, track in enumerate(built):
        files[f"track{i}.bin"] = track_bank(track)
    for name, data in files.items():
        (out / name).write_bytes(data)
    sizes = [f"{Path(n).stem.upper()}_SIZE = {len(d)}" for n, d in files.items()]
    sizes += [f"TRACK_{k.upper()} = ${0x8000 + v:04X}" for k, v in TRACK_BANK.items()]
    sizes += [f"MAP_FIRST_CHAR = {MAP_FIRST_CHAR}", f"MESSAGE_GLYPHS = {MESSAGE_GLYPHS}"]
    sizes += [f"MSG_{name} = {i * MESSAGE_BYTES}" for i, name in enumerate(MESSAGES)]
    sizes += [f"PIVOT_LINE = {PIVOT_LINE}"]
    (out / "assets.inc").write_text("; generated by gen_assets.py\n" + "\n".join(sizes) + "\n")
    (out / "tracks.json").write_text(json.dumps(tracks_json(built), indent=1) + "\n")
    return built
