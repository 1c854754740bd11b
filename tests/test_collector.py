"""The lean collector and KartPPO give exactly what Tianshou's Collector and PPO give."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from tianshou.algorithm.algorithm_base import policy_within_training_step
from tianshou.data import Collector, VectorReplayBuffer

from kart_helpers.train import cpu_profile
from kart_helpers.train.algorithm import build_algorithm
from kart_helpers.train.collector import LeanCollector
from kart_helpers.train.envs import make_train_venv


@pytest.fixture(scope="module")
def rollouts():
    """One rollout of 2 x 64 steps from each collector, same seeds, same weights; a stall limit of
    one second so that episodes end (truncated) inside the rollout."""
    config = cpu_profile(rollout=64, stall_frames=60)
    venv = make_train_venv(config)
    try:
        algo = build_algorithm(config, venv.observation_space[0].shape, venv.action_space[0])
        return_stats = copy.deepcopy(algo.ret_rms)
        out = {}
        for name, cls in (("tianshou", Collector), ("lean", LeanCollector)):
            buffer = VectorReplayBuffer(config.steps_per_update, config.n_envs)
            collector = cls(algo, venv, buffer)
            torch.manual_seed(1)
            collector.reset(gym_reset_kwargs={"seed": 5})
            with policy_within_training_step(algo.policy):
                stats = collector.collect(n_step=config.steps_per_update)
                batch, indices = buffer.sample(0)
                algo.ret_rms = copy.deepcopy(return_stats)  # preprocessing updates the return statistics
                prepared = algo._preprocess_batch(batch, buffer, indices)
            out[name] = {"buffer": buffer, "stats": stats, "prepared": prepared}
        return out
    finally:
        venv.close()


def test_same_transitions(rollouts):
    ours, theirs = rollouts["lean"], rollouts["tianshou"]
    assert int(theirs["buffer"].truncated.sum()) >= 1, "the rollout should hold a stalled (truncated) episode"
    for key in ("obs", "act", "rew", "terminated", "truncated", "done", "obs_next"):
        assert np.array_equal(ours["buffer"]._meta[key], theirs["buffer"]._meta[key]), key
    assert ours["stats"].n_collected_steps == theirs["stats"].n_collected_steps == 128
    assert ours["stats"].n_collected_episodes == theirs["stats"].n_collected_episodes
    np.testing.assert_allclose(ours["stats"].returns, theirs["stats"].returns)
    np.testing.assert_array_equal(ours["stats"].lens, theirs["stats"].lens)


def test_same_values_returns_and_advantages(rollouts):
    """The values and log-probs recorded while collecting replace PPO's three passes, to float rounding."""
    ours, theirs = rollouts["lean"]["prepared"], rollouts["tianshou"]["prepared"]
    assert "value" in rollouts["lean"]["buffer"].policy.get_keys(), "the lean collector records V(s)"
    for key in ("v_s", "returns", "adv", "logp_old"):
        np.testing.assert_allclose(ours[key].numpy(), theirs[key].numpy(), atol=1e-5, err_msg=key)
