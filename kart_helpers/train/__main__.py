"""The command-line trainer: ``python -m kart_helpers.train --game PracticeKart-Snes ...``.

Every :class:`~kart_helpers.train.config.PPOConfig` field is a flag (``n_envs`` -> ``--n-envs``;
booleans as ``--value-clip`` / ``--no-value-clip``), with the field's docstring as its help.
``--profile cpu|gpu`` starts from :func:`cpu_profile` or :func:`gpu_profile`; flags override it.
``--resume PATH`` continues a run from a checkpoint or run folder. Ctrl-C saves a checkpoint.

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
from kart_helpers.train.config import PPOConfig, cpu_profile, flat_settings, gpu_profile
from kart_helpers.train.trainer import train

PROFILES = {"cpu": cpu_profile, "gpu": gpu_profile}


@dataclass
class Command:
    """Train PPO (Tianshou 2) on a kart game. Every PPOConfig field is a flag."""

    config: PPOConfig
    profile: Literal["cpu", "gpu"] = "cpu"
    """Starting settings: cpu_profile() or gpu_profile(); the flags below override them."""
    resume: str | None = None
    """Checkpoint file or run folder to continue from."""
    quiet: bool = False
    """No progress bar."""


def parse(argv: Sequence[str] | None = None) -> Command:
    """The command line as a :class:`Command`; ``--profile`` picks the defaults the other flags override."""
    args = list(sys.argv[1:] if argv is None else argv)
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    profile = early.parse_known_args(args)[0].profile
    default = Command(PROFILES[profile](), profile=profile)
    # OmitArgPrefixes: --lr rather than --config.lr; tyro reads the help from the field docstrings.
    return tyro.cli(
        Command, args=args, default=default, prog="python -m kart_helpers.train", config=(tyro.conf.OmitArgPrefixes,)
    )


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
    command = parse(argv)
    config = command.config

    print(json.dumps(config.to_dict()), file=sys.stderr)
    result = train(config, resume=command.resume, progress=not command.quiet)

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
