"""Write, validate and verify ``data.json``: the named RAM variables of a stable-retro integration.

:func:`validate` (in ``kart_helpers.ram.data_json_check``, re-exported here) finds what
stable-retro would misread or drop before the emulator does, and says what to write instead.
:func:`write_data_json` writes a checked file; :func:`verify` then drives a live env and checks
that every variable reads, and stays in the range you expect.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kart_helpers.display.tables import Table
from kart_helpers.emulator.drive import Driver, drive
from kart_helpers.emulator.integration import refuse_shipped
from kart_helpers.problems import Problem
from kart_helpers.ram.data_json_check import (  # noqa: F401 - re-exported: one import for the course's data.json tools
    KINDS,
    DataJsonError,
    as_info,
    check,
    check_type,
    kept_by_stable_retro,
    validate,
)
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.trace import RamTrace
from kart_helpers.ram.types import DataType


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
    folder = refuse_shipped(folder, DataJsonError)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "data.json"
    clean = {
        name: {k: (int(v) if k in ("address", "mask") else v) for k, v in spec.items()} for name, spec in info.items()
    }
    path.write_text(json.dumps({"info": clean}, indent=2, sort_keys=True) + "\n")
    return path


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
