"""Scenario tests: parsing, checking, each expectation kind, reports, coverage and `slaspec test`.

Goldens under tests/data/scenarios/: `failing.scenarios` (one scenario passes, one fails) with
its text, JSON and JUnit reports, and `broken.scenarios` (a file with mistakes) with its text
report. Run with SLASPEC_UPDATE_GOLDEN=1 to rewrite them, and review the diff.

The command is registered on a parser built here with `cli_test.add_test_command`, exactly as
cli.py's `build_parser` registers it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, golden
from slaspec import cli, cli_test, scenario_report, scenarios
from slaspec.diagnostics import RULES, Diagnostic, Severity
from slaspec.events import EventKind
from slaspec.pipeline import Checked, check_agreement
from slaspec.results import Violation, ViolationKind
from slaspec.scenario_syntax import (
    ExpectAttainment,
    ExpectCycle,
    ExpectNoViolations,
    ExpectPath,
    ExpectStage,
    ExpectViolation,
)
from slaspec.scenarios import CheckResult, ScenarioResult, ViolationIs
from slaspec.source import Source

CASES = DATA / "scenarios"
AGREEMENTS = sorted((ROOT / "agreements").glob("*.sla"))
TESTING_DOC = ROOT / "docs" / "testing.md"
TODAY = dt.date(2026, 3, 1)
SYDNEY = ZoneInfo("Australia/Sydney")


def read(path: str) -> Source | Diagnostic:
    target = Path(path)
    if not target.is_file():
        return Diagnostic("SLA002", f"no such file: {path}", path)
    return Source(path, target.read_text(encoding="utf-8"))


@functools.cache
def checked(path: str) -> Checked:
    """An agreement of the repository, checked once per test run."""
    source = read(path)
    assert isinstance(source, Source)
    return check_agreement(source, read, TODAY)


def harbour() -> Checked:
    return checked(str(ROOT / "agreements" / "harbour-b2b.sla"))


def suite_of(text: str, agreement: Checked | None = None) -> scenarios.Suite:
    test = scenarios.parse(Source("t.scenarios", text))
    return scenarios.suite(test, agreement or harbour())


def run_text(text: str) -> tuple[ScenarioResult, ...]:
    suite = suite_of(text)
    assert suite.diagnostics == (), [d.message for d in suite.diagnostics]
    return scenarios.run(suite)


def findings(suite: scenarios.Suite) -> list[tuple[str, int, int, str]]:
    """Each diagnostic as (code, line, column, message)."""
    shown: list[tuple[str, int, int, str]] = []
    for diagnostic in suite.diagnostics:
        assert diagnostic.span is not None and diagnostic.file is not None
        line, column = suite.sources[diagnostic.file].position(diagnostic.span.start)
        shown.append((diagnostic.code, line, column, diagnostic.message))
    return shown


def command(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`slaspec test ARGV` in-process, as cli.main runs it: (exit code, stdout, stderr)."""
    parser = cli._Parser(prog="slaspec")
    commands = parser.add_subparsers(dest="command", parser_class=cli._Parser)
    cli_test.add_test_command(commands)
    try:
        args = parser.parse_args(["test", *argv])
        code: int = args.handler(args)
    except SystemExit as exit_:
        code = int(exit_.code) if isinstance(exit_.code, int) else 2
    except cli.UsageError as error:
        sys.stderr.write(f"slaspec: error: {error}\n")
        code = cli.EXIT_ERROR
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# A lead of the Harbour agreement whose first touch comes late: first_touch (4 business hours
# from 09:30) is due at 14:30 and breached by the call at 16:00.
INQUIRY = (
    "        Mon 2026-03-02 09:00  enters inquiry with score=70, email=jo@acme.example, "
    "last_engaged=2026-03-01T10:00\n"
)
LATE = (
    'scenario "Late":\n'
    "    lead L1:\n"
    + INQUIRY
    + "        09:30  enters mql by marketing\n"
    + "        16:00  call by sdr\n"
)
LATE_VIOLATION = (
    "violation clock_breached first_touch, at Mon 2026-03-02 14:30, team sdr (stopped after 5h "
    "30m of business time; the goal was 4 business hours)"
)


# ---------------------------------------------------------------- parsing


def test_a_file_is_read_into_scenarios_leads_events_and_expectations() -> None:
    text = (
        'agreement "harbour-b2b.sla"\n'
        'timezone "Australia/Sydney"\n'
        "\n"
        "# a comment line\n"
        'scenario "A first touch":  # and a trailing one\n'
        "    as of Tue 2026-03-03 17:00\n"
        '    lead "L 1":\n'
        '        Mon 2026-03-02 09:00  enters inquiry with score=90, email="a b@c"\n'
        "        09:30:15  set score=91\n"
        '        2026-03-02T10:00+11:00  call by "mia@x.example" with budget_confirmed=true\n'
        "        10:30  clear score, email\n"
        '        10:40  assigned to "ana@x.example" by marketing\n'
        "        expect stage mql\n"
        "        expect path inquiry -> mql\n"
        "        expect no violations\n"
        "        expect violation criteria unmet inquiry -> mql, at Mon 2026-03-02 09:30, "
        "team sdr\n"
        "        expect first_touch cycle 2 pending, due none, at risk, team sdr\n"
        "        expect sal_calls met, ended Tue 2026-03-03 10:00, goal 10 business days, count 6\n"
        "    expect attainment first_touch 2 of 3\n"
    )
    test = scenarios.parse(Source("harbour.scenarios", text))
    assert test.diagnostics == ()
    assert test.agreement is not None and test.agreement.text == "harbour-b2b.sla"
    assert test.timezone is not None and test.timezone.text == "Australia/Sydney"
    (scenario,) = test.scenarios
    assert (scenario.name, scenario.line) == ("A first touch", 5)
    assert scenario.as_of is not None
    assert (scenario.as_of.date, scenario.as_of.time) == (dt.date(2026, 3, 3), dt.time(17))
    (lead,) = scenario.leads
    assert lead.name.text == "L 1"
    actions = [(e.action, e.subject.text if e.subject else None) for e in lead.events]
    assert actions == [
        ("enters", "inquiry"),
        ("set", None),
        ("activity", "call"),
        ("clear", None),
        ("assigned", "ana@x.example"),
    ]
    first, second, third, fourth, fifth = lead.events
    assert [(a.name.text, a.value.text if a.value else None) for a in first.attributes] == [
        ("score", "90"),
        ("email", "a b@c"),
    ]
    assert second.when.date == dt.date(2026, 3, 2) and second.when.time == dt.time(9, 30, 15)
    assert third.when.offset == dt.timedelta(hours=11)
    assert third.by is not None and third.by.text == "mia@x.example"
    assert [(a.name.text, a.value) for a in fourth.attributes] == [("score", None), ("email", None)]
    assert fifth.by is not None and fifth.by.text == "marketing"
    kinds = [type(e) for e in lead.expectations]
    assert kinds == [
        ExpectStage,
        ExpectPath,
        ExpectNoViolations,
        ExpectViolation,
        ExpectCycle,
        ExpectCycle,
    ]
    violation = lead.expectations[3]
    assert isinstance(violation, ExpectViolation)
    assert violation.kind.text == "criteria_unmet"
    assert [t.text for t in violation.rule] == ["inquiry", "mql"]
    pending = lead.expectations[4]
    assert isinstance(pending, ExpectCycle)
    assert (pending.cycle, pending.outcome, pending.no_due, pending.at_risk) == (
        2,
        "pending",
        True,
        True,
    )
    cadence = lead.expectations[5]
    assert isinstance(cadence, ExpectCycle)
    assert cadence.goal is not None and cadence.goal[0] == "10 business days"
    assert cadence.count == 6
    (attainment,) = scenario.attainments
    assert isinstance(attainment, ExpectAttainment)
    assert (attainment.met, attainment.judged, attainment.percent) == (2, 3, None)


