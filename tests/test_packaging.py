"""Packaging: notebook pairs, the conda environment, and a real (non-editable) install of the wheel.

Nothing here writes into the repository: wheels are built from a copy in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import tomllib
import venv
import zipfile
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml  # a dependency of jupytext (dev extra)
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

PY_NOTEBOOKS = {p.stem: p for p in sorted(NOTEBOOKS.glob("*.py"))}
IPYNB_NOTEBOOKS = {p.stem: p for p in sorted(NOTEBOOKS.glob("*.ipynb"))}
ALL_STEMS = sorted(set(PY_NOTEBOOKS) | set(IPYNB_NOTEBOOKS))
PAIRED_STEMS = sorted(set(PY_NOTEBOOKS) & set(IPYNB_NOTEBOOKS))

# What a wheel must carry so that a Colab install works without the repository.
SHIPPED_FILES = [
    "PracticeKart-Snes/rom.sfc",
    "PracticeKart-Snes/rom.sha",
    "PracticeKart-Snes/Level1.state",
    "PracticeKart-Snes/data.json",
    "PracticeKart-Snes/scenario.json",
    "PracticeKart-Snes/script.lua",
    "PracticeKart-Snes/metadata.json",
    "MarioKart-Snes/data.json",
    "MarioKart-Snes/scenario.json",
    "MarioKart-Snes/script.lua",
    "MarioKart-Snes/rom.sha",
]


# --- jupytext pairing ------------------------------------------------------------------------


def test_jupytext_pairs_percent_py_with_ipynb():
    config_file = find_jupytext_configuration_file(str(NOTEBOOKS))
    assert config_file is not None and Path(config_file).resolve() == ROOT / "jupytext.toml"
    config = load_jupytext_configuration_file(config_file)
    for name in ("notebooks/00_setup.py", "notebooks/00_setup.ipynb"):
        formats = set(config.default_formats(str(ROOT / name)).split(","))
        assert formats == {"ipynb", "py:percent"}, f"{name} would be paired as {formats}"


@pytest.mark.parametrize("stem", ALL_STEMS)
def test_every_notebook_has_its_pair(stem):
    assert stem in PY_NOTEBOOKS, f"notebooks/{stem}.ipynb has no notebooks/{stem}.py (the source we edit)"
    assert stem in IPYNB_NOTEBOOKS, (
        f"notebooks/{stem}.py has no notebooks/{stem}.ipynb; run: jupytext --sync notebooks/{stem}.py"
    )


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.rstrip()) for cell in notebook.cells]


@pytest.mark.parametrize("stem", PAIRED_STEMS)
def test_paired_notebooks_have_the_same_cells(stem):
    from_py = _cells(jupytext.read(PY_NOTEBOOKS[stem]))
    from_ipynb = _cells(jupytext.read(IPYNB_NOTEBOOKS[stem]))
    assert from_py, f"notebooks/{stem}.py has no cells"
    for index, (a, b) in enumerate(zip(from_py, from_ipynb, strict=False)):
        assert a == b, (
            f"cell {index} differs between notebooks/{stem}.py and .ipynb; run: jupytext --sync notebooks/{stem}.py"
        )
    assert len(from_py) == len(from_ipynb), (
        f"notebooks/{stem}.py has {len(from_py)} cells, the .ipynb {len(from_ipynb)}; "
        f"run: jupytext --sync notebooks/{stem}.py"
    )


@pytest.mark.parametrize("stem", sorted(IPYNB_NOTEBOOKS))
def test_committed_ipynb_has_no_outputs(stem):
    notebook = nbformat.read(IPYNB_NOTEBOOKS[stem], as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"notebooks/{stem}.ipynb cell {index} has outputs; clear them"
            assert cell.execution_count is None, f"notebooks/{stem}.ipynb cell {index} has an execution count"


# --- conda environment -----------------------------------------------------------------------


def test_environment_yml_agrees_with_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "kart-rl"
    conda_deps = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_deps = [p for d in env["dependencies"] if isinstance(d, dict) for p in d.get("pip", [])]
    assert "pip" in conda_deps

    pythons = [d for d in conda_deps if re.match(r"python\b", d)]
    assert len(pythons) == 1, f"pin python exactly once, found {pythons}"
    version = re.fullmatch(r"python\s*=?=\s*(\d+\.\d+)(\.\*)?", pythons[0])
    assert version, f"expected python=X.Y, got {pythons[0]!r}"
    requires_python = SpecifierSet(PYPROJECT["project"]["requires-python"])
    assert requires_python.contains(version.group(1) + ".0"), f"{pythons[0]} is outside {requires_python}"

    extras = PYPROJECT["project"]["optional-dependencies"]
    self_installs = [re.fullmatch(r"-e\s+\.(?:\[([\w,\s-]*)\])?", p.strip()) for p in pip_deps]
    self_installs = [m for m in self_installs if m]
    if self_installs:  # the env installs this package, so it gets exactly pyproject's dependencies
        for match in self_installs:
            wanted = {e.strip() for e in (match.group(1) or "").split(",") if e.strip()}
            assert wanted <= set(extras), f"environment.yml asks for unknown extras {wanted - set(extras)}"
            assert "dev" in wanted, "the conda env should have the dev tools (tests, jupytext, nbmake)"
    else:  # the env lists the dependencies itself: every runtime one must be there
        listed = {canonicalize_name(re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0]) for d in conda_deps + pip_deps}
        missing = [
            r for r in PYPROJECT["project"]["dependencies"] if canonicalize_name(Requirement(r).name) not in listed
        ]
        assert not missing, f"environment.yml lacks {missing}"


def test_source_checkout_uses_the_repos_integrations():
    import kart_helpers
    from kart_helpers.emulator.integration import shipped_integrations_dir

    if not Path(kart_helpers.__file__).resolve().is_relative_to(ROOT):
        pytest.skip(f"kart_helpers is imported from {kart_helpers.__file__}, not from this checkout")
    assert shipped_integrations_dir() == ROOT / "integrations"


# --- one place for the repository's URL -------------------------------------------------------


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f"tools_{name}", ROOT / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


repo_url = _load_tool("set_repo_url")


def test_readme_and_every_notebook_use_the_repository_url_in_pyproject():
    url = repo_url.repository_url()
    assert url == PYPROJECT["project"]["urls"]["Repository"]
    findings = repo_url.check()
    assert not findings, (
        f"these files disagree with [project.urls] Repository = {url!r} in pyproject.toml:\n"
        + "\n".join(map(str, findings))
        + f"\nrun: {repo_url.COMMAND}"
    )


def _copy_url_files(destination: Path) -> Path:
    (destination / "notebooks").mkdir(parents=True)
    for path in repo_url.files_with_the_url():
        shutil.copyfile(path, destination / path.relative_to(ROOT))
    shutil.copyfile(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def test_a_fork_changes_one_line_and_the_tool_rewrites_every_file(tmp_path):
    root = _copy_url_files(tmp_path)
    pyproject = root / "pyproject.toml"
    old = repo_url.repository_url(pyproject)
    pyproject.write_text(
        pyproject.read_text().replace(f'Repository = "{old}"', 'Repository = "https://github.com/ada/karts"')
    )
    stale = {f.file for f in repo_url.check(root)}
    assert stale == {p.relative_to(root).as_posix() for p in repo_url.files_with_the_url(root)}, (
        "every file names the old repository"
    )

    assert len(repo_url.rewrite(root)) == len(stale)
    assert repo_url.check(root) == []
    setup_py = (root / "notebooks" / "00_setup.py").read_text()
    assert "https://colab.research.google.com/github/ada/karts/blob/main/notebooks/00_setup.ipynb" in setup_py
    assert '"git+https://github.com/ada/karts"' in setup_py
    assert old not in setup_py and old not in (root / "README.md").read_text()
    for stem in PAIRED_STEMS:  # the rewrite keeps each pair in step, and the .ipynb valid
        from_py = _cells(jupytext.read(root / "notebooks" / f"{stem}.py"))
        assert from_py == _cells(jupytext.read(root / "notebooks" / f"{stem}.ipynb")), stem
        nbformat.validate(nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4))


def test_the_url_check_names_a_badge_for_another_notebook_and_a_missing_setup_cell(tmp_path):
    root = _copy_url_files(tmp_path)
    notebook = root / "notebooks" / "01_import_rom.py"
    text = notebook.read_text().replace("notebooks/01_import_rom.ipynb", "notebooks/00_setup.ipynb")
    notebook.write_text(repo_url.PIP_INSTALL.sub("kart-rl-course", text))
    problems = [str(f) for f in repo_url.check(root)]
    assert "notebooks/01_import_rom.py: its Colab badge opens 00_setup.ipynb, not 01_import_rom.ipynb" in problems
    assert any(p.startswith("notebooks/01_import_rom.py: has 0 'pip install git+...' lines") for p in problems)
    assert all("01_import_rom.py" in p for p in problems), problems


@pytest.mark.parametrize(
    "bad", ["https://gitlab.com/ada/karts", "https://github.com/ada/karts/", "https://github.com/ada/karts.git"]
)
def test_a_url_that_is_not_a_github_repository_is_refused(tmp_path, bad):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(f'[project]\nname = "x"\n[project.urls]\nRepository = "{bad}"\n')
    with pytest.raises(repo_url.RepoUrlError, match=r"https://github.com/OWNER/NAME"):
        repo_url.repository_url(pyproject)


# --- a real install from the wheel -----------------------------------------------------------


def _copy_source(destination: Path) -> Path:
    """The repository as a build would see it, minus VCS, environments and caches."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
        ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints", "runs",
    )  # fmt: skip
    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = _copy_source(tmp / "src")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp / "dist"), str(source)])
    (built,) = (tmp / "dist").glob("kart_rl_course-*.whl")
    return built


