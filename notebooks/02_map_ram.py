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
# # 02 · Map the RAM: find the game's variables yourself
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/kart-rl/kart-rl-course/blob/main/notebooks/02_map_ram.ipynb)
#
# **Learning goals**
# - Know where RAM sits in the SNES's address space, and the four ways to name one byte.
# - Run a RAM search that finds the lap counter, speed, checkpoint and surface from scratch.
# - Pick a type string (`|u1`, `<i2`, ...): width, sign and byte order, and why `<s2` is wrong.
# - Watch variables while driving, then write a `data.json` and verify it on the emulator.
# - Use the same tools on a different game.
#
# **Prerequisites:** [01 · Import a ROM](01_import_rom.ipynb).

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
# ## 1. The SNES memory map
#
# The SNES CPU sees 16 MiB of addresses: 256 **banks** of 64 KiB, written `$BB:AAAA`. Only a
# few of them are RAM:
#
# | bus addresses | what | size |
# |---|---|---|
# | `$7E:0000-$7F:FFFF` | **WRAM**, the console's work RAM: the game's variables live here | 128 KiB |
# | `$00-$3F:0000-1FFF` | a **mirror** of WRAM's first 8 KiB, the same bytes (quick to reach from code) | 8 KiB |
# | `$70:0000-...` | cartridge **SRAM**, battery-backed save RAM; its size is in the ROM header | 0-32 KiB |
#
# The rest is ROM and I/O registers. stable-retro hands us the RAM as **blocks**, keyed by the
# address that `data.json` uses. `MemoryMap` reads them from a live env.
#
# We name the start state, `state="Level1"`: the grid of Practice Ring. Every search below
# starts from it. Without a name, `make_env` loads the game's *default* state, and that is
# yours to change (notebook 03 shows how): a search made for the grid would not work from
# anywhere else.

# %%
import stable_retro as retro

from kart_helpers.emulator.env import make_env
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.ram.memory_map import MemoryMap

env = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=retro.Actions.ALL)
env.reset()
memory = MemoryMap.from_env(env)
memory.table(memory.read(env))

# %% [markdown]
# `env.unwrapped.get_ram()` glues the blocks together in address order. So one byte has four
# names:
# - a **WRAM offset**, e.g. `$1234`, its place in WRAM (RAM maps on the web often use these);
# - a **bus address**, `$7E:1234`, what the CPU uses;
# - a **data.json address**, the bus address as one integer: `0x7E1234` = 8262196;
# - a **get_ram() index**, which depends on the SRAM size, because SRAM comes before WRAM.

# %%
from kart_helpers.ram.addresses import bus_to_address, wram_to_address

address = bus_to_address("$7E:1234")
print("data.json address:", address, "=", hex(address), "= WRAM offset $1234:", wram_to_address(0x1234) == address)
print("get_ram() index:  ", memory.index_of(address))
print("...in a cartridge with 8 KiB of SRAM:", MemoryMap.snes(sram=8 * 1024).index_of(address))
print("back again:", memory.label(memory.address_of(memory.index_of(address))))
print("$00:0123 and $7E:0123 are one byte:", [memory.label(a) for a in memory.mirrors(bus_to_address("$00:0123"))])

# %% [markdown]
# Practice Kart declares 2 KiB of SRAM, like Super Mario Kart, so the indices match the real
# game's. The functions above work for any SRAM size, because they read the block sizes from the
# env.
#
# ## 2. A RAM search: the lap counter
#
# We know *what* the game must store, but not *where*. A RAM search finds it by elimination:
# 1. take a **snapshot** of all 141,312 bytes: each one is a **candidate**;
# 2. play a little, take another snapshot;
# 3. **filter**: keep only the candidates whose value did what our variable must have done;
# 4. repeat until a handful is left.
#
# The lap counter must go up by one when we cross the start line, and stay put in between. To
# drive, we use the course's scripted **expert**. It steers from positions that someone mapped
# before, but our search never looks at them: the expert is a steady pair of hands, nothing more.