@pytest.mark.parametrize(
    ("written", "date", "time", "offset"),
    [
        ("Mon 2026-03-02 09:30", dt.date(2026, 3, 2), dt.time(9, 30), None),
        ("monday 2026-03-02 09:30", dt.date(2026, 3, 2), dt.time(9, 30), None),
        ("2026-03-02 9:05:07", dt.date(2026, 3, 2), dt.time(9, 5, 7), None),
        ("2026-03-02 09:30:00.25", dt.date(2026, 3, 2), dt.time(9, 30, 0, 250000), None),
        ("2026-03-02T09:30", dt.date(2026, 3, 2), dt.time(9, 30), None),
        ("2026-03-02T09:30Z", dt.date(2026, 3, 2), dt.time(9, 30), dt.timedelta(0)),
        ("2026-03-02 09:30 -05:00", dt.date(2026, 3, 2), dt.time(9, 30), dt.timedelta(hours=-5)),
        ("2026-03-02 09:30+0530", dt.date(2026, 3, 2), dt.time(9, 30), dt.timedelta(hours=5.5)),
    ],
)
def test_times_are_written_as_people_write_them(
    written: str, date: dt.date, time: dt.time, offset: dt.timedelta | None
) -> None:
    text = f'scenario "s":\n    as of {written}\n    lead L:\n        {written}  set score=1\n'
    text += "        expect stage x\n"
    test = scenarios.parse(Source("t.scenarios", text))
    assert test.diagnostics == ()
    for when in (test.scenarios[0].as_of, test.scenarios[0].leads[0].events[0].when):
        assert when is not None
        assert (when.date, when.time, when.offset) == (date, time, offset)


def test_a_bare_time_is_on_the_day_of_the_event_above() -> None:
    text = (
        'scenario "s":\n    lead L:\n        Fri 2026-03-06 17:00  set score=1\n'
        "        18:00  set score=2\n        Mon 2026-03-09 08:00  set score=3\n"
        "        08:30  set score=4\n        expect stage x\n"
    )
    (scenario,) = scenarios.parse(Source("t.scenarios", text)).scenarios
    days = [event.when.date.day for event in scenario.leads[0].events]
    assert days == [6, 6, 9, 9]


SYNTAX_CASES = [
    pytest.param(
        'scenario "s":\n    lead L1\n        Mon 2026-03-02 09:00  enters inquiry\n'
        "        expect stage inquiry\n",
        ("SLA950", 2, 12, "`lead` opens a block: the line must end with `:`"),
        id="lead-without-colon",
    ),
    pytest.param(
        'scenario "s"\n    lead L1:\n        Mon 2026-03-02 09:00  enters inquiry\n'
        "        expect stage inquiry\n",
        ("SLA950", 1, 13, "`scenario` opens a block: the line must end with `:`"),
        id="scenario-without-colon",
    ),
    pytest.param(
        'scenario "s":\n\tlead L1:\n',
        ("SLA950", 2, 1, "a tab in the indentation"),
        id="tab",
    ),
    pytest.param(
        'scenario "s:\n',
        ("SLA950", 1, 10, 'this text has no closing `"`'),
        id="unclosed-quotes",
    ),
    pytest.param(
        "lead L1:\n",
        (
            "SLA950",
            1,
            1,
            "expected `scenario`, `agreement` or `timezone` at the start of a line that is not "
            "indented",
        ),
        id="lead-at-top",
    ),
    pytest.param(
        '  scenario "s":\n',
        ("SLA950", 1, 3, "the first line of the file is indented"),
        id="indented-first-line",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        Mon 2026-03-02 09:00  enters inquiry\n'
        "      expect stage inquiry\n",
        ("SLA950", 4, 7, "this line's indentation matches no block above it"),
        id="inconsistent-indent",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        Mon 2026-03-02 09:00  enters inquiry\n'
        "            expect stage inquiry\n",
        (
            "SLA950",
            4,
            13,
            "this line is indented more than the line above, which opens no block",
        ),
        id="indented-under-event",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        09:00  enters inquiry\n        expect stage x\n',
        ("SLA950", 3, 9, "a time without a date"),
        id="bare-time-first",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        Mon 2026-03-02  enters inquiry\n',
        (
            "SLA950",
            3,
            25,
            "expected the time of day after the date, e.g. `Mon 2026-03-02 09:30`, found `enters`",
        ),
        id="date-without-time",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        Tue 2026-03-02 09:00  enters inquiry\n',
        ("SLA952", 3, 9, "2026-03-02 is a Monday, not a Tuesday"),
        id="wrong-weekday",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-02-30 09:00  enters inquiry\n',
        ("SLA952", 3, 9, "`2026-02-30` is not a real date (day is out of range for month)"),
        id="no-such-date",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 24:00  enters inquiry\n',
        ("SLA952", 3, 9, "not a time of day (hours 00-23, minutes and seconds 00-59)"),
        id="hour-24",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00 +19:00  enters inquiry\n',
        ("SLA952", 3, 9, "`+19:00` is not a UTC offset between -18:00 and +18:00"),
        id="offset-out-of-range",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters\n',
        ("SLA950", 3, 33, "expected the stage the lead enters, found the end of the line"),
        id="enters-nothing",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  call by sdr with score\n',
        (
            "SLA950",
            3,
            49,
            "expected `=` between the field and its value, as in `score=90`, found the end of "
            "the line",
        ),
        id="attribute-without-value",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  call at noon\n',
        ("SLA950", 3, 32, "expected `by WHO` or `with NAME=VALUE, ...`, found `at`"),
        id="event-trailing-words",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "        expect first_touch mett\n",
        ("SLA950", 4, 28, "`mett` is not an outcome"),
        id="bad-outcome",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "        expect violation breach first_touch\n",
        ("SLA950", 4, 26, "`breach` is not a kind of violation"),
        id="bad-violation-kind",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "        expect first_touch met, due 2026-03-02 10:00, due 2026-03-02 11:00\n",
        (
            "SLA950",
            4,
            55,
            "expected one `due` (it is given twice), found `due`",
        ),
        id="detail-twice",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "        expect first_touch not started, team sdr\n",
        (
            "SLA950",
            4,
            28,
            "a cycle that never started has no due time, goal, team or count",
        ),
        id="not-started-with-details",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "        expect first_touch cycle 0 met\n",
        ("SLA952", 4, 34, "cycles are counted from 1"),
        id="cycle-zero",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "        expect stage inquiry\n    expect attainment first_touch 3 of 2\n",
        ("SLA952", 5, 35, "3 of 2 cycles cannot be met"),
        id="attainment-count",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "        expect stage inquiry\n    expect attainment first_touch 120%\n",
        ("SLA952", 5, 35, "120% is more than 100%"),
        id="attainment-over-100",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "        expect attainment first_touch 50%\n",
        ("SLA950", 4, 16, "attainment is expected of the whole scenario, not of one lead"),
        id="attainment-in-lead",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n'
        "    expect stage inquiry\n",
        ("SLA950", 4, 5, "an expectation about one lead belongs in its `lead` block"),
        id="lead-expectation-in-scenario",
    ),
    pytest.param(
        'scenario "s":\n    2026-03-02 09:00  enters inquiry\n',
        ("SLA950", 2, 5, "an event belongs to a lead"),
        id="event-in-scenario",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n        2026-03-02 09:00  enters inquiry\n',
        ("SLA950", 1, 1, "scenario `s` expects nothing"),
        id="expects-nothing",
    ),
    pytest.param(
        'scenario "s":\n    as of 2026-03-02 09:00\n',
        ("SLA950", 1, 1, "scenario `s` has no lead"),
        id="no-lead",
    ),
    pytest.param(
        'scenario "s":\n    lead L1:\n    lead L2:\n        2026-03-02 09:00  set score=1\n'
        "        expect stage x\n",
        ("SLA950", 2, 5, "lead `L1` has no events"),
        id="lead-without-events",
    ),
    pytest.param(
        'scenario "s":\n',
        ("SLA950", 1, 1, "this scenario is empty"),
        id="empty-scenario",
    ),
    pytest.param(
        'agreement "a.sla"\nagreement "b.sla"\n',
        ("SLA950", 2, 1, "a second `agreement` line"),
        id="two-agreement-lines",
    ),
    pytest.param(
        'timezone "UTC":\n',
        ("SLA950", 1, 15, "only `scenario` and `lead` lines open a block"),
        id="header-with-colon",
    ),
    pytest.param(
        'scenario "s":\n    as of 2026-03-02 09:00\n    as of 2026-03-02 10:00\n',
        ("SLA950", 3, 5, "a second `as of` line in this scenario"),
        id="two-as-of",
    ),
]


