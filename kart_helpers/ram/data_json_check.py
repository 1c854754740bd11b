"""Check ``data.json`` without an emulator: type strings, addresses, overlaps, what stable-retro keeps.

stable-retro is lenient in unhelpful ways: it reads ``"<s2"`` as *unsigned* (so -5 becomes
65531), silently drops a variable typed ``"i2"`` or ``"|u9"``, and only fails on a bad address
when the variable is first read. These checks catch that before the emulator does and say what
to write instead; ``make_env`` runs them on every call (``kart_helpers.emulator.preflight``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kart_helpers.problems import Problem
from kart_helpers.ram.addresses import WRAM_BASE, WRAM_SIZE, AddressError, parse_bus
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.types import DataType

KINDS = {"i": "signed", "u": "unsigned", "d": "BCD (2 digits a byte)", "n": "BCD (1 digit a byte, low nibble)"}
_NUMPY_NAMES = {"int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2", "int32": "i4", "uint32": "u4"}
_NUMPY_NAMES |= {"int64": "i8", "uint64": "u8", "bool": "u1", "byte": "u1", "char": "i1", "short": "i2"}


class DataJsonError(ValueError):
    """A data.json that stable-retro would misread; the message lists each problem and its fix."""


def _type_findings(text: Any, byte_order: str = "<") -> tuple[list[str], list[str], str | None]:
    """(errors, warnings, suggested type string) for one type string."""
    if not isinstance(text, str):
        return [f"type {text!r} is not a string; write it like '{byte_order}i2'"], [], None
    t = text.strip()
    if t != text:
        return ["it has spaces around it, which stable-retro reads as part of the type"], [], t
    plain = _NUMPY_NAMES.get(t.lower().lstrip("<>=|"))
    if plain:  # numpy/C names: int16 -> <i2
        fix = ("|" if plain[-1] == "1" else byte_order) + plain
        return ["it is a numpy/C name; stable-retro wants byte order + kind + width in bytes"], [], fix
    m = re.fullmatch(r"(?P<endian>><|<>|>=|<=|[<>|=])?(?P<kind>[A-Za-z])(?P<width>\d+)", t)
    if not m:
        return ["it does not follow stable-retro's grammar: byte order, kind, width, e.g. '<i2'"], [], None
    endian, kind, width = m["endian"], m["kind"], int(m["width"])
    errors, warnings = [], []
    if width in (16, 32, 64):
        errors.append(f"widths count bytes, not bits: {width} bits is {width // 8} bytes")
        width //= 8
    if width == 0:
        errors.append("width 0 reads no bytes: stable-retro keeps the variable and it always reads 0")
        width = 1
    elif width > 8:
        errors.append(f"width {m['width']} is over 8 bytes: stable-retro silently drops the variable")
        width = 8
    elif width in (3, 5, 6, 7) and kind in "iu" and not errors:
        # stable-retro 1.0.1 reads these right (measured: '<i3' sign-extends from 24 bits), but no
        # console keeps a counter in 3, 5, 6 or 7 bytes: it is most often a slip for 2 or 4.
        warnings.append(
            f"a {width}-byte {KINDS[kind]} integer is unusual (stable-retro reads it, but consoles keep "
            f"1-, 2- and 4-byte values): check that you did not mean '{t[:-1]}2' or '{t[:-1]}4'"
        )
    if kind not in KINDS:
        lowered = kind.lower()
        new = "i" if lowered == "s" else lowered if lowered in KINDS else None
        read_as = "unsigned, so -5 reads as 65531" if width == 2 else "unsigned, so negative values read as large ones"
        if kind == "f":
            errors.append("stable-retro has no floating-point kind; kinds are i, u, d, n")
        else:
            errors.append(
                f"kind {kind!r} is not one stable-retro knows (i signed, u unsigned, d BCD, n low-nibble BCD): "
                f"it reads it as {read_as}"
            )
        kind = new or "u"
    if endian is None:
        if len(t) < 3:
            errors.append("it is shorter than 3 characters, so stable-retro silently drops the variable")
        else:
            errors.append("it has no byte order")
        endian = "|" if width == 1 else byte_order
    elif endian == "|" and width > 1 and errors:
        endian = byte_order
    elif endian == "|" and width > 1:
        warnings.append(
            f"'|' says byte order does not matter, which is only true for 1 byte; stable-retro reads "
            f"'|{kind}{width}' little-endian. Write '{byte_order}{kind}{width}'"
        )
    elif endian == "=":
        warnings.append("'=' means the byte order of the computer running it; write '<' or '>'")
    elif len(endian) == 2 and width % 2:
        errors.append(f"mixed byte order {endian!r} needs an even width")
    fix = f"{endian}{kind}{width}"
    return errors, warnings, (fix if errors else None)


def check_type(text: str, byte_order: str = "<") -> DataType:
    """Parse a type string strictly; raise DataJsonError that suggests a fix.

    ``byte_order`` is the platform's (``"<"`` SNES, ``">"`` Genesis), used in suggestions.
    ``check_type("<s2")`` raises: kind 's' reads as unsigned; write '<i2'.
    """
    errors, _, fix = _type_findings(text, byte_order)
    if errors:
        raise DataJsonError(_type_message(text, errors, fix))
    return DataType.read_as(text)


def _type_message(text: Any, errors: list[str], fix: str | None) -> str:
    return f"type {text!r}: " + "; ".join(errors) + (f". Write {fix!r}." if fix else ".")


def _load(data: Any) -> Any:
    if isinstance(data, str | Path):
        try:
            return json.loads(Path(data).read_text())
        except json.JSONDecodeError as err:
            raise DataJsonError(
                f"{data}:{err.lineno}: is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})"
            ) from err
    return data


def as_info(variables: Any) -> dict[str, dict[str, Any]]:
    """data.json's ``info`` dict from ``{"info": {...}}``, ``{name: {address, type}}`` or
    ``{name: (address, type)}``; a path is read first."""
    variables = _load(variables)
    if isinstance(variables, Mapping) and isinstance(variables.get("info"), Mapping):
        variables = variables["info"]
    out = {}
    for name, spec in variables.items():
        if isinstance(spec, Sequence) and not isinstance(spec, str) and len(spec) == 2:
            spec = {"address": spec[0], "type": spec[1]}
        out[name] = dict(spec) if isinstance(spec, Mapping) else spec
    return out


def _address_problem(name: str, address: Any, width: int, mm: MemoryMap | None) -> str | None:
    """What is wrong with a variable's address; without a memory map, only whether it is an integer."""
    if isinstance(address, str):
        try:
            fixed = parse_bus(address)
            return f"address {address!r} is a string; data.json needs an integer: write {fixed} (0x{fixed:06X})"
        except AddressError:
            return f"address {address!r} is a string; data.json needs an integer such as 8261866"
    if isinstance(address, bool) or not isinstance(address, int | np.integer):
        return f"address {address!r} is not an integer"
    if mm is None:
        return None
    if mm.contains(int(address), width):
        return None
    if mm.contains(int(address)):
        block = mm.block_of(int(address))
        return f"its {width} bytes at {address} run past the end of {block.name} ({block.start}..{block.end - 1})"
    hint = ""
    if mm.system == "Snes" and 0 <= address < WRAM_SIZE and mm.contains(WRAM_BASE + int(address), width):
        hint = (
            f" It looks like a WRAM offset (${address:04X}): the data.json address is "
            f"0x7E0000 + offset = {WRAM_BASE + address}."
        )
    return f"address {address} ({int(address):#x}) is not in RAM; {mm.describe()}.{hint}"


