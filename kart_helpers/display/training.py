"""Training curves: a plot of a run's history, and a live version that updates in place in a notebook.

The history is what the trainer records: one dict per finished training episode
(``kind="episode"``: return, laps, lap times) and one per update (``kind="update"``: losses,
learning rate). :func:`plot_history` draws four panels from it; :class:`LivePlot` redraws
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
    """Four panels over agent steps: episode return, laps completed, lap time, losses. Returns the figure."""

    if fig is None:
        fig = plt.figure(figsize=(11, 6.5))
    fig.clear()
    axes = fig.subplots(2, 2)
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

    ax = axes[1, 0]
    lx = [e["env_step"] for e in races for _ in e["lap_frames"]]
    lt = [f / FPS for e in races for f in e["lap_frames"]]
    ax.plot(lx, lt, ".", color="#c96", ms=5, label="each lap")
    if par_lap_frames:
        ax.axhline(par_lap_frames / FPS, color="black", ls="--", lw=1, label="expert's lap")
    if lt:
        ax.legend(loc="upper right", fontsize=8)
    else:
        ax.text(0.5, 0.75, "no lap completed yet", ha="center", va="center", transform=ax.transAxes, color="gray")
        if x:
            ax.set_xlim(0, max(max(x), 1))
    ax.set_title("lap time (s)")
    ax.set_xlabel("agent steps")

    ax = axes[1, 1]
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
    ax.set_xlabel("agent steps")

    for ax in axes.ravel():
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 400k, not 400000: long runs' labels overlap
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


class LivePlot:
    """The curves in one notebook output that is redrawn in place (at most every ``every_s`` seconds)."""

    def __init__(self, title: str = "", par_lap_frames: float | None = None, every_s: float = 3.0) -> None:

        self.title, self.par_lap_frames, self.every_s = title, par_lap_frames, every_s
        self.fig = plt.figure(figsize=(11, 6.5))
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
