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
import dataclasses
import json
import sys
from collections.abc import Sequence

from kart_helpers.display.training import plot_history
from kart_helpers.train.config import PPOConfig, cpu_profile, field_docs, gpu_profile
from kart_helpers.train.trainer import train


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kart_helpers.train",
        description="Train PPO (Tianshou 2) on a kart game. Every PPOConfig field is a flag.",
    )
    parser.add_argument("--profile", choices=("cpu", "gpu"), default="cpu", help="starting settings (default: cpu)")
    parser.add_argument("--resume", default=None, help="checkpoint file or run folder to continue from")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    docs = field_docs()
    for f in dataclasses.fields(PPOConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        help_text = docs.get(f.name, "").replace("%", "%%")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag, type=type(default), default=None, help=f"{help_text} (default: {default})")
    return parser


def config_from_args(args: argparse.Namespace) -> PPOConfig:
    base = gpu_profile() if args.profile == "gpu" else cpu_profile()
    changes = {
        f.name: getattr(args, f.name) for f in dataclasses.fields(PPOConfig) if getattr(args, f.name) is not None
    }
    return base.replace(**changes)


def command_line(config: PPOConfig, profile: str = "cpu") -> str:
    """The ``python -m kart_helpers.train`` command that trains with ``config`` (flags for the
    fields that differ from the profile)."""
    base = gpu_profile() if profile == "gpu" else cpu_profile()
    parts = ["python -m kart_helpers.train"] + ([f"--profile {profile}"] if profile != "cpu" else [])
    for f in dataclasses.fields(PPOConfig):
        value = getattr(config, f.name)
        if value == getattr(base, f.name) and f.name not in ("game", "state"):
            continue
        flag = "--" + f.name.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + flag[2:])
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)

    print(json.dumps(config.to_dict()), file=sys.stderr)
    result = train(config, resume=args.resume, progress=not args.quiet)

    fig = plot_history(result.history, f"PPO on {config.game} ({config.state})")
    fig.savefig(result.log_dir / "curves.png", dpi=90)
    finish = result.first_finish()
    print(
        f"{'interrupted' if result.interrupted else 'done'}: {result.counters['env_step']} steps, "
        f"{result.timing['steps_per_s']:.0f} steps/s; last checkpoint {result.last}; best {result.best}; "
        f"first 5-lap finish: {'at step ' + str(finish['env_step']) if finish else 'none yet'}"
    )
    return 130 if result.interrupted else 0
