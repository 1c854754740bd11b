"""Scenarios and rewards: checks with file:line errors, offline runs against the emulator, the
Python reward, reward farming, done conditions, and writing a scenario of your own."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import stable_retro as retro

from kart_helpers.display.reward_plots import plot_components
from kart_helpers.emulator.buttons import action_for, filter_buttons
from kart_helpers.emulator.env import close_live_env, make_env, open_env
from kart_helpers.emulator.integration import USER_DIR_VARIABLE, game_dir
from kart_helpers.game.constants import GRID_RAM, PRACTICE_GAME, REAL_GAME
from kart_helpers.game.expert import Expert
from kart_helpers.ram.trace import RamTrace, record_drive
from kart_helpers.scenario.authoring import add_reward_term, lua_function_source, write_scenario
from kart_helpers.scenario.check import check_scenario
from kart_helpers.scenario.farming import farming_policy, line_crossings, wall_rammer
from kart_helpers.scenario.files import LuaCheckError, ScenarioError, load_scenario
from kart_helpers.scenario.lua_check import check_lua, lua_globals
from kart_helpers.scenario.python_reward import KartReward, KartRewardWrapper, RewardConstants, run_python
from kart_helpers.scenario.replay import COMPONENTS, lap_window, run_lua, summarize
from kart_helpers.scenario.sandbox import LuaSandbox
from kart_helpers.solutions import SPEED_BONUS_TERM

SCRIPT = (game_dir(PRACTICE_GAME) / "script.lua").read_text()


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(USER_DIR_VARIABLE, str(tmp_path / "user"))
    yield tmp_path / "user"
    close_live_env()


@pytest.fixture
def scenario_copy(tmp_path):
    """A writable copy of the shipped scenario: (folder, path of script.lua)."""
    folder = tmp_path / "scen"
    folder.mkdir()
    for name in ("scenario.json", "script.lua", "data.json"):
        shutil.copy(game_dir(PRACTICE_GAME) / name, folder / name)
    return folder, folder / "script.lua"


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def mixed_plan(seed: int = 0, steps: int = 70) -> list[tuple[str, int]]:
    """Random held buttons: throttle, steering, hops, braking into reverse. Hits every component."""
    rng = np.random.default_rng(seed)
    combos = ["B", "B+LEFT", "B+RIGHT", "Y", "Y+LEFT", "B+L", ""]
    return [(str(rng.choice(combos)), int(rng.integers(5, 45))) for _ in range(steps)]


@pytest.fixture(scope="module")
def mixed_drive() -> RamTrace:
    """An expert lap, then random driving: checkpoints, walls, off-road, wrong way, time."""
    env = open_env(PRACTICE_GAME, "Level1")
    expert, plan = Expert(0), [b for b, n in mixed_plan() for _ in range(n)]
    frame = {"t": 0}

    def policy(info):
        frame["t"] += 1
        return expert.buttons(info) if frame["t"] <= 900 else plan[(frame["t"] - 901) % len(plan)]

    trace, _ = record_drive(env, policy, 2600)
    env.close()
    return trace


# --- checking scenario.json and Lua ----------------------------------------------------------


@pytest.mark.parametrize("game", [PRACTICE_GAME, REAL_GAME])
def test_shipped_scenarios_pass_the_check(game):
    report = check_scenario(game)
    assert report.warnings == []
    assert report.lua.functions == ["kart_done", "kart_reward"]
    assert set(report.lua.reads) == {
        "laps",
        "checkpoint",
        "num_checkpoints",
        "speed",
        "surface",
        "collision",
        "backward",
    }
    assert "OK" in str(report)


def test_bytecode_globals_find_reads_and_writes():
    reads, writes = lua_globals("local x = 1\nfunction f()\n  return g(x) + math.floor(2)\nend\ny = 3\n")
    assert ("g", 3) in reads and ("math", 3) in reads
    assert writes == {"f", "y"}


BROKEN = [
    # (name, replace this, with this, the line to blame (and lines below it), words in the message)
    ("syntax", "return total\nend", "return total +\nend", ("return total +", 1), "unexpected symbol"),
    ("lua53-intdiv", "math.floor(value / bit)", "(value // bit)", ("(value // bit)", 0), "near '/'"),
    (
        "missing-function-on-a-branch-never-taken",
        '    finished = true\n    done_reason = "wall_hits"',
        '    finished = true\n    celebrate()\n    done_reason = "wall_hits"',
        ("celebrate()", 0),
        "global 'celebrate'",
    ),
    (
        "bit-library",
        "if not has_bit(ram.backward, BACKWARD_BIT) then",
        "if bit.band(ram.backward, BACKWARD_BIT) == 0 then",
        ("bit.band", 0),
        "no bit library",
    ),
    ("unknown-variable", "speed = data.speed,", "speed = data.sped,", ("data.sped", 0), "no variable 'sped'"),
    (
        "runtime-nil-arithmetic",
        "return ram.laps * per_lap + ram.checkpoint",
        "return ram.laps * per_lap + ram.checkpoints",
        ("ram.checkpoints", 0),
        "arithmetic on field 'checkpoints'",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "blamed", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_lua_errors_name_file_and_line(scenario_copy, name, old, new, blamed, words):
    folder, script = scenario_copy
    assert old in SCRIPT
    broken = SCRIPT.replace(old, new, 1)
    script.write_text(broken)
    with pytest.raises(LuaCheckError) as caught:
        check_lua(folder)
    err = caught.value
    assert err.path == script
    assert err.line == line_of(broken, blamed[0]) + blamed[1]
    assert words in str(err)
    assert str(err).startswith(f"{script}:{err.line}: error:")


def test_a_missing_reward_function_points_at_scenario_json(scenario_copy):
    folder, script = scenario_copy
    script.write_text(SCRIPT.replace("function kart_done()", "function kart_finished()"))
    with pytest.raises(LuaCheckError, match=r"(?s)names kart_done.*define: .*kart_finished") as caught:
        check_lua(folder)
    assert caught.value.path == folder / "scenario.json"
    assert caught.value.line == line_of((folder / "scenario.json").read_text(), "kart_done")


def test_stable_retro_itself_only_says_attempt_to_call_a_nil_value(scenario_copy):
    """Why the check exists: the same syntax error, in stable-retro, loses its file and line."""
    import stable_retro.data as sr_data

    folder, script = scenario_copy
    script.write_text(SCRIPT.replace("return total\nend", "return total +\nend"))
    close_live_env()  # stable-retro has one Lua state per process
    game = sr_data.GameData()
    assert game.load(str(folder / "data.json"), str(folder / "scenario.json"))  # no complaint here
    game.reset()
    with pytest.raises(RuntimeError, match=r"^Lua call failed: attempt to call a nil value$"):
        game.update_ram()
    with pytest.raises(LuaCheckError, match=r"script.lua:\d+: error: unexpected symbol"):
        check_lua(folder)


def write_spec(folder, spec) -> None:
    (folder / "scenario.json").write_text(json.dumps(spec, indent=2))


def test_scenario_json_errors_and_warnings(scenario_copy):
    folder, _ = scenario_copy
    base = json.loads((folder / "scenario.json").read_text())
    cases = [
        ({**base, "reward": {"script": "kart_reward"}}, 'write "lua:<function name>"'),
        ({**base, "scripts": ["missing.lua"]}, "'missing.lua' not found"),
        ({**base, "scripts": ["script.py"]}, "not a .lua file"),
        ({**base, "done": {"variables": {"lap": {"op": "equal", "reference": 133}}}}, "'lap', which data.json lacks"),
        ({**base, "done": {"variables": {"laps": {"op": "equals", "reference": 133}}}}, "op 'equals' is unknown"),
        ({**base, "actions": [[[], ["LEFT"], ["TURBO"]]]}, "unknown buttons \\['TURBO'\\]"),
        ({**base, "reward": {"script": "lua:kart_reward", "scale": 2}}, "unknown key 'scale'"),
    ]
    for spec, message in cases:
        write_spec(folder, spec)
        with pytest.raises(ScenarioError, match=message):
            check_scenario(folder)
    (folder / "scenario.json").write_text('{\n  "reward": {"script": "lua:kart_reward"},\n  "done": \n}\n')
    with pytest.raises(ScenarioError, match=r"scenario.json:4: error: not valid JSON"):
        check_scenario(folder)


def test_actions_and_unknown_keys_are_warnings_that_explain(scenario_copy):
    folder, _ = scenario_copy
    spec = json.loads((folder / "scenario.json").read_text())
    write_spec(folder, {**spec, "actions": [[[], ["LEFT"], ["RIGHT"]], [[], ["B"]]], "rewrad": 1})
    report = check_scenario(folder)
    text = "\n".join(str(w) for w in report.warnings)
    assert "silently dropped" in text and "can never be pressed: Y, SELECT, START, UP, DOWN, A, X, L, R" in text
    assert "ignores the key 'rewrad'" in text


def test_filter_buttons_matches_stable_retro(user_dir):
    assert filter_buttons("START") == ""  # the SNES default groups have no START
    assert filter_buttons("B+LEFT+L") == "B+LEFT+L"
    assert filter_buttons("LEFT+RIGHT") == ""
    actions = [[[], ["LEFT"], ["RIGHT"]], [[], ["B"], ["B", "L"]]]
    folder = user_dir / PRACTICE_GAME
    folder.mkdir(parents=True)
    shutil.copy(game_dir(PRACTICE_GAME) / "script.lua", folder / "script.lua")
    spec = {**json.loads((game_dir(PRACTICE_GAME) / "scenario.json").read_text()), "actions": actions}
    (folder / "with_actions.json").write_text(json.dumps(spec))
    for scenario, groups in [(None, None), ("with_actions", actions)]:
        env = make_env(PRACTICE_GAME, scenario=scenario)  # default mode: Actions.FILTERED
        names = env.unwrapped.buttons
        for pressed in ["START", "B+LEFT+L", "LEFT+RIGHT", "B+Y", "B+L+R", "Y+UP", "B+START+RIGHT"]:
            kept = env.unwrapped.action_to_array(action_for(pressed, names))[0]
            assert "+".join(n for n, k in zip(names, kept, strict=True) if k) == filter_buttons(pressed, groups)
        env.close()


def test_sandbox_starts_every_episode_with_fresh_globals(scenario_copy):
    folder, script = scenario_copy
    script.write_text(SCRIPT + "\ncalls = (calls or 0)\nfunction count() calls = calls + 1 return calls end\n")
    sandbox = LuaSandbox(load_scenario(folder))
    for _ in range(2):
        sandbox.reset(GRID_RAM)
        assert [sandbox.call("count") for _ in range(3)] == [1, 2, 3]
        assert sandbox.value("scenario").frame == 0
    sandbox.step(GRID_RAM)
    assert sandbox.value("scenario").timestep == 0 and sandbox.frame == 1
    for library in ("io", "os", "debug", "bit", "require", "python"):
        assert sandbox.value(library) is None
    for library in ("string", "table", "math", "coroutine"):
        assert sandbox.value(library) is not None


# --- offline runs against the emulator -------------------------------------------------------


def test_mixed_drive_exercises_every_component(mixed_drive):
    totals = summarize(run_lua(mixed_drive)).totals
    assert totals["checkpoint"] > 0
    for name in ("wall", "offroad", "time", "backward"):
        assert totals[name] < 0, f"the test drive never triggers the {name} component"


@pytest.mark.parametrize("backend", ["lupa", "stable_retro"])
def test_offline_lua_equals_the_emulator_frame_by_frame(mixed_drive, backend):
    run = run_lua(mixed_drive, backend=backend)
    assert len(run.rewards) == len(mixed_drive) == len(mixed_drive.rewards)
    mismatch = np.flatnonzero(run.rewards != mixed_drive.rewards)
    assert mismatch.size == 0, f"first mismatch at frame {mismatch[:1] + 1}"
    assert np.array_equal(run.dones, mixed_drive.dones)


def test_components_add_up_to_the_reward(mixed_drive):
    run = run_lua(mixed_drive)
    assert list(run.components) == list(COMPONENTS)
    stacked = sum(run.components[n] for n in COMPONENTS)
    assert np.array_equal(stacked.astype(np.float32), run.rewards)


def test_python_reward_equals_lua_offline(mixed_drive):
    lua, python = run_lua(mixed_drive), run_python(mixed_drive)
    assert np.array_equal(python.rewards, lua.rewards)
    assert np.array_equal(python.dones, lua.dones)
    for name in COMPONENTS:
        assert np.array_equal(python.components[name], lua.components[name]), name


def test_python_reward_wrapper_equals_lua_in_the_emulator(user_dir):
    env = KartRewardWrapper(open_env(PRACTICE_GAME, "Level1"))
    env.reset()
    compared = 0
    for buttons, frames in mixed_plan(seed=3):
        for _ in range(frames):
            _, reward, done, _, info = env.step(action_for(buttons, env.unwrapped.buttons))
            assert reward == info["lua_reward"] and done == info["lua_done"]
            assert sum(info["reward_components"].values()) == reward
            compared += 1
    assert compared > 1000


def test_python_constants_are_the_scripts():
    lua = dict(re.findall(r"^local ([A-Z_]+) = (-?[0-9x.A-F]+)", SCRIPT, flags=re.M))
    python = RewardConstants()
    for name, text in lua.items():
        assert getattr(python, name.lower()) == float(int(text, 16) if text.startswith("0x") else float(text)), name


def test_traces_save_and_load(mixed_drive, tmp_path):
    loaded = RamTrace.load(mixed_drive.save(tmp_path / "drive.json"))
    assert loaded.rows == mixed_drive.rows and loaded.buttons == mixed_drive.buttons
    assert np.array_equal(loaded.rewards, mixed_drive.rewards) and np.array_equal(loaded.dones, mixed_drive.dones)


def test_summary_lap_window_and_plot(mixed_drive):
    run = run_lua(mixed_drive)
    start, stop = lap_window(mixed_drive, 1)
    laps = mixed_drive.column("laps")
    assert laps[start + 1] == 128 and laps[start] == 127 and laps[stop + 1] == 129
    lap = run.window(start, stop)
    summary = summarize(lap)
    assert summary.totals["checkpoint"] == 30 * 300  # one lap: 30 new checkpoints
    assert summary.events["checkpoint"] == 30
    assert "checkpoint" in str(summary)
    fig = plot_components(lap, "one lap")
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="never reaches lap 9"):
        lap_window(mixed_drive, 9)


# --- done conditions and reward farming ------------------------------------------------------


def test_wall_hits_end_the_episode_in_the_emulator_and_offline(user_dir):
    env = open_env(PRACTICE_GAME, "Level1")
    trace, _ = record_drive(env, wall_rammer(), 1800)
    assert trace.dones[-1] and len(trace) < 1800
    run = run_lua(trace)
    assert run.done_reason == "wall_hits" and run.done_at == len(trace) - 1


def test_five_laps_finish_offline():
    laps = [{"laps": lap, "checkpoint": 0} for lap in range(128, 134)]
    trace = RamTrace.synthetic(GRID_RAM, [change for lap in laps for change in [lap, *[{}] * 9]])
    run = run_lua(trace)
    assert run.done_reason == "finished" and run.done_at == 50
    assert run_python(trace).done_at == 50


def test_the_farming_exploit_is_not_paid(user_dir):
    env = open_env(PRACTICE_GAME, "Level1")
    trace, _ = record_drive(env, farming_policy(), 1800)
    assert line_crossings(trace) >= 3, "the exploit drive should cross the line again and again"
    progress = trace.column("laps") * 30 + trace.column("checkpoint")
    fair = 300 * (progress.max() - progress[0])  # each checkpoint reached, paid once
    lua = run_lua(trace)
    assert lua.components["checkpoint"].sum() == fair
    assert np.array_equal(lua.rewards, trace.rewards)
    naive = run_python(trace, KartReward(pay_once=False))
    assert naive.components["checkpoint"].sum() >= 3 * fair, "the original reward pays each crossing again"


def test_wrapping_around_pays_nothing_twice():
    """Backwards over the line (a lap lost), then around again: only new checkpoints pay."""
    changes = [{"laps": 128, "checkpoint": 0}, {"checkpoint": 1}, {"checkpoint": 0}, {"laps": 127, "checkpoint": 29}]
    changes += [{"checkpoint": 28}, {"checkpoint": 29}, {"laps": 128, "checkpoint": 0}, {"checkpoint": 1}]
    changes += [{"checkpoint": 2}]
    trace = RamTrace.synthetic(GRID_RAM, changes)
    assert run_lua(trace).rewards.tolist() == [300, 300, 0, 0, 0, 0, 0, 0, 300]
    assert run_python(trace, KartReward(pay_once=False)).rewards.tolist() == [300, 300, 0, 0, 0, 300, 300, 300, 300]


# --- writing your own reward term ------------------------------------------------------------

SPEED_BONUS = SPEED_BONUS_TERM  # notebook 04's exercise answer


def test_add_reward_term_and_write_a_scenario(user_dir, mixed_drive):
    source = add_reward_term(SCRIPT, "speed_bonus", SPEED_BONUS)
    assert "speed_bonus" in lua_function_source(source, "speed_bonus")
    path = write_scenario(PRACTICE_GAME, "speedy", source)
    assert path == user_dir / PRACTICE_GAME / "speedy.json"
    run = run_lua(mixed_drive, path)
    fast = int(np.count_nonzero(mixed_drive.column("speed")[1:] > 800))
    assert run.components["speed_bonus"].sum() == fast > 0
    assert np.array_equal(run.rewards, (run_lua(mixed_drive).rewards + (mixed_drive.column("speed")[1:] > 800)))
    env = make_env(PRACTICE_GAME, state="Level1", scenario="speedy", use_restricted_actions=retro.Actions.ALL)
    trace, _ = record_drive(env, Expert(0).buttons, 300)
    assert np.array_equal(run_lua(trace, path).rewards, trace.rewards)


def test_a_broken_term_is_refused_with_its_line(user_dir):
    broken = SPEED_BONUS.replace("ram.speed > 800", "ram.speed > fast_enough")
    source = add_reward_term(SCRIPT, "speed_bonus", broken)
    with pytest.raises(ScenarioError, match=r"speedy\.lua:\d+: error: uses global 'fast_enough'") as caught:
        write_scenario(PRACTICE_GAME, "speedy", source)
    assert caught.value.problems[0].line == line_of(source, "fast_enough")
    assert not (user_dir / PRACTICE_GAME / "speedy.json").exists(), "nothing is written when the check fails"
    with pytest.raises(ValueError, match="must define"):
        add_reward_term(SCRIPT, "speed_bonus", "local function other(ram) return 0 end")
    with pytest.raises(ValueError, match="already has"):
        add_reward_term(SCRIPT, "wall", "local function wall(ram) return 0 end")
