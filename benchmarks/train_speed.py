"""Training speed benchmark: PPO env-steps/s on Practice Kart, and where the time goes.

    python benchmarks/train_speed.py [--steps 6144]

The same env pipeline and settings for every variant (2 shared-memory envs, rollout 256,
4 epochs, minibatch 256, the Nature CNN), each in a fresh process, one after the other:

- ``ours``: :func:`kart_helpers.train.cpu_profile` as shipped: ``OMP_WAIT_POLICY=PASSIVE``, torch
  on 1 thread while collecting, the shared trunk run once per minibatch for both heads;
- ``no shared forward``: the same, but the actor and critic each run the trunk (Tianshou's default);
- ``tianshou defaults``: no shared forward, OpenMP's default wait policy, all threads while
  collecting: the plain wiring of TIANSHOU2.md.

The first update's steps are a warm-up and not counted (Numba compiles then). Writes
``benchmarks/results/train_speed.json`` and ``train_speed.md``. Stable-Baselines3 is not
installed here; TIANSHOU2.md's measurement (about 134 steps/s on Airstriker) is quoted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
VARIANTS = {
    "ours": {"env": {"OMP_WAIT_POLICY": "PASSIVE"}, "share": True, "single_thread": True},
    "no shared forward": {"env": {"OMP_WAIT_POLICY": "PASSIVE"}, "share": False, "single_thread": True},
    "tianshou defaults": {"env": {"OMP_WAIT_POLICY": "ACTIVE"}, "share": False, "single_thread": False},
}

CHILD = r"""
import json, sys, time
from kart_helpers.train import cpu_profile
from kart_helpers.train import trainer as T
spec = json.loads(sys.argv[1])
T._TimedCollector.single_thread = spec["single_thread"]
config = cpu_profile(total_steps=spec["steps"] + 512, epoch_steps=512, share_trunk_forward=spec["share"],
                     log_dir=spec["log_dir"], lr_decay=False)
marks = []
def mark(trainer):
    marks.append((time.perf_counter(), trainer.counters["env_step"], trainer.collector.collect_s, trainer._update_s))
result = T.train(config, callbacks=[mark], progress=False)
(t0, s0, c0, u0), (t1, s1, c1, u1) = marks[1], marks[-1]
print(json.dumps({"steps": s1 - s0, "wall_s": t1 - t0, "collect_s": c1 - c0, "update_s": u1 - u0}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6144)
    args = parser.parse_args()
    rows = {}
    for name, spec in VARIANTS.items():
        with tempfile.TemporaryDirectory() as tmp:
            payload = json.dumps({"steps": args.steps, "share": spec["share"], "single_thread": spec["single_thread"],
                                  "log_dir": tmp})  # fmt: skip
            env = {**os.environ, **spec["env"]}
            out = subprocess.run([sys.executable, "-c", CHILD, payload], env=env, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
        m = json.loads(out.stdout.strip().splitlines()[-1])
        m["steps_per_s"] = m["steps"] / m["wall_s"]
        m["collect_share"] = m["collect_s"] / m["wall_s"]
        m["update_share"] = m["update_s"] / m["wall_s"]
        m["s_per_update"] = m["update_s"] / (m["steps"] / 512)
        rows[name] = m
        print(name, {k: round(v, 3) for k, v in m.items()})
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_before": os.getloadavg()}
    (RESULTS / "train_speed.json").write_text(json.dumps({"meta": meta, "variants": rows}, indent=1))
    lines = [
        "# Training speed: PPO on Practice Kart (CPU)",
        "",
        f"`python benchmarks/train_speed.py --steps {args.steps}`: 2 shmem envs, rollout 256, 4 epochs, minibatch 256,",
        f"Nature CNN; {meta['machine']}. Steps after a one-update warm-up.",
        "",
        "| variant | env-steps/s | collecting | updating | s per update (512 steps) | ÷ tianshou defaults |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    base = rows["tianshou defaults"]["steps_per_s"]
    for name, m in rows.items():
        lines.append(
            f"| {name} | {m['steps_per_s']:.0f} | {m['collect_share']:.0%} | {m['update_share']:.0%} "
            f"| {m['s_per_update']:.2f} | {m['steps_per_s'] / base:.2f} |"
        )
    lines += ["", "Stable-Baselines3 was not run here (not installed); TIANSHOU2.md measured about 134 steps/s for it",
              "on Airstriker-Genesis with the same settings."]  # fmt: skip
    (RESULTS / "train_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
