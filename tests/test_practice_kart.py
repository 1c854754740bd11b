"""Practice Kart on the real emulator: loading, physics, laps, rewards, determinism, rebuilds."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import shutil

import numpy as np
import pytest
import stable_retro as retro

from kart_helpers.emulator.buttons import action_for
from kart_helpers.emulator.env import make_env
from kart_helpers.emulator.integration import game_dir
from kart_helpers.emulator.start_scripts import PRACTICE_START_SCRIPTS, make_practice_states
from kart_helpers.game.constants import PRACTICE_GAME, REAL_GAME
from kart_helpers.game.expert import Expert

ROAD, OFFROAD, WALL = 0x40, 0x54, 0x80


@pytest.fixture
def env():
    e = make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=retro.Actions.ALL)
    e.reset()
    yield e
    e.close()


def hold(env, buttons: str, frames: int) -> list[dict]:
    """Hold ``buttons`` for ``frames`` frames; return the info dict of every frame."""
    action = action_for(buttons, env.buttons)
    return [env.step(action)[4] for _ in range(frames)]


def test_rom_loads_through_custom_integration_path(env):
    rom = retro.data.get_romfile_path(PRACTICE_GAME, retro.data.Integrations.ALL)
    assert rom.startswith(str(game_dir(PRACTICE_GAME).resolve()))
    frame, *_ = env.step(action_for("", env.buttons))
    assert frame.shape == (224, 256, 3)
    assert frame[16:112].std() > 10, "the driving view should not be blank"
    info = hold(env, "", 1)[0]
    assert (info["laps"], info["checkpoint"], info["num_checkpoints"]) == (127, 29, 30)


def test_header_declares_2k_sram_like_smk(env):
    ram = env.unwrapped.get_ram()
    assert len(ram) == 8192 + 2048 + 128 * 1024
    # get_ram() index of WRAM $7E10C1 (laps) sits after low RAM and 2 KiB of SRAM
    assert ram[8192 + 2048 + 0x10C1] == 127


def test_holding_b_raises_speed_on_road(env):
    infos = hold(env, "B", 160)
    speeds = [i["speed"] for i in infos]
    assert speeds[0] > 0
    assert all(b >= a for a, b in itertools.pairwise(speeds))
    assert 850 <= speeds[-1] <= 950, "top speed on road is about 900"
    assert {i["surface"] for i in infos} == {ROAD}


def test_offroad_caps_speed_and_a_hop_ignores_it(env):
    hold(env, "B", 150)
    data = env.unwrapped.data

    def place(y: int) -> None:  # on the start straight, heading east; y=740 is the grass north of it
        data.set_value("x", 300)
        data.set_value("y", y)
        data.set_value("heading", 64)

    place(740)
    infos = hold(env, "B", 60)
    assert infos[-1]["surface"] == OFFROAD
    assert 550 <= infos[-1]["speed"] <= 650, "off-road top speed is about two thirds"
    # back to road speed, then hop onto the grass: no slowdown while airborne
    place(800)
    hold(env, "B", 80)
    place(740)
    airborne = hold(env, "B+L", 1) + hold(env, "B", 12)
    assert min(i["speed"] for i in airborne) >= 880
    assert hold(env, "B", 30)[-1]["speed"] <= 650


def test_wall_sets_collision_and_cuts_speed(env):
    hold(env, "B", 90)
    hold(env, "B+RIGHT", 32)  # now heading south, towards the outer wall
    infos = hold(env, "B", 80)
    hit = next(k for k, i in enumerate(infos) if i["collision"])
    assert infos[hit]["surface"] == WALL
    assert infos[hit - 1]["speed"] > 300
    assert infos[hit]["speed"] < 0, "a wall hit bounces the kart back"
    assert infos[hit + 1]["collision"] == infos[hit]["collision"] - 1, "the wall-hit timer counts down"


def test_head_on_hit_bounces_the_kart_back_out_of_the_wall(env):
    hold(env, "B", 90)
    hold(env, "B+RIGHT", 32)  # heading south, straight at the outer wall
    infos = hold(env, "B", 80)
    hit = next(k for k, i in enumerate(infos) if i["surface"] == WALL)
    assert infos[hit]["speed"] <= -128, "a head-on hit sends the kart back with a clear backward speed"
    assert infos[hit + 1]["surface"] != WALL, "the bounce leaves wall contact on the next frame"
    assert infos[hit + 10]["y"] < infos[hit]["y"], "and carries the kart back, away from the wall (north)"


def test_glancing_hit_slides_along_the_wall(env):
    data = env.unwrapped.data
    hold(env, "B", 100)
    # on the grass south of the start straight, heading east and 8 degrees towards its outer wall
    for name, value in (("x", 300), ("y", 866), ("heading", 70)):
        data.set_value(name, value)
    infos = hold(env, "B", 90)
    hits = [k for k, i in enumerate(infos) if i["surface"] == WALL]
    assert hits, "the kart should reach the wall"
    after = infos[hits[0] :]
    assert all(i["speed"] > 300 for i in after), "a glancing hit keeps most of the speed"
    assert after[-1]["x"] - after[0]["x"] > 100, "and the kart slides on along the wall"
    # wall frames keep the zone and wrong-way checks on the kart's own cell
    steps = {(b["checkpoint"] - a["checkpoint"]) % 30 for a, b in itertools.pairwise(after)}
    assert steps <= {0, 1}, f"checkpoints jumped by {steps} while sliding along the wall"
    assert not any(i["backward"] & 0x10 for i in after), "heading along the track is not the wrong way"


def test_b_turns_the_kart_from_a_standstill(env):
    heading = hold(env, "", 1)[0]["heading"]
    infos = hold(env, "B+LEFT", 2)
    assert infos[0]["speed"] < 16 and infos[-1]["heading"] == (heading - 2) % 256, (
        "1/256 turn per frame at a standstill"
    )
    assert hold(env, "LEFT", 4)[-1]["heading"] == infos[-1]["heading"], "without B, a standing kart does not turn"


@pytest.mark.parametrize("track", [0, 1])
def test_random_driver_is_never_pinned_and_every_wall_contact_is_escaped(track):
    from practice_kart.drive_checks import ESCAPE_FRAMES, escape_frames, random_walls

    walls = random_walls(track)
    assert walls.longest_contact <= 120, f"an unbroken wall contact of {walls.longest_contact} frames"
    assert walls.contact_fraction < 0.1
    assert len(walls.contacts) >= 50, "each track should give at least 50 varied wall contacts (100 in all)"
    escapes = escape_frames(track, walls.contacts)
    stuck = [k for k, f in enumerate(escapes) if f is None]
    assert not stuck, f"{len(stuck)} of {len(escapes)} wall contacts not left within {ESCAPE_FRAMES} frames"


def test_driving_view_is_heading_up_in_perspective_on_straights():
    from practice_kart.drive_checks import straight_view

    angles, quadrants = [], []
    for track in (0, 1):
        view = straight_view(track)
        angles += view.angles
        quadrants += view.quadrants
    angles, quadrants = np.array(angles), np.array(quadrants)
    for q in range(4):
        assert (quadrants == q).sum() >= 10, f"too few straight frames heading {'NESW'[q]}"
        assert np.mean(angles[quadrants == q] <= 25) >= 0.9, f"heading {'NESW'[q]}: the road should run up the screen"
    assert np.mean(angles <= 25) >= 0.9


def test_far_road_is_drawn_smaller(env):
    from practice_kart.drive_checks import VIEW, road_mask

    frame = env.step(action_for("", env.buttons))[0]  # on the grid, looking down the start straight
    mask = road_mask(frame[VIEW], asphalt_only=True)
    near, far = mask[60:64].sum(axis=1).mean(), mask[4:8].sum(axis=1).mean()
    assert far < 0.6 * near, f"road {far:.0f} px wide near the top of the view, {near:.0f} px near the kart"


def test_driving_backwards_sets_bit_0x10(env):
    forward = hold(env, "B", 40)
    assert not any(i["backward"] & 0x10 for i in forward)
    turned = hold(env, "B+LEFT", 64)  # half a turn at 2 units per frame
    assert turned[-1]["heading"] == (forward[-1]["heading"] - 128) % 256
    assert turned[-1]["backward"] & 0x10


@pytest.mark.parametrize("track", [0, 1])
def test_expert_laps_checkpoints_reward_and_done(track):
    """The expert drives five laps with the unchanged SMK scenario; everything advances in order."""
    env = make_env(PRACTICE_GAME, state=f"Level{track + 1}", use_restricted_actions=retro.Actions.ALL)
    env.reset()
    info = env.unwrapped.data.lookup_all()  # reset() returns an empty info dict
    expert = Expert(track)
    laps, checkpoints, rewards_at_checkpoints = [info["laps"]], [info["checkpoint"]], []
    terminated = False
    for _ in range(8000):
        _, reward, terminated, _, info = env.step(action_for(expert.buttons(info), env.buttons))
        if info["checkpoint"] != checkpoints[-1]:
            assert info["checkpoint"] == (checkpoints[-1] + 1) % 30, "checkpoints advance one at a time"
            checkpoints.append(info["checkpoint"])
            rewards_at_checkpoints.append(reward)
        if info["laps"] != laps[-1]:
            laps.append(info["laps"])
        if terminated:
            break
    env.close()
    assert laps == [127, 128, 129, 130, 131, 132, 133]
    assert terminated and info["laps"] == 133, "done fires when the fifth lap completes"
    assert len(rewards_at_checkpoints) == 5 * 30 + 1
    assert min(rewards_at_checkpoints) > 250, "each new checkpoint pays about +300"


def test_crossing_the_line_backwards_undoes_a_lap(env):
    infos = hold(env, "B", 60)
    assert infos[-1]["laps"] == 128
    hold(env, "Y", 60)  # brake, then reverse back over the line
    infos = hold(env, "Y", 60)
    assert infos[-1]["laps"] == 127
    assert infos[-1]["checkpoint"] == 29


def test_same_inputs_give_identical_ram_and_frames():
    rng = np.random.default_rng(0)
    combos = ["B", "B+LEFT", "B+RIGHT", "B+L", "Y", ""]
    script = [combos[k] for k in rng.integers(len(combos), size=600)]
    runs = []
    for _ in range(2):
        env = make_env(PRACTICE_GAME, state="Level2", use_restricted_actions=retro.Actions.ALL)
        env.reset()
        frames = [env.step(action_for(b, env.buttons))[0] for b in script]
        runs.append((env.unwrapped.get_ram().copy(), np.stack(frames[::50])))
        env.close()
    assert np.array_equal(runs[0][0], runs[1][0])
    assert np.array_equal(runs[0][1], runs[1][1])


def test_start_states_are_regenerable(tmp_path):
    written = make_practice_states(tmp_path)
    assert set(written) == set(PRACTICE_START_SCRIPTS)
    for name, path in written.items():
        committed = game_dir(PRACTICE_GAME) / f"{name}.state"
        assert gzip.decompress(path.read_bytes()) == gzip.decompress(committed.read_bytes()), name
    assert '"default_state": "Level1"' in (tmp_path / "metadata.json").read_text()


def test_scenario_files_are_identical_to_the_smk_integration():
    for name in ("data.json", "scenario.json", "script.lua"):
        ours, theirs = game_dir(PRACTICE_GAME) / name, game_dir(REAL_GAME) / name
        assert ours.read_bytes() == theirs.read_bytes(), f"{name} differs between the two integrations"


def test_rom_rebuilds_byte_for_byte(tmp_path):
    from practice_kart.build import ToolMissing, build

    try:
        rom = build(tmp_path)
    except ToolMissing as err:
        if shutil.which("ca65") is None:
            pytest.skip(str(err))
        raise
    committed = game_dir(PRACTICE_GAME) / "rom.sfc"
    assert hashlib.sha1(rom.read_bytes()).hexdigest() == hashlib.sha1(committed.read_bytes()).hexdigest()
    assert (tmp_path / "rom.sha").read_text() == (game_dir(PRACTICE_GAME) / "rom.sha").read_text()


@pytest.mark.parametrize("track", [0, 1])
def test_par_times_in_the_readme_are_the_experts(track):
    import re

    from kart_helpers.game.expert import expert_drive

    run = expert_drive(f"Level{track + 1}")
    assert run.wall_hits == 0
    readme = (game_dir(PRACTICE_GAME) / "README.md").read_text()
    par = [int(n) for n in re.findall(r"\*\*(\d+) frames", readme)]
    assert par[track] == run.race_frames
