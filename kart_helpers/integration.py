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

import gc
import json
import os
from pathlib import Path
from typing import Any

import stable_retro as retro

PRACTICE_GAME = "PracticeKart-Snes"
REAL_GAME = "MarioKart-Snes"
GAMES = (PRACTICE_GAME, REAL_GAME)
USER_DIR_VARIABLE = "KART_INTEGRATIONS"

_live_env: Any = None


class IntegrationError(FileNotFoundError):
    """A file an integration needs is missing; the message says where we looked and what to do."""


def shipped_integrations_dir() -> Path:
    """The integrations that come with the package (inside it when installed from a wheel,
    the repository's ``integrations/`` in a source checkout)."""
    here = Path(__file__).resolve().parent
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
        raise IntegrationError(_missing(game, name, "it ships with the package; reinstall it"))
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


def _missing(game: str, name: str, advice: str) -> str:
    looked = ", ".join(str(folder / game) for folder in integration_dirs())
    return f"{game}: no {name} (looked in {looked}); {advice}"


def check_integration(game: str, state: Any = retro.State.DEFAULT, scenario: str | None = None) -> None:
    """Raise IntegrationError naming the first missing file that ``make_env`` would need.

    Games bundled with stable-retro (e.g. ``Airstriker-Genesis-v0``) are left to stable-retro.
    A named state file is also read and checked, since stable-retro ignores a bad one.
    """
    if game not in GAMES and not any((folder / game).is_dir() for folder in integration_dirs()):
        if game in retro.data.list_games(retro.data.Integrations.ALL):
            return
        raise IntegrationError(
            f"unknown game {game!r}: our games are {', '.join(GAMES)}; "
            "stable_retro.data.list_games() lists the games bundled with stable-retro"
        )
    if find_file(game, "rom.sfc") is None:
        advice = (
            "import your ROM with kart_helpers.roms.import_rom(path) (notebook 01)"
            if game == REAL_GAME
            else "the package ships it; reinstall the package"
        )
        raise IntegrationError(_missing(game, "ROM (rom.sfc)", advice))
    if find_file(game, "data.json") is None:
        raise IntegrationError(_missing(game, "data.json", "write one with kart_helpers.ram (notebook 02)"))
    scenario_file = f"{scenario}.json" if scenario else "scenario.json"
    if find_file(game, scenario_file) is None:
        raise IntegrationError(_missing(game, scenario_file, "check the scenario name, or write one (notebook 04)"))
    if state == retro.State.DEFAULT:
        meta = read_json(game, "metadata.json") if find_file(game, "metadata.json") else {}
        state = meta.get("default_state")
        if state is None:
            raise IntegrationError(_missing(game, "default state in metadata.json", "make a start state (notebook 03)"))
    if isinstance(state, str):
        path = find_file(game, f"{state}.state")
        if path is None:
            have = list_states(game) or ["none yet"]
            raise IntegrationError(
                _missing(game, f"{state}.state", f"states available: {', '.join(have)}; make one in notebook 03")
            )
        from kart_helpers.states import read_state  # states imports this module

        read_state(path)  # raises StateError for a corrupt or foreign file


def close_live_env() -> None:
    """Close the emulator this process holds; stable-retro allows only one per process."""
    global _live_env
    if _live_env is not None:
        _live_env.close()
        _live_env = None
        gc.collect()


def make_env(
    game: str = PRACTICE_GAME,
    state: Any = retro.State.DEFAULT,
    scenario: str | None = None,
    info: str | None = None,
    **kwargs: Any,
) -> Any:
    """A stable-retro env for one of our games, rendering to arrays (``render_mode="rgb_array"``).

    Any emulator made earlier by this function is closed first, so re-running a notebook
    cell works. ``state`` is a state name, ``retro.State.DEFAULT`` (the one that
    ``metadata.json`` names) or ``retro.State.NONE`` (power-on). ``scenario`` and ``info``
    name other JSON files of the integration. A missing file raises IntegrationError,
    which says which file, where we looked, and what to do. Other keyword arguments go
    to ``stable_retro.make``.
    """
    global _live_env
    close_live_env()
    register()
    check_integration(game, state, scenario)
    kwargs.setdefault("render_mode", "rgb_array")
    kwargs.setdefault("inttype", retro.data.Integrations.ALL)
    _live_env = retro.make(game, state=state, scenario=scenario, info=info, **kwargs)
    return _live_env
