"""The notebooks' exercises: take the learner's answer, then check it, with a hint.

An exercise cell starts blank (``my_shape = ...``). The check cell below it asks
:func:`answer` for the learner's value, then calls the exercise's ``check_...`` function.
A wrong answer raises :class:`ExerciseError`, whose message names the idea to revisit and
gives a hint, never the answer. In smoke mode (``KART_SMOKE=1``, CI) a blank answer is filled
in from :mod:`kart_helpers.solutions`, so CI proves that every check passes the right answer.
Checks never change the learner's files: whatever they try out, they write to a scratch folder.
"""

from __future__ import annotations

import copy
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import stable_retro as retro

from kart_helpers.display.tables import Table
from kart_helpers.emulator.buttons import ButtonScript, as_steps
from kart_helpers.emulator.drive import run_script
from kart_helpers.emulator.env import POWER_ON, make_env, open_env
from kart_helpers.emulator.integration import read_json
from kart_helpers.emulator.start_scripts import grid_problems
from kart_helpers.emulator.states import save_start_state
from kart_helpers.game.constants import FPS, GRID_LAPS, PRACTICE_GAME
from kart_helpers.pipeline.build import make_kart_env
from kart_helpers.pipeline.config import PipelineConfig
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.search import RamSearch
from kart_helpers.ram.trace import RamTrace
from kart_helpers.scenario.authoring import add_reward_term, write_scenario
from kart_helpers.scenario.files import ScenarioError, load_scenario
from kart_helpers.scenario.replay import RewardRun, run_lua
from kart_helpers.smoke import smoke_mode

T = TypeVar("T")


@dataclass(frozen=True)
class Exercise:
    """What a learner fills in for one exercise, and the hint that the checks repeat."""

    variable: str
    """The name the learner's cell sets, e.g. ``"my_shape"``."""
    hint: str


EXERCISES: dict[str, Exercise] = {
    "00_track_select": Exercise(
        "my_script",
        "the track select opens on the first track; move down to the second one before START confirms, "
        "and wait between presses: a press during a screen change is lost.",
    ),
    "01_speed": Exercise(
        "my_speed",
        "every env.step returns (obs, reward, terminated, truncated, info), and info holds the data.json "
        "variables after that step, by name.",
    ),
    "02_race_clock": Exercise(
        "pause",
        "the race clock stops while the game is paused, and the two other counters keep running. "
        "Write a button script that leaves the game paused for a while.",
    ),
    "03_flying_start": Exercise(
        "flying_script",
        "a flying start is the grid state after one second (60 frames) of full throttle; a button script "
        "is a list of (buttons, frames, note) steps, and B is the throttle.",
    ),
    "04_speed_bonus": Exercise(
        "my_term",
        "the term is `local function speed_bonus(ram) ... end`; it is called once per frame and returns "
        "that frame's pay, a number on every path through it. Compare ram.speed with 800.",
    ),
    "05_shape": Exercise(
        "my_shape",
        "an observation is a frame stack: one axis for the stacked steps, then each frame's height and "
        "width after the resize, then its colour channels when colour is kept.",
    ),
    "06_gradient_steps": Exercise(
        "gradient_steps_per_update",
        "an update makes `epochs` passes over the `rollout × n_envs` transitions it collected, and each "
        "pass makes one gradient step per minibatch of `minibatch` transitions.",
    ),
    "07_mean_speed": Exercise(
        "agent_mean_speed and expert_mean_speed",
        "trace.column('speed') gives the speed on every frame of a race; the mean speed averages all of them.",
    ),
}


class ExerciseError(Exception):
    """An answer that is missing or wrong; the message says what to revisit, with a hint."""


class BlankAnswer(ExerciseError):
    """The exercise cell still holds the placeholder ``...``."""


def _wrong(exercise: str, what: str) -> ExerciseError:
    return ExerciseError(f"{what}\nHint: {EXERCISES[exercise].hint}")


