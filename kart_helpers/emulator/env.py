"""Make the emulator env: one per process, the previous one closed first."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import stable_retro as retro

from kart_helpers.emulator.integration import (
    IntegrationError,
    find_file,
    integration_dirs,
    list_states,
    missing_message,
    read_json,
    register,
)
from kart_helpers.emulator.states import load_state, read_state
from kart_helpers.game.constants import GAMES, PRACTICE_GAME, REAL_GAME

_live_env: Any = None


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
            "import your ROM with kart_helpers.rom.importer.import_rom(path) (notebook 01)"
            if game == REAL_GAME
            else "the package ships it; reinstall the package"
        )
        raise IntegrationError(missing_message(game, "ROM (rom.sfc)", advice))
    if find_file(game, "data.json") is None:
        raise IntegrationError(missing_message(game, "data.json", "write one with kart_helpers.ram (notebook 02)"))
    scenario_file = f"{scenario}.json" if scenario else "scenario.json"
    if find_file(game, scenario_file) is None:
        raise IntegrationError(
            missing_message(game, scenario_file, "check the scenario name, or write one (notebook 04)")
        )
    if state == retro.State.DEFAULT:
        meta = read_json(game, "metadata.json") if find_file(game, "metadata.json") else {}
        state = meta.get("default_state")
        if state is None:
            raise IntegrationError(
                missing_message(game, "default state in metadata.json", "make a start state (notebook 03)")
            )
    if isinstance(state, str):
        path = find_file(game, f"{state}.state")
        if path is None:
            have = list_states(game) or ["none yet"]
            raise IntegrationError(
                missing_message(game, f"{state}.state", f"states available: {', '.join(have)}; make one in notebook 03")
            )

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


POWER_ON = retro.State.NONE
"""Pass as ``state`` to boot the console instead of loading a save state."""


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
