"""The modules compiled by mypyc (hatch_build.py) against their interpreted sources.

The install under test is compiled when this machine has a C compiler (CI's has): every report
of every example must be byte-identical whether analysis.py, calendar.py, columnar.py,
columnar_parse.py, replay.py and results.py run compiled or interpreted, and a source edited
after the build must never run as its stale extension (slaspec.native.guard).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT
from slaspec import native

EXAMPLES = [
    ("harbour-b2b", "examples/harbour-b2b.events.csv"),
    ("saas-waterfall", "examples/saas-waterfall.events.csv"),
    ("solo-consultant", "examples/solo-consultant.events.csv"),
]
FORMATS = ("text", "json", "csv", "markdown", "junit", "html")

# A fresh interpreter runs `slaspec replay` with the compiled modules, or with their sources.
_RUN = """\
import sys
from slaspec import native
if sys.argv[1] == "interpreted":
    native.prefer_sources()
from slaspec.cli import main
code = main(sys.argv[3:])
import slaspec.analysis, slaspec.calendar, slaspec.columnar, slaspec.replay, slaspec.results
print(" ".join(native.compiled()), file=open(sys.argv[2], "w", encoding="utf-8"))
sys.exit(code)
"""


def _replay(mode: str, agreement: str, log: str, out: Path) -> tuple[dict[str, bytes], str]:
    out.mkdir()
    reports = [f"--report={fmt}={out / fmt}" for fmt in FORMATS]
    env = {**os.environ, "SLASPEC_COLUMNAR": "1", "SLASPEC_JOBS": "2"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _RUN,
            mode,
            str(out / "compiled.txt"),
            "replay",
            f"agreements/{agreement}.sla",
            log,
            "--as-of",
            "2026-06-30T00:00:00Z",
            *reports,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {fmt: (out / fmt).read_bytes() for fmt in FORMATS}, (
        out / "compiled.txt"
    ).read_text().strip()


@pytest.mark.parametrize(("agreement", "log"), EXAMPLES, ids=[name for name, _ in EXAMPLES])
def test_compiled_and_interpreted_reports_are_byte_identical(
    agreement: str, log: str, tmp_path: Path
) -> None:
    compiled, running = _replay("compiled", agreement, log, tmp_path / "compiled")
    interpreted, none = _replay("interpreted", agreement, log, tmp_path / "interpreted")
    assert none == ""  # the sources ran
    assert running == " ".join(sorted(native.recorded()))  # the extensions ran, if built
    for fmt in FORMATS:
        assert compiled[fmt] == interpreted[fmt], fmt


@pytest.mark.skipif(not os.environ.get("CI"), reason="a local install may be interpreted")
def test_the_install_under_ci_is_compiled_from_these_sources() -> None:
    recorded = native.recorded()
    assert sorted(recorded) == [
        "analysis",
        "calendar",
        "columnar",
        "columnar_parse",
        "replay",
        "results",
    ]
    assert native.stale(recorded) == []


def test_a_source_that_differs_from_its_build_is_stale() -> None:
    digests = {
        name: hashlib.sha256((native.PACKAGE / f"{name}.py").read_bytes()).hexdigest()
        for name in ("calendar", "replay")
    }
    assert native.stale(digests) == []
    assert native.stale({**digests, "replay": "0" * 64}) == ["replay"]
    assert native.stale({"no_such_module": "0" * 64}) == []  # no source beside it: nothing to run


@pytest.fixture
def meta_path() -> Iterator[list[object]]:
    saved = list(sys.meta_path)
    yield sys.meta_path
    sys.meta_path[:] = saved


def test_the_guard_imports_every_compiled_module_from_source_once_one_is_stale(
    monkeypatch: pytest.MonkeyPatch, meta_path: list[object]
) -> None:
    recorded = {"calendar": "a" * 64, "columnar": "b" * 64, "replay": "c" * 64}
    monkeypatch.setattr(native, "recorded", lambda: recorded)
    monkeypatch.setattr(native, "stale", lambda modules: ["replay"])
    native.guard()
    finder = meta_path[0]
    assert isinstance(finder, native._Sources)
    assert finder.names == frozenset(recorded)  # all of them, not only the stale one
    spec = finder.find_spec("slaspec.columnar", None)
    assert spec is not None and spec.origin == str(native.PACKAGE / "columnar.py")
    assert finder.find_spec("slaspec.cli", None) is None
    assert finder.find_spec("other.replay", None) is None
    native.guard()
    assert sum(isinstance(f, native._Sources) for f in meta_path) == 1


def test_the_guard_leaves_a_fresh_build_alone(
    monkeypatch: pytest.MonkeyPatch, meta_path: list[object]
) -> None:
    before = list(meta_path)
    monkeypatch.setattr(native, "recorded", lambda: {"replay": "c" * 64})
    monkeypatch.setattr(native, "stale", lambda modules: [])
    native.guard()
    monkeypatch.setattr(native, "recorded", dict)  # an interpreted install: nothing recorded
    native.guard()
    assert meta_path == before


@pytest.mark.skipif(not native.recorded(), reason="this install compiled nothing")
@pytest.mark.parametrize("edited", [None, "columnar"])
def test_an_edited_copy_of_the_package_runs_its_sources(tmp_path: Path, edited: str | None) -> None:
    """End to end, in a fresh interpreter: a copy of the installed package (extensions, record
    and sources) runs compiled; once one compiled source is edited, every one runs from source."""
    source = native.PACKAGE.parent
    shutil.copytree(native.PACKAGE, tmp_path / "slaspec", ignore=shutil.ignore_patterns("*.pyc"))
    for library in source.glob("slaspec__mypyc*"):
        shutil.copy2(library, tmp_path / library.name)
    if edited is not None:
        with (tmp_path / "slaspec" / f"{edited}.py").open("a", encoding="utf-8") as module:
            module.write("# edited after the build\n")
    probe = (
        "import slaspec.analysis, slaspec.calendar, slaspec.columnar, slaspec.replay\n"
        "import slaspec.results\n"
        "from slaspec import native\n"
        "print(slaspec.replay.__file__); print(*native.compiled())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    replay_file, compiled = done.stdout.splitlines()
    assert Path(replay_file).parent == tmp_path / "slaspec"  # the copy, not the checkout
    if edited is None:
        assert compiled.split() == sorted(native.recorded())
        assert not replay_file.endswith(".py")
    else:
        assert compiled == ""
        assert replay_file.endswith("replay.py")
