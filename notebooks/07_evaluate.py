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
# # 07 · Evaluate: race the agent against the expert
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/kart-rl/kart-rl-course/blob/main/notebooks/07_evaluate.ipynb)
#
# **Learning goals**
# - Load a checkpoint and race it, deterministically and with sampled actions.
# - Watch the race, with its speed and reward components beside it.
# - Time each lap from RAM and compare it with the scripted expert's par.
# - Find where the agent loses time, from its RAM traces next to the expert's.
# - Compare several checkpoints of one run in a table and a plot.
#
# **Prerequisites:** [06 · Train PPO](06_train_ppo.ipynb). This notebook uses its run if there is
# one, and trains a tiny one if not.

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
# ## 1. Find a checkpoint
#
# We race the best checkpoint (`best.pt`, see section 5) of your full run of notebook 06
# (`runs/06_ppo`) if you made one.
# If not, we race the course's **reference agent**: a policy trained with the same settings by
# `benchmarks/learning.py` and shipped with the course, so that this notebook always shows a
# kart that races. Section 5 compares the epochs of your own run: the full one, or the smoke run
# of notebook 06 (`runs/06_smoke`), or, with neither, a tiny run trained here, which only shows
# the tools.

# %%
from kart_helpers.evaluate.rollout import checkpoint_for, find_run, reference_agent
from kart_helpers.rom.importer import rom_status
from kart_helpers.smoke import steps
from kart_helpers.train import cpu_profile, load_checkpoint, train

print(rom_status().message)
full_run = find_run("runs/06_ppo")
run = full_run or find_run("runs/06_smoke")
if run is None:
    tiny = cpu_profile(game=rom_status().game, total_steps=1_024, epoch_steps=512, log_dir="runs/07_tiny")
    run = train(tiny, progress=False, overwrite=True).log_dir  # a rerun moves the old tiny run aside
if full_run is not None:
    checkpoint = checkpoint_for(full_run)
    print("racing your own run:", checkpoint)
elif reference_agent("Level1") is not None:
    checkpoint = reference_agent("Level1")
    about = load_checkpoint(checkpoint)["about"]
    print(f"no full run of notebook 06 yet: racing the reference agent, {checkpoint.name}, trained "
          f"{about['env_steps']:,} steps (seed {about['seed']}, commit {about['commit']}).")  # fmt: skip
else:
    checkpoint = checkpoint_for(run)
    print("racing", checkpoint, "(no reference agent ships with this copy of the course)")
print("its epochs, compared in section 5:", run)

# %% [markdown]
# ## 2. A deterministic race, and its video
#
# `evaluate_checkpoint` drives one episode with the policy's most likely action at every step.
# Then it replays the same button presses frame by frame on the bare emulator, which gives the
# RAM of every frame, the screens for the video, and what each reward component paid.

# %%
from kart_helpers.evaluate.rollout import evaluate_checkpoint

MAX_FRAMES = steps(full=7200, smoke=1200)
evaluation = evaluate_checkpoint(checkpoint, deterministic=True, max_frames=MAX_FRAMES)
agent = evaluation.best
print({k: v for k, v in agent.summary(evaluation.par).items()})

# %% [markdown]
# The video plays the race at a quarter of the frames (15 per second of a 60-frame second, so
# at real speed). Beside it: the speed (the dotted line is top speed on road, 900) with a green
# line at each lap's end, and the reward each component paid so far.

# %%
from kart_helpers.display.evaluation_plots import plot_rollout
from kart_helpers.display.video import video_beside, write_video

video = write_video(agent.screens, "runs/07_video/agent.mp4", fps=15)
fig = plot_rollout(agent, "the agent's race")
video_beside(video, fig)

# %% [markdown]
# ## 3. Lap times against par
#
# A lap ends on the frame the `laps` counter goes up; its time is the race clock
# (`current_frame`) then, minus the clock at the previous lap's end. The expert is the scripted
# driver of `kart_helpers.game.expert`; its five laps are the par time.

# %%
from IPython.display import Markdown

from kart_helpers.evaluate.report import lap_table
from kart_helpers.game.expert import expert_drive

expert_trace, expert_clock = expert_drive(evaluation.config.state)
print(f"par: {expert_clock.race_frames} frames = {expert_clock.race_frames / 60:.2f} s")
Markdown(lap_table(agent, expert_clock))

# %% [markdown]
# ## 4. Where the agent loses time
#
# Put the agent's RAM next to the expert's. The speed shows where it brakes, scrubs speed in a
# bend or hits a wall; the lap counter shows how far behind it falls; `surface` shows off-road
# (0x54 = 84) and wall contact (0x80 = 128).

# %%
from kart_helpers.display.evaluation_plots import plot_traces

plot_traces(agent.trace, expert_trace, names=("speed", "laps", "surface"))
# %% [markdown]
# ### The racing line
#
# The same two races from above: each line is the kart's `x`, `y` from RAM, one point per frame,
# coloured by its `speed`. Where the agent's line is dark, it was slow: a wall, the grass, or a
# bend taken too fast. The red circles mark the checkpoint zones where it lost the most time to
# the expert: the race clock when each driver first reached every zone gives the time each spent
# in it, lap after lap, and the circles show the agent's time minus the expert's.

# %%
from kart_helpers.display.racing_line import plot_racing_line

plot_racing_line(agent.trace, expert_trace, state=evaluation.config.state)
# %% [markdown]
# And the race itself, the agent on the left and the expert on the right as a ghost, frame by
# frame from the same start: where the expert pulls ahead is where to look in the plots above.

