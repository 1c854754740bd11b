# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Train PPO: an agent that learns to drive
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/kart-rl/kart-rl-course/blob/main/notebooks/06_train_ppo.ipynb)
#
# **Learning goals**
# - Read a PPO configuration: what each setting does, and which ones matter on a CPU.
# - Build the actor-critic network and check how it starts (a near-uniform policy).
# - Train with Tianshou 2 while watching the return, laps, lap times and losses live.
# - Find the checkpoints, resume a run exactly where it stopped, and read TensorBoard.
# - Run the same training from the command line.
#
# **Prerequisites:** [05 · Wrappers](05_wrappers.ipynb) (the observation pipeline and the
# action sets) and [04 · The reward scenario](04_reward_scenario.ipynb) (what the agent is paid for).

# %%
# Setup: in Colab, install the course package (it ships its integrations and the practice ROM).
# Locally, `make course` has already installed it, so this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "git+https://github.com/kart-rl/kart-rl-course"],
        check=True,
    )

# %% [markdown]
# ## 1. Which game
#
# Training uses the real Super Mario Kart when you imported it (notebook 01) and Practice Kart
# otherwise. The par times below are the scripted expert's, so they exist for Practice Kart only.

# %%
from kart_helpers.rom.importer import rom_status

status = rom_status()
print(status.message)
GAME = status.game

# %% [markdown]
# ## 2. The configuration
#
# Every setting of a run lives in one dataclass, `PPOConfig`. Each field has a docstring, and
# each field is also a flag of the command-line trainer (section 7). `cpu_profile()` is a
# starting point for a 2-core machine like Colab's free tier: 2 emulators, 256 steps each per
# update, 4 passes over the data in minibatches of 256.
#
# A few of these decide most of what happens:
# - `rollout × n_envs` transitions are collected, then PPO makes `epochs` passes over them.
# - `clip` keeps each update small: the new policy's action probabilities stay within ±10 % of
#   the old ones. `ent_coef` pays for keeping options open, so the agent keeps exploring.
# - `return_scaling` divides the value targets by the running spread of the returns. A kart
#   stuck on a wall earns -10 per frame, so returns run into the tens; without the scaling, the
#   value head's gradient was about 2000 times the policy's, and the gradient clip
#   (`max_grad_norm`) left the policy almost nothing to learn from.
# - `starts.spread_starts` lets half the training episodes start from snapshots along the first
#   lap, so every bend is practised from the first update on. Evaluation always starts on the grid.
# - `pipeline.crop_cols` keeps the 128 columns around the kart before the resize to 84 × 84, so
#   the kart's heading and the road's edges stay a few pixels wide.
#
# The config is made of parts: `config.pipeline` is notebook 05's `PipelineConfig` (what the
# agent sees and does), `config.starts` says where training episodes start, and the rest is PPO.
# `cpu_profile(state="Level2")` or `config.replace(frame_skip=2)` names any setting directly.

# %%
from kart_helpers.smoke import smoke_mode, steps
from kart_helpers.train import cpu_profile, field_docs
from kart_helpers.train.config import flat_settings

config = cpu_profile(
    game=GAME,
    total_steps=steps(full=300_000, smoke=2_048),
    max_episode_frames=steps(full=7200, smoke=1600),
    epoch_steps=steps(full=10_240, smoke=1_024),
    log_dir="runs/06_smoke" if smoke_mode() else "runs/06_ppo",
)
settings = flat_settings(config)
for name in ("lr", "clip", "ent_coef", "vf_coef", "return_scaling", "spread_starts", "crop_cols", "n_envs", "rollout",
             "epochs", "minibatch", "total_steps"):  # fmt: skip
    print(f"{name:>16} = {settings[name]!s:<10} {field_docs()[name][:80]}")
print(
    f"\neach update: {config.steps_per_update} transitions, which PPO goes over {config.epochs} times "
    f"(its 'epochs' setting)"
)
print(f"checkpoints: one every {config.steps_per_epoch:,} steps, {config.max_epochs} in all (the trainer's epochs)")

# %% [markdown]
# "Epoch" means two things here, as in most RL code: PPO's `epochs` are its passes over one
# update's data, and the trainer's epochs are the stretches of `epoch_steps` after which it
# writes a checkpoint.
#
# The run's budget is in env steps: `total_steps` = 300,000 for the full run, the learning
# benchmark's setting (`benchmarks/learning.py`). How long that takes depends on your machine,
# and machines of one kind differ up to 2.5 times in emulator speed. The next cell measures this
# one's for a few seconds and tells you. In smoke mode (`KART_SMOKE=1`, as in CI) the run is a
# couple of thousand steps: enough to see every part work, not enough to learn.

