"""The training run's progress bar, which a saved notebook shows as the run ended.

tqdm's notebook bar is a widget whose plain-text copy, the part a saved notebook keeps, is
written once, when the bar is first shown: a notebook saved after a finished run read
"0/409600" forever. Our bar shows itself through an IPython display handle and rewrites that
copy when it closes.
"""

from __future__ import annotations

from typing import Any

from IPython.display import display
from tqdm.auto import tqdm
from tqdm.notebook import tqdm_notebook


class NotebookBar(tqdm_notebook):
    """``tqdm.notebook.tqdm`` whose saved text is its final state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, display=False, **kwargs)
        self._handle = display(self.container, display_id=True) if not self.disable else None

    def close(self) -> None:
        # Once only: tqdm closes again from __del__, when the widget's link back to the bar is gone.
        handle, self._handle = getattr(self, "_handle", None), None
        super().close()
        if handle is not None:
            handle.update(self.container)  # a fresh plain-text copy: the last count and rate


def progress_bar(**kwargs: Any) -> Any:
    """A tqdm bar (tqdm's keyword arguments): :class:`NotebookBar` in Jupyter, the terminal's bar elsewhere."""
    return NotebookBar(**kwargs) if issubclass(tqdm, tqdm_notebook) else tqdm(**kwargs)