# %%
from kart_helpers.display.video import show_video, side_by_side
from kart_helpers.game.expert import expert_screens

half = [screen[::2, ::2] for screen in agent.screens]  # half size: two races in one small video file
frames = side_by_side(half, [screen[::2, ::2] for screen in expert_screens(evaluation.config.state)])
ghost = write_video(frames, "runs/07_video/ghost.mp4", fps=15)
show_video(ghost, caption="left: the agent · right: the scripted expert (ghost), the same frames of each race")

# %% [markdown]
# The reward components say the same in numbers: where the agent paid penalties the expert did
# not, it lost time. The agent's frames include the frames it waited on the grid before its
# first step (`agent.noops`, the random start of notebook 05), so a race cut by the 7,200-frame
# time limit shows a few more than 7,200.

# %%
from kart_helpers.scenario.python_reward import run_python
from kart_helpers.scenario.replay import summarize

print("agent:\n", summarize(agent.run), sep="")
print("\nexpert:\n", summarize(run_python(expert_trace)), sep="")

# %% [markdown]
# ## 5. Sampled actions, and several checkpoints
#
# In training, the agent *samples* its actions. Evaluated with sampling it often drives worse
# than with its most likely action, and it varies from race to race. And a run's checkpoints
# show how the driving improved epoch by epoch.
#
# The table ranks the races by how far they got: checkpoint zones driven through (30 a lap),
# then the race time. Reward is no ranking: a kart that sits on a wall for the whole time limit
# piles up penalties, while one that turned back early did not. The first rows are this
# section's picks of the run's epochs; the greedy race of section 2 is in the table too.
#
# Which epochs are there depends on the run. A full run keeps only its newest 3 epochs
# (`keep_epochs`, about 20 MB each), so its table sets the end of training beside `best.pt`.
# "Best" is the trainer's pick: the epoch whose training episodes earned the most on average,
# with sampled actions and half of them starting mid-lap. Raced greedily from the grid, a later
# epoch can well be faster, and the table shows it when it is.
#
# A short run (the smoke run, or the tiny one trained above) still has its first epochs. An
# early, barely trained checkpoint sometimes shows a lap: its actions are still close to
# uniform, and the kart can wobble round the Ring by luck, at a fraction of the expert's speed
# (look at its race time). The later checkpoints drive round on purpose, lap after lap.

# %%
from IPython.display import display

from kart_helpers.display.evaluation_plots import plot_comparison
from kart_helpers.evaluate.report import compare
from kart_helpers.train.checkpoints import list_checkpoints

epochs = list_checkpoints(run)
picks = sorted({epochs[0], epochs[len(epochs) // 2], epochs[-1]}) if epochs else []
evaluations = [evaluate_checkpoint(p, max_frames=MAX_FRAMES, video=False) for p in picks]
stochastic = evaluate_checkpoint(checkpoint, deterministic=False, max_frames=MAX_FRAMES, video=False)
labels = [p.stem for p in picks] + [f"{checkpoint.stem} (greedy)", f"{checkpoint.stem} (sampled)"]
display(Markdown(compare([*evaluations, evaluation, stochastic], labels)))
plot_comparison([*evaluations, evaluation, stochastic], labels, par=expert_clock)
# %% [markdown]
# ## Exercise
#
# The mean speed says a lot about a driver. Compute the agent's and the expert's mean `speed`
# over their races from the RAM traces, `agent.trace` and `expert_trace`:
# `trace.column(name)` gives one variable per frame, as a NumPy array. Replace the two `...`.

# %%
agent_mean_speed = ...  # your answer: the agent's mean speed; see the hint above
expert_mean_speed = ...  # your answer: the expert's mean speed

# %%
from kart_helpers.exercises import answer, check_mean_speeds

agent_mean_speed = answer("07_mean_speed", agent_mean_speed, trace=agent.trace)
expert_mean_speed = answer("07_mean_speed", expert_mean_speed, trace=expert_trace)
check_mean_speeds(agent_mean_speed, expert_mean_speed, agent.trace, expert_trace)
print(f"Correct: the agent averages {agent_mean_speed:.0f}, the expert {expert_mean_speed:.0f} (top speed 900).")

# %% [markdown]
# ## 6. The path to the real game
#
# Everything here runs unchanged on Super Mario Kart, because Practice Kart keeps its race state
# at the same RAM addresses:
# 1. Import your ROM: [01 · Import a ROM](01_import_rom.ipynb) (`kart_helpers.rom.importer.import_rom`).
# 2. Make its start state on the Mario Circuit 1 grid: [03 · Start states](03_start_state.ipynb)
#    saves it as `Level1` in your user folder.
# 3. Train with the same command, naming the game and that state:
#
#    ```
#    python -m kart_helpers.train --game MarioKart-Snes --state Level1 --total-steps 2000000 --log-dir runs/smk
#    ```
#
#    Ten times the steps is a fair start: the real tracks are longer and busier than Practice Kart's.
# 4. Evaluate it here with `evaluate_checkpoint("runs/smk")`. There is no scripted expert for the
#    real game; compare with the records instead (Mario Circuit 1: about 56 s for five laps).
#
# ## What you learned
# - A rollout drives with the policy, then replays the presses frame by frame for RAM, video
#   and reward components.
# - Lap times come from RAM (`laps`, `current_frame`), and par from the scripted expert.
# - RAM traces side by side show where the agent loses time.
# - Deterministic and sampled evaluations differ; checkpoints compare in one table.
#
# ## Next
# Train longer (`python -m kart_helpers.train`), try the hard track (`--state Level2`), or take
# the path to the real game above.
