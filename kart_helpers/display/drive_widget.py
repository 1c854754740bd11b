"""Drive the emulator by hand in a notebook: hold buttons, advance frames, save a state.

When a button script stops in the wrong menu (the real game's script is unverified), play
the rest by hand: toggle the buttons to hold, advance 1, 10 or 60 frames, watch the
screen, and save a state on the grid. Everything played is kept as a button script
(:attr:`EmulatorDriver.script`), so the way you found can become a script.

:class:`EmulatorDriver` is the logic (usable and testable without a browser);
:func:`drive_widget` wraps it in ipywidgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np

from kart_helpers.display.frames import screen_png
from kart_helpers.emulator.buttons import Step, action_for
from kart_helpers.emulator.drive import frames_of
from kart_helpers.emulator.env import POWER_ON, open_env
from kart_helpers.emulator.start_scripts import grid_problems
from kart_helpers.emulator.states import save_start_state

# The pad as a player sees it: d-pad, face buttons, shoulders, START/SELECT.
PAD_ROWS = (("UP", "DOWN", "LEFT", "RIGHT"), ("B", "Y", "A", "X"), ("L", "R", "START", "SELECT"))
STATUS_VARIABLES = ("laps", "checkpoint", "speed", "x", "y", "current_frame")


class EmulatorDriver:
    """An emulator driven by hand, frame by frame.

    Args:
        game: the integration, e.g. ``"PracticeKart-Snes"``.
        state: where to start: ``POWER_ON`` (default), a state name, or a ``.state`` path.
        env: drive this env instead of making one (it must accept every button).
    """

    def __init__(self, game: str, state: Any = POWER_ON, env: Any = None) -> None:
        self.game = game
        self.env = env if env is not None else open_env(game, state)
        self.held: set[str] = set()
        self.frames = 0
        self._played: list[list] = []  # [buttons, frames] runs, merged as they grow
        self._screen = self.env.render()

    @property
    def buttons(self) -> list[str]:
        """The game's button names."""
        return [b for b in self.env.unwrapped.buttons if b]

    @property
    def held_text(self) -> str:
        """The held buttons as a script would write them, e.g. ``"B+LEFT"``."""
        return "+".join(b for b in self.buttons if b in self.held)

    def hold(self, buttons: str) -> None:
        """Hold exactly ``buttons`` ("B+LEFT", or "" for none) from the next frame on."""
        action_for(buttons, self.buttons)  # raises on unknown names
        self.held = {b for b in buttons.split("+") if b}

    def toggle(self, button: str, down: bool | None = None) -> None:
        """Press or release one button (``down=None`` flips it)."""
        action_for(button, self.buttons)
        down = button not in self.held if down is None else down
        (self.held.add if down else self.held.discard)(button)

    def advance(self, frames: int = 1) -> np.ndarray:
        """Run ``frames`` frames with the held buttons; return the screen (224 x 256 x 3 uint8)."""
        for frame in frames_of(self.env, self.held_text, frames):
            self._screen = frame.screen
        self.frames += frames
        if self._played and self._played[-1][0] == self.held_text:
            self._played[-1][1] += frames
        else:
            self._played.append([self.held_text, frames])
        return self._screen

    @property
    def screen(self) -> np.ndarray:
        """The current screen."""
        return self._screen

    @property
    def info(self) -> dict[str, int]:
        """The RAM variables of data.json right now."""
        return self.env.unwrapped.data.lookup_all()

    @property
    def script(self) -> list[Step]:
        """Everything played so far, as a button script."""
        return [Step(buttons, frames) for buttons, frames in self._played]

    def on_grid(self) -> list[str]:
        """Why the kart is not waiting on the start grid (empty when it is)."""
        return grid_problems(self.info, self.game)

    def save(self, name: str = "Level1", make_default: bool = True, folder: Path | None = None) -> Path:
        """Save the current state as ``<name>.state`` in your user folder (see ``save_start_state``)."""
        return save_start_state(self.env, name, self.game, folder=folder, make_default=make_default)


class DriveWidget:
    """The widget of :func:`drive_widget`; its parts are attributes, for tests and tinkering.

    Attributes:
        driver: the :class:`EmulatorDriver` behind it.
        toggles: button name -> ToggleButton.
        steps: frames (1, 10, 60) -> the Button that advances that many.
        screen: the Image showing the current frame.
        status: the HTML line with RAM values and whether the kart is on the grid.
        name, make_default, save: the save-state controls; message shows what happened.
        box: the whole widget.
    """

    def __init__(self, driver: EmulatorDriver) -> None:

        self.driver = driver
        self.toggles = {}
        rows = []
        for row in PAD_ROWS:
            cells = []
            for button in row:
                if button in driver.buttons:
                    toggle = w.ToggleButton(description=button, layout=w.Layout(width="72px"))
                    toggle.observe(self._on_toggle(button), names="value")
                    self.toggles[button] = toggle
                    cells.append(toggle)
            rows.append(w.HBox(cells))
        self.steps = {}
        for frames in (1, 10, 60):
            button = w.Button(description=f"+{frames} frame{'s' * (frames > 1)}", layout=w.Layout(width="100px"))
            button.on_click(self._on_advance(frames))
            self.steps[frames] = button
        self.screen = w.Image(format="png", layout=w.Layout(width="512px"))
        self.status = w.HTML()
        self.name = w.Text(value="Level1", description="state name", layout=w.Layout(width="240px"))
        self.make_default = w.Checkbox(value=True, description="make it the default", indent=False)
        self.save = w.Button(description="Save state", button_style="success")
        self.save.on_click(self._on_save)
        self.message = w.HTML()
        controls = w.VBox(
            [
                w.HTML("<b>hold</b>"),
                *rows,
                w.HTML("<b>advance</b>"),
                w.HBox(list(self.steps.values())),
                w.HTML("<b>save</b>"),
                self.name,
                self.make_default,
                self.save,
                self.message,
            ]
        )
        self.box = w.VBox([w.HBox([self.screen, controls]), self.status])
        self.refresh()

    def _on_toggle(self, button: str) -> Any:
        def handler(change: dict) -> None:
            self.driver.toggle(button, bool(change["new"]))

        return handler

    def _on_advance(self, frames: int) -> Any:
        def handler(_: Any) -> None:
            self.driver.advance(frames)
            self.refresh()

        return handler

    def _on_save(self, _: Any) -> None:
        try:
            path = self.driver.save(self.name.value.strip(), self.make_default.value)
        except ValueError as err:
            self.message.value = f"<span style='color:#b00'>{err}</span>"
            return
        default = " and made it the default" if self.make_default.value else ""
        self.message.value = f"saved {path}{default}"

    def refresh(self) -> None:
        """Show the current screen and RAM."""
        self.screen.value = screen_png(self.driver.screen)
        info = self.driver.info
        values = ", ".join(f"{k} {info[k]}" for k in STATUS_VARIABLES if k in info)
        problems = self.driver.on_grid()
        grid = "on the grid: ready to save" if not problems else f"not on the grid: {problems[0]}"
        self.status.value = f"frame {self.driver.frames} &middot; {values} &middot; <i>{grid}</i>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.box._repr_mimebundle_(**kwargs)


def drive_widget(game: str, state: Any = POWER_ON, env: Any = None) -> DriveWidget:
    """A "drive the emulator" widget for ``game``, starting at ``state`` (power-on by default).

    Display it as a cell's last expression. It closes any emulator made before (one per
    process), and its own env stays open until another is made.
    """
    return DriveWidget(EmulatorDriver(game, state, env))
