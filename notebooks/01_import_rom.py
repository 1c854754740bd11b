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
# # 01 · Import a ROM, and make your first environment
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/kart-rl/kart-rl-course/blob/main/notebooks/01_import_rom.ipynb)
#
# **Learning goals**
# - Know what a ROM file and a stable-retro integration folder are.
# - Identify a ROM by its SHA-1, and spot and remove a 512-byte copier header.
# - Import a ROM with `import_rom`, and read its errors when the file is wrong.
# - Register custom integration paths and make an env with `make_env`.
# - Read the raw observation and action spaces, and take a random drive.
#
# **Prerequisites:** [00 · Setup](00_setup.ipynb).

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
# ## 1. What is a ROM?
#
# A ROM file is a copy of the chips in a game cartridge: program code, graphics and music, as
# one block of bytes. A SNES ROM is a few hundred KiB to a few MiB. Super Mario Kart is 512 KiB,
# and Practice Kart is 256 KiB.
#
# The cartridge also carries an **internal header**, 64 bytes near the end of the first 32 KiB
# bank. It holds the game's title, the map mode, and the ROM and save-RAM sizes. Let's read
# Practice Kart's.

# %%
import hashlib

from kart_helpers.emulator.integration import find_file
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.rom.identify import identify_rom

rom_path = find_file(PRACTICE_GAME, "rom.sfc")
rom = rom_path.read_bytes()
print(f"{rom_path.name}: {len(rom)} bytes = {len(rom) // 1024} KiB")
print("internal title:", rom[0x7FC0:0x7FD5].decode("ascii"))
print("SRAM size:", 2 ** rom[0x7FD8], "KiB   (Super Mario Kart also declares 2 KiB)")

# %% [markdown]
# ### SHA-1: a fingerprint of the whole file
#
# Two files with the same SHA-1 are, for all practical purposes, identical. Each integration
# folder has a `rom.sha` file with the fingerprint of the one ROM it was written for.
# `identify_rom` compares a file against it.

# %%
print("SHA-1 of our file:    ", hashlib.sha1(rom).hexdigest())
print("rom.sha of the folder:", find_file(PRACTICE_GAME, "rom.sha").read_text().strip())
print(identify_rom(rom, game=PRACTICE_GAME))

# %% [markdown]
# ### Copier headers
#
# Many old dumps (`.smc` files) start with 512 extra bytes that 1990s copier devices added. The
# game is the same, but every byte is shifted, so the SHA-1 no longer matches. A copier header
# is easy to spot: the file size is 512 bytes more than a multiple of 1 KiB. Let's make a
# headered copy and see what `identify_rom` says.

# %%
headered = bytes(512) + rom
print(f"{len(headered)} bytes, {len(headered) % 1024} bytes over a multiple of 1 KiB")
print("SHA-1 with the header:", hashlib.sha1(headered).hexdigest())
print(identify_rom(headered, game=PRACTICE_GAME))

# %% [markdown]
# ## 2. The integration folder
#
# stable-retro needs more than the ROM. An **integration folder** tells it how to read and
# score the game:

# %%
from kart_helpers.emulator.integration import game_dir

for path in sorted(game_dir(PRACTICE_GAME).iterdir()):
    print(f"{path.name:16} {path.stat().st_size:>8} bytes")

# %% [markdown]
# | file | what it does |
# |---|---|
# | `rom.sfc`, `rom.sha` | the game, and the fingerprint it must have |
# | `data.json` | named RAM variables: address and type (notebook 02) |
# | `*.state` | save states to start episodes from (notebook 03) |
# | `metadata.json` | which state is the default |
# | `scenario.json`, `script.lua` | the reward and when an episode ends (notebook 04) |
#
# `MarioKart-Snes/` has the same files, except the ROM and the states. You bring those.
#
# ## 3. Import a ROM with `import_rom`
#
# `import_rom` accepts a path, raw bytes, a `.zip`, or an upload from the widget below. It
# checks the SHA-1, strips a copier header if that makes the SHA-1 match, and writes `rom.sfc`
# into your **user folder**, never into the installed package. A file that fails the check is
# refused with a message, and it never replaces a good ROM.
#
# We practise on copies of Practice Kart, importing them as `PracticeKart-Snes`, into a
# scratch user folder: the user folder is searched first, so a practice copy left in your real
# one would shadow the ROM that ships with the package. First the headered copy:

