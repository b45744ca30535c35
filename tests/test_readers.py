"""Tests for slaspec.readers and slaspec.events: golden logs, tricky cells, DST, properties."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaspec.diagnostics import RULES, Diagnostic, Severity
from slaspec.events import EVENT_TYPES, Event, EventKind, Origin, sort_key
from slaspec.readers import (
    GOOD_TIMESTAMP,
    LogFormat,
    ReadCounter,
    ReadOptions,
    ReadStats,
    Rejected,
    _EventDraft,
    check_options,
    decode,
    read_log,
    sniff_format,
)

LOGS = Path(__file__).parent / "data" / "logs"
# Set to rewrite the .expected files from the current output; review the diff before keeping it.
REWRITE = os.environ.get("SLASPEC_REWRITE_GOLDENS") == "1"
UTC = dt.UTC


def utc(text: str) -> int:
    """Microseconds since the epoch of an ISO 8601 instant (test oracle: datetime arithmetic)."""
    instant = dt.datetime.fromisoformat(text)
    assert instant.tzinfo is not None
    return (instant - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1)


def iso(micros: int) -> str:
    return (dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=micros)).isoformat()


def read_all(
    text: str | Iterable[str],
    fmt: LogFormat = "csv",
    options: ReadOptions | None = None,
    name: str = "log.csv",
    start_seq: int = 0,
) -> tuple[list[Event | Rejected], ReadStats]:
    counter = ReadCounter()
    items = list(read_log(text, name, fmt, options or ReadOptions(), start_seq, counter))
    return items, counter.freeze()


def events(items: Iterable[Event | Rejected]) -> list[Event]:
    return [item for item in items if isinstance(item, Event)]


def rejections(items: Iterable[Event | Rejected]) -> list[Rejected]:
    return [item for item in items if isinstance(item, Rejected)]


def only_rejection(
    text: str, fmt: LogFormat = "csv", options: ReadOptions | None = None
) -> Diagnostic:
    items, _ = read_all(text, fmt, options)
    [rejected] = rejections(items)
    return rejected.diagnostic


# --- golden logs ------------------------------------------------------------------------------


def render(items: list[Event | Rejected], stats: ReadStats) -> str:
    """The reader's output as reviewed text: one line per event, message and help per rejection."""
    out = [
        f"stats: rows={stats.rows} events={stats.events} rejected={stats.rejected} "
        f"blank_lines={stats.blank_lines} dst_resolved={stats.dst_resolved} "
        f"file_errors={stats.file_errors}"
    ]
    for note in stats.notes:
        out.append(f"note {note.code} {note.severity.value} row={note.row}: {note.message}")
        out.append(f"    help: {note.help}")
    for item in items:
        if isinstance(item, Event):
            attributes = ", ".join(f"{k}={v!r}" for k, v in item.attributes)
            out.append(
                f"event line {item.origin.row} seq {item.seq}: {item.lead!r} {iso(item.time)} "
                f"{item.kind.name.lower()} value={item.value!r} actor={item.actor!r} "
                f"team={item.team!r} id={item.event_id!r} {{{attributes}}}"
            )
        else:
            found = item.diagnostic
            scope = "file" if item.whole_file else "row"
            out.append(
                f"rejected {scope} line {item.origin.row} {found.code} {found.severity.value} "
                f"row={found.row} column={found.column}: {found.message}"
            )
            out.append(f"    help: {found.help}")
    return "\n".join(out) + "\n"


def golden_output(path: Path) -> str:
    options_path = path.with_suffix(".options.json")
    options = ReadOptions()
    if options_path.exists():
        options = ReadOptions(**json.loads(options_path.read_text(encoding="utf-8")))
    data = path.read_bytes()
    text = decode(data, path.name)
    if isinstance(text, Diagnostic):
        return f"undecodable {text.code} row={text.row}: {text.message}\n    help: {text.help}\n"
    items, stats = read_all(text, sniff_format(path.name, data[:64]), options, path.name)
    return render(items, stats)


GOLDEN_LOGS = sorted([*LOGS.glob("*.csv"), *LOGS.glob("*.jsonl")])


@pytest.mark.parametrize("path", GOLDEN_LOGS, ids=[p.name for p in GOLDEN_LOGS])
def test_golden_log(path: Path) -> None:
    expected_path = path.with_name(path.name + ".expected")
    actual = golden_output(path)
    if REWRITE:
        expected_path.write_text(actual, encoding="utf-8")
    assert actual == expected_path.read_text(encoding="utf-8")


def test_every_golden_has_an_expectation() -> None:
    expected = {p.name.removesuffix(".expected") for p in LOGS.glob("*.expected")}
    assert expected == {p.name for p in GOLDEN_LOGS}


def test_golden_canonical_example_times() -> None:
    items, stats = read_all((LOGS / "canonical.csv").read_text(encoding="utf-8"))
    assert stats == ReadStats(rows=6, events=6)
    first, update, *_, won = events(items)
    assert first.time == utc("2026-03-01T22:15:00+00:00")
    assert won.time == utc("2026-04-20T06:00:00+00:00")
    assert update.kind is EventKind.UPDATE and update.value is None
    assert update.attributes == (("email", "ann@example.com.au"), ("score", "72"))
    assert won.attributes == (("amount", "18500"),)


# --- CSV details ------------------------------------------------------------------------------

HEADER = "lead_id,timestamp,type,value\n"


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(HEADER + "L-1,2026-03-02T09:15:00Z,stage,mql\n", id="str"),
        pytest.param(io.StringIO(HEADER + "L-1,2026-03-02T09:15:00Z,stage,mql\n"), id="StringIO"),
        pytest.param([HEADER, "L-1,2026-03-02T09:15:00Z,stage,mql"], id="list-no-final-newline"),
    ],
)
def test_stream_kinds(stream: str | Iterable[str]) -> None:
    items, stats = read_all(stream)
    assert stats.events == 1
    assert events(items)[0].origin == Origin("log.csv", 2)


