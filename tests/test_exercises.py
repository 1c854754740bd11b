"""Every notebook exercise: its solution passes its check, a realistic wrong answer fails with a
hint, and a blank answer is filled in only in smoke mode.

The checks that drive the emulator use the real one (one per process: each check's make_env
closes the one before).
"""

from __future__ import annotations

import pytest
import stable_retro as retro

from kart_helpers import exercises as ex
from kart_helpers.emulator.drive import drive
from kart_helpers.emulator.env import make_env, open_env
from kart_helpers.emulator.integration import read_json
from kart_helpers.emulator.states import default_state, list_states, load_state
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.game.expert import Expert
from kart_helpers.ram.trace import RamTrace, record_drive
from kart_helpers.solutions import SOLUTIONS, gradient_steps_per_update, mean_speed, speed_from_info
from kart_helpers.train import cpu_profile

SOLUTION = {name: value for name, value in SOLUTIONS.items() if not callable(value)}


@pytest.fixture()
def user_folder(tmp_path, monkeypatch):
    """A fresh, empty user folder, so a check's files can be seen (and nothing else's)."""
    monkeypatch.setenv("KART_INTEGRATIONS", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def expert_trace() -> RamTrace:
    """The expert's first 400 frames on Practice Ring: up to top speed, past frames above 800."""
    trace, _ = record_drive(open_env(PRACTICE_GAME, "Level1"), Expert(0).buttons, frames=400)
    return trace


@pytest.fixture(scope="module")
def throttle_trace() -> RamTrace:
    """300 frames of throttle from the grid: a driver slower on average than the expert."""
    trace, _ = record_drive(open_env(PRACTICE_GAME, "Level1"), "B", frames=300)
    return trace


def driven_env():
    """Practice Kart after 120 frames of throttle from Level1, as in notebook 01's exercise."""
    env = make_env(PRACTICE_GAME, use_restricted_actions=retro.Actions.ALL)
    env.reset()
    return env, drive(env, "B", 120)


# --- answer(): blank, filled in, or the learner's own --------------------------------------------


def test_every_exercise_has_a_solution():
    assert set(SOLUTIONS) == set(ex.EXERCISES)


def test_blank_answer_outside_smoke_mode_says_the_cell_is_blank(monkeypatch):
    monkeypatch.setenv("KART_SMOKE", "0")
    with pytest.raises(ex.BlankAnswer, match=r"still blank \(my_shape = \.\.\.\)") as err:
        ex.answer("05_shape", ...)
    assert ex.EXERCISES["05_shape"].hint in str(err.value)


def test_blank_answer_in_smoke_mode_is_filled_in_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv("KART_SMOKE", "1")
    assert ex.answer("05_shape", ...) == SOLUTIONS["05_shape"]
    assert "smoke mode: filled in the solution from kart_helpers.solutions" in capsys.readouterr().out
    config = cpu_profile()
    assert ex.answer("06_gradient_steps", ..., config=config) == gradient_steps_per_update(config)


def test_filled_in_solution_is_a_copy(monkeypatch):
    monkeypatch.setenv("KART_SMOKE", "1")
    script = ex.answer("00_track_select", ...)
    script.clear()
    assert SOLUTIONS["00_track_select"]


def test_learner_answer_is_kept_in_both_modes(monkeypatch, capsys):
    for smoke in ("0", "1"):
        monkeypatch.setenv("KART_SMOKE", smoke)
        assert ex.answer("05_shape", (1, 2, 3)) == (1, 2, 3)
    assert capsys.readouterr().out == ""


# --- one test per exercise: the solution passes, a wrong answer fails --------------------------


def test_00_track_select():
    env = ex.check_track_select(SOLUTION["00_track_select"])
    assert env.unwrapped.data.lookup_value("x") == 380
    first_track = [("", 20), ("START", 2), ("", 20), ("START", 2), ("", 130)]
    with pytest.raises(ex.ExerciseError, match="Practice Ring, the first track"):
        ex.check_track_select(first_track)
    with pytest.raises(ex.ExerciseError, match="does not reach a start grid"):
        ex.check_track_select([("", 20), ("START", 2)])  # still in the menus
    with pytest.raises(ex.ExerciseError, match="not a button script"):
        ex.check_track_select(["START"])


def test_01_speed():
    env, info = driven_env()
    ex.check_speed(speed_from_info(info), env)
    with pytest.raises(ex.ExerciseError, match="not the kart's speed"):
        ex.check_speed(info["checkpoint"], env)
    env.reset()
    with pytest.raises(ex.ExerciseError, match="hardly moving"):
        ex.check_speed(0, env)


def test_02_race_clock():
    env = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=retro.Actions.ALL)
    clock = ex.check_race_clock(env, SOLUTION["02_race_clock"])
    assert int(clock.addresses[0]) == read_json(PRACTICE_GAME, "data.json")["info"]["current_frame"]["address"]
    with pytest.raises(ex.ExerciseError, match="0 candidates are left") as err:
        ex.check_race_clock(env, [("", 30)])  # waiting is not pausing
    assert "stops while the game is paused" in str(err.value)
    with pytest.raises(ex.ExerciseError, match="still be paused at its end"):
        ex.check_race_clock(env, [("START", 2), ("", 30), ("START", 2)])  # resumed too early
    with pytest.raises(ex.ExerciseError, match=r"cannot be played: unknown button\(s\) \['start'\]") as err:
        ex.check_race_clock(env, [("start", 2), ("", 30)])
    assert "Hint: the race clock stops" in str(err.value)


SHIPPED_INFO = read_json(PRACTICE_GAME, "data.json")["info"]
FOUND = {name: (SHIPPED_INFO[name]["address"], SHIPPED_INFO[name]["type"]) for name in ("laps", "checkpoint", "speed")}


