"""data.json: type strings, addresses and overlaps caught with fixes; writing; verifying on the emulator."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import stable_retro as retro

from kart_helpers.emulator.integration import game_dir, read_json
from kart_helpers.game.constants import PRACTICE_GAME, REAL_GAME
from kart_helpers.game.expert import Expert
from kart_helpers.ram.data_json import (
    DataJsonError,
    check,
    check_type,
    kept_by_stable_retro,
    problems_table,
    validate,
    verify,
    write_data_json,
)
from kart_helpers.ram.memory_map import MemoryMap

SPEED = 0x7E10EA
GENESIS = MemoryMap({0xFF0000: 0x10000}, "Genesis")


def messages(data, memory_map=None) -> list[str]:
    return [str(p) for p in validate(data, memory_map)]


# --- type strings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "says", "fix"),
    [
        ("<s2", "kind 's' is not one stable-retro knows .* reads it as unsigned, so -5 reads as 65531", "<i2"),
        ("i2", "shorter than 3 characters, so stable-retro silently drops the variable", "<i2"),
        ("u1", "silently drops", "|u1"),
        ("int16", "numpy/C name", "<i2"),
        ("uint8", "numpy/C name", "|u1"),
        ("<u16", "widths count bytes, not bits: 16 bits is 2 bytes", "<u2"),
        ("|u9", "width 9 is over 8 bytes: stable-retro silently drops the variable", "<u8"),
        ("<u0", "width 0 reads no bytes: stable-retro keeps the variable and it always reads 0", "<u1"),
        ("<f4", "no floating-point kind", "<u4"),
        ("<I2", "kind 'I' is not one stable-retro knows", "<i2"),
        ("><u3", "mixed byte order '><' needs an even width", "><u3"),
    ],
)
def test_bad_type_strings_are_refused_with_a_fix(bad, says, fix):
    with pytest.raises(DataJsonError, match=says) as err:
        check_type(bad)
    assert str(err.value).endswith(f"Write {fix!r}.")


def test_type_without_a_fix_and_a_non_string():
    with pytest.raises(DataJsonError, match=r"does not follow stable-retro's grammar: byte order, kind, width"):
        check_type("speed")
    with pytest.raises(DataJsonError, match="is not a string"):
        check_type(2)


def test_good_type_strings_pass_and_suggestions_follow_the_platform():
    for good in ("|u1", "|i1", "<u2", "<i2", ">u4", ">i4", "|d1", ">d4", ">n8", "><u4", "<>i4", "<u8"):
        assert check_type(good).text == good
    with pytest.raises(DataJsonError, match="Write '>i2'"):
        check_type("i2", byte_order=">")  # Genesis is big-endian
    assert messages({"lives": (0xFF025A, "|u2")}, GENESIS) == [
        "warning: lives: '|' says byte order does not matter, which is only true for 1 byte; "
        "stable-retro reads '|u2' little-endian. Write '>u2'"
    ]


# --- addresses and overlaps -----------------------------------------------------------------------


def test_addresses_out_of_range_say_where_ram_is():
    found = messages({"a": (8192, "|u1"), "b": (0x7FFFFF, "<u2"), "c": (0x3000, "|u1"), "d": (-1, "|u1")})
    assert found[0].startswith("error: a: address 8192 (0x2000) is not in RAM; RAM is 0..8191 (low RAM (mirror)),")
    assert found[1] == "error: b: its 2 bytes at 8388607 run past the end of WRAM (8257536..8388607)"
    assert "It looks like a WRAM offset ($3000): the data.json address is 0x7E0000 + offset = 8269824." in found[2]
    assert found[3].startswith("error: d: address -1")
    assert messages({"ok": (0x1FFF, "|u1"), "also_ok": (0x700000, "<u2")}) == []


def test_addresses_must_be_integers_and_entries_complete():
    assert messages({"laps": ("$7E:10C1", "|u1")}) == [
        "error: laps: address '$7E:10C1' is a string; data.json needs an integer: write 8261825 (0x7E10C1)"
    ]
    assert messages({"laps": {"address": 8261825}}) == [
        "error: laps: needs both 'address' and 'type' (stable-retro refuses the whole file)"
    ]
    assert messages({"laps": (8261825.5, "|u1")}) == ["error: laps: address 8261825.5 is not an integer"]


def test_overlapping_variables_of_different_widths_are_errors():
    found = messages({"speed": (SPEED, "<i2"), "speed_hi": (SPEED + 1, "|u1"), "x": (0x7E0088, "<u2")})
    assert found == [
        "error: speed: $7E:10EA (<i2, 2 byte(s)) overlaps 'speed_hi' at $7E:10EB (|u1, 1 byte(s)): "
        "one of them has the wrong address or width"
    ]
    # same width, shifted by one byte
    assert "overlaps 'y'" in messages({"x": (0x7E0088, "<u2"), "y": (0x7E0089, "<u2")})[0]
    # through the bank $00 mirror: 267 is $7E:010B
    assert messages({"backward": (267, "|u1"), "flags": (0x7E010A, "<u2")}) == [
        "error: flags: $7E:010A (<u2, 2 byte(s)) overlaps 'backward' at $00:010B = $7E:010B (|u1, 1 byte(s)): "
        "one of them has the wrong address or width"
    ]
    # two names for one variable: legal, but probably a slip
    assert messages({"a": (SPEED, "<i2"), "b": (SPEED, "<i2")}) == ["warning: a: same address and type as 'b'"]
    assert messages({"signed": (SPEED, "<i2"), "unsigned": (SPEED, "<u2")}) == [], "two views of one value are fine"


def test_shipped_data_json_files_are_clean():
    for game in (PRACTICE_GAME, REAL_GAME):
        assert validate(game_dir(game) / "data.json") == []
    airstriker = retro.data.get_file_path("Airstriker-Genesis-v0", "data.json")
    assert validate(airstriker, GENESIS) == []


def test_file_without_info_and_bad_json(tmp_path):
    (tmp_path / "data.json").write_text(json.dumps({"speed": {"address": SPEED, "type": "<i2"}}))
    assert messages(tmp_path / "data.json") == [
        'error: no "info" key: data.json is {"info": {name: {"address": ..., "type": ...}}}'
    ]
    (tmp_path / "data.json").write_text("{")
    with pytest.raises(DataJsonError, match="is not valid JSON"):
        validate(tmp_path / "data.json")


def test_check_lists_every_error_and_the_table_marks_them():
    draft = {
        "speed": (SPEED, "<s2"),
        "laps": (0x7E10C1, "u1"),
        "hi": (SPEED + 1, "|u1"),
        "a": (1, "|u1"),
        "b": (1, "|u1"),
    }
    with pytest.raises(DataJsonError, match=r"^3 problem\(s\) in data.json:\n  - error: speed: type '<s2'") as err:
        check(draft)
    assert "Write '<i2'" in str(err.value) and "Write '|u1'" in str(err.value) and "warning" not in str(err.value)
    table = problems_table(validate(draft))
    assert (
        len(table) == 4
        and table.highlight == {0, 1, 3}
        and table.column("severity") == ["error"] * 2 + ["warning", "error"]
    )


# --- what stable-retro keeps ----------------------------------------------------------------------


def test_kept_by_stable_retro_matches_stable_retros_own_loader(tmp_path):
    variables = {
        "ok": {"address": 10, "type": "<u2"},
        "s": {"address": 10, "type": "<s2"},  # kept, read unsigned
        "short": {"address": 10, "type": "i2"},  # dropped
        "wide": {"address": 10, "type": "|u9"},  # dropped
        "bits": {"address": 10, "type": "<u16"},  # kept: width '6', kind '1'!
        "mixed": {"address": 10, "type": "><u4"},
    }
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"info": variables}))
    # In a subprocess: loading a data.json resets stable-retro's Lua state, which would break a live env here.
    script = textwrap.dedent(f"""
        import json
        from stable_retro.data import GameData
        print(json.dumps(sorted(GameData(data={str(path)!r}).list_variables())))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert sorted(kept_by_stable_retro(variables)) == json.loads(out) == ["bits", "mixed", "ok", "s"]
    with pytest.raises(DataJsonError, match="refuses the whole file: 'x' has address '10', not a number"):
        kept_by_stable_retro({"x": {"address": "10", "type": "|u1"}})


