"""Training throughput: PPO env-steps/s on Practice Kart for our trainer, its variants, the original settings and SB3.

    pip install stable-baselines3        # into this benchmark's environment only; not a course dependency
    python benchmarks/train_throughput.py [--steps 2048] [--repeats 3] [--out DIR]

Every trainer trains on the same env (:class:`kart_helpers.train.envs.TrainEnvFactory` on
``cpu_profile().pipeline``: 4 x 84 x 84 uint8 frames) with the same settings: 2 worker
processes, rollout 256 per env, 4 epochs, minibatch 256, the Nature CNN, Adam 2.5e-4. Each
variant runs in a fresh process; the variants take turns, round after round, so that they share
the machine's minute-to-minute changes, and the table gives medians with the spread (min-max):

- ``emulators alone``: the 2 workers stepping random actions, no policy, no learning: the
  bound for collection on this machine, in this minute;
- ``ours``: :func:`kart_helpers.train.train` with :func:`cpu_profile`'s defaults (float32):
  the lean collector (:mod:`kart_helpers.train.collector`), PPO reusing the values recorded
  while collecting, the trunk run once for both heads, torch on 1 thread while collecting and
  all threads while updating, ``OMP_WAIT_POLICY=PASSIVE``, shared-memory envs;
- ``ours, 2 threads collecting`` and ``ours, 1 thread updating``: the thread choices;
- ``ours, Tianshou's collector``: the same, collecting with Tianshou's own ``Collector`` (so
  PPO recomputes the values): what the lean collector buys;
- ``ours, bf16 trunk``: only where :func:`bf16_fast` says the CPU has bfloat16 units;
- ``original settings``: the original project's settings on Tianshou 2's plain wiring: value
  clipping, actor and critic each running the trunk, OpenMP's default wait policy, all torch
  threads while collecting, pipes (``SubprocVectorEnv``), Tianshou's collector;
- ``SB3``: Stable-Baselines3's ``PPO("CnnPolicy")`` with the same hyperparameters in
  ``SubprocVecEnv``, SB3's defaults otherwise. Skipped, with a note, when SB3 is not installed.

Where the time goes: collect (of which the policy's forward passes and the wait for the
emulators), and update. Memory: the peak resident set of the trainer process, and the peak of
the trainer and its workers together (sampled every 0.2 s). The first update's steps are a
warm-up and are not counted (Numba compiles then in Tianshou).
Writes ``train_throughput.json`` and ``train_throughput.md`` to ``--out`` (default ``benchmarks/results/``).
"""

from __future__ import annotations

import argparse
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
SETTINGS = {"n_envs": N_ENVS, "rollout": ROLLOUT, "epochs": 4, "minibatch": 256}

OURS = {"kind": "ours", "env": {"OMP_WAIT_POLICY": "PASSIVE"}, "share": True, "single_thread": True,
        "value_clip": False, "backend": "shmem", "bf16": False, "lean": True, "torch_threads": 0}  # fmt: skip
VARIANTS = {
    "emulators alone": {"kind": "emulators", "env": {}},
    "ours": OURS,
    "ours, 2 threads collecting": {**OURS, "single_thread": False},
    "ours, 1 thread updating": {**OURS, "torch_threads": 1},
    "ours, Tianshou's collector": {**OURS, "lean": False},
    "ours, bf16 trunk": {**OURS, "bf16": True},
    "original settings": {**OURS, "env": {"OMP_WAIT_POLICY": "ACTIVE"}, "share": False, "single_thread": False,
                          "value_clip": True, "backend": "subprocess", "lean": False},
    "SB3": {"kind": "sb3", "env": {}},
}  # fmt: skip

# Sums the resident memory of this process and its children every 0.2 s (psutil ships with Ray and Jupyter).
MEMORY = r"""
import os, threading, time, resource
try:
    import psutil
except ImportError:
    psutil = None
PEAK = {"total_mb": 0.0 if psutil else float("nan")}
def _watch():
    me = psutil.Process()
    while True:
        try:
            total = sum(p.memory_info().rss for p in [me, *me.children(recursive=True)])
            PEAK["total_mb"] = max(PEAK["total_mb"], total / 2**20)
        except psutil.Error:
            pass
        time.sleep(0.2)
if psutil is not None:
    threading.Thread(target=_watch, daemon=True).start()
def memory():
    return {"trainer_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "total_peak_mb": PEAK["total_mb"]}
"""