@pytest.mark.parametrize(("text", "expected"), SYNTAX_CASES)
def test_syntax_mistakes_are_reported_at_their_place(
    text: str, expected: tuple[str, int, int, str]
) -> None:
    test = scenarios.parse(Source("t.scenarios", text))
    shown = []
    for diagnostic in test.diagnostics:
        assert diagnostic.span is not None
        line, column = test.source.position(diagnostic.span.start)
        shown.append((diagnostic.code, line, column, diagnostic.message))
        assert diagnostic.help, "every finding says how to fix it"
    assert shown == [expected]


def test_every_bad_line_is_reported_once_and_the_rest_is_read() -> None:
    text = (
        'scenario "a":\n    lead L1:\n        2026-03-02 09:00  enters\n'
        "        2026-03-02 10:00  call by sdr\n        expect reply mett\n"
        "        expect stage inquiry\n"
        'scenario "b":\n    lead L2:\n        09:00  set score=1\n        expect stage x\n'
    )
    test = scenarios.parse(Source("t.scenarios", text))
    assert [test.source.position(d.span.start)[0] for d in test.diagnostics if d.span] == [3, 5, 9]
    assert [s.name for s in test.scenarios] == ["a", "b"]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_the_parser_never_raises_on_arbitrary_text(text: str) -> None:
    test = scenarios.parse(Source("t.scenarios", text))
    assert all(d.code in RULES for d in test.diagnostics)


_FRAGMENTS = st.sampled_from(
    [
        "scenario",
        '"s"',
        ":",
        "lead",
        "L1",
        "expect",
        "met",
        "breached",
        "not",
        "started",
        "cycle",
        "2",
        ",",
        "due",
        "none",
        "at",
        "risk",
        "Mon",
        "2026-03-02",
        "09:30",
        "+11:00",
        "enters",
        "with",
        "score",
        "=",
        "by",
        "->",
        "violation",
        "criteria",
        "unmet",
        "attainment",
        "50%",
        "of",
        "as",
        "#",
        '"',
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0, 4, 8, 12, 2]), st.lists(_FRAGMENTS, max_size=8)),
        max_size=10,
    )
)
def test_the_parser_never_raises_on_near_miss_files(lines: list[tuple[int, list[str]]]) -> None:
    text = "".join(" " * indent + " ".join(words) + "\n" for indent, words in lines)
    test = scenarios.parse(Source("t.scenarios", text))
    assert all(d.code in RULES and d.help for d in test.diagnostics)
    if test.diagnostics == ():
        suite = scenarios.suite(test, harbour())
        assert all(d.code in RULES for d in suite.diagnostics)


# ---------------------------------------------------------------- checking against the agreement

CHECK_CASES = [
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inqiury\n",
        ("SLA951", 3, 38, "`inqiury` is not a stage of the agreement"),
        "did you mean `inquiry`?",
        id="stage",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  cal by sdr\n",
        ("SLA951", 3, 31, "`cal` is not an activity type of the agreement"),
        "did you mean `call`?",
        id="activity",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry with scor=90\n",
        ("SLA951", 3, 51, "`scor` is not a field of the agreement"),
        "did you mean `score`?",
        id="field",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  call by sdrs\n",
        ("SLA951", 3, 39, "`sdrs` is neither a team nor an actor on a team's roster"),
        "did you mean `sdr`?",
        id="team",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry\n        expect frist_touch met\n",
        ("SLA951", 4, 16, "`frist_touch` is not a clock or cadence of the agreement"),
        "did you mean `first_touch`?",
        id="rule",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry\n"
        "        expect violation cadence_breached first_touch\n",
        ("SLA951", 4, 43, "`first_touch` is not a cadence of the agreement"),
        "the cadences are: sal_calls",
        id="violation-rule",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry\n"
        "        expect violation criteria_unmet inquiry -> sal\n",
        ("SLA951", 4, 41, "the agreement has no handoff inquiry -> sal"),
        "criteria belong to a declared handoff; a move without one is `illegal_transition`",
        id="no-such-handoff",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry\n"
        "        expect violation illegal_transition inquiry -> mql\n",
        (
            "SLA952",
            4,
            45,
            "inquiry -> mql is a handoff of the agreement, so moving along it is never illegal",
        ),
        "a move along a handoff whose criteria fail is `criteria_unmet`",
        id="legal-move",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry with source=webinr\n",
        (
            "SLA952",
            3,
            58,
            "`webinr` is not one of the values of this field (did you mean `webinar`?) for enum "
            "field `source`",
        ),
        "use one of the field's values, or add this value to the field's enum",
        id="enum-value",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry with last_engaged=yesterday\n",
        (
            "SLA952",
            3,
            64,
            "`yesterday` for datetime field `last_engaged` is not a date and time",
        ),
        "write a date and a time of day, e.g. `last_engaged=2026-03-02T09:30` or "
        '`last_engaged="Mon 2026-03-02 09:30"`',
        id="datetime-value",
    ),
    pytest.param(
        "        Sun 2026-10-04 02:30  enters inquiry\n",
        (
            "SLA952",
            3,
            9,
            "Sun 2026-10-04 02:30 does not exist in Australia/Sydney: the clocks jumped forward "
            "over it",
        ),
        "write a time that exists, or give the offset meant: `Sun 2026-10-04 02:30 +10:00` or "
        "`Sun 2026-10-04 02:30 +11:00`",
        id="dst-gap",
    ),
    pytest.param(
        "        Sun 2026-04-05 02:30  enters inquiry\n",
        (
            "SLA952",
            3,
            9,
            "Sun 2026-04-05 02:30 happens twice in Australia/Sydney: the clocks went back",
        ),
        "say which with its offset: `Sun 2026-04-05 02:30 +11:00` (the first) or "
        "`Sun 2026-04-05 02:30 +10:00` (the second)",
        id="dst-fold",
    ),
    pytest.param(
        "        Mon 1850-03-04 09:00  enters inquiry\n",
        (
            "SLA952",
            3,
            9,
            "Mon 1850-03-04 09:00 is outside the years 1900-2199, the only years business "
            "calendars cover",
        ),
        "check the year, e.g. `Mon 2026-03-02 09:30`",
        id="year-before-1900",
    ),
    pytest.param(
        "        Fri 9999-12-31 23:00 -05:00  enters inquiry\n",
        (
            "SLA952",
            3,
            9,
            "Fri 9999-12-31 23:00 is outside the years 1900-2199, the only years business "
            "calendars cover",
        ),
        "check the year, e.g. `Mon 2026-03-02 09:30`",
        id="year-9999-with-offset",
    ),
    pytest.param(
        "        Mon 1900-01-01 05:00  enters inquiry\n",  # 1899-12-31 in UTC (Sydney +10:05 LMT)
        (
            "SLA952",
            3,
            9,
            "Mon 1900-01-01 05:00 is outside the years 1900-2199, the only years business "
            "calendars cover",
        ),
        "check the year, e.g. `Mon 2026-03-02 09:30`",
        id="first-year-before-utc",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry\n"
        "        expect first_touch met, goal 2 business hours\n",
        ("SLA952", 4, 38, "first_touch has no goal of 2 business hours"),
        "its goals are: 1 business hour, 4 business hours",
        id="goal-not-of-clock",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry\n        expect first_touch met, count 2\n",
        ("SLA952", 4, 16, "first_touch is a clock; only a cadence counts activities"),
        "remove `count`, or name a cadence",
        id="count-on-clock",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry\n        expect first_touch met, at risk\n",
        (
            "SLA952",
            4,
            9,
            "only a pending cycle can be at risk, and this one is expected met",
        ),
        "remove `at risk`, or expect the cycle pending",
        id="at-risk-met",
    ),
    pytest.param(
        "        Mon 2026-03-02 09:00  enters inquiry\n        expect no violations\n"
        "        expect violation stall inquiry\n",
        (
            "SLA952",
            4,
            9,
            "lead `L1` is expected to have no violations, but line 5 expects one",
        ),
        "keep `expect no violations` only for a lead that breaks no rule",
        id="none-and-some",
    ),
]


