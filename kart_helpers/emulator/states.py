"""Save states: gzipped snes9x snapshots, checked, written atomically, and the default one.

A ``.state`` file is ``gzip(em.get_state())``. States you make go to your *user* integration
folder (``user_game_dir(game)``), never into the installed package; ``metadata.json``'s
``default_state`` names the one ``make_env`` loads.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kart_helpers.emulator.integration import find_file, integration_dirs, list_states, refuse_shipped, user_game_dir


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

    Raises:
        ShippedFolderError: ``folder`` (or the user folder) is inside the shipped integrations.
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.endswith(".state"):
        raise ValueError(f"state name {name!r}: use letters, digits, '_', '-' or '.', without '.state'")
    folder = refuse_shipped(folder if folder is not None else user_game_dir(game))
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
        if path is None:  # only a folder named like a state
            continue
        where = "user" if path.is_relative_to(user) else "shipped"
        entries.append(StateEntry(name, path, where, name == chosen))
    return entries
