"""Env throughput on Practice Kart: raw emulator, our pipeline, Gymnasium's stock wrappers,
and vector collection with 1, 2 and 4 workers per backend. Medians over repeats.

    python benchmarks/env_throughput.py                 # full run (a few minutes on 2 cores)
    python benchmarks/env_throughput.py --quick         # a smoke run, seconds

Writes ``benchmarks/results/env_throughput.json`` and ``env_throughput.md`` (the table to
commit). Other processes on the machine distort the numbers: the load average before and after
is recorded, and ``--max-load`` waits for a quiet machine first.

Targets (from the issue): full pipeline frames/s ÷ raw ``env.step`` frames/s >= 0.95, and
2 workers ÷ 1 worker >= 1.8 on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

# Idle torch OpenMP threads would spin against the env workers (torch comes in with Tianshou).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import stable_retro as retro

from kart_helpers.bench.collection import measure_collection
from kart_helpers.bench.speed import Speed, interleaved, measure_env, measure_raw, stage_costs
from kart_helpers.emulator.env import close_live_env, make_env
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.pipeline.build import wrap, wrap_stock
from kart_helpers.pipeline.config import PipelineConfig
from kart_helpers.pipeline.vector import BACKENDS, make_vector_env

ROOT = Path(__file__).resolve().parents[1]
PIPELINE_TARGET = 0.95
SCALING_TARGET = 1.8


def versions() -> dict[str, str]:
    found = {}
    for name in ("stable-retro", "gymnasium", "tianshou", "numpy", "pillow", "torch", "ray", "opencv-python-headless"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
        return out.stdout.strip() + (" (uncommitted changes)" if dirty.strip() else "")
    except OSError:
        return "unknown"


def wait_for_quiet(max_load: float, patience_s: float) -> None:
    """Wait until the 1-minute load average is at most ``max_load`` (or give up after ``patience_s``)."""
    deadline = time.time() + patience_s
    while os.getloadavg()[0] > max_load and time.time() < deadline:
        print(f"load {os.getloadavg()[0]:.2f} > {max_load}: waiting for a quiet machine ...", flush=True)
        time.sleep(15)


def paired_ratio(a: Speed, b: Speed) -> float:
    """The median over rounds of a's frames/s ÷ b's, from two results of one :func:`interleaved` run."""
    return statistics.median(x / y for x, y in zip(a.repeats_frames_per_s, b.repeats_frames_per_s, strict=True))


def single_env(config: PipelineConfig, steps: int, repeats: int) -> dict:
    """Raw, pipeline and stock pipeline (timed in turns), then the stage-by-stage build; one emulator."""
    base = make_env(PRACTICE_GAME, state=config.state, use_restricted_actions=retro.Actions.ALL)
    pipeline_env, stock_env = wrap(base, config), wrap_stock(base, config)
    stock_label = "Gymnasium stock wrappers" + ("" if stock_env.stock_resize else " (resize: ours, no OpenCV)")
    skip = config.frame_skip
    result: dict = interleaved(
        {
            "raw": lambda w: measure_raw(base, steps * skip, 1, config.actions, skip, warmup=w),
            "pipeline": lambda w: measure_env(pipeline_env, steps, 1, label="full pipeline (ours)", warmup=w),
            "stock": lambda w: measure_env(stock_env, steps, 1, label=stock_label, warmup=w),
        },
        repeats,
    )
    result["stages"] = stage_costs(base, config, steps, repeats)
    close_live_env()
    return result


def collector(venv, steps: int):
    """One timed collection run of ``venv`` (after a warm-up when asked), for :func:`interleaved`."""
    return lambda warmup: measure_collection(venv, steps, 1, warmup=warmup)


def vector(
    config: PipelineConfig, backends: list[str], workers: list[int], steps: int, repeats: int
) -> dict[str, dict[int, Speed]]:
    """Collection speed for each backend and worker count. The worker counts of one backend run
    side by side and are timed in turns (idle workers wait on their pipe and use no CPU)."""
    results: dict[str, dict[int, Speed]] = {}
    for backend in backends:
        if backend == "ray":
            import ray

            if not ray.is_initialized():
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        counts = [n for n in workers if backend != "dummy" or n == 1]
        venvs = {n: make_vector_env(n, config, backend=backend, seed=0) for n in counts}
        try:
            speeds = interleaved(
                {f"{backend} x{n}": collector(venv, steps) for n, venv in venvs.items()},
                repeats,
            )
        finally:
            for venv in venvs.values():
                venv.close()
        results[backend] = {n: speeds[f"{backend} x{n}"] for n in counts}
        for speed in speeds.values():
            print(f"  {speed.label:<16} {speed.frames_per_s:8.0f} frames/s {speed.steps_per_s:7.0f} steps/s")
    if "ray" in backends:
        import ray

        ray.shutdown()
    return results


def markdown(report: dict) -> str:
    single, vec, meta = report["single"], report["vector"], report["meta"]
    raw = single["raw"]["frames_per_s"]

    def row(s: dict, base: float, ratio: float | None = None) -> str:
        ratio = s["frames_per_s"] / base if ratio is None else ratio
        return (
            f"| {s['label']} | {s['frames_per_s']:,.0f} | {s['steps_per_s']:,.0f} | "
            f"{1e6 / s['frames_per_s']:,.0f} | {ratio:.2f} |"
        )

    ratio = report["ratios"]
    lines = [
        "# Env throughput on Practice Kart",
        "",
        f"Measured {meta['date']} on {meta['cpus']} CPUs ({meta['machine']}), commit {meta['commit']}. "
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in meta['load_before'])}; "
        f"after: {', '.join(f'{x:.2f}' for x in meta['load_after'])}. Medians of {meta['repeats']} repeats "
        f"of {meta['steps']} agent steps ({meta['config']['frame_skip']} frames each); random actions from "
        f"{len(meta['config']['actions'])} combos; episodes reset when they end. Rows of one table (and the "
        "worker counts of one backend) are timed in turns, one repeat each per round, so that a change in load "
        "hits them alike; ratios are medians of the rounds' ratios.",
        "",
        "## One env",
        "",
        "| | frames/s | agent steps/s | µs per frame | ÷ raw |",
        "|---|---:|---:|---:|---:|",
        row(single["raw"], raw),
        row(single["pipeline"], raw, ratio["pipeline_over_raw"]),
        row(single["stock"], raw, ratio["stock_over_raw"]),
        "",
        "## The pipeline, one stage at a time",
        "",
        "| | frames/s | agent steps/s | µs per frame | ÷ raw |",
        "|---|---:|---:|---:|---:|",
        *[row(s, single["stages"][0]["frames_per_s"]) for s in single["stages"]],
        "",
        "## Vector collection (frames/s summed over workers)",
        "",
        "| backend | " + " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in meta["workers"]) + " | 2 ÷ 1 |",
        "|---|" + "---:|" * (len(meta["workers"]) + 1),
    ]
    for backend, by_n in vec.items():
        cells = [f"{by_n[str(n)]['frames_per_s']:,.0f}" if str(n) in by_n else "–" for n in meta["workers"]]
        scale = ratio["two_over_one"].get(backend)
        lines.append(f"| {backend} | " + " | ".join(cells) + f" | {'–' if scale is None else f'{scale:.2f}'} |")
    best = max(ratio["two_over_one"].items(), key=lambda kv: kv[1], default=(None, None))
    lines += [
        "",
        "## Targets",
        "",
        f"- Full pipeline ÷ raw: **{ratio['pipeline_over_raw']:.2f}** (target ≥ {PIPELINE_TARGET}): "
        f"{'met' if ratio['pipeline_over_raw'] >= PIPELINE_TARGET else 'NOT met'}.",
        f"- Gymnasium stock wrappers ÷ raw: {ratio['stock_over_raw']:.2f}.",
    ]
    if best[0] is not None:
        lines.append(
            f"- 2 workers ÷ 1 worker, best backend ({best[0]}): **{best[1]:.2f}** (target ≥ {SCALING_TARGET} on "
            f"2 cores): {'met' if best[1] >= SCALING_TARGET else 'NOT met'}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600, help="agent steps per repeat (default 600)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats per measurement; the median is kept")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--max-load", type=float, default=None, help="wait until the 1-min load is at most this")
    parser.add_argument("--out", type=Path, default=None, help="folder for the results (default benchmarks/results)")
    parser.add_argument("--quick", action="store_true", help="tiny run to check that everything works; writes nothing")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats = 40, 1
    if "ray" in args.backends:
        try:
            import ray  # noqa: F401
        except ImportError:
            print("Ray is not installed (pip install 'kart-rl-course[ray]'): skipping the ray backend")
            args.backends.remove("ray")
    if args.max_load is not None:
        wait_for_quiet(args.max_load, patience_s=1800)

    config = PipelineConfig()
    load_before = os.getloadavg()
    started = time.time()
    print("one env ...", flush=True)
    single = single_env(config, args.steps, args.repeats)
    print("vector envs ...", flush=True)
    vec = vector(config, args.backends, args.workers, args.steps, args.repeats)
    load_after = os.getloadavg()

    two_over_one = {b: paired_ratio(by_n[2], by_n[1]) for b, by_n in vec.items() if 1 in by_n and 2 in by_n}
    report = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "seconds": round(time.time() - started, 1),
            "cpus": os.cpu_count(),
            "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
            "commit": commit(),
            "versions": versions(),
            "load_before": load_before,
            "load_after": load_after,
            "steps": args.steps,
            "repeats": args.repeats,
            "workers": args.workers,
            "config": asdict(config),
        },
        "single": {
            "raw": asdict(single["raw"]),
            "pipeline": asdict(single["pipeline"]),
            "stock": asdict(single["stock"]),
            "stages": [asdict(s) for s in single["stages"]],
        },
        "vector": {b: {str(n): asdict(s) for n, s in by_n.items()} for b, by_n in vec.items()},
        "ratios": {
            "pipeline_over_raw": paired_ratio(single["pipeline"], single["raw"]),
            "stock_over_raw": paired_ratio(single["stock"], single["raw"]),
            "two_over_one": two_over_one,
        },
    }
    table = markdown(report)
    print(table)
    out = args.out or (None if args.quick else ROOT / "benchmarks" / "results")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "env_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "env_throughput.md").write_text(table)
        print(f"wrote {out / 'env_throughput.md'} and .json")


if __name__ == "__main__":
    sys.exit(main())
