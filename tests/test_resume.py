"""Exact resume: a run interrupted anywhere and resumed ends as the run that never stopped."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from kart_helpers.exercises import check_gradient_steps
from kart_helpers.solutions import gradient_steps_per_update
from kart_helpers.train import PPOConfig, Trainer, load_checkpoint, train

# 1 env, 2 updates of 32 steps per epoch, 3 epochs. Short episodes (60 steps) and 4 spread
# starts, so the env is mid-episode at the interrupt and both start generators are in use.
TINY: dict[str, Any] = {
    "n_envs": 1,
    "backend": "subprocess",
    "rollout": 32,
    "minibatch": 32,
    "epochs": 1,
    "epoch_steps": 64,
    "total_steps": 192,
    "spread_starts": 4,
    "spread_frames": 200,
    "max_episode_frames": 240,
    "keep_epochs": 2,
}


def tiny(folder: Any, **changes: Any) -> PPOConfig:
    return PPOConfig().replace(**TINY, log_dir=str(folder)).replace(**changes)


class Interrupted(Exception):
    pass


class StopAt(Trainer):
    """A trainer that raises KeyboardInterrupt at a chosen moment: in the middle of a collection
    (when an episode ends after ``updates`` updates) or in the middle of an update (after the
    weights changed, before Tianshou logged it)."""

    def __init__(self, config: PPOConfig, updates: int, where: str) -> None:
        super().__init__(config, progress=False)
        self.updates, self.where = updates, where

    def _on_step(self, action_batch: Any, rollout_batch: Any) -> None:
        super()._on_step(action_batch, rollout_batch)
        if self.where == "collect" and self.counters["update_step"] >= self.updates:
            raise KeyboardInterrupt

    def _on_update(self, log_data: dict) -> None:
        if self.where == "update" and self.counters["update_step"] == self.updates:
            raise KeyboardInterrupt  # the update's gradient steps are done: the weights have moved
        super()._on_update(log_data)


def without_clock(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "wall_s"} for h in history]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted run: its result and final weights."""
    trainer = Trainer(tiny(tmp_path_factory.mktemp("straight") / "run"), progress=False)
    result = trainer.run()
    return result, trainer.algorithm.state_dict()


@pytest.mark.parametrize("where", ["collect", "update"])
def test_an_interrupted_and_resumed_run_is_the_uninterrupted_run(straight, tmp_path, where):
    reference, weights = straight
    config = tiny(tmp_path / "run")
    stopped = StopAt(config, updates=3, where=where)
    first = stopped.run()
    assert first.interrupted
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "interrupted.pt")
    # The last update boundary: after 3 updates (epoch 1 and half of epoch 2), counted once each.
    assert saved["counters"] == first.counters
    assert saved["counters"]["update_step"] == 3 and saved["counters"]["env_step"] == 3 * 32
    assert saved["counters"]["epoch"] == 1 and saved["counters"]["gradient_step"] == 3
    assert first.history == saved["history"] and len([h for h in first.history if h["kind"] == "update"]) == 3

    resumed = Trainer(config, resume=tmp_path / "run", progress=False)
    result = resumed.run()
    assert result.counters == reference.counters
    assert without_clock(result.history) == without_clock(reference.history)
    state = resumed.algorithm.state_dict()
    for key, value in weights.items():
        if key != "_optimizers":
            assert torch.equal(state[key], value), key
    for got, want in zip(state["_optimizers"], weights["_optimizers"], strict=True):
        for k, s in want["state"].items():
            assert all(torch.equal(got["state"][k][n], s[n]) for n in s if torch.is_tensor(s[n]))
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").glob("epoch_*.pt"))
    assert kept == ["epoch_0002.pt", "epoch_0003.pt"]  # keep_epochs=2
    assert load_checkpoint(tmp_path / "run")["counters"] == reference.counters  # last.pt: the end


def test_the_gradient_steps_exercise_passes_after_an_interrupt_and_a_resume(tmp_path):
    config = tiny(tmp_path / "run", total_steps=128, spread_starts=0, epochs=2, minibatch=16)
    first = StopAt(config, updates=3, where="collect").run()
    assert first.counters["update_step"] == 3
    check_gradient_steps(gradient_steps_per_update(config), config, first.counters)
    more = train(config.replace(total_steps=192), resume=tmp_path / "run", progress=False)
    assert more.counters["update_step"] == 6 and more.counters["env_step"] == 192
    check_gradient_steps(gradient_steps_per_update(config), config, more.counters)


def test_the_command_line_resumes_a_run_with_its_own_settings_exactly(tmp_path, capsys):
    from kart_helpers.train.__main__ import main

    flags = ["--n-envs", "1", "--backend", "subprocess", "--rollout", "32", "--minibatch", "32", "--epochs", "1"]
    flags += ["--epoch-steps", "32", "--spread-starts", "2", "--spread-frames", "200", "--max-episode-frames", "240"]
    flags += ["--no-lr-decay", "--quiet"]  # a constant LR: a longer total_steps changes nothing else
    assert main([*flags, "--total-steps", "96", "--log-dir", str(tmp_path / "straight")]) == 0
    assert main([*flags, "--total-steps", "64", "--log-dir", str(tmp_path / "split")]) == 0
    assert main(["--resume", str(tmp_path / "split"), "--total-steps", "96", "--quiet"]) == 0  # no other flag
    assert "changed: total_steps=96" in capsys.readouterr().err
    straight, split = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "split")
    assert split["config"] == {**straight["config"], "log_dir": str(tmp_path / "split")}  # its own, not the profile's
    assert split["counters"] == straight["counters"] and split["counters"]["update_step"] == 3
    assert without_clock(split["history"]) == without_clock(straight["history"])
    assert all(torch.equal(split["policy"][k], v) for k, v in straight["policy"].items())