def test_file_opened_with_newline_empty(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(
        b'lead_id,timestamp,type,value,note\r\nL-1,2026-03-02T09:15:00Z,stage,mql,"a\r\nb"\r\n'
    )
    with path.open(encoding="utf-8", newline="") as stream:
        items, _ = read_all(stream)
    assert events(items)[0].attributes == (("note", "a\r\nb"),)


def test_quoted_newline_keeps_first_line_number_and_counts_following_lines() -> None:
    text = HEADER.replace("\n", ",note\n") + (
        'L-1,2026-03-02T09:15:00Z,stage,mql,"one\ntwo\nthree"\nL-1,2026-03-02T09:16:00Z,stage,sal,\n'
    )
    first, second = events(read_all(text)[0])
    assert first.origin.row == 2 and first.attributes == (("note", "one\ntwo\nthree"),)
    assert second.origin.row == 5


def test_cells_trimmed_and_empty_cells_carry_no_value() -> None:
    text = " lead_id ,timestamp, type ,value,actor,team,event_id,score\n"
    text += "  L-1  , 2026-03-02T09:15:00Z ,  stage , mql ,  ,\t, ,  \n"
    [event] = events(read_all(text)[0])
    assert (event.lead, event.value, event.actor, event.team, event.event_id) == (
        "L-1",
        "mql",
        None,
        None,
        None,
    )
    assert event.attributes == ()


def test_unknown_columns_are_sorted_attributes_and_case_sensitive() -> None:
    text = (
        "lead_id,timestamp,type,value,zeta,Type,alpha\nL-1,2026-03-02T09:15:00Z,stage,mql,z,T,a\n"
    )
    [event] = events(read_all(text)[0])
    assert event.attributes == (("Type", "T"), ("alpha", "a"), ("zeta", "z"))


def test_one_attribute_column() -> None:
    text = "lead_id,timestamp,type,value,score\nL-1,2026-03-02T09:15:00Z,update,,5\n"
    [event] = events(read_all(text)[0])
    assert event.attributes == (("score", "5"),)


def test_repeated_strings_are_interned() -> None:
    text = HEADER + "".join(f"L-{i % 2},2026-03-02T09:1{i}:00Z,stage,mql\n" for i in range(4))
    found = events(read_all(text)[0])
    assert found[0].lead is found[2].lead
    assert found[0].value is found[3].value


def test_rejected_row_claims_a_seq_and_start_seq_continues() -> None:
    text = (
        HEADER
        + "L-1,2026-03-02T09:15:00Z,stage,mql\n,bad,stage,mql\nL-2,2026-03-02T09:15:00Z,stage,mql\n"
    )
    items, stats = read_all(text, start_seq=10)
    assert [e.seq for e in events(items)] == [10, 12]
    assert stats.rows == 3
    more, _ = read_all(text, start_seq=10 + stats.rows, name="b.csv")
    assert [e.seq for e in events(more)] == [13, 15]
    assert events(more)[0].origin == Origin("b.csv", 2)


def test_counter_adds_up_over_several_files() -> None:
    counter = ReadCounter()
    for name in ("a.csv", "b.csv"):
        for _ in read_log(
            HEADER + "L,2026-03-02T09:15:00Z,stage,mql\n\n", name, "csv", ReadOptions(), 0, counter
        ):
            pass
    assert counter.freeze() == ReadStats(rows=2, events=2, blank_lines=2)


def test_counter_is_complete_when_the_reader_is_closed_early() -> None:
    counter = ReadCounter()
    rows = "L-1,2026-03-02T09:15:00Z,stage,mql\n,x,stage,mql\nL-2,2026-03-02T09:15:00Z,stage,sal\n"
    reader = read_log(HEADER + rows, "log.csv", "csv", ReadOptions(), 0, counter)
    assert isinstance(next(reader), Event) and isinstance(next(reader), Rejected)
    reader.close()  # type: ignore[attr-defined]
    assert counter.freeze() == ReadStats(rows=2, events=1, rejected=1)


def test_header_only_is_a_warning_not_an_error() -> None:
    items, stats = read_all(HEADER)
    assert items == [] and stats.rows == 0 and stats.file_errors == 0
    [note] = stats.notes
    assert note.code == "SLA901" and note.severity is Severity.WARNING and note.row == 1


def test_empty_file_is_an_error() -> None:
    items, stats = read_all("")
    [rejected] = items
    assert isinstance(rejected, Rejected) and rejected.whole_file
    assert rejected.diagnostic.severity is Severity.ERROR
    assert stats == ReadStats(file_errors=1)


def test_bad_header_stops_the_file_and_reads_no_rows() -> None:
    items, stats = read_all("lead_id,type,value\nL-1,stage,mql\nL-2,stage,mql\n")
    [rejected] = items
    assert isinstance(rejected, Rejected) and rejected.whole_file
    assert rejected.diagnostic.code == "SLA902" and rejected.diagnostic.column == "timestamp"
    assert stats.rows == 0 and stats.file_errors == 1


@pytest.mark.parametrize(
    ("header", "help_part"),
    [
        ("Lead ID,timestamp,type", "rename column `Lead ID` to `lead_id`"),
        ("LEAD_ID,timestamp,type", "rename column `LEAD_ID` to `lead_id`"),
        ("lead,timestamp,type", "did you mean `lead`? If so, rename it to `lead_id`"),
        ("lead_id;timestamp;type", "semicolons"),
        ("lead_id\ttimestamp\ttype", "tabs"),
        ("id,timestamp,type", "add a `lead_id` column"),
    ],
)
def test_missing_column_help(header: str, help_part: str) -> None:
    items, _ = read_all(header + "\n")
    diagnostic = rejections(items)[0].diagnostic
    assert diagnostic.code == "SLA902" and diagnostic.row == 1
    assert help_part in (diagnostic.help or "")


def test_quoted_header() -> None:
    items, _ = read_all(
        '"lead_id","timestamp","type","value"\nL-1,2026-03-02T09:15:00Z,stage,mql\n'
    )
    assert len(events(items)) == 1


def test_header_with_csv_error_is_a_file_error() -> None:
    items, stats = read_all('"lead_id"x,timestamp,type\n')
    [rejected] = rejections(items)
    assert rejected.whole_file and rejected.diagnostic.code == "SLA909"
    assert stats.file_errors == 1


@pytest.mark.parametrize(
    ("row", "code", "column"),
    [
        ("L-1,2026-03-02T09:15:00Z,stage", "SLA909", None),
        ("L-1,2026-03-02T09:15:00Z,stage,mql,extra", "SLA909", None),
        ('L-1,2026-03-02T09:15:00Z,stage,"mql"x', "SLA909", None),
        ("L-1,2026-03-02T09:15:00Z,stage,m\x00ql", "SLA909", "value"),
        ('L-1,2026-03-02T09:15:00Z,stage,"m\x00ql"', "SLA909", "value"),
        (",2026-03-02T09:15:00Z,stage,mql", "SLA912", "lead_id"),
        (",nonsense,stage,mql", "SLA912", "lead_id"),
        ("L-1,,stage,mql", "SLA903", "timestamp"),
        ("L-1,2026-03-02T09:15:00Z,,mql", "SLA907", "type"),
        ("L-1,2026-03-02T09:15:00Z,STAGE,mql", "SLA907", "type"),
        ("L-1,2026-03-02T09:15:00Z,activity,", "SLA908", "value"),
        ("L-1,2026-03-02T09:15:00Z,assign,", "SLA908", "value"),
        ("L-1,2026-03-02T09:15:00Z,update,mql", "SLA909", "value"),
        ("lead_id,timestamp,type,value", "SLA909", None),
    ],
)
def test_row_rejections(row: str, code: str, column: str | None) -> None:
    diagnostic = only_rejection(HEADER + "L-0,2026-03-02T09:15:00Z,stage,mql\n" + row + "\n")
    assert (diagnostic.code, diagnostic.column, diagnostic.row, diagnostic.file) == (
        code,
        column,
        3,
        "log.csv",
    )
    assert (diagnostic.file, diagnostic.row) == ("log.csv", 3)
    assert "log.csv" not in diagnostic.message, "the reporter prints where; the message says what"
    assert diagnostic.help


def test_type_did_you_mean() -> None:
    diagnostic = only_rejection(HEADER + "L-1,2026-03-02T09:15:00Z,Activity,call\n")
    assert diagnostic.help == "did you mean `activity`?"
    assert "`stage`, `activity`, `update`, `assign`" in diagnostic.message


def test_missing_value_column_says_so() -> None:
    diagnostic = only_rejection("lead_id,timestamp,type\nL-1,2026-03-02T09:15:00Z,stage\n")
    assert diagnostic.code == "SLA908" and "no `value` column" in diagnostic.message


def test_unclosed_quote_runs_to_end_of_file() -> None:
    text = HEADER + 'L-1,2026-03-02T09:15:00Z,stage,"mql\nL-2,2026-03-02T09:15:00Z,stage,sal\n'
    items, stats = read_all(text)
    [rejected] = items
    assert isinstance(rejected, Rejected)
    assert rejected.origin.row == 2 and "never closed" in rejected.diagnostic.message
    assert "line 2 to line 3" in rejected.diagnostic.message
    assert stats.rows == 1


def test_ragged_multiline_record_names_its_lines() -> None:
    text = (
        HEADER + 'L-1,2026-03-02T09:15:00Z,stage,"a\nb",extra\nL-2,2026-03-02T09:15:00Z,stage,sal\n'
    )
    items, _ = read_all(text)
    first, second = items
    assert isinstance(first, Rejected) and "runs to line 3" in first.diagnostic.message
    assert isinstance(second, Event) and second.origin.row == 4


@pytest.mark.parametrize("separator", ["\u2028", "\x0c", "\x85", "\x1e"])
def test_only_cr_and_lf_break_lines_in_text(separator: str) -> None:
    text = HEADER.replace("\n", ",note\n") + f"L-1,2026-03-02T09:15:00Z,stage,mql,a{separator}b\n"
    items, _ = read_all(text)
    assert events(items)[0].attributes == (("note", f"a{separator}b"),)
    if separator >= " ":  # JSON strings may not hold raw control characters
        line = ROW + f', "type": "update", "note": "a{separator}b"}}\n'
        assert events(read_all(line, "jsonl")[0])[0].attributes == (("note", f"a{separator}b"),)


def test_lone_cr_line_endings() -> None:
    items, stats = read_all("lead_id,timestamp,type,value\rL-1,2026-03-02T09:15:00Z,stage,mql\r")
    assert stats.events == 1 and events(items)[0].origin.row == 2


# --- timestamps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-02T09:15:00+11:00", "2026-03-01T22:15:00+00:00"),
        ("2026-03-02T09:15:00Z", "2026-03-02T09:15:00+00:00"),
        ("2026-03-02t09:15:00z", "2026-03-02T09:15:00+00:00"),
        ("2026-03-02 09:15:00Z", "2026-03-02T09:15:00+00:00"),
        ("2026-03-02T09:15Z", "2026-03-02T09:15:00+00:00"),
        ("2026-03-02T09:15:00+1100", "2026-03-01T22:15:00+00:00"),
        ("2026-03-02T09:15:00+11", "2026-03-01T22:15:00+00:00"),
        ("2026-03-02T09:15:00-03:30", "2026-03-02T12:45:00+00:00"),
        ("2026-03-02T09:15:00.5Z", "2026-03-02T09:15:00.500000+00:00"),
        ("2026-03-02T09:15:00.000001+00:00", "2026-03-02T09:15:00.000001+00:00"),
        ("2026-03-02T09:15:00.123456-05:00", "2026-03-02T14:15:00.123456+00:00"),
        ("2026-03-02T00:00:00+14:00", "2026-03-01T10:00:00+00:00"),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59+00:00"),
        # The first and last instants business calendars cover.
        ("1900-01-01T00:00:00Z", "1900-01-01T00:00:00+00:00"),
        ("1900-01-01T05:30:00+05:30", "1900-01-01T00:00:00+00:00"),
        ("2199-12-31T23:59:59.999999Z", "2199-12-31T23:59:59.999999+00:00"),
        ("2200-01-01T09:59:59+10:00", "2199-12-31T23:59:59+00:00"),
        ("2024-02-29T23:59:59-12:00", "2024-03-01T11:59:59+00:00"),
    ],
)
def test_accepted_timestamps(text: str, expected: str) -> None:
    [event] = events(read_all(HEADER + f"L-1,{text},stage,mql\n")[0])
    assert event.time == utc(expected)


