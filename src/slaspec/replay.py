"""The replay: compiled agreement + events -> per-lead results (the reference semantics).

Two steps. `prepare` works on the whole input: it types attribute values against the agreement's
fields, resolves stage aliases, rejects what does not fit, drops duplicate event ids, fixes the
as-of instant and drops rows after it, so every row lands in exactly one bucket. `replay_lead`
then folds one lead's events in the order of semantics.md section 4; it sees nothing of other
leads, so any disjoint set of leads can be replayed apart and the results merged.

A large log sends a million rows through here (docs/performance.md), so the hot paths build no
per-row object that is thrown away, type each distinct cell once, compile every criterion once
into a closure, and read the business clock F once per instant where the reference formula
reads it twice. Each shortcut is exact; the comment beside it says why.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Final, assert_never, overload
from zoneinfo import ZoneInfo

from slaspec import formatter
from slaspec import nodes as n
from slaspec.calendar import BusinessCalendar, NoOpenTime
from slaspec.compiler import Agreement, Length, Stage
from slaspec.diagnostics import Diagnostic, did_you_mean, sort_key
from slaspec.events import FIRST_YEAR, LAST_YEAR, Event, EventKind, Origin
from slaspec.readers import Rejected
from slaspec.results import (
    Accounting,
    Activity,
    Cycle,
    LeadResult,
    Outcome,
    ReplayResult,
    Stay,
    Violation,
    ViolationKind,
    human_duration,
)

START, STOP, CANCEL = 1, 2, 4

# Enum members and shared callables used on every event, as compiled constants: compiled code
# looks a class attribute up by name on each use, a constant it reads directly.
_MET: Final = Outcome.MET
_BREACHED: Final = Outcome.BREACHED
_CANCELLED: Final = Outcome.CANCELLED
_PENDING: Final = Outcome.PENDING
_ASSIGN: Final = EventKind.ASSIGN
_STAGE: Final = EventKind.STAGE
_ACTIVITY: Final = EventKind.ACTIVITY
# A violation kind's value, the second key of a lead's violations' order (an enum's `.value`
# is a Python-level property).
_KIND_VALUES: Final = {kind: kind.value for kind in ViolationKind}
_new_activity: Final = partial(tuple.__new__, Activity)

_VALUE_HELP = {
    "number": "write a plain decimal such as 85 or -12.5 (no %, currency signs, thousands "
    "separators or exponents)",
    "money": "write a plain decimal amount such as 18500 or 99.95 (no currency signs or "
    "thousands separators)",
    "boolean": "write true or false (yes/no and 1/0 are accepted too)",
    "date": f"write the date as YYYY-MM-DD, in the years {FIRST_YEAR}-{LAST_YEAR} (business "
    "calendars cover no others)",
    "datetime": "write an ISO 8601 date and time such as 2026-03-02T09:15:00+11:00, in the years "
    f"{FIRST_YEAR}-{LAST_YEAR} (business calendars cover no others)",
    "enum": "use one of the field's values, or add this value to the field's enum",
    "string": "",
}

_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\Z")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
UTC = dt.UTC

Value = str | Decimal | bool | dt.date | dt.datetime


# ---------------------------------------------------------------- preparation


@dataclass(slots=True, init=False)
class Row:
    """One event after preparation: stage resolved, attribute values typed. Read-only.

    Not a frozen dataclass, for speed alone: this module is compiled by mypyc (docs/decisions.md)
    and builds a row per event, and a frozen dataclass is built through a Python-level `__init__`
    (each field set by `object.__setattr__`), where this hand-written one compiles to a few
    stores. Compares and hashes by value, as a frozen dataclass does; nothing assigns to a row.
    """

    lead: str
    time: int
    kind: EventKind
    seq: int
    value: str | None
    actor: str | None
    team: str | None
    attributes: tuple[tuple[str, Value | None], ...]
    origin: Origin
    cells: bool  # the attribute cells of a stage/activity/assign row, split off

    def __init__(
        self,
        lead: str,
        time: int,
        kind: EventKind,
        seq: int,
        value: str | None,
        actor: str | None,
        team: str | None,
        attributes: tuple[tuple[str, Value | None], ...],
        origin: Origin,
        cells: bool = False,
    ) -> None:
        self.lead = lead
        self.time = time
        self.kind = kind
        self.seq = seq
        self.value = value
        self.actor = actor
        self.team = team
        self.attributes = attributes
        self.origin = origin
        self.cells = cells

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[type[Row], tuple[Any, ...]]:
        return (Row, self._fields())  # compiled, a row is rebuilt by its constructor

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.lead,
            self.time,
            self.kind,
            self.seq,
            self.value,
            self.actor,
            self.team,
            self.attributes,
            self.origin,
            self.cells,
        )


class Block:
    """The rows of some leads in replay order, column by column: what the fold reads.

    The fold reads a row's fields from these lists by index, so that a large log's rows need
    not each be a `Row` (with its `Origin`), built and freed again: the columnar reading
    (slaspec.columnar) fills them straight from its columns, and an origin is made only for a
    row that a result records. Rows of the reference reading are put in columns by `of`.
    A row's seq is `seq_base + places[i]`; its origin is `origins[i]`, or, without that list,
    line `line_base + places[i]` of `file`.
    """

    def __init__(
        self,
        times: list[int],
        kinds: list[EventKind],
        values: list[str | None],
        actors: list[str | None],
        teams: list[str | None],
        attributes: list[tuple[tuple[str, Value | None], ...]],
        cells: list[bool],
        places: list[int],
        seq_base: int,
        origins: list[Origin] | None,
        file: str,
        line_base: int,
    ) -> None:
        self.times = times
        self.kinds = kinds
        self.values = values
        self.actors = actors
        self.teams = teams
        self.attributes = attributes
        self.cells = cells
        self.places = places
        self.seq_base = seq_base
        self.origins = origins
        self.file = file
        self.line_base = line_base

    @staticmethod
    def of(rows: Iterable[Row]) -> Block:
        """Rows in columns."""
        times: list[int] = []
        kinds: list[EventKind] = []
        values: list[str | None] = []
        actors: list[str | None] = []
        teams: list[str | None] = []
        attributes: list[tuple[tuple[str, Value | None], ...]] = []
        cells: list[bool] = []
        seqs: list[int] = []
        origins: list[Origin] = []
        for row in rows:
            times.append(row.time)
            kinds.append(row.kind)
            values.append(row.value)
            actors.append(row.actor)
            teams.append(row.team)
            attributes.append(row.attributes)
            cells.append(row.cells)
            seqs.append(row.seq)
            origins.append(row.origin)
        return Block(
            times, kinds, values, actors, teams, attributes, cells, seqs, 0, origins, "", 0
        )

    def origin(self, index: int) -> Origin:
        """The origin of the row at `index`."""
        origins = self.origins
        if origins is not None:
            return origins[index]
        return Origin(self.file, self.line_base + self.places[index])

    def row(self, lead: str, index: int) -> Row:
        """The row at `index`, of the given lead."""
        return Row(
            lead,
            self.times[index],
            self.kinds[index],
            self.seq_base + self.places[index],
            self.values[index],
            self.actors[index],
            self.teams[index],
            self.attributes[index],
            self.origin(index),
            self.cells[index],
        )


class Rows(Sequence[Row]):
    """One lead's rows, a slice of a `Block`: a sequence of `Row` made on demand, equal to the
    tuple of the same rows. `Engine.replay_lead` folds it without making any `Row`."""

    __slots__ = ("block", "end", "lead", "start")

    def __init__(self, lead: str, block: Block, start: int, end: int) -> None:
        self.lead = lead
        self.block = block
        self.start = start
        self.end = end

    @staticmethod
    def of(lead: str, rows: Sequence[Row]) -> Rows:
        """A lead's rows (of the reference reading, or unpickled) in columns."""
        return Rows(lead, Block.of(rows), 0, len(rows))

    def __len__(self) -> int:
        return self.end - self.start

    @overload
    def __getitem__(self, index: int) -> Row: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Row, ...]: ...

    def __getitem__(self, index: int | slice) -> Row | tuple[Row, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        size = self.end - self.start
        if index < 0:
            index += size
        if not 0 <= index < size:
            raise IndexError("row index out of range")
        return self.block.row(self.lead, self.start + index)

    def __iter__(self) -> Iterator[Row]:
        block, lead = self.block, self.lead
        for index in range(self.start, self.end):
            yield block.row(lead, index)

    def __eq__(self, other: object) -> bool:
        if type(other) is Rows or type(other) is tuple:
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Rows{tuple(self)!r}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Rows.of, (self.lead, tuple(self)))


