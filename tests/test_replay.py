"""`prepare` and the fold's shortcuts: cases the golden folders do not pin down.

The golden cases (test_replay_cases.py) and the properties (test_replay_properties.py) judge
the results; these tests pin the details of the fast paths: the replay order of rows that tie,
the default as-of before 1970, cached cell typing, and the business-clock reads the fold saves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from decimal import Decimal

import pytest

from conftest import DATA, check_text
from slaspec import nodes as n
from slaspec import readers
from slaspec.compiler import Agreement
from slaspec.events import Event, EventKind, Origin
from slaspec.replay import (
    Block,
    Engine,
    Row,
    Rows,
    TraceEntry,
    coerce,
    prepare,
    replay_prepared,
)

BASE = (DATA / "replay" / "base.sla").read_text(encoding="utf-8")
AGREEMENT = check_text(BASE, "base.sla").agreement
assert AGREEMENT is not None
ENGINE = Engine(AGREEMENT)
HOUR = 3_600_000_000


def event(
    lead: str, time: int, kind: EventKind, value: str | None, seq: int, **cells: str
) -> Event:
    return Event(
        lead=lead,
        time=time,
        kind=kind,
        value=value,
        actor=None,
        team=None,
        event_id=None,
        attributes=tuple(sorted(cells.items())),
        origin=Origin("log.csv", seq + 2),
        seq=seq,
    )


def test_rows_that_tie_on_time_kind_and_seq_keep_input_order() -> None:
    # Two reads given the same seq numbers: the stable sort keeps the order prepare saw.
    items = [
        event("A", 5, EventKind.STAGE, "mql", 0),
        event("A", 5, EventKind.STAGE, "inquiry", 0),
        event("A", 1, EventKind.ACTIVITY, "call", 0),
    ]
    rows = prepare(AGREEMENT, items).leads["A"]
    assert [(r.time, r.value, r.origin.row) for r in rows] == [
        (1, "call", 2),
        (5, "mql", 2),
        (5, "inquiry", 2),
    ]


def _lead_rows() -> tuple[Row, ...]:
    items = [
        event("A", 1 * HOUR, EventKind.STAGE, "inquiry", 0, score="72"),
        event("A", 2 * HOUR, EventKind.ACTIVITY, "call", 1),
        event("A", 3 * HOUR, EventKind.STAGE, "mql", 2),
    ]
    rows = prepare(AGREEMENT, items).leads["A"]
    assert isinstance(rows, tuple) and len(rows) == 4
    return rows


def test_a_leads_rows_in_columns_are_the_same_sequence() -> None:
    rows = _lead_rows()
    columns = Rows("A", Block.of(rows), 0, len(rows))
    assert len(columns) == 4
    assert list(columns) == list(rows)
    assert [columns[i] for i in range(-4, 4)] == [*rows, *rows]
    assert columns[1:3] == rows[1:3] and columns[::-1] == rows[::-1]
    for outside in (4, -5):
        with pytest.raises(IndexError):
            columns[outside]
    assert columns == rows and rows == columns and columns == Rows("A", Block.of(rows), 0, 4)
    assert columns != rows[:3] and columns != list(rows) and columns != "A" and columns != 4
    assert hash(columns) == hash(rows)
    assert repr(columns) == f"Rows{rows!r}"
    restored = pickle.loads(pickle.dumps(columns))
    assert type(restored) is Rows and restored == rows


def test_rows_sliced_from_a_block_without_origins() -> None:
    # As the columnar reading makes them: two leads in one block, origins made from the places.
    rows = _lead_rows()
    other = dataclasses.replace(rows[0], lead="B")
    whole = Block.of([other, *rows])
    places = [5, 9, 9, 11, 12]
    block = Block(
        whole.times,
        whole.kinds,
        whole.values,
        whole.actors,
        whole.teams,
        whole.attributes,
        whole.cells,
        places,
        100,
        None,
        "big.csv",
        2,
    )
    columns = Rows("A", block, 1, 5)
    assert [(row.seq, row.origin) for row in columns] == [
        (109, Origin("big.csv", 11)),
        (109, Origin("big.csv", 11)),
        (111, Origin("big.csv", 13)),
        (112, Origin("big.csv", 14)),
    ]
    anywhere = Origin("", 0)
    assert [dataclasses.replace(row, seq=0, origin=anywhere) for row in columns] == [
        dataclasses.replace(row, seq=0, origin=anywhere) for row in rows
    ]
    assert Rows("B", block, 0, 1)[0] == dataclasses.replace(
        other, seq=105, origin=Origin("big.csv", 7)
    )


def test_the_fold_of_columns_equals_the_fold_of_rows() -> None:
    rows = _lead_rows()
    as_of = 500 * HOUR
    traces: tuple[list[TraceEntry], list[TraceEntry]] = ([], [])
    by_rows = ENGINE.replay_lead("A", rows, as_of, traces[0])
    columns = Rows("A", Block.of(rows), 0, len(rows))
    assert ENGINE.replay_lead("A", columns, as_of, traces[1]) == by_rows
    assert traces[0] == traces[1] and len(traces[0]) == 4
    assert by_rows.events == 3 and len(by_rows.violations) == 1  # an MQL without its criteria
    # Every lead of the example logs, with its timeline: test_columnar.assert_same.
    empty = ENGINE.replay_lead("Z", Rows("Z", Block.of(()), 0, 0), as_of)
    assert empty == ENGINE.replay_lead("Z", (), as_of)
    assert (empty.first_time, empty.last_time, empty.events) == (as_of, as_of, 0)


def test_cells_of_a_stage_row_become_an_update_just_before_it() -> None:
    items = [event("A", 5, EventKind.STAGE, "Lead", 3, score="72", email="a@x.example")]
    prepared = prepare(AGREEMENT, items)
    update, stage = prepared.leads["A"]
    assert update == Row(
        "A",
        5,
        EventKind.UPDATE,
        3,
        None,
        None,
        None,
        (("email", "a@x.example"), ("score", Decimal("72"))),
        Origin("log.csv", 5),
        True,
    )
    assert (stage.kind, stage.value, stage.attributes, stage.cells) == (
        EventKind.STAGE,
        "inquiry",  # the alias `Lead` resolved
        (),
        False,
    )
    assert prepared.accounting.replayed == 1


def test_default_as_of_is_the_latest_kept_instant_even_before_1970() -> None:
    items = [
        event("A", -5 * HOUR, EventKind.STAGE, "inquiry", 0),
        event("A", -2 * HOUR, EventKind.STAGE, "mql", 1),
    ]
    prepared = prepare(AGREEMENT, items)
    assert prepared.as_of == -2 * HOUR
    assert prepare(AGREEMENT, []).as_of == 0


def test_a_cell_is_typed_once_and_a_bad_one_rejects_only_its_row() -> None:
    items = [
        event("A", 1, EventKind.UPDATE, None, 0, score="85"),
        event("B", 1, EventKind.UPDATE, None, 1, score="85"),
        event("C", 1, EventKind.UPDATE, None, 2, score="85%"),
        event("C", 2, EventKind.UPDATE, None, 3, score="85%"),
    ]
    prepared = prepare(AGREEMENT, items)
    (a,) = prepared.leads["A"]
    (b,) = prepared.leads["B"]
    assert a.attributes == (("score", Decimal("85")),)
    assert a.attributes[0] is b.attributes[0]  # the same typed pair, shared
    assert "C" not in prepared.leads
    assert [(d.code, d.row) for d in prepared.rejections] == [("SLA911", 4), ("SLA911", 5)]
    assert prepared.accounting.rejected == 2 and prepared.accounting.balanced


def test_dwell_and_stalls_agree_whether_or_not_the_entry_clock_was_reused() -> None:
    # inquiry -> mql -> sal -> sql within a day, and sal held past its 3-day limit: each stay's
    # business dwell must equal the calendar's elapsed time over the stay.
    text = (
        "lead_id,timestamp,type,value,score,email\n"
        "A,2026-03-02T09:00:00+11:00,stage,inquiry,90,a@x.example\n"
        "A,2026-03-02T09:00:00+11:00,stage,mql,,\n"
        "A,2026-03-02T11:00:00+11:00,stage,sal,,\n"
        "A,2026-03-09T15:00:00+11:00,stage,sql,,\n"
    )
    items = list(readers.read_log(text, "log.csv", "csv", readers.ReadOptions()))
    (lead,) = replay_prepared(ENGINE, prepare(AGREEMENT, items)).leads
    calendar = ENGINE.calendars["sydney"]
    for stay in lead.stays:
        end = stay.left if stay.left is not None else lead.last_time
        assert stay.dwell == calendar.elapsed(stay.entered, end), stay
    stalls = [v for v in lead.violations if v.kind.value == "stall"]
    assert [v.rule for v in stalls] == ["sal"]
    working_day = 7 * HOUR + HOUR // 2  # 09:00-12:00 and 13:00-17:30
    assert stalls[0].at == calendar.deadline(stalls[0].started or 0, 3 * working_day)
    # The same rows replayed one by one give the same lead.
    again = ENGINE.replay_lead("A", prepare(AGREEMENT, items).leads["A"], lead.last_time)
    assert dataclasses.asdict(again) == dataclasses.asdict(lead)


_TWO_CADENCES = check_text(
    BASE
    + """
