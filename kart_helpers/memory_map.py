"""Where a game's RAM bytes live, and how to read typed values from them.

Four ways to name one byte of a SNES game's RAM:

- a **WRAM offset**: ``0x10C1``, the byte's place in the console's 128 KiB work RAM;
- a **SNES bus address**: ``$7E:10C1``, what the CPU uses (bank ``$7E``/``$7F``); the first
  8 KiB of WRAM also appear at ``$00:0000-$1FFF`` (and in banks ``$01-$3F``, ``$80-$BF``);
- a **data.json address**: the number stable-retro's ``data.json`` uses, e.g. ``8261825``;
  for SNES it is the bus address as one integer (``0x7E10C1``), or ``0x010B`` for the
  bank-``$00`` mirror;
- a **get_ram() index**: the position in ``env.unwrapped.get_ram()``, which joins the memory
  blocks in address order, so it depends on the cartridge's SRAM size.

:class:`MemoryMap` converts between them for any stable-retro game (it reads the block sizes
from the live env). :class:`DataType` reads typed values (``|u1``, ``<i2``, ``>d4``, ...)
exactly as stable-retro does, vectorized over many addresses and snapshots.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from kart_helpers.tables import Table

WRAM_BASE = 0x7E0000  # data.json address of WRAM offset 0 (= 8257536)
WRAM_SIZE = 0x20000  # 128 KiB: banks $7E and $7F
LOW_RAM_SIZE = 0x2000  # the first 8 KiB of WRAM, mirrored in bank $00
SRAM_BASE = 0x700000  # where stable-retro puts cartridge SRAM (LoROM bank $70)
SRAM_BANK_SIZE = 0x8000  # LoROM SRAM banks hold 32 KiB each ($70:0000-$7FFF)


class AddressError(ValueError):
    """An address that is not in the game's RAM; the message lists where RAM is."""


# ----------------------------------------------------------------------------- SNES addresses


def format_bus(bus: int) -> str:
    """A 24-bit SNES bus address as ``$BB:AAAA``, e.g. ``format_bus(0x7E10C1) == "$7E:10C1"``."""
    return f"${bus >> 16 & 0xFF:02X}:{bus & 0xFFFF:04X}"


def parse_bus(text: str | int) -> int:
    """A SNES address as written in RAM maps and wikis, as a 24-bit integer.

    Accepts ``"$7E:10C1"``, ``"$7E10C1"``, ``"7E10C1"`` and ``"0x7E10C1"``. Four hex digits
    without a bank (``"$10C1"``) mean a WRAM offset, i.e. bank ``$7E``.
    """
    if isinstance(text, int | np.integer):
        return int(text)
    digits = re.sub(r"^(\$|0x)", "", text.strip(), flags=re.IGNORECASE).replace(":", "")
    if not re.fullmatch(r"[0-9A-Fa-f]{1,6}", digits):
        raise AddressError(f"{text!r} is not a SNES address; write it like '$7E:10C1' or '$10C1'")
    value = int(digits, 16)
    return WRAM_BASE + value if len(digits) <= 4 else value


def wram_to_address(offset: int) -> int:
    """The data.json address of WRAM byte ``offset`` (0 to 0x1FFFF): ``0x7E0000 + offset``."""
    if not 0 <= offset < WRAM_SIZE:
        raise AddressError(f"WRAM offset {offset:#x} is outside WRAM (0 to {WRAM_SIZE - 1:#x})")
    return WRAM_BASE + offset


def address_to_wram(address: int) -> int:
    """The WRAM offset of a data.json address in WRAM or in its bank-$00 mirror (0 to 0x1FFF)."""
    if 0 <= address < LOW_RAM_SIZE:
        return address
    if WRAM_BASE <= address < WRAM_BASE + WRAM_SIZE:
        return address - WRAM_BASE
    raise AddressError(
        f"data.json address {address} ({address:#x}) is not WRAM: WRAM is {WRAM_BASE}..{WRAM_BASE + WRAM_SIZE - 1} "
        f"($7E:0000-$7F:FFFF) and its mirror 0..{LOW_RAM_SIZE - 1} ($00:0000-$1FFF)"
    )


