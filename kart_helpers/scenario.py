"""Write and check ``scenario.json`` and its Lua before stable-retro runs them.

stable-retro reports problems late and vaguely: a Lua file with a syntax error is skipped
without a word and the first step fails with "attempt to call a nil value"; a misspelt
variable gives "C++ exception". Here every problem comes back as ``file:line: message``
with a hint, found three ways:

1. **JSON checks** of ``scenario.json``: its keys, the reward and done entries, the script
   files, and the ``actions`` filter (which silently drops buttons).
2. **Static Lua checks**: each script is compiled with Lua 5.1 (lupa) and its bytecode is
   read for every global it uses, so a call of a function that nothing defines is found
   even on a branch that never runs. ``data.<name>`` reads are checked against data.json.
3. **A sandboxed run** (:class:`LuaSandbox`): the scripts run the way stable-retro runs
   them, without an emulator: Lua 5.1 with only base, table, string and math; a ``data``
   table of RAM variables; ``scenario.frame``; fresh globals on every reset; and each
   update calling the done function, then the reward function.
"""

from __future__ import annotations

import dataclasses
import json
import re
import struct
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:
    from lupa import lua51 as _lupa
except ImportError:  # pragma: no cover - a lupa build without its Lua 5.1 module
    import lupa as _lupa

from kart_helpers.integration import find_file, user_game_dir

__all__ = [
    "LuaCheckError",
    "LuaReport",
    "LuaSandbox",
    "Problem",
    "Scenario",
    "ScenarioError",
    "ScenarioReport",
    "add_reward_term",
    "check_lua",
    "check_scenario",
    "copy_scenario",
    "default_actions",
    "filter_buttons",
    "load_scenario",
    "lua_function_source",
    "write_scenario",
]

#: Libraries a stock Lua runtime has but stable-retro's sandbox does not.
NOT_IN_SANDBOX = ("io", "os", "debug", "package", "require", "module", "bit", "bit32", "utf8", "jit", "python")
#: The SNES pad in stable-retro's order (an env's ``buttons``).
SNES_BUTTONS = ("B", "Y", "SELECT", "START", "UP", "DOWN", "LEFT", "RIGHT", "A", "X", "L", "R")
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


# --- problems and errors -------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or risky) in a scenario, located in a file when possible."""

    message: str
    path: Path | None = None
    line: int | None = None
    hint: str = ""
    severity: str = "error"
    """``"error"`` (stable-retro would fail or misbehave) or ``"warning"`` (legal but risky)."""
    code: str = ""
    """The source line blamed; read from ``path`` when the problem is made."""

    def __post_init__(self) -> None:
        if not self.code:  # read it now: the file may be a scratch copy that goes away
            object.__setattr__(self, "code", _source_line(self.path, self.line))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: " if self.path and self.line else f"{self.path}: " if self.path else ""
        text = f"{where}{self.severity}: {self.message}"
        if self.code:
            text += f"\n    {self.line:>4} | {self.code}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


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


def _source_line(path: Path | None, line: int | None) -> str:
    if not path or not line:
        return ""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return ""
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


# --- loading a scenario --------------------------------------------------------------------


