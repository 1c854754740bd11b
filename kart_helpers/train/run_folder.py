"""Run folders: one training per folder, and a run is never overwritten.

- :func:`prepare` refuses to train into a folder that holds a run unless the training resumes
  that run, or ``overwrite=True`` asks to move the old run aside first (to
  ``runs/ring.old-20260101-120000``; nothing is ever deleted). It also checks that the folder
  can be written, before any emulator starts.
- :class:`RunLock` (``run.lock``, holding the trainer's PID and, on Linux, its start time)
  stops a second training from using a folder while the first runs. A lock left by a process
  that died is noticed by its PID (and a PID reused by a newer process by the start time) and
  taken over.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from types import TracebackType

from kart_helpers.train.checkpoints import CheckpointError, checkpoint_dir, list_checkpoints, load_checkpoint

LOCK = "run.lock"
RUN_FILES = ("config.json", "history.json")


class RunFolderError(RuntimeError):
    """A run folder cannot be used as asked; the message says why and what to do."""


def holds_run(folder: str | Path) -> bool:
    """Whether ``folder`` holds (part of) a training run: checkpoints, a config or a history."""
    folder = Path(folder)
    return any((folder / name).is_file() for name in RUN_FILES) or any(checkpoint_dir(folder).glob("*.pt"))


def run_folder_of(checkpoint: str | Path) -> Path:
    """The run folder a checkpoint file belongs to (``runs/ring`` for ``runs/ring/checkpoints/last.pt``)."""
    path = Path(checkpoint)
    return path.parent.parent if path.parent.name == "checkpoints" else path.parent


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _started(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot, from Linux's /proc), or "-" if unknown."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "-"


def lock_holder(folder: str | Path) -> int | None:
    """The PID of a live process that holds ``folder``'s lock, or None (no lock, or a stale one)."""
    try:
        fields = (Path(folder) / LOCK).read_text().split()
        pid, started = int(fields[0]), fields[1] if len(fields) > 1 else "-"
    except (OSError, ValueError, IndexError):
        return None
    if pid == os.getpid() or not _pid_alive(pid):
        return None
    now = _started(pid)
    return None if "-" not in (started, now) and started != now else pid  # else: the PID was reused


def _in_use(folder: Path, pid: int) -> RunFolderError:
    return RunFolderError(
        f"{folder} is in use by another training (pid {pid}); wait for it to finish or stop it "
        f"(kill {pid}), or train into another folder (log_dir / --log-dir)"
    )


def move_aside(folder: str | Path) -> Path:
    """Rename ``folder`` to ``<folder>.old-<date>-<time>`` beside it (a new name if taken); returns it."""
    folder = Path(folder)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = folder.with_name(f"{folder.name}.old-{stamp}")
    n = 1
    while target.exists():
        target, n = folder.with_name(f"{folder.name}.old-{stamp}-{n}"), n + 1
    folder.rename(target)
    return target


def check_writable(folder: str | Path) -> Path:
    """Make ``folder`` if needed and check that files can be written in it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise RunFolderError(
            f"cannot write the run folder {folder}: {err.strerror or err}; choose another log_dir (--log-dir)"
        ) from None
    return folder


def prepare(
    folder: str | Path,
    resume_from: str | Path | None = None,
    resume_counters: dict[str, int] | None = None,
    overwrite: bool = False,
) -> Path | None:
    """Make ``folder`` ready for a training, before anything starts; returns where an old run went, if moved.

    Args:
        resume_from: the checkpoint this training resumes, if any. A folder holding a run is used
            only for that run, and only from its newest checkpoint (resuming an older one would
            replace the epochs after it).
        resume_counters: that checkpoint's counters (``epoch``, ``env_step``).
        overwrite: move a run found in ``folder`` aside first instead of refusing.

    Raises:
        RunFolderError: the folder holds another run, later epochs, is locked, or cannot be written.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{folder} is a file, not a run folder; choose another log_dir (--log-dir)")
    moved = None
    if holds_run(folder):
        pid = lock_holder(folder)
        if pid is not None:
            raise _in_use(folder, pid)
        problem = _reuse_problem(folder, resume_from, resume_counters or {})
        if problem and not overwrite:
            raise RunFolderError(
                f"{folder} {problem}. Resume it (--resume {folder}, or resume=... in train()), train into "
                f"another folder (--log-dir), or move the old run aside (--overwrite, overwrite=True)"
            )
        if problem:
            moved = move_aside(folder)
    check_writable(folder)
    return moved


def _reuse_problem(folder: Path, resume_from: str | Path | None, counters: dict[str, int]) -> str | None:
    """Why training into ``folder`` would replace part of its run, or None if it would not."""
    if resume_from is None:
        return "already holds a training run"
    if run_folder_of(resume_from).resolve() != folder.resolve():
        return f"holds another run than {resume_from}"
    epoch, steps = int(counters.get("epoch", 0)), int(counters.get("env_step", 0))
    later = [p.name for p in list_checkpoints(folder) if int(p.stem.split("_")[-1]) > epoch]
    last = checkpoint_dir(folder) / "last.pt"
    if not later and last.is_file() and last.resolve() != Path(resume_from).resolve():
        with contextlib.suppress(CheckpointError):
            if int(load_checkpoint(last)["counters"]["env_step"]) > steps:
                later = ["last.pt"]
    if later:
        return f"has checkpoints after {resume_from} ({', '.join(later)}), which resuming from it would replace"
    return None


class RunLock:
    """``run.lock`` in a run folder while a training uses it (a context manager; :meth:`release` also works).

    Raises:
        RunFolderError: a live process holds the lock.
    """

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / LOCK
        self.held = False

    def acquire(self) -> RunLock:
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid = lock_holder(self.path.parent)
                if pid is not None:
                    raise _in_use(self.path.parent, pid) from None
                # A stale lock: its process is gone. Remove it and try once more; if another
                # training takes it over first, the second try finds that one alive.
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            with os.fdopen(fd, "w") as f:
                f.write(f"{os.getpid()} {_started(os.getpid())}\n")
            self.held = True
            return self
        pid = lock_holder(self.path.parent)
        raise _in_use(self.path.parent, pid if pid is not None else -1)

    def release(self) -> None:
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
