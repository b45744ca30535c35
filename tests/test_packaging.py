"""Packaging and module boundaries: built wheel and sdist, and what each module may import or do.

The wheel is built once, installed into a fresh virtual environment that reuses this machine's
dependencies, and run from a folder outside the checkout, so only the packaged grammar exists.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT
from slaspec import __version__

SRC = ROOT / "src" / "slaspec"
GRAMMAR = ROOT / "grammar" / "slaspec.lark"
MODULES = sorted(SRC.rglob("*.py"))


@dataclass(frozen=True)
class Dist:
    """The built distributions."""

    wheel: Path
    sdist: Path


def _run(argv: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """One wheel and one sdist built from the checkout."""
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", out, ROOT], out)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("slaspec-*.whl")
    (sdist,) = out.glob("slaspec-*.tar.gz")
    return Dist(wheel, sdist)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, dist: Dist) -> Path:
    """A fresh virtual environment with the wheel installed; dependencies come from this machine."""
    root = tmp_path_factory.mktemp("venv")
    made = _run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", root], root
    )
    assert made.returncode == 0, made.stderr
    python = root / "bin" / "python"
    installed = _run(
        [
            sys.executable, "-m", "pip", "--python", python, "install",
            "--no-deps", "--no-index", "--force-reinstall", "--quiet", dist.wheel,
        ],
        root,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return root


# ---------------------------------------------------------------- the grammar


def test_grammar_has_one_copy_in_the_source_tree() -> None:
    assert GRAMMAR.is_file()
    assert sorted(SRC.rglob("*.lark")) == []
    copies = [
        path
        for path in ROOT.rglob("*.lark")
        if not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    ]
    assert copies == [GRAMMAR]


def test_wheel_contents(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        assert wheel.read("slaspec/grammar/slaspec.lark") == GRAMMAR.read_bytes()
        info = f"slaspec-{__version__}.dist-info"
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        metadata = wheel.read(f"{info}/METADATA").decode()
    assert [name for name in names if name.endswith(".lark")] == ["slaspec/grammar/slaspec.lark"]
    for module in MODULES:
        assert f"slaspec/{module.relative_to(SRC).as_posix()}" in names
    assert "slaspec/py.typed" in names
    assert not any(name.startswith(("tests/", "agreements/", "grammar/")) for name in names)
    assert re.search(r"(?m)^slaspec = slaspec\.cli:entry$", entry_points)
    requires = set(re.findall(r"(?m)^Requires-Dist: ([A-Za-z0-9_.-]+)", metadata))
    assert {"lark", "networkx", "pydantic", "jinja2", "holidays"} <= requires


def _compiled_modules() -> tuple[str, ...]:
    """hatch_build.COMPILED, read without importing hatchling (only the build has it)."""
    tree = ast.parse((ROOT / "hatch_build.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "COMPILED":
            names: tuple[str, ...] = ast.literal_eval(node.value)
            return names
    raise AssertionError("hatch_build.py names no COMPILED modules")


# A machine with a C compiler builds the compiled wheel; CI must (its image has gcc).
COMPILER = bool(os.environ.get("CI")) or shutil.which("cc") is not None


@pytest.mark.skipif(not COMPILER, reason="no C compiler here: the wheel is interpreted")
def test_wheel_carries_the_compiled_modules_and_their_sources(dist: Dist) -> None:
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert f"-{tag}-{tag}-" in dist.wheel.name  # a wheel for this interpreter, not py3-none-any
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        stamp = json.loads(wheel.read("slaspec/_compiled.json"))
        sources = {name: wheel.read(f"slaspec/{name}.py") for name in _compiled_modules()}
    for name in _compiled_modules():
        assert f"slaspec/{name}{suffix}" in names
        assert stamp["modules"][name] == hashlib.sha256(sources[name]).hexdigest()
    assert f"slaspec__mypyc{suffix}" in names


def test_sdist_contents(dist: Dist) -> None:
    prefix = f"slaspec-{__version__}/"
    with tarfile.open(dist.sdist) as sdist:
        names = set(sdist.getnames())
        member = sdist.extractfile(f"{prefix}grammar/slaspec.lark")
        assert member is not None
        assert member.read() == GRAMMAR.read_bytes()
    assert [name for name in names if name.endswith(".lark")] == [f"{prefix}grammar/slaspec.lark"]
    for required in (
        "pyproject.toml",
        "hatch_build.py",
        "README.md",
        "src/slaspec/parser.py",
        "src/slaspec/cli.py",
    ):
        assert prefix + required in names


def test_installed_wheel_runs_outside_the_checkout(venv: Path, tmp_path: Path, dist: Dist) -> None:
    work = tmp_path / "elsewhere"
    (work / "agreements").mkdir(parents=True)
    example = ROOT / "agreements" / "harbour-b2b.sla"
    (work / "agreements" / "harbour-b2b.sla").write_bytes(example.read_bytes())
    assert ROOT not in work.parents

    located = _run(
        [
            venv / "bin" / "python",
            "-c",
            "import slaspec.parser as p; print(p.__file__); print(p.grammar_text() != '')",
        ],
        work,
    )
    assert located.returncode == 0, located.stderr
    module_file, grammar_found = located.stdout.splitlines()
    # The installed copy, not the checkout's editable install, is the one imported.
    assert Path(module_file).is_relative_to(venv)
    assert grammar_found == "True"

    if COMPILER:
        compiled = _run(
            [
                venv / "bin" / "python",
                "-c",
                "import slaspec.cli, slaspec.analysis, slaspec.replay, slaspec.columnar; "
                "import slaspec.native as n; "
                "print(*n.compiled())",
            ],
            work,
        )
        assert (compiled.returncode, compiled.stdout.split()) == (0, list(_compiled_modules()))
    linted = _run([venv / "bin" / "slaspec", "lint", "agreements/harbour-b2b.sla"], work)
    assert (linted.returncode, linted.stdout, linted.stderr) == (0, "All checks passed.\n", "")
    version = _run([venv / "bin" / "python", "-m", "slaspec", "--version"], work)
    assert (version.returncode, version.stdout) == (0, f"slaspec {__version__}\n")
    broken = work / "broken.sla"
    broken.write_text("stage a\n", encoding="utf-8")
    failed = _run([venv / "bin" / "slaspec", "lint", broken.name], work)
    assert failed.returncode == 1
    assert "broken.sla:1:8: error[SLA001]" in failed.stdout
    assert "Traceback" not in failed.stderr


# ---------------------------------------------------------------- module boundaries


def _is_config_module(name: str) -> bool:
    return "config" in name or "mapping" in name


# Each third-party library and the modules allowed to import it.
LIBRARIES: dict[str, set[str]] = {
    "lark": {"parser.py"},
    "networkx": {"graph.py"},
    "jinja2": {"render.py"},
    "holidays": {"calendar.py"},
    "pyarrow": {"columnar.py", "columnar_parse.py"},
    "pydantic": {"report.py"} | {p.name for p in MODULES if _is_config_module(p.stem)},
}
# Libraries that must have their one importer already (jinja2 and pydantic may have none yet).
REQUIRED = {"lark", "networkx", "holidays", "pyarrow"}


def _imports(path: Path) -> Iterator[str]:
    """Top-level names of every absolute import in a module, including imports in functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0]


