"""Checkpoints: what a training run saves, and loading it back safely.

A checkpoint is one ``.pt`` file holding only tensors and plain Python values, so it loads
with ``torch.load(weights_only=True)``, which cannot run code hidden in a file:

- ``format``: :data:`FORMAT`, checked on load;
- ``config``: the :class:`~kart_helpers.train.config.PPOConfig` as a dict;
- ``policy``: the policy's ``state_dict`` (all that inference needs);
- ``algorithm``: the algorithm's ``state_dict``, optimizer states included (``"_optimizers"``);
- ``schedulers``: the LR schedulers' step counts (Tianshou does not save them);
- ``counters``: ``epoch``, ``env_step``, ``update_step``, ``gradient_step``;
- ``history``: one dict per finished training episode (return, laps, lap times) and per update;
- ``rng``: the random states of torch, numpy and Python; ``envs``: each env's episode so far
  (:class:`~kart_helpers.train.envs.EpisodeLog`); ``buffer``: the replay buffer's running
  episode statistics; these three make a resume exact;
- ``best_score``; ``reason`` (``epoch``, ``best``, ``interrupted``).

:func:`export_policy` writes a policy-only checkpoint (no optimizer, history or RNG states; the
weights in float16): enough to race, a few MB, and no way to resume. The course's reference
agents are such files.

A run folder holds ``checkpoints/epoch_0003.pt`` (the newest ``keep_epochs`` epochs), ``last.pt``
(the newest, also written on Ctrl-C) and ``best.pt`` (the best policy so far). Every file is
written atomically: a failed save leaves the previous file as it was, and no ``.tmp`` behind.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "kart-ppo/1"


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or does not fit; the message says which and what to do."""


def checkpoint_dir(log_dir: str | Path) -> Path:
    return Path(log_dir) / "checkpoints"


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into Python values and tensors, so that
    ``torch.load(weights_only=True)`` accepts it (the LR scheduler, for one, leaves a
    ``numpy.float64`` learning rate in the optimizer state)."""
    if isinstance(value, torch.Tensor) or value is None or type(value) in (bool, int, float, str, bytes):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # subclasses too (a KartDefault tuple) as the plain type
        return (list if isinstance(value, list) else tuple)(plain(v) for v in value)
    if isinstance(value, (bool, int, float, str)):  # subclasses
        return type(value).__mro__[-2](value)
    raise TypeError(f"a checkpoint can hold only tensors and plain values, not {type(value).__name__}")


def _atomic_write(path: Path, write: Any) -> Path:
    """``write(tmp)``, then rename ``tmp`` over ``path``: an interrupt or a full disk never leaves
    half a file where a good one was, nor the ``.tmp``."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if not isinstance(err, Exception):  # KeyboardInterrupt and the like: as they are
            raise
        lines = str(err).strip().splitlines()
        reason = getattr(err, "strerror", None) or (lines[0] if lines else type(err).__name__)
        raise CheckpointError(
            f"could not write {path}: {reason}. The previous {path.name}, if any, is "
            "unchanged; free some disk space (df -h) or check the folder's permissions, then resume."
        ) from None
    return path


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write ``payload`` atomically (see :func:`_atomic_write`).

    Raises:
        CheckpointError: the file could not be written (disk full, no permission).
    """
    data = plain({"format": FORMAT, **payload})
    return _atomic_write(Path(path), lambda tmp: torch.save(data, tmp))


def write_text(path: str | Path, text: str) -> Path:
    """Write a text file of the run folder (``history.json``, ``config.json``) atomically."""
    return _atomic_write(Path(path), lambda tmp: tmp.write_text(text))


def prune_epochs(log_dir: str | Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` epoch checkpoints (0: keep all); returns those deleted."""
    old = list_checkpoints(log_dir)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
    return old


def resolve(path_or_run: str | Path) -> Path:
    """A checkpoint file from a file path or a run folder (its ``checkpoints/last.pt``)."""
    path = Path(path_or_run)
    if path.is_dir():
        for candidate in (path / "checkpoints" / "last.pt", path / "last.pt"):
            if candidate.is_file():
                return candidate
        raise CheckpointError(
            f"{path} is a folder without checkpoints/last.pt; train first (notebook 06 or "
            "`python -m kart_helpers.train`), or pass the path of a .pt file"
        )
    if not path.is_file():
        near = sorted(p.name for p in path.parent.glob("*.pt")) if path.parent.is_dir() else []
        hint = f"; that folder has: {', '.join(near)}" if near else ""
        raise CheckpointError(f"no checkpoint at {path}{hint}. Train first, or check the path.")
    return path