@dataclass
class Scenario:
    """A scenario file and what it refers to.

    Attributes:
        path: the ``.json`` file.
        spec: its parsed content.
        variables: name -> {address, type} from the ``data.json`` stable-retro would use.
        scripts: the script files, resolved beside ``path`` as stable-retro does.
    """

    path: Path
    spec: dict
    variables: dict[str, dict]
    scripts: list[Path] = field(default_factory=list)

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
        ScenarioError: the file is missing or is not valid JSON (with its line).
    """
    path, data_path = _locate(source, scenario)
    text = path.read_text()
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        raise ScenarioError([Problem(f"not valid JSON: {err.msg}", path, err.lineno)]) from err
    if not isinstance(spec, dict):
        raise ScenarioError([Problem("a scenario is a JSON object { ... }", path, 1)])
    if variables is None:
        variables = json.loads(data_path.read_text()).get("info", {}) if data_path else {}
    scripts = spec.get("scripts", [])
    scripts = [path.parent / s for s in scripts] if isinstance(scripts, list) else []
    return Scenario(path, spec, dict(variables), scripts)


def _locate(source: str | Path, scenario: str) -> tuple[Path, Path | None]:
    candidate = Path(source)
    if candidate.suffix == ".json" or candidate.is_dir():
        path = candidate if candidate.suffix == ".json" else candidate / f"{scenario}.json"
        if not path.is_file():
            raise ScenarioError([Problem("no such scenario file", path)])
        data = path.parent / "data.json"
        return path, data if data.is_file() else None
    path = find_file(str(source), f"{scenario}.json")
    if path is None:
        raise ScenarioError([Problem(f"{source}: no {scenario}.json in its integration folders")])
    return path, find_file(str(source), "data.json")


# --- the actions filter --------------------------------------------------------------------


def default_actions(system: str = "Snes") -> list[list[list[str]]]:
    """The button groups stable-retro's FILTERED mode allows when a scenario has no ``actions``."""
    import stable_retro as retro

    return retro.data.EMU_INFO[system]["actions"]


def filter_buttons(buttons: str, actions: Sequence[Sequence[Sequence[str]]] | None = None) -> str:
    """What stable-retro's ``Actions.FILTERED`` mode does to pressed ``buttons`` ("B+LEFT+L").

    ``actions`` is a list of groups, each a list of allowed combinations. Per group, the
    pressed buttons of that group survive only if they are exactly one allowed combination;
    buttons in no group never survive. With ``actions=None`` the SNES default applies, which
    has no group for START or SELECT: in FILTERED mode a menu can never be opened.
    """
    pressed = {b for b in buttons.split("+") if b}
    kept: set[str] = set()
    for group in actions if actions is not None else default_actions():
        members = {b for combo in group for b in combo}
        mine = pressed & members
        if any(set(combo) == mine for combo in group):
            kept |= mine
    return "+".join(sorted(kept, key=lambda b: SNES_BUTTONS.index(b) if b in SNES_BUTTONS else len(SNES_BUTTONS)))


# --- the sandbox ---------------------------------------------------------------------------

# stable-retro's ``data`` and ``scenario`` globals, in Lua. Reading an unknown variable fails
# at the reading line (stable-retro says only "C++ exception"); writing one makes a custom
# variable that later reads return, as stable-retro's set_value does.
_PROXIES = """
local ram, custom, clock = {}, {}, { frame = 0 }
local floor = math.floor
local data = setmetatable({}, {
  __index = function(_, name)
    if type(name) == "number" then
      error("data[" .. name .. "] reads memory by address; offline runs know only data.json's variables: "
        .. "name that address in data.json", 2)
    end
    local value = custom[name]
    if value == nil then value = ram[name] end
    if value == nil then
      error("unknown variable '" .. tostring(name) .. "': data.json has no such variable", 2)
    end
    return value
  end,
  __newindex = function(_, name, value)
    local kind = type(value)
    if type(name) ~= "string" then error("Invalid variable name", 2) end
    if kind ~= "number" and kind ~= "boolean" and kind ~= "nil" then error("Invalid variable type", 2) end
    custom[name] = value
  end,
})
local scenario = setmetatable({}, {
  __index = function(_, name)
    if name == "frame" then return clock.frame end
    if name == "timestep" then return floor(clock.frame / 4) end
    error("Unknown scenario property", 2)
  end,
  __newindex = function() end,
})
return data, scenario, ram, clock
"""


def _new_runtime() -> Any:
    runtime = _lupa.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
    lua_globals = runtime.globals()
    for name in NOT_IN_SANDBOX:
        lua_globals[name] = None
    return runtime


def sandbox_globals() -> set[str]:
    """Names that exist in stable-retro's Lua before a script runs (base, coroutine, table,
    string, math, plus ``data`` and ``scenario``)."""
    return {str(k) for k in _new_runtime().globals()} | {"data", "scenario"}


