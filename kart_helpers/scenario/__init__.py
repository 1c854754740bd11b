"""scenario.json and its Lua: files, the offline sandbox, checks, rewards replayed on RAM traces.

Modules: authoring, check, farming, files, lua_check, lua_runtime, python_reward, replay, sandbox.
"""
