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
# # 03 · Start states: from power-on to the start grid
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/kart-rl/kart-rl-course/blob/main/notebooks/03_start_state.ipynb)
#
# **Learning goals**
# - Write a button script that drives the menus from power-on to the start grid, and watch it.
# - Check from RAM, not from the picture, that the kart is waiting on the grid.
# - Save `Level1.state` into your user folder, set `metadata.json`, and start an env from it.
# - Recognise a broken or foreign state file, and make random starts for variety.
# - Drive the emulator by hand with a widget when a script stops in the wrong place.
#
# **Prerequisites:** [02 · Map the RAM](02_map_ram.ipynb) (the variables of `data.json`).

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
# ## 1. Why a start state?
#
# Every episode begins with `env.reset()`, and `reset()` loads a **save state**: a snapshot of
# the whole console (CPU, RAM, video memory, sound) at one instant. A racing agent should start
# on the grid, not at the title screen. So we drive through the menus once, save the moment the
# race begins, and every episode starts there.
#
# Without a state (`state=POWER_ON`), stable-retro boots the console, but `reset()` then does
# not rewind: the second episode would start wherever the first one ended.
#
# This notebook uses the game that `rom_status()` picks: your Super Mario Kart if you imported
# it, Practice Kart otherwise.

# %%
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.rom.importer import rom_status

game = rom_status().game
print(rom_status().message)

# %% [markdown]
# ## 2. A button script
#
# A **button script** is a list of steps `(buttons, frames, note)`: hold `buttons` (names joined
# with `+`, or `""` for none) for `frames` frames. The SNES runs 60 frames per second. The note
# says what the step is for. A press of 2 frames is a tap; the waits give each menu time to
# appear, because a press during a screen transition is lost.

# %%
from kart_helpers.emulator.buttons import format_script
from kart_helpers.emulator.start_scripts import START_SCRIPTS

script = START_SCRIPTS[game]
print(format_script(script))

# %% [markdown]
# ## 3. Play it from power-on
#
# `play_script` boots the console, plays each step, and keeps the screen at the end of each
# step. It allows every button (`Actions.ALL`). The default, `Actions.FILTERED`, silently drops
# START and SELECT, so a menu would never open (notebook 04 shows why).

# %%
from kart_helpers.display.frames import show_frames
from kart_helpers.emulator.drive import play_script

run = play_script(game, script)
show_frames(run.frames, run.captions, cols=4, scale=2);
# %% [markdown]
# ## 4. Is the kart on the grid?
#
# A picture can mislead: the last countdown frame and the first race frame look alike. RAM does not.
# On the grid, `laps` is 127 (it becomes 128 at the first crossing of the line), a course is
# loaded (`num_checkpoints` > 0), the kart stands still, and the race clock has not run.
# `grid_problems` lists whatever is not so.

# %%
from kart_helpers.emulator.start_scripts import grid_problems

print(run.info)
problems = grid_problems(run.info, game)
print("on the grid" if not problems else "NOT on the grid:\n- " + "\n- ".join(problems))

# %% [markdown]
# ## 5. Save `Level1.state` and set `metadata.json`
#
# A `.state` file is the emulator's snapshot, gzipped. `save_start_state` writes it into your
# **user folder**, which stable-retro searches before the shipped one, so your state wins. The
# installed package is never written to. It also sets `default_state` in the `metadata.json`
# beside it: that is the state `make_env(game)` loads when you name none.
#
# **This cell writes two files into your user folder**, `Level1.state` and `metadata.json`,
# and they stay there for every later notebook and run. On Practice Kart they are the same as
# the shipped ones, so nothing changes. To undo it, delete the two files (the cell prints where
# they are); the shipped `Level1` is then used again. For the real game you need them: there is
# no shipped state to fall back on.

# %%
from kart_helpers.emulator.states import save_start_state, start_states

if not problems:
    path = save_start_state(run.env, "Level1", game)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    print((path.parent / "metadata.json").read_text())
else:
    print("Not saved: the script did not reach the grid. See sections 9 and 10.")
for entry in start_states(game):
    print(f"{entry.name:12} {entry.where:8} {'default' if entry.default else '':8} {entry.path}")

# %% [markdown]
# On Practice Kart, your `Level1.state` should be exactly the one that ships with the course:
# the game is deterministic, and the script is the one that made the shipped state.

# %%
from kart_helpers.emulator.integration import game_dir
from kart_helpers.emulator.states import read_state

if game == PRACTICE_GAME and not problems:
    same = read_state(path) == read_state(game_dir(game) / "Level1.state")
    print("identical to the shipped Level1.state:", same)

