"""Button scripts from power-on to the start grid, the grid check, and Practice Kart's states."""

from __future__ import annotations

from pathlib import Path

from kart_helpers.emulator.buttons import ButtonScript
from kart_helpers.emulator.drive import run_script
from kart_helpers.emulator.env import POWER_ON, open_env
from kart_helpers.emulator.integration import game_dir, read_json
from kart_helpers.emulator.states import save_state, set_default_state
from kart_helpers.game.constants import COUNTDOWN_FRAMES, PRACTICE_GAME, REAL_GAME

# START is held for 20 frames, so the frame kept for each step is drawn, not the blank
# frame the game shows while it loads the next screen; menus react to new presses only.
_MENUS = [("", 20, "title screen"), ("START", 20, "START opens the track select"), ("", 2, "release START")]
PRACTICE_START_SCRIPTS: dict[str, ButtonScript] = {
    "Level1": [
        *_MENUS,
        ("START", 20, "pick PRACTICE RING: the countdown starts"),
        ("", COUNTDOWN_FRAMES - 20, "countdown: on the grid when it ends"),
    ],
    "Level2": [
        *_MENUS,
        ("DOWN", 2, "move to HAIRPIN HILLS"),
        ("", 4, "cursor moved"),
        ("START", 20, "pick HAIRPIN HILLS: the countdown starts"),
        ("", COUNTDOWN_FRAMES - 20, "countdown: on the grid when it ends"),
    ],
}

REAL_GAME_SCRIPT_VERIFIED = False
"""False: ``REAL_GAME_START_SCRIPT`` has never been run on the real ROM (CI cannot have it)."""

# UNVERIFIED. Written from the Super Mario Kart (USA) menus as players know them, not run
# here: the ROM can never be used in CI. Waits are generous on purpose, since pressing a
# button while a menu is still sliding in is the usual way such a script fails. If it stops
# in the wrong place, look at its frames and fix the waits, or use the drive widget.
REAL_GAME_START_SCRIPT: ButtonScript = [
    ("", 420, "power-on: Nintendo logo, then the title screen (unverified timing)"),
    ("START", 2, "title: open the game-select menu"),
    ("", 90, "menu: 1P GAME / 2P GAME; 1P GAME is highlighted"),
    ("B", 2, "choose 1P GAME"),
    ("", 60, "mode: MARIO KART GP / TIME TRIAL"),
    ("DOWN", 2, "move to TIME TRIAL"),
    ("", 20, "TIME TRIAL highlighted"),
    ("B", 2, "choose TIME TRIAL"),
    ("", 60, "the game asks OK?"),
    ("B", 2, "confirm OK"),
    ("", 120, "driver select; the cursor starts on MARIO"),
    ("B", 2, "choose MARIO"),
    ("", 60, "the game asks OK?"),
    ("B", 2, "confirm OK"),
    ("", 120, "cup select; MUSHROOM CUP is highlighted"),
    ("B", 2, "choose MUSHROOM CUP"),
    ("", 60, "course select; MARIO CIRCUIT 1 is highlighted"),
    ("B", 2, "choose MARIO CIRCUIT 1"),
    ("", 60, "the game asks OK?"),
    ("B", 2, "confirm OK: the course loads"),
    ("", 600, "course intro and Lakitu's countdown: on the grid when it ends"),
]

START_SCRIPTS: dict[str, ButtonScript] = {
    PRACTICE_GAME: PRACTICE_START_SCRIPTS["Level1"],
    REAL_GAME: REAL_GAME_START_SCRIPT,
}
"""The script that makes ``Level1`` for each game (the real game's is unverified)."""


def grid_problems(info: dict[str, int], game: str = PRACTICE_GAME) -> list[str]:
    """Why the RAM in ``info`` is not a kart waiting on the start grid (empty when it is).

    On the grid: ``laps`` is 127, ``num_checkpoints`` is set, the kart stands still and the
    race clock has not run. For Practice Kart, the kart also sits on a track's start pose.
    """
    problems = []
    if info.get("laps") != 127:
        problems.append(f"laps is {info.get('laps')}, not 127 (0 means still in the menus)")
    if not info.get("num_checkpoints"):
        problems.append("num_checkpoints is 0: no course is loaded")
    if info.get("speed"):
        problems.append(f"speed is {info.get('speed')}: the kart is moving")
    if info.get("current_frame"):
        problems.append(f"current_frame is {info.get('current_frame')}: the race clock already runs")
    if game == PRACTICE_GAME and not problems:
        starts = [(t["start"]["x"], t["start"]["y"]) for t in read_json(game, "tracks.json")["tracks"]]
        if (info.get("x"), info.get("y")) not in starts:
            problems.append(f"the kart is at ({info.get('x')}, {info.get('y')}), not on a start pose {starts}")
    return problems


def make_practice_states(out_dir: Path | None = None) -> dict[str, Path]:
    """Boot Practice Kart from power-on and save one start state per track.

    Writes ``Level1.state`` (Practice Ring) and ``Level2.state`` (Hairpin Hills) into
    ``out_dir`` (default: the shipped integration folder, for the ROM's build script) and
    names Level1 as the default.
    """
    out_dir = Path(out_dir) if out_dir is not None else game_dir(PRACTICE_GAME)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, script in PRACTICE_START_SCRIPTS.items():
        env = open_env(PRACTICE_GAME, POWER_ON)
        run_script(env, script)
        written[name] = save_state(env, out_dir / f"{name}.state")
        env.close()
    set_default_state(out_dir, "Level1")
    return written
