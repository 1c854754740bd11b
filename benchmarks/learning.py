"""Learning benchmark: PPO on Practice Kart on this machine's CPU, against the expert's par.

    python benchmarks/learning.py                       # easy track (Level1), seed 0, 300k steps
    python benchmarks/learning.py --state Level2 --seed 1
    python benchmarks/learning.py --set ent_coef=0.02          # an experiment

Trains :func:`kart_helpers.train.cpu_profile` for a budget of env steps (notebook 06's full run:
300k), not of minutes, since machines of one kind differ up to 2.5x in speed; ``--minutes``
adds a wall-clock cap (a callback stops the run; that path writes the checkpoint Ctrl-C
would). Then it races the best and the last checkpoint from the grid, greedy and sampled.
Targets:

- a training episode that started on the grid finishes 5 laps within 300k env steps;
- after training, the greedy policy of a kept checkpoint (``best.pt`` or ``last.pt``) races 5
  laps within 10% of par on Practice Ring (3868 frames) and 15% on Hairpin Hills (5161).

Each result records the ROM's SHA-1, the commit, and this machine's raw ``env.step`` frames/s
measured before training, so a slow machine shows.

Writes ``benchmarks/results/learning_<state>_seed<k>.json``, ``.png`` (the training curves) and
appends a row to ``benchmarks/results/learning.md``. A benchmark, not a CI test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
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


PAR_MARGIN = {"Level1": 1.10, "Level2": 1.15}
"""The target for the best race, as a multiple of par: Practice Ring, Hairpin Hills."""


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=RESULTS.parent)
    return out.stdout.strip() or "unknown"


def raw_speed(state: str) -> float:
    """This machine's raw ``env.step`` frames/s on ``state``, in a few seconds (median of 3)."""
    from kart_helpers.bench.speed import measure_raw
    from kart_helpers.emulator.env import make_env

    env = make_env(PRACTICE_GAME, state=state)
    try:
        return measure_raw(env, frames=1000, repeats=3).frames_per_s
    finally:
        env.close()


def export_reference(args: argparse.Namespace, summary: dict, checkpoints: dict[str, Path | None]) -> dict:
    """Save the checkpoint whose greedy race got furthest and fastest as the reference agent of ``args.state``."""
    from kart_helpers.evaluate.rollout import REFERENCE_AGENTS
    from kart_helpers.train.checkpoints import export_policy, load_checkpoint

    greedy = greedy_races(summary["evaluation"])
    if not greedy:
        raise SystemExit(f"no greedy race to choose a reference agent from: {summary['evaluation']}")
    label = min(greedy, key=lambda k: (-greedy[k]["zones"], greedy[k]["race_frames"] or 10**9))
    race = greedy[label]
    steps = int(load_checkpoint(checkpoints[label])["counters"]["env_step"])  # best.pt is older than the run's end
    about = {"trained_by": "benchmarks/learning.py", "commit": summary["commit"], "seed": args.seed,
             "state": args.state, "checkpoint": label, "env_steps": steps, "run_env_steps": summary["env_steps"],
             "rom_sha1": summary["rom_sha1"], "greedy_race_frames": race["race_frames"], "laps": race["laps"],
             "par_frames": summary["par_frames"]}  # fmt: skip
    path = export_policy(checkpoints[label], REFERENCE_AGENTS / f"{args.state}.pt", about)
    print(f"reference agent: {path} ({path.stat().st_size / 2**20:.1f} MB), {about}")
    return {**about, "path": str(path.relative_to(RESULTS.parent.parent))}


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


def greedy_races(evaluations: dict) -> dict[str, dict]:
    """Each kept checkpoint's greedy race from a summary's ``evaluation``, by label ("best", "last")."""
    return {key.split()[0]: e for key, e in evaluations.items() if key.endswith("greedy") and isinstance(e, dict)}


def best_greedy_race(evaluations: dict) -> tuple[int, str] | None:
    """The fastest 5-lap race of a kept checkpoint's greedy policy: (frames, "best" or "last")."""
    races = [
        (e["race_frames"], label)
        for label, e in greedy_races(evaluations).items()
        if e.get("laps") == 5 and e.get("race_frames")
    ]
    return min(races, default=None)


