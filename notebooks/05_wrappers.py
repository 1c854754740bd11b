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
# # 05 · Wrappers: what the agent does and sees, at emulator speed
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/kart-rl/kart-rl-course/blob/main/notebooks/05_wrappers.ipynb)
#
# **Learning goals**
# - Compare stable-retro's action modes (12 buttons, 468 combinations) with a set of 4 or 9
#   driving combos, and see what each combo does on screen.
# - Follow one frame through the observation pipeline: crop, grayscale, 84 × 84, frame skip
#   with max-pooling, frame stack.
# - Know why frame skip must sum the per-frame rewards exactly, and come before the stack.
# - Measure what each stage costs, and explain why observations stay `uint8`.
# - Run several emulators side by side in a vector env.
#
# **Prerequisites:** [04 · The reward scenario](04_reward_scenario.ipynb).

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
# ## 1. Three action spaces
#
# A SNES pad has 12 buttons. stable-retro can hand them to an agent in several ways, its
# **action modes**. `print_action_modes` lists them for our game, with what the default filter
# does, measured on the game's own data. The drives in this notebook use Practice Kart, whose
# scripted expert knows its tracks. Every wrapper here works unchanged on Super Mario Kart.

# %%
import numpy as np
import stable_retro as retro

from kart_helpers.emulator.env import make_env
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.pipeline.actions import ORIGINAL_ACTIONS, print_action_modes
from kart_helpers.rom.importer import rom_status

print(rom_status().message, "- the drives below use Practice Kart.\n")
env = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=retro.Actions.ALL)
print_action_modes(env, ORIGINAL_ACTIONS)

# %% [markdown]
# - **`ALL`** passes every press to the game: 4,096 combinations, most of them useless, and
#   half of all random actions press START.
# - **`FILTERED`**, stable-retro's default, has the same `MultiBinary(12)` space but quietly
#   changes presses that are not in the game's combination table. START vanishes, and so do
#   LEFT+RIGHT together. The agent is never told. Watch the race clock:

# %%
from kart_helpers.emulator.buttons import action_for


def race_clock_after_start(mode):
    """Press START for 2 frames, then wait 60. How far did the race clock run?"""
    env = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=mode)
    env.reset()
    for buttons, frames in [("START", 2), ("", 60)]:
        for _ in range(frames):
            _, _, _, _, info = env.step(action_for(buttons, env.unwrapped.buttons))
    return info["current_frame"]


print("race clock after 62 frames, START pressed on the first two:")
print("  Actions.ALL:     ", race_clock_after_start(retro.Actions.ALL), "(paused)")
print("  Actions.FILTERED:", race_clock_after_start(retro.Actions.FILTERED), "(START never arrived)")

# %% [markdown]
# - **`DISCRETE`** numbers every combination of the groups (d-pad vertical × horizontal × face
#   buttons × shoulder buttons): 3 × 3 × 13 × 4 = **468** actions. A policy over 468 outputs
#   must learn that most of them are nonsense for a kart:

# %%
env = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=retro.Actions.DISCRETE)
print(env.action_space)
for a in np.random.default_rng(0).integers(0, env.action_space.n, size=6):
    print(f"action {a:3}: {'+'.join(env.unwrapped.get_action_meaning(a)) or '(nothing)'}")

# %% [markdown]
# ### Driving combos
#
# The third way is ours: `ButtonCombos` gives `Discrete(n)`, where action `k` holds a combo
# that we chose. The original project used 4 combos, all with the throttle held. The richer
# `DRIVING_ACTIONS` adds **releases**, which coast to tighten a turn (the scripted expert lifts
# off for bends), and **hop-turns**. Here is what each one does on screen. Every panel starts
# from the grid, accelerates for 1 s, then holds the combo for a quarter of a second (15 frames).
# Look for the kart's heading, and for the shadow under it while it hops.

# %%
from kart_helpers.display.frames import show_frames
from kart_helpers.pipeline.actions import DRIVING_ACTIONS, ON_SCREEN

env = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=retro.Actions.ALL)
frames, titles = [], []
for combo in DRIVING_ACTIONS:
    env.reset()
    for buttons, n in [("B", 60), (combo, 15)]:
        for _ in range(n):
            obs, _, _, _, info = env.step(action_for(buttons, env.unwrapped.buttons))
    frames.append(obs[:112])  # the top half: HUD and race view
    titles.append(f"{combo or '(none)'}: speed {info['speed']}, heading {info['heading']}")
show_frames(frames, titles, cols=3);

# %%
for combo in DRIVING_ACTIONS:
    print(f"{combo or '(none)':10} {ON_SCREEN[combo]}")