# %% [markdown]
# ## 6. Start an environment from it
#
# `make_env(game)` now loads your state. `reset()` rewinds to it, so two episodes with the same
# actions are the same frame for frame. We drive two seconds, reset, and compare the RAM.

# %%
import numpy as np

from kart_helpers.emulator.buttons import action_for
from kart_helpers.emulator.env import make_env

env = make_env(game)
env.reset()
start_ram = env.unwrapped.get_ram().copy()
for _ in range(120):
    obs, reward, terminated, truncated, info = env.step(action_for("B", env.unwrapped.buttons))
print("after 2 s of throttle: speed", info["speed"], "laps", info["laps"])
env.reset()
print("reset() is back on the grid, RAM identical:", np.array_equal(env.unwrapped.get_ram(), start_ram))
show_frames([env.render()], ["after reset()"], cols=1);
# %% [markdown]
# ## 7. When a state file is wrong
#
# stable-retro loads a state with `em.set_state()` and ignores its answer. A damaged file, or a
# state from another emulator, leaves the console as it was, with no message, and you train on
# the wrong start. `read_state` and `load_state` check the file first: gzip, then the snes9x
# snapshot's blocks one by one. Here are three bad files: a state cut in half (an interrupted
# copy), a Sega Genesis state (stable-retro ships one with its Airstriker demo), and a text file.

# %%
import gzip
import tempfile
from pathlib import Path

import stable_retro as retro

from kart_helpers.emulator.states import StateError

good = (game_dir(PRACTICE_GAME) / "Level1.state").read_bytes()
genesis = retro.data.get_file_path("Airstriker-Genesis-v0", "Level1.state", retro.data.Integrations.STABLE)
bad_files = {
    "cut.state": gzip.compress(gzip.decompress(good)[:200_000]),
    "genesis.state": Path(genesis).read_bytes(),
    "notes.state": b"remember to buy milk\n",
}
folder = Path(tempfile.mkdtemp())
for name, content in bad_files.items():
    (folder / name).write_bytes(content)
    try:
        read_state(folder / name)
    except StateError as err:
        print(f"{name}: {err}\n")

# %% [markdown]
# ## 8. Random starts for variety
#
# An agent that always starts on the grid practises the first corner a thousand times before
# it sees the last one. Starting some episodes further round the track evens that out.
# `random_starts` drives from the reset state and takes snapshots at random moments. On
# Practice Kart the scripted expert drives, so every snapshot is on the road; on the real game
# it holds the throttle and steers at random. Notebook 05 has a wrapper that picks one of
# these at each reset.

# %%
from kart_helpers.emulator.random_starts import random_starts
from kart_helpers.emulator.states import load_state
from kart_helpers.game.expert import Expert
from kart_helpers.smoke import steps

driver = Expert(0).buttons if game == PRACTICE_GAME else None
starts = random_starts(env, n=steps(full=8, smoke=4), max_frames=760, policy=driver, seed=0)
show_frames(
    [s.screen for s in starts],
    [f"{s.frame} frames in: checkpoint {s.info['checkpoint']}, speed {s.info['speed']}" for s in starts],
    cols=4,
    scale=2,
);
# %% [markdown]
# Each start is a snapshot in memory. `load_state(env, start.state)` puts the console there and
# makes it the state that `reset()` returns to:

# %%
load_state(env, starts[-1].state)
env.reset()
print("reset() now starts at checkpoint", env.unwrapped.data.lookup_value("checkpoint"))

# %% [markdown]
# ## 9. The real game: an untested script
#
# For Super Mario Kart, the course ships `REAL_GAME_START_SCRIPT`: power-on, the title, 1P
# GAME, TIME TRIAL, Mario, Mushroom Cup, Mario Circuit 1. It is **unverified**. It was written
# from the game's menus as players know them, and it has never been run here, because the ROM
# can never be used in CI. `REAL_GAME_SCRIPT_VERIFIED` says so:

# %%
from kart_helpers.emulator.start_scripts import REAL_GAME_SCRIPT_VERIFIED, REAL_GAME_START_SCRIPT

print("verified on the real ROM:", REAL_GAME_SCRIPT_VERIFIED)
print(format_script(REAL_GAME_START_SCRIPT))

