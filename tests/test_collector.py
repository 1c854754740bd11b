"""The lean collector and KartPPO give what Tianshou's Collector and PPO give, and KartPPO's health signals."""

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
        out["algorithm"] = algo
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


def test_bf16_only_where_the_cpu_has_bfloat16_units(monkeypatch):
    import gymnasium as gym

    import kart_helpers.train.algorithm as algorithm_module

    config = cpu_profile(bf16=True)
    monkeypatch.setattr(algorithm_module, "bf16_fast", lambda device="cpu": False)
    with pytest.warns(UserWarning, match="bf16=True is ignored"):
        algo = build_algorithm(config, (4, 84, 84), gym.spaces.Discrete(4))
    assert algo.policy.actor.preprocess.bf16 is False
    assert algo.reuse_recorded
    monkeypatch.setattr(algorithm_module, "bf16_fast", lambda device="cpu": True)
    algo = build_algorithm(config, (4, 84, 84), gym.spaces.Discrete(4))
    assert algo.policy.actor.preprocess.bf16 is True
    assert not algo.reuse_recorded, "a bfloat16 update must recompute the log-probs it compares with"


def test_update_is_tianshous_with_health_signals(rollouts):
    """KartPPO's update loop moves the weights exactly as Tianshou's PPO loop does, and reports
    approx-KL, clip fraction and explained variance."""
    from tianshou.algorithm import PPO

    results = {}
    for name, update in (("ours", None), ("tianshou", PPO._update_with_batch)):
        algo = copy.deepcopy(rollouts["algorithm"])
        batch = copy.deepcopy(rollouts["lean"]["prepared"])
        np.random.seed(3)  # Batch.split shuffles the minibatches with numpy
        stats = algo._update_with_batch(batch, 64, 2) if update is None else update(algo, batch, 64, 2)
        results[name] = (stats, [p.detach().clone() for p in algo.policy.actor.parameters()])
    (ours, ours_weights), (theirs, their_weights) = results["ours"], results["tianshou"]
    before = list(rollouts["algorithm"].policy.actor.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(ours_weights, before, strict=True)), "the update moved nothing"
    for a, b in zip(ours_weights, their_weights, strict=True):
        torch.testing.assert_close(a, b)
    assert ours.gradient_steps == theirs.gradient_steps == 2 * 2
    assert ours.loss.mean == pytest.approx(theirs.loss.mean, rel=1e-5)
    assert 0 <= ours.approx_kl < 0.5 and ours.approx_kl > 0, "later minibatches see a moved policy"
    assert 0 <= ours.clip_fraction <= 1
    assert -10 < ours.explained_variance <= 1


def test_explained_variance():
    from kart_helpers.train.ppo import explained_variance

    returns = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert explained_variance(returns, returns) == 1.0
    assert explained_variance(returns, torch.full((4,), 2.5)) == pytest.approx(0.0)
    assert explained_variance(returns, -returns) < 0
