"""`slaspec replay NEWEST.sla --history OLDER.sla LOG` in-process: the report says which version
of the agreement judged each cycle and violation (docs/versions.md), in text, JSON, CSV and HTML.

The example pair in tests/data/versions/: 2026-01.sla (version 2026.1, effective 2026-01-01) and
2026-03.sla (version 2026.3, effective 2026-03-04, in force from 2026-03-04T00:00+11:00 in
Sydney, which is 2026-03-03T13:00Z). The log is generated from the January version over
February and March, so it crosses the switch and still uses the `nurture` stage March dropped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from conftest import DATA, ROOT
from slaspec import cli
from slaspec.diagnostics import RULES, Severity
from slaspec.html_report import full_list_command
from slaspec.readers import ReadOptions, read_log
from slaspec.render import csv_chunk, csv_header, render_csv, render_json, render_text
from slaspec.report import SCHEMA_VERSION, Report, build_report, with_versions
from slaspec.versions import VersionedEngine

FOLDER = DATA / "versions"
JANUARY = str((FOLDER / "2026-01.sla").relative_to(ROOT))
MARCH = str((FOLDER / "2026-03.sla").relative_to(ROOT))
SWITCH = dt.datetime(2026, 3, 3, 13, tzinfo=dt.UTC)
# Kinds judged by the version in force when their cycle or stay began; the others at `at`.
_BEGUN = {"clock_breached", "cadence_breached", "stall"}


@pytest.fixture(autouse=True)
def _in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("SLASPEC_JOBS", "1")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("versions") / "leads.csv"
    argv = [JANUARY, "--leads", "80", "--start", "2026-02-01", "--days", "60", "-o", str(path)]
    assert cli.main(["generate", *argv]) == 0
    return str(path)


def replay(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = run(capsys, "replay", MARCH, "--history", JANUARY, *argv)
    assert (code, err) == (0, ""), err
    return out


def instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def in_force(report: Report, at: str) -> str:
    """The label of the version in force at an instant, from the report's own list."""
    versions = report.agreement.versions
    assert versions
    label = versions[0].label  # the oldest also judges everything before its date
    for version in versions[1:]:
        assert version.starts is not None
        if instant(version.starts) <= instant(at):
            label = version.label
    return label


# ---------------------------------------------------------------- JSON


def test_json_lists_the_versions_and_labels_every_cycle_and_violation(
    capsys: pytest.CaptureFixture[str], log: str
) -> None:
    out = replay(capsys, log, "--format", "json")
    report = Report.model_validate_json(out)
    assert report.schema_version == SCHEMA_VERSION == "1.2"
    versions = report.agreement.versions
    assert versions is not None
    assert [(v.label, v.version, v.effective, v.starts, v.files) for v in versions] == [
        ("2026.1", "2026.1", "2026-01-01", "2025-12-31T13:00:00Z", [JANUARY]),
        ("2026.3", "2026.3", "2026-03-04", "2026-03-03T13:00:00Z", [MARCH]),
    ]
    assert {v.timezone for v in versions} == {"Australia/Sydney"}
    # The agreement section itself describes the newest version, as without versions.
    assert (report.agreement.version, report.agreement.files) == ("2026.3", [MARCH])
    assert report.cycles and report.violations
    for cycle in report.cycles:
        assert cycle.agreement_version == in_force(report, cycle.started), cycle
    for violation in report.violations:
        began = violation.started if violation.kind in _BEGUN else violation.at
        assert began is not None
        assert violation.agreement_version == in_force(report, began), violation
    judged = {c.agreement_version for c in report.cycles}
    assert judged == {"2026.1", "2026.3"}, "the log crosses the switch"
    # Cycles that started before the switch keep the January goal to their end.
    early = [c for c in report.cycles if c.rule == "first_touch" and instant(c.started) < SWITCH]
    assert early and {c.goal for c in early} <= {"4 business hours", "1 business hour"}
    late = [c for c in report.cycles if c.rule == "first_touch" and instant(c.started) >= SWITCH]
    assert late and {c.goal for c in late} <= {"2 business hours", "1 business hour"}
    assert all(instant(c.started) >= SWITCH for c in report.cycles if c.rule == "sql_pickup")