# %%
from kart_helpers.game.expert import Expert
from kart_helpers.ram.search import RamSearch

expert = Expert(track=0)
search = RamSearch.start(env)  # snapshot 0, on the grid
frames = [env.render()]
print(len(search), "candidates: every byte outside the bank $00 mirror")

search.drive(env, "", 20)  # wait: the lap counter cannot change
search.filter("unchanged")
search.drive(env, expert.buttons, 100)  # drive across the line
frames.append(env.render())
search.filter("increased_by", 1)
print("\n".join(search.log))

# %% [markdown]
# From 133,120 to a few. Now drive most of a lap (nothing lap-related may change), then across
# the line again:

# %%
for _ in range(3):
    search.drive(env, expert.buttons, 200)
    search.filter("unchanged")
frames.append(env.render())
search.drive(env, expert.buttons, 200)
frames.append(env.render())
search.filter("increased_by", 1)
search.table()

# %%
from kart_helpers.display.frames import show_frames

show_frames(frames, [f"snapshot at frame {f}" for f in search.frames[[0, 2, 5, 6]]], cols=4, scale=1.6);

# %% [markdown]
# One byte survives. The HUD shows `LAP 1/5` on the grid and after the first crossing; the byte
# behind it counts crossings in its own way, as its history shows. We will find out what the
# numbers mean when we watch it over a lap (section 6).

# %%
laps_address = int(search.addresses[0])
print(f"lap counter: {memory.label(laps_address)} = data.json address {laps_address}")

# %% [markdown]
# ## 3. Speed: how wide, which sign, which byte order
#
# Top speed shows as `SPEED 900` on the HUD: more than one byte (0-255) can hold. So we search
# **16-bit** values. The SNES is little-endian (low byte first), and a kart can reverse, so we
# read them as **signed**: the type string `<i2`. The plan, from the grid:
#
# | drive | speed must be |
# |---|---|
# | wait 10 frames | unchanged, and 0 |
# | accelerate (B), three times | increased |
# | keep B at top speed, then steer too | unchanged (turning keeps speed) |
# | release B | decreased |
# | reverse (Y) | decreased, and below 0 |


# %%
def speed_search(type_string: str) -> RamSearch:
    env.reset()
    s = RamSearch.start(env, type=type_string)
    s.drive(env, "", 10)
    s.filter("unchanged")
    s.filter("equal", 0)
    for frames_held in (30, 30, 100):
        s.drive(env, "B", frames_held)
        s.filter("increased")
    s.drive(env, "B", 10)
    s.filter("unchanged")
    s.drive(env, "B+LEFT", 10)
    s.filter("unchanged")
    s.drive(env, "", 20)
    s.filter("decreased")
    s.drive(env, "Y", 80)
    s.filter("decreased")
    s.filter("less", 0)
    return s


speed = speed_search("<i2")
print("\n".join(speed.log))
speed.table()

# %% [markdown]
# The step "steer at top speed" matters: until then, a second 16-bit value rose with speed.
# It is probably the kart's motion along x: it changes when the heading does, speed does not.
#
# What if we had searched **unsigned** 16-bit values (`<u2`)?

# %%
unsigned = speed_search("<u2")
print("\n".join(unsigned.log[-5:]))

# %% [markdown]
# The search lost it: read as unsigned, reversing does not make the value *decrease*: it jumps
# from 820 to 65,000 and something. Choosing the type is part of the search.
#
# ### Type strings
#
# stable-retro's type strings are byte order + kind + width in bytes:
#
# | char | meaning |
# |---|---|
# | `<` / `>` | little-endian (SNES) / big-endian (Genesis) |
# | `\|` | one byte, so order does not matter |
# | `i` / `u` | signed / unsigned |
# | `d` / `n` | BCD: 2 decimal digits a byte / 1 digit a byte |
# | `1`, `2`, `4`, ... | width in **bytes** |
#
# The same two bytes read five ways. Speed -240 is `0xFF10`, stored low byte first:

