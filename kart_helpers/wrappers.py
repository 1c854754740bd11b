"""The whole env pipeline, from one config: actions, observations, time limit; and its speed.

``make_kart_env(PipelineConfig())`` gives the env an agent trains on::

    stable-retro env (1 frame per step, 224 x 256 x 3, 12 buttons)
    -> NoopStart      seeded 0-30 frame wait on reset
    -> MaxAndSkip     4 frames per step: rewards summed, last two frames max-pooled
    -> Crop           race view only: 96 x 256 x 3
    -> Grayscale      96 x 256
    -> Resize         84 x 84
    -> FrameStackObservation (Gymnasium's)   4 x 84 x 84, uint8
    -> ClipReward     (Gymnasium's, optional)
    -> TimeLimit      (Gymnasium's)
    -> ButtonCombos   Discrete(4): B, B+LEFT, B+RIGHT, B+L

The stages are in :mod:`kart_helpers.observations` and :mod:`kart_helpers.actions`. We use
Gymnasium's own wrappers where they are as fast as ours (frame stack, reward clip, time limit)
and our own where Gymnasium's cost real throughput; each says why with the number.

The ``measure_*`` functions and :func:`stage_costs` time the pipeline; the benchmark
``benchmarks/env_throughput.py`` and notebook 05 both call them.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium as gym
import numpy as np
import stable_retro as retro
from gymnasium.wrappers import ClipReward, FrameStackObservation, TimeLimit

from kart_helpers.actions import ORIGINAL_ACTIONS, ButtonCombos
from kart_helpers.integration import PRACTICE_GAME, make_env
from kart_helpers.observations import VIEW_ROWS, Crop, Grayscale, MaxAndSkip, NoopStart, Resize, crop
from kart_helpers.states import action_for


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that decides what the agent sees and does. Frames are SNES frames (60 per second)."""

    game: str = PRACTICE_GAME
    """The integration: ``"PracticeKart-Snes"``, or ``"MarioKart-Snes"`` once you imported the ROM."""
    state: str = "Level1"
    """The start state episodes reset to (``Level1``: Practice Ring, ``Level2``: Hairpin Hills)."""
    actions: tuple[str, ...] = ORIGINAL_ACTIONS
    """The button combos of ``Discrete(len(actions))``; see :data:`kart_helpers.actions.ACTION_SETS`."""
    crop_rows: tuple[int, int] | None = VIEW_ROWS
    """Screen rows kept, ``[top, bottom)``: the race view without HUD and map. None keeps all 224."""
    crop_cols: tuple[int, int] | None = None
    """Screen columns kept, ``[left, right)``, or None for all 256. Practice Kart keeps the kart in
    column 128, so ``(64, 192)`` is a window 64 pixels to each side of it."""
    grayscale: bool = True
    """Turn RGB into one luma channel."""
    resize: tuple[int, int] | None = (84, 84)
    """(height, width) after area averaging, or None to keep the cropped size."""
    frame_skip: int = 4
    """Frames per agent step (the action is held; rewards are summed)."""
    frame_stack: int = 4
    """Agent steps stacked into one observation (first axis), or 1 for no stack."""
    max_noops: int = 30
    """Each reset waits a random 0 to ``max_noops`` frames, drawn from the env's seeded RNG."""
    reward_clip: float | None = None
    """Clip each step's reward to ``[-reward_clip, reward_clip]``, or None. Atari's sign clipping
    (1.0) would make a checkpoint (+300) worth no more than the time cost (-1)."""
    max_episode_frames: int | None = 7200
    """Truncate an episode after this many frames (7200 = 2 minutes, about twice the par time
    for five laps of Practice Ring), or None."""
    fast_skip: bool = True
    """Use the fast path of :class:`~kart_helpers.observations.MaxAndSkip`: the same rewards, done flags and
    observations, in 4-12% less time per step."""

    @property
    def max_episode_steps(self) -> int | None:
        """The time limit in agent steps."""
        return None if self.max_episode_frames is None else math.ceil(self.max_episode_frames / self.frame_skip)

    def observation_shape(self, screen: tuple[int, int, int] = (224, 256, 3)) -> tuple[int, ...]:
        """The shape of an observation for a screen of shape ``screen`` (H, W, C)."""
        h, w, c = screen
        if self.crop_rows is not None:
            h = self.crop_rows[1] - self.crop_rows[0]
        if self.crop_cols is not None:
            w = self.crop_cols[1] - self.crop_cols[0]
        shape: tuple[int, ...] = (h, w) if self.grayscale else (h, w, c)
        if self.resize is not None:
            shape = (*self.resize, *shape[2:])
        return (self.frame_stack, *shape) if self.frame_stack > 1 else shape


