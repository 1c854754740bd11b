"""How long a training run will take on this machine, from a few seconds of raw emulator speed.

Machines of one kind differ up to 2.5x in emulator speed, so a run's length is given in env steps
and turned into minutes here, before the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRAIN_STEPS_PER_RAW_FRAME = (0.078, 0.135)
"""Training env-steps/s per raw ``env.step`` frame/s with ``cpu_profile()`` on 2 cores, lowest and highest
measured: 87 steps/s at 684 raw frames/s and 78 at 580 (``benchmarks/results/learning_Level*_seed0.json``),
78 at 826 (notebook 06's full run on another machine), 107 at 1360 (``learning_Level2_seed2.json``, on a
machine that slowed during the run). A range, because the update's share of the time depends on the CPU's
arithmetic, which raw emulator speed does not measure."""


@dataclass
class TrainingEstimate:
    """A run's expected length on this machine."""

    raw_frames_per_s: float
    """Bare ``env.step`` frames per second, measured just now."""
    steps_per_s: tuple[float, float]
    """Expected training env-steps per second, lowest and highest."""
    total_steps: int

    @property
    def minutes(self) -> tuple[float, float]:
        """The run's expected length, shortest and longest (min)."""
        slow, fast = self.steps_per_s
        return self.total_steps / fast / 60, self.total_steps / slow / 60

    def __str__(self) -> str:
        (slow, fast), (short, long) = self.steps_per_s, self.minutes
        return (
            f"this machine steps the emulator at {self.raw_frames_per_s:.0f} frames/s, so training should run at "
            f"{slow:.0f}-{fast:.0f} steps/s: {self.total_steps:,} steps in {short:.0f}-{long:.0f} minutes. "
            "The progress bar's time left is the better guess once a few updates have run."
        )


def estimate_training(config: Any, frames: int = 600, repeats: int = 3) -> TrainingEstimate:
    """Measure raw ``env.step`` speed on ``config``'s game and state (about 3 s) and turn it into a run's length.

    Args:
        config: a :class:`~kart_helpers.train.config.PPOConfig` (its ``pipeline`` and ``total_steps``).
    """
    from kart_helpers.bench.speed import measure_raw
    from kart_helpers.emulator.env import close_live_env, make_env

    pipe = config.pipeline
    env = make_env(pipe.game, state=pipe.state)
    try:
        raw = measure_raw(env, frames=frames, repeats=repeats).frames_per_s
    finally:
        env.close()
        close_live_env()
    low, high = TRAIN_STEPS_PER_RAW_FRAME
    return TrainingEstimate(raw, (raw * low, raw * high), int(config.total_steps))
