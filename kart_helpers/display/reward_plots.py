"""Plots of what a reward paid for, per component, over a drive."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from kart_helpers.game.constants import FPS, GRID_LAPS
from kart_helpers.ram.trace import RamTrace
from kart_helpers.scenario.replay import RewardRun

COLORS = {"checkpoint": "#2a9d3f", "wall": "#d62728", "offroad": "#8c564b", "time": "#7f7f7f", "backward": "#ff7f0e"}


def plot_components(run: RewardRun, title: str = "", bin_frames: int = 30) -> Any:
    """Stacked reward components over a run; returns the matplotlib figure.

    Top: the cumulative reward of each component, stacked (gains above zero, penalties
    below) with the total as a line. Bottom: the penalties per ``bin_frames`` frames,
    stacked, on their own scale, since a checkpoint (+300) dwarfs them.
    """

    if not run.components:
        raise ValueError("this run has no components (run the Lua with backend='lupa', or run_python)")
    t = np.arange(1, len(run.rewards) + 1) / FPS
    names = list(run.components)
    cumulative = {n: np.cumsum(run.components[n]) for n in names}
    gains = [n for n in names if cumulative[n].max(initial=0) > 0]
    losses = [n for n in names if cumulative[n].min(initial=0) < 0]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[3, 2])
    for group in (gains, losses):
        if group:
            top.stackplot(
                t,
                [cumulative[n] for n in group],
                labels=group,
                colors=[COLORS.get(n) for n in group],
                alpha=0.85,
            )
    top.plot(t, np.cumsum(run.rewards), color="black", lw=1.5, label="total")
    top.axhline(0, color="black", lw=0.5)
    top.set_ylabel("cumulative reward")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    top.set_title(title or "Reward by component")

    penalties = [n for n in names if run.components[n].min(initial=0) < 0]
    bins = np.arange(0, len(run.rewards) + bin_frames, bin_frames)
    centers = bins[:-1] / FPS
    base = np.zeros(len(bins) - 1)
    for name in penalties:
        per_bin = np.add.reduceat(run.components[name], bins[:-1]) if len(run.rewards) else base
        bottom.bar(
            centers,
            per_bin,
            width=0.8 * bin_frames / FPS,  # gaps between bins, so single events stay visible
            bottom=base,
            align="edge",
            color=COLORS.get(name),
            label=name,
        )
        base = base + per_bin
    bottom.axhline(0, color="black", lw=0.5)
    bottom.set_ylabel(f"penalty per {bin_frames / FPS:g} s")
    bottom.set_xlabel("time (s)")
    if penalties:
        bottom.set_ylim(1.15 * base.min(), 0)
        bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    else:
        bottom.text(0.5, 0.5, "no penalties", transform=bottom.transAxes, ha="center")
    fig.tight_layout()
    return fig


def plot_cumulative(
    runs: Mapping[str, RewardRun],
    trace: RamTrace | None = None,
    component: str | None = None,
    title: str = "",
) -> Any:
    """Cumulative reward (or one ``component``) of several runs over the same frames.

    With ``trace``, a lower panel shows the lap counter (``laps`` - 127: 0 on the grid,
    1 in the first lap), so line crossings line up with what each reward paid.
    """

    rows = 2 if trace is not None else 1
    ratios = [2, 1] if rows == 2 else [1]
    size = (10, 5 if rows == 2 else 3.5)
    fig, axes = plt.subplots(rows, 1, figsize=size, sharex=True, squeeze=False, height_ratios=ratios)
    top = axes[0, 0]
    for label, run in runs.items():
        values = run.components[component] if component else run.rewards
        top.plot(np.arange(1, len(values) + 1) / FPS, np.cumsum(values), lw=2, label=label)
    top.set_ylabel(f"{component + ' reward' if component else 'reward'}, cumulative")
    top.legend(loc="upper left")
    top.set_title(title)
    if trace is not None:
        bottom = axes[1, 0]
        bottom.step(np.arange(len(trace.rows)) / FPS, trace.column("laps") - GRID_LAPS, where="post", color="black")
        bottom.set_ylabel("lap (0: behind\nthe line)")
        bottom.set_yticks(sorted(set((trace.column("laps") - GRID_LAPS).tolist())))
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig
