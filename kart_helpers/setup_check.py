"""Check the installation: versions, the SNES emulator core, the integrations, and Colab."""

from __future__ import annotations

import importlib
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from kart_helpers.emulator.integration import find_file, register
from kart_helpers.game.constants import PRACTICE_GAME

PACKAGES = ("stable-retro", "gymnasium", "numpy", "torch", "tianshou", "matplotlib", "ipywidgets", "lupa")


@dataclass
class Check:
    """One line of the install report."""

    item: str
    ok: bool
    detail: str


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def snes_core() -> Path | None:
    """The SNES emulator core (snes9x) that stable-retro loads, or None if it is missing."""
    retro = importlib.import_module("stable_retro")
    if retro.__file__ is None:  # a namespace package: no stable-retro install with cores beside it
        return None
    cores = Path(retro.__file__).parent / "cores"
    found = sorted(cores.glob("snes9x_libretro.*"))
    return found[0] if found else None


def check_install() -> list[Check]:
    """Everything the course needs, each with a pass/fail and a detail (a version or a path)."""

    checks = [Check("python", sys.version_info >= (3, 10), f"{platform.python_version()} on {platform.system()}")]
    for dist in PACKAGES:
        version = _version(dist)
        checks.append(Check(dist, version is not None, version or f"missing: pip install {dist}"))
    core = snes_core()
    checks.append(Check("SNES core", core is not None, core.name if core else "missing: reinstall stable-retro"))
    folders = register()
    checks.append(Check("integrations", True, " + ".join(str(f) for f in folders)))
    rom = find_file(PRACTICE_GAME, "rom.sfc")
    checks.append(Check("Practice Kart ROM", rom is not None, str(rom) if rom else "missing: reinstall the package"))
    checks.append(Check("Colab", True, "yes" if in_colab() else "no (running locally)"))
    return checks


def report() -> str:
    """The checks as an aligned text table; raises if anything required is missing."""
    checks = check_install()
    width = max(len(c.item) for c in checks)
    lines = [f"{'ok ' if c.ok else 'NO '} {c.item:<{width}}  {c.detail}" for c in checks]
    failed = [c.item for c in checks if not c.ok]
    if failed:
        raise RuntimeError("\n".join(lines) + f"\n\nMissing: {', '.join(failed)}. Run the setup cell again.")
    return "\n".join(lines)
