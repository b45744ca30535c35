"""Readers: canonical event logs (CSV or JSON Lines text) -> events and rejected rows, streamed.

Every data row comes out exactly once, in file order, as an `Event` or as a `Rejected` with a
diagnostic (SLA9xx) naming the file, the line, the column and the fix. Blank lines are not rows.
A problem with the file as a whole (empty, unusable header, unknown log time zone) comes out as
one `Rejected` per problem with `whole_file=True`, and reading stops: none of its rows are read.

Line numbers (`Origin.row`) are physical lines as an editor counts them; see `slaspec.events`.

CSV: RFC 4180 quoting (doubled quotes, commas and line breaks inside quoted cells), LF, CRLF or
CR line ends, an optional byte-order mark. Header names and cells are trimmed; names are
case-sensitive. The header needs `lead_id`, `timestamp` and `type`; every column besides the
seven canonical ones is a lead attribute, and an empty cell carries no value (it cannot clear
one). An unnamed or repeated header name stops the file; a row with more or fewer cells than the
header is rejected. An empty file is an error, a header without rows a warning
(`ReadStats.notes`).
JSON Lines: one object per non-blank line with the same keys; attributes are flat keys or sit in
an `attributes` object; `null` clears an attribute (value None); numbers become their decimal
text (`1.50` -> "1.50", `1e3` -> "1000"), `true`/`false` the words; arrays, nested objects,
NaN and repeated keys reject the row.
Both: `value` is required for stage, activity and assign rows and refused on update rows.

Accepted timestamps (anything else is rejected with an example of a good value):
    YYYY-MM-DDTHH:MM[:SS[.ffffff]]<offset>   with `T`, `t` or one space between date and time,
    <offset> = `Z` | `z` | `+HH:MM` | `+HHMM` | `+HH` (or `-`), at most 18 hours.
Without an offset the time is local to the declared log time zone (`ReadOptions.log_timezone`);
with no zone declared such a row is rejected (SLA904). A local time in a daylight-saving gap
(SLA905) or fold (SLA906) is rejected under the `reject` policy. Otherwise the policy picks one
of the two instants got by reading the wall time with the offset in force before and after the
clock change: `earlier` the smaller, `later` the larger. In a fold that is the first or the
second occurrence; in a gap (say Sydney 02:30 on the spring-forward night, clocks 02:00 -> 03:00)
`earlier` is 01:30 standard time and `later` is 03:30 daylight time, i.e. the time shifted back
or forward by the length of the gap. Such rows are counted in `ReadStats.dst_resolved`.

Streams should be text opened with `newline=""` (or a `str`), so that a line break inside a
quoted cell is kept as written and only CR, LF and CRLF end lines.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import operator
import re
import sys
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any, Literal, TextIO, assert_never

from slaspec.diagnostics import Diagnostic, Severity, did_you_mean
from slaspec.events import (
    EARLIEST,
    EVENT_TYPES,
    FIRST_YEAR,
    LAST_YEAR,
    LATEST,
    Event,
    EventKind,
    Origin,
    outside_years,
)

LogFormat = Literal["csv", "jsonl"]
DstPolicy = Literal["reject", "earlier", "later"]

LEAD_ID = "lead_id"
TIMESTAMP = "timestamp"
TYPE = "type"
VALUE = "value"
ACTOR = "actor"
TEAM = "team"
EVENT_ID = "event_id"
REQUIRED_COLUMNS = (LEAD_ID, TIMESTAMP, TYPE)
OPTIONAL_COLUMNS = (VALUE, ACTOR, TEAM, EVENT_ID)
RESERVED_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
# In JSON Lines, lead attributes may also be nested under this key.
ATTRIBUTES_KEY = "attributes"

GOOD_TIMESTAMP = "2026-03-02T09:15:00+11:00"
# The `type` spellings in the order the documentation lists them.
TYPE_NAMES = ("stage", "activity", "update", "assign")
# What a value names, per event type, for messages about a missing `value`.
VALUE_MEANING = {
    EventKind.STAGE: "the stage entered",
    EventKind.ACTIVITY: "the activity type, such as `call`",
    EventKind.ASSIGN: "the new owner",
}

_US = 1_000_000
_HOUR_US = 3600 * _US
_MAX_OFFSET_US = 18 * _HOUR_US
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_NAIVE = dt.datetime(1970, 1, 1)
_ONE_US = dt.timedelta(microseconds=1)
# Distinct attribute-cell combinations remembered per file: enough for the repetitive cells of
# real exports, small enough that a column of unique e-mails cannot grow memory.
_ATTRIBUTE_MEMO_LIMIT = 4096
_SHOWN_CHARS = 60

_INSTANT = re.compile(
    r"(?P<date>(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2}))"
    r"(?:[Tt ](?P<h>[0-9]{2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?)?"
    r"(?P<off>[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_LONG_FRACTION = re.compile(r"[0-9]:[0-9]{2}\.[0-9]{7,}")
# Characters str.splitlines() breaks at besides CR and LF; a CSV cell may hold them.
_OTHER_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read timestamps: the zone of offset-less times and what to do at DST changes."""

    log_timezone: str | None = None
    dst_policy: DstPolicy = "reject"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row that could not be read (or, with `whole_file`, a file), with the reason."""

    origin: Origin
    diagnostic: Diagnostic
    whole_file: bool = False


@dataclass(frozen=True, slots=True)
class ReadStats:
    """What a read saw: rows == events + rejected; blank lines and whole-file errors apart."""

    rows: int = 0
    events: int = 0
    rejected: int = 0
    blank_lines: int = 0
    dst_resolved: int = 0
    file_errors: int = 0
    notes: tuple[Diagnostic, ...] = ()


@dataclass(slots=True)
class ReadCounter:
    """Counts filled in by `read_log`, complete once its iterator is exhausted or closed."""

    rows: int = 0
    events: int = 0
    rejected: int = 0
    blank_lines: int = 0
    dst_resolved: int = 0
    file_errors: int = 0
    notes: list[Diagnostic] = field(default_factory=list)

    def freeze(self) -> ReadStats:
        """The counts so far, as an immutable record."""
        return ReadStats(
            self.rows,
            self.events,
            self.rejected,
            self.blank_lines,
            self.dst_resolved,
            self.file_errors,
            tuple(self.notes),
        )


def read_log(
    stream: Iterable[str] | TextIO | str,
    name: str,
    fmt: LogFormat,
    options: ReadOptions,
    start_seq: int = 0,
    counter: ReadCounter | None = None,
    line_offset: int = 0,
) -> Iterator[Event | Rejected]:
    """Stream one canonical log as events and rejected rows, in file order.

    Rows get `seq` numbers from `start_seq` on (rejected rows use one too), so the next file of
    the same read starts at `start_seq + rows`. Lines are numbered from `line_offset + 1`: a
    later part of a file, read on its own after the header line, keeps its lines' numbers.
    """
    lines = _lines(stream) if isinstance(stream, str) else iter(stream)
    tally = counter if counter is not None else ReadCounter()
    zone = _zone(options.log_timezone)
    if isinstance(zone, Diagnostic):
        return _unreadable(name, zone, tally)
    clock = _Clock(zone, options.dst_policy)
    match fmt:
        case "csv":
            return _read_csv(lines, name, clock, start_seq, tally, line_offset)
        case "jsonl":
            return _read_jsonl(lines, name, clock, start_seq, tally, line_offset)
        case _:
            assert_never(fmt)


def _lines(text: str) -> Iterator[str]:
    """The lines of a text, each with its line break, split only at CR, LF and CRLF."""
    # One substring search per character is far faster than a regex character class here.
    if any(brk in text for brk in _OTHER_LINE_BREAKS):
        return iter(io.StringIO(text, newline=""))
    # Faster than StringIO, and a quarter of its memory, when no other break could split a cell.
    return iter(text.splitlines(keepends=True))


def _unreadable(name: str, problem: Diagnostic, tally: ReadCounter) -> Iterator[Rejected]:
    """A file that cannot be read at all under the options: one whole-file rejection."""
    tally.file_errors += 1
    yield _whole_file(name, 1, problem)


def check_options(options: ReadOptions) -> Diagnostic | None:
    """SLA207 when the declared log time zone is not an IANA zone name."""
    zone = _zone(options.log_timezone)
    return zone if isinstance(zone, Diagnostic) else None


def sniff_format(name: str, first_bytes: bytes) -> LogFormat:
    """`csv` or `jsonl`, by the file's extension, else by whether it starts with `{`."""
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    head = first_bytes.removeprefix(codecs.BOM_UTF8).lstrip()
    return "jsonl" if head.startswith(b"{") else "csv"


