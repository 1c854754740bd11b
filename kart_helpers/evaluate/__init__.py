"""Evaluate a trained agent: deterministic rollouts, lap tables and checkpoint comparisons.

Modules: report, rollout.
"""