def bus_to_address(bus: int | str) -> int:
    """The data.json address of a SNES bus address (any of WRAM's mirrors, or LoROM SRAM).

    ``$7E:xxxx``/``$7F:xxxx`` map to themselves; ``$00-$3F:0000-1FFF`` and ``$80-$BF:0000-1FFF``
    to the bank-$00 block (0 to 8191); ``$70-$7D:0000-7FFF`` to the SRAM block at ``0x700000``.
    """
    bus = parse_bus(bus)
    bank, low = bus >> 16, bus & 0xFFFF
    if bank in (0x7E, 0x7F):
        return bus
    if (bank <= 0x3F or 0x80 <= bank <= 0xBF) and low < LOW_RAM_SIZE:
        return low
    if (0x70 <= bank <= 0x7D or bank >= 0xF0) and low < SRAM_BANK_SIZE:
        return SRAM_BASE + (bank & 0x0F) * SRAM_BANK_SIZE + low
    raise AddressError(
        f"{format_bus(bus)} is not RAM: WRAM is $7E:0000-$7F:FFFF, its first 8 KiB also appear at "
        "$00-$3F:0000-1FFF, and LoROM cartridge SRAM is at $70-$7D:0000-7FFF; the rest is ROM or I/O registers"
    )


def address_to_bus(address: int) -> int:
    """The SNES bus address of a data.json address (inverse of :func:`bus_to_address`)."""
    if 0 <= address < LOW_RAM_SIZE or WRAM_BASE <= address < WRAM_BASE + WRAM_SIZE:
        return address
    if SRAM_BASE <= address < WRAM_BASE:
        k = address - SRAM_BASE
        return (0x70 + k // SRAM_BANK_SIZE) << 16 | k % SRAM_BANK_SIZE
    raise AddressError(f"data.json address {address} ({address:#x}) is not in SNES RAM")


# ----------------------------------------------------------------------------- typed values

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
    kind such as ``s`` silently reads as unsigned. ``kart_helpers.data_json`` is the strict
    checker.
    """

    text: str
    endian: str
    kind: str
    width: int

    @classmethod
    def read_as(cls, text: str) -> DataType:
        """How stable-retro reads ``text`` (width = last char, kind = the char before it).

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
        b = np.asarray(data, dtype=np.uint8).astype(np.uint64)
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

    def valid(self, data: np.ndarray) -> np.ndarray:
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


def decode_at(ram: np.ndarray, indices: np.ndarray | int, dtype: str | DataType) -> np.ndarray:
    """Typed values that start at ``indices`` of one or many RAM snapshots.

    ram: (..., N) uint8, e.g. (N,) one snapshot or (T, N) a recording, in data.json byte order
    (see :meth:`MemoryMap.read`). indices: (C,) or scalar get_ram() indices.
    Returns (..., C) or (...,) int64.
    """
    dtype = DataType.read_as(dtype)
    idx = np.asarray(indices)
    window = idx[..., None] + np.arange(dtype.width)  # (C, width): bytes of each value
    return dtype.decode(np.asarray(ram)[..., window])


# ----------------------------------------------------------------------------- the map


@dataclass(frozen=True)
class Block:
    """One memory block as stable-retro exposes it."""

    start: int
    """data.json address of its first byte"""
    size: int
    """bytes"""
    index: int
    """get_ram() index of its first byte"""
    name: str
    mirror_of: int | None = None
    """data.json address of the block this one mirrors (same bytes), or None"""

    @property
    def end(self) -> int:
        """data.json address one past its last byte."""
        return self.start + self.size


def _system_info(system: str | None) -> dict[str, Any]:
    if not system:
        return {}
    import stable_retro  # importing it loads every core's info (byte orders, overlays)

    return stable_retro.data.EMU_INFO.get(system, {})


class MemoryMap:
    """The RAM blocks of one game, and conversions between data.json addresses and get_ram() indices.

    Build it from a live env with :meth:`from_env` (reads ``env.unwrapped.data.memory.blocks``,
    so any SRAM size works), or offline with :meth:`snes`. For systems whose core stores RAM in
    another byte order than data.json reads it (Genesis: 16-bit words, byte-swapped),
    :meth:`read` undoes that, so a snapshot's byte ``i`` is what data.json calls
    ``address_of(i)`` on every system.

    Attributes:
        system: stable-retro's platform name ("Snes", "Genesis", ...), or None.
        blocks: the :class:`Block` s in address order.
        size: bytes in ``get_ram()`` (141,312 for a SNES game with 2 KiB of SRAM).
        byte_order: ``"<"`` or ``">"``, the platform's order for multi-byte values.
        types: the type strings the platform's core lists as usual ones.
        swap_width: 2 where the core stores RAM as byte-swapped 16-bit words, else 1.
    """

    def __init__(self, blocks: Mapping[int, int], system: str | None = None):
        info = _system_info(system)
        self.system = system
        starts = sorted(int(s) for s in blocks)
        sizes = [int(blocks[s]) for s in starts]
        self.starts = np.array(starts, dtype=np.int64)
        self.sizes = np.array(sizes, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.size = int(self.sizes.sum())
        snes = system == "Snes"
        self.blocks = tuple(
            Block(s, n, int(i), _block_name(s, snes), _mirror(s, n, snes, starts))
            for s, n, i in zip(starts, sizes, self.offsets, strict=True)
        )
        # The type strings the platform's core lists as usual ones (SNES: |u1, <u2, ...).
        self.types: list[str] = list(info.get("types") or ["|u1", "|i1", "<u2", "<i2", "<u4", "<i4"])
        # Byte order of the platform's multi-byte types, from that list (SNES "<u2").
        wide = [t for t in self.types if t[-1] != "1"]
        self.byte_order = wide[0][0] if wide else "<"
        overlay = info.get("overlay")  # e.g. Genesis ["=", ">", 2]: native words read big-endian
        backing = _NATIVE if overlay and overlay[0] == "=" else (overlay[0] if overlay else None)
        self.swap_width = int(overlay[2]) if overlay and backing != overlay[1] and int(overlay[2]) > 1 else 1

    @classmethod
    def from_env(cls, env: Any) -> MemoryMap:
        """The map of a live stable-retro env (any game)."""
        game = env.unwrapped
        blocks = {start: len(data) for start, data in game.data.memory.blocks.items()}
        return cls(blocks, getattr(game, "system", None))

    @classmethod
    def snes(cls, sram: int = 2048) -> MemoryMap:
        """A SNES map without an emulator: low RAM, ``sram`` bytes of SRAM (0 for none), WRAM.

        Super Mario Kart and Practice Kart declare 2 KiB of SRAM.
        """
        blocks = {0: LOW_RAM_SIZE, WRAM_BASE: WRAM_SIZE} | ({SRAM_BASE: sram} if sram else {})
        return cls(blocks, "Snes")

    # --- conversions (scalars or arrays) ---

    def _block_index(self, address: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.starts, address, side="right") - 1
        inside = (k >= 0) & (address < self.starts[np.maximum(k, 0)] + self.sizes[np.maximum(k, 0)])
        if not np.all(inside):
            bad = int(np.asarray(address)[~inside].flat[0])
            raise AddressError(f"address {bad} ({bad:#x}) is in no memory block; {self.describe()}")
        return k

    def index_of(self, address: int | np.ndarray) -> int | np.ndarray:
        """get_ram() index of a data.json address (int or array).

        Strictly, the index into :meth:`read`; it is the get_ram() index too, except where the
        core byte-swaps 16-bit words (``swap_width == 2``, Genesis): there get_ram() holds the
        byte at ``index ^ 1``.
        """
        a = np.asarray(address, dtype=np.int64)
        k = self._block_index(a)
        out = self.offsets[k] + a - self.starts[k]
        return int(out) if out.ndim == 0 else out

    def address_of(self, index: int | np.ndarray) -> int | np.ndarray:
        """data.json address of a get_ram() index (int or array)."""
        i = np.asarray(index, dtype=np.int64)
        if np.any((i < 0) | (i >= self.size)):
            raise AddressError(f"get_ram() index out of range: get_ram() has {self.size} bytes (0 to {self.size - 1})")
        k = np.searchsorted(self.offsets, i, side="right") - 1
        out = self.starts[k] + i - self.offsets[k]
        return int(out) if out.ndim == 0 else out

    def block_of(self, address: int) -> Block:
        """The block holding data.json ``address``."""
        return self.blocks[int(self._block_index(np.asarray(address)))]

    def contains(self, address: int, width: int = 1) -> bool:
        """True if bytes ``address`` to ``address + width - 1`` all lie in one block."""
        k = np.searchsorted(self.starts, address, side="right") - 1
        return bool(k >= 0 and address + width <= self.starts[k] + self.sizes[k])

    def canonical(self, address: int) -> int:
        """The address of the same byte outside any mirror block (SNES: $00:010B -> $7E:010B)."""
        block = self.block_of(address)
        return address if block.mirror_of is None else block.mirror_of + address - block.start

    def mirrors(self, address: int) -> list[int]:
        """Every data.json address holding the same byte as ``address``, itself included."""
        home = self.canonical(address)
        found = [home]
        for b in self.blocks:
            if b.mirror_of is not None and b.mirror_of <= home < b.mirror_of + b.size:
                found.append(b.start + home - b.mirror_of)
        return sorted(found)

    def label(self, address: int) -> str:
        """How people write an address: ``$7E:10C1`` on SNES, hex elsewhere."""
        return format_bus(address_to_bus(address)) if self.system == "Snes" else f"0x{address:06X}"

    def describe(self) -> str:
        """One line listing the blocks, for error messages."""
        parts = [f"{b.start}..{b.end - 1} ({b.name})" for b in self.blocks]
        return "RAM is " + ", ".join(parts)

    # --- reading ---

    def logical(self, raw: np.ndarray) -> np.ndarray:
        """get_ram() bytes, shape (..., N), in the byte order data.json reads (a copy if swapped)."""
        if self.swap_width == 1:
            return raw
        shape = raw.shape
        return raw.reshape(*shape[:-1], -1, self.swap_width)[..., ::-1].reshape(shape)

    def read(self, env: Any) -> np.ndarray:
        """The env's RAM now: (N,) uint8, index ``i`` is data.json address ``address_of(i)``."""
        return self.logical(env.unwrapped.get_ram()).copy()

    def value(self, ram: np.ndarray, address: int, dtype: str | DataType) -> np.ndarray:
        """Typed value at data.json ``address`` in ``ram`` (N,) or (T, N); returns () or (T,) int64."""
        return decode_at(ram, self.index_of(address), dtype)

    def table(self, ram: np.ndarray | None = None) -> Table:
        """The blocks as a table: addresses, bus addresses, sizes and get_ram() indices.

        With ``ram`` (from :meth:`read`), it also counts the non-zero bytes of each block.
        """
        header = ["block", "data.json addresses", "bus", "size", "get_ram() indices"]
        if ram is not None:
            header.append("non-zero bytes")
        rows = []
        for b in self.blocks:
            bus = (
                f"{format_bus(address_to_bus(b.start))}-{format_bus(address_to_bus(b.end - 1))}"
                if self.system == "Snes"
                else f"{self.label(b.start)}-{self.label(b.end - 1)}"
            )
            row = [b.name, f"{b.start}..{b.end - 1}", bus, _kib(b.size), f"{b.index}..{b.index + b.size - 1}"]
            if ram is not None:
                row.append(int(np.count_nonzero(ram[b.index : b.index + b.size])))
            rows.append(row)
        title = f"{self.system or 'RAM'}: get_ram() has {self.size} bytes"
        return Table(header, rows, title)


def _kib(n: int) -> str:
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} B"


def _block_name(start: int, snes: bool) -> str:
    if not snes:
        return "RAM"
    return {0: "low RAM (mirror)", SRAM_BASE: "cartridge SRAM", WRAM_BASE: "WRAM"}.get(start, "RAM")


def _mirror(start: int, size: int, snes: bool, starts: list[int]) -> int | None:
    # snes9x hands stable-retro bank $00's first 8 KiB as its own block; it is WRAM's first 8 KiB.
    return WRAM_BASE if snes and start == 0 and size <= LOW_RAM_SIZE and WRAM_BASE in starts else None
