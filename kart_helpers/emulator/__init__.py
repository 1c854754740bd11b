"""stable-retro plumbing: integration folders, make_env, buttons and the one drive loop, save states, start scripts.

Modules: buttons, drive, env, integration, random_starts, start_scripts, states.
"""
