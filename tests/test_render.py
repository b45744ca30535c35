"""Report writers: the streamed JSON and CSV are byte for byte the pydantic Report rendered whole.

`render_json(build_report(...))` is the reference: the Report model is the schema. The replay
command writes the per-cycle and per-violation lists straight from the result records
(`json_items`, `json_chunks`, `csv_chunk`); these tests hold the two paths together, validate
the streamed JSON against `Report.model_validate_json`, and check that the command's output
does not depend on whether the leads were replayed in one process or two.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing.process
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import DATA, ROOT, TODAY, check_text
from slaspec import __version__, cli, generate, readers
from slaspec import calendar as business_calendar
from slaspec.analysis import analyse
from slaspec.compiler import Agreement
from slaspec.render import (
    csv_chunk,
    csv_header,
    json_chunks,
    json_items,
    render_csv,
    render_json,
)
from slaspec.replay import Engine, prepare, replay_prepared
from slaspec.report import (
    InputFile,
    Report,
    analysis_out,
    build_report,
    summary_report,
    tally,
)
from slaspec.results import ReplayResult

BASE = DATA / "replay" / "base.sla"
INPUTS = [InputFile(path="log.csv", sha256="0" * 64, kind="log")]
HARSH = generate.Profile(
    breach=0.4,
    stall=0.4,
    unmet=0.3,
    shortfall=0.4,
    skip=0.15,
    bad_entry=0.1,
    reopen=0.1,
    duplicate=0.1,
)
# Lead ids and values that JSON must escape (quotes, backslashes, non-ASCII, control
# characters) and that a spreadsheet would run as a formula.
TRICKY = (
    "lead_id,timestamp,type,value,actor,team,score,source\n"
    '"Q""1",2026-03-02T09:00:00+11:00,stage,inquiry,,,,web\n'
    '"Q""1",2026-03-02T09:05:00+11:00,stage,sal,,,,\n'
    "=SUM(A1),2026-03-02T09:00:00+11:00,stage,mql,,,,\n"
    "Zoë 🚀 <script>,2026-03-02T09:00:00+11:00,stage,inquiry,,,90,web\n"
    "Zoë 🚀 <script>,2026-03-02T09:30:00+11:00,stage,mql,,,,\n"
    '"back\\slash\ttab",2026-03-02T10:00:00+11:00,stage,lost,,,,\n'
    "Q2,2026-03-02T10:00:00+11:00,stage,inquiry,,,eighty,\n"
)


def compiled(path: Path) -> Agreement:
    checked = check_text(path.read_text(encoding="utf-8"), str(path))
    assert checked.agreement is not None, checked.diagnostics
    return checked.agreement


def replay_text(agreement: Agreement, text: str) -> ReplayResult:
    items = list(readers.read_log(text, "log.csv", "csv", readers.ReadOptions()))
    return replay_prepared(Engine(agreement), prepare(agreement, items))


def harsh_log(agreement: Agreement, leads: int, seed: int) -> str:
    rows = generate.generate(agreement, leads, seed, dt.date(2026, 3, 2), days=40, profile=HARSH)
    return "".join(generate.csv_lines(rows, generate.columns(agreement)))


def cases() -> list[tuple[str, Agreement, str]]:
    base = compiled(BASE)
    harbour = compiled(ROOT / "agreements" / "harbour-b2b.sla")
    return [
        ("base-harsh", base, harsh_log(base, 150, 3)),
        ("harbour-harsh", harbour, harsh_log(harbour, 150, 4)),
        ("tricky", base, TRICKY),
        ("empty", base, "lead_id,timestamp,type,value\n"),
    ]


CASES = cases()


def streamed_json(agreement: Agreement, result: ReplayResult, per_chunk: int) -> str:
    summary = summary_report(
        agreement,
        tally(result.leads),
        result.as_of,
        result.accounting,
        result.rejections,
        INPUTS,
        "v",
        "h",
    )
    cycles: list[str] = []
    violations: list[str] = []
    leads = result.leads
    for first in range(0, len(leads), per_chunk):
        part = leads[first : first + per_chunk]
        chunk = json_items(
            (c for lead in part for c in lead.cycles), (v for lead in part for v in lead.violations)
        )
        cycles.append(chunk[0])
        violations.append(chunk[1])
    return "".join(json_chunks(summary, cycles, violations))


@pytest.mark.parametrize(("name", "agreement", "log"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("per_chunk", [1, 7, 100_000])
def test_streamed_json_is_the_report_rendered_whole(
    name: str, agreement: Agreement, log: str, per_chunk: int
) -> None:
    result = replay_text(agreement, log)
    expected = render_json(build_report(agreement, result, INPUTS, "v", "h"))
    actual = streamed_json(agreement, result, per_chunk)
    assert actual == expected
    # The schema and the writer cannot drift: the streamed document is a valid Report.
    assert Report.model_validate_json(actual) == build_report(agreement, result, INPUTS, "v", "h")


@pytest.mark.parametrize(("name", "agreement", "log"), CASES, ids=[c[0] for c in CASES])
def test_streamed_csv_is_the_report_rendered_whole(
    name: str, agreement: Agreement, log: str
) -> None:
    result = replay_text(agreement, log)
    expected = render_csv(build_report(agreement, result, INPUTS, "v", "h"))
    leads = result.leads
    actual = csv_header() + "".join(csv_chunk(leads[i : i + 5]) for i in range(0, len(leads), 5))
    assert actual == expected


def test_the_cases_hold_what_the_writers_must_handle() -> None:
    _, agreement, log = CASES[2]
    result = replay_text(agreement, log)
    leads = {lead.lead for lead in result.leads}
    assert {'Q"1', "=SUM(A1)", "Zoë 🚀 <script>", "back\\slash\ttab"} <= leads
    assert result.rejections  # `eighty` is not a number
    document = json.loads(streamed_json(agreement, result, 2))
    assert any(v["conditions"] for v in document["violations"])
    assert any(c["end_row"] is None for c in document["cycles"])
    harsh = replay_text(*CASES[0][1:])
    kinds = {c.kind for c in harsh.cycles} | {v.kind.value for v in harsh.violations}
    assert {"clock", "cadence", "stall", "criteria_unmet", "clock_breached"} <= kinds


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "harsh.events.csv"
    path.write_text(CASES[0][2], encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
def test_replay_output_is_the_same_in_one_process_or_two(
    fmt: str, log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_today", lambda: TODAY)
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 7)  # many chunks, shared by both processes
    outputs = []
    for jobs in ("1", "2"):
        monkeypatch.setenv("SLASPEC_JOBS", jobs)
        out = tmp_path / f"report.{jobs}.{fmt}"
        code = cli.main(["replay", str(BASE), str(log_file), "--format", fmt, "-o", str(out)])
        assert code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    if fmt == "json":
        agreement = CASES[0][1]
        result = replay_text(agreement, log_file.read_text(encoding="utf-8"))
        inputs = [
            InputFile(
                path=str(BASE),
                sha256=hashlib.sha256(BASE.read_text(encoding="utf-8").encode()).hexdigest(),
                kind="agreement",
            ),
            InputFile(
                path=str(log_file),
                sha256=hashlib.sha256(log_file.read_bytes()).hexdigest(),
                kind="log",
            ),
        ]
        report = build_report(
            agreement, result, inputs, __version__, business_calendar.holidays_version()
        )
        # The command adds the analysis, closed loop by source (the agreement declares it).
        analysis = analysis_out(analyse(agreement, result, ("source",), None))
        report = report.model_copy(update={"analysis": analysis})
        # Origins name the file as the command was given it.
        expected = render_json(report).replace('"log.csv"', json.dumps(str(log_file)))
        assert outputs[0].decode("utf-8") == expected


def test_a_failed_child_leaves_its_chunks_to_the_parent(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_today", lambda: TODAY)
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 5)
    monkeypatch.setenv("SLASPEC_JOBS", "1")
    alone = tmp_path / "alone.json"
    assert cli.main(["replay", str(BASE), str(log_file), "--format", "json", "-o", str(alone)]) == 0
    parent = os.getpid()
    replay_lead = Engine.replay_lead

    def failing_in_the_child(self: Engine, *args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent:
            raise RuntimeError("the forked process fails")
        return replay_lead(self, *args, **kwargs)

    monkeypatch.setattr(Engine, "replay_lead", failing_in_the_child)
    monkeypatch.setenv("SLASPEC_JOBS", "2")
    shared = tmp_path / "shared.json"
    assert (
        cli.main(["replay", str(BASE), str(log_file), "--format", "json", "-o", str(shared)]) == 0
    )
    assert shared.read_bytes() == alone.read_bytes()


def test_a_child_that_fails_after_sending_some_chunks_leaves_the_rest_to_the_parent(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child sends each chunk as it is done: those it sent are kept, the one it failed on
    and any it claimed after are replayed by the parent."""
    monkeypatch.setattr(cli, "_today", lambda: TODAY)
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 2)
    parent = os.getpid()
    replay_lead = Engine.replay_lead
    replayed_here: set[str] = set()
    sent = 0

    def failing_later_in_the_child(self: Engine, lead: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal sent
        if os.getpid() != parent:
            sent += 1
            if sent > 5:  # two chunks and a lead of a third are replayed first
                raise RuntimeError("the forked process fails")
        else:
            replayed_here.add(lead)
        return replay_lead(self, lead, *args, **kwargs)

    monkeypatch.setattr(Engine, "replay_lead", failing_later_in_the_child)
    monkeypatch.setenv("SLASPEC_JOBS", "1")
    alone = tmp_path / "alone.json"
    assert cli.main(["replay", str(BASE), str(log_file), "--format", "json", "-o", str(alone)]) == 0
    every = len(replayed_here)
    replayed_here.clear()
    monkeypatch.setenv("SLASPEC_JOBS", "2")
    shared = tmp_path / "shared.json"
    assert (
        cli.main(["replay", str(BASE), str(log_file), "--format", "json", "-o", str(shared)]) == 0
    )
    assert shared.read_bytes() == alone.read_bytes()
    # The parent did not replay every lead: what the child sent before failing was kept.
    assert 0 < len(replayed_here) < every


def test_when_no_process_can_be_forked_the_parent_replays_everything(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_today", lambda: TODAY)
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 5)
    monkeypatch.setenv("SLASPEC_JOBS", "1")
    alone = tmp_path / "alone.csv"
    assert cli.main(["replay", str(BASE), str(log_file), "--format", "csv", "-o", str(alone)]) == 0

    def no_fork(self: Any) -> None:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", no_fork)
    monkeypatch.setenv("SLASPEC_JOBS", "2")
    shared = tmp_path / "shared.csv"
    assert cli.main(["replay", str(BASE), str(log_file), "--format", "csv", "-o", str(shared)]) == 0
    assert shared.read_bytes() == alone.read_bytes()


def test_chunks_are_joined_in_chunk_order_whatever_order_they_come_in() -> None:
    from slaspec.results import Tally

    joiner = cli._Joiner()
    for index in (2, 0, 3):
        joiner.add(index, cli._Rendered(Tally(), cycles=[f"cycle {index}"], csv=[f"row {index}"]))
    # 0 is joined as it comes; 2 and 3 wait for 1.
    assert joiner.joined.cycles == ["cycle 0"]
    assert [index in joiner for index in range(5)] == [True, False, True, True, False]
    with pytest.raises(ValueError, match="chunk 1 is missing"):
        joiner.result()
    joiner.add(1, cli._Rendered(Tally(), cycles=["cycle 1"], csv=["row 1"]))
    joined = joiner.result()
    assert joined.cycles == [f"cycle {index}" for index in range(4)]
    assert joined.csv == [f"row {index}" for index in range(4)]


def test_the_forked_process_is_waited_for_once_the_report_is_written(
    log_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child has sent everything when its last chunk arrives; it then frees its memory and
    ends, and the parent waits for that only after its own work."""
    monkeypatch.setattr(cli, "_today", lambda: TODAY)
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 5)
    monkeypatch.setenv("SLASPEC_JOBS", "2")
    out = tmp_path / "report.csv"
    written_when_joined: list[bool] = []
    join = multiprocessing.process.BaseProcess.join

    def joined(self: Any, timeout: float | None = None) -> None:
        written_when_joined.append(out.exists() and out.stat().st_size > 0)
        join(self, timeout)

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "join", joined)
    assert cli.main(["replay", str(BASE), str(log_file), "--format", "csv", "-o", str(out)]) == 0
    assert written_when_joined == [True]


def test_jobs_follow_the_size_of_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLASPEC_JOBS", raising=False)
    assert cli._jobs(10) == 1
    many = cli._jobs(cli.PARALLEL_MIN_ROWS)
    assert many in (1, 2)
    monkeypatch.setenv("SLASPEC_JOBS", "1")
    assert cli._jobs(10**9) == 1
