"""Learning benchmark: PPO on Practice Kart on this machine's CPU, against the expert's par.

    python benchmarks/learning.py                       # easy track (Level1), seed 0, 30 minutes
    python benchmarks/learning.py --state Level2 --seed 1 --minutes 30

Trains with :func:`kart_helpers.train.cpu_profile` for a wall-clock budget (a callback stops
the run when time is up; that path writes the same checkpoint Ctrl-C would), then evaluates
the best and last checkpoints deterministically for a full race. Targets (issue 7):

- a training episode finishes 5 laps within 30 minutes of training;
- the best 5-lap time is within 15% of the expert's par (Practice Ring 3868 frames, Hairpin Hills 5161).

Writes ``benchmarks/results/learning_<state>_seed<k>.json``, ``.png`` (the training curves) and
appends a row to ``benchmarks/results/learning.md``. A benchmark, not a CI test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from kart_helpers.display.training import plot_history
from kart_helpers.emulator.integration import game_dir
from kart_helpers.game.constants import PRACTICE_GAME, par_frames, par_lap_frames
from kart_helpers.train import cpu_profile, train

RESULTS = Path(__file__).resolve().parent / "results"


def finished_run(log_dir: Path) -> tuple[SimpleNamespace, float]:
    """What ``train`` returned, rebuilt from a finished run's folder (for ``--evaluate-only``)."""
    from kart_helpers.train.checkpoints import load_checkpoint

    history = json.loads((log_dir / "history.json").read_text())
    episodes = [h for h in history if h.get("kind") == "episode"]
    counters = load_checkpoint(log_dir / "checkpoints" / "last.pt")["counters"]
    wall = episodes[-1]["wall_s"] if episodes else 0.0
    best, last = log_dir / "checkpoints" / "best.pt", log_dir / "checkpoints" / "last.pt"
    nan = float("nan")
    timing = {"steps_per_s": counters["env_step"] / max(wall, 1e-9), "collect_s": nan, "update_s": nan}
    result = SimpleNamespace(history=history, episodes=episodes, counters=counters, timing=timing,
                             best=best if best.exists() else None, last=last)  # fmt: skip
    return result, wall


def share(seconds: float, wall: float) -> float | None:
    """``seconds / wall``, rounded; None when unknown (a run evaluated with ``--evaluate-only``)."""
    return round(seconds / max(wall, 1e-9), 3) if math.isfinite(seconds) else None


PK1_ROM = "a5ac1f230a548abc657456a1d8c161c0abeba070"
"""The first Practice Kart (north-up view, walls that held the kart): results/learning_pk1_*."""


def rom_name(sha1: str) -> str:
    """How the table names the ROM a result ran on."""
    if sha1 == (game_dir(PRACTICE_GAME) / "rom.sha").read_text().strip():
        return "current"
    return "PK1 (north-up)" if sha1 == PK1_ROM else sha1[:7]


def table_row(r: dict) -> str:
    """One row of ``learning.md`` from a results JSON."""
    rom = rom_name(r["rom_sha1"])
    evals = r.get("evaluation", {})
    greedy = max((e["laps"] for k, e in evals.items() if k.endswith("greedy") and isinstance(e, dict)), default=0)
    sampled = max((e["laps"] for k, e in evals.items() if k.endswith("sampled") and isinstance(e, dict)), default=0)
    first = f"{r['first_finish_wall_s'] / 60:.1f}" if r.get("first_finish_wall_s") else "none"
    best = r.get("best_race_frames")
    ratio = f"{r['best_vs_par']:.2f}" if best else "–"
    return (
        f"| {rom} | {r['state']} | {r['seed']} | {r['train_wall_s'] / 60:.1f} "
        f"| {r['env_steps']:,} | {r['steps_per_s']:.0f} "
        f"| {r['max_laps']} | {first} | {greedy} / {sampled} | {best or '–'} | {r['par_frames']} | {ratio} |"
    )


