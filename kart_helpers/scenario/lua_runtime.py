"""Lua 5.1 through lupa, and Lua errors turned into problems that name the file, line and a hint."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from kart_helpers.problems import Problem

try:
    from lupa import lua51 as lua51
except ImportError:  # pragma: no cover - a lupa build without its Lua 5.1 module
    import lupa as lua51  # noqa: F401 - re-exported, as the line above


#: Libraries a stock Lua runtime has but stable-retro's sandbox does not.
NOT_IN_SANDBOX = ("io", "os", "debug", "package", "require", "module", "bit", "bit32", "utf8", "jit", "python")


_LOCATION = re.compile(r"^(?:error loading code: )?(?P<chunk>[^:\n]+):(?P<line>\d+): (?P<message>.*)")


def problem_from_lua(err: Exception, chunks: Mapping[str, Path], context: str, variables: Mapping) -> Problem:
    text = err.args[0] if err.args else ""
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    first = text.splitlines()[0] if text else type(err).__name__
    match = _LOCATION.match(first)
    if match and match["chunk"] in chunks:
        path, line, message = chunks[match["chunk"]], int(match["line"]), match["message"]
    else:
        path, line, message = None, None, first
    return Problem(f"{message} ({context})", path, line, lua_hint(message, variables))


def lua_hint(message: str, variables: Iterable[str] = ()) -> str:
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
