"""kart_helpers.evaluate: lap times from RAM, rollouts of a checkpoint, videos and comparisons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from made_up_race import made_up_race

from kart_helpers.display.evaluation_plots import plot_comparison, plot_rollout, plot_traces
from kart_helpers.display.video import write_video
from kart_helpers.evaluate.report import compare, lap_table
from kart_helpers.evaluate.rollout import Evaluation, Rollout, evaluate_checkpoint
from kart_helpers.game.constants import CHECKPOINTS, PAR_FRAMES
from kart_helpers.game.expert import expert_drive
from kart_helpers.game.laps import LapClock, lap_times
from kart_helpers.train import PPOConfig, load_checkpoint, train
from kart_helpers.train.checkpoints import export_policy
from kart_helpers.train.config import ConfigError
from kart_helpers.train.resume import refuse_finished
from kart_helpers.train.trainer import load_policy


def test_lap_clock_counts_each_lap_once():
    clock = LapClock()
    readings = [(127, 0), (128, 10), (129, 700), (128, 710), (129, 720), (130, 1400)]  # back over the line and on
    completed = [clock.update(laps, frame) for laps, frame in readings]
    assert completed == [False, False, True, False, False, True]
    assert clock.start == 10 and clock.ends == [700, 1400] and clock.lap_frames == [690, 700]
    assert clock.race_frames is None


def test_expert_drive_lap_times_match_par():
    trace, clock = expert_drive("Level1")
    assert clock.laps == 5
    assert clock.race_frames == PAR_FRAMES["Level1"]  # the table of constants holds what the expert drives
    assert sum(clock.lap_frames) == clock.race_frames - clock.start
    assert min(clock.lap_frames) == 756  # the README's best lap
    again = lap_times(trace.column("laps"), trace.column("current_frame"))
    assert again.ends == clock.ends
    assert "| **race** | **64.47** |" in lap_table(clock, clock)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    config = PPOConfig(n_envs=1, backend="subprocess", rollout=64, minibatch=64, epochs=1, epoch_steps=64,
                       total_steps=64, log_dir=str(folder / "run"))  # fmt: skip
    return train(config, progress=False).last


def test_rollouts_of_a_checkpoint_return_lap_data(checkpoint, tmp_path):
    det = evaluate_checkpoint(checkpoint, episodes=1, deterministic=True, max_frames=400)
    sto = evaluate_checkpoint(checkpoint, episodes=2, deterministic=False, max_frames=400, video=False, seed=3)
    ro = det.rollouts[0]
    assert ro.end == "time limit" and 396 <= len(ro.trace) - ro.noops <= 400
    assert ro.laps.laps == 0 and ro.race_frames is None
    # The frame-by-frame replay pays what the pipeline paid (the no-op wait is not paid by the pipeline).
    assert ro.run.total - ro.run.rewards[: ro.noops].sum() == pytest.approx(ro.returns, abs=1e-3)
    assert ro.screens and ro.screens[0].shape == (224, 256, 3)
    assert len(sto.rollouts) == 2 and not sto.rollouts[0].deterministic
    summary = det.summary()
    assert summary["laps"] == 0 and summary["par_frames"] == PAR_FRAMES["Level1"]
    assert "| checkpoint |" in compare([det, sto], ["deterministic", "stochastic"])
    fig = plot_comparison([det, sto], ["det", "sto"], par=expert_drive("Level1").clock)
    bars = fig.axes[0].patches
    assert [b.get_height() for b in bars] == [det.best.zones / CHECKPOINTS, sto.best.zones / CHECKPOINTS]
    expert_line = fig.axes[1].get_lines()[-1]  # no laps for the agents: only the expert's line has points
    assert expert_line.get_label() == "expert" and len(expert_line.get_xdata()) == 5
    assert expert_line.get_ydata().sum() == pytest.approx(
        (PAR_FRAMES["Level1"] - expert_drive("Level1").clock.start) / 60
    )
    fig = plot_rollout(ro)
    top, bottom = fig.axes
    assert list(top.get_lines()[0].get_ydata()) == ro.trace.column("speed")[1:].tolist()
    total = next(line for line in bottom.get_lines() if line.get_label() == "total")
    assert total.get_ydata()[-1] == pytest.approx(ro.run.total, rel=1e-5)
    assert {line.get_label() for line in bottom.get_lines()} >= {*ro.run.components, "total"}
    fig = plot_traces(ro.trace, ro.trace)
    assert [ax.get_ylabel() for ax in fig.axes] == ["speed", "laps done"]
    agent, expert = fig.axes[0].get_lines()
    assert expert.get_label() == "expert"
    assert len(agent.get_xdata()) == len(ro.trace.rows) and agent.get_xdata()[-1] == pytest.approx(len(ro.trace) / 60)
    mp4 = write_video(ro.screens[:20], tmp_path / "clip.mp4")
    gif = write_video(ro.screens[:5], tmp_path / "clip.gif")
    assert mp4.stat().st_size > 1000 and gif.read_bytes()[:3] == b"GIF"
    assert np.isfinite(ro.returns)


def _race(zones: int, returns: float) -> Rollout:
    """A made-up race from the grid through ``zones`` of the track's checkpoint zones, 10 frames each."""
    trace = made_up_race([10] * zones, zones=CHECKPOINTS, grid=1)
    return Rollout([], 0, trace, None, LapClock(), [], returns, True, "wall_hits")


def test_compare_ranks_by_progress_not_by_return():
    far, near, nowhere = _race(12, returns=-500.0), _race(3, returns=900.0), _race(0, returns=2000.0)
    assert (far.zones, near.zones, nowhere.zones) == (12, 3, 0)
    evaluations = [Evaluation(label, None, 0, [ro], 3868) for label, ro in (("a", nowhere), ("b", near), ("c", far))]
    rows = compare(evaluations, ["nowhere", "near", "far"]).splitlines()[2:]
    assert [row.split("|")[2].strip() for row in rows] == ["far", "near", "nowhere"]
    assert Evaluation("x", None, 0, [near, nowhere, far], 3868).best is far


def test_a_policy_only_export_races_but_cannot_resume(checkpoint, tmp_path):
    path = export_policy(checkpoint, tmp_path / "ref.pt", {"seed": 0})
    assert path.stat().st_size < 0.5 * Path(checkpoint).stat().st_size
    data = torch.load(path, weights_only=True)
    assert data["about"] == {"seed": 0} and "algorithm" not in data and "history" not in data
    policy, _, _ = load_policy(path)
    full, _, _ = load_policy(checkpoint)
    for (name, small), big in zip(policy.state_dict().items(), full.state_dict().values(), strict=True):
        assert torch.allclose(small, big, atol=1e-3 * float(big.abs().max()) + 1e-6), name  # float16 weights
    config = load_checkpoint(path)
    with pytest.raises(ConfigError, match="policy only"):
        refuse_finished(PPOConfig(total_steps=10**6), config)