@pytest.mark.parametrize(("lines", "expected", "help_"), CHECK_CASES)
def test_names_and_values_are_checked_against_the_agreement(
    lines: str, expected: tuple[str, int, int, str], help_: str
) -> None:
    text = 'scenario "s":\n    lead L1:\n' + lines
    if "expect" not in lines:
        text += "        expect stage inquiry\n"
    suite = suite_of(text)
    assert findings(suite) == [expected]
    assert suite.diagnostics[0].help == help_
    assert not suite.runnable
    assert scenarios.run(suite) == ()


@pytest.mark.parametrize(
    ("value", "cell", "message"),
    [
        ('"Mon 2026-03-02 09:00"', "2026-03-01T22:00:00+00:00", None),
        ("2026-03-02T09:00Z", "2026-03-02T09:00:00+00:00", None),
        ("2026-03-02T09:00:30.5-05:00", "2026-03-02T14:00:30.500000+00:00", None),
        (
            '"Tue 2026-03-02 09:00"',
            None,
            "says `Tue`, but 2026-03-02 is a Monday",
        ),
        ("2026-02-30T09:00", None, "is not a real date and time (day is out of range for month)"),
        (
            "2026-03-02T09:00+19:00",
            None,
            "has `+19:00`, not a UTC offset between -18:00 and +18:00",
        ),
    ],
)
def test_datetime_values_are_times_in_the_file_zone(
    value: str, cell: str | None, message: str | None
) -> None:
    text = 'scenario "s":\n    lead L1:\n'
    text += f"        Mon 2026-03-02 09:00  enters inquiry with last_engaged={value}\n"
    text += "        expect stage inquiry\n"
    suite = suite_of(text)
    if message is None:
        assert suite.diagnostics == ()
        (event,) = suite.scenarios[0].events
        assert event.attributes == (("last_engaged", cell),)
    else:
        (finding,) = findings(suite)
        shown = value.strip('"')
        assert finding[3] == f"`{shown}` for datetime field `last_engaged` {message}"


def test_an_event_after_as_of_is_a_mistake() -> None:
    suite = suite_of(
        'scenario "s":\n    as of Mon 2026-03-02 09:00\n    lead L1:\n'
        "        Mon 2026-03-02 08:00  enters inquiry\n        10:00  call by sdr\n"
        "        expect stage inquiry\n"
    )
    assert findings(suite) == [
        (
            "SLA952",
            5,
            9,
            "this event is after the scenario's `as of` time, so it would not be replayed",
        )
    ]


def test_duplicate_scenarios_and_lead_blocks() -> None:
    suite = suite_of(
        'scenario "s":\n    lead L1:\n        Mon 2026-03-02 09:00  enters inquiry\n'
        "        expect stage inquiry\n"
        "    lead L1:\n        Mon 2026-03-02 09:00  enters inquiry\n        expect stage inquiry\n"
        'scenario "s":\n    lead L2:\n        Mon 2026-03-02 09:00  enters inquiry\n'
        "        expect stage inquiry\n"
    )
    assert findings(suite) == [
        (
            "SLA953",
            5,
            10,
            "lead `L1` has a second block in this scenario (the first is on line 2)",
        ),
        ("SLA953", 8, 10, "a second scenario named `s` (the first is on line 1)"),
    ]


def test_the_file_zone_must_be_a_zone() -> None:
    suite = suite_of('timezone "Australia/Sidney"\n')
    assert findings(suite) == [("SLA952", 1, 10, "`Australia/Sidney` is not a time zone")]


def test_an_agreement_that_cannot_be_read_or_has_errors_is_untestable() -> None:
    text = 'scenario "s":\n    lead L1:\n        Mon 2026-03-02 09:00  enters a\n'
    text += "        expect stage a\n"
    missing = scenarios.load(
        Source("folder/t.scenarios", 'agreement "x.sla"\n' + text), read, TODAY
    )
    assert [(d.code, d.message) for d in missing.diagnostics] == [
        (
            "SLA954",
            "agreement `folder/x.sla` cannot be tested: cannot read it: no such file: folder/x.sla",
        )
    ]
    broken = Source(
        "a.sla", 'agreement "A":\n    effective 2026-03-02\nstage a:\n    owner nobody\n'
    )

    def reader(path: str) -> Source | Diagnostic:
        return broken if path == "a.sla" else Diagnostic("SLA002", "no such file", path)

    suite = scenarios.load(Source("a.scenarios", text), reader, TODAY)
    codes = [d.code for d in suite.diagnostics]
    assert codes[0] == "SLA954" and "SLA101" in codes
    assert "it has" in suite.diagnostics[0].message
    assert suite.agreement is None and not suite.runnable
    assert "a.sla" in suite.sources  # so the agreement's errors can be shown with their lines