# %%
from kart_helpers.bench.estimate import estimate_training

print(estimate_training(config))

# %% [markdown]
# What to expect along the full run on Practice Ring, from the learning benchmark's run with this
# seed (`benchmarks/results/learning.md`):
# - **in the first 5 %** (20k steps) the return climbs fast, and the first races from the grid
#   finish all 5 laps, about 5 % slower than the expert;
# - **at 25 %** (100k steps) every race from the grid finishes, and lap times sit near the
#   dashed line of the expert's lap;
# - **at 50 %** (200k steps) every race from the grid still finishes, and half of them beat
#   the expert's par by a few percent;
# - **at 100 %** the learning rate has decayed to 0 and the curves are flat: the best race
#   finished a few percent under the expert's par.
#
# Along the way, the clip fraction and approx-KL shrink as the learning rate decays. The
# explained variance rises at first, then drops below 0 once the kart races: the critic's
# predictions are then off by more than the returns vary. The policy learns anyway, since GAE's
# advantages use differences of neighbouring values, but it is a sign that the critic could do
# better.
#
# The progress bar counts steps and shows the time left; `grid_laps` is the laps of the latest
# episode that started on the grid.
#
# ## 3. The network
#
# The agent sees 4 stacked grayscale frames of 84 × 84 pixels, as bytes. The network is the
# "Nature CNN" from DeepMind's Atari work: three convolutions and a 512-unit layer (the
# **trunk**), then two small heads:
# - the **policy head** gives one logit per action (one per button combo of the action set);
# - the **value head** estimates the return from this state (PPO's baseline).
#
# The two heads share the trunk. Weights start orthogonal; the policy head's are scaled by
# 0.01, so all actions start almost equally likely.

# %%
import numpy as np
import torch

from kart_helpers.train.network import build_actor_critic, describe

n_actions = len(config.pipeline.actions)  # one logit per button combo
actor, critic = build_actor_critic((config.pipeline.frame_stack, 84, 84), n_actions)
print(describe(actor, critic))
frames = np.random.default_rng(0).integers(0, 256, (1, config.pipeline.frame_stack, 84, 84), dtype=np.uint8)
with torch.no_grad():
    probs = torch.softmax(actor(frames)[0], -1)
print("\naction probabilities of a fresh network:", probs.numpy().round(3))

# %% [markdown]
# ## 4. Train, and watch it learn
#
# `train` builds the envs (each emulator in its own process), the network, Tianshou's PPO and its
# on-policy trainer. While it runs you see a progress bar and a plot that redraws in place:
# - **episode return**: the reward of each finished episode (dots) and its running mean;
# - **laps completed**: 5 means the race was finished (episodes that started on the grid only:
#   the others began mid-lap);
# - **lap time**: each completed lap, against the expert's mean lap (dashed);
# - **losses**: the policy (`actor_loss`), value (`vf_loss`) and entropy terms of each update;
# - **policy change**: PPO's health signals. `approx_kl` is how far each update moved the
#   policy (above about 0.02 the steps get big for the clip to hold), and the clip fraction is
#   the share of samples whose probability ratio the clip cut;
# - **explained variance**: how much of the returns' spread the critic predicts (1 = all,
#   0 = no better than their mean, below 0 worse than that).
#
# A checkpoint is written after every trainer epoch. Interrupt the kernel at any time: the run saves
# `last.pt` on the way out, and section 5 resumes from it.

# %%
from kart_helpers.game.constants import par_lap_frames
from kart_helpers.train import train

# overwrite=True: running this cell again moves the previous run aside (runs/06_ppo.old-<date>-<time>)
result = train(config, live_plot="auto", par_lap_frames=par_lap_frames(GAME, config.state), overwrite=True)
print(f"{result.counters['env_step']} steps in {result.timing['wall_s']:.0f} s "
      f"({result.timing['steps_per_s']:.0f} steps/s); collecting {result.timing['collect_s']:.0f} s, "
      f"updating {result.timing['update_s']:.0f} s")  # fmt: skip

