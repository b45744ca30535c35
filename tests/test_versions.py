"""Versioned agreements: checking a set of versions, and replay judged by the version in force.

The example pair in tests/data/versions/: 2026-01.sla (effective 2026-01-01) and 2026-03.sla
(effective 2026-03-04, so in force from 2026-03-04T00:00+11:00 in Sydney): first touch within 2
business hours (was 4), two calls within 1 business day (was 2), a new clock `sql_pickup`, and
no `nurture` stage. Sydney business hours are 09:00-12:00 and 13:00-17:30, Monday to Friday;
2026-03-02 is a Monday, and a business day is 7.5 hours.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import DATA, check_text
from slaspec import formatter, readers
from slaspec.compiler import Agreement
from slaspec.events import Event, Origin
from slaspec.replay import Engine, prepare, replay_prepared
from slaspec.results import (
    Accounting,
    Cycle,
    LeadResult,
    Outcome,
    ReplayResult,
    Violation,
    ViolationKind,
    merge,
)
from slaspec.versions import (
    SWITCH,
    LeadReplayer,
    Problem,
    VersionedEngine,
    check_versions,
    effective_instant,
    label_of,
    reading_agreement,
    replay_versions,
)
from test_replay_properties import (
    AGREEMENT,
    ENGINE,
    SETTINGS,
    Log,
    logs,
    read,
)

FOLDER = DATA / "versions"
JANUARY_NAME, MARCH_NAME = "2026-01.sla", "2026-03.sla"
JANUARY_TEXT = (FOLDER / JANUARY_NAME).read_text(encoding="utf-8")
MARCH_TEXT = (FOLDER / MARCH_NAME).read_text(encoding="utf-8")
HOUR = 3_600_000_000
SWITCH_AT = "2026-03-04T00:00:00+11:00"


def compiled(text: str, name: str) -> Agreement:
    checked = check_text(text, name)
    assert checked.agreement is not None, checked.errors
    return checked.agreement


JANUARY = compiled(JANUARY_TEXT, JANUARY_NAME)
MARCH = compiled(MARCH_TEXT, MARCH_NAME)
PAIR = VersionedEngine([MARCH, JANUARY])  # given in any order


# ---------------------------------------------------------------- logs written by hand

COLUMNS = "lead_id,timestamp,type,value,actor,team,score,email,reason\n"
TOM = ("tom@x.example", "sdr")  # sales development
SAM = ("sam@x.example", "sales")  # account executive


def row(
    lead: str,
    at: str,
    kind: str,
    value: str,
    by: tuple[str, str] = ("", ""),
    score: str = "",
    email: str = "",
    reason: str = "",
) -> str:
    """One CSV line; `at` is Sydney local time (+11:00 in March) unless it has an offset."""
    stamp = at if "+" in at else f"{at}+11:00"
    return f"{lead},{stamp},{kind},{value},{by[0]},{by[1]},{score},{email},{reason}\n"


def to_sal(lead: str, at: str) -> list[str]:
    """A lead qualified on Monday 2 March and accepted by sales at `at`."""
    return [
        row(lead, "2026-03-02T09:00:00", "stage", "inquiry"),
        row(lead, "2026-03-02T09:30:00", "stage", "mql", score="70", email="a@b.example"),
        row(lead, at, "stage", "sal"),
    ]


def items(lines: Sequence[str]) -> list[Event | readers.Rejected]:
    return list(readers.read_log(COLUMNS + "".join(lines), "log.csv", "csv", readers.ReadOptions()))


def replay_one(lines: Sequence[str], as_of: str | None = None) -> LeadResult:
    """The result of the only lead of the log, judged by the pair."""
    prepared = PAIR.prepare(items(lines), None if as_of is None else instant(as_of))
    assert prepared.accounting.rejected == 0, prepared.rejections
    (lead,) = prepared.leads
    return PAIR.replay_lead(lead, prepared.leads[lead], prepared.as_of)


def instant(text: str) -> int:
    return effective_micros(dt.datetime.fromisoformat(text))


def effective_micros(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def of_rule(result: LeadResult, rule: str) -> list[Cycle]:
    return [c for c in result.cycles if c.rule == rule]


def unlabelled(lead: LeadResult) -> LeadResult:
    return dataclasses.replace(
        lead,
        cycles=tuple(dataclasses.replace(c, version=None) for c in lead.cycles),
        violations=tuple(dataclasses.replace(v, version=None) for v in lead.violations),
    )


# ---------------------------------------------------------------- versions and instants


def test_versions_are_ordered_by_date_and_switch_at_local_midnight() -> None:
    assert [v.label for v in PAIR.versions] == ["2026.1", "2026.3"]
    assert PAIR.switches == [instant(SWITCH_AT)]
    assert PAIR.version_at(instant("2026-03-03T23:59:59+11:00")).label == "2026.1"
    assert PAIR.version_at(instant(SWITCH_AT)).label == "2026.3"
    assert PAIR.version_at(0).label == "2026.1"  # the oldest governs what came before it


@pytest.mark.parametrize(("text", "name"), [(JANUARY_TEXT, JANUARY_NAME), (MARCH_TEXT, MARCH_NAME)])
def test_the_example_versions_lint_clean_and_are_formatted(text: str, name: str) -> None:
    checked = check_text(text, name)
    assert checked.errors == ()
    assert formatter.check_formatted(checked.program.root)


@pytest.mark.parametrize(
    ("date", "zone", "expected"),
    [
        (dt.date(2026, 3, 4), "Australia/Sydney", "2026-03-03T13:00:00+00:00"),
        (dt.date(2026, 3, 4), "UTC", "2026-03-04T00:00:00+00:00"),
        # Chile's clocks jumped from 00:00 to 01:00: the day began at 01:00 -03:00.
        (dt.date(2023, 9, 3), "America/Santiago", "2023-09-03T04:00:00+00:00"),
        # ...and turned back from 00:00 to 23:00 the day before: 00:00 -04:00 is the start.
        (dt.date(2023, 4, 2), "America/Santiago", "2023-04-02T04:00:00+00:00"),
    ],
)
def test_a_version_starts_at_the_first_instant_of_its_date(
    date: dt.date, zone: str, expected: str
) -> None:
    assert effective_instant(date, zone) == instant(expected)


def test_labels_fall_back_to_the_date_then_the_file() -> None:
    assert label_of(JANUARY) == "2026.1"
    assert label_of(dataclasses.replace(JANUARY, version="")) == "effective 2026-01-01"
    assert label_of(dataclasses.replace(JANUARY, version="", effective=None)) == JANUARY_NAME


# ---------------------------------------------------------------- which version judges


@pytest.mark.parametrize(
    ("sal", "call", "version", "goal", "outcome", "elapsed"),
    [
        # Starts a second before the switch: 3 business hours to the call, within the old 4.
        ("2026-03-03T23:59:59", "2026-03-04T12:30:00", "2026.1", "4 business hours", "met", 3),
        # Starts on the switch instant: the new version, whose goal is 2 business hours.
        ("2026-03-04T00:00:00", "2026-03-04T12:30:00", "2026.3", "2 business hours", "breached", 3),
        # Runs over the switch (2.5 h on Tuesday, 1.5 h on Wednesday): the old goal, met at
        # exactly 4 business hours, though the new version was in force when it stopped.
        ("2026-03-03T15:00:00", "2026-03-04T10:30:00", "2026.1", "4 business hours", "met", 4),
        # Wholly under the new version.
        ("2026-03-04T09:00:00", "2026-03-04T10:30:00", "2026.3", "2 business hours", "met", 1.5),
    ],
)
def test_a_cycle_is_judged_by_the_version_in_force_when_it_started(
    sal: str, call: str, version: str, goal: str, outcome: str, elapsed: float
) -> None:
    lead = replay_one([*to_sal("L1", sal), row("L1", call, "activity", "call", TOM)])
    (cycle,) = of_rule(lead, "first_touch")
    assert (cycle.version, cycle.goal_text, cycle.outcome.value) == (version, goal, outcome)
    assert cycle.elapsed == int(elapsed * HOUR)
    breaches = [v for v in lead.violations if v.kind is ViolationKind.CLOCK_BREACHED]
    assert [(v.rule, v.version) for v in breaches] == (
        [("first_touch", version)] if outcome == "breached" else []
    )


@pytest.mark.parametrize(
    ("sql", "meeting", "expected"),
    [
        # Entered SQL before the new clock existed: no cycle, even for a meeting after it.
        ("2026-03-03T10:00:00", "2026-03-04T10:30:00", []),
        # Entered SQL after: the new clock runs, judged by the new version.
        ("2026-03-04T10:00:00", "2026-03-04T10:30:00", [("2026.3", Outcome.MET, HOUR // 2)]),
        (
            "2026-03-04T10:00:00",
            "2026-03-04T14:30:00",
            [("2026.3", Outcome.BREACHED, 7 * HOUR // 2)],
        ),
    ],
)
def test_a_version_adding_a_clock_judges_only_cycles_started_in_its_time(
    sql: str, meeting: str, expected: list[tuple[str, Outcome, int]]
) -> None:
    lead = replay_one(
        [
            *to_sal("L1", "2026-03-02T10:00:00"),
            row("L1", sql, "stage", "sql"),
            row("L1", meeting, "activity", "meeting", SAM),
        ]
    )
    assert [(c.version, c.outcome, c.elapsed) for c in of_rule(lead, "sql_pickup")] == expected


def test_a_stage_the_new_version_removed_is_still_read_and_leaving_it_is_judged_by_it() -> None:
    lead = replay_one(
        [
            *to_sal("L1", "2026-03-02T10:00:00"),
            row("L1", "2026-03-02T11:00:00", "activity", "call", TOM),
            row("L1", "2026-03-02T14:00:00", "activity", "call", TOM),
            # Legal under January's agreement: two calls by sdr and a reason.
            row("L1", "2026-03-03T10:00:00", "stage", "nurture", reason="no_budget"),
            # Under March's, nurture is no stage at all: no handoff leaves it.
            row("L1", "2026-03-05T10:00:00", "stage", "mql"),
        ]
    )
    (violation,) = lead.violations
    assert violation.kind is ViolationKind.ILLEGAL_TRANSITION
    assert (violation.rule, violation.version, violation.responsible) == (
        "nurture -> mql",
        "2026.3",
        None,
    )
    assert violation.clause == f"{MARCH_NAME}:1"
    assert violation.message == (
        "moved from a stage nurture to mql, and the agreement has no handoff nurture -> mql; "
        "nurture is not a stage of version 2026.3"
    )
    assert [(s.stage, s.next_stage) for s in lead.stays] == [
        ("inquiry", "mql"),
        ("mql", "sal"),
        ("sal", "nurture"),
        ("nurture", "mql"),
        ("mql", None),
    ]


def test_entering_a_removed_stage_after_the_switch_is_illegal() -> None:
    lead = replay_one(
        [*to_sal("L1", "2026-03-02T10:00:00"), row("L1", "2026-03-04T10:00:00", "stage", "nurture")]
    )
    assert [
        (v.kind, v.rule, v.version, v.message.endswith("version 2026.3")) for v in lead.violations
    ] == [(ViolationKind.ILLEGAL_TRANSITION, "sal -> nurture", "2026.3", True)]


CHAIN = [
    *to_sal("L1", "2026-03-03T09:00:00"),  # January's cadence: 2 calls within 15 business hours
    row("L1", "2026-03-04T11:00:00", "stage", "mql"),  # illegal, under March's agreement
    row("L1", "2026-03-04T12:00:00", "stage", "sal"),  # January's cadence still runs: no cycle
    row("L1", "2026-03-05T09:30:00", "stage", "mql"),  # January's cadence expired Wed 17:30
    row("L1", "2026-03-05T10:00:00", "stage", "sal"),  # so March's starts here
]


def test_a_cycle_running_over_the_switch_holds_back_the_new_versions_cycles() -> None:
    lead = replay_one(CHAIN)
    assert [
        (c.index, c.version, c.started, c.outcome, c.ended) for c in of_rule(lead, "sal_calls")
    ] == [
        (
            1,
            "2026.1",
            instant("2026-03-03T09:00:00+11:00"),
            Outcome.BREACHED,
            instant("2026-03-04T17:30:00+11:00"),
        ),
        (2, "2026.3", instant("2026-03-05T10:00:00+11:00"), Outcome.PENDING, None),
    ]
    # March's agreement alone would have opened a cycle at Wednesday 12:00 (its own cycle of
    # Tuesday had expired) and held the Thursday entry back.
    alone = Engine(MARCH)
    prepared = prepare(MARCH, items(CHAIN))
    own = alone.replay_lead("L1", prepared.leads["L1"], prepared.as_of)
    assert [c.started for c in of_rule(own, "sal_calls")] == [
        instant("2026-03-03T09:00:00+11:00"),
        instant("2026-03-04T12:00:00+11:00"),
    ]
    # January's first touch has no stop in this log: it runs to as-of, and no other starts.
    assert [(c.version, c.outcome, c.ended) for c in of_rule(lead, "first_touch")] == [
        ("2026.1", Outcome.BREACHED, None)
    ]
    assert [(v.kind, v.version) for v in lead.violations] == [
        (ViolationKind.CLOCK_BREACHED, "2026.1"),
        (ViolationKind.ILLEGAL_TRANSITION, "2026.3"),
        (ViolationKind.CADENCE_BREACHED, "2026.1"),
        (ViolationKind.ILLEGAL_TRANSITION, "2026.3"),
    ]
    assert lead.events == len(CHAIN)
    assert not any(a.type.startswith(SWITCH) for a in lead.activities)
    # The same through the one-call replay, with every row accounted for.
    whole = replay_versions([JANUARY, MARCH], items(CHAIN))
    assert whole.leads == (lead,)
    assert whole.accounting == Accounting(read=7, replayed=7)


def call_back(goal: str) -> str:
    return (
        "clock call_back:\n    starts when activity call\n    stops when activity call\n"
        f"    goal {goal}\n\n"
    )


def test_the_row_that_ends_the_old_versions_cycle_can_start_the_new_versions() -> None:
    # "The next call within the goal": each call ends a cycle and starts the next.
    engine = VersionedEngine(
        [
            compiled(
                JANUARY_TEXT.replace(
                    "cadence sal_calls", call_back("1 business day") + "cadence sal_calls"
                ),
                JANUARY_NAME,
            ),
            compiled(
                MARCH_TEXT.replace(
                    "cadence sal_calls", call_back("1 business hour") + "cadence sal_calls"
                ),
                MARCH_NAME,
            ),
        ]
    )
    calls = ["2026-03-03T10:00:00", "2026-03-04T10:00:00", "2026-03-04T12:30:00"]
    lines = [
        *to_sal("L1", "2026-03-02T10:00:00"),
        *(row("L1", at, "activity", "call") for at in calls),
    ]
    prepared = engine.prepare(items(lines))
    lead = engine.replay_lead("L1", prepared.leads["L1"], prepared.as_of)
    assert [(c.index, c.version, c.started, c.outcome) for c in of_rule(lead, "call_back")] == [
        (1, "2026.1", instant(f"{calls[0]}+11:00"), Outcome.MET),  # 7.5 h: a business day
        (2, "2026.3", instant(f"{calls[1]}+11:00"), Outcome.BREACHED),  # 2 h
        (3, "2026.3", instant(f"{calls[2]}+11:00"), Outcome.PENDING),
    ]


def test_a_stall_is_judged_by_the_version_in_force_when_the_stay_began() -> None:
    # March limits SAL to 1 business day (January: 3); SQL on Thursday 17:00.
    limit = MARCH_TEXT.replace("max dwell 3 business days", "max dwell 1 business day")
    engine = VersionedEngine([JANUARY, compiled(limit, MARCH_NAME)])

    def stalls(sal: str) -> list[tuple[str | None, int]]:
        lines = [*to_sal("L1", sal), row("L1", "2026-03-05T17:00:00", "stage", "sql")]
        prepared = engine.prepare(items(lines))
        lead = engine.replay_lead("L1", prepared.leads["L1"], prepared.as_of)
        return [(v.version, v.at) for v in lead.violations if v.kind is ViolationKind.STALL]

    # Entered on Tuesday: January's 3 days (22.5 h) are not reached by Thursday 17:00 (22 h),
    # though March's day ran out on Tuesday evening, in January's time.
    assert stalls("2026-03-03T09:00:00") == []
    # Entered on Wednesday: March's day runs out at 17:30 that day.
    assert stalls("2026-03-04T09:00:00") == [("2026.3", instant("2026-03-04T17:30:00+11:00"))]


def test_rows_are_read_with_every_versions_spellings() -> None:
    # `Lead` is an alias only January's agreement declares; `nurture` only January's stage.
    march = compiled(MARCH_TEXT.replace("    aliases Lead\n", ""), MARCH_NAME)
    engine = VersionedEngine([JANUARY, march])
    assert engine.reading.stage_for("Lead") == "inquiry"
    assert "nurture" in engine.reading.stages
    prepared = engine.prepare(items([row("L1", "2026-03-02T09:00:00", "stage", "Lead")]))
    assert prepared.accounting.rejected == 0
    assert [r.value for r in prepared.leads["L1"]] == ["inquiry"]


def test_the_reading_agreement_unites_enum_values() -> None:
    march = compiled(
        MARCH_TEXT.replace("source: enum [web, referral, event]", "source: enum [web, partner]"),
        MARCH_NAME,
    )
    source = reading_agreement([JANUARY, march]).fields["source"]
    assert [v.value for v in source.values] == ["web", "partner", "referral", "event"]


# ---------------------------------------------------------------- checking a set of versions


def problems_of(january: str, march: str) -> list[tuple[str, str, int, int]]:
    found = check_versions([check_text(january, JANUARY_NAME), check_text(march, MARCH_NAME)])
    return [(p.kind, p.file, p.line, p.column) for p in found]


def test_the_example_pair_has_no_problems() -> None:
    assert problems_of(JANUARY_TEXT, MARCH_TEXT) == []
    assert check_versions([check_text(JANUARY_TEXT, JANUARY_NAME)]) == []


Edits = tuple[tuple[str, str], ...]


@pytest.mark.parametrize(
    ("january", "march", "expected"),
    [
        (
            (),
            (('"Replay test agreement"', '"Another agreement"'),),
            [("different-agreement", JANUARY_NAME, 2, 11)],  # the newest is the reference
        ),
        # Lint requires an effective date (SLA006), so a file without one never compiles.
        ((), (("    effective 2026-03-04\n", ""),), [("not-compiled", MARCH_NAME, 1, 1)]),
        (
            (),
            (("effective 2026-03-04", "effective 2026-01-01"),),
            [("same-effective-date", MARCH_NAME, 5, 5)],
        ),
        (
            (),
            (('version "2026.3"', 'version "2026.1"'),),
            [("same-version-label", MARCH_NAME, 4, 13)],
        ),
        (
            (),
            # March moves the CRM value `Lead` from inquiry to mql.
            (
                ("    aliases Lead\n", ""),
                ("aliases marketingqualifiedlead", "aliases marketingqualifiedlead, Lead"),
            ),
            [("stage-spelling-conflict", MARCH_NAME, 39, 37)],
        ),
        (
            (),
            (("    email: string", "    email: number"),),
            [("field-type-conflict", MARCH_NAME, 13, 12)],
        ),
        (
            (),
            (
                ("clock first_touch", "clock touch_first"),
                ("cadence sal_calls", "cadence first_touch"),
            ),
            [("rule-kind-conflict", MARCH_NAME, 83, 1)],
        ),
        (
            (
                ("effective 2026-01-01", "effective 2026-03-03"),
                ("    calendar sydney\n", '    calendar sydney\n    timezone "Etc/GMT+12"\n'),
            ),
            (
                (
                    "    calendar sydney\n",
                    '    calendar sydney\n    timezone "Pacific/Kiritimati"\n',
                ),
            ),
            [("effective-order", MARCH_NAME, 5, 5)],
        ),
        (
            (),
            (("stage sql", "stage sql sql"),),
            [("not-compiled", MARCH_NAME, 1, 1)],
        ),
    ],
)
def test_problems_say_what_and_where(
    january: Edits, march: Edits, expected: list[tuple[str, str, int, int]]
) -> None:
    assert problems_of(edited(JANUARY_TEXT, january), edited(MARCH_TEXT, march)) == expected


def edited(text: str, edits: Edits) -> str:
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    return text


def test_an_engine_refuses_versions_that_cannot_be_replayed_together() -> None:
    with pytest.raises(ValueError, match="are both effective 2026-01-01"):
        VersionedEngine([JANUARY, dataclasses.replace(MARCH, effective=JANUARY.effective)])
    with pytest.raises(ValueError, match="states no effective date"):
        VersionedEngine([JANUARY, dataclasses.replace(MARCH, effective=None)])
    with pytest.raises(ValueError, match="no agreement versions"):
        VersionedEngine([])
    # A lone version needs no date: it is in force throughout.
    lone = VersionedEngine([dataclasses.replace(JANUARY, effective=None)])
    assert lone.switches == [] and lone.versions[0].starts is None


def test_problems_print_as_file_line_column() -> None:
    problem = Problem(
        "same-version-label", "both 2026.1", "a.sla", 4, 13, JANUARY.stages["mql"].clause.span, ""
    )
    assert str(problem) == "a.sla:4:13: both 2026.1"


def test_the_version_field_is_optional_and_out_of_repr() -> None:
    cycle = Cycle(**CYCLE_FIELDS)
    assert cycle.version is None
    labelled = Cycle(**CYCLE_FIELDS, version="2026.3")
    assert labelled.version == "2026.3" and labelled != cycle and repr(labelled) == repr(cycle)
    violation = Violation(**VIOLATION_FIELDS, version="2026.1")
    assert violation.version == "2026.1" and violation != Violation(**VIOLATION_FIELDS)
    assert Violation(**VIOLATION_FIELDS).version is None


CYCLE_FIELDS: dict[str, Any] = dict(
    lead="L1",
    rule="first_touch",
    kind="clock",
    index=1,
    started=0,
    start_row=Origin("log.csv", 2),
    tier=0,
    goal=HOUR,
    goal_text="1 business hour",
    calendar="sydney",
    due=HOUR,
    ended=None,
    end_row=None,
    judged_at=HOUR,
    outcome=Outcome.PENDING,
    at_risk=False,
    elapsed=0,
    wall=HOUR,
    paused=0,
    responsible="sdr",
)
VIOLATION_FIELDS: dict[str, Any] = dict(
    lead="L1",
    kind=ViolationKind.STALL,
    rule="sal",
    clause="a.sla:3",
    responsible="sdr",
    at=5,
    rows=(Origin("log.csv", 2),),
    message="stayed",
)


# ---------------------------------------------------------------- properties

BASE_TEXT = (DATA / "replay" / "base.sla").read_text(encoding="utf-8")
# The base agreement amended: shorter goals and limits, and a clock on SQLs.
AMENDED = compiled(
    BASE_TEXT.replace('version "1"', 'version "2"')
    .replace("goal 4 business hours", "goal 2 business hours")
    .replace("within 2 business days", "within 1 business day")
    .replace("max dwell 3 business days", "max dwell 1 business day")
    .replace(
        "cadence sal_calls",
        "clock sql_pickup:\n    starts when lead enters sql\n    stops when activity meeting"
        " by sales\n    goal 1 business hour\n\ncadence sal_calls",
    ),
    "amended.sla",
)
AMENDED_ENGINE = Engine(AMENDED)
# Effective dates over the span of the generated logs (2 to 16 March 2026).
DATES = st.dates(dt.date(2026, 3, 1), dt.date(2026, 3, 17))


@functools.cache
def amended_on(date: dt.date) -> tuple[Agreement, Engine, VersionedEngine]:
    """The amended agreement effective on `date`, its engine, and the pair (built once)."""
    amended = dataclasses.replace(AMENDED, effective=date)
    return amended, Engine(amended), VersionedEngine([AGREEMENT, amended])


def labelled_by(engine: VersionedEngine, lead: LeadResult) -> None:
    """Every cycle says the version in force at its start."""
    for cycle in lead.cycles:
        assert cycle.version == engine.version_at(cycle.started).label


def unlabelled_result(result: ReplayResult) -> ReplayResult:
    return dataclasses.replace(result, leads=tuple(unlabelled(lead) for lead in result.leads))


ONE = VersionedEngine([AGREEMENT])


@SETTINGS
@given(logs())
def test_one_version_gives_the_engines_result(log: Log) -> None:
    read_items = read(log.rows)
    expected = replay_prepared(ENGINE, prepare(AGREEMENT, read_items, log.as_of))
    prepared = ONE.prepare(read_items, log.as_of)
    assert prepared == prepare(AGREEMENT, read_items, log.as_of)
    actual = [ONE.replay_lead(lead, rows, prepared.as_of) for lead, rows in prepared.leads.items()]
    assert {c.version for lead in actual for c in lead.cycles} <= {"1"}
    assert {v.version for lead in actual for v in lead.violations} <= {"1"}
    assert [unlabelled(lead) for lead in actual] == list(expected.leads)


@functools.cache
def copies_on(dates: tuple[dt.date, ...]) -> VersionedEngine:
    """The base agreement and a copy of it effective on each date (built once)."""
    copies = [
        dataclasses.replace(AGREEMENT, version=f"1.{n}", effective=date)
        for n, date in enumerate(dates, 1)
    ]
    return VersionedEngine([AGREEMENT, *copies])


@SETTINGS
@given(logs(), DATES, DATES)
def test_identical_versions_give_the_engines_result_whatever_the_switches(
    log: Log, first: dt.date, second: dt.date
) -> None:
    engine = copies_on(tuple(sorted({first, second})))
    read_items = read(log.rows)
    prepared = engine.prepare(read_items, log.as_of)
    expected = replay_prepared(ENGINE, prepare(AGREEMENT, read_items, log.as_of))
    actual = [
        engine.replay_lead(lead, rows, prepared.as_of) for lead, rows in prepared.leads.items()
    ]
    for lead in actual:
        labelled_by(engine, lead)
        for v in lead.violations:
            moment = v.started if v.kind is ViolationKind.STALL else v.at
            if v.kind not in (ViolationKind.CLOCK_BREACHED, ViolationKind.CADENCE_BREACHED):
                assert moment is not None and v.version == engine.version_at(moment).label
    assert [unlabelled(lead) for lead in actual] == list(expected.leads)


@SETTINGS
@given(logs(), DATES)
def test_amended_versions_judge_by_their_own_time(log: Log, date: dt.date) -> None:
    amended, amended_engine, engine = amended_on(date)
    (switch,) = engine.switches
    read_items = read(log.rows)
    prepared = engine.prepare(read_items, log.as_of)
    own = {
        label: replay_prepared(e, prepare(a, read_items, log.as_of))
        for label, e, a in (("1", ENGINE, AGREEMENT), ("2", amended_engine, amended))
    }

    def era(label: str, moment: int) -> bool:
        return (moment < switch) == (label == "1")

    for lead, rows in prepared.leads.items():
        result = engine.replay_lead(lead, rows, prepared.as_of)
        labelled_by(engine, result)
        by_rule: dict[str, list[Cycle]] = {}
        for cycle in result.cycles:
            by_rule.setdefault(cycle.rule, []).append(cycle)
        for rule, cycles in by_rule.items():
            assert [c.index for c in cycles] == list(range(1, len(cycles) + 1))
            for before, after in itertools.pairwise(cycles):
                # One cycle of a rule at a time, across versions too.
                assert before.ended is not None and before.ended <= after.started, rule
            for cycle in cycles:
                # A rule only the amended version has (sql_pickup) is never judged by the old.
                judge = engine.version_at(cycle.started).agreement
                assert rule in judge.clocks or rule in judge.cadences
        breached = sorted(
            (c.rule, c.started, c.version) for c in result.cycles if c.outcome is Outcome.BREACHED
        )
        breaches = sorted(
            (v.rule, v.started, v.version)
            for v in result.violations
            if v.kind in (ViolationKind.CLOCK_BREACHED, ViolationKind.CADENCE_BREACHED)
        )
        assert breaches == breached
        # Findings that are not cycles, and stays, are each version's own, in its own time.
        expected_others = []
        expected_stays = []
        for label, whole in own.items():
            (mine,) = [item for item in whole.leads if item.lead == lead]
            expected_others += [
                dataclasses.replace(v, version=label)
                for v in mine.violations
                if v.kind not in (ViolationKind.CLOCK_BREACHED, ViolationKind.CADENCE_BREACHED)
                and era(label, v.started if v.kind is ViolationKind.STALL else v.at)  # type: ignore[arg-type]
            ]
            expected_stays += [s for s in mine.stays if era(label, s.entered)]
        others = [
            v
            for v in result.violations
            if v.kind not in (ViolationKind.CLOCK_BREACHED, ViolationKind.CADENCE_BREACHED)
        ]
        assert sorted(others, key=repr) == sorted(expected_others, key=repr)
        assert list(result.stays) == sorted(expected_stays, key=lambda s: s.entered)
        (newest,) = [item for item in own["2"].leads if item.lead == lead]
        assert (result.final_stage, result.owner, result.events, result.activities) == (
            newest.final_stage,
            newest.owner,
            newest.events,
            newest.activities,
        )
        assert result.attributes == newest.attributes


@SETTINGS
@given(logs(), DATES, st.randoms(use_true_random=False))
def test_results_of_disjoint_leads_merge_exactly(
    log: Log, date: dt.date, chance: random.Random
) -> None:
    _, _, versioned = amended_on(date)
    engine: LeadReplayer = versioned  # what the parallel fold sees
    read_items = read(log.rows)
    prepared = versioned.prepare(read_items, log.as_of)
    whole = ReplayResult(
        prepared.as_of,
        prepared.accounting,
        tuple(versioned.replay_lead(n, rows, prepared.as_of) for n, rows in prepared.leads.items()),
        prepared.rejections,
    )
    names = list(prepared.leads)
    chance.shuffle(names)
    cut = chance.randint(0, len(names))
    parts = [
        ReplayResult(
            prepared.as_of,
            Accounting(),
            tuple(engine.replay_lead(n, prepared.leads[n], prepared.as_of) for n in sorted(part)),
        )
        for part in (names[:cut], names[cut:])
    ]
    totals = ReplayResult(prepared.as_of, prepared.accounting, (), prepared.rejections)
    assert merge([*parts, totals]) == whole
    assert merge([totals, *reversed(parts)]) == whole


@pytest.mark.parametrize(
    ("day", "agreement"), [("2026-03-02", JANUARY), ("2026-03-05", MARCH)], ids=["before", "after"]
)
def test_a_lead_wholly_in_one_versions_time_gets_that_versions_result(
    day: str, agreement: Agreement
) -> None:
    lines = [
        row("L1", f"{day}T09:00:00", "stage", "inquiry"),
        row("L1", f"{day}T09:30:00", "stage", "mql", score="70", email="a@b.example"),
        row("L1", f"{day}T10:00:00", "stage", "sal"),
        row("L1", f"{day}T13:30:00", "activity", "call", TOM),
        row("L1", f"{day}T15:00:00", "stage", "sql"),
    ]
    lead = replay_one(lines, as_of="2026-03-09T09:00:00+11:00")
    prepared = prepare(agreement, items(lines), instant("2026-03-09T09:00:00+11:00"))
    alone = Engine(agreement).replay_lead("L1", prepared.leads["L1"], prepared.as_of)
    assert unlabelled(lead) == alone
    assert {c.version for c in lead.cycles} | {v.version for v in lead.violations} == {
        label_of(agreement)
    }


def test_a_version_dated_after_as_of_judges_nothing() -> None:
    lead = replay_one(CHAIN[:3], as_of="2026-03-03T20:00:00+11:00")
    assert {c.version for c in lead.cycles} == {"2026.1"}
    assert lead.cycles and all(
        c.judged_at == instant("2026-03-03T20:00:00+11:00") for c in lead.cycles
    )
