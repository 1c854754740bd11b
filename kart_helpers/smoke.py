"""The one switch for test mode: ``KART_SMOKE=1`` shrinks step counts so CI runs every cell fast.

Notebooks never patch themselves; they ask ``steps(full=..., smoke=...)``.
"""

from __future__ import annotations

import os


def smoke_mode() -> bool:
    """True when the environment variable ``KART_SMOKE`` is set to 1 (as in CI)."""
    return os.environ.get("KART_SMOKE", "0").strip().lower() in {"1", "true", "yes"}


def steps(full: int, smoke: int) -> int:
    """``smoke`` in smoke mode, ``full`` otherwise."""
    return smoke if smoke_mode() else full
