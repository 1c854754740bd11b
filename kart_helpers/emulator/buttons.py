"""Buttons: names, masks, the MultiBinary action that holds them, and button scripts.

A button script is a list of steps ``(buttons, frames)`` or ``(buttons, frames, note)``: hold
``buttons`` (names joined with ``+``, or ``""`` for none) for ``frames`` frames (60 per second).
The note says what the step is for and becomes the caption of its frame when the script is played::

    [("", 20, "title screen"), ("START", 2, "open the track select"), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import stable_retro as retro


class Step(NamedTuple):
    """One step of a button script: hold ``buttons`` for ``frames`` frames."""

    buttons: str
    frames: int
    note: str = ""


ButtonScript = Sequence[Step | tuple[str, int] | tuple[str, int, str]]


def as_steps(script: ButtonScript, button_names: Sequence[str | None] | None = None) -> list[Step]:
    """``script`` as a list of :class:`Step`, checked: whole positive frame counts, known buttons.

    Raises:
        ValueError: naming the step that is wrong and what a step looks like.
    """
    steps = []
    for k, raw in enumerate(script):
        if not isinstance(raw, tuple | list) or len(raw) not in (2, 3):
            raise ValueError(f"step {k} is {raw!r}; a step is (buttons, frames) or (buttons, frames, note)")
        step = Step(*raw)
        if not isinstance(step.buttons, str):
            raise ValueError(f"step {k}: buttons must be a string like 'B+LEFT' or '', not {step.buttons!r}")
        if isinstance(step.frames, bool) or not isinstance(step.frames, int | np.integer) or step.frames < 1:
            raise ValueError(f"step {k} ({step.buttons or 'no buttons'}): frames must be a whole number >= 1")
        if button_names is not None:
            action_for(step.buttons, button_names)  # raises on unknown buttons
        steps.append(step)
    return steps


def script_frames(script: ButtonScript) -> int:
    """Total length of ``script`` in frames."""
    return sum(step.frames for step in as_steps(script))


def format_script(script: ButtonScript) -> str:
    """``script`` as a table: start frame, buttons, frames held, note."""
    lines, start = [f"{'frame':>6}  {'buttons':<12} {'hold':>5}  note"], 0
    for step in as_steps(script):
        lines.append(f"{start:>6}  {step.buttons or '-':<12} {step.frames:>5}  {step.note}".rstrip())
        start += step.frames
    lines.append(f"{start:>6}  (end: {start / 60:.1f} s)")
    return "\n".join(lines)


def action_for(buttons: str, button_names: Sequence[str | None]) -> np.ndarray:
    """The MultiBinary action that holds ``buttons`` ("B+LEFT"), for an env's ``buttons``."""
    wanted = {b for b in buttons.split("+") if b}
    unknown = wanted - set(button_names)
    if unknown:
        raise ValueError(f"unknown button(s) {sorted(unknown)}; this game has {[b for b in button_names if b]}")
    return np.array([name in wanted for name in button_names], dtype=np.int8)


def buttons_mask(combo: str, button_names: Sequence[str | None]) -> int:
    """``combo`` as stable-retro's button bitmask (bit ``i`` is ``button_names[i]``)."""
    return int(sum(int(bit) << i for i, bit in enumerate(action_for(combo, button_names))))


def buttons_of(mask: int, button_names: Sequence[str | None]) -> str:
    """A button bitmask as a combo string, e.g. ``"B+LEFT"`` (``""`` for none)."""
    return "+".join(name for i, name in enumerate(button_names) if name and mask >> i & 1)


#: The SNES pad in stable-retro's order (an env's ``buttons``).
SNES_BUTTONS = ("B", "Y", "SELECT", "START", "UP", "DOWN", "LEFT", "RIGHT", "A", "X", "L", "R")


def default_actions(system: str = "Snes") -> list[list[list[str]]]:
    """The button groups stable-retro's FILTERED mode allows when a scenario has no ``actions``."""

    return retro.data.EMU_INFO[system]["actions"]


def filter_buttons(buttons: str, actions: Sequence[Sequence[Sequence[str]]] | None = None) -> str:
    """What stable-retro's ``Actions.FILTERED`` mode does to pressed ``buttons`` ("B+LEFT+L").

    ``actions`` is a list of groups, each a list of allowed combinations. Per group, the
    pressed buttons of that group survive only if they are exactly one allowed combination;
    buttons in no group never survive. With ``actions=None`` the SNES default applies, which
    has no group for START or SELECT: in FILTERED mode a menu can never be opened.
    """
    pressed = {b for b in buttons.split("+") if b}
    kept: set[str] = set()
    for group in actions if actions is not None else default_actions():
        members = {b for combo in group for b in combo}
        mine = pressed & members
        if any(set(combo) == mine for combo in group):
            kept |= mine
    return "+".join(sorted(kept, key=lambda b: SNES_BUTTONS.index(b) if b in SNES_BUTTONS else len(SNES_BUTTONS)))
