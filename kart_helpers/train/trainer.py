"""The PPO trainer: Tianshou 2's PPO, collector and on-policy trainer, wired for kart games.

``train(config)`` runs a whole training run and returns a :class:`TrainResult`::

    from kart_helpers.train import PPOConfig, train
    result = train(PPOConfig(total_steps=50_000, log_dir="runs/demo"))

What it builds (see ``shared/TIANSHOU2.md`` for why each piece is as it is):

- ``n_envs`` emulators in worker processes (:func:`~kart_helpers.train.envs.make_train_venv`);
- the Nature CNN actor-critic (:mod:`~kart_helpers.train.network`), a ``DiscreteActorPolicy``
  with logits (``softmax_output=False``) and ``tianshou.algorithm.PPO`` with Adam and a
  linear LR decay;
- a ``VectorReplayBuffer`` of one rollout (uint8 frames: about 28 KiB per observation);
- ``algo.run_training(OnPolicyTrainerParams(...))`` with a TensorBoard logger that saves a
  checkpoint after every epoch (``save_interval=1``; without it Tianshou never calls
  ``save_checkpoint_fn``).

Around it: a tqdm bar over the whole run, the history of episodes (return, laps, lap times
from RAM) and updates (losses), a live plot in notebooks, and a checkpoint on Ctrl-C. A run
owns its folder (:mod:`~kart_helpers.train.run_folder`: never overwritten, locked while it
trains) and resumes exactly (:mod:`~kart_helpers.train.resume`).
Collection runs torch on one thread and the update on ``torch_threads``, so idle OpenMP
threads do not spin against the emulators.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tianshou.algorithm import PPO
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
from tianshou.data import Collector, VectorReplayBuffer
from tianshou.trainer import OnPolicyTrainerParams
from torch.utils.tensorboard import SummaryWriter

from kart_helpers.display.progress_bar import progress_bar
from kart_helpers.game.laps import LapClock
from kart_helpers.train.algorithm import build_algorithm, build_policy
from kart_helpers.train.checkpoints import (
    CheckpointError,
    load_checkpoint,
    load_into,
    write_text,
)
from kart_helpers.train.collector import LeanCollector
from kart_helpers.train.config import PPOConfig
from kart_helpers.train.envs import make_train_venv
from kart_helpers.train.instruments import TrainLogger
from kart_helpers.train.ppo import HEALTH_SIGNALS
from kart_helpers.train.resume import (
    ResumableTrainer,
    refuse_finished,
    refuse_incompatible,
    saved_config,
    steps_into_epoch,
)
from kart_helpers.train.run_folder import RunLock, prepare
from kart_helpers.train.run_state import RunState

Callback = Callable[["Trainer"], None]


def _mean(stat: Any) -> float:
    if isinstance(stat, dict):
        return float(stat.get("mean", np.nan))
    return float(stat) if stat is not None else float("nan")


@dataclass
class TrainResult:
    """What a run produced."""

    log_dir: Path
    last: Path | None
    """The newest checkpoint (also written on Ctrl-C)."""
    best: Path | None
    """The best policy so far (by the epoch's mean episode return, or the test return)."""
    history: list[dict[str, Any]]
    counters: dict[str, int]
    interrupted: bool
    timing: dict[str, float] = field(default_factory=dict)
    """``wall_s``, ``collect_s``, ``update_s`` and ``steps_per_s`` of this session."""

    @property
    def episodes(self) -> list[dict[str, Any]]:
        return [h for h in self.history if h.get("kind") == "episode"]

    def first_finish(self) -> dict[str, Any] | None:
        """The first training episode that raced all 5 laps from the grid, or None."""
        return next((e for e in self.episodes if e["race_frames"] is not None), None)


class Trainer(RunState):
    """One training run. ``Trainer(config).run()`` is :func:`train`; :meth:`setup` alone builds
    everything (and restores a checkpoint) without training, which tests and notebooks use."""

    def __init__(
        self,
        config: PPOConfig,
        resume: str | Path | None = None,
        live_plot: Any = None,
        callbacks: Sequence[Callback] = (),
        progress: bool = True,
        par_lap_frames: float | None = None,
        overwrite: bool = False,
    ) -> None:
        self.config = config
        self.resume = resume
        self.overwrite = overwrite
        self.moved_aside: Path | None = None
        """Where ``overwrite`` moved the run that was in the folder, if it did."""
        self.live_plot = live_plot
        self.callbacks = list(callbacks)
        self.progress = progress
        self.par_lap_frames = par_lap_frames
        self.log_dir = Path(config.log_dir)
        self.history: list[dict[str, Any]] = []
        self.counters = {"epoch": 0, "env_step": 0, "update_step": 0, "gradient_step": 0}
        self.best_score = -math.inf
        self.last_path: Path | None = None
        self.best_path: Path | None = None
        self.interrupted = False
        self.venv: Any = None
        self.algo: PPO | None = None
        self._episodes_this_epoch: list[float] = []
        self._t0 = self._wall_before = self._update_s = 0.0
        self._collect_end: float | None = None  # when the last collection ended; None while updating
        self._bar: Any = None
        self._ckpt: dict[str, Any] | None = None  # the checkpoint resumed from, until the envs are back
        self._boundary: dict[str, Any] | None = None  # the run at the last update boundary (resume.py)
        self._lock: RunLock | None = None

    @property
    def algorithm(self) -> PPO:
        """The PPO algorithm (built by :meth:`setup`)."""
        if self.algo is None:
            raise RuntimeError("the trainer is not set up yet: call setup() or run()")
        return self.algo

    # -- setup ------------------------------------------------------------------------------
    def setup(self) -> Trainer:
        """Check the checkpoint and the run folder (before any emulator starts), take the folder's
        lock, then build everything; on any failure what was built is closed and the lock let go."""
        cfg = self.config
        ckpt = load_checkpoint(self.resume) if self.resume is not None else None
        if ckpt is not None:
            if "algorithm" not in ckpt:
                raise CheckpointError(
                    f"{ckpt['path']} holds a policy only (best.pt?); resume from last.pt or epoch_*.pt"
                )
            refuse_incompatible(saved_config(ckpt), cfg, ckpt["path"])
            refuse_finished(cfg, ckpt)
        path, counters = (ckpt["path"], ckpt["counters"]) if ckpt is not None else (None, None)
        self.moved_aside = prepare(self.log_dir, path, counters, overwrite=self.overwrite)
        if self.moved_aside is not None:
            print(f"Moved the run that was in {self.log_dir} to {self.moved_aside}")
        self._lock = RunLock(self.log_dir).acquire()
        try:
            self._build(ckpt)
        except BaseException:
            self.close()
            raise
        return self

    def _build(self, ckpt: dict[str, Any] | None) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        self._update_threads = cfg.torch_threads or torch.get_num_threads()
        torch.set_num_threads(self._update_threads)
        self.venv = make_train_venv(cfg)
        self.obs_shape = tuple(self.venv.observation_space[0].shape)
        self.action_space = self.venv.action_space[0]
        self.algo = build_algorithm(cfg, self.obs_shape, self.action_space)
        if ckpt is not None:
            self._restore(ckpt)
        self.buffer = VectorReplayBuffer(total_size=cfg.steps_per_update, buffer_num=cfg.n_envs)
        self.collector = LeanCollector(self.algo, self.venv, self.buffer, on_step_hook=self._on_step)
        write_text(self.log_dir / "config.json", json.dumps(cfg.to_dict(), indent=2))
        self.writer = SummaryWriter(str(self.log_dir / "tb"))
        self.logger = TrainLogger(self.writer, self._on_update)
        if ckpt is not None:
            c = self.counters
            self.logger.resume_counters = (c["epoch"], c["env_step"], c["update_step"])

    # -- hooks ------------------------------------------------------------------------------
    def _on_step(self, action_batch: Any, rollout_batch: Any) -> None:
        done = np.logical_or(rollout_batch.terminated, rollout_batch.truncated)
        if not done.any():
            return
        info = rollout_batch.info
        for i in np.flatnonzero(done):
            laps = int(info.race_laps[i])
            start = int(info.race_start[i])
            clock = LapClock.of(start if start >= 0 else None, np.asarray(info.lap_ends[i])[:laps].tolist())
            grid = bool(info.grid_start[i])  # else started mid-track: crossings are no lap times, no race from GO
            record = {
                "kind": "episode",
                "env_step": self.counters["env_step"],
                "return": float(info.ep_return[i]),
                "laps": laps,
                "lap_frames": clock.lap_frames if grid else [],
                "race_frames": clock.race_frames if grid else None,
                "frames": int(info.ep_frames[i]),
                "terminated": bool(rollout_batch.terminated[i]),
                "grid_start": grid,
                "wall_s": round(time.monotonic() - self._t0 + self._wall_before, 2),
            }
            self.history.append(record)
            self._episodes_this_epoch.append(float(info.ep_return[i]))

    def _on_update(self, log_data: dict) -> None:
        lr = self.algo.optim._optim.param_groups[0]["lr"] if self.algo is not None else float("nan")
        self.counters["update_step"] += 1  # Tianshou logs each update once, after it is done
        self.counters["gradient_step"] += int(log_data.get("gradient_steps", 0) or 0)
        self.history.append(
            {
                "kind": "update",
                "env_step": self.counters["env_step"] + self.config.steps_per_update,
                "loss": _mean(log_data.get("loss")),
                "actor_loss": _mean(log_data.get("actor_loss")),
                "vf_loss": _mean(log_data.get("vf_loss")),
                "ent_loss": _mean(log_data.get("ent_loss")),
                **{key: _mean(log_data.get(key)) for key in HEALTH_SIGNALS},
                "lr": float(lr),
            }
        )

    def _training_fn(self, epoch: int, env_step: int) -> None:
        """Runs before each collection, i.e. after each update: an update boundary."""
        now = time.perf_counter()
        if self._collect_end is not None:
            self._update_s += now - self._collect_end
        self._collect_end = None
        self._advance(env_step)
        self._snapshot()
        if self.live_plot is not None:
            self.live_plot.update(self.history)
        for callback in self.callbacks:
            callback(self)

    def _advance(self, env_step: int) -> None:
        advance = env_step - self.counters["env_step"]
        self.counters["env_step"] = env_step
        if self._bar is not None and advance > 0:
            self._bar.update(advance)
            last = [e for e in self.history[-50:] if e["kind"] == "episode"]
            grid = [e["laps"] for e in last if e.get("grid_start", True)]  # mid-track starts' laps are no race
            if last:
                self._bar.set_postfix(ret=f"{last[-1]['return']:.0f}", grid_laps=grid[-1] if grid else "-")

    # -- run --------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        if self.algo is None:
            self.setup()
        cfg = self.config
        self._t0 = time.monotonic()
        self._wall_before = max((h.get("wall_s", 0.0) for h in self.history if h["kind"] == "episode"), default=0.0)
        self._collect_end = None
        self._update_s = 0.0
        self._bar = None
        if self.progress:
            self._bar = progress_bar(
                total=cfg.max_epochs * cfg.steps_per_epoch, initial=self.counters["env_step"], unit="step", desc="PPO"
            )
        original_collect = self.collector.collect

        def collect(*args: Any, **kwargs: Any) -> Any:
            result = original_collect(*args, **kwargs)
            self._collect_end = time.perf_counter()
            return result

        self.collector.collect = collect  # type: ignore[method-assign]
        extra: list[Any] = []  # the test envs, closed with the training envs whatever happens
        start = time.perf_counter()
        env_step_before = self.counters["env_step"]
        try:
            self._tianshou = self._tianshou_trainer(extra)
            self._tianshou.run()
        except KeyboardInterrupt:
            self.interrupted = True
            self._save_interrupted()
        finally:
            wall = time.perf_counter() - start
            if self._bar is not None:
                self._bar.close()
            if self.live_plot is not None:
                self.live_plot.update(self.history, force=True)
            self.close(*extra)
        steps = self.counters["env_step"] - env_step_before
        collect_s = self.collector.collect_s
        timing = {
            "wall_s": wall,
            "collect_s": collect_s,
            "update_s": self._update_s,
            "steps": steps,
            "steps_per_s": steps / wall if wall else 0.0,
        }
        return TrainResult(
            self.log_dir, self.last_path, self.best_path, self.history, dict(self.counters), self.interrupted, timing
        )

    def _tianshou_trainer(self, extra: list[Any]) -> ResumableTrainer:
        """Tianshou's trainer for this run (and its test envs, added to ``extra``)."""
        cfg = self.config
        test_collector: Collector | None = None
        if cfg.test_episodes:
            test_venv = make_train_venv(cfg.replace(n_envs=1, backend="subprocess"), seed=cfg.seed + 10_000)
            extra.append(test_venv)
            test_collector = Collector(self.algorithm.policy, test_venv)
        tester = test_collector

        def seed_test(epoch: int, env_step: int | None) -> None:  # each epoch's test alike, resumed or not
            if tester is not None:
                tester.reset(reset_stats=False, gym_reset_kwargs={"seed": cfg.seed + 10_000 + epoch})

        params = OnPolicyTrainerParams(
            training_collector=self.collector,
            test_collector=test_collector,
            test_step_num_episodes=max(1, cfg.test_episodes),
            max_epochs=cfg.max_epochs,
            epoch_num_steps=cfg.steps_per_epoch,
            collection_step_num_env_steps=cfg.steps_per_update,
            update_step_num_repetitions=cfg.epochs,
            batch_size=cfg.minibatch,
            logger=self.logger,
            training_fn=self._training_fn,
            save_checkpoint_fn=self._save_checkpoint,
            save_best_fn=self._test_best if cfg.test_episodes else None,
            test_fn=seed_test if cfg.test_episodes else None,
            resume_from_log=self.resume is not None,
            show_progress=False,
            verbose=False,
        )
        resumed = self._ckpt
        best = (
            (self.best_score, int(resumed["counters"]["epoch"])) if resumed is not None and cfg.test_episodes else None
        )
        into = steps_into_epoch(cfg, resumed["counters"]) if resumed is not None else 0
        return ResumableTrainer(self.algorithm, params, into, best, self._after_reset)

    def close(self, *extra: Any) -> None:
        """Close the envs and the TensorBoard writer and let go of the run folder's lock."""
        for venv in (self.venv, *extra):
            if venv is not None:
                with contextlib.suppress(Exception):
                    venv.close()
        if getattr(self, "writer", None) is not None:
            self.writer.close()
        if self._lock is not None:
            self._lock.release()


def train(
    config: PPOConfig,
    resume: str | Path | None = None,
    live_plot: Any = None,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    par_lap_frames: float | None = None,
    overwrite: bool = False,
) -> TrainResult:
    """Train PPO with ``config``; see :class:`Trainer`.

    Args:
        resume: a checkpoint (or run folder) to continue from: the network, optimizer, LR
            schedule, random states, the envs' episodes, step counters and history come back,
            and training goes on to ``config.total_steps``, exactly as if it had not stopped
            (:mod:`~kart_helpers.train.resume`). ``config`` may differ from the checkpoint's
            except in what the network sees and does (``SHAPE_FIELDS``).
        overwrite: if ``config.log_dir`` holds another run, move it aside to
            ``<log_dir>.old-<date>-<time>`` (never deleted) instead of refusing.
        live_plot: a :class:`~kart_helpers.display.training.LivePlot`, ``"auto"`` (a new one), or None.
        callbacks: functions called with the trainer after every update.
    """
    if live_plot == "auto":
        from kart_helpers.display.training import LivePlot  # here: env workers skip pyplot (0.5 s each)

        live_plot = LivePlot(f"PPO on {config.game} ({config.state})", par_lap_frames)
    return Trainer(config, resume, live_plot, callbacks, progress, par_lap_frames, overwrite).run()


def load_policy(path: str | Path, device: str = "cpu") -> tuple[DiscreteActorPolicy, PPOConfig, dict[str, Any]]:
    """A policy for inference from a checkpoint (``best.pt``, ``last.pt``, ``epoch_*.pt`` or a run folder).

    Returns the policy (in eval mode), the run's config and the checkpoint dict.
    """

    ckpt = load_checkpoint(path)
    config = saved_config(ckpt).replace(device=device)
    space = gym.spaces.Discrete(int(ckpt["n_actions"]))
    policy = build_policy(config, ckpt["obs_shape"], space)
    load_into(policy, ckpt["policy"], "policy", ckpt["path"])
    policy.eval()
    return policy, config, ckpt
