"""The package's layout: no import cycles, every subpackage shipped, modules of a readable size."""

from __future__ import annotations

import ast
import runpy
import tomllib
from pathlib import Path

import kart_helpers

PACKAGE = Path(kart_helpers.__file__).parent
ROOT = PACKAGE.parent
MAX_LINES = 420  # "about 400": a module longer than this says why in a "# size:" comment


def module_name(path: Path) -> str:
    parts = ("kart_helpers", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts).removesuffix(".__init__")


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """The kart_helpers modules ``path`` imports anywhere (top level or inside functions),
    with the packages that importing them runs, less the module's own parent packages."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kart_helpers"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("kart_helpers")}
    with_parents = {".".join(m.split(".")[:k]) for m in found for k in range(2, m.count(".") + 2)}
    own = module_name(path).split(".")
    ancestors = {".".join(own[:k]) for k in range(1, len(own))}
    return {m for m in with_parents if m in MODULES} - ancestors - {module_name(path)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycles():
    graph = {name: imports_of(path) for name, path in MODULES.items()}
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def packages_setup_finds() -> list[str]:
    """The package list setup.py hands to setuptools (found from the tree, not written by hand)."""
    return runpy.run_path(str(ROOT / "setup.py"), run_name="kart_layout_test")["PACKAGES"]


def folders_with_modules(top: Path) -> set[str]:
    """Every folder under ``top`` (``top`` included) that holds a .py file, as a dotted name."""
    return {
        ".".join((top.name, *p.parent.relative_to(top).parts))
        for p in top.rglob("*.py")
        if "__pycache__" not in p.parts
    }


def test_every_subpackage_is_in_the_wheel():
    # find_packages skips a folder without __init__.py, and an include pattern can leave one out:
    # either way its modules would be missing from a wheel (what Colab installs) but not from a checkout.
    found = set(packages_setup_finds())
    for top in (PACKAGE, ROOT / "practice_kart"):
        missing = folders_with_modules(top) - found
        assert not missing, (
            f"setup.py's find_packages does not find {sorted(missing)}: give each folder an __init__.py "
            "(and check the include patterns in setup.py)"
        )
    setuptools_table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "packages" not in setuptools_table, (
        "remove the hand-written packages list from pyproject.toml: setup.py finds them"
    )
    mapped = setuptools_table["package-dir"]
    assert (ROOT / mapped["kart_helpers.integrations"]).is_dir()
    assert "kart_helpers.integrations" in found, "setup.py must add the mapped kart_helpers.integrations package"


def test_the_package_check_sees_a_folder_without_init(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "sub" / "mod.py").write_text("")
    assert folders_with_modules(tmp_path / "pkg") == {"pkg", "pkg.sub"}
    from setuptools import find_packages

    assert find_packages(where=str(tmp_path)) == ["pkg"]  # the gap the test above exists for


def test_modules_stay_readable_in_size():
    long = {name: len(p.read_text().splitlines()) for name, p in MODULES.items()}
    unexplained = {n: k for n, k in long.items() if k > MAX_LINES and "# size:" not in MODULES[n].read_text()}
    assert not unexplained, f"split these modules or say why in a '# size:' comment: {unexplained}"