# %% [markdown]
# ## 2. The observation pipeline, stage by stage
#
# The screen is 224 × 256 × 3 bytes, and most of it does not help an agent that steers:
# - rows 0-15 are the HUD (time, lap, speed);
# - rows 112-223 are the whole-track map;
# - far left and right of the kart, the view shows road it cannot reach for a while.
#
# Each stage of the pipeline is a small wrapper, and each also exists as a plain function,
# so we can follow one frame through all of them. We follow the settings that notebook 06
# trains with, `PPOConfig().pipeline`: the view the agent really gets. First we drive into the
# first bend with the scripted expert.

# %%
from kart_helpers.game.expert import Expert
from kart_helpers.pipeline.observations import crop, max_pool, resize, to_grayscale
from kart_helpers.train.config import PPOConfig

view = PPOConfig().pipeline  # the pipeline settings of notebook 06's training
print("rows kept:", view.crop_rows, "| columns kept:", view.crop_cols, "| resize:", view.resize)

env.reset()
expert = Expert(track=0)
info = env.unwrapped.data.lookup_all()
for _ in range(330):
    previous = env.unwrapped.img
    obs, _, _, _, info = env.step(action_for(expert.buttons(info), env.unwrapped.buttons))

screen = max_pool(previous, obs)
stages = {"screen": screen}
stages["crop"] = crop(stages["screen"], *view.crop_rows, *(view.crop_cols or (0, None)))
stages["grayscale"] = to_grayscale(stages["crop"])
stages["resize 84 × 84"] = resize(stages["grayscale"], (84, 84))
show_frames(
    list(stages.values()),
    [f"{name}\n{' × '.join(map(str, s.shape))} = {s.nbytes:,} bytes" for name, s in stages.items()],
    cols=4,
    scale=1.6,
);

# %% [markdown]
# - **Crop** keeps rows 16-111, the driving view: the road ahead of the kart, in perspective.
#   Of its columns it keeps the 128 in the middle, 64 pixels each side of the kart (Practice Kart
#   draws the kart in column 128). The road the kart can reach soon is there; the edges of the
#   screen add pixels but little to steer by. That makes 96 × 128 × 3.
# - **Grayscale** keeps the luma, `0.299 R + 0.587 G + 0.114 B`. Road, grass and wall stay
#   distinct in brightness, with a third of the bytes.
# - **Resize** averages areas down to 84 × 84, the input of the standard Atari CNN. The track
#   edges survive: they fade instead of vanishing, as they could if we simply dropped pixels.
#
# From 172,032 bytes to 7,056: **24 times smaller**, and every stage stays `uint8`.
#
# ### Max-pooling two frames
#
# Some games draw a sprite only on every other frame, so that it flickers. An agent that sees
# only one frame in four could miss it every time. The frame-skip wrapper therefore keeps the
# pixel-wise maximum of the last two frames of each step. Practice Kart does not flicker, but
# its road streams down the view by a few pixels per frame at full speed: the maximum then
# overlays the two positions, a little motion blur that the kerbs show best.

# %%
changed = np.count_nonzero(np.any(previous != obs, axis=-1))
window = (*view.crop_rows, *(view.crop_cols or (0, None)))
show_frames(
    [crop(previous, *window), crop(obs, *window), crop(screen, *window)],
    ["frame t-1", "frame t", f"max of both ({changed:,} pixels differ)"],
    cols=3,
);

# %% [markdown]
# ## 3. Frame skip, with exact rewards
#
# The agent decides every 4th frame, and its action is held in between: 15 decisions per
# second, and 4 times fewer forward passes. `MaxAndSkip` keeps the reward **exact**:
# - the scenario's Lua reward is computed for every frame, and the 4 values are summed;
# - `done` is checked after every frame, and a step stops on the frame that ends the episode.
#
# It has two paths. The **plain** one calls `env.step` 4 times. The **fast** one drives the
# emulator itself: it sets the buttons once, and it reads the screen only for the last two
# frames. It still has the Lua script score every frame. Let's replay the same random drive
# through both.

# %%
from dataclasses import replace

from kart_helpers.pipeline.build import wrap
from kart_helpers.smoke import steps

config = replace(view, actions=DRIVING_ACTIONS, max_noops=0)
drive = np.random.default_rng(1).integers(0, len(DRIVING_ACTIONS), size=steps(full=400, smoke=150))


def replay(kart_env):
    kart_env.reset(seed=0)
    out = []
    for a in drive:
        out.append(kart_env.step(a))
        if out[-1][2] or out[-1][3]:
            break
    return out


plain = replay(wrap(env, replace(config, fast_skip=False)))
fast = replay(wrap(env, config))
print(f"{len(plain)} steps, {sum(s[4]['frames'] for s in plain)} frames; episode ended: {plain[-1][2]}")
print("rewards equal:     ", [s[1] for s in plain] == [s[1] for s in fast])
print("done flags equal:  ", [s[2] for s in plain] == [s[2] for s in fast])
print("observations equal:", all(np.array_equal(p[0], f[0]) for p, f in zip(plain, fast, strict=True)))
print("rewards of the first steps:", [s[1] for s in plain[:12]])

