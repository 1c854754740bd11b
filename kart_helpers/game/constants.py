"""Practice Kart's facts in one table: game names, the clock, tracks, laps, par and physics.

The real Super Mario Kart shares the RAM layout, the laps counter (127 on the grid, 128 after
the first crossing of the line) and the 60 frames per second; tracks and par are Practice Kart's.
"""

from __future__ import annotations

PRACTICE_GAME = "PracticeKart-Snes"
REAL_GAME = "MarioKart-Snes"
GAMES = (PRACTICE_GAME, REAL_GAME)

FPS = 60  # SNES frames per second (NTSC)

PAR_FRAMES = {"Level1": 3868, "Level2": 5161}
"""The expert's five-lap times on Practice Kart (``integrations/PracticeKart-Snes/README.md``)."""
TRACKS = {"Level1": 0, "Level2": 1}
TRACK_NAMES = {"Level1": "Practice Ring", "Level2": "Hairpin Hills"}

RACE_LAPS = 5
GRID_LAPS = 127  # the laps counter on the start grid; 128 after the first crossing of the line
CHECKPOINTS = 30  # checkpoint zones per lap on both tracks (RAM num_checkpoints)

TURN_RATE = 2  # heading units per frame, as in the ROM
TOP_SPEED = 900  # RAM speed at full throttle on road
SUBPIXELS_PER_SPEED = 892 / 900 / 256  # px per frame per unit of speed

# Practice Kart counts down 3 x 40 frames after the track is chosen; the state is saved
# on the first frame of the race, so an agent's first action already counts.
COUNTDOWN_FRAMES = 120

GRID_RAM: dict[str, int] = {
    "laps": GRID_LAPS,
    "checkpoint": CHECKPOINTS - 1,
    "checkpoint_alt": CHECKPOINTS - 1,
    "num_checkpoints": CHECKPOINTS,
    "speed": 0,
    "surface": 0x40,
    "collision": 0,
    "backward": 0,
    "current_frame": 0,
    "x": 472,
    "y": 801,
    "heading": 64,
}
"""RAM of a kart on the start grid: laps 127, in the last checkpoint zone, on road."""


def par_frames(game: str, state: str) -> int | None:
    """The expert's five-lap time in frames, or None where there is no expert (the real game)."""
    return PAR_FRAMES.get(state) if game == PRACTICE_GAME else None


def par_lap_frames(game: str, state: str) -> float | None:
    """The expert's mean lap, in frames."""
    par = par_frames(game, state)
    return None if par is None else par / RACE_LAPS
