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
# # 04 · The reward scenario: what the agent is paid for
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/kart-rl/kart-rl-course/blob/main/notebooks/04_reward_scenario.ipynb)
#
# **Learning goals**
# - Read `scenario.json` and `script.lua`, and say why each reward term exists.
# - Check a scenario before stable-retro runs it, and get `file:line` errors instead of
#   "attempt to call a nil value".
# - Record a drive once, then replay the Lua reward on it offline, frame for frame equal to the
#   emulator's.
# - Plot what the reward pays for over a lap, and see both ways an episode ends.
# - Recognise reward farming, and see the cure.
#
# **Prerequisites:** [03 · Start states](03_start_state.ipynb) (the `Level1` state).

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
# ## 1. `scenario.json`
#
# A scenario tells stable-retro two things: the **reward** of each step, and when an episode is
# **done**. Both can be written in JSON, from variables of `data.json`, or in Lua. Ours are in Lua,
# because a good kart reward needs memory (the best checkpoint so far, a count of wall hits).
#
# `script.lua` and `scenario.json` are the same files on Practice Kart and on Super Mario Kart.
# The drives below run on Practice Kart, whose scripted expert knows its tracks; section 8 uses
# your game if you imported it.

# %%
from kart_helpers.emulator.integration import find_file
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.rom.importer import rom_status

game = rom_status().game
print(rom_status().message)
print(find_file(game, "scenario.json").read_text())

# %% [markdown]
# | key | what it says |
# |---|---|
# | `reward` | `{"script": "lua:kart_reward"}`: call the Lua function `kart_reward` after every frame |
# | `done` | `{"script": "lua:kart_done"}`: the episode ends when `kart_done` returns true |
# | `scripts` | the Lua files to load, beside `scenario.json` |
# | `actions` | (absent on purpose) a filter on the buttons, see section 2 |
#
# `check_scenario` reads it the way stable-retro will, and checks the Lua too (section 5):

# %%
from kart_helpers.scenario.check import check_scenario

print(check_scenario(game))

# %% [markdown]
# ## 2. The `actions` filter and its pitfall
#
# stable-retro's default action mode, `Actions.FILTERED`, lets through only the button
# combinations the scenario's `actions` list allows. The list is made of groups; in each group
# the pressed buttons must match one allowed combination exactly, or the whole group is dropped.
# Buttons in no group are always dropped, **silently**. Without an `actions` list the system's
# default groups apply, and the SNES default has no START and no SELECT.
#
# `filter_buttons` does what stable-retro does:

# %%
from kart_helpers.emulator.buttons import filter_buttons

for pressed in ["B", "B+LEFT+L", "LEFT+RIGHT", "START", "B+START"]:
    print(f"{pressed:12} -> {filter_buttons(pressed) or 'nothing'}")

a_small_list = [[[], ["LEFT"], ["RIGHT"]], [[], ["B"]]]
print("\nwith actions =", a_small_list)
for pressed in ["B+LEFT", "B+L", "Y"]:
    print(f"{pressed:12} -> {filter_buttons(pressed, a_small_list) or 'nothing'}")

# %% [markdown]
# An agent trained with that small list can never hop (L) or brake (Y), and nothing tells you.
# Our scenario has no `actions` list; notebook 05 chooses the action set in Python, where you can
# see it. Menus need START, so notebook 03 used `Actions.ALL`. `check_scenario` warns about any
# `actions` list and names the buttons it makes impossible.
#
# ## 3. How stable-retro runs `script.lua`
#
# - Lua **5.1**, with only the base, table, string and math libraries: no `io`, no `os`, and no
#   `bit` library (test a bit with arithmetic).
# - The script is loaded into a **fresh** Lua state at every `reset()`: all its variables start
#   over each episode.
# - After every frame, stable-retro calls the done function, then the reward function. It also
#   calls them once inside `reset()`; our script uses that call to record where the kart starts,
#   and pays 0.
# - `data.laps` reads the variable `laps` of `data.json`; `scenario.frame` counts the calls since
#   the reset (0 during the reset).
# - Our script keeps each component's value of the latest frame in a global table `components`,
#   and the episode sums in `totals`, so tools can show what was paid for.
#
# ## 4. The reward terms, and why each exists
#
# | component | pays | why |
# |---|---|---|
# | checkpoint | +300 per checkpoint **never reached before** | progress is the goal; "never before" stops farming |
# | wall | −10 per frame at a wall below speed 600 | stuck is the worst state; a fast glancing touch is fine |
# | offroad | −15 per 30 frames off-road | off-road costs speed that checkpoints show only much later |
# | time | −1 per 30 frames, −0.5 above speed 700 | finishing sooner is worth more; keeping speed is cheaper |
# | backward | −2 per 6 frames the wrong way | never useful; bit 0x10 of `backward` flags it |
#
# Each term is one small Lua function. Here is the checkpoint term, the subtle one:

