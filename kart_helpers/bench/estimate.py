"""How long a training run will take on this machine, from a few seconds of raw emulator speed.

Machines of one kind differ up to 2.5x in emulator speed, so a run's length is given in env steps
and turned into minutes here, before the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRAIN_STEPS_PER_RAW_FRAME = 0.13
"""Training env-steps/s per raw ``env.step`` frame/s with ``cpu_profile()`` on 2 cores: 0.12-0.14,
measured on one machine as the trainer's speed (71-87 steps/s, ``benchmarks/results/train_throughput.md``)
over its raw speed in the same minute (603 frames/s)."""


@dataclass
class TrainingEstimate:
    """A run's expected length on this machine."""

    raw_frames_per_s: float
    """Bare ``env.step`` frames per second, measured just now."""
    steps_per_s: float
    """Expected training env-steps per second."""
    total_steps: int

    @property
    def minutes(self) -> float:
        return self.total_steps / self.steps_per_s / 60

    def __str__(self) -> str:
        return (
            f"this machine steps the emulator at {self.raw_frames_per_s:.0f} frames/s, so training should run at "
            f"about {self.steps_per_s:.0f} steps/s: {self.total_steps:,} steps in about {self.minutes:.0f} minutes"
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
    return TrainingEstimate(raw, raw * TRAIN_STEPS_PER_RAW_FRAME, int(config.total_steps))
