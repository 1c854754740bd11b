"""A made-up race as a RAM trace, for tests of progress, ranking and time lost."""

from kart_helpers.game.constants import GRID_LAPS, GRID_RAM
from kart_helpers.ram.trace import RamTrace


def made_up_race(frames_per_zone: list[int], zones: int = 4, grid: int = 3) -> RamTrace:
    """A race on a track of ``zones`` zones: ``grid`` frames of the race clock on the grid
    (the last zone, before the line), then ``frames_per_zone[k]`` frames in each zone it enters."""
    start = {**GRID_RAM, "checkpoint": zones - 1, "num_checkpoints": zones, "x": 0, "y": 0, "current_frame": 0}
    changes = [{"current_frame": clock} for clock in range(1, grid + 1)]
    clock, progress = grid, GRID_LAPS * zones + zones - 1
    for frames in frames_per_zone:
        progress += 1
        for k in range(frames):
            clock += 1
            change = {"current_frame": clock}
            if k == 0:
                change |= {"laps": progress // zones, "checkpoint": progress % zones, "x": progress * 10}
            changes.append(change)
    return RamTrace.synthetic(start, changes)