# --- writing --------------------------------------------------------------------------------------


def test_write_data_json_round_trips(tmp_path):
    found = {"speed": (SPEED, "<i2"), "laps": {"address": 0x7E10C1, "type": "|u1"}}
    path = write_data_json(found, tmp_path / "MyKart-Snes")
    assert path == (tmp_path / "MyKart-Snes" / "data.json").resolve()
    written = json.loads(path.read_text())
    assert written == {
        "info": {"laps": {"address": 8261825, "type": "|u1"}, "speed": {"address": 8261866, "type": "<i2"}}
    }
    assert list(written["info"]) == ["laps", "speed"], "sorted, like the shipped files"
    assert validate(path) == []


def test_write_refuses_errors_and_the_shipped_folder(tmp_path):
    with pytest.raises(DataJsonError, match="speed: type '<s2'"):
        write_data_json({"speed": (SPEED, "<s2")}, tmp_path)
    assert not (tmp_path / "data.json").exists()
    with pytest.raises(DataJsonError, match=r"inside the package.s own integrations folder.*user_game_dir"):
        write_data_json({"speed": (SPEED, "<i2")}, game_dir(PRACTICE_GAME))
    assert json.loads((game_dir(PRACTICE_GAME) / "data.json").read_text()) == read_json(PRACTICE_GAME, "data.json")