# Replay order (semantics.md 4): timestamp, kind rank, input order; a stable sort keeps rows
# that tie on all three in the order `prepare` saw them.
_REPLAY_ORDER = operator.attrgetter("time", "kind", "seq")


@dataclass(frozen=True, slots=True)
class Prepared:
    """Rows grouped by lead and ready to fold, with the accounting of every input row."""

    leads: Mapping[str, Sequence[Row]]  # a tuple or `Rows` per lead
    as_of: int
    accounting: Accounting
    rejections: tuple[Diagnostic, ...]


def coerce(kind: str, raw: str, field_type: n.FieldType, timezone: str) -> Value:
    """A raw cell as a value of the field's type; ValueError with a reason when it does not fit."""
    if kind in ("number", "money"):
        if not _NUMBER.match(raw):
            raise ValueError(f"`{raw}` is not a number")
        return Decimal(raw)
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"`{raw}` is not true or false")
    if kind == "date":
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"`{raw}` is not a date (write YYYY-MM-DD)") from None
        if day in (_FIRST_YEAR_DAY, _LAST_YEAR_DAY):
            # Compared as its midnight in the agreement's zone (`Engine.instant_of`).
            inside = _covered(dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(timezone)))
        else:
            inside = _FIRST_YEAR_DAY < day < _LAST_YEAR_DAY
        if not inside:
            raise ValueError(_outside_years(raw))
        return day
    if kind == "datetime":
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"`{raw}` is not a date and time (ISO 8601)") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(timezone))
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # past year 9999 or before year 1 in UTC
            raise ValueError(_outside_years(raw)) from None
        if not _covered(value):
            raise ValueError(_outside_years(raw))
        return value
    if kind == "enum":
        allowed = [v.value for v in field_type.values]
        if raw not in allowed:
            hint = did_you_mean(raw, allowed)
            raise ValueError(
                f"`{raw}` is not one of the values of this field"
                + (f" ({hint})" if hint else f" ({', '.join(allowed)})")
            )
        return raw
    return raw


# Business calendars answer for instants of these years only (slaspec.events): a date or
# datetime cell outside them does not fit its field. Dates strictly between these two are
# inside whatever the zone.
_EARLIEST_DATETIME = dt.datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
_LATEST_DATETIME = dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)
_FIRST_YEAR_DAY = dt.date(FIRST_YEAR, 1, 1)
_LAST_YEAR_DAY = dt.date(LAST_YEAR, 12, 31)


def _covered(value: dt.datetime) -> bool:
    return _EARLIEST_DATETIME <= value < _LATEST_DATETIME


def _outside_years(raw: str) -> str:
    return f"`{raw}` is outside the years {FIRST_YEAR}-{LAST_YEAR}"


class _CellError(Exception):
    """A cell that does not fit its field (becomes SLA911 on the row)."""

    def __init__(self, name: str, field_type: n.FieldType, reason: ValueError) -> None:
        super().__init__(name)
        self.name = name
        self.field_type = field_type
        self.reason = reason


class _Cells:
    """Raw attribute cells -> typed (name, value) pairs, each distinct cell of a field typed once.

    Text fields and columns the agreement does not declare keep the reader's pair as it is.
    """

    __slots__ = ("fields", "pairs", "timezone")

    def __init__(self, agreement: Agreement) -> None:
        self.fields = agreement.fields
        self.timezone = agreement.timezone
        # field -> raw text -> (field, typed value); a log repeats its few scores and sources.
        # Typed Any, not as the tuple it is: compiled by mypyc (docs/decisions.md) a tuple type
        # is unboxed and boxed again on use, a new tuple each time, where every row should share
        # one pair; Any keeps the object itself.
        self.pairs: dict[str, dict[str, Any]] = {
            name: {} for name, field_type in self.fields.items() if field_type.kind != "string"
        }

    def typed(
        self, cells: tuple[tuple[str, str | None], ...]
    ) -> tuple[tuple[str, Value | None], ...]:
        """The cells with typed values; _CellError at the first that does not fit."""
        pairs = self.pairs
        # The reader's own pairs and the typed ones, shared by the rows (Any: see `pairs`).
        out: list[Any] = []
        cell: Any
        for cell in cells:
            name, raw = cell
            known = pairs.get(name)
            if known is None or raw is None:
                out.append(cell)
                continue
            pair: Any = known.get(raw)
            if pair is None:
                field_type = self.fields[name]
                try:
                    value = coerce(field_type.kind, raw, field_type, self.timezone)
                except ValueError as error:
                    raise _CellError(name, field_type, error) from None
                pair = (name, value)  # one object, stored and used (Any: see `pairs`)
                known[raw] = pair
            out.append(pair)
        return tuple(out)


