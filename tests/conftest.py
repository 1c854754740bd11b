"""Test setup: keep the learner's real user folder out of the tests; fixtures several test files share."""

import os
import tempfile

# Imported ROMs and states go to a throwaway user folder, never to ~/.kart_rl.
os.environ.setdefault("KART_INTEGRATIONS", tempfile.mkdtemp(prefix="kart_user_integrations_"))
os.environ.setdefault("KART_SMOKE", "1")

import shutil
from pathlib import Path

import pytest
import stable_retro as retro

from kart_helpers.emulator.env import close_live_env, make_env
from kart_helpers.game.constants import PRACTICE_GAME

NOTEBOOK_RUNS = Path(__file__).resolve().parent.parent / "notebooks" / "runs"
_RUNS_BEFORE: set[str] | None = None  # None: not recorded, so nothing may be removed


def pytest_sessionstart(session):
    global _RUNS_BEFORE
    if not hasattr(session.config, "workerinput"):  # the controller, before any xdist worker starts
        _RUNS_BEFORE = {p.name for p in NOTEBOOK_RUNS.iterdir()} if NOTEBOOK_RUNS.is_dir() else set()


def pytest_sessionfinish(session):
    """Remove what the notebooks' smoke runs added to notebooks/runs/; anything there before (a
    learner's own runs) stays as it was."""
    if _RUNS_BEFORE is None or hasattr(session.config, "workerinput") or not NOTEBOOK_RUNS.is_dir():
        return
    for path in NOTEBOOK_RUNS.iterdir():
        if path.name in _RUNS_BEFORE:
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    if not _RUNS_BEFORE and not any(NOTEBOOK_RUNS.iterdir()):
        NOTEBOOK_RUNS.rmdir()


@pytest.fixture
def kart():
    """Practice Kart at its default state (Practice Ring's grid), every button allowed; closed after."""
    env = make_env(PRACTICE_GAME, use_restricted_actions=retro.Actions.ALL)
    env.reset()
    yield env
    close_live_env()
