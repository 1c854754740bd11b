"""The env pipeline's settings: what the agent sees and does, in one dataclass."""

from __future__ import annotations

import math
from dataclasses import dataclass

from kart_helpers.game.constants import PRACTICE_GAME
from kart_helpers.pipeline.actions import ACTION_SETS, ORIGINAL_ACTIONS
from kart_helpers.pipeline.observations import VIEW_ROWS


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that decides what the agent sees and does. Frames are SNES frames (60 per second)."""

    game: str = PRACTICE_GAME
    """The integration: ``"PracticeKart-Snes"``, or ``"MarioKart-Snes"`` once you imported the ROM."""
    state: str = "Level1"
    """The start state episodes reset to (``Level1``: Practice Ring, ``Level2``: Hairpin Hills)."""
    actions: tuple[str, ...] = ORIGINAL_ACTIONS
    """The button combos of ``Discrete(len(actions))``, or the name of a set in
    :data:`~kart_helpers.pipeline.actions.ACTION_SETS` (``original``: 4 combos, ``driving``: 9)."""
    crop_rows: tuple[int, int] | None = VIEW_ROWS
    """Screen rows kept, ``[top, bottom)``: the race view without HUD and map. None keeps all 224."""
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
        actions = (self.actions,) if isinstance(self.actions, str) else tuple(self.actions)
        if len(actions) == 1 and actions[0] in ACTION_SETS:  # a set's name, e.g. from --actions driving
            actions = ACTION_SETS[actions[0]]
        if not actions:
            raise ValueError(f"actions is empty: give button combos or one of {', '.join(ACTION_SETS)}")
        object.__setattr__(self, "actions", actions)  # frozen: this is the one normalising write
        for name in ("frame_skip", "frame_stack"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name, size in (("crop_rows", 224), ("crop_cols", 256)):
            span = getattr(self, name)
            if span is not None and not 0 <= span[0] < span[1] <= size:
                raise ValueError(f"{name}={span}: give [start, stop) with 0 <= start < stop <= {size}, or None")

    @property
    def max_episode_steps(self) -> int | None:
        """The time limit in agent steps."""
        return None if self.max_episode_frames is None else math.ceil(self.max_episode_frames / self.frame_skip)

    def observation_shape(self, screen: tuple[int, int, int] = (224, 256, 3)) -> tuple[int, ...]:
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