def answer(exercise: str, value: T, **context: Any) -> T:
    """The learner's ``value``; while it is still ``...``, the solution in smoke mode.

    Args:
        exercise: a key of :data:`EXERCISES`, e.g. ``"05_shape"``.
        value: what the learner's cell set; ``...`` (Ellipsis) while it is blank.
        context: what the solution needs from the notebook, e.g. ``info=info`` (01).

    Raises:
        BlankAnswer: outside smoke mode, while ``value`` is blank; it repeats the hint.
    """
    if value is not ...:
        return value
    spec = EXERCISES[exercise]
    if not smoke_mode():
        raise BlankAnswer(
            f"The exercise cell above is still blank ({spec.variable} = ...). Write your answer there, "
            f"run that cell, then run this one again.\nHint: {spec.hint}"
        )
    from kart_helpers.solutions import SOLUTIONS  # only smoke mode looks at the solutions

    solution = SOLUTIONS[exercise]
    filled = solution(**context) if callable(solution) else copy.deepcopy(solution)
    print("smoke mode: filled in the solution from kart_helpers.solutions; in the course, write your own")
    return filled


def _as_script(exercise: str, script: Any) -> ButtonScript:
    try:
        return as_steps(script)
    except (TypeError, ValueError) as err:
        raise _wrong(exercise, f"that is not a button script: {err}") from None


def _play(exercise: str, play: Any) -> Any:
    """Run ``play()``; a button the game does not have becomes the exercise's hint."""
    try:
        return play()
    except ValueError as err:
        raise _wrong(exercise, f"Your script cannot be played: {err}.") from None


def check_track_select(script: ButtonScript) -> Any:
    """Play ``script`` on Practice Kart from power-on; pass if it reaches Hairpin Hills' grid.

    Returns:
        The env, on the grid where the script left it (to show its screen).
    """
    steps = _as_script("00_track_select", script)
    env = make_env(PRACTICE_GAME, state=POWER_ON, use_restricted_actions=retro.Actions.ALL)
    env.reset()
    _play("00_track_select", lambda: run_script(env, steps))
    info = env.unwrapped.data.lookup_all()
    first, second = (t["start"]["x"] for t in read_json(PRACTICE_GAME, "tracks.json")["tracks"])
    if info["laps"] != GRID_LAPS or info["x"] not in (first, second):  # the clock may run: the kart waits
        problems = "; ".join(grid_problems(info))
        raise _wrong("00_track_select", f"Your script does not reach a start grid: {problems}.")
    if info["x"] == first:
        raise _wrong("00_track_select", "Your script reaches the grid of Practice Ring, the first track.")
    return env


def check_speed(speed: Any, env: Any) -> None:
    """Pass if ``speed`` is the kart's speed in ``env``'s RAM now, after a drive at full throttle."""
    in_ram = env.unwrapped.data.lookup_value("speed")
    if speed != in_ram:
        raise _wrong("01_speed", f"my_speed is {speed!r}, which is not the kart's speed after the last step.")
    if in_ram <= 500:
        raise _wrong("01_speed", "The kart is hardly moving: run the cell above again, from env.reset() on.")


def check_race_clock(env: Any, pause: ButtonScript) -> RamSearch:
    """Search Practice Kart's 16-bit RAM for the race clock, with the learner's ``pause`` script.

    From ``env``'s start state: 30 frames of throttle keep three counters that rose by 30; then
    ``pause`` plays, and the counters that stood still stay; then START resumes the game, and 60
    more frames keep what rose by 60. Pass if one candidate is left, it counts the next 100
    frames, and it is ``current_frame`` in data.json.

    Returns:
        The finished search (its ``log`` tells the story; ``addresses[0]`` is the clock).
    """
    steps = _as_script("02_race_clock", pause)
    env.reset()
    clock = RamSearch.start(env, type="<u2")
    clock.drive(env, "B", 30)
    clock.filter("increased_by", 30)
    _play("02_race_clock", lambda: clock.drive(env, steps))
    clock.filter("unchanged")
    clock.drive(env, [("", 2), ("START", 2), ("B", 30)])  # release, press START to resume, settle
    clock.drive(env, "B", 60)
    clock.filter("increased_by", 60)
    log = "\n  ".join(clock.log)
    if len(clock) != 1:
        raise _wrong(
            "02_race_clock",
            f"{len(clock)} candidates are left, not 1. The race clock must stand still during your script, "
            f"and the game must still be paused at its end (the check then presses START).\n  {log}",
        )
    address = int(clock.addresses[0])
    memory = clock.memory_map
    before = memory.value(memory.read(env), address, "<u2")
    clock.drive(env, "B", 100)
    ticked = memory.value(memory.read(env), address, "<u2") - before
    if ticked != 100 or address != read_json(PRACTICE_GAME, "data.json")["info"]["current_frame"]["address"]:
        raise _wrong("02_race_clock", f"{memory.label(address)} is left, but it is not the race clock.\n  {log}")
    return clock


