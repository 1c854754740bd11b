"""How to build one env of the pipeline in any process: a picklable factory."""

from __future__ import annotations

import contextlib
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from kart_helpers.emulator.integration import (
    EXTRA_DIRS_VARIABLE,
    USER_DIR_VARIABLE,
    extra_integration_dirs,
    user_integrations_dir,
)
from kart_helpers.pipeline.build import make_kart_env
from kart_helpers.pipeline.config import PipelineConfig


@dataclass(frozen=True)
class KartEnvFactory:
    """Builds one pipeline env inside a worker process. Picklable; call it to get the env.

    Attributes are copied into the worker, so the worker needs nothing from the parent's
    memory (a ``spawn``/``forkserver`` worker or a Ray actor has none of it): it points
    ``KART_INTEGRATIONS`` at ``user_dir`` and ``KART_EXTRA_INTEGRATIONS`` at ``extra_dirs``,
    registers the integration folders (``make_env`` does) and makes the env.
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
    extra_dirs: tuple[str, ...] = field(default_factory=lambda: tuple(map(str, extra_integration_dirs())))
    """Your own integration folders (``add_integration_dir``), as absolute paths."""
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
        os.environ[EXTRA_DIRS_VARIABLE] = os.pathsep.join(self.extra_dirs)
        try:
            env = self.build()
            if self.seed is not None:
                env.reset(seed=self.seed)
                env.action_space.seed(self.seed)
        except BaseException as err:
            self.report(err)
            raise
        return ReportErrors(env, self) if self.error_dir is not None else env


class ReportErrors(gym.Wrapper):
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