class LuaSandbox:
    """A scenario's Lua, run as stable-retro runs it, on RAM values you give it.

    Call :meth:`reset` with the RAM of the first frame (what ``env.reset()`` shows), then
    :meth:`step` with each following frame's RAM. Each call is one stable-retro update:
    ``scenario.frame`` is 0 in the reset call and counts up; the done function runs, then the
    reward function. Every reset starts a fresh Lua state, so globals start over.

    Args:
        scenario: the scenario whose scripts and functions to run.
        order: the functions called per update; stable-retro calls done, then reward.
    """

    def __init__(self, scenario: Scenario, order: Sequence[str] = ("done", "reward")) -> None:
        self.scenario = scenario
        self.order = tuple(order)
        self.lua: Any = None
        self._frame = -1

    @property
    def frame(self) -> int:
        """``scenario.frame`` of the latest update (0 for the reset call)."""
        return self._frame

    def reset(self, ram: Mapping[str, float]) -> tuple[float, bool]:
        """Start an episode: a fresh Lua state, the scripts loaded, and the reset call."""
        self.lua = _new_runtime()
        data, scenario, self._ram, self._clock = self.lua.execute(_PROXIES)
        self.lua.globals().data = data
        self.lua.globals().scenario = scenario
        self._chunks = {}
        for path in self.scenario.scripts:
            self._chunks[path.name] = path
            try:
                self.lua.execute(path.read_text(), name=f"@{path.name}")
            except _lupa.LuaError as err:
                raise LuaCheckError([self._problem(err, "while loading the script")]) from None
        self._frame = -1
        return self._update(ram)

    def step(self, ram: Mapping[str, float]) -> tuple[float, bool]:
        """One emulator frame: update with ``ram`` and return (reward, done) as stable-retro would."""
        if self.lua is None:
            raise RuntimeError("call reset(ram) before step(ram)")
        return self._update(ram)

    def _update(self, ram: Mapping[str, float]) -> tuple[float, bool]:
        for name, value in ram.items():
            self._ram[name] = value.item() if isinstance(value, np.generic) else value
        self._frame += 1
        self._clock.frame = self._frame
        results = {kind: self.call_entry(kind) for kind in self.order}
        return results.get("reward", 0.0), results.get("done", False)

    def call_entry(self, kind: str) -> Any:
        """Call the reward or done function, converted as stable-retro converts it:
        reward to a 32-bit float, done to a bool (a Lua number 0 is false there)."""
        name = self.scenario.function(kind)
        if name is None:
            return 0.0 if kind == "reward" else False
        value = self.call(name)
        if kind == "done":
            return bool(value) if not isinstance(value, int | float) else value != 0
        if isinstance(value, bool) or value is None:
            return float(bool(value))
        return float(np.float32(value))

    def call(self, name: str) -> Any:
        """Call the global Lua function ``name`` with no arguments."""
        function = self.lua.globals()[name]
        if _lupa.lua_type(function) != "function":
            defined = ", ".join(sorted(self.functions())) or "none"
            problem = Problem(
                f"the scenario calls {name}(), but no script defines a global function {name} "
                f"(stable-retro: 'attempt to call a nil value')",
                self.scenario.path,
                _line_of(self.scenario.path, name),
                hint=f"global functions the scripts define: {defined}",
            )
            raise LuaCheckError([problem])
        try:
            return function()
        except _lupa.LuaError as err:
            raise LuaCheckError([self._problem(err, f"in {name}() at scenario.frame {self._frame}")]) from None

    def functions(self) -> list[str]:
        """Global functions the scripts defined (the sandbox's own excluded)."""
        builtin = _builtin_names()
        return [str(k) for k, v in self.lua.globals().items() if _lupa.lua_type(v) == "function" and k not in builtin]

    def table(self, name: str) -> dict[str, Any]:
        """A global Lua table as a dict, e.g. ``table("components")``."""
        value = self.lua.globals()[name]
        return dict(value.items()) if _lupa.lua_type(value) == "table" else {}

    def value(self, name: str) -> Any:
        """A global Lua value (numbers and strings come back as Python values)."""
        return self.lua.globals()[name]

    def _problem(self, err: Exception, context: str) -> Problem:
        return _problem_from_lua(err, self._chunks, context, self.scenario.variables)