@pytest.mark.parametrize(
    ("name", "line", "expected"),
    [
        ("harbour-b2b.scenarios", None, "harbour-b2b.sla"),
        ("agreements/harbour-b2b.calls.scenarios", None, "agreements/harbour-b2b.sla"),
        ("tests/x.scenarios", "../agreements/a.sla", "agreements/a.sla"),
        ("x.scenarios", "/srv/a.sla", "/srv/a.sla"),
        ("x.scenarios", "a.sla", "a.sla"),
    ],
)
def test_which_agreement_a_file_tests(name: str, line: str | None, expected: str) -> None:
    text = f'agreement "{line}"\n' if line is not None else ""
    assert scenarios.agreement_path(scenarios.parse(Source(name, text))) == expected


# ---------------------------------------------------------------- expectations, one kind at a time


def check_at(events: str, expectation: str, line: int = 6) -> CheckResult:
    """Run `events` and one expectation line; the check reported at `line`."""
    (result,) = run_text(events + f"        {expectation}\n")
    matches = [check for check in result.checks if check.line == line]
    return matches[0]


@pytest.mark.parametrize(
    ("expectation", "passed", "actual"),
    [
        ("expect stage mql", True, "stage mql"),
        ("expect stage sal", False, "stage mql"),
        ("expect stage marketingqualifiedlead", True, "stage mql"),
        ("expect path inquiry -> mql", True, "path inquiry -> mql"),
        ("expect path mql", False, "path inquiry -> mql"),
        ("expect first_touch breached", True, "first_touch breached"),
        ("expect first_touch met", False, "first_touch breached"),
        (
            "expect first_touch breached, due Mon 2026-03-02 14:30",
            True,
            "first_touch breached, due Mon 2026-03-02 14:30",
        ),
        (
            "expect first_touch breached, due 2026-03-02 14:00",
            False,
            "first_touch breached, due Mon 2026-03-02 14:30",
        ),
        (
            "expect first_touch breached, due 2026-03-02 03:30 Z",
            True,
            "first_touch breached, due Mon 2026-03-02 14:30",
        ),
        (
            "expect first_touch breached, due none",
            False,
            "first_touch breached, due Mon 2026-03-02 14:30",
        ),
        (
            "expect first_touch breached, ended Mon 2026-03-02 16:00",
            True,
            "first_touch breached, ended Mon 2026-03-02 16:00",
        ),
        (
            "expect first_touch breached, goal 1 business hour",
            False,
            "first_touch breached, goal 4 business hours",
        ),
        ("expect first_touch breached, team sdr", True, "first_touch breached, team sdr"),
        ("expect first_touch breached, team sales", False, "first_touch breached, team sdr"),
        ("expect first_touch breached, not at risk", False, "first_touch breached, not at risk"),
        ("expect first_touch cycle 1 breached", True, "first_touch cycle 1 breached"),
        ("expect first_touch cycle 2 met", False, "first_touch cycle 2 not started"),
        ("expect first_touch cycle 2 not started", True, "first_touch cycle 2 not started"),
        ("expect first_touch cycle 1 not started", False, "first_touch cycle 1 breached"),
        ("expect first_touch not started", False, "first_touch started (cycle 1 breached)"),
        ("expect sql_follow_up not started", True, "sql_follow_up not started"),
        ("expect sql_follow_up met", False, "sql_follow_up not started"),
        (
            "expect violation clock_breached first_touch",
            True,
            "violation clock_breached first_touch",
        ),
        (
            "expect violation clock breached first_touch, at Mon 2026-03-02 14:30, team sdr",
            True,
            "violation clock_breached first_touch, at Mon 2026-03-02 14:30, team sdr",
        ),
        ("expect violation clock_breached", True, "violation clock_breached first_touch"),
        ("expect violation stall mql", False, LATE_VIOLATION),
        (
            "expect violation clock_breached first_touch, at Mon 2026-03-02 16:00",
            False,
            LATE_VIOLATION,
        ),
        ("expect no violations", False, LATE_VIOLATION),
    ],
)
def test_each_expectation_passes_or_shows_what_happened(
    expectation: str, passed: bool, actual: str
) -> None:
    # The test's own line is 6; `expect first_touch breached, not at risk` is a pending-only
    # detail on a breached cycle, so it is checked apart below.
    if "not at risk" in expectation:
        suite = suite_of(LATE + f"        {expectation}\n")
        assert [d.code for d in suite.diagnostics] == ["SLA952"]
        return
    check = check_at(LATE, expectation)
    assert (check.passed, check.actual) == (passed, actual)
    assert check.lead == "L1" and check.about == ("L1",)


def test_a_lead_whose_violations_are_mentioned_may_have_no_others() -> None:
    (result,) = run_text(LATE + "        expect violation stall mql\n")
    assert [(c.line, c.expected, c.passed) for c in result.checks] == [
        (6, "violation stall mql", False),
        (6, "no other violations", False),
    ]
    (result,) = run_text(LATE + "        expect stage mql\n")
    assert [(c.expected, c.passed) for c in result.checks] == [("stage mql", True)]


WAITING = (
    'scenario "Waiting":\n    as of Mon 2026-03-02 13:30\n    lead L1:\n'
    + INQUIRY
    + """\
        09:30  enters mql by marketing
        10:00  enters sal by sdr
        10:30  email by sdr
        11:00  call by sdr
        11:30  call by "jack.fitzgerald@harbouranalytics.com.au"
"""
)


@pytest.mark.parametrize(
    ("expectation", "passed", "actual"),
    [
        ("expect sal_calls pending, count 2", True, "sal_calls pending, count 2"),
        ("expect sal_calls pending, count 3", False, "sal_calls pending, count 2"),
        (
            "expect sal_calls pending, due Mon 2026-03-16 10:00, goal 10 business days",
            True,
            "sal_calls pending, due Mon 2026-03-16 10:00, goal 10 business days",
        ),
        ("expect first_touch met, ended Mon 2026-03-02 10:30", True, None),
        ("expect no violations", True, "no violations"),
    ],
)
def test_pending_cadences_and_counts(expectation: str, passed: bool, actual: str | None) -> None:
    check = check_at(WAITING, expectation, line=10)
    assert check.passed == passed
    if actual is not None:
        assert check.actual == actual


def test_at_risk_and_a_paused_clock_without_a_deadline() -> None:
    text = (
        'scenario "Waiting":\n    as of Mon 2026-03-02 13:30\n    lead L1:\n'
        + INQUIRY
        + """\
        09:30  enters mql by marketing
        expect first_touch pending, due Mon 2026-03-02 14:30, at risk
        expect first_touch pending, not at risk
"""
    )
    (result,) = run_text(text)
    assert [(c.passed, c.actual) for c in result.checks] == [
        (True, "first_touch pending, due Mon 2026-03-02 14:30, at risk"),
        (False, "first_touch pending, at risk"),
    ]
    waterfall = checked(str(ROOT / "agreements" / "saas-waterfall.sla"))
    paused = """\
scenario "On hold":
    as of Fri 2026-02-06 17:00
    lead D1:
        Mon 2026-02-02 09:00  enters mql with score=70, email=pat@otter.example, country=CA
        09:10  call by sdr
        09:30  enters sal by sdr
        09:45  meeting by ae
        10:00  enters sql by sdr
        11:00  set on_hold=true
        expect ae_follow_up pending, due none
        expect ae_follow_up pending, due Wed 2026-02-04 10:00
"""
    (result,) = scenarios.run(suite_of(paused, waterfall))
    assert [(c.passed, c.actual) for c in result.checks] == [
        (True, "ae_follow_up pending, due none"),
        (False, "ae_follow_up pending, due none"),
    ]


