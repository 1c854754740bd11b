"""Broken integration files are named at make_env, before stable-retro sees them, and the shipped
files are never written: each case feeds the bad input and checks the message and every file's hash."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import stable_retro as retro
from file_hashes import hashes

from kart_helpers.emulator import preflight
from kart_helpers.emulator.env import close_live_env, make_env
from kart_helpers.emulator.integration import (
    USER_DIR_VARIABLE,
    IntegrationError,
    ShippedFolderError,
    game_dir,
    shipped_integrations_dir,
    user_game_dir,
)
from kart_helpers.emulator.preflight import IntegrationFileError
from kart_helpers.emulator.states import save_start_state
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.ram.data_json import DataJsonError, write_data_json
from kart_helpers.rom.identify import RomError
from kart_helpers.rom.importer import import_rom
from kart_helpers.scenario.authoring import write_scenario
from kart_helpers.scenario.check import check_scenario
from kart_helpers.scenario.files import ScenarioError

SHIPPED = game_dir(PRACTICE_GAME)
SCRIPT = (SHIPPED / "script.lua").read_text()


@pytest.fixture
def user(tmp_path, monkeypatch):
    """An empty user folder; the PracticeKart-Snes folder in it is where the broken copies go."""
    monkeypatch.setenv(USER_DIR_VARIABLE, str(tmp_path / "user"))
    folder = tmp_path / "user" / PRACTICE_GAME
    folder.mkdir(parents=True)
    yield folder
    close_live_env()


def broken_make_env(folder: Path, files: dict[str, str], **make_kwargs) -> str:
    """Write ``files`` into the user copy of Practice Kart, call make_env, and return its error
    message, after checking that the error is ours and that no file, user or shipped, changed."""
    for name, text in files.items():
        (folder / name).write_text(text)
    before = hashes(folder.parent, shipped_integrations_dir())
    with pytest.raises(IntegrationFileError) as err:
        make_env(PRACTICE_GAME, **make_kwargs)
    assert hashes(folder.parent, shipped_integrations_dir()) == before, "make_env changed a file"
    return str(err.value)


def data_json_with(**types: object) -> str:
    data = json.loads((SHIPPED / "data.json").read_text())
    for name, spec in types.items():
        data["info"][name] = spec
    return json.dumps(data, indent=2)


def line_in(path: Path, needle: str) -> int:
    return next(k for k, line in enumerate(path.read_text().splitlines(), start=1) if needle in line)


# --- make_env: data.json ------------------------------------------------------------------------


def test_truncated_data_json_is_named_with_its_line_not_an_assertion(user):
    text = (SHIPPED / "data.json").read_text()
    message = broken_make_env(user, {"data.json": text[: len(text) // 2]})
    path = user / "data.json"
    assert f"{path}:{len(text[: len(text) // 2].splitlines())}: error: not valid JSON" in message
    assert "the file ends too early (cut short?)" in message
    assert f"delete {path} to use the shipped data.json again" in message
    assert "Failed to load info" not in message


def test_s2_type_is_refused_instead_of_silently_reading_unsigned(user):
    message = broken_make_env(user, {"data.json": data_json_with(speed={"address": 8261866, "type": "<s2"})})
    assert f"{user / 'data.json'}:{line_in(user / 'data.json', '<s2')}: error: speed: type '<s2'" in message
    assert "reads it as unsigned, so -5 reads as 65531" in message and "Write '<i2'." in message


@pytest.mark.parametrize(
    ("dtype", "says"),
    [
        ("u1", "it is shorter than 3 characters, so stable-retro silently drops the variable. Write '|u1'."),
        ("xyz", "it does not follow stable-retro's grammar: byte order, kind, width, e.g. '<i2'"),
    ],
)
def test_types_stable_retro_drops_are_refused_not_a_cpp_exception(user, dtype, says):
    message = broken_make_env(user, {"data.json": data_json_with(laps={"address": 8261825, "type": dtype})})
    line = line_in(user / "data.json", f'"{dtype}"')
    assert f"{user / 'data.json'}:{line}: error: laps: type '{dtype}': {says}" in message
    assert "C++ exception" not in message


def test_address_outside_ram_is_refused_before_the_first_reset(user):
    message = broken_make_env(user, {"data.json": data_json_with(laps={"address": 8257536 + 0x20000, "type": "|u1"})})
    assert f"{user / 'data.json'}:{line_in(user / 'data.json', '8388608')}: error: laps: address 8388608" in message
    assert "(0x800000) is not in RAM; RAM is 0..8191" in message
    assert retro.data.Integrations.CUSTOM_PATHS, "make_env registered the folders before it refused"


def test_three_byte_integer_is_a_warning_and_still_loads(user):
    (user / "data.json").write_text(data_json_with(odd={"address": 8261866, "type": "<i3"}))
    report = check_scenario(PRACTICE_GAME)
    [warning] = [w for w in report.warnings if w.name == "odd"]
    assert warning.severity == "warning" and warning.path == user / "data.json"
    assert "a 3-byte signed integer is unusual" in warning.message and "'<i2' or '<i4'" in warning.message
    env = make_env(PRACTICE_GAME)  # stable-retro 1.0.1 reads it right (sign-extended), so it is no error
    env.reset()
    assert "odd" in env.unwrapped.data.lookup_all()


# --- make_env: scenario.json and the Lua --------------------------------------------------------


def test_truncated_scenario_json_is_named_with_its_line(user):
    text = (SHIPPED / "scenario.json").read_text()
    message = broken_make_env(user, {"scenario.json": text[:40], "script.lua": SCRIPT})
    assert f"{user / 'scenario.json'}:3: error: not valid JSON: Unterminated string" in message
    assert "the file ends too early (cut short?)" in message and "Failed to load" not in message


def test_lua_syntax_error_is_named_with_its_line(user):
    bad = SCRIPT.replace("function kart_done()", "function kart_done(", 1)
    message = broken_make_env(user, {"scenario.json": (SHIPPED / "scenario.json").read_text(), "script.lua": bad})
    # Lua notices the missing ')' on the next line
    line = line_in(user / "script.lua", "function kart_done(") + 1
    assert f"{user / 'script.lua'}:{line}: error: ')' expected near '(' (syntax error)" in message


def test_misspelt_function_is_named_not_a_nil_call(user):
    scenario = (SHIPPED / "scenario.json").read_text().replace("lua:kart_reward", "lua:kart_rewad")
    message = broken_make_env(user, {"scenario.json": scenario, "script.lua": SCRIPT})
    assert f"{user / 'scenario.json'}:{line_in(user / 'scenario.json', 'kart_rewad')}" in message
    assert "names kart_rewad(), but no script defines a global function kart_rewad" in message
    assert "globals the scripts define:" in message and "kart_done, kart_reward" in message


def test_a_scenario_given_as_a_path_is_checked_too(user, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "fast.json").write_text('{"reward": {"script": "lua:fast"}, "scripts": ["fast.lua"]}')
    (scratch / "fast.lua").write_text("function fast()\n  return data.sped\nend\n")
    before = hashes(scratch, shipped_integrations_dir())
    with pytest.raises(IntegrationFileError) as err:
        make_env(PRACTICE_GAME, scenario=str(scratch / "fast.json"))
    assert f"{scratch / 'fast.lua'}:2: error: reads data.sped, but data.json has no variable 'sped'" in str(err.value)
    assert hashes(scratch, shipped_integrations_dir()) == before
    with pytest.raises(
        IntegrationError, match=r"missing\.json is not a file .*takes a name ending in \.json as a path"
    ):
        make_env(PRACTICE_GAME, scenario=str(scratch / "missing.json"))


def test_broken_json_under_python_O_is_an_error_not_a_dead_env(user):
    (user / "data.json").write_text((SHIPPED / "data.json").read_text()[:100])
    before = hashes(user.parent, shipped_integrations_dir())
    code = "from kart_helpers.emulator.env import make_env; make_env()"
    run = subprocess.run(
        [sys.executable, "-O", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, USER_DIR_VARIABLE: str(user.parent)},
    )
    assert run.returncode != 0, "under -O the broken file must still stop make_env"
    assert "IntegrationFileError" in run.stderr and f"{user / 'data.json'}:" in run.stderr
    assert hashes(user.parent, shipped_integrations_dir()) == before


def test_checks_are_cached_by_content_and_redone_when_a_file_changes(user, monkeypatch):
    shutil.copy(SHIPPED / "data.json", user / "data.json")
    calls = []
    real = preflight.check_scenario
    monkeypatch.setattr(preflight, "check_scenario", lambda *a, **k: calls.append(1) or real(*a, **k))
    make_env(PRACTICE_GAME)
    make_env(PRACTICE_GAME)
    assert len(calls) == 1, "the same bytes are checked once per process"
    (user / "data.json").write_text(data_json_with(speed={"address": 8261866, "type": "<s2"}))
    with pytest.raises(IntegrationFileError, match="speed: type '<s2'"):
        make_env(PRACTICE_GAME)


# --- check_scenario on its own --------------------------------------------------------------------


def test_check_scenario_names_a_broken_data_json(user):
    (user / "data.json").write_text('{"info": {"laps": {"address": 8261825, "type": "|u1"},')
    before = hashes(user.parent, shipped_integrations_dir())
    with pytest.raises(ScenarioError) as err:
        check_scenario(PRACTICE_GAME)
    [problem] = err.value.problems
    assert problem.path == user / "data.json" and problem.line == 1 and "not valid JSON" in problem.message
    assert hashes(user.parent, shipped_integrations_dir()) == before, "check_scenario changed a file"


def test_check_scenario_flags_a_variable_stable_retro_drops(user):
    (user / "data.json").write_text(data_json_with(speed={"address": 8261866, "type": "i2"}))
    before = hashes(user.parent, shipped_integrations_dir())
    with pytest.raises(ScenarioError) as err:
        check_scenario(PRACTICE_GAME)
    [problem] = err.value.problems
    assert problem.path == user / "data.json" and problem.line == line_in(user / "data.json", '"i2"')
    assert "speed: type 'i2'" in str(problem) and "silently drops" in str(problem)
    assert hashes(user.parent, shipped_integrations_dir()) == before, "check_scenario changed a file"


# --- nothing writes into the shipped integrations -----------------------------------------------


@pytest.fixture
def user_is_shipped(monkeypatch):
    """The user folder pointed at the package's own integrations: every writer must refuse."""
    monkeypatch.setenv(USER_DIR_VARIABLE, str(shipped_integrations_dir()))
    before = hashes(shipped_integrations_dir())
    yield
    close_live_env()
    assert hashes(shipped_integrations_dir()) == before, "a shipped file changed"
    assert not (shipped_integrations_dir() / "MyGame-Snes").exists()


def test_save_start_state_refuses_the_shipped_folder(user_is_shipped):
    env = make_env(PRACTICE_GAME)
    env.reset()
    with pytest.raises(ShippedFolderError, match=r"inside the package's own integrations folder.*nothing was written"):
        save_start_state(env, "Level1", PRACTICE_GAME)
    with pytest.raises(ShippedFolderError, match="user_game_dir"):
        save_start_state(env, "Mine", PRACTICE_GAME, folder=SHIPPED)


def test_write_scenario_refuses_the_shipped_folder(user_is_shipped):
    with pytest.raises(ShippedFolderError, match=f"{USER_DIR_VARIABLE} to a folder of your own"):
        write_scenario(PRACTICE_GAME, "scenario", SCRIPT)


def test_the_four_writers_share_one_guard(user_is_shipped):
    with pytest.raises(RomError, match="package's own integrations folder"):
        import_rom(SHIPPED / "rom.sfc", PRACTICE_GAME)
    with pytest.raises(DataJsonError, match="package's own integrations folder"):
        write_data_json({"laps": (8261825, "|u1")}, SHIPPED)
    assert user_game_dir("MyGame-Snes") == shipped_integrations_dir() / "MyGame-Snes"  # named, not created
