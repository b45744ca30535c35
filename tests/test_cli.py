"""The command line: `main([...])` in-process for lint, fmt and graph, plus a subprocess smoke test.

Goldens live in tests/data/cli/; set SLASPEC_UPDATE_GOLDEN=1 to rewrite them (review the diff).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import DATA, ROOT, TODAY, golden
from slaspec import __version__, cli
from slaspec.diagnostics import RULES

CLI = DATA / "cli"
FMT = DATA / "fmt"
AGREEMENTS = sorted((ROOT / "agreements").glob("*.sla"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Unformatted but valid: the formatter drops redundant parentheses and joins broken lines.
UNFORMATTED = FMT / "criteria.sla"
BROKEN = 'agreement "Broken":\n    version "1"\n\nstage inquiry\n    initial\n'


@dataclass(frozen=True)
class Run:
    """What one call of `main` did."""

    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    # Checks that look ahead in time (a calendar's next 366 days) must not depend on the clock.
    monkeypatch.setattr(cli, "_today", lambda: TODAY)
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., Run]:
    """Call the CLI in-process and capture its exit code and both streams."""

    def call(*argv: str) -> Run:
        code = cli.main(list(argv))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return call


def _no_traceback(result: Run) -> None:
    assert "Traceback" not in result.out + result.err


def _sarif_normalised(text: str) -> str:
    """SARIF with the tool version replaced, so a release does not rewrite the golden."""
    document = json.loads(text)
    for run_ in document["runs"]:
        assert run_["tool"]["driver"]["version"] == __version__
        run_["tool"]["driver"]["version"] = "VERSION"
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


# ---------------------------------------------------------------- lint


@pytest.mark.parametrize("path", AGREEMENTS, ids=lambda p: p.name)
def test_lint_example_passes(run: Callable[..., Run], path: Path) -> None:
    result = run("lint", str(path))
    assert (result.code, result.out, result.err) == (0, "All checks passed.\n", "")


def test_lint_whole_agreements_folder_passes(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = run("lint", "agreements/")
    assert (result.code, result.out, result.err) == (0, "All checks passed.\n", "")


def test_lint_problems_text_golden(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CLI)
    result = run("lint", "problems.sla")
    assert result.code == 1
    assert result.err == ""
    golden(CLI / "problems.text", result.out)


def test_lint_color_always_differs_only_by_escapes(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CLI)
    plain = run("lint", "problems.sla", "--color", "never")
    colored = run("lint", "problems.sla", "--color", "always")
    assert colored.code == plain.code == 1
    assert ANSI.search(colored.out) is not None
    assert ANSI.search(plain.out) is None
    assert ANSI.sub("", colored.out) == plain.out


def test_lint_json_golden(run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CLI)
    result = run("lint", "problems.sla", "--format", "json")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["counts"] == {"errors": 5, "warnings": 1, "files": 2}
    assert all(finding["code"] in RULES for finding in document["findings"])
    golden(CLI / "problems.json", result.out)


def test_lint_sarif_golden(run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CLI)
    result = run("lint", "problems.sla", "--format", "sarif")
    assert result.code == 1
    document = json.loads(result.out)
    assert document["version"] == "2.1.0"
    (sarif_run,) = document["runs"]
    rule_ids = [rule["id"] for rule in sarif_run["tool"]["driver"]["rules"]]
    assert len(sarif_run["results"]) == 6
    for found in sarif_run["results"]:
        assert found["ruleId"] in RULES
        assert rule_ids[found["ruleIndex"]] == found["ruleId"]
        assert found["level"] in ("error", "warning")
        (location,) = found["locations"]
        uri = location["physicalLocation"]["artifactLocation"]["uri"]
        assert uri in ("problems.sla", "shared/vocabulary.sla")
        region = location["physicalLocation"]["region"]
        assert region["startLine"] <= region["endLine"]
    golden(CLI / "problems.sarif", _sarif_normalised(result.out))


GITHUB_LINE = re.compile(
    r"::(error|warning) file=[^,:]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,"
    r"title=SLA\d{3} [a-z-]+::[^\n]+"
)


def test_lint_github_golden(run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CLI)
    result = run("lint", "problems.sla", "--format", "github")
    assert result.code == 1
    lines = result.out.splitlines()
    assert len(lines) == 6
    for line in lines:
        assert GITHUB_LINE.fullmatch(line), line
    golden(CLI / "problems.github", result.out)


@pytest.mark.parametrize("format_", ["text", "json", "sarif", "github"])
def test_lint_output_file(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, format_: str
) -> None:
    monkeypatch.chdir(CLI)
    to_stdout = run("lint", "problems.sla", "--format", format_)
    target = tmp_path / f"report.{format_}"
    to_file = run("lint", "problems.sla", "--format", format_, "-o", str(target))
    assert (to_file.code, to_file.out, to_file.err) == (1, "", "")
    assert target.read_text(encoding="utf-8") == to_stdout.out


def test_lint_output_file_not_writable(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(CLI)
    result = run("lint", "problems.sla", "-o", str(tmp_path))
    assert result.code == 2
    assert f"cannot write {tmp_path}" in result.err
    _no_traceback(result)


def test_lint_used_file_problems_are_reported_under_its_own_name(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Named from the repository root, the used file's path is resolved next to the user.
    monkeypatch.chdir(ROOT)
    result = run("lint", "tests/data/cli/problems.sla", "--format", "json")
    files = {finding["code"]: finding["file"] for finding in json.loads(result.out)["findings"]}
    assert files["SLA207"] == "tests/data/cli/shared/vocabulary.sla"
    assert files["SLA101"] == "tests/data/cli/problems.sla"
    text = run("lint", "tests/data/cli/problems.sla").out
    assert "tests/data/cli/shared/vocabulary.sla:15:14: error[SLA207]" in text
    assert '15 |     timezone "Europe/Lisbn"' in text


def test_lint_use_of_missing_file(run: Callable[..., Run], tmp_path: Path) -> None:
    agreement = tmp_path / "main.sla"
    agreement.write_text(
        (ROOT / "agreements" / "solo-consultant.sla").read_text(encoding="utf-8")
        + '\nuse "vocabulary/missing.sla"\n',
        encoding="utf-8",
    )
    result = run("lint", str(agreement))
    assert result.code == 1
    assert f"{agreement}:" in result.out
    assert "error[SLA103] cannot use `vocabulary/missing.sla`" in result.out
    _no_traceback(result)


def _tree(root: Path) -> None:
    """A folder of agreements: clean ones, a broken one two levels down, and non-agreements."""
    (root / "team" / "archive").mkdir(parents=True)
    shutil.copy(ROOT / "agreements" / "solo-consultant.sla", root / "a.sla")
    shutil.copy(ROOT / "agreements" / "harbour-b2b.sla", root / "team" / "b.sla")
    (root / "team" / "archive" / "old.sla").write_text(BROKEN, encoding="utf-8")
    (root / "team" / "notes.txt").write_text(BROKEN, encoding="utf-8")
    (root / "team" / "draft.sla.bak").write_text(BROKEN, encoding="utf-8")


def test_lint_several_paths_and_a_folder(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _tree(tmp_path)
    shutil.copy(CLI / "problems.sla", tmp_path / "problems.sla")
    shutil.copytree(CLI / "shared", tmp_path / "shared")
    monkeypatch.chdir(tmp_path)
    result = run("lint", "problems.sla", "team", "a.sla", "--format", "json")
    assert result.code == 1
    files = sorted({finding["file"] for finding in json.loads(result.out)["findings"]})
    # Only .sla files below the folder are read; the used file is reported, not linted alone.
    assert files == ["problems.sla", "shared/vocabulary.sla", "team/archive/old.sla"]


def test_lint_folder_recurses_into_sla_files(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = run("lint", ".")
    assert result.code == 1
    assert "team/archive/old.sla:4:" in result.out
    assert "error[SLA001]" in result.out
    assert "notes.txt" not in result.out and ".bak" not in result.out
    (tmp_path / "team" / "archive" / "old.sla").unlink()
    assert run("lint", ".").out == "All checks passed.\n"


def test_lint_same_file_twice_reports_each_finding_once(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CLI)
    once = run("lint", "problems.sla")
    twice = run("lint", "problems.sla", "problems.sla")
    assert twice == once


def test_lint_stdin(run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(BROKEN))
    result = run("lint", "-")
    assert result.code == 1
    assert result.out.startswith("<stdin>:4:")
    assert "error[SLA001]" in result.out


def _binary(path: Path) -> None:
    path.write_bytes(b'agreement "x":\n    version "1\x00"\n')


def _latin1(path: Path) -> None:
    path.write_bytes('agreement "Café":\n    version "1"\n'.encode("latin-1"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(None, "error[SLA002] no such file: {path}", id="missing"),
        pytest.param(lambda p: p.mkdir(), "error[SLA003] {path} is a directory", id="empty-folder"),
        pytest.param(
            lambda p: (p.mkdir(), (p / "readme.txt").write_text("x", encoding="utf-8")),
            "error[SLA003] {path} is a directory",
            id="folder-without-agreements",
        ),
        pytest.param(
            _binary, "error[SLA004] {path} is a binary file (NUL byte on line 2)", id="binary"
        ),
        pytest.param(
            _latin1, "error[SLA004] {path} is not UTF-8 text (byte 0xe9 on line 1)", id="latin-1"
        ),
    ],
)
def test_lint_cannot_run(
    run: Callable[..., Run],
    tmp_path: Path,
    make: Callable[[Path], object] | None,
    message: str,
) -> None:
    path = tmp_path / "agreement.sla"
    if make is not None:
        make(path)
    result = run("lint", str(path))
    assert result.code == 2
    assert result.out.startswith(f"{path}: " + message.format(path=path))
    _no_traceback(result)
    as_json = run("lint", "--format", "json", str(path))
    assert as_json.code == 2
    (finding,) = json.loads(as_json.out)["findings"]
    assert finding["file"] == str(path)


def test_lint_unreadable_path_does_not_hide_other_findings(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CLI)
    result = run("lint", "problems.sla", "missing.sla")
    assert result.code == 2
    assert "missing.sla: error[SLA002]" in result.out
    assert "problems.sla:15:11: error[SLA101]" in result.out


# ---------------------------------------------------------------- fmt


def _apply_unified_diff(before: str, patch: str) -> str:
    """Apply a unified diff to a text (enough of the format to check slaspec's own diffs)."""
    old = before.splitlines(keepends=True)
    lines = patch.splitlines(keepends=True)
    assert lines[0].startswith("--- ") and lines[1].startswith("+++ ")
    result: list[str] = []
    position = 0
    index = 2
    while index < len(lines):
        header = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", lines[index])
        assert header is not None, lines[index]
        start = int(header.group(1)) - (0 if header.group(2) == "0" else 1)
        result.extend(old[position:start])
        position = start
        index += 1
        while index < len(lines) and not lines[index].startswith("@@"):
            line = lines[index]
            kind, body = line[0], line[1:]
            if index + 1 < len(lines) and lines[index + 1].startswith("\\ No newline"):
                body = body.removesuffix("\n")
                index += 1
            if kind in " -":
                assert old[position] == body
                position += 1
            if kind in " +":
                result.append(body)
            index += 1
    result.extend(old[position:])
    return "".join(result)


def test_fmt_check_names_a_file_that_would_change(run: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "criteria.sla"
    shutil.copy(UNFORMATTED, path)
    before = path.read_bytes()
    result = run("fmt", "--check", str(path))
    assert (result.code, result.out) == (1, f"would reformat {path}\n")
    assert path.read_bytes() == before


@pytest.mark.parametrize("path", AGREEMENTS, ids=lambda p: p.name)
def test_fmt_check_passes_on_formatted_file(run: Callable[..., Run], path: Path) -> None:
    result = run("fmt", "--check", str(path))
    assert (result.code, result.out, result.err) == (0, "", "")


def test_fmt_diff_is_a_unified_diff_to_the_formatted_text(
    run: Callable[..., Run], tmp_path: Path
) -> None:
    path = tmp_path / "criteria.sla"
    shutil.copy(UNFORMATTED, path)
    before = path.read_text(encoding="utf-8")
    result = run("fmt", "--diff", str(path))
    assert result.code == 1
    assert result.out.startswith(f"--- a/{path}\n+++ b/{path}\n@@ ")
    assert path.read_text(encoding="utf-8") == before
    assert run("fmt", str(path)).code == 0
    assert _apply_unified_diff(before, result.out) == path.read_text(encoding="utf-8")
    assert run("fmt", "--diff", str(path)) == Run(0, "", "")


def test_fmt_diff_of_file_without_final_newline(run: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "no-newline.sla"
    before = "team sales\n\nteam   marketing"
    path.write_text(before, encoding="utf-8")
    result = run("fmt", "--diff", str(path))
    assert result.code == 1
    assert "\\ No newline at end of file\n" in result.out
    assert _apply_unified_diff(before, result.out) == "team sales\n\nteam marketing\n"


def test_fmt_rewrites_then_changes_nothing(run: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "criteria.sla"
    shutil.copy(UNFORMATTED, path)
    first = run("fmt", str(path))
    assert (first.code, first.out, first.err) == (0, f"reformatted {path}\n", "")
    formatted = path.read_bytes()
    assert formatted != UNFORMATTED.read_bytes()
    second = run("fmt", str(path))
    assert (second.code, second.out, second.err) == (0, "", "")
    assert path.read_bytes() == formatted
    assert run("fmt", "--check", str(path)).code == 0
    assert run("lint", str(path)).code == run("lint", str(UNFORMATTED)).code


def test_fmt_folder(run: Callable[..., Run], tmp_path: Path) -> None:
    (tmp_path / "deep").mkdir()
    shutil.copy(UNFORMATTED, tmp_path / "deep" / "criteria.sla")
    shutil.copy(AGREEMENTS[0], tmp_path / "clean.sla")
    result = run("fmt", "--check", str(tmp_path))
    assert (result.code, result.out) == (
        1,
        f"would reformat {tmp_path / 'deep' / 'criteria.sla'}\n",
    )


def test_fmt_stdin_to_stdout(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "criteria.sla"
    shutil.copy(UNFORMATTED, path)
    assert run("fmt", str(path)).code == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(UNFORMATTED.read_text(encoding="utf-8")))
    result = run("fmt", "-")
    assert (result.code, result.err) == (0, "")
    assert result.out == path.read_text(encoding="utf-8")


def test_fmt_stdin_with_syntax_errors(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(BROKEN))
    result = run("fmt", "-")
    assert (result.code, result.out) == (2, "")
    assert "<stdin>:4:" in result.err
    _no_traceback(result)


@pytest.mark.parametrize("flags", [(), ("--check",), ("--diff",)], ids=["write", "check", "diff"])
def test_fmt_leaves_file_with_syntax_errors_untouched(
    run: Callable[..., Run], tmp_path: Path, flags: tuple[str, ...]
) -> None:
    path = tmp_path / "broken.sla"
    path.write_bytes(BROKEN.encode("utf-8"))
    result = run("fmt", *flags, str(path))
    assert (result.code, result.out) == (2, "")
    assert f"{path}:4:" in result.err
    assert "error[SLA001]" in result.err
    assert f"slaspec: not formatting {path}: fix the syntax errors first.\n" in result.err
    assert path.read_bytes() == BROKEN.encode("utf-8")
    _no_traceback(result)


def test_fmt_missing_file(run: Callable[..., Run], tmp_path: Path) -> None:
    path = tmp_path / "missing.sla"
    result = run("fmt", str(path))
    assert result.code == 2
    assert f"error[SLA002] no such file: {path}" in result.err
    assert not path.exists()


# ---------------------------------------------------------------- graph


@pytest.mark.parametrize("format_", ["mermaid", "dot", "json"])
def test_graph_golden(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, format_: str
) -> None:
    monkeypatch.chdir(ROOT)
    result = run("graph", "agreements/harbour-b2b.sla", "--format", format_)
    assert (result.code, result.err) == (0, "")
    golden(CLI / f"harbour-b2b.{format_}", result.out)


def test_graph_formats_are_well_formed(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    mermaid = run("graph", "agreements/harbour-b2b.sla").out
    assert mermaid.startswith("flowchart ")
    dot = run("graph", "agreements/harbour-b2b.sla", "--format", "dot").out
    assert dot.startswith("digraph ") and dot.rstrip().endswith("}")
    document = json.loads(run("graph", "agreements/harbour-b2b.sla", "--format", "json").out)
    handoffs = {(h["source"], h["target"]) for h in document["handoffs"]}
    assert ("sal", "sql") in handoffs and ("opportunity", "won") in handoffs
    for stage in ("inquiry", "mql", "nurture", "won", "lost"):
        assert stage in mermaid and f'"{stage}"' in dot


def test_graph_output_file(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(ROOT)
    target = tmp_path / "graph.dot"
    result = run("graph", "agreements/harbour-b2b.sla", "--format", "dot", "-o", str(target))
    assert (result.code, result.out, result.err) == (0, "", "")
    assert target.read_text(encoding="utf-8") == (CLI / "harbour-b2b.dot").read_text(
        encoding="utf-8"
    )


def test_graph_of_agreement_with_errors(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(CLI)
    result = run("graph", "problems.sla")
    assert (result.code, result.out) == (2, "")
    assert "problems.sla:15:11: error[SLA101] undefined team `salse`" in result.err
    assert "shared/vocabulary.sla:15:14: error[SLA207]" in result.err
    # Warnings do not stop a graph, so they are not repeated here.
    assert "SLA305" not in result.err
    assert "slaspec: problems.sla has errors; fix them (see `slaspec lint problems.sla`).\n" in (
        result.err
    )
    _no_traceback(result)


@pytest.mark.parametrize("make", [None, _binary], ids=["missing", "binary"])
def test_graph_of_unreadable_file(
    run: Callable[..., Run], tmp_path: Path, make: Callable[[Path], None] | None
) -> None:
    path = tmp_path / "agreement.sla"
    if make is not None:
        make(path)
    result = run("graph", str(path))
    assert (result.code, result.out) == (2, "")
    assert f"{path}: error[SLA00" in result.err
    _no_traceback(result)


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("argv", "usage", "complaint"),
    [
        ([], "usage: slaspec ", "the following arguments are required: COMMAND"),
        (["replicate"], "usage: slaspec ", "invalid choice: 'replicate'"),
        (["--verbose", "lint", "x.sla"], "usage: slaspec ", "unrecognized arguments: --verbose"),
        (["lint", "--strict", "x.sla"], "usage: slaspec ", "unrecognized arguments: --strict"),
        (["lint"], "usage: slaspec lint ", "the following arguments are required: PATH"),
        (["lint", "--format", "xml", "x.sla"], "usage: slaspec lint ", "invalid choice: 'xml'"),
        (["lint", "x.sla", "-o"], "usage: slaspec lint ", "argument -o/--output: expected one"),
        (["fmt"], "usage: slaspec fmt ", "the following arguments are required: PATH"),
        (["fmt", "--check", "--diff", "x.sla"], "usage: slaspec fmt ", "not allowed with"),
        (["graph"], "usage: slaspec graph ", "the following arguments are required: AGREEMENT"),
        (["graph", "a.sla", "b.sla"], "usage: slaspec ", "unrecognized arguments: b.sla"),
        (["graph", "--format", "png", "a.sla"], "usage: slaspec graph ", "invalid choice: 'png'"),
    ],
)
def test_argument_errors(
    run: Callable[..., Run], argv: list[str], usage: str, complaint: str
) -> None:
    result = run(*argv)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith(usage)
    assert "slaspec: error: " in result.err and complaint in result.err
    assert "--help` for the options." in result.err
    _no_traceback(result)


def test_version(run: Callable[..., Run]) -> None:
    result = run("--version")
    assert (result.code, result.out, result.err) == (0, f"slaspec {__version__}\n", "")
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", __version__)


@pytest.mark.parametrize("argv", [["--help"], ["lint", "--help"], ["fmt", "-h"], ["graph", "-h"]])
def test_help(run: Callable[..., Run], argv: list[str]) -> None:
    result = run(*argv)
    assert result.code == 0
    assert result.out.startswith("usage: slaspec")


# ---------------------------------------------------------------- installed command


def test_python_m_slaspec_smoke() -> None:
    clean = subprocess.run(
        [sys.executable, "-m", "slaspec", "lint", "agreements/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (clean.returncode, clean.stdout, clean.stderr) == (0, "All checks passed.\n", "")
    missing = subprocess.run(
        [sys.executable, "-m", "slaspec", "lint", "no-such-agreement.sla"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2
    assert "no such file: no-such-agreement.sla" in missing.stdout
    assert "Traceback" not in missing.stderr


def test_the_command_flushes_its_output_before_it_exits(tmp_path: Path) -> None:
    """`entry` leaves with os._exit (no interpreter teardown): what went to standard output
    through a pipe, and to a file, must still be whole, and the exit code kept."""
    command = [sys.executable, "-m", "slaspec", "replay", "agreements/harbour-b2b.sla"]
    command += ["examples/harbour-b2b.events.csv", "--format", "csv"]
    piped = subprocess.run(command, cwd=ROOT, capture_output=True, timeout=300, check=False)
    written = subprocess.run(
        [*command, "-o", str(tmp_path / "out.csv"), "--fail-on", "violation"],
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert (piped.returncode, piped.stderr, written.returncode) == (0, b"", 1)
    assert len(piped.stdout.splitlines()) > 100
    assert (tmp_path / "out.csv").read_bytes() == piped.stdout


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    """`slaspec replay ... | head -c 100`: the pipe closes before the output is written."""
    command = [sys.executable, "-m", "slaspec", "replay", "agreements/harbour-b2b.sla"]
    command += ["examples/harbour-b2b.events.csv", "--format", "json"]
    with subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert len(process.stdout.read(100)) == 100
        process.stdout.close()
        error = process.stderr.read()
        assert process.wait(timeout=300) == 0
    assert b"Traceback" not in error and b"Exception ignored" not in error


@pytest.mark.parametrize("exit_follows", [False, True])
def test_the_collector_stays_paused_after_a_replay_only_when_the_process_exits(
    run: Callable[..., Run], monkeypatch: pytest.MonkeyPatch, exit_follows: bool
) -> None:
    """`entry` exits right after `main`: re-enabling the collector there would only make it walk
    every object the replay left alive. In-process callers get it back as it was."""
    import gc

    monkeypatch.setattr(cli, "_exit_follows", exit_follows)
    assert gc.isenabled()
    try:
        result = run("replay", "agreements/harbour-b2b.sla", "examples/harbour-b2b.events.csv")
        assert result.code == 0
        assert gc.isenabled() is not exit_follows
    finally:
        gc.enable()


# ---------------------------------------------------------------- the parser's tables


@pytest.fixture
def fresh_parser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A cache directory of the test's own, and a parser not yet made; both as before after."""
    from slaspec import parser

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("SLASPEC_NO_CACHE", raising=False)
    monkeypatch.setattr(parser, "_parser", None)
    cli._parser_ready.cache_clear()
    yield tmp_path / "slaspec"
    cli._parser_ready.cache_clear()


def _trees() -> list[str]:
    """The typed syntax tree (and syntax errors) of every agreement of the project."""
    from slaspec import parser
    from slaspec.source import Source

    paths = sorted([*(ROOT / "agreements").glob("*.sla"), *DATA.rglob("*.sla")])
    return [repr(parser.parse(Source(p.name, p.read_text(encoding="utf-8")))) for p in paths]


def test_the_parser_tables_are_kept_in_the_users_cache_and_loaded_from_it(
    fresh_parser: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slaspec import parser

    cli._parser_ready()
    [kept] = fresh_parser.iterdir()
    assert kept.name == f"parser-{parser.tables_key()}.tables"
    assert fresh_parser.stat().st_mode & 0o777 == 0o700
    analysed = _trees()
    # The next command loads them: it never analyses the grammar.
    monkeypatch.setattr(parser, "_parser", None)
    cli._parser_ready.cache_clear()

    def refuse() -> None:
        raise AssertionError("analysed the grammar again")

    monkeypatch.setattr(parser, "_analysed", refuse)
    cli._parser_ready()
    assert _trees() == analysed
    assert list(fresh_parser.iterdir()) == [kept]


def test_damaged_tables_are_made_again(fresh_parser: Path) -> None:
    from slaspec import parser

    fresh_parser.mkdir(mode=0o700)
    kept = fresh_parser / f"parser-{parser.tables_key()}.tables"
    kept.write_bytes(b"not a pickle")
    cli._parser_ready()
    assert kept.read_bytes() != b"not a pickle"
    assert parser.prime(kept.read_bytes()) is None  # loadable now
    assert _trees()


@pytest.mark.parametrize("why", ["others-can-write", "switched-off", "not-a-directory"])
def test_no_cache_where_it_may_not_be_kept(
    fresh_parser: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    from slaspec import parser

    if why == "others-can-write":
        fresh_parser.mkdir()
        fresh_parser.chmod(0o777)  # a pickle there could be anyone's
    elif why == "switched-off":
        monkeypatch.setenv("SLASPEC_NO_CACHE", "1")
    else:
        monkeypatch.setenv("XDG_CACHE_HOME", str(ROOT / "README.md"))
    assert cli._tables_file(parser.tables_key()) is None
    cli._parser_ready()
    assert _trees()
    assert not fresh_parser.exists() or list(fresh_parser.iterdir()) == []