@functools.cache
def _third_party_importers() -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = {}
    for path in MODULES:
        for name in _imports(path):
            if name in sys.stdlib_module_names or name in ("slaspec", "__future__"):
                continue
            found.setdefault(name, set()).add(path.relative_to(SRC).as_posix())
    return {name: frozenset(modules) for name, modules in found.items()}


def test_third_party_libraries_are_declared_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {re.split(r"[<>=!~ \[;]", spec, maxsplit=1)[0] for spec in project["dependencies"]}
    assert set(LIBRARIES) <= declared
    assert set(_third_party_importers()) <= set(LIBRARIES), "a library no test knows about"


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_each_library_is_imported_in_its_one_module(library: str) -> None:
    importers = _third_party_importers().get(library, frozenset())
    assert importers <= LIBRARIES[library], f"{library} imported in {sorted(importers)}"
    if library in REQUIRED:
        assert importers == LIBRARIES[library]


def test_module_boundary_scanner_sees_through_aliases_and_nesting(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import networkx as nx\nimport os.path\nfrom lark.exceptions import LarkError\n"
        "from . import nodes\n\ndef f():\n    import jinja2\n",
        encoding="utf-8",
    )
    assert sorted(_imports(sample)) == ["jinja2", "lark", "networkx", "os"]


