"""The tests' one "no file changed" helper."""

import hashlib
from pathlib import Path


def hashes(*folders: Path) -> dict[str, str]:
    """SHA-1 of every file under ``folders``: what "no file changed" is checked against."""
    return {
        str(p): hashlib.sha1(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
