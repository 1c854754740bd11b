"""RAM traces: named variables per frame of a drive, recorded from the emulator or made up."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kart_helpers.emulator.buttons import script_frames
from kart_helpers.emulator.drive import Driver, drive, frames_of
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.types import DataType, decode_at

Variables = Mapping[str, tuple[int, str]] | Mapping[str, Mapping[str, Any]]
"""Variables to read: ``{"speed": (8261866, "<i2"), ...}``, or data.json's ``{"info": {...}}``."""


@dataclass
class RamTrace:
    """Named RAM variables per frame of a drive, and what the emulator paid for it.

    Attributes:
        rows: T + 1 dicts of variables; ``rows[0]`` is the RAM before the first frame (at
            reset), ``rows[t]`` what frame ``t`` left.
        rewards: (T,) the emulator's reward for frames 1..T, or None (a made-up or watched trace).
        dones: (T,) the emulator's ``terminated`` for frames 1..T, or None.
        buttons: T button strings held, e.g. ``"B+LEFT"``, or None.
        game: the game it was recorded on.
        variables: name -> (data.json address, type) of each variable, when known.
        labels: name -> where it sits, as the memory map names it (``$7E:10EA``), for plots.
    """

    rows: list[dict[str, int]]
    rewards: np.ndarray | None = None
    dones: np.ndarray | None = None
    buttons: list[str] | None = None
    game: str = PRACTICE_GAME
    variables: dict[str, tuple[int, str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        """Frames after the reset (T)."""
        return len(self.rows) - 1

    def __repr__(self) -> str:
        return f"RamTrace({len(self)} frames of {', '.join(self.rows[0]) if self.rows else 'nothing'})"

    def column(self, name: str) -> np.ndarray:
        """(T + 1,) values of one variable, from the reset row on."""
        return np.array([row[name] for row in self.rows])

    def __getitem__(self, name: str) -> np.ndarray:
        """(T,) values of one variable on frames 1..T (what each frame left)."""
        return self.column(name)[1:]

    @property
    def frames(self) -> np.ndarray:
        """(T,) frame numbers 1..T."""
        return np.arange(1, len(self) + 1)

    def save(self, path: str | Path) -> Path:
        """Write the trace as JSON (a few hundred KiB for a five-lap race)."""
        data = asdict(self)
        for key in ("rewards", "dones"):
            data[key] = None if data[key] is None else np.asarray(data[key]).tolist()
        Path(path).write_text(json.dumps(data))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> RamTrace:
        """Read a trace written by :meth:`save`."""
        data = json.loads(Path(path).read_text())
        rewards = None if data["rewards"] is None else np.asarray(data["rewards"], dtype=np.float32)
        dones = None if data["dones"] is None else np.asarray(data["dones"], dtype=bool)
        variables = {name: (int(a), str(t)) for name, (a, t) in data.get("variables", {}).items()}
        return cls(data["rows"], rewards, dones, data["buttons"], data["game"], variables, data.get("labels", {}))

    @classmethod
    def synthetic(cls, start: Mapping[str, int], changes: Sequence[Mapping[str, int]]) -> RamTrace:
        """A made-up trace: ``start`` at reset, then one frame per entry of ``changes``.

        Each change updates the values it names, and they stay until changed again, so
        ``[{"laps": 128, "checkpoint": 0}] + [{}] * 29`` crosses the line, then waits 29 frames.
        """
        rows = [dict(start)]
        for change in changes:
            rows.append({**rows[-1], **change})
        return cls(rows)

    def plot(self, names: Sequence[str] | None = None, title: str | None = None) -> Any:
        """One panel per variable, stacked, sharing the frame axis; returns the figure."""
        import matplotlib.pyplot as plt  # here: pyplot adds about 0.5 s (measured) to importing the RAM tools
        from matplotlib.ticker import MaxNLocator

        names = list(names or self.rows[0])
        fig, axes = plt.subplots(len(names), 1, sharex=True, figsize=(9, 0.6 + 1.45 * len(names)), squeeze=False)
        for ax, name in zip(axes[:, 0], names, strict=True):
            address, dtype = self.variables.get(name, ("", ""))
            ax.plot(self.frames, self[name], drawstyle="steps-post", lw=1.4, color="C0")
            ax.set_ylabel(f"{name}\n{self.labels.get(name, address)} {dtype}", rotation=0, ha="right", va="center")
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))  # RAM values are integers
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("frame")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig


def record_drive(
    env: Any,
    policy: Driver,
    frames: int,
    reset: bool = True,
    stop_when_done: bool = True,
    screens_every: int = 0,
) -> tuple[RamTrace, list[np.ndarray]]:
    """Drive ``env`` and record its data.json variables, rewards and done flags every frame.

    Args:
        policy: ``policy(info) -> buttons`` called every frame, or a button script.
        frames: the most frames to drive (a script stops at its end).
        reset: reset the env first (its RAM then becomes row 0).
        stop_when_done: stop on the first frame the env reports ``terminated``.
        screens_every: also keep every n-th screen (0: none).

    Returns:
        The trace, and the kept screens (each 224 x 256 x 3 uint8).
    """
    if reset:
        env.reset()
    if not callable(policy) and not isinstance(policy, str):
        frames = min(frames, script_frames(policy))
    rows = [dict(env.unwrapped.data.lookup_all())]  # reset() returns an empty info dict
    rewards, dones, held, screens = [], [], [], []
    for t, frame in enumerate(frames_of(env, policy, frames), start=1):
        rows.append(dict(frame.info))
        rewards.append(frame.reward)
        dones.append(frame.terminated)
        held.append(frame.buttons)
        if screens_every and t % screens_every == 0:
            screens.append(frame.screen)
        if frame.terminated and stop_when_done:
            break
    game = getattr(env.unwrapped, "gamename", PRACTICE_GAME)
    trace = RamTrace(rows, np.asarray(rewards, dtype=np.float32), np.asarray(dones, dtype=bool), held, game)
    return trace, screens


def _as_pairs(variables: Variables) -> dict[str, tuple[int, str]]:
    info = variables.get("info") if isinstance(variables, Mapping) else None
    specs: Mapping[str, Any] = info if isinstance(info, Mapping) else variables  # data.json's, or the pairs
    out = {}
    for name, spec in specs.items():
        address, dtype = (spec["address"], spec["type"]) if isinstance(spec, Mapping) else spec
        out[name] = (int(address), str(dtype))
    return out


def watch(env: Any, variables: Variables, driver: Driver, frames: int | None = None) -> RamTrace:
    """Drive and read ``variables`` (any addresses, any types) before the drive and on every frame.

    Reads only the bytes the variables need, so a long drive stays small.
    """
    mm = MemoryMap.from_env(env)
    pairs = _as_pairs(variables)
    starts = {name: mm.index_of(address) for name, (address, _) in pairs.items()}
    widths = {name: DataType.read_as(dtype).width for name, (_, dtype) in pairs.items()}
    needed = np.unique(np.concatenate([np.arange(starts[n], starts[n] + widths[n]) for n in pairs]))
    snapshots = [mm.read(env)[needed]]
    drive(env, driver, frames, lambda _: snapshots.append(mm.read(env)[needed]))
    got = np.stack(snapshots)
    columns = {}
    for name, (_, dtype) in pairs.items():
        local = np.searchsorted(needed, starts[name])  # where this variable's bytes sit in `got`
        columns[name] = decode_at(got, local, dtype).tolist()
    rows = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    labels = {name: mm.label(address) for name, (address, _) in pairs.items()}
    game = getattr(env.unwrapped, "gamename", PRACTICE_GAME)
    return RamTrace(rows, game=game, variables=pairs, labels=labels)