def decode(data: bytes, name: str, encoding: str = "utf-8") -> str | Diagnostic:
    """Log bytes -> text; UTF-8 with or without BOM by default, SLA901 when it is not text.

    A stray NUL byte in otherwise good text is left for the reader, which rejects only its row;
    NUL bytes throughout (UTF-16, a binary file) make the whole file unreadable.
    """
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        return Diagnostic(
            "SLA901",
            f"`{name}`: `{encoding}` is not a known text encoding",
            name,
            help="give a Python codec name such as utf-8, cp1252, latin-1 or utf-16",
        )
    if codec.name in ("utf-8", "utf-8-sig"):
        binary = _binary_problem(data, name)
        if binary is not None:
            return binary
    try:
        text = data.decode(codec.name)
    except UnicodeDecodeError as error:
        return _undecodable(data, name, codec.name, error)
    return text.removeprefix("\ufeff")


# --- timestamps -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Bad:
    """Why a cell was refused: the rule, what is wrong (without where) and how to fix it."""

    code: str
    problem: str
    help: str


class _Clock:
    """Timestamp text -> microseconds since the epoch, remembering the pieces of common shapes.

    A timestamp `2026-03-02T09:15:00+11:00` is read as an hour (`2026-03-02T09`) and a rest
    (`:15:00+11:00`); both repeat across a log, so the hot loop adds two cached numbers.
    """

    __slots__ = ("hours", "local_hours", "naive_rests", "policy", "resolved", "rests", "zone")

    def __init__(self, zone: zoneinfo.ZoneInfo | None, policy: DstPolicy) -> None:
        self.zone = zone
        self.policy = policy
        self.resolved = 0
        # "YYYY-MM-DDTHH" -> that hour's instant read as UTC.
        self.hours: dict[str, int] = {}
        # ":MM[:SS]<offset>" -> microseconds past the hour minus the offset.
        self.rests: dict[str, int] = {}
        # "YYYY-MM-DDTHH" -> the instant that local hour starts, for hours without a clock change.
        self.local_hours: dict[str, int] = {}
        # ":MM[:SS]" -> microseconds past the hour.
        self.naive_rests: dict[str, int] = {}

    def instant(self, text: str) -> int | _Bad:
        """Every accepted shape, the log time zone and the DST policy; fills the caches.

        Only hours of the years strictly inside FIRST_YEAR..LAST_YEAR are kept, so an instant
        made of kept pieces is always within EARLIEST..LATEST (an offset or a zone moves an
        hour by less than a day); any other is read whole and checked."""
        head = text[:13]
        rest = text[13:]
        base = self.hours.get(head)
        past = self.rests.get(rest)
        if base is not None and past is not None:
            return base + past
        if self.zone is not None:
            base = self.local_hours.get(head)
            past = self.naive_rests.get(rest)
            if base is not None and past is not None:
                return base + past
        read = self._read(text, head, rest)
        if isinstance(read, int) and not EARLIEST <= read < LATEST:
            return _Bad(
                "SLA903",
                outside_years(f"`{_show(text)}`"),
                f"check the year: slaspec replays instants from {FIRST_YEAR}-01-01T00:00Z up to "
                f"{LAST_YEAR + 1}-01-01T00:00Z, such as `{GOOD_TIMESTAMP}`",
            )
        return read

    def _read(self, text: str, head: str, rest: str) -> int | _Bad:
        """`instant` of a text whose pieces are not both kept."""
        match = _INSTANT.fullmatch(text)
        if match is None:
            return _bad_timestamp(text)
        if match["h"] is None:
            return _Bad(
                "SLA903",
                f"`{_show(text)}` is a date without a time of day, not an instant",
                f"give the time and offset, e.g. `{match['date']}T09:00:00+11:00`",
            )
        try:
            day = dt.date(int(match["y"]), int(match["mo"]), int(match["d"]))
        except ValueError as error:
            return _Bad(
                "SLA903", f"`{_show(text)}` is not a real date ({error})", _timestamp_example()
            )
        hour, minute, second = int(match["h"]), int(match["mi"]), int(match["s"] or 0)
        if hour > 23 or minute > 59 or second > 59:
            return _Bad(
                "SLA903",
                f"`{_show(text)}` is not a real time of day "
                "(hours 00-23, minutes and seconds 00-59)",
                _timestamp_example(),
            )
        fraction = match["f"]
        hour_start = ((day.toordinal() - _EPOCH_ORDINAL) * 24 + hour) * _HOUR_US
        past = (minute * 60 + second) * _US + (int(fraction.ljust(6, "0")) if fraction else 0)
        kept = FIRST_YEAR < day.year < LAST_YEAR  # see `instant`
        if kept:
            self.hours[head] = hour_start
        offset_text = match["off"]
        if offset_text is not None:
            offset = _offset_us(offset_text)
            if offset is None:
                return _Bad(
                    "SLA903",
                    f"`{_show(text)}` has an offset outside -18:00 to +18:00",
                    _timestamp_example(),
                )
            if fraction is None:
                self.rests[rest] = past - offset
            return hour_start + past - offset
        return self._local(text, head, rest, hour_start, past, fraction is None, kept)

    def _local(
        self,
        text: str,
        head: str,
        rest: str,
        hour_start: int,
        past: int,
        cacheable: bool,
        kept: bool,
    ) -> int | _Bad:
        """A wall-clock time without offset -> instant, in the log time zone."""
        zone = self.zone
        if zone is None:
            return _Bad(
                "SLA904",
                f"`{_show(text)}` has no UTC offset and no log time zone is declared",
                f"write the offset (`{_show(text)}+11:00`, or `Z` for UTC), or declare the zone "
                "the log's times are in (--log-timezone, e.g. Australia/Sydney)",
            )
        base = self.local_hours.get(head)
        if base is not None:
            return base + past
        start = _local_offsets(zone, hour_start)
        end = _local_offsets(zone, hour_start + _HOUR_US - 1)
        if start[0] == start[1] == end[0] == end[1]:
            if kept:
                self.local_hours[head] = hour_start - start[0]
            if cacheable:
                self.naive_rests[rest] = past
            return hour_start + past - start[0]
        wall = hour_start + past
        before, after = _local_offsets(zone, wall)
        if before == after:
            return wall - before
        earlier, later = sorted((wall - before, wall - after))
        match self.policy:
            case "earlier":
                self.resolved += 1
                return earlier
            case "later":
                self.resolved += 1
                return later
            case "reject":
                return _dst_problem(text, zone, wall, earlier, later)
            case _:
                assert_never(self.policy)