def test_wheel_ships_the_integrations_inside_the_package(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in SHIPPED_FILES:
        assert f"kart_helpers/integrations/{name}" in names, f"the wheel lacks kart_helpers/integrations/{name}"
    assert "practice_kart/src/main.s" in names
    agents = sorted(p.name for p in (ROOT / "kart_helpers" / "evaluate" / "reference_agents").glob("*.pt"))
    assert agents, "no reference agent in kart_helpers/evaluate/reference_agents"
    for agent in agents:  # notebook 07 races them when the learner has no run of their own
        assert f"kart_helpers/evaluate/reference_agents/{agent}" in names, f"the wheel lacks {agent}"
    top_level = {n.split("/", 1)[0] for n in names}
    unexpected = {t for t in top_level if t not in {"kart_helpers", "practice_kart"} and not t.endswith(".dist-info")}
    assert not unexpected, f"unexpected top-level entries in the wheel: {sorted(unexpected)}"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "kart_helpers/integrations/MarioKart-Snes/rom.sfc" not in names, "the commercial ROM must never ship"


CHECK_INSTALL = textwrap.dedent(
    """
    import json, sys, sysconfig
    from pathlib import Path
    import kart_helpers
    from kart_helpers.emulator.env import make_env
    from kart_helpers.emulator.integration import shipped_integrations_dir
    from kart_helpers.game.constants import PRACTICE_GAME

    shipped = shipped_integrations_dir()
    env = make_env(PRACTICE_GAME)
    env.reset(seed=0)
    frame, reward, terminated, truncated, info = env.step(env.action_space.sample())
    env.close()
    print(json.dumps({
        "prefix": sys.prefix,
        "purelib": sysconfig.get_paths()["purelib"],
        "package": kart_helpers.__file__,
        "shipped": str(shipped),
        "files": sorted(str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file()),
        "frame": list(frame.shape),
        "laps": int(info["laps"]),
    }))
    """
)


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh venv with the wheel installed for real (no --editable) and the heavy dependencies
    borrowed from this interpreter through a .pth file, the way Colab has them preinstalled."""
    tmp = tmp_path_factory.mktemp("installed")
    prefix = tmp / "venv"
    venv.create(prefix, with_pip=False)
    python = prefix / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)])
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run([str(python), "-c", where]).stdout.strip())
    borrowed = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (purelib / "zz_borrowed_dependencies.pth").write_text("".join(f"{p}\n" for p in borrowed))

    workdir = tmp / "elsewhere"
    workdir.mkdir()
    environ = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    environ["KART_INTEGRATIONS"] = str(tmp / "user_integrations")
    environ["KART_SMOKE"] = "1"
    return {"python": python, "prefix": prefix, "purelib": purelib, "workdir": workdir, "environ": environ}


def test_wheel_install_runs_practice_kart_outside_the_repo(installed):
    result = _run([str(installed["python"]), "-c", CHECK_INSTALL], cwd=installed["workdir"], env=installed["environ"])
    report = json.loads(result.stdout.strip().splitlines()[-1])
    purelib = installed["purelib"].resolve()
    assert Path(report["package"]).resolve().is_relative_to(purelib), f"imported {report['package']}, not the wheel"
    assert not Path(report["package"]).resolve().is_relative_to(ROOT)
    shipped = Path(report["shipped"]).resolve()
    assert shipped == purelib / "kart_helpers" / "integrations", f"shipped integrations at {shipped}"
    for name in SHIPPED_FILES:
        assert name in report["files"], f"the installed package lacks integrations/{name}"
    assert report["frame"] == [224, 256, 3]
    assert report["laps"] == 127  # on the start grid


def _module_names(files: list[str]) -> set[str]:
    """Dotted module names of the .py files among ``files`` (paths relative to the packages' parent)."""
    names = set()
    for name in files:
        parts = Path(name).with_suffix("").parts
        if name.endswith(".py") and "__pycache__" not in parts:
            names.add(".".join(parts).removesuffix(".__init__"))
    return names


def source_modules(package: str) -> set[str]:
    """Every module of ``package`` in this checkout."""
    top = ROOT / package
    return _module_names([str(p.relative_to(ROOT)) for p in top.rglob("*.py")])


def test_module_lister_names_packages_and_submodules():
    files = ["pkg/__init__.py", "pkg/a.py", "pkg/sub/__init__.py", "pkg/sub/b.py", "pkg/data.json"]
    files.append("pkg/sub/__pycache__/b.cpython-311.py")
    assert _module_names(files) == {"pkg", "pkg.a", "pkg.sub", "pkg.sub.b"}


@pytest.mark.parametrize("package", ["kart_helpers", "practice_kart"])
def test_wheel_carries_every_module_of_the_source(wheel, package):
    in_wheel = _module_names([n for n in zipfile.ZipFile(wheel).namelist() if n.startswith(f"{package}/")])
    missing = source_modules(package) - in_wheel
    assert not missing, f"the wheel lacks {sorted(missing)}: is each folder a package (__init__.py) found by setup.py?"


IMPORT_EVERY_MODULE = textwrap.dedent(
    """
    import importlib, json, sys, traceback
    from pathlib import Path

    report = {}
    for package in sys.argv[1:]:
        top = Path(importlib.import_module(package).__file__).parent
        for path in sorted(top.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            name = ".".join(path.relative_to(top.parent).with_suffix("").parts).removesuffix(".__init__")
            try:
                report[name] = {"file": importlib.import_module(name).__file__}
            except BaseException:  # SystemExit too: a module must not run anything when imported
                report[name] = {"error": traceback.format_exc(limit=3)}
    print(json.dumps(report))
    """
)


def test_every_module_imports_from_the_installed_wheel(installed):
    packages = ["kart_helpers", "practice_kart"]
    result = _run(
        [str(installed["python"]), "-c", IMPORT_EVERY_MODULE, *packages],
        cwd=installed["workdir"],
        env=installed["environ"],
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    expected = set().union(*(source_modules(p) for p in packages))
    missing = expected - set(report)
    assert not missing, f"the installed wheel lacks these modules of the source tree: {sorted(missing)}"
    failed = {name: r["error"] for name, r in report.items() if "error" in r}
    assert not failed, "these modules fail to import from the installed wheel:\n" + "\n".join(
        f"{name}:\n{error}" for name, error in failed.items()
    )
    purelib = installed["purelib"].resolve()
    elsewhere = {name: r["file"] for name, r in report.items() if not Path(r["file"]).resolve().is_relative_to(purelib)}
    assert not elsewhere, f"these modules were imported from outside the installed wheel: {elsewhere}"


# Run as the last cell of a notebook: which interpreter, package and integrations it ran on.
PROBE_CELL = (
    "import json, sys, kart_helpers, kart_helpers.emulator.integration as i; "
    "print(json.dumps([sys.executable, kart_helpers.__file__, str(i.shipped_integrations_dir())]))"
)


def run_notebook_from_the_wheel(installed: dict, stem: str, tmp_path: Path) -> tuple[str, str, str]:
    """Execute notebooks/<stem>.ipynb in smoke mode on a kernel of the installed wheel's venv, from a
    folder outside the repository and with a user folder of its own, and return what the probe saw."""
    source = NOTEBOOKS / f"{stem}.ipynb"
    assert source.exists(), f"notebooks/{stem}.ipynb does not exist; run: jupytext --sync notebooks/{stem}.py"
    workdir = tmp_path / "work"
    workdir.mkdir()
    notebook = workdir / source.name
    shutil.copyfile(source, notebook)
    # A kernel spec of our own, on a path searched first, so the kernel is the fresh venv's python.
    kernels = tmp_path / "jupyter" / "kernels" / "kart-wheel-test"
    kernels.mkdir(parents=True)
    argv = [str(installed["python"]), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (kernels / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "wheel", "language": "python"}))
    environ = dict(
        installed["environ"], JUPYTER_PATH=str(tmp_path / "jupyter"), KART_INTEGRATIONS=str(tmp_path / "user")
    )
    execute = textwrap.dedent(
        f"""
        import nbclient, nbformat
        nb = nbformat.read({str(notebook)!r}, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell({PROBE_CELL!r}))
        nbclient.NotebookClient(nb, timeout=600, kernel_name="kart-wheel-test",
                                resources={{"metadata": {{"path": {str(workdir)!r}}}}}).execute()
        print(nb.cells[-1].outputs[0]["text"].strip())
        """
    )
    result = _run([str(installed["python"]), "-c", execute], cwd=workdir, env=environ)
    executable, package, shipped = json.loads(result.stdout.strip().splitlines()[-1])
    return executable, package, shipped


# 00 checks the install; 06 trains, so it needs every subpackage (kart_helpers.train above all).
@pytest.mark.parametrize("stem", ["00_setup", "06_train_ppo"])
def test_notebook_runs_from_the_installed_wheel(installed, tmp_path, stem):
    executable, package, shipped = run_notebook_from_the_wheel(installed, stem, tmp_path)
    assert Path(executable).parent == installed["python"].parent, f"the kernel ran on {executable}"
    assert Path(package).resolve().is_relative_to(installed["purelib"].resolve()), f"the notebook imported {package}"
    assert Path(shipped).resolve().is_relative_to(installed["purelib"].resolve())
