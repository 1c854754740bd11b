"""How Practice Kart drives, measured on the real emulator: wall contacts under a random
driver, escapes from walls with the 4 default actions, and which way the road runs in the
driving view. The tests assert on these numbers and ``benchmarks/game_feel.py`` reports them.

Frames are emulator frames (60 per second); an action is held for ``HOLD`` frames, as the
course's wrappers do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import stable_retro as retro

from kart_helpers.emulator.buttons import action_for
from kart_helpers.emulator.env import make_env
from kart_helpers.emulator.integration import read_json
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.game.expert import Expert, heading_of, signed_angle
from kart_helpers.pipeline.actions import ORIGINAL_ACTIONS

WALL = 0x80
HOLD = 4
VIEW = slice(16, 112)  # screen lines of the driving view
ESCAPE_FRAMES = 120  # 2 s: a kart at a wall must be free within this ...
FREE_FRAMES = 30  # ... and then stay off the wall for this long


def _open(track: int):
    env = make_env(PRACTICE_GAME, state=f"Level{track + 1}", use_restricted_actions=retro.Actions.ALL)
    env.reset()
    return env


def _centreline(track: int) -> tuple[np.ndarray, np.ndarray]:
    """The track's centreline points (N x 2, px) and its direction at each (heading units)."""
    line = np.array(read_json(PRACTICE_GAME, "tracks.json")["tracks"][track]["centerline"], dtype=float)
    tangent = np.roll(line, -1, axis=0) - np.roll(line, 1, axis=0)
    return line, np.array([heading_of(dx, dy) for dx, dy in tangent])


@dataclass
class WallStats:
    """Wall contact of a random driver with the 4 default actions, from spread-out starts."""

    frames: int = 0
    contact_frames: int = 0
    longest_contact: int = 0
    """Frames of the longest unbroken run of wall contact (``surface == 0x80``)."""
    contacts: list[bytes] = field(default_factory=list, repr=False)
    """Emulator states on the first frame of wall contacts, for escape trials."""

    @property
    def contact_fraction(self) -> float:
        return self.contact_frames / max(self.frames, 1)


