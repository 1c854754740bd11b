"""Lap times from RAM: the one lap clock that the expert, the trainer and the evaluation share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kart_helpers.game.constants import CHECKPOINTS, GRID_LAPS, RACE_LAPS

if TYPE_CHECKING:
    from kart_helpers.ram.trace import RamTrace


class LapClock:
    """Lap times from the RAM counters ``laps`` and ``current_frame``, fed one reading at a time.

    ``laps`` reads 127 on the grid, 128 once the kart first crosses the line, and 128 + k after
    k laps. A lap counts the first time the counter reaches a new high, so crossing the line
    backwards and forwards again never counts twice.
    """

    def __init__(self) -> None:
        self.start: int | None = None
        """``current_frame`` when the kart first crossed the line."""
        self.ends: list[int] = []
        """``current_frame`` at the end of each completed lap."""
        self._best = GRID_LAPS

    def update(self, laps: int, current_frame: int) -> bool:
        """Feed one reading; True when it completed a lap."""
        if laps <= self._best:
            return False
        completed = False
        for value in range(self._best + 1, laps + 1):
            if value == GRID_LAPS + 1:
                self.start = current_frame
            elif value > GRID_LAPS + 1:
                self.ends.append(current_frame)
                completed = True
        self._best = laps
        return completed

    @classmethod
    def of(cls, start: int | None, ends: Sequence[int]) -> LapClock:
        """A clock that has already seen the first crossing at ``start`` and laps ending at ``ends``."""
        clock = cls()
        clock.start, clock.ends = start, [int(e) for e in ends]
        clock._best = GRID_LAPS + (start is not None or bool(clock.ends)) + len(clock.ends)
        return clock

    @property
    def laps(self) -> int:
        """Laps completed."""
        return len(self.ends)

    @property
    def lap_frames(self) -> list[int]:
        """Frames of each completed lap."""
        marks = [self.start or 0, *self.ends]
        return np.diff(marks).astype(int).tolist()

    @property
    def race_frames(self) -> int | None:
        """The race clock at the end of lap 5 (the race time, counted from GO), or None."""
        return self.ends[RACE_LAPS - 1] if len(self.ends) >= RACE_LAPS else None


def lap_times(laps: np.ndarray, current_frame: np.ndarray) -> LapClock:
    """A :class:`LapClock` fed a whole trace (arrays of ``laps`` and ``current_frame``)."""
    clock = LapClock()
    for lap, frame in zip(np.asarray(laps).tolist(), np.asarray(current_frame).tolist(), strict=True):
        clock.update(int(lap), int(frame))
    return clock


def zone_entries(trace: RamTrace, zones: int = CHECKPOINTS) -> tuple[int, np.ndarray]:
    """Race frame at which the driver first reached each zone of the race, in order of progress.

    Progress is ``laps * zones + checkpoint``, kept at its best so far (a kart that backs into the
    previous zone has not un-reached it), counted from the first frame the race clock runs.

    Returns:
        ``(first, entries)``: the progress on that first frame, and a ``(reached,)`` array whose
        entry ``k`` is the race clock (frames since GO) when progress first reached ``first + k``.
    """
    clock = trace.column("current_frame").astype(np.int64)
    progress = trace.column("laps").astype(np.int64) * zones + trace.column("checkpoint").astype(np.int64)
    racing = clock > 0
    if not racing.any():
        return 0, np.zeros(0, dtype=np.int64)
    best = np.maximum.accumulate(progress[racing])
    first = int(best[0])
    reached = np.searchsorted(best, np.arange(first, int(best[-1]) + 1))  # best is sorted: first index >= k
    return first, clock[racing][reached]


def zones_reached(trace: RamTrace, zones: int = CHECKPOINTS) -> int:
    """Checkpoint zones a race got through from its start (30 per lap on Practice Kart): its progress."""
    return max(len(zone_entries(trace, zones)[1]) - 1, 0)