def table_row(r: dict) -> str:
    """One row of ``learning.md`` from a results JSON."""
    rom = rom_name(r["rom_sha1"])
    evals = r.get("evaluation", {})
    greedy = max((e["laps"] for e in greedy_races(evals).values()), default=0)
    sampled = max((e["laps"] for k, e in evals.items() if k.endswith("sampled") and isinstance(e, dict)), default=0)
    first = "none"
    if r.get("first_finish_wall_s"):
        steps = r.get("first_finish_env_step")
        first = (f"{steps / 1000:.0f}k / " if steps else "") + f"{r['first_finish_wall_s'] / 60:.1f}"
    best = r.get("best_race_frames")
    ratio = f"{r['best_vs_par']:.2f}" if best else "–"
    raw = f"{r['raw_env_step_fps']:.0f}" if r.get("raw_env_step_fps") else "–"
    race = best_greedy_race(evals)
    greedy_race = f"{race[0]} ({race[1]}.pt) | {race[0] / r['par_frames']:.2f}" if race else "– | –"
    return (
        f"| {rom} | {r['state']} | {r['seed']} | {r['train_wall_s'] / 60:.1f} "
        f"| {r['env_steps']:,} | {r['steps_per_s']:.0f} | {raw} "
        f"| {r['max_laps']} | {first} | {greedy} / {sampled} | {best or '–'} | {ratio} "
        f"| {greedy_race} | {r['par_frames']} |"
    )


def write_table() -> Path:
    """``results/learning.md``, rebuilt from every ``results/learning_*.json``."""
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("learning_*.json"))]
    lines = [
        "# Learning benchmark: PPO on Practice Kart (CPU)",
        "",
        "`python benchmarks/learning.py --state LevelN --seed K`: `cpu_profile()` settings on 2 cores, trained",
        "for a budget of env steps (older rows: 30 minutes); then the best and last checkpoints race from the grid",
        "(1 greedy race, 3 sampled races each). Laps in training count episodes that started on the grid only.",
        "Race and par times are frames (60 per s); raw fps is the machine's bare `env.step` speed before training.",
        "Targets: 5 laps from the grid within 300k steps; the best greedy race of a kept checkpoint (`best.pt` or",
        "`last.pt`) within 1.10 x par (Level1), 1.15 x (Level2). Best race, any: training races included.",
        "",
        "| ROM | track | seed | train min | env steps | steps/s | raw fps | max laps in training "
        "| first 5-lap finish (steps / min) | laps after training (greedy / sampled) | best race, any (frames) | ÷ par "
        "| best greedy race (frames, checkpoint) | ÷ par | par |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(table_row(r) for r in sorted(rows, key=lambda r: (rom_name(r["rom_sha1"]), r["state"], r["seed"]))),
    ]
    path = RESULTS / "learning.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--state", default="Level1")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--minutes", type=float, default=None, help="optional wall-clock cap on training")
    parser.add_argument("--total-steps", type=int, default=300_000, help="the budget; LR decays to 0 over it")
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
    reference_help = "save the checkpoint with the best greedy race as the course's reference agent"
    parser.add_argument("--export-reference", action="store_true", help=reference_help)
    args = parser.parse_args()
    name = args.name or f"learning_{args.state}_seed{args.seed}"
    log_dir = args.log_dir or f"runs/bench_{args.state}_seed{args.seed}"
    config = cpu_profile(state=args.state, seed=args.seed, total_steps=args.total_steps, log_dir=log_dir)
    for change in args.set:
        key, value = change.split("=", 1)
        config = config.replace(**{key: json.loads(value)})
    deadline = time.monotonic() + (args.minutes * 60 if args.minutes else math.inf)

    def stop_when_time_is_up(trainer) -> None:
        if time.monotonic() > deadline:
            raise KeyboardInterrupt  # the trainer saves last.pt, as on Ctrl-C

    par, par_lap = par_frames(PRACTICE_GAME, args.state), par_lap_frames(PRACTICE_GAME, args.state)
    raw_fps = None
    if args.evaluate_only:
        result, wall = finished_run(Path(log_dir))
    else:
        raw_fps = raw_speed(args.state)
        start = time.monotonic()
        # overwrite: a rerun moves the earlier run aside (runs/bench_...old-<date>-<time>), never deletes it
        result = train(config, callbacks=[stop_when_time_is_up], progress=False, par_lap_frames=par_lap, overwrite=True)
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
        "commit": git_commit(),
        "raw_env_step_fps": round(raw_fps, 1) if raw_fps else None,
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
        from kart_helpers.evaluate.rollout import evaluate_checkpoint

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
    summary["target_finish_300k"] = bool(first and first["env_step"] <= 300_000)
    greedy = best_greedy_race(evaluations)
    summary["best_greedy_race"] = {"race_frames": greedy[0], "checkpoint": f"{greedy[1]}.pt"} if greedy else None
    summary["target_near_par"] = bool(greedy and greedy[0] <= PAR_MARGIN[args.state] * par)

    if args.export_reference:
        summary["reference_agent"] = export_reference(args, summary, {"best": result.best, "last": result.last})

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(summary, indent=1))
    changes = f" ({', '.join(args.set)})" if args.set else ""  # an experiment says what it changed
    fig = plot_history(result.history, f"PPO on Practice Kart {args.state}, seed {args.seed}{changes}", par_lap)
    fig.savefig(RESULTS / f"{name}.png", dpi=80)
    write_table()
    print(json.dumps({k: v for k, v in summary.items() if k not in ("curve", "config")}, indent=1))


if __name__ == "__main__":
    main()