def test_same_text_twice_uses_the_cache_and_agrees() -> None:
    rows = [
        f"L-1,2026-03-02T09:{m:02d}:{s:02d}+05:30,stage,mql\n" for m in (0, 59) for s in (0, 59)
    ]
    found = events(read_all(HEADER + "".join(rows * 2))[0])
    assert [e.time for e in found[:4]] == [e.time for e in found[4:]]
    assert found[3].time == utc("2026-03-02T09:59:59+05:30")


def test_an_hour_of_the_first_or_last_year_is_read_whole_every_time() -> None:
    # Hours are kept and reused with any minutes and offset; an hour of 1900 or 2199 is not,
    # since an offset can take it outside the years covered.
    rows = [
        "L-1,1900-01-01T10:00:00+05:00,stage,mql\n",  # 1900-01-01T05:00Z
        "L-1,1900-01-01T10:00:00+11:00,stage,mql\n",  # 1899-12-31T23:00Z
        "L-1,2199-12-31T20:00:00Z,stage,mql\n",
        "L-1,2199-12-31T20:00:00-05:00,stage,mql\n",  # 2200-01-01T01:00Z
    ]
    items, _ = read_all(HEADER + "".join(rows))
    assert [e.time for e in events(items)] == [
        utc("1900-01-01T05:00:00+00:00"),
        utc("2199-12-31T20:00:00+00:00"),
    ]
    assert [(r.diagnostic.code, r.diagnostic.row) for r in rejections(items)] == [
        ("SLA903", 3),
        ("SLA903", 5),
    ]