# %%
from kart_helpers.scenario.authoring import lua_function_source
from kart_helpers.scenario.files import load_scenario

scenario = load_scenario(game)
SCRIPT = scenario.scripts[0].read_text()
print(lua_function_source(SCRIPT, "checkpoint_reward"))

# %% [markdown]
# ## 5. Test the Lua before stable-retro does
#
# stable-retro reports Lua problems late and badly. A script with a syntax error is skipped
# without a word, and the first step fails with "attempt to call a nil value", with no file
# and no line. Let's break a copy of the script and see. `copy_scenario` copies the scenario
# into a scratch folder and replaces the script's text:

# %%
from kart_helpers.game.constants import GRID_RAM
from kart_helpers.ram.trace import RamTrace
from kart_helpers.scenario.authoring import copy_scenario
from kart_helpers.scenario.replay import run_lua

broken = copy_scenario(game, scripts={"script.lua": SCRIPT.replace("return total\nend", "return total +\nend")})
two_frames = RamTrace.synthetic(GRID_RAM, [{}, {}])
try:
    run_lua(two_frames, broken, backend="stable_retro")  # stable-retro's own Lua sandbox
except RuntimeError as err:
    print("stable-retro says:", err)

# %% [markdown]
# `check_lua` compiles each script with Lua 5.1, reads its bytecode for every global it uses,
# checks `data.<name>` against `data.json`, and then runs the functions in a sandbox like
# stable-retro's. Every problem comes back as `file:line: message`, with a hint:

# %%
from kart_helpers.scenario.files import LuaCheckError
from kart_helpers.scenario.lua_check import check_lua

mistakes = {
    "a syntax error": ("return total\nend", "return total +\nend"),
    "a call of a missing function, on a branch that never ran": (
        'done_reason = "wall_hits"',
        'done_reason = "wall_hits"\n    celebrate()',
    ),
    "the bit library": ("not has_bit(ram.backward, BACKWARD_BIT)", "bit.band(ram.backward, BACKWARD_BIT) == 0"),
    "a misspelt variable": ("speed = data.speed,", "speed = data.sped,"),
}
for what, (old, new) in mistakes.items():
    try:
        check_lua(copy_scenario(game, scripts={"script.lua": SCRIPT.replace(old, new, 1)}))
    except LuaCheckError as err:
        print(f"--- {what}\n{err}\n")

# %% [markdown]
# ## 6. Record a drive, replay it offline
#
# A **RAM trace** is the table of `data.json` variables on every frame of a drive. Row 0 is the
# RAM that the reset call sees. `record_drive` records one, together with the rewards the
# emulator paid. Here the scripted expert races five laps of Practice Ring.

# %%
from kart_helpers.emulator.env import open_env
from kart_helpers.game.expert import Expert
from kart_helpers.ram.trace import record_drive

env = open_env(PRACTICE_GAME, "Level1")
expert_trace, _ = record_drive(env, Expert(0).buttons, frames=6000)
print(f"{len(expert_trace)} frames; first rows:")
for row in expert_trace.rows[:3]:
    print(row)

# %% [markdown]
# `run_lua` replays the scenario's Lua on the trace, without the emulator. It must pay exactly
# what the emulator paid, frame by frame. This is the test that lets you change the reward
# and check it in a second, instead of driving again.

# %%
import numpy as np

expert_run = run_lua(expert_trace)
same = np.array_equal(expert_run.rewards, expert_trace.rewards)
print(f"offline == emulator on all {len(expert_trace)} frames: {same}")
assert same and np.array_equal(expert_run.dones, expert_trace.dones)

# %% [markdown]
# ## 7. What the reward pays for over a lap
#
# The offline run also reads the script's `components` table after each frame. Here is the
# second lap: on top, each component's running sum, stacked (gains above zero, penalties
# below) with the total as a black line; below, the penalties per half second, on their own
# scale, since one checkpoint (+300) dwarfs them.

