"""Small tables that show as HTML in Jupyter and as aligned text everywhere else (no pandas)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    """Rows of cells under a header. Jupyter shows it as HTML; ``print`` shows aligned text.

    ``highlight`` holds the indices of rows to draw in bold red (for example, failed checks).
    """

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    title: str = ""
    highlight: set[int] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        """The cells of the column called ``name``."""
        k = list(self.header).index(name)
        return [row[k] for row in self.rows]

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        cells = [[str(c) for c in self.header]] + [[str(c) for c in row] for row in self.rows]
        widths = [max(len(row[k]) for row in cells) for k in range(len(self.header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(([self.title] if self.title else []) + lines)

    def _repr_html_(self) -> str:
        def td(cell: Any, tag: str) -> str:
            return f"<{tag} style='text-align:left;padding:2px 8px'>{html.escape(str(cell))}</{tag}>"

        head = "".join(td(c, "th") for c in self.header)
        bold = " style='color:#b00;font-weight:bold'"
        body = "".join(
            f"<tr{bold if i in self.highlight else ''}>" + "".join(td(c, "td") for c in row) + "</tr>"
            for i, row in enumerate(self.rows)
        )
        caption = f"<caption style='text-align:left;font-weight:bold'>{html.escape(self.title)}</caption>"
        return (
            f"<table style='font-family:monospace;font-size:12px'>{caption if self.title else ''}"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
