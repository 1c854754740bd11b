"""kart_helpers.train: config, network, a tiny PPO run, checkpoints, resume, interrupts, CLI."""

from __future__ import annotations

import math
import shlex

import numpy as np
import pytest
import torch

from kart_helpers.pipeline.actions import DRIVING_ACTIONS
from kart_helpers.train import CheckpointError, PPOConfig, Trainer, cpu_profile, field_docs, gpu_profile, train
from kart_helpers.train.__main__ import command_line, parse
from kart_helpers.train.checkpoints import FORMAT, load_checkpoint
from kart_helpers.train.config import StartsConfig, flat_settings
from kart_helpers.train.network import BF16_MIN_BATCH, POLICY_GAIN, VALUE_GAIN, build_actor_critic
from kart_helpers.train.trainer import load_policy

TINY = {"n_envs": 1, "backend": "subprocess", "rollout": 64, "minibatch": 32, "epochs": 2, "epoch_steps": 64}


def tiny(tmp_path, **changes) -> PPOConfig:
    return PPOConfig(**{**TINY, "total_steps": 128, "log_dir": str(tmp_path / "run"), **changes})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny training run (2 epochs of 64 steps with 1 env): its config, result, and the trained
    policy's weights as the trainer held them in memory at the end."""
    config = tiny(tmp_path_factory.mktemp("ppo"))
    trainer = Trainer(config, progress=False)
    result = trainer.run()
    trained = {k: v.detach().clone() for k, v in trainer.algorithm.policy.state_dict().items()}
    return config, result, trained


# --- config ------------------------------------------------------------------------------------


def test_every_config_field_has_a_docstring():
    docs = field_docs()
    settings = flat_settings(PPOConfig())
    missing = [name for name in settings if not docs.get(name)]
    assert not missing, f"fields without a docstring: {missing}"
    assert {"lr", "frame_skip", "state", "spread_starts"} <= set(settings)  # the nested configs' fields too


def test_the_command_line_names_every_setting_and_round_trips():
    config = cpu_profile(state="Level2", actions="driving", frame_skip=2, spread_starts=0, lr=1e-3)
    line = command_line(config)
    assert "--state Level2" in line and "--actions driving" in line and "--spread-starts 0" in line
    assert parse(shlex.split(line)[3:]).config == config
    assert parse(["--profile", "gpu"]).config == gpu_profile()


def test_config_defaults_and_profiles():
    c = PPOConfig()
    assert (c.lr, c.gamma, c.gae_lambda, c.clip, c.vf_coef, c.ent_coef, c.max_grad_norm) == (
        2.5e-4, 0.99, 0.95, 0.1, 0.25, 0.01, 0.5
    )  # fmt: skip
    assert c.lr_decay and not c.value_clip and c.advantage_normalization and c.device == "auto"
    pipe = c.replace(frame_skip=2, frame_stack=3, max_episode_frames=600).pipeline
    assert (pipe.frame_skip, pipe.frame_stack, pipe.max_episode_frames) == (2, 3, 600)
    assert c.pipeline.frame_skip == 4  # replace made a copy
    assert cpu_profile().device == "cpu" and gpu_profile().n_envs > cpu_profile().n_envs
    assert PPOConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown PPOConfig field"):
        PPOConfig.from_dict({"learning_rate": 1.0})
    with pytest.raises(ValueError, match="actions"):
        c.replace(actions=())
    with pytest.raises(TypeError, match="no setting 'learning_rate'"):
        c.replace(learning_rate=1.0)
    assert c.pipeline.crop_cols == (64, 192) and c.replace(actions="driving").pipeline.actions == DRIVING_ACTIONS
    with pytest.raises(ValueError, match="crop_cols"):
        c.replace(crop_cols=(0, 300))
    flat = {"game": "PracticeKart-Snes", "actions": "original", "view_width": 256, "spread_starts": 4, "lr": 1e-3}
    old = PPOConfig.from_dict(flat)  # a run saved before the configs were nested still loads
    assert old.pipeline.crop_cols is None and old.starts.spread_starts == 4 and old.lr == 1e-3


# --- network -----------------------------------------------------------------------------------