# %%
import os
import tempfile

from kart_helpers.rom.identify import RomError
from kart_helpers.rom.importer import import_rom

real_user_folder = os.environ.get("KART_INTEGRATIONS")
os.environ["KART_INTEGRATIONS"] = tempfile.mkdtemp(prefix="practice_user_folder_")

written = import_rom(headered, game=PRACTICE_GAME)
print("written:", written)
print("matches rom.sha:", hashlib.sha1(written.read_bytes()).hexdigest() == hashlib.sha1(rom).hexdigest())

# %% [markdown]
# Now two wrong files: a ROM cut short, as a broken download would be, and something that is
# not a ROM at all. Read the messages. They say what the file is, what was expected, and what
# to do next.

# %%
for label, wrong in [("truncated ROM", rom[:200_000]), ("a text file", b"hello, I am not a ROM\n" * 100)]:
    try:
        import_rom(wrong, game=PRACTICE_GAME)
    except RomError as err:
        print(f"--- {label} ---\n{err}\n")

# %% [markdown]
# A zip archive works too. `import_rom` reads it in memory: it never extracts files by their
# stored names, and it refuses members that are suspiciously large.

# %%
import io
import zipfile

buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr("Practice Kart (World).sfc", rom)
print("from a zip:", import_rom(buffer.getvalue(), game=PRACTICE_GAME))

# %% [markdown]
# That's the practice done: back to your real user folder.

# %%
if real_user_folder is None:
    del os.environ["KART_INTEGRATIONS"]
else:
    os.environ["KART_INTEGRATIONS"] = real_user_folder

# %% [markdown]
# ### Your own Super Mario Kart ROM
#
# If you own the cartridge and have made a dump of it, import it with a path:
#
# ```python
# import_rom("/path/to/Super Mario Kart (USA).sfc")   # game="MarioKart-Snes" is the default
# ```
#
# In Colab, use the upload widget. Choose the file and run the next cell again. Nothing happens
# until you upload something, and in CI nobody does.
#
# The import writes one file into your user folder, `MarioKart-Snes/rom.sfc`. From then on,
# notebooks 06 and 07 train and race on Super Mario Kart instead of Practice Kart (the last
# line below says which game they will use). To go back to Practice Kart, delete that file;
# your own dump, wherever you keep it, is never touched.

# %%
import ipywidgets as widgets

upload = widgets.FileUpload(accept=".sfc,.smc,.zip", multiple=False, description="ROM file")
upload

# %%
from kart_helpers.rom.importer import rom_status

if upload.value:
    try:
        print("imported:", import_rom(upload))
    except RomError as err:
        print(err)
else:
    print("No file uploaded.")
print(rom_status().message)

# %% [markdown]
# ## 4. Custom integration paths
#
# stable-retro ships integrations for hundreds of games, but not ours. We add our folders to
# its search path:
# - the **user folder**, searched first, holds your ROM and states;
# - the **shipped folder** holds the rest.
#
# stable-retro looks each file up separately, so your `MarioKart-Snes/rom.sfc` is used with
# the shipped `data.json`. The paths must be **absolute**. With a relative path, stable-retro
# fails later with an unhelpful "No romfiles found".

# %%
import stable_retro as retro

from kart_helpers.emulator.integration import list_games, register

for folder in register():
    print("searched:", folder)
print("our games with a ROM:", list_games())
print("stable-retro finds the ROM at:", retro.data.get_romfile_path(PRACTICE_GAME, retro.data.Integrations.ALL))

# %% [markdown]
# ## 5. Make an environment
#
# `make_env` registers the paths, closes any emulator this notebook made before (only one may
# exist per process), and asks for `render_mode="rgb_array"`, so frames come back as arrays
# instead of opening a window. If a file is missing, it says which file, where it looked, and
# what to do:

# %%
from kart_helpers.emulator.env import make_env
from kart_helpers.emulator.integration import IntegrationError