FOUND_HINTS = {
    "type": "a type string is byte order + kind + width. Ask which values the variable can take (can it go "
    "below 0?), how many bytes it needs, and in which order the console stores them (section 3).",
    "address": "a search can leave more than one candidate, and a game may keep a value twice. Keep the one "
    "whose history does what the variable must do over a whole lap (section 6 plots it).",
    "verify": "a variable leaves its range when it is read with the wrong type, width or address: it is then "
    "another number. Look at its column in the plot above, and at the types in section 3.",
}


def check_found_variables(found: dict[str, tuple[int, str]], report: Any = None, game: str = PRACTICE_GAME) -> Table:
    """Compare the variables found by the RAM searches with the ``data.json`` that ships with ``game``.

    A variable matches when a shipped variable has its address and type; the game's copy of a
    value (``checkpoint_alt`` beside ``checkpoint``) is as good as the value. ``report`` is
    :func:`~kart_helpers.ram.data_json.verify`'s result for the same variables, if there is one.

    Returns:
        A table, one row per variable: what was found, what ships, and whether they agree.

    Raises:
        ExerciseError: ``report`` failed, or a variable is not where (or not what) the game keeps;
            the message names the variable and the idea to revisit, never the answer.
    """
    if report is not None and not report.ok:
        raise ExerciseError(
            f"verify found a problem with {', '.join(report.failed)}:\n{report}\nHint: {FOUND_HINTS['verify']}"
        )
    shipped = read_json(game, "data.json")["info"]
    memory = MemoryMap.snes()
    rows, problems = [], []
    for name, (address, type_string) in found.items():
        ship = shipped.get(name)
        copies = [n for n, spec in shipped.items() if spec == {"address": address, "type": type_string}]
        if ship is None:
            rows.append([name, memory.label(address), type_string, "-", "-", "not shipped"])
            continue
        agrees = name in copies or any(n.startswith(f"{name}_") for n in copies)
        note = "yes" if name in copies else (f"yes: the game's copy, {copies[0]}" if agrees else "no")
        rows.append([name, memory.label(address), type_string, memory.label(ship["address"]), ship["type"], note])
        if agrees:
            continue
        same_place = address == ship["address"] or any(
            n.startswith(f"{name}_") and spec["address"] == address for n, spec in shipped.items()
        )
        if same_place:
            problems.append(
                f"{name}: the address is right, the type {type_string!r} is not.\nHint: {FOUND_HINTS['type']}"
            )
        else:
            problems.append(
                f"{name}: {memory.label(address)} is not where the game keeps it.\nHint: {FOUND_HINTS['address']}"
            )
    if problems:
        raise ExerciseError("\n".join(problems))
    return Table(["variable", "we found", "type", "shipped", "type", "same?"], rows, "found vs shipped")


def check_flying_start(game: str, script: ButtonScript) -> bytes:
    """Play ``script`` from ``Level1``; pass if it makes a flying start.

    A flying start is about one second into the race at speed above 300. The state is saved
    and loaded back in a scratch folder, the way ``reset()`` loads a state file; nothing is
    written to your user folder, so its states and ``metadata.json`` stay as they were.

    Returns:
        The flying start's state (gzipped ``.state`` bytes): ``load_state(env, it)`` puts an env
        there, and ``save_start_state`` keeps it, if you choose to.
    """
    steps = _as_script("03_flying_start", script)
    env = open_env(game, "Level1")
    _play("03_flying_start", lambda: run_script(env, steps))
    with tempfile.TemporaryDirectory() as scratch:
        trial = save_start_state(env, "FlyingStart", game, folder=Path(scratch), make_default=False)
        info = open_env(game, trial).unwrapped.data.lookup_all()  # loaded the way reset() loads it
        seconds = info["current_frame"] / FPS
        if not 0.75 <= seconds <= 1.25:
            raise _wrong("03_flying_start", f"That state is {seconds:.2f} s into the race, not one second.")
        if info["speed"] <= 300:
            raise _wrong("03_flying_start", f"That state starts at speed {info['speed']}: that is not full throttle.")
        return trial.read_bytes()