def test_a_local_time_outside_the_years_covered() -> None:
    options = ReadOptions(log_timezone="Asia/Tokyo")  # UTC+9 since 1888
    diagnostic = only_rejection(HEADER + "L-1,1900-01-01T05:00:00,stage,mql\n", options=options)
    assert diagnostic.code == "SLA903" and "outside the years 1900-2199" in diagnostic.message
    items, _ = read_all(HEADER + "L-1,1900-01-01T15:00:00,stage,mql\n", options=options)
    assert [e.time for e in events(items)] == [utc("1900-01-01T06:00:00+00:00")]


@pytest.mark.parametrize(
    ("text", "code", "hint"),
    [
        ("02/03/2026 09:15", "SLA903", "slashes"),
        ("1772403300", "SLA903", "Unix epoch"),
        ("2026-03-02", "SLA903", "date without a time"),
        ("2026-03-02Z", "SLA903", "date without a time"),
        ("2026-02-30T09:15:00Z", "SLA903", "not a real date"),
        ("2026-03-02T24:00:00Z", "SLA903", "not a real time"),
        ("2026-03-02T09:60:00Z", "SLA903", "not a real time"),
        ("2026-03-02T09:15:60Z", "SLA903", "not a real time"),
        ("2026-03-02T09:15:00.1234567Z", "SLA903", "at most 6 digits"),
        ("2026-03-02T09:15:00+19:00", "SLA903", "outside -18:00 to +18:00"),
        ("2026-03-02T09:15:00+10:60", "SLA903", "outside -18:00 to +18:00"),
        ("2026-03-02T09", "SLA903", "not an ISO 8601 instant"),
        ("20260302T091500Z", "SLA903", "not an ISO 8601 instant"),
        ("2026-W10-1T09:15:00Z", "SLA903", "not an ISO 8601 instant"),
        ("2026-03-02T09:15:00 +11:00", "SLA903", "not an ISO 8601 instant"),
        ("2026-03-02T09:15:00,5Z", "SLA903", "not an ISO 8601 instant"),
        ("٢٠٢٦-03-02T09:15:00Z", "SLA903", "not an ISO 8601 instant"),
        ("2026-03-02T09:15:00", "SLA904", "no UTC offset"),
        ("2026-03-02 09:15", "SLA904", "no UTC offset"),
        # Outside the years business calendars cover.
        ("0001-01-01T00:00:00Z", "SLA903", "outside the years 1900-2199"),
        ("1850-01-01T09:00:00+11:00", "SLA903", "outside the years 1900-2199"),
        ("1899-12-31T23:59:59.999999Z", "SLA903", "outside the years 1900-2199"),
        ("1900-01-01T05:29:59+05:30", "SLA903", "outside the years 1900-2199"),
        ("2199-12-31T23:30:00-05:00", "SLA903", "outside the years 1900-2199"),
        ("2200-01-01T00:00:00Z", "SLA903", "outside the years 1900-2199"),
        ("9999-12-31T23:59:59-05:00", "SLA903", "outside the years 1900-2199"),
    ],
)
def test_rejected_timestamps(text: str, code: str, hint: str) -> None:
    cell = f'"{text}"' if "," in text else text
    diagnostic = only_rejection(HEADER + f"L-1,{cell},stage,mql\n")
    assert diagnostic.code == code and diagnostic.column == "timestamp"
    assert hint in diagnostic.message + (diagnostic.help or "")
    if code == "SLA903":
        assert GOOD_TIMESTAMP in (diagnostic.help or "") or "T09:00:00+11:00" in (
            diagnostic.help or ""
        )


SYDNEY = "Australia/Sydney"
NEW_YORK = "America/New_York"


