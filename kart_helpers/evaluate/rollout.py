"""Evaluate a trained agent: rollouts, lap times against the expert's par, videos, comparisons.

A rollout runs in two passes, both in this process (one emulator at a time):

1. **drive**: the policy drives the training pipeline (frame skip, stack, ...) for one race,
   deterministically (the most likely action) or stochastically (sampled, as in training);
2. **replay**: the same button presses are played again on the bare emulator frame by frame
   (the game and the no-op start are deterministic), which gives the RAM of every frame, the
   screens for the video, and the reward components (:func:`kart_helpers.scenario.python_reward.run_python`).

Lap times come from RAM: ``laps`` and the race clock ``current_frame`` (see
:class:`~kart_helpers.train.envs.LapClock`). Par is the scripted expert's time
(:func:`kart_helpers.game.expert.drive_expert`; Practice Ring 3868 frames, Hairpin Hills 5161).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import stable_retro as retro
import torch

from kart_helpers.emulator.env import close_live_env, make_env
from kart_helpers.game.constants import FPS, par_frames
from kart_helpers.game.laps import LapClock, lap_times, zones_reached
from kart_helpers.pipeline.build import make_kart_env
from kart_helpers.ram.trace import RamTrace, record_drive
from kart_helpers.scenario.python_reward import run_python
from kart_helpers.scenario.replay import RewardRun
from kart_helpers.train.trainer import load_policy


@dataclass
class Rollout:
    """One race of a policy, with the RAM of every frame."""

    combos: list[str]
    """The button combo of each agent step."""
    noops: int
    """Frames waited on the grid before the first step (the seeded no-op start)."""
    trace: RamTrace
    """RAM per frame (from the replay), row 0 at reset."""
    run: RewardRun
    """Rewards and their components per frame (Python twin of script.lua)."""
    laps: LapClock
    """Lap times from RAM."""
    screens: list[np.ndarray] = field(default_factory=list, repr=False)
    """Every ``screens_every``-th screen (224 x 256 x 3), for the video."""
    returns: float = 0.0
    """The pipeline's return (unscaled) in the drive pass."""
    deterministic: bool = True
    end: str = ""
    """``finished``, ``wall_hits`` or ``time limit``."""

    @property
    def race_frames(self) -> int | None:
        return self.laps.race_frames

    @property
    def zones(self) -> int:
        """Checkpoint zones driven through from the start (30 a lap): how far the race got."""
        return zones_reached(self.trace)

    @property
    def rank_key(self) -> tuple[int, int, float]:
        """Sorts races best first: furthest, then fastest race, then highest return."""
        return (-self.zones, self.race_frames or 10**9, -self.returns)

    def summary(self, par: int | None = None) -> dict[str, Any]:
        race = self.race_frames
        return {
            "laps": self.laps.laps,
            "lap_frames": self.laps.lap_frames,
            "race_frames": race,
            "race_s": None if race is None else round(race / FPS, 2),
            "vs_par": None if (race is None or not par) else round(race / par, 3),
            "zones": self.zones,
            "return": round(self.returns, 1),
            "end": self.end,
            "deterministic": self.deterministic,
        }


def rollout(
    policy: Any,
    config: Any,
    deterministic: bool = True,
    seed: int = 0,
    screens_every: int = 4,
    max_frames: int | None = None,
) -> Rollout:
    """Drive one episode with ``policy`` (a Tianshou policy) in ``config``'s pipeline, then replay it.

    Args:
        config: the run's :class:`~kart_helpers.train.config.PPOConfig`.
        deterministic: take the most likely action (True) or sample (False, seeded by ``seed``).
        screens_every: keep every n-th frame of the replay for the video (0: none).
        max_frames: episode limit in frames (default: the config's).
    """

    pipe = config.pipeline
    if max_frames is not None:
        pipe = replace(pipe, max_episode_frames=max_frames)
    env = make_kart_env(pipe)
    combos: list[str] = []
    total = 0.0
    previous = getattr(policy, "deterministic_eval", True)
    policy.deterministic_eval = deterministic
    torch.manual_seed(seed)
    try:
        obs, info = env.reset(seed=seed)
        noops = int(info.get("noops", 0))
        terminated = truncated = False
        with torch.no_grad():
            while not (terminated or truncated):
                action = policy.compute_action(obs)
                combos.append(pipe.actions[action])
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
    finally:
        policy.deterministic_eval = previous
        env.close()
        close_live_env()
    script = ([("", noops)] if noops else []) + [(c, pipe.frame_skip) for c in combos]
    raw = make_env(pipe.game, state=pipe.state, use_restricted_actions=retro.Actions.ALL)
    try:
        trace, screens = record_drive(raw, script, frames=10**7, screens_every=screens_every)
    finally:
        close_live_env()
    run = run_python(trace)
    clock = lap_times(trace.column("laps"), trace.column("current_frame"))
    end = run.done_reason or ("time limit" if truncated else "")
    return Rollout(combos, noops, trace, run, clock, screens, total, deterministic, end)


@dataclass
class Evaluation:
    """Rollouts of one checkpoint."""

    path: str
    config: Any
    env_step: int
    rollouts: list[Rollout]
    par: int | None

    @property
    def best(self) -> Rollout:
        """The rollout that got furthest (checkpoint zones), then raced fastest."""
        return min(self.rollouts, key=lambda r: r.rank_key)

    def summary(self) -> dict[str, Any]:
        best = self.best.summary(self.par)
        return {"checkpoint": self.path, "env_step": self.env_step, "par_frames": self.par, **best,
                "episodes": [r.summary(self.par) for r in self.rollouts]}  # fmt: skip


def evaluate_checkpoint(
    path: str | Path,
    episodes: int = 1,
    deterministic: bool = True,
    video: bool = True,
    seed: int = 0,
    max_frames: int | None = None,
) -> Evaluation:
    """Load a checkpoint (file or run folder) and race it ``episodes`` times (seeds ``seed``, ``seed + 1``, ...)."""

    policy, config, ckpt = load_policy(path)
    rollouts = [
        rollout(policy, config, deterministic, seed + k, screens_every=4 if video else 0, max_frames=max_frames)
        for k in range(episodes)
    ]
    env_step = int(ckpt["counters"].get("env_step", 0))
    return Evaluation(str(ckpt["path"]), config, env_step, rollouts, par_frames(config.game, config.state))


def find_run(*folders: str | Path) -> Path | None:
    """The first of ``folders`` that holds a training run (``checkpoints/last.pt``), or None."""
    for folder in folders:
        if (Path(folder) / "checkpoints" / "last.pt").is_file():
            return Path(folder)
    return None


REFERENCE_AGENTS = Path(__file__).resolve().parent / "reference_agents"
"""Policy-only checkpoints trained by ``benchmarks/learning.py`` (see its README section), one per state."""


def reference_agent(state: str = "Level1") -> Path | None:
    """The course's reference agent for a Practice Kart state (``Level1.pt``), or None if none ships."""
    path = REFERENCE_AGENTS / f"{state}.pt"
    return path if path.is_file() else None


def checkpoint_for(run: str | Path) -> Path:
    """A run's ``best.pt`` if it has one, else its ``last.pt``."""
    folder = Path(run) / "checkpoints"
    return folder / "best.pt" if (folder / "best.pt").is_file() else folder / "last.pt"
