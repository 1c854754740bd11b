"""Vector envs: several emulators stepping side by side, one per worker process.

stable-retro allows one emulator per process, so every backend but ``dummy`` runs each env
in its own process:

=============  =========================================  =====================================
backend        Tianshou class                             use it for
=============  =========================================  =====================================
``dummy``      ``DummyVectorEnv``, in this process, n = 1  debugging; the same code path as below
``subprocess`` ``SubprocVectorEnv``: pipes                 any machine
``shmem``      ``ShmemVectorEnv``: observations through    training on one machine (a few %
               shared memory, the rest through pipes       faster than pipes for 4 x 84 x 84)
``ray``        ``RayVectorEnv``: one Ray actor per env     runs that outgrow one machine;
                                                           ``pip install 'kart-rl-course[ray]'``
=============  =========================================  =====================================

Each worker builds its own env from a :class:`KartEnvFactory`, a small picklable object that
carries the :class:`~kart_helpers.wrappers.PipelineConfig`, the worker's seed and the path of
your user integration folder. In the worker it registers the integration folders itself and
then makes the env; nothing with an emulator inside ever crosses a process boundary.

If a worker dies (a Python error in its env, or the process killed), the next call raises
:class:`WorkerCrashedError`, naming the worker, the game and the worker's own error, instead
of waiting forever.

Two things the parent process must know:

- ``dummy`` and ``shmem`` build envs in *this* process (``shmem`` builds and closes one per
  worker to read the observation shape), so, like ``make_env``, they close the emulator that
  this process holds.
- torch's idle OpenMP threads spin against the env workers on a small machine: set
  ``OMP_WAIT_POLICY=PASSIVE`` before importing torch, or ``torch.set_num_threads(1)`` while
  collecting (measured about +20% training throughput).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tianshou.env import BaseVectorEnv, DummyVectorEnv, RayVectorEnv, ShmemVectorEnv, SubprocVectorEnv
from tianshou.env.worker import DummyEnvWorker, EnvWorker, RayEnvWorker, SubprocEnvWorker

from kart_helpers.integration import USER_DIR_VARIABLE, user_integrations_dir
from kart_helpers.wrappers import PipelineConfig, Speed, make_kart_env, median_speed

BACKENDS = ("dummy", "subprocess", "shmem", "ray")


class WorkerCrashedError(RuntimeError):
    """An env worker died; the message names the worker, its game and state, and its error."""


# --- what a worker builds ----------------------------------------------------------------------


@dataclass(frozen=True)
class KartEnvFactory:
    """Builds one pipeline env inside a worker process. Picklable; call it to get the env.

    Attributes are copied into the worker, so the worker needs nothing from the parent's
    memory: it points ``KART_INTEGRATIONS`` at ``user_dir``, registers the integration
    folders (``make_env`` does) and makes the env.
    """

    config: PipelineConfig = field(default_factory=PipelineConfig)
    """What the env looks like: game, state, actions, observation stages."""
    worker: int = 0
    """This worker's index in the vector env, for error messages."""
    seed: int | None = None
    """Seeds the env's RNG (no-op starts) and action space once, when it is built. Later
    resets continue that RNG, so a worker's episodes are reproducible whoever resets it."""
    user_dir: str = field(default_factory=lambda: str(user_integrations_dir()))
    """Your user integration folder (imported ROM, states), as an absolute path."""
    error_dir: str | None = None
    """Where the worker writes its error before it dies, for the parent's message."""

    def describe(self) -> str:
        """``"worker 1 (PracticeKart-Snes, state Level1)"``."""
        return f"worker {self.worker} ({self.config.game}, state {self.config.state})"

    def error_file(self) -> Path | None:
        return None if self.error_dir is None else Path(self.error_dir) / f"worker{self.worker}.txt"

    def report(self, err: BaseException) -> None:
        """Leave ``err`` with its traceback where the parent will look for it."""
        path = self.error_file()
        if path is not None:
            with contextlib.suppress(OSError):
                path.write_text(f"{type(err).__name__}: {err}\n\n{traceback.format_exc()}")

    def build(self) -> gym.Env:
        """The env itself, without error reporting (subclass this to change what a worker builds)."""
        return make_kart_env(self.config)

    def __call__(self) -> gym.Env:
        os.environ[USER_DIR_VARIABLE] = self.user_dir
        try:
            env = self.build()
            if self.seed is not None:
                env.reset(seed=self.seed)
                env.action_space.seed(self.seed)
        except BaseException as err:
            self.report(err)
            raise
        return _ReportErrors(env, self) if self.error_dir is not None else env


