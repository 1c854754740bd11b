"""Training curves: a plot of a run's history, and a live version that updates in place in a notebook.

The history is what the trainer records: one dict per finished training episode
(``kind="episode"``: return, laps, lap times) and one per update (``kind="update"``: losses,
PPO's health signals, learning rate). :func:`plot_history` draws six panels from it; :class:`LivePlot` redraws
them in one notebook output (an IPython display handle) as training goes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.ticker import EngFormatter

from kart_helpers.game.constants import FPS

FIGSIZE = (14, 6.5)
"""Inches: three panels a row stay readable in a notebook's width."""


def episodes(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [h for h in history if h.get("kind") == "episode"]


def updates(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [h for h in history if h.get("kind") == "update"]


def rolling(values: Sequence[float], window: int = 10) -> np.ndarray:
    """Mean of the last ``window`` values at each point (shorter at the start)."""
    array = np.asarray(values, dtype=float)
    if not len(array):
        return array
    cumsum = np.cumsum(np.insert(array, 0, 0.0))
    counts = np.minimum(np.arange(1, len(array) + 1), window)
    return (cumsum[1:] - cumsum[np.arange(1, len(array) + 1) - counts]) / counts


def plot_history(
    history: Sequence[dict[str, Any]], title: str = "", par_lap_frames: float | None = None, fig: Any = None
) -> Any:
    """Six panels over agent steps: episode return, laps completed, lap time; losses, and PPO's
    health signals (approx-KL with the clip fraction, explained variance). Returns the figure."""

    if fig is None:
        fig = plt.figure(figsize=FIGSIZE)
    fig.clear()
    axes = fig.subplots(2, 3)
    eps, ups = episodes(history), updates(history)
    x = [e["env_step"] for e in eps]

    ax = axes[0, 0]
    ret = [e["return"] for e in eps]
    ax.plot(x, ret, ".", color="#9ab", ms=4, label="episode")
    if eps:
        ax.plot(x, rolling(ret), color="#1f4e79", lw=2, label="mean of 10")
    ax.set_title("episode return (unscaled reward)")
    ax.legend(loc="upper left", fontsize=8)

    # Laps and lap times only from episodes that started on the grid (see train.starts).
    races = [e for e in eps if e.get("grid_start", True)]
    spread = len(races) < len(eps)
    ax = axes[0, 1]
    laps = [e["laps"] for e in races]
    rx = [e["env_step"] for e in races]
    ax.plot(rx, laps, ".", color="#9b9", ms=5)
    if races:
        ax.plot(rx, rolling(laps), color="#2a7d2a", lw=2)
    ax.set_ylim(-0.2, 5.4)
    ax.axhline(5, color="black", lw=0.6, ls=":")
    ax.set_title("laps completed per episode" + (" started on the grid" if spread else " (5 = race finished)"))

    ax = axes[0, 2]
    lx = [e["env_step"] for e in races for _ in e["lap_frames"]]
    lt = [f / FPS for e in races for f in e["lap_frames"]]
    ax.plot(lx, lt, ".", color="#c96", ms=5, label="each lap")
    if par_lap_frames:
        ax.axhline(par_lap_frames / FPS, color="black", ls="--", lw=1, label="expert's lap")
    if lt:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.75, "no lap completed yet", ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_title("lap time (s)")

    ax = axes[1, 0]
    ux = [u["env_step"] for u in ups]
    for key, color in (("loss", "black"), ("actor_loss", "#d62728"), ("vf_loss", "#1f77b4"), ("ent_loss", "#2ca02c")):
        ys = [u.get(key, np.nan) for u in ups]
        ax.plot(ux, ys, color=color, lw=1.2, label=key if key != "ent_loss" else "entropy")
    if ups:
        ax.legend(loc="upper right", fontsize=8)
        # The first updates' value loss can be 100x the rest; keep the later curves readable.
        later = [u[k] for u in ups[5:] for k in ("loss", "vf_loss", "ent_loss") if u.get(k) is not None]
        if later and np.all(np.isfinite(later)):
            ax.set_ylim(min(0.0, min(later)), 1.2 * float(np.percentile(later, 99)) + 1e-6)
    ax.set_title("losses per update")
    _plot_health(axes[1, 1], axes[1, 2], ups)

    last_step = max((h["env_step"] for h in history), default=0)
    for ax in axes[1]:
        ax.set_xlabel("agent steps")
    for ax in axes.ravel():
        ax.set_xlim(0, max(last_step, 1))  # one x axis for all: a panel's first point is no reason to move it
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 400k, not 400000: long runs' labels overlap
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _plot_health(kl_ax: Any, ev_ax: Any, ups: Sequence[dict[str, Any]]) -> None:
    """PPO's health signals (defined in :mod:`kart_helpers.train.ppo`), each with its usual range."""
    ux = [u["env_step"] for u in ups]
    kl = [u.get("approx_kl", np.nan) for u in ups]
    clip = [u.get("clip_fraction", np.nan) for u in ups]
    kl_ax.plot(ux, kl, color="#9467bd", lw=1.2, label="approx-KL")
    kl_ax.axhline(0.02, color="#9467bd", ls=":", lw=0.8, label="KL 0.02: steps getting big")
    kl_ax.set_ylabel("approx-KL", color="#9467bd")
    finite_kl = [k for k in kl if np.isfinite(k)]
    kl_ax.set_ylim(0, max(0.03, 1.2 * max(finite_kl, default=0.0)))  # the 0.02 line always in view
    clip_ax = kl_ax.twinx()
    clip_ax.plot(ux, clip, color="#ff7f0e", lw=1.2, label="clip fraction")
    clip_ax.set_ylabel("clip fraction", color="#ff7f0e")
    clip_ax.set_ylim(0, max(0.3, 1.1 * float(np.nanmax(clip))) if np.isfinite(clip).any() else 0.3)
    if ups:
        lines = kl_ax.get_lines() + clip_ax.get_lines()
        kl_ax.legend(lines, [line.get_label() for line in lines], loc="upper right", fontsize=8)
    kl_ax.set_title("policy change per update")

    ev = [u.get("explained_variance", np.nan) for u in ups]
    ev_ax.plot(ux, ev, color="#17becf", lw=1.2)
    if ups:
        ev_ax.plot(ux, rolling(ev), color="#0b6e79", lw=2, label="mean of 10")
        ev_ax.legend(loc="lower right", fontsize=8)
    ev_ax.axhline(1, color="black", lw=0.6, ls=":")
    ev_ax.axhline(0, color="black", lw=0.6)
    ev_ax.set_ylim(-1.05, 1.05)  # below -1 the critic is worse than useless; the panel stays readable
    ev_ax.set_title("critic: explained variance (1 = perfect)")


class LivePlot:
    """The curves in one notebook output that is redrawn in place (at most every ``every_s`` seconds)."""

    def __init__(self, title: str = "", par_lap_frames: float | None = None, every_s: float = 3.0) -> None:

        self.title, self.par_lap_frames, self.every_s = title, par_lap_frames, every_s
        self.fig = plt.figure(figsize=FIGSIZE)
        plt.close(self.fig)  # shown through the display handle only, not again at the cell's end
        self._handle: Any = None
        self._last = 0.0

    def update(self, history: Sequence[dict[str, Any]], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        plot_history(history, self.title, self.par_lap_frames, fig=self.fig)

        if self._handle is None:
            self._handle = display(self.fig, display_id=True)
        else:
            self._handle.update(self.fig)
