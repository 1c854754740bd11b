"""Test setup: keep the learner's real user folder out of the tests; fixtures several test files share."""

import os
import tempfile

# Imported ROMs and states go to a throwaway user folder, never to ~/.kart_rl.
os.environ.setdefault("KART_INTEGRATIONS", tempfile.mkdtemp(prefix="kart_user_integrations_"))
os.environ.setdefault("KART_SMOKE", "1")

import pytest
import stable_retro as retro

from kart_helpers.emulator.env import close_live_env, make_env
from kart_helpers.game.constants import PRACTICE_GAME


@pytest.fixture
def kart():
    """Practice Kart at its default state (Practice Ring's grid), every button allowed; closed after."""
    env = make_env(PRACTICE_GAME, use_restricted_actions=retro.Actions.ALL)
    env.reset()
    yield env
    close_live_env()