def prepare(
    agreement: Agreement, items: Iterable[Event | Rejected], as_of: int | None = None
) -> Prepared:
    """Type, validate and deduplicate the input, and fix the as-of instant."""
    read = rejected = duplicate = after = replayed = 0
    rejections: list[Diagnostic] = []
    seen_ids: set[str] = set()
    leads: dict[str, list[Row]] = {}
    latest: int | None = None
    stage_names = [*agreement.stages, *agreement.aliases]
    # Agreement.stage_for as one lookup: a stage's own name wins over an alias.
    stage_of = {**agreement.aliases, **{name: name for name in agreement.stages}}
    cells = _Cells(agreement)
    new_row = Row
    stage_kind, update_kind = EventKind.STAGE, EventKind.UPDATE
    for item in items:
        read += 1
        if isinstance(item, Rejected):
            rejections.append(item.diagnostic)
            if item.whole_file:
                read -= 1  # a file that could not be read has no rows to account for
            else:
                rejected += 1
            continue
        kind = item.kind
        value = item.value
        if kind is stage_kind and value is not None:
            stage = stage_of.get(value)
            if stage is None:
                rejected += 1
                rejections.append(_unknown_stage(item, value, stage_names))
                continue
            value = stage
        attributes: tuple[tuple[str, Value | None], ...] = item.attributes
        if attributes:
            try:
                attributes = cells.typed(item.attributes)
            except _CellError as error:
                rejected += 1
                rejections.append(_bad_cell(item, error))
                continue
        event_id = item.event_id
        if event_id is not None:
            if event_id in seen_ids:
                duplicate += 1
                continue
            seen_ids.add(event_id)
        t = item.time
        if as_of is not None and t > as_of:
            after += 1
            continue
        replayed += 1
        if latest is None or t > latest:
            latest = t
        lead, seq, actor, team, origin = item.lead, item.seq, item.actor, item.team, item.origin
        rows = leads.get(lead)
        if rows is None:
            rows = leads[lead] = []
        if attributes and kind is not update_kind:
            # Cells on a stage, activity or assign row are an update at rank 0 of the same
            # instant (semantics.md 9), seen before anything else that happens then.
            rows.append(
                new_row(lead, t, update_kind, seq, None, actor, team, attributes, origin, True)
            )
            attributes = ()
        rows.append(new_row(lead, t, kind, seq, value, actor, team, attributes, origin, False))
    if as_of is None:
        # The latest kept instant (0 without any), so no kept row is after it.
        as_of = 0 if latest is None else latest
    ordered = {lead: tuple(sorted(leads[lead], key=_REPLAY_ORDER)) for lead in sorted(leads)}
    accounting = Accounting(read, replayed, rejected, duplicate, after)
    rejections.sort(key=sort_key)
    return Prepared(ordered, as_of, accounting, tuple(rejections))


def _unknown_stage(item: Event, value: str, stage_names: list[str]) -> Diagnostic:
    hint = did_you_mean(value, stage_names)
    return Diagnostic(
        "SLA910",
        f"`{value}` is not a stage of the agreement",
        item.origin.file,
        row=item.origin.row,
        column="value",
        help=hint or "add it to a stage's `aliases` so the CRM's spelling maps to a stage",
    )


def _bad_cell(item: Event, error: _CellError) -> Diagnostic:
    kind = error.field_type.kind
    return Diagnostic(
        "SLA911",
        f"{error.reason} for {kind} field `{error.name}`",
        item.origin.file,
        row=item.origin.row,
        column=error.name,
        help=_VALUE_HELP[kind],
    )


# ---------------------------------------------------------------- the per-lead fold


class _Run:
    """A running clock or cadence cycle."""

    __slots__ = (
        "cal",
        "calendar",
        "consumed",
        "count",
        "due",
        "goal",
        "goal_text",
        "index",
        "is_clock",
        "kind",
        "pause_start",
        "paused_total",
        "required",
        "responsible",
        "rule",
        "segment",
        "segment_clock",
        "start_row",
        "started",
        "tier",
        "warn",
    )

    def __init__(
        self,
        rule: str,
        kind: str,
        index: int,
        started: int,
        start_row: Origin,
        tier: int,
        goal: int,
        goal_text: str,
        calendar: str,
        cal: BusinessCalendar,
        responsible: str | None,
        warn: Decimal | None,
        due: int | None,
        required: int = 0,
    ) -> None:
        self.rule = rule
        self.kind = kind
        self.is_clock = kind == "clock"
        self.index = index
        self.started = started
        self.start_row = start_row
        self.tier = tier
        self.goal = goal
        self.goal_text = goal_text
        self.calendar = calendar
        self.cal = cal
        self.responsible = responsible
        self.warn = warn
        self.consumed = 0
        self.segment: int | None = started  # start of the running (unpaused) stretch
        self.segment_clock: int | None = None  # F(segment), read when first needed
        self.paused_total = 0
        self.pause_start: int | None = None
        self.due = due
        self.count = 0
        self.required = required

    def elapsed(self, t: int) -> int:
        """Business time counted up to t: `consumed` + elapsed(segment, t) on the calendar."""
        segment = self.segment
        if segment is None or t <= segment:
            return self.consumed
        now = self.cal.clock(t)
        base = self.segment_clock
        if base is None:
            base = self.segment_clock = self.cal.clock(segment)
        return self.consumed + now - base

    def paused(self, t: int) -> int:
        pausing = self.cal.elapsed(self.pause_start, t) if self.pause_start is not None else 0
        return self.paused_total + pausing

    def set_paused(self, paused: bool, t: int) -> None:
        if paused and self.segment is not None:
            self.consumed += self.cal.elapsed(self.segment, t)
            self.segment = self.segment_clock = None
            self.pause_start = t
            if self.consumed < self.goal:
                self.due = None  # the deadline moves while paused; a reached one stays
        elif not paused and self.segment is None:
            if self.pause_start is not None:
                self.paused_total += self.cal.elapsed(self.pause_start, t)
            self.pause_start = None
            self.segment = t
            if self.consumed < self.goal:
                self.due = _deadline(self.cal, t, self.goal - self.consumed)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One step of a lead's timeline, for `slaspec explain`."""

    time: int
    row: Origin
    kind: EventKind
    value: str | None
    actor: str | None
    team: str | None
    stage: str | None
    clocks: tuple[tuple[str, str, int, int | None], ...]  # rule, state, elapsed, due
    notes: tuple[str, ...]


class _Lead:
    """The mutable state of one lead during its fold."""

    __slots__ = (
        "activities",
        "attributes",
        "counts",
        "cycles",
        "entered",
        "entered_clock",
        "entered_row",
        "entries",
        "lead",
        "next_expiry",
        "notes",
        "owner",
        "runs",
        "stage",
        "stays",
        "tracing",
        "violations",
    )

    def __init__(self, lead: str, tracing: bool) -> None:
        self.lead = lead
        self.stage: str | None = None
        self.entered = 0
        # F(entered) on the stage's dwell calendar, when already read at the change.
        self.entered_clock: int | None = None
        self.entered_row: Origin | None = None
        self.owner: str | None = None
        self.attributes: dict[str, Value] = {}
        self.entries: dict[str, int] = {}
        self.activities: list[Activity] = []
        self.runs: dict[str, _Run] = {}
        self.counts: dict[str, int] = {}
        self.stays: list[Stay] = []
        self.cycles: list[Cycle] = []
        self.violations: list[Violation] = []
        self.notes: list[str] = []
        self.tracing = tracing
        # No cadence cycle can have expired at or before this instant (`expire_cadences`).
        self.next_expiry = _NEVER


