"""Action spaces: stable-retro's action modes, and small sets of button combos for driving.

A SNES pad has 12 buttons. stable-retro offers four ways to press them (its *action modes*);
:func:`action_modes` lists them for an env and :func:`print_action_modes` explains them.
An agent learns faster with a handful of useful combos, so :class:`ButtonCombos` turns a
``Discrete(n)`` choice into the buttons of combo ``n``::

    env = ButtonCombos(make_env(PRACTICE_GAME, use_restricted_actions=retro.Actions.ALL), ORIGINAL_ACTIONS)
    env.step(2)  # holds B+RIGHT for one step

A combo is a string of button names joined with ``+`` (``"B+LEFT"``); ``""`` presses nothing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import stable_retro as retro

from kart_helpers.emulator.buttons import action_for, buttons_mask, buttons_of

ORIGINAL_ACTIONS: tuple[str, ...] = ("B", "B+LEFT", "B+RIGHT", "B+L")
"""The original project's 4 actions: accelerate, accelerate and steer left or right, hop.
The kart can never let go of the throttle, so it cannot slow down for a bend."""

DRIVING_ACTIONS: tuple[str, ...] = (
    "B",
    "B+LEFT",
    "B+RIGHT",
    "",
    "LEFT",
    "RIGHT",
    "B+L",
    "B+L+LEFT",
    "B+L+RIGHT",
)
"""A richer set of 9: the original throttle combos, *releases* (coast straight, coast and steer:
lifting off is how the scripted expert takes tight bends) and *hop-turns* (hop while steering,
no off-road slowdown while airborne)."""

ACTION_SETS: dict[str, tuple[str, ...]] = {"original": ORIGINAL_ACTIONS, "driving": DRIVING_ACTIONS}
"""The driving sets by name, for configs and the command line."""

ON_SCREEN: dict[str, str] = {
    "": "coast: the kart rolls on and slows down",
    "B": "accelerate straight ahead",
    "Y": "brake, then reverse",
    "B+LEFT": "accelerate, turning left (2/256 of a turn per frame)",
    "B+RIGHT": "accelerate, turning right",
    "LEFT": "coast and turn left: slower, so the turn is tighter",
    "RIGHT": "coast and turn right",
    "B+L": "hop: 16 frames airborne (see the shadow), no off-road slowdown",
    "B+L+LEFT": "hop-turn left: steer while airborne",
    "B+L+RIGHT": "hop-turn right",
    "START": "pause (a second press resumes)",
}
"""What each combo does in Practice Kart (and Super Mario Kart), for tables and captions."""


class ButtonCombos(gym.ActionWrapper):
    """A generic discretizer: action ``k`` of ``Discrete(len(combos))`` holds ``combos[k]``.

    Wrap an env whose actions are ``MultiBinary(12)``, i.e. made with
    ``use_restricted_actions=retro.Actions.ALL`` (or ``FILTERED``, if no combo is one the
    filter would drop). The button arrays are built once, so a step costs a tuple lookup.

    Args:
        env: a stable-retro env (possibly wrapped) with a ``MultiBinary`` action space.
        combos: the button combos, e.g. :data:`ORIGINAL_ACTIONS`.

    Raises:
        ValueError: an unknown button, a duplicate combo, or a combo that the env's
            ``FILTERED`` mode would silently change.
    """

    def __init__(self, env: gym.Env, combos: Sequence[str]) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, gym.spaces.MultiBinary):
            raise ValueError(
                f"ButtonCombos needs a MultiBinary action space, got {env.action_space}; "
                "make the env with use_restricted_actions=retro.Actions.ALL"
            )
        combos = tuple(combos)
        if not combos:
            raise ValueError("ButtonCombos needs at least one combo")
        canonical = [frozenset(b for b in c.split("+") if b) for c in combos]
        if len(set(canonical)) != len(canonical):
            raise ValueError(f"duplicate combos in {combos}")
        base: retro.RetroEnv = env.unwrapped
        names = base.buttons
        if getattr(base, "use_restricted_actions", None) == retro.Actions.FILTERED:
            for combo in combos:
                mask = buttons_mask(combo, names)
                kept = base.data.filter_action(mask)
                if kept != mask:
                    raise ValueError(
                        f"combo {combo!r}: the env's FILTERED action mode silently turns it into "
                        f"{buttons_of(kept, names) or 'nothing'}; make the env with "
                        "use_restricted_actions=retro.Actions.ALL"
                    )
        self.combos = combos
        self._arrays = tuple(action_for(c, names) for c in combos)
        self.action_space = gym.spaces.Discrete(len(combos))

    def action(self, action: Any) -> np.ndarray:
        """The ``MultiBinary`` button array for action ``action`` (an int in ``[0, n)``)."""
        return self._arrays[int(action)]

    def meaning(self, action: int) -> str:
        """The combo of ``action``, e.g. ``"B+LEFT"``."""
        return self.combos[int(action)]


@dataclass(frozen=True)
class ActionMode:
    """One of stable-retro's action modes, as it behaves for a given game."""

    name: str
    """How to ask for it: ``retro.Actions.<name>``."""
    space: str
    """The action space it gives, e.g. ``"Discrete(468)"``."""
    combinations: int
    """How many different button presses can reach the game."""
    notes: str
    """What it does to button presses, with what was measured on the env."""


