"""Generate Practice Kart's graphics and track banks as binary files for the assembler.

Outputs (into the build folder):
- ``common.bin`` pieces: ``palette.bin``, ``bg1_chars.bin``, ``obj_chars.bin``,
  ``title_chars.bin``/``title_map.bin``, ``select_chars.bin``/``select_map.bin``;
- ``track0.bin``, ``track1.bin``: one 32 KiB LoROM bank per track (layout in ``TRACK_BANK``);
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
    "bg1_map": 0x3000,  # BG1 tilemap, 64x64 16x16-pixel metatiles in four 32x32 screens
    "zone": 0x5000,  # per cell: checkpoint zone, 0xFF on walls
    "direction": 0x6000,  # per cell: heading byte of the track direction
    "surface": 0x7000,  # per cell: 0x40 road, 0x54 off-road, 0x80 wall
}

# Palette 0: the track (BG1). Palette 1: HUD, map and menus (BG2). OBJ palette 0: the kart.
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

# BG1 metatiles (16x16 px). Metatile m starts at char (m % 8) * 2 + (m // 8) * 32.
ROAD_T, GRASS_T, WALL_T, BARRIER_T, FINISH_T, CURB_T = range(6)


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


def bg1_chars() -> bytes:
    """64 chars (2 KiB): the metatiles laid out so that 16x16 BG tiles find their quarters."""
    sheet = blank(128, 32)
    for kind in range(6):
        blit(sheet, metatile(kind), (kind % 8) * 16, (kind // 8) * 16, transparent=None)
    return b"".join(char_4bpp(sheet, cx * 8, cy * 8) for cy in range(4) for cx in range(16))


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


def obj_chars() -> bytes:
    """128 sprite chars (4 KiB): 16 kart headings as 16x16 sprites, a map dot, and a shadow."""
    sheet = blank(128, 64)
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
    return b"".join(char_4bpp(sheet, cx * 8, cy * 8) for cy in range(8) for cx in range(16))


# Messages shown big in the driving view, in the order of MESSAGES; each glyph is 2x2 chars.
BIG_GLYPHS = "123GO!PAUSEFINH"
BIG_FIRST_CHAR = 96
MAP_FIRST_CHAR = BIG_FIRST_CHAR + 4 * len(BIG_GLYPHS)
MESSAGES = {"NONE": "", "3": "3", "2": "2", "1": "1", "GO": "GO!", "PAUSE": "PAUSE", "FINISH": "FINISH!"}
MESSAGE_COLS = 16


def font_chars() -> bytes:
    """The race HUD's BG2 chars: 96 for ASCII 32..127 (char = code - 32; char 0 is blank),
    white with a dark shadow, then the big message glyphs, yellow on red, 2x2 chars each."""
    out = bytearray()
    for code in range(32, 128):
        ch = chr(code)
        img = blank(8, 8)
        if ch.upper() in GLYPHS and ch != " ":
            glyph = text_image(ch, WHITE, shadow=DARK)
            blit(img, [row[:7] for row in glyph[:8]], 1, 0)
        out += char_4bpp(img, 0, 0)
    for ch in BIG_GLYPHS:
        img = blank(16, 16)
        blit(img, [row[:15] for row in text_image(ch, YELLOW, scale=2, shadow=RED)[:16]], 2, 0)
        out += b"".join(char_4bpp(img, x, y) for y, x in ((0, 0), (0, 8), (8, 0), (8, 8)))
    return bytes(out)


def message_words() -> bytes:
    """Two BG2 rows of MESSAGE_COLS words per message, text centred, big glyphs."""
    out = bytearray()
    for text in MESSAGES.values():
        rows = [[hud_word(" ")] * MESSAGE_COLS for _ in range(2)]
        left = (MESSAGE_COLS - 2 * len(text)) // 2
        for i, ch in enumerate(text):
            first = BIG_FIRST_CHAR + 4 * BIG_GLYPHS.index(ch)
            for k, (row, col) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
                rows[row][left + 2 * i + col] = tilemap_entry(first + k, palette=1, priority=True)
        out += b"".join(w.to_bytes(2, "little") for row in rows for w in row)
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


def bg1_tilemap(track: T.Track) -> bytes:
    """64x64 metatile words in the order VRAM wants: four 32x32 screens (TL, TR, BL, BR)."""

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

    out = bytearray()
    for screen_row in range(2):
        for screen_col in range(2):
            for row in range(32):
                for col in range(32):
                    m = kind(screen_col * 32 + col, screen_row * 32 + row)
                    out += tilemap_entry((m % 8) * 2 + (m // 8) * 32).to_bytes(2, "little")
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
        "bg1_map": bg1_tilemap(track),
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
    files = {
        "palette.bin": bytes(cgram),
        "bg1_chars.bin": bg1_chars(),
        "obj_chars.bin": obj_chars(),
        "font_chars.bin": font_chars(),
    }
    files["sin_table.bin"] = bytes(round(127 * math.sin(h * math.pi / 128)) & 0xFF for h in range(256))
    files["centiseconds.bin"] = bytes(int(f"{f * 100 // 60:02d}", 16) for f in range(60))
    files["messages.bin"] = message_words()
    files["title_chars.bin"], files["title_map.bin"] = screen_tiles(title_screen())
    files["select_chars.bin"], files["select_map.bin"] = screen_tiles(select_screen(built))
    for i, track in enumerate(built):
        files[f"track{i}.bin"] = track_bank(track)
    for name, data in files.items():
        (out / name).write_bytes(data)
    sizes = [f"{Path(n).stem.upper()}_SIZE = {len(d)}" for n, d in files.items()]
    sizes += [f"TRACK_{k.upper()} = ${0x8000 + v:04X}" for k, v in TRACK_BANK.items()]
    sizes += [f"MAP_FIRST_CHAR = {MAP_FIRST_CHAR}", f"MESSAGE_COLS = {MESSAGE_COLS}"]
    sizes += [f"MSG_{name} = {i * 4 * MESSAGE_COLS}" for i, name in enumerate(MESSAGES)]
    (out / "assets.inc").write_text("; generated by gen_assets.py\n" + "\n".join(sizes) + "\n")
    (out / "tracks.json").write_text(json.dumps(tracks_json(built), indent=1) + "\n")
    return built
