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
carries the :class:`~kart_helpers.pipeline.config.PipelineConfig`, the worker's seed and the path of
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
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from tianshou.env import BaseVectorEnv, DummyVectorEnv, RayVectorEnv, ShmemVectorEnv, SubprocVectorEnv
from tianshou.env.worker import EnvWorker

from kart_helpers.pipeline.config import PipelineConfig
from kart_helpers.pipeline.factory import KartEnvFactory
from kart_helpers.pipeline.workers import DummyWorker, RayWorker, SubprocWorker

BACKENDS = ("dummy", "subprocess", "shmem", "ray")


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
        self._start(factories, DummyWorker)


class KartSubprocVectorEnv(_Lifecycle, SubprocVectorEnv):
    """Tianshou's ``SubprocVectorEnv`` whose workers report crashes by name."""

    def __init__(self, factories: Sequence[KartEnvFactory], context: str | None = None, error_dir: str | None = None):
        self._error_dir = error_dir
        self._start(factories, lambda f: SubprocWorker(f, share_memory=False, context=context))


class KartShmemVectorEnv(_Lifecycle, ShmemVectorEnv):
    """Tianshou's ``ShmemVectorEnv`` whose workers report crashes by name."""

    def __init__(self, factories: Sequence[KartEnvFactory], context: str | None = None, error_dir: str | None = None):
        self._error_dir = error_dir
        self._start(factories, lambda f: SubprocWorker(f, share_memory=True, context=context))


class KartRayVectorEnv(_Lifecycle, RayVectorEnv):
    """Tianshou's ``RayVectorEnv`` with each env built inside its actor; crashes reported by name."""

    def __init__(self, factories: Sequence[KartEnvFactory], **ray_init: Any) -> None:
        ray = _import_ray()
        if not ray.is_initialized():
            ray.init(**{"include_dashboard": False, **ray_init})
        self._start(factories, RayWorker)


def _import_ray() -> Any:
    try:
        import ray  # here: ray is the optional [ray] extra
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
    try:
        # The workers write their last error here (see KartEnvFactory.report).
        factories = [_with_error_dir(f, error_dir) for f in factories]
        return cls(factories, error_dir=error_dir, **backend_kwargs)
    except BaseException:  # e.g. a bad backend keyword, before the env could own (and remove) the folder
        shutil.rmtree(error_dir, ignore_errors=True)
        raise


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