def load_checkpoint(path_or_run: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)`` and check its format.

    Raises:
        CheckpointError: missing file, a file that is not a checkpoint (corrupt, truncated,
            or holding Python objects), or one written by another format version.
    """
    path = resolve(path_or_run)
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # a corrupt file raises almost anything from the unpickler
        # torch's own message advises weights_only=False, which would run any code the file holds:
        # never pass it on (hence "from None", and only our words below).
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if isinstance(err, pickle.UnpicklingError) and found:
            raise CheckpointError(
                f"{path} is not a checkpoint of this course: it holds a Python object ({found[1]}) that the "
                "safe loader refuses, and kart_helpers.train writes only tensors and plain values. Use a "
                "checkpoint from a run folder (checkpoints/last.pt, best.pt, epoch_*.pt)."
            ) from None
        kind = "it is no checkpoint file" if isinstance(err, pickle.UnpicklingError) else type(err).__name__
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({kind}). It may be truncated or corrupt: use another "
            "one (checkpoints/epoch_*.pt, best.pt) or train again."
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(
            f"{path} is not a {FORMAT} checkpoint (format: {got!r}); it was not written by kart_helpers.train"
        )
    for key in ("config", "policy", "counters"):
        if key not in data:
            raise CheckpointError(f"{path} lacks {key!r}; it is incomplete. Use another checkpoint.")
    data["path"] = str(path)
    return data


def load_into(module: torch.nn.Module, state: dict[str, Any], what: str, path: str) -> None:
    """``module.load_state_dict(state)``, with a clear error when the shapes or names differ."""
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()][:4]
        raise CheckpointError(
            f"{path}: its {what} does not fit this network (another action set, frame stack or "
            f"network?). Build the network from the checkpoint's own config. Details: {' '.join(lines)}"
        ) from err


def scheduler_state(scheduler: Any) -> dict[str, Any]:
    """The parts of an LR scheduler's state that are plain values (its lambda is rebuilt from the config)."""
    return {
        "last_epoch": int(scheduler.last_epoch),
        "_step_count": int(getattr(scheduler, "_step_count", 0)),
        "base_lrs": [float(x) for x in scheduler.base_lrs],
        "_last_lr": [float(x) for x in scheduler.get_last_lr()],
    }


def restore_scheduler(scheduler: Any, state: dict[str, Any]) -> None:
    """Put a scheduler back at the saved step; the optimizer's ``lr`` comes from its own state."""
    scheduler.last_epoch = state["last_epoch"]
    scheduler._step_count = state["_step_count"]
    scheduler.base_lrs = list(state["base_lrs"])
    scheduler._last_lr = list(state["_last_lr"])


def list_checkpoints(log_dir: str | Path) -> list[Path]:
    """The epoch checkpoints of a run, oldest first."""
    return sorted(checkpoint_dir(log_dir).glob("epoch_*.pt"))


POLICY_ONLY_KEYS = ("config", "policy", "counters", "n_actions", "obs_shape")
"""What a policy-only checkpoint keeps: all that :func:`kart_helpers.train.trainer.load_policy` needs."""


def export_policy(checkpoint: str | Path, path: str | Path, about: dict[str, Any] | None = None) -> Path:
    """Write the policy of ``checkpoint`` alone, its weights in float16, to ``path``.

    Args:
        checkpoint: a checkpoint file or run folder.
        about: plain values saved with it as ``about`` (e.g. how it was trained).

    Returns:
        ``path``; it loads with :func:`load_checkpoint` and races with ``load_policy``, but
        cannot resume training.
    """
    data = load_checkpoint(checkpoint)
    small = {key: data[key] for key in POLICY_ONLY_KEYS}
    small["policy"] = {k: v.half() if v.is_floating_point() else v for k, v in data["policy"].items()}
    small["reason"] = "policy only"
    small["about"] = about or {}
    return save_checkpoint(small, path)
