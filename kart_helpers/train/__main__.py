"""The command-line trainer: ``python -m kart_helpers.train --game PracticeKart-Snes ...``.

Every :class:`~kart_helpers.train.config.PPOConfig` field is a flag (``n_envs`` -> ``--n-envs``;
booleans as ``--value-clip`` / ``--no-value-clip``), with the field's docstring as its help.
``--profile cpu|gpu`` starts from :func:`cpu_profile` or :func:`gpu_profile`; flags override it.

``--resume RUN`` (a run folder or a checkpoint) continues that run with its own saved settings
and in its own folder, exactly where it stopped; flags given beside it change only what they
name, and a change of what the network sees or does (game, actions, frame stack, view) is
refused. A folder that holds a run is never trained into otherwise: ``--overwrite`` moves the
old run aside (to ``<folder>.old-<date>-<time>``) instead. Ctrl-C saves a checkpoint.

Bad settings, checkpoints and folders are reported on one line (exit code 2) before any
emulator starts.

Examples::

    python -m kart_helpers.train --total-steps 100000 --log-dir runs/ring
    python -m kart_helpers.train --state Level2 --log-dir runs/hairpin --n-envs 2
    python -m kart_helpers.train --resume runs/ring --total-steps 200000
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import tyro

from kart_helpers.display.training import plot_history
from kart_helpers.pipeline.actions import ACTION_SETS
from kart_helpers.train.checkpoints import CheckpointError, load_checkpoint
from kart_helpers.train.config import (
    ConfigError,
    PPOConfig,
    cpu_profile,
    deferred_checks,
    flat_settings,
    gpu_profile,
)
from kart_helpers.train.resume import resumed_config
from kart_helpers.train.run_folder import RunFolderError, run_folder_of
from kart_helpers.train.trainer import train

PROFILES = {"cpu": cpu_profile, "gpu": gpu_profile}


@dataclass
class Command:
    """Train PPO (Tianshou 2) on a kart game. Every PPOConfig field is a flag."""

    config: PPOConfig
    profile: Literal["cpu", "gpu"] = "cpu"
    """Starting settings: cpu_profile() or gpu_profile(); the flags below override them."""
    resume: str | None = None
    """Run folder or checkpoint to continue, with its own saved settings and folder; the flags
    given beside it change only what they name."""
    overwrite: bool = False
    """If --log-dir holds another run, move it aside to <log-dir>.old-<date>-<time> (never deleted)
    instead of refusing."""
    quiet: bool = False
    """No progress bar."""


def parse(argv: Sequence[str] | None = None) -> Command:
    """The command line as a :class:`Command`; ``--profile`` picks the defaults the other flags override.

    Raises:
        ConfigError: a setting is out of range (every bad one named, on one line).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    profile = early.parse_known_args(args)[0].profile
    default = Command(PROFILES[profile](), profile=profile)
    # OmitArgPrefixes: --lr rather than --config.lr; tyro reads the help from the field docstrings.
    with deferred_checks():  # validated below, so that a bad value is one line, not tyro's panel
        command = tyro.cli(
            Command,
            args=args,
            default=default,
            prog="python -m kart_helpers.train",
            config=(tyro.conf.OmitArgPrefixes,),
        )
    command.config.validate()
    return command


def given_settings(argv: Sequence[str]) -> set[str]:
    """The settings named on a command line (``--frame-skip 2``, ``--no-lr-decay``, ``--lr=1e-3``)."""
    names = set(flat_settings(PPOConfig()))
    given = set()
    for arg in argv:
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0].replace("-", "_")
            name = name[3:] if name not in names and name.startswith("no_") else name
            given |= {name} & names
    return given


def resumed(command: Command, argv: Sequence[str]) -> tuple[PPOConfig, str]:
    """The config of ``--resume``: the run's own, with the settings named in ``argv`` changed, in
    the run's own folder unless ``--log-dir`` says another; and the checkpoint's path."""
    assert command.resume is not None
    ckpt = load_checkpoint(command.resume)
    flags = flat_settings(command.config)
    changes = {name: flags[name] for name in given_settings(argv) if name != "log_dir"}
    folder = flags["log_dir"] if "log_dir" in given_settings(argv) else str(run_folder_of(ckpt["path"]))
    config = resumed_config(ckpt, changes, folder)
    named = ", ".join(f"{k}={v!r}" for k, v in sorted(changes.items())) or "none"
    print(f"Resuming {ckpt['path']} with its own settings into {folder}; changed: {named}", file=sys.stderr)
    return config, ckpt["path"]


def command_line(config: PPOConfig, profile: str = "cpu") -> str:
    """The ``python -m kart_helpers.train`` command that trains with ``config`` (flags for the
    fields that differ from the profile)."""
    base = flat_settings(PROFILES[profile]())
    parts = ["python -m kart_helpers.train"] + ([f"--profile {profile}"] if profile != "cpu" else [])
    for name, value in flat_settings(config).items():
        if value == base[name] and name not in ("game", "state"):
            continue
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + flag[2:])
        elif name == "actions" and value in ACTION_SETS.values():
            parts.append(f"{flag} {next(k for k, v in ACTION_SETS.items() if v == value)}")
        elif isinstance(value, tuple):
            parts.append(f"{flag} {' '.join(shlex.quote(str(v)) for v in value)}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 done, 2 bad input, 130 interrupted)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command = parse(args)
        config, resume = resumed(command, args) if command.resume is not None else (command.config, None)
    except (ValueError, CheckpointError) as err:  # a bad setting (ConfigError is one) or checkpoint
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(config.to_dict()), file=sys.stderr)
    try:
        result = train(config, resume=resume, progress=not command.quiet, overwrite=command.overwrite)
    except (ConfigError, CheckpointError, RunFolderError) as err:  # found before the emulators start
        print(f"error: {err}", file=sys.stderr)
        return 2

    fig = plot_history(result.history, f"PPO on {config.game} ({config.state})")
    fig.savefig(result.log_dir / "curves.png", dpi=90)
    finish = result.first_finish()
    print(
        f"{'interrupted' if result.interrupted else 'done'}: {result.counters['env_step']} steps, "
        f"{result.timing['steps_per_s']:.0f} steps/s; last checkpoint {result.last}; best {result.best}; "
        f"first 5-lap finish: {'at step ' + str(finish['env_step']) if finish else 'none yet'}"
    )
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    raise SystemExit(main())