def test_network_shapes_and_init_gains():
    actor, critic = build_actor_critic((4, 84, 84), 4)
    obs = np.random.default_rng(0).integers(0, 256, (3, 4, 84, 84), dtype=np.uint8)
    logits, _ = actor(obs)
    assert logits.shape == (3, 4)
    assert critic(obs).shape == (3, 1)
    assert actor.preprocess is critic.preprocess  # one trunk, shared weights
    w_pi = [m for m in actor.last.modules() if isinstance(m, torch.nn.Linear)][-1].weight
    w_v = [m for m in critic.last.modules() if isinstance(m, torch.nn.Linear)][-1].weight
    # Orthogonal rows with gain g: W W^T = g^2 I.
    assert torch.allclose(w_pi @ w_pi.T, POLICY_GAIN**2 * torch.eye(4), atol=1e-6)
    assert math.isclose(float(w_v.detach().norm()), VALUE_GAIN, rel_tol=1e-5)
    assert float(logits.detach().abs().max()) < 0.5  # a near-uniform policy at the start


def test_shared_trunk_forward_gives_the_same_gradients():
    obs = np.random.default_rng(1).integers(0, 256, (8, 4, 84, 84), dtype=np.uint8)
    grads = []
    for share in (False, True):
        torch.manual_seed(0)
        actor, critic = build_actor_critic((4, 84, 84), 4, share_forward=share)
        loss = actor(obs)[0].logsumexp(-1).sum() + critic(obs).pow(2).sum()
        loss.backward()
        grads.append(actor.preprocess.convs[0].weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_bf16_trunk_keeps_float32_heads_and_close_outputs():
    obs = np.random.default_rng(3).integers(0, 256, (BF16_MIN_BATCH, 4, 84, 84), dtype=np.uint8)
    outputs = []
    for bf16 in (False, True):
        torch.manual_seed(0)
        actor, critic = build_actor_critic((4, 84, 84), 4, bf16=bf16)
        features, _ = actor.preprocess(obs)
        loss = critic(obs).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            small = actor.preprocess(obs[:2])[0]
        outputs.append((features.detach(), critic.preprocess.convs[0].weight, small))
    (f32, w32, _), (f16, w16, _) = outputs
    assert f16.dtype == torch.float32 and w16.dtype == torch.float32 and w16.grad.dtype == torch.float32
    assert not torch.equal(f32, f16)  # bfloat16 really ran
    assert torch.allclose(f16, f32, rtol=0.05, atol=0.02 * float(f32.abs().max()))
    cosine = torch.nn.functional.cosine_similarity(w16.grad.flatten(), w32.grad.flatten(), dim=0)
    assert cosine > 0.99
    small_32, small_16 = (o[2] for o in outputs)  # collection's batch (one frame stack per env): float32
    assert torch.equal(small_32, small_16)


# --- training and checkpoints ----------------------------------------------------------------


def test_tiny_training_run_writes_checkpoints(run):
    _config, result, _ = run
    assert not result.interrupted
    assert result.counters["env_step"] == 128 and result.counters["epoch"] == 2
    updates = [h for h in result.history if h["kind"] == "update"]
    assert len(updates) == 2 and all(math.isfinite(u["loss"]) for u in updates)
    for u in updates:  # PPO's health signals, for the plot and TensorBoard
        assert u["approx_kl"] >= 0 and 0 <= u["clip_fraction"] <= 1 and u["explained_variance"] <= 1
    folder = result.log_dir / "checkpoints"
    assert (folder / "epoch_0001.pt").is_file() and (folder / "epoch_0002.pt").is_file()
    assert result.last == folder / "last.pt"
    assert list((result.log_dir / "tb").glob("events.out.tfevents.*"))


def test_checkpoint_loads_with_weights_only(run):
    _, result, _ = run
    data = torch.load(result.last, weights_only=True)
    assert data["format"] == FORMAT and "_optimizers" in data["algorithm"]
    assert data["counters"]["env_step"] == 128


def test_resume_restores_everything_exactly(run, tmp_path):
    config, result, _ = run
    saved = load_checkpoint(result.last)
    trainer = Trainer(config.replace(total_steps=256, log_dir=str(tmp_path / "setup_only")), resume=result.last)
    trainer.setup()
    try:
        state = trainer.algo.state_dict()
        for key, value in saved["algorithm"].items():
            if key == "_optimizers":
                continue
            assert torch.equal(state[key], value), key
        for got, want in zip(state["_optimizers"], saved["algorithm"]["_optimizers"], strict=True):
            assert got["param_groups"][0]["lr"] == want["param_groups"][0]["lr"]
            for k, s in want["state"].items():
                assert all(torch.equal(got["state"][k][n], s[n]) for n in s)
        assert trainer.algo.lr_schedulers[0].last_epoch == saved["schedulers"][0]["last_epoch"] == 2
        assert trainer.counters == saved["counters"]
        rms = trainer.algo.ret_rms  # return_scaling's running statistics, outside Tianshou's state_dict
        assert saved["return_stats"][2] > 0 and [rms.mean, rms.var, rms.count] == saved["return_stats"]
    finally:
        trainer.close()
    more = train(config.replace(total_steps=256, log_dir=str(tmp_path / "resumed")), resume=result.last, progress=False)
    assert more.counters["env_step"] == 256 and more.counters["epoch"] == 4  # continued, not restarted
    assert more.counters["update_step"] == 4


def test_saved_policy_is_the_trained_policy(run):
    config, result, trained = run
    policy, loaded_config, _ = load_policy(result.last)
    assert loaded_config == config.replace(device="cpu")
    loaded = policy.state_dict()
    assert loaded.keys() == trained.keys()
    assert all(torch.equal(loaded[k], trained[k]) for k in trained)  # every weight, as training left it
    fresh, _, _ = load_policy(result.last)
    fresh.load_state_dict({k: torch.zeros_like(v) if v.is_floating_point() else v for k, v in trained.items()})
    obs = np.random.default_rng(2).integers(0, 256, (8, 4, 84, 84), dtype=np.uint8)
    with torch.no_grad():
        trained_net, _, _ = load_policy(result.last)
        trained_net.load_state_dict(trained)
        assert torch.equal(policy.actor(obs)[0], trained_net.actor(obs)[0])
        assert not torch.equal(policy.actor(obs)[0], fresh.actor(obs)[0])  # the comparison can tell weights apart


def test_bad_checkpoints_give_clear_errors(run, tmp_path):
    _, result, _ = run
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match=r"without checkpoints/last\.pt"):
        load_checkpoint(tmp_path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(garbage)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(result.last.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(truncated)
    unsafe = tmp_path / "unsafe.pt"
    torch.save({"format": FORMAT, "obj": unsafe}, unsafe)  # a PosixPath: not a plain value
    with pytest.raises(CheckpointError, match=r"not a checkpoint of this course.*pathlib\.PosixPath") as refused:
        load_checkpoint(unsafe)
    assert "weights_only" not in str(refused.value) and refused.value.__cause__ is None  # never torch's advice
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a kart-ppo"):
        load_checkpoint(foreign)


def test_incompatible_resume_is_refused(run, tmp_path):
    config, result, _ = run
    other = config.replace(actions="driving", log_dir=str(tmp_path / "other"))
    with pytest.raises(CheckpointError, match="actions"):
        Trainer(other, resume=result.last).setup()


def test_keyboard_interrupt_leaves_a_usable_checkpoint(tmp_path):
    calls = []

    def interrupt(trainer):
        calls.append(trainer.counters["env_step"])
        if len(calls) == 2:  # after the first update
            raise KeyboardInterrupt

    result = train(tiny(tmp_path, total_steps=512), callbacks=[interrupt], progress=False)
    assert result.interrupted
    data = load_checkpoint(result.last)
    assert data["reason"] == "interrupted" and data["counters"]["env_step"] == 64
    assert (result.log_dir / "checkpoints" / "interrupted.pt").is_file()
    policy, _, _ = load_policy(result.last)
    assert policy.compute_action(np.zeros((4, 84, 84), np.uint8)) in range(4)


def test_cli_runs_a_few_hundred_steps(tmp_path, capsys):
    from kart_helpers.train.__main__ import main

    log_dir = tmp_path / "cli"
    args = ["--game", "PracticeKart-Snes", "--n-envs", "1", "--backend", "subprocess", "--rollout", "64"]
    args += ["--minibatch", "64", "--epochs", "1", "--epoch-steps", "128", "--total-steps", "256"]
    args += ["--no-lr-decay", "--log-dir", str(log_dir), "--quiet"]
    assert main(args) == 0
    assert "done: 256 steps" in capsys.readouterr().out
    assert (log_dir / "checkpoints" / "epoch_0002.pt").is_file() and (log_dir / "curves.png").is_file()
    assert load_checkpoint(log_dir)["config"]["lr_decay"] is False


def test_stalled_episodes_are_truncated():
    from kart_helpers.pipeline.config import PipelineConfig
    from kart_helpers.train.envs import TrainEnvFactory

    env = TrainEnvFactory(PipelineConfig(max_noops=0), stall_frames=300, reward_scale=0.5)()
    try:
        env.reset(seed=0)
        for _ in range(1800):
            _, _reward, terminated, truncated, info = env.step(1)  # B+LEFT forever: circles, then stalls
            if terminated or truncated:
                break
        assert truncated and not terminated and info["ep_frames"] < 2000
        assert info["race_laps"] == 0 and list(info["lap_ends"]) == [0] * 5
    finally:
        env.close()


def test_a_stall_becomes_a_retry_start_just_before_the_trouble():
    from kart_helpers.pipeline.config import PipelineConfig
    from kart_helpers.train.envs import TrainEnvFactory

    env = TrainEnvFactory(
        PipelineConfig(max_noops=0), stall_frames=300, starts=StartsConfig(0, retry_starts=2, grid_start_prob=0.0)
    )()
    try:
        _, info = env.reset(seed=0)
        assert info["start_index"] == -1  # no retries yet and no expert snapshots: the grid
        for _ in range(1800):
            _, _, terminated, truncated, info = env.step(1)  # B+LEFT forever: circles, then stalls
            if terminated or truncated:
                break
        assert truncated and info["stalled"] and 0 < info["progress_frame"] < info["ep_frames"]
        stalled_at = (info["x"], info["y"])
        assert env.get_wrapper_attr("retries_added") == 1 and len(env.get_wrapper_attr("retries")) == 1
        _, info = env.reset()
        assert info["start_index"] == 0 and info["grid_start"] is False  # the retry, the only start
        assert not info["stalled"] and info["laps"] >= 127  # a race in progress, not the menu
        assert (info["x"], info["y"]) != stalled_at  # the run-up, not where it gave up
    finally:
        env.close()


def test_spread_starts_begin_along_the_track_and_pay_nothing_for_the_jump():
    from kart_helpers.pipeline.config import PipelineConfig
    from kart_helpers.train.envs import TrainEnvFactory

    factory = TrainEnvFactory(PipelineConfig(max_noops=0), starts=StartsConfig(6, grid_start_prob=0.0), seed=3)
    env = factory()
    try:
        places = set()
        for _ in range(6):
            _, info = env.reset()
            assert info["start_index"] >= 0 and info["grid_start"] is False
            places.add((info["x"], info["y"]))
            _, reward, _, _, info = env.step(0)  # B: one step on from the snapshot
            # The lap counter jumps from 0 to 128 at the reset: set-up, not 16 checkpoints of pay.
            assert reward < 2 * 300 and info["ep_return"] < 2 * 300
        assert len(places) >= 3, f"the starts should spread along the track, got {places}"
    finally:
        env.close()
    grid = TrainEnvFactory(PipelineConfig(max_noops=0), starts=StartsConfig(2, grid_start_prob=1.0), seed=0)()
    try:
        for _ in range(2):
            _, info = grid.reset()
            assert info["start_index"] == -1 and info["grid_start"] is True
            assert info["laps"] == 127  # on the grid, before the line
    finally:
        grid.close()


def test_a_failed_setup_closes_the_envs_and_lets_go_of_the_folder(tmp_path, monkeypatch):
    import glob
    import os
    import tempfile

    import kart_helpers.train.trainer as trainer_module

    def workers() -> set[str]:
        return set(glob.glob(os.path.join(tempfile.gettempdir(), "kart_workers_*")))

    def broken(*args, **kwargs):
        raise RuntimeError("broken network")

    before = workers()
    monkeypatch.setattr(trainer_module, "build_algorithm", broken)  # fails after the envs started
    with pytest.raises(RuntimeError, match="broken network"):
        train(tiny(tmp_path), progress=False)
    assert workers() == before and not (tmp_path / "run" / "run.lock").exists()


def test_env_workers_leave_ctrl_c_to_the_trainer():
    import os
    import signal

    from kart_helpers.train.envs import make_train_venv

    venv = make_train_venv(PPOConfig(**TINY).replace(spread_starts=0))
    try:
        venv.reset()
        os.kill(venv.workers[0].process.pid, signal.SIGINT)  # as a terminal's Ctrl-C reaches every process
        obs, *_ = venv.step(np.zeros(1, dtype=int))  # the worker is alive, and steps on
        assert obs.shape == (1, 4, 84, 84)
    finally:
        venv.close()


def test_the_training_plot_draws_the_health_signals(run):
    from kart_helpers.display.training import plot_history

    _, result, _ = run
    fig = plot_history(result.history, "tiny")
    titles = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    updates = [h for h in result.history if h["kind"] == "update"]
    kl = next(line for line in titles["policy change per update"].get_lines() if line.get_label() == "approx-KL")
    assert list(kl.get_ydata()) == [u["approx_kl"] for u in updates]
    critic = titles["critic: explained variance (1 = perfect)"].get_lines()[0]
    assert list(critic.get_ydata()) == [u["explained_variance"] for u in updates]
    assert all(ax.get_xlim() == (0, result.counters["env_step"]) for ax in titles.values())
