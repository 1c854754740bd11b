"""Start states: button scripts from power-on, and gzipped save states.

**Button scripts.** A button script is a list of steps ``(buttons, frames)`` or
``(buttons, frames, note)``: hold ``buttons`` (names joined with ``+``, or ``""`` for none)
for ``frames`` frames (60 per second). The note says what the step is for and becomes the
caption of its frame when the script is played::

    [("", 20, "title screen"), ("START", 2, "open the track select"), ...]

**Save states.** A ``.state`` file is a gzipped snes9x snapshot, ``gzip(em.get_state())``.
States you make go to your *user* integration folder (``user_game_dir(game)``), never into
the installed package; ``metadata.json``'s ``default_state`` names the one ``make_env`` loads.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import stable_retro as retro

from kart_helpers.integration import (
    PRACTICE_GAME,
    REAL_GAME,
    find_file,
    game_dir,
    integration_dirs,
    list_states,
    make_env,
    read_json,
    user_game_dir,
)

POWER_ON = retro.State.NONE
"""Pass as ``state`` to boot the console instead of loading a save state."""


class Step(NamedTuple):
    """One step of a button script: hold ``buttons`` for ``frames`` frames."""

    buttons: str
    frames: int
    note: str = ""


ButtonScript = Sequence[Step | tuple[str, int] | tuple[str, int, str]]

# Practice Kart counts down 3 x 40 frames after the track is chosen; the state is saved
# on the first frame of the race, so an agent's first action already counts.
COUNTDOWN_FRAMES = 120
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


# --- button scripts ------------------------------------------------------------------------


def as_steps(script: ButtonScript, button_names: Sequence[str | None] | None = None) -> list[Step]:
    """``script`` as a list of :class:`Step`, checked: whole positive frame counts, known buttons.

    Raises:
        ValueError: naming the step that is wrong and what a step looks like.
    """
    steps = []
    for k, raw in enumerate(script):
        if not isinstance(raw, tuple | list) or len(raw) not in (2, 3):
            raise ValueError(f"step {k} is {raw!r}; a step is (buttons, frames) or (buttons, frames, note)")
        step = Step(*raw)
        if not isinstance(step.buttons, str):
            raise ValueError(f"step {k}: buttons must be a string like 'B+LEFT' or '', not {step.buttons!r}")
        if isinstance(step.frames, bool) or not isinstance(step.frames, int | np.integer) or step.frames < 1:
            raise ValueError(f"step {k} ({step.buttons or 'no buttons'}): frames must be a whole number >= 1")
        if button_names is not None:
            action_for(step.buttons, button_names)  # raises on unknown buttons
        steps.append(step)
    return steps


def script_frames(script: ButtonScript) -> int:
    """Total length of ``script`` in frames."""
    return sum(step.frames for step in as_steps(script))


def format_script(script: ButtonScript) -> str:
    """``script`` as a table: start frame, buttons, frames held, note."""
    lines, start = [f"{'frame':>6}  {'buttons':<12} {'hold':>5}  note"], 0
    for step in as_steps(script):
        lines.append(f"{start:>6}  {step.buttons or '-':<12} {step.frames:>5}  {step.note}".rstrip())
        start += step.frames
    lines.append(f"{start:>6}  (end: {start / 60:.1f} s)")
    return "\n".join(lines)


def action_for(buttons: str, button_names: Sequence[str | None]) -> np.ndarray:
    """The MultiBinary action that holds ``buttons`` ("B+LEFT"), for an env's ``buttons``."""
    wanted = {b for b in buttons.split("+") if b}
    unknown = wanted - set(button_names)
    if unknown:
        raise ValueError(f"unknown button(s) {sorted(unknown)}; this game has {[b for b in button_names if b]}")
    return np.array([name in wanted for name in button_names], dtype=np.int8)


def run_script(env: Any, script: ButtonScript, keep_frames: bool = False) -> list[np.ndarray]:
    """Step ``env`` through ``script``; return the last frame of each step if ``keep_frames``.

    Use an env made with ``use_restricted_actions=retro.Actions.ALL``: the default filter
    drops START and SELECT, so a menu would never open.
    """
    frames = []
    for step in as_steps(script, env.unwrapped.buttons):
        action = action_for(step.buttons, env.unwrapped.buttons)
        for _ in range(step.frames):
            obs, *_ = env.step(action)
        if keep_frames:
            frames.append(obs)
    return frames


@dataclass
class ScriptRun:
    """What playing a button script produced.

    Attributes:
        env: the env, still open and where the script left it (save a state from it).
        frames: the screen after each step, each 224 x 256 x 3 uint8.
        captions: one caption per frame: the frame number, the buttons and the note.
        info: the RAM variables (``data.json``) after the last step.
    """

    env: Any
    frames: list[np.ndarray]
    captions: list[str]
    info: dict[str, int]


