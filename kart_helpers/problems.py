"""One finding of a check (data.json, scenario.json, Lua): what is wrong, where, and a hint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or risky) in an integration file, located in the file when possible.

    data.json's checks name the variable (``name``); scenario.json's and the Lua checks name
    the file and line, and show that line (``code``).
    """

    message: str
    path: Path | None = None
    line: int | None = None
    hint: str = ""
    severity: str = "error"
    """``"error"`` (stable-retro would fail or misbehave) or ``"warning"`` (legal but risky)."""
    code: str = ""
    """The source line blamed; read from ``path`` when the problem is made."""
    name: str = ""
    """The data.json variable it is about ("" for the file as a whole, or a scenario finding)."""

    def __post_init__(self) -> None:
        if not self.code:  # read it now: the file may be a scratch copy that goes away
            object.__setattr__(self, "code", _source_line(self.path, self.line))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}: " if self.path and self.line else f"{self.path}: " if self.path else ""
        text = f"{where}{self.severity}: {self.name + ': ' if self.name else ''}{self.message}"
        if self.code:
            text += f"\n    {self.line:>4} | {self.code}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


def line_of(path: Path | None, needle: str) -> int | None:
    """The first line of ``path`` that contains ``needle``, or None."""
    if path is None:
        return None
    for number, text in enumerate(Path(path).read_text(errors="replace").splitlines(), start=1):
        if needle in text:
            return number
    return None


def _source_line(path: Path | None, line: int | None) -> str:
    if not path or not line:
        return ""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return ""
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""