@pytest.mark.parametrize(
    ("zone", "local", "policy", "expected"),
    [
        # Sydney, clocks forward 2026-10-04 02:00 AEST -> 03:00 AEDT.
        (SYDNEY, "2026-10-04T02:30:00", "reject", "SLA905"),
        (SYDNEY, "2026-10-04T02:30:00", "earlier", "2026-10-04T01:30:00+10:00"),
        (SYDNEY, "2026-10-04T02:30:00", "later", "2026-10-04T03:30:00+11:00"),
        (SYDNEY, "2026-10-04T02:00:00", "reject", "SLA905"),
        (SYDNEY, "2026-10-04T01:59:59.999999", "reject", "2026-10-04T01:59:59.999999+10:00"),
        (SYDNEY, "2026-10-04T03:00:00", "reject", "2026-10-04T03:00:00+11:00"),
        # Sydney, clocks back 2026-04-05 03:00 AEDT -> 02:00 AEST.
        (SYDNEY, "2026-04-05T02:30:00", "reject", "SLA906"),
        (SYDNEY, "2026-04-05T02:30:00", "earlier", "2026-04-05T02:30:00+11:00"),
        (SYDNEY, "2026-04-05T02:30:00", "later", "2026-04-05T02:30:00+10:00"),
        (SYDNEY, "2026-04-05T02:00:00", "reject", "SLA906"),
        (SYDNEY, "2026-04-05T01:59:59", "reject", "2026-04-05T01:59:59+11:00"),
        (SYDNEY, "2026-04-05T03:00:00", "reject", "2026-04-05T03:00:00+10:00"),
        # New York: forward 2026-03-08 02:00 EST -> 03:00 EDT, back 2026-11-01 02:00 -> 01:00.
        (NEW_YORK, "2026-03-08T02:30:00", "reject", "SLA905"),
        (NEW_YORK, "2026-03-08T02:30:00", "earlier", "2026-03-08T01:30:00-05:00"),
        (NEW_YORK, "2026-03-08T02:30:00", "later", "2026-03-08T03:30:00-04:00"),
        (NEW_YORK, "2026-11-01T01:30:00", "reject", "SLA906"),
        (NEW_YORK, "2026-11-01T01:30:00", "earlier", "2026-11-01T01:30:00-04:00"),
        (NEW_YORK, "2026-11-01T01:30:00", "later", "2026-11-01T01:30:00-05:00"),
        # Lord Howe moves by half an hour: 02:00 -> 02:30 on 2026-10-04.
        ("Australia/Lord_Howe", "2026-10-04T02:15:00", "reject", "SLA905"),
        ("Australia/Lord_Howe", "2026-10-04T02:45:00", "reject", "2026-10-04T02:45:00+11:00"),
        ("Australia/Lord_Howe", "2026-10-04T01:45:00", "reject", "2026-10-04T01:45:00+10:30"),
    ],
)
def test_log_timezone_and_dst_policy(zone: str, local: str, policy: str, expected: str) -> None:
    options = ReadOptions(zone, policy)  # type: ignore[arg-type]
    items, stats = read_all(HEADER + f"L-1,{local},stage,mql\n", options=options)
    [item] = items
    if expected.startswith("SLA"):
        assert isinstance(item, Rejected) and item.diagnostic.code == expected
        help_ = item.diagnostic.help or ""
        assert "`earlier`" in help_ and "`later`" in help_ and zone in item.diagnostic.message
        assert stats.dst_resolved == 0
    else:
        assert isinstance(item, Event) and item.time == utc(expected)
        in_gap_or_fold = policy != "reject"
        assert stats.dst_resolved == (1 if in_gap_or_fold else 0)


def test_dst_help_names_both_instants() -> None:
    diagnostic = only_rejection(
        HEADER + "L-1,2026-10-04T02:30:00,stage,mql\n", options=ReadOptions(SYDNEY)
    )
    assert "2026-10-04T01:30:00+10:00 (2026-10-03T15:30:00Z)" in (diagnostic.help or "")
    assert "2026-10-04T03:30:00+11:00 (2026-10-03T16:30:00Z)" in (diagnostic.help or "")


def test_declared_zone_does_not_touch_times_with_offsets() -> None:
    text = HEADER + "L-1,2026-10-04T02:30:00+10:00,stage,mql\nL-1,2026-04-05T02:30:00Z,stage,sal\n"
    found = events(read_all(text, options=ReadOptions(SYDNEY))[0])
    assert [e.time for e in found] == [
        utc("2026-10-04T02:30:00+10:00"),
        utc("2026-04-05T02:30:00Z"),
    ]


@pytest.mark.parametrize("day", [dt.datetime(2026, 4, 5), dt.datetime(2026, 10, 4)])
def test_naive_times_through_a_dst_day_match_zoneinfo(day: dt.datetime) -> None:
    sydney = ZoneInfo(SYDNEY)
    lines = [HEADER]
    expected = []
    changed = 0
    for minute in range(0, 24 * 60, 7):
        wall = day + dt.timedelta(minutes=minute, seconds=minute % 60)
        lines.append(f"L-1,{wall.isoformat()},stage,mql\n")
        first, second = (wall.replace(tzinfo=sydney, fold=fold) for fold in (0, 1))
        changed += first.utcoffset() != second.utcoffset()
        expected.append(utc(min(first, second, key=lambda t: t.timestamp()).isoformat()))
    items, stats = read_all("".join(lines), options=ReadOptions(SYDNEY, "earlier"))
    assert [e.time for e in events(items)] == expected
    assert stats.dst_resolved == changed > 0


def test_unknown_zone() -> None:
    diagnostic = check_options(ReadOptions("Australia/Sidney"))
    assert diagnostic is not None and diagnostic.code == "SLA207"
    assert diagnostic.help == "did you mean `Australia/Sydney`?"
    assert check_options(ReadOptions(SYDNEY)) is None
    assert check_options(ReadOptions()) is None
    items, stats = read_all(HEADER, options=ReadOptions("../etc/passwd"))
    [rejected] = items
    assert isinstance(rejected, Rejected) and rejected.whole_file
    assert rejected.diagnostic.code == "SLA207" and rejected.diagnostic.file == "log.csv"
    assert stats.file_errors == 1


# --- JSON Lines -------------------------------------------------------------------------------

# The start of a good JSON Lines row; cases append their keys and the closing brace.
ROW = '{"lead_id": "L-1", "timestamp": "2026-03-02T09:15:00Z"'


def test_jsonl_null_clears_and_numbers_become_decimal_text() -> None:
    line = (
        '{"lead_id": "L-1", "timestamp": "2026-03-02T09:15:00Z", "type": "update", '
        '"email": null, "attributes": {"score": 72, "amount": 1.50, "big": 1E+3, "tiny": 1e-7, '
        '"vip": false, "blank": "  "}}'
    )
    [event] = events(read_all(line, "jsonl")[0])
    assert event.attributes == (
        ("amount", "1.50"),
        ("big", "1000"),
        ("email", None),
        ("score", "72"),
        ("tiny", "0.0000001"),
        ("vip", "false"),
    )


