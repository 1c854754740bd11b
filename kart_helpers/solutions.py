"""The solution of every notebook exercise: one entry per key of ``kart_helpers.exercises.EXERCISES``.

Only smoke mode (CI) reads this module: ``answer`` fills in a blank exercise from it, so CI
proves every check passes the right answer. Learners: write your own first.

An entry is the answer itself, or a function of the notebook's values that ``answer`` passes
on (e.g. ``answer("01_speed", my_speed, info=info)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kart_helpers.ram.trace import RamTrace

# 00: from power-on, through the title and the track select, to the grid of the second track.
TRACK_SELECT_SCRIPT = [("", 20), ("START", 2), ("", 20), ("DOWN", 2), ("", 4), ("START", 2), ("", 130)]

# 02: press START and wait; the game stays paused, so the race clock stands still.
PAUSE_SCRIPT = [("START", 2), ("", 30)]

# 03: one second of full throttle from the grid.
FLYING_START_SCRIPT = [("B", 60, "full throttle for one second")]

# 04: a reward term, in Lua.
SPEED_BONUS_TERM = """
-- +1 on every frame faster than 800: keep the speed up.
local function speed_bonus(ram)
  if ram.speed > 800 then
    return 1
  end
  return 0
end
"""


def speed_from_info(info: dict[str, int]) -> int:
    """01: the speed after the last step, from the step's ``info`` dict."""
    return info["speed"]


def gradient_steps_per_update(config: Any) -> int:
    """06: ``epochs`` passes over ``rollout × n_envs`` transitions, one step per minibatch."""
    return config.epochs * config.rollout * config.n_envs // config.minibatch


def mean_speed(trace: RamTrace) -> float:
    """07: the mean speed over every frame of a race (the reset row included)."""
    return float(trace.column("speed").mean())


SOLUTIONS: dict[str, Any | Callable[..., Any]] = {
    "00_track_select": TRACK_SELECT_SCRIPT,
    "01_speed": speed_from_info,
    "02_race_clock": PAUSE_SCRIPT,
    "03_flying_start": FLYING_START_SCRIPT,
    "04_speed_bonus": SPEED_BONUS_TERM,
    "05_shape": (3, 84, 84, 3),
    "06_gradient_steps": gradient_steps_per_update,
    "07_mean_speed": mean_speed,
}