def test_02_found_variables_agree_with_the_shipped_data_json():
    table = ex.check_found_variables(FOUND)
    assert table.column("same?") == ["yes", "yes", "yes"]
    copy = dict(FOUND, checkpoint=(SHIPPED_INFO["checkpoint_alt"]["address"], "|u1"))  # "either one works"
    assert ex.check_found_variables(copy).column("same?")[1] == "yes: the game's copy, checkpoint_alt"


def test_02_a_wrong_type_or_address_gets_a_hint_not_the_answer():
    unsigned = dict(FOUND, speed=(FOUND["speed"][0], "<u2"))  # passes verify over a lap: it never reverses
    with pytest.raises(ex.ExerciseError, match=r"speed: the address is right, the type '<u2' is not") as err:
        ex.check_found_variables(unsigned)
    assert "can it go below 0?" in str(err.value) and "<i2" not in str(err.value)
    neighbour = dict(FOUND, laps=(FOUND["laps"][0] + 1, "|u1"))
    with pytest.raises(ex.ExerciseError, match=r"laps: \$7E:10C2 is not where the game keeps it") as err:
        ex.check_found_variables(neighbour)
    assert "10C1" not in str(err.value)


def test_02_a_failed_verify_gets_a_hint():
    class Failed:
        ok, failed = False, ["speed"]

        def __str__(self):
            return "speed left its range"

    with pytest.raises(ex.ExerciseError, match="verify found a problem with speed:\nspeed left its range\nHint"):
        ex.check_found_variables(FOUND, Failed())


def test_03_flying_start_leaves_the_user_folder_as_it_was(user_folder):
    with pytest.raises(ex.ExerciseError, match="not one second"):
        ex.check_flying_start(PRACTICE_GAME, [("B", 10)])
    with pytest.raises(ex.ExerciseError, match="not full throttle"):
        ex.check_flying_start(PRACTICE_GAME, [("A", 60)])
    with pytest.raises(ex.ExerciseError, match=r"cannot be played: unknown button\(s\) \['b'\]"):
        ex.check_flying_start(PRACTICE_GAME, [("b", 60)])

    state = ex.check_flying_start(PRACTICE_GAME, SOLUTION["03_flying_start"])
    assert not any(user_folder.rglob("*.*")), "a check writes nothing into the user folder, right or wrong"
    assert "FlyingStart" not in list_states(PRACTICE_GAME)
    assert default_state(PRACTICE_GAME) == "Level1"
    env = make_env(PRACTICE_GAME, state="Level1")
    load_state(env, state)
    env.reset()
    assert env.unwrapped.data.lookup_value("speed") > 300
    assert 45 <= env.unwrapped.data.lookup_value("current_frame") <= 75


def test_04_speed_bonus_is_replayed_offline(user_folder, expert_trace):
    term = SOLUTION["04_speed_bonus"]
    run = ex.check_speed_bonus(term, expert_trace)
    assert run.components["speed_bonus"].sum() == (expert_trace["speed"] > 800).sum() > 0
    assert not any(user_folder.iterdir()), "the check writes into a scratch folder only"

    always = term.replace("if ram.speed > 800 then\n    return 1\n  end\n  return 0", "return 1")
    with pytest.raises(ex.ExerciseError, match="pays wrongly on"):
        ex.check_speed_bonus(always, expert_trace)
    with pytest.raises(ex.ExerciseError, match=r"speed_bonus\.lua:\d+: error: 'then' expected"):
        ex.check_speed_bonus(term.replace("then", ""), expert_trace)
    with pytest.raises(ex.ExerciseError, match="must define `local function speed_bonus"):
        ex.check_speed_bonus(term.replace("speed_bonus(ram)", "bonus(ram)"), expert_trace)


def test_05_shape():
    obs = ex.check_colour_shape(SOLUTION["05_shape"])
    assert obs.shape == SOLUTION["05_shape"]
    with pytest.raises(ex.ExerciseError, match="right sizes in the wrong order"):
        ex.check_colour_shape((84, 84, 3, 3))
    with pytest.raises(ex.ExerciseError, match=r"not \(3, 84, 84\)"):
        ex.check_colour_shape((3, 84, 84))  # as if it were grey


def test_06_gradient_steps():
    config = cpu_profile()
    per_update = config.epochs * config.rollout * config.n_envs // config.minibatch
    counters = {"gradient_step": 3 * per_update, "update_step": 3}  # as the trainer counts them
    ex.check_gradient_steps(gradient_steps_per_update(config), config, counters)
    one_pass = config.rollout * config.n_envs // config.minibatch
    with pytest.raises(ex.ExerciseError, match="one pass over the data"):
        ex.check_gradient_steps(one_pass, config, counters)
    with pytest.raises(ex.ExerciseError, match="not what the trainer counted"):
        ex.check_gradient_steps(config.epochs * config.rollout // config.minibatch, config, counters)  # no n_envs


def test_07_mean_speed(expert_trace, throttle_trace):
    agent, expert = throttle_trace, expert_trace
    ex.check_mean_speeds(mean_speed(agent), mean_speed(expert), agent, expert)
    ex.check_mean_speeds(agent["speed"].mean(), expert["speed"].mean(), agent, expert)  # without the reset row
    with pytest.raises(ex.ExerciseError, match="swapped"):
        ex.check_mean_speeds(mean_speed(expert), mean_speed(agent), agent, expert)
    with pytest.raises(ex.ExerciseError, match="not the mean of the expert's speed"):
        ex.check_mean_speeds(mean_speed(agent), float(expert.column("speed").max()), agent, expert)