def write_table() -> Path:
    """``results/learning.md``, rebuilt from every ``results/learning_*.json``."""
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("learning_*.json"))]
    lines = [
        "# Learning benchmark: PPO on Practice Kart (CPU)",
        "",
        "`python benchmarks/learning.py --state LevelN --seed K`: `cpu_profile()` settings, 30 minutes of training",
        "on 2 cores; then the best and last checkpoints race from the grid (1 greedy race, 3 sampled races each).",
        "Laps in training count episodes that started on the grid only. Race and par times are frames (60 per s).",
        "",
        "| ROM | track | seed | train min | env steps | steps/s | max laps in training | first 5-lap finish (min) "
        "| laps after training (greedy / sampled) | best race (frames) | par | ÷ par |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(table_row(r) for r in sorted(rows, key=lambda r: (rom_name(r["rom_sha1"]), r["state"], r["seed"]))),
    ]
    path = RESULTS / "learning.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state", default="Level1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--total-steps", type=int, default=400_000, help="LR decays to 0 over this many steps")
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="PPOConfig changes, e.g. spread_starts=0 view_width=256",
    )
    parser.add_argument("--log-dir", default=None)
    parser.add_argument("--evaluate-only", action="store_true", help="skip training: evaluate the run in --log-dir")
    parser.add_argument("--name", default=None, help="results file stem (default learning_<state>_seed<k>)")
    args = parser.parse_args()
    name = args.name or f"learning_{args.state}_seed{args.seed}"
    log_dir = args.log_dir or f"runs/bench_{args.state}_seed{args.seed}"
    config = cpu_profile(state=args.state, seed=args.seed, total_steps=args.total_steps, log_dir=log_dir)
    for change in args.set:
        key, value = change.split("=", 1)
        config = config.replace(**{key: json.loads(value)})
    deadline = time.monotonic() + args.minutes * 60

    def stop_when_time_is_up(trainer) -> None:
        if time.monotonic() > deadline:
            raise KeyboardInterrupt  # the trainer saves last.pt, as on Ctrl-C

    par, par_lap = par_frames(PRACTICE_GAME, args.state), par_lap_frames(PRACTICE_GAME, args.state)
    if args.evaluate_only:
        result, wall = finished_run(Path(log_dir))
    else:
        start = time.monotonic()
        result = train(config, callbacks=[stop_when_time_is_up], progress=False, par_lap_frames=par_lap)
        wall = time.monotonic() - start
    episodes = result.episodes
    races = [e for e in episodes if e.get("grid_start", True)]  # laps count only from the grid
    finishes = [e for e in episodes if e["race_frames"] is not None]
    first = finishes[0] if finishes else None
    best_train = min((e["race_frames"] for e in finishes), default=None)
    summary = {
        "state": args.state,
        "seed": args.seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "rom_sha1": (game_dir(PRACTICE_GAME) / "rom.sha").read_text().strip(),
        "config": config.to_dict(),
        "train_wall_s": round(wall, 1),
        "env_steps": result.counters["env_step"],
        "steps_per_s": round(result.timing["steps_per_s"], 1),
        "collect_share": share(result.timing["collect_s"], wall),
        "update_share": share(result.timing["update_s"], wall),
        "episodes": len(episodes),
        "grid_episodes": len(races),
        "max_laps": max((e["laps"] for e in races), default=0),
        "first_finish_wall_s": first["wall_s"] if first else None,
        "first_finish_env_step": first["env_step"] if first else None,
        "best_training_race_frames": best_train,
        "par_frames": par,
        "curve": [
            {k: e.get(k, True) for k in ("env_step", "wall_s", "return", "laps", "race_frames", "grid_start")}
            for e in episodes
        ],
    }
    evaluations = {}
    try:
        from kart_helpers.evaluate.rollout.rollout import evaluate_checkpoint

        for label, path in (("best", result.best), ("last", result.last)):
            if path is None:
                continue
            # The greedy policy, and 3 sampled races (a policy that still hesitates between two
            # actions can race better sampled than greedy).
            for mode, episodes in (("greedy", 1), ("sampled", 3)):
                ev = evaluate_checkpoint(path, episodes=episodes, deterministic=mode == "greedy", video=False)
                evaluations[f"{label} {mode}"] = ev.summary()
    except Exception as err:
        evaluations["error"] = f"{type(err).__name__}: {err}"
    summary["evaluation"] = evaluations
    race_times = [best_train] + [e.get("race_frames") for e in evaluations.values() if isinstance(e, dict)]
    race_times = [t for t in race_times if t]
    best = min(race_times, default=None)
    summary["best_race_frames"] = best
    summary["best_vs_par"] = round(best / par, 3) if best else None
    summary["target_finish_30min"] = bool(first and first["wall_s"] <= 30 * 60)
    summary["target_within_15pct"] = bool(best and best <= 1.15 * par)

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1))
    changes = f" ({', '.join(args.set)})" if args.set else ""  # an experiment says what it changed
    fig = plot_history(result.history, f"PPO on Practice Kart {args.state}, seed {args.seed}{changes}", par_lap)
    fig.savefig(RESULTS / f"{name}.png", dpi=80)
    write_table()
    print(json.dumps({k: v for k, v in summary.items() if k not in ("curve", "config")}, indent=1))


if __name__ == "__main__":
    main()
