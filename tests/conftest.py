"""Test setup: keep the learner's real user folder out of the tests."""

import os
import tempfile

# Imported ROMs and states go to a throwaway user folder, never to ~/.kart_rl.
os.environ.setdefault("KART_INTEGRATIONS", tempfile.mkdtemp(prefix="kart_user_integrations_"))
os.environ.setdefault("KART_SMOKE", "1")
