"""`slaspec replay` through the columnar shortcut: the same reports, byte for byte."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, TODAY
from slaspec import cli, columnar, columnar_parse

EXAMPLES = [
    ("agreements/harbour-b2b.sla", "examples/harbour-b2b.events.csv"),
    ("agreements/saas-waterfall.sla", "examples/saas-waterfall.events.csv"),
    ("agreements/solo-consultant.sla", "examples/solo-consultant.events.csv"),
]
FORMATS = ("text", "json", "csv", "markdown", "junit", "html")


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("SLASPEC_JOBS", "1")
    monkeypatch.setattr(cli, "_today", lambda: TODAY)


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each use of the shortcut gave a result (True) or declined (False): declined
    when parsing (read ahead, beside the agreement's checks) or when preparing."""
    calls: list[bool] = []
    real: Callable[..., Any] = columnar.prepare_csv
    real_parse: Callable[..., Any] = columnar_parse.parse_csv

    def spy(*args: Any, **kwargs: Any) -> Any:
        prepared = real(*args, **kwargs)
        calls.append(prepared is not None)
        return prepared

    def parse_spy(*args: Any, **kwargs: Any) -> Any:
        parsed = real_parse(*args, **kwargs)
        if parsed is None:
            calls.append(False)
        return parsed

    monkeypatch.setattr(columnar, "prepare_csv", spy)
    monkeypatch.setattr(columnar_parse, "parse_csv", parse_spy)
    return calls


def replay(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    columns: str,
    *argv: str,
    jobs: str = "1",
) -> tuple[int, str, str]:
    monkeypatch.setenv("SLASPEC_COLUMNAR", columns)
    monkeypatch.setenv("SLASPEC_JOBS", jobs)
    code = cli.main(["replay", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("agreement", "log"), EXAMPLES)
def test_every_report_is_the_same_read_by_columns(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    taken: list[bool],
    agreement: str,
    log: str,
    fmt: str,
) -> None:
    rows = replay(capsys, monkeypatch, "0", agreement, log, "--format", fmt)
    assert taken == []
    columns = replay(capsys, monkeypatch, "1", agreement, log, "--format", fmt)
    assert taken == [True]
    assert columns == rows
    assert rows[0] == 0


@pytest.mark.parametrize("as_of", ["2026-03-01T00:00:00+11:00", "2026-06-30T17:00:00+10:00"])
def test_as_of_and_two_processes_read_by_columns(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    taken: list[bool],
    as_of: str,
) -> None:
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 50)  # chunks smaller than the shortcut's blocks
    agreement, log = EXAMPLES[0]
    argv = (agreement, log, "--format", "json", "--as-of", as_of)
    rows = replay(capsys, monkeypatch, "0", *argv)
    for jobs in ("1", "2"):
        assert replay(capsys, monkeypatch, "1", *argv, jobs=jobs) == rows
    assert taken == [True, True]
    report = json.loads(rows[1])
    assert report["accounting"]["after_as_of"] > 0


@pytest.mark.parametrize("as_of", [None, "2026-06-30T17:00:00+10:00"])
def test_the_analyser_and_engine_are_made_while_the_rows_are_ordered(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    taken: list[bool],
    as_of: str | None,
) -> None:
    """The columnar preparation hands the as-of instant to the command while a pyarrow thread
    orders the rows; the analyser is made then, once, for the instant the replay uses."""
    made: list[tuple[int, bool]] = []
    preparing = [False]
    real_prepare = cli._Logs.prepare
    real_analyser = cli._analyser

    def prepare(self: cli._Logs, *args: Any, **kwargs: Any) -> Any:
        preparing[0] = True
        try:
            return real_prepare(self, *args, **kwargs)
        finally:
            preparing[0] = False

    def analyser(args: Any, agreement: Any, replay_as_of: int, calendars: Any = None) -> Any:
        made.append((replay_as_of, preparing[0]))
        return real_analyser(args, agreement, replay_as_of, calendars)

    monkeypatch.setattr(cli._Logs, "prepare", prepare)
    monkeypatch.setattr(cli, "_analyser", analyser)
    agreement, log = EXAMPLES[0]
    argv = (agreement, log, "--format", "json") + (("--as-of", as_of) if as_of else ())
    code, out, _ = replay(capsys, monkeypatch, "1", *argv)
    assert code == 0 and taken == [True]
    assert replay(capsys, monkeypatch, "0", *argv) == (code, out, "")  # the reference way
    report = json.loads(out)
    instant = cli._parse_instant(report["as_of"], "--as-of")
    assert made == [(instant, True), (instant, False)]  # beside the order; after, row by row