# %%
from kart_helpers.display.reward_plots import plot_components
from kart_helpers.scenario.replay import lap_window, summarize

start, stop = lap_window(expert_trace, lap=2)
expert_lap = expert_run.window(start, stop)
plot_components(expert_lap, f"Expert, lap 2 of Practice Ring ({(stop - start) / 60:.1f} s)");

# %%
print(summarize(expert_lap))

# %% [markdown]
# A clean lap earns 30 × 300 = 9,000. The time cost comes every half second, and it is −0.5
# each time because the expert stays above speed 700. No wall, no off-road, no wrong way.
#
# ## 8. A random drive
#
# A random driver tells another story: a few checkpoints, then walls, grass and the wrong way.
# This runs on your game if you imported it.

# %%
from kart_helpers.smoke import steps

rng = np.random.default_rng(0)
combos = ["B", "B+LEFT", "B+RIGHT", "Y", "B+L", ""]
random_plan = [(str(rng.choice(combos)), int(rng.integers(5, 40))) for _ in range(100)]
env = open_env(game, "Level1")
random_trace, _ = record_drive(env, random_plan, frames=steps(full=1800, smoke=900))
random_run = run_lua(random_trace, load_scenario(game))
assert np.array_equal(random_run.rewards, random_trace.rewards)
plot_components(random_run, f"A random drive on {game}");

# %%
print(summarize(random_run))

# %% [markdown]
# ## 9. When an episode ends
#
# `kart_done` ends an episode two ways:
# - **finished**: `laps` reaches 133, the end of lap 5;
# - **wall_hits**: 7 wall hits within 600 frames (10 s). A kart that keeps crashing has lost
#   the race, and ending the episode stops it from filling the training data with crashes.
#
# The expert's race ended the first way. `wall_rammer` drives into the wall on purpose:

# %%
from kart_helpers.display.frames import show_frames
from kart_helpers.scenario.farming import wall_rammer

print(f"expert: done_reason={expert_run.done_reason!r} on frame {expert_run.done_at + 1}")
env = open_env(PRACTICE_GAME, "Level1")
crash_trace, crash_screens = record_drive(env, wall_rammer(), frames=1800, screens_every=150)
crash_run = run_lua(crash_trace)
print(f"rammer: done_reason={crash_run.done_reason!r} on frame {crash_run.done_at + 1}")
print(summarize(crash_run))
show_frames(crash_screens, [f"frame {150 * (k + 1)}" for k in range(len(crash_screens))], cols=4, scale=2);

# %% [markdown]
# There is no time limit in the scenario. An episode that never finishes nor crashes (a kart
# parked on the grass) is cut by a `TimeLimit` wrapper in Python (notebook 05), which reports it
# as *truncated*, not *terminated*.
#
# ## 10. Reward farming and its cure
#
# An agent maximises what you pay, not what you mean. The original project paid +300 for
# **every** increase of progress (`laps × 30 + checkpoint`). Then this loop pays forever: drive
# over the line (+300), reverse back over it (the lap counter drops, no penalty), drive over it
# again (+300 again). `farming_policy` drives that loop.
#
# The cure is in `checkpoint_reward` (section 4): pay only when progress beats its **best** of the
# episode. Because progress counts laps too, the checkpoint index wrapping from 29 to 0 at the
# line is a step of +1, not −29, and going backwards over the line is −1: nothing to farm there
# either. `KartReward(pay_once=False)` is the original rule, in Python (section 11).

# %%
from kart_helpers.display.reward_plots import plot_cumulative
from kart_helpers.scenario.farming import farming_policy, line_crossings
from kart_helpers.scenario.python_reward import KartReward, run_python

env = open_env(PRACTICE_GAME, "Level1")
farm_trace, _ = record_drive(env, farming_policy(), frames=steps(full=3600, smoke=1800))
fixed = run_lua(farm_trace)
original = run_python(farm_trace, KartReward(pay_once=False))
print(f"{line_crossings(farm_trace)} forward crossings of the line in {len(farm_trace) / 60:.0f} s")
print(f"original rule paid {original.components['checkpoint'].sum():.0f} for checkpoints")
print(f"our script paid    {fixed.components['checkpoint'].sum():.0f}")
plot_cumulative(
    {"original: every increase pays": original, "ours: only new progress pays": fixed},
    farm_trace,
    component="checkpoint",
    title="Farming the start line",
);

