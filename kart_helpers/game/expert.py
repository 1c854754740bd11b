"""A scripted expert that drives Practice Kart from RAM; its lap times are the course's par.

It follows the track's centreline (from ``tracks.json``) by pure pursuit: steer towards
a point a little way ahead, and lift off the throttle when the road ahead bends more
than the kart can turn at its current speed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kart_helpers.emulator.buttons import action_for
from kart_helpers.emulator.env import close_live_env, make_env
from kart_helpers.emulator.integration import read_json
from kart_helpers.game.constants import PRACTICE_GAME, SUBPIXELS_PER_SPEED, TRACKS, TURN_RATE
from kart_helpers.game.laps import LapClock, lap_times
from kart_helpers.ram.trace import RamTrace, record_drive


def heading_of(dx: float, dy: float) -> float:
    """SMK heading (0 north, 64 east; 256 per turn) of a direction, y pointing south."""
    return math.atan2(dx, -dy) * 128 / math.pi % 256


def signed_angle(a: float) -> float:
    """An angle in heading units wrapped to [-128, 128)."""
    return (a + 128) % 256 - 128


@dataclass
class Expert:
    """Pure-pursuit driver for one Practice Kart track.

    Call :meth:`buttons` once per frame with the env's ``info`` dict (it needs ``x``,
    ``y``, ``heading`` and ``speed``); it returns the buttons to hold, e.g. ``"B+LEFT"``.
    """

    track: int = 0
    lookahead_px: float = 56.0
    """Distance ahead on the centreline that the kart steers towards."""
    brake_horizon_px: float = 140.0
    """How far ahead the expert looks for bends that it must slow down for."""
    deadband: float = 1.5
    """Heading error (in 1/256 turns) that the expert tolerates without steering."""
    _line: np.ndarray = field(init=False, repr=False)
    _spacing: float = field(init=False, repr=False)
    _index: int | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        tracks = read_json(PRACTICE_GAME, "tracks.json")["tracks"]
        self._line = np.array(tracks[self.track]["centerline"], dtype=float)
        seg = np.linalg.norm(np.roll(self._line, -1, axis=0) - self._line, axis=1)
        self._spacing = float(seg.mean())
        tangent = np.roll(self._line, -1, axis=0) - np.roll(self._line, 1, axis=0)
        self._headings = np.array([heading_of(dx, dy) for dx, dy in tangent])

    def reset(self) -> None:
        self._index = None

    def _nearest(self, x: float, y: float) -> int:
        n = len(self._line)
        if self._index is None:
            candidates = np.arange(n)
        else:  # search near the last match so that close parallel stretches never confuse it
            candidates = (self._index + np.arange(-8, 24)) % n
        d = np.linalg.norm(self._line[candidates] - (x, y), axis=1)
        self._index = int(candidates[int(np.argmin(d))])
        return self._index

    def buttons(self, info: dict[str, Any]) -> str:
        x, y, heading, speed = info["x"], info["y"], info["heading"], info["speed"]
        i = self._nearest(x, y)
        n = len(self._line)
        tx, ty = self._line[(i + round(self.lookahead_px / self._spacing)) % n]
        error = signed_angle(heading_of(tx - x, ty - y) - heading)
        steer = "" if abs(error) <= self.deadband else ("+RIGHT" if error > 0 else "+LEFT")
        # Bend ahead: the largest heading change within the horizon, against what the kart
        # can turn (TURN_RATE per frame) over that distance at its current speed.
        k = max(1, round(self.brake_horizon_px / self._spacing))
        ahead = self._headings[(i + np.arange(1, k + 1)) % n]
        bend = np.abs(signed_angle(ahead - self._headings[i])).max()
        px_per_frame = max(speed, 1) * SUBPIXELS_PER_SPEED
        turnable = TURN_RATE * self.brake_horizon_px / px_per_frame
        pedal = "B" if bend <= turnable or speed < 500 else ""
        return (pedal + steer).lstrip("+")


@dataclass
class ExpertRun:
    """What one expert race produced. Frames are SNES frames (60 per second)."""

    track: int
    lap_end_frames: list[int]
    """``current_frame`` on the frame each lap was completed (the first entry ends lap 1)."""
    start_frame: int
    """``current_frame`` when the kart first crossed the line (laps 127 -> 128)."""
    wall_hits: int

    @property
    def lap_frames(self) -> list[int]:
        """Frames per lap, lap 1 to 5."""
        ends = [self.start_frame, *self.lap_end_frames]
        return np.diff(ends).tolist()

    @property
    def race_frames(self) -> int:
        """Race clock at the finish: frames from GO to the end of lap 5."""
        return self.lap_end_frames[-1]


def drive_expert(track: int = 0, max_frames: int = 10_000) -> ExpertRun:
    """Race five laps of Practice Kart's ``track`` with the expert and time them from RAM."""
    import stable_retro as retro

    env = make_env(PRACTICE_GAME, state=f"Level{track + 1}", use_restricted_actions=retro.Actions.ALL)
    try:
        env.reset()
        info = env.unwrapped.data.lookup_all()
        expert, ends, start, hits, last_collision = Expert(track), [], 0, 0, 0
        for _ in range(max_frames):
            _, _, terminated, _, new = env.step(action_for(expert.buttons(info), env.buttons))
            hits += bool(new["collision"] and not last_collision)
            last_collision = new["collision"]
            if new["laps"] > info["laps"]:
                if new["laps"] == 128:
                    start = new["current_frame"]
                else:
                    ends.append(new["current_frame"])
            info = new
            if terminated:
                break
        return ExpertRun(track, ends, start, hits)
    finally:
        env.close()


@functools.lru_cache(maxsize=4)
def expert_drive(state: str = "Level1", max_frames: int = 8000) -> tuple[RamTrace, LapClock]:
    """The scripted expert's race on a Practice Kart state, recorded frame by frame (cached)."""
    import stable_retro as retro

    env = make_env(PRACTICE_GAME, state=state, use_restricted_actions=retro.Actions.ALL)
    try:
        expert = Expert(TRACKS[state])
        trace, _ = record_drive(env, expert.buttons, max_frames)
    finally:
        close_live_env()
    return trace, lap_times(trace.column("laps"), trace.column("current_frame"))
