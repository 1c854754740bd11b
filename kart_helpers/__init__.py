"""Helpers for the Kart RL course, one subpackage per stage, in the course's order.

- ``game``: Practice Kart's facts (``constants``), the one lap clock (``laps``), the scripted expert.
- ``emulator``: integration folders, ``make_env``, buttons and the one drive loop, save states.
- ``rom``: identify and import your own ROM.
- ``ram``: the memory map, RAM search, RAM traces, data.json checks.
- ``scenario``: scenario.json, the offline Lua sandbox and its checks, rewards replayed on traces.
- ``pipeline``: action and observation wrappers, their config, vector envs.
- ``train``: PPO with Tianshou 2 and its command line; ``evaluate``: rollouts and comparisons.
- ``display``: frames, plots, video and widgets; ``bench``: speed measurement.

``smoke`` is the one switch for CI's short runs; ``exercises`` and ``solutions`` serve the notebooks.
"""

__version__ = "0.1.0"