cadence sal_touches "One call or e-mail":
    starts when lead enters sal
    requires at least 1 call, email by sdr within 1 business day
    exits when lead enters sql
    responsible sdr
""",
    "base.sla",
).agreement
assert _TWO_CADENCES is not None
TWO_CADENCES: Agreement = _TWO_CADENCES
MONDAY_9 = 1_772_402_400_000_000  # 2026-03-02T09:00:00+11:00


def staged(lead: str, *steps: tuple[int, EventKind, str | None]) -> list[Event]:
    """Rows of one lead, `hours` after Monday 09:00, all by an SDR."""
    return [
        dataclasses.replace(
            event(lead, MONDAY_9 + hours * HOUR, kind, value, seq), actor="tom@x.example"
        )
        for seq, (hours, kind, value) in enumerate(steps)
    ]


def test_one_call_counts_for_every_cadence_that_counts_calls() -> None:
    items = staged(
        "A",
        (0, EventKind.STAGE, "sal"),
        (1, EventKind.ACTIVITY, "call"),
        (2, EventKind.ACTIVITY, "call"),
    )
    result = replay_prepared(Engine(TWO_CADENCES), prepare(TWO_CADENCES, items)).leads[0]
    outcomes = {(c.rule, c.count, c.outcome.value, c.ended) for c in result.cycles}
    assert outcomes == {
        ("first_touch", 0, "met", MONDAY_9 + HOUR),
        ("sal_touches", 1, "met", MONDAY_9 + HOUR),  # met by the first call, closed there
        ("sal_calls", 2, "met", MONDAY_9 + 2 * HOUR),  # both calls counted
    }


def test_cadences_that_expire_at_one_event_all_close_at_their_due_instants() -> None:
    # No activity: the update a week later finds both windows (one and two business days)
    # gone, and each cadence closes as breached at its own due instant.
    items = staged("A", (0, EventKind.STAGE, "sal"), (24 * 7, EventKind.UPDATE, None))
    result = replay_prepared(Engine(TWO_CADENCES), prepare(TWO_CADENCES, items)).leads[0]
    breached = {
        (c.rule, c.outcome.value, c.due, c.judged_at) for c in result.cycles if c.kind == "cadence"
    }
    # A working day is 7.5 hours (09:00-12:00, 13:00-17:30): due on Monday and Tuesday 17:30.
    monday_close, tuesday_close = MONDAY_9 + 8 * HOUR + HOUR // 2, MONDAY_9 + 32 * HOUR + HOUR // 2
    assert breached == {
        ("sal_touches", "breached", monday_close, monday_close),
        ("sal_calls", "breached", tuesday_close, tuesday_close),
    }
    assert [v.rule for v in result.violations if v.kind.value == "cadence_breached"] == [
        "sal_touches",
        "sal_calls",
    ]


def test_an_engine_asked_for_some_attributes_shows_only_those() -> None:
    items = [
        event("A", 1, EventKind.STAGE, "inquiry", 0, score="72", email="a@x.example"),
        event("A", 2, EventKind.UPDATE, None, 1, source="referral"),
    ]
    prepared = prepare(AGREEMENT, items)
    (rows,) = prepared.leads.values()

    def shown(engine: Engine) -> tuple[tuple[str, str], ...]:
        return engine.replay_lead("A", rows, prepared.as_of).attributes

    every = (("email", "a@x.example"), ("score", "72"), ("source", "referral"))
    assert shown(ENGINE) == every
    assert shown(Engine(AGREEMENT, ["source", "score", "not_set_here"])) == every[1:]
    assert shown(Engine(AGREEMENT, ())) == ()
    # Everything else in the result is the same.
    full = ENGINE.replay_lead("A", rows, prepared.as_of)
    some = Engine(AGREEMENT, ()).replay_lead("A", rows, prepared.as_of)
    assert dataclasses.replace(full, attributes=()) == some


# Dates and instants outside the years business calendars cover do not fit their field: typed
# anyway, a clock or a `within` check would have nothing to measure them with.
_SYDNEY = "Australia/Sydney"


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        ("datetime", "9999-12-31T23:59:59-05:00"),  # past year 9999 in UTC
        ("datetime", "0001-01-01T00:00:00+05:00"),  # before year 1 in UTC
        ("datetime", "1850-06-01T09:00:00+10:00"),
        ("datetime", "1900-01-01T09:00:00"),  # Sydney's midnight UTC+10 hours: 1899 in UTC
        ("datetime", "2200-01-01T00:00:00Z"),
        ("date", "1850-06-01"),
        ("date", "1900-01-01"),  # its midnight in Sydney is still 1899 in UTC
        ("date", "2200-01-01"),
        ("date", "9999-12-31"),
    ],
)
def test_cells_outside_the_years_covered_do_not_fit(kind: str, raw: str) -> None:
    field = n.FieldType(kind=kind)
    with pytest.raises(ValueError, match="outside the years 1900-2199"):
        coerce(kind, raw, field, _SYDNEY)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("datetime", "1900-01-01T10:00:00+10:00", dt.datetime(1900, 1, 1, tzinfo=dt.UTC)),
        ("datetime", "2199-12-31T23:59:59Z", dt.datetime(2199, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
        ("date", "1900-01-02", dt.date(1900, 1, 2)),
        ("date", "2199-12-31", dt.date(2199, 12, 31)),
    ],
)
def test_cells_at_the_edges_of_the_years_covered_fit(kind: str, raw: str, expected: object) -> None:
    assert coerce(kind, raw, n.FieldType(kind=kind), _SYDNEY) == expected


def test_a_cell_outside_the_years_covered_rejects_its_row_only() -> None:
    items = [
        event("A", 1, EventKind.UPDATE, None, 0, closed_at="9999-12-31T23:59:59-05:00"),
        event("B", 1, EventKind.UPDATE, None, 1, closed_at="2026-03-02T09:00:00+11:00"),
    ]
    agreement = dataclasses.replace(
        AGREEMENT, fields={**AGREEMENT.fields, "closed_at": n.FieldType(kind="datetime")}
    )
    prepared = prepare(agreement, items)
    assert list(prepared.leads) == ["B"]
    [rejected] = prepared.rejections
    assert (rejected.code, rejected.row) == ("SLA911", 2)
    assert "outside the years 1900-2199" in rejected.message
