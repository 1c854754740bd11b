"""Spread starts: training episodes that begin anywhere along the track, not only on the grid.

From the grid, every episode replays the same first straight, and the agent meets the first
bend only once it has learned the straight. Starting some episodes from snapshots taken
along the first lap lets it practise every bend from the first update on (the idea of a
*reset distribution*; the snapshots only say where to start, never which buttons to press).

Each worker drives one lap when it starts (Practice Kart: the scripted expert; other games:
throttle with a random steer, as :func:`kart_helpers.states.random_starts` does), keeps
``count`` snapshots, and :class:`SpreadStarts` picks one at each reset. Measured on Practice
Ring, seed 0: see ``benchmarks/results/learning.md``.

Evaluation always starts on the grid (it uses the plain pipeline, without this wrapper).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from kart_helpers.integration import PRACTICE_GAME
from kart_helpers.states import random_starts


def track_snapshots(env: gym.Env, game: str, state: str, count: int, frames: int, seed: int) -> list[bytes]:
    """``count`` raw snapshots at random frames (0 to ``frames``) of one drive from ``env``'s start.

    ``env`` is any env whose ``unwrapped`` is the stable-retro env; it is left wherever the
    drive ended, so reset it afterwards. On Practice Kart the expert drives, so every
    snapshot is on the road; elsewhere the drive holds B and steers at random.
    """
    base = env.unwrapped
    policy = None
    from kart_helpers.evaluate import TRACKS  # here: evaluate imports train.envs, which imports this

    if game == PRACTICE_GAME and state in TRACKS:
        from kart_helpers.expert import Expert

        policy = Expert(TRACKS[state]).buttons
    return [start.state for start in random_starts(base, count, frames, policy=policy, seed=seed)]


class SpreadStarts(gym.Wrapper):
    """At each reset, start on the grid with probability ``grid_prob``, else from a random snapshot.

    It swaps the stable-retro env's ``initial_state`` before the reset, so the reward script
    and the RAM variables start fresh from the snapshot just as they do from the grid (the
    SMK script treats the jump of the lap counter at the first frame as the race being set
    up, and pays nothing for it). ``info["start_index"]`` is the snapshot used, -1 for the grid.

    Args:
        snapshots: raw emulator snapshots (``em.get_state()``), e.g. from :func:`track_snapshots`.
        grid_prob: share of episodes that start on the grid, in [0, 1].
        seed: seeds the choice of start.
    """

    def __init__(self, env: gym.Env, snapshots: list[bytes], grid_prob: float = 0.5, seed: int | None = None) -> None:
        super().__init__(env)
        if not 0.0 <= grid_prob <= 1.0:
            raise ValueError(f"grid_prob must be in [0, 1], got {grid_prob}")
        self.snapshots = list(snapshots)
        self.grid_prob = float(grid_prob)
        self._grid_state = env.unwrapped.initial_state
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        index = -1
        if self.snapshots and self._rng.random() >= self.grid_prob:
            index = int(self._rng.integers(len(self.snapshots)))
        self.env.unwrapped.initial_state = self._grid_state if index < 0 else self.snapshots[index]
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, "start_index": index}
