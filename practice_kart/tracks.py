"""Practice Kart's tracks: a closed centreline, rasterized into 16x16-pixel cells.

World coordinates are pixels, x to the east and y to the south, in a 1024 x 896 field
(64 x 56 cells). Headings use Super Mario Kart's byte: 0 = north, 64 = east, 128 = south.

Every cell gets a surface (road, off-road or wall), the checkpoint zone of the nearest
centreline point (30 zones per lap, zone 0 starting at the finish line), and the track
direction there, which the ROM uses for its wrong-way flag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

CELL = 16
COLS, ROWS = 64, 56
NUM_CHECKPOINTS = 30
ROAD, OFFROAD, WALL = 0x40, 0x54, 0x80
NO_ZONE = 0xFF
SAMPLE_SPACING = 4.0  # px between centreline samples


@dataclass(frozen=True)
class TrackSpec:
    """A track as designed: control points of a closed Catmull-Rom centreline."""

    name: str
    difficulty: str
    points: tuple[tuple[float, float], ...]
    road_half_width: float = 40.0
    offroad_width: float = 40.0
    start_behind_line: float = 40.0


@dataclass
class Track:
    """A rasterized track: per-cell tables plus the centreline the expert follows."""

    spec: TrackSpec
    centerline: list[tuple[float, float]]  # evenly spaced samples, sample 0 on the finish line
    length: float
    surface: list[int] = field(default_factory=list)  # COLS*ROWS, row-major
    zone: list[int] = field(default_factory=list)
    direction: list[int] = field(default_factory=list)
    finish: list[bool] = field(default_factory=list)
    start: tuple[int, int, int] = (0, 0, 0)  # x, y, heading


def heading_byte(dx: float, dy: float) -> int:
    """SMK heading (0 = north, 64 = east) of the direction (dx, dy), y pointing south."""
    return round(math.atan2(dx, -dy) * 128 / math.pi) % 256


def _catmull_rom(points: tuple[tuple[float, float], ...], steps: int = 48) -> list[tuple[float, float]]:
    out = []
    n = len(points)
    for i in range(n):
        p0, p1, p2, p3 = (points[(i + k) % n] for k in (-1, 0, 1, 2))
        for s in range(steps):
            t = s / steps
            t2, t3 = t * t, t * t * t
            out.append(
                tuple(
                    0.5
                    * (
                        2 * p1[a]
                        + (-p0[a] + p2[a]) * t
                        + (2 * p0[a] - 5 * p1[a] + 4 * p2[a] - p3[a]) * t2
                        + (-p0[a] + 3 * p1[a] - 3 * p2[a] + p3[a]) * t3
                    )
                    for a in (0, 1)
                )
            )
    return out


def _resample(dense: list[tuple[float, float]], spacing: float) -> tuple[list[tuple[float, float]], float]:
    """Evenly spaced samples along the closed polyline ``dense``, and its length."""
    seg = [math.dist(dense[i], dense[(i + 1) % len(dense)]) for i in range(len(dense))]
    length = sum(seg)
    n = round(length / spacing)
    step = length / n
    out, i, walked = [], 0, 0.0
    for k in range(n):
        target = k * step
        while walked + seg[i] < target:
            walked += seg[i]
            i += 1
        t = (target - walked) / seg[i]
        a, b = dense[i], dense[(i + 1) % len(dense)]
        out.append((a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t))
    return out, length


def build(spec: TrackSpec) -> Track:
    """Rasterize ``spec`` into cell tables. Sample 0 of the centreline is the finish line."""
    line, length = _resample(_catmull_rom(spec.points), SAMPLE_SPACING)
    n = len(line)
    tangents = [(line[(i + 1) % n][0] - line[i - 1][0], line[(i + 1) % n][1] - line[i - 1][1]) for i in range(n)]
    track = Track(spec, line, length)
    fx, fy = line[0]
    tx, ty = tangents[0]
    # The finish line runs straight across the road through the cell of sample 0.
    finish_col, finish_row = int(fx) // CELL, int(fy) // CELL
    across_columns = abs(tx) >= abs(ty)
    for row in range(ROWS):
        for col in range(COLS):
            cx, cy = col * CELL + CELL / 2, row * CELL + CELL / 2
            best, d2 = 0, float("inf")
            for i, (x, y) in enumerate(line):
                e = (x - cx) ** 2 + (y - cy) ** 2
                if e < d2:
                    best, d2 = i, e
            d = math.sqrt(d2)
            edge = row in (0, ROWS - 1) or col in (0, COLS - 1)
            if d <= spec.road_half_width and not edge:
                surf = ROAD
            elif d <= spec.road_half_width + spec.offroad_width and not edge:
                surf = OFFROAD
            else:
                surf = WALL
            track.surface.append(surf)
            zone = int(best * NUM_CHECKPOINTS / n)
            track.zone.append(NO_ZONE if surf == WALL else zone)
            track.direction.append(heading_byte(*tangents[best]))
            on_line = col == finish_col if across_columns else row == finish_row
            near_start = min(best, n - best) * SAMPLE_SPACING <= 2 * spec.road_half_width
            track.finish.append(surf == ROAD and on_line and near_start)
    back = round(spec.start_behind_line / SAMPLE_SPACING)
    sx, sy = line[-back]
    track.start = (round(sx), round(sy), heading_byte(*tangents[-back]))
    return track


def cell_index(x: float, y: float) -> int:
    """Row-major index of the cell holding world pixel (x, y)."""
    return (int(y) // CELL % 64) * COLS + int(x) // CELL % COLS


EASY = TrackSpec(
    name="PRACTICE RING",
    difficulty="EASY",
    points=(
        (512, 800),
        (760, 800),
        (880, 730),
        (910, 560),
        (900, 300),
        (850, 150),
        (700, 110),
        (512, 130),
        (330, 110),
        (170, 150),
        (120, 300),
        (110, 560),
        (140, 730),
        (260, 800),
    ),
)

HARD = TrackSpec(
    name="HAIRPIN HILLS",
    difficulty="HARD",
    points=(
        (420, 810),
        (700, 810),
        (880, 790),
        (930, 680),
        (880, 580),
        (640, 560),
        (560, 500),
        (600, 420),
        (880, 400),
        (940, 300),
        (900, 160),
        (760, 100),
        (560, 120),
        (330, 110),
        (160, 140),
        (100, 260),
        (150, 380),
        (300, 440),
        (330, 540),
        (180, 610),
        (100, 700),
        (180, 800),
    ),
)

TRACKS: tuple[TrackSpec, ...] = (EASY, HARD)