def open_env(game: str, state: Any = POWER_ON) -> Any:
    """An env of ``game`` at ``state`` (a name, a path to a ``.state`` file, or POWER_ON), reset.

    It accepts every button (``Actions.ALL``), as menus need START.
    """
    path = Path(state) if isinstance(state, str | Path) and str(state).endswith(".state") else None
    env = make_env(game, state=POWER_ON if path else state, use_restricted_actions=retro.Actions.ALL)
    env.reset()
    if path is not None:
        load_state(env, path)
    return env


def play_script(game: str, script: ButtonScript, state: Any = POWER_ON) -> ScriptRun:
    """Play ``script`` on ``game`` from ``state`` (power-on by default) and keep its frames.

    The frame of each step is the screen on its last frame. The env stays open in the result.
    """
    env = open_env(game, state)
    steps = as_steps(script, env.unwrapped.buttons)
    frames = run_script(env, steps, keep_frames=True)
    captions, end = [], 0
    for step in steps:
        end += step.frames
        captions.append(f"frame {end}: {step.buttons or '-'}\n{step.note}".rstrip())
    return ScriptRun(env, frames, captions, env.unwrapped.data.lookup_all())


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


# --- state files ---------------------------------------------------------------------------


class StateError(ValueError):
    """A save state that cannot be used; the message says what the file is and what to do."""


SNES9X_MAGIC = b"#!s9xsnp:"
# Other cores' snapshots, by their first bytes, so a mix-up gets a precise message.
_FOREIGN_STATES = (
    (b"GENPLUS-GX", "a Genesis Plus GX (Sega Genesis / Mega Drive) save state"),
    (b"FCSX", "an FCEUmm (NES) save state"),
    (b"\x89PNG", "a PNG image"),
    (b"PK\x03\x04", "a zip archive"),
)
_BLOCK = re.compile(rb"([A-Z0-9]{3}):(\d{6}):")
_REQUIRED_BLOCKS = {b"CPU", b"RAM"}  # a snapshot without the CPU or the 128 KiB WRAM is no snapshot


def check_snapshot(raw: bytes, source: str = "the state") -> None:
    """Check that ``raw`` (a decompressed ``.state``) is a whole snes9x snapshot.

    A snes9x snapshot is a ``#!s9xsnp:NNNN`` line followed by blocks ``ABC:NNNNNN:<bytes>``.
    Every block is walked, so a truncated file is caught here rather than loading half.
    A snapshot of another SNES game cannot be told apart from the file alone.

    Raises:
        StateError: saying what ``raw`` is instead.
    """
    if not raw.startswith(SNES9X_MAGIC):
        kind = next((what for magic, what in _FOREIGN_STATES if raw.startswith(magic)), None)
        what = kind or f"unknown data starting with {raw[:16]!r}"
        raise StateError(
            f"{source} is not a SNES (snes9x) save state: it is {what}. A state only loads into the "
            "emulator that wrote it; make one for this game in notebook 03."
        )
    newline = raw.find(b"\n")
    position, blocks = newline + 1, set()
    while position < len(raw):
        match = _BLOCK.match(raw, position)
        if match is None:
            raise StateError(f"{source} is damaged: no snapshot block at byte {position}. Make the state again.")
        end = match.end() + int(match.group(2))
        if end > len(raw):
            raise StateError(
                f"{source} is truncated: block {match.group(1).decode()} needs {end - len(raw)} more bytes. "
                "Make the state again."
            )
        blocks.add(match.group(1))
        position = end
    missing = _REQUIRED_BLOCKS - blocks
    if missing:
        raise StateError(f"{source} lacks the {', '.join(sorted(b.decode() for b in missing))} block(s).")


def read_state(source: str | Path, game: str | None = None) -> bytes:
    """The decompressed snapshot in a ``.state`` file, checked.

    Args:
        source: a path, or (with ``game``) a state name such as ``"Level1"``, looked up in
            the user folder first and then the shipped one.
        game: the integration to look the name up in.

    Raises:
        StateError: the file is missing, not gzip, cut short, or not a snes9x snapshot.
    """
    path = Path(source)
    if game is not None and not str(source).endswith(".state"):
        found = find_file(game, f"{source}.state")
        if found is None:
            have = ", ".join(list_states(game)) or "none yet"
            raise StateError(f"{game} has no state {source!r} (states: {have}); make one in notebook 03")
        path = found
    if not path.is_file():
        raise StateError(f"no state file at {path}")
    data = path.read_bytes()
    if not data.startswith(b"\x1f\x8b"):
        if data.startswith(SNES9X_MAGIC):
            raise StateError(
                f"{path} is an uncompressed snes9x snapshot, but stable-retro reads .state files gzipped. "
                "Save it with save_state(), or gzip it."
            )
        check_snapshot(data, str(path))  # not a snapshot at all: this names what it is
    try:
        raw = gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as err:
        raise StateError(f"{path} is a damaged gzip file ({err}): it was cut short or changed. Make it again.") from err
    check_snapshot(raw, str(path))
    return raw


def state_bytes(env: Any) -> bytes:
    """The emulator's save state, as stable-retro stores it in ``.state`` files (gzipped)."""
    return gzip.compress(env.unwrapped.em.get_state(), mtime=0)