def test_rules_are_split_by_the_version_that_judged_them(
    capsys: pytest.CaptureFixture[str], log: str
) -> None:
    report = Report.model_validate_json(replay(capsys, log, "--format", "json"))
    for rule in report.rules:
        assert rule.by_version is not None
        counted = {
            label: sum(
                1 for c in report.cycles if c.rule == rule.name and c.agreement_version == label
            )
            for label in ("2026.1", "2026.3")
        }
        split = {row.version: row for row in rule.by_version}
        total = {v: r.met + r.breached + r.pending + r.cancelled for v, r in split.items()}
        assert total == {v: n for v, n in counted.items() if v in split}
        assert sum(total.values()) == sum(counted.values())
        for field in ("met", "breached", "pending", "cancelled", "at_risk"):
            assert sum(getattr(r, field) for r in split.values()) == getattr(rule.overall, field)
    by_name = {rule.name: [row.version for row in rule.by_version or ()] for rule in report.rules}
    # sql_pickup is a March rule: January never declared it, so it is not listed for January.
    assert by_name == {
        "first_touch": ["2026.1", "2026.3"],
        "sql_pickup": ["2026.3"],
        "sal_calls": ["2026.1", "2026.3"],
    }


def test_streamed_json_is_the_pydantic_rendering(
    capsys: pytest.CaptureFixture[str], log: str
) -> None:
    out = replay(capsys, log, "--format", "json")
    report = Report.model_validate_json(out)
    assert render_json(report) == out
    document = json.loads(out)
    assert all("agreement_version" in item for item in document["cycles"])
    assert all("agreement_version" in item for item in document["violations"])
    assert all("by_version" in rule for rule in document["rules"])


