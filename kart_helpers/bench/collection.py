"""Collection speed of a vector env: steps per second with random actions."""

from __future__ import annotations

import time

import numpy as np
from tianshou.env import BaseVectorEnv

from kart_helpers.bench.speed import Speed, median_speed


def measure_collection(
    venv: BaseVectorEnv,
    steps: int = 200,
    repeats: int = 3,
    seed: int = 0,
    label: str = "collection",
    warmup: bool = True,
) -> Speed:
    """Frames and agent steps per second, summed over workers, of stepping ``venv`` with random actions.

    This is the env side of collection (what Tianshou's ``Collector`` waits on): each round
    steps every worker once and resets the ones whose episode ended. ``steps`` rounds per repeat.
    """
    rng = np.random.default_rng(seed)
    n = len(venv)
    actions_n = venv.action_space[0].n
    venv.reset()

    def run() -> tuple[int, int, float]:
        actions = rng.integers(0, actions_n, size=(steps, n))
        frames = 0
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, infos = venv.step(a)
            frames += sum(int(info.get("frames", 1)) for info in infos)
            done = np.flatnonzero(np.logical_or(terminated, truncated))
            if done.size:
                venv.reset(done)
        return frames, steps * n, time.perf_counter() - start

    return median_speed(label, run, repeats, warmup)
