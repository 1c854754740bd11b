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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from kart_helpers.display.tables import Table
from kart_helpers.ram.addresses import (
    LOW_RAM_SIZE,
    SRAM_BASE,
    WRAM_BASE,
    WRAM_SIZE,
    AddressError,
    address_to_bus,
    format_bus,
)
from kart_helpers.ram.types import _NATIVE, DataType, decode_at


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


_DEFAULT_TYPES = ["|u1", "|i1", "<u2", "<i2", "<u4", "<i4"]


def platform_types(system: str | None) -> list[str]:
    """The type strings a platform's core lists as usual ones (SNES: ``|u1``, ``<u2``, ...)."""
    return list(_system_info(system).get("types") or _DEFAULT_TYPES)


def byte_order_of(system: str | None) -> str:
    """``"<"`` or ``">"``: the byte order of a platform's multi-byte values (from its usual types)."""
    wide = [t for t in platform_types(system) if t[-1] != "1"]
    return wide[0][0] if wide else "<"


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
        self.types: list[str] = platform_types(system)
        self.byte_order = byte_order_of(system)
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

    def _block_index(self, address: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.starts, address, side="right") - 1
        inside = (k >= 0) & (address < self.starts[np.maximum(k, 0)] + self.sizes[np.maximum(k, 0)])
        if not np.all(inside):
            bad = int(np.asarray(address)[~inside].flat[0])
            raise AddressError(f"address {bad} ({bad:#x}) is in no memory block; {self.describe()}")
        return k

    @overload
    def index_of(self, address: int) -> int: ...
    @overload
    def index_of(self, address: np.ndarray) -> int | np.ndarray: ...  # int for a 0-d array
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

    @overload
    def address_of(self, index: int) -> int: ...
    @overload
    def address_of(self, index: np.ndarray) -> int | np.ndarray: ...  # int for a 0-d array
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
            row: list[str | int] = [
                b.name,
                f"{b.start}..{b.end - 1}",
                bus,
                _kib(b.size),
                f"{b.index}..{b.index + b.size - 1}",
            ]
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
