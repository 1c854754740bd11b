"""Find a game's variables in RAM, as classic emulator RAM-search tools do, and watch them.

The loop: take a snapshot of RAM, play a little, take another, and keep only the addresses
whose value did what the variable you are looking for must have done ("the lap counter went
up by one", "speed decreased"). A few rounds narrow 141,312 bytes down to a handful.

It works on any stable-retro game: addresses are data.json addresses, read through
:class:`~kart_helpers.ram.memory_map.MemoryMap`, and types are stable-retro type strings.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kart_helpers.display.tables import Table
from kart_helpers.emulator.drive import Driver, drive
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.types import DataType, decode_at

OPS = ("changed", "unchanged", "increased", "decreased", "increased_by", "equal", "not_equal", "greater", "less")
"""Filters. The first four compare with a reference snapshot (the previous one by default);
``increased_by`` N compares the difference with N (negative N: decreased by); ``equal``,
``not_equal``, ``greater`` and ``less`` compare with the value N."""

_NEEDS_VALUE = {"increased_by", "equal", "not_equal", "greater", "less"}


@dataclass(repr=False)
class Recording:
    """RAM at every ``every``-th frame of a drive, in data.json byte order."""

    frames: np.ndarray
    """(T,) frame number of each snapshot, counted from the start of the drive"""
    ram: np.ndarray
    """(T, N) uint8"""
    memory_map: MemoryMap

    def __repr__(self) -> str:
        return f"Recording({len(self.frames)} snapshots of {self.ram.shape[1]} bytes)"

    def view(self, address: int, dtype: str | DataType) -> np.ndarray:
        """(T,) int64: the value at data.json ``address`` read as ``dtype`` in every snapshot."""
        return self.memory_map.value(self.ram, address, dtype)


def record(env: Any, driver: Driver, frames: int | None = None, every: int = 1) -> Recording:
    """Drive and keep the whole RAM every ``every`` frames (141 KiB per snapshot on SNES)."""
    mm = MemoryMap.from_env(env)
    snaps, marks, count = [], [], itertools.count(1)

    def keep(_: dict) -> None:
        t = next(count)
        if t % every == 0:
            snaps.append(mm.read(env))
            marks.append(t)

    drive(env, driver, frames, keep)
    return Recording(np.array(marks), np.stack(snaps) if snaps else np.zeros((0, mm.size), np.uint8), mm)


@dataclass(repr=False)
class RamSearch:
    """A classic RAM search over one game's memory.

    Typical use::

        search = RamSearch.start(env)               # first snapshot; every byte is a candidate
        search.drive(env, "B", 30)                  # hold B for 30 frames, then snapshot
        search.filter("increased", type="<i2")      # keep what went up, read as signed 16-bit
        search.table()                              # the survivors and their value history

    Candidates are indices into :meth:`MemoryMap.read` snapshots, i.e. get_ram() indices
    (see :meth:`MemoryMap.index_of`; ``addresses`` gives data.json addresses). Snapshots
    are kept (N bytes each), so ``history`` can show every value a candidate ever had; a
    filter only touches two snapshots, so hundreds of snapshots stay fast.
    """

    memory_map: MemoryMap
    type: str = "|u1"
    """Type string that filters and tables read values as; ``filter(type=...)`` changes it."""
    include_mirrors: bool = False
    """Also search mirror blocks (SNES bank $00's copy of WRAM); off, so each byte shows up once."""
    frame: int = 0
    """Frames driven through :meth:`drive` so far; each snapshot records it."""
    log: list[str] = field(default_factory=list)
    """One line per snapshot and filter: what was done and how many candidates are left."""

    def __post_init__(self) -> None:
        DataType.read_as(self.type)
        self._buf = np.zeros((8, self.memory_map.size), dtype=np.uint8)
        self._frames: list[int] = []
        self._undo: list[np.ndarray] = []
        self.candidates = self._all_candidates(self.type)

    @classmethod
    def start(cls, env: Any, type: str = "|u1", include_mirrors: bool = False) -> RamSearch:
        """A new search on ``env``'s game, with its first snapshot taken now."""
        search = cls(MemoryMap.from_env(env), type, include_mirrors)
        search.snapshot(env)
        return search

    @property
    def n_snapshots(self) -> int:
        return len(self._frames)

    @property
    def frames(self) -> np.ndarray:
        """(T,) frame of each snapshot."""
        return np.array(self._frames, dtype=np.int64)

    @property
    def snapshots(self) -> np.ndarray:
        """(T, N) uint8: every snapshot so far (a view, not a copy)."""
        return self._buf[: self.n_snapshots]

    def snapshot(self, source: Any, frame: int | None = None) -> int:
        """Store RAM now: ``source`` is an env or an (N,) uint8 array in data.json byte order.

        Returns the snapshot's number (0 for the first).
        """
        ram = self.memory_map.read(source) if hasattr(source, "unwrapped") else np.asarray(source, dtype=np.uint8)
        if ram.shape != (self.memory_map.size,):
            raise ValueError(f"a snapshot has {self.memory_map.size} bytes; got shape {ram.shape}")
        t = self.n_snapshots
        if t == len(self._buf):  # grow by doubling: amortised O(1) per snapshot
            self._buf = np.concatenate([self._buf, np.zeros_like(self._buf)])
        self._buf[t] = ram
        self._frames.append(self.frame if frame is None else frame)
        self.log.append(f"snapshot {t} at frame {self._frames[-1]}")
        return t

    def reset(self, env: Any, snapshot: bool = False) -> None:
        """``env.reset()`` (back to the start state) and count frames from 0 again; candidates stay."""
        env.reset()
        self.frame = 0
        self.log.append("reset the env")
        if snapshot:
            self.snapshot(env)

    def drive(self, env: Any, driver: Driver, frames: int | None = None, snapshot: bool = True) -> dict:
        """Play ``driver`` (see :data:`Driver`) for ``frames`` frames, then take a snapshot."""
        counted = 0

        def count(_: dict) -> None:
            nonlocal counted
            counted += 1

        info = drive(env, driver, frames, count)
        self.frame += counted
        if snapshot:
            self.snapshot(env)
        return info

    def _all_candidates(self, dtype: str) -> np.ndarray:
        width = DataType.read_as(dtype).width
        keep = []
        for b in self.memory_map.blocks:
            if b.mirror_of is None or self.include_mirrors:
                keep.append(np.arange(b.index, b.index + b.size - width + 1))
        return np.concatenate(keep).astype(np.int64)

    def _fits(self, indices: np.ndarray, width: int) -> np.ndarray:
        """Candidates whose ``width`` bytes stay inside their block."""
        mm = self.memory_map
        k = np.searchsorted(mm.offsets, indices, side="right") - 1
        return indices[indices + width <= mm.offsets[k] + mm.sizes[k]]

    def filter(self, op: str, value: int | None = None, *, type: str | None = None, ref: int | None = None) -> int:
        """Keep the candidates whose value in the latest snapshot passes ``op``; return how many are left.

        op: one of :data:`OPS`. value: N for ``increased_by``, ``equal``, ``not_equal``,
        ``greater``, ``less``. type: read values as this type string from now on (e.g.
        ``"<i2"``). ref: the snapshot to compare with (default: the one before the latest;
        ``0`` is the first).
        """
        if op not in OPS:
            raise ValueError(f"unknown filter {op!r}; choose one of {', '.join(OPS)}")
        if (op in _NEEDS_VALUE) != (value is not None):
            need = "needs a value, e.g. filter('equal', 128)" if op in _NEEDS_VALUE else "takes no value"
            raise ValueError(f"filter {op!r} {need}")
        if self.n_snapshots < (1 if op in _NEEDS_VALUE and op != "increased_by" else 2):
            raise ValueError(f"filter {op!r} compares two snapshots: drive and take another snapshot first")
        if type is not None:
            DataType.read_as(type)
            self.type = type
        dtype = DataType.read_as(self.type)
        cand = self._fits(self.candidates, dtype.width)
        window = cand[:, None] + np.arange(dtype.width)  # (C, width)
        now_bytes = self.snapshots[-1][window]
        now, ok = dtype.decode(now_bytes), dtype.valid(now_bytes)
        if op in ("equal", "not_equal", "greater", "less"):
            keep = {"equal": now == value, "not_equal": now != value, "greater": now > value, "less": now < value}[op]
        else:
            ref_t = self.n_snapshots - 2 if ref is None else ref
            if not -self.n_snapshots <= ref_t < self.n_snapshots:
                raise ValueError(f"ref={ref} but there are {self.n_snapshots} snapshots (0 to {self.n_snapshots - 1})")
            ref_bytes = self.snapshots[ref_t][window]
            before = dtype.decode(ref_bytes)
            ok &= dtype.valid(ref_bytes)
            keep = {
                "changed": now != before,
                "unchanged": now == before,
                "increased": now > before,
                "decreased": now < before,
                "increased_by": now - before == (value or 0),
            }[op]
        self._undo.append(self.candidates)
        self.candidates = cand[keep & ok]
        shown = f"{op} {value}" if value is not None else op
        self.log.append(f"  {shown} ({self.type}): {len(self.candidates)} candidates left")
        return len(self.candidates)

    def keep(self, mask: np.ndarray, why: str = "kept by hand") -> int:
        """Keep the candidates where ``mask`` (shape (C,), bool) is true; ``why`` goes in the log."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self.candidates.shape:
            raise ValueError(f"mask has shape {mask.shape}; it needs one entry per candidate, {self.candidates.shape}")
        self._undo.append(self.candidates)
        self.candidates = self.candidates[mask]
        self.log.append(f"  {why}: {len(self.candidates)} candidates left")
        return len(self.candidates)

    def undo(self) -> int:
        """Go back to the candidates before the last filter; return how many there are."""
        if not self._undo:
            raise ValueError("nothing to undo")
        self.candidates = self._undo.pop()
        self.log.append(f"  undo: {len(self.candidates)} candidates")
        return len(self.candidates)

    def restart(self, type: str | None = None) -> int:
        """Every address is a candidate again (snapshots are kept)."""
        self.type = type or self.type
        self._undo.append(self.candidates)
        self.candidates = self._all_candidates(self.type)
        self.log.append(f"  restart ({self.type}): {len(self.candidates)} candidates")
        return len(self.candidates)

    def __len__(self) -> int:
        return len(self.candidates)

    @property
    def addresses(self) -> np.ndarray:
        """(C,) data.json addresses of the candidates."""
        return np.asarray(self.memory_map.address_of(self.candidates), dtype=np.int64).reshape(-1)

    def history(self, limit: int | None = None, type: str | None = None) -> np.ndarray:
        """(T, C) values of the first ``limit`` candidates in every snapshot."""
        cand = self.candidates[:limit]
        return decode_at(self.snapshots, cand, type or self.type)

    def values(self, type: str | None = None) -> np.ndarray:
        """(C,) values of the candidates in the latest snapshot."""
        return decode_at(self.snapshots[-1], self.candidates, type or self.type)

    def table(self, limit: int = 12, last: int = 10) -> Table:
        """The first ``limit`` candidates with their last ``last`` values (oldest first)."""
        mm = self.memory_map
        hist = self.history(limit)[-last:]
        rows = []
        for k, i in enumerate(self.candidates[:limit]):
            address = int(mm.address_of(int(i)))
            rows.append([k, address, mm.label(address), int(i), " ".join(str(v) for v in hist[:, k])])
        more = f", showing {limit}" if len(self) > limit else ""
        title = f"{len(self)} candidates ({self.type}){more}; values at frames {self.frames[-last:].tolist()}"
        return Table(["#", "data.json address", "label", "get_ram() index", "values"], rows, title)

    def _repr_html_(self) -> str:
        return self.table()._repr_html_()

    def __repr__(self) -> str:
        return f"RamSearch({len(self)} candidates, type {self.type!r}, {self.n_snapshots} snapshots)"

    def plot(self, which: int = 0, ax: Any = None) -> Any:
        """Plot candidate number ``which`` (its row in :meth:`table`) against frames; returns the axes."""
        import matplotlib.pyplot as plt  # here: pyplot adds about 0.5 s (measured) to importing the RAM tools

        if not 0 <= which < len(self):
            raise IndexError(f"candidate #{which} does not exist: there are {len(self)}")
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 2.6))
        values = decode_at(self.snapshots, self.candidates[which], self.type)
        address = int(self.memory_map.address_of(int(self.candidates[which])))
        ax.plot(self.frames, values, "o-", lw=1, ms=4)  # values between snapshots are unknown: no steps
        ax.set(xlabel="frame", ylabel="value", title=f"{self.memory_map.label(address)} ({address}) as {self.type}")
        ax.grid(alpha=0.3)
        return ax
