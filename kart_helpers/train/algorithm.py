"""PPO from a config: the actor-critic policy and Tianshou 2's PPO algorithm with its optimizer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tianshou.algorithm import PPO
from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory, LRSchedulerFactoryLinear
from tianshou.data import ReplayBuffer, to_torch_as

from kart_helpers.train.config import PPOConfig
from kart_helpers.train.network import build_actor_critic


def build_policy(config: PPOConfig, obs_shape: Sequence[int], action_space: Any) -> DiscreteActorPolicy:
    """The policy alone (actor network inside), as evaluation needs it."""
    actor, _ = build_actor_critic(
        obs_shape, int(action_space.n), config.resolved_device(), share_forward=False, bf16=config.bf16
    )
    return DiscreteActorPolicy(actor=actor, action_space=action_space, deterministic_eval=True)


class KartPPO(PPO):
    """Tianshou's PPO, reusing the values and log-probabilities recorded while collecting.

    Before each update Tianshou's PPO runs the network three more times over the rollout, without
    gradients: V(s), V(s') and log π(a|s). :class:`~kart_helpers.train.collector.LeanCollector`
    already computed V(s) and log π(a|s) with the same weights, and V(s') is the next step's V(s)
    except where an episode was cut short (a time limit, a stall) or the rollout ends; only
    those few next observations go through the critic here. The losses and the update are
    Tianshou's. Batches without the recorded values (another collector's) take Tianshou's path.
    """

    @staticmethod
    def _recorded(batch: Any) -> bool:
        policy = batch.get("policy")
        return policy is not None and "value" in policy.get_keys() and "logp" in policy.get_keys()

    def _add_returns_and_advantages(self, batch: Any, buffer: ReplayBuffer, indices: np.ndarray) -> Any:
        if not self._recorded(batch):
            return super()._add_returns_and_advantages(batch, buffer, indices)
        v_s = np.asarray(batch.policy.value, dtype=np.float32)
        position = np.full(buffer.maxsize, -1)
        position[indices] = np.arange(len(indices))
        v_s_ = v_s[np.maximum(position[buffer.next(indices)], 0)]
        cut = np.logical_or(batch.truncated, np.isin(indices, buffer.unfinished_index())) & ~batch.terminated
        if cut.any():  # the next observation is not the next step's: ask the critic
            with torch.no_grad():
                v_s_[cut] = self.critic(batch.obs_next[cut]).flatten().cpu().numpy()
        batch.v_s = torch.as_tensor(v_s)
        if self.return_scaling:  # the critic predicts scaled returns
            scale = np.sqrt(self.ret_rms.var + self._eps)
            v_s, v_s_ = v_s * scale, v_s_ * scale
        returns, advantages = self.compute_episodic_return(
            batch, buffer, indices, v_s_, v_s, gamma=self.gamma, gae_lambda=self.gae_lambda
        )
        if self.return_scaling:
            batch.returns = returns / np.sqrt(self.ret_rms.var + self._eps)
            self.ret_rms.update(returns)
        else:
            batch.returns = returns
        batch.returns = to_torch_as(batch.returns, batch.v_s)
        batch.adv = to_torch_as(advantages, batch.v_s)
        return batch

    def _preprocess_batch(self, batch: Any, buffer: ReplayBuffer, indices: np.ndarray) -> Any:
        if not self._recorded(batch) or self.recompute_adv:
            return super()._preprocess_batch(batch, buffer, indices)
        batch = self._add_returns_and_advantages(batch, buffer, indices)
        batch.act = to_torch_as(batch.act, batch.v_s)
        batch.logp_old = torch.as_tensor(np.asarray(batch.policy.logp, dtype=np.float32))
        return batch


def build_algorithm(config: PPOConfig, obs_shape: Sequence[int], action_space: Any) -> KartPPO:
    """Tianshou's PPO with our network and the config's settings."""
    device = config.resolved_device()
    actor, critic = build_actor_critic(obs_shape, int(action_space.n), device, config.share_trunk_forward, config.bf16)
    policy = DiscreteActorPolicy(actor=actor, action_space=action_space, deterministic_eval=True)
    optim = AdamOptimizerFactory(lr=config.lr, eps=1e-5)
    if config.lr_decay:
        optim = optim.with_lr_scheduler_factory(
            LRSchedulerFactoryLinear(config.max_epochs, config.steps_per_epoch, config.steps_per_update)
        )
    return KartPPO(
        policy=policy,
        critic=critic,
        optim=optim,
        eps_clip=config.clip,
        value_clip=config.value_clip,
        advantage_normalization=config.advantage_normalization,
        return_scaling=config.return_scaling,
        vf_coef=config.vf_coef,
        ent_coef=config.ent_coef,
        max_grad_norm=config.max_grad_norm,
        gae_lambda=config.gae_lambda,
        gamma=config.gamma,
    )
