"""Vector-env workers that report a crashed emulator with its traceback and exit code."""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
from collections.abc import Callable
from typing import Any

import gymnasium as gym
from tianshou.env.worker import DummyEnvWorker, EnvWorker, RayEnvWorker, SubprocEnvWorker

from kart_helpers.pipeline.factory import KartEnvFactory


class WorkerCrashedError(RuntimeError):
    """An env worker died; the message names the worker, its game and state, and its error."""


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


class SubprocWorker(_Guarded, SubprocEnvWorker):
    _dead = (EOFError, BrokenPipeError, ConnectionResetError)

    def __init__(self, factory: KartEnvFactory, share_memory: bool, context: str | None) -> None:
        self.factory = factory
        try:
            # Tianshou's hints name only "fork" and "spawn"; any start method works as a context.
            super().__init__(factory, share_memory=share_memory, context=multiprocessing.get_context(context))
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


class DummyWorker(DummyEnvWorker):
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


class RayWorker(_Guarded, RayEnvWorker):
    env: Any  # a Ray actor handle of a _RemoteEnv, where Tianshou's is of its own wrapper

    def __init__(self, factory: KartEnvFactory) -> None:
        import ray  # here: ray is the optional [ray] extra

        self.factory = factory
        self._dead = (ray.exceptions.RayError,)
        # Tianshou's RayEnvWorker calls env_fn() here, in the parent, and ships the env to the
        # actor; a stable-retro env cannot travel (and the parent may hold only one emulator).
        # So the actor builds it from the factory. num_cpus=0 as in Tianshou: actors never wait
        # for a free CPU slot.
        self.env = ray.remote(_RemoteEnv).options(num_cpus=0).remote(factory)
        EnvWorker.__init__(self, factory)

    def close_env(self) -> None:
        import ray  # here: ray is the optional [ray] extra

        with contextlib.suppress(ray.exceptions.RayError):  # a dead actor has nothing left to close
            super().close_env()

    def _crash(self, doing: str, err: BaseException) -> WorkerCrashedError:
        lines = [line for line in str(err).strip().splitlines() if line.strip()]
        summary = "\n".join(lines[-3:]) if lines else type(err).__name__
        return WorkerCrashedError(
            f"env {self.factory.describe()} (a Ray actor) failed while {doing}: {type(err).__name__}\n{summary}"
        )
