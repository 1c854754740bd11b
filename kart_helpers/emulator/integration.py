"""Where the course's stable-retro integrations live, and how to make an env from them.

These folders are registered with stable-retro, searched in this order for every file:

1. the **user folder** (``user_integrations_dir()``): writable, outside site-packages.
   Your imported ROM, your start states and any ``data.json`` you write go here.
2. **your own folders**, if any, in the order you added them: ``add_integration_dir(path)``
   in this process, or ``KART_EXTRA_INTEGRATIONS`` (paths joined by ``os.pathsep``) for every
   process. Each holds game folders (``MyGame-Genesis/rom.md``, ``data.json``, ...).
3. the **shipped folder** (``shipped_integrations_dir()``): what comes with the package,
   i.e. Practice Kart (ROM, states, JSON, Lua) and the Super Mario Kart files without a ROM.

stable-retro looks each file up separately, so a ``MarioKart-Snes/rom.sfc`` in the user
folder is used with the shipped ``data.json``, ``scenario.json`` and ``script.lua``.
Nothing the package writes for you goes into the shipped folder (:func:`refuse_shipped`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import stable_retro as retro

from kart_helpers.game.constants import GAMES, PRACTICE_GAME

USER_DIR_VARIABLE = "KART_INTEGRATIONS"
EXTRA_DIRS_VARIABLE = "KART_EXTRA_INTEGRATIONS"

_extra_dirs: list[Path] = []  # add_integration_dir's folders; workers get them from their factory


class IntegrationError(FileNotFoundError):
    """A file an integration needs is missing; the message says where we looked and what to do."""


class ShippedFolderError(PermissionError):
    """A helper was asked to write inside the shipped integrations, which must stay as they are."""


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


def add_integration_dir(path: str | Path) -> Path:
    """Add a folder of your own integrations (game folders inside it), searched after the user
    folder and before the shipped one, in this process and in the vector-env workers it starts.

    For every process (a shell, a CI job), set ``KART_EXTRA_INTEGRATIONS`` instead.

    Raises:
        IntegrationError: ``path`` is not a folder.
    """
    folder = Path(path).expanduser().resolve()  # stable-retro needs absolute paths
    if not folder.is_dir():
        raise IntegrationError(f"{folder} is not a folder: an integration folder holds game folders (MyGame-Snes/)")
    if folder not in _extra_dirs:
        _extra_dirs.append(folder)
    return folder


def extra_integration_dirs() -> list[Path]:
    """Your own folders: ``KART_EXTRA_INTEGRATIONS``'s, then those of :func:`add_integration_dir`."""
    listed = [Path(p).expanduser().resolve() for p in os.environ.get(EXTRA_DIRS_VARIABLE, "").split(os.pathsep) if p]
    return list(dict.fromkeys([*listed, *_extra_dirs]))


def integration_dirs() -> list[Path]:
    """Every folder, in the order stable-retro searches them: user, your own, shipped."""
    user, shipped = user_integrations_dir(), shipped_integrations_dir()
    return list(dict.fromkeys([user, *extra_integration_dirs(), shipped]))


def refuse_shipped(folder: str | Path, error: type[Exception] = ShippedFolderError) -> Path:
    """``folder``, resolved, unless it is inside the shipped integrations: then raise ``error``.

    Every helper that writes an integration file (ROM, state, data.json, scenario) calls it
    first, so pointing ``KART_INTEGRATIONS`` at the package's own folder loses nothing.
    """
    resolved = Path(folder).expanduser().resolve()
    try:
        shipped = shipped_integrations_dir().resolve()
    except IntegrationError:
        return resolved  # no shipped folder at all: nothing to protect
    if resolved == shipped or shipped in resolved.parents:
        raise error(
            f"{resolved} is inside the package's own integrations folder ({shipped}), which must stay as "
            f"it is; nothing was written. Write into your user folder, user_game_dir(game) from "
            f"kart_helpers.emulator.integration: set {USER_DIR_VARIABLE} to a folder of your own (now "
            f"{os.environ.get(USER_DIR_VARIABLE) or 'unset'}; unset, it is ~/.kart_rl/integrations), or pass a folder "
            "of your own."
        )
    return resolved


def register() -> list[Path]:
    """Register every folder with stable-retro (absolute paths, each once, in search order)."""
    retro.data.Integrations._init()
    paths = retro.data.Integrations.CUSTOM_PATHS
    wanted = [str(p) for p in integration_dirs()]
    paths[:] = wanted + [p for p in paths if p not in wanted]
    return integration_dirs()


def game_dir(game: str) -> Path:
    """The shipped integration folder of ``game`` (where its JSON and Lua files are)."""
    return shipped_integrations_dir() / game


def user_game_dir(game: str) -> Path:
    """The user-folder twin of ``game``'s integration, for its ROM and states; created, unless the
    user folder is the shipped one (then every writer refuses, see :func:`refuse_shipped`)."""
    path = user_integrations_dir() / game
    try:
        refuse_shipped(path)
    except ShippedFolderError:
        return path
    path.mkdir(parents=True, exist_ok=True)
    return path


def game_system(game: str) -> str | None:
    """stable-retro's platform of ``game`` from its name (``"Snes"`` for ``MarioKart-Snes``,
    ``"Genesis"`` for ``Airstriker-Genesis-v0``), or None when the name has none."""
    systems = retro.data.EMU_INFO
    return next((part for part in reversed(game.split("-")) if part in systems), None)


def rom_names(game: str) -> list[str]:
    """The ROM file names stable-retro accepts for ``game``: ``["rom.sfc"]`` on SNES, ``["rom.md"]``
    on Genesis; every console's when the name has no platform (stable-retro tries them all)."""
    system = game_system(game)
    if system is not None:
        return [f"rom.{ext}" for ext in retro.data.EMU_INFO[system]["ext"]]
    return [f"rom{ext}" for ext in retro.data.EMU_EXTENSIONS]


def find_rom(game: str) -> Path | None:
    """``game``'s ROM as stable-retro will find it in our folders, or None."""
    return next((path for name in rom_names(game) if (path := find_file(game, name)) is not None), None)


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
    return [game for game in GAMES if find_rom(game) is not None]


def list_states(game: str) -> list[str]:
    """Names of the start states of ``game`` in either folder."""
    names = {p.stem for folder in integration_dirs() for p in (folder / game).glob("*.state")}
    return sorted(names)


def missing_message(game: str, name: str, advice: str) -> str:
    looked = ", ".join(str(folder / game) for folder in integration_dirs())
    return f"{game}: no {name} (looked in {looked}); {advice}"
