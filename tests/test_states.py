"""Start states: button scripts, the grid check, state files (round trips and bad files), the widget."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import stable_retro as retro

from kart_helpers.display.drive_widget import drive_widget
from kart_helpers.emulator import start_scripts
from kart_helpers.emulator.buttons import action_for, as_steps, format_script, script_frames
from kart_helpers.emulator.drive import play_script
from kart_helpers.emulator.env import POWER_ON, close_live_env, make_env, open_env
from kart_helpers.emulator.integration import USER_DIR_VARIABLE, game_dir, read_json
from kart_helpers.emulator.random_starts import random_starts
from kart_helpers.emulator.start_scripts import (
    PRACTICE_START_SCRIPTS,
    REAL_GAME_SCRIPT_VERIFIED,
    REAL_GAME_START_SCRIPT,
    START_SCRIPTS,
    grid_problems,
)
from kart_helpers.emulator.states import (
    StateError,
    default_state,
    load_state,
    read_state,
    save_start_state,
    start_states,
)
from kart_helpers.game.constants import PRACTICE_GAME, REAL_GAME
from kart_helpers.game.expert import Expert

SNES_BUTTONS = ["B", "Y", "SELECT", "START", "UP", "DOWN", "LEFT", "RIGHT", "A", "X", "L", "R"]


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    """A user folder of this test's own: states saved here never shadow another test's."""
    monkeypatch.setenv(USER_DIR_VARIABLE, str(tmp_path))
    yield tmp_path
    close_live_env()


def ram(env) -> np.ndarray:
    return env.unwrapped.get_ram().copy()


# --- button scripts ------------------------------------------------------------------------


def test_steps_accept_notes_and_reject_bad_steps():
    steps = as_steps([("", 3), ("B+LEFT", 2, "turn")], SNES_BUTTONS)
    assert [(s.buttons, s.frames, s.note) for s in steps] == [("", 3, ""), ("B+LEFT", 2, "turn")]
    assert script_frames(steps) == 5
    with pytest.raises(ValueError, match=r"step 1.*whole number"):
        as_steps([("", 3), ("B", 0)])
    with pytest.raises(ValueError, match=r"unknown button.*TURBO"):
        as_steps([("B+TURBO", 2)], SNES_BUTTONS)
    with pytest.raises(ValueError, match=r"step 0 is 'START'"):
        as_steps(["START"])
    table = format_script(PRACTICE_START_SCRIPTS["Level1"])
    assert "pick PRACTICE RING" in table
    assert f"(end: {script_frames(PRACTICE_START_SCRIPTS['Level1']) / 60:.1f} s)" in table


@pytest.mark.parametrize(("name", "track"), [("Level1", 0), ("Level2", 1)])
def test_button_script_reaches_the_grid_on_both_tracks(name, track, user_dir):
    run = play_script(PRACTICE_GAME, PRACTICE_START_SCRIPTS[name])
    try:
        assert grid_problems(run.info) == []
        start = read_json(PRACTICE_GAME, "tracks.json")["tracks"][track]["start"]
        assert (run.info["x"], run.info["y"], run.info["heading"]) == (start["x"], start["y"], start["heading"])
        assert len(run.frames) == len(run.captions) == len(PRACTICE_START_SCRIPTS[name])
        assert all(frame.shape == (224, 256, 3) and frame.std() > 10 for frame in run.frames), "blank frame"
        assert "pick" in " ".join(run.captions)
        # The script's end is exactly the committed start state.
        committed = gzip.decompress((game_dir(PRACTICE_GAME) / f"{name}.state").read_bytes())
        assert run.env.unwrapped.em.get_state() == committed
    finally:
        run.env.close()


def test_grid_check_explains_menus_and_a_running_race(user_dir):
    menus = {"laps": 0, "num_checkpoints": 0, "speed": 0, "current_frame": 0}
    assert any("menus" in p for p in grid_problems(menus))
    env = open_env(PRACTICE_GAME, "Level1")
    for _ in range(30):
        _, _, _, _, info = env.step(action_for("B", env.unwrapped.buttons))
    problems = grid_problems(info)
    assert any("moving" in p for p in problems) and any("clock" in p for p in problems)


def test_real_game_script_is_marked_unverified():
    assert REAL_GAME_SCRIPT_VERIFIED is False
    assert START_SCRIPTS[REAL_GAME] is REAL_GAME_START_SCRIPT
    steps = as_steps(REAL_GAME_START_SCRIPT, SNES_BUTTONS)  # well-formed, SNES buttons only
    assert "unverified" in steps[0].note
    notes = " ".join(s.note for s in steps)
    for screen in ("TIME TRIAL", "MARIO", "MUSHROOM CUP", "MARIO CIRCUIT 1"):
        assert screen in notes
    source = Path(start_scripts.__file__).read_text()
    assert "UNVERIFIED" in source  # the comment above the script says so too


# --- state files ---------------------------------------------------------------------------


def test_save_and_load_round_trip_gives_identical_ram(user_dir):
    env = open_env(PRACTICE_GAME, "Level1")
    expert = Expert(0)
    info = env.unwrapped.data.lookup_all()
    for _ in range(200):  # somewhere on the track, at speed
        _, _, _, _, info = env.step(action_for(expert.buttons(info), env.unwrapped.buttons))
    saved_ram, saved_info = ram(env), dict(info)
    path = save_start_state(env, "Corner", PRACTICE_GAME, make_default=False)
    for _ in range(100):
        env.step(action_for("B+LEFT", env.unwrapped.buttons))
    assert not np.array_equal(ram(env), saved_ram)

    load_state(env, path)
    assert np.array_equal(ram(env), saved_ram)
    assert env.unwrapped.data.lookup_all() == saved_info
    env.reset()  # reset() now rewinds to the loaded state (plus the frame reset runs)
    after_reset = ram(env)

    other = make_env(PRACTICE_GAME, state="Corner", use_restricted_actions=retro.Actions.ALL)
    other.reset()
    assert np.array_equal(ram(other), after_reset)
    assert read_state("Corner", PRACTICE_GAME) == gzip.decompress(path.read_bytes())


def test_states_go_to_the_user_folder_and_become_the_default(user_dir):
    shipped = {p.name: p.read_bytes() for p in game_dir(PRACTICE_GAME).iterdir()}
    env = open_env(PRACTICE_GAME, "Level2")
    path = save_start_state(env, "MyStart", PRACTICE_GAME)
    assert path == user_dir / PRACTICE_GAME / "MyStart.state"
    assert default_state(PRACTICE_GAME) == "MyStart"
    assert (user_dir / PRACTICE_GAME / "metadata.json").read_text().count('"default_state": "MyStart"') == 1
    entries = {e.name: e for e in start_states(PRACTICE_GAME)}
    assert entries["MyStart"].where == "user" and entries["MyStart"].default
    assert entries["Level1"].where == "shipped" and not entries["Level1"].default
    assert {p.name: p.read_bytes() for p in game_dir(PRACTICE_GAME).iterdir()} == shipped, "shipped folder changed"
    made = make_env(PRACTICE_GAME)  # the default state now is ours: Hairpin Hills
    made.reset()
    assert made.unwrapped.data.lookup_value("x") == 380
    with pytest.raises(ValueError, match="state name"):
        save_start_state(made, "no/slashes", PRACTICE_GAME)


def _airstriker_state() -> Path:
    return Path(retro.data.get_file_path("Airstriker-Genesis-v0", "Level1.state", retro.data.Integrations.STABLE))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda good: good[: len(good) // 2], "damaged gzip"),
        (lambda good: b"hello, I am a text file\n", "not a SNES .* unknown data"),
        (lambda good: gzip.decompress(good), "uncompressed snes9x snapshot"),
        (lambda good: gzip.compress(gzip.decompress(good)[:200_000]), "truncated: block"),
        (lambda good: gzip.compress(b"#!s9xsnp:0009\nNAM:000003:abc"), "lacks the CPU, RAM"),
        (lambda good: _airstriker_state().read_bytes(), "Genesis Plus GX"),
    ],
    ids=["cut-gzip", "text", "not-gzipped", "cut-snapshot", "empty-snapshot", "genesis-state"],
)
def test_corrupt_or_foreign_state_files_give_clear_errors(content, message, user_dir):
    good = (game_dir(PRACTICE_GAME) / "Level1.state").read_bytes()
    bad = user_dir / "bad.state"
    bad.write_bytes(content(good))
    with pytest.raises(StateError, match=message):
        read_state(bad)
    env = open_env(PRACTICE_GAME, "Level1")
    before = ram(env)
    with pytest.raises(StateError):
        load_state(env, bad)
    assert np.array_equal(ram(env), before), "a refused state must not touch the emulator"


def test_missing_state_lists_what_there_is(user_dir):
    with pytest.raises(StateError, match=r"no state 'Nope'.*Level1, Level2"):
        read_state("Nope", PRACTICE_GAME)


# --- random starts -------------------------------------------------------------------------


def test_random_starts_are_different_and_load_back(user_dir):
    env = open_env(PRACTICE_GAME, "Level1")
    starts = random_starts(env, 3, 600, policy=Expert(0).buttons, seed=1)
    frames = [s.frame for s in starts]
    assert frames == sorted(frames) and len(set(frames)) == 3
    assert len({(s.info["x"], s.info["y"]) for s in starts}) == 3
    for start in starts:
        load_state(env, start.state)
        assert env.unwrapped.data.lookup_all() == start.info
        assert start.screen.std() > 10


# --- the widget ----------------------------------------------------------------------------


def test_widget_reaches_the_grid_and_saves(user_dir):
    widget = drive_widget(PRACTICE_GAME, POWER_ON)
    for buttons, frames in [("", 20), ("START", 2), ("", 20), ("START", 2), ("", 118)]:
        for name, toggle in widget.toggles.items():
            toggle.value = name in buttons.split("+")
        for size in (60, 10, 1):
            while frames >= size:
                widget.steps[size].click()
                frames -= size
    driver = widget.driver
    assert [tuple(s[:2]) for s in driver.script] == [("", 20), ("START", 2), ("", 20), ("START", 2), ("", 118)]
    assert driver.on_grid() == []
    assert "on the grid" in widget.status.value
    assert bytes(widget.screen.value).startswith(b"\x89PNG")
    widget.name.value = "ByHand"
    widget.save.click()
    assert "saved" in widget.message.value
    assert read_state("ByHand", PRACTICE_GAME) == gzip.decompress(
        (game_dir(PRACTICE_GAME) / "Level1.state").read_bytes()
    )
    assert default_state(PRACTICE_GAME) == "ByHand"
    widget.name.value = "not ok!"
    widget.save.click()
    assert "state name" in widget.message.value
    assert set(widget.toggles) == set(SNES_BUTTONS)