# A compiled criterion: (lead state, instant, stage that `since` defaults to) -> holds.
Predicate = Callable[[_Lead, int, str | None], bool]


@dataclass(frozen=True, slots=True)
class _Part:
    """One conjunct of a handoff's criteria: the expression, its closure and its text."""

    expr: n.Expr
    holds: Predicate
    text: str


@dataclass(frozen=True, slots=True)
class _Dwell:
    """How a stay in one stage is measured: the stage, the calendar its dwell is measured on,
    and its limit with the calendar the limit is judged on."""

    stage: Stage
    calendar: BusinessCalendar
    limit: Length | None
    limit_calendar: BusinessCalendar | None
    limit_micros: int  # limit.micros (0 without a limit), read at every stay's end


@dataclass(frozen=True, slots=True)
class _By:
    """Whose activities count (a trigger's or count's `by`): the stage owner's, or a team's."""

    owner: bool
    team: str | None


def _by(actor: n.Actor | None) -> _By | None:
    if actor is None:
        return None
    if isinstance(actor, n.ByOwner):
        return _By(True, None)
    return _By(False, actor.team.text)


@dataclass(frozen=True, slots=True)
class _Span:
    """A compiled `Length` as a cycle reads it: microseconds, text, and the calendar (by name,
    and built) that measures it."""

    micros: int
    text: str
    calendar_name: str
    calendar: BusinessCalendar


@dataclass(frozen=True, slots=True)
class _Tier:
    """One goal tier of a clock, as `start_clock` reads it: its condition (None: always) and
    its length."""

    holds: Predicate | None
    length: _Span


@dataclass(frozen=True, slots=True)
class _ClockPlan:
    """A clock as the fold starts it (the compiled `Clock`'s fields it reads, each time)."""

    name: str
    tiers: tuple[_Tier, ...]
    responsible: str | None
    warn: Decimal | None


@dataclass(frozen=True, slots=True)
class _CadencePlan:
    """A cadence as the fold starts and counts it."""

    name: str
    minimum: int
    by: _By | None
    within: _Span
    responsible: str | None


