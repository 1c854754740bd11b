"""Evaluate a trained agent: rollouts, lap times against the expert's par, videos, comparisons.

A rollout runs in two passes, both in this process (one emulator at a time):

1. **drive**: the policy drives the training pipeline (frame skip, stack, ...) for one race,
   deterministically (the most likely action) or stochastically (sampled, as in training);
2. **replay**: the same button presses are played again on the bare emulator frame by frame
   (the game and the no-op start are deterministic), which gives the RAM of every frame, the
   screens for the video, and the reward components (:func:`kart_helpers.rewards.run_python`).

Lap times come from RAM: ``laps`` and the race clock ``current_frame`` (see
:class:`~kart_helpers.train.envs.LapClock`). Par is the scripted expert's time
(:func:`kart_helpers.expert.drive_expert`; Practice Ring 3868 frames, Hairpin Hills 5161).
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kart_helpers.integration import PRACTICE_GAME
from kart_helpers.rewards import FPS, RamTrace, RewardRun, record_drive, run_python
from kart_helpers.train.envs import LapClock, lap_times

PAR_FRAMES = {"Level1": 3868, "Level2": 5161}
"""The expert's five-lap times on Practice Kart (``integrations/PracticeKart-Snes/README.md``)."""
TRACKS = {"Level1": 0, "Level2": 1}
TRACK_NAMES = {"Level1": "Practice Ring", "Level2": "Hairpin Hills"}


# --- par -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def expert_drive(state: str = "Level1", max_frames: int = 8000) -> tuple[RamTrace, LapClock]:
    """The scripted expert's race on a Practice Kart state, recorded frame by frame (cached)."""
    import stable_retro as retro

    from kart_helpers.expert import Expert
    from kart_helpers.integration import make_env

    env = make_env(PRACTICE_GAME, state=state, use_restricted_actions=retro.Actions.ALL)
    try:
        expert = Expert(TRACKS[state])
        trace, _ = record_drive(env, expert.buttons, max_frames)
    finally:
        from kart_helpers.integration import close_live_env

        close_live_env()
    return trace, lap_times(trace.column("laps"), trace.column("current_frame"))


def par_frames(game: str, state: str) -> int | None:
    """The expert's five-lap time in frames, or None where there is no expert (the real game)."""
    return PAR_FRAMES.get(state) if game == PRACTICE_GAME else None


def par_lap_frames(game: str, state: str) -> float | None:
    """The expert's mean lap, in frames."""
    par = par_frames(game, state)
    return None if par is None else par / 5