# %% [markdown]
# If you imported your ROM, sections 3 to 5 already ran this script on it. If section 4 said
# "NOT on the grid":
# 1. Look at the frames of section 3 and find the first one that shows the wrong screen.
# 2. The step before it was too early (make the wait before it longer) or pressed the wrong
#    button (the game may want A where the script presses B).
# 3. Edit `script` in section 2 and run again, or finish by hand with the widget below.
#
# ## 10. Drive by hand
#
# The widget holds the buttons you toggle on, advances 1, 10 or 60 frames at a time, shows the
# screen, and tells you when the kart is on the grid. Type a name and press **Save state**:
# the state goes into your user folder. With "make it the default" ticked, it also becomes the
# state `make_env(game)` loads, in every later notebook. Tick it only for a state on the grid:
# the RAM searches of notebook 02 and the training of notebook 06 expect one. To put the default
# back, run `set_default_state(user_game_dir(game), "Level1")` (from
# `kart_helpers.emulator.states` and `kart_helpers.emulator.integration`). The widget starts at
# power-on.

# %%
from kart_helpers.display.drive_widget import drive_widget

widget = drive_widget(game)
widget

# %% [markdown]
# The widget remembers what you played as a button script, so a way you found by hand can
# become a script. The same driver works from code. On Practice Kart, these presses reach the
# grid:

# %%
hand = widget.driver
for buttons, frames in [("", 20), ("START", 2), ("", 20), ("START", 2), ("", 118)]:
    hand.hold(buttons)
    hand.advance(frames)
widget.refresh()
print(format_script(hand.script))
print("on the grid" if not hand.on_grid() else hand.on_grid())

# %% [markdown]
# ## Exercise
#
# Make a **flying start**: a state one second into the race, at full throttle, so an agent can
# practise the first corner at speed. Full throttle means B held from the green light; one second
# of it takes the kart past 300 on the speedometer, well short of its top speed of 900, because the
# kart gains 6 a frame and needs two and a half seconds to get there. Write `flying_script`, the
# button script that gets there from your grid state. The check plays it from `Level1`, saves the
# state in a scratch folder and loads it back, the way `reset()` would, and tells you whether it is
# one second in and fast. It writes nothing into your user folder, right answer or wrong, so you
# can try as often as you like: your states and `metadata.json` stay as they were. It hands the
# flying start back to you as bytes, and `load_state` puts an env there.

# %%
flying_script = ...  # your answer: a button script, a list of (buttons, frames, note) steps; see the hint above

# %%
from kart_helpers.emulator.states import default_state
from kart_helpers.exercises import answer, check_flying_start

flying_script = answer("03_flying_start", flying_script)
flying_state = check_flying_start(game, flying_script)
flying = make_env(game, state="Level1")
load_state(flying, flying_state)
flying.reset()
speed = flying.unwrapped.data.lookup_value("speed")
print(f"Correct: the flying start begins at speed {speed}, one second into the race.")
print(f"Nothing was saved: the default state is still {default_state(game)}.")
show_frames([flying.render()], ["the flying start"], cols=1);

# %% [markdown]
# One second of throttle does not reach top speed (900): the kart is still accelerating, which
# is what makes the first corner different from a standing start.
#
# To train from it later (`python -m kart_helpers.train --state FlyingStart`), keep it: set
# `keep_flying_start = True` and run the cell. It writes `FlyingStart.state` into your user
# folder and does **not** make it the default (`make_default=False`), so `make_env(game)` still
# starts on the grid. To undo it, delete that file.

# %%
keep_flying_start = False  # True: save it into your user folder

if keep_flying_start:
    kept = save_start_state(flying, "FlyingStart", game, make_default=False)
    print(f"wrote {kept}; delete that file to undo")
else:
    print("not saved (set keep_flying_start = True to keep it)")

# %% [markdown]
# ### What this notebook left in your user folder
#
# Files in your user folder take the place of the shipped ones with the same name, in every
# later notebook and run. Here is what is there now, and which shipped file each one hides:

# %%
from kart_helpers.emulator.integration import shipped_integrations_dir, user_game_dir

for mine in sorted(user_game_dir(game).iterdir()):
    hides = (shipped_integrations_dir() / game / mine.name).exists()
    print(f"{mine}  ({'replaces the shipped one' if hides else 'yours only'})")

# %% [markdown]
# ## What you learned
# - A button script is a list of `(buttons, frames, note)` steps. Played from power-on with
#   every button allowed, it drives the menus, and its frames show where it went.
# - RAM tells you that the kart is on the grid: `laps` 127, a course loaded, standing still,
#   the clock at 0.
# - `save_start_state` writes a gzipped snapshot into your user folder and sets
#   `default_state` in `metadata.json`. `make_env(game)` then starts there, and `reset()`
#   rewinds there. What you save there stays for every later notebook; delete a file to undo it.
# - stable-retro ignores a state it cannot load; `read_state` and `load_state` tell you why.
# - The real game's script is unverified. When a script fails, fix its waits or drive by hand
#   with the widget, and save from there.
#
# ## Next
# [04 · The reward scenario](04_reward_scenario.ipynb): what the agent is paid for, and how to
# test the reward script without the emulator.
