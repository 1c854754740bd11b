"""An ipywidgets RAM-search panel: drive the game with buttons, filter, and watch candidates.

Layout: the game screen and drive buttons on the left; the type, the filter buttons and the
candidate table on the right; below, the value history of the selected candidate. Every
button calls a public method (:meth:`RamSearchPanel.drive`, :meth:`RamSearchPanel.apply`, ...),
so the panel can also be driven from code.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np
from IPython.display import display
from PIL import Image

from kart_helpers.emulator.buttons import action_for
from kart_helpers.ram.search import OPS, RamSearch

DRIVE_BUTTONS = ("", "B", "B+LEFT", "B+RIGHT", "Y", "L", "UP", "DOWN")
"""Drive buttons offered when the game has them ("" = no buttons: wait)."""
FILTER_OPS = ("changed", "unchanged", "increased", "decreased", "increased_by", "equal")
"""Filter buttons; ``increased_by`` and ``equal`` use the value box."""


def _png(image: np.ndarray | Any) -> bytes:
    buffer = io.BytesIO()
    if isinstance(image, np.ndarray):
        Image.fromarray(image).save(buffer, format="PNG")
    else:  # a matplotlib Figure
        image.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


class RamSearchPanel:
    """A RAM-search panel for a live env; display it as the last expression of a cell.

    env: a stable-retro env that accepts MultiBinary actions. search: an ongoing
    :class:`RamSearch` (default: a new one, first snapshot now). buttons: drive buttons
    (default: those of :data:`DRIVE_BUTTONS` the game has).
    """

    def __init__(self, env: Any, search: RamSearch | None = None, buttons: Sequence[str] | None = None) -> None:

        self.env = env
        self.search = search or RamSearch.start(env)
        names = env.unwrapped.buttons
        self.drive_buttons = [b for b in (buttons or DRIVE_BUTTONS) if set(filter(None, b.split("+"))) <= set(names)]
        types = self.search.memory_map.types

        self.screen = w.Image(format="png", layout=w.Layout(width="384px"))
        self.frames = w.BoundedIntText(value=30, min=1, max=3600, description="frames", layout=w.Layout(width="160px"))
        self.hold = {b: w.Button(description=b or "wait", layout=w.Layout(width="90px")) for b in self.drive_buttons}
        self.type = w.Dropdown(
            options=list(dict.fromkeys([self.search.type, *types])),
            value=self.search.type,
            description="type",
            layout=w.Layout(width="160px"),
        )
        self.value = w.IntText(value=1, description="N", layout=w.Layout(width="160px"))
        labels = {"increased_by": "increased by N", "equal": "equal to N"}
        self.filters = {
            op: w.Button(description=labels.get(op, op), layout=w.Layout(width="120px")) for op in FILTER_OPS
        }
        self.undo_button = w.Button(description="undo", layout=w.Layout(width="80px"))
        self.restart_button = w.Button(description="restart", layout=w.Layout(width="80px"))
        self.status = w.HTML()
        self.candidates = w.HTML(layout=w.Layout(max_height="260px", overflow="auto"))
        self.pick = w.Dropdown(description="plot #", layout=w.Layout(width="260px"))
        self.plot = w.Image(format="png")

        # In a browser, an exception in a click handler only reaches the log console: show it instead.
        for buttons, button in self.hold.items():
            button.on_click(lambda _, b=buttons: self._shown(self.drive, b))
        for op, button in self.filters.items():
            button.on_click(lambda _, o=op: self._shown(self.apply, o))
        self.undo_button.on_click(lambda _: self._shown(self.undo))
        self.restart_button.on_click(lambda _: self._shown(self.restart))
        self._redrawing = False
        self.pick.observe(self._picked, names="value")

        drive_box = w.VBox(
            [self.frames, w.GridBox(list(self.hold.values()), layout=w.Layout(grid_template_columns="repeat(4, 92px)"))]
        )
        filter_box = w.VBox(
            [
                w.HBox([self.type, self.value]),
                w.GridBox(list(self.filters.values()), layout=w.Layout(grid_template_columns="repeat(3, 122px)")),
                w.HBox([self.undo_button, self.restart_button]),
                self.status,
                self.candidates,
            ]
        )
        self.widget = w.VBox([w.HBox([w.VBox([self.screen, drive_box]), filter_box]), self.pick, self.plot])
        self.refresh()

    def _picked(self, change: dict[str, Any]) -> None:
        if not self._redrawing:
            self.select(change["new"])

    def _shown(self, handler: Any, *args: Any) -> None:
        try:
            handler(*args)
        except Exception as err:
            closed = not hasattr(self.env.unwrapped, "em")
            text = "this emulator was closed (an env was made since); run the panel's cell again"
            message = text if closed else f"{type(err).__name__}: {err}"
            self.status.value = f"<span style='color:#b00'>{message}</span>"

    def drive(self, buttons: str) -> None:
        """Hold ``buttons`` for the frames in the box, then take a snapshot."""
        action_for(buttons, self.env.unwrapped.buttons)  # unknown buttons raise here, with the list
        self.search.drive(self.env, buttons, self.frames.value)
        self.refresh()

    def apply(self, op: str) -> int:
        """Run filter ``op`` with the chosen type (and N for ``increased_by``/``equal``)."""
        if op not in OPS:
            raise ValueError(f"unknown filter {op!r}; choose one of {', '.join(OPS)}")
        value = self.value.value if op in ("increased_by", "equal", "not_equal", "greater", "less") else None
        left = self.search.filter(op, value, type=self.type.value)
        self.refresh()
        return left

    def undo(self) -> None:
        """Back to the candidates before the last filter."""
        if self.search._undo:
            self.search.undo()
        self.refresh()

    def restart(self) -> None:
        """Every address is a candidate again, read as the chosen type."""
        self.search.restart(self.type.value)
        self.refresh()

    def select(self, which: int | None) -> None:
        """Plot candidate ``which`` (a row of the table) against frames."""
        from matplotlib.figure import Figure  # drawn off-screen into a PNG: works with any backend

        if which is None or not 0 <= which < len(self.search):
            self.plot.value = b""
            return
        fig = Figure(figsize=(7, 2.4))
        self.search.plot(which, ax=fig.add_subplot())
        fig.tight_layout()
        self.plot.value = _png(fig)

    def refresh(self) -> None:
        """Redraw the screen, the status line, the table and the plot."""
        self.screen.value = _png(self.env.unwrapped.get_screen())
        s = self.search
        last = s.log[-1].strip() if s.log else ""
        self.status.value = f"<b>{len(s)} candidates</b> after {s.n_snapshots} snapshots, frame {s.frame}. {last}"
        self.candidates.value = s.table(limit=20)._repr_html_()
        rows = min(len(s), 20)
        options = [(f"#{k}: {s.memory_map.label(int(a))}", k) for k, a in enumerate(s.addresses[:rows])]
        keep = self.pick.value if self.pick.value is not None and self.pick.value < rows else (0 if rows else None)
        self._redrawing = True  # setting options fires the observer; draw the plot once, below
        try:
            self.pick.options = options
            self.pick.value = keep
        finally:
            self._redrawing = False
        self.select(keep)

    def _ipython_display_(self) -> None:

        display(self.widget)