# %%
import numpy as np

from kart_helpers.ram.types import DataType

two_bytes = np.array([0x10, 0xFF], dtype=np.uint8)  # as they sit in RAM
for type_string in ["|u1", "<u2", "<i2", ">i2", "<s2"]:
    t = DataType.read_as(type_string)
    print(f"{type_string}: {t.decode(two_bytes[: t.width]):>6}")

# %% [markdown]
# `<s2` is the trap. The original project used it for speed. `s` is not a kind stable-retro
# knows, and it does not complain: it reads the value as **unsigned**. Let's read the speed both
# ways while the kart accelerates and then reverses:

# %%
from kart_helpers.ram.trace import watch

speed_address = int(speed.addresses[0])
env.reset()
both = watch(env, {"as <i2": (speed_address, "<i2"), "as <s2": (speed_address, "<s2")}, [("B", 90), ("Y", 150)])
both.plot(title=f"speed at {memory.label(speed_address)}: accelerate 90 frames, then reverse");

# %%
print("stable-retro itself reads <s2 as:", env.unwrapped.data.memory.extract(speed_address, "<s2"))
print("                     and <i2 as:", env.unwrapped.data.memory.extract(speed_address, "<i2"))

# %% [markdown]
# A reward of "speed" with `<s2` pays the agent 65,000 for reversing. It would learn to drive
# backwards, fast.
#
# ## 4. The checkpoint
#
# A lap is split into zones, and the game tracks which one the kart is in, so that a shortcut
# or a U-turn does not count as a lap. The zone index must **drop** at the start line (new lap)
# and then **rise** as the kart drives on. At full speed it rises every second or so.

# %%
env.reset()
checkpoint = RamSearch.start(env)
checkpoint.drive(env, expert.buttons, 100)  # across the line
checkpoint.filter("decreased")
for _ in range(12):  # every 60 frames, most of a lap
    checkpoint.drive(env, expert.buttons, 60)
    checkpoint.filter("increased")
checkpoint.table()

# %% [markdown]
# Two bytes survive, and their histories are identical. Games often keep a copy of a value;
# Super Mario Kart keeps the checkpoint twice, and so does Practice Kart. Either one works.
#
# ## 5. The surface
#
# The kart slows down on grass. Some byte must say what is under it: one value on road, another
# on grass, back to the first on road again.

# %%
env.reset()
surface = RamSearch.start(env)
surface.drive(env, "B", 40)  # on the road
surface.filter("unchanged")
surface.drive(env, [("B+RIGHT", 16), ("B", 34)])  # onto the grass, south of the road
surface.filter("changed")
surface.drive(env, "B", 10)  # still on grass
surface.filter("unchanged")
surface.drive(env, [("B+LEFT", 32), ("B", 20)])  # back onto the road
surface.filter("changed")
surface.filter("unchanged", ref=0)  # the same value as on the grid
surface.table()

# %% [markdown]
# Three bytes follow road, grass, road. A wall tells them apart. We drive south through the grass
# into the wall, one frame at a time, until the speed we found turns negative in RAM: the bounce.
# On that frame, the surface byte must show something new.
#
# The HUD in the picture still shows a positive number. That is not a contradiction: the HUD
# draws the speed without its sign (backwards at 120 reads 120), so only RAM tells forward from
# back. RAM is what we trust; the caption gives the speed RAM holds.

# %%
surface.reset(env)
surface.drive(env, [("B", 40), ("B+RIGHT", 30), ("B", 20)])
for _ in range(60):
    surface.drive(env, "B", 1)
    if memory.value(surface.snapshots[-1], speed_address, "<i2") < 0:
        break
surface.filter("changed")
surface_address = int(surface.addresses[0])
bounce_speed = memory.value(surface.snapshots[-1], speed_address, "<i2")
caption = f"the bounce: speed {bounce_speed} in RAM, surface byte = {surface.values()[0]}"
show_frames([env.render()], [caption], cols=1, scale=1.6)
surface.table()

