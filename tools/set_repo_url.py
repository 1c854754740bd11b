"""Write the repository's URL from pyproject.toml into the README and every notebook.

The URL lives in one place, ``[project.urls] Repository`` in pyproject.toml. It appears in:

- each notebook's Colab badge (``notebooks/NN_*.py`` and the paired ``.ipynb``), which opens
  ``https://colab.research.google.com/github/OWNER/NAME/blob/main/notebooks/NN_*.ipynb``;
- each notebook's setup cell, which runs ``pip install git+https://github.com/OWNER/NAME`` in Colab;
- the README's notebook table (one Colab badge per notebook).

Usage (standard library only, so any Python 3.11+ runs it)::

    python tools/set_repo_url.py          # rewrite every file that disagrees with pyproject.toml
    python tools/set_repo_url.py --check  # only list them; exit 1 if there are any

tests/test_packaging.py runs the check.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BRANCH = "main"  # the branch Colab opens the notebooks from
COMMAND = "python tools/set_repo_url.py"

GITHUB_URL = re.compile(r"https://github\.com/(?P<owner>[A-Za-z0-9][A-Za-z0-9-]*)/(?P<name>[A-Za-z0-9._-]+)")
# A badge's target, whatever repository and branch it names now; group "stem" is the notebook.
BADGE = re.compile(
    r"https://colab\.research\.google\.com/github/[^/\s)\"]+/[^/\s)\"]+/blob/[^/\s)\"]+/notebooks/(?P<stem>[\w.-]+)\.ipynb"
)
# An install of OWNER/NAME (it stops at the quote, or at the backslash before one in an .ipynb's JSON).
PIP_INSTALL = re.compile(r"git\+https://github\.com/[A-Za-z0-9-]+/[A-Za-z0-9._-]+")


class RepoUrlError(ValueError):
    """pyproject.toml's URL is missing or is not a GitHub repository's address."""


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """``[project.urls] Repository``, checked to be ``https://github.com/OWNER/NAME``."""
    urls = tomllib.loads(pyproject.read_text())["project"].get("urls", {})
    url = urls.get("Repository")
    if not url:
        raise RepoUrlError(f'{pyproject}: add Repository = "https://github.com/OWNER/NAME" under [project.urls]')
    match = GITHUB_URL.fullmatch(url)
    if not match or match["name"].endswith(".git"):
        raise RepoUrlError(
            f"{pyproject}: [project.urls] Repository = {url!r} is not a GitHub repository's address; "
            'write it as "https://github.com/OWNER/NAME" (no trailing slash, no .git): '
            "Colab opens notebooks only from GitHub"
        )
    return url


def colab_url(url: str, stem: str) -> str:
    owner_and_name = url.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{owner_and_name}/blob/{BRANCH}/notebooks/{stem}.ipynb"


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the repository's root
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def expected_text(path: Path, text: str, url: str) -> tuple[str, list[str]]:
    """``text`` with every badge and install line pointing at ``url``, and what is wrong with it
    beyond the URL (a notebook without a badge or a setup cell, a badge that opens another notebook)."""
    problems: list[str] = []
    if path.suffix in {".py", ".ipynb"}:  # a notebook: one badge, for itself, and one install
        stems = [m["stem"] for m in BADGE.finditer(text)]
        if len(stems) != 1:
            problems.append(f"has {len(stems)} Colab badges, expected one (under the title)")
        elif stems[0] != path.stem:
            problems.append(f"its Colab badge opens {stems[0]}.ipynb, not {path.stem}.ipynb")
        installs = len(PIP_INSTALL.findall(text))
        if installs != 1:
            problems.append(f"has {installs} 'pip install git+...' lines, expected one (in the setup cell)")
        text = BADGE.sub(colab_url(url, path.stem), text)
        text = PIP_INSTALL.sub(f"git+{url}", text)
    else:  # the README: a badge for each notebook, each keeping the notebook it opens
        notebooks = {p.stem for p in path.parent.glob("notebooks/[0-9][0-9]_*.ipynb")}
        if missing := sorted(notebooks - {m["stem"] for m in BADGE.finditer(text)}):
            problems.append(f"its notebook table has no Colab badge for {', '.join(missing)}")
        text = BADGE.sub(lambda m: colab_url(url, m["stem"]), text)
        text = PIP_INSTALL.sub(f"git+{url}", text)
    return text, problems


def files_with_the_url(root: Path = ROOT) -> list[Path]:
    """The README and every notebook (both files of each pair)."""
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.py")) + sorted(
        (root / "notebooks").glob("[0-9][0-9]_*.ipynb")
    )
    return [root / "README.md", *notebooks]


def check(root: Path = ROOT, url: str | None = None) -> list[Finding]:
    """Every file that disagrees with pyproject.toml's URL, or lacks its badge or setup cell."""
    url = url or repository_url(root / "pyproject.toml")
    findings = []
    for path in files_with_the_url(root):
        text = path.read_text()
        wanted, problems = expected_text(path, text, url)
        file = path.relative_to(root).as_posix()
        findings += [Finding(file, p) for p in problems]
        if wanted != text:
            findings.append(Finding(file, f"a badge or setup cell does not point at {url}"))
    return findings


def rewrite(root: Path = ROOT, url: str | None = None) -> list[Path]:
    """Point every badge and install line at pyproject.toml's URL; return the files changed."""
    url = url or repository_url(root / "pyproject.toml")
    changed = []
    for path in files_with_the_url(root):
        text = path.read_text()
        wanted, _ = expected_text(path, text, url)
        if wanted != text:
            path.write_text(wanted)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="list the files that disagree; change nothing")
    args = parser.parse_args(argv)
    try:
        url = repository_url()
        if args.check:
            findings = check(url=url)
            for finding in findings:
                print(finding)
            if findings:
                print(f"run: {COMMAND}")
            return 1 if findings else 0
        changed = rewrite(url=url)
    except RepoUrlError as error:
        print(error, file=sys.stderr)
        return 2
    for path in changed:
        print(f"rewrote {path.relative_to(ROOT)}")
    print(f"every badge and setup cell points at {url}" + ("" if changed else " (nothing to change)"))
    leftover = check(url=url)  # what a rewrite cannot fix: a missing badge or setup cell
    for finding in leftover:
        print(f"fix by hand: {finding}", file=sys.stderr)
    return 1 if leftover else 0


if __name__ == "__main__":
    raise SystemExit(main())