class _ReportErrors(gym.Wrapper):
    """Outermost wrapper in a subprocess worker: writes an error to the factory's file, then re-raises."""

    def __init__(self, env: gym.Env, factory: KartEnvFactory) -> None:
        super().__init__(env)
        self._factory = factory

    def step(self, action: Any) -> Any:
        try:
            return self.env.step(action)
        except BaseException as err:
            self._factory.report(err)
            raise

    def reset(self, **kwargs: Any) -> Any:
        try:
            return self.env.reset(**kwargs)
        except BaseException as err:
            self._factory.report(err)
            raise


# --- workers that say who crashed ------------------------------------------------------------


class _Guarded:
    """Turns a dead worker's pipe or Ray errors into a WorkerCrashedError that names it."""

    factory: KartEnvFactory
    _dead: tuple[type[BaseException], ...] = ()

    def _crash(self, doing: str, err: BaseException) -> WorkerCrashedError:
        raise NotImplementedError

    def _guard(self, doing: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except self._dead as err:
            raise self._crash(doing, err) from err

    def get_env_attr(self, key: str) -> Any:
        return self._guard(f"reading {key}", super().get_env_attr, key)  # type: ignore[misc]

    def send(self, action: Any, **kwargs: Any) -> None:
        self._doing = "resetting" if action is None else "stepping"
        return self._guard(self._doing, super().send, action, **kwargs)  # type: ignore[misc]

    def recv(self) -> Any:
        return self._guard(getattr(self, "_doing", "stepping"), super().recv)  # type: ignore[misc]

    def reset(self, **kwargs: Any) -> Any:
        return self._guard("resetting", super().reset, **kwargs)  # type: ignore[misc]

    def seed(self, seed: int | None = None) -> Any:
        return self._guard("seeding", super().seed, seed)  # type: ignore[misc]

    def render(self, **kwargs: Any) -> Any:
        return self._guard("rendering", super().render, **kwargs)  # type: ignore[misc]


def _exit_description(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class _SubprocWorker(_Guarded, SubprocEnvWorker):
    _dead = (EOFError, BrokenPipeError, ConnectionResetError)

    def __init__(self, factory: KartEnvFactory, share_memory: bool, context: str | None) -> None:
        self.factory = factory
        try:
            super().__init__(factory, share_memory=share_memory, context=context)
        except Exception as err:
            if hasattr(self, "process"):
                self.process.terminate()
            if isinstance(err, WorkerCrashedError):
                raise
            # share_memory builds one env here, in the parent, to read the observation space.
            hint = (
                " (this process holds an emulator that make_env did not make: close it first)"
                if "multiple emulator instances" in str(err)
                else ""
            )
            raise WorkerCrashedError(
                f"{factory.describe()} could not start: {type(err).__name__}: {err}{hint}"
            ) from err

    def _crash(self, doing: str, err: BaseException) -> WorkerCrashedError:
        process = getattr(self, "process", None)
        if process is not None:
            process.join(timeout=2.0)
        how = _exit_description(process.exitcode if process is not None else None)
        pid = f", pid {process.pid}" if process is not None else ""
        path = self.factory.error_file()
        reason = path.read_text().strip() if path is not None and path.is_file() else ""
        detail = (
            f"Its error:\n{reason}"
            if reason
            else "It left no Python error: the process itself died (killed, out of memory, or a crash in "
            "native code such as the emulator); look for its output on stderr."
        )
        if "multiple emulator instances" in reason:
            detail += (
                "\nThe worker was forked from a process that held a live emulator not made by make_env. "
                "Close that env (env.close()) before making the vector env, or pass context='spawn'."
            )
        return WorkerCrashedError(f"env {self.factory.describe()}{pid} {how} while {doing}. {detail}")


class _DummyWorker(DummyEnvWorker):
    # Tianshou's DummyEnvWorker reads attributes from env.unwrapped, which would report the raw
    # MultiBinary(12) actions and 224 x 256 x 3 screens; the subprocess workers read the outer
    # wrapper. Read the outer wrapper here too, so every backend reports the same spaces.
    def get_env_attr(self, key: str) -> Any:
        return getattr(self.env, key)


class _RemoteEnv(gym.Wrapper):
    """The Ray actor: builds the env from the factory inside the actor process."""

    def __init__(self, factory: KartEnvFactory) -> None:
        super().__init__(factory())

    def get_env_attr(self, key: str) -> Any:
        return getattr(self.env, key)

    def set_env_attr(self, key: str, value: Any) -> None:
        setattr(self.env.unwrapped, key, value)


class _RayWorker(_Guarded, RayEnvWorker):
    def __init__(self, factory: KartEnvFactory) -> None:
        import ray

        self.factory = factory
        self._dead = (ray.exceptions.RayError,)
        # Tianshou's RayEnvWorker calls env_fn() here, in the parent, and ships the env to the
        # actor; a stable-retro env cannot travel (and the parent may hold only one emulator).
        # So the actor builds it from the factory. num_cpus=0 as in Tianshou: actors never wait
        # for a free CPU slot.
        self.env = ray.remote(_RemoteEnv).options(num_cpus=0).remote(factory)
        EnvWorker.__init__(self, factory)

    def close_env(self) -> None:
        import ray

        with contextlib.suppress(ray.exceptions.RayError):  # a dead actor has nothing left to close
            super().close_env()

    def _crash(self, doing: str, err: BaseException) -> WorkerCrashedError:
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        summary = "\n".join(lines[-3:]) if lines else type(err).__name__
        return WorkerCrashedError(
            f"env {self.factory.describe()} (a Ray actor) failed while {doing}: {type(err).__name__}\n{summary}"
        )


# --- the vector envs -----------------------------------------------------------------------------


class _Lifecycle:
    """Builds the workers so that a failure closes the ones already started; cleans up on close."""

    _error_dir: str | None = None

    def _start(self, factories: Sequence[KartEnvFactory], worker_fn: Callable[[Any], EnvWorker]) -> None:
        started: list[EnvWorker] = []

        def tracked(factory: Any) -> EnvWorker:
            worker = worker_fn(factory)
            started.append(worker)
            return worker

        try:
            BaseVectorEnv.__init__(self, factories, tracked)  # type: ignore[arg-type]
        except BaseException:
            for worker in started:
                with contextlib.suppress(Exception):
                    worker.close()
            self._remove_error_dir()
            raise

    def _remove_error_dir(self) -> None:
        if self._error_dir is not None:
            shutil.rmtree(self._error_dir, ignore_errors=True)

    def close(self) -> None:
        try:
            super().close()  # type: ignore[misc]
        finally:
            self._remove_error_dir()


class KartDummyVectorEnv(_Lifecycle, DummyVectorEnv):
    """Tianshou's ``DummyVectorEnv`` (one env, in this process) that reports the wrapped spaces."""

    def __init__(self, factories: Sequence[KartEnvFactory]) -> None:
        if len(factories) != 1:
            raise ValueError(
                f"the dummy backend runs its env in this process, and stable-retro allows one emulator per "
                f"process: use n=1, not {len(factories)}, or backend='subprocess' / 'shmem'"
            )
        self._start(factories, _DummyWorker)


class KartSubprocVectorEnv(_Lifecycle, SubprocVectorEnv):
    """Tianshou's ``SubprocVectorEnv`` whose workers report crashes by name."""

    def __init__(self, factories: Sequence[KartEnvFactory], context: str | None = None, error_dir: str | None = None):
        self._error_dir = error_dir
        self._start(factories, lambda f: _SubprocWorker(f, share_memory=False, context=context))


class KartShmemVectorEnv(_Lifecycle, ShmemVectorEnv):
    """Tianshou's ``ShmemVectorEnv`` whose workers report crashes by name."""

    def __init__(self, factories: Sequence[KartEnvFactory], context: str | None = None, error_dir: str | None = None):
        self._error_dir = error_dir
        self._start(factories, lambda f: _SubprocWorker(f, share_memory=True, context=context))


class KartRayVectorEnv(_Lifecycle, RayVectorEnv):
    """Tianshou's ``RayVectorEnv`` with each env built inside its actor; crashes reported by name."""

    def __init__(self, factories: Sequence[KartEnvFactory], **ray_init: Any) -> None:
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(**{"include_dashboard": False, **ray_init})
        self._start(factories, _RayWorker)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise ImportError(
            "the ray backend needs Ray: pip install 'kart-rl-course[ray]' (or pip install 'ray[default]>=2.9')"
        ) from err
    return ray


def vector_env_from_factories(
    factories: Sequence[KartEnvFactory], backend: str = "shmem", **backend_kwargs: Any
) -> BaseVectorEnv:
    """A Tianshou vector env with one worker per factory. See :func:`make_vector_env`."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if not factories:
        raise ValueError("a vector env needs at least one worker")
    if backend == "dummy":
        return KartDummyVectorEnv(factories)
    if backend == "ray":
        return KartRayVectorEnv(factories, **backend_kwargs)
    cls = KartShmemVectorEnv if backend == "shmem" else KartSubprocVectorEnv
    error_dir = tempfile.mkdtemp(prefix="kart_workers_")
    # The workers write their last error here (see KartEnvFactory.report).
    factories = [_with_error_dir(f, error_dir) for f in factories]
    return cls(factories, error_dir=error_dir, **backend_kwargs)


def _with_error_dir(factory: KartEnvFactory, error_dir: str) -> KartEnvFactory:
    return replace(factory, error_dir=error_dir)


def make_vector_env(
    n: int,
    config: PipelineConfig | None = None,
    backend: str = "shmem",
    seed: int | None = 0,
    **backend_kwargs: Any,
) -> BaseVectorEnv:
    """``n`` pipeline envs stepping side by side, as a Tianshou vector env.

    Args:
        n: number of workers (envs). ``dummy`` allows only 1.
        config: the pipeline of every env (default ``PipelineConfig()``).
        backend: ``"dummy"``, ``"subprocess"``, ``"shmem"`` or ``"ray"`` (see the module docs).
        seed: worker ``i`` is seeded with ``seed + i``; None leaves them unseeded.
        backend_kwargs: ``context="spawn"`` for subprocess/shmem (default: the platform's, fork
            on Linux); for ray, keyword arguments of ``ray.init`` when Ray is not running yet,
            e.g. ``num_cpus=2``.

    Returns:
        A ``BaseVectorEnv``: ``reset()`` gives observations of shape ``(n, *obs_shape)``, uint8.

    Raises:
        WorkerCrashedError: a worker could not start, or died later (raised by the call that
            finds it dead).
    """
    config = config or PipelineConfig()
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    factories = [KartEnvFactory(config, worker=i, seed=None if seed is None else seed + i) for i in range(n)]
    return vector_env_from_factories(factories, backend, **backend_kwargs)


# --- measuring collection ------------------------------------------------------------------------


def measure_collection(
    venv: BaseVectorEnv,
    steps: int = 200,
    repeats: int = 3,
    seed: int = 0,
    label: str = "collection",
    warmup: bool = True,
) -> Speed:
    """Frames and agent steps per second, summed over workers, of stepping ``venv`` with random actions.

    This is the env side of collection (what Tianshou's ``Collector`` waits on): each round
    steps every worker once and resets the ones whose episode ended. ``steps`` rounds per repeat.
    """
    rng = np.random.default_rng(seed)
    n = len(venv)
    actions_n = venv.action_space[0].n
    venv.reset()

    def run() -> tuple[int, int, float]:
        actions = rng.integers(0, actions_n, size=(steps, n))
        frames = 0
        start = time.perf_counter()
        for a in actions:
            _, _, terminated, truncated, infos = venv.step(a)
            frames += sum(int(info.get("frames", 1)) for info in infos)
            done = np.flatnonzero(np.logical_or(terminated, truncated))
            if done.size:
                venv.reset(done)
        return frames, steps * n, time.perf_counter() - start

    return median_speed(label, run, repeats, warmup)
