"""Write, validate and verify ``data.json``: the named RAM variables of a stable-retro integration.

stable-retro is lenient in unhelpful ways: it reads ``"<s2"`` as *unsigned* (so -5 becomes
65531), silently drops a variable typed ``"i2"`` or ``"|u9"``, and only fails on a bad address
when the variable is first read. :func:`validate` catches these before the emulator does, and
says what to write instead. :func:`verify` then drives a live env and checks that every
variable reads, and stays in the range you expect.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kart_helpers.display.tables import Table
from kart_helpers.emulator.drive import Driver, drive
from kart_helpers.emulator.integration import shipped_integrations_dir
from kart_helpers.problems import Problem
from kart_helpers.ram.addresses import WRAM_BASE, WRAM_SIZE, AddressError, parse_bus
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.trace import RamTrace
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
        return [f"type {text!r} does not follow stable-retro's grammar: byte order, kind, width, e.g. '<i2'"], [], None
    endian, kind, width = m["endian"], m["kind"], int(m["width"])
    errors, warnings = [], []
    if width in (16, 32, 64):
        errors.append(f"widths count bytes, not bits: {width} bits is {width // 8} bytes")
        width //= 8
    if not 1 <= width <= 8:
        errors.append(f"width {m['width']} is outside 1..8 bytes (stable-retro silently drops the variable)")
        width = min(max(width, 1), 8)
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
            raise DataJsonError(f"{data} is not valid JSON: {err}") from err
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


def _address_problem(name: str, address: Any, width: int, mm: MemoryMap) -> str | None:
    if isinstance(address, str):
        try:
            fixed = parse_bus(address)
            return f"address {address!r} is a string; data.json needs an integer: write {fixed} (0x{fixed:06X})"
        except AddressError:
            return f"address {address!r} is a string; data.json needs an integer such as 8261866"
    if isinstance(address, bool) or not isinstance(address, int | np.integer):
        return f"address {address!r} is not an integer"
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
    problems: list[Problem] = []
    spans = []  # (canonical start, width, name, type) of each variable with a good address
    for name, spec in as_info(raw).items():
        if not isinstance(spec, Mapping) or "address" not in spec or "type" not in spec:
            problems.append(Problem("needs both 'address' and 'type' (stable-retro refuses the whole file)", name=name))
            continue
        errors, warnings, fix = _type_findings(spec["type"], mm.byte_order)
        if errors:
            problems.append(Problem(_type_message(spec["type"], errors, fix), name=name))
        problems += [Problem(w, name=name, severity="warning") for w in warnings]
        width = DataType.read_as(fix or spec["type"]).width if fix or not errors else 1
        where = _address_problem(name, spec["address"], width, mm)
        if where:
            problems.append(Problem(where, name=name))
        else:
            spans.append((mm.canonical(int(spec["address"])), width, name, spec["type"], int(spec["address"])))
        if "mask" in spec and not isinstance(spec["mask"], int):
            problems.append(Problem(f"mask {spec['mask']!r} must be an integer", name=name))
    problems += _overlaps(spans, mm)
    return problems


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


def problems_table(problems: Sequence[Problem]) -> Table:
    """Problems as a table (errors in red)."""
    rows = [[p.severity, p.name, p.message] for p in problems]
    errors = {k for k, p in enumerate(problems) if p.severity == "error"}
    return Table(["severity", "variable", "problem and fix"], rows, f"{len(problems)} problem(s)", errors)


def write_data_json(variables: Any, folder: str | Path, memory_map: MemoryMap | None = None) -> Path:
    """Validate ``variables`` and write them as ``folder/data.json``; returns the path.

    variables: ``{name: (address, type)}``, ``{name: {"address", "type"}}`` or data.json's
    ``{"info": ...}``. Raises DataJsonError on any error (warnings are allowed), and refuses
    to write into the shipped integrations: write into ``user_game_dir(game)`` instead.
    """

    info = check(variables, memory_map)
    folder = Path(folder).resolve()
    shipped = shipped_integrations_dir().resolve()
    if folder == shipped or shipped in folder.parents:
        raise DataJsonError(
            f"{folder} is inside the shipped integrations, which must stay as they are; "
            "write into kart_helpers.emulator.integration.user_game_dir(game) (searched first) or a folder of your own"
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.json"
    clean = {
        name: {k: (int(v) if k in ("address", "mask") else v) for k, v in spec.items()} for name, spec in info.items()
    }
    path.write_text(json.dumps({"info": clean}, indent=2, sort_keys=True) + "\n")
    return path


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


@dataclass(repr=False)
class Verification:
    """What :func:`verify` saw: one row per variable, and every value it read."""

    table: Table
    trace: RamTrace
    failed: list[str]
    """names of the variables that did not read, or left their range"""

    @property
    def ok(self) -> bool:
        return not self.failed

    def _repr_html_(self) -> str:
        return self.table._repr_html_()

    def __str__(self) -> str:
        return str(self.table)

    __repr__ = __str__


def verify(
    env: Any,
    data: Any,
    driver: Driver,
    frames: int | None = None,
    ranges: Mapping[str, tuple[int, int]] | None = None,
) -> Verification:
    """Drive ``env`` and read every variable of ``data`` each frame, the way stable-retro reads it.

    data: a data.json path or dict. driver, frames: see ``kart_helpers.emulator.drive.drive``.
    ranges: ``{name: (lo, hi)}`` the values must stay within (inclusive). A variable fails
    if stable-retro would drop it, if it does not read, or if it leaves its range.
    """
    mm = MemoryMap.from_env(env)
    info = as_info(data)
    loaded = kept_by_stable_retro(info)
    ranges = dict(ranges or {})
    if set(ranges) - set(info):
        raise ValueError(
            f"ranges names {sorted(set(ranges) - set(info))}, which data.json does not have: {sorted(info)}"
        )
    memory = env.unwrapped.data.memory
    readable, notes = {}, {}
    for name, spec in info.items():
        if name not in loaded:
            notes[name] = f"stable-retro drops it (type {spec.get('type')!r})"
            continue
        try:
            memory.extract(int(spec["address"]), str(spec["type"]))
            readable[name] = (int(spec["address"]), str(spec["type"]))
        except (IndexError, ValueError, TypeError) as err:
            notes[name] = f"does not read: {err}"

    def read() -> dict[str, int]:
        return {name: memory.extract(a, t) for name, (a, t) in readable.items()}

    rows = [read()]  # before the drive, then after every frame
    drive(env, driver, frames, lambda _: rows.append(read()))
    game = getattr(env.unwrapped, "gamename", "")
    labels = {name: mm.label(a) for name, (a, _) in readable.items()}
    trace = RamTrace(rows, game=game, variables=readable, labels=labels)
    table_rows, failed = [], []
    for name, spec in info.items():
        expected = ranges.get(name)
        shown = f"{expected[0]}..{expected[1]}" if expected else "-"
        if name not in readable:
            failed.append(name)
            table_rows.append([name, spec.get("type"), spec.get("address"), "-", "-", "-", shown, notes[name]])
            continue
        v = trace[name]
        verdict = "ok" if len(v) == 0 or len(np.unique(v)) > 1 else "ok, but it never changed"
        if expected and len(v):
            outside = np.nonzero((v < expected[0]) | (v > expected[1]))[0]
            if len(outside):
                t = int(outside[0])
                verdict = f"read {int(v[t])} at frame {t + 1}, outside {shown}"
                if int(v[t]) > expected[1] and not DataType.read_as(spec["type"]).signed:
                    verdict += "; if it can be negative, use a signed type ('i')"
                failed.append(name)
        lo, hi = (int(v.min()), int(v.max())) if len(v) else ("-", "-")
        table_rows.append(
            [name, spec["type"], mm.label(int(spec["address"])), lo, hi, len(np.unique(v)), shown, verdict]
        )
    header = ["variable", "type", "address", "min", "max", "distinct", "expected", "verdict"]
    title = f"data.json over {len(trace)} frames: " + ("all ok" if not failed else f"{len(failed)} failed")
    failed_rows = {k for k, row in enumerate(table_rows) if row[0] in failed}
    return Verification(Table(header, table_rows, title, failed_rows), trace, failed)