# %% [markdown]
# Wall-hit episodes end on any frame, so the last step may run fewer than 4 frames:
# `info["frames"]` says how many ran.
#
# ## 4. The frame stack, over time
#
# One frame shows where the kart is, but not how fast it goes or which way it turns. The last
# 4 agent steps, stacked, do. Skip comes **before** the stack, so the stack spans 16 frames,
# a quarter of a second. The original project stacked first, so its 4 frames were consecutive
# and nearly identical.
#
# `make_kart_env` builds the whole pipeline from a `PipelineConfig`. Let the expert drive an
# episode through it, and look at what the agent sees.
#
# The first line it prints is the **random start**. Each `reset()` waits a random 0 to
# `max_noops` (30) frames with no button pressed before the agent's first step; `info["noops"]`
# says how many. Why: from a save state the game is deterministic, so without the wait every
# episode would begin with exactly the same frames, and an agent could learn a fixed button
# sequence by heart instead of looking at the screen. The wait is drawn from the env's seeded
# random generator, so `reset(seed=0)` waits the same number of frames every time. Rewards are
# not paid during the wait. (In the settings above, `max_noops=0` turned it off, so that the
# two replays started alike.)

# %%
from kart_helpers.pipeline.build import make_kart_env

kart = make_kart_env(replace(view, actions=DRIVING_ACTIONS))
obs, info = kart.reset(seed=0)
print(f"random start: waited {info['noops']} frames on the grid")
expert = Expert(track=0)
episode = [obs]
for _ in range(steps(full=400, smoke=80)):
    obs, reward, terminated, truncated, info = kart.step(DRIVING_ACTIONS.index(expert.buttons(info)))
    episode.append(obs)
    if terminated or truncated:
        break
print(f"{len(episode)} observations, each {obs.shape} {obs.dtype}")
show_frames(list(episode[-1]), ["t-3 (oldest)", "t-2", "t-1", "t (newest)"], cols=4, scale=3.0);

# %% [markdown]
# Move the slider to scrub through the episode. Each row is one observation, exactly as the
# network gets it.

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt


def show_observation(step):
    titles = ["t-3", "t-2", "t-1", "t"]
    show_frames(list(episode[step]), titles, cols=4, scale=3.0, suptitle=f"agent step {step}")
    plt.show()


slider = widgets.IntSlider(value=len(episode) - 1, min=0, max=len(episode) - 1, description="step")
widgets.interact(show_observation, step=slider);

# %% [markdown]
# ## 5. What each stage costs
#
# A wrapper that costs 100 µs per step is invisible when you look at one step, but it halves
# the speed of a careless pipeline. `stage_costs` builds the pipeline one stage at a time on a
# single emulator and times each one. It runs with random driving actions, and episodes reset
# when they end. The full benchmark (`benchmarks/env_throughput.py`) runs the same functions
# for longer, and adds vector envs; its latest results are in `benchmarks/results/`.
#
# The table's last column, **÷ raw**, is a row's frames per second divided by raw `env.step`'s:
# 1.00 is as fast as the bare emulator, 0.50 half as fast. The chart below shows time instead
# (µs per frame, shorter is faster), and labels each bar with the same ratio, "of raw speed".

# %%
from IPython.display import Markdown

from kart_helpers.bench.speed import format_speeds, measure_env, stage_costs
from kart_helpers.pipeline.build import wrap_stock

base = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=retro.Actions.ALL)
n_steps, repeats = steps(full=300, smoke=20), steps(full=3, smoke=1)
rows = stage_costs(base, view, steps=n_steps, repeats=repeats)
rows.append(measure_env(wrap_stock(base), n_steps, repeats, label="Gymnasium's stock wrappers"))
Markdown(format_speeds(rows))

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
bars = ax.barh([r.label for r in rows][::-1], [r.us_per_frame for r in rows][::-1], color="tab:blue")
ax.bar_label(bars, [f"{r.frames_per_s / rows[0].frames_per_s:.2f} of raw speed" for r in rows][::-1], padding=3)
ax.set_xlim(0, 1.25 * max(r.us_per_frame for r in rows))
ax.set_xlabel("µs per emulator frame (lower is faster)")
ax.set_title(f"Cost of each stage (median of {repeats} run(s) of {n_steps} agent steps)")
fig.tight_layout();

