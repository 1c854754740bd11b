"""Rewards without the emulator: RAM traces, offline Lua runs, breakdowns, and a Python reward.

A **RAM trace** is the table of ``data.json`` variables per frame of a drive: row 0 is what
``env.reset()`` left in RAM (the reset call of the reward script sees it), row ``t`` what
step ``t`` left. Record one from the emulator with :func:`record_drive`, or write one by hand
with :meth:`RamTrace.synthetic`. Then:

- :func:`run_lua` runs the scenario's Lua reward and done on it, frame by frame, as
  stable-retro would (in a lupa sandbox, or in stable-retro's own sandbox), and collects
  the script's ``components`` table per frame;
- :class:`KartReward` is the same reward written in Python, and :class:`KartRewardWrapper`
  puts it on an env in place of the Lua one;
- :func:`summarize` and :func:`plot_components` show what the reward paid for.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from kart_helpers.integration import PRACTICE_GAME
from kart_helpers.scenario import LuaSandbox, Scenario, load_scenario
from kart_helpers.states import ButtonScript, action_for, as_steps

COMPONENTS = ("checkpoint", "wall", "offroad", "time", "backward")
"""The reward components of the course's script.lua, in the order it sums them."""

FPS = 60  # SNES frames per second (NTSC)


# --- traces --------------------------------------------------------------------------------


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


GRID_RAM: dict[str, int] = {
    "laps": 127,
    "checkpoint": 29,
    "checkpoint_alt": 29,
    "num_checkpoints": 30,
    "speed": 0,
    "surface": 0x40,
    "collision": 0,
    "backward": 0,
    "current_frame": 0,
    "x": 472,
    "y": 801,
    "heading": 64,
}
"""RAM of a kart on the start grid: laps 127, in the last checkpoint zone, on road."""

Policy = Callable[[dict[str, int]], str]


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


# --- reward runs ---------------------------------------------------------------------------


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
        scenario: a :class:`~kart_helpers.scenario.Scenario` or what ``load_scenario``
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
    import stable_retro.data as sr_data

    from kart_helpers.integration import close_live_env

    close_live_env()  # the Lua state is shared by every GameData in the process
    game = sr_data.GameData()
    data_json = scen.path.parent / "data.json"
    with_vars = data_json if data_json.is_file() else None
    if with_vars is None:  # a scenario in another folder: give GameData a data.json of its own
        import tempfile

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


# --- the same reward in Python -------------------------------------------------------------


@dataclass(frozen=True)
class RewardConstants:
    """The constants of script.lua, by the same names in lower case."""

    checkpoint_reward: float = 300
    default_checkpoints: int = 30
    wall_penalty: float = -10
    wall_slow_speed: int = 600
    offroad_penalty: float = -15
    offroad_period: int = 30
    time_cost: float = -1
    time_cost_fast: float = -0.5
    fast_speed: int = 700
    time_period: int = 30
    backward_penalty: float = -2
    backward_period: int = 6
    finish_laps: int = 133
    wall_hit_limit: int = 7
    wall_hit_window: int = 600
    surface_offroad: int = 0x54
    surface_wall: int = 0x80
    backward_bit: int = 0x10


