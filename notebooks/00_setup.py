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
# # 00 · Setup: check the install and meet Practice Kart
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/kart-rl/kart-rl-course/blob/main/notebooks/00_setup.ipynb)
#
# **Learning goals**
# - Check that stable-retro, its SNES emulator core, and the course package work.
# - Know whether you are in Colab or running locally.
# - See the course map, and choose between the practice ROM and your own Super Mario Kart ROM.
# - Boot Practice Kart and look at its first frames.
#
# **Prerequisites:** none. This is the first notebook.

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
# ## 1. Check the installation
#
# The course stands on a few libraries:
# - **stable-retro** runs the SNES emulator (snes9x) and turns a game into a Gymnasium environment.
# - **Gymnasium** gives the `reset`/`step` interface.
# - **Tianshou** and **PyTorch** train the agent later.
# - **lupa** lets us test the reward scripts (Lua) without the emulator.
#
# `report()` checks each one and raises an error that names anything that is missing.

# %%
from kart_helpers.setup_check import in_colab, report

print(report())

# %% [markdown]
# ## 2. Colab or local?
#
# Colab opens one notebook at a time, not the whole repository. That is why the setup cell
# installs the package: everything a notebook needs, the practice ROM included, ships inside it.
# Files you create yourself, such as your imported ROM and your save states, go to a writable
# **user folder**. In Colab, that folder disappears when the runtime is recycled.

# %%
from kart_helpers.emulator.integration import shipped_integrations_dir, user_integrations_dir

print("Colab:" if in_colab() else "Local:", "yes" if in_colab() else "running on this machine")
print("shipped integrations:", shipped_integrations_dir())
print("your files go to:    ", user_integrations_dir())

# %% [markdown]
# stable-retro looks every file up in your user folder first, and in the shipped folder only
# when it is not there. So a file in your user folder **takes the place of** the shipped file
# with the same name, in every notebook and every run, until you delete it. The course puts
# these there: your ROM (notebook 01), your start states and the default state named in
# `metadata.json` (notebook 03), and any `data.json` or scenario you choose to keep (notebooks
# 02 and 04). Each notebook that writes there says so, and how to undo it. Here is what your
# user folder holds now:

# %%
user, shipped = user_integrations_dir(), shipped_integrations_dir()
mine = sorted(p.relative_to(user) for p in user.rglob("*") if p.is_file())
for name in mine:
    print(f"{name}: {'replaces the shipped one' if (shipped / name).is_file() else 'yours only'}")
print(f"{len(mine)} file(s) of yours" if mine else "nothing yet: every file comes from the shipped folder")

# %% [markdown]
# If a later notebook behaves differently from what its text says, look here first. To undo one
# file, delete it. To start afresh, delete the whole folder (your imported ROM goes with it):
# `shutil.rmtree(user_integrations_dir())`.

# %% [markdown]
# ## 3. The course map
#
# | # | notebook | you learn |
# |---|---|---|
# | 00 | setup | check the install, meet Practice Kart |
# | 01 | import_rom | ROMs, SHA-1, copier headers, integration folders, `make_env`, a random drive |
# | 02 | map_ram | the SNES memory map, RAM search, types and endianness, `data.json` |
# | 03 | start_state | button scripts through the menus, save states, `metadata.json` |
# | 04 | reward_scenario | `scenario.json` and `script.lua`, reward components, reward farming |
# | 05 | wrappers | action sets, the observation pipeline, throughput |
# | 06 | train_ppo | PPO with Tianshou, live plots, checkpoints |
# | 07 | evaluate | rollouts, videos, lap times against the expert's par |
#
# ### Practice Kart or the real game?
#
# We cannot ship Super Mario Kart, so the course ships **Practice Kart**, a small SNES racing
# game written for this course. It keeps its race state at the same RAM addresses as Super
# Mario Kart, so the same `data.json`, `scenario.json` and `script.lua` work on both. Every
# notebook runs on Practice Kart. Once you import your own Super Mario Kart ROM (notebook 01),
# the notebooks switch to the real game and tell you which one they are using.

# %%
from kart_helpers.rom.importer import rom_status

status = rom_status()
print(status.message)

# %% [markdown]
# ## 4. Boot Practice Kart
#
# `make_env` builds a stable-retro environment from our integration folders.
# `state=retro.State.NONE` powers the console on instead of loading a save state, so we see
# what a player sees: the title screen, the track select, then the countdown on the grid.
#
# A **button script** is a list of `(buttons, frames)` steps. `run_script` plays one and keeps
# the last frame of each step.

# %%
import stable_retro as retro

from kart_helpers.display.frames import show_frames
from kart_helpers.emulator.drive import run_script
from kart_helpers.emulator.env import make_env
from kart_helpers.game.constants import PRACTICE_GAME

env = make_env(PRACTICE_GAME, state=retro.State.NONE, use_restricted_actions=retro.Actions.ALL)
env.reset()
script = [("", 20), ("START", 2), ("", 20), ("START", 2), ("", 50), ("", 80)]
frames = run_script(env, script, keep_frames=True)
show_frames(
    [frames[0], frames[2], frames[4], frames[5]],
    ["title (frame 20)", "track select", "countdown", "GO: the race clock runs"],
);

# %% [markdown]
# The screen is laid out like Super Mario Kart's:
# - the **top half** is the race, seen from just behind the kart: the view turns with the
#   kart, so the road ahead always runs up the screen, and farther road is drawn smaller (the
#   SNES's Mode 7, as in Super Mario Kart). The time, lap and speed sit in the top rows;
# - the **bottom half** is the whole track, with a dot for the kart.
#
# Later, the agent sees only the top half (notebook 05).
#
# The emulator also exposes the game's RAM. The variables named in `data.json` arrive in the
# `info` dict of every step:

# %%
import numpy as np

obs, reward, terminated, truncated, info = env.step(np.zeros(12, dtype=np.int8))
print("frame:", obs.shape, obs.dtype)
print(info)

# %% [markdown]
# The kart waits on the grid: `laps` is 127, and it becomes 128 when the kart first crosses
# the line. `checkpoint` is 29, the last of 30 zones, just behind the line.
#
# ## Exercise
#
# The track select has two tracks. Write a button script, `my_script`, that goes from power-on
# to the grid of the **second** track, Hairpin Hills. Start from the script of section 4: it
# picks the first track. On the track-select screen, press DOWN before START, and leave a few
# frames between presses. Replace the `...` below with your script, run the cell, then run the
# check under it. The check plays your script from power-on and reads the kart's start
# position from RAM.

# %%
my_script = ...  # your answer: a button script, a list of (buttons, frames) steps; see the hint above

# %%
from kart_helpers.exercises import answer, check_track_select

my_script = answer("00_track_select", my_script)
env = check_track_select(my_script)
print("Correct: you are on the grid of Hairpin Hills.")
show_frames([env.render()], ["Hairpin Hills"], cols=1);

# %% [markdown]
# ## What you learned
# - How to check the install: `report()` names anything that is missing.
# - The shipped integrations and your own user folder, and why Colab needs the setup cell.
# - Practice Kart mirrors Super Mario Kart's RAM, so everything you build here carries over.
# - A button script drives the emulator through the menus, and `info` shows the RAM variables.
#
# ## Next
# [01 · Import a ROM](01_import_rom.ipynb): what a ROM file is, how to check it, and how to
# import your own Super Mario Kart.
