"""The env pipeline: action and observation wrappers, their config, and vector envs.

Modules: actions, build, config, factory, observations, vector, workers.
"""
