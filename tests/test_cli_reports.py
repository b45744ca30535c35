"""`slaspec replay` reports: --format, --report, the analysis options, colour and progress."""

from __future__ import annotations

import io
import multiprocessing
import os
from pathlib import Path

import pytest

from conftest import ROOT, TODAY
from slaspec import cli, readers

HARBOUR = "agreements/harbour-b2b.sla"
HARBOUR_LOG = "examples/harbour-b2b.events.csv"
SOLO = "agreements/solo-consultant.sla"
SOLO_LOG = "examples/solo-consultant.events.csv"


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("SLASPEC_JOBS", "1")
    monkeypatch.setattr(cli, "_today", lambda: TODAY)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--report", "html"],
            "--report 'html': write FORMAT=PATH, e.g. --report html=report.html",
        ),
        (["--report", "html="], "--report 'html=': write FORMAT=PATH"),
        (["--report", "htm=r.html"], "unknown format 'htm'; did you mean `html`?"),
        (["--report", "pdf=r.pdf"], "(formats: text, markdown, html, json, csv, junit)"),
        (["--report", "json=-"], "two reports (text and json) would both be written to standard"),
        (
            ["--report", "json=r.out", "--report", "csv=r.out"],
            "two reports (json and csv) would both be written to r.out",
        ),
        (["--group-by", "sorce"], "--group-by sorce: the agreement declares no field 'sorce'"),
        (["--money-field", "source"], "--money-field source: name a field declared as money"),
        (["--won-stage", "champagne"], "--won-stage: not stages of the agreement: champagne"),
        (["--format", "pdf"], "argument --format: invalid choice: 'pdf'"),
    ],
)
def test_bad_report_options_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, flags: list[str], message: str
) -> None:
    code, out, err = run(capsys, "replay", HARBOUR, HARBOUR_LOG, *flags, "-o", "-")
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_did_you_mean_names_a_declared_field(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(capsys, "replay", HARBOUR, HARBOUR_LOG, "--group-by", "sorce")
    assert "did you mean `source`?" in err


FORMATS = ("text", "markdown", "html", "json", "csv", "junit")


def test_several_reports_in_one_run_equal_one_run_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    alone = {}
    for fmt in FORMATS:
        path = tmp_path / f"alone.{fmt}"
        code, _, err = run(capsys, "replay", HARBOUR, HARBOUR_LOG, "--format", fmt, "-o", str(path))
        assert (code, err) == (0, "")
        alone[fmt] = path.read_bytes()
    reports = [f"--report={fmt}={tmp_path / f'together.{fmt}'}" for fmt in FORMATS if fmt != "text"]
    code, out, err = run(capsys, "replay", HARBOUR, HARBOUR_LOG, *reports)
    assert (code, err) == (0, "")
    assert out.encode("utf-8") == alone["text"]
    for fmt in FORMATS[1:]:
        assert (tmp_path / f"together.{fmt}").read_bytes() == alone[fmt], fmt
    # Each format is what it says it is.
    assert alone["html"].startswith(b"<!DOCTYPE html>")
    assert alone["junit"].startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert alone["json"].startswith(b"{")
    assert alone["csv"].splitlines()[0].startswith(b"lead,")
    assert b"| " in alone["markdown"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_the_same_in_one_process_or_two(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 7)  # many chunks, shared by both processes
    outputs = []
    for jobs in ("1", "2"):
        monkeypatch.setenv("SLASPEC_JOBS", jobs)
        path = tmp_path / f"report.{jobs}.{fmt}"
        code, _, err = run(capsys, "replay", HARBOUR, HARBOUR_LOG, "--format", fmt, "-o", str(path))
        assert (code, err) == (0, "")
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_parent_imports_the_report_while_the_child_replays(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, jobs: str
) -> None:
    """The report's modules are imported once, by the parent, after the child is forked (the
    child does not need them), or before the replay when one process does it all."""
    calls: list[tuple[int, int]] = []
    imports = cli._import_report

    def meanwhile() -> None:
        calls.append((os.getpid(), len(multiprocessing.active_children())))
        imports()

    monkeypatch.setattr(cli, "_import_report", meanwhile)
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 7)
    monkeypatch.setenv("SLASPEC_JOBS", jobs)
    code, out, err = run(capsys, "replay", HARBOUR, HARBOUR_LOG)
    assert (code, err) == (0, "") and out.startswith("Harbour Analytics")
    assert calls == [(os.getpid(), int(jobs) - 1)]


def test_the_analysis_is_the_same_in_chunks_as_in_one_pass(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunked tallies merged in order give the analysis of one Analyser over every lead."""
    from slaspec.analysis import analyse
    from slaspec.replay import replay
    from slaspec.report import Report, analysis_out

    monkeypatch.setattr(cli, "_CHUNK_LEADS", 3)
    path = tmp_path / "report.json"
    code, _, _ = run(capsys, "replay", HARBOUR, HARBOUR_LOG, "--format", "json", "-o", str(path))
    assert code == 0
    report = Report.model_validate_json(path.read_text(encoding="utf-8"))
    checked = cli._load_agreement(HARBOUR)
    assert checked.agreement is not None
    logs = cli._Logs([HARBOUR_LOG], readers.ReadOptions(None, "reject"), "utf-8")
    result = replay(checked.agreement, logs.items())
    expected = analyse(checked.agreement, result, ("source",), "amount")
    assert report.analysis == analysis_out(expected)


def test_group_by_and_money_field_choose_the_closed_loop(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from slaspec.report import Report

    path = tmp_path / "report.json"
    argv = ["replay", HARBOUR, HARBOUR_LOG, "--format", "json", "-o", str(path)]
    code, _, _ = run(capsys, *argv, "--group-by", "lost_reason", "--group-by", "source")
    assert code == 0
    report = Report.model_validate_json(path.read_text(encoding="utf-8"))
    assert report.analysis is not None
    assert [loop.attribute for loop in report.analysis.closed_loop] == ["lost_reason", "source"]
    assert report.analysis.money_field == "amount"  # the agreement's only money field


def test_colour_only_when_asked_or_on_a_terminal(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, always, _ = run(capsys, "replay", HARBOUR, HARBOUR_LOG, "--color", "always")
    _, never, _ = run(capsys, "replay", HARBOUR, HARBOUR_LOG, "--color", "never")
    _, auto, _ = run(capsys, "replay", HARBOUR, HARBOUR_LOG)  # stdout is not a terminal here
    assert "\x1b[" in always
    assert "\x1b[" not in never
    assert auto == never

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert cli._use_color(Terminal(), "auto") is False  # NO_COLOR is set by the fixture
    monkeypatch.delenv("NO_COLOR")
    assert cli._use_color(Terminal(), "auto") is True
    assert cli._use_color(io.StringIO(), "auto") is False


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_shows_only_after_a_couple_of_seconds_and_is_erased() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = cli._Progress(stream, True, clock, delay=2.0)
    rows = list(progress.rows(range(200_000)))  # type: ignore[arg-type]
    assert len(rows) == 200_000
    assert stream.getvalue() == ""  # a quick run shows nothing
    progress.start(10, 19_500)
    progress.claimed(3)
    assert stream.getvalue() == ""
    clock.now = 2.5
    progress.claimed(5)
    assert (
        stream.getvalue()
        == "\rreplaying [###############               ]  50%  9,750 of 19,500 leads\x1b[K"
    )
    clock.now = 2.55
    progress.claimed(6)  # redrawn at most ten times a second
    assert stream.getvalue().count("\r") == 1
    clock.now = 3.0
    progress.claimed(12)  # claims past the end (the last, empty claims) stop at 100%
    assert stream.getvalue().endswith(
        "[##############################] 100%  19,500 of 19,500 leads\x1b[K"
    )
    progress.close()
    assert stream.getvalue().endswith("\r\x1b[K")


def test_progress_counts_rows_while_reading() -> None:
    clock, stream = FakeClock(), io.StringIO()
    clock.now = 5.0
    progress = cli._Progress(stream, True, clock, delay=2.0)
    progress.started = 0.0
    list(progress.rows(range(70_000)))  # type: ignore[arg-type]
    assert stream.getvalue() == "\rreading logs: 65,536 rows\x1b[K"


def test_no_progress_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    clock, stream = FakeClock(), io.StringIO()
    clock.now = 100.0
    progress = cli._Progress(stream, False, clock)
    progress.started = 0.0
    list(progress.rows(range(100_000)))  # type: ignore[arg-type]
    progress.start(2, 10)
    progress.claimed(1)
    progress.close()
    assert stream.getvalue() == ""