# --- rollouts ----------------------------------------------------------------------------------


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

    def summary(self, par: int | None = None) -> dict[str, Any]:
        race = self.race_frames
        return {
            "laps": self.laps.laps,
            "lap_frames": self.laps.lap_frames,
            "race_frames": race,
            "race_s": None if race is None else round(race / FPS, 2),
            "vs_par": None if (race is None or not par) else round(race / par, 3),
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
    import stable_retro as retro
    import torch

    from kart_helpers.integration import close_live_env, make_env
    from kart_helpers.wrappers import make_kart_env

    pipe = config.pipeline()
    if max_frames is not None:
        from dataclasses import replace

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
        """The rollout with the most laps, then the fastest race."""
        return min(self.rollouts, key=lambda r: (-r.laps.laps, r.race_frames or 10**9, -r.returns))

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
    from kart_helpers.train.trainer import load_policy

    policy, config, ckpt = load_policy(path)
    rollouts = [
        rollout(policy, config, deterministic, seed + k, screens_every=4 if video else 0, max_frames=max_frames)
        for k in range(episodes)
    ]
    env_step = int(ckpt["counters"].get("env_step", 0))
    return Evaluation(str(ckpt["path"]), config, env_step, rollouts, par_frames(config.game, config.state))


# --- tables and plots --------------------------------------------------------------------------


def lap_table(rollout_or_clock: Rollout | LapClock, par: LapClock | None = None) -> str:
    """Markdown: each lap's time, and the expert's and the difference when ``par`` is given."""
    clock = rollout_or_clock.laps if isinstance(rollout_or_clock, Rollout) else rollout_or_clock
    lines = ["| lap | agent (s) | expert (s) | lost (s) |", "|---|---:|---:|---:|"]
    expert = par.lap_frames if par is not None else []
    for k, frames in enumerate(clock.lap_frames):
        ref = expert[k] if k < len(expert) else None
        ref_s = f"{ref / FPS:.2f}" if ref else "–"
        lost = f"{(frames - ref) / FPS:+.2f}" if ref else "–"
        lines.append(f"| {k + 1} | {frames / FPS:.2f} | {ref_s} | {lost} |")
    if not clock.lap_frames:
        lines.append("| – | no lap completed | | |")
    race = clock.race_frames
    ref_race = par.race_frames if par is not None else None
    if race is not None:
        lost = f"{(race - ref_race) / FPS:+.2f}" if ref_race else "–"
        ref_s = f"{ref_race / FPS:.2f}" if ref_race else "–"
        lines.append(f"| **race** | **{race / FPS:.2f}** | {ref_s} | {lost} |")
    return "\n".join(lines)


def compare(evaluations: Sequence[Evaluation], labels: Sequence[str] | None = None) -> str:
    """Markdown table of several checkpoints' best rollouts."""
    labels = labels or [Path(e.path).name for e in evaluations]
    lines = [
        "| checkpoint | agent steps | laps | race (s) | ÷ par | best lap (s) | return | end |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for label, ev in zip(labels, evaluations, strict=True):
        s = ev.best.summary(ev.par)
        race = f"{s['race_s']:.2f}" if s["race_s"] is not None else "–"
        ratio = f"{s['vs_par']:.2f}" if s["vs_par"] is not None else "–"
        best_lap = f"{min(s['lap_frames']) / FPS:.2f}" if s["lap_frames"] else "–"
        lines.append(
            f"| {label} | {ev.env_step:,} | {s['laps']} | {race} | {ratio} | {best_lap} "
            f"| {s['return']:.0f} | {s['end']} |"
        )
    return "\n".join(lines)


def plot_comparison(evaluations: Sequence[Evaluation], labels: Sequence[str] | None = None,
                    par: LapClock | None = None) -> Any:  # fmt: skip
    """Laps completed and lap times of several checkpoints, side by side. Returns the figure."""
    import matplotlib.pyplot as plt

    labels = labels or [Path(e.path).name for e in evaluations]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    laps = [ev.best.laps.laps for ev in evaluations]
    left.bar(labels, laps, color="#2a7d2a")
    left.axhline(5, color="black", ls=":", lw=1)
    left.set_ylim(0, 5.5)
    left.set_title("laps completed")
    for k, ev in enumerate(evaluations):
        frames = ev.best.laps.lap_frames
        right.plot(range(1, len(frames) + 1), np.array(frames) / FPS, "o-", label=labels[k])
    if par is not None:
        right.plot(range(1, len(par.lap_frames) + 1), np.array(par.lap_frames) / FPS, "k--", label="expert")
    right.set_xlabel("lap")
    right.set_ylabel("lap time (s)")
    right.set_title("lap times")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def plot_traces(agent: RamTrace, expert: RamTrace | None = None, names: Sequence[str] = ("speed", "laps")) -> Any:
    """RAM variables over race time, the agent's against the expert's. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.2 * len(names)), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        for trace, label, color in ((agent, "agent", "#1f77b4"), (expert, "expert", "black")):
            if trace is None:
                continue
            values = trace.column(name)
            if name == "laps":
                values = np.maximum(values - 128, 0)
            ax.plot(np.arange(len(values)) / FPS, values, color=color, lw=1, label=label)
        ax.set_ylabel(name if name != "laps" else "laps done")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="lower right", fontsize=8)
    axes[-1, 0].set_xlabel("time since the start (s)")
    fig.tight_layout()
    return fig


def plot_rollout(ro: Rollout, title: str = "") -> Any:
    """Speed and cumulative reward by component over one rollout. Returns the figure."""
    import matplotlib.pyplot as plt

    from kart_helpers.rewards import COLORS

    t = np.arange(1, len(ro.run.rewards) + 1) / FPS
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 5), sharex=True)
    top.plot(t, ro.trace.column("speed")[1:], color="#1f77b4", lw=0.8)
    top.axhline(900, color="gray", ls=":", lw=1)
    top.set_ylabel("speed")
    for lap_end in ro.laps.ends:
        frame_idx = np.flatnonzero(ro.trace.column("current_frame")[1:] >= lap_end)
        if frame_idx.size:
            top.axvline(t[frame_idx[0]], color="#2a7d2a", lw=0.8)
    for name, values in ro.run.components.items():
        bottom.plot(t, np.cumsum(values), color=COLORS.get(name), label=name)
    bottom.plot(t, np.cumsum(ro.run.rewards), color="black", lw=1.5, label="total")
    bottom.set_ylabel("cumulative reward")
    bottom.set_xlabel("time (s); green lines: lap ends")
    bottom.legend(fontsize=7, loc="upper left")
    top.set_title(title or "speed and reward components")
    fig.tight_layout()
    return fig


# --- video ---------------------------------------------------------------------------------------


def write_video(screens: Sequence[np.ndarray], path: str | Path, fps: float = 15.0) -> Path:
    """Write screens as an mp4 (or a GIF when ``path`` ends in .gif) with imageio."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        imageio.mimsave(path, [s[::2, ::2] for s in screens], duration=1 / fps, loop=0)
    else:
        imageio.mimsave(path, list(screens), fps=fps, macro_block_size=8)
    return path


def video_beside(video_path: str | Path, fig: Any, width: int = 384) -> Any:
    """An HTML block: the video on the left, a figure on the right (both embedded)."""
    from IPython.display import HTML

    path = Path(video_path)
    data = base64.b64encode(path.read_bytes()).decode()
    if path.suffix == ".gif":
        media = f'<img src="data:image/gif;base64,{data}" width="{width}">'
    else:
        source = f'<source src="data:video/mp4;base64,{data}" type="video/mp4">'
        media = f'<video controls autoplay loop muted width="{width}">{source}</video>'
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)  # shown here, not a second time below the cell
    image = base64.b64encode(buf.getvalue()).decode()
    return HTML(
        f'<div style="display:flex;gap:12px;align-items:flex-start">{media}'
        f'<img src="data:image/png;base64,{image}" style="max-width:560px"></div>'
    )


# --- finding runs ------------------------------------------------------------------------------


def find_run(*folders: str | Path) -> Path | None:
    """The first of ``folders`` that holds a training run (``checkpoints/last.pt``), or None."""
    for folder in folders:
        if (Path(folder) / "checkpoints" / "last.pt").is_file():
            return Path(folder)
    return None


def checkpoint_for(run: str | Path) -> Path:
    """A run's ``best.pt`` if it has one, else its ``last.pt``."""
    folder = Path(run) / "checkpoints"
    return folder / "best.pt" if (folder / "best.pt").is_file() else folder / "last.pt"