# %% [markdown]
# How to read the curves:
# - Early on, the kart bumps along and the return is mostly the small time cost. Returns climb
#   as the agent learns that checkpoints pay; laps appear once it stays on the road.
# - `vf_loss` is large at first (the value head knows nothing) and falls as it learns to predict
#   returns. `actor_loss` stays near zero: PPO's clipped objective keeps each step small.
# - The entropy term shrinks slowly as the policy becomes sure of itself. If it collapses
#   early, the agent stops exploring: raise `ent_coef`.
# - Seeds differ. If the laps panel (grid starts only) stays at 0 while the return still
#   climbs (half the episodes start along the track and earn their checkpoints there), the
#   agent keeps leaving the road at one bend: try another `seed`, or resume and train longer.
#
# The timing line says where the run's time went: collecting (the emulators, and the policy
# choosing each action) and PPO's updates. The rest, a few percent, is the trainer's own work
# between them: logging, the live plot and checkpoints.
#
# ## 5. Checkpoints and resume
#
# The run folder holds `checkpoints/last.pt` (the newest), `best.pt` (the best policy so far)
# and the newest `keep_epochs` (3) trainer epochs' `epoch_NNNN.pt`; older epochs are deleted as
# new ones come, since each file is about 20 MB. Set `keep_epochs=0` to keep them all.
# A checkpoint holds only tensors and plain values, so it loads with
# `torch.load(weights_only=True)`, which cannot run code hidden in a file.

# %%
from kart_helpers.train import load_checkpoint
from kart_helpers.train.checkpoints import list_checkpoints

print([p.name for p in list_checkpoints(config.log_dir)])
saved = load_checkpoint(result.last)
print("saved counters:", saved["counters"])

# %% [markdown]
# To resume, pass the checkpoint and a larger `total_steps`. The network, the optimizer (Adam's
# moment estimates), the learning-rate schedule, the step counters and the history all come
# back, so the run continues as if it had never stopped.

# %%
longer = config.replace(total_steps=config.total_steps + config.steps_per_epoch)
resumed = train(longer, resume=result.last, progress=False)
print("before:", saved["counters"]["env_step"], "steps; after resuming:", resumed.counters["env_step"], "steps")

# %% [markdown]
# ## 6. TensorBoard
#
# Tianshou logs every update and every collection to `runs/.../tb`. In Jupyter or Colab:
#
# ```
# %load_ext tensorboard
# %tensorboard --logdir runs
# ```
#
# Useful plots: `training/returns_stat/mean` (the return), `update/loss/mean` and
# `update/vf_loss/mean`, and `update/ent_loss/mean` (the entropy).

# %%
print(sorted(p.name for p in (result.log_dir / "tb").iterdir())[:3])

# %% [markdown]
# ## 7. The same run from the command line
#
# Long runs are better outside a notebook. Every field of `PPOConfig` is a flag:

# %%
from kart_helpers.train.__main__ import command_line

print(command_line(config))

# %% [markdown]
# Add `--resume runs/06_ppo` to continue a run, `--state Level2` for Hairpin Hills, and
# `--help` for all the flags. Ctrl-C saves a checkpoint, as in the notebook.
#
# ## Exercise
#
# How many gradient steps does one update make? PPO makes `epochs` passes over the
# `rollout × n_envs` transitions it collected, one gradient step per minibatch. Replace the `...`
# with the formula, written with the fields of `config` (e.g. `config.epochs`). The check
# compares it with what the trainer counted in section 5.

# %%
gradient_steps_per_update = ...  # your answer: a formula of config's fields; see the hint above

# %%
from kart_helpers.exercises import answer, check_gradient_steps

gradient_steps_per_update = answer("06_gradient_steps", gradient_steps_per_update, config=config)
check_gradient_steps(gradient_steps_per_update, config, resumed.counters)
print(f"Correct: {gradient_steps_per_update} gradient steps per update.")

# %% [markdown]
# ## What you learned
# - `PPOConfig` holds every setting of a run; `cpu_profile()` fits a 2-core machine.
# - The actor and critic share a Nature CNN trunk; a small policy-head gain starts the policy uniform.
# - `train` runs Tianshou 2's PPO with a progress bar, a live plot and TensorBoard logs.
# - Checkpoints are written every trainer epoch and on an interrupt, load safely, and resume exactly.
# - `python -m kart_helpers.train` runs the same training from a terminal.
#
# ## Next
# [07 · Evaluate](07_evaluate.ipynb): race the trained agent, watch it, and compare its lap times
# with the expert's par.
