"""Training throughput: PPO env-steps/s on Practice Kart for our trainer, the original settings and SB3.

    pip install stable-baselines3        # into this benchmark's environment only; not a course dependency
    python benchmarks/train_throughput.py [--steps 3072]

Every variant trains on the same env (:class:`kart_helpers.train.envs.TrainEnvFactory` on
``cpu_profile().pipeline``: 4 x 84 x 84 uint8 frames, 4 actions) with the same settings:
2 worker processes, rollout 256 per env, 4 epochs, minibatch 256, the Nature CNN, Adam 2.5e-4.
Each runs in a fresh process, one after the other:

- ``ours``: :func:`kart_helpers.train.train` with :func:`cpu_profile` and the settings above:
  ``OMP_WAIT_POLICY=PASSIVE``, torch on 1 thread while collecting, the shared trunk run once
  per minibatch for both heads, shared-memory envs;
- ``ours, bf16 trunk``: the same with ``bf16=True``: the CNN trunk in bfloat16 under
  ``torch.autocast`` (weights, heads and losses float32), for CPUs with AVX512-BF16 or AMX;
- ``no shared forward``: the same as ``ours``, but the actor and critic each run the trunk;
- ``original settings``: the original project's trainer settings on Tianshou 2's plain wiring:
  value clipping on, the actor and critic each running the trunk, OpenMP's default wait policy
  and all torch threads while collecting, pipes (``SubprocVectorEnv``);
- ``SB3``: Stable-Baselines3's ``PPO("CnnPolicy")`` (its Nature CNN, shared by both heads) with
  the same hyperparameters, in ``SubprocVecEnv``, with SB3's defaults otherwise: the peer that
  users would pick instead. Skipped, with a note, when SB3 is not installed.

The first update's steps are a warm-up and are not counted (Numba compiles then in Tianshou).
Writes ``benchmarks/results/train_throughput.json`` and ``train_throughput.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
ROLLOUT, N_ENVS = 256, 2
UPDATE_STEPS = ROLLOUT * N_ENVS
# The issue fixes these for every trainer, whatever cpu_profile() ships with.
SETTINGS = {"n_envs": N_ENVS, "rollout": ROLLOUT, "epochs": 4, "minibatch": 256}

OURS = {"env": {"OMP_WAIT_POLICY": "PASSIVE"}, "share": True, "single_thread": True, "value_clip": False,
        "backend": "shmem", "bf16": False}  # fmt: skip
VARIANTS = {
    "ours": OURS,
    "ours, bf16 trunk": {**OURS, "bf16": True},
    "no shared forward": {**OURS, "share": False},
    "original settings": {**OURS, "env": {"OMP_WAIT_POLICY": "ACTIVE"}, "share": False, "single_thread": False,
                          "value_clip": True, "backend": "subprocess"},
    "SB3": {"env": {}, "sb3": True},
}  # fmt: skip

TIANSHOU_CHILD = r"""
import json, sys, time
from kart_helpers.train import cpu_profile, train
from kart_helpers.train.instruments import TimedCollector
spec = json.loads(sys.argv[1])
TimedCollector.single_thread = spec["single_thread"]
steps = spec["steps"] + 1024  # one epoch: no checkpoint is written inside the measurement
config = cpu_profile(**spec["settings"], total_steps=steps, epoch_steps=steps, share_trunk_forward=spec["share"],
                     bf16=spec["bf16"], value_clip=spec["value_clip"], backend=spec["backend"], log_dir=spec["log_dir"],
                     lr_decay=False)
marks = []
def mark(trainer):  # called before each collection: marks[1] follows the warm-up update
    marks.append((time.perf_counter(), trainer.counters["env_step"], trainer.collector.collect_s, trainer._update_s))
train(config, callbacks=[mark], progress=False)
(t0, s0, c0, u0), (t1, s1, c1, u1) = marks[1], marks[-1]
print(json.dumps({"steps": s1 - s0, "wall_s": t1 - t0, "collect_s": c1 - c0, "update_s": u1 - u0}))
"""

SB3_CHILD = r"""
import json, sys, time
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import SubprocVecEnv
from kart_helpers.train import cpu_profile
from kart_helpers.train.envs import TrainEnvFactory
spec = json.loads(sys.argv[1])
cfg = cpu_profile(**spec["settings"])
factories = [TrainEnvFactory(cfg.pipeline, worker=i, seed=i, reward_scale=cfg.reward_scale,
                             stall_frames=cfg.stall_frames) for i in range(cfg.n_envs)]
venv = SubprocVecEnv(factories)

class Marks(BaseCallback):
    def __init__(self):
        super().__init__()
        self.marks, self.collect_s, self._t = [], 0.0, None
    def _on_rollout_start(self):  # after each update: the end of one collect + update cycle
        self.marks.append((time.perf_counter(), self.num_timesteps, self.collect_s))
        self._t = time.perf_counter()
    def _on_rollout_end(self):
        self.collect_s += time.perf_counter() - self._t
    def _on_step(self):
        return True

model = PPO("CnnPolicy", venv, n_steps=cfg.rollout, batch_size=cfg.minibatch, n_epochs=cfg.epochs,
            learning_rate=cfg.lr, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda, clip_range=cfg.clip,
            vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef, max_grad_norm=cfg.max_grad_norm, device="cpu",
            seed=0, verbose=0)
