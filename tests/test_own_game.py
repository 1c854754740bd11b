"""Your own game, any console: a game in the user folder or a folder of your own, its ROM under its
console's name, its pipeline without kart defaults, its vector env under every start method, and
a RAM search for the score of Airstriker (a Genesis shooter bundled with stable-retro 1.0.1)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import stable_retro as retro
from file_hashes import hashes

from kart_helpers.emulator import integration
from kart_helpers.emulator.env import check_integration, close_live_env, make_env
from kart_helpers.emulator.integration import (
    USER_DIR_VARIABLE,
    IntegrationError,
    add_integration_dir,
    find_rom,
    integration_dirs,
    register,
    rom_names,
    shipped_integrations_dir,
    user_game_dir,
)
from kart_helpers.emulator.preflight import IntegrationFileError
from kart_helpers.pipeline.build import make_kart_env
from kart_helpers.pipeline.config import PipelineConfig, console_actions
from kart_helpers.pipeline.vector import make_vector_env
from kart_helpers.ram.data_json import write_data_json
from kart_helpers.ram.search import RamSearch
from kart_helpers.rom.importer import import_rom

AIRSTRIKER = "Airstriker-Genesis-v0"
BUNDLED = Path(retro.data.get_romfile_path(AIRSTRIKER)).parent
SCORE = 16712270  # Airstriker's score in stable-retro's own data.json (>u4): the answer, checked only at the end
HAVE_RAY = importlib.util.find_spec("ray") is not None


@pytest.fixture
def user(tmp_path, monkeypatch):
    monkeypatch.setenv(USER_DIR_VARIABLE, str(tmp_path / "user"))
    monkeypatch.setattr(integration, "_extra_dirs", [])  # add_integration_dir's list, fresh for each test
    yield tmp_path / "user"
    close_live_env()


@pytest.fixture
def shooter(tmp_path, user):
    """Airstriker copied as ``Shooter-Genesis`` into a folder of your own, added with add_integration_dir."""
    folder = tmp_path / "my_integrations" / "Shooter-Genesis"
    shutil.copytree(BUNDLED, folder)
    add_integration_dir(folder.parent)
    return folder


def fire(info: dict, env) -> str:
    """Tap B (2 frames on, 2 off: holding it fires once); a driver that also gets the env."""
    fire.frames = getattr(fire, "frames", 0) + 1  # type: ignore[attr-defined]
    assert env.unwrapped.gamename in (AIRSTRIKER, "Shooter-Genesis")
    return "B" if fire.frames % 4 < 2 else ""  # type: ignore[attr-defined]


# --- a new game's folder and its ROM ----------------------------------------------------------


def test_a_new_game_without_its_rom_says_import_it_not_reinstall(user):
    write_data_json({"laps": (8261825, "|u1")}, user_game_dir("MyKart-Snes"))
    before = hashes(user, shipped_integrations_dir())
    with pytest.raises(IntegrationError) as err:
        make_env("MyKart-Snes")
    assert hashes(user, shipped_integrations_dir()) == before, "make_env changed a file"
    message = str(err.value)
    assert message.startswith("MyKart-Snes: no ROM (rom.sfc) (looked in ")
    assert "import your ROM with kart_helpers.rom.importer.import_rom(path, game='MyKart-Snes')" in message
    assert f"write its SHA-1 into {user / 'MyKart-Snes' / 'rom.sha'} first" in message
    assert "reinstall" not in message


def test_rom_names_follow_the_console(user):
    assert rom_names("MyKart-Snes") == ["rom.sfc"] and rom_names(AIRSTRIKER) == ["rom.md"]
    user_game_dir("MyShooter-Genesis")
    with pytest.raises(IntegrationError, match=r"MyShooter-Genesis: no ROM \(rom\.md\)"):
        make_env("MyShooter-Genesis")


def test_import_rom_writes_a_genesis_rom_as_rom_md(user):
    folder = user_game_dir("MyShooter-Genesis")
    shutil.copy(BUNDLED / "rom.sha", folder / "rom.sha")
    written = import_rom(BUNDLED / "rom.md", game="MyShooter-Genesis")
    assert written == folder / "rom.md" and written.read_bytes() == (BUNDLED / "rom.md").read_bytes()
    assert find_rom("MyShooter-Genesis") == written
    assert not (folder / "rom.sfc").exists()


def test_missing_data_json_names_a_function_that_exists(user):
    shutil.copy(BUNDLED / "rom.md", user_game_dir("MyShooter-Genesis") / "rom.md")
    before = hashes(user, shipped_integrations_dir())
    with pytest.raises(IntegrationError) as err:
        make_env("MyShooter-Genesis")
    assert hashes(user, shipped_integrations_dir()) == before, "make_env changed a file"
    assert "no data.json" in str(err.value)
    assert "kart_helpers.ram.data_json.write_data_json(variables, user_game_dir(game))" in str(err.value)
    assert callable(importlib.import_module("kart_helpers.ram.data_json").write_data_json)


# --- a folder of your own ---------------------------------------------------------------------


def test_a_folder_of_your_own_is_searched_and_registered(shooter):
    assert integration_dirs()[1] == shooter.parent.resolve(), "after the user folder, before the shipped one"
    register()
    assert retro.data.Integrations.CUSTOM_PATHS[1] == str(shooter.parent.resolve())
    check_integration("Shooter-Genesis")
    env = make_env("Shooter-Genesis")
    env.reset()
    assert set(env.step(env.action_space.sample())[4]) == {"gameover", "lives", "score"}


def test_a_missing_state_in_your_own_folder_is_named_not_a_type_error(shooter):
    before = hashes(shooter.parent, BUNDLED)
    with pytest.raises(IntegrationError) as err:
        make_env("Shooter-Genesis", state="Level9")
    assert "Shooter-Genesis: no Level9.state" in str(err.value) and "states available: Level1" in str(err.value)
    with pytest.raises(IntegrationError, match=r"no Level9.state .*states available: Level1"):
        make_env(AIRSTRIKER, state="Level9")  # stable-retro's own game too
    assert hashes(shooter.parent, BUNDLED) == before, "make_env changed a file"


def test_your_own_folder_gets_the_same_file_checks(shooter):
    data = json.loads((shooter / "data.json").read_text())
    data["info"]["lives"]["type"] = ">s2"
    (shooter / "data.json").write_text(json.dumps(data, indent=2))
    before = hashes(shooter.parent)
    with pytest.raises(IntegrationFileError) as err:
        make_env("Shooter-Genesis")
    assert f"{shooter / 'data.json'}:" in str(err.value) and "lives: type '>s2'" in str(err.value)
    assert "Write '>i2'." in str(err.value), "the fix uses the Genesis byte order"
    assert hashes(shooter.parent) == before


def test_add_integration_dir_refuses_a_file(tmp_path, user):
    (tmp_path / "not_a_folder").write_text("")
    with pytest.raises(IntegrationError, match="is not a folder"):
        add_integration_dir(tmp_path / "not_a_folder")


# --- Airstriker through the public API ------------------------------------------------------


def test_airstriker_pipeline_has_no_kart_defaults(user):
    config = PipelineConfig(game=AIRSTRIKER)
    assert (
        config.actions
        == console_actions(AIRSTRIKER)
        == ("", "B", "A", "UP", "DOWN", "LEFT", "RIGHT", "C", "Y", "X", "Z")
    )
    assert "B+L" not in config.actions and config.crop_rows is None
    env = make_kart_env(config)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) == config.observation_shape((224, 320, 3))
    obs, reward, *_ = env.step(1)
    assert obs.shape == (4, 84, 84) and np.isfinite(reward)
    with pytest.raises(ValueError, match="console is not in its name"):
        PipelineConfig(game="MyGame")
    with pytest.raises(ValueError, match=r"Crop rows \[0, 300\) do not fit a frame of 224 rows"):
        make_kart_env(PipelineConfig(game=AIRSTRIKER, crop_rows=(0, 300)))


def test_a_genesis_crop_may_be_320_wide_and_a_snes_one_not_300(user):
    config = PipelineConfig(game=AIRSTRIKER, crop_cols=(0, 320), resize=None, frame_stack=1)
    assert config.crop_cols == (0, 320), "a Genesis screen is 320 wide: no 256-column limit"
    env = make_kart_env(config)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (224, 320) == config.observation_shape((224, 320, 3)), "all 320 columns kept"
    with pytest.raises(ValueError, match=r"Crop columns \[0, 321\) do not fit a frame of 320 columns"):
        make_kart_env(PipelineConfig(game=AIRSTRIKER, crop_cols=(0, 321)))  # checked against the real frame
    with pytest.raises(ValueError) as err:
        PipelineConfig(crop_cols=(0, 300))  # Practice Kart, a SNES game: refused before any emulator starts
    assert str(err.value) == "crop_cols=(0, 300): give [start, stop) with 0 <= start < stop <= 256, or None"
    with pytest.raises(ValueError, match=r"crop_cols=\(0, 300\): .* <= 256"):
        PipelineConfig(game="MarioKart-Snes", crop_cols=(0, 300))


def test_kart_defaults_stay_for_the_kart_games():
    config = PipelineConfig()
    assert config.actions == ("B", "B+LEFT", "B+RIGHT", "B+L") and config.crop_rows == (16, 112)
    assert PipelineConfig(game=AIRSTRIKER, actions=("", "B")).actions == ("", "B")


def test_ram_search_finds_airstriker_score_with_a_driver_that_gets_the_env(shooter):
    # A new game: its data.json does not name the score yet, so info has no score to drive by.
    (shooter / "data.json").write_text(json.dumps({"info": {"lives": {"address": 16712282, "type": ">u2"}}}))
    (shooter / "scenario.json").write_text(json.dumps({"done": {"variables": {"lives": {"op": "zero"}}}}))
    env = make_env("Shooter-Genesis", use_restricted_actions=retro.Actions.ALL)
    env.reset()

    def on_screen() -> int:  # the "Score:" the learner reads off the screen
        return env.unwrapped.data.memory.extract(SCORE, ">u4")

    search = RamSearch.start(env, type=">u4")
    search.filter("equal", 0)
    scores = []
    for _ in range(4):
        info = search.drive(env, fire, 150)
        scores.append(on_screen())
        search.filter("equal", scores[-1])
    assert "score" not in info and scores[-1] > 0, f"the driver scored: {scores}"
    assert SCORE in search.addresses.tolist() and len(search) <= 4, search.table()


@pytest.mark.parametrize("context", ["spawn", "forkserver"])
def test_vector_workers_get_your_folders_under_any_start_method(shooter, context):
    venv = make_vector_env(1, PipelineConfig(game="Shooter-Genesis"), backend="subprocess", context=context)
    try:
        obs, _ = venv.reset()
        assert obs.shape == (1, 4, 84, 84)
        obs, *_ = venv.step(np.array([1]))
        assert obs.shape == (1, 4, 84, 84)
    finally:
        venv.close()


@pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed: pip install 'kart-rl-course[ray]'")
def test_ray_workers_get_your_folders(shooter):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        venv = make_vector_env(1, PipelineConfig(game="Shooter-Genesis"), backend="ray")
        try:
            assert venv.reset()[0].shape == (1, 4, 84, 84)
        finally:
            venv.close()
    finally:
        ray.shutdown()
