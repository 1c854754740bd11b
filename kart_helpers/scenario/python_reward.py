"""The course's reward written in Python, and a wrapper that puts it on an env instead of the Lua one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from kart_helpers.game.constants import GRID_RAM
from kart_helpers.ram.trace import RamTrace
from kart_helpers.scenario.replay import COMPONENTS, RewardRun

if TYPE_CHECKING:
    from stable_retro import RetroEnv


@dataclass(frozen=True)
class RewardConstants:
    """The constants of script.lua, by the same names in lower case."""

    checkpoint_reward: float = 300
    default_checkpoints: int = 30
    wall_penalty: float = -10
    wall_slow_speed: int = 600
    offroad_penalty: float = -15
    offroad_period: int = 30
    time_cost: float = -1
    time_cost_fast: float = -0.5
    fast_speed: int = 700
    time_period: int = 30
    backward_penalty: float = -2
    backward_period: int = 6
    finish_laps: int = 133
    wall_hit_limit: int = 7
    wall_hit_window: int = 600
    surface_offroad: int = 0x54
    surface_wall: int = 0x80
    backward_bit: int = 0x10


class KartReward:
    """script.lua's reward and done, in Python, over the same RAM variables.

    Call :meth:`reset` with the RAM after ``env.reset()`` (it pays nothing and records the
    starting progress), then :meth:`step` with each frame's RAM. After each step,
    ``components`` holds the value of each component and ``totals`` their episode sums.

    Args:
        constants: the tunable numbers (default: script.lua's).
        pay_once: pay a checkpoint only when progress beats its best of the episode (the
            fix). False pays every increase over the previous frame, as the original
            project did: crossing the line back and forth then pays again and again.
    """

    def __init__(self, constants: RewardConstants | None = None, pay_once: bool = True) -> None:
        self.c = constants or RewardConstants()
        self.pay_once = pay_once
        self.reset(GRID_RAM)

    def reset(self, ram: Mapping[str, int]) -> tuple[float, bool]:
        """The call inside ``env.reset()``: record where the kart starts; pays 0."""
        self.frames = 0
        self.best_progress = self.last_progress = self._progress(ram)
        self.offroad_frames = self.backward_frames = 0
        self.last_collision = ram["collision"]
        self.wall_hits: list[int] = []
        self.finished = False
        self.done_reason: str | None = None
        self.components = dict.fromkeys(COMPONENTS, 0.0)
        self.totals = dict.fromkeys(COMPONENTS, 0.0)
        self._check_finished(ram)
        return 0.0, self.finished

    def step(self, ram: Mapping[str, int]) -> tuple[float, bool]:
        """Reward and done of one frame."""
        self.frames += 1
        self.components = {
            "checkpoint": self._checkpoint(ram),
            "wall": self._wall(ram),
            "offroad": self._offroad(ram),
            "time": self._time(ram),
            "backward": self._backward(ram),
        }
        for name, value in self.components.items():
            self.totals[name] += value
        if ram["collision"] and not self.last_collision:  # the wall timer just started: a hit
            self.wall_hits.append(self.frames)
        self.last_collision = ram["collision"]
        self.wall_hits = [hit for hit in self.wall_hits if self.frames - hit < self.c.wall_hit_window]
        self._check_finished(ram)
        # Summed in script.lua's order, and rounded to float32 as stable-retro returns it.
        return float(np.float32(sum(self.components.values()))), self.finished

    # One method per component, as in script.lua (see there for why each exists).

    def _wall(self, ram: Mapping[str, int]) -> float:
        stuck = ram["surface"] == self.c.surface_wall and ram["speed"] < self.c.wall_slow_speed
        return self.c.wall_penalty if stuck else 0.0

    def _offroad(self, ram: Mapping[str, int]) -> float:
        if ram["surface"] != self.c.surface_offroad:
            return 0.0
        self.offroad_frames += 1
        return self.c.offroad_penalty if self.offroad_frames % self.c.offroad_period == 0 else 0.0

    def _time(self, ram: Mapping[str, int]) -> float:
        if self.frames % self.c.time_period:
            return 0.0
        return self.c.time_cost_fast if ram["speed"] > self.c.fast_speed else self.c.time_cost

    def _backward(self, ram: Mapping[str, int]) -> float:
        if not ram["backward"] & self.c.backward_bit:  # a bit test, not ==: other bits mean other things
            return 0.0
        self.backward_frames += 1
        return self.c.backward_penalty if self.backward_frames % self.c.backward_period == 0 else 0.0

    def _progress(self, ram: Mapping[str, int]) -> int:
        per_lap = ram["num_checkpoints"] or self.c.default_checkpoints
        return ram["laps"] * per_lap + ram["checkpoint"]

    def _checkpoint(self, ram: Mapping[str, int]) -> float:
        progress = self._progress(ram)
        reference = self.best_progress if self.pay_once else self.last_progress
        self.last_progress = progress
        if progress <= reference:
            return 0.0
        self.best_progress = max(self.best_progress, progress)
        gained = progress - reference
        # A jump of more than a lap is the race being set up (laps 0 -> 127), not driving.
        return 0.0 if gained > self.c.default_checkpoints else float(self.c.checkpoint_reward * gained)

    def _check_finished(self, ram: Mapping[str, int]) -> None:
        if self.finished:
            return
        if ram["laps"] >= self.c.finish_laps:
            self.finished, self.done_reason = True, "finished"
        elif len(self.wall_hits) >= self.c.wall_hit_limit:
            self.finished, self.done_reason = True, "wall_hits"


def run_python(trace: RamTrace, reward: KartReward | None = None) -> RewardRun:
    """Run :class:`KartReward` (or ``reward``) on a trace, like :func:`run_lua`."""
    reward = reward or KartReward()
    reward.reset(trace.rows[0])
    rewards, dones, parts = [], [], []
    for row in trace.rows[1:]:
        r, d = reward.step(row)
        rewards.append(r)
        dones.append(d)
        parts.append(dict(reward.components))
    components = {n: np.array([p[n] for p in parts], dtype=float) for n in COMPONENTS}
    return RewardRun(np.asarray(rewards, np.float32), np.asarray(dones, bool), components, reward.done_reason, "python")


class KartRewardWrapper(gym.Wrapper):
    """Replace an env's (Lua) reward and done with :class:`KartReward`'s.

    ``info`` gains ``lua_reward`` and ``lua_done`` (what the scenario's script said) and
    ``reward_components``, so the two can be compared on every step.
    """

    def __init__(self, env: gym.Env, reward: KartReward | None = None) -> None:
        super().__init__(env)
        self.reward = reward or KartReward()

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        base: RetroEnv = self.env.unwrapped
        self.reward.reset(base.data.lookup_all())
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, lua_reward, lua_done, truncated, info = self.env.step(action)
        reward, done = self.reward.step(info)
        info = {**info, "lua_reward": lua_reward, "lua_done": lua_done, "reward_components": self.reward.components}
        return obs, reward, done, truncated, info
