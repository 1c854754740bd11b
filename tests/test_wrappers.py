"""The action and observation wrappers: shapes, dtypes and values against hand-computed ones,
frame skip, seeded random starts, and the fast frame-skip path against the plain one."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import stable_retro as retro

from kart_helpers.bench.speed import measure_env, measure_raw, stage_costs
from kart_helpers.emulator.buttons import buttons_mask, buttons_of
from kart_helpers.emulator.env import make_env
from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.game.expert import Expert
from kart_helpers.pipeline.actions import DRIVING_ACTIONS, ORIGINAL_ACTIONS, ButtonCombos, action_modes
from kart_helpers.pipeline.build import wrap, wrap_stock
from kart_helpers.pipeline.config import PipelineConfig
from kart_helpers.pipeline.observations import (
    Crop,
    Grayscale,
    MaxAndSkip,
    NoopStart,
    Resize,
    crop,
    max_pool,
    resize,
    to_grayscale,
)

SNES_BUTTONS = ["B", "Y", "SELECT", "START", "UP", "DOWN", "LEFT", "RIGHT", "A", "X", "L", "R"]


def practice_env(mode: Any = retro.Actions.ALL) -> gym.Env:
    return make_env(PRACTICE_GAME, state="Level1", use_restricted_actions=mode)


class ScreenEnv(gym.Env):
    """A stand-in for stable-retro: 224 x 256 x 3 frames whose pixels all equal the frame number,
    reward ``rewards[t]`` on frame ``t`` (1-based), terminated on frame ``done_at``."""

    def __init__(self, rewards: list[float] | None = None, done_at: int | None = None) -> None:
        self.observation_space = gym.spaces.Box(0, 255, (224, 256, 3), np.uint8)
        self.action_space = gym.spaces.MultiBinary(12)
        self.rewards = rewards or [0.0] * 1000
        self.done_at = done_at
        self.t = 0
        self.noops_seen = 0

    def frame(self) -> np.ndarray:
        return np.full((224, 256, 3), self.t % 256, np.uint8)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self.frame(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        if not np.any(action):
            self.noops_seen += 1
        return self.frame(), self.rewards[self.t - 1], self.t == self.done_at, False, {"t": self.t}


# --- actions ---------------------------------------------------------------------------------


def test_button_masks_round_trip():
    assert buttons_mask("B", SNES_BUTTONS) == 1
    assert buttons_mask("B+LEFT", SNES_BUTTONS) == 1 | 1 << 6
    assert buttons_of(1 | 1 << 10, SNES_BUTTONS) == "B+L"
    assert buttons_of(0, SNES_BUTTONS) == ""


def test_button_combos_turns_an_index_into_buttons():
    env = ButtonCombos(practice_env(), ORIGINAL_ACTIONS)
    assert env.action_space == gym.spaces.Discrete(4)
    for k, combo in enumerate(ORIGINAL_ACTIONS):
        pressed = [name for name, bit in zip(SNES_BUTTONS, env.action(k), strict=True) if bit]
        assert set(pressed) == set(combo.split("+"))
        assert env.meaning(k) == combo
    env.reset()
    _, _, _, _, info = env.step(0)  # B: the kart starts to roll
    for _ in range(30):
        _, _, _, _, info = env.step(0)
    assert info["speed"] > 0


def test_button_combos_refuses_what_filtered_would_change():
    env = practice_env(retro.Actions.FILTERED)
    ButtonCombos(env, DRIVING_ACTIONS)  # all of these survive the filter
    with pytest.raises(ValueError, match=r"'START'.*FILTERED.*into nothing"):
        ButtonCombos(env, ["B", "START"])
    with pytest.raises(ValueError, match="unknown button"):
        ButtonCombos(practice_env(), ["B", "TURBO"])
    with pytest.raises(ValueError, match="duplicate"):
        ButtonCombos(practice_env(), ["B+LEFT", "LEFT+B"])


def test_action_modes_are_measured_from_the_game():
    modes = {m.name: m for m in action_modes(practice_env(retro.Actions.DISCRETE))}
    assert modes["ALL"].space == "MultiBinary(12)" and modes["ALL"].combinations == 4096
    assert modes["DISCRETE"].space == "Discrete(468)"  # 3 x 3 x 13 x 4 combos
    assert "3 x 3 x 13 x 4" in modes["DISCRETE"].notes
    assert "START -> nothing" in modes["FILTERED"].notes
    assert "B+LEFT+RIGHT -> B" in modes["FILTERED"].notes
    assert modes["MULTI_DISCRETE"].space == "MultiDiscrete([3, 3, 13, 4])"


# --- observation transforms --------------------------------------------------------------------


def test_crop_keeps_the_race_view_rows():
    frame = np.arange(224, dtype=np.uint8)[:, None, None].repeat(256, 1).repeat(3, 2)  # pixel = row
    view = crop(frame)
    assert view.shape == (96, 256, 3) and view.dtype == np.uint8
    assert view[0, 0, 0] == 16 and view[-1, 0, 0] == 111


def test_grayscale_weights_by_hand():
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [10, 20, 30]]], np.uint8)
    gray = to_grayscale(pixels)
    assert gray.dtype == np.uint8 and gray.shape == (1, 6)
    # 0.299 R + 0.587 G + 0.114 B, rounded: 76.2, 149.7, 29.1, 255, 0, 18.2
    assert gray.tolist() == [[76, 150, 29, 255, 0, 18]]


def test_resize_averages_areas():
    blocks = np.array([[10, 20], [30, 40]], np.uint8)
    frame = np.tile(blocks, (84, 84))  # 168 x 168: every 2 x 2 block averages to 25
    small = resize(frame, (84, 84))
    assert small.shape == (84, 84) and small.dtype == np.uint8
    assert np.all(small == 25)
    half = np.zeros((96, 256), np.uint8)
    half[:, :128] = 200  # left half bright: it stays on the left
    out = resize(half, (84, 84))
    assert np.all(out[:, :41] == 200) and np.all(out[:, 43:] == 0)
    assert resize(np.zeros((96, 256, 3), np.uint8)).shape == (84, 84, 3)


def test_max_pool():
    a = np.array([[0, 5, 9]], np.uint8)
    b = np.array([[3, 4, 9]], np.uint8)
    assert max_pool(a, b).tolist() == [[3, 5, 9]]
    assert max_pool(None, b) is b


# --- observation wrappers ----------------------------------------------------------------------


def test_stage_wrappers_shapes_dtypes_and_values():
    env = Resize(Grayscale(Crop(ScreenEnv())), (84, 84))
    assert env.observation_space == gym.spaces.Box(0, 255, (84, 84), np.uint8)
    obs, _ = env.reset()
    assert obs.shape == (84, 84) and obs.dtype == np.uint8 and np.all(obs == 0)
    for _ in range(7):
        obs, *_ = env.step(np.zeros(12, np.int8))
    assert np.all(obs == 7)  # a grey frame stays grey through luma and averaging
    assert Crop(ScreenEnv()).observation_space.shape == (96, 256, 3)
    assert Grayscale(Crop(ScreenEnv())).observation_space.shape == (96, 256)
    with pytest.raises(ValueError, match="do not fit"):
        Crop(ScreenEnv(), 100, 300)
    with pytest.raises(ValueError, match="columns"):
        Crop(ScreenEnv(), left=200, right=100)


def test_crop_columns_keep_a_window_around_the_kart():
    frame = np.arange(224 * 256, dtype=np.int64).reshape(224, 256) % 251
    frame = np.repeat(frame[:, :, None], 3, axis=2).astype(np.uint8)
    assert np.array_equal(crop(frame, 16, 112, 64, 192), frame[16:112, 64:192])
    env = Crop(ScreenEnv(), 16, 112, 64, 192)
    assert env.observation_space.shape == (96, 128, 3)
    assert env.reset()[0].shape == (96, 128, 3)


def test_skip_sums_rewards_and_max_pools_the_last_two_frames():
    env = MaxAndSkip(ScreenEnv(rewards=[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]), skip=4, fast=False)
    env.reset()
    obs, reward, terminated, truncated, info = env.step(np.zeros(12, np.int8))
    assert reward == 15.0 and info["frames"] == 4 and not terminated and not truncated
    assert np.all(obs == 4)  # max(frame 3, frame 4)
    obs, reward, *_ = env.step(np.zeros(12, np.int8))
    assert reward == 240.0 and np.all(obs == 8)


def test_max_pool_takes_each_pixels_brighter_frame():
    class Flicker(ScreenEnv):
        def frame(self) -> np.ndarray:  # a sprite drawn on odd frames only, the road on even
            f = np.zeros((224, 256, 3), np.uint8)
            f[0, 0] = 200 if self.t % 2 else 0
            f[0, 1] = 0 if self.t % 2 else 100
            return f

    env = MaxAndSkip(Flicker(), skip=4, fast=False)
    env.reset()
    obs, *_ = env.step(np.zeros(12, np.int8))
    assert obs[0, 0, 0] == 200 and obs[0, 1, 0] == 100


def test_skip_stops_at_done_and_returns_the_last_frame_alone():
    env = MaxAndSkip(ScreenEnv(rewards=[1.0] * 10, done_at=6), skip=4, fast=False)
    env.reset()
    env.step(np.zeros(12, np.int8))
    obs, reward, terminated, _, info = env.step(np.zeros(12, np.int8))
    assert terminated and reward == 2.0 and info["frames"] == 2
    assert np.all(obs == 6)


def test_fast_skip_refuses_an_env_it_cannot_drive():
    with pytest.raises(ValueError, match="fast=False"):
        MaxAndSkip(ScreenEnv(), fast=True)
    with pytest.raises(ValueError, match="skip"):
        MaxAndSkip(ScreenEnv(), skip=0, fast=False)


def test_noop_start_is_seeded():
    def counts(seed: int) -> list[int]:
        env = NoopStart(ScreenEnv(), max_noops=30)
        first = env.reset(seed=seed)[1]["noops"]
        return [first] + [env.reset()[1]["noops"] for _ in range(5)]

    assert counts(3) == counts(3)
    assert counts(3) != counts(4)
    draws = counts(0) + counts(1) + counts(2)
    assert all(0 <= n <= 30 for n in draws) and len(set(draws)) > 3
    env = NoopStart(ScreenEnv(), max_noops=30)
    obs, info = env.reset(seed=3)
    assert env.unwrapped.noops_seen == info["noops"] and np.all(obs == info["noops"] % 256)


def test_seeded_random_starts_reproduce_the_emulator_state():
    config = PipelineConfig(max_noops=30)
    env = wrap(practice_env(), config)
    obs_a, info_a = env.reset(seed=11)
    obs_b, info_b = env.reset(seed=11)
    assert info_a == info_b and np.array_equal(obs_a, obs_b)
    assert info_a["current_frame"] == info_a["noops"]  # the race clock ran during the wait


# --- the whole pipeline --------------------------------------------------------------------------


def test_full_pipeline_spaces_and_stack():
    env = wrap(practice_env(), PipelineConfig())
    assert env.action_space == gym.spaces.Discrete(4)
    assert env.observation_space == gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    assert PipelineConfig().observation_shape() == (4, 84, 84)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert all(np.array_equal(obs[0], obs[k]) for k in range(4))  # the reset frame, 4 times
    previous = obs
    for _ in range(25):
        previous, (obs, *_) = obs, env.step(0)
    assert np.array_equal(obs[:3], previous[1:])  # oldest first, newest last
    assert not np.array_equal(obs[3], obs[2])  # the kart moved: the view scrolled


@pytest.mark.parametrize(
    "changes",
    [
        {"grayscale": False, "resize": None, "frame_stack": 1},
        {"crop_rows": None, "resize": (64, 48), "frame_stack": 2},
        {"crop_cols": (64, 192), "resize": None, "frame_stack": 1},
        {"grayscale": False},
    ],
)
def test_observation_shape_matches_the_env(changes):
    config = replace(PipelineConfig(), **changes)
    env = wrap(practice_env(), config)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == config.observation_shape() == obs.shape


def test_time_limit_and_reward_clip():
    config = PipelineConfig(max_episode_frames=40, reward_clip=1.0, max_noops=0)
    env = wrap(practice_env(), config)
    env.reset(seed=0)
    rewards = []
    for step in range(1, 11):
        _, reward, terminated, truncated, _ = env.step(0)
        rewards.append(reward)
        assert not terminated and truncated == (step == 10)
    assert all(-1.0 <= r <= 1.0 for r in rewards) and any(r != 0 for r in rewards)


def test_stock_pipeline_gives_the_same_shapes():
    env = wrap_stock(practice_env(), PipelineConfig())
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8


# --- the fast path against the plain one, on a recorded drive ------------------------------------

ACTIONS = (*DRIVING_ACTIONS, "Y")  # Y (brake, reverse) to bounce off walls
WALL_BANGING = [0, 0, 0] + [9] * 6  # per step: B into the wall, then Y away; 7 hits end the episode


def record_drive(env: gym.Env, kind: str, seed: int) -> list[int]:
    """Action indices of ACTIONS until the episode ends: the scripted expert (checkpoints, time
    costs; ended by the time limit), or wall banging (wall penalties; ended by the Lua done)."""
    expert = Expert(track=0)
    _, info = env.reset(seed=seed)
    actions: list[int] = []
    for t in range(1000):
        a = ACTIONS.index(expert.buttons(info)) if kind == "expert" else WALL_BANGING[t % len(WALL_BANGING)]
        actions.append(a)
        _, _, terminated, truncated, info = env.step(a)
        if terminated or truncated:
            return actions
    raise AssertionError("the recorded drive never ended")


def replay(env: gym.Env, actions: list[int], seed: int) -> list[tuple]:
    obs, info = env.reset(seed=seed)
    return [(obs, 0.0, False, False, info)] + [env.step(a) for a in actions]


@pytest.mark.parametrize(
    ("kind", "skip", "frames"),
    [("expert", 4, 800), ("walls", 4, None), ("walls", 7, None)],
)
def test_fast_path_equals_plain_path_on_a_recorded_drive(kind, skip, frames):
    base = practice_env()
    config = PipelineConfig(actions=ACTIONS, frame_skip=skip, max_noops=30, max_episode_frames=frames)
    actions = record_drive(wrap(base, replace(config, fast_skip=False)), kind, seed=skip)
    plain = replay(wrap(base, replace(config, fast_skip=False)), actions, seed=skip)
    fast = replay(wrap(base, replace(config, fast_skip=True)), actions, seed=skip)
    assert len(plain) == len(fast) == len(actions) + 1
    for t, (p, f) in enumerate(zip(plain, fast, strict=True)):
        assert p[1] == f[1], f"step {t}: reward {p[1]} (plain) != {f[1]} (fast)"
        assert p[2:4] == f[2:4], f"step {t}: terminated/truncated differ"
        assert p[4] == f[4], f"step {t}: info differs"
        assert np.array_equal(p[0], f[0]), f"step {t}: observation differs"
    rewards = [r for _, r, *_ in plain]
    if kind == "expert":
        assert plain[-1][3] and max(rewards) >= 300 and min(rewards) < 0  # checkpoints, time cost
    else:
        # The Lua done ends the drive inside a step: the early stop is compared too.
        assert plain[-1][2] and plain[-1][4]["frames"] < skip
        assert min(rewards) <= -10  # slow wall contact


# --- the speed functions, run tiny ------------------------------------------------------------


def test_raw_speed_counts_the_frames_it_steps_and_the_time_they_take(monkeypatch):
    base = practice_env()
    stepped, real_step = [], base.step

    def slow_step(action):  # a known cost per frame: 5 ms, so at most 200 frames/s
        stepped.append(action.copy())
        time.sleep(0.005)
        return real_step(action)

    monkeypatch.setattr(base, "step", slow_step)
    raw = measure_raw(base, frames=40, repeats=3, warmup=False)
    assert len(stepped) == 120  # 40 frames, 3 times
    assert 100 < raw.frames_per_s < 200 and len(raw.repeats_frames_per_s) == 3
    held = [tuple(a) for a in stepped[:40]]
    assert all(len(set(held[k : k + 4])) == 1 for k in range(0, 40, 4))  # each combo held 4 frames
    assert raw.steps_per_s == pytest.approx(raw.frames_per_s / 4)  # a decision per 4 frames held


def test_speed_measurements_run():
    base = practice_env()
    piped = measure_env(wrap(base), steps=10, repeats=1)
    assert piped.frames_per_s == pytest.approx(4 * piped.steps_per_s, rel=0.3)
    rows = stage_costs(base, steps=5, repeats=1)
    assert [r.label for r in rows][-1] == "+ frame stack = full pipeline" and len(rows) == 7
