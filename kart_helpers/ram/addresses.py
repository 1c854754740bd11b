"""SNES bus addresses, data.json addresses and WRAM offsets, and the conversions between them."""

from __future__ import annotations

import re

import numpy as np

WRAM_BASE = 0x7E0000  # data.json address of WRAM offset 0 (= 8257536)
WRAM_SIZE = 0x20000  # 128 KiB: banks $7E and $7F
LOW_RAM_SIZE = 0x2000  # the first 8 KiB of WRAM, mirrored in bank $00
SRAM_BASE = 0x700000  # where stable-retro puts cartridge SRAM (LoROM bank $70)
SRAM_BANK_SIZE = 0x8000  # LoROM SRAM banks hold 32 KiB each ($70:0000-$7FFF)


class AddressError(ValueError):
    """An address that is not in the game's RAM; the message lists where RAM is."""


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
