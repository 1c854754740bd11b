"""The one loop that drives the emulator frame by frame, and button scripts played through it."""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from kart_helpers.emulator.buttons import ButtonScript, action_for, as_steps
from kart_helpers.emulator.env import POWER_ON, open_env

Driver = str | Sequence[tuple] | Callable[[dict], str] | Callable[[dict, Any], str]
"""What presses the buttons: ``"B+LEFT"`` held every frame, a button script
``[("B", 60), ("", 10, "coast")]`` (see ``kart_helpers.emulator.states``), or a function of the
last ``info`` dict that returns the buttons (e.g. ``Expert(0).buttons``). A function with two
parameters, ``(info, env)``, also gets the env: for a new game ``info`` is empty until its
data.json names variables, so read RAM yourself (``env.unwrapped.get_ram()``, or
``MemoryMap.from_env(env).read(env)``)."""


Policy = Callable[[dict[str, int]], str]
"""A driver function: the last ``info`` in, the buttons to hold out."""


def wants_env(driver: Callable[..., str]) -> bool:
    """True when a driver function takes the env too: two required positional parameters, or one named ``env``."""
    try:
        parameters = inspect.signature(driver).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    return len(required) >= 2 or any(p.name == "env" for p in positional)


def _button_stream(driver: Driver, frames: int | None) -> tuple[Iterator[Any], int]:
    """Per-frame buttons (a str, or the callable to ask) and how many frames to play."""
    if isinstance(driver, str):
        if frames is None:
            raise ValueError(f"holding {driver!r} needs a number of frames: drive(env, {driver!r}, frames=60)")
        return itertools.repeat(driver), frames
    if callable(driver):
        if frames is None:
            raise ValueError("a driver function needs a number of frames: drive(env, expert.buttons, frames=600)")
        return itertools.repeat(driver), frames
    script = as_steps(driver)  # the course's button scripts, notes allowed: ("B", 60, "accelerate")
    total = sum(step.frames for step in script)
    stream = itertools.chain.from_iterable(itertools.repeat(step.buttons, step.frames) for step in script)
    if frames is not None and frames > total:  # keep holding the last step's buttons
        stream = itertools.chain(stream, itertools.repeat(script[-1].buttons if script else ""))
    return stream, total if frames is None else frames


class Frame(NamedTuple):
    """What one emulator frame of a drive produced."""

    screen: np.ndarray
    """(224, 256, 3) uint8: the screen after the frame."""
    reward: float
    terminated: bool
    info: dict[str, int]
    """The data.json variables after the frame."""
    buttons: str
    """The buttons held during the frame, e.g. ``"B+LEFT"``."""


def frames_of(env: Any, driver: Driver, frames: int | None = None) -> Iterator[Frame]:
    """Step ``env`` one frame at a time as ``driver`` says, yielding each :class:`Frame`.

    Plays ``frames`` frames (a script's own length by default; longer holds its last step).
    Every frame-by-frame drive in the course goes through this loop. ``env`` must accept
    MultiBinary actions, e.g. made with ``use_restricted_actions=retro.Actions.ALL``.
    """
    game = env.unwrapped
    stream, n = _button_stream(driver, frames)
    with_env = callable(driver) and wants_env(driver)
    info = dict(game.data.lookup_all())  # reset() returns an empty info dict
    actions: dict[str, np.ndarray] = {}  # one array per combo, not one per frame
    for source in itertools.islice(stream, n):
        buttons = (source(info, env) if with_env else source(info)) if callable(source) else source
        if buttons not in actions:
            actions[buttons] = action_for(buttons, game.buttons)
        screen, reward, terminated, _, info = env.step(actions[buttons])
        yield Frame(screen, float(reward), bool(terminated), info, buttons)


def drive(env: Any, driver: Driver, frames: int | None = None, on_frame: Callable[[dict], None] | None = None) -> dict:
    """Play ``frames`` frames (a script's own length by default); return the last ``info``.

    ``on_frame(info)`` runs after every frame.
    """
    info = dict(env.unwrapped.data.lookup_all())
    for frame in frames_of(env, driver, frames):
        info = frame.info
        if on_frame is not None:
            on_frame(info)
    return info


def run_script(env: Any, script: ButtonScript, keep_frames: bool = False) -> list[np.ndarray]:
    """Step ``env`` through ``script``; return the last frame of each step if ``keep_frames``.

    Use an env made with ``use_restricted_actions=retro.Actions.ALL``: the default filter
    drops START and SELECT, so a menu would never open.
    """
    steps = as_steps(script, env.unwrapped.buttons)
    step_ends = set(itertools.accumulate(step.frames for step in steps))
    return [frame.screen for t, frame in enumerate(frames_of(env, steps), start=1) if keep_frames and t in step_ends]


@dataclass
class ScriptRun:
    """What playing a button script produced.

    Attributes:
        env: the env, still open and where the script left it (save a state from it).
        frames: the screen after each step, each 224 x 256 x 3 uint8.
        captions: one caption per frame: the frame number, the buttons and the note.
        info: the RAM variables (``data.json``) after the last step.
    """

    env: Any
    frames: list[np.ndarray]
    captions: list[str]
    info: dict[str, int]


def play_script(game: str, script: ButtonScript, state: Any = POWER_ON) -> ScriptRun:
    """Play ``script`` on ``game`` from ``state`` (power-on by default) and keep its frames.

    The frame of each step is the screen on its last frame. The env stays open in the result.
    """
    env = open_env(game, state)
    steps = as_steps(script, env.unwrapped.buttons)
    frames = run_script(env, steps, keep_frames=True)
    captions, end = [], 0
    for step in steps:
        end += step.frames
        captions.append(f"frame {end}: {step.buttons or '-'}\n{step.note}".rstrip())
    return ScriptRun(env, frames, captions, env.unwrapped.data.lookup_all())