class KartReward:
    """script.lua's reward and done, in Python, over the same RAM variables.

    Call :meth:`reset` with the RAM after ``env.reset()`` (it pays nothing and records the
    starting progress), then :meth:`step` with each frame's RAM. After each step,
    ``components`` holds the value of each component and ``totals`` their episode sums.

    Args:
        constants: the tunable numbers (default: script.lua's).
        pay_once: pay a checkpoint only when progress beats its best of the episode (the
            fix). False pays every increase over the previous frame, as the original
            project did: crossing the line back and forth then pays again and again.
    """

    def __init__(self, constants: RewardConstants | None = None, pay_once: bool = True) -> None:
        self.c = constants or RewardConstants()
        self.pay_once = pay_once
        self.reset(GRID_RAM)

    def reset(self, ram: Mapping[str, int]) -> tuple[float, bool]:
        """The call inside ``env.reset()``: record where the kart starts; pays 0."""
        self.frames = 0
        self.best_progress = self.last_progress = self._progress(ram)
        self.offroad_frames = self.backward_frames = 0
        self.last_collision = ram["collision"]
        self.wall_hits: list[int] = []
        self.finished, self.done_reason = False, None
        self.components = dict.fromkeys(COMPONENTS, 0.0)
        self.totals = dict.fromkeys(COMPONENTS, 0.0)
        self._check_finished(ram)
        return 0.0, self.finished

    def step(self, ram: Mapping[str, int]) -> tuple[float, bool]:
        """Reward and done of one frame."""
        self.frames += 1
        self.components = {
            "checkpoint": self._checkpoint(ram),
            "wall": self._wall(ram),
            "offroad": self._offroad(ram),
            "time": self._time(ram),
            "backward": self._backward(ram),
        }
        for name, value in self.components.items():
            self.totals[name] += value
        if ram["collision"] and not self.last_collision:  # the wall timer just started: a hit
            self.wall_hits.append(self.frames)
        self.last_collision = ram["collision"]
        self.wall_hits = [hit for hit in self.wall_hits if self.frames - hit < self.c.wall_hit_window]
        self._check_finished(ram)
        # Summed in script.lua's order, and rounded to float32 as stable-retro returns it.
        return float(np.float32(sum(self.components.values()))), self.finished

    # One method per component, as in script.lua (see there for why each exists).

    def _wall(self, ram: Mapping[str, int]) -> float:
        stuck = ram["surface"] == self.c.surface_wall and ram["speed"] < self.c.wall_slow_speed
        return self.c.wall_penalty if stuck else 0.0

    def _offroad(self, ram: Mapping[str, int]) -> float:
        if ram["surface"] != self.c.surface_offroad:
            return 0.0
        self.offroad_frames += 1
        return self.c.offroad_penalty if self.offroad_frames % self.c.offroad_period == 0 else 0.0

    def _time(self, ram: Mapping[str, int]) -> float:
        if self.frames % self.c.time_period:
            return 0.0
        return self.c.time_cost_fast if ram["speed"] > self.c.fast_speed else self.c.time_cost

    def _backward(self, ram: Mapping[str, int]) -> float:
        if not ram["backward"] & self.c.backward_bit:  # a bit test, not ==: other bits mean other things
            return 0.0
        self.backward_frames += 1
        return self.c.backward_penalty if self.backward_frames % self.c.backward_period == 0 else 0.0

    def _progress(self, ram: Mapping[str, int]) -> int:
        per_lap = ram["num_checkpoints"] or self.c.default_checkpoints
        return ram["laps"] * per_lap + ram["checkpoint"]

    def _checkpoint(self, ram: Mapping[str, int]) -> float:
        progress = self._progress(ram)
        reference = self.best_progress if self.pay_once else self.last_progress
        self.last_progress = progress
        if progress <= reference:
            return 0.0
        self.best_progress = max(self.best_progress, progress)
        gained = progress - reference
        # A jump of more than a lap is the race being set up (laps 0 -> 127), not driving.
        return 0.0 if gained > self.c.default_checkpoints else float(self.c.checkpoint_reward * gained)

    def _check_finished(self, ram: Mapping[str, int]) -> None:
        if self.finished:
            return
        if ram["laps"] >= self.c.finish_laps:
            self.finished, self.done_reason = True, "finished"
        elif len(self.wall_hits) >= self.c.wall_hit_limit:
            self.finished, self.done_reason = True, "wall_hits"


def run_python(trace: RamTrace, reward: KartReward | None = None) -> RewardRun:
    """Run :class:`KartReward` (or ``reward``) on a trace, like :func:`run_lua`."""
    reward = reward or KartReward()
    reward.reset(trace.rows[0])
    rewards, dones, parts = [], [], []
    for row in trace.rows[1:]:
        r, d = reward.step(row)
        rewards.append(r)
        dones.append(d)
        parts.append(dict(reward.components))
    components = {n: np.array([p[n] for p in parts], dtype=float) for n in COMPONENTS}
    return RewardRun(np.asarray(rewards, np.float32), np.asarray(dones, bool), components, reward.done_reason, "python")


class KartRewardWrapper(gym.Wrapper):
    """Replace an env's (Lua) reward and done with :class:`KartReward`'s.

    ``info`` gains ``lua_reward`` and ``lua_done`` (what the scenario's script said) and
    ``reward_components``, so the two can be compared on every step.
    """

    def __init__(self, env: gym.Env, reward: KartReward | None = None) -> None:
        super().__init__(env)
        self.reward = reward or KartReward()

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        self.reward.reset(self.env.unwrapped.data.lookup_all())
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, lua_reward, lua_done, truncated, info = self.env.step(action)
        reward, done = self.reward.step(info)
        info = {**info, "lua_reward": lua_reward, "lua_done": lua_done, "reward_components": self.reward.components}
        return obs, reward, done, truncated, info


# --- summaries and plots -------------------------------------------------------------------


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
        end = self.done_reason or "not done"
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
    starts = np.flatnonzero(laps == 127 + lap)
    if not starts.size:
        raise ValueError(f"the trace never reaches lap {lap} (laps reads {sorted(set(laps.tolist()))})")
    ends = np.flatnonzero(laps == 128 + lap)
    return int(starts[0]), int(ends[0]) if ends.size else len(laps)


COLORS = {"checkpoint": "#2a9d3f", "wall": "#d62728", "offroad": "#8c564b", "time": "#7f7f7f", "backward": "#ff7f0e"}