# %% [markdown]
# ## 11. The same reward in Python
#
# Lua runs inside the emulator, so it costs nothing extra per step, and it works unchanged in
# any stable-retro tool. Python is easier to debug and to change while you experiment.
# `KartReward` is the same reward in Python, over the same variables, and `KartRewardWrapper`
# puts it on an env in place of the Lua one (keeping the Lua reward in `info["lua_reward"]`).
# Two copies of a reward drift apart unless a test holds them together, so here is the test:

# %%
from kart_helpers.emulator.buttons import action_for
from kart_helpers.scenario.python_reward import KartRewardWrapper

for name, trace in [("expert", expert_trace), ("random", random_trace), ("farming", farm_trace)]:
    python = run_python(trace)
    print(f"{name:8} Python == Lua offline: {np.array_equal(python.rewards, run_lua(trace).rewards)}")

wrapped = KartRewardWrapper(open_env(PRACTICE_GAME, "Level1"))
wrapped.reset()
differences = 0
for buttons, frames in random_plan:
    for _ in range(frames):
        _, reward, done, _, info = wrapped.step(action_for(buttons, wrapped.unwrapped.buttons))
        differences += reward != info["lua_reward"] or done != info["lua_done"]
print("in the emulator, steps where Python and Lua differ:", differences)

# %% [markdown]
# ## Exercise
#
# Write a reward term `speed_bonus` that pays **+1 on every frame faster than speed 800**, to
# encourage keeping the speed up. The term is a Lua function of `ram`, a table with `laps`,
# `checkpoint`, `num_checkpoints`, `speed`, `surface`, `collision` and `backward`, that returns
# the pay of one frame. Model it on `checkpoint_reward` (section 4): replace the `...` below with
# the Lua text, as a Python string in triple quotes:
#
# ```python
# my_term = """
# local function speed_bonus(ram)
#   ...
# end
# """
# ```
#
# The check adds your term to the script with `add_reward_term` (into `COMPONENT_NAMES` and the
# sum), checks the result as `write_scenario` does, in a scratch folder, and replays the
# expert's race offline. A mistake comes back with its line.

# %%
my_term = ...  # your answer: the Lua text of `local function speed_bonus(ram) ... end`; see the hint above

# %%
from kart_helpers.exercises import answer, check_speed_bonus

my_term = answer("04_speed_bonus", my_term)
bonus_run = check_speed_bonus(my_term, expert_trace)
print(f"Correct: +{bonus_run.components['speed_bonus'].sum():.0f} over the expert's race.")

# %% [markdown]
# The check wrote nothing. To use your term later, write the scenario into your user
# folder: `write_scenario` checks it again, then writes `speed_bonus.json` and `speed_bonus.lua`.
#
# **This cell writes two files into your user folder**, and they stay there. They have names of
# their own, so the shipped `scenario.json` still scores every later notebook and run; only
# `make_env(game, scenario="speed_bonus")` uses them.
# To undo it, delete the two files the cell prints.

# %%
from kart_helpers.scenario.authoring import add_reward_term, write_scenario

path = write_scenario(game, "speed_bonus", add_reward_term(SCRIPT, "speed_bonus", my_term))
for written in sorted(path.parent.glob("speed_bonus.*")):
    print("wrote", written)
print("use it with make_env(game, scenario='speed_bonus'); delete both files to undo.")

# %% [markdown]
# ## What you learned
# - `scenario.json` names a reward and a done function; `script.lua` computes them from RAM
#   variables, in Lua 5.1 with base, table, string and math only, fresh at every reset.
# - An `actions` list in a scenario silently drops every button combination it does not list.
# - `check_lua` and `check_scenario` find syntax errors, missing functions and misspelt
#   variables with their file and line, before stable-retro hides them.
# - A recorded RAM trace lets you replay the reward offline; it matches the emulator frame by
#   frame, and `components` shows what each frame was paid for.
# - Pay progress only when it beats the episode's best, or an agent will farm the start line.
# - A Python reward is fine too, if a test keeps it equal to the Lua one.
#
# ## Next
# [05 · Wrappers](05_wrappers.ipynb): the action set the agent chooses from, and the
# observation it sees.
