"""Static Lua checks: compile with Lua 5.1 and read the bytecode for every global a script uses.

A call of a function that nothing defines is found even on a branch that never runs, and
``data.<name>`` reads are checked against data.json. Every problem comes back as
``file:line: message`` with a hint.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kart_helpers.problems import Problem, line_of
from kart_helpers.scenario.files import LuaCheckError, Scenario, load_scenario
from kart_helpers.scenario.lua_runtime import lua51, lua_hint, problem_from_lua
from kart_helpers.scenario.sandbox import LuaSandbox, builtin_names


def grid_ram(variables: Mapping[str, Any]) -> dict[str, int]:
    grid = {"laps": 127, "checkpoint": 29, "checkpoint_alt": 29, "num_checkpoints": 30, "surface": 0x40}
    return {name: grid.get(name, 0) for name in variables} or grid


def _compile(source: str, chunk: str) -> bytes:
    """Lua 5.1 bytecode of ``source`` (raises lupa's LuaSyntaxError)."""
    runtime = lua51.LuaRuntime(register_eval=False, encoding=None)
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
        except lua51.LuaError as err:
            problems.append(problem_from_lua(err, {path.name: path}, "syntax error", scenario.variables))
            continue
        reads += [(name, line, path) for name, line in used]
        writes |= assigned
    compiled = not problems
    known = builtin_names() | writes
    for name, line, path in reads:
        if name not in known:
            message = f"uses global '{name}', which no script defines and stable-retro's Lua does not have"
            hint = lua_hint(f"global '{name}'", scenario.variables) or (
                "a typo, or a local defined below its first use (move it above)"
            )
            problems.append(Problem(message, path, line, hint))
    used_variables = []
    for path, source in sources.items():
        for name, line in _data_reads(source):
            used_variables.append(name)
            if scenario.variables and name not in scenario.variables:
                message = f"reads data.{name}, but data.json has no variable '{name}' (stable-retro: 'C++ exception')"
                problems.append(Problem(message, path, line, lua_hint("unknown variable", scenario.variables)))
    for kind in ("reward", "done"):
        function = scenario.function(kind)
        if function and function not in writes and compiled:
            defined = ", ".join(sorted(w for w in writes)) or "none"
            problems.append(
                Problem(
                    f'"{kind}" names {function}(), but no script defines a global function {function} '
                    "(stable-retro: 'attempt to call a nil value')",
                    scenario.path,
                    line_of(scenario.path, function),
                    hint=f"globals the scripts define: {defined}",
                )
            )
    if problems:
        raise LuaCheckError(problems)

    rows = list(probe) if probe is not None else [grid_ram(scenario.variables)] * 61
    sandbox = LuaSandbox(scenario)
    rewards = [sandbox.reset(rows[0])[0]]
    rewards += [sandbox.step(row)[0] for row in rows[1:]]
    for kind in ("reward", "done"):
        function = scenario.function(kind)
        value = sandbox.call(function) if function else None
        expected = "a number" if kind == "reward" else "true or false"
        ok = isinstance(value, int | float) if kind == "reward" else isinstance(value, bool)
        if function and not ok:
            warnings.append(
                Problem(
                    f"{function}() returned {value!r}, not {expected}",
                    scenario.path,
                    line_of(scenario.path, function),
                    hint="stable-retro turns a Lua number 0 into done=false, though 0 is true in Lua; return a boolean"
                    if kind == "done"
                    else "stable-retro would count it as 0",
                    severity="warning",
                )
            )
    return LuaReport(sorted(sandbox.functions()), sorted(set(used_variables)), rewards, warnings)
