"""The racing line: progress through checkpoint zones, time lost per zone, the map, and the ghost video."""

import numpy as np
import pytest
from made_up_race import made_up_race

from kart_helpers.display.racing_line import plot_racing_line, time_lost, track_surface
from kart_helpers.display.video import side_by_side
from kart_helpers.game.constants import CHECKPOINTS, GRID_LAPS, RACE_LAPS
from kart_helpers.game.expert import expert_drive
from kart_helpers.game.laps import zone_entries, zones_reached
from kart_helpers.ram.trace import RamTrace


def test_zone_entries_follow_the_race_clock_and_ignore_backing_up():
    trace = made_up_race([5, 7, 3])
    first, entries = zone_entries(trace, zones=4)
    assert first == GRID_LAPS * 4 + 3  # the grid: lap counter 127, the last zone before the line
    assert entries.tolist() == [1, 4, 9, 16]  # the grid from clock 1, then 3 grid frames, 5, 7 later
    rows = [dict(row) for row in trace.rows]
    rows[11] |= {k: rows[5][k] for k in ("laps", "checkpoint")}  # back into the first zone for a frame
    assert zone_entries(RamTrace(rows), zones=4)[1].tolist() == entries.tolist()


def test_time_lost_is_the_agent_s_extra_frames_in_each_zone():
    expert = made_up_race([5, 5, 5, 5, 5])
    agent = made_up_race([5, 9, 5, 6, 5])  # 4 frames slower in the second zone after the line, 1 in the fourth
    lost = time_lost(agent, expert, zones=4)
    assert lost.sum() == 5
    assert np.flatnonzero(lost).size == 2 and lost.max() == 4
    assert not time_lost(expert, expert, zones=4).any()


def test_the_expert_s_race_passes_every_zone_of_five_laps():
    run = expert_drive("Level1")
    # The first crossing of the line, then 30 zones a lap.
    assert zones_reached(run.trace) == 1 + RACE_LAPS * CHECKPOINTS
    assert not time_lost(run.trace, run.trace, CHECKPOINTS).any()


def test_the_map_shows_the_track_and_both_lines():
    surface, extent = track_surface("Level1")
    assert set(np.unique(surface)) == {0, 1, 2} and extent[1] > extent[0]
    run = expert_drive("Level1")
    fig = plot_racing_line(run.trace, run.trace, state="Level1")
    maps = [ax for ax in fig.axes if ax.images]
    assert len(maps) == 2
    for ax in maps:
        (lines,) = ax.collections
        assert len(lines.get_segments()) > 3000  # one segment a frame of the race
        assert np.nanmax(lines.get_array()) > 800  # coloured by speed


def test_side_by_side_pairs_frame_k_with_frame_k():
    left = [np.full((4, 3, 3), k, np.uint8) for k in range(3)]
    right = [np.full((4, 3, 3), 100 + k, np.uint8) for k in range(5)]
    frames = side_by_side(left, right, gap=2)
    assert len(frames) == 5 and frames[0].shape == (4, 8, 3)
    assert frames[1][0, 0, 0] == 1 and frames[1][0, -1, 0] == 101
    assert frames[4][0, 0, 0] == 2  # the shorter video holds its last frame
    with pytest.raises(ValueError, match="video=True"):
        side_by_side([], right)