# Effects only the command line may have: (what, why it is forbidden).
_FORBIDDEN_CALLS = {
    "open": "opens a file",
    "print": "prints",
    "input": "reads the terminal",
    "exit": "exits",
    "quit": "exits",
    "breakpoint": "stops the program",
}
_FORBIDDEN_ATTRIBUTE_CALLS = {
    ("sys", "exit"): "exits",
    ("os", "_exit"): "exits",
    ("os", "getenv"): "reads the environment",
    ("os", "putenv"): "changes the environment",
    ("io", "open"): "opens a file",
    ("os", "open"): "opens a file",
    ("codecs", "open"): "opens a file",
}
_CLOCK_CALLS = {"now", "utcnow", "today"}
_FILE_METHODS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
_FORBIDDEN_ATTRIBUTES = {
    ("os", "environ"): "reads the environment",
    ("sys", "stdout"): "prints",
    ("sys", "stderr"): "prints",
    ("sys", "stdin"): "reads the terminal",
    ("sys", "argv"): "reads the command line",
}
_FORBIDDEN_FROM_IMPORTS = {
    ("os", "environ"),
    ("os", "getenv"),
    ("sys", "exit"),
    ("sys", "stdout"),
    ("sys", "stderr"),
    ("sys", "stdin"),
    ("sys", "argv"),
}
# The parser reads its own grammar, shipped inside the package; no other module reads files.
_FILE_READERS = {
    ("parser.py", "grammar_text"),
    # The build's record of the sources it compiled, and those sources (slaspec.native).
    ("native.py", "recorded"),
    ("native.py", "stale"),
}


class _Effects(ast.NodeVisitor):
    """Collect the side effects a pure module must not have, as (line, description)."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.function: list[str] = []
        self.found: list[tuple[int, str]] = []

    def _report(self, node: ast.AST, text: str) -> None:
        self.found.append((getattr(node, "lineno", 0), text))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.function.append(node.name)
        self.generic_visit(node)
        self.function.pop()

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if (node.module, alias.name) in _FORBIDDEN_FROM_IMPORTS:
                self._report(node, f"from {node.module} import {alias.name}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.value, ast.Name):
            why = _FORBIDDEN_ATTRIBUTES.get((node.value.id, node.attr))
            if why is not None:
                self._report(node, f"{node.value.id}.{node.attr} {why}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in _FORBIDDEN_CALLS:
            self._report(node, f"{func.id}() {_FORBIDDEN_CALLS[func.id]}")
        elif isinstance(func, ast.Attribute):
            receiver = ast.unparse(func.value)
            why = _FORBIDDEN_ATTRIBUTE_CALLS.get((receiver, func.attr))
            if why is not None:
                self._report(node, f"{receiver}.{func.attr}() {why}")
            elif func.attr in _CLOCK_CALLS and re.search(r"(^|\.)(datetime|date)$", receiver):
                self._report(node, f"{receiver}.{func.attr}() reads the clock")
            elif func.attr in _FILE_METHODS:
                where = (self.module, self.function[-1] if self.function else "")
                if where not in _FILE_READERS:
                    self._report(node, f"{receiver}.{func.attr}() touches a file")
        self.generic_visit(node)


def _effects(path: Path) -> list[tuple[int, str]]:
    visitor = _Effects(path.name)
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return visitor.found


@pytest.mark.parametrize(
    "path",
    # cli.py does the command's I/O; cli_parallel.py forks the processes of a large replay.
    [path for path in MODULES if path.name not in ("cli.py", "cli_parallel.py")],
    ids=lambda path: path.relative_to(SRC).as_posix(),
)
def test_core_module_is_pure(path: Path) -> None:
    assert _effects(path) == []


def test_purity_scanner_finds_each_effect(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import datetime as dt\nimport os, sys\nfrom datetime import date, datetime\n"
        "from os import environ\n\n"
        "def f(p):\n"
        "    print('x')\n"
        "    open('f')\n"
        "    sys.exit(1)\n"
        "    dt.datetime.now()\n"
        "    date.today()\n"
        "    datetime.utcnow()\n"
        "    os.environ['HOME']\n"
        "    os.getenv('HOME')\n"
        "    sys.stdout.write('x')\n"
        "    p.write_text('x')\n"
        "    dt.time(9, 0)\n"
        "    p.date()\n",
        encoding="utf-8",
    )
    assert [line for line, _ in _effects(sample)] == [4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]


def test_cli_is_where_the_effects_are() -> None:
    # If the CLI stopped having effects, the scanner would be looking in the wrong place.
    descriptions = " ".join(text for _, text in _effects(SRC / "cli.py"))
    for effect in ("sys.stdout", "sys.stderr", "os._exit()", "date.today()", "os.environ"):
        assert effect in descriptions