@pytest.mark.parametrize("columns", ["1", "0"])
def test_calendar_tables_are_built_before_the_replay(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    """Built before the second process is forked, so that the two share them."""
    seen: list[tuple[list[tuple[int, int]], int, int]] = []
    real = cli._replay_all

    def replay_all(engine: Any, prepared: Any, needs: Any, *args: Any, **kwargs: Any) -> Any:
        years = [calendar.years for calendar in engine.calendars.values()]
        days = needs.analysis._days  # the analyser's table of local dates
        seen.append((years, len(days._starts), prepared.as_of))
        return real(engine, prepared, needs, *args, **kwargs)

    monkeypatch.setattr(cli, "_replay_all", replay_all)
    agreement, log = EXAMPLES[0]
    code, _, _ = replay(capsys, monkeypatch, columns, agreement, log)
    assert code == 0
    [(years, dates, as_of)] = seen
    year = dt.datetime.fromtimestamp(as_of // 1_000_000, dt.UTC).year
    assert len(years) == 2 and all(first < year <= last for first, last in years), years
    assert dates > 0


def test_a_log_the_shortcut_declines_is_read_row_by_row(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    taken: list[bool],
    tmp_path: Path,
) -> None:
    """A quoted cell and a junk row: declined, then read from the same bytes, hashed once."""
    agreement, log = EXAMPLES[2]
    lines = (ROOT / log).read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(",", ',"', 1).replace(",", '",', 2).replace('",', ",", 1)
    lines.insert(5, "nobody,yesterday,stage,mql,,,,\n")
    path = tmp_path / "log.csv"
    path.write_text("".join(lines), encoding="utf-8")
    rows = replay(capsys, monkeypatch, "0", agreement, str(path), "--format", "json")
    columns = replay(capsys, monkeypatch, "1", agreement, str(path), "--format", "json")
    assert taken == [False]
    assert columns == rows
    report = json.loads(rows[1])
    assert report["accounting"]["rejected"] == 1
    digests = [item["sha256"] for item in report["inputs"] if item["kind"] == "log"]
    assert digests == [hashlib.sha256(path.read_bytes()).hexdigest()]


@pytest.mark.parametrize(
    "logs",
    [
        ["examples/solo-consultant.events.csv", "examples/solo-consultant.events.csv"],
        ["missing.csv"],
        ["examples"],
    ],
    ids=["two-logs", "missing", "directory"],
)
def test_several_logs_and_unreadable_paths_never_take_the_shortcut(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    taken: list[bool],
    logs: list[str],
) -> None:
    agreement = EXAMPLES[2][0]
    rows = replay(capsys, monkeypatch, "0", agreement, *logs)
    assert replay(capsys, monkeypatch, "1", agreement, *logs) == rows
    assert taken == []


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_a_log_in_another_encoding_never_takes_the_shortcut(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    taken: list[bool],
    encoding: str,
) -> None:
    agreement, log = EXAMPLES[2]
    argv = (agreement, log, "--encoding", encoding, "--format", "json")
    assert replay(capsys, monkeypatch, "1", *argv) == replay(capsys, monkeypatch, "0", *argv)
    assert taken == []


def test_the_log_is_parsed_in_a_thread_while_the_agreement_is_checked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    agreement, log = EXAMPLES[0]
    seen: list[tuple[str, str]] = []
    real_parse: Callable[..., Any] = columnar_parse.parse_csv
    real_prepare: Callable[..., Any] = columnar.prepare_csv
    real_load: Callable[..., Any] = cli._load_agreement

    def parse(*args: Any) -> Any:
        seen.append(("parse", threading.current_thread().name))
        return real_parse(*args)

    def load(*args: Any) -> Any:
        seen.append(("agreement", threading.current_thread().name))
        return real_load(*args)

    def prepare(*args: Any, parsed: Any = None, **kwargs: Any) -> Any:
        seen.append(("prepare with columns", str(parsed is not None)))
        return real_prepare(*args, parsed=parsed, **kwargs)

    monkeypatch.setattr(columnar_parse, "parse_csv", parse)
    monkeypatch.setattr(columnar, "prepare_csv", prepare)
    monkeypatch.setattr(cli, "_load_agreement", load)
    ahead = replay(capsys, monkeypatch, "1", agreement, log, "--format", "json")
    main = threading.main_thread().name
    threads = dict(seen)
    assert sorted(threads) == ["agreement", "parse", "prepare with columns"] and len(seen) == 3
    assert threads["agreement"] == main and threads["parse"] != main
    assert threads["prepare with columns"] == "True"
    assert ahead == replay(capsys, monkeypatch, "0", agreement, log, "--format", "json")


def test_a_broken_agreement_stops_the_run_while_its_log_is_read_ahead(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.sla"
    broken.write_text("stage a\n", encoding="utf-8")
    code, out, err = replay(capsys, monkeypatch, "1", str(broken), EXAMPLES[0][1])
    assert code == 2
    assert "broken.sla:1:8: error[SLA001]" in out + err
    assert "Traceback" not in err


def test_the_command_imports_pyarrow_without_numpy(tmp_path: Path) -> None:
    """pyarrow imports numpy when it is installed (a tenth of a second, before the log can be
    parsed); the command's own process keeps it from doing so, and numpy still imports after."""
    pytest.importorskip("numpy", reason="numpy is not installed: nothing to keep out")
    agreement, log = EXAMPLES[0]
    script = (
        "import sys\n"
        "from slaspec import cli\n"
        "cli._exit_follows = True  # as `entry` sets it\n"
        f"code = cli.main(['replay', {agreement!r}, {log!r}, '-o', {str(tmp_path / 'r.txt')!r}])\n"
        "loaded = 'numpy' in sys.modules\n"
        "import pyarrow, numpy\n"
        "print(code, loaded, pyarrow.array([1, 2]).to_pylist())\n"
    )
    env = {**os.environ, "SLASPEC_COLUMNAR": "1", "SLASPEC_JOBS": "1"}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert run.stdout.split() == ["0", "False", "[1,", "2]"], run.stderr
    assert (tmp_path / "r.txt").read_text(encoding="utf-8").startswith("Harbour")


def test_in_process_callers_import_pyarrow_as_usual() -> None:
    with cli._pyarrow_without_numpy():
        assert sys.modules.get("numpy", 0) is not None  # not blocked: `entry` did not run


def test_a_chunk_of_leads_is_whole_blocks_of_rows() -> None:
    # Each process builds the rows of the chunks it replays: a block split between two chunks
    # would be built twice, once in each process.
    assert cli._CHUNK_LEADS % columnar.BLOCK_LEADS == 0