def _local_offsets(zone: zoneinfo.ZoneInfo, wall: int) -> tuple[int, int]:
    """UTC offsets (µs) of a wall time read as its first and as its second occurrence."""
    naive = _EPOCH_NAIVE + dt.timedelta(microseconds=wall)
    first = naive.replace(tzinfo=zone).utcoffset()
    second = naive.replace(tzinfo=zone, fold=1).utcoffset()
    assert first is not None and second is not None
    return first // _ONE_US, second // _ONE_US


def _dst_problem(text: str, zone: zoneinfo.ZoneInfo, wall: int, earlier: int, later: int) -> _Bad:
    """SLA905 for a wall time skipped by a clock change, SLA906 for one that happens twice."""
    first_offset = _offset_at(zone, earlier)
    exists = wall - first_offset == earlier
    options = (
        f"choose a DST policy: `earlier` reads it as {_wall_text(zone, earlier)} "
        f"({_utc_text(earlier)}), `later` as {_wall_text(zone, later)} ({_utc_text(later)})"
    )
    if exists:
        return _Bad(
            "SLA906",
            f"`{_show(text)}` happens twice in {zone.key} (clocks went back)",
            f"write the offset to say which one is meant, or {options}",
        )
    return _Bad(
        "SLA905",
        f"`{_show(text)}` does not exist in {zone.key} (clocks jumped forward over it)",
        f"correct the time, write its offset, or {options}",
    )


def _offset_at(zone: zoneinfo.ZoneInfo, instant: int) -> int:
    """The zone's UTC offset (µs) at an instant."""
    offset = (_EPOCH_UTC + dt.timedelta(microseconds=instant)).astimezone(zone).utcoffset()
    assert offset is not None
    return offset // _ONE_US


