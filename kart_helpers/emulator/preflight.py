"""Check an integration's files before stable-retro loads them: data.json, the scenario and its Lua.

stable-retro reports a broken file late and vaguely: ``AssertionError: Failed to load info ...
or scenario`` for bad JSON (and, under ``python -O``, a dead env that pays 0), ``Lua call
failed: C++ exception`` for a variable it dropped or an address outside RAM, ``attempt to
call a nil value`` for a script that did not load. ``make_env`` runs :func:`check_files`
before ``stable_retro.make`` and :func:`check_addresses` after it, before the first
``reset()`` (where the Lua first reads RAM), so each of these becomes one
:class:`IntegrationFileError` naming the file, the line and the fix.

The checks are the course's own (``kart_helpers.ram.data_json_check``,
``kart_helpers.scenario.check``); they are cached by the bytes of the files, so a
``make_env`` after the first costs a few file reads and hashes. Files that ship with
stable-retro itself (``Airstriker-Genesis-v0``) are stable-retro's business and are not checked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import stable_retro as retro

from kart_helpers.emulator.integration import IntegrationError, find_file, game_system, shipped_integrations_dir
from kart_helpers.problems import Problem
from kart_helpers.ram.data_json_check import located, variable_problems
from kart_helpers.ram.memory_map import MemoryMap, byte_order_of
from kart_helpers.scenario.check import check_scenario
from kart_helpers.scenario.files import ScenarioError, load_scenario, read_json_object

_passed: set[tuple] = set()  # keys of file sets that passed: (what, system, (path, sha1) ...)


class IntegrationFileError(ValueError):
    """An integration file that stable-retro would fail on or misread; ``problems`` lists each
    one with its file, line and fix. Nothing was loaded."""

    def __init__(self, game: str, problems: Sequence[Problem], advice: str = "") -> None:
        self.game = game
        self.problems = list(problems)
        count = f"{len(self.problems)} problem(s)" if len(self.problems) > 1 else "a problem"
        lines = [f"make_env({game!r}): {count} in the integration files, found before stable-retro loaded them:"]
        lines += ["  " + str(p).replace("\n", "\n  ") for p in self.problems]
        super().__init__("\n".join(lines + ([advice] if advice else [])))


def integration_file(game: str, name: str | None, default: str) -> Path | None:
    """The file stable-retro will load for ``game``: ``name`` is a file's stem (``"data"``), or,
    ending in ``.json``, a path, as stable-retro takes it; None when there is none.

    Raises:
        IntegrationError: a path that is not a file (stable-retro would fail vaguely).
    """
    if name and name.endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise IntegrationError(
                f"{path} is not a file (looked in {Path.cwd()}): make_env takes a name ending in .json as a path; "
                "give the name without .json for a file of the game's integration folder"
            )
        return path
    return find_file(game, f"{name or default}.json")


def _ours(path: Path | None) -> bool:
    """True for a file the learner may have written: anything but stable-retro's own game files."""
    return path is not None and not path.resolve().is_relative_to(Path(retro.data.path()).resolve())


def _digest(paths: Sequence[Path]) -> tuple:
    return tuple((str(p), hashlib.sha1(p.read_bytes()).hexdigest() if p.is_file() else None) for p in paths)


def _scripts(scenario_path: Path) -> list[Path]:
    """The scripts a scenario names, for the cache key (an unreadable scenario names none)."""
    try:
        scripts = json.loads(scenario_path.read_bytes()).get("scripts", [])
    except (ValueError, AttributeError):
        return []
    return [scenario_path.parent / s for s in scripts if isinstance(s, str)] if isinstance(scripts, list) else []


def _advice(paths: Sequence[Path | None]) -> str:
    """How to get back to a working file: the shipped copy, when the broken one shadows it."""
    try:
        shipped = shipped_integrations_dir()
    except FileNotFoundError:
        return ""
    for path in paths:
        if path is None or path.resolve().is_relative_to(shipped):
            continue
        twin = shipped / path.parent.name / path.name
        if twin.is_file():
            return f"Fix the line shown, or delete {path} to use the shipped {twin.name} again."
    return "Fix the line shown; make_env checks again when the file changes."


def check_files(game: str, scenario: str | None = None, info: str | None = None) -> Path | None:
    """Check the data.json, scenario and Lua that ``stable_retro.make(game, ...)`` would load.

    ``scenario`` and ``info`` are as in ``make_env``: a name (``"scenario"``, ``"data"`` by
    default) or a path ending in ``.json``. Returns the data.json checked (for
    :func:`check_addresses`), or None when the files are stable-retro's own or absent.

    Raises:
        IntegrationFileError: naming each problem's file and line, with its fix.
    """
    data_path = integration_file(game, info, "data")
    scenario_path = integration_file(game, scenario, "scenario")
    if not (_ours(data_path) or _ours(scenario_path)):
        return None
    files = [p for p in (data_path, scenario_path) if p is not None]
    system = game_system(game)
    key = ("files", system, *_digest(files + (_scripts(scenario_path) if scenario_path else [])))
    if key in _passed:
        return data_path
    problems: list[Problem] = []
    variables: dict[str, Any] = {}
    byte_order = byte_order_of(system)
    if data_path is not None:
        try:
            raw = read_json_object(data_path, "data.json")
            info_table = raw.get("info")
            if not isinstance(info_table, dict):
                raise ScenarioError(
                    [
                        Problem(
                            'no "info" object: data.json is {"info": {name: {"address": ..., "type": ...}}}',
                            data_path,
                            1,
                        )
                    ]
                )
            variables = info_table
        except ScenarioError as err:
            problems += err.problems
        else:
            for found in variable_problems(variables, byte_order=byte_order):
                if found.severity == "error":
                    problems.append(located(found, data_path))
    if scenario_path is not None and not problems:
        buttons = retro.data.EMU_INFO.get(system, {}).get("buttons") if system else None
        try:
            scen = load_scenario(scenario_path, variables=variables)
            check_scenario(dataclasses.replace(scen, data_path=data_path), buttons=buttons, byte_order=byte_order)
        except ScenarioError as err:
            problems += [p for p in err.problems if p.severity == "error"]
    if problems:
        raise IntegrationFileError(game, problems, _advice([p.path for p in problems]))
    _passed.add(key)
    return data_path


def check_addresses(env: Any, data_path: Path | None) -> None:
    """Check every data.json address against the live env's RAM blocks (any console).

    Call it after ``stable_retro.make`` and before ``reset()``: stable-retro reads the
    variables first in ``reset()``, and a bad address fails there as a bare "C++ exception".

    Raises:
        IntegrationFileError: naming each variable outside RAM, with the blocks there are.
    """
    if data_path is None:
        return
    mm = MemoryMap.from_env(env)
    key = ("addresses", tuple(zip(mm.starts.tolist(), mm.sizes.tolist(), strict=True)), *_digest([data_path]))
    if key in _passed:
        return
    variables = json.loads(data_path.read_bytes())["info"]  # check_files has parsed it already
    problems = [located(p, data_path) for p in variable_problems(variables, mm) if p.severity == "error"]
    if problems:
        raise IntegrationFileError(env.unwrapped.gamename, problems, _advice([data_path]))
    _passed.add(key)
