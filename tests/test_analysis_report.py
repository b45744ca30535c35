"""The analysis in the reports: text (colour on and off), Markdown, JUnit and JSON.

Goldens are the harbour-b2b example (agreements/harbour-b2b.sla replayed against
examples/harbour-b2b.events.csv, closed loop by `source`, revenue `amount`) under
tests/data/reports/; SLASPEC_UPDATE_GOLDEN=1 rewrites them. Small logs against
tests/data/replay/base.sla cover the tricky cases: an empty log, no targets, partial periods,
immature cohorts, and CRM values with `|`, `<`, `&` and line breaks.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, check_text, golden
from slaspec import readers
from slaspec.analysis import analyse
from slaspec.analysis_report import (
    GITHUB_COMMENT_LIMIT,
    MARKDOWN_BUDGET,
    judge_rule,
    judge_target,
    md,
    render_junit,
    render_markdown,
)
from slaspec.compiler import Agreement
from slaspec.render import json_chunks, json_items, printable, render_json, render_text
from slaspec.replay import replay
from slaspec.report import (
    SCHEMA_VERSION,
    AnalysisOut,
    InputFile,
    Report,
    analysis_out,
    build_report,
    summary_report,
    tally,
)
from slaspec.results import ReplayResult

REPORTS = DATA / "reports"
HARBOUR = "agreements/harbour-b2b.sla"
HARBOUR_LOG = "examples/harbour-b2b.events.csv"
BASE = (DATA / "replay" / "base.sla").read_text(encoding="utf-8")
HEADER = "lead_id,timestamp,type,value,actor,team,score,email,source\n"


def compiled(text: str, name: str = "base.sla") -> Agreement:
    checked = check_text(text, name)
    assert checked.agreement is not None, checked.diagnostics
    return checked.agreement


def inputs(*paths: str) -> list[InputFile]:
    kinds = ("agreement", "log")
    return [
        InputFile(path=p, sha256=hashlib.sha256((ROOT / p).read_bytes()).hexdigest(), kind=k)
        for p, k in zip(paths, kinds, strict=True)
    ]


def with_analysis(
    agreement: Agreement,
    result: ReplayResult,
    group_by: tuple[str, ...],
    money: str | None,
    files: list[InputFile],
    lists: bool = False,
) -> Report:
    report = build_report(agreement, result, files, "VERSION", "HOLIDAYS", 0, lists, lists)
    analysis = analyse(agreement, result, group_by, money)
    return report.model_copy(update={"analysis": analysis_out(analysis)})


@cache
def harbour() -> tuple[Agreement, ReplayResult, Report]:
    agreement = compiled((ROOT / HARBOUR).read_text(encoding="utf-8"), HARBOUR)
    text = (ROOT / HARBOUR_LOG).read_text(encoding="utf-8")
    result = replay(
        agreement, list(readers.read_log(text, HARBOUR_LOG, "csv", readers.ReadOptions()))
    )
    report = with_analysis(agreement, result, ("source",), "amount", inputs(HARBOUR, HARBOUR_LOG))
    return agreement, result, report


def replayed(log: str, as_of: str | None = None, agreement_text: str = BASE) -> Report:
    agreement = compiled(agreement_text)
    items = list(readers.read_log(HEADER + log, "log.csv", "csv", readers.ReadOptions()))
    micros = None
    if as_of is not None:
        import datetime as dt

        moment = dt.datetime.fromisoformat(as_of) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        micros = (moment.days * 86_400 + moment.seconds) * 1_000_000
    result = replay(agreement, items, micros)
    files = [InputFile(path="log.csv", sha256="0" * 64, kind="log")]
    return with_analysis(agreement, result, ("source", "email"), None, files, lists=True)


# ---------------------------------------------------------------- goldens


RENDERERS = {
    "harbour.txt": lambda report: render_text(report),
    "harbour.color.txt": lambda report: render_text(report, color=True),
    "harbour.md": render_markdown,
    "harbour.junit.xml": render_junit,
    "harbour.json": render_json,
}


@pytest.mark.parametrize("name", sorted(RENDERERS))
def test_harbour_goldens(name: str) -> None:
    _, _, report = harbour()
    golden(REPORTS / name, RENDERERS[name](report))


def test_colour_is_only_added_and_only_to_verdicts() -> None:
    _, _, report = harbour()
    plain, coloured = render_text(report), render_text(report, color=True)
    assert "\x1b[" not in plain
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
    painted = set(re.findall(r"\x1b\[[0-9;]+m([^\x1b]*)\x1b\[0m", coloured))
    words = {re.sub(r"[0-9,]+", "N", text) for text in painted}
    assert words <= {"N", "met", "missed", "met so far", "missed so far", "no"} | {
        w for w in words if w.startswith(("met:", "missed:"))
    }


def test_without_analysis_the_text_and_json_are_the_summary_alone() -> None:
    """The analysis adds sections; a report without it renders as before (schema 1.1 aside)."""
    _, _, report = harbour()
    bare = report.model_copy(update={"analysis": None})
    text = render_text(bare)
    assert "Targets" not in text and "Bottlenecks" not in text
    assert render_text(report).startswith(text[: text.index("Inputs")])
    document = json.loads(render_json(bare))
    assert "analysis" not in document
    assert Report.model_validate_json(render_json(bare)) == bare


def test_json_round_trips_and_streams_with_the_analysis() -> None:
    agreement, result, report = harbour()
    assert report.schema_version == SCHEMA_VERSION == "1.2"
    text = render_json(report)
    assert Report.model_validate_json(text) == report
    assert AnalysisOut.model_validate(json.loads(text)["analysis"]) == report.analysis
    # The streamed writer puts the analysis in the same place as the whole-document writer.
    full = with_analysis(agreement, result, ("source",), "amount", report.inputs, lists=True)
    summary = summary_report(
        agreement,
        tally(result.leads),
        result.as_of,
        result.accounting,
        result.rejections,
        report.inputs,
        "VERSION",
        "HOLIDAYS",
    ).model_copy(update={"analysis": full.analysis})
    half = len(result.leads) // 2
    chunks = [
        json_items((c for r in part for c in r.cycles), (v for r in part for v in r.violations))
        for part in (result.leads[:half], result.leads[half:])
    ]
    streamed = "".join(json_chunks(summary, [c for c, _ in chunks], [v for _, v in chunks]))
    assert streamed == render_json(full)
    assert Report.model_validate_json(streamed) == full


def test_schema_publishes_the_analysis() -> None:
    schema = Report.model_json_schema()
    assert "analysis" in schema["properties"]
    assert "analysis" not in schema.get("required", [])
    definitions = schema["$defs"]
    for name in ("AnalysisOut", "BottlenecksOut", "AccountabilityOut", "TargetOut", "FunnelOut"):
        assert name in definitions
    assert {"heatmap", "scorecard", "rules"} <= set(definitions["AccountabilityOut"]["properties"])


def test_markdown_is_well_formed_and_under_the_comment_limit() -> None:
    _, _, report = harbour()
    text = render_markdown(report)
    assert len(text) <= MARKDOWN_BUDGET < GITHUB_COMMENT_LIMIT
    assert_tables_well_formed(text)


def assert_tables_well_formed(text: str) -> None:
    """Every row of a table has as many unescaped cell separators as its header."""
    width = None
    for line in text.splitlines():
        if not line.startswith("|"):
            width = None
        elif width is None:
            width = cells(line)
        else:
            assert cells(line) == width, line


def cells(row: str) -> int:
    """The cell separators of a table row as GitHub splits it: a backslash escapes the next
    character."""
    return len(re.findall(r"\\.|(\|)", row)) - len(re.findall(r"\\.", row))


def test_junit_counts_and_verdicts() -> None:
    _, _, report = harbour()
    root = ET.fromstring(render_junit(report))
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["clocks and cadences", "targets"]
    clocks, targets = suites
    assert len(clocks.findall("testcase")) == len(report.rules) == 3
    assert report.analysis is not None
    assert len(targets.findall("testcase")) == len(report.analysis.targets) == 4
    assert root.get("tests") == "7"
    # first_touch has an attainment target of 90%: 84.6% is 5.4 points below it.
    first = clocks.find("testcase[@name='first_touch: First touch on a new MQL']")
    assert first is not None
    failure = first.find("failure")
    assert failure is not None
    assert "5.4 points below the goal of at least 90%" in (failure.get("message") or "")
    # mql_volume missed April with 105 leads against at least 120.
    volume = targets.find("testcase[@name='mql_volume: MQLs delivered']")
    assert volume is not None and volume.get("line") == "171"
    failure = volume.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "missed in 1 of 5 complete months: 2026-04 105 leads, 15 short of at least 120"
    )


def test_renderers_are_deterministic() -> None:
    _, _, report = harbour()
    copy = Report.model_validate_json(render_json(report))
    for render in RENDERERS.values():
        assert render(copy) == render(report)


def test_markdown_and_junit_need_the_analysis() -> None:
    _, _, report = harbour()
    bare = report.model_copy(update={"analysis": None})
    for render in (render_markdown, render_junit):
        with pytest.raises(ValueError, match="needs the analysis"):
            render(bare)


# ---------------------------------------------------------------- tricky cases


TARGETS = """
target sal_volume "SALs":
    each month at least 2 leads enter sal
    responsible sdr