def test_a_rule_that_ran_twice_needs_its_cycle_named() -> None:
    text = (
        'scenario "Back from nurture":\n    lead L1:\n'
        + INQUIRY
        + """\
        09:30  enters mql by marketing
        10:00  enters sal by sdr
        10:30  enters nurture by sdr with reject_reason=bad_timing
        Mon 2026-03-09 10:05  enters mql by marketing with last_engaged=2026-03-08T15:00
        10:40  email by sdr
        expect first_touch met
        expect first_touch cycle 1 cancelled
        expect first_touch cycle 2 met
"""
    )
    (result,) = run_text(text)
    assert [(c.passed, c.actual) for c in result.checks] == [
        (False, "first_touch ran 2 cycles (cycle 1 cancelled, cycle 2 met); say which one"),
        (True, "first_touch cycle 1 cancelled"),
        (True, "first_touch cycle 2 met"),
    ]


@pytest.mark.parametrize(
    ("value", "passed"),
    [("50%", True), ("1 of 2", True), ("100%", False), ("1 of 1", False), ("none", False)],
)
def test_attainment_over_the_scenario(value: str, passed: bool) -> None:
    text = (
        LATE
        + "        expect stage mql\n"
        + (
            "    lead L2:\n"
            "        Mon 2026-03-02 09:00  enters inquiry with score=90, email=jo@acme.example, "
            "last_engaged=2026-03-01T10:00\n"
            "        09:30  enters mql by marketing\n        10:00  call by sdr\n"
            "        expect stage mql\n"
            f"    expect attainment first_touch {value}\n"
        )
    )
    (result,) = run_text(text)
    (check,) = [c for c in result.checks if c.lead is None]
    assert check.passed == passed
    assert check.actual == "attainment first_touch 1 of 2 (50%)"
    assert check.about == ("L1", "L2")


def test_attainment_of_a_rule_never_judged() -> None:
    text = LATE + "        expect stage mql\n    expect attainment sal_calls none\n"
    (result,) = run_text(text)
    assert result.checks[-1].passed
    assert result.checks[-1].actual == "attainment sal_calls none (no cycle met or breached)"
    assert result.checks[-1].about == ("L1",)


def _violation(kind: ViolationKind, rule: str) -> Violation:
    from slaspec.events import Origin

    return Violation("L", kind, rule, "a.sla:1", "sdr", 0, (Origin("t", 1),), "message")


def test_each_expected_violation_gets_a_violation_of_its_own() -> None:
    stall_mql = _violation(ViolationKind.STALL, "mql")
    stall_sal = _violation(ViolationKind.STALL, "sal")
    broad = ViolationIs(ViolationKind.STALL, None, None, None)
    narrow = ViolationIs(ViolationKind.STALL, "mql", None, None)
    # The broad claim comes first and fits both; a greedy match would take `mql` from the
    # narrow one.
    pairs = scenarios._match([broad, narrow], [stall_mql, stall_sal])
    assert pairs == {0: 1, 1: 0}
    assert scenarios._match([narrow, narrow], [stall_mql, stall_sal]) == {0: 0}


