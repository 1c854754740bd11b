"""stable-retro's type strings (``|u1``, ``<i2``, ``>d4``): parse them and read typed values from RAM."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

# stable-retro's byte orders: one char, or two for "mixed" words (see its src/memory.cpp).
_ENDIANS = ("<", ">", "|", "=", "><", "<>", ">=", "<=")
_NATIVE = "<" if sys.byteorder == "little" else ">"


@dataclass(frozen=True)
class DataType:
    """A stable-retro type string such as ``"<i2"``: byte order, kind, and width in bytes.

    - byte order: ``<`` little-endian (SNES), ``>`` big-endian (Genesis), ``|`` one byte, so
      order does not matter (stable-retro reads it little-endian), ``=`` native; two chars
      (``><``, ``<>``) are "mixed" orders of 16-bit halves.
    - kind: ``i`` signed, ``u`` unsigned, ``d`` BCD (two decimal digits a byte), ``n`` one
      decimal digit in the low nibble of each byte.
    - width: 1 to 8 bytes.

    :meth:`read_as` parses a string the way stable-retro does, mistakes included: an unknown
    kind such as ``s`` silently reads as unsigned. ``kart_helpers.ram.data_json`` is the strict
    checker.
    """

    text: str
    endian: str
    kind: str
    width: int

    @classmethod
    def read_as(cls, text: str | DataType) -> DataType:
        """How stable-retro reads ``text`` (width = last char, kind = the char before it); a DataType as it is.

        Raises ValueError where stable-retro silently skips the variable instead
        (fewer than 3 characters, or a width outside 0 to 8).
        """
        if isinstance(text, DataType):
            return text
        if len(text) < 3:
            raise ValueError(f"type {text!r} is shorter than 3 characters: stable-retro silently skips it")
        width = ord(text[-1]) - ord("0")
        if not 0 <= width <= 8:
            raise ValueError(f"type {text!r} has width {text[-1]!r}: stable-retro silently skips widths over 8")
        two = text[:2] if text[:2] in _ENDIANS[4:] and len(text) > 3 else text[0]
        return cls(text, two if two in _ENDIANS else "|", text[-2], width)

    @property
    def signed(self) -> bool:
        return self.kind == "i"

    @property
    def is_bcd(self) -> bool:
        return self.kind in ("d", "n")

    @property
    def weights(self) -> np.ndarray:
        """Multiplier of each byte, shape (width,) uint64: a port of stable-retro's ``shift[]``."""
        order = {"=": _NATIVE, ">=": "><" if _NATIVE == "<" else ">", "<=": "<" if _NATIVE == "<" else "<="}
        endian = order.get(self.endian, self.endian)
        base = {"d": 100, "n": 10}.get(self.kind, 256)
        w = self.width
        shift = [0] * w
        loc, end, half, step = {
            ">": (w - 1, -1, -1, -1),
            "<>": (w // 2 - 1, -1, w - 1, -1),
            "><": (w // 2, w, 0, 1),
        }.get(endian, (0, w, -1, 1))  # "<", "|" and anything else read little-endian
        value, i = 1, loc
        while i != end:
            shift[i], value, i = value, value * base, i + step
        if half >= 0:
            i = half
            while i != loc:
                shift[i], value, i = value, value * base, i + step
        return np.array(shift, dtype=np.uint64)

    def decode(self, data: np.ndarray) -> np.ndarray:
        """Values of byte groups: ``data`` shape (..., width) uint8 -> (...,) int64."""
        b: np.ndarray = np.asarray(data, dtype=np.uint8).astype(np.uint64)
        if self.kind == "d":  # two digits a byte, as stable-retro: each nibble taken modulo 10
            b = (b & 0xF) % 10 + ((b >> 4) & 0xF) % 10 * 10
        elif self.kind == "n":
            b = (b & 0xF) % 10
        raw = (b * self.weights).sum(axis=-1, dtype=np.uint64)
        if not self.signed or self.width in (0, 8):
            return raw.view(np.int64)  # width 8 wraps, as in stable-retro's int64
        value = raw.astype(np.int64)
        half = 1 << (8 * self.width - 1)
        return np.where(value >= half, value - 2 * half, value)

    def valid(self, data: np.ndarray) -> np.ndarray | np.bool_:
        """Which byte groups hold a proper value: (..., width) uint8 -> (...,) bool.

        Always true except for BCD kinds, where each used nibble must be a digit 0-9.
        """
        b = np.asarray(data, dtype=np.uint8)
        if self.kind == "d":
            return ((b & 0xF) <= 9).all(axis=-1) & ((b >> 4) <= 9).all(axis=-1)
        if self.kind == "n":
            return ((b & 0xF) <= 9).all(axis=-1)
        return np.ones(b.shape[:-1], dtype=bool)

    def value_range(self) -> tuple[int, int]:
        """The smallest and largest value this type can read."""
        if self.kind == "d":
            return 0, 10 ** (2 * self.width) - 1
        if self.kind == "n":
            return 0, 10**self.width - 1
        if self.signed:
            return -(1 << (8 * self.width - 1)), (1 << (8 * self.width - 1)) - 1
        return 0, (1 << (8 * self.width)) - 1


def decode_at(ram: np.ndarray, indices: np.ndarray | int | np.integer, dtype: str | DataType) -> np.ndarray:
    """Typed values that start at ``indices`` of one or many RAM snapshots.

    ram: (..., N) uint8, e.g. (N,) one snapshot or (T, N) a recording, in data.json byte order
    (see :meth:`MemoryMap.read`). indices: (C,) or scalar get_ram() indices.
    Returns (..., C) or (...,) int64.
    """
    dtype = DataType.read_as(dtype)
    idx = np.asarray(indices)
    window = idx[..., None] + np.arange(dtype.width)  # (C, width): bytes of each value
    return dtype.decode(np.asarray(ram)[..., window])
