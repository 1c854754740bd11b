"""The observation pipeline, one small wrapper per stage, and seeded random no-op starts.

From the emulator's 224 x 256 x 3 screen to what the network sees, 4 x 84 x 84:

=====================  ==========================  ===========================================
stage                  shape after it (uint8)       why
=====================  ==========================  ===========================================
:class:`NoopStart`     224 x 256 x 3                episodes start 0-30 frames apart (seeded)
:class:`MaxAndSkip`    224 x 256 x 3                one agent step = 4 frames; rewards summed,
                                                    the last two frames max-pooled
:class:`Crop`          96 x 256 x 3                 drop the HUD (rows 0-15) and the map (112-223)
:class:`Grayscale`     96 x 256                     colour carries little; a third of the bytes
:class:`Resize`        84 x 84                      the size the Nature CNN expects
``FrameStack``         4 x 84 x 84                  motion: speed and turning, from 4 steps
=====================  ==========================  ===========================================

Every stage keeps ``uint8``: a frame is 7 KiB instead of 28 KiB as float32, which is what
lets a replay buffer hold many of them. Scaling to [0, 1] happens inside the network.

Each stage's transform is also a plain function (:func:`crop`, :func:`to_grayscale`,
:func:`resize`, :func:`max_pool`) so a single frame can be shown at every stage.

Frame skip comes *before* frame stacking: the stack then holds 4 agent steps (16 frames,
about a quarter of a second), not 4 consecutive frames that barely differ.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import stable_retro as retro
from PIL import Image
from stable_retro.retro_env import RetroEnv

HUD_ROWS = 16
"""Rows 0-15: time, lap and speed."""
VIEW_ROWS = (16, 112)
"""Rows 16-111: the race view (heading-up, in perspective, as in SMK). Rows 112-223 are the map."""


def crop(
    frame: np.ndarray, top: int = VIEW_ROWS[0], bottom: int = VIEW_ROWS[1], left: int = 0, right: int | None = None
) -> np.ndarray:
    """Rows ``top`` to ``bottom - 1`` (and columns ``left`` to ``right - 1``) of ``frame`` (H x W [x C]);
    a view, no copy."""
    return frame[top:bottom, left:right]


def to_grayscale(frame: np.ndarray) -> np.ndarray:
    """An H x W x 3 uint8 frame as H x W uint8 luma, ``0.299 R + 0.587 G + 0.114 B`` (ITU-R 601).

    Why not Gymnasium's ``GrayscaleObservation``: it multiplies in float64, about 400 us per
    96 x 256 frame here (2 cores), a fifth of a 4-frame step's emulation. Pillow works in
    integers: about 30 us.
    """
    return np.asarray(Image.fromarray(frame, "RGB").convert("L"))


def resize(frame: np.ndarray, shape: tuple[int, int] = (84, 84)) -> np.ndarray:
    """``frame`` (H x W or H x W x 3, uint8) resized to ``shape`` = (height, width) by area averaging.

    Each output pixel is the mean of the input pixels it covers (Pillow's ``BOX`` filter,
    OpenCV's ``INTER_AREA``), so thin lines such as the track edge fade instead of vanishing.
    Why not Gymnasium's ``ResizeObservation``: it needs OpenCV, which the course does not depend
    on. Pillow takes about 50 us for 96 x 256 -> 84 x 84 here, OpenCV about 55 us.
    """
    height, width = shape
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.Resampling.BOX))


def max_pool(previous: np.ndarray | None, last: np.ndarray) -> np.ndarray:
    """The pixel-wise maximum of the last two frames, or ``last`` alone if there is no previous.

    Sprites that the game draws only on every other frame would otherwise blink in and
    out of the agent's view.
    """
    return last if previous is None else np.maximum(previous, last)


def _box(shape: tuple[int, ...]) -> gym.spaces.Box:
    return gym.spaces.Box(low=0, high=255, shape=shape, dtype=np.uint8)


def _check_uint8_image(env: gym.Env, stage: str) -> tuple[int, ...]:
    space = env.observation_space
    if not isinstance(space, gym.spaces.Box) or space.dtype != np.uint8 or len(space.shape) not in (2, 3):
        raise ValueError(f"{stage} needs uint8 image observations (H x W [x C]), got {space}")
    return space.shape


class Crop(gym.ObservationWrapper):
    """Keep rows ``top`` to ``bottom - 1``: by default the race view, without HUD and map.
    ``left`` and ``right`` also narrow the columns (default: all).

    Observations: H x W x C -> (bottom - top) x (right - left) x C, uint8, a view of the frame below.
    """

    def __init__(
        self,
        env: gym.Env,
        top: int = VIEW_ROWS[0],
        bottom: int | None = VIEW_ROWS[1],
        left: int = 0,
        right: int | None = None,
    ) -> None:
        super().__init__(env)
        shape = _check_uint8_image(env, "Crop")
        bottom = shape[0] if bottom is None else bottom
        right = shape[1] if right is None else right
        if not 0 <= top < bottom <= shape[0]:
            raise ValueError(f"Crop rows [{top}, {bottom}) do not fit a frame of {shape[0]} rows")
        if not 0 <= left < right <= shape[1]:
            raise ValueError(f"Crop columns [{left}, {right}) do not fit a frame of {shape[1]} columns")
        self.top, self.bottom, self.left, self.right = top, bottom, left, right
        self.observation_space = _box((bottom - top, right - left, *shape[2:]))

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return crop(observation, self.top, self.bottom, self.left, self.right)


class Grayscale(gym.ObservationWrapper):
    """RGB to luma: H x W x 3 -> H x W, uint8 (see :func:`to_grayscale`)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        shape = _check_uint8_image(env, "Grayscale")
        if len(shape) != 3 or shape[2] != 3:
            raise ValueError(f"Grayscale needs H x W x 3 frames, got {shape}")
        self.observation_space = _box(shape[:2])

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return to_grayscale(observation)


class Resize(gym.ObservationWrapper):
    """Area-average to ``shape`` = (height, width): H x W [x C] -> height x width [x C], uint8."""

    def __init__(self, env: gym.Env, shape: tuple[int, int] = (84, 84)) -> None:
        super().__init__(env)
        old = _check_uint8_image(env, "Resize")
        self.shape = (int(shape[0]), int(shape[1]))
        self.observation_space = _box((*self.shape, *old[2:]))

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return resize(observation, self.shape)


def _step_is_untouched(env: gym.Env) -> str | None:
    """None if every wrapper down to the RetroEnv passes ``step`` through, else the first that does not."""
    while isinstance(env, gym.Wrapper):
        if type(env).step is not gym.Wrapper.step:
            return type(env).__name__
        env = env.env
    return None if isinstance(env, RetroEnv) else type(env).__name__


class MaxAndSkip(gym.Wrapper):
    """Repeat each action for ``skip`` frames: rewards summed, the last two frames max-pooled.

    One agent step runs ``skip`` emulator frames (``env.step`` of stable-retro is one frame).

    - **Reward:** the sum of the scenario's per-frame rewards, in frame order.
    - **Done:** checked after every frame; the step stops at the frame that ends the episode.
    - **Observation:** ``max(frame[skip-1], frame[skip])``; a step cut short by the end of the
      episode returns its last frame alone.
    - **Info:** the RAM variables after the last frame, plus ``frames``: how many ran.

    **The fast path** (``fast=True``, the default) drives the emulator itself, as
    ``RetroEnv.step`` would, but sets the buttons once per step, reads the screen only for the
    last two frames and the RAM variables only once. The scenario's reward and done are still
    evaluated on every frame (``data.update_ram()`` runs the Lua script, then
    ``current_reward()`` and ``is_done()`` read it), so both are exactly what the plain
    ``env.step`` loop (``fast=False``) gives; a test checks this on a recorded drive.
    Why our own: Gymnasium's ``MaxAndSkipObservation`` is the plain loop, and on an early end
    it pools a stale frame. Measured here, the fast path takes 4% (random driving) to 12%
    (holding B) less time per step than the plain loop, which pays for the image stages.

    The fast path needs to sit on the RetroEnv, with only wrappers below it that leave ``step``
    alone (such as :class:`NoopStart`). It falls back to the plain loop while a movie records.
    """

    def __init__(self, env: gym.Env, skip: int = 4, fast: bool = True) -> None:
        super().__init__(env)
        if int(skip) != skip or skip < 1:
            raise ValueError(f"skip must be a whole number >= 1, got {skip}")
        self.skip = int(skip)
        if fast:
            blocker = _step_is_untouched(env)
            if blocker is not None:
                raise ValueError(
                    f"MaxAndSkip(fast=True) drives the emulator directly, but {blocker} below it changes "
                    "step(); put MaxAndSkip right above the stable-retro env, or pass fast=False"
                )
            base: RetroEnv = env.unwrapped
            if base.players != 1 or base._obs_type != retro.Observations.IMAGE:
                raise ValueError("MaxAndSkip(fast=True) supports one player and screen observations; use fast=False")
        self.fast = fast

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        base: RetroEnv = self.env.unwrapped
        if self.fast and not base.movie:
            return self._step_fast(action)
        return self._step_plain(action)

    def _step_plain(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        total, previous = 0.0, None
        for frame in range(1, self.skip + 1):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
            if frame == self.skip - 1:  # keep only what the pool needs: the frame before the last
                previous = obs
        if frame < self.skip:  # cut short: the last frame alone
            previous = None
        info["frames"] = frame
        return max_pool(previous, obs), total, terminated, truncated, info

    def _step_fast(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        base: RetroEnv = self.env.unwrapped
        if base.img is None:
            raise RuntimeError("Please call env.reset() before env.step()")
        em, data = base.em, base.data
        em.set_button_mask(base.action_to_array(action)[0], 0)
        total, previous, done = 0.0, None, False
        for frame in range(1, self.skip + 1):
            em.step()
            data.update_ram()  # also runs the scenario's Lua for this frame
            total += data.current_reward()
            done = data.is_done()
            if done:
                break
            if frame == self.skip - 1:  # the screen is read only for the two frames the pool needs
                previous = base.get_screen(apply_rotation=True)
        if frame < self.skip:  # cut short: the last frame alone
            previous = None
        last = base.get_screen(apply_rotation=True)
        base.img = last  # what render() shows
        info = dict(data.lookup_all())
        info["frames"] = frame
        return max_pool(previous, last), total, bool(done), False, info


class NoopStart(gym.Wrapper):
    """On reset, wait a random 0 to ``max_noops`` frames with no button pressed (seeded).

    The count is drawn from the env's ``np_random``, which ``reset(seed=...)`` seeds, so a
    seeded reset always gives the same start and later resets follow a fixed sequence.
    (The original project drew it from an unseeded generator, so runs could not be repeated.)
    Rewards during the wait are not paid. ``info["noops"]`` says how many frames were waited.

    Put it below :class:`MaxAndSkip` so that the wait is counted in frames.
    """

    def __init__(self, env: gym.Env, max_noops: int = 30) -> None:
        super().__init__(env)
        if max_noops < 0:
            raise ValueError(f"max_noops must be >= 0, got {max_noops}")
        self.max_noops = int(max_noops)
        space = env.action_space
        if isinstance(space, gym.spaces.MultiBinary):
            self._noop: Any = np.zeros(space.shape, dtype=space.dtype)
        elif isinstance(space, gym.spaces.Discrete):
            self._noop = 0  # stable-retro's Actions.DISCRETE: action 0 presses nothing
        else:
            raise ValueError(f"NoopStart needs a MultiBinary or Discrete action space, got {space}")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(seed=seed, options=options)
        noops = int(self.np_random.integers(0, self.max_noops + 1)) if self.max_noops else 0
        for _ in range(noops):
            obs, _, terminated, truncated, info = self.env.step(self._noop)
            if terminated or truncated:  # cannot happen from a start grid; never loop forever
                obs, info = self.env.reset()
                break
        data = getattr(self.env.unwrapped, "data", None)
        info = dict(data.lookup_all()) if noops == 0 and data is not None else dict(info)
        info["noops"] = noops  # with the RAM variables, as after a step
        return obs, info
