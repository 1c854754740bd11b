"""The racing line: where the agent and the expert drove, seen from above, and where time was lost.

Both lines come from RAM (``x``, ``y`` in world pixels, ``speed``), one point per frame. Time lost
is measured per checkpoint zone: the race clock (``current_frame``) when a driver first reaches
each zone of each lap gives the frames it spent in the zone before; the agent's frames minus the
expert's, summed over the laps both completed, is what that zone cost the agent.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap, Normalize

from kart_helpers.emulator.integration import read_json
from kart_helpers.game.constants import FPS, PRACTICE_GAME, TOP_SPEED, TRACKS
from kart_helpers.game.laps import zone_entries
from kart_helpers.ram.trace import RamTrace

SURFACE_COLOURS = ListedColormap(["#e8e4d8", "#c9d7b0", "#8c8c8c"])
"""Background (walls and beyond), off-road, road."""


@lru_cache(maxsize=4)  # once per track: a figure draws it in each panel, 07 draws several figures
def track_surface(state: str, px: int = 4) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Practice Kart's track ``state`` from above, rasterised from its centreline in ``tracks.json``.

    Returns:
        ``(surface, extent)``: a ``(rows, cols)`` int array, 2 = road, 1 = off-road, 0 = beyond,
        one cell per ``px`` world pixels, and its extent for ``imshow`` (left, right, bottom, top).
        The array is shared between calls and read-only.
    """
    world = read_json(PRACTICE_GAME, "tracks.json")
    track = world["tracks"][TRACKS[state]]
    width, height = world["world"]["cols"] * world["world"]["cell"], world["world"]["rows"] * world["world"]["cell"]
    line = np.asarray(track["centerline"], dtype=np.float32)
    xs = np.arange(px / 2, width, px, dtype=np.float32)
    distance = np.empty((len(np.arange(px / 2, height, px)), len(xs)), dtype=np.float32)
    for row, y in enumerate(np.arange(px / 2, height, px, dtype=np.float32)):  # a row at a time: small arrays
        d2 = (xs[:, None] - line[None, :, 0]) ** 2 + (y - line[None, :, 1]) ** 2
        distance[row] = np.sqrt(d2.min(axis=1))
    road, offroad = track["road_half_width"], track["road_half_width"] + track["offroad_width"]
    surface = np.where(distance <= road, 2, np.where(distance <= offroad, 1, 0))
    surface.flags.writeable = False
    return surface, (0.0, float(width), float(height), 0.0)


def time_lost(agent: RamTrace, expert: RamTrace, zones: int) -> np.ndarray:
    """Frames the agent spent in each checkpoint zone beyond the expert's, summed over the laps both drove.

    Returns a ``(zones,)`` float array (negative where the agent was faster); entry ``k`` is the
    stretch from entering zone ``k`` to entering the next.
    """
    (first, a), (expert_first, e) = zone_entries(agent, zones), zone_entries(expert, zones)
    lost = np.zeros(zones)
    if first != expert_first:  # different starts (a flying start against the grid): nothing to compare
        return lost
    n = min(len(a), len(e)) - 1
    if n > 0:
        np.add.at(lost, (first + np.arange(n)) % zones, np.diff(a[: n + 1]) - np.diff(e[: n + 1]))
    return lost


def _zone_centres(trace: RamTrace, zones: int) -> np.ndarray:
    """``(zones, 2)``: a point on the driver's line in each zone, the middle one of its frames there
    (NaN if never there). A mean would fall off the road in a bend."""
    zone = trace.column("checkpoint").astype(int) % zones
    x, y = trace.column("x").astype(float), trace.column("y").astype(float)
    centres = np.full((zones, 2), np.nan)
    for k in range(zones):
        frames = np.flatnonzero(zone == k)
        if frames.size:
            middle = frames[frames.size // 2]
            centres[k] = x[middle], y[middle]
    return centres


def _speed_line(ax: Any, trace: RamTrace, norm: Normalize) -> LineCollection:
    points = np.stack([trace.column("x").astype(float), trace.column("y").astype(float)], axis=1)
    jumps = np.linalg.norm(np.diff(points, axis=0), axis=1) > 32  # a reset or respawn: no line across the map
    segments = np.stack([points[:-1], points[1:]], axis=1)[~jumps]
    speed = trace.column("speed").astype(float)[1:][~jumps]
    lines = LineCollection(segments, cmap="plasma", norm=norm, linewidths=2)
    lines.set_array(np.abs(speed))
    ax.add_collection(lines)
    return lines


def plot_racing_line(
    agent: RamTrace, expert: RamTrace | None = None, state: str | None = None, marks: int = 3, fig: Any = None
) -> Any:
    """The agent's line (and the expert's beside it) on the track from above, coloured by speed.

    Args:
        agent, expert: RAM traces of one race each (``x``, ``y``, ``speed``, ``laps``,
            ``checkpoint``, ``current_frame`` per frame). ``expert`` may be None (the real game).
        state: Practice Kart's state (``Level1``, ``Level2``) for the track's outline; None draws
            the lines on a blank field.
        marks: how many zones where the agent lost the most time to mark (red circles, seconds lost).

    Returns:
        The figure.
    """
    drivers = [("agent", agent)] + ([("expert", expert)] if expert is not None else [])
    if fig is None:
        fig = plt.figure(figsize=(5.0 * len(drivers) + 1.2, 4.6), layout="constrained")
    axes = fig.subplots(1, len(drivers), squeeze=False)[0]
    norm = Normalize(0, TOP_SPEED)
    zones = int(agent.column("num_checkpoints").max()) or 30
    lost = time_lost(agent, expert, zones) if expert is not None else np.zeros(zones)
    centres = _zone_centres(expert if expert is not None else agent, zones)
    worst = [k for k in np.argsort(-lost)[:marks] if lost[k] > 0 and np.isfinite(centres[k]).all()]
    for ax, (name, trace) in zip(axes, drivers, strict=True):
        if state in TRACKS:
            surface, extent = track_surface(state)
            ax.imshow(surface, cmap=SURFACE_COLOURS, vmin=0, vmax=2, extent=extent, interpolation="nearest")
        lines = _speed_line(ax, trace, norm)
        for k in worst:
            x, y = centres[k]
            ax.plot(x, y, "o", ms=22, mfc="none", mec="#d62728", mew=2)
            ax.annotate(f"+{lost[k] / FPS:.1f} s", (x, y), xytext=(14, 14), textcoords="offset points",
                        color="#d62728", fontsize=9, fontweight="bold")  # fmt: skip
        ax.autoscale_view()
        ax.set_aspect("equal")
        if state not in TRACKS:
            ax.invert_yaxis()  # y points south in world pixels, as on the screen
        ax.set_title(f"the {name}'s line" + (f" (red: the {len(worst)} zones it lost most in)" if name == "agent"
                                             and worst else ""), fontsize=10)  # fmt: skip
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(lines, ax=list(axes), label=f"speed (top speed {TOP_SPEED})", shrink=0.8)
    return fig