# %% [markdown]
# ## 6. Watch the variables over a lap
#
# Now we know where four variables are. `watch` reads them on every frame of a drive, and plots
# them on one time axis.

# %%
from kart_helpers.smoke import steps

found = {
    "laps": (laps_address, "|u1"),
    "checkpoint": (int(checkpoint.addresses[0]), "|u1"),
    "speed": (speed_address, "<i2"),
    "surface": (surface_address, "|u1"),
}
env.reset()
lap = watch(env, found, expert.buttons, frames=steps(full=1700, smoke=900))
lap.plot(title="Practice Ring, driven by the expert");

# %% [markdown]
# - **laps** is 127 on the grid and 128 after the first crossing: the real game counts that
#   way too, and the lap number is `laps - 128`.
# - **checkpoint** climbs 0 to 29 each lap: 30 zones.
# - **speed** tops out at 900; on this easy track the expert never needs to brake.
# - **surface** stays at `0x40` (64), the road: the expert never touches the grass (we saw
#   `0x54` = 84 on grass in section 5, and `0x80` = 128 at the wall).
#
# ## 7. Write and verify `data.json`
#
# `data.json` names the variables, so every step's `info` dict carries them, and the reward
# script can read them (notebook 04). First, a draft with the mistakes people make. `validate`
# finds each one, and says what to write instead:

# %%
from kart_helpers.ram.data_json import problems_table, validate

checkpoint_address = int(checkpoint.addresses[0])
draft = {
    "laps": (laps_address, "u1"),  # no byte order: stable-retro silently drops it
    "speed": (speed_address, "<s2"),  # the trap
    "speed_high_byte": (speed_address + 1, "|u1"),  # overlaps speed
    "checkpoint": (memory.label(checkpoint_address), "|u1"),  # a string, not a number
    "surface": (surface_address, "|u1"),  # right
}
problems_table(validate(draft))

# %% [markdown]
# The fixed version passes. `write_data_json` validates again before it writes. We write into a
# temporary folder: to use it for a game, write into `user_game_dir(game)`, which stable-retro
# searches before the shipped files. It refuses to write into the shipped integrations.

# %%
import tempfile
from pathlib import Path

from kart_helpers.ram.data_json import write_data_json

path = write_data_json(found, Path(tempfile.mkdtemp()))
print(path.read_text())

# %% [markdown]
# `verify` drives the emulator and reads each variable on every frame, exactly as stable-retro
# reads it, and checks that it stays in the range we expect:

# %%
from kart_helpers.ram.data_json import verify

env.reset()
ranges = {"laps": (127, 133), "checkpoint": (0, 29), "speed": (-240, 900), "surface": (0, 255)}
report = verify(env, path, expert.buttons, frames=steps(full=1700, smoke=900), ranges=ranges)
report

# %% [markdown]
# ### Now we may peek
#
# The integration ships a `data.json` for Practice Kart and Super Mario Kart. Did we find the same
# addresses and types? `check_found_variables` compares them, and it takes the verification too.
# If you changed an address or a type above, it tells you which variable is off and what to
# look at again (a copy the game keeps, like the second checkpoint byte, counts as right).

# %%
from kart_helpers.exercises import check_found_variables

check_found_variables(found, report)

# %% [markdown]
# ## 8. The same tools on another game
#
# Nothing above is specific to the SNES. stable-retro ships a free Genesis game, **Airstriker**.
# Its RAM is one 64 KiB block, and the 68000 CPU is **big-endian**. (`MemoryMap` also undoes
# the byte swapping that the Genesis core does to its RAM, so addresses and types mean what
# they mean in `data.json`.) Only one emulator can live in a process, so we close ours first.
#
# The HUD shows the score; tapping fire shoots down the first enemy before frame 180, and the
# second before frame 330. We search 4-byte big-endian values (`>u4`) equal to what the HUD says.

# %%
from kart_helpers.emulator.env import close_live_env

