"""What a training run saves and restores: checkpoints at update boundaries, resume, interrupts.

:class:`RunState` is the checkpoint half of :class:`~kart_helpers.train.trainer.Trainer`. At every
update boundary it keeps a copy of the whole run (:meth:`RunState._snapshot`; see
:mod:`~kart_helpers.train.resume` for why a boundary and what is kept); epoch checkpoints, best.pt
and the checkpoint an interrupt writes are all made from that copy.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from tianshou.algorithm import PPO

from kart_helpers.train.checkpoints import (
    CheckpointError,
    checkpoint_dir,
    load_into,
    prune_epochs,
    restore_scheduler,
    save_checkpoint,
    scheduler_state,
    write_text,
)
from kart_helpers.train.collector import LeanCollector
from kart_helpers.train.config import PPOConfig
from kart_helpers.train.envs import episodes_of, replay_episodes
from kart_helpers.train.resume import cloned, restore_rng, rng_states


class RunState:
    """Checkpoints of a :class:`~kart_helpers.train.trainer.Trainer` (a mixin: the trainer builds
    the envs, the algorithm and the collector these methods read)."""

    config: PPOConfig
    log_dir: Path
    history: list[dict[str, Any]]
    counters: dict[str, int]
    best_score: float
    last_path: Path | None
    best_path: Path | None
    venv: Any
    collector: LeanCollector
    obs_shape: tuple[int, ...]
    action_space: Any
    _ckpt: dict[str, Any] | None
    _boundary: dict[str, Any] | None
    _episodes_this_epoch: list[float]
    _tianshou: Any

    @property
    def algorithm(self) -> PPO:
        raise NotImplementedError

    def _advance(self, env_step: int) -> None:
        raise NotImplementedError

    def _restore(self, ckpt: dict[str, Any]) -> None:
        if tuple(ckpt["obs_shape"]) != self.obs_shape or int(ckpt["n_actions"]) != self.action_space.n:
            raise CheckpointError(
                f"{ckpt['path']}: its network sees {ckpt['obs_shape']}, these envs give {self.obs_shape}"
            )
        load_into(self.algorithm, copy.copy(ckpt["algorithm"]), "algorithm state", ckpt["path"])
        for scheduler, state in zip(self.algorithm.lr_schedulers, ckpt.get("schedulers", []), strict=False):
            restore_scheduler(scheduler, state)
        self.counters = {k: int(v) for k, v in ckpt["counters"].items()}
        self.history = list(ckpt.get("history", []))
        self.best_score = float(ckpt.get("best_score", -math.inf))
        self._episodes_this_epoch = list(ckpt.get("epoch_returns", []))
        self._ckpt = ckpt  # its random states and envs come back once the trainer has reset the envs
        if "return_stats" in ckpt:
            rms = self.algorithm.ret_rms
            mean, var, count = (float(v) for v in ckpt["return_stats"])
            rms.mean, rms.var, rms.count = mean, var, count  # type: ignore[assignment]  # Tianshou types count as int

    def _snapshot(self) -> None:
        """Keep the whole run as it is at this update boundary (copies, not references): what
        a checkpoint holds, so an interrupt at any later moment saves this point (resume.py)."""
        algo, buffer = self.algorithm, self.collector.buffer
        self._boundary = {
            "config": self.config.to_dict(),
            "obs_shape": list(self.obs_shape),
            "n_actions": int(self.action_space.n),
            "policy": cloned(algo.policy.state_dict()),
            "algorithm": cloned(algo.state_dict()),
            "schedulers": [scheduler_state(s) for s in algo.lr_schedulers],
            "counters": dict(self.counters),
            "history_len": len(self.history),
            "best_score": self.best_score if math.isfinite(self.best_score) else -1e30,
            "epoch_returns": list(self._episodes_this_epoch),
            "rng": rng_states(),
            "envs": episodes_of(self.venv),
            # The buffer carries each env's unfinished episode return and length over updates.
            "buffer": [[float(b._ep_return), int(b._ep_len)] for b in getattr(buffer, "buffers", [])],
            # Tianshou keeps the running return statistics of return_scaling outside state_dict().
            "return_stats": [float(getattr(algo.ret_rms, k)) for k in ("mean", "var", "count")],
        }

    def payload(self, reason: str) -> dict[str, Any]:
        """Everything a checkpoint holds (plain values and tensors only), at the last update boundary."""
        if self._boundary is None:
            self._snapshot()
        assert self._boundary is not None
        state = {k: v for k, v in self._boundary.items() if k != "history_len"}
        return {"reason": reason, **state, "history": self.history[: self._boundary["history_len"]]}

    def _save_checkpoint(self, epoch: int, env_step: int, update_step: int) -> str:
        self._advance(env_step)
        self.counters["epoch"] = epoch  # update_step: ours counts finished updates, as Tianshou's does here
        improved = self.config.test_episodes == 0 and self._episodes_this_epoch
        if improved and (score := float(np.mean(self._episodes_this_epoch))) > self.best_score:
            self.best_score = score
        else:
            improved = False
        self._episodes_this_epoch = []
        self._snapshot()
        if improved:
            self._save_best()
        folder = checkpoint_dir(self.log_dir)
        payload = self.payload("epoch")
        save_checkpoint(payload, folder / f"epoch_{epoch:04d}.pt")
        self.last_path = save_checkpoint(payload, folder / "last.pt")
        write_text(self.log_dir / "history.json", json.dumps(self.history))
        prune_epochs(self.log_dir, self.config.keep_epochs)
        return str(self.last_path)

    def _save_best(self, algorithm: Any = None) -> None:
        payload = self.payload("best")
        del payload["algorithm"], payload["history"], payload["envs"]  # a policy for inference, kept small
        self.best_path = save_checkpoint(payload, checkpoint_dir(self.log_dir) / "best.pt")

    def _test_best(self, algorithm: Any) -> None:
        """Tianshou's test found a better policy (tests run after the epoch's checkpoint)."""
        self.best_score = float(self._tianshou._best_score)
        if self._boundary is not None:
            self._boundary["best_score"] = self.best_score
        self._save_best()
        if self.last_path is not None:  # so that a resume from it knows the new best score
            save_checkpoint(self.payload("epoch"), self.last_path)

    def _after_reset(self) -> None:
        """Once Tianshou has reset the envs: put a resumed run's envs and random states back."""
        ckpt, self._ckpt = self._ckpt, None
        if ckpt is None:
            return
        envs = ckpt.get("envs") or []
        if len(envs) == self.config.n_envs:
            obs, infos = replay_episodes(self.venv, envs)
            self.collector._pre_collect_obs_RO, self.collector._pre_collect_info_R = obs, infos
            buffers = getattr(self.collector.buffer, "buffers", [])
            for buf, (ep_return, ep_len) in zip(buffers, ckpt.get("buffer", []), strict=False):
                buf._ep_return, buf._ep_len = ep_return, ep_len
        else:  # another n_envs, or a checkpoint from before episodes were saved
            print(
                f"{ckpt['path']} holds {len(envs)} envs' episodes, this run has {self.config.n_envs} envs: "
                "they start fresh episodes (not an exact resume)."
            )
        if "rng" in ckpt:
            restore_rng(ckpt["rng"])

    def _save_interrupted(self) -> None:
        """Save the last update boundary (the steps collected since are collected again on resume)."""
        if self._boundary is None:
            print("\nInterrupted before the first update: nothing new to save.")
            return
        self.counters = dict(self._boundary["counters"])
        del self.history[self._boundary["history_len"] :]
        payload = self.payload("interrupted")
        folder = checkpoint_dir(self.log_dir)
        save_checkpoint(payload, folder / "interrupted.pt")
        self.last_path = save_checkpoint(payload, folder / "last.pt")
        write_text(self.log_dir / "history.json", json.dumps(self.history))
        c = self.counters
        print(
            f"\nInterrupted: saved {self.last_path} after update {c['update_step']} (env step {c['env_step']}); "
            "resume from it."
        )