def validate(data: Any, memory_map: MemoryMap | None = None) -> list[Problem]:
    """Every problem stable-retro would have with a data.json, each with its fix.

    data: a path, ``{"info": {...}}``, or the ``info`` dict itself (values ``{"address",
    "type"}`` dicts or ``(address, type)`` pairs). memory_map: where RAM is (default: a SNES
    with 2 KiB of SRAM, as Super Mario Kart). Checks type strings, addresses (in a block,
    all bytes), and variables that overlap with a different width or offset (through mirrors).
    """
    mm = memory_map or MemoryMap.snes()
    raw = _load(data)
    if isinstance(data, str | Path) and (not isinstance(raw, Mapping) or "info" not in raw):
        return [Problem('no "info" key: data.json is {"info": {name: {"address": ..., "type": ...}}}')]
    spans: list[tuple[int, int, str, str, int]] = []  # (canonical start, width, name, type, address)
    problems = variable_problems(raw, mm, spans=spans)
    return problems + _overlaps(spans, mm)


def variable_problems(
    data: Any,
    memory_map: MemoryMap | None = None,
    byte_order: str = "<",
    spans: list[tuple[int, int, str, str, int]] | None = None,
) -> list[Problem]:
    """The problems of each variable on its own: its keys, type and mask, and its address when
    ``memory_map`` is given (``byte_order`` is then the map's). No overlap checks.

    ``spans``, when given, receives (canonical start, width, name, type, address) of each
    variable whose address is good, for the overlap check.
    """
    byte_order = memory_map.byte_order if memory_map is not None else byte_order
    problems: list[Problem] = []
    for name, spec in as_info(data).items():
        if not isinstance(spec, Mapping) or "address" not in spec or "type" not in spec:
            problems.append(Problem("needs both 'address' and 'type' (stable-retro refuses the whole file)", name=name))
            continue
        errors, warnings, fix = _type_findings(spec["type"], byte_order)
        if errors:
            problems.append(Problem(_type_message(spec["type"], errors, fix), name=name))
        problems += [Problem(w, name=name, severity="warning") for w in warnings]
        if "mask" in spec and not isinstance(spec["mask"], int):
            problems.append(Problem(f"mask {spec['mask']!r} must be an integer", name=name))
        width = DataType.read_as(fix or spec["type"]).width if fix or not errors else 1
        where = _address_problem(name, spec["address"], width, memory_map)
        if where:
            problems.append(Problem(where, name=name))
        elif spans is not None and memory_map is not None:
            address = int(spec["address"])
            spans.append((memory_map.canonical(address), width, name, spec["type"], address))
    return problems