# %% [markdown]
# - The emulator itself (`env.step`) costs nearly all the time.
# - The fast frame-skip path saves a little: the screen is read 2 times per step instead of 4,
#   and the RAM variables once. That pays for the image stages on top.
# - Gymnasium's `GrayscaleObservation` computes in float64. It is the main reason the stock
#   stack is slower. Ours converts in integers (Pillow), about 20 times faster.
#
# In smoke mode (CI), these are a few dozen steps each, so the numbers are rough. Other programs
# on the machine change them too.
#
# ## 6. Why `uint8` in the buffer
#
# PPO keeps a rollout of observations, and off-policy methods keep a replay buffer of hundreds
# of thousands. Scaling to [0, 1] could happen in a wrapper, but then every stored observation
# would be `float32`, 4 times the bytes, and every transfer between processes would be 4 times
# larger too. So the pipeline hands out `uint8`, and the network divides by 255 as its first
# operation.

# %%
import torch

stack = episode[-1]
as_float = stack.astype(np.float32) / 255
n = 100_000
print(f"one observation: {stack.nbytes:,} bytes as uint8, {as_float.nbytes:,} bytes as float32")
print(f"{n:,} of them:    {n * stack.nbytes / 1e9:.1f} GB as uint8, {n * as_float.nbytes / 1e9:.1f} GB as float32")
batch = torch.as_tensor(np.stack(episode[-8:]))  # what the network gets: (8, 4, 84, 84) uint8
print("in the network:", batch.dtype, tuple(batch.shape), "->", (batch.float() / 255).dtype, "in [0, 1]")

# %% [markdown]
# ## 7. Many emulators at once
#
# stable-retro allows one emulator per process, so a vector env runs each env in its own worker
# process. Each worker builds its own pipeline from the same `PipelineConfig`, and registers the
# integration folders itself. `make_vector_env` has four backends:
#
# | backend | how | use it for |
# |---|---|---|
# | `dummy` | in this process, 1 env | debugging |
# | `subprocess` | one process per env, pipes | anywhere |
# | `shmem` | the same, observations through shared memory | training on one machine |
# | `ray` | one Ray actor per env | runs bigger than one machine (`pip install 'kart-rl-course[ray]'`) |
#
# Worker `i` gets seed `seed + i`, so its random starts can be repeated. If a worker dies, the
# next call raises a `WorkerCrashedError` that names the worker, the game and its error, instead
# of hanging.

# %%
from kart_helpers.bench.collection import measure_collection
from kart_helpers.pipeline.vector import make_vector_env

venv = make_vector_env(2, view, backend="shmem", seed=0)
obs, infos = venv.reset()
print("observations:", obs.shape, obs.dtype, "| random-start wait per worker:", [i["noops"] for i in infos], "frames")
speed = measure_collection(venv, steps=steps(full=300, smoke=20), repeats=steps(full=3, smoke=1))
venv.close()
print(f"2 workers: {speed.frames_per_s:,.0f} frames/s, {speed.steps_per_s:,.0f} agent steps/s")

# %% [markdown]
# On a 2-core machine, 2 workers can at best double the speed of one. The parent process, which
# steps the vector env, needs some CPU too. A Ray actor costs more per step than a pipe, so Ray
# pays off only when there are more machines.
#
# ## Exercise
#
# Keep colour this time: a `PipelineConfig` with `grayscale=False` and a stack of **3**. What
# shape will one observation have? Replace the `...` with a tuple of numbers, `my_shape`, and
# run the cell. The check builds that env and compares.

# %%
my_shape = ...  # your answer: a tuple of numbers; see the hint above

# %%
from kart_helpers.exercises import answer, check_colour_shape

my_shape = answer("05_shape", my_shape)
obs = check_colour_shape(my_shape)
print(f"Correct: {obs.shape}, {obs.nbytes:,} bytes: {obs.nbytes / stack.nbytes:.2f}× the grey stack of 4.")

# %% [markdown]
# ## What you learned
# - stable-retro's action modes: `ALL` passes every button, `FILTERED` (the default) silently
#   drops START and conflicting presses, and `DISCRETE` has 468 actions. `ButtonCombos` gives a
#   small set of driving combos instead.
# - The pipeline: crop away the HUD, the map and the sides of the view, grayscale,
#   area-average to 84 × 84, skip 4 frames with max-pooling, stack 4 steps. It is 24 times
#   smaller than the screen, and `uint8` all the way.
# - Frame skip sums the per-frame Lua rewards and checks `done` on every frame. The fast path
#   gives the same rewards, flags and observations as the plain loop.
# - The emulator dominates the cost. A careful pipeline runs at about the speed of raw
#   `env.step`, and the stock one is slower.
# - Vector envs run one emulator per process, and a crashed worker is named.
#
# ## Next
# [06 · Train PPO](06_train_ppo.ipynb): put the vector env and a CNN together with Tianshou, and
# teach the agent to drive.