_BUILTINS: set[str] | None = None


def _builtin_names() -> set[str]:
    global _BUILTINS
    if _BUILTINS is None:
        _BUILTINS = sandbox_globals()
    return _BUILTINS


_LOCATION = re.compile(r"^(?:error loading code: )?(?P<chunk>[^:\n]+):(?P<line>\d+): (?P<message>.*)")


def _problem_from_lua(err: Exception, chunks: Mapping[str, Path], context: str, variables: Mapping) -> Problem:
    text = err.args[0] if err.args else ""
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    first = text.splitlines()[0] if text else type(err).__name__
    match = _LOCATION.match(first)
    if match and match["chunk"] in chunks:
        path, line, message = chunks[match["chunk"]], int(match["line"]), match["message"]
    else:
        path, line, message = None, None, first
    return Problem(f"{message} ({context})", path, line, _hint(message, variables))


def _hint(message: str, variables: Mapping = ()) -> str:
    named = re.search(r"global '(\w+)'", message)
    name = named.group(1) if named else None
    if name in ("bit", "bit32"):
        return (
            "stable-retro's Lua has no bit library: test a bit with arithmetic, "
            "e.g. math.floor(value / 16) % 2 == 1 for bit 0x10"
        )
    if name in NOT_IN_SANDBOX:
        return f"stable-retro's Lua opens only base, table, string and math; `{name}` does not exist there"
    if name and "call" in message:
        return (
            f"nothing has defined a function `{name}` when this line runs: a typo, or a local "
            "function defined below its first use (define it above)"
        )
    if "unknown variable" in message:
        return f"data.json's variables: {', '.join(sorted(variables)) or 'none'}"
    if re.search(r"near '(/|&|\||~|<<|>>)'|'=' expected near '\w+'", message):
        return "stable-retro runs Lua 5.1: no // (use math.floor(a / b)), no bitwise operators (& | ~ << >>), no goto"
    if "'end' expected" in message:
        return "a function, if, for or while block is missing its `end`"
    return ""


def _line_of(path: Path, needle: str) -> int | None:
    for number, text in enumerate(Path(path).read_text().splitlines(), start=1):
        if needle in text:
            return number
    return None


# --- static checks -------------------------------------------------------------------------


def _compile(source: str, chunk: str) -> bytes:
    """Lua 5.1 bytecode of ``source`` (raises lupa's LuaSyntaxError)."""
    runtime = _lupa.LuaRuntime(register_eval=False, encoding=None)
    function = runtime.compile(source, name=f"@{chunk}")
    return runtime.eval("string.dump")(function)


def lua_globals(source: str, chunk: str = "script.lua") -> tuple[list[tuple[str, int]], set[str]]:
    """The globals a Lua 5.1 chunk reads and writes, from its bytecode.

    Returns:
        reads: (name, line) for every GETGLOBAL, in every function of the chunk.
        writes: names of every SETGLOBAL (global assignments and ``function name()``).
    """
    blob = _compile(source, chunk)
    if blob[:5] != b"\x1bLuaQ":
        raise ValueError("not Lua 5.1 bytecode")
    int_size, size_t_size, _, number_size = blob[7], blob[8], blob[9], blob[10]
    endian = "<" if blob[6] == 1 else ">"
    int_format = {4: "i", 8: "q"}[int_size]
    size_format = {4: "I", 8: "Q"}[size_t_size]
    position = 12
    reads: list[tuple[str, int]] = []
    writes: set[str] = set()

    def take(fmt: str) -> Any:
        nonlocal position
        value = struct.unpack_from(endian + fmt, blob, position)[0]
        position += struct.calcsize(endian + fmt)
        return value

    def string() -> str | None:
        nonlocal position
        size = take(size_format)
        text = blob[position : position + size - 1].decode("utf-8", "replace") if size else None
        position += size
        return text

    def function() -> None:
        nonlocal position
        string()  # source name
        take(int_format), take(int_format)  # first and last line
        position += 4  # upvalues, parameters, vararg flag, stack size
        code = [take("I") for _ in range(take(int_format))]
        constants: list[Any] = []
        for _ in range(take(int_format)):
            kind = blob[position]
            position += 1
            if kind == 1:
                constants.append(bool(blob[position]))
                position += 1
            elif kind == 3:
                constants.append(struct.unpack_from(endian + "d", blob, position)[0])
                position += number_size
            elif kind == 4:
                constants.append(string())
            else:
                constants.append(None)
        for _ in range(take(int_format)):
            function()
        lines = [take(int_format) for _ in range(take(int_format))]
        for _ in range(take(int_format)):  # local variable names and their ranges
            string(), take(int_format), take(int_format)
        for _ in range(take(int_format)):  # upvalue names
            string()
        for pc, instruction in enumerate(code):
            opcode, bx = instruction & 0x3F, instruction >> 14
            if opcode == 5:  # GETGLOBAL
                reads.append((constants[bx], lines[pc] if pc < len(lines) else 0))
            elif opcode == 7:  # SETGLOBAL
                writes.add(constants[bx])

    function()
    return reads, writes