def test_one_agreement_writes_no_version_keys(capsys: pytest.CaptureFixture[str], log: str) -> None:
    code, out, _ = run(capsys, "replay", MARCH, log, "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert "versions" not in document["agreement"]
    assert not any("by_version" in rule for rule in document["rules"])
    assert not any("agreement_version" in item for item in document["cycles"])
    assert not any("agreement_version" in item for item in document["violations"])
    report = Report.model_validate_json(out)
    assert report.agreement.versions is None
    assert render_json(report) == out
    _, text, _ = run(capsys, "replay", MARCH, log)
    assert "judged under" not in text and "by the agreement version" not in text


def test_every_version_file_is_an_input_with_its_digest(
    capsys: pytest.CaptureFixture[str], log: str
) -> None:
    report = Report.model_validate_json(replay(capsys, log, "--format", "json"))
    inputs = {(item.path, item.kind, item.sha256) for item in report.inputs}
    for path in (MARCH, JANUARY):
        digest = hashlib.sha256((ROOT / path).read_bytes()).hexdigest()
        assert (path, "agreement", digest) in inputs
    assert [item.kind for item in report.inputs] == ["agreement", "agreement", "log"]


def test_a_history_folder_gives_the_same_report(
    capsys: pytest.CaptureFixture[str], log: str, tmp_path: Path
) -> None:
    folder = tmp_path / "history"
    folder.mkdir()
    (folder / "2026-01.sla").write_bytes((FOLDER / "2026-01.sla").read_bytes())
    code, out, err = run(capsys, "replay", MARCH, "--history", str(folder), log, "--format", "json")
    assert (code, err) == (0, "")
    by_folder = Report.model_validate_json(out)
    by_file = Report.model_validate_json(replay(capsys, log, "--format", "json"))
    assert by_folder.cycles == by_file.cycles
    # Clauses cite the file the version was read from.
    assert [v.model_copy(update={"clause": Path(v.clause).name}) for v in by_folder.violations] == [
        v.model_copy(update={"clause": Path(v.clause).name}) for v in by_file.violations
    ]
    versions = by_folder.agreement.versions
    assert versions is not None
    assert versions[0].files == [str(folder / "2026-01.sla")]


# ---------------------------------------------------------------- text and HTML


def test_text_names_the_versions_in_force(capsys: pytest.CaptureFixture[str], log: str) -> None:
    out = replay(capsys, log)
    lines = out.splitlines()
    assert lines[0] == "Replay test agreement (version 2026.3)"
    assert lines[1] == "judged under 2 versions: 2026.1 from 2026-01-01, 2026.3 from 2026-03-04"
    assert lines[2].startswith("as of ")
    section = out.split("Clocks and cadences by the agreement version that judged each cycle\n")
    assert len(section) == 2
    table = section[1].split("\n\n")[0].splitlines()
    assert re.match(r"\s+rule\s+version\s+met\s+breached", table[0])
    assert any(re.match(r"\s+sql_pickup \(clock\)\s+2026\.3\s", row) for row in table)
    assert f"agreement {JANUARY}" in out and f"agreement {MARCH}" in out


def test_html_lists_the_versions_and_which_judged_each_violation(
    capsys: pytest.CaptureFixture[str], log: str, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    replay(capsys, log, "--format", "html", "-o", str(page))
    html = page.read_text(encoding="utf-8")
    header = re.search(r'<p class="sub" id="versions-in-force">(.*?)</p>', html)
    assert header is not None
    assert "<strong>2026.1</strong> from 2026-01-01, <strong>2026.3</strong> from 2026-03-04" in (
        header.group(1)
    )
    assert '<table id="versions">' in html and '<table id="rules-by-version">' in html
    assert "2026-03-03T13:00:00Z" in html  # when March came into force, in the provenance
    table = html.split('<table id="violations-table"', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    assert heads[:4] == ["Lead", "Kind", "Rule", "Version"]
    cells = re.findall(r'<td class="version">([^<]*)</td>', table)
    assert cells and set(cells) == {"2026.1", "2026.3"}


def test_the_full_list_command_replays_with_the_same_history(
    capsys: pytest.CaptureFixture[str], log: str
) -> None:
    report = Report.model_validate_json(replay(capsys, log, "--format", "json"))
    assert full_list_command(report) == (
        f"slaspec replay {MARCH} --history {JANUARY} {log} --report csv=violations.csv"
    )


def test_html_of_one_agreement_has_no_version_column(
    capsys: pytest.CaptureFixture[str], log: str, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    code, _, _ = run(capsys, "replay", MARCH, log, "--format", "html", "-o", str(page))
    assert code == 0
    html = page.read_text(encoding="utf-8")
    assert "versions-in-force" not in html and '<table id="versions">' not in html
    assert ">Version</th>" not in html and "--history" not in html


def test_a_stage_a_version_does_not_declare_is_named(
    capsys: pytest.CaptureFixture[str], log: str
) -> None:
    report = Report.model_validate_json(replay(capsys, log, "--format", "json"))
    strangers = [v for v in report.violations if "not a stage of version" in v.message]
    assert strangers, "the log uses nurture after March dropped it"
    assert {v.agreement_version for v in strangers} == {"2026.3"}
    assert all(v.message.endswith("nurture is not a stage of version 2026.3") for v in strangers)


# ---------------------------------------------------------------- CSV


def _versioned(log: str) -> tuple[Report, list[str]]:
    """The report of the pair replayed in Python, and the CSV chunks of its leads."""
    january, march = cli._load_agreement(JANUARY), cli._load_agreement(MARCH)
    assert january.agreement is not None and march.agreement is not None
    engine = VersionedEngine([march.agreement, january.agreement])
    text = Path(log).read_text(encoding="utf-8")
    prepared = engine.prepare(read_log(text, log, "csv", ReadOptions()))
    results = [
        engine.replay_lead(lead, rows, prepared.as_of) for lead, rows in prepared.leads.items()
    ]
    from slaspec.results import ReplayResult

    result = ReplayResult(prepared.as_of, prepared.accounting, tuple(results), ())
    report = with_versions(build_report(engine.reading, result, [], "0", "0"), engine.versions)
    chunks = [csv_chunk(results[i : i + 7], versions=True) for i in range(0, len(results), 7)]
    return report, chunks


def test_csv_has_a_version_column_only_when_versions_judged(log: str) -> None:
    report, chunks = _versioned(log)
    csv = render_csv(report)
    assert csv_header(versions=True) + "".join(chunks) == csv
    header, *rows = csv.splitlines()
    assert header.split(",")[-1] == "agreement_version"
    assert [row.rsplit(",", 1)[1] for row in rows] == [
        v.agreement_version for v in report.violations
    ]
    alone = report.model_copy(
        update={
            "agreement": report.agreement.model_copy(update={"versions": None}),
            "violations": [
                v.model_copy(update={"agreement_version": None}) for v in report.violations
            ],
        }
    )
    assert csv_header() + "".join(
        line.rsplit(",", 1)[0] + "\n" for line in "".join(chunks).splitlines()
    ) == render_csv(alone)
    assert "agreement_version" not in csv_header()


def test_the_python_report_matches_the_command(
    capsys: pytest.CaptureFixture[str], log: str
) -> None:
    report, _ = _versioned(log)
    command = Report.model_validate_json(replay(capsys, log, "--format", "json"))
    assert report.cycles == command.cycles
    assert report.violations == command.violations
    assert report.rules == command.rules
    assert report.agreement == command.agreement
    assert render_text(report).splitlines()[1] == render_text(command).splitlines()[1]


# ---------------------------------------------------------------- one process or two


@pytest.mark.parametrize("fmt", ["json", "text", "csv", "html"])
def test_the_same_in_one_process_or_two(
    capsys: pytest.CaptureFixture[str],
    log: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    monkeypatch.setattr(cli, "_CHUNK_LEADS", 5)  # many chunks, shared by both processes
    outputs = []
    for jobs in ("1", "2"):
        monkeypatch.setenv("SLASPEC_JOBS", jobs)
        path = tmp_path / f"report.{jobs}.{fmt}"
        replay(capsys, log, "--format", fmt, "-o", str(path))
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]
    if fmt == "json":
        report = Report.model_validate_json(outputs[0])
        assert {c.agreement_version for c in report.cycles} == {"2026.1", "2026.3"}


# ---------------------------------------------------------------- a rule a newer version dropped


def test_a_rule_only_an_older_version_has_is_reported(
    capsys: pytest.CaptureFixture[str], log: str, tmp_path: Path
) -> None:
    january = (FOLDER / "2026-01.sla").read_text(encoding="utf-8")
    dropped = (
        '\nclock mql_email "Marketing emails a new MQL":\n'
        "    starts when lead enters mql\n"
        "    stops when activity email\n"
        "    goal 1 business day\n"
        "    responsible marketing\n"
    )
    older = tmp_path / "2026-01.sla"
    older.write_text(january + dropped, encoding="utf-8")
    for fmt in ("text", "html"):
        code, _, err = run(
            capsys, "replay", MARCH, "--history", str(older), log, "--format", fmt,
            "-o", str(tmp_path / f"report.{fmt}"),
        )  # fmt: skip
        assert (code, err) == (0, "")
    code, out, _ = run(capsys, "replay", MARCH, "--history", str(older), log, "--format", "json")
    assert code == 0
    report = Report.model_validate_json(out)
    cycles = [c for c in report.cycles if c.rule == "mql_email"]
    assert cycles and all(instant(c.started) < SWITCH for c in cycles)
    assert {c.agreement_version for c in cycles} == {"2026.1"}
    (rule,) = [r for r in report.rules if r.name == "mql_email"]
    outcomes = rule.overall
    assert outcomes.met + outcomes.breached + outcomes.pending + outcomes.cancelled == len(cycles)
    assert [row.version for row in rule.by_version or ()] == ["2026.1"]
    assert report.analysis is not None
    assert "mql_email" in [r.rule for r in report.analysis.accountability.rules]


# ---------------------------------------------------------------- files that are not versions


def _edited(tmp_path: Path, edits: Sequence[tuple[str, str]]) -> tuple[str, str]:
    text = (FOLDER / "2026-01.sla").read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "2026-01.sla"
    path.write_text(text, encoding="utf-8")
    return str(path), text


@pytest.mark.parametrize(
    ("code", "edits", "where"),
    [
        ("SLA960", [('"Replay test agreement"', '"Another agreement"')], "history:2:11"),
        ("SLA961", [("effective 2026-01-01", "effective 2026-03-04")], "history:4:5"),
        ("SLA962", [('version "2026.1"', 'version "2026.3"')], "history:3:13"),
        ("SLA966", [("    email: string", "    email: number")], f"{MARCH}:13:12"),
        (
            "SLA967",
            [("cadence sal_calls", "cadence sql_pickup")],
            f"{MARCH}:77:1",
        ),
    ],
)
def test_files_that_are_not_versions_exit_2_with_the_code_where_it_is(
    capsys: pytest.CaptureFixture[str],
    log: str,
    tmp_path: Path,
    code: str,
    edits: Sequence[tuple[str, str]],
    where: str,
) -> None:
    history, _ = _edited(tmp_path, edits)
    status, out, err = run(capsys, "replay", MARCH, "--history", history, log)
    assert (status, out) == (2, "")
    place = where.replace("history", history)
    assert f"{place}: error[{code}] " in err, err
    assert "= help: " in err
    assert "not versions of one agreement" in err
    assert "Traceback" not in err


def test_every_problem_kind_has_a_registered_error_code() -> None:
    assert set(cli.VERSION_CODES.values()) == {f"SLA96{n}" for n in range(8)}
    for code in cli.VERSION_CODES.values():
        assert RULES[code].severity is Severity.ERROR
    assert {RULES[code].name for code in cli.VERSION_CODES.values()} == set(cli.VERSION_CODES)


def test_csv_from_the_command_has_the_version_column(
    capsys: pytest.CaptureFixture[str], log: str, tmp_path: Path
) -> None:
    csv, js = tmp_path / "v.csv", tmp_path / "v.json"
    replay(capsys, log, "--format", "csv", "-o", str(csv), "--report", f"json={js}")
    text = csv.read_text("utf-8")
    assert text.splitlines()[0].endswith(",agreement_version")
    assert text == render_csv(Report.model_validate_json(js.read_text("utf-8")))


def test_markdown_names_the_versions(capsys: pytest.CaptureFixture[str], log: str) -> None:
    text = replay(capsys, log, "--format", "markdown")
    assert re.search(
        r"Each cycle is judged by the agreement version in force when it started: "
        r"`2026\.1` from 2026-01-\d\d, `2026\.3` from 2026-03-\d\d\.",
        text,
    ), text[:600]
