"""Snapshots taken at random moments of a drive: varied starts for training."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kart_helpers.emulator.buttons import action_for


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
    env.reset()
    info = env.unwrapped.data.lookup_all()
    buttons, frame, starts = "B", 0, []
    for stop in stops:
        while frame < stop:
            if policy is not None:
                buttons = policy(info)
            elif frame % 15 == 0:  # a new random steer every quarter second
                buttons = str(rng.choice(["B", "B+LEFT", "B+RIGHT"]))
            _, _, _, _, info = env.step(action_for(buttons, env.unwrapped.buttons))
            frame += 1
        starts.append(RandomStart(env.unwrapped.em.get_state(), frame, dict(info), env.render().copy()))
    return starts
