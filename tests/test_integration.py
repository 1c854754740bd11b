"""Integration folders, make_env's errors, the smoke switch, and the install check."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import stable_retro as retro

from kart_helpers.emulator.env import close_live_env, make_env
from kart_helpers.emulator.integration import (
    USER_DIR_VARIABLE,
    IntegrationError,
    game_dir,
    list_games,
    register,
    shipped_integrations_dir,
)
from kart_helpers.game.constants import PRACTICE_GAME, REAL_GAME
from kart_helpers.setup_check import check_install, report
from kart_helpers.smoke import steps


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(USER_DIR_VARIABLE, str(tmp_path))
    yield tmp_path
    close_live_env()


def test_register_puts_user_folder_first_once(user_dir):
    register()
    register()
    paths = retro.data.Integrations.CUSTOM_PATHS
    assert paths[:2] == [str(user_dir.resolve()), str(shipped_integrations_dir())]
    assert len(paths) == len(set(paths))
    assert all(p.startswith("/") for p in paths[:2]), "stable-retro needs absolute paths"


def test_list_games_has_practice_kart_but_no_real_rom(user_dir):
    assert list_games() == [PRACTICE_GAME]


def test_missing_real_rom_says_how_to_import(user_dir):
    with pytest.raises(IntegrationError, match=r"MarioKart-Snes: no ROM \(rom.sfc\).*import_rom"):
        make_env(REAL_GAME)


def test_missing_state_lists_the_available_ones(user_dir):
    with pytest.raises(IntegrationError) as err:
        make_env(PRACTICE_GAME, state="Level9")
    message = str(err.value)
    assert "no Level9.state" in message and "Level1, Level2" in message and str(user_dir.resolve()) in message


def test_missing_scenario_and_unknown_game(user_dir):
    with pytest.raises(IntegrationError, match=r"no fast\.json"):
        make_env(PRACTICE_GAME, scenario="fast")
    with pytest.raises(IntegrationError, match="unknown game 'Zelda-Snes'"):
        make_env("Zelda-Snes")


def test_missing_data_json_in_a_new_game(user_dir):
    game = user_dir / "MyKart-Snes"
    game.mkdir()
    shutil.copy(game_dir(PRACTICE_GAME) / "rom.sfc", game / "rom.sfc")
    with pytest.raises(IntegrationError, match=r"MyKart-Snes: no data\.json.*notebook 02"):
        make_env("MyKart-Snes")


def test_user_files_override_shipped_ones_and_bad_json_is_named(user_dir):
    folder = user_dir / PRACTICE_GAME
    folder.mkdir()
    (folder / "metadata.json").write_text('{"default_state": "Level2",}')
    with pytest.raises(ValueError, match=r"metadata.json is not valid JSON.*delete it"):
        make_env(PRACTICE_GAME)
    (folder / "metadata.json").write_text('{"default_state": "Level2"}')
    env = make_env(PRACTICE_GAME)
    env.reset()
    assert env.unwrapped.data.lookup_value("x") == 380, "Level2 (Hairpin Hills) should be the default now"


def test_make_env_twice_closes_the_first(user_dir):
    first = make_env()
    first.reset()
    second = make_env()  # stable-retro would refuse a second live emulator
    second.reset()
    assert not hasattr(first, "em")
    frame, *_ = second.step(second.action_space.sample())
    assert frame.shape == (224, 256, 3)


def test_steps_follows_kart_smoke(monkeypatch):
    monkeypatch.setenv("KART_SMOKE", "1")
    assert steps(full=1000, smoke=10) == 10
    monkeypatch.setenv("KART_SMOKE", "0")
    assert steps(full=1000, smoke=10) == 1000


def test_install_report_passes_here():
    checks = {c.item: c for c in check_install()}
    assert checks["SNES core"].ok and checks["Practice Kart ROM"].ok
    assert "stable-retro" in report()


def test_corrupt_state_file_is_refused_before_stable_retro_ignores_it(user_dir):
    from kart_helpers.emulator.states import StateError

    folder = user_dir / PRACTICE_GAME
    folder.mkdir()
    (folder / "Broken.state").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(StateError, match=r"Broken\.state"):
        make_env(PRACTICE_GAME, state="Broken")


def test_games_bundled_with_stable_retro_go_through_make_env(user_dir):
    env = make_env("Airstriker-Genesis-v0")
    frame, _ = env.reset()
    assert frame.shape == (224, 320, 3)
    assert make_env() is not env, "making our game closes Airstriker first"


def test_gitignore_keeps_learner_roms_and_states_out_but_the_shipped_ones_in():
    root = shipped_integrations_dir().parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")

    def ignored(path: str) -> bool:
        return subprocess.run(["git", "check-ignore", "-q", path], cwd=root).returncode == 0

    for path in ("integrations/MarioKart-Snes/rom.sfc", "my_rom.smc", "notebooks/Level1.state", "x/rom.sfc"):
        assert ignored(path), f"{path} should be ignored"
    for path in ("integrations/PracticeKart-Snes/rom.sfc", "integrations/PracticeKart-Snes/Level1.state"):
        assert not ignored(path), f"{path} ships with the course and must stay tracked"
    tracked = subprocess.run(["git", "ls-files", "-ci", "--exclude-standard"], cwd=root, capture_output=True, text=True)
    assert tracked.stdout == "", f"tracked files that .gitignore now hides: {tracked.stdout}"
