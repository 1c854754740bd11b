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
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from kart_helpers.train import cpu_profile, train
from kart_helpers.train.live import plot_history

PAR = {"Level1": 3868, "Level2": 5161}
PAR_LAP = {"Level1": 756, "Level2": 1015}
RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state", default="Level1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--total-steps", type=int, default=200_000, help="LR decays to 0 over this many steps")
    parser.add_argument("--log-dir", default=None)
    args = parser.parse_args()
    name = f"learning_{args.state}_seed{args.seed}"
    log_dir = args.log_dir or f"runs/bench_{args.state}_seed{args.seed}"
    config = cpu_profile(state=args.state, seed=args.seed, total_steps=args.total_steps, log_dir=log_dir)
    deadline = time.monotonic() + args.minutes * 60

    def stop_when_time_is_up(trainer) -> None:
        if time.monotonic() > deadline:
            raise KeyboardInterrupt  # the trainer saves last.pt, as on Ctrl-C

    start = time.monotonic()
    result = train(config, callbacks=[stop_when_time_is_up], progress=False, par_lap_frames=PAR_LAP[args.state])
    wall = time.monotonic() - start
    episodes = result.episodes
    finishes = [e for e in episodes if e["race_frames"] is not None]
    first = finishes[0] if finishes else None
    best_train = min((e["race_frames"] for e in finishes), default=None)
    summary = {
        "state": args.state,
        "seed": args.seed,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "config": config.to_dict(),
        "train_wall_s": round(wall, 1),
        "env_steps": result.counters["env_step"],
        "steps_per_s": round(result.timing["steps_per_s"], 1),
        "collect_share": round(result.timing["collect_s"] / max(wall, 1e-9), 3),
        "update_share": round(result.timing["update_s"] / max(wall, 1e-9), 3),
        "episodes": len(episodes),
        "max_laps": max((e["laps"] for e in episodes), default=0),
        "first_finish_wall_s": first["wall_s"] if first else None,
        "first_finish_env_step": first["env_step"] if first else None,
        "best_training_race_frames": best_train,
        "par_frames": PAR[args.state],
        "curve": [{k: e[k] for k in ("env_step", "wall_s", "return", "laps", "race_frames")} for e in episodes],
    }
    evaluations = {}
    try:
        from kart_helpers.evaluate import evaluate_checkpoint

        for label, path in (("best", result.best), ("last", result.last)):
            if path is not None:
                ev = evaluate_checkpoint(path, episodes=1, deterministic=True, video=False)
                evaluations[label] = ev.summary()
    except Exception as err:
        evaluations["error"] = f"{type(err).__name__}: {err}"
    summary["evaluation"] = evaluations
    race_times = [best_train] + [e.get("race_frames") for e in evaluations.values() if isinstance(e, dict)]
    race_times = [t for t in race_times if t]
    best = min(race_times, default=None)
    summary["best_race_frames"] = best
    summary["best_vs_par"] = round(best / PAR[args.state], 3) if best else None
    summary["target_finish_30min"] = bool(first and first["wall_s"] <= 30 * 60)
    summary["target_within_15pct"] = bool(best and best <= 1.15 * PAR[args.state])

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1))
    fig = plot_history(result.history, f"PPO on Practice Kart {args.state}, seed {args.seed}", PAR_LAP[args.state])
    fig.savefig(RESULTS / f"{name}.png", dpi=80)
    table = RESULTS / "learning.md"
    if not table.exists():
        table.write_text(
            "# Learning benchmark: PPO on Practice Kart (CPU)\n\n"
            "`python benchmarks/learning.py --state LevelN --seed K --minutes M`; cpu_profile() settings.\n\n"
            "| track | seed | train min | env steps | steps/s | max laps | first 5-lap finish (min) "
            "| best race (frames) | par | ÷ par |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n"
        )
    ff = f"{first['wall_s'] / 60:.1f}" if first else "none"
    ratio = f"{summary['best_vs_par']:.2f}" if best else "–"
    with table.open("a") as out:
        out.write(
            f"| {args.state} | {args.seed} | {wall / 60:.1f} | {summary['env_steps']:,} | {summary['steps_per_s']} "
            f"| {summary['max_laps']} | {ff} | {best or '–'} | {PAR[args.state]} | {ratio} |\n"
        )
    print(json.dumps({k: v for k, v in summary.items() if k not in ("curve", "config")}, indent=1))


if __name__ == "__main__":
    main()
