"""A lean training collector: Tianshou's ``Collector``, doing per step only what PPO needs.

Tianshou's ``Collector._collect`` rebuilds several ``Batch`` objects on every step (the
observations with the stacked ``info`` dicts for the policy, the step's transition, a copy for
the buffer) and stores every ``info`` in the buffer. With frames of 28 KiB and a dozen race
facts per ``info`` that bookkeeping cost more than the policy's forward pass (measured on
2 cores: about 3 ms of every 6 ms step spent outside the emulators and the network).

:class:`LeanCollector` keeps Tianshou's buffer, statistics and trainer interface, and for
``collect(n_step=...)`` (what the on-policy trainer calls) it runs a loop of its own:

- one forward pass of the shared trunk per step gives the action *and* the value
  (``network.NatureTrunk`` hands the actor's features to the critic);
- the step's value and log-probability go into the buffer's ``policy`` field, so PPO need not
  recompute them (:class:`~kart_helpers.train.algorithm.KartPPO` reads them);
- ``info`` stays out of the buffer (PPO never reads it); the step hook sees the infos only on
  steps where an episode ends, which is when the trainer's race records need them.

Episode collection (``n_episode``: tests and evaluation) is Tianshou's own loop.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from tianshou.data import Batch, CollectStats

from kart_helpers.train.instruments import TimedCollector


class LeanCollector(TimedCollector):
    """A :class:`~kart_helpers.train.instruments.TimedCollector` with a lean ``n_step`` loop.

    Needs an algorithm with a ``critic`` (PPO), a discrete actor policy, and no recurrent state.
    Each transition's ``policy`` entry holds ``value`` (the critic's V(s), shape ``(R,)``,
    float32) and ``logp`` (log π(a|s) of the sampled action, float32).
    """

    def __init__(self, algorithm: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(algorithm, *args, **kwargs)
        self.critic: torch.nn.Module = algorithm.critic
        self.forward_s = 0.0
        """Seconds spent in the policy's forward passes (of ``collect_s``)."""
        self.env_s = 0.0
        """Seconds spent waiting for the emulator workers to step and reset (of ``collect_s``)."""

    @torch.no_grad()
    def _act(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Actions, values and log-probabilities for a batch of observations ``(R, C, H, W)``."""
        policy: Any = self.policy  # a DiscreteActorPolicy (Tianshou types it as the base Policy)
        logits, _ = policy.actor(obs)
        values = self.critic(obs)  # the trunk reuses the actor's features for this very array
        dist = policy.dist_fn(logits)
        deterministic = policy.deterministic_eval and not policy.is_within_training_step
        act = dist.mode if deterministic else dist.sample()
        logp = dist.log_prob(act)
        return act.cpu().numpy(), values.flatten().cpu().numpy(), logp.cpu().numpy()

    def _collect(
        self,
        n_step: int | None = None,
        n_episode: int | None = None,
        random: bool = False,
        render: float | None = None,
        gym_reset_kwargs: dict[str, Any] | None = None,
    ) -> CollectStats:
        if n_step is None or random or render:
            return super()._collect(n_step, n_episode, random, render, gym_reset_kwargs)
        if self._pre_collect_obs_RO is None:
            raise ValueError("reset the collector (reset() or collect(reset_before_collect=True)) before collecting")
        env_ids = np.arange(self.env_num)
        obs = np.asarray(self._pre_collect_obs_RO)
        info = self._pre_collect_info_R
        stats = CollectStats()
        steps = 0
        while steps < n_step:
            start = time.perf_counter()
            act, values, logp = self._act(obs)
            stepped = time.perf_counter()
            obs_next, rew, terminated, truncated, info = self.env.step(act, env_ids)
            self.forward_s += stepped - start
            self.env_s += time.perf_counter() - stepped
            done = np.logical_or(terminated, truncated)
            step = Batch(
                obs=obs,
                act=act,
                rew=rew,
                terminated=terminated,
                truncated=truncated,
                obs_next=obs_next,
                policy=Batch(value=values, logp=logp),
            )
            _, ep_return, ep_len, _ = self.buffer.add(step, buffer_ids=env_ids)
            steps += self.env_num
            obs = obs_next  # a fresh array from the vector env; the buffer has copied it
            if done.any():
                self._episodes_done(done, ep_return, ep_len, step, info, stats)
                finished = np.flatnonzero(done)
                start = time.perf_counter()
                obs[finished], reset_info = self.env.reset(env_id=finished, **(gym_reset_kwargs or {}))
                self.env_s += time.perf_counter() - start
                info = np.array(info, dtype=object)
                info[finished] = list(reset_info)
        stats.n_collected_steps = steps
        self.collect_step += steps
        self.collect_episode += stats.n_collected_episodes
        self._pre_collect_obs_RO, self._pre_collect_info_R = obs, info
        return stats

    def _episodes_done(
        self,
        done: np.ndarray,
        ep_return: np.ndarray,
        ep_len: np.ndarray,
        step: Batch,
        info: Any,
        stats: CollectStats,
    ) -> None:
        """Record the finished episodes' returns and lengths, and show the step hook their infos."""
        for i in np.flatnonzero(done):
            stats.n_collected_episodes += 1
            stats.returns = np.append(stats.returns, float(ep_return[i]))
            stats.lens = np.append(stats.lens, int(ep_len[i]))
        if self.get_on_step_hook() is not None:
            rollout = Batch(terminated=step.terminated, truncated=step.truncated, info=info)
            self.run_on_step_hook(None, rollout)  # type: ignore[arg-type]  # the hook reads the rollout only