EMULATORS_CHILD = MEMORY + r"""
import json, sys, time
import numpy as np
from kart_helpers.train import cpu_profile
from kart_helpers.train.envs import make_train_venv
spec = json.loads(sys.argv[1])
cfg = cpu_profile(**spec["settings"])
venv = make_train_venv(cfg)
venv.reset()
rng = np.random.default_rng(0)
n = venv.action_space[0].n
def run(steps):
    for _ in range(steps // cfg.n_envs):
        _, _, term, trunc, _ = venv.step(rng.integers(0, n, cfg.n_envs))
        done = np.flatnonzero(term | trunc)
        if done.size:
            venv.reset(done)
run(256)
start = time.perf_counter()
run(spec["steps"])
wall = time.perf_counter() - start
venv.close()
print(json.dumps({"steps": spec["steps"], "wall_s": wall, "collect_s": wall, "env_s": wall, "forward_s": 0.0,
                  "update_s": 0.0, **memory()}))
"""

TIANSHOU_CHILD = MEMORY + r"""
import json, sys, time
import kart_helpers.train.trainer as trainer_module
from kart_helpers.train import cpu_profile, train
from kart_helpers.train.instruments import TimedCollector
spec = json.loads(sys.argv[1])
TimedCollector.single_thread = spec["single_thread"]
if not spec["lean"]:
    trainer_module.LeanCollector = TimedCollector  # Tianshou's collector; PPO then takes Tianshou's path
steps = spec["steps"] + 1024  # one epoch: no checkpoint is written inside the measurement
config = cpu_profile(**spec["settings"], total_steps=steps, epoch_steps=steps, share_trunk_forward=spec["share"],
                     bf16=spec["bf16"], value_clip=spec["value_clip"], backend=spec["backend"], log_dir=spec["log_dir"],
                     lr_decay=False, torch_threads=spec["torch_threads"])
marks = []
def mark(trainer):  # called before each collection: marks[1] follows the warm-up update
    c = trainer.collector
    marks.append((time.perf_counter(), trainer.counters["env_step"], c.collect_s, trainer._update_s,
                   getattr(c, "forward_s", float("nan")), getattr(c, "env_s", float("nan"))))
train(config, callbacks=[mark], progress=False)
(t0, s0, c0, u0, f0, e0), (t1, s1, c1, u1, f1, e1) = marks[1], marks[-1]
print(json.dumps({"steps": s1 - s0, "wall_s": t1 - t0, "collect_s": c1 - c0, "update_s": u1 - u0,
                  "forward_s": f1 - f0, "env_s": e1 - e0, **memory()}))
"""

