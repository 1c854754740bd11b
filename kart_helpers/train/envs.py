"""The training envs: the course pipeline plus race bookkeeping that PPO's collector can read.

:class:`EpisodeLog`, outermost, lets a resumed run pick up every env mid-episode exactly where
the interrupted run left it (see its docs). :class:`RaceStats` sits outside the pipeline env.
It scales the reward for PPO and adds fixed-size race facts to every ``info`` (fixed size,
because Tianshou stacks the infos of all envs into arrays): laps completed, the race clock at
each lap's end, and the episode's unscaled return. :class:`LapClock` turns the RAM counters
``laps`` and ``current_frame`` into lap times; :mod:`kart_helpers.evaluate` uses it too.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from kart_helpers.game.constants import CHECKPOINTS, RACE_LAPS
from kart_helpers.game.laps import LapClock
from kart_helpers.pipeline.build import make_kart_env
from kart_helpers.pipeline.factory import KartEnvFactory
from kart_helpers.pipeline.vector import vector_env_from_factories
from kart_helpers.train.config import PPOConfig, StartsConfig
from kart_helpers.train.starts import RetryStarts, SpreadStarts, track_snapshots


class RaceStats(gym.Wrapper):
    """Scale rewards by ``reward_scale``, end stalled episodes, and add race facts to ``info``.

    An episode is truncated after ``stall_frames`` emulator frames without reaching a new
    checkpoint (0: never). A kart pressed against a wall otherwise pays -10 per frame until
    the time limit, and most of what PPO collects early on is the same stuck picture.

    Keys added to every ``info`` (also at reset): ``race_laps`` (laps completed),
    ``lap_ends`` (int array of 5: the race clock at each lap's end, 0 where not reached),
    ``race_start`` (clock at the first crossing, -1 before), ``ep_return`` (the episode's
    *unscaled* return so far), ``ep_frames`` (emulator frames so far) and ``grid_start``
    (False when :class:`~kart_helpers.train.starts.SpreadStarts` began the episode mid-track:
    its laps are then line crossings, not a race from GO), ``stalled`` (True on the step that
    truncates a stalled episode) and ``progress_frame`` (``ep_frames`` at the latest new
    checkpoint).
    """

    def __init__(self, env: gym.Env, reward_scale: float = 1.0, stall_frames: int = 0) -> None:
        super().__init__(env)
        self.reward_scale = float(reward_scale)
        self.stall_frames = int(stall_frames)
        self._clock = LapClock()
        self._return = 0.0
        self._frames = 0
        self._best_progress = -1
        self._progress_frame = 0
        self._grid_start = True
        self._stalled = False

    def _facts(self, info: dict[str, Any]) -> dict[str, Any]:
        ends = np.zeros(RACE_LAPS, dtype=np.int32)
        ends[: min(RACE_LAPS, self._clock.laps)] = self._clock.ends[:RACE_LAPS]
        return {
            **info,
            "race_laps": self._clock.laps,
            "lap_ends": ends,
            "race_start": -1 if self._clock.start is None else self._clock.start,
            "ep_return": self._return,
            "ep_frames": self._frames,
            "grid_start": self._grid_start,
            "stalled": self._stalled,
            "progress_frame": self._progress_frame,
        }

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._clock, self._return, self._frames = LapClock(), 0.0, 0
        self._best_progress, self._progress_frame, self._stalled = -1, 0, False
        self._grid_start = int(info.get("start_index", -1)) < 0
        return obs, self._facts(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._frames += int(info.get("frames", 1))
        if "laps" in info:
            self._clock.update(int(info["laps"]), int(info["current_frame"]))
            progress = int(info["laps"]) * (int(info.get("num_checkpoints", 0)) or CHECKPOINTS) + int(
                info["checkpoint"]
            )
            if progress > self._best_progress:
                self._best_progress, self._progress_frame = progress, self._frames
            elif self.stall_frames and self._frames - self._progress_frame >= self.stall_frames:
                truncated = self._stalled = True
        return obs, float(reward) * self.reward_scale, terminated, truncated, self._facts(info)


RESUME_OPTION = "kart_resume"
"""The ``reset(options=...)`` key of :class:`EpisodeLog`'s two requests."""


class ReplayError(RuntimeError):
    """A saved episode did not replay as it was recorded (another ROM, state or code version)."""


class EpisodeLog(gym.Wrapper):
    """Remember how the current episode began and every action since, so that a new process can
    replay it bit for bit: the way a resumed run puts each env back where the interrupted one was.

    An episode is a pure function of the random generators' states at its reset and of the
    actions since: the emulator, the reward script and every wrapper replay it exactly. So
    neither the emulator's nor the Lua script's state needs saving (the script's globals cannot
    be read out at all), only the episode: ``rng`` (the state of every numpy generator in the
    wrapper stack just before the reset), ``seed`` (the reset's seed), ``retries``
    (:class:`SpreadStarts`' retry snapshots, which change only between episodes) and ``actions``.
    Replaying costs one episode's steps at most (a few seconds).

    Both requests travel as ``reset(options={RESUME_OPTION: ...})``, the one call that every
    vector-env backend hands its workers unchanged:

    - ``"get"``: returns the last observation and ``info["kart_episode"]``; the env is untouched;
    - an episode dict: replays it and returns the observation and info of its last step.
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._episode: dict[str, Any] = {"rng": {}, "seed": None, "retries": [], "actions": []}
        self._last: tuple[Any, dict[str, Any]] | None = None

    def _layers(self) -> Iterator[Any]:
        layer: Any = self.env
        while True:
            yield layer
            if not isinstance(layer, gym.Wrapper):
                return
            layer = layer.env

    def _generators(self) -> dict[str, np.random.Generator]:
        """Every numpy generator in the stack (the base env's ``_np_random``, SpreadStarts' ``_rng``)."""
        return {
            f"{depth}.{name}": value
            for depth, layer in enumerate(self._layers())
            for name, value in vars(layer).items()
            if isinstance(value, np.random.Generator)
        }

    def _spread(self) -> SpreadStarts | None:
        return next((layer for layer in self._layers() if isinstance(layer, SpreadStarts)), None)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        request = (options or {}).get(RESUME_OPTION)
        if isinstance(request, str) and request == "get":
            if self._last is None:
                raise ReplayError("no episode to save yet: reset the env first")
            return self._last[0], {**self._last[1], "kart_episode": self.episode()}
        if isinstance(request, dict):
            return self._replay(request)
        spread = self._spread()
        self._episode = {
            "rng": {k: g.bit_generator.state for k, g in self._generators().items()},
            "seed": seed,
            "retries": list(spread.retries) if spread is not None else [],
            "actions": [],
        }
        obs, info = self.env.reset(seed=seed, options=options)
        self._last = (obs, info)
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._episode["actions"].append(int(action))
        self._last = (obs, info)
        return obs, float(reward), terminated, truncated, info

    def episode(self) -> dict[str, Any]:
        """The current episode: how it began and its actions (plain values, for a checkpoint)."""
        return {**self._episode, "actions": list(self._episode["actions"]), "rng": dict(self._episode["rng"])}

    def _replay(self, episode: dict[str, Any]) -> tuple[Any, dict]:
        generators = self._generators()
        if set(generators) != set(episode["rng"]):
            raise ReplayError(f"the saved episode's generators {sorted(episode['rng'])} are not this env's")
        for key, state in episode["rng"].items():
            generators[key].bit_generator.state = state
        spread = self._spread()
        if spread is not None:
            spread.retries.clear()
            spread.retries.extend(bytes(r) for r in episode["retries"])
        obs, info = self.reset(seed=episode["seed"])  # records the episode's start again, as it was
        actions = [int(a) for a in episode["actions"]]
        for n, action in enumerate(actions, 1):
            obs, _, terminated, truncated, info = self.step(action)
            if (terminated or truncated) and n < len(actions):
                raise ReplayError(f"the saved episode ended after {n} of its {len(actions)} steps on replay")
        return obs, info


def episodes_of(venv: Any) -> list[dict[str, Any]]:
    """Each env's current :class:`EpisodeLog` episode, from any vector-env backend."""
    _, infos = venv.reset(options={RESUME_OPTION: "get"})
    return [dict(info["kart_episode"]) for info in infos]


def replay_episodes(venv: Any, episodes: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """Put every env of ``venv`` back into its saved episode; the observations and infos where they are."""
    results = [venv.reset(env_id=[i], options={RESUME_OPTION: e}) for i, e in enumerate(episodes)]
    obs = np.concatenate([r[0] for r in results])
    return obs, np.concatenate([r[1] for r in results])


@dataclass(frozen=True)
class TrainEnvFactory(KartEnvFactory):
    """A :class:`~kart_helpers.pipeline.factory.KartEnvFactory` whose env also has :class:`RaceStats`."""

    reward_scale: float = 1.0
    """See :attr:`~kart_helpers.train.config.PPOConfig.reward_scale`."""
    stall_frames: int = 0
    """See :attr:`~kart_helpers.train.config.PPOConfig.stall_frames`."""
    starts: StartsConfig = field(default_factory=lambda: StartsConfig(spread_starts=0))
    """Where episodes start (default: always the grid)."""

    def build(self) -> gym.Env:
        if multiprocessing.parent_process() is not None:
            # Ctrl-C in a terminal signals the whole process group. The trainer saves its checkpoint
            # and then closes the workers; a worker dying first would look like a crash to it.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        env = make_kart_env(self.config)
        starts, cfg = self.starts, self.config
        if starts.spread_starts or starts.retry_starts:
            snapshots = (
                track_snapshots(env, cfg.game, cfg.state, starts.spread_starts, starts.spread_frames, self.seed or 0)
                if starts.spread_starts
                else []
            )
            env = SpreadStarts(env, snapshots, starts.grid_start_prob, seed=self.seed, max_retries=starts.retry_starts)
        env = RaceStats(env, self.reward_scale, self.stall_frames)
        if starts.retry_starts and self.stall_frames:
            env = RetryStarts(env)
        return EpisodeLog(env)


def make_train_venv(config: PPOConfig, seed: int | None = None) -> Any:
    """The vector env for a :class:`~kart_helpers.train.config.PPOConfig`: ``n_envs`` workers
    of its pipeline, each with :class:`RaceStats`, seeded ``seed + i``."""
    seed = config.seed if seed is None else seed
    factories = [
        TrainEnvFactory(
            config.pipeline,
            worker=i,
            seed=seed + i,
            reward_scale=config.reward_scale,
            stall_frames=config.stall_frames,
            starts=config.starts,
        )
        for i in range(config.n_envs)
    ]
    return vector_env_from_factories(factories, config.backend)
