"""Speed measurement of envs and collection, for notebook 05 and benchmarks/.

Modules: collection, speed.
"""
