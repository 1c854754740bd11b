"""SNES graphics encoding: palettes, 4bpp characters, and images cut into deduplicated tiles.

Images are lists of rows of palette indices (0-15). Everything is pure Python so that
the ROM rebuilds byte for byte on any machine.
"""

from __future__ import annotations

Image = list[list[int]]


def bgr555(rgb: tuple[int, int, int]) -> int:
    """An 8-bit-per-channel colour as the SNES's 15-bit BGR word."""
    r, g, b = (c >> 3 for c in rgb)
    return r | (g << 5) | (b << 10)


def palette_bytes(colors: list[tuple[int, int, int]]) -> bytes:
    """16 colours as 32 bytes of CGRAM (little-endian BGR555), padded with black."""
    colors = (colors + [(0, 0, 0)] * 16)[:16]
    return b"".join(bgr555(c).to_bytes(2, "little") for c in colors)


def blank(width: int, height: int, color: int = 0) -> Image:
    return [[color] * width for _ in range(height)]


def char_4bpp(img: Image, x0: int, y0: int) -> bytes:
    """Encode the 8x8 block at (x0, y0) as a 32-byte 4bpp SNES character (planar, MSB left)."""
    low, high = bytearray(16), bytearray(16)
    for row in range(8):
        planes = [0, 0, 0, 0]
        for col in range(8):
            c = img[y0 + row][x0 + col]
            for p in range(4):
                if c >> p & 1:
                    planes[p] |= 0x80 >> col
        low[2 * row], low[2 * row + 1] = planes[0], planes[1]
        high[2 * row], high[2 * row + 1] = planes[2], planes[3]
    return bytes(low + high)


def tilemap_entry(char: int, palette: int = 0, priority: bool = False) -> int:
    """A BG tilemap word: vhopppcc cccccccc."""
    return (char & 0x3FF) | (palette & 7) << 10 | (0x2000 if priority else 0)


def image_to_tiles(img: Image, first_char: int, palette: int, blank_char: int = 0) -> tuple[bytes, list[int]]:
    """Cut an image (multiple of 8 px each way) into unique 8x8 chars.

    Returns the chars (32 bytes each, numbered from ``first_char``) and one tilemap
    word per 8x8 cell, row-major. All-zero cells use ``blank_char`` and cost no char.
    """
    chars: dict[bytes, int] = {}
    data = bytearray()
    words = []
    empty = bytes(32)
    for ty in range(len(img) // 8):
        for tx in range(len(img[0]) // 8):
            ch = char_4bpp(img, tx * 8, ty * 8)
            if ch == empty:
                words.append(tilemap_entry(blank_char, palette))
                continue
            if ch not in chars:
                chars[ch] = first_char + len(chars)
                data += ch
            words.append(tilemap_entry(chars[ch], palette))
    return bytes(data), words


def blit(dst: Image, src: Image, x0: int, y0: int, transparent: int | None = 0) -> None:
    """Copy ``src`` into ``dst`` at (x0, y0), skipping ``transparent`` pixels."""
    for y, row in enumerate(src):
        for x, c in enumerate(row):
            if c != transparent and 0 <= y0 + y < len(dst) and 0 <= x0 + x < len(dst[0]):
                dst[y0 + y][x0 + x] = c


def text_image(text: str, color: int, scale: int = 1, shadow: int | None = None) -> Image:
    """Render text with the project font: 6 px advance per character, 8 px line, times ``scale``."""
    from practice_kart.font import glyph_rows

    img = blank(6 * len(text) * scale + scale, 8 * scale + scale)
    for i, ch in enumerate(text):
        for gy, row in enumerate(glyph_rows(ch)):
            for gx, bit in enumerate(row):
                if bit != "#":
                    continue
                for sy in range(scale):
                    for sx in range(scale):
                        x, y = (6 * i + gx) * scale + sx, gy * scale + sy
                        if shadow is not None:
                            img[y + scale][x + scale] = img[y + scale][x + scale] or shadow
                        img[y][x] = color
    return img
