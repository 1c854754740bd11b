"""RAM traces: named variables per frame of a drive, recorded from the emulator or made up."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kart_helpers.emulator.buttons import ButtonScript, action_for, as_steps
from kart_helpers.emulator.drive import Driver, Policy, drive
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.ram.memory_map import MemoryMap
from kart_helpers.ram.types import DataType, decode_at


@dataclass
class RamTrace:
    """RAM variables per frame of a drive, and what the emulator paid for it.

    Attributes:
        rows: T + 1 dicts of data.json variables; ``rows[0]`` is the RAM at reset.
        rewards: (T,) the emulator's reward for frames 1..T, or None for a made-up trace.
        dones: (T,) the emulator's ``terminated`` for frames 1..T, or None.
        buttons: T button strings held, e.g. ``"B+LEFT"``, or None.
        game: the game it was recorded on.
    """

    rows: list[dict[str, int]]
    rewards: np.ndarray | None = None
    dones: np.ndarray | None = None
    buttons: list[str] | None = None
    game: str = PRACTICE_GAME

    def __len__(self) -> int:
        """Frames after the reset (T)."""
        return len(self.rows) - 1

    def column(self, name: str) -> np.ndarray:
        """(T + 1,) values of one variable, from the reset row on."""
        return np.array([row[name] for row in self.rows])

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
        return cls(data["rows"], rewards, dones, data["buttons"], data["game"])

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


def record_drive(
    env: Any,
    policy: Policy | ButtonScript,
    frames: int,
    reset: bool = True,
    stop_when_done: bool = True,
    screens_every: int = 0,
) -> tuple[RamTrace, list[np.ndarray]]:
    """Drive ``env`` and record its RAM variables, rewards and done flags.

    Args:
        policy: ``policy(info) -> buttons`` called every frame, or a button script.
        frames: the most frames to drive.
        reset: reset the env first (its RAM then becomes row 0).
        stop_when_done: stop on the first frame the env reports ``terminated``.
        screens_every: also keep every n-th screen (0: none).

    Returns:
        The trace, and the kept screens (each 224 x 256 x 3 uint8).
    """
    if reset:
        env.reset()
    names = env.unwrapped.buttons
    plan = None if callable(policy) else [s.buttons for s in as_steps(policy, names) for _ in range(s.frames)]
    if plan is not None:
        frames = min(frames, len(plan))
    info = env.unwrapped.data.lookup_all()  # reset() returns an empty info dict
    rows, rewards, dones, held, screens = [dict(info)], [], [], [], []
    for t in range(frames):
        buttons = plan[t] if plan is not None else policy(info)
        screen, reward, terminated, _, info = env.step(action_for(buttons, names))
        rows.append(dict(info))
        rewards.append(reward)
        dones.append(terminated)
        held.append(buttons)
        if screens_every and (t + 1) % screens_every == 0:
            screens.append(screen)
        if terminated and stop_when_done:
            break
    game = getattr(env.unwrapped, "gamename", PRACTICE_GAME)
    trace = RamTrace(rows, np.asarray(rewards, dtype=np.float32), np.asarray(dones, dtype=bool), held, game)
    return trace, screens


Variables = Mapping[str, tuple[int, str]] | Mapping[str, Mapping[str, Any]]


def _as_pairs(variables: Variables) -> dict[str, tuple[int, str]]:
    variables = variables.get("info", variables) if isinstance(variables, Mapping) else variables
    out = {}
    for name, spec in variables.items():
        address, dtype = (spec["address"], spec["type"]) if isinstance(spec, Mapping) else spec
        out[name] = (int(address), str(dtype))
    return out


@dataclass(repr=False)
class Trace:
    """Named variables read every frame of a drive."""

    frames: np.ndarray
    """(T,) frame numbers, from 1"""
    values: dict[str, np.ndarray]
    """name -> (T,) int64"""
    variables: dict[str, tuple[int, str]]
    """name -> (data.json address, type)"""
    labels: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.values[name]

    def __repr__(self) -> str:
        return f"Trace({len(self.frames)} frames of {', '.join(self.values)})"

    def plot(self, names: Sequence[str] | None = None, title: str | None = None) -> Any:
        """One panel per variable, stacked, sharing the frame axis; returns the figure."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        names = list(names or self.values)
        fig, axes = plt.subplots(len(names), 1, sharex=True, figsize=(9, 0.6 + 1.45 * len(names)), squeeze=False)
        for ax, name in zip(axes[:, 0], names, strict=True):
            address, dtype = self.variables[name]
            ax.plot(self.frames, self.values[name], drawstyle="steps-post", lw=1.4, color="C0")
            ax.set_ylabel(f"{name}\n{self.labels.get(name, address)} {dtype}", rotation=0, ha="right", va="center")
            ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))  # RAM values are integers
            ax.grid(alpha=0.3)
        axes[-1, 0].set_xlabel("frame")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig


def watch(env: Any, variables: Variables, driver: Driver, frames: int | None = None) -> Trace:
    """Drive and read ``variables`` on every frame.

    variables: ``{"speed": (8261866, "<i2"), ...}``, or data.json's ``{"info": {...}}``.
    Reads only the bytes the variables need, so a long drive stays small.
    """
    mm = MemoryMap.from_env(env)
    pairs = _as_pairs(variables)
    starts = {name: mm.index_of(address) for name, (address, _) in pairs.items()}
    widths = {name: DataType.read_as(dtype).width for name, (_, dtype) in pairs.items()}
    needed = np.unique(np.concatenate([np.arange(starts[n], starts[n] + widths[n]) for n in pairs]))
    rows: list[np.ndarray] = []
    drive(env, driver, frames, lambda _: rows.append(mm.read(env)[needed]))
    got = np.stack(rows) if rows else np.zeros((0, len(needed)), np.uint8)
    values = {}
    for name, (_, dtype) in pairs.items():
        local = np.searchsorted(needed, starts[name])  # where this variable's bytes sit in `got`
        values[name] = decode_at(got, local, dtype)
    labels = {name: mm.label(address) for name, (address, _) in pairs.items()}
    return Trace(np.arange(1, len(rows) + 1), values, pairs, labels)