def located(problem: Problem, path: Path | None) -> Problem:
    """``problem`` (about one variable) placed in the data.json at ``path``: on its type, address
    or mask line when the problem is about that key, else on the line that names the variable."""
    if path is None or not problem.name:
        return dataclasses.replace(problem, path=path)
    lines = Path(path).read_text(errors="replace").splitlines()
    start = next((k for k, text in enumerate(lines) if f'"{problem.name}"' in text), None)
    if start is None:
        return dataclasses.replace(problem, path=path)
    key = next((k for k in ("type", "address", "mask") if problem.message.startswith(k)), None)
    key = key or ("address" if problem.message.startswith("its ") else None)
    line = start
    if key is not None:  # the key's line within this variable's entry (one entry: up to its closing brace)
        for k in range(start, min(start + 8, len(lines))):
            if f'"{key}"' in lines[k]:
                line = k
                break
            if k > start and "}" in lines[k]:
                break
    return dataclasses.replace(problem, path=path, line=line + 1, code="")


def _overlaps(spans: list[tuple[int, int, str, str, int]], mm: MemoryMap) -> list[Problem]:
    def where(canonical: int, address: int) -> str:
        same = "" if canonical == address else f" = {mm.label(canonical)}"
        return f"{mm.label(address)}{same}"

    problems = []
    spans.sort()
    for k, (start, width, name, dtype, address) in enumerate(spans):
        for other, owidth, oname, otype, oaddress in spans[k + 1 :]:
            if other >= start + width:
                break  # sorted by start: nothing later can overlap this one
            if (other, owidth) != (start, width):
                problems.append(
                    Problem(
                        name=name,
                        message=(
                            f"{where(start, address)} ({dtype}, {width} byte(s)) overlaps {oname!r} at "
                            f"{where(other, oaddress)} ({otype}, {owidth} byte(s)): "
                            "one of them has the wrong address or width"
                        ),
                    )
                )
            elif dtype == otype:
                problems.append(Problem(f"same address and type as {oname!r}", name=name, severity="warning"))
    return problems


def check(data: Any, memory_map: MemoryMap | None = None) -> dict[str, dict[str, Any]]:
    """The ``info`` dict of ``data`` if it has no errors; raise DataJsonError listing them otherwise."""
    errors = [p for p in validate(data, memory_map) if p.severity == "error"]
    if errors:
        raise DataJsonError(f"{len(errors)} problem(s) in data.json:\n" + "\n".join(f"  - {p}" for p in errors))
    return as_info(data)


def kept_by_stable_retro(data: Any) -> dict[str, dict[str, Any]]:
    """The variables stable-retro's loader keeps from ``data``; it drops the others without a word.

    A port of ``GameData::load`` (stable-retro ``src/data.cpp``): a type shorter than 3
    characters, or whose last character is not a width 0-8, is skipped. An entry without
    ``address`` or ``type``, or with a non-numeric address or type, makes it refuse the whole
    file (DataJsonError). We do not ask stable-retro itself because loading a data.json
    resets its Lua state, which breaks any live env until its next ``reset()``.
    """
    kept = {}
    for name, spec in as_info(data).items():
        if not isinstance(spec, Mapping) or "address" not in spec or "type" not in spec:
            raise DataJsonError(f"stable-retro refuses the whole file: {name!r} needs both 'address' and 'type'")
        address, dtype = spec["address"], spec["type"]
        if isinstance(address, str | bool) or not isinstance(address, int | float | np.integer):
            raise DataJsonError(f"stable-retro refuses the whole file: {name!r} has address {address!r}, not a number")
        if not isinstance(dtype, str):
            raise DataJsonError(f"stable-retro refuses the whole file: {name!r} has type {dtype!r}, not a string")
        if len(dtype) >= 3 and 0 <= ord(dtype[-1]) - ord("0") <= 8:
            kept[name] = dict(spec)
    return kept
