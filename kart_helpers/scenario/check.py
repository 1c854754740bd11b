"""Check ``scenario.json`` before stable-retro runs it: keys, reward and done entries, scripts, actions.

stable-retro reports these late and vaguely ("attempt to call a nil value", "C++ exception");
here each comes back as ``file:line: message`` with a hint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kart_helpers.emulator.buttons import SNES_BUTTONS
from kart_helpers.problems import Problem, line_of
from kart_helpers.ram.data_json_check import located, variable_problems
from kart_helpers.scenario.files import Scenario, ScenarioError, load_scenario
from kart_helpers.scenario.lua_check import LuaReport, check_lua

SCENARIO_KEYS = {"reward", "rewards", "done", "scripts", "actions", "crop", "crops"}
REWARD_KEYS = {"variables", "time", "script"}
DONE_KEYS = {"variables", "nodes", "condition", "script"}
VARIABLE_SPEC_KEYS = {"reward", "penalty", "measurement", "op", "reference"}
MEASUREMENTS = {"absolute", "delta"}
OPS = {
    "equal",
    "negative-equal",
    "not-equal",
    "less-than",
    "greater-than",
    "less-or-equal",
    "greater-or-equal",
    "nonzero",
    "zero",
    "negative",
    "positive",
    "sign",
}


@dataclass
class ScenarioReport:
    """The result of :func:`check_scenario`: the scenario, its warnings, and the Lua report."""

    scenario: Scenario
    warnings: list[Problem]
    lua: LuaReport | None

    def __str__(self) -> str:
        spec = self.scenario.spec
        lines = [f"{self.scenario.path}: OK"]
        for kind in ("reward", "done"):
            entry = spec.get(kind)
            if isinstance(entry, dict) and "script" in entry:
                lines.append(f"  {kind}: Lua function {self.scenario.function(kind)}()")
            elif isinstance(entry, dict):
                lines.append(f"  {kind}: variables {', '.join(entry.get('variables', {})) or 'none'}")
        lines.append(f"  scripts: {', '.join(p.name for p in self.scenario.scripts) or 'none'}")
        actions = spec.get("actions")
        lines.append("  actions: none (FILTERED mode uses the system's default groups)" if actions is None else "")
        if self.lua:
            lines.append("  " + str(self.lua).replace("\n", "\n  "))
        lines += [str(w) for w in self.warnings]
        return "\n".join(line for line in lines if line)


def check_scenario(
    source: Scenario | str | Path,
    scenario: str = "scenario",
    buttons: Sequence[str] | None = None,
    byte_order: str = "<",
) -> ScenarioReport:
    """Validate a scenario file, the data.json variables it reads, and its Lua before stable-retro loads them.

    Args:
        source: a :class:`Scenario`, a game name, a ``.json`` file or a folder.
        scenario: the scenario's name when ``source`` is a game or folder.
        buttons: the game's button names (default: the SNES pad) for the ``actions`` check.
        byte_order: the platform's (``"<"`` SNES, ``">"`` Genesis), for the fixes suggested.

    Returns:
        The report, with warnings for legal but risky entries (an ``actions`` list, no done,
        an unusual width in data.json).

    Raises:
        ScenarioError: listing every error with its file and line, data.json's included
            (a variable stable-retro would drop or misread).
    """
    scen = source if isinstance(source, Scenario) else load_scenario(source, scenario)
    spec, path = scen.spec, scen.path
    buttons = [b for b in (buttons or SNES_BUTTONS) if b]  # NES pads have a None slot
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for found in variable_problems(scen.variables, byte_order=byte_order):
        (problems if found.severity == "error" else warnings).append(located(found, scen.data_path))

    def at(key: str) -> int | None:
        return line_of(path, f'"{key}"')

    for key in spec:
        if key not in SCENARIO_KEYS:
            warnings.append(
                Problem(
                    f"stable-retro ignores the key '{key}'",
                    path,
                    at(key),
                    hint=f"known keys: {', '.join(sorted(SCENARIO_KEYS))}",
                    severity="warning",
                )
            )
    uses_lua = False
    for kind, allowed in (("reward", REWARD_KEYS), ("done", DONE_KEYS)):
        entry = spec.get(kind)
        if entry is None:
            if kind == "done":
                hint = "episodes then never end by themselves; add a done entry or wrap the env in a TimeLimit"
            else:
                hint = "every step pays 0"
            if kind == "done" or "rewards" not in spec:
                warnings.append(Problem(f"no '{kind}' entry", path, None, hint, "warning"))
            continue
        if not isinstance(entry, dict):
            problems.append(Problem(f'\'{kind}\' must be an object like {{"script": "lua:fn"}}', path, at(kind)))
            continue
        for key in entry:
            if key not in allowed:
                problems.append(
                    Problem(
                        f"'{kind}' has an unknown key '{key}'",
                        path,
                        at(key),
                        f"allowed: {', '.join(sorted(allowed))}",
                    )
                )
        if "script" in entry:
            uses_lua = True
            scope, colon, name = str(entry["script"]).partition(":")
            if not colon or scope != "lua" or not re.fullmatch(r"[A-Za-z_]\w*", name):
                problems.append(
                    Problem(
                        f"'{kind}.script' is {entry['script']!r}; write \"lua:<function name>\"",
                        path,
                        at("script"),
                    )
                )
        for name, var in (entry.get("variables") or {}).items():
            problems += _variable_spec_problems(kind, name, var, scen, at(name))
        if entry.get("condition", "any") not in ("any", "all"):
            problems.append(Problem('\'done.condition\' must be "any" or "all"', path, at("condition")))

    scripts = spec.get("scripts", [])
    if not isinstance(scripts, list) or not all(isinstance(s, str) for s in scripts):
        problems.append(Problem("'scripts' must be a list of file names", path, at("scripts")))
    else:
        for script in scripts:
            if not script.endswith(".lua"):
                problems.append(
                    Problem(
                        f"script '{script}' is not a .lua file; stable-retro picks the language by "
                        "extension and silently skips it",
                        path,
                        at("scripts"),
                    )
                )
            elif not (path.parent / script).is_file():
                problems.append(Problem(f"script '{script}' not found beside {path.name}", path, at("scripts")))
    if uses_lua and not scripts:
        problems.append(
            Problem("a Lua function is named but 'scripts' lists no file", path, None, 'add "scripts": ["script.lua"]')
        )

    actions = spec.get("actions")
    if actions is not None:
        problems_, warning = _actions_problems(actions, buttons, path, at("actions"))
        problems += problems_
        warnings += warning

    if problems:
        raise ScenarioError(problems)
    lua = check_lua(scen) if uses_lua else None
    return ScenarioReport(scen, warnings + (lua.warnings if lua else []), lua)


def _variable_spec_problems(kind: str, name: str, var: Any, scen: Scenario, line: int | None) -> list[Problem]:
    path, found = scen.path, []
    if scen.variables and name not in scen.variables:
        found.append(Problem(f"'{kind}' uses variable '{name}', which data.json lacks", path, line))
    if not isinstance(var, dict):
        return [*found, Problem(f"'{kind}.variables.{name}' must be an object", path, line)]
    for key in var:
        if key not in VARIABLE_SPEC_KEYS:
            hint = f"allowed: {', '.join(sorted(VARIABLE_SPEC_KEYS))}"
            found.append(Problem(f"'{kind}.variables.{name}' has an unknown key '{key}'", path, line, hint))
    if "measurement" in var and var["measurement"] not in MEASUREMENTS:
        found.append(Problem(f'measurement {var["measurement"]!r}: use "absolute" or "delta"', path, line))
    if "op" in var and var["op"] not in OPS:
        hint = f"stable-retro treats unknown ops as no test at all; ops: {', '.join(sorted(OPS))}"
        found.append(Problem(f"op {var['op']!r} is unknown", path, line, hint))
    return found


def _actions_problems(actions: Any, buttons: list[str], path: Path, line: int | None) -> tuple[list, list]:
    shape = 'a list of groups of button lists, e.g. [[[], ["LEFT"], ["RIGHT"]], [[], ["B"]]]'
    if not isinstance(actions, list) or not all(
        isinstance(g, list) and all(isinstance(c, list) for c in g) for g in actions
    ):
        return [Problem(f"'actions' must be {shape}", path, line)], []
    named = {b for group in actions for combo in group for b in combo}
    unknown = sorted(named - set(buttons))
    if unknown:
        hint = f"this system's buttons: {', '.join(buttons)}"
        message = f"'actions' names unknown buttons {unknown}; stable-retro maps them to nothing"
        return [Problem(message, path, line, hint)], []
    never = [b for b in buttons if b not in named]
    message = (
        "'actions' is set: in the default Actions.FILTERED mode every press outside these "
        f"combinations is silently dropped; these buttons can never be pressed: {', '.join(never) or 'none'}"
    )
    hint = "delete 'actions', or make the env with use_restricted_actions=retro.Actions.ALL"
    return [], [Problem(message, path, line, hint, "warning")]
