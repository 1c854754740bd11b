"""The training bar's saved text: a saved notebook shows where the run ended, not 0 %."""

from kart_helpers.display import progress_bar as module


class Handle:
    def __init__(self, shown: list[str]) -> None:
        self.shown = shown

    def update(self, obj: object) -> None:
        self.shown.append(repr(obj))


def test_the_saved_text_is_rewritten_when_the_bar_closes(monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(module, "display", lambda obj, display_id: (shown.append(repr(obj)), Handle(shown))[1])
    bar = module.NotebookBar(total=400, unit="step", desc="PPO")
    bar.update(400)
    bar.close()
    assert "0/400" in shown[0]
    assert len(shown) == 2 and "400/400" in shown[-1] and "100%" in shown[-1]
    bar.close()  # tqdm closes again when the bar is collected: nothing more is shown
    del bar
    assert len(shown) == 2


def test_outside_jupyter_the_bar_is_the_terminal_one():
    bar = module.progress_bar(total=3, disable=True)
    assert not isinstance(bar, module.NotebookBar)