target mql_to_sal "MQL to SAL":
    each month at least 50% of leads entering mql reach sal within 30 days

target touch "First touch on time":
    each month at least 90% of first_touch cycles met
"""

WEIRD = 'a|b <script>alert(1)</script> & "x"\nsecond line'
QUOTED = WEIRD.replace('"', '""')
LOGS = {
    "empty": ("", None, BASE),
    "no-targets": (
        "L1,2026-03-02T09:00:00+11:00,stage,sal,,,90,a@x.example,web\n"
        "L1,2026-03-02T09:30:00+11:00,activity,call,tom@x.example,,,,\n",
        None,
        BASE,
    ),
    # As of 15 April: March is complete, April is partial.
    "partial-periods": (
        "L1,2026-03-02T09:00:00+11:00,stage,mql,,,90,a@x.example,web\n"
        "L1,2026-03-03T09:00:00+11:00,stage,sal,,,,,\n"
        "L1,2026-03-03T15:00:00+11:00,activity,call,tom@x.example,,,,\n"
        "L2,2026-04-01T09:00:00+11:00,stage,mql,,,90,b@x.example,referral\n",
        "2026-04-15T00:00:00+10:00",
        BASE + TARGETS,
    ),
    # As of 3 March: L2's 30-day window to reach sal is still open (immature, undecided).
    "immature-cohort": (
        "L1,2026-03-02T09:00:00+11:00,stage,mql,,,90,a@x.example,web\n"
        "L1,2026-03-02T10:00:00+11:00,stage,sal,,,,,\n"
        "L2,2026-03-02T11:00:00+11:00,stage,mql,,,90,b@x.example,event\n",
        "2026-03-03T12:00:00+11:00",
        BASE + TARGETS,
    ),
    "crm-values": (
        f'"{QUOTED}",2026-03-02T09:00:00+11:00,stage,sal,,,90,"{QUOTED}",web\n'
        f'"{QUOTED}",2026-03-02T09:10:00+11:00,assign,"{QUOTED}",,,,,\n'
        "L2,2026-03-02T09:00:00+11:00,stage,sal,,,90,|||,web\n",
        "2026-03-20T00:00:00+11:00",
        BASE + TARGETS,
    ),
}


@pytest.fixture(params=sorted(LOGS))
def tricky(request: pytest.FixtureRequest) -> tuple[str, Report]:
    log, as_of, text = LOGS[request.param]
    return request.param, replayed(log, as_of, text)


def test_every_format_renders_a_tricky_case(tricky: tuple[str, Report]) -> None:
    name, report = tricky
    text = render_text(report)
    markdown = render_markdown(report)
    junit = render_junit(report)
    assert Report.model_validate_json(render_json(report)) == report
    assert_tables_well_formed(markdown)
    root = ET.fromstring(junit)  # well-formed XML
    assert report.analysis is not None
    assert int(root.get("tests") or 0) == len(report.rules) + len(report.analysis.targets)
    # No CRM value can break out of its place in any format.
    assert "<script>" not in markdown and "<script>" not in junit
    assert "\x1b" not in render_text(report)
    for line in text.splitlines():
        assert "second line" not in line or "\\x0a" in line
    assert render_text(report, color=True).replace("\x1b[", "").count("\n") == text.count("\n")
    del name


def test_empty_log_skips_every_case() -> None:
    report = replayed("")
    assert report.analysis is not None
    assert report.analysis.first_event is None
    root = ET.fromstring(render_junit(report))
    cases = root.findall(".//testcase")
    assert cases and all(case.find("skipped") is not None for case in cases)
    assert root.get("failures") == "0" and root.get("skipped") == str(len(cases))
    assert "nothing to judge" in render_junit(report)


def test_no_targets_is_an_empty_targets_suite() -> None:
    log, as_of, text = LOGS["no-targets"]
    report = replayed(log, as_of, text)
    suites = ET.fromstring(render_junit(report)).findall("testsuite")
    assert suites[1].get("name") == "targets" and suites[1].get("tests") == "0"
    assert "The agreement declares no target." in render_markdown(report)
    assert "Targets: none declared" in render_text(report)
    # first_touch met its one cycle and has no attainment target: passes.
    touch = suites[0].find("testcase[@name='first_touch: First touch']")
    assert touch is not None and touch.find("failure") is None
    assert touch.find("skipped") is None


def test_partial_periods_are_shown_and_never_judged() -> None:
    log, as_of, text = LOGS["partial-periods"]
    report = replayed(log, as_of, text)
    assert report.analysis is not None
    volume = next(t for t in report.analysis.targets if t.name == "sal_volume")
    assert [(p.period.label, p.period.partial, p.part) for p in volume.periods] == [
        ("2026-03", False, 1),
        ("2026-04", True, 0),
    ]
    # March (complete) had 1 SAL against at least 2: missed by 1; April is partial.
    judgement = judge_target(volume)
    assert judgement.status == "fail"
    assert (
        judgement.message
        == "missed in 1 of 1 complete months: 2026-03 1 leads, 1 short of at least 2"
    )
    assert "2026-04: 0 missed so far (partial: not judged)" in judgement.details
    markdown = render_markdown(report)
    row = "| ⏳ | `sal_volume` | 2026-04 (partial) | 0 | at least 2 | partial: missed so far, not"
    assert row + " judged |" in markdown
    assert "2026-04 (partial)" in render_text(report)


def test_only_partial_periods_skip_the_target() -> None:
    log = "L1,2026-03-02T09:00:00+11:00,stage,sal,,,90,a@x.example,web\n"
    report = replayed(log, "2026-03-10T00:00:00+11:00", BASE + TARGETS)
    assert report.analysis is not None
    for target in report.analysis.targets:
        judgement = judge_target(target)
        assert judgement.status == "skip"
        assert judgement.message.startswith("not judged: no complete month")


def test_immature_cohorts_are_flagged() -> None:
    log, as_of, text = LOGS["immature-cohort"]
    report = replayed(log, as_of, text)
    assert report.analysis is not None
    conversion = next(t for t in report.analysis.targets if t.name == "mql_to_sal")
    (march,) = conversion.periods
    assert (march.part, march.whole, march.immature, march.undecided) == (1, 2, 2, 1)
    assert "2 immature (1 undecided)" in render_markdown(report)
    assert "2 immature, 1 undecided" in render_text(report)
    assert "2 immature, 1 undecided" in render_junit(report)


def test_crm_values_are_escaped_everywhere() -> None:
    log, as_of, text = LOGS["crm-values"]
    report = replayed(log, as_of, text)
    markdown = render_markdown(report)
    assert 'a\\|b &lt;script>alert(1)&lt;/script> &amp; "x" second line' in markdown
    assert "\\|\\|\\|" in markdown
    junit = render_junit(report)
    root = ET.fromstring(junit)
    assert root is not None
    text = render_text(report)
    assert 'a|b <script>alert(1)</script> & "x"\\x0asecond line' in text
    assert printable(WEIRD) in text
    # The value is found verbatim in the JSON, as data.
    assert report.analysis is not None
    emails = {g.value for loop in report.analysis.closed_loop for g in loop.groups}
    assert WEIRD in emails


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("a|b", "a\\|b"),
        ("<b>&", "&lt;b>&amp;"),
        ("line\nbreak\r\nand\rmore", "line break and more"),
        (
            "*bold* _it_ `code` [link](x) ~s~ \\",
            "\\*bold\\* \\_it\\_ \\`code\\` \\[link\\](x) \\~s\\~ \\\\",
        ),
        ("bell\x07", "bell\ufffd"),
    ],
)
def test_markdown_escaping(text: str, expected: str) -> None:
    assert md(text) == expected


def test_long_tables_are_capped_under_the_limit() -> None:
    """Thousands of attribute values and long values still fit in one comment."""
    rows = "".join(
        f"L{i},2026-03-02T09:00:00+11:00,stage,sal,,,90,{'v' * 300}{i}@x.example,web\n"
        for i in range(400)
    )
    report = replayed(rows, "2026-03-20T00:00:00+11:00", BASE + TARGETS)
    markdown = render_markdown(report)
    assert len(markdown) <= MARKDOWN_BUDGET
    assert "more values; every one is in the JSON report." in markdown
    assert_tables_well_formed(markdown)


def test_clock_without_attainment_target_fails_on_any_breach() -> None:
    _, _, report = harbour()
    assert report.analysis is not None
    follow_up = next(rule for rule in report.rules if rule.name == "sql_follow_up")
    judgement = judge_rule(follow_up, report.analysis.targets)
    assert judgement.status == "fail"
    assert "126 breached; the agreement sets no attainment target" in judgement.message
    # The same rule with its breaches gone passes.
    kept = follow_up.model_copy(
        update={"overall": follow_up.overall.model_copy(update={"breached": 0})}
    )
    assert judge_rule(kept, report.analysis.targets).status == "pass"


def test_an_attainment_goal_kept_exactly_passes() -> None:
    _, _, report = harbour()
    assert report.analysis is not None
    touch = next(rule for rule in report.rules if rule.name == "first_touch")
    nine_in_ten = touch.overall.model_copy(update={"met": 9, "breached": 1, "attainment": 0.9})
    judgement = judge_rule(
        touch.model_copy(update={"overall": nine_in_ten}), report.analysis.targets
    )
    assert judgement.status == "pass"
    assert judgement.message.endswith("keeps at least 90% (target first_touch_attainment)")


# ---------------------------------------------------------------- docs/reports.md

DOC = ROOT / "docs" / "reports.md"
_EXCERPT = re.compile(r"<!-- excerpt: (?P<name>[\w.]+) -->\n```\w*\n(?P<body>.*?)\n```\n", re.S)


def excerpts() -> list[tuple[str, str]]:
    return [(m["name"], m["body"]) for m in _EXCERPT.finditer(DOC.read_text(encoding="utf-8"))]


def test_reports_doc_quotes_current_output() -> None:
    """Each excerpt is a contiguous part of its golden output, `...` marking a gap; a JSON
    excerpt may be dedented as a whole."""
    found = excerpts()
    assert {name for name, _ in found} >= {
        "harbour.txt",
        "harbour.md",
        "harbour.junit.xml",
        "harbour.json",
        "olist.md",
    }
    for name, body in found:
        lines = (REPORTS / name).read_text(encoding="utf-8").splitlines()
        start = 0
        segments = re.split(r"^\.\.\.\n", body + "\n", flags=re.M)
        for segment in segments:
            wanted = segment.rstrip("\n").splitlines()
            assert wanted, f"empty excerpt part in {name}"
            start = _find(lines, wanted, start, name)


def _find(lines: list[str], wanted: list[str], start: int, name: str) -> int:
    """The index after the first place at or after `start` where `wanted` follows, all lines
    indented alike."""
    for index in range(start, len(lines) - len(wanted) + 1):
        indent = lines[index][: len(lines[index]) - len(wanted[0])]
        if (
            lines[index] == indent + wanted[0]
            and indent.strip() == ""
            and all(
                lines[index + j] == (indent + line if line else line)
                for j, line in enumerate(wanted)
            )
        ):
            return index + len(wanted)
    pytest.fail(f"docs/reports.md quotes lines that {name} does not have:\n" + "\n".join(wanted))


def test_reports_doc_covers_every_format_and_its_screenshots_exist() -> None:
    text = DOC.read_text(encoding="utf-8")
    for heading in ("## Text", "## Markdown", "## JUnit", "## JSON", "## CSV", "## HTML"):
        assert heading in text
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert len(images) >= 8
    for image in images:
        assert (DOC.parent / image).is_file(), image


# ---------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_md_never_lets_a_value_out_of_its_cell(value: str) -> None:
    escaped = md(value)
    assert "\n" not in escaped and "\r" not in escaped and "<" not in escaped
    assert cells("|" + escaped + "|") == 2
    assert not re.search(r"(?<!\\)[*_`\[\]~]", escaped.replace("\\\\", ""))
    assert "@" not in escaped  # no @mention of a GitHub user or team from a CRM value


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("@sales-team", "&#64;sales-team"),
        ("mia@harbour.example", "mia&#64;harbour.example"),
        ("R&D <b>", "R&amp;D &lt;b>"),
    ],
)
def test_md_keeps_mentions_and_html_inert(value: str, shown: str) -> None:
    assert md(value) == shown


@settings(max_examples=40, deadline=None)
@given(title=st.text(), owner=st.text(), value=st.text())
def test_any_crm_or_agreement_text_keeps_every_format_well_formed(
    title: str, owner: str, value: str
) -> None:
    log, as_of, text = LOGS["no-targets"]
    report = base_report(log, as_of, text)
    assert report.analysis is not None
    rules = [
        rule.model_copy(
            update={"by_owner": [b.model_copy(update={"key": owner}) for b in rule.by_owner]}
        )
        for rule in report.analysis.accountability.rules
    ]
    loops = [
        loop.model_copy(
            update={"groups": [g.model_copy(update={"value": value}) for g in loop.groups]}
        )
        for loop in report.analysis.closed_loop
    ]
    analysis = report.analysis.model_copy(
        update={
            "accountability": report.analysis.accountability.model_copy(update={"rules": rules}),
            "closed_loop": loops,
        }
    )
    odd = report.model_copy(
        update={
            "analysis": analysis,
            "agreement": report.agreement.model_copy(update={"title": title}),
        }
    )
    root = ET.fromstring(render_junit(odd))
    assert root.get("name", "").startswith("slaspec replay: ")
    markdown = render_markdown(odd)
    assert_tables_well_formed(markdown)
    # The title comes from the agreement; the CRM values are the ones a terminal must not run.
    plain = render_text(odd.model_copy(update={"agreement": report.agreement}))
    assert "\x1b" not in plain
    assert len(plain.splitlines()) == len(render_text(report).splitlines())


@cache
def base_report(log: str, as_of: str | None, text: str) -> Report:
    return replayed(log, as_of, text)


def test_optional_sections_go_last_first_when_over_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    import slaspec.analysis_report as analysis_report

    _, _, report = harbour()
    full = render_markdown(report)
    monkeypatch.setattr(analysis_report, "MARKDOWN_BUDGET", 8_000)
    short = render_markdown(report)
    assert len(short) <= 8_000 < len(full)
    note = "_Left out to stay under GitHub's comment size limit; see the JSON report._"
    assert "### Attainment by owner and month\n\n" + note in short
    assert "### Scorecard" in short and "| ❌ | `mql_volume` | 2026-04 | 105 |" in short
    assert "<details>" not in short
    assert_tables_well_formed(short)
    # Even the essential sections are cut, at a line, when nothing else is left to drop.
    monkeypatch.setattr(analysis_report, "MARKDOWN_BUDGET", 1_500)
    tiny = render_markdown(report)
    assert len(tiny) <= 1_500
    assert tiny.endswith("_Truncated to stay under GitHub's comment size limit._\n")
