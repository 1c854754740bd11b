"""Practice Kart's facts: its constants, the lap clock, and the scripted expert whose laps are par.

Modules: constants, expert, laps.
"""
