"""Start states: button scripts from power-on, and gzipped save states.

A button script is a list of ``(buttons, frames)`` steps: hold ``buttons`` (names joined
with ``+``, or ``""`` for none) for ``frames`` frames, e.g. ``[("", 20), ("START", 2)]``.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import stable_retro as retro

from kart_helpers.integration import PRACTICE_GAME, game_dir, make_env

ButtonScript = Sequence[tuple[str, int]]

# Practice Kart counts down 3 x 40 frames after the track is chosen; the state is saved
# on the first frame of the race, so an agent's first action already counts.
COUNTDOWN_FRAMES = 120
_MENUS = [("", 20), ("START", 2), ("", 20)]
PRACTICE_START_SCRIPTS: dict[str, ButtonScript] = {
    "Level1": [*_MENUS, ("START", 2), ("", COUNTDOWN_FRAMES - 2)],
    "Level2": [*_MENUS, ("DOWN", 2), ("", 4), ("START", 2), ("", COUNTDOWN_FRAMES - 2)],
}


def action_for(buttons: str, button_names: Sequence[str | None]) -> np.ndarray:
    """The MultiBinary action that holds ``buttons`` ("B+LEFT"), for an env's ``buttons``."""
    wanted = {b for b in buttons.split("+") if b}
    unknown = wanted - set(button_names)
    if unknown:
        raise ValueError(f"unknown button(s) {sorted(unknown)}; this game has {[b for b in button_names if b]}")
    return np.array([name in wanted for name in button_names], dtype=np.int8)


def run_script(env: Any, script: ButtonScript, keep_frames: bool = False) -> list[np.ndarray]:
    """Step ``env`` through ``script``; return the last frame of each step if ``keep_frames``."""
    frames = []
    for buttons, n in script:
        action = action_for(buttons, env.unwrapped.buttons)
        for _ in range(n):
            obs, *_ = env.step(action)
        if keep_frames:
            frames.append(obs)
    return frames


def state_bytes(env: Any) -> bytes:
    """The emulator's save state, as stable-retro stores it in ``.state`` files (gzipped)."""
    return gzip.compress(env.unwrapped.em.get_state(), mtime=0)


def save_state(env: Any, path: Path) -> Path:
    """Write the emulator's current state to ``path`` (a ``.state`` file)."""
    path = Path(path)
    path.write_bytes(state_bytes(env))
    return path


def set_default_state(folder: Path, name: str) -> None:
    """Name ``name`` as the default state in ``folder/metadata.json``, keeping other keys."""
    meta_path = Path(folder) / "metadata.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    meta["default_state"] = name
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")


def make_practice_states(out_dir: Path | None = None) -> dict[str, Path]:
    """Boot Practice Kart from power-on and save one start state per track.

    Writes ``Level1.state`` (Practice Ring) and ``Level2.state`` (Hairpin Hills) into
    ``out_dir`` (default: the integration folder) and names Level1 as the default.
    """
    out_dir = Path(out_dir) if out_dir is not None else game_dir(PRACTICE_GAME)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, script in PRACTICE_START_SCRIPTS.items():
        env = make_env(PRACTICE_GAME, state=retro.State.NONE, use_restricted_actions=retro.Actions.ALL)
        env.reset()
        run_script(env, script)
        written[name] = save_state(env, out_dir / f"{name}.state")
        env.close()
    set_default_state(out_dir, "Level1")
    return written