marks = Marks()
model.learn(total_timesteps=spec["steps"] + 2 * cfg.steps_per_update, callback=marks)
venv.close()
(t0, s0, c0), (t1, s1, c1) = marks.marks[1], marks.marks[-1]
print(json.dumps({"steps": s1 - s0, "wall_s": t1 - t0, "collect_s": c1 - c0, "update_s": (t1 - t0) - (c1 - c0)}))
"""


def run_variant(name: str, spec: dict, steps: int) -> dict | None:
    if spec.get("sb3") and importlib.util.find_spec("stable_baselines3") is None:
        print(f"{name}: skipped, stable-baselines3 is not installed (pip install stable-baselines3)")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        payload = json.dumps(
            {**{k: v for k, v in spec.items() if k != "env"}, "steps": steps, "log_dir": tmp, "settings": SETTINGS}
        )
        child = SB3_CHILD if spec.get("sb3") else TIANSHOU_CHILD
        env = {**os.environ, **spec["env"]}
        out = subprocess.run([sys.executable, "-c", child, payload], env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    m = json.loads(out.stdout.strip().splitlines()[-1])
    m["steps_per_s"] = m["steps"] / m["wall_s"]
    m["collect_share"] = m["collect_s"] / m["wall_s"]
    m["update_share"] = m["update_s"] / m["wall_s"]
    m["s_per_update"] = m["update_s"] / (m["steps"] / UPDATE_STEPS)
    m["collect_steps_per_s"] = m["steps"] / m["collect_s"]
    print(name, {k: round(v, 3) for k, v in m.items()}, flush=True)
    return m


def where_the_time_goes(rows: dict[str, dict], ref: str) -> list[str]:
    """A few lines on the time budget of one update cycle, against 1.5 x the reference."""
    best_name = max((n for n in rows if n.startswith("ours")), key=lambda n: rows[n]["steps_per_s"])
    best = rows[best_name]
    target = 1.5 * rows[ref]["steps_per_s"]
    lines = [
        "",
        "## Where the time goes",
        "",
        f"- 1.5 x {ref} is {target:.0f} env-steps/s: {UPDATE_STEPS / target:.2f} s for each cycle of 512 steps "
        "collected and one update.",
        f"- {best_name}: collecting 512 steps takes {UPDATE_STEPS / best['collect_steps_per_s']:.2f} s and the "
        f"update {best['s_per_update']:.2f} s.",
    ]
    env_json = RESULTS / "env_throughput.json"
    if env_json.is_file():
        raw = json.loads(env_json.read_text())
        with contextlib.suppress(KeyError, TypeError):
            steps_per_s = max(raw["vector"][b]["2"]["steps_per_s"] for b in ("subprocess", "shmem"))
            lines.append(
                f"- The emulators alone (2 workers flat out, random actions, no policy; `env_throughput.py`) "
                f"need {UPDATE_STEPS / steps_per_s:.2f} s for 512 steps."
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3072, help="env steps measured per variant, after the warm-up")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each runs every variant once, in turns")
    args = parser.parse_args()
    load_before = os.getloadavg()
    # Runs on this shared VM vary by up to 20 % from one minute to the next, so the variants take
    # turns, round after round, and the table gives medians (ratios: the median of each round's).
    rounds: list[dict[str, dict]] = []
    for r in range(args.repeats):
        print(f"round {r + 1} of {args.repeats}", flush=True)
        rounds.append({name: m for name, spec in VARIANTS.items() if (m := run_variant(name, spec, args.steps))})
    rows = {name: {k: float(np.median([rd[name][k] for rd in rounds])) for k in rounds[0][name]} for name in rounds[0]}
    ref = "SB3" if "SB3" in rows else "original settings"
    for name, m in rows.items():
        m["ratio"] = float(np.median([rd[name]["steps_per_s"] / rd[ref]["steps_per_s"] for rd in rounds]))
    import stable_retro
    import tianshou
    import torch

    versions = {"tianshou": tianshou.__version__, "torch": torch.__version__, "stable_retro": stable_retro.__version__}
    if "SB3" in rows:
        import stable_baselines3

        versions["stable_baselines3"] = stable_baselines3.__version__
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load_before": load_before,
            "load_after": os.getloadavg(), "versions": versions, "repeats": args.repeats}  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "train_throughput.json").write_text(
        json.dumps({"meta": meta, "variants": rows, "rounds": rounds}, indent=1)
    )
    lines = [
        "# Training throughput: PPO on Practice Kart (CPU)",
        "",
        f"`python benchmarks/train_throughput.py --steps {args.steps} --repeats {args.repeats}`: the same env and "
        "settings for each",
        f"(2 worker processes, rollout 256, 4 epochs, minibatch 256, Nature CNN); {meta['machine']};",
        f"load average before {load_before[0]:.2f}, after {meta['load_after'][0]:.2f}. "
        f"Steps after a one-update warm-up; medians of {args.repeats} rounds, the variants in turns.",
        "",
        f"| trainer | env-steps/s | ÷ {ref} | collecting | updating | s per update (512 steps) "
        "| steps/s while collecting |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in rows.items():
        lines.append(
            f"| {name} | {m['steps_per_s']:.0f} | {m['ratio']:.2f} | {m['collect_share']:.0%} "
            f"| {m['update_share']:.0%} | {m['s_per_update']:.2f} | {m['collect_steps_per_s']:.0f} |"
        )
    lines += where_the_time_goes(rows, ref)
    if "SB3" not in rows:
        lines += ["", "Stable-Baselines3 was not installed for this run: `pip install stable-baselines3`."]
    (RESULTS / "train_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