try:
    make_env(PRACTICE_GAME, state="NoSuchState")
except IntegrationError as err:
    print(err)

# %% [markdown]
# Now the real thing. We use the game that `rom_status()` picks: yours if you imported it,
# Practice Kart otherwise.

# %%
game = rom_status().game
print("using", game)
env = make_env(game, use_restricted_actions=retro.Actions.ALL)  # every button reaches the game
obs, info = env.reset(seed=0)
print("observation space:", env.observation_space)
print("action space:     ", env.action_space)
print("buttons:          ", env.unwrapped.buttons)

# %% [markdown]
# - **Observation:** the whole screen, 224 × 256 pixels × 3 colour channels, as `uint8`.
# - **Action:** `MultiBinary(12)`, one on/off value per SNES button, all pressed or released
#   together each frame. That is 4,096 combinations, and most are useless.
#
# We asked for `retro.Actions.ALL`, so every button press reaches the game. stable-retro's
# default, `Actions.FILTERED`, silently drops some buttons, START among them (more in
# notebook 05).
#
# ## 6. A random drive
#
# What does a random agent do? Sample actions from the action space and look at every 60th frame.

# %%
from kart_helpers.display.frames import show_frames
from kart_helpers.smoke import steps

frames, infos = [], []
for t in range(steps(full=600, smoke=240)):
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    if t % 60 == 59:
        frames.append(obs)
        infos.append(info)
show_frames(frames, [f"frame {60 * (k + 1)}: race clock {i['current_frame']}" for k, i in enumerate(infos)]);

# %% [markdown]
# Compare the frame number with the race clock (`current_frame`). The clock counted only
# about half the frames. Random buttons press **START** half the time, and each new press
# pauses or resumes the game, just as in Super Mario Kart. Meanwhile B (accelerate) and
# Y (brake) cancel out, so the kart hardly moves. Let's instead sample from a few useful
# combinations: accelerate, accelerate and steer, or hop.

# %%
import numpy as np

from kart_helpers.emulator.buttons import action_for

combos = ["B", "B+LEFT", "B+RIGHT", "B+L"]
rng = np.random.default_rng(0)
env.reset()
frames, titles = [], []
for t in range(steps(full=600, smoke=240)):
    obs, reward, terminated, truncated, info = env.step(action_for(rng.choice(combos), env.unwrapped.buttons))
    if t % 60 == 59:
        frames.append(obs)
        titles.append(f"frame {t + 1}: speed {info['speed']}, checkpoint {info['checkpoint']}")
show_frames(frames, titles);

# %% [markdown]
# Now the kart moves, and `checkpoint` tells us how far it got. The view turns with the kart,
# so the road ahead always points up the screen. When the kart meets a wall, the wall bounces
# it away, as in Super Mario Kart, so even a random driver never stays stuck. Choosing the
# action set is part of the design (notebook 05).
#
# ## Exercise
#
# Find the **speed** after holding B (accelerate) for 120 frames from the start state. The cell
# below drives; replace the `...` with an expression that reads the speed from the `info` dict
# of the last step, and run it. The check below compares your value with the speed in RAM.

# %%
env.reset()
for _ in range(120):
    obs, reward, terminated, truncated, info = env.step(action_for("B", env.unwrapped.buttons))
my_speed = ...  # your answer: the speed now, read from info; see the hint above

# %%
from kart_helpers.exercises import answer, check_speed

my_speed = answer("01_speed", my_speed, info=info)
check_speed(my_speed, env)
print(f"Correct: {my_speed} after 2 seconds of throttle (top speed on road is about 900).")

# %% [markdown]
# ## What you learned
# - A ROM is the cartridge's bytes, and its SHA-1 identifies it. A 512-byte copier header
#   changes the SHA-1, and `import_rom` strips it.
# - An integration folder holds the ROM and the files that describe the game. Yours live in a
#   user folder that is searched first.
# - `make_env` gives a Gymnasium env with 224×256×3 frames and 12 buttons. Random buttons pause
#   the game, so an agent needs a small, useful action set.
#
# ## Next
# [02 · Map the RAM](02_map_ram.ipynb): find the lap counter, speed and checkpoints in memory
# yourself.