def test_jsonl_blank_lines_are_not_rows_and_lines_are_physical() -> None:
    text = "\n  \n" + ROW + ', "type": "stage", "value": "mql"}\n'
    items, stats = read_all(text, "jsonl")
    assert events(items)[0].origin.row == 3
    assert stats == ReadStats(rows=1, events=1, blank_lines=2)


@pytest.mark.parametrize(
    ("line", "code", "fragment"),
    [
        ('{"lead_id": "L-1",', "SLA909", "not valid JSON"),
        ("   {oops}", "SLA909", "at character 5"),
        ("[1, 2]", "SLA909", "an array"),
        ("42", "SLA909", "a single value"),
        ('{"lead_id": "L-1", "lead_id": "L-2"}', "SLA909", "appears twice"),
        ('{"lead_id": "L-1", " lead_id": "L-2"}', "SLA909", "appears twice"),
        ('{"timestamp": "2026-03-02T09:15:00Z", "type": "update"}', "SLA902", "no `lead_id`"),
        ('{"lead_id": "L-1", "type": "stage", "value": "a"}', "SLA902", "no `timestamp`"),
        ('{"leadid": "L-1", "timestamp": "2026-03-02T09:15:00Z"}', "SLA902", "no `lead_id`"),
        (ROW + "}", "SLA902", "no `type`"),
        (
            '{"lead_id": "", "timestamp": "2026-03-02T09:15:00Z", "type": "update"}',
            "SLA912",
            "empty",
        ),
        (
            '{"lead_id": "L-1", "timestamp": "2026-03-02T09:15:00", "type": "update"}',
            "SLA904",
            "UTC",
        ),
        (ROW + ', "type": "Stage", "value": "a"}', "SLA907", "not one of"),
        (ROW + ', "type": "stage"}', "SLA908", "no `value` key"),
        (ROW + ', "type": "stage", "value": null}', "SLA908", "empty"),
        (ROW + ', "type": "update", "value": "x"}', "SLA909", "an `update` row has"),
        (ROW + ', "type": "update", "x": Infinity}', "SLA909", "`Infinity`"),
        (ROW + ', "type": "update", "x": [1]}', "SLA909", "an array"),
        (ROW + ', "type": "update", "attributes": 3}', "SLA909", "`attributes`"),
        (ROW + ', "type": "update", "attributes": {"": 3}}', "SLA909", "empty or reserved"),
        (ROW + ', "type": "update", "attributes": {"type": 3}}', "SLA909", "empty or reserved"),
        (ROW + ', "type": "update", "": 3}', "SLA909", "empty or reserved"),
        (ROW + ', "type": "update", "a": 1, "attributes": {"a": 2}}', "SLA909", "both"),
        (ROW + ', "type": ["update"]}', "SLA909", "an array"),
        ('{"lead_id": {"id": 1}, "type": "update"}', "SLA909", "an object"),
        pytest.param(
            '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "SLA909",
            "nested too deeply",
            id="deep-nesting",
        ),
    ],
)
def test_jsonl_rejections(line: str, code: str, fragment: str) -> None:
    items, stats = read_all(line + "\n", "jsonl", name="log.jsonl")
    [rejected] = items
    assert isinstance(rejected, Rejected) and not rejected.whole_file
    assert rejected.diagnostic.code == code, rejected.diagnostic.message
    assert fragment in rejected.diagnostic.message
    assert (rejected.diagnostic.file, rejected.diagnostic.row) == ("log.jsonl", 1)
    assert stats == ReadStats(rows=1, rejected=1)


def test_jsonl_pretty_printed_array_is_a_file_error() -> None:
    text = '[\n  {"lead_id": "L-1", "timestamp": "2026-03-02T09:15:00Z", "type": "update"}\n]\n'
    items, stats = read_all("\n" + text, "jsonl")
    [rejected] = items
    assert isinstance(rejected, Rejected) and rejected.whole_file
    assert rejected.origin.row == 2 and "one JSON array" in rejected.diagnostic.message
    assert (stats.rows, stats.file_errors) == (0, 1)
    one_line, _ = read_all('[{"lead_id": "L-1"}]\n' + ROW + ', "type": "update"}\n', "jsonl")
    assert [type(item) for item in one_line] == [Rejected, Event]


def test_jsonl_empty_file_is_an_error() -> None:
    items, stats = read_all("\n\n", "jsonl")
    [rejected] = items
    assert isinstance(rejected, Rejected) and rejected.whole_file
    assert rejected.diagnostic.code == "SLA901"
    assert stats == ReadStats(blank_lines=2, file_errors=1)


# --- decoding and sniffing --------------------------------------------------------------------


def test_decode_strips_bom_and_keeps_crlf() -> None:
    assert decode(b"\xef\xbb\xbfa,b\r\n", "x.csv") == "a,b\r\n"
    assert decode(b"", "x.csv") == ""


def test_decode_latin1_names_line_byte_and_fix() -> None:
    data = "lead_id,city\nL-1,Montréal\n".encode("latin-1")
    diagnostic = decode(data, "x.csv")
    assert isinstance(diagnostic, Diagnostic)
    assert diagnostic.code == "SLA901" and diagnostic.row == 2 and diagnostic.file == "x.csv"
    assert "byte 0xE9 at byte offset 22 (byte 10 of the line)" in diagnostic.message
    assert "`é` in Windows-1252" in (diagnostic.help or "")
    assert "re-save the file as UTF-8" in (diagnostic.help or "")
    assert decode(data, "x.csv", encoding="cp1252") == "lead_id,city\nL-1,Montréal\n"