def check_speed_bonus(term: str, trace: RamTrace) -> RewardRun:
    """Add the Lua ``term`` to ``trace.game``'s script and replay the reward on ``trace`` offline.

    The scenario is written to a scratch folder, never to your user folder. Pass if
    ``speed_bonus`` pays 1 on each frame faster than 800 and 0 otherwise, and the rest of the
    reward is unchanged.

    Returns:
        The replay with the new term (``components["speed_bonus"]``: (T,) its pay per frame).
    """
    if not isinstance(term, str):
        raise _wrong("04_speed_bonus", f"my_term must be the Lua text of a function, a str, not {type(term).__name__}.")
    base = load_scenario(trace.game)
    try:
        script = add_reward_term(base.scripts[0].read_text(), "speed_bonus", term)
    except ValueError as err:
        raise _wrong("04_speed_bonus", f"The term cannot be added: {err}.") from None
    with tempfile.TemporaryDirectory() as scratch:
        try:
            path = write_scenario(trace.game, "speed_bonus", script, folder=Path(scratch))
        except ScenarioError as err:
            raise _wrong("04_speed_bonus", f"The script with your term does not pass the check:\n{err}") from None
        run = run_lua(trace, load_scenario(path, variables=base.variables))
    paid, wanted = run.components["speed_bonus"], (trace["speed"] > 800).astype(float)
    wrong = np.flatnonzero(paid != wanted)
    if wrong.size:
        t = int(wrong[0])
        raise _wrong(
            "04_speed_bonus",
            f"On frame {t + 1} the kart's speed was {trace['speed'][t]} and the term paid {paid[t]:g}; "
            f"it pays wrongly on {wrong.size} of {len(trace)} frames.",
        )
    if not np.allclose(run.rewards - paid, run_lua(trace, base).rewards):
        raise _wrong("04_speed_bonus", "The rest of the reward changed: the term must only add its own pay.")
    return run


def check_colour_shape(shape: Any) -> np.ndarray:
    """Build the colour pipeline (``grayscale=False``, ``frame_stack=3``); pass if its observation has ``shape``.

    Returns:
        One observation, reset with seed 0.
    """
    env = make_kart_env(PipelineConfig(grayscale=False, frame_stack=3))
    obs, _ = env.reset(seed=0)
    try:
        mine = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise _wrong("05_shape", f"my_shape must be a tuple of whole numbers, not {shape!r}.") from None
    if mine != obs.shape:
        if sorted(mine) == sorted(obs.shape):
            raise _wrong("05_shape", f"{mine} has the right sizes in the wrong order.")
        raise _wrong("05_shape", f"The observations are not {mine}.")
    return obs


def check_gradient_steps(steps: Any, config: Any, counters: dict[str, int]) -> None:
    """Pass if ``steps`` is the gradient steps per update that the trainer counted.

    Args:
        config: the run's PPOConfig (``epochs``, ``rollout``, ``n_envs``, ``minibatch``).
        counters: a run's counters, with ``gradient_step`` and ``update_step``.
    """
    counted = counters["gradient_step"] / counters["update_step"]
    if steps == counted:
        return
    if isinstance(steps, int | float) and steps * config.epochs == counted:
        raise _wrong("06_gradient_steps", f"{steps} is the gradient steps of one pass over the data.")
    raise _wrong("06_gradient_steps", f"{steps} is not what the trainer counted per update.")


def check_mean_speeds(agent_mean_speed: Any, expert_mean_speed: Any, agent: RamTrace, expert: RamTrace) -> None:
    """Pass if the two numbers are the mean ``speed`` over each trace (with or without the reset row)."""

    def is_mean(value: Any, trace: RamTrace) -> bool:
        means = (trace.column("speed").mean(), trace["speed"].mean())
        return isinstance(value, int | float | np.number) and any(abs(value - m) < 1e-6 for m in means)

    if not is_mean(agent_mean_speed, agent) and is_mean(agent_mean_speed, expert):
        raise _wrong("07_mean_speed", "agent_mean_speed is the expert's mean speed: the two are swapped.")
    pairs = [
        ("agent_mean_speed", "agent", agent_mean_speed, agent),
        ("expert_mean_speed", "expert", expert_mean_speed, expert),
    ]
    for name, who, value, trace in pairs:
        if not is_mean(value, trace):
            raise _wrong(
                "07_mean_speed", f"{name} is {value}, which is not the mean of the {who}'s speed over its race."
            )