class Engine:
    """A compiled agreement ready to replay leads: calendars built, rules indexed."""

    def __init__(
        self,
        agreement: Agreement,
        shown: Collection[str] | None = None,
        calendars: Mapping[str, BusinessCalendar] | None = None,
    ) -> None:
        """`shown`: the attributes each `LeadResult` shows, in the names' order; every attribute
        the lead has when None. `slaspec replay` asks only for those its reports read (the
        analysis groups by one and prices by another): a text per attribute per lead otherwise
        costs about a tenth of the fold, for a part of the result no report shows.

        `calendars`: the agreement's business calendars by name, if made already: `slaspec
        replay` gives its engine and its `analysis.Analyser` the same ones, so that their tables
        are built once."""
        self.agreement = agreement
        self.shown_only: tuple[str, ...] | None = None
        if shown is not None:
            self.shown_only = tuple(sorted(set(shown)))
        # Plain dicts of the agreement's read-only mappings: the fold looks them up for every
        # event, and a dict look-up costs half that of one through a MappingProxyType.
        self.stages = dict(agreement.stages)
        self.handoffs = dict(agreement.handoffs)
        self.roster = dict(agreement.roster)
        self.owners = {name: stage.owner for name, stage in agreement.stages.items()}
        if calendars is None:
            calendars = {name: BusinessCalendar(spec) for name, spec in agreement.calendars.items()}
        self.calendars = {name: calendars[name] for name in agreement.calendars}
        self.zone = ZoneInfo(agreement.timezone)
        self.dwell_calendar = agreement.default_calendar or "always"
        # Triggers indexed by what fires them, so an event only looks at the rules it can touch.
        self.rule_order: dict[str, int] = {}
        self.on_enter: dict[str, list[tuple[str, int]]] = {}
        self.on_leave: dict[str, list[tuple[str, int]]] = {}
        self.on_handoff: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self.on_create: list[tuple[str, int]] = []
        self.on_assign: list[tuple[str, int]] = []
        self.on_activity: dict[str, list[tuple[str, int, _By | None]]] = {}
        rules: list[tuple[str, tuple[tuple[Sequence[n.Trigger], int], ...]]] = [
            (c.name, ((c.starts, START), (c.stops, STOP), (c.cancels, CANCEL)))
            for c in agreement.clocks.values()
        ]
        rules += [
            (c.name, ((c.starts, START), (c.exits, CANCEL))) for c in agreement.cadences.values()
        ]
        for name, groups in rules:
            self.rule_order[name] = len(self.rule_order)
            for triggers, action in groups:
                for trigger in triggers:
                    self.index(name, trigger, action)
        # The fold reads clocks and cadences through plans: the compiled records' fields, read
        # by name on every start, held by native records.
        self.cadence_plans = {
            name: _CadencePlan(
                name,
                cadence.minimum,
                _by(cadence.by),
                self.span(cadence.within),
                cadence.responsible,
            )
            for name, cadence in agreement.cadences.items()
        }
        # Activity type -> the cadences that count it, in the agreement's order.
        self.counting = {
            name: tuple(
                self.cadence_plans[c.name] for c in agreement.cadences.values() if name in c.types
            )
            for name in dict.fromkeys(t for c in agreement.cadences.values() for t in c.types)
        }
        self.pausing = any(clock.pauses for clock in agreement.clocks.values())
        self.expiring = bool(agreement.cadences)
        # Criteria compiled once; they are evaluated at every handoff, clock start and event.
        self.criteria = {
            key: tuple(
                _Part(part, self.compile(part), formatter.format_expr(part))
                for part in _conjuncts(handoff.criteria)
            )
            for key, handoff in agreement.handoffs.items()
        }
        self.clock_plans = {
            name: _ClockPlan(
                name,
                tuple(
                    _Tier(
                        None if goal.condition is None else self.compile(goal.condition),
                        self.span(goal.length),
                    )
                    for goal in clock.goals
                ),
                clock.responsible,
                clock.warn,
            )
            for name, clock in agreement.clocks.items()
        }
        self.pauses = {
            name: tuple(self.compile_pause(pause) for pause in clock.pauses)
            for name, clock in agreement.clocks.items()
            if clock.pauses
        }
        self.dwell = {
            name: _Dwell(
                stage,
                self.calendars[stage.calendar],
                stage.max_dwell,
                None if stage.max_dwell is None else self.calendars[stage.max_dwell.calendar],
                0 if stage.max_dwell is None else stage.max_dwell.micros,
            )
            for name, stage in agreement.stages.items()
        }
        self.initial = ", ".join(s.name for s in agreement.stages.values() if s.initial)
        # id(value) -> (value, its text), for `shown`.
        self.texts: dict[int, tuple[Value, str]] = {}

    def span(self, length: Length) -> _Span:
        return _Span(length.micros, length.text, length.calendar, self.calendars[length.calendar])

    def index(self, rule: str, trigger: n.Trigger, action: int) -> None:
        match trigger:
            case n.OnEnter():
                for stage in trigger.stages:
                    self.on_enter.setdefault(stage.text, []).append((rule, action))
            case n.OnLeave():
                for stage in trigger.stages:
                    self.on_leave.setdefault(stage.text, []).append((rule, action))
            case n.OnHandoff():
                key = (trigger.source.text, trigger.target.text)
                self.on_handoff.setdefault(key, []).append((rule, action))
            case n.OnCreate():
                self.on_create.append((rule, action))
            case n.OnAssign():
                self.on_assign.append((rule, action))
            case n.OnActivity():
                for activity in trigger.types:
                    entry = (rule, action, _by(trigger.by))
                    self.on_activity.setdefault(activity.text, []).append(entry)
            case _:
                assert_never(trigger)

    def cover(self, t: int) -> None:
        """Build the business calendars' tables around t now, rather than at the first lead
        replayed. The command calls this before it forks the second process, so that the two
        share the tables instead of each building them (a calendar builds the years around the
        first instant it is asked about, and more only when asked about others)."""
        for calendar in self.calendars.values():
            calendar.clock(t)

    def act(self, state: _Lead, rule: str, fired: int, t: int, origin: Origin) -> None:
        """Apply one event's triggers to one rule: close first, then open (semantics.md 6)."""
        run = state.runs.get(rule)
        clock = self.clock_plans.get(rule)
        if run is not None:
            if clock is not None and fired & STOP:
                outcome = _MET if run.elapsed(t) <= run.goal else _BREACHED
                self.close(state, run, t, outcome, origin, t)
            elif fired & CANCEL:
                self.close(state, run, t, _CANCELLED, origin, t)
        if fired & START and rule not in state.runs:
            if clock is not None:
                self.start_clock(clock, state, t, origin)
            else:
                self.start_cadence(self.cadence_plans[rule], state, t, origin)

    # -------------------------------------------------------- evaluation

    def owner_of(self, stage: str | None) -> str | None:
        if stage is None:
            return None
        return self.owners[stage]

    def actor_matches(self, by: _By | None, team: str | None, stage: str | None) -> bool:
        if by is None:
            return True
        if by.owner:
            return team is not None and team == self.owner_of(stage)
        return team == by.team

    def count(self, item: n.ActivityCount, state: _Lead, t: int, since_default: str | None) -> int:
        types = frozenset(name.text for name in item.types)
        since = item.since.text if item.since is not None else None
        return self.count_types(types, since, _by(item.by), state, t, since_default)

    def count_types(
        self,
        types: frozenset[str],
        since_stage: str | None,
        by: _By | None,
        state: _Lead,
        t: int,
        since_default: str | None,
    ) -> int:
        """Activities of `types` (by `by`) at or before t since the lead last entered
        `since_stage` (else `since_default`); 0 if it never did."""
        stage = since_stage if since_stage is not None else since_default
        if stage is None or stage not in state.entries:
            return 0
        since = state.entries[stage]
        counted = 0
        for activity in state.activities:
            # By position: compiled code reads a named tuple's fields by name, slowly.
            time = activity[0]
            if (
                since <= time <= t
                and activity[1] in types
                and self.actor_matches(by, activity[3], state.stage)
            ):
                counted += 1
        return counted

    def compile(self, expr: n.Expr) -> Predicate:
        """A criterion as a closure; the evaluation rules of semantics.md 5, one case per node."""
        match expr:
            case n.And():
                parts = tuple(self.compile(p) for p in expr.parts)
                return lambda state, t, since: all(p(state, t, since) for p in parts)
            case n.Or():
                parts = tuple(self.compile(p) for p in expr.parts)
                return lambda state, t, since: any(p(state, t, since) for p in parts)
            case n.Not():
                part = self.compile(expr.part)
                return lambda state, t, since: not part(state, t, since)
            case n.Presence():
                name, present = expr.field.text, expr.present
                return lambda state, t, since: (name in state.attributes) == present
            case n.Comparison():
                return self.compile_comparison(expr)
            case n.Membership():
                return self.compile_membership(expr)
            case n.Recent():
                return self.compile_recent(expr)
            case n.ActivityCount():
                types = frozenset(name.text for name in expr.types)
                minimum = expr.minimum
                stage = expr.since.text if expr.since is not None else None
                by = _by(expr.by)

                def counted(state: _Lead, t: int, since: str | None) -> bool:
                    return self.count_types(types, stage, by, state, t, since) >= minimum

                return counted
        raise AssertionError(expr)  # pragma: no cover

    def compile_comparison(self, expr: n.Comparison) -> Predicate:
        name, op, other = expr.field.text, _OPERATORS[expr.op], _literal(expr.value)

        def compared(state: _Lead, t: int, since: str | None) -> bool:
            # An unset attribute compares false (semantics.md 5).
            value = state.attributes.get(name)
            return value is not None and _compare(value, op, other)

        return compared

    def compile_membership(self, expr: n.Membership) -> Predicate:
        name, negated = expr.field.text, expr.negated
        values = tuple(_literal(v) for v in expr.values)

        def member(state: _Lead, t: int, since: str | None) -> bool:
            value = state.attributes.get(name)
            if value is None:
                return False
            found = any(_compare(value, operator.eq, v) for v in values)
            return found != negated

        return member

    def compile_recent(self, expr: n.Recent) -> Predicate:
        name = expr.field.text
        length = self.recent_length(expr.duration)
        calendar = self.calendars[length.calendar]

        def recent(state: _Lead, t: int, since: str | None) -> bool:
            value = state.attributes.get(name)
            if value is None:
                return False
            instant = self.instant_of(value)
            if instant is None or instant > t:
                return False
            return calendar.elapsed(instant, t) <= length.micros

        return recent

    def compile_pause(self, pause: n.Pause) -> Callable[[_Lead, int], bool]:
        if isinstance(pause, n.PauseInStages):
            stages = frozenset(s.text for s in pause.stages)
            return lambda state, t: state.stage is not None and state.stage in stages
        condition = self.compile(pause.condition)
        return lambda state, t: condition(state, t, state.stage)

    def recent_length(self, duration: n.Duration) -> Length:
        unit = duration.unit or "days"
        base = unit.removeprefix("business ")
        seconds = {"minutes": 60, "hours": 3600, "days": 86_400, "weeks": 604_800}[base]
        calendar = self.dwell_calendar if duration.business else "always"
        if duration.business and base == "days":
            working = self.calendars[calendar].working_day_seconds() or 86_400
            seconds = working
        return Length(int(duration.amount * seconds * 1_000_000), calendar, "")

    def instant_of(self, value: Value) -> int | None:
        if isinstance(value, dt.datetime):
            return _micros(value)
        if isinstance(value, dt.date):
            midnight = dt.datetime.combine(value, dt.time(), tzinfo=self.zone)
            return _micros(midnight)
        return None

    def failures(
        self, parts: Sequence[_Part], state: _Lead, t: int, since_default: str | None
    ) -> list[tuple[str, str]]:
        """The failing conjuncts of a handoff's criteria, each with the values seen."""
        failed: list[tuple[str, str]] = []
        for part in parts:
            if part.holds(state, t, since_default):
                continue
            failed.append((part.text, self.seen(part.expr, state, t, since_default)))
        return failed

    def seen(self, expr: n.Expr, state: _Lead, t: int, since_default: str | None) -> str:
        names: list[str] = []
        counts: list[str] = []
        stack: list[n.Expr] = [expr]
        while stack:
            item = stack.pop()
            if isinstance(item, n.And | n.Or):
                stack.extend(reversed(item.parts))
            elif isinstance(item, n.Not):
                stack.append(item.part)
            elif isinstance(item, n.ActivityCount):
                types = ", ".join(name.text for name in item.types)
                counts.append(f"{self.count(item, state, t, since_default)} {types}")
            elif item.field.text not in names:
                names.append(item.field.text)
        shown = [f"{name} = {_show(state.attributes.get(name))}" for name in names]
        return "; ".join(shown + counts) or "-"

    # -------------------------------------------------------- cycles

    def start_clock(self, clock: _ClockPlan, state: _Lead, t: int, row: Origin) -> None:
        tier = 0
        for index, candidate in enumerate(clock.tiers):
            if candidate.holds is None or candidate.holds(state, t, state.stage):
                tier = index
                break
        goal = clock.tiers[tier].length
        index = state.counts.get(clock.name, 0) + 1
        state.counts[clock.name] = index
        calendar = goal.calendar
        run = _Run(
            clock.name,
            "clock",
            index,
            t,
            row,
            tier,
            goal.micros,
            goal.text,
            goal.calendar_name,
            calendar,
            clock.responsible or self.owner_of(state.stage),
            clock.warn,
            due=_deadline(calendar, t, goal.micros),
        )
        state.runs[clock.name] = run
        if state.tracing:
            state.notes.append(f"clock {clock.name} starts (goal {goal.text})")

    def start_cadence(self, cadence: _CadencePlan, state: _Lead, t: int, row: Origin) -> None:
        index = state.counts.get(cadence.name, 0) + 1
        state.counts[cadence.name] = index
        within = cadence.within
        calendar = within.calendar
        due = _deadline(calendar, t, within.micros)
        state.next_expiry = min(state.next_expiry, _ALWAYS if due is None else due)
        state.runs[cadence.name] = _Run(
            cadence.name,
            "cadence",
            index,
            t,
            row,
            0,
            within.micros,
            within.text,
            within.calendar_name,
            calendar,
            cadence.responsible or self.owner_of(state.stage),
            None,
            due=due,
            required=cadence.minimum,
        )
        if state.tracing:
            state.notes.append(
                f"cadence {cadence.name} starts ({cadence.minimum} within {within.text})"
            )

    def close(
        self,
        state: _Lead,
        run: _Run,
        t: int,
        outcome: Outcome,
        end_row: Origin | None,
        ended: int | None,
    ) -> None:
        del state.runs[run.rule]
        elapsed = run.elapsed(t)
        if not run.is_clock and outcome is _BREACHED and run.due is not None:
            elapsed = run.goal  # a cadence closes at its due instant
        cycle = Cycle(
            lead=state.lead,
            rule=run.rule,
            kind=run.kind,
            index=run.index,
            started=run.started,
            start_row=run.start_row,
            tier=run.tier,
            goal=run.goal,
            goal_text=run.goal_text,
            calendar=run.calendar,
            due=run.due,
            ended=ended,
            end_row=end_row,
            judged_at=t,
            outcome=outcome,
            at_risk=(
                outcome is _PENDING
                and run.warn is not None
                and elapsed * 100 >= run.warn * run.goal
            ),
            elapsed=elapsed,
            wall=t - run.started,
            paused=run.paused(t),
            responsible=run.responsible,
            count=run.count,
            required=run.required,
        )
        state.cycles.append(cycle)
        if state.tracing:
            state.notes.append(f"{run.kind} {run.rule} cycle {run.index}: {outcome.value}")
        if outcome is _BREACHED:
            self.breach(state, run, cycle)

    def breach(self, state: _Lead, run: _Run, cycle: Cycle) -> None:
        agreement = self.agreement
        rows = (run.start_row,) + ((cycle.end_row,) if cycle.end_row is not None else ())
        if run.is_clock:
            clause = agreement.clocks[run.rule].goals[run.tier].clause
            if cycle.ended is None:
                message = (
                    f"still open at as-of after {human_duration(cycle.elapsed)} of business time; "
                    f"the goal was {run.goal_text}"
                )
            else:
                message = (
                    f"stopped after {human_duration(cycle.elapsed)} of business time; the goal "
                    f"was {run.goal_text}"
                )
            kind = ViolationKind.CLOCK_BREACHED
            at = cycle.due if cycle.due is not None else cycle.judged_at
        else:
            clause = agreement.cadences[run.rule].clause
            message = f"{run.count} of {run.required} required activities within {run.goal_text}"
            kind = ViolationKind.CADENCE_BREACHED
            at = cycle.due if cycle.due is not None else cycle.judged_at
        state.violations.append(
            Violation(
                lead=state.lead,
                kind=kind,
                rule=run.rule,
                clause=str(clause),
                responsible=run.responsible,
                at=at,
                rows=rows,
                message=message,
                started=cycle.started,
                due=cycle.due,
                ended=cycle.ended,
                elapsed=cycle.elapsed,
                wall=cycle.wall,
            )
        )

    def expire_cadences(self, state: _Lead, t: int) -> None:
        """Close cadence cycles whose window passed before t with too few activities."""
        # Elapsed time never decreases and equals the goal at `due`, so no window can have
        # passed by then: the clock is read only for instants after it. Whether a run expired
        # depends on that run alone, so the expired ones are found first and closed after, in
        # the same order (closing removes them from `runs`). The earliest due instant of the
        # runs left is kept: until then the fold does not call this again (a cadence's due
        # instant never moves, and one started later lowers it).
        expired: list[_Run] | None = None  # most events expire nothing: no list for them
        soonest = _NEVER
        for run in state.runs.values():
            if run.is_clock:
                continue
            due = run.due
            if (due is None or t > due) and run.elapsed(t) > run.goal:
                if expired is None:
                    expired = []
                expired.append(run)
            elif due is None:
                soonest = _ALWAYS
            elif due < soonest:
                soonest = due
        state.next_expiry = soonest
        if expired is None:
            return
        for run in expired:
            due = run.due if run.due is not None else t
            self.close(state, run, due, _BREACHED, None, due)

    # -------------------------------------------------------- stays

    def leave(self, state: _Lead, t: int, next_stage: str | None, row: Origin | None) -> int | None:
        """Close the current stay at t; F(t) on its dwell calendar, when it was read."""
        if state.stage is None or state.entered_row is None:
            return None
        rule = self.dwell[state.stage]
        stage, calendar = rule.stage, rule.calendar
        entered = state.entered
        now: int | None = None
        if t <= entered:
            dwell = 0  # calendar.elapsed(entered, t) of an empty interval
        else:
            now = calendar.clock(t)
            base = state.entered_clock
            if base is None:
                base = calendar.clock(entered)
            dwell = now - base
        state.stays.append(
            Stay(
                state.lead,
                state.stage,
                entered,
                t if next_stage is not None else None,
                next_stage,
                dwell,
                t - entered,
                state.entered_row,
            )
        )
        limit, limit_calendar = rule.limit, rule.limit_calendar
        if limit is None or limit_calendar is None:
            return now
        # The limit may be absolute (`max dwell 5 days`): judge it on its own calendar.
        over = dwell if limit_calendar is calendar else limit_calendar.elapsed(entered, t)
        if over > rule.limit_micros:
            at = limit_calendar.deadline(entered, rule.limit_micros)
            rows = (state.entered_row,) + ((row,) if row is not None else ())
            state.violations.append(
                Violation(
                    lead=state.lead,
                    kind=ViolationKind.STALL,
                    rule=stage.name,
                    clause=str(stage.clause),
                    responsible=stage.owner,
                    at=at,
                    rows=rows,
                    message=(
                        f"stayed in {stage.name} for {human_duration(dwell)} of business time; "
                        f"the limit is {limit.text}"
                    ),
                    started=entered,
                    due=at,
                    ended=t if next_stage is not None else None,
                    elapsed=over,
                    wall=t - entered,
                )
            )
        return now

    # -------------------------------------------------------- the fold

    def replay_lead(
        self, lead: str, rows: Sequence[Row], as_of: int, trace: list[TraceEntry] | None = None
    ) -> LeadResult:
        """Fold one lead's rows (already in replay order) into its result."""
        columns = rows if isinstance(rows, Rows) else Rows.of(lead, rows)
        block, start, end = columns.block, columns.start, columns.end
        tracing = trace is not None
        state = _Lead(lead, tracing)
        attributes, runs, activities = state.attributes, state.runs, state.activities
        expiring, pausing = self.expiring, self.pausing
        on_activity, counting, roster = self.on_activity, self.counting, self.roster
        times, kinds, values = block.times, block.kinds, block.values
        actors, teams, cell_lists, splits = block.actors, block.teams, block.attributes, block.cells
        first = True
        events = 0
        fired: dict[str, int] = {}  # rule -> the actions an event fires (one dict for the lead)
        for index in range(start, end):
            t, kind, value = times[index], kinds[index], values[index]
            split = splits[index]
            # The row's origin, made only when a result records it.
            origin: Origin | None = None
            if tracing:
                state.notes = []
            for name, cell in cell_lists[index]:
                if cell is None:
                    attributes.pop(name, None)
                else:
                    attributes[name] = cell
            if runs and expiring and t > state.next_expiry:
                self.expire_cadences(state, t)
            if fired:
                fired.clear()
            if first and not split:
                # The first row of the lead creates it; cells split off a row are part of it.
                _add(fired, self.on_create, runs)
                first = False
            if kind is _ASSIGN:
                state.owner = value
                _add(fired, self.on_assign, runs)
            elif kind is _ACTIVITY and value is not None:
                actor, team = actors[index], teams[index]
                # A non-empty `team` cell wins over the roster (semantics.md 9).
                if not team:
                    team = roster.get(actor) if actor else None
                activities.append(_new_activity((t, value, actor, team)))
                for rule, action, by in on_activity.get(value, ()):
                    if (action & START or rule in runs) and (
                        by is None or self.actor_matches(by, team, state.stage)
                    ):
                        fired[rule] = fired.get(rule, 0) | action
                if value in counting:
                    self.count_activity(state, value, team, t, block, index)
            elif kind is _STAGE and value is not None:
                left = state.stage
                if left != value:
                    origin = block.origin(index)
                    self.change_stage(state, value, t, origin)
                    if left is not None:
                        _add(fired, self.on_leave.get(left, ()), runs)
                        _add(fired, self.on_handoff.get((left, value), ()), runs)
                    _add(fired, self.on_enter.get(value, ()), runs)
            if fired:
                if origin is None:
                    origin = block.origin(index)
                if len(fired) == 1:
                    for rule, action in fired.items():
                        self.act(state, rule, action, t, origin)
                else:
                    for rule in sorted(fired, key=self.rule_order.__getitem__):
                        self.act(state, rule, fired[rule], t, origin)
            if runs and pausing:
                self.update_pauses(state, t)
            if trace is not None:
                trace.append(self.trace_entry(state, block, index))
            events += not split
        # As-of: judge what is still open.
        state.notes = []
        self.expire_cadences(state, as_of)
        for run in sorted(runs.values(), key=lambda r: r.rule):
            elapsed = run.elapsed(as_of)
            outcome = _BREACHED if elapsed > run.goal else _PENDING
            self.close(state, run, as_of, outcome, None, None)
        self.leave(state, as_of, None, None)
        if trace is not None and state.notes:
            trace.append(
                TraceEntry(
                    as_of,
                    Origin("as-of", 0),
                    EventKind.UPDATE,
                    None,
                    None,
                    None,
                    state.stage,
                    (),
                    tuple(state.notes),
                )
            )
        if len(state.cycles) > 1:
            state.cycles.sort(key=lambda c: (c.rule, c.index))
        if len(state.violations) > 1:
            state.violations.sort(
                key=lambda v: (
                    v.at,
                    _KIND_VALUES[v.kind],
                    v.rule,
                    tuple((o.file, o.row) for o in v.rows),
                )
            )
        return LeadResult(
            lead=lead,
            first_time=times[start] if start < end else as_of,
            last_time=times[end - 1] if start < end else as_of,
            final_stage=state.stage,
            owner=state.owner,
            events=events,
            stays=tuple(state.stays),
            cycles=tuple(state.cycles),
            violations=tuple(state.violations),
            activities=tuple(activities),
            attributes=self.shown(attributes),
        )

    def shown(self, attributes: dict[str, Value]) -> tuple[tuple[str, str], ...]:
        """A lead's final attributes (those asked for, see `__init__`) as (name, text) pairs in
        name order.

        Typed values are shared between the rows that carry the same cell (replay._Cells), so
        the text of a non-text value is kept by identity: formatting a number or an instant
        costs more than the look-up, and the value is held so that its identity stays its own.
        """
        texts = self.texts
        pairs = []
        # The names asked for are sorted already: their pairs come in name order.
        names = self.shown_only if self.shown_only is not None else sorted(attributes)
        for name in names:
            value = attributes.get(name)
            if value is None:
                continue  # not set (a cleared attribute is removed, never None)
            if value.__class__ is str:
                pairs.append((name, value))
                continue
            known = texts.get(id(value))
            if known is None or known[0] is not value:
                if len(texts) >= _TEXTS_KEPT:
                    texts.clear()
                known = texts[id(value)] = (value, _show(value))
            pairs.append((name, known[1]))
        return tuple(pairs)

    def count_activity(
        self, state: _Lead, value: str, team: str | None, t: int, block: Block, index: int
    ) -> None:
        for cadence in self.counting[value]:
            run = state.runs.get(cadence.name)
            if run is None:
                continue
            if not self.actor_matches(cadence.by, team, state.stage):
                continue
            # As in expire_cadences: nothing has expired by the due instant.
            if (run.due is None or t > run.due) and run.elapsed(t) > run.goal:
                continue  # expired; closed by expire_cadences
            run.count += 1
            if run.count >= run.required:
                self.close(state, run, t, _MET, block.origin(index), t)

    def change_stage(self, state: _Lead, target: str, t: int, origin: Origin) -> None:
        """Move the lead from its stage (if any) to another one, at t, by the row at `origin`."""
        stages = self.stages
        source = state.stage
        now: int | None = None
        if source is None:
            entered = stages[target]
            if not entered.initial:
                state.violations.append(
                    Violation(
                        lead=state.lead,
                        kind=ViolationKind.INVALID_ENTRY,
                        rule=target,
                        clause=str(entered.clause),
                        responsible=entered.owner,
                        at=t,
                        rows=(origin,),
                        message=(
                            f"the lead's first stage is {target}, which is not an initial stage "
                            f"({self.initial})"
                        ),
                    )
                )
        else:
            handoff = self.handoffs.get((source, target))
            owner = self.owners[source]
            if handoff is None:
                what = "a terminal stage" if stages[source].terminal else "a stage"
                state.violations.append(
                    Violation(
                        lead=state.lead,
                        kind=ViolationKind.ILLEGAL_TRANSITION,
                        rule=f"{source} -> {target}",
                        clause=str(stages[source].clause),
                        responsible=owner,
                        at=t,
                        rows=(origin,),
                        message=f"moved from {what} {source} to {target}, and the agreement "
                        f"has no handoff {source} -> {target}",
                    )
                )
            else:
                failed = self.failures(self.criteria[(source, target)], state, t, source)
                if handoff.required:
                    failed.extend(
                        (f"{name} is set", f"{name} is not set")
                        for name in handoff.required
                        if name not in state.attributes
                    )
                if failed:
                    state.violations.append(
                        Violation(
                            lead=state.lead,
                            kind=ViolationKind.CRITERIA_UNMET,
                            rule=f"{source} -> {target}",
                            clause=str(handoff.clause),
                            responsible=owner,
                            at=t,
                            rows=(origin,),
                            message=f"handed from {source} to {target} without meeting "
                            + "; ".join(text for text, _ in failed),
                            details=tuple(failed),
                        )
                    )
            now = self.leave(state, t, target, origin)
            # F(t) just read for the stay that ended is where the next one starts, when both
            # stages measure dwell on the same calendar.
            if self.dwell[source].calendar is not self.dwell[target].calendar:
                now = None
        state.stage = target
        state.entered = t
        state.entered_clock = now
        state.entered_row = origin
        state.entries[target] = t

    def update_pauses(self, state: _Lead, t: int) -> None:
        for run in state.runs.values():
            if not run.is_clock:
                continue
            pauses = self.pauses.get(run.rule)
            if pauses is None:
                continue
            run.set_paused(any(paused(state, t) for paused in pauses), t)

    def trace_entry(self, state: _Lead, block: Block, index: int) -> TraceEntry:
        t = block.times[index]
        clocks = tuple(
            (
                run.rule,
                "paused" if run.segment is None else "running",
                run.elapsed(t),
                run.due,
            )
            for run in sorted(state.runs.values(), key=lambda r: r.rule)
        )
        return TraceEntry(
            t,
            block.origin(index),
            block.kinds[index],
            block.values[index],
            block.actors[index],
            block.teams[index],
            state.stage,
            clocks,
            tuple(state.notes),
        )