def random_walls(track: int, starts: int = 25, frames_each: int = 600, seed: int = 0, keep: int = 100) -> WallStats:
    """Drive randomly (one of ``ORIGINAL_ACTIONS`` per ``HOLD`` frames) from ``starts`` points
    spread along the track, each with a random heading, and record every wall contact.
    Keeps the emulator state of up to ``keep`` contacts, spread over the starts."""
    rng = np.random.default_rng(seed)
    line, _ = _centreline(track)
    env = _open(track)
    try:
        grid, stats, per_start = env.unwrapped.em.get_state(), WallStats(), -(-keep // starts)
        for k in range(starts):
            env.unwrapped.em.set_state(grid)
            x, y = line[k * len(line) // starts]
            data = env.unwrapped.data
            for name, value in (("x", round(x)), ("y", round(y)), ("heading", int(rng.integers(256)))):
                data.set_value(name, value)
            run, kept = 0, 0
            for _ in range(frames_each // HOLD):
                action = action_for(ORIGINAL_ACTIONS[rng.integers(len(ORIGINAL_ACTIONS))], env.buttons)
                for _ in range(HOLD):
                    info = env.step(action)[4]
                    stats.frames += 1
                    if info["surface"] == WALL:
                        if run == 0 and kept < per_start and len(stats.contacts) < keep:
                            stats.contacts.append(env.unwrapped.em.get_state())
                            kept += 1
                        run += 1
                        stats.contact_frames += 1
                        stats.longest_contact = max(stats.longest_contact, run)
                    else:
                        run = 0
        return stats
    finally:
        env.close()


def escape_frames(track: int, contacts: list[bytes], lookahead_px: float = 64.0) -> list[int | None]:
    """From each wall contact, drive with the 4 default actions towards a point
    ``lookahead_px`` ahead on the centreline (B+LEFT or B+RIGHT, B once aimed at it).
    Returns, per contact, the frame on which the kart left the wall for good
    (``FREE_FRAMES`` without contact), or None if it did not within ``ESCAPE_FRAMES``."""
    line, _ = _centreline(track)
    step = round(lookahead_px / float(np.linalg.norm(line[1] - line[0])))
    env = _open(track)
    try:
        out: list[int | None] = []
        for state in contacts:
            env.unwrapped.em.set_state(state)
            info = env.unwrapped.data.lookup_all()
            last_contact, frame = 0, 0
            while frame < ESCAPE_FRAMES + FREE_FRAMES and frame - last_contact < FREE_FRAMES:
                nearest = int(np.argmin(np.linalg.norm(line - (info["x"], info["y"]), axis=1)))
                tx, ty = line[(nearest + step) % len(line)]
                error = signed_angle(heading_of(tx - info["x"], ty - info["y"]) - info["heading"])
                combo = "B" if abs(error) < 4 else ("B+RIGHT" if error > 0 else "B+LEFT")
                action = action_for(combo, env.buttons)
                for _ in range(HOLD):
                    info = env.step(action)[4]
                    frame += 1
                    if info["surface"] == WALL:
                        last_contact = frame
            free = frame - last_contact >= FREE_FRAMES and last_contact <= ESCAPE_FRAMES
            out.append(last_contact if free else None)
        return out
    finally:
        env.close()


def road_mask(view: np.ndarray, asphalt_only: bool = False) -> np.ndarray:
    """Pixels of the road surface in an RGB frame region: the two greys of the asphalt and,
    unless ``asphalt_only``, the black and white of the finish line and the kerbs' white
    (grass, walls, barriers and the red of the kerbs are coloured)."""
    rgb = view.astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    neutral = (abs(r - g) < 12) & (b - r >= 0) & (b - r < 24)
    return neutral & (r > 90) & (r < 170) if asphalt_only else neutral


def _grow(seed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The part of ``mask`` 4-connected to ``seed`` (both boolean images)."""
    region = seed & mask
    while True:
        grown = region.copy()
        grown[1:] |= region[:-1]
        grown[:-1] |= region[1:]
        grown[:, 1:] |= region[:, :-1]
        grown[:, :-1] |= region[:, 1:]
        grown &= mask
        if np.array_equal(grown, region):
            return region
        region = grown


def road_axis_degrees(frame: np.ndarray) -> float | None:
    """Angle between vertical and the axis of the road ahead of the kart in the driving view,
    in degrees (0 = the road runs straight up the screen), or None with too little road.

    The road ahead is the asphalt connected to the patch just in front of the kart (other
    stretches of the track seen in the distance are left out); its axis is the principal
    axis (largest eigenvector of the pixel coordinates' covariance) of that region."""
    mask = road_mask(frame[VIEW])
    seed = np.zeros_like(mask)
    seed[60:68, 118:138] = True  # just ahead of the kart sprite (view lines 71-86 hold it)
    ys, xs = np.nonzero(_grow(seed, mask))
    if len(xs) < 200:
        return None
    _, vectors = np.linalg.eigh(np.cov(np.stack([xs, ys]).astype(float)))
    vx, vy = vectors[:, -1]
    return math.degrees(math.atan2(abs(vx), abs(vy)))


@dataclass
class ViewStats:
    """Road-axis angles on straights, while the expert drives five laps."""

    angles: list[float] = field(default_factory=list)
    quadrants: list[int] = field(default_factory=list)
    """Quadrant (0 north, 1 east, 2 south, 3 west) of the kart's heading, per angle."""

    def fraction_within(self, degrees: float = 25.0) -> float:
        return float(np.mean(np.array(self.angles) <= degrees)) if self.angles else 0.0


def straight_view(track: int, every: int = 4, straight_units: float = 6.0) -> ViewStats:
    """Drive the expert; on every ``every``-th frame where the centreline over the next 160 px
    turns less than ``straight_units`` and the kart's heading is within that of the road's,
    measure the road's axis in the view. The screen lags RAM by one frame, so each frame is
    judged with the previous frame's pose."""
    line, directions = _centreline(track)
    spacing = float(np.linalg.norm(line[1] - line[0]))
    ahead = np.arange(round(160 / spacing))
    env = _open(track)
    try:
        expert, stats = Expert(track), ViewStats()
        info = env.unwrapped.data.lookup_all()
        for frame in range(8000):
            pose = info
            obs, _, terminated, _, info = env.step(action_for(expert.buttons(info), env.buttons))
            if terminated:
                break
            if frame % every:
                continue
            i = int(np.argmin(np.linalg.norm(line - (pose["x"], pose["y"]), axis=1)))
            bend = np.abs(signed_angle(directions[(i + ahead) % len(line)] - directions[i])).max()
            aligned = abs(signed_angle(directions[i] - pose["heading"])) < straight_units
            angle = road_axis_degrees(obs) if bend < straight_units and aligned else None
            if angle is not None:
                stats.angles.append(angle)
                stats.quadrants.append(((pose["heading"] + 32) % 256) // 64)
        return stats
    finally:
        env.close()
