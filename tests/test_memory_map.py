"""The memory map: address conversions, block tables, and typed reads that match stable-retro's own."""

from __future__ import annotations

import gc

import numpy as np
import pytest
import stable_retro as retro

from kart_helpers.emulator.buttons import action_for
from kart_helpers.emulator.env import close_live_env
from kart_helpers.emulator.integration import read_json
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.ram.addresses import (
    AddressError,
    address_to_bus,
    address_to_wram,
    bus_to_address,
    format_bus,
    parse_bus,
    wram_to_address,
)
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.types import DataType, decode_at

INFO = read_json(PRACTICE_GAME, "data.json")["info"]
# Every type string stable-retro can read: single and mixed byte orders, all kinds, widths 1-8.
ALL_TYPES = [e + k + str(w) for e in "<>|=" for k in "iudn" for w in range(1, 9)]
ALL_TYPES += [e + k + str(w) for e in ("><", "<>", ">=", "<=") for k in "iudn" for w in (2, 4, 6, 8)]
ALL_TYPES += ["<s2", ">s4", "|x1"]  # unknown kinds: stable-retro reads them unsigned


@pytest.fixture
def airstriker():
    close_live_env()  # one emulator per process
    env = retro.make("Airstriker-Genesis-v0", render_mode="rgb_array", use_restricted_actions=retro.Actions.ALL)
    env.reset()
    yield env
    env.close()
    del env
    gc.collect()


# --- SNES addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize("sram", [0, 2048, 8192, 32768])
def test_index_and_address_round_trip_for_any_sram_size(sram):
    mm = MemoryMap.snes(sram=sram)
    assert mm.size == 8192 + sram + 131072
    index = np.arange(mm.size)
    assert np.array_equal(mm.index_of(mm.address_of(index)), index)
    # WRAM's first byte comes after low RAM and the SRAM, whatever its size
    assert mm.index_of(wram_to_address(0)) == 8192 + sram
    assert mm.index_of(bus_to_address("$7E:10C1")) == 8192 + sram + 0x10C1
    assert mm.address_of(mm.size - 1) == 0x7FFFFF


def test_wram_offsets_and_bus_addresses_round_trip():
    offsets = np.arange(0, 0x20000, 97)
    for o in offsets:
        address = wram_to_address(int(o))
        assert address_to_wram(address) == o
        assert bus_to_address(address_to_bus(address)) == address
        assert parse_bus(format_bus(address)) == address
    for k in range(0, 0x8000 * 2, 1021):  # LoROM SRAM spans banks $70, $71, ...
        assert bus_to_address(address_to_bus(0x700000 + k)) == 0x700000 + k
    assert format_bus(address_to_bus(0x708000)) == "$71:0000"


def test_low_ram_mirrors_in_every_bank_map_to_the_bank_00_block():
    for bank in (0x00, 0x01, 0x3F, 0x80, 0xBF):
        assert bus_to_address((bank << 16) | 0x010B) == 0x010B == 267
    assert address_to_wram(267) == address_to_wram(0x7E010B) == 0x010B
    mm = MemoryMap.snes()
    assert mm.canonical(267) == 0x7E010B
    assert mm.mirrors(267) == mm.mirrors(0x7E010B) == [267, 0x7E010B]
    assert mm.mirrors(0x7E2000) == [0x7E2000], "WRAM past 8 KiB has no mirror"


def test_parse_bus_accepts_the_usual_spellings():
    for text in ("$7E:10C1", "$7E10C1", "7E10C1", "0x7E10C1", "$10C1", "10c1"):
        assert parse_bus(text) == 0x7E10C1, text
    with pytest.raises(AddressError, match="not a SNES address"):
        parse_bus("$7E:10G1")


def test_addresses_outside_ram_say_where_ram_is():
    with pytest.raises(AddressError, match=r"\$00:8000 is not RAM.*ROM or I/O"):
        bus_to_address("$00:8000")
    with pytest.raises(AddressError, match="outside WRAM"):
        wram_to_address(0x20000)
    mm = MemoryMap.snes()
    with pytest.raises(AddressError, match=r"address 8192 .* no memory block; RAM is 0..8191 \(low RAM"):
        mm.index_of(8192)
    with pytest.raises(AddressError, match="get_ram\\(\\) has 141312 bytes"):
        mm.address_of(141312)
    assert mm.contains(0x7FFFFE, 2) and not mm.contains(0x7FFFFF, 2), "a value may not run off WRAM's end"
    assert not mm.contains(0x1FFF, 2), "nor off the end of low RAM into the gap"


def test_block_table_names_blocks_and_counts_bytes():
    mm = MemoryMap.snes()
    ram = np.zeros(mm.size, np.uint8)
    ram[mm.index_of(0x7E0000) + np.arange(5)] = 1
    table = mm.table(ram)
    assert table.column("block") == ["low RAM (mirror)", "cartridge SRAM", "WRAM"]
    assert table.column("bus") == ["$00:0000-$00:1FFF", "$70:0000-$70:07FF", "$7E:0000-$7F:FFFF"]
    assert table.column("size") == ["8 KiB", "2 KiB", "128 KiB"]
    assert table.column("non-zero bytes") == [0, 0, 5]
    assert "<table" in table._repr_html_() and "WRAM" in str(table)


# --- a live env -----------------------------------------------------------------------------------


