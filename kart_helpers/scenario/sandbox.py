"""Run a scenario's Lua the way stable-retro does, without an emulator.

Lua 5.1 with only base, table, string and math; a ``data`` table of RAM variables;
``scenario.frame``; fresh globals on every reset; and each update calling the done function,
then the reward function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from kart_helpers.problems import Problem, line_of
from kart_helpers.scenario.files import LuaCheckError, Scenario
from kart_helpers.scenario.lua_runtime import NOT_IN_SANDBOX, lua51, problem_from_lua

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
    runtime = lua51.LuaRuntime(register_eval=False, register_builtins=False, unpack_returned_tuples=True)
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
            except lua51.LuaError as err:
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
        if lua51.lua_type(function) != "function":
            defined = ", ".join(sorted(self.functions())) or "none"
            problem = Problem(
                f"the scenario calls {name}(), but no script defines a global function {name} "
                f"(stable-retro: 'attempt to call a nil value')",
                self.scenario.path,
                line_of(self.scenario.path, name),
                hint=f"global functions the scripts define: {defined}",
            )
            raise LuaCheckError([problem])
        try:
            return function()
        except lua51.LuaError as err:
            raise LuaCheckError([self._problem(err, f"in {name}() at scenario.frame {self._frame}")]) from None

    def functions(self) -> list[str]:
        """Global functions the scripts defined (the sandbox's own excluded)."""
        builtin = builtin_names()
        return [str(k) for k, v in self.lua.globals().items() if lua51.lua_type(v) == "function" and k not in builtin]

    def table(self, name: str) -> dict[str, Any]:
        """A global Lua table as a dict, e.g. ``table("components")``."""
        value = self.lua.globals()[name]
        return dict(value.items()) if lua51.lua_type(value) == "table" else {}

    def value(self, name: str) -> Any:
        """A global Lua value (numbers and strings come back as Python values)."""
        return self.lua.globals()[name]

    def _problem(self, err: Exception, context: str) -> Problem:
        return problem_from_lua(err, self._chunks, context, self.scenario.variables)


_BUILTINS: set[str] | None = None


def builtin_names() -> set[str]:
    global _BUILTINS
    if _BUILTINS is None:
        _BUILTINS = sandbox_globals()
    return _BUILTINS
