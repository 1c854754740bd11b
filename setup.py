"""The package list, found from the tree so that a new subpackage cannot be left out of the wheel.

Everything else about the build is in pyproject.toml. The one package that find_packages cannot
see is ``kart_helpers.integrations``: its files live at the top of the repository
(``integrations/``), and pyproject.toml's ``package-dir`` maps them into the package.
tests/test_layout.py imports ``PACKAGES`` from here; tests/test_packaging.py checks the built wheel.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
MAPPED = ["kart_helpers.integrations"]  # see package-dir in pyproject.toml
PACKAGES = sorted(find_packages(where=str(HERE), include=["kart_helpers", "kart_helpers.*", "practice_kart"]) + MAPPED)

if __name__ == "__main__":  # what setuptools' build backend runs
    setup(packages=PACKAGES)