def _discrete_groups(env: Any) -> list[list[str]]:
    # button_combos: one list of bitmasks per group (d-pad vertical, horizontal, face, shoulder).
    names = env.unwrapped.buttons
    return [[buttons_of(mask, names) or "-" for mask in group] for group in env.unwrapped.button_combos]


def action_modes(env: Any) -> list[ActionMode]:
    """stable-retro's action modes for ``env``'s game, with what the filter does, measured.

    Works with an env in any mode: the filter and the combo groups come from the game's
    data, not from the mode the env was made with.
    """
    base = env.unwrapped
    names = [n for n in base.buttons if n]
    groups = _discrete_groups(env)
    sizes = [len(g) for g in groups]
    discrete = int(np.prod(sizes))

    def filtered(combo: str) -> str:
        mask = buttons_mask(combo, base.buttons)
        kept = base.data.filter_action(mask)
        return "kept" if kept == mask else buttons_of(kept, base.buttons) or "nothing"

    probes = ["START", "SELECT", "B+LEFT+RIGHT", "UP+DOWN", "B+L+LEFT"]
    seen = ", ".join(f"{p} -> {filtered(p)}" for p in probes)
    return [
        ActionMode(
            "ALL",
            f"MultiBinary({len(base.buttons)})",
            2 ** len(base.buttons),
            f"each of {', '.join(names)} on or off every frame; every press reaches the game, START too",
        ),
        ActionMode(
            "FILTERED",
            f"MultiBinary({len(base.buttons)})",
            discrete,
            "stable-retro's default: same space, but presses outside the game's combo table are "
            f"changed silently. Measured: {seen}",
        ),
        ActionMode(
            "DISCRETE",
            f"Discrete({discrete})",
            discrete,
            "one number per combination of the groups "
            + " x ".join(f"{{{', '.join(g)}}}" for g in groups)
            + f" = {' x '.join(map(str, sizes))}",
        ),
        ActionMode(
            "MULTI_DISCRETE",
            f"MultiDiscrete({sizes})",
            discrete,
            "one choice per group (the same groups as DISCRETE)",
        ),
    ]


def print_action_modes(env: Any, combos: Sequence[str] = ORIGINAL_ACTIONS) -> None:
    """Print stable-retro's action modes for ``env``, and the driving set ``combos`` beside them."""

    def show(name: str, space: str, count: int, notes: str) -> None:
        print(f"{name:<30} {space:<30} {count:>5} different presses")
        print(textwrap.fill(notes, 100, initial_indent="    ", subsequent_indent="    "))

    for mode in action_modes(env):
        show(f"retro.Actions.{mode.name}", mode.space, mode.combinations, mode.notes)
    show("ButtonCombos (ours)", f"Discrete({len(combos)})", len(combos), ", ".join(c or "(none)" for c in combos))
