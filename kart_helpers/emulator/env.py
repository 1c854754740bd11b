"""Make the emulator env: one per process, the previous one closed first."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import stable_retro as retro

from kart_helpers.emulator.integration import (
    IntegrationError,
    find_file,
    find_rom,
    game_system,
    integration_dirs,
    list_states,
    missing_message,
    read_json,
    register,
    rom_names,
    user_game_dir,
)
from kart_helpers.emulator.preflight import IntegrationFileError, check_addresses, check_files
from kart_helpers.emulator.states import load_state, read_state
from kart_helpers.game.constants import GAMES, PRACTICE_GAME, REAL_GAME

_live_env: Any = None


def check_integration(game: str, state: Any = retro.State.DEFAULT, scenario: str | None = None) -> None:
    """Raise IntegrationError naming the first missing file that ``make_env`` would need.

    Covers games in every folder we register (the user folder, your own folders, the shipped
    one). For a game bundled with stable-retro (e.g. ``Airstriker-Genesis-v0``) only the state
    is checked. A named state file is also read and checked, since stable-retro ignores a bad one.
    """
    if game not in GAMES and not any((folder / game).is_dir() for folder in integration_dirs()):
        if game not in retro.data.list_games(retro.data.Integrations.ALL):
            raise IntegrationError(
                f"unknown game {game!r}: no {game}/ folder in {', '.join(map(str, integration_dirs()))}. "
                f"Our games are {', '.join(GAMES)}; stable_retro.data.list_games() lists the games bundled "
                "with stable-retro; for your own, make its folder in user_game_dir(game) or add the folder "
                "that holds it with kart_helpers.emulator.integration.add_integration_dir(path)"
            )
        _check_state(game, state, bundled=True)
        return
    if find_rom(game) is None:
        raise IntegrationError(missing_message(game, f"ROM ({_rom_label(game)})", _rom_advice(game)))
    if find_file(game, "data.json") is None:
        advice = (
            "write one with kart_helpers.ram.data_json.write_data_json(variables, user_game_dir(game)) (notebook 02)"
        )
        raise IntegrationError(missing_message(game, "data.json", advice))
    scenario_file = f"{scenario}.json" if scenario else "scenario.json"
    if not (scenario and scenario.endswith(".json")) and find_file(game, scenario_file) is None:
        raise IntegrationError(
            missing_message(game, scenario_file, "check the scenario name, or write one (notebook 04)")
        )
    _check_state(game, state, bundled=False)


def _rom_label(game: str) -> str:
    names = rom_names(game)
    return names[0] if game_system(game) else "rom.<ext>, e.g. rom.sfc (SNES) or rom.md (Genesis)"


def _rom_advice(game: str) -> str:
    if game == PRACTICE_GAME:
        return "the package ships it; reinstall the package"
    if game == REAL_GAME:
        return "import your ROM with kart_helpers.rom.importer.import_rom(path) (notebook 01)"
    sha = "" if find_file(game, "rom.sha") else f"; write its SHA-1 into {user_game_dir(game) / 'rom.sha'} first"
    return (
        f"import your ROM with kart_helpers.rom.importer.import_rom(path, game={game!r}), which checks it "
        f"against the SHA-1 in {game}/rom.sha{sha}"
    )


def _check_state(game: str, state: Any, bundled: bool) -> None:
    """The state make_env would load exists and is a whole snapshot (stable-retro ignores a bad one)."""
    if state == retro.State.DEFAULT:
        if bundled:
            return  # stable-retro's own metadata.json
        meta = read_json(game, "metadata.json") if find_file(game, "metadata.json") else {}
        state = meta.get("default_state")
        if state is None:
            raise IntegrationError(
                missing_message(
                    game,
                    "default state in metadata.json",
                    "make a start state with kart_helpers.emulator.states.save_start_state (notebook 03), "
                    "or pass state='<name>' or state=retro.State.NONE (power-on)",
                )
            )
    if not isinstance(state, str):
        return
    name = state if state.endswith(".state") else f"{state}.state"
    if Path(name).is_absolute():
        path: Path | None = Path(name) if Path(name).is_file() else None
    elif bundled:
        found = retro.data.get_file_path(game, name, retro.data.Integrations.ALL)
        path = Path(found) if found else None
    else:
        path = find_file(game, name)
    if path is None:
        have = _bundled_states(game) if bundled else list_states(game)
        raise IntegrationError(
            missing_message(game, name, f"states available: {', '.join(have) or 'none yet'}; make one in notebook 03")
        )
    if game_system(game) in (None, "Snes"):
        read_state(path)  # raises StateError for a corrupt or foreign file (snes9x snapshots only)


def _bundled_states(game: str) -> list[str]:
    found = retro.data.get_file_path(game, "rom.sha", retro.data.Integrations.ALL)
    return sorted(p.stem for p in Path(found).parent.glob("*.state")) if found else []


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
    which says which file, where we looked, and what to do; a data.json, scenario or Lua
    script that stable-retro would fail on or misread raises IntegrationFileError, naming
    the file, the line and the fix (see ``kart_helpers.emulator.preflight``). Other keyword
    arguments go to ``stable_retro.make``.
    """
    global _live_env
    close_live_env()
    register()
    check_integration(game, state, scenario)
    data_path = check_files(game, scenario, info)  # before stable-retro reads them: its errors are vague
    kwargs.setdefault("render_mode", "rgb_array")
    kwargs.setdefault("inttype", retro.data.Integrations.ALL)
    _live_env = retro.make(game, state=state, scenario=scenario, info=info, **kwargs)
    try:
        check_addresses(_live_env, data_path)  # needs the live RAM blocks; before reset() reads them
    except IntegrationFileError:
        close_live_env()
        raise
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
