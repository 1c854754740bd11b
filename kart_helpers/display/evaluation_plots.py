"""Plots and video of an evaluation: checkpoints compared, RAM traces, a rollout."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

from kart_helpers.display.reward_plots import COLORS
from kart_helpers.evaluate.rollout import Evaluation, Rollout
from kart_helpers.game.constants import CHECKPOINTS, FPS, GRID_LAPS, TOP_SPEED
from kart_helpers.game.laps import LapClock
from kart_helpers.ram.trace import RamTrace


def plot_comparison(evaluations: Sequence[Evaluation], labels: Sequence[str] | None = None,
                    par: LapClock | None = None) -> Any:  # fmt: skip
    """How far each checkpoint's best race got, and its lap times, side by side. Returns the figure."""

    labels = labels or [Path(e.path).name for e in evaluations]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.6))
    progress = [ev.best.zones / CHECKPOINTS for ev in evaluations]
    left.bar(labels, progress, color="#2a7d2a")
    left.axhline(5, color="black", ls=":", lw=1)
    left.set_ylim(0, 5.5)
    left.set_ylabel("laps (from checkpoint zones)")
    left.set_title("how far the race got (5 = finished)")
    for k, ev in enumerate(evaluations):
        frames = ev.best.laps.lap_frames
        right.plot(range(1, len(frames) + 1), np.array(frames) / FPS, "o-", label=labels[k])
    if par is not None:
        right.plot(range(1, len(par.lap_frames) + 1), np.array(par.lap_frames) / FPS, "k--", label="expert")
    right.set_xlabel("lap")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))  # laps are whole: no 1.5, 2.5
    left.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_ylabel("lap time (s)")
    right.set_title("lap times")
    right.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, never over them
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=20)
    fig.tight_layout()
    return fig


def plot_traces(agent: RamTrace, expert: RamTrace | None = None, names: Sequence[str] = ("speed", "laps")) -> Any:
    """RAM variables over race time, the agent's against the expert's. Returns the figure."""

    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.2 * len(names)), sharex=True, squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        for trace, label, color in ((agent, "agent", "#1f77b4"), (expert, "expert", "black")):
            if trace is None:
                continue
            values = trace.column(name)
            if name == "laps":
                values = np.maximum(values - (GRID_LAPS + 1), 0)
            ax.plot(np.arange(len(values)) / FPS, values, color=color, lw=1, label=label)
        ax.set_ylabel(name if name != "laps" else "laps done")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="lower right", fontsize=8)
    axes[-1, 0].set_xlabel("time since the start (s)")
    fig.tight_layout()
    return fig


def plot_rollout(ro: Rollout, title: str = "") -> Any:
    """Speed and cumulative reward by component over one rollout. Returns the figure."""

    t = np.arange(1, len(ro.run.rewards) + 1) / FPS
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(t, ro.trace.column("speed")[1:], color="#1f77b4", lw=0.8)
    top.axhline(TOP_SPEED, color="gray", ls=":", lw=1)
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
    bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curves, never over them
    top.set_title(title or "speed and reward components")
    fig.tight_layout()
    return fig