def wrap(env: gym.Env, config: PipelineConfig | None = None) -> gym.Env:
    """Wrap a stable-retro env (made with ``Actions.ALL``) in the pipeline that ``config`` describes
    (default: ``PipelineConfig()``)."""
    config = config or PipelineConfig()
    env = NoopStart(env, config.max_noops)
    env = MaxAndSkip(env, config.frame_skip, fast=config.fast_skip)
    if config.crop_rows is not None or config.crop_cols is not None:
        env = Crop(env, *(config.crop_rows or (0, None)), *(config.crop_cols or (0, None)))
    if config.grayscale:
        env = Grayscale(env)
    if config.resize is not None:
        env = Resize(env, config.resize)
    if config.frame_stack > 1:
        # Gymnasium's stack is fast enough: about 5 us per step for 4 x 84 x 84.
        env = FrameStackObservation(env, config.frame_stack)
    if config.reward_clip is not None:
        env = ClipReward(env, -config.reward_clip, config.reward_clip)
    if config.max_episode_steps is not None:
        env = TimeLimit(env, config.max_episode_steps)
    return ButtonCombos(env, config.actions)


def make_kart_env(config: PipelineConfig | None = None, **make_kwargs: Any) -> gym.Env:
    """A new stable-retro env of ``config.game`` at ``config.state``, wrapped by :func:`wrap`.

    It closes any emulator that ``make_env`` made earlier in this process (only one may exist).
    """
    config = config or PipelineConfig()
    base = make_env(config.game, state=config.state, use_restricted_actions=retro.Actions.ALL, **make_kwargs)
    return wrap(base, config)


def wrap_stock(env: gym.Env, config: PipelineConfig | None = None) -> gym.Env:
    """The same pipeline built from Gymnasium's stock wrappers, for comparison.

    ``MaxAndSkipObservation``, ``TransformObservation`` (crop), ``GrayscaleObservation``,
    ``ResizeObservation`` (needs OpenCV; without it our :class:`Resize` stands in, and
    ``env.stock_resize`` says so), ``FrameStackObservation``, ``TimeLimit``. Actions and the
    no-op start are ours, as Gymnasium has no equivalents for stable-retro.
    """
    config = config or PipelineConfig()
    from gymnasium.wrappers import GrayscaleObservation, MaxAndSkipObservation, TransformObservation

    env = NoopStart(env, config.max_noops)
    env = MaxAndSkipObservation(env, skip=config.frame_skip)
    if config.crop_rows is not None or config.crop_cols is not None:
        space = env.observation_space
        top, bottom = config.crop_rows or (0, space.shape[0])
        left, right = config.crop_cols or (0, space.shape[1])
        cropped = gym.spaces.Box(0, 255, (bottom - top, right - left, *space.shape[2:]), np.uint8)
        env = TransformObservation(env, lambda obs: crop(obs, top, bottom, left, right), cropped)
    if config.grayscale:
        env = GrayscaleObservation(env)
    stock_resize = True
    if config.resize is not None:
        try:
            from gymnasium.wrappers import ResizeObservation

            env = ResizeObservation(env, config.resize)
        except gym.error.DependencyNotInstalled:
            env, stock_resize = Resize(env, config.resize), False
    if config.frame_stack > 1:
        env = FrameStackObservation(env, config.frame_stack)
    if config.max_episode_steps is not None:
        env = TimeLimit(env, config.max_episode_steps)
    env = ButtonCombos(env, config.actions)
    env.stock_resize = stock_resize
    return env


# --- measuring speed ---------------------------------------------------------------------------


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
    arrays = [action_for(c, env.unwrapped.buttons) for c in combos]
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
    :class:`~kart_helpers.observations.MaxAndSkip`), else as the skip of every step.
    """
    rng = np.random.default_rng(seed)
    skip = _frame_skip(env)
    env.reset(seed=seed)

    def run() -> tuple[int, int, float]:
        actions = rng.integers(0, env.action_space.n, size=steps)
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
