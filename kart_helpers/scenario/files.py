"""Load, write and copy ``scenario.json``; the errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kart_helpers.emulator.integration import find_file
from kart_helpers.problems import Problem, line_of


class ScenarioError(ValueError):
    """``scenario.json`` or its scripts would fail in stable-retro; ``problems`` lists why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class LuaCheckError(ScenarioError):
    """A Lua script fails to compile, uses something undefined, or fails when run.

    ``path`` and ``line`` locate the first problem.
    """

    @property
    def path(self) -> Path | None:
        return self.problems[0].path

    @property
    def line(self) -> int | None:
        return self.problems[0].line


@dataclass
class Scenario:
    """A scenario file and what it refers to.

    Attributes:
        path: the ``.json`` file.
        spec: its parsed content.
        variables: name -> {address, type} from the ``data.json`` stable-retro would use.
        scripts: the script files, resolved beside ``path`` as stable-retro does.
        data_path: the ``data.json`` that ``variables`` came from, when read from a file.
    """

    path: Path
    spec: dict
    variables: dict[str, dict]
    scripts: list[Path] = field(default_factory=list)
    data_path: Path | None = None

    def function(self, kind: str) -> str | None:
        """The Lua function named by ``spec[kind]["script"]`` (kind: "reward" or "done"), if any."""
        entry = self.spec.get(kind)
        script = entry.get("script") if isinstance(entry, dict) else None
        return script.partition(":")[2] or script if isinstance(script, str) else None

    @property
    def reward_function(self) -> str | None:
        return self.function("reward")

    @property
    def done_function(self) -> str | None:
        return self.function("done")


def load_scenario(source: str | Path, scenario: str = "scenario", variables: Mapping | None = None) -> Scenario:
    """Read a scenario: ``source`` is a game name (its ``<scenario>.json`` as stable-retro
    finds it), a ``.json`` file, or a folder holding ``<scenario>.json``.

    ``variables`` (name -> spec) replaces the ``data.json`` looked up beside it or for the game.

    Raises:
        ScenarioError: the file or its data.json is missing or is not valid JSON (with its line).
    """
    path, data_path = _locate(source, scenario)
    spec = read_json_object(path, "a scenario")
    if variables is None:
        info = read_json_object(data_path, "data.json").get("info", {}) if data_path else {}
        if not isinstance(info, dict):
            raise ScenarioError(
                [Problem('"info" must be an object of variables', data_path, line_of(data_path, '"info"'))]
            )
        variables = info
    else:
        data_path = None
    scripts = spec.get("scripts", [])
    scripts = [path.parent / s for s in scripts] if isinstance(scripts, list) else []
    return Scenario(path, spec, dict(variables), scripts, data_path)


def read_json_object(path: Path, what: str) -> dict:
    """A JSON file that must hold an object; ScenarioError naming the file and line otherwise."""
    text = path.read_text(errors="replace")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        cut = not text.rstrip().endswith("}")  # an object's file ends with its closing brace
        hint = "the file ends too early (cut short?): restore its end" if cut else "a missing comma, quote or bracket"
        raise ScenarioError([Problem(f"not valid JSON: {err.msg}", path, err.lineno, hint)]) from err
    if not isinstance(value, dict):
        raise ScenarioError([Problem(f"{what} is a JSON object {{ ... }}", path, 1)])
    return value


def _locate(source: str | Path, scenario: str) -> tuple[Path, Path | None]:
    candidate = Path(source)
    if candidate.suffix == ".json" or candidate.is_dir():
        path = candidate if candidate.suffix == ".json" else candidate / f"{scenario}.json"
        if not path.is_file():
            raise ScenarioError([Problem("no such scenario file", path)])
        data = path.parent / "data.json"
        return path, data if data.is_file() else None
    found = find_file(str(source), f"{scenario}.json")
    if found is None:
        raise ScenarioError([Problem(f"{source}: no {scenario}.json in its integration folders")])
    return found, find_file(str(source), "data.json")
