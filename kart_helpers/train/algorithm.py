"""PPO from a config: the actor-critic policy and Tianshou 2's PPO algorithm with its optimizer."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from tianshou.algorithm.modelfree.reinforce import DiscreteActorPolicy
from tianshou.algorithm.optim import AdamOptimizerFactory, LRSchedulerFactoryLinear

from kart_helpers.train.config import PPOConfig, bf16_fast
from kart_helpers.train.network import build_actor_critic
from kart_helpers.train.ppo import KartPPO


def use_bf16(config: PPOConfig) -> bool:
    """``config.bf16``, but only where the device has bfloat16 units: elsewhere bfloat16 is emulated
    and the update ran 11x slower (19 s against 1.7 s per update, measured on a 2-core CPU)."""
    if config.bf16 and not bf16_fast(config.resolved_device()):
        warnings.warn(
            f"bf16=True is ignored: {config.resolved_device()} has no bfloat16 units (bf16_fast() is False), "
            "where it would slow the update down; training runs in float32",
            stacklevel=3,
        )
        return False
    return config.bf16


def build_policy(config: PPOConfig, obs_shape: Sequence[int], action_space: Any) -> DiscreteActorPolicy:
    """The policy alone (actor network inside), as evaluation needs it."""
    actor, _ = build_actor_critic(
        obs_shape, int(action_space.n), config.resolved_device(), share_forward=False, bf16=use_bf16(config)
    )
    return DiscreteActorPolicy(actor=actor, action_space=action_space, deterministic_eval=True)


def build_algorithm(config: PPOConfig, obs_shape: Sequence[int], action_space: Any) -> KartPPO:
    """Tianshou's PPO with our network and the config's settings."""
    device = config.resolved_device()
    bf16 = use_bf16(config)
    actor, critic = build_actor_critic(obs_shape, int(action_space.n), device, config.share_trunk_forward, bf16)
    policy = DiscreteActorPolicy(actor=actor, action_space=action_space, deterministic_eval=True)
    optim = AdamOptimizerFactory(lr=config.lr, eps=1e-5)
    if config.lr_decay:
        optim = optim.with_lr_scheduler_factory(
            LRSchedulerFactoryLinear(config.max_epochs, config.steps_per_epoch, config.steps_per_update)
        )
    algorithm = KartPPO(
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
    algorithm.reuse_recorded = not bf16
    return algorithm