def plot_components(run: RewardRun, title: str = "", bin_frames: int = 30) -> Any:
    """Stacked reward components over a run; returns the matplotlib figure.

    Top: the cumulative reward of each component, stacked (gains above zero, penalties
    below) with the total as a line. Bottom: the penalties per ``bin_frames`` frames,
    stacked, on their own scale, since a checkpoint (+300) dwarfs them.
    """
    import matplotlib.pyplot as plt

    if not run.components:
        raise ValueError("this run has no components (run the Lua with backend='lupa', or run_python)")
    t = np.arange(1, len(run.rewards) + 1) / FPS
    names = list(run.components)
    cumulative = {n: np.cumsum(run.components[n]) for n in names}
    gains = [n for n in names if cumulative[n].max(initial=0) > 0]
    losses = [n for n in names if cumulative[n].min(initial=0) < 0]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True, height_ratios=[3, 2])
    for group in (gains, losses):
        if group:
            top.stackplot(
                t,
                [cumulative[n] for n in group],
                labels=group,
                colors=[COLORS.get(n) for n in group],
                alpha=0.85,
            )
    top.plot(t, np.cumsum(run.rewards), color="black", lw=1.5, label="total")
    top.axhline(0, color="black", lw=0.5)
    top.set_ylabel("cumulative reward")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    top.set_title(title or "Reward by component")

    penalties = [n for n in names if run.components[n].min(initial=0) < 0]
    bins = np.arange(0, len(run.rewards) + bin_frames, bin_frames)
    centers = bins[:-1] / FPS
    base = np.zeros(len(bins) - 1)
    for name in penalties:
        per_bin = np.add.reduceat(run.components[name], bins[:-1]) if len(run.rewards) else base
        bottom.bar(
            centers,
            per_bin,
            width=0.8 * bin_frames / FPS,  # gaps between bins, so single events stay visible
            bottom=base,
            align="edge",
            color=COLORS.get(name),
            label=name,
        )
        base = base + per_bin
    bottom.axhline(0, color="black", lw=0.5)
    bottom.set_ylabel(f"penalty per {bin_frames / FPS:g} s")
    bottom.set_xlabel("time (s)")
    if penalties:
        bottom.set_ylim(1.15 * base.min(), 0)
        bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    else:
        bottom.text(0.5, 0.5, "no penalties", transform=bottom.transAxes, ha="center")
    fig.tight_layout()
    return fig


def plot_cumulative(
    runs: Mapping[str, RewardRun],
    trace: RamTrace | None = None,
    component: str | None = None,
    title: str = "",
) -> Any:
    """Cumulative reward (or one ``component``) of several runs over the same frames.

    With ``trace``, a lower panel shows the lap counter (``laps`` - 127: 0 on the grid,
    1 in the first lap), so line crossings line up with what each reward paid.
    """
    import matplotlib.pyplot as plt

    rows = 2 if trace is not None else 1
    ratios = [2, 1] if rows == 2 else [1]
    size = (10, 5 if rows == 2 else 3.5)
    fig, axes = plt.subplots(rows, 1, figsize=size, sharex=True, squeeze=False, height_ratios=ratios)
    top = axes[0, 0]
    for label, run in runs.items():
        values = run.components[component] if component else run.rewards
        top.plot(np.arange(1, len(values) + 1) / FPS, np.cumsum(values), lw=2, label=label)
    top.set_ylabel(f"{component + ' reward' if component else 'reward'}, cumulative")
    top.legend(loc="upper left")
    top.set_title(title)
    if trace is not None:
        bottom = axes[1, 0]
        bottom.step(np.arange(len(trace.rows)) / FPS, trace.column("laps") - 127, where="post", color="black")
        bottom.set_ylabel("lap (0: behind\nthe line)")
        bottom.set_yticks(sorted(set((trace.column("laps") - 127).tolist())))
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return fig


# --- reward farming ------------------------------------------------------------------------


def farming_policy() -> Policy:
    """A driver that farms the start line: forward over it, reverse back over it, again.

    It holds B until the kart is a checkpoint past the line, then Y (brake, then reverse)
    until it is back behind the line. A reward that pays every checkpoint increase pays
    this loop forever; the course's script pays each checkpoint once per episode.
    """
    mode = ["B"]

    def policy(info: dict[str, int]) -> str:
        if mode[0] == "B" and info["laps"] == 128 and info["checkpoint"] >= 1:
            mode[0] = "Y"
        elif mode[0] == "Y" and info["laps"] == 127 and info["checkpoint"] <= 28:
            mode[0] = "B"
        return mode[0]

    return policy


def wall_rammer(steer_frames: int = 40, back_frames: int = 4) -> Policy:
    """A driver that crashes on purpose: steer right into the wall, back off, drive into it again.

    The wall bounces it back; it reverses a little more and drives in again, hitting the wall
    about every 85 frames, so the episode ends by the wall-hit rule (7 hits within 600
    frames) after about 10 seconds.
    """
    clock = {"frame": 0, "back": 0, "collision": 0}

    def policy(info: dict[str, int]) -> str:
        clock["frame"] += 1
        if info["collision"] and not clock["collision"]:  # the wall timer just started: a new hit
            clock["back"] = back_frames
        clock["collision"] = info["collision"]
        if clock["back"] > 0:
            clock["back"] -= 1
            return "Y"
        return "B+RIGHT" if clock["frame"] < steer_frames else "B"

    return policy


def line_crossings(trace: RamTrace) -> int:
    """How many times the kart crossed the start line forwards (``laps`` went up)."""
    return int(np.count_nonzero(np.diff(trace.column("laps")) > 0))
