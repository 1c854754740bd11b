"""Tianshou 2's PPO with two additions: it reuses what the lean collector recorded, and it reports
PPO's health signals.

The signals (in every update's statistics, hence in TensorBoard and the trainer's history):

- ``approx_kl``: how far each gradient step moved the policy from the one that collected the
  data, ``E[(r - 1) - log r]`` with ``r = π_new(a|s) / π_old(a|s)`` (Schulman's low-variance
  estimator, always >= 0), averaged over the update's minibatches. Above about 0.02-0.05, the
  steps are too big for the clip to hold;
- ``clip_fraction``: the share of samples whose ratio left ``[1 - clip, 1 + clip]``, so that
  the clip cut their gradient;
- ``explained_variance``: ``1 - Var(returns - V) / Var(returns)`` of the values before the
  update: 1 when the critic predicts the returns, 0 when it predicts no better than their mean,
  negative when worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tianshou.algorithm import PPO
from tianshou.algorithm.modelfree.a2c import A2CTrainingStats
from tianshou.data import ReplayBuffer, SequenceSummaryStats, to_torch_as

HEALTH_SIGNALS = ("approx_kl", "clip_fraction", "explained_variance")
"""The health signals' names, as in the update statistics and the trainer's history."""


@dataclass(kw_only=True)
class KartPPOTrainingStats(A2CTrainingStats):
    """Tianshou's PPO statistics of one update, and the health signals (see the module docstring)."""

    approx_kl: float
    clip_fraction: float
    explained_variance: float


class KartPPO(PPO):
    """Tianshou's PPO, reusing the values and log-probabilities recorded while collecting.

    Before each update Tianshou's PPO runs the network three more times over the rollout, without
    gradients: V(s), V(s') and log π(a|s). :class:`~kart_helpers.train.collector.LeanCollector`
    already computed V(s) and log π(a|s) with the same weights, and V(s') is the next step's V(s)
    except where an episode was cut short (a time limit, a stall) or the rollout ends; only
    those few next observations go through the critic here. The losses and the update are
    Tianshou's. Batches without the recorded values (another collector's) take Tianshou's path,
    and so does a bfloat16 trunk: collection runs it in float32, the update in bfloat16, so the
    recorded log-probabilities would not match the update's own at its first step.
    """

    reuse_recorded = True
    """Use the collector's values and log-probabilities (False: recompute them, as Tianshou does)."""

    def _recorded(self, batch: Any) -> bool:
        if not self.reuse_recorded:
            return False
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

    def _update_with_batch(self, batch: Any, batch_size: int | None, repeat: int) -> KartPPOTrainingStats:
        """PPO's clipped update, as Tianshou's, measuring the health signals on the way.

        Options this course never sets (dual clip, recomputed advantages) take Tianshou's loop,
        and their statistics carry no health signals (NaN).
        """
        explained = explained_variance(batch.returns, batch.v_s)
        if self.dual_clip or self.recompute_adv:
            stats = super()._update_with_batch(batch, batch_size, repeat)
            return KartPPOTrainingStats(**vars(stats), approx_kl=np.nan, clip_fraction=np.nan,
                                        explained_variance=explained)  # fmt: skip
        losses, clip_losses, vf_losses, ent_losses, kls, clipped = [], [], [], [], [], []
        for _ in range(repeat):
            for minibatch in batch.split(batch_size or -1, merge_last=True):
                advantages = minibatch.adv
                if self.advantage_normalization:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + self._eps)
                dist = self.policy(minibatch).dist
                log_ratio = dist.log_prob(minibatch.act) - minibatch.logp_old
                ratio = log_ratio.exp().float()
                clip_loss = -torch.min(
                    ratio * advantages, ratio.clamp(1 - self.eps_clip, 1 + self.eps_clip) * advantages
                )
                value = self.critic(minibatch.obs).flatten()
                vf_loss = (minibatch.returns - value).pow(2)
                if self.value_clip:
                    clipped_value = minibatch.v_s + (value - minibatch.v_s).clamp(-self.eps_clip, self.eps_clip)
                    vf_loss = torch.max(vf_loss, (minibatch.returns - clipped_value).pow(2))
                ent_loss = dist.entropy().mean()
                loss = clip_loss.mean() + self.vf_coef * vf_loss.mean() - self.ent_coef * ent_loss
                self.optim.step(loss)
                with torch.no_grad():
                    kls.append(((ratio - 1) - log_ratio).mean().item())
                    clipped.append(((ratio - 1).abs() > self.eps_clip).float().mean().item())
                clip_losses.append(clip_loss.mean().item())
                vf_losses.append(vf_loss.mean().item())
                ent_losses.append(ent_loss.item())
                losses.append(loss.item())
        return KartPPOTrainingStats(
            loss=SequenceSummaryStats.from_sequence(losses),
            actor_loss=SequenceSummaryStats.from_sequence(clip_losses),
            vf_loss=SequenceSummaryStats.from_sequence(vf_losses),
            ent_loss=SequenceSummaryStats.from_sequence(ent_losses),
            gradient_steps=len(losses),
            approx_kl=float(np.mean(kls)),
            clip_fraction=float(np.mean(clipped)),
            explained_variance=explained,
        )


def explained_variance(returns: torch.Tensor, values: torch.Tensor) -> float:
    """``1 - Var(returns - values) / Var(returns)`` over one rollout (NaN when the returns are constant)."""
    variance = float(returns.var())
    return float(1 - (returns - values).var() / variance) if variance > 0 else float("nan")
