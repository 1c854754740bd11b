"""Policies that farm a reward instead of racing, for notebook 04's lesson on reward hacking."""

from __future__ import annotations

import numpy as np

from kart_helpers.emulator.drive import Policy
from kart_helpers.ram.trace import RamTrace


def farming_policy() -> Policy:
    """A driver that farms the start line: forward over it, reverse back over it, again.

    It holds B until the kart is a checkpoint past the line, then Y (brake, then reverse)
    until it is back behind the line. A reward that pays every checkpoint increase pays
    this loop forever; the course's script pays each checkpoint once per episode.
    """
    mode = ["B"]

    def policy(info: dict[str, int]) -> str:
        if mode[0] == "B" and info["laps"] == 128 and info["checkpoint"] >= 1:
            mode[0] = "Y"
        elif mode[0] == "Y" and info["laps"] == 127 and info["checkpoint"] <= 28:
            mode[0] = "B"
        return mode[0]

    return policy


def wall_rammer(steer_frames: int = 40, back_frames: int = 4) -> Policy:
    """A driver that crashes on purpose: steer right into the wall, back off, drive into it again.

    The wall bounces it back; it reverses a little more and drives in again, hitting the wall
    about every 85 frames, so the episode ends by the wall-hit rule (7 hits within 600
    frames) after about 10 seconds.
    """
    clock = {"frame": 0, "back": 0, "collision": 0}

    def policy(info: dict[str, int]) -> str:
        clock["frame"] += 1
        if info["collision"] and not clock["collision"]:  # the wall timer just started: a new hit
            clock["back"] = back_frames
        clock["collision"] = info["collision"]
        if clock["back"] > 0:
            clock["back"] -= 1
            return "Y"
        return "B+RIGHT" if clock["frame"] < steer_frames else "B"

    return policy


def line_crossings(trace: RamTrace) -> int:
    """How many times the kart crossed the start line forwards (``laps`` went up)."""
    return int(np.count_nonzero(np.diff(trace.column("laps")) > 0))
