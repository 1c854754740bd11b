"""Snapshots taken at random moments of a drive: varied starts for training."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kart_helpers.emulator.drive import drive


@dataclass
class RandomStart:
    """A start state somewhere along the track, for variety between episodes."""

    state: bytes
    """The raw snapshot; pass it to :func:`load_state`."""
    frame: int
    """Frames driven from the grid to get here."""
    info: dict[str, int]
    screen: np.ndarray


def random_starts(
    env: Any,
    n: int,
    max_frames: int,
    policy: Callable[[dict[str, int]], str] | None = None,
    seed: int = 0,
) -> list[RandomStart]:
    """Snapshots after driving a random number of frames (0 to ``max_frames``) from ``env``'s reset.

    ``policy(info) -> buttons`` drives (for Practice Kart the scripted expert keeps the kart
    on the road); the default holds B and steers at random. The env ends wherever the last
    drive stopped, so reset it afterwards.
    """
    rng = np.random.default_rng(seed)
    stops = sorted(int(f) for f in rng.integers(0, max_frames + 1, size=n))
    if policy is None:
        frame_numbers, steer = itertools.count(), ["B"]

        def policy(_info: dict[str, int]) -> str:
            if next(frame_numbers) % 15 == 0:  # a new random steer every quarter second
                steer[0] = str(rng.choice(["B", "B+LEFT", "B+RIGHT"]))
            return steer[0]

    env.reset()
    info, frame, starts = env.unwrapped.data.lookup_all(), 0, []
    for stop in stops:
        if stop > frame:
            info = drive(env, policy, stop - frame)
        frame = stop
        starts.append(RandomStart(env.unwrapped.em.get_state(), frame, dict(info), env.render().copy()))
    return starts