def replay(
    agreement: Agreement, items: Iterable[Event | Rejected], as_of: int | None = None
) -> ReplayResult:
    """Replay every lead of the input through the agreement."""
    prepared = prepare(agreement, items, as_of)
    return replay_prepared(Engine(agreement), prepared)


def replay_prepared(
    engine: Engine, prepared: Prepared, leads: Iterable[str] | None = None
) -> ReplayResult:
    """Replay the prepared leads: all of them (with the input's accounting), or a subset.

    A subset's result carries no accounting and no rejected rows, so that results of disjoint
    subsets of one prepared input merge with `input_totals(prepared)` added exactly once.
    """
    if leads is None:
        chosen = prepared.leads
    else:
        chosen = {lead: prepared.leads[lead] for lead in sorted(leads)}
    results = tuple(engine.replay_lead(lead, rows, prepared.as_of) for lead, rows in chosen.items())
    if leads is not None:
        return ReplayResult(prepared.as_of, Accounting(), results, ())
    return ReplayResult(prepared.as_of, prepared.accounting, results, prepared.rejections)


def input_totals(prepared: Prepared) -> ReplayResult:
    """The accounting and rejected rows of a prepared input, as a result with no leads."""
    return ReplayResult(prepared.as_of, prepared.accounting, (), prepared.rejections)


