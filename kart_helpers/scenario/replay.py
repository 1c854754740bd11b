"""Rewards without the emulator: run a scenario's Lua on a RAM trace and see what it paid for."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import stable_retro.data as sr_data

from kart_helpers.emulator.env import close_live_env
from kart_helpers.game.constants import FPS, GRID_LAPS
from kart_helpers.ram.trace import RamTrace
from kart_helpers.scenario.files import Scenario, load_scenario
from kart_helpers.scenario.sandbox import LuaSandbox

COMPONENTS = ("checkpoint", "wall", "offroad", "time", "backward")
"""The reward components of the course's script.lua, in the order it sums them."""


@dataclass
class RewardRun:
    """Rewards computed for a trace.

    Attributes:
        rewards: (T,) reward of frames 1..T.
        dones: (T,) done flag of frames 1..T.
        components: name -> (T,) value of each reward component per frame (empty when the
            source cannot show them, e.g. stable-retro's own sandbox).
        done_reason: why the episode ended ("finished", "wall_hits"), or None.
        source: what computed it, e.g. "lua (lupa)".
    """

    rewards: np.ndarray
    dones: np.ndarray
    components: dict[str, np.ndarray] = field(default_factory=dict)
    done_reason: str | None = None
    source: str = ""

    @property
    def total(self) -> float:
        return float(self.rewards.sum())

    @property
    def done_at(self) -> int | None:
        """Index of the first frame with done set (frame ``done_at + 1`` of the trace), or None."""
        hits = np.flatnonzero(self.dones)
        return int(hits[0]) if hits.size else None

    def window(self, start: int, stop: int) -> RewardRun:
        """The frames ``start:stop`` of this run (indices into ``rewards``)."""
        parts = {k: v[start:stop] for k, v in self.components.items()}
        dones = self.dones[start:stop]
        reason = self.done_reason if dones.any() else None  # the end is in this window or not
        return RewardRun(self.rewards[start:stop], dones, parts, reason, self.source)


def run_lua(trace: RamTrace, scenario: Scenario | str | Path | None = None, backend: str = "lupa") -> RewardRun:
    """Run a scenario's Lua reward and done on a RAM trace, without the emulator.

    Args:
        trace: the RAM per frame.
        scenario: a :class:`~kart_helpers.scenario.files.Scenario` or what ``load_scenario``
            accepts; default the trace's game's ``scenario.json``.
        backend: ``"lupa"`` (a Lua 5.1 sandbox that also reads the script's ``components``
            table) or ``"stable_retro"`` (stable-retro's own sandbox via ``GameData``; it has
            one Lua state per process, so this closes the live env first).

    Returns:
        Rewards and done flags per frame (components with the lupa backend).
    """
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario or trace.game)
    if backend == "stable_retro":
        return _run_stable_retro(trace, scen)
    if backend != "lupa":
        raise ValueError(f"backend {backend!r}: use 'lupa' or 'stable_retro'")
    for kind in ("reward", "done"):
        entry = scen.spec.get(kind)
        if isinstance(entry, dict) and "script" not in entry and entry:
            raise ValueError(
                f"this scenario's {kind} is made of variables, not Lua; the lupa backend runs only Lua. "
                "Use backend='stable_retro'."
            )
    sandbox = LuaSandbox(scen)
    sandbox.reset(trace.rows[0])
    rewards, dones, parts = [], [], []
    for row in trace.rows[1:]:
        reward, done = sandbox.step(row)
        rewards.append(reward)
        dones.append(done)
        parts.append(sandbox.table("components"))
    names = list(parts[0]) if parts and parts[0] else []
    names = [n for n in COMPONENTS if n in names] + [n for n in names if n not in COMPONENTS]
    components = {n: np.array([p.get(n, 0.0) for p in parts], dtype=float) for n in names}
    reason = sandbox.value("done_reason")
    return RewardRun(np.asarray(rewards, np.float32), np.asarray(dones, bool), components, reason, "lua (lupa)")


def _run_stable_retro(trace: RamTrace, scen: Scenario) -> RewardRun:

    close_live_env()  # the Lua state is shared by every GameData in the process
    game = sr_data.GameData()
    data_json = scen.path.parent / "data.json"
    with_vars = data_json if data_json.is_file() else None
    if with_vars is None:  # a scenario in another folder: give GameData a data.json of its own
        with_vars = Path(tempfile.mkdtemp()) / "data.json"
        with_vars.write_text(json.dumps({"info": scen.variables}))
    if not game.load(str(with_vars), str(scen.path)):
        raise ValueError(f"stable-retro could not load {with_vars} and {scen.path}")
    for name in list(game.list_variables()):  # custom variables stand in for RAM
        game.remove_variable(name)
    game.reset()
    rewards, dones = [], []
    for t, row in enumerate(trace.rows):
        for name, value in row.items():
            game.set_value(name, int(value))
        game.update_ram()
        if t:
            rewards.append(game.current_reward())
            dones.append(game.is_done())
    return RewardRun(np.asarray(rewards, np.float32), np.asarray(dones, bool), source="lua (stable-retro)")


@dataclass
class EpisodeSummary:
    """Totals of one run: per component, overall, and how the episode ended."""

    frames: int
    totals: dict[str, float]
    total: float
    done_reason: str | None
    events: dict[str, int]
    """Frames on which each component paid something nonzero."""

    def __str__(self) -> str:
        lines = [f"{'component':<11} {'total':>9} {'frames paid':>12}"]
        for name, value in self.totals.items():
            lines.append(f"{name:<11} {value:>9.1f} {self.events[name]:>12}")
        lines.append(f"{'sum':<11} {self.total:>9.1f}")
        end = self.done_reason or "not by the scenario (still racing when the drive stopped, e.g. at a time limit)"
        lines.append(f"{self.frames} frames ({self.frames / FPS:.1f} s); episode end: {end}")
        return "\n".join(lines)


def summarize(run: RewardRun) -> EpisodeSummary:
    """The per-episode summary of a run (components need a lupa or Python run)."""
    totals = {name: float(values.sum()) for name, values in run.components.items()}
    events = {name: int(np.count_nonzero(values)) for name, values in run.components.items()}
    return EpisodeSummary(len(run.rewards), totals, run.total, run.done_reason, events)


def lap_window(trace: RamTrace, lap: int = 1) -> tuple[int, int]:
    """(start, stop) indices into a run's arrays covering lap ``lap`` (1 = the first lap).

    Lap k runs while ``laps`` reads 127 + k; stop is the frame the next lap starts (or the
    end of the trace).

    Raises:
        ValueError: the trace never reaches that lap.
    """
    laps = trace.column("laps")[1:]  # aligned with run arrays
    starts = np.flatnonzero(laps == GRID_LAPS + lap)
    if not starts.size:
        raise ValueError(f"the trace never reaches lap {lap} (laps reads {sorted(set(laps.tolist()))})")
    ends = np.flatnonzero(laps == 128 + lap)
    return int(starts[0]), int(ends[0]) if ends.size else len(laps)