def _strip_comments(source: str) -> str:
    # Blank out comments but keep the newlines, so line numbers still match.
    source = re.sub(r"--\[(=*)\[.*?\]\1\]", lambda m: "\n" * m.group().count("\n"), source, flags=re.S)
    return re.sub(r"--[^\n]*", "", source)


def _data_reads(source: str) -> list[tuple[str, int]]:
    """(name, line) of every ``data.<name>`` in ``source`` (comments skipped)."""
    found = []
    for number, text in enumerate(_strip_comments(source).splitlines(), start=1):
        # data.x = ... makes a custom variable (allowed); only reads must be in data.json
        found += [(name, number) for name in re.findall(r"\bdata\.([A-Za-z_]\w*)(?!\s*=[^=])", text)]
    return found


# --- check_lua -----------------------------------------------------------------------------


@dataclass
class LuaReport:
    """What :func:`check_lua` found in a scenario's scripts that did not stop it.

    Attributes:
        functions: the global functions the scripts define.
        reads: data.json variables the scripts read.
        rewards: (frames,) rewards of the probe run, starting with the reset call.
        warnings: problems that are legal in stable-retro but probably mistakes.
    """

    functions: list[str]
    reads: list[str]
    rewards: list[float]
    warnings: list[Problem]

    def __str__(self) -> str:
        lines = [
            f"Lua OK: defines {', '.join(self.functions) or 'no functions'}; "
            f"reads {', '.join(self.reads) or 'no variables'}",
            f"probe run: {len(self.rewards)} updates, rewards {sorted(set(self.rewards))[:6]}",
        ]
        return "\n".join(lines + [str(w) for w in self.warnings])