def _wall_text(zone: zoneinfo.ZoneInfo, instant: int) -> str:
    """An instant as local ISO 8601 text with its offset."""
    return (_EPOCH_UTC + dt.timedelta(microseconds=instant)).astimezone(zone).isoformat()


def _utc_text(instant: int) -> str:
    """An instant as ISO 8601 UTC text ending in Z."""
    return (_EPOCH_UTC + dt.timedelta(microseconds=instant)).isoformat().replace("+00:00", "Z")


def _offset_us(text: str) -> int | None:
    """`Z`, `+HH`, `+HHMM` or `+HH:MM` -> microseconds east of UTC; None when out of range."""
    if text in ("Z", "z"):
        return 0
    hours = int(text[1:3])
    minutes = int(text[-2:]) if len(text) > 3 else 0
    offset = (hours * 60 + minutes) * 60 * _US
    if minutes > 59 or offset > _MAX_OFFSET_US:
        return None
    return -offset if text[0] == "-" else offset


def _bad_timestamp(text: str) -> _Bad:
    """SLA903 for text that is not an accepted ISO 8601 shape, with a hint for common mistakes."""
    if not text:
        return _Bad("SLA903", "the timestamp is empty", _timestamp_example())
    problem = f"`{_show(text)}` is not an ISO 8601 instant"
    if text.isdigit():
        hint = "it looks like a Unix epoch number; convert it to ISO 8601"
    elif "/" in text:
        hint = "dates with slashes are ambiguous (day/month or month/day?); write year-month-day"
    elif _LONG_FRACTION.search(text):
        hint = "slaspec keeps microseconds: write at most 6 digits after the decimal point"
    else:
        hint = "write year-month-day, then the time and the offset"
    return _Bad("SLA903", problem, f"{hint}, e.g. `{GOOD_TIMESTAMP}` (or `...Z` for UTC)")


def _timestamp_example() -> str:
    return f"write an instant such as `{GOOD_TIMESTAMP}` (or `2026-03-01T22:15:00Z` for UTC)"


def _zone(name: str | None) -> zoneinfo.ZoneInfo | Diagnostic | None:
    """The declared log time zone, or SLA207 naming the closest IANA zone."""
    if name is None:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        suggestion = did_you_mean(name, zoneinfo.available_timezones())
        return Diagnostic(
            "SLA207",
            f"the log time zone `{name}` is not an IANA time zone name",
            help=suggestion or "use a name such as `Australia/Sydney`, `Europe/Berlin` or `UTC`",
            column="log_timezone",
        )


# --- CSV --------------------------------------------------------------------------------------


class _EventDraft:
    """A mutable twin of `Event` with the same slots, re-classed to `Event` once filled.

    A frozen dataclass sets each field through `object.__setattr__`, which makes building one
    event cost about three times as much as filling this twin and changing its class; the hot
    loops build a million events. test_readers checks the twin stays layout-identical.
    """

    __slots__ = tuple(f.name for f in fields(Event))


class _Feed:
    """Hands csv.reader the first line of a quoted record, then continuation lines from the log."""

    __slots__ = ("first", "source", "taken")

    def __init__(self, source: Iterator[str]) -> None:
        self.source = source
        self.first: str | None = None
        self.taken = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        first = self.first
        if first is not None:
            self.first = None
            return first
        # At the end of the log this raises StopIteration and csv reports the open quote.
        line = next(self.source)
        self.taken += 1
        return line


@dataclass(frozen=True, slots=True)
class _Header:
    """A CSV header resolved into column positions."""

    line: int
    width: int
    names: list[str]
    index: dict[str, int]
    attributes: tuple[tuple[str, int], ...]
    padding: tuple[str, ...]