# --- verifying on the emulator --------------------------------------------------------------------


def test_shipped_data_json_verifies_over_a_lap(kart):
    ranges = {"laps": (127, 133), "checkpoint": (0, 29), "speed": (-240, 900), "num_checkpoints": (30, 30)}
    report = verify(kart, game_dir(PRACTICE_GAME) / "data.json", Expert(0).buttons, 900, ranges)
    assert report.ok, report
    assert report.trace["laps"][-1] == 129 and report.trace.frames[-1] == 900
    rows = {row[0]: row for row in report.table.rows}
    assert rows["checkpoint"][3:6] == [0, 29, 30] and rows["speed"][-1] == "ok"
    assert rows["num_checkpoints"][-1] == rows["collision"][-1] == "ok, but it never changed"


def test_verify_catches_the_unsigned_speed_and_dropped_variables(kart):
    data = {"speed": (SPEED, "<s2"), "speed_ok": (SPEED, "<i2"), "dropped": (SPEED, "i2")}
    report = verify(kart, data, [("B", 60), ("Y", 120)], ranges={"speed": (-240, 900), "speed_ok": (-240, 900)})
    assert not report.ok and report.failed == ["speed", "dropped"]
    rows = {row[0]: row for row in report.table.rows}
    assert rows["speed"][-1].startswith("read 65") and "outside -240..900" in rows["speed"][-1]
    assert rows["speed"][-1].endswith("if it can be negative, use a signed type ('i')")
    assert rows["speed_ok"][3:5] == [-240, 360]
    assert rows["dropped"][-1] == "stable-retro drops it (type 'i2')"
    assert report.table.highlight == {0, 2} and "2 failed" in report.table.title


def test_verify_reports_an_address_that_does_not_read(kart):
    report = verify(kart, {"nowhere": (0x2000, "|u1")}, "B", 5)
    assert report.failed == ["nowhere"] and report.table.rows[0][-1].startswith("does not read")


def test_verify_refuses_ranges_for_variables_it_does_not_have(kart):
    with pytest.raises(ValueError, match=r"ranges names \['lap'\], which data.json does not have: \['laps'\]"):
        verify(kart, {"laps": (0x7E10C1, "|u1")}, "B", 5, ranges={"lap": (127, 133)})
