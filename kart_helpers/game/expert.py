"""A scripted expert that drives Practice Kart from RAM; its lap times are the course's par.

It follows the track's centreline (from ``tracks.json``) by pure pursuit: steer towards
a point a little way ahead, and lift off the throttle when the road ahead bends more
than the kart can turn at its current speed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import stable_retro as retro

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


class ExpertRun(NamedTuple):
    """The expert's race: RAM per frame and the lap times read from it (60 frames per second)."""

    trace: RamTrace
    clock: LapClock

    @property
    def race_frames(self) -> int | None:
        """Race clock at the end of lap 5 (frames from GO), or None if it did not finish."""
        return self.clock.race_frames

    @property
    def wall_hits(self) -> int:
        """Wall contacts begun during the race (``collision`` going from 0 to set)."""
        collision = self.trace.column("collision") != 0
        return int(np.count_nonzero(collision[1:] & ~collision[:-1]))


@functools.lru_cache(maxsize=4)
def expert_drive(state: str = "Level1", max_frames: int = 8000) -> ExpertRun:
    """The scripted expert's race on a Practice Kart state (``Level1``, ``Level2``), recorded (cached).

    It ends when the scenario's done condition ends the episode (the finish) or at ``max_frames``.
    """
    env = make_env(PRACTICE_GAME, state=state, use_restricted_actions=retro.Actions.ALL)
    try:
        trace, _ = record_drive(env, Expert(TRACKS[state]).buttons, max_frames)
    finally:
        close_live_env()
    return ExpertRun(trace, lap_times(trace.column("laps"), trace.column("current_frame")))


@functools.lru_cache(maxsize=2)
def expert_screens(state: str = "Level1", every: int = 4, max_frames: int = 8000) -> tuple[np.ndarray, ...]:
    """Every ``every``-th screen (224 x 256 x 3 uint8) of the expert's race, counted from reset as
    a rollout's are (:func:`kart_helpers.evaluate.rollout.rollout`), so frame k of each is the same moment."""
    env = make_env(PRACTICE_GAME, state=state, use_restricted_actions=retro.Actions.ALL)
    try:
        _, screens = record_drive(env, Expert(TRACKS[state]).buttons, max_frames, screens_every=every)
    finally:
        close_live_env()
    return tuple(screens)