def _read_csv(
    lines: Iterator[str],
    name: str,
    clock: _Clock,
    start_seq: int,
    tally: ReadCounter,
    line_offset: int = 0,
) -> Iterator[Event | Rejected]:
    """The CSV reader: header checks, then one Event or Rejected per record."""
    feed = _Feed(lines)
    quoted = csv.reader(feed, strict=True)
    lineno = line_offset
    header: _Header | list[Rejected] | None = None
    for line in lines:
        lineno += 1
        if lineno == line_offset + 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            tally.blank_lines += 1
            continue
        start = lineno
        if '"' in line:
            feed.first, feed.taken = line, 0
            try:
                cells = next(quoted)
            except csv.Error as error:
                lineno += feed.taken
                problem, help_ = _csv_problem(error)
                diagnostic = _diagnostic(name, start, "SLA909", f"the header {problem}", help_)
                header = [_whole_file(name, start, diagnostic)]
                break
            lineno += feed.taken
        else:
            cells = line.split(",")
        header = _header(cells, name, start)
        break
    if header is None:
        tally.file_errors += 1
        yield _whole_file(
            name,
            1,
            _diagnostic(
                name,
                1,
                "SLA901",
                "the file is empty",
                "a CSV log starts with a header line such as "
                "`lead_id,timestamp,type,value,actor,team`; export the log again",
            ),
        )
        return
    if isinstance(header, list):
        tally.file_errors += len(header)
        yield from header
        return

    width = header.width
    index = header.index
    padding = list(header.padding)
    i_lead, i_time, i_type = index[LEAD_ID], index[TIMESTAMP], index[TYPE]
    i_value, i_actor, i_team, i_id = (index[column] for column in OPTIONAL_COLUMNS)
    attribute_columns = header.attributes
    attribute_cells: Callable[[list[str]], tuple[str, ...]] | None = None
    if len(attribute_columns) > 1:
        attribute_cells = operator.itemgetter(*(i for _, i in attribute_columns))
    elif attribute_columns:
        attribute_cells = _single_cell(attribute_columns[0][1])
    attribute_memo: dict[tuple[str, ...], tuple[tuple[str, str | None], ...]] = {}
    attribute_names = tuple(column for column, _ in attribute_columns)

    hours = clock.hours
    rests = clock.rests
    instant = clock.instant
    kinds = dict(EVENT_TYPES)
    update = EventKind.UPDATE
    intern = sys.intern
    seq = start_seq
    rejected = 0
    try:
        for line in lines:
            lineno += 1
            start = lineno
            if '"' in line:
                feed.first, feed.taken = line, 0
                try:
                    cells = next(quoted)
                except csv.Error as error:
                    lineno += feed.taken
                    problem, help_ = _csv_problem(error)
                    if lineno > start:
                        problem += f" (the record runs from line {start} to line {lineno})"
                    seq += 1
                    rejected += 1
                    yield _rejection(name, start, "SLA909", f"the row {problem}", help_)
                    continue
                lineno += feed.taken
                if any("\x00" in cell for cell in cells):
                    seq += 1
                    rejected += 1
                    yield _nul_row(name, start, cells, header)
                    continue
            elif "\x00" in line:
                seq += 1
                rejected += 1
                yield _nul_row(name, start, line.split(","), header)
                continue
            else:
                cells = line.split(",")
            if len(cells) != width:
                if len(cells) == 1 and not line.strip():
                    tally.blank_lines += 1
                    continue
                seq += 1
                rejected += 1
                yield _ragged(name, start, lineno, len(cells), width)
                continue
            if padding:
                cells += padding

            lead = cells[i_lead].strip()
            text = cells[i_time].strip()
            base = hours.get(text[:13])
            past = rests.get(text[13:])
            if base is not None and past is not None:
                time = base + past
            else:
                parsed = instant(text)
                if isinstance(parsed, _Bad):
                    if lead:
                        seq += 1
                        rejected += 1
                        yield _bad_time(name, start, parsed, cells[:width], header.names)
                        continue
                    time = 0
                else:
                    time = parsed
            type_text = cells[i_type].strip()
            kind = kinds.get(type_text)
            value = cells[i_value].strip()
            # `value` is required by every type but update, and refused on an update.
            if not lead or kind is None or (not value) != (kind is update):
                seq += 1
                rejected += 1
                yield _row_problem(name, start, lead, type_text, kind, value, i_value < width)
                continue
            actor = cells[i_actor].strip()
            team = cells[i_team].strip()
            event_id = cells[i_id].strip()
            if attribute_cells is None:
                attributes: tuple[tuple[str, str | None], ...] = ()
            else:
                raw = attribute_cells(cells)
                memo = attribute_memo.get(raw)
                if memo is None:
                    memo = tuple(
                        (column, stripped)
                        for column, cell in zip(attribute_names, raw, strict=True)
                        if (stripped := cell.strip())
                    )
                    if len(attribute_memo) < _ATTRIBUTE_MEMO_LIMIT:
                        attribute_memo[raw] = memo
                attributes = memo

            event: Any = _EventDraft()
            event.lead = intern(lead)
            event.time = time
            event.kind = kind
            event.value = intern(value) if value else None
            event.actor = intern(actor) if actor else None
            event.team = intern(team) if team else None
            event.event_id = event_id or None
            event.attributes = attributes
            event.origin = Origin(name, start)  # a compiled record: one call
            event.seq = seq
            event.__class__ = Event
            seq += 1
            yield event
    finally:
        rows = seq - start_seq
        tally.rows += rows
        tally.rejected += rejected
        tally.events += rows - rejected
        tally.dst_resolved += clock.resolved
    if seq == start_seq:
        tally.notes.append(
            _diagnostic(
                name,
                header.line,
                "SLA901",
                "the log has a header but no rows",
                "nothing is replayed from this file; export the log again if rows are missing",
                severity=Severity.WARNING,
            )
        )


def _bad_time(name: str, start: int, bad: _Bad, cells: list[str], header: list[str]) -> Rejected:
    """SLA903-906 for the timestamp, or SLA909 when the row is the header again."""
    if [cell.strip() for cell in cells] == header:
        return _rejection(
            name,
            start,
            "SLA909",
            "the row repeats the header",
            "remove it (were two exports joined into one file?)",
        )
    return _refused(name, start, bad, TIMESTAMP, "column")


def _single_cell(index: int) -> Callable[[list[str]], tuple[str, ...]]:
    """Like operator.itemgetter(index), but always returning a tuple."""

    def cell(cells: list[str]) -> tuple[str, ...]:
        return (cells[index],)

    return cell


def _header(cells: list[str], name: str, line: int) -> _Header | list[Rejected]:
    """Header cells -> column positions, or one whole-file rejection per problem."""
    names = [sys.intern(cell.strip()) for cell in cells]
    problems: list[Rejected] = []
    seen: dict[str, int] = {}
    for number, column in enumerate(names, start=1):
        if not column:
            problems.append(
                _whole_file(
                    name,
                    line,
                    _diagnostic(
                        name,
                        line,
                        "SLA909",
                        f"header column {number} has no name",
                        "name the column or delete it (a trailing comma adds an unnamed column)",
                    ),
                )
            )
        elif column in seen:
            problems.append(
                _whole_file(
                    name,
                    line,
                    _diagnostic(
                        name,
                        line,
                        "SLA909",
                        f"column `{column}` appears twice in the header "
                        f"(columns {seen[column]} and {number})",
                        "rename or delete one of them",
                        column=column,
                    ),
                )
            )
        else:
            seen[column] = number
    for required in REQUIRED_COLUMNS:
        if required not in seen:
            problems.append(
                _whole_file(
                    name,
                    line,
                    _diagnostic(
                        name,
                        line,
                        "SLA902",
                        f"the header has no `{required}` column",
                        _missing_column_help(required, names),
                        column=required,
                    ),
                )
            )
    if problems:
        return problems
    index = {column: number - 1 for column, number in seen.items()}
    width = len(names)
    padding: list[str] = []
    for optional in OPTIONAL_COLUMNS:
        if optional not in index:
            # Absent optional columns read as empty cells appended to each row.
            index[optional] = width + len(padding)
            padding.append("")
    attributes = tuple(
        sorted((column, i) for column, i in index.items() if column not in RESERVED_COLUMNS)
    )
    return _Header(line, width, names, index, attributes, tuple(padding))


