"""Where the course's stable-retro integrations live, and how to make an env from them.

Two folders are registered with stable-retro, searched in this order for every file:

1. the **user folder** (``user_integrations_dir()``): writable, outside site-packages.
   Your imported ROM, your start states and any ``data.json`` you write go here.
2. the **shipped folder** (``shipped_integrations_dir()``): what comes with the package,
   i.e. Practice Kart (ROM, states, JSON, Lua) and the Super Mario Kart files without a ROM.

stable-retro looks each file up separately, so a ``MarioKart-Snes/rom.sfc`` in the user
folder is used with the shipped ``data.json``, ``scenario.json`` and ``script.lua``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import stable_retro as retro

from kart_helpers.game.constants import GAMES, PRACTICE_GAME

USER_DIR_VARIABLE = "KART_INTEGRATIONS"


class IntegrationError(FileNotFoundError):
    """A file an integration needs is missing; the message says where we looked and what to do."""


def shipped_integrations_dir() -> Path:
    """The integrations that come with the package (inside it when installed from a wheel,
    the repository's ``integrations/`` in a source checkout)."""
    here = Path(__file__).resolve().parents[1]  # the kart_helpers package
    for candidate in (here / "integrations", here.parent / "integrations"):
        if (candidate / PRACTICE_GAME).is_dir():
            return candidate
    raise IntegrationError(f"the shipped integrations are missing: no {PRACTICE_GAME}/ beside {here}. Reinstall.")


def user_integrations_dir() -> Path:
    """The writable folder for your ROM and states: ``$KART_INTEGRATIONS``, else
    ``~/.kart_rl/integrations``. Created on first use."""
    path = Path(os.environ.get(USER_DIR_VARIABLE) or Path.home() / ".kart_rl" / "integrations").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def integration_dirs() -> list[Path]:
    """Both folders, in the order stable-retro searches them."""
    return [user_integrations_dir(), shipped_integrations_dir()]


def register() -> list[Path]:
    """Register both folders with stable-retro (absolute paths, each once, user folder first)."""
    retro.data.Integrations._init()
    paths = retro.data.Integrations.CUSTOM_PATHS
    wanted = [str(p) for p in integration_dirs()]
    paths[:] = wanted + [p for p in paths if p not in wanted]
    return integration_dirs()


def game_dir(game: str) -> Path:
    """The shipped integration folder of ``game`` (where its JSON and Lua files are)."""
    return shipped_integrations_dir() / game


def user_game_dir(game: str) -> Path:
    """The user-folder twin of ``game``'s integration, for its ROM and states."""
    path = user_integrations_dir() / game
    path.mkdir(parents=True, exist_ok=True)
    return path


def find_file(game: str, name: str) -> Path | None:
    """The file ``name`` of ``game`` as stable-retro will find it, or None."""
    for folder in integration_dirs():
        if (folder / game / name).is_file():
            return folder / game / name
    return None


def read_json(game: str, name: str) -> dict:
    """A JSON file of an integration, e.g. ``read_json(game, "tracks.json")``."""
    path = find_file(game, name)
    if path is None:
        raise IntegrationError(missing_message(game, name, "it ships with the package; reinstall it"))
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}. Fix the file or delete it to use the shipped one.") from err


def list_games() -> list[str]:
    """Our games that can be played right now (their ROM is present)."""
    return [game for game in GAMES if find_file(game, "rom.sfc") is not None]


def list_states(game: str) -> list[str]:
    """Names of the start states of ``game`` in either folder."""
    names = {p.stem for folder in integration_dirs() for p in (folder / game).glob("*.state")}
    return sorted(names)


def missing_message(game: str, name: str, advice: str) -> str:
    looked = ", ".join(str(folder / game) for folder in integration_dirs())
    return f"{game}: no {name} (looked in {looked}); {advice}"
