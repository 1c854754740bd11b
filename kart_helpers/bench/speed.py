"""Speed measurement: frames and steps per second of an env, medians over rounds taken in turns."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np

from kart_helpers.emulator.buttons import action_for
from kart_helpers.pipeline.actions import ORIGINAL_ACTIONS
from kart_helpers.pipeline.build import wrap
from kart_helpers.pipeline.config import PipelineConfig

if TYPE_CHECKING:
    from stable_retro import RetroEnv


@dataclass
class Speed:
    """A throughput, the median over repeats. Frames are emulator frames, steps agent steps."""

    label: str
    frames_per_s: float
    steps_per_s: float
    repeats_frames_per_s: list[float] = field(default_factory=list)
    """Each repeat's frames/s, to see the spread."""

    @property
    def us_per_frame(self) -> float:
        return 1e6 / self.frames_per_s


def median_speed(label: str, run: Callable[[], tuple[int, int, float]], repeats: int, warmup: bool = True) -> Speed:
    """Call ``run() -> (frames, agent steps, seconds)`` once to warm up, then ``repeats`` times; the medians."""
    if warmup:
        run()  # first calls allocate and fill caches
    results = [run() for _ in range(repeats)]
    fps = [frames / seconds for frames, _, seconds in results]
    sps = [steps / seconds for _, steps, seconds in results]
    return Speed(label, statistics.median(fps), statistics.median(sps), fps)


def measure_raw(
    env: gym.Env,
    frames: int = 2000,
    repeats: int = 5,
    combos: Sequence[str] = ORIGINAL_ACTIONS,
    hold: int = 4,
    seed: int = 0,
    label: str = "raw env.step",
    warmup: bool = True,
) -> Speed:
    """Frames per second of a bare stable-retro ``env.step``, driving like an agent would.

    A random combo from ``combos`` is held for ``hold`` frames at a time; ``steps_per_s``
    counts those decisions. The env resets when an episode ends (that time counts too).
    """
    rng = np.random.default_rng(seed)
    base: RetroEnv = env.unwrapped
    arrays = [action_for(c, base.buttons) for c in combos]
    env.reset(seed=seed)

    def run() -> tuple[int, int, float]:
        choices = rng.integers(0, len(arrays), size=frames // hold + 1)
        start = time.perf_counter()
        for t in range(frames):
            _, _, terminated, truncated, _ = env.step(arrays[choices[t // hold]])
            if terminated or truncated:
                env.reset()
        return frames, frames // hold, time.perf_counter() - start

    return median_speed(label, run, repeats, warmup)


def measure_env(
    env: gym.Env, steps: int = 500, repeats: int = 5, seed: int = 0, label: str = "pipeline", warmup: bool = True
) -> Speed:
    """Agent steps and emulator frames per second of a wrapped env with ``Discrete`` actions.

    Frames are counted from ``info["frames"]`` where the env reports it (our
    :class:`~kart_helpers.pipeline.observations.MaxAndSkip`), else as the skip of every step.
    """
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(f"measure_env needs a Discrete action space, got {env.action_space}")
    n_actions = int(env.action_space.n)
    rng = np.random.default_rng(seed)
    skip = _frame_skip(env)
    env.reset(seed=seed)

    def run() -> tuple[int, int, float]:
        actions = rng.integers(0, n_actions, size=steps)
        frames = 0
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, info = env.step(a)
            frames += info.get("frames", skip)
            if terminated or truncated:
                env.reset()
        return frames, steps, time.perf_counter() - start

    return median_speed(label, run, repeats, warmup)


def _frame_skip(env: gym.Env) -> int:
    while isinstance(env, gym.Wrapper):
        skip = getattr(env, "skip", None) or getattr(env, "_skip", None)
        if skip:
            return int(skip)
        env = env.env
    return 1


def stage_costs(
    env: gym.Env,
    config: PipelineConfig | None = None,
    steps: int = 500,
    repeats: int = 5,
    seed: int = 0,
) -> list[Speed]:
    """The pipeline built up one stage at a time on the stable-retro ``env``, each timed.

    Rows: raw ``env.step``; frame skip with the plain loop; frame skip with the fast path;
    then + crop, + grayscale, + resize, + frame stack (the full pipeline). The cost of a stage
    is the growth in ``us_per_frame`` from the row before. The rows are timed in turns
    (:func:`interleaved`).
    """
    config = config or PipelineConfig()
    bare = replace(config, fast_skip=False, crop_rows=None, grayscale=False, resize=None, frame_stack=1)
    fast = replace(bare, fast_skip=True)
    builds = [
        ("+ frame skip (plain loop)", bare),
        ("+ frame skip (fast path)", fast),
        ("+ crop", replace(fast, crop_rows=config.crop_rows)),
        ("+ grayscale", replace(fast, crop_rows=config.crop_rows, grayscale=True)),
        ("+ resize", replace(fast, crop_rows=config.crop_rows, grayscale=True, resize=config.resize)),
        ("+ frame stack = full pipeline", replace(config, fast_skip=True)),
    ]
    measures: dict[str, Callable[[bool], Speed]] = {
        "raw env.step": lambda warmup: measure_raw(
            env, steps * config.frame_skip, 1, config.actions, config.frame_skip, seed, warmup=warmup
        )
    }

    def timer(stage_env: gym.Env, label: str) -> Callable[[bool], Speed]:
        return lambda warmup: measure_env(stage_env, steps, 1, seed, label, warmup)

    for label, stage_config in builds:
        measures[label] = timer(wrap(env, stage_config), label)
    return list(interleaved(measures, repeats).values())


def interleaved(measures: dict[str, Callable[[bool], Speed]], repeats: int) -> dict[str, Speed]:
    """Time each of ``measures`` once per round, in turns, for ``repeats`` rounds; the medians,
    under the same keys (each result keeps the label its measure gave it).

    ``measures[label](warmup)`` times one run (after an untimed one when ``warmup``, which
    only the first round asks for). Taking turns spreads a change in the machine's load, such
    as someone else's job starting halfway, over every measure alike; ``repeats_frames_per_s``
    of the results line up round by round, for paired ratios.
    """
    rounds: dict[str, list[Speed]] = {label: [] for label in measures}
    for r in range(repeats):
        for label, measure in measures.items():
            rounds[label].append(measure(r == 0))
    return {
        label: Speed(
            speeds[0].label,
            statistics.median(s.frames_per_s for s in speeds),
            statistics.median(s.steps_per_s for s in speeds),
            [s.frames_per_s for s in speeds],
        )
        for label, speeds in rounds.items()
    }


def format_speeds(rows: Sequence[Speed], baseline: Speed | None = None) -> str:
    """``rows`` as a markdown table: frames/s, agent steps/s, us per frame, and ratio to ``baseline``."""
    baseline = baseline or rows[0]
    lines = [
        "| | frames/s | agent steps/s | µs per frame | ÷ raw |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.frames_per_s:,.0f} | {row.steps_per_s:,.0f} | {row.us_per_frame:,.0f} "
            f"| {row.frames_per_s / baseline.frames_per_s:.2f} |"
        )
    return "\n".join(lines)