# ---------------------------------------------------------------- times shown as written


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1_577_836_800, max_value=1_893_456_000),
    st.sampled_from([0, 500_000]),
    st.sampled_from(["Australia/Sydney", "America/New_York", "Pacific/Auckland", "UTC"]),
)
def test_a_time_as_shown_reads_back_as_the_same_instant(
    seconds: int, micros: int, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    instant = seconds * 1_000_000 + micros
    shown = scenarios.show_time(instant, zone)
    text = f'scenario "s":\n    as of {shown}\n    lead L:\n        {shown}  set a=1\n'
    test = scenarios.parse(Source("t.scenarios", text + "        expect stage x\n"))
    assert test.diagnostics == ()
    (scenario,) = test.scenarios
    for when in (scenario.as_of, scenario.leads[0].events[0].when):
        assert when is not None
        assert scenarios.instant(when, zone) == instant


def test_a_time_that_happens_twice_is_shown_with_its_offset() -> None:
    first = 1775316600 * 1_000_000  # 2026-04-04T15:30:00Z, 02:30 (+11:00) in Sydney
    assert scenarios.show_time(first, SYDNEY) == "Sun 2026-04-05 02:30 +11:00"
    assert scenarios.show_time(first + 3_600_000_000, SYDNEY) == "Sun 2026-04-05 02:30 +10:00"
    assert scenarios.show_time(first - 3_600_000_000, SYDNEY) == "Sun 2026-04-05 01:30"


# ---------------------------------------------------------------- the example agreements


@pytest.mark.parametrize("agreement", AGREEMENTS, ids=lambda p: p.name)
def test_each_example_agreement_passes_its_tests_with_full_coverage(agreement: Path) -> None:
    tests = agreement.with_suffix(scenarios.SUFFIX)
    assert tests.is_file(), f"{agreement.name} has no scenario tests beside it"
    source = read(str(tests))
    assert isinstance(source, Source)
    suite = scenarios.suite(scenarios.parse(source), checked(str(agreement)))
    assert suite.diagnostics == ()
    results = scenarios.run(suite)
    failed = [(r.scenario.name, [c.expected for c in r.failures]) for r in results if not r.passed]
    assert failed == []
    assert suite.agreement is not None
    report = scenarios.coverage(suite.agreement, str(agreement), results)
    missing = [(i.category, i.name, i.missing) for i in report.items if not i.covered]
    assert missing == []
    assert report.percent == 100
    assert {item.category for item in report.items} >= {"stages", "handoffs", "clocks", "tiers"}


# ---------------------------------------------------------------- coverage


def harbour_results(*names: str) -> tuple[ScenarioResult, ...]:
    path = ROOT / "agreements" / "harbour-b2b.scenarios"
    source = read(str(path))
    assert isinstance(source, Source)
    suite = scenarios.suite(scenarios.parse(source), harbour())
    return scenarios.run(suite, names)


def coverage_of(results: Sequence[ScenarioResult]) -> dict[tuple[str, str], str | None]:
    agreement = harbour().agreement
    assert agreement is not None
    report = scenarios.coverage(agreement, "harbour-b2b.sla", results)
    return {(i.category, i.name): None if i.covered else i.missing for i in report.items}


def test_a_clock_is_covered_only_when_both_outcomes_are_tested() -> None:
    met_only = coverage_of(harbour_results("A hot MQL is called within the hour"))
    assert met_only[("clocks", "first_touch")] == "breached never tested"
    assert met_only[("clocks", "sal_calls")] == "met and breached never tested"
    both = coverage_of(
        harbour_results(
            "A hot MQL is called within the hour",
            "A warm MQL called after four business hours breaches first touch",
        )
    )
    assert both[("clocks", "first_touch")] is None
    assert both[("tiers", "first_touch goal 1 business hour")] is None
    assert both[("tiers", "first_touch goal 4 business hours")] is None
    assert both[("tiers", "sql_follow_up goal 1 business day")] == "never chosen"


def test_an_outcome_the_tests_do_not_assert_is_not_tested() -> None:
    # The replay breaches first_touch, but no expectation says so.
    (silent,) = run_text(LATE + "        expect stage mql\n")
    assert coverage_of([silent])[("clocks", "first_touch")] == "met and breached never tested"
    # An expectation of the wrong outcome does not count either.
    (wrong,) = run_text(LATE + "        expect first_touch met\n")
    assert coverage_of([wrong])[("clocks", "first_touch")] == "met and breached never tested"
    (right,) = run_text(LATE + "        expect first_touch breached\n")
    assert coverage_of([right])[("clocks", "first_touch")] == "met never tested"


def test_criteria_need_to_be_seen_met_and_unmet() -> None:
    (met,) = harbour_results("A hot MQL is called within the hour")
    (unmet,) = harbour_results("A low score does not qualify a lead as an MQL")
    assert coverage_of([met])[("criteria", "inquiry -> mql")] == "unmet never seen"
    assert coverage_of([unmet])[("criteria", "inquiry -> mql")] == "met never seen"
    assert coverage_of([met, unmet])[("criteria", "inquiry -> mql")] is None
    # mql -> sal has no criteria, so it is not an item of its own.
    assert ("criteria", "mql -> sal") not in coverage_of([met])


def test_stages_handoffs_and_targets() -> None:
    covered = coverage_of(harbour_results("A lead goes all the way to a signed deal"))
    assert covered[("stages", "won")] is None
    assert covered[("stages", "lost")] == "never entered"
    assert covered[("handoffs", "opportunity -> won")] is None
    assert covered[("handoffs", "opportunity -> lost")] == "never taken"
    assert covered[("targets", "mql_volume")] is None
    assert covered[("targets", "mql_to_sql")] is None
    assert covered[("targets", "first_touch_attainment")] is None
    assert covered[("targets", "sal_worked")] is None
    # The call that works this lead comes 8 business hours after it enters sal: too late for
    # `worked by sdr within 1 business day`.
    late = coverage_of(
        harbour_results("Recycled for silence after two calls breaks the recycling rule")
    )
    assert late[("targets", "sal_worked")] is None  # called 30 minutes after entering sal
    alone = coverage_of(harbour_results("An MQL nobody has called is at risk before it breaches"))
    assert alone[("targets", "sal_worked")] == "never fed"
    assert alone[("targets", "mql_to_sql")] == "never fed"
    assert alone[("targets", "first_touch_attainment")] == "never fed"


def test_coverage_text_lists_what_is_missing() -> None:
    agreement = checked(str(ROOT / "agreements" / "solo-consultant.sla")).agreement
    assert agreement is not None
    source = read(str(ROOT / "agreements" / "solo-consultant.scenarios"))
    assert isinstance(source, Source)
    suite = scenarios.suite(
        scenarios.parse(source), checked(str(ROOT / "agreements" / "solo-consultant.sla"))
    )
    results = scenarios.run(suite, ["every inquiry*"])
    report = scenarios.coverage(agreement, "solo-consultant.sla", results)
    assert scenario_report.coverage_text(report) == [
        "Coverage of solo-consultant.sla: 16.6% (3 of 18)",
        "  stages      1 of 5   entered",
        "  handoffs    0 of 6   taken",
        "  criteria    0 of 3   seen met and unmet",
        "  clocks      1 of 2   met and breached both tested",
        "  tiers       1 of 2   chosen",
        "  not covered:",
        "    stages    discovery: never entered",
        "    stages    proposal: never entered",
        "    stages    won: never entered",
        "    stages    lost: never entered",
        "    handoffs  inquiry -> discovery: never taken",
        "    handoffs  inquiry -> lost: never taken",
        "    handoffs  discovery -> proposal: never taken",
        "    handoffs  discovery -> lost: never taken",
        "    handoffs  proposal -> won: never taken",
        "    handoffs  proposal -> lost: never taken",
        "    criteria  inquiry -> discovery: met and unmet never seen",
        "    criteria  discovery -> proposal: met and unmet never seen",
        "    criteria  proposal -> won: met and unmet never seen",
        "    clocks    proposal_sent: met and breached never tested",
        "    tiers     proposal_sent goal 5 business days: never chosen",
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal(100), "100%"),
        (Decimal("99.99"), "99.9%"),
        (Decimal(200) / 3, "66.6%"),
        (Decimal(0), "0%"),
    ],
)
def test_coverage_percentages_are_rounded_down(value: Decimal, shown: str) -> None:
    assert scenario_report.percent_text(value) == shown


def test_run_patterns_ignore_case_and_combine() -> None:
    names = [r.scenario.name for r in harbour_results("*BREACHES*", "a hot*")]
    assert names == [
        "A hot MQL is called within the hour",
        "A warm MQL called after four business hours breaches first touch",
        "An MQL nobody has called is at risk before it breaches",
    ]
    assert [r.scenario.name for r in harbour_results("?n mql left*")] == [
        "An MQL left unread for three days stalls"
    ]


