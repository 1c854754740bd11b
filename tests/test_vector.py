"""Vector envs: every backend gives the same observations for the same seeds, and a worker
that dies is reported by name instead of hanging the parent."""

from __future__ import annotations

import importlib.util
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest

from kart_helpers.bench.collection import measure_collection
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.pipeline.config import PipelineConfig
from kart_helpers.pipeline.factory import KartEnvFactory
from kart_helpers.pipeline.vector import make_vector_env, vector_env_from_factories
from kart_helpers.pipeline.workers import WorkerCrashedError

HAVE_RAY = importlib.util.find_spec("ray") is not None
ACTIONS = [0, 2, 2, 1, 3, 0, 0, 1] * 3  # B, B+RIGHT, B+RIGHT, B+LEFT, hop, ...


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: a crashed worker must never block the parent."""

    def timeout(signum, frame):
        raise AssertionError(f"no answer within {seconds} s: the parent hangs")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def drive(venv, steps: list[int]) -> tuple[np.ndarray, list[int]]:
    """Observations (steps + 1, n, 4, 84, 84) of a fixed drive, every worker doing the same,
    and each worker's no-op count at the reset."""
    obs, infos = venv.reset()
    frames = [obs]
    for a in steps:
        obs, *_ = venv.step(np.full(len(venv), a))
        frames.append(obs)
    return np.stack(frames), [info["noops"] for info in infos]


@pytest.fixture(scope="module")
def dummy_drive() -> tuple[np.ndarray, list[int]]:
    venv = make_vector_env(1, PipelineConfig(), backend="dummy", seed=0)
    try:
        assert venv.observation_space[0] == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
        assert venv.action_space[0] == gym.spaces.Discrete(4)
        return drive(venv, ACTIONS)
    finally:
        venv.close()


def test_dummy_backend_is_one_env():
    with pytest.raises(ValueError, match="one emulator per process"):
        make_vector_env(2, backend="dummy")
    with pytest.raises(ValueError, match="unknown backend"):
        make_vector_env(1, backend="threads")


@pytest.mark.parametrize("backend", ["subprocess", "shmem"])
def test_backends_match_the_dummy_env_for_the_same_seeds(backend, dummy_drive):
    with deadline(60):
        venv = make_vector_env(2, PipelineConfig(), backend=backend, seed=0)
        try:
            assert venv.observation_space[1].shape == (4, 84, 84)
            assert venv.action_space[1] == gym.spaces.Discrete(4)
            frames, noops = drive(venv, ACTIONS)
        finally:
            venv.close()
    dummy_frames, dummy_noops = dummy_drive
    assert frames.shape == (len(ACTIONS) + 1, 2, 4, 84, 84) and frames.dtype == np.uint8
    # Worker 0 has seed 0, like the dummy env: the same wait and the same frames.
    assert noops[0] == dummy_noops[0] and np.array_equal(frames[:, 0], dummy_frames[:, 0])
    assert noops[1] != noops[0]  # worker 1 (seed 1) waited another number of frames


def test_collection_speed_counts_frames():
    with deadline(60):
        venv = make_vector_env(2, PipelineConfig(), backend="shmem", seed=0)
        try:
            speed = measure_collection(venv, steps=10, repeats=1)
        finally:
            venv.close()
    assert speed.steps_per_s > 0 and speed.frames_per_s == pytest.approx(4 * speed.steps_per_s, rel=0.3)


# --- crashes ----------------------------------------------------------------------------------


class Explodes(gym.Wrapper):
    """Raises (or, ``hard``, kills its process) on its 4th step."""

    def __init__(self, env: gym.Env, hard: bool) -> None:
        super().__init__(env)
        self.hard, self.steps = hard, 0

    def step(self, action):
        self.steps += 1
        if self.steps == 4:
            if self.hard:
                os._exit(3)
            raise RuntimeError("the emulator exploded")
        return self.env.step(action)


@dataclass(frozen=True)
class CrashingFactory(KartEnvFactory):
    """Worker 1's env crashes on its 4th step."""

    hard: bool = False

    def build(self) -> gym.Env:
        env = super().build()
        return Explodes(env, self.hard) if self.worker == 1 else env


@pytest.mark.parametrize("backend", ["subprocess", "shmem"])
@pytest.mark.parametrize("hard", [False, True], ids=["python-error", "process-killed"])
def test_a_crashed_worker_is_named_not_waited_for(backend, hard):
    factories = [CrashingFactory(PipelineConfig(), worker=i, seed=i, hard=hard) for i in range(2)]
    with deadline(60):
        venv = vector_env_from_factories(factories, backend)
        try:
            venv.reset()
            with pytest.raises(WorkerCrashedError) as caught:
                for _ in range(10):
                    venv.step(np.zeros(2, dtype=int))
        finally:
            venv.close()
    message = str(caught.value)
    assert "worker 1" in message and PRACTICE_GAME in message and "while stepping" in message
    if hard:
        assert "exited with code 3" in message and "no Python error" in message
    else:
        assert "RuntimeError: the emulator exploded" in message


def test_a_worker_that_cannot_start_says_why():
    config = PipelineConfig(state="NoSuchState")
    with deadline(60), pytest.raises(WorkerCrashedError, match=r"(?s)worker 0 .*NoSuchState.*no NoSuchState\.state"):
        make_vector_env(2, config, backend="subprocess")


# --- Ray ------------------------------------------------------------------------------------


@pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed: pip install 'kart-rl-course[ray]'")
def test_ray_backend_on_a_local_ray(dummy_drive):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with deadline(120):
            venv = make_vector_env(2, PipelineConfig(), backend="ray", seed=0)
            try:
                assert venv.observation_space[0].shape == (4, 84, 84)
                frames, noops = drive(venv, ACTIONS)
                assert noops[0] == dummy_drive[1][0] and np.array_equal(frames[:, 0], dummy_drive[0][:, 0])
                ray.kill(venv.workers[1].env)  # the actor dies, as on a lost node
                with pytest.raises(WorkerCrashedError, match=r"worker 1 \(PracticeKart-Snes.*Ray actor"):
                    for _ in range(5):
                        venv.step(np.zeros(2, dtype=int))
            finally:
                venv.close()
    finally:
        ray.shutdown()