def _write_atomically(path: Path, data: bytes) -> None:
    # Another process (a notebook test beside this one) may be reading the file right now.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def save_state(env: Any, path: Path) -> Path:
    """Write the emulator's current state to ``path`` (a ``.state`` file)."""
    path = Path(path)
    _write_atomically(path, state_bytes(env))
    return path


def load_state(env: Any, source: bytes | str | Path, game: str | None = None) -> None:
    """Put ``env``'s emulator into a saved state, and make it the state ``reset()`` returns to.

    Args:
        source: raw snapshot bytes (``em.get_state()``), gzipped ``.state`` bytes, a path, or
            a state name of ``game``.
        game: where to look a state name up (default: the env's game).

    Raises:
        StateError: the state is not a usable snes9x snapshot, or the emulator refused it.
    """
    if isinstance(source, bytes):
        raw = gzip.decompress(source) if source.startswith(b"\x1f\x8b") else source
        check_snapshot(raw, "the state bytes")
    else:
        raw = read_state(source, game if game is not None else env.unwrapped.gamename)
    if not env.unwrapped.em.set_state(raw):
        raise StateError("the emulator refused the state: it was saved by another emulator core or version")
    env.unwrapped.initial_state = raw  # reset() rewinds here from now on


def set_default_state(folder: Path, name: str) -> None:
    """Name ``name`` as the default state in ``folder/metadata.json``, keeping other keys."""
    meta_path = Path(folder) / "metadata.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta["default_state"] = name
    _write_atomically(meta_path, (json.dumps(meta, indent=2) + "\n").encode())


def default_state(game: str) -> str | None:
    """The state ``make_env(game)`` loads: ``default_state`` in the first ``metadata.json`` found."""
    path = find_file(game, "metadata.json")
    return json.loads(path.read_text()).get("default_state") if path else None


def save_start_state(env: Any, name: str, game: str, folder: Path | None = None, make_default: bool = True) -> Path:
    """Save ``env``'s state as ``<name>.state`` for ``game``, and name it the default.

    Args:
        folder: where to write; default your user folder ``user_game_dir(game)``, which
            stable-retro searches before the shipped one, so your state wins.
        make_default: also set ``default_state`` in that folder's ``metadata.json``.

    Returns:
        The path written.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.endswith(".state"):
        raise ValueError(f"state name {name!r}: use letters, digits, '_', '-' or '.', without '.state'")
    folder = Path(folder) if folder is not None else user_game_dir(game)
    path = save_state(env, folder / f"{name}.state")
    if make_default:
        set_default_state(folder, name)
    return path


@dataclass(frozen=True)
class StateEntry:
    """One start state of a game: its name, the file stable-retro uses, and whether it is the default."""

    name: str
    path: Path
    where: str
    """``"user"`` or ``"shipped"``: the folder the file that wins is in."""
    default: bool


def start_states(game: str) -> list[StateEntry]:
    """Every start state of ``game``, as stable-retro resolves them (the user folder wins)."""
    user = integration_dirs()[0]
    chosen = default_state(game)
    entries = []
    for name in list_states(game):
        path = find_file(game, f"{name}.state")
        where = "user" if path.is_relative_to(user) else "shipped"
        entries.append(StateEntry(name, path, where, name == chosen))
    return entries


# --- random starts -------------------------------------------------------------------------


@dataclass
class RandomStart:
    """A start state somewhere along the track, for variety between episodes."""

    state: bytes
    """The raw snapshot; pass it to :func:`load_state`."""
    frame: int
    """Frames driven from the grid to get here."""
    info: dict[str, int]
    screen: np.ndarray


def random_starts(
    env: Any,
    n: int,
    max_frames: int,
    policy: Callable[[dict[str, int]], str] | None = None,
    seed: int = 0,
) -> list[RandomStart]:
    """Snapshots after driving a random number of frames (0 to ``max_frames``) from ``env``'s reset.

    ``policy(info) -> buttons`` drives (for Practice Kart the scripted expert keeps the kart
    on the road); the default holds B and steers at random. The env ends wherever the last
    drive stopped, so reset it afterwards.
    """
    rng = np.random.default_rng(seed)
    stops = sorted(int(f) for f in rng.integers(0, max_frames + 1, size=n))
    env.reset()
    info = env.unwrapped.data.lookup_all()
    buttons, frame, starts = "B", 0, []
    for stop in stops:
        while frame < stop:
            if policy is not None:
                buttons = policy(info)
            elif frame % 15 == 0:  # a new random steer every quarter second
                buttons = str(rng.choice(["B", "B+LEFT", "B+RIGHT"]))
            _, _, _, _, info = env.step(action_for(buttons, env.unwrapped.buttons))
            frame += 1
        starts.append(RandomStart(env.unwrapped.em.get_state(), frame, dict(info), env.render().copy()))
    return starts


# --- the course's own states ---------------------------------------------------------------


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