# ---------------------------------------------------------------- reports and the command


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("text", "text"), ("json", "json"), ("junit", "junit.xml")]
)
def test_failing_golden(
    fmt: str, suffix: str, at_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = command(
        ["tests/data/scenarios/failing.scenarios", "--format", fmt, "--coverage"], capsys
    )
    assert (code, err) == (1, "")
    golden(CASES / f"failing.{suffix}", out)


def test_broken_golden(at_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = command(["tests/data/scenarios/broken.scenarios"], capsys)
    assert (code, err) == (2, "")
    golden(CASES / "broken.text", out)


def test_junit_is_well_formed_and_counts_add_up(
    at_root: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "report.xml"
    code, out, _ = command(
        [
            "tests/data/scenarios/failing.scenarios",
            "tests/data/scenarios/broken.scenarios",
            "agreements/solo-consultant.sla",
            "missing.scenarios",
            "--format",
            "junit",
            "-o",
            str(target),
        ],
        capsys,
    )
    assert (code, out) == (2, "")
    text = target.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [
        "slaspec test",
        "tests/data/scenarios/failing.scenarios",
        "tests/data/scenarios/broken.scenarios",
        "agreements/solo-consultant.scenarios",
    ]
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        assert int(suite.get("failures", "-1")) == len(suite.findall("testcase/failure"))
        assert int(suite.get("errors", "-1")) == len(suite.findall("testcase/error"))
        for case in cases:
            assert case.get("name") and case.get("classname")
            assert len(case) <= 1 and all(child.tag in ("failure", "error") for child in case)
            for child in case:
                assert child.get("message") and child.text
    for attribute in ("tests", "failures", "errors"):
        total = sum(int(suite.get(attribute, "0")) for suite in suites)
        assert int(root.get(attribute, "-1")) == total
    names = [case.get("name") for case in root.iter("testcase")]
    assert "A proposal <late> & unexplained" in names  # escaped in the file, read back whole
    assert "<late> &amp;" not in text and "&lt;late&gt; &amp;" in text
    (error,) = [e for e in root.iter("error") if "missing.scenarios" in (e.text or "")]
    assert error.get("message") == "SLA002 no such file: missing.scenarios"


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        pytest.param(["agreements/"], 0, id="all-pass"),
        pytest.param(["agreements/", "--coverage-threshold", "100"], 0, id="threshold-met"),
        pytest.param(["agreements/harbour-b2b.sla", "--run", "*stalls"], 0, id="run-one"),
        pytest.param(
            ["agreements/harbour-b2b.sla", "--run", "*stalls", "--coverage-threshold", "90%"],
            1,
            id="threshold-missed",
        ),
        pytest.param(["tests/data/scenarios/failing.scenarios"], 1, id="failure"),
        pytest.param(["tests/data/scenarios/broken.scenarios"], 2, id="bad-file"),
        pytest.param(
            ["tests/data/scenarios/failing.scenarios", "tests/data/scenarios/broken.scenarios"],
            2,
            id="bad-file-wins",
        ),
        pytest.param(["no/such/place"], 2, id="missing-path"),
        pytest.param(["tests/data/scenarios"], 2, id="folder-with-a-bad-file"),
        pytest.param(["docs"], 2, id="folder-without-tests"),
        pytest.param(["README.md"], 2, id="not-a-test-file"),
        pytest.param(["tests/data/replay/base.sla"], 2, id="agreement-without-tests"),
        pytest.param(["agreements/", "--run", "no such scenario"], 2, id="run-matches-nothing"),
        pytest.param(["agreements/", "--coverage-threshold", "101"], 2, id="bad-threshold"),
        pytest.param(["agreements/", "--format", "xml"], 2, id="bad-format"),
    ],
)
def test_exit_codes(
    argv: list[str], code: int, at_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command(argv, capsys)[0] == code


def test_usage_errors_say_what_is_wrong(at_root: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = command(["agreements/", "--run", "nothing*"], capsys)
    assert (code, out, err) == (2, "", "slaspec: error: --run 'nothing*' matches no scenario\n")
    code, out, err = command(["agreements/", "--coverage-threshold", "ninety"], capsys)
    assert code == 2 and "'ninety' is not a percentage such as 90" in err


def test_an_agreement_runs_every_test_file_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    agreement = (ROOT / "agreements" / "solo-consultant.sla").read_text(encoding="utf-8")
    (tmp_path / "solo.sla").write_text(agreement, encoding="utf-8")
    one = 'scenario "one":\n    lead K1:\n        Mon 2026-03-02 10:00  enters inquiry\n'
    one += "        expect stage inquiry\n"
    (tmp_path / "solo.scenarios").write_text(one, encoding="utf-8")
    (tmp_path / "solo.more.scenarios").write_text(one.replace('"one"', '"two"'), "utf-8")
    (tmp_path / "other.scenarios").write_text(one.replace('"one"', '"other"'), "utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, _ = command(["solo.sla", "--format", "json"], capsys)
    document = json.loads(out)
    assert code == 0
    assert [(f["path"], f["agreement"]) for f in document["files"]] == [
        ("solo.scenarios", "solo.sla"),
        ("solo.more.scenarios", "solo.sla"),
    ]
    # `other.scenarios` tests `other.sla`, which does not exist.
    code, out, _ = command([".", "--format", "json"], capsys)
    document = json.loads(out)
    assert code == 2
    assert [f["status"] for f in document["files"]] == ["error", "passed", "passed"]
    assert document["files"][0]["diagnostics"][0]["code"] == "SLA954"


def test_json_report_has_every_check_and_the_coverage(
    at_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = command(["agreements/", "--format", "json", "--coverage"], capsys)
    document = json.loads(out)
    assert code == 0 and document["exit_code"] == 0
    assert document["summary"] == {
        "files": 3,
        "scenarios": 32,
        "passed": 32,
        "failed": 0,
        "could_not_run": False,
    }
    assert [c["percent"] for c in document["coverage"]] == [100.0, 100.0, 100.0]
    checks = [c for f in document["files"] for s in f["scenarios"] for c in s["checks"]]
    assert checks and all(c["passed"] and c["expected"] and c["actual"] for c in checks)


# ---------------------------------------------------------------- docs/testing.md

_DOC_BLOCK = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def doc_blocks() -> list[tuple[str, str, str]]:
    """Each fenced block of docs/testing.md: (the marker comment above it, info, body)."""
    text = TESTING_DOC.read_text(encoding="utf-8")
    found = []
    for match in _DOC_BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = before if before.startswith("<!--") else ""
        found.append((marker, match.group("info").strip(), match.group("body")))
    return found


def test_testing_doc_examples_are_real(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = doc_blocks()
    assert sum(1 for _, info, _ in blocks if info == "scenarios") >= 3
    monkeypatch.chdir(tmp_path)
    shutil_source = (ROOT / "agreements" / "harbour-b2b.sla").read_text(encoding="utf-8")
    (tmp_path / "harbour-b2b.sla").write_text(shutil_source, encoding="utf-8")
    outputs = 0
    for marker, info, body in blocks:
        if info == "scenarios":
            test = scenarios.parse(Source("doc.scenarios", body))
            assert test.diagnostics == (), body
            if marker.startswith("<!-- scenarios: "):
                agreement = marker.removeprefix("<!-- scenarios: ").removesuffix(" -->")
                (tmp_path / agreement).with_suffix(scenarios.SUFFIX).write_text(body, "utf-8")
        elif marker == "<!-- test-output -->":
            command_line, _, shown = body.partition("\n")
            argv = command_line.removeprefix("$ slaspec test ").split()
            _, out, _ = command(argv, capsys)
            assert out == shown
            outputs += 1
        elif marker == "<!-- test-output: agreements -->":
            monkeypatch.chdir(ROOT)
            command_line, _, shown = body.partition("\n")
            argv = command_line.removeprefix("$ slaspec test ").split()
            code, out, _ = command(argv, capsys)
            assert code == 0
            excerpt = [line for line in shown.splitlines() if line != "..."]
            assert excerpt and all(line in out.splitlines() for line in excerpt)
            monkeypatch.chdir(tmp_path)
            outputs += 1
    assert outputs == 3


def test_every_code_of_scenario_files_is_an_error_with_a_catalogue_section() -> None:
    codes = [code for code in RULES if code.startswith("SLA95")]
    assert codes == ["SLA950", "SLA951", "SLA952", "SLA953", "SLA954"]
    assert all(RULES[code].severity is Severity.ERROR for code in codes)
    catalogue = (ROOT / "docs" / "diagnostics.md").read_text(encoding="utf-8")
    for code in codes:
        assert f"## {code} {RULES[code].name}\n" in catalogue


def test_the_timeline_shows_each_line_once_with_what_it_did() -> None:
    (result,) = run_text(LATE + "        expect first_touch met\n")
    lines = scenario_report.timeline_text(result.leads[0], result)
    assert lines[0] == (
        "  timeline of lead L1 (times in Australia/Sydney; as of Mon 2026-03-02 16:00)"
    )
    events = [line for line in lines if line.startswith("    Mon")]
    assert events == [
        "    Mon 2026-03-02 09:00  enters inquiry with score=70, email=jo@acme.example, "
        "last_engaged=2026-03-01T10:00   (line 3)",
        "    Mon 2026-03-02 09:30  enters mql by marketing   (line 4)",
        "    Mon 2026-03-02 16:00  call by sdr   (line 5)",
    ]
    assert "        - clock first_touch cycle 1: breached" in lines
    assert result.leads[0].trace[0].kind is EventKind.UPDATE  # the cells of line 3, shown once
