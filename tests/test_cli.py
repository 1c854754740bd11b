"""Bad input to the trainer, from the command line and the API: one clear line, nothing lost.

Each case feeds the bad input and checks the message and that no file changed (hashes of the
folder before and after). None of them needs an emulator: ``make_train_venv`` is replaced by
one that fails the test, which also proves each check comes before any emulator starts.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import kart_helpers.train.checkpoints as checkpoints
import kart_helpers.train.trainer as trainer_module
from kart_helpers.train import CheckpointError, PPOConfig, train
from kart_helpers.train.__main__ import given_settings, main, parse, resumed
from kart_helpers.train.checkpoints import prune_epochs, save_checkpoint
from kart_helpers.train.config import ConfigError
from kart_helpers.train.run_folder import LOCK, RunFolderError, RunLock

SMALL = ["--n-envs", "1", "--backend", "subprocess", "--rollout", "64", "--minibatch", "32", "--epoch-steps", "64"]


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(autouse=True)
def no_emulators(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("an emulator was started before the bad input was reported")

    monkeypatch.setattr(trainer_module, "make_train_venv", refuse)


def fake_run(folder: Path, epoch: int = 2, **changes) -> Path:
    """A run folder whose checkpoints hold a config and counters (all the checks before training read)."""
    config = PPOConfig(**{"n_envs": 1, "backend": "subprocess", "rollout": 64, "minibatch": 32, "epoch_steps": 64})
    config = config.replace(total_steps=128, log_dir=str(folder), **changes)
    for n in range(1, epoch + 1):
        payload = {
            "reason": "epoch",
            "config": config.to_dict(),
            "policy": {},
            "algorithm": {},
            "counters": {"epoch": n, "env_step": 64 * n, "update_step": n, "gradient_step": 4 * n},
            "obs_shape": [4, 84, 84],
            "n_actions": 4,
        }
        save_checkpoint(payload, folder / "checkpoints" / f"epoch_{n:04d}.pt")
    save_checkpoint(payload, folder / "checkpoints" / "last.pt")
    (folder / "config.json").write_text("{}")
    return folder


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ") and "Traceback" not in "\n".join(err)
    return err[-1]


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--epoch-steps", "0"], "error: epoch_steps must be a whole number >= 1, got 0"),
        (["--gamma", "5"], "error: gamma must be in (0, 1], got 5.0"),
        (["--lr", "-1", "--clip", "0"], "error: lr must be a number > 0, got -1.0; clip must be a number > 0, got 0.0"),
        (["--grid-start-prob", "2"], "error: grid_start_prob must be in [0, 1], got 2.0"),
        (["--retry-starts", "4", "--stall-frames", "0"], "error: retry_starts needs stall_frames > 0"),
        (["--device", "tpu"], "error: device must be auto, cpu, cuda or cuda:N, got 'tpu'"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys, flags, message):
    monkeypatch.chdir(tmp_path)  # the current folder, where a relative log_dir (runs/ppo) would go
    fake_run(tmp_path / "runs" / "ppo")  # another run there, which a bad setting must not touch
    before = tree(tmp_path)
    assert main([*SMALL, *flags, "--log-dir", str(tmp_path / "run")]) == 2
    assert one_line_error(capsys).startswith(message)
    assert not (tmp_path / "run").exists()
    assert tree(tmp_path) == before, "a bad setting changed a file"


def test_the_api_checks_settings_too():
    with pytest.raises(ConfigError, match=r"epoch_steps must be a whole number >= 1, got 0"):
        PPOConfig(epoch_steps=0)
    with pytest.raises(ConfigError, match=r"gamma must be in \(0, 1\], got 5"):
        PPOConfig().replace(gamma=5)


def test_an_unwritable_log_folder_is_reported_before_the_emulators_start(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert main([*SMALL, "--log-dir", str(blocker / "run")]) == 2
    assert "cannot write the run folder" in one_line_error(capsys)
    assert blocker.read_text() == "not a folder"


def test_given_settings_are_the_flags_on_the_line():
    assert given_settings(["--resume", "x", "--total-steps", "5", "--no-lr-decay", "--frame-skip=2"]) == {
        "total_steps",
        "lr_decay",
        "frame_skip",
    }


# --- resume ------------------------------------------------------------------------------------


def test_resume_takes_the_runs_own_settings_and_folder(tmp_path):
    run = fake_run(tmp_path / "ring", spread_starts=3)
    argv = ["--resume", str(run), "--total-steps", "512", "--lr", "1e-3"]
    config, path = resumed(parse(argv), argv)
    assert path == str(run / "checkpoints" / "last.pt")
    assert config.log_dir == str(run) and config.total_steps == 512 and config.lr == 1e-3  # the flags given
    assert config.rollout == 64 and config.n_envs == 1 and config.starts.spread_starts == 3  # the run's own
    elsewhere = ["--resume", str(run / "checkpoints" / "epoch_0002.pt"), "--log-dir", str(tmp_path / "branch")]
    assert resumed(parse(elsewhere), elsewhere)[0].log_dir == str(tmp_path / "branch")


@pytest.mark.parametrize(
    ("flags", "differs"),
    [
        (["--frame-stack", "2"], "frame_stack 4 -> 2"),
        (["--actions", "driving"], "actions ("),
        (["--crop-cols", "0", "256"], "crop_cols (64, 192) -> (0, 256)"),
        (["--no-grayscale"], "grayscale True -> False"),
    ],
)
def test_resume_refuses_a_change_of_view_or_actions(tmp_path, capsys, flags, differs):
    run = fake_run(tmp_path / "ring")
    before = tree(run)
    assert main(["--resume", str(run), "--total-steps", "512", *flags]) == 2
    line = one_line_error(capsys)
    assert "cannot resume" in line and differs in line
    assert tree(run) == before


@pytest.mark.parametrize(
    "game",
    ["Airstriker-Genesis-v0", "MarioKart-Snes"],  # another console's game, and the other kart game
)
def test_resume_refuses_a_change_of_game(tmp_path, monkeypatch, capsys, game):
    monkeypatch.chdir(tmp_path)
    run = fake_run(tmp_path / "ring")
    before = tree(tmp_path)
    assert main(["--resume", str(run), "--total-steps", "512", "--game", game]) == 2
    line = one_line_error(capsys)
    assert f"cannot resume {run / 'checkpoints' / 'last.pt'}" in line
    assert f"game 'PracticeKart-Snes' -> '{game}'" in line and "keep them" in line
    assert tree(tmp_path) == before, "a refused resume changed a file"


def test_resume_of_a_finished_run_asks_for_more_steps(tmp_path, capsys):
    run = fake_run(tmp_path / "ring")
    before = tree(run)
    assert main(["--resume", str(run)]) == 2
    assert "give a larger total_steps (--total-steps)" in one_line_error(capsys)
    assert tree(run) == before


def test_a_checkpoint_with_python_objects_is_not_the_courses(tmp_path, capsys):
    unsafe = tmp_path / "model.pt"
    torch.save({"format": checkpoints.FORMAT, "where": tmp_path}, unsafe)
    before = tree(tmp_path)
    assert main(["--resume", str(unsafe)]) == 2
    line = one_line_error(capsys)
    assert "is not a checkpoint of this course" in line and "weights_only" not in line
    assert tree(tmp_path) == before


# --- run folders -------------------------------------------------------------------------------


def test_a_folder_holding_a_run_is_not_trained_into(tmp_path, capsys):
    run = fake_run(tmp_path / "ring")
    before = tree(run)
    assert main([*SMALL, "--log-dir", str(run)]) == 2
    line = one_line_error(capsys)
    assert "already holds a training run" in line and "--resume" in line and "--overwrite" in line
    with pytest.raises(RunFolderError, match="already holds a training run"):
        train(PPOConfig(log_dir=str(run)), progress=False)
    assert tree(run) == before


def test_resuming_an_older_checkpoint_would_replace_later_ones(tmp_path, capsys):
    run = fake_run(tmp_path / "ring", epoch=2)
    before = tree(run)
    assert main(["--resume", str(run / "checkpoints" / "epoch_0001.pt"), "--total-steps", "512"]) == 2
    assert "epoch_0002.pt" in one_line_error(capsys)
    assert tree(run) == before


def test_overwrite_moves_the_old_run_aside(tmp_path, monkeypatch):
    run = fake_run(tmp_path / "ring")
    before = tree(run)

    def stop(*args, **kwargs):
        raise RuntimeError("no emulators in this test")

    monkeypatch.setattr(trainer_module, "make_train_venv", stop)
    with pytest.raises(RuntimeError, match="no emulators"):
        train(PPOConfig(log_dir=str(run)), progress=False, overwrite=True)
    (old,) = tmp_path.glob("ring.old-*")
    assert tree(old) == before  # all of it, moved, not deleted
    assert not (run / LOCK).exists() and not list(run.rglob("*.pt"))  # the lock was let go


def test_a_live_lock_refuses_a_second_training_and_a_stale_one_is_taken_over(tmp_path):
    folder = tmp_path / "ring"
    folder.mkdir()
    (folder / LOCK).write_text(f"{os.getppid()}\n")  # our parent: alive, and not us
    with pytest.raises(RunFolderError, match=rf"in use by another training \(pid {os.getppid()}\)"):
        train(PPOConfig(log_dir=str(folder)), progress=False)
    assert (folder / LOCK).read_text() == f"{os.getppid()}\n"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (folder / LOCK).write_text(f"{dead.pid}\n")
    with RunLock(folder) as lock:
        assert lock.held and (folder / LOCK).read_text().split()[0] == str(os.getpid())
    assert not (folder / LOCK).exists()
    if Path(f"/proc/{os.getppid()}/stat").is_file():  # Linux: a live PID that started later is another process
        (folder / LOCK).write_text(f"{os.getppid()} 1\n")
        with RunLock(folder) as lock:
            assert lock.held


# --- checkpoints -------------------------------------------------------------------------------


def test_a_failed_save_leaves_the_old_checkpoint_and_no_tmp(tmp_path, monkeypatch):
    path = save_checkpoint({"counters": {"epoch": 1}}, tmp_path / "last.pt")
    before = tree(tmp_path)

    def disk_full(obj, f):
        Path(f).write_bytes(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", disk_full)
    with pytest.raises(CheckpointError, match=r"could not write .*last\.pt: No space left on device") as failed:
        save_checkpoint({"counters": {"epoch": 2}}, path)
    assert "unchanged" in str(failed.value) and "df -h" in str(failed.value)
    assert tree(tmp_path) == before and not list(tmp_path.glob("*.tmp"))


def test_only_the_newest_epoch_checkpoints_are_kept(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("epoch_0001.pt", "epoch_0002.pt", "epoch_0003.pt", "epoch_0004.pt", "best.pt", "last.pt"):
        (folder / name).write_bytes(name.encode())
    assert [p.name for p in prune_epochs(tmp_path, 2)] == ["epoch_0001.pt", "epoch_0002.pt"]
    assert sorted(p.name for p in folder.iterdir()) == ["best.pt", "epoch_0003.pt", "epoch_0004.pt", "last.pt"]
    assert prune_epochs(tmp_path, 0) == []  # 0 keeps all
    assert PPOConfig().keep_epochs == 3


# --- worker folders ----------------------------------------------------------------------------


def workers_dirs() -> set[str]:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "kart_workers_*")))


def test_a_vector_env_that_cannot_start_leaves_no_worker_folder():
    from kart_helpers.pipeline.factory import KartEnvFactory
    from kart_helpers.pipeline.vector import vector_env_from_factories

    before = workers_dirs()
    with pytest.raises(TypeError):  # refused before the workers start (the fix in pipeline.vector)
        vector_env_from_factories([KartEnvFactory()], "subprocess", no_such_option=1)
    assert workers_dirs() == before
    with pytest.raises(RuntimeError, match="could not start"):  # a worker that cannot start
        vector_env_from_factories([KartEnvFactory()], "shmem", context="no-such-start-method")
    assert workers_dirs() == before
