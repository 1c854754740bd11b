"""Where the course's stable-retro integrations live, and how to make an env from them."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import stable_retro as retro

PRACTICE_GAME = "PracticeKart-Snes"
REAL_GAME = "MarioKart-Snes"

_live_env: Any = None


def integrations_dir() -> Path:
    """The folder that holds ``PracticeKart-Snes/`` and ``MarioKart-Snes/``."""
    return Path(__file__).resolve().parent.parent / "integrations"


def game_dir(game: str) -> Path:
    """The integration folder of ``game``."""
    return integrations_dir() / game


def register() -> Path:
    """Add our integrations to stable-retro's search path (it must be absolute)."""
    path = integrations_dir().resolve()
    retro.data.Integrations.add_custom_path(str(path))
    return path


def read_json(game: str, name: str) -> dict:
    """A JSON file of an integration, e.g. ``read_json(game, "tracks.json")``."""
    return json.loads((game_dir(game) / name).read_text())


def close_live_env() -> None:
    """Close the emulator this process holds; stable-retro allows only one per process."""
    global _live_env
    if _live_env is not None:
        _live_env.close()
        _live_env = None
        gc.collect()


def make_env(game: str = PRACTICE_GAME, state: Any = retro.State.DEFAULT, **kwargs: Any) -> Any:
    """A stable-retro env for one of our games, with ``render_mode="rgb_array"``.

    Any emulator made earlier through this function is closed first, so re-running a
    notebook cell works. ``state`` is a state name, ``retro.State.DEFAULT`` (the one
    ``metadata.json`` names) or ``retro.State.NONE`` (power-on). Other keyword arguments
    go to ``stable_retro.make``.
    """
    global _live_env
    close_live_env()
    register()
    kwargs.setdefault("render_mode", "rgb_array")
    kwargs.setdefault("inttype", retro.data.Integrations.ALL)
    _live_env = retro.make(game, state=state, **kwargs)
    return _live_env