def test_practice_kart_blocks_and_indices_match_the_live_env(kart):
    mm = MemoryMap.from_env(kart)
    assert {b.start: b.size for b in mm.blocks} == {0: 8192, 7340032: 2048, 8257536: 131072}
    assert mm.blocks[0].mirror_of == 0x7E0000 and mm.byte_order == "<" and mm.swap_width == 1
    ram = kart.unwrapped.get_ram()
    assert ram[mm.index_of(INFO["laps"]["address"])] == 127
    assert mm.label(INFO["speed"]["address"]) == "$7E:10EA"


def test_bank_00_block_really_mirrors_wram(kart):
    mm = MemoryMap.from_env(kart)
    low, wram = mm.blocks[0], mm.blocks[2]
    for buttons in ("B", "B+LEFT", "Y"):
        for _ in range(40):
            kart.step(action_for(buttons, kart.unwrapped.buttons))
        ram = mm.read(kart)
        assert np.array_equal(ram[low.index : low.index + low.size], ram[wram.index : wram.index + low.size])


def _random_addresses(mm: MemoryMap, n: int, seed: int = 0) -> np.ndarray:
    addresses = mm.address_of(np.random.default_rng(seed).integers(0, mm.size, 4 * n))
    return np.array([a for a in addresses if mm.contains(int(a), 8)][:n])


def test_typed_reads_equal_stable_retros_for_every_type_on_snes(kart):
    for _ in range(200):  # put some life into RAM first
        kart.step(action_for("B+LEFT", kart.unwrapped.buttons))
    mm, memory = MemoryMap.from_env(kart), kart.unwrapped.data.memory
    ram = mm.read(kart)
    addresses = _random_addresses(mm, 150)
    addresses = np.concatenate([addresses, [v["address"] for v in INFO.values()]])
    for t in ALL_TYPES:
        ours = decode_at(ram, mm.index_of(addresses), t)
        theirs = [memory.extract(int(a), t) for a in addresses]
        assert ours.tolist() == theirs, t


def test_typed_reads_equal_stable_retros_on_genesis_with_its_byte_swapped_ram(airstriker):
    fire, wait = action_for("B", airstriker.unwrapped.buttons), action_for("", airstriker.unwrapped.buttons)
    for t in range(300):  # tap fire: the score changes too
        airstriker.step(fire if t % 6 < 3 else wait)
    mm, memory = MemoryMap.from_env(airstriker), airstriker.unwrapped.data.memory
    assert mm.system == "Genesis" and mm.byte_order == ">" and mm.swap_width == 2
    raw, ram = airstriker.unwrapped.get_ram(), mm.read(airstriker)
    assert not np.array_equal(raw, ram), "the Genesis core keeps 16-bit words byte-swapped"
    addresses = _random_addresses(mm, 150, seed=1)
    for t in ALL_TYPES:
        assert decode_at(ram, mm.index_of(addresses), t).tolist() == [memory.extract(int(a), t) for a in addresses], t


def test_values_across_a_recording_have_one_value_per_snapshot(kart):
    mm = MemoryMap.from_env(kart)
    snaps, speeds = [], []
    for _ in range(30):
        *_, info = kart.step(action_for("B", kart.unwrapped.buttons))
        snaps.append(mm.read(kart))
        speeds.append(info["speed"])
    recording = np.stack(snaps)  # (T, N)
    assert mm.value(recording, INFO["speed"]["address"], "<i2").tolist() == speeds
    assert mm.value(recording[-1], INFO["speed"]["address"], "<i2") == speeds[-1]


# --- the types themselves -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_string", "data", "value"),
    [
        ("<i2", [0xFB, 0xFF], -5),
        ("<u2", [0xFB, 0xFF], 65531),
        ("<s2", [0xFB, 0xFF], 65531),  # the pitfall: 's' is no kind, so stable-retro reads it unsigned
        (">i2", [0xFF, 0xFB], -5),
        ("|i1", [0x80], -128),
        ("|d1", [0x59], 59),
        (">d2", [0x12, 0x34], 1234),
        ("<d2", [0x12, 0x34], 3412),
        (">n4", [0x01, 0x02, 0x03, 0x04], 1234),
        ("<i4", [0xFF, 0xFF, 0xFF, 0xFF], -1),
        ("<u8", [0xFF] * 8, -1),  # wraps in int64, as stable-retro's does
    ],
)
def test_decode_known_values(type_string, data, value):
    t = DataType.read_as(type_string)
    assert t.decode(np.array(data, np.uint8)) == value


def test_mixed_endian_matches_stable_retro_layout():
    # "><": the high 16-bit half first, each half little-endian; "<>": the reverse
    data = np.array([0x01, 0x02, 0x03, 0x04], np.uint8)
    assert DataType.read_as("><u4").decode(data) == 0x02010403
    assert DataType.read_as("<>u4").decode(data) == 0x03040102


def test_read_as_refuses_what_stable_retro_skips():
    with pytest.raises(ValueError, match="shorter than 3 characters: stable-retro silently skips it"):
        DataType.read_as("i2")
    with pytest.raises(ValueError, match="width '9'"):
        DataType.read_as("|u9")


def test_bcd_validity_and_value_ranges():
    d = DataType.read_as("|d1")
    assert d.valid(np.array([[0x59], [0x5A], [0xA0]], np.uint8)).tolist() == [True, False, False]
    assert DataType.read_as("<i2").value_range() == (-32768, 32767)
    assert DataType.read_as("<u2").value_range() == (0, 65535)
    assert DataType.read_as(">d2").value_range() == (0, 9999)