def check_lua(
    scenario: Scenario | str | Path,
    probe: Sequence[Mapping[str, float]] | None = None,
) -> LuaReport:
    """Check a scenario's Lua the way stable-retro will run it, and report ``file:line`` errors.

    Args:
        scenario: a :class:`Scenario`, or what :func:`load_scenario` accepts.
        probe: RAM rows to run the functions on (the first for the reset call); by default
            a start grid (laps 127, checkpoint 29 of 30, on road) for 60 frames.

    Raises:
        LuaCheckError: every syntax error, use of an undefined global (a call of a missing
            function, a library the sandbox lacks), read of a variable data.json lacks, or
            else the first error when the functions run.
    """
    scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    problems, warnings, reads, writes = [], [], [], set()
    sources: dict[Path, str] = {}
    for path in scenario.scripts:
        if not path.is_file():
            problems.append(Problem("script file not found (scripts are looked up beside scenario.json)", path))
            continue
        sources[path] = path.read_text()
        try:
            used, assigned = lua_globals(sources[path], path.name)
        except _lupa.LuaError as err:
            problems.append(_problem_from_lua(err, {path.name: path}, "syntax error", scenario.variables))
            continue
        reads += [(name, line, path) for name, line in used]
        writes |= assigned
    compiled = not problems
    known = _builtin_names() | writes
    for name, line, path in reads:
        if name not in known:
            message = f"uses global '{name}', which no script defines and stable-retro's Lua does not have"
            hint = _hint(f"global '{name}'", scenario.variables) or (
                "a typo, or a local defined below its first use (move it above)"
            )
            problems.append(Problem(message, path, line, hint))
    used_variables = []
    for path, source in sources.items():
        for name, line in _data_reads(source):
            used_variables.append(name)
            if scenario.variables and name not in scenario.variables:
                message = f"reads data.{name}, but data.json has no variable '{name}' (stable-retro: 'C++ exception')"
                problems.append(Problem(message, path, line, _hint("unknown variable", scenario.variables)))
    for kind in ("reward", "done"):
        name = scenario.function(kind)
        if name and name not in writes and compiled:
            defined = ", ".join(sorted(w for w in writes)) or "none"
            problems.append(
                Problem(
                    f'"{kind}" names {name}(), but no script defines a global function {name} '
                    "(stable-retro: 'attempt to call a nil value')",
                    scenario.path,
                    _line_of(scenario.path, name),
                    hint=f"globals the scripts define: {defined}",
                )
            )
    if problems:
        raise LuaCheckError(problems)

    rows = list(probe) if probe is not None else [_grid_ram(scenario.variables)] * 61
    sandbox = LuaSandbox(scenario)
    rewards = [sandbox.reset(rows[0])[0]]
    rewards += [sandbox.step(row)[0] for row in rows[1:]]
    for kind in ("reward", "done"):
        name = scenario.function(kind)
        value = sandbox.call(name) if name else None
        expected = "a number" if kind == "reward" else "true or false"
        ok = isinstance(value, int | float) if kind == "reward" else isinstance(value, bool)
        if name and not ok:
            warnings.append(
                Problem(
                    f"{name}() returned {value!r}, not {expected}",
                    scenario.path,
                    _line_of(scenario.path, name),
                    hint="stable-retro turns a Lua number 0 into done=false, though 0 is true in Lua; return a boolean"
                    if kind == "done"
                    else "stable-retro would count it as 0",
                    severity="warning",
                )
            )
    return LuaReport(sorted(sandbox.functions()), sorted(set(used_variables)), rewards, warnings)


def _grid_ram(variables: Mapping[str, Any]) -> dict[str, int]:
    grid = {"laps": 127, "checkpoint": 29, "checkpoint_alt": 29, "num_checkpoints": 30, "surface": 0x40}
    return {name: grid.get(name, 0) for name in variables} or grid


# --- check_scenario ------------------------------------------------------------------------


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
) -> ScenarioReport:
    """Validate a scenario file and its Lua before stable-retro loads it.

    Args:
        source: a :class:`Scenario`, a game name, a ``.json`` file or a folder.
        scenario: the scenario's name when ``source`` is a game or folder.
        buttons: the game's button names (default: the SNES pad) for the ``actions`` check.

    Returns:
        The report, with warnings for legal but risky entries (an ``actions`` list, no done).

    Raises:
        ScenarioError: listing every error with its file and line.
    """
    scen = source if isinstance(source, Scenario) else load_scenario(source, scenario)
    spec, path = scen.spec, scen.path
    buttons = list(buttons or SNES_BUTTONS)
    problems: list[Problem] = []
    warnings: list[Problem] = []

    def at(key: str) -> int | None:
        return _line_of(path, f'"{key}"')

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


# --- writing scenarios ---------------------------------------------------------------------


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
    """
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ValueError(f"scenario name {name!r}: use letters, digits, '_' or '-'")
    spec: dict[str, Any] = {"reward": {"script": f"lua:{reward}"}}
    if done:
        spec["done"] = {"script": f"lua:{done}"}
    spec["scripts"] = [f"{name}.lua"]
    data_path = find_file(game, "data.json")
    variables = json.loads(data_path.read_text())["info"] if data_path else {}
    folder = Path(folder) if folder is not None else user_game_dir(game)
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