SB3_CHILD = MEMORY + r"""
import json, sys, time
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnvWrapper
from kart_helpers.train import cpu_profile
from kart_helpers.train.envs import TrainEnvFactory
spec = json.loads(sys.argv[1])
cfg = cpu_profile(**spec["settings"])
factories = [TrainEnvFactory(cfg.pipeline, worker=i, seed=i, reward_scale=cfg.reward_scale,
                             stall_frames=cfg.stall_frames) for i in range(cfg.n_envs)]
CLOCK = {"env_s": 0.0, "forward_s": 0.0}

class TimedVecEnv(VecEnvWrapper):  # the wait for the workers: sending actions and receiving results
    def reset(self):
        return self.venv.reset()
    def step_async(self, actions):
        self._t = time.perf_counter()
        self.venv.step_async(actions)
    def step_wait(self):
        out = self.venv.step_wait()
        CLOCK["env_s"] += time.perf_counter() - self._t
        return out

class Marks(BaseCallback):
    def __init__(self):
        super().__init__()
        self.marks, self.collect_s, self._t = [], 0.0, None
    def _on_rollout_start(self):  # after each update: the end of one collect + update cycle
        self.marks.append((time.perf_counter(), self.num_timesteps, self.collect_s, CLOCK["env_s"], CLOCK["forward_s"]))
        self._t = time.perf_counter()
    def _on_rollout_end(self):
        self.collect_s += time.perf_counter() - self._t
    def _on_step(self):
        return True

model = PPO("CnnPolicy", TimedVecEnv(SubprocVecEnv(factories)), n_steps=cfg.rollout, batch_size=cfg.minibatch,
            n_epochs=cfg.epochs, learning_rate=cfg.lr, gamma=cfg.gamma, gae_lambda=cfg.gae_lambda, clip_range=cfg.clip,
            vf_coef=cfg.vf_coef, ent_coef=cfg.ent_coef, max_grad_norm=cfg.max_grad_norm, device="cpu", seed=0,
            verbose=0)
def before(module, args):
    CLOCK["_t"] = time.perf_counter()
def after(module, args, output):  # policy.forward runs only while collecting (the update calls evaluate_actions)
    CLOCK["forward_s"] += time.perf_counter() - CLOCK["_t"]
model.policy.register_forward_pre_hook(before)
model.policy.register_forward_hook(after)
marks = Marks()
model.learn(total_timesteps=spec["steps"] + 2 * cfg.steps_per_update, callback=marks)
model.env.close()
(t0, s0, c0, e0, f0), (t1, s1, c1, e1, f1) = marks.marks[1], marks.marks[-1]
print(json.dumps({"steps": s1 - s0, "wall_s": t1 - t0, "collect_s": c1 - c0, "update_s": (t1 - t0) - (c1 - c0),
                  "env_s": e1 - e0, "forward_s": f1 - f0, **memory()}))
"""

CHILDREN = {"emulators": EMULATORS_CHILD, "ours": TIANSHOU_CHILD, "sb3": SB3_CHILD}


def chosen_variants() -> dict[str, dict]:
    """The variants this machine can run: bf16 only with bfloat16 units, SB3 only when installed."""
    from kart_helpers.train.config import bf16_fast

    chosen = {}
    for name, spec in VARIANTS.items():
        if spec.get("bf16") and not bf16_fast():
            print(f"{name}: skipped, this CPU has no bfloat16 units (bf16_fast() is False)")
        elif spec["kind"] == "sb3" and importlib.util.find_spec("stable_baselines3") is None:
            print(f"{name}: skipped, stable-baselines3 is not installed (pip install stable-baselines3)")
        else:
            chosen[name] = spec
    return chosen