close_live_env()
air = retro.make("Airstriker-Genesis-v0", render_mode="rgb_array", use_restricted_actions=retro.Actions.ALL)
air.reset()
print(MemoryMap.from_env(air).table())
tap_fire = [("B", 3), ("", 3)]
score = RamSearch.start(air, type=">u4")
score.drive(air, tap_fire * 30)
shots = [air.render()]
score.filter("equal", 20)
score.drive(air, tap_fire * 25)
shots.append(air.render())
score.filter("equal", 40)
show_frames(shots, ["frame 180: Score: 20", "frame 330: Score: 40"], cols=2, scale=1.4)
score.table()

# %% [markdown]
# Two candidates: the score and the high score (`Hi:` on the HUD), which are equal in a first
# game. stable-retro's own `data.json` for Airstriker agrees:

# %%
import json

air_info = json.loads(Path(retro.data.get_file_path("Airstriker-Genesis-v0", "data.json")).read_text())["info"]
print("score in stable-retro's data.json:", air_info["score"])
assert air_info["score"]["address"] in score.addresses.tolist()
air.close()
del air

# %% [markdown]
# ## 9. The RAM-search panel
#
# The same search, by hand: hold buttons for a number of frames (each press ends with a
# snapshot), pick a type, and press the filters. The table shows the candidates that are left,
# and the plot shows the history of the one you pick. The panel uses your own ROM if you imported
# one (notebook 01), so you can map Super Mario Kart's RAM yourself.
#
# Try it: find the **heading** (0 north, 64 east, 128 south, 192 west; it grows turning right).
# The exercise below closes this emulator; run this cell again to get the panel back.

# %%
from kart_helpers.display.ram_panel import RamSearchPanel
from kart_helpers.rom.importer import rom_status

game = rom_status().game
print("using", game)
env = make_env(game, use_restricted_actions=retro.Actions.ALL)
env.reset()
panel = RamSearchPanel(env)
panel

# %% [markdown]
# ## Exercise
#
# Find the **race clock**: a 2-byte counter of frames since GO. Two other counters run along
# with it, so "increased by 30 after 30 frames" keeps three candidates. Hint: the race clock
# stops while the game is paused (START), and not everything does.
#
# Write `pause`: a button script that leaves the game **paused** for a while. The check runs
# the search on Practice Kart for you:
# 1. hold B for 30 frames, and keep the 16-bit values (`<u2`) that rose by 30;
# 2. play your `pause`, and keep the values that stood still;
# 3. press START to resume, hold B for 60 frames, and keep what rose by 60.
#
# One candidate must be left, and it must count the frames that follow.

# %%
pause = ...  # your answer: a button script that pauses the game; see the hint above

# %%
from kart_helpers.exercises import answer, check_race_clock

pause = answer("02_race_clock", pause)
env = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=retro.Actions.ALL)
clock = check_race_clock(env, pause)
print("\n".join(clock.log))
my_clock = int(clock.addresses[0])
print(f"Correct: the race clock is at {memory.label(my_clock)}; data.json calls it current_frame.")

# %% [markdown]
# ## What you learned
# - SNES RAM is WRAM at `$7E:0000-$7F:FFFF` (its first 8 KiB mirrored in bank `$00`) plus the
#   cartridge's SRAM. A `data.json` address is the bus address as an integer, and a `get_ram()`
#   index depends on the SRAM size.
# - A RAM search narrows 141,312 bytes to one with a few filters, each stating what the variable
#   must have done. A wrong type loses the variable.
# - Type strings are byte order + kind + width: speed is `<i2`. `<s2` reads as unsigned, and
#   stable-retro never says so; `validate` does.
# - `watch` plots variables over a drive; `write_data_json` and `verify` make a `data.json` you
#   can trust, for any stable-retro game.
#
# ## Next
# [03 · Start states](03_start_state.ipynb): get from power-on to the start grid with a button
# script, and save the state that every episode starts from.
