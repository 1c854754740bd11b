"""The env pipeline's settings: what the agent sees and does, in one dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass

import stable_retro as retro

from kart_helpers.emulator.integration import game_system
from kart_helpers.game.constants import GAMES, PRACTICE_GAME
from kart_helpers.pipeline.actions import ACTION_SETS, ORIGINAL_ACTIONS
from kart_helpers.pipeline.observations import VIEW_ROWS

SNES_SCREEN = (224, 256)  # rows, columns
NOT_ACTIONS = {"START", "SELECT", "MODE"}  # pause and menu buttons: no part of a default action set


class KartDefault(tuple):
    """A default that is a fact of the kart games (the ``B+L`` hop, the race view's rows).

    It equals the plain tuple. For any other game :class:`PipelineConfig` replaces it with that
    game's default; a value you pass yourself is a plain tuple and is kept as it is.
    """

    __slots__ = ()


def console_actions(game: str) -> tuple[str, ...]:
    """A default action set for a game that is not a kart: no button, then each button of its
    console's pad alone (START, SELECT and MODE left out).

    Raises:
        ValueError: the game's name does not say its console (``MyGame-Genesis``).
    """
    system = game_system(game)
    if system is None:
        raise ValueError(
            f"PipelineConfig(game={game!r}): its console is not in its name (e.g. MyGame-Genesis), so there "
            "is no default action set; pass actions=('', 'B', 'LEFT', ...) with your pad's button names"
        )
    buttons = [b for b in retro.data.EMU_INFO[system]["buttons"] if b and b not in NOT_ACTIONS]
    return ("", *buttons)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that decides what the agent sees and does. Frames are emulator frames (60 per second).

    The defaults of ``actions`` and ``crop_rows`` are Practice Kart's; for a game that is not one
    of the kart games they become that game's (its console's buttons alone; the whole screen).
    """

    game: str = PRACTICE_GAME
    """The integration: ``"PracticeKart-Snes"``, or ``"MarioKart-Snes"`` once you imported the ROM."""
    state: str = "Level1"
    """The start state episodes reset to (``Level1``: Practice Ring, ``Level2``: Hairpin Hills)."""
    actions: tuple[str, ...] = KartDefault(ORIGINAL_ACTIONS)
    """The button combos of ``Discrete(len(actions))``, or the name of a set in
    :data:`~kart_helpers.pipeline.actions.ACTION_SETS` (``original``: 4 combos, ``driving``: 9).
    Another game's default: :func:`console_actions`."""
    crop_rows: tuple[int, int] | None = KartDefault(VIEW_ROWS)
    """Screen rows kept, ``[top, bottom)``: the race view without HUD and map. None keeps all
    (224 on SNES); another game's default is None."""
    crop_cols: tuple[int, int] | None = None
    """Screen columns kept, ``[left, right)``, or None for all 256. Practice Kart keeps the kart in
    column 128, so ``(64, 192)`` is a window 64 pixels to each side of it."""
    grayscale: bool = True
    """Turn RGB into one luma channel."""
    resize: tuple[int, int] | None = (84, 84)
    """(height, width) after area averaging, or None to keep the cropped size."""
    frame_skip: int = 4
    """Frames per agent step (the action is held; rewards are summed)."""
    frame_stack: int = 4
    """Agent steps stacked into one observation (first axis), or 1 for no stack."""
    max_noops: int = 30
    """Each reset waits a random 0 to ``max_noops`` frames, drawn from the env's seeded RNG."""
    reward_clip: float | None = None
    """Clip each step's reward to ``[-reward_clip, reward_clip]``, or None. Atari's sign clipping
    (1.0) would make a checkpoint (+300) worth no more than the time cost (-1)."""
    max_episode_frames: int | None = 7200
    """Truncate an episode after this many frames (7200 = 2 minutes, about twice the par time
    for five laps of Practice Ring), or None."""
    fast_skip: bool = True
    """Use the fast path of :class:`~kart_helpers.pipeline.observations.MaxAndSkip`: the same rewards, done flags and
    observations, in 4-12% less time per step."""

    def __post_init__(self) -> None:
        kart = self.game in GAMES
        if isinstance(self.actions, KartDefault):
            actions = self.actions if kart else console_actions(self.game)
        else:
            actions = (self.actions,) if isinstance(self.actions, str) else tuple(self.actions)
        if len(actions) == 1 and actions[0] in ACTION_SETS:  # a set's name, e.g. from --actions driving
            actions = ACTION_SETS[actions[0]]
        if not actions:
            raise ValueError(f"actions is empty: give button combos or one of {', '.join(ACTION_SETS)}")
        # frozen: these are the normalising writes; a kart default stays marked, so replace(game=...) redoes it
        object.__setattr__(self, "actions", actions)
        if isinstance(self.crop_rows, KartDefault) and not kart:
            object.__setattr__(self, "crop_rows", None)
        for name in ("frame_skip", "frame_stack"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        # Only a SNES screen's size is known here; Crop checks any other against the real frame.
        sizes = SNES_SCREEN if game_system(self.game) == "Snes" else (None, None)
        for name, size in zip(("crop_rows", "crop_cols"), sizes, strict=True):
            span = getattr(self, name)
            if span is not None and not 0 <= span[0] < span[1] <= (size or span[1]):
                top = f"<= {size}" if size else "(within the screen)"
                raise ValueError(f"{name}={span}: give [start, stop) with 0 <= start < stop {top}, or None")

    @property
    def max_episode_steps(self) -> int | None:
        """The time limit in agent steps."""
        return None if self.max_episode_frames is None else math.ceil(self.max_episode_frames / self.frame_skip)

    def observation_shape(self, screen: tuple[int, int, int] = (*SNES_SCREEN, 3)) -> tuple[int, ...]:
        """The shape of an observation for a screen of shape ``screen`` (H, W, C)."""
        h, w, c = screen
        if self.crop_rows is not None:
            h = self.crop_rows[1] - self.crop_rows[0]
        if self.crop_cols is not None:
            w = self.crop_cols[1] - self.crop_cols[0]
        shape: tuple[int, ...] = (h, w) if self.grayscale else (h, w, c)
        if self.resize is not None:
            shape = (*self.resize, *shape[2:])
        return (self.frame_stack, *shape) if self.frame_stack > 1 else shape
