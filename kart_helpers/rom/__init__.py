"""Bring your own ROM: identify it from its bytes and import it into your user folder.

Modules: identify, importer.
"""
