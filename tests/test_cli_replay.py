"""The replay-side commands in-process: replay, explain, schema, generate; exit codes."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from conftest import DATA, ROOT, golden
from slaspec import cli
from slaspec.report import SCHEMA_VERSION, Report

SOLO = "agreements/solo-consultant.sla"
HARBOUR = "agreements/harbour-b2b.sla"
SOLO_LOG = "examples/solo-consultant.events.csv"
GOLDEN = DATA / "cli_replay"


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_COLOR", "1")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_replay_text_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "replay", SOLO, SOLO_LOG)
    assert (code, err) == (0, "")
    golden(GOLDEN / "solo.replay.txt", out.replace(cli.__version__, "VERSION"))


def test_replay_csv_lists_every_violation(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "replay", SOLO, SOLO_LOG, "--format", "csv")
    assert code == 0
    golden(GOLDEN / "solo.violations.csv", out)
    _, text, _ = run(capsys, "replay", SOLO, SOLO_LOG, "--format", "json")
    report = json.loads(text)
    assert len(out.splitlines()) == 1 + len(report["violations"])


def test_replay_json_follows_the_schema_and_records_provenance(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "replay", SOLO, SOLO_LOG, "--format", "json")
    assert code == 0
    report = Report.model_validate_json(out)
    assert report.schema_version == SCHEMA_VERSION
    assert report.slaspec_version == cli.__version__
    assert report.holidays_version
    kinds = {item.path: item.kind for item in report.inputs}
    assert kinds == {SOLO: "agreement", SOLO_LOG: "log"}
    import hashlib

    digest = hashlib.sha256((ROOT / SOLO_LOG).read_bytes()).hexdigest()
    assert any(item.sha256 == digest for item in report.inputs)
    a = report.accounting
    assert a.read == a.replayed + a.rejected + a.duplicate + a.after_as_of
    assert report.cycles and report.violations


def test_replay_output_is_byte_identical_across_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outputs = []
    for attempt in range(2):
        target = tmp_path / f"run{attempt}.json"
        assert run(capsys, "replay", SOLO, SOLO_LOG, "--format", "json", "-o", str(target))[0] == 0
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]


def test_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "replay", SOLO, SOLO_LOG, "--fail-on", "violation")[0] == 1
    assert run(capsys, "replay", SOLO, SOLO_LOG, "--fail-on", "breach")[0] == 1


def test_fail_on_is_quiet_for_a_clean_log(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = tmp_path / "clean.csv"
    log.write_text(
        "lead_id,timestamp,type,value,actor\nK1,2026-03-02T09:00:00+13:00,stage,inquiry,\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "replay", SOLO, str(log), "--fail-on", "violation")
    assert code == 0, out


def _bad_log(tmp_path: Path) -> Path:
    log = tmp_path / "bad.csv"
    log.write_text(
        "lead_id,timestamp,type,value\n"
        "K1,2026-03-02T09:00:00+13:00,stage,inquiry\n"
        "K2,yesterday,stage,inquiry\n",
        encoding="utf-8",
    )
    return log


def test_rejected_rows_are_reported_and_the_rest_replays(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, "replay", SOLO, str(_bad_log(tmp_path)))
    assert code == 0
    assert "Rows: 2 read = 1 replayed + 1 rejected + 0 duplicate + 0 after as-of" in out
    assert "bad.csv:3: SLA903" in out


def test_strict_stops_at_a_rejected_row(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "replay", SOLO, str(_bad_log(tmp_path)), "--strict")
    assert (code, out) == (2, "")
    assert "SLA903" in err
    assert "Traceback" not in err


def test_missing_log_is_reported_and_the_others_replay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, "replay", SOLO, str(tmp_path / "nope.csv"), SOLO_LOG)
    assert code == 0
    assert "SLA901" in err and "nope.csv" in err
    assert "Rows:" in out


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_no_readable_log_cannot_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "nope.csv" if kind == "missing" else tmp_path
    code, out, err = run(capsys, "replay", SOLO, str(path))
    assert (code, out) == (2, "")
    assert "SLA901" in err and "Traceback" not in err


def test_strict_stops_at_a_missing_log(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "replay", SOLO, str(tmp_path / "nope.csv"), SOLO_LOG, "--strict")
    assert code == 2
    assert "SLA901" in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--as-of", "2026-03-02 09:00"], "has no UTC offset"),
        (["--as-of", "soon"], "is not an ISO 8601 instant"),
        (["--as-of", "2200-01-01T00:00:00Z"], "outside the years 1900-2199"),
        (["--as-of", "1899-12-31T23:59:59Z"], "outside the years 1900-2199"),
        (["--as-of", "0001-01-01T00:00:00+05:00"], "outside the years 1900-2199"),  # < year 1 UTC
        (["--log-timezone", "Australia/Sidney"], "Australia/Sydney"),
    ],
)
def test_bad_flags_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    code, out, err = run(capsys, "replay", SOLO, SOLO_LOG, *flags)
    assert (code, out) == (2, "")
    assert message in err and "Traceback" not in err


def test_instants_outside_the_years_covered_are_rejected_rows(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # A year typo in a timestamp or a datetime cell: the row is reported, not a traceback, and
    # the as-of (the latest kept instant) stays within the years calendars cover.
    log = tmp_path / "typos.csv"
    log.write_text(
        "lead_id,timestamp,type,value,last_engaged\n"
        "L1,2026-03-03T09:00:00+11:00,stage,inquiry,9999-12-31T23:59:59-05:00\n"
        "L2,9999-12-31T23:59:59-05:00,stage,inquiry,\n"
        "L3,1850-01-01T09:00:00+11:00,stage,inquiry,\n"
        "L4,2026-03-03T10:00:00+11:00,stage,inquiry,1026-03-03T10:00:00+11:00\n"
        "L5,2026-03-03T11:00:00+11:00,stage,inquiry,2026-03-03T10:00:00+11:00\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "replay", HARBOUR, str(log), "--format", "json")
    assert code == 0 and "Traceback" not in err
    report = json.loads(out)
    found = [(r["code"], r["row"]) for r in report["rejections"]]
    assert found == [("SLA911", 2), ("SLA903", 3), ("SLA903", 4), ("SLA911", 5)]
    assert report["accounting"]["replayed"] == 1


def test_agreement_with_errors_cannot_replay(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.sla"
    broken.write_text((ROOT / SOLO).read_text().replace("owner ", "owner nobody_", 1))
    code, out, err = run(capsys, "replay", str(broken), SOLO_LOG)
    assert (code, out) == (2, "")
    assert "SLA101" in err


def test_as_of_moves_rows_after_it_out_of_the_replay(capsys: pytest.CaptureFixture[str]) -> None:
    _, whole, _ = run(capsys, "replay", SOLO, SOLO_LOG, "--format", "json")
    _, early, _ = run(
        capsys, "replay", SOLO, SOLO_LOG, "--format", "json", "--as-of", "2026-04-01T00:00:00Z"
    )
    a, b = json.loads(whole)["accounting"], json.loads(early)["accounting"]
    assert a["after_as_of"] == 0 < b["after_as_of"]
    assert a["read"] == b["read"]
    assert json.loads(early)["as_of"] == "2026-04-01T00:00:00Z"


def _lead_with_a_violation(capsys: pytest.CaptureFixture[str]) -> str:
    _, text, _ = run(capsys, "replay", SOLO, SOLO_LOG, "--format", "json")
    violations = json.loads(text)["violations"]
    return str(sorted(v["lead"] for v in violations if v["kind"] == "clock_breached")[0])


def test_explain_tells_a_leads_story(capsys: pytest.CaptureFixture[str]) -> None:
    lead = _lead_with_a_violation(capsys)
    code, out, err = run(capsys, "explain", SOLO, SOLO_LOG, "--lead", lead)
    assert (code, err) == (0, "")
    assert f"Lead {lead}" in out and "clock_breached" in out and "accountable:" in out
    golden(GOLDEN / "solo.explain.txt", out)


def test_explain_unknown_lead(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain", SOLO, SOLO_LOG, "--lead", "NOBODY")
    assert (code, out) == (2, "")
    assert "NOBODY" in err


def test_schema_report_is_the_models_schema(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema", "report")
    assert code == 0
    schema = json.loads(out)
    assert schema == json.loads(json.dumps(Report.model_json_schema(), sort_keys=True))
    assert schema["title"] == "Report"
    assert "schema_version" in schema["properties"]


def test_generate_is_seeded(capsys: pytest.CaptureFixture[str]) -> None:
    args = ("generate", SOLO, "--leads", "20", "--seed", "5", "--start", "2026-03-02")
    first = run(capsys, *args)
    second = run(capsys, *args)
    assert first == second
    assert first[1].startswith("lead_id,timestamp,type,value")
    other = run(capsys, *args[:-3], "--seed", "6", "--start", "2026-03-02")
    assert other[1] != first[1]


def test_generate_bad_start(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "generate", SOLO, "--start", "March")
    assert (code, out) == (2, "")
    assert "YYYY-MM-DD" in err


def test_the_readme_main_job_runs(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = next(
        line for line in readme.splitlines() if "slaspec replay" in line and "pip" in line
    )
    argv = command.split(".venv/bin/slaspec ", 1)[1].split()
    code, out, _ = run(capsys, *argv)
    assert code == 0
    assert "Rows:" in out and "Violations:" in out


@pytest.mark.parametrize("name", ["harbour-b2b", "saas-waterfall", "solo-consultant"])
def test_every_example_agreement_replays_its_sample_log(
    capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, out, _ = run(
        capsys,
        "replay",
        f"agreements/{name}.sla",
        f"examples/{name}.events.csv",
        "--format",
        "json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["accounting"]["rejected"] == 0
    assert all(rule["overall"]["met"] and rule["overall"]["breached"] for rule in report["rules"])


def test_the_engine_and_the_analysis_share_each_business_calendar(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Made once for both: a calendar's tables take 0.02-0.05 s to build for this year's instants.
    seen: dict[str, Any] = {}
    replay_all = cli._replay_all

    def spy(engine: Any, prepared: Any, needs: Any, *rest: Any, **options: Any) -> Any:
        seen["engine"], seen["analyser"] = engine, needs.analysis
        return replay_all(engine, prepared, needs, *rest, **options)

    monkeypatch.setattr(cli, "_replay_all", spy)
    code, _, _ = run(capsys, "replay", HARBOUR, "examples/harbour-b2b.events.csv")
    assert code == 0
    calendar = seen["engine"].calendars["sydney"]
    # The analyser's business clock for the target's window is that calendar's.
    assert seen["analyser"]._clock("sydney").__self__ is calendar


def test_a_process_that_exits_after_the_replay_keeps_results_up_to_a_bound(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Freeing each chunk's results one object at a time cost more than the pages they hold:
    # `entry`'s process (and the forked one) keeps them to the exit, up to KEPT_ROWS rows.
    monkeypatch.setenv("SLASPEC_JOBS", "1")  # every chunk replayed in this process
    monkeypatch.setattr(cli, "KEPT_ROWS", 5000)
    outputs = []
    for exit_follows in (False, True):
        monkeypatch.setattr(cli, "_exit_follows", exit_follows)
        monkeypatch.setattr(cli, "_kept", [])
        monkeypatch.setattr(cli, "_kept_rows", 0)
        try:
            code, out, _ = run(capsys, "replay", HARBOUR, "examples/harbour-b2b.events.csv")
        finally:
            gc.enable()  # left paused when the process exits after the replay
        assert code == 0
        outputs.append(out)
        kept = [result for chunk in cli._kept for result in chunk]
        if not exit_follows:
            assert kept == []  # an in-process caller frees them as it goes
            continue
        # The first chunk (2,000 leads, over 5,000 rows) is kept; then none more.
        assert len(cli._kept) == 1 and len(kept) == cli._CHUNK_LEADS
        assert cli._kept_rows == sum(result.events for result in kept) >= 5000
        assert [result.lead for result in kept] == sorted(result.lead for result in kept)
    assert outputs[0] == outputs[1]