def test_decode_other_encodings() -> None:
    assert decode(b"\xef\xbb\xbfa\n", "x.csv", "utf-8-sig") == "a\n"
    assert isinstance(decode(b"a\xe9\n", "x.csv", "utf-8-sig"), Diagnostic)
    assert decode("a,b\n".encode("utf-16"), "x.csv", "utf-16") == "a,b\n"
    bad = decode(b"\xff", "x.csv", "ascii")
    assert isinstance(bad, Diagnostic) and "not ASCII text" in bad.message
    unknown = decode(b"a", "x.csv", "klingon")
    assert isinstance(unknown, Diagnostic) and unknown.code == "SLA901"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("a,b\n".encode("utf-16"), "UTF-16 text"),
        ("a,b\n".encode("utf-32"), "UTF-32 text"),
        ("lead_id,b\nx,y\n".encode("utf-16-le"), "NUL bytes"),
        (b"PK\x03\x04rest", "workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "workbook"),
    ],
)
def test_decode_refuses_non_text(data: bytes, fragment: str) -> None:
    diagnostic = decode(data, "x.csv")
    assert isinstance(diagnostic, Diagnostic) and diagnostic.code == "SLA901"
    assert fragment in diagnostic.message and diagnostic.help


def test_decode_leaves_a_stray_nul_to_the_reader() -> None:
    text = decode(
        HEADER.encode()
        + b"L-1,2026-03-02T09:15:00Z,stage,m\x00ql\n"
        + b"L-2,2026-03-02T09:15:00Z,stage,mql\n" * 20,
        "x.csv",
    )
    assert isinstance(text, str)
    _, stats = read_all(text)
    assert stats.rejected == 1 and stats.events == 20


@pytest.mark.parametrize(
    ("name", "head", "expected"),
    [
        ("log.csv", b"{", "csv"),
        ("LOG.CSV", b"", "csv"),
        ("log.jsonl", b"lead_id", "jsonl"),
        ("log.ndjson", b"", "jsonl"),
        ("log.json", b"", "jsonl"),
        ("<stdin>", b'\xef\xbb\xbf  \n{"lead_id": 1}', "jsonl"),
        ("<stdin>", b"lead_id,timestamp", "csv"),
        ("export.txt", b"", "csv"),
    ],
)
def test_sniff_format(name: str, head: bytes, expected: str) -> None:
    assert sniff_format(name, head) == expected


# --- events -----------------------------------------------------------------------------------


def test_event_kinds_rank_and_spellings() -> None:
    assert [k.value for k in EventKind] == [0, 1, 2, 3]
    assert dict(EVENT_TYPES) == {
        "update": EventKind.UPDATE,
        "assign": EventKind.ASSIGN,
        "stage": EventKind.STAGE,
        "activity": EventKind.ACTIVITY,
    }


def make_event(time: int, kind: EventKind, seq: int) -> Event:
    return Event("L", time, kind, None, None, None, None, (), Origin("f", seq + 2), seq)


def test_sort_key_orders_time_then_kind_then_input() -> None:
    shuffled = [
        make_event(2, EventKind.UPDATE, 0),
        make_event(1, EventKind.ACTIVITY, 1),
        make_event(1, EventKind.STAGE, 2),
        make_event(1, EventKind.UPDATE, 3),
        make_event(1, EventKind.STAGE, 4),
        make_event(1, EventKind.ASSIGN, 5),
    ]
    assert [e.seq for e in sorted(shuffled, key=sort_key)] == [3, 5, 2, 4, 1, 0]


def test_the_event_draft_is_a_layout_twin_of_the_frozen_class() -> None:
    assert _EventDraft.__slots__ == tuple(f.name for f in dataclasses.fields(Event))
    [event] = events(
        read_all(HEADER.replace("\n", ",score\n") + "L-1,2026-03-02T09:15:00Z,stage,mql,5\n")[0]
    )
    built = Event(
        "L-1",
        utc("2026-03-02T09:15:00+00:00"),
        EventKind.STAGE,
        "mql",
        None,
        None,
        None,
        (("score", "5"),),
        Origin("log.csv", 2),
        0,
    )
    assert type(event) is Event and type(event.origin) is Origin
    assert event == built and hash(event) == hash(built) and repr(event) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.lead = "x"  # type: ignore[misc]


def test_every_reader_code_is_a_known_rule() -> None:
    for code in (
        "SLA901",
        "SLA902",
        "SLA903",
        "SLA904",
        "SLA905",
        "SLA906",
        "SLA907",
        "SLA908",
        "SLA909",
        "SLA912",
        "SLA207",
    ):
        assert code in RULES


# --- properties -------------------------------------------------------------------------------

COLUMNS = ["lead_id", "timestamp", "type", "value", "actor", "team", "event_id", "score", "note"]
# Trimmed, non-empty text with the characters that need CSV quoting.
cell_text = (
    st.text(alphabet=st.sampled_from('abcXYZ019 ,"\n\r\t;é☃-@.'), min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)
# Accepted offset spellings and the same offset as datetime.fromisoformat writes it.
OFFSETS = {
    "Z": "+00:00",
    "+11:00": "+11:00",
    "-05:00": "-05:00",
    "+05:30": "+05:30",
    "+0000": "+00:00",
    "-03": "-03:00",
}
offsets = st.sampled_from(sorted(OFFSETS))


@st.composite
def canonical_events(draw: st.DrawFn) -> tuple[list[str], dict[str, object]]:
    """One row of cells and the event fields it must read back as."""
    kind = draw(st.sampled_from(list(EVENT_TYPES)))
    local = draw(
        st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))
    ).replace(microsecond=draw(st.sampled_from([0, 0, 500000, 123456, 1])))
    offset = draw(offsets)
    stamp = local.isoformat(sep=draw(st.sampled_from(["T", " "]))) + offset
    value = None if kind == "update" else draw(cell_text)
    optional = {
        c: draw(st.none() | cell_text) for c in ("actor", "team", "event_id", "score", "note")
    }
    cells = [
        draw(cell_text),
        stamp,
        kind,
        value or "",
        *(optional[c] or "" for c in ("actor", "team", "event_id", "score", "note")),
    ]
    expected: dict[str, object] = {
        "lead": cells[0],
        "time": utc(local.isoformat() + OFFSETS[offset]),
        "kind": EVENT_TYPES[kind],
        "value": value,
        "actor": optional["actor"],
        "team": optional["team"],
        "event_id": optional["event_id"],
        "attributes": tuple((c, optional[c]) for c in ("note", "score") if optional[c] is not None),
    }
    return cells, expected


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(canonical_events(), max_size=25), start_seq=st.integers(0, 1000))
def test_csv_written_by_csv_module_reads_back(
    rows: list[tuple[list[str], dict[str, object]]], start_seq: int
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    starts = []
    line = 2
    for cells, _ in rows:
        record = io.StringIO(newline="")
        csv.writer(record).writerow(cells)
        starts.append(line)
        line += len(io.StringIO(record.getvalue(), newline="").readlines())
        writer.writerow(cells)
    items, stats = read_all(buffer.getvalue(), start_seq=start_seq)
    assert (stats.rows, stats.events, stats.rejected) == (len(rows), len(rows), 0)
    for index, (item, (_, expected), start) in enumerate(zip(items, rows, starts, strict=True)):
        assert isinstance(item, Event)
        assert {k: getattr(item, k) for k in expected} == expected
        assert item.origin == Origin("log.csv", start)
        assert item.seq == start_seq + index


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(canonical_events(), min_size=1, max_size=15))
def test_jsonl_written_by_json_module_reads_back(
    rows: list[tuple[list[str], dict[str, object]]],
) -> None:
    lines = []
    for cells, _ in rows:
        obj = {c: v for c, v in zip(COLUMNS, cells, strict=True) if v}
        lines.append(json.dumps(obj, ensure_ascii=False) + "\n")
    items, stats = read_all("".join(lines), "jsonl")
    assert stats.rows == stats.events == len(rows)
    for number, (item, (_, expected)) in enumerate(zip(items, rows, strict=True), start=1):
        assert isinstance(item, Event)
        assert {k: getattr(item, k) for k in expected} == expected
        assert item.origin.row == number


