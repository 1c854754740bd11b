"""Resuming a run exactly: which config it continues with, and what puts it back where it stopped.

**The resume point.** A checkpoint describes the run at an *update boundary*: after an update,
before the next collection. Epoch checkpoints are written at one; an interrupt (Ctrl-C, or a
callback raising ``KeyboardInterrupt``) at any moment saves the last boundary it passed, so
the steps collected since (and a half-done update) are dropped and collected again on resume.
At a boundary the trainer keeps, in memory, everything a resume needs:

- the weights, Adam's moments, the LR schedule, return scaling's running statistics;
- the random states of torch (CUDA too), numpy and Python's ``random``;
- each env's episode so far (:class:`~kart_helpers.train.envs.EpisodeLog`: how it began and
  its actions; replayed in the new workers, so every env is mid-episode exactly as it was);
- the replay buffer's running episode return and length, the counters and the history.

So a run interrupted at any point and resumed gives the same weights and history as a run
that never stopped, on the same machine, with the same settings (total_steps aside: a larger
one changes the LR decay's slope). A resume with other ``n_envs`` starts fresh episodes.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from tianshou.data import CollectStats
from tianshou.trainer import OnPolicyTrainer

from kart_helpers.train.checkpoints import CheckpointError
from kart_helpers.train.config import ConfigError, PPOConfig, flat_settings

SHAPE_FIELDS = ("game", "actions", "frame_stack", "crop_rows", "crop_cols", "grayscale", "resize")
"""Pipeline settings a resumed run must keep: they decide what the network sees and its outputs."""


def refuse_incompatible(saved: PPOConfig, config: PPOConfig, path: str) -> None:
    """Raise a CheckpointError naming every setting that a network trained with ``saved`` cannot take."""
    old, new = flat_settings(saved), flat_settings(config)
    differ = [f"{k} {old[k]!r} -> {new[k]!r}" for k in SHAPE_FIELDS if old[k] != new[k]]
    if differ:
        raise CheckpointError(
            f"cannot resume {path} with another view or action set: {'; '.join(differ)}. The network was "
            "trained on the checkpoint's; keep them (or train a new run in another folder)"
        )


def saved_config(ckpt: dict[str, Any]) -> PPOConfig:
    """The config a checkpoint was trained with."""
    try:
        return PPOConfig.from_dict(dict(ckpt["config"]))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{ckpt['path']}: its config does not fit this version of PPOConfig: {err}") from None


def resumed_config(ckpt: dict[str, Any], changes: dict[str, Any], log_dir: str) -> PPOConfig:
    """The checkpoint's own config with ``changes`` (flat setting names) applied and its run folder."""
    config = saved_config(ckpt).replace(**{"log_dir": log_dir, **changes})
    refuse_incompatible(saved_config(ckpt), config, ckpt["path"])
    return config


def steps_into_epoch(config: PPOConfig, counters: dict[str, int]) -> int:
    """Steps a checkpoint's run had already made of its unfinished epoch (0 at an epoch's end)."""
    return max(0, int(counters["env_step"]) - int(counters["epoch"]) * config.steps_per_epoch)


def refuse_finished(config: PPOConfig, ckpt: dict[str, Any]) -> None:
    """Raise when resuming ``ckpt`` with ``config`` would train nothing more."""
    counters = ckpt["counters"]
    if ckpt.get("reason") == "policy only":
        raise ConfigError(
            f"{ckpt['path']} holds a policy only (no optimizer state or history), e.g. a reference agent: it "
            "races, but cannot resume. Resume from a run folder's last.pt, or start a new run."
        )
    if int(counters["epoch"]) >= config.max_epochs:
        raise ConfigError(
            f"{ckpt['path']} has already trained {counters['env_step']} steps ({counters['epoch']} epochs), all that "
            f"total_steps={config.total_steps} asks for: give a larger total_steps (--total-steps) to train on"
        )


def rng_states() -> dict[str, Any]:
    """The random states of torch (and CUDA), numpy's global generator and Python's ``random``."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": [kind, torch.from_numpy(np.asarray(keys).astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
        "python": random.getstate(),
    }


def restore_rng(state: Any) -> None:
    """Undo :func:`rng_states`; a bare tensor (checkpoints before numpy's and Python's) is torch's."""
    if isinstance(state, torch.Tensor):
        torch.set_rng_state(state)
        return
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(gauss)))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def cloned(state: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a state_dict, so later updates do not change it."""
    return copy.deepcopy(state)


class ResumableTrainer(OnPolicyTrainer):
    """Tianshou's on-policy trainer that can start inside an epoch and in restored envs.

    Args:
        steps_into_epoch: the steps the resumed run had already made of its unfinished epoch;
            the first epoch makes only the rest, so epochs end where they would have.
        best: the resumed run's best test score and its epoch; the initial test is then skipped
            (it would make the current policy the best one).
        after_reset: called once the collectors are reset (to put the envs back mid-episode).
    """

    def __init__(
        self,
        algorithm: Any,
        params: Any,
        steps_into_epoch: int = 0,
        best: tuple[float, int] | None = None,
        after_reset: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(algorithm, params)
        self.steps_into_epoch = steps_into_epoch
        self._resumed_best = best
        self._after_reset = after_reset

    def _reset_collectors(self, reset_buffer: bool = False) -> None:
        super()._reset_collectors(reset_buffer=reset_buffer)
        if self._after_reset is not None:
            self._after_reset()

    def _test_step(self, force_update_best: bool = False, log_msg_prefix: str | None = None) -> tuple[Any, bool]:
        if force_update_best and self._resumed_best is not None:
            self._best_score, self._best_epoch = self._resumed_best
            self._best_reward = self._best_score
            return CollectStats(), False
        return super()._test_step(force_update_best, log_msg_prefix)

    def execute_epoch(self) -> Any:
        if not self.steps_into_epoch:
            return super().execute_epoch()
        full = self.params.epoch_num_steps
        self.params.epoch_num_steps = full - self.steps_into_epoch
        try:
            return super().execute_epoch()
        finally:
            self.params.epoch_num_steps, self.steps_into_epoch = full, 0
