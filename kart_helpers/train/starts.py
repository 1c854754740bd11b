"""Spread starts: training episodes that begin anywhere along the track, not only on the grid.

From the grid, every episode replays the same first straight, and the agent meets the first
bend only once it has learned the straight. Starting some episodes from snapshots taken
along the first lap lets it practise every bend from the first update on (the idea of a
*reset distribution*; the snapshots only say where to start, never which buttons to press).

Each worker drives one lap when it starts (Practice Kart: the scripted expert; other games:
throttle with a random steer, as :func:`kart_helpers.emulator.random_starts.random_starts` does), keeps
``count`` snapshots, and :class:`SpreadStarts` picks one at each reset. Measured on Practice
Ring, seed 0: see ``benchmarks/results/learning.md``.

Evaluation always starts on the grid (it uses the plain pipeline, without this wrapper).

**Retry starts** add the agent's own trouble spots: :class:`RetryStarts` keeps a snapshot
every second of each episode, and when an episode stalls (no new checkpoint for
``stall_frames``), it hands the snapshot from a little before the last new checkpoint to
:class:`SpreadStarts`, which starts some later episodes there. The expert's snapshots are on
the expert's line at the expert's speed; a retry start is where *this* agent arrives, at its
own speed, just before the bend it keeps missing.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from stable_retro.retro_env import RetroEnv

from kart_helpers.emulator.random_starts import random_starts
from kart_helpers.game.constants import PRACTICE_GAME, TRACKS
from kart_helpers.game.expert import Expert


def track_snapshots(env: gym.Env, game: str, state: str, count: int, frames: int, seed: int) -> list[bytes]:
    """``count`` raw snapshots at random frames (0 to ``frames``) of one drive from ``env``'s start.

    ``env`` is any env whose ``unwrapped`` is the stable-retro env; it is left wherever the
    drive ended, so reset it afterwards. On Practice Kart the expert drives, so every
    snapshot is on the road; elsewhere the drive holds B and steers at random.
    """
    base = env.unwrapped
    policy = None

    if game == PRACTICE_GAME and state in TRACKS:
        policy = Expert(TRACKS[state]).buttons
    return [start.state for start in random_starts(base, count, frames, policy=policy, seed=seed)]


class _RetroWrapper(gym.Wrapper):
    @property
    def _retro(self) -> RetroEnv:
        """The stable-retro env at the bottom: its emulator and the state that reset loads."""
        return self.env.unwrapped  # make_kart_env always wraps a RetroEnv


class SpreadStarts(_RetroWrapper):
    """At each reset, start on the grid with probability ``grid_prob``, else from a random snapshot.

    Once :meth:`add_retry` has given it retry snapshots, half of the episodes that do not start
    on the grid start from one of those instead (see :class:`RetryStarts`).

    It swaps the stable-retro env's ``initial_state`` before the reset, so the reward script
    and the RAM variables start fresh from the snapshot just as they do from the grid (the
    SMK script treats the jump of the lap counter at the first frame as the race being set
    up, and pays nothing for it). ``info["start_index"]`` is the snapshot used: -1 for the
    grid, ``len(snapshots) + i`` for retry snapshot ``i``.

    Args:
        snapshots: raw emulator snapshots (``em.get_state()``), e.g. from :func:`track_snapshots`.
        grid_prob: share of episodes that start on the grid, in [0, 1].
        seed: seeds the choice of start.
        max_retries: how many retry snapshots to keep (the oldest go first).
    """

    def __init__(
        self,
        env: gym.Env,
        snapshots: list[bytes],
        grid_prob: float = 0.5,
        seed: int | None = None,
        max_retries: int = 8,
    ) -> None:
        super().__init__(env)
        if not 0.0 <= grid_prob <= 1.0:
            raise ValueError(f"grid_prob must be in [0, 1], got {grid_prob}")
        self.snapshots = list(snapshots)
        self.retries: deque[bytes] = deque(maxlen=max(1, max_retries))
        self.grid_prob = float(grid_prob)
        self._grid_state = self._retro.initial_state
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        index, state = -1, self._grid_state
        if (self.snapshots or self.retries) and self._rng.random() >= self.grid_prob:
            if self.retries and (not self.snapshots or self._rng.random() < 0.5):
                retry = int(self._rng.integers(len(self.retries)))
                index, state = len(self.snapshots) + retry, self.retries[retry]
            else:
                index = int(self._rng.integers(len(self.snapshots)))
                state = self.snapshots[index]
        self._retro.initial_state = state
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, "start_index": index}

    def add_retry(self, snapshot: bytes) -> None:
        """Start some later episodes from ``snapshot`` (kept with the latest ``max_retries``)."""
        self.retries.append(snapshot)


class RetryStarts(_RetroWrapper):
    """When an episode stalls, give :class:`SpreadStarts` a snapshot from just before the trouble.

    Sits outside :class:`~kart_helpers.train.envs.RaceStats`, whose ``info`` says when an
    episode was cut short for lack of progress (``stalled``) and at which frame the last new
    checkpoint came (``progress_frame``). It snapshots the emulator every ``every_frames``
    frames (``em.get_state()``: 0.02 ms and 430 KB on Practice Kart) and, at a stall, hands on
    the newest snapshot taken at least ``lead_frames`` before that last checkpoint: a run-up
    to the spot where the agent went wrong, at its own speed and on its own line.

    Args:
        env: an env with :class:`SpreadStarts` inside and ``RaceStats`` outermost.
        every_frames: emulator frames between snapshots.
        lead_frames: how long before the last new checkpoint the retry starts, in frames.
    """

    def __init__(self, env: gym.Env, every_frames: int = 60, lead_frames: int = 120) -> None:
        super().__init__(env)
        self.every_frames, self.lead_frames = int(every_frames), int(lead_frames)
        self._recent: deque[tuple[int, bytes]] = deque(maxlen=32)  # 32 s: a stall plus the lead
        self.retries_added = 0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        self._recent.clear()
        self._recent.append((0, self._retro.em.get_state()))
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        frames = int(info["ep_frames"])
        if frames - self._recent[-1][0] >= self.every_frames:
            self._recent.append((frames, self._retro.em.get_state()))
        if truncated and info.get("stalled"):
            target = int(info["progress_frame"]) - self.lead_frames
            before = [state for frame, state in self._recent if frame <= target]
            self.env.get_wrapper_attr("add_retry")(before[-1] if before else self._recent[0][1])
            self.retries_added += 1
        return obs, float(reward), terminated, truncated, info