def _missing_column_help(required: str, names: list[str], noun: str = "column") -> str:
    """Name the header cell (or JSON key) that was probably meant, or how to add the column."""
    wanted = _squash(required)
    for column in names:
        if column and _squash(column) == wanted:
            return f"rename {noun} `{column}` to `{required}` (names are case-sensitive)"
    suggestion = did_you_mean(required, [column for column in names if column])
    if suggestion is not None:
        return f"{suggestion} If so, rename it to `{required}`"
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        separator = "semicolons" if ";" in names[0] else "tabs"
        return (
            f"the file seems to separate cells with {separator}; slaspec reads comma-separated CSV"
        )
    return f"add a `{required}` {noun}; a row needs `lead_id`, `timestamp` and `type`"


def _squash(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _csv_problem(error: csv.Error) -> tuple[str, str]:
    """A csv module error -> (what is wrong, how to fix it), in the user's terms."""
    text = str(error)
    quote_help = 'close the quote; inside a quoted cell write a quote as two quotes (`""`)'
    if "unexpected end of data" in text:
        return "has a quoted cell that is never closed before the end of the file", quote_help
    if "expected after" in text:
        return "has text after the closing quote of a cell", (
            'inside a quoted cell write a quote as two quotes, e.g. `"5"" screen"`'
        )
    if "field larger than field limit" in text:
        return "has a cell longer than the CSV field limit, probably an unclosed quote", quote_help
    return f"is not valid CSV ({text})", "check the quoting of this row"


def _ragged(name: str, start: int, end: int, cells: int, width: int) -> Rejected:
    """SLA909 for a row with more or fewer cells than the header."""
    where = f" (the record runs to line {end})" if end > start else ""
    return _rejection(
        name,
        start,
        "SLA909",
        f"the row has {cells} cells but the header has {width} columns{where}",
        'quote cells that contain commas (`"Smith, Ann"`, with no space before the quote) '
        f"or make the row have {width} cells",
    )


def _nul_row(name: str, start: int, cells: list[str], header: _Header) -> Rejected:
    """SLA909 for a row holding a NUL character, naming the column it is in."""
    columns = {i: column for column, i in header.index.items()}
    number = next((i for i, cell in enumerate(cells) if "\x00" in cell), 0)
    column = columns.get(number)
    return _rejection(
        name,
        start,
        "SLA909",
        f"the row contains a NUL character (cell {number + 1})",
        "the file may be damaged or not UTF-8; re-save it as UTF-8 text",
        column,
    )


def _row_problem(
    name: str,
    start: int,
    lead: str,
    type_text: str,
    kind: EventKind | None,
    value: str,
    has_value_column: bool,
    noun: str = "column",
) -> Rejected:
    """The first of: empty lead, bad type, missing or unexpected value."""
    if not lead:
        return _rejection(
            name,
            start,
            "SLA912",
            f"`{LEAD_ID}` is empty",
            "every row needs the id of the lead (or contact, or deal) it belongs to",
            LEAD_ID,
            noun,
        )
    if kind is None:
        choices = ", ".join(f"`{t}`" for t in TYPE_NAMES)
        shown = f"`{_show(type_text)}`" if type_text else "empty"
        return _rejection(
            name,
            start,
            "SLA907",
            f"`{TYPE}` is {shown}, not one of {choices}",
            did_you_mean(type_text, EVENT_TYPES) or f"write one of {choices}",
            TYPE,
            noun,
        )
    if value:
        return _rejection(
            name,
            start,
            "SLA909",
            f"an `update` row has `{VALUE}` `{_show(value)}`; updates set attributes in their own "
            f"{noun}s",
            f"leave `{VALUE}` empty, or give the row the type its value belongs to",
            VALUE,
            noun,
        )
    type_name = kind.name.lower()
    article = "an" if type_name[0] in "aeiou" else "a"
    if not has_value_column:
        return _rejection(
            name,
            start,
            "SLA908",
            f"{article} `{type_name}` row needs a `{VALUE}`, and the log has no `{VALUE}` {noun}",
            f"add a `{VALUE}` {noun} holding {VALUE_MEANING[kind]}",
            VALUE,
            noun,
        )
    return _rejection(
        name,
        start,
        "SLA908",
        f"{article} `{type_name}` row has an empty `{VALUE}`",
        f"fill in `{VALUE}` with {VALUE_MEANING[kind]}",
        VALUE,
        noun,
    )


# --- JSON Lines -------------------------------------------------------------------------------


class _DuplicateKey(ValueError):
    """A JSON object names one key twice (json would silently keep the last)."""


class _NotANumber(ValueError):
    """A JSON line uses NaN or Infinity, which are not numbers slaspec accepts."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object with trimmed keys, refusing repeated ones."""
    built: dict[str, Any] = {}
    for key, value in pairs:
        trimmed = key.strip()
        if trimmed in built:
            raise _DuplicateKey(trimmed)
        built[trimmed] = value
    return built


def _constant(text: str) -> Any:
    raise _NotANumber(text)


def _json_text(value: Any) -> str | None:
    """A JSON scalar as trimmed text (numbers as decimal text); None for null; raises TypeError."""
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(type(value).__name__)


_JSON_KINDS = {"dict": "an object", "list": "an array"}


def _read_jsonl(
    lines: Iterator[str],
    name: str,
    clock: _Clock,
    start_seq: int,
    tally: ReadCounter,
    line_offset: int = 0,
) -> Iterator[Event | Rejected]:
    """The JSON Lines reader: one object per non-blank line."""
    seq = start_seq
    rejected = 0
    lineno = line_offset
    try:
        for line in lines:
            lineno += 1
            if lineno == line_offset + 1:
                line = line.removeprefix("\ufeff")
            text = line.strip()
            if not text:
                tally.blank_lines += 1
                continue
            if seq == start_seq and text.startswith("[") and not _parses(text):
                tally.file_errors += 1
                yield _whole_file(
                    name,
                    lineno,
                    _diagnostic(
                        name,
                        lineno,
                        "SLA901",
                        "the file is one JSON array, not JSON Lines",
                        "write one JSON object per line, e.g. `jq -c '.[]' log.json > log.jsonl`",
                    ),
                )
                return
            item = _json_row(text, line, name, lineno, clock, seq)
            if isinstance(item, Rejected):
                rejected += 1
            seq += 1
            yield item
    finally:
        rows = seq - start_seq
        tally.rows += rows
        tally.rejected += rejected
        tally.events += rows - rejected
        tally.dst_resolved += clock.resolved
    if seq == start_seq:
        tally.file_errors += 1
        yield _whole_file(
            name,
            1,
            _diagnostic(
                name,
                1,
                "SLA901",
                "the file is empty",
                'a JSON Lines log has one object per line, e.g. `{"lead_id": "L-1", '
                f'"timestamp": "{GOOD_TIMESTAMP}", "type": "stage", "value": "mql"}}`',
            ),
        )


def _parses(text: str) -> bool:
    """Whether a line is JSON on its own."""
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _json_row(
    text: str, line: str, name: str, lineno: int, clock: _Clock, seq: int
) -> Event | Rejected:
    """One JSON Lines row -> Event, or the first problem found in it."""
    try:
        row = json.loads(
            text,
            object_pairs_hook=_object,
            parse_float=Decimal,
            parse_int=str,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as error:
        column = error.colno + len(line) - len(line.lstrip())
        return _rejection(
            name,
            lineno,
            "SLA909",
            f"the line is not valid JSON: {error.msg} at character {column}",
            "write one JSON object per line, with double-quoted keys and strings",
        )
    except _DuplicateKey as error:
        return _rejection(
            name,
            lineno,
            "SLA909",
            f"key `{error}` appears twice in one object",
            "keep one of them",
            str(error),
            "key",
        )
    except _NotANumber as error:
        return _rejection(
            name,
            lineno,
            "SLA909",
            f"`{error}` is not a number slaspec accepts",
            "write a plain decimal number, or null to clear an attribute",
        )
    except RecursionError:
        return _rejection(
            name, lineno, "SLA909", "the JSON is nested too deeply", "write a flat object"
        )
    if not isinstance(row, dict):
        shape = _JSON_KINDS.get(type(row).__name__, "a single value")
        return _rejection(
            name,
            lineno,
            "SLA909",
            f"the line is {shape}, not a JSON object",
            "a JSON Lines log has one object per line (not one array holding them all)",
        )

    texts: dict[str, str | None] = {}
    for key in RESERVED_COLUMNS:
        if key in row:
            try:
                texts[key] = _json_text(row[key])
            except TypeError:
                return _not_scalar(name, lineno, key, row[key])
    for key in REQUIRED_COLUMNS:
        if key not in row:
            present = [k for k in row if k not in RESERVED_COLUMNS]
            return _rejection(
                name,
                lineno,
                "SLA902",
                f"the object has no `{key}` key",
                _missing_column_help(key, present, "key"),
                key,
                "key",
            )
    lead = texts.get(LEAD_ID) or ""
    type_text = texts.get(TYPE) or ""
    kind = EVENT_TYPES.get(type_text)
    value = texts.get(VALUE) or ""
    if not lead:
        return _row_problem(name, lineno, lead, type_text, kind, value, VALUE in row, "key")
    parsed = clock.instant(texts.get(TIMESTAMP) or "")
    if isinstance(parsed, _Bad):
        return _refused(name, lineno, parsed, TIMESTAMP, "key")
    if kind is None or (not value) != (kind is EventKind.UPDATE):
        return _row_problem(name, lineno, lead, type_text, kind, value, VALUE in row, "key")

    attributes: dict[str, str | None] = {}
    for key, raw in row.items():
        if key in RESERVED_COLUMNS:
            continue
        if key != ATTRIBUTES_KEY:
            nested = {key: raw}
        elif isinstance(raw, dict):
            nested = raw
        else:
            return _rejection(
                name,
                lineno,
                "SLA909",
                f"`{ATTRIBUTES_KEY}` is {_JSON_KINDS.get(type(raw).__name__, 'not an object')}",
                f"make `{ATTRIBUTES_KEY}` an object of attribute names and values, "
                'e.g. `{"score": 72}`',
                ATTRIBUTES_KEY,
                "key",
            )
        for attribute, cell in nested.items():
            if not attribute or (nested is raw and attribute in RESERVED_COLUMNS):
                return _rejection(
                    name,
                    lineno,
                    "SLA909",
                    f"attribute name `{attribute}` is empty or reserved",
                    f"give the attribute its own name; `{attribute}` cannot be an attribute",
                    ATTRIBUTES_KEY,
                    "key",
                )
            if attribute in attributes:
                return _rejection(
                    name,
                    lineno,
                    "SLA909",
                    f"attribute `{attribute}` is given both at the top level and in "
                    f"`{ATTRIBUTES_KEY}`",
                    "keep one of them",
                    attribute,
                    "key",
                )
            try:
                cell_text = _json_text(cell)
            except TypeError:
                return _not_scalar(name, lineno, attribute, cell)
            if cell_text is None:
                attributes[attribute] = None
            elif cell_text:
                attributes[attribute] = cell_text
    actor = texts.get(ACTOR)
    team = texts.get(TEAM)
    event_id = texts.get(EVENT_ID)
    return Event(
        lead=sys.intern(lead),
        time=parsed,
        kind=kind,
        value=sys.intern(value) if value else None,
        actor=sys.intern(actor) if actor else None,
        team=sys.intern(team) if team else None,
        event_id=event_id or None,
        attributes=tuple(sorted(attributes.items())),
        origin=Origin(name, lineno),
        seq=seq,
    )


def _not_scalar(name: str, lineno: int, key: str, value: Any) -> Rejected:
    kind = _JSON_KINDS.get(type(value).__name__, "not text")
    return _rejection(
        name,
        lineno,
        "SLA909",
        f"`{key}` is {kind}; it must be a string, a number, true/false or null",
        f"flatten `{key}` into text",
        key,
        "key",
    )


# --- decoding ---------------------------------------------------------------------------------


def _binary_problem(data: bytes, name: str) -> Diagnostic | None:
    """SLA901 for a workbook, UTF-16/32 text or a binary file passed as a UTF-8 log."""
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Diagnostic(
            "SLA901",
            f"`{name}` is a spreadsheet workbook (or another archive), not CSV text",
            name,
            help="open it in the spreadsheet and save it as `CSV UTF-8 (comma delimited)`",
            row=1,
        )
    for bom, label in (
        (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return Diagnostic(
                "SLA901",
                f"`{name}` is {label.upper()} text, not UTF-8",
                name,
                help=f"re-save it as UTF-8, or pass --encoding {label}",
                row=1,
            )
    first = data.find(b"\x00")
    sample = data[:4096]
    if first < 0 or sample.count(b"\x00") * 8 < len(sample):
        return None
    line, column = _byte_position(data, first)
    return Diagnostic(
        "SLA901",
        f"`{name}` line {line} has NUL bytes (first at byte offset {first}, byte {column} of the "
        "line): it is UTF-16 or binary, not UTF-8 text",
        name,
        help="re-save it as UTF-8 (or pass --encoding utf-16 if it is UTF-16 text)",
        row=line,
    )


def _undecodable(data: bytes, name: str, encoding: str, error: UnicodeDecodeError) -> Diagnostic:
    """SLA901 naming the line and byte offset of the first byte that is not valid text."""
    line, column = _byte_position(data, error.start)
    bad = data[error.start : max(error.end, error.start + 1)]
    shown = " ".join(f"0x{byte:02X}" for byte in bad[:4])
    if encoding in ("utf-8", "utf-8-sig"):
        guess = bad[:1].decode("cp1252", errors="replace")
        help_ = (
            f"{shown} is `{guess}` in Windows-1252 (Latin-1): re-save the file as UTF-8 "
            "(spreadsheets: `CSV UTF-8`), or pass --encoding cp1252"
        )
    else:
        help_ = f"check the file's encoding; it is not {encoding}"
    return Diagnostic(
        "SLA901",
        f"`{name}` line {line} is not {encoding.upper()} text: byte {shown} at byte offset "
        f"{error.start} (byte {column} of the line)",
        name,
        help=help_,
        row=line,
    )


def _byte_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based line and 1-based byte-in-line of a byte offset."""
    line = data.count(b"\n", 0, offset) + 1
    return line, offset - (data.rfind(b"\n", 0, offset) + 1) + 1


# --- diagnostics ------------------------------------------------------------------------------


def _show(text: str) -> str:
    """A cell as it can be printed in one line of a message."""
    shown = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= _SHOWN_CHARS else shown[: _SHOWN_CHARS - 3] + "..."


def _diagnostic(
    name: str,
    line: int,
    code: str,
    problem: str,
    help_: str,
    column: str | None = None,
    noun: str = "column",
    severity: Severity | None = None,
) -> Diagnostic:
    # File, line and column are fields of the diagnostic, and every reporter prints them; the
    # message says only what is wrong. `noun` names the column in JSON Lines ("key").
    del noun
    return Diagnostic(
        code,
        problem,
        name,
        help=help_,
        row=line,
        column=column,
        severity_override=severity,
    )


def _rejection(
    name: str,
    line: int,
    code: str,
    problem: str,
    help_: str,
    column: str | None = None,
    noun: str = "column",
) -> Rejected:
    return Rejected(Origin(name, line), _diagnostic(name, line, code, problem, help_, column, noun))


def _refused(name: str, line: int, bad: _Bad, column: str, noun: str) -> Rejected:
    return _rejection(name, line, bad.code, bad.problem, bad.help, column, noun)


def _whole_file(name: str, line: int, diagnostic: Diagnostic) -> Rejected:
    if diagnostic.file is None:
        diagnostic = Diagnostic(
            diagnostic.code,
            f"`{name}`: {diagnostic.message}",
            name,
            diagnostic.span,
            diagnostic.help,
            diagnostic.row,
            diagnostic.column,
            diagnostic.severity_override,
        )
    return Rejected(Origin(name, line), diagnostic, whole_file=True)
