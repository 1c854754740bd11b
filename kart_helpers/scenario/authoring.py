"""Edit a reward script: read one Lua function, add a reward term."""

from __future__ import annotations

import dataclasses
import json
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kart_helpers.emulator.integration import find_file, refuse_shipped, user_game_dir
from kart_helpers.scenario.check import check_scenario
from kart_helpers.scenario.files import ScenarioError, load_scenario


def write_scenario(
    game: str,
    name: str,
    script: str,
    reward: str = "kart_reward",
    done: str | None = "kart_done",
    folder: Path | None = None,
) -> Path:
    """Check, then write ``<name>.json`` and ``<name>.lua`` into your user folder for ``game``.

    Use it with ``make_env(game, scenario=name)``. The Lua is checked (as in :func:`check_lua`)
    against the game's ``data.json`` before anything is written.

    Returns:
        The path of the scenario file.

    Raises:
        ScenarioError: naming each problem, with the line in your script.
        ShippedFolderError: ``folder`` (or the user folder) is inside the shipped integrations.
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"scenario name {name!r}: use letters, digits, '_' or '-'")
    folder = refuse_shipped(folder if folder is not None else user_game_dir(game))
    spec: dict[str, Any] = {"reward": {"script": f"lua:{reward}"}}
    if done:
        spec["done"] = {"script": f"lua:{done}"}
    spec["scripts"] = [f"{name}.lua"]
    data_path = find_file(game, "data.json")
    variables = json.loads(data_path.read_text())["info"] if data_path else {}
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / f"{name}.json"
        trial.write_text(json.dumps(spec, indent=2) + "\n")
        (Path(tmp) / f"{name}.lua").write_text(script)
        try:
            check_scenario(load_scenario(trial, variables=variables))
        except ScenarioError as err:  # name the files as they would have been written
            moved = [dataclasses.replace(p, path=folder / p.path.name) if p.path else p for p in err.problems]
            raise type(err)(moved) from None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.lua").write_text(script)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(spec, indent=2) + "\n")
    return path


def copy_scenario(
    source: str | Path,
    folder: Path | None = None,
    scripts: Mapping[str, str] | None = None,
    scenario: str = "scenario",
) -> Path:
    """Copy a scenario (its ``.json``, its scripts and ``data.json``) to experiment on.

    Args:
        source: what :func:`load_scenario` accepts (a game name, a file or a folder).
        folder: where to copy to (default: a new temporary folder).
        scripts: file name -> new text, to replace a script in the copy.

    Returns:
        The path of the copied scenario file.
    """
    original = load_scenario(source, scenario)
    folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="scenario_"))
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / original.path.name
    copy.write_text(original.path.read_text())
    (folder / "data.json").write_text(json.dumps({"info": original.variables}, indent=2) + "\n")
    for path in original.scripts:
        if path.is_file():
            (folder / path.name).write_text(path.read_text())
    for name, text in (scripts or {}).items():
        (folder / name).write_text(text)
    return copy


def lua_function_source(source: str, name: str) -> str:
    """The text of ``[local] function name(...) ... end`` in ``source``, with its comments above."""
    lines = source.splitlines()
    start = next(
        (i for i, t in enumerate(lines) if re.match(rf"\s*(local\s+)?function\s+{re.escape(name)}\s*\(", t)), None
    )
    if start is None:
        raise ValueError(f"no function {name} in the script")
    first = start
    while first > 0 and lines[first - 1].lstrip().startswith("--"):
        first -= 1
    indent = len(lines[start]) - len(lines[start].lstrip())
    end = next(i for i in range(start + 1, len(lines)) if lines[i] == " " * indent + "end")
    return "\n".join(lines[first : end + 1])


def add_reward_term(source: str, name: str, function: str) -> str:
    """``source`` (a script laid out like the course's script.lua) with one more reward component.

    ``function`` is Lua text defining ``local function <name>(ram) ... end``; ``ram`` holds the
    variables that ``read_ram()`` reads. The new component is summed into the reward, and
    appears in the ``components`` and ``totals`` tables under ``name``.

    Raises:
        ValueError: ``function`` does not define ``name``, or ``source`` lacks the anchors
            (``COMPONENT_NAMES``, and ``advance()``'s loop adding components into totals).
    """
    if not re.search(rf"\bfunction\s+{re.escape(name)}\s*\(", function):
        raise ValueError(f"the function text must define `local function {name}(ram) ... end`")
    names = re.search(r"(local COMPONENT_NAMES = \{)([^}]*)(\})", source)
    summing = re.search(r"\n(\s*)for _, name in ipairs\(COMPONENT_NAMES\) do\n\s*totals\[name\]", source)
    terms_end = re.search(r"\n-- Episode end", source) or re.search(r"\nlocal function advance\(", source)
    if not (names and summing and terms_end):
        raise ValueError("the script does not have the course script's layout (COMPONENT_NAMES, advance())")
    if f'"{name}"' in names.group(2):
        raise ValueError(f"the script already has a component named {name!r}")
    indent = summing.group(1)
    # Insert from the end of the text backwards, so earlier offsets stay valid.
    edits = sorted(
        [
            (names.end(2), f', "{name}" '),
            (summing.start(), f"\n{indent}components.{name} = {name}(ram)"),
            (terms_end.start(), "\n" + function.strip("\n") + "\n"),
        ],
        reverse=True,
    )
    for offset, text in edits:
        source = source[:offset] + text + source[offset:]
    return source