# ---------------------------------------------------------------- small helpers


def _deadline(calendar: BusinessCalendar, start: int, amount: int) -> int | None:
    """The due instant, or None when the calendar never opens again (no deadline to show)."""
    try:
        return calendar.deadline(start, amount)
    except NoOpenTime:
        return None


def _add(
    fired: dict[str, int], entries: Iterable[tuple[str, int]], runs: Mapping[str, _Run]
) -> None:
    """Collect an event's triggers per rule; a stop or cancel of a rule with no running cycle
    is left out, since `act` would do nothing with it (and only `act` starts or closes a run)."""
    for rule, action in entries:
        if action & START or rule in runs:
            fired[rule] = fired.get(rule, 0) | action


def _conjuncts(criteria: Sequence[n.Expr]) -> list[n.Expr]:
    """A handoff's criteria lines split at their top-level `and`s, in order."""
    parts: list[n.Expr] = []
    for expr in criteria:
        parts.extend(expr.parts if isinstance(expr, n.And) else [expr])
    return parts


def _literal(literal: n.Literal) -> Any:
    return literal.value


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(value: Value, op: Callable[[Any, Any], Any], other: Any) -> bool:
    try:
        return bool(op(value, other))
    except TypeError:
        return False


# `_Lead.next_expiry` when no cadence cycle runs, and when one's due instant is unknown.
_NEVER, _ALWAYS = 1 << 61, -(1 << 61)  # beyond any instant, and short ints when compiled
# Texts of attribute values kept by `Engine.shown`; enough for every distinct score or amount of
# a large log, bounded for logs whose values (e.g. instants) are nearly all distinct.
_TEXTS_KEPT = 65_536
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = dt.timedelta(microseconds=1)


def _micros(value: dt.datetime) -> int:
    # Floor division of two timedeltas is exact integer arithmetic on their microseconds.
    return (value - _EPOCH) // _ONE_US


def _show(value: Value | None) -> str:
    if value.__class__ is str:
        return value  # the common case, checked first
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
