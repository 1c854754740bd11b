"""Helpers for the Kart RL course: integrations, start states, and a scripted expert."""

__version__ = "0.1.0"