def run_variant(name: str, spec: dict, steps: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        payload = {**{k: v for k, v in spec.items() if k != "env"}, "steps": steps, "log_dir": f"{tmp}/run"}
        payload["settings"] = SETTINGS
        env = {**os.environ, **spec["env"]}
        out = subprocess.run(
            [sys.executable, "-c", CHILDREN[spec["kind"]], json.dumps(payload)], env=env, capture_output=True, text=True
        )
    if out.returncode:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    m = json.loads(out.stdout.strip().splitlines()[-1])
    cycles = m["steps"] / UPDATE_STEPS
    m["steps_per_s"] = m["steps"] / m["wall_s"]
    m["collect_per_512_s"] = m["collect_s"] / cycles
    m["forward_per_512_s"] = m["forward_s"] / cycles
    m["env_per_512_s"] = m["env_s"] / cycles
    m["other_per_512_s"] = (m["collect_s"] - m["forward_s"] - m["env_s"]) / cycles
    m["update_per_512_s"] = m["update_s"] / cycles
    print(f"  {name}: {m['steps_per_s']:.0f} env-steps/s", flush=True)
    return m


def summarise(rounds: list[dict[str, dict]], ref: str) -> dict[str, dict]:
    """Per variant and measure: the median and the spread (min, max) over the rounds; ratios are
    taken within each round, then their median."""
    rows: dict[str, dict] = {}
    for name in rounds[0]:
        values = {k: [rd[name][k] for rd in rounds] for k in rounds[0][name]}
        row = {k: float(np.median(v)) for k, v in values.items()}
        row["steps_per_s_range"] = [float(min(values["steps_per_s"])), float(max(values["steps_per_s"]))]
        if ref in rounds[0]:
            ratios = [rd[name]["steps_per_s"] / rd[ref]["steps_per_s"] for rd in rounds]
            row["ratio"] = float(np.median(ratios))
            row["ratio_range"] = [float(min(ratios)), float(max(ratios))]
        rows[name] = row
    return rows


def table(rows: dict[str, dict], ref: str, meta: dict, steps: int) -> list[str]:
    lines = [
        "# Training throughput: PPO on Practice Kart (CPU)",
        "",
        f"`python benchmarks/train_throughput.py --steps {steps} --repeats {meta['repeats']}` at commit "
        f"`{meta['commit']}`: the same env and settings for each (2 worker processes, rollout 256, 4 epochs, "
        f"minibatch 256, Nature CNN); {meta['machine']}; load average (1 min) {meta['load'][0]:.2f} before, "
        f"{meta['load'][-1]:.2f} after, {max(meta['load']):.2f} at most between rounds. "
        f"Steps after a one-update warm-up; medians of {meta['repeats']} rounds with the spread (min-max), "
        "the variants in turns.",
        "",
        f"| trainer | env-steps/s | ÷ {ref} | collect | of which forward | of which env wait | other | update "
        "| trainer peak RSS | with workers |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in rows.items():
        lo, hi = m["steps_per_s_range"]
        ratio = f"{m['ratio']:.2f} ({m['ratio_range'][0]:.2f}-{m['ratio_range'][1]:.2f})" if "ratio" in m else "-"
        forward = "-" if np.isnan(m["forward_per_512_s"]) else f"{m['forward_per_512_s']:.2f} s"
        env_wait = "-" if np.isnan(m["env_per_512_s"]) else f"{m['env_per_512_s']:.2f} s"
        other = "-" if np.isnan(m["other_per_512_s"]) else f"{m['other_per_512_s']:.2f} s"
        lines.append(
            f"| {name} | {m['steps_per_s']:.0f} ({lo:.0f}-{hi:.0f}) | {ratio} | {m['collect_per_512_s']:.2f} s "
            f"| {forward} | {env_wait} | {other} | {m['update_per_512_s']:.2f} s "
            f"| {m['trainer_peak_mb']:.0f} MB | {m['total_peak_mb']:.0f} MB |"
        )
    lines += [
        "",
        "Times are per cycle of 512 steps collected and one update. *Forward*: the policy's passes while "
        "collecting; *env wait*: sending actions to the workers and waiting for their frames; *other*: the "
        "rest of collection (buffer, bookkeeping). For the emulators alone, the whole time is theirs.",
    ]
    return lines


def git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=RESULTS.parent)
    return out.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2048, help="env steps measured per variant, after the warm-up")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each runs every variant once, in turns")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for train_throughput.json and .md")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)  # before the long runs: a bad folder fails now
    variants = chosen_variants()
    load = [os.getloadavg()[0]]
    rounds: list[dict[str, dict]] = []
    for r in range(args.repeats):
        print(f"round {r + 1} of {args.repeats}", flush=True)
        rounds.append({name: run_variant(name, spec, args.steps) for name, spec in variants.items()})
        load.append(os.getloadavg()[0])
    ref = "SB3" if "SB3" in variants else "original settings"
    rows = summarise(rounds, ref)
    import stable_retro
    import tianshou
    import torch

    versions = {"tianshou": tianshou.__version__, "torch": torch.__version__, "stable_retro": stable_retro.__version__}
    if "SB3" in rows:
        import stable_baselines3

        versions["stable_baselines3"] = stable_baselines3.__version__
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "load": load, "versions": versions,
            "repeats": args.repeats, "steps": args.steps, "commit": git_commit()}  # fmt: skip
    (args.out / "train_throughput.json").write_text(
        json.dumps({"meta": meta, "variants": rows, "rounds": rounds}, indent=1)
    )
    lines = table(rows, ref, meta, args.steps)
    if "SB3" not in rows:
        lines += ["", "Stable-Baselines3 was not installed for this run: `pip install stable-baselines3`."]
    (args.out / "train_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