messy_cell = st.one_of(
    cell_text,
    st.just(""),
    st.sampled_from(
        [
            "stage",
            "update",
            "activity",
            "assign",
            "Stage",
            "2026-03-02T09:15:00Z",
            "2026-10-04T02:30:00",
            '"',
            "\x00",
            "  ",
        ]
    ),
)


@settings(max_examples=80, deadline=None)
@given(
    records=st.lists(st.lists(messy_cell, min_size=1, max_size=7), max_size=20),
    policy=st.sampled_from(["reject", "earlier", "later"]),
    zone=st.sampled_from([None, SYDNEY]),
)
def test_every_csv_row_is_accounted_for_once(
    records: list[list[str]], policy: str, zone: str | None
) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["lead_id", "timestamp", "type", "value", "score"])
    for record in records:
        writer.writerow(record)
    options = ReadOptions(zone, policy)  # type: ignore[arg-type]
    items, stats = read_all(buffer.getvalue(), options=options)
    # csv writes a record of one whitespace cell as a blank line, which is not a row (a record
    # of one empty cell is written as `""`, which is).
    rows = sum(1 for r in records if not (len(r) == 1 and r[0] and not r[0].strip()))
    assert stats.rows == rows == len(items)
    assert stats.events + stats.rejected == stats.rows
    assert len(events(items)) == stats.events and len(rejections(items)) == stats.rejected
    lines = [item.origin.row for item in items]
    assert lines == sorted(set(lines))
    assert [e.seq for e in events(items)] == sorted(e.seq for e in events(items))
    assert all(not r.whole_file and r.diagnostic.row == r.origin.row for r in rejections(items))


@settings(max_examples=80, deadline=None)
@given(text=st.text(max_size=200), fmt=st.sampled_from(["csv", "jsonl"]))
def test_reader_never_raises_and_accounts_for_rows(text: str, fmt: LogFormat) -> None:
    items, stats = read_all(text, fmt)
    row_items = [i for i in items if not (isinstance(i, Rejected) and i.whole_file)]
    assert stats.rows == len(row_items) == stats.events + stats.rejected
    assert stats.file_errors == len(items) - len(row_items)
    if stats.file_errors:
        assert stats.rows == 0


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=120))
def test_decode_never_raises(data: bytes) -> None:
    result = decode(data, "x.csv")
    if isinstance(result, Diagnostic):
        assert result.code == "SLA901" and result.help
    else:
        assert result == data.decode("utf-8").removeprefix("\ufeff")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_later_part_of_a_file_keeps_its_line_numbers(fmt: LogFormat) -> None:
    # The first lines of a file are read elsewhere; the rest is read with line_offset (and, for
    # CSV, the header line again in front) and numbered exactly as the whole file numbers it.
    rows = [
        ("L-1", "2026-03-02T09:15:00+11:00", "stage", "inquiry"),
        ("L-1", "2026-03-02T09:16:00+11:00", "stage", "mql"),
        ("L-2", "yesterday", "stage", "inquiry"),
        ("L-2", "2026-03-02T09:18:00+11:00", "stage", "inquiry"),
        ("L-3", "2026-03-02T09:19:00+11:00", "stage", "inquiry"),
    ]
    if fmt == "csv":
        lines = ["lead_id,timestamp,type,value\n", *(",".join(row) + "\n" for row in rows)]
        head, header = 4, lines[:1]
    else:
        keys = ("lead_id", "timestamp", "type", "value")
        lines = [json.dumps(dict(zip(keys, row, strict=True))) + "\n" for row in rows]
        head, header = 3, []
    lines.insert(2, "\n")  # a blank line in the first part
    whole, whole_stats = read_all("".join(lines), fmt, start_seq=7)
    first, first_stats = read_all("".join(lines[:head]), fmt, start_seq=7)
    rest_counter = ReadCounter()
    rest = list(
        read_log(
            "".join(header + lines[head:]),
            "log.csv",
            fmt,
            ReadOptions(),
            7 + first_stats.rows,
            rest_counter,
            line_offset=head - len(header),
        )
    )
    assert first + rest == whole
    assert [item.origin.row for item in rest] == [head + 1, head + 2, head + 3]
    rest_stats = rest_counter.freeze()
    assert (first_stats.rows + rest_stats.rows, first_stats.blank_lines) == (
        whole_stats.rows,
        whole_stats.blank_lines,
    )
