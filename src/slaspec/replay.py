"""The replay: compiled agreement + events -> per-lead results (the reference semantics).

Two steps. `prepare` works on the whole input: it types attribute values against the agreement's
fields, resolves stage aliases, rejects what does not fit, drops duplicate event ids, fixes the
as-of instant and drops rows after it, so every row lands in exactly one bucket. `replay_lead`
then folds one lead's events in the order of semantics.md section 4; it sees nothing of other
leads, so any disjoint set of leads can be replayed apart and the results merged.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, assert_never
from zoneinfo import ZoneInfo

from slaspec import formatter
from slaspec import nodes as n
from slaspec.calendar import BusinessCalendar, NoOpenTime
from slaspec.compiler import Agreement, Cadence, Clock, Length
from slaspec.diagnostics import Diagnostic, did_you_mean, sort_key
from slaspec.events import Event, EventKind, Origin
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
)

START, STOP, CANCEL = 1, 2, 4

_VALUE_HELP = {
    "number": "write a plain decimal such as 85 or -12.5 (no %, currency signs, thousands "
    "separators or exponents)",
    "money": "write a plain decimal amount such as 18500 or 99.95 (no currency signs or "
    "thousands separators)",
    "boolean": "write true or false (yes/no and 1/0 are accepted too)",
    "date": "write the date as YYYY-MM-DD",
    "datetime": "write an ISO 8601 date and time such as 2026-03-02T09:15:00+11:00",
    "enum": "use one of the field's values, or add this value to the field's enum",
    "string": "",
}

_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\Z")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}
UTC = dt.UTC

Value = str | Decimal | bool | dt.date | dt.datetime


# ---------------------------------------------------------------- preparation


@dataclass(frozen=True, slots=True)
class Row:
    """One event after preparation: stage resolved, attribute values typed."""

    lead: str
    time: int
    kind: EventKind
    seq: int
    value: str | None
    actor: str | None
    team: str | None
    attributes: tuple[tuple[str, Value | None], ...]
    origin: Origin
    cells: bool = False  # the attribute cells of a stage/activity/assign row, split off


@dataclass(frozen=True, slots=True)
class Prepared:
    """Rows grouped by lead and ready to fold, with the accounting of every input row."""

    leads: Mapping[str, tuple[Row, ...]]
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
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"`{raw}` is not a date (write YYYY-MM-DD)") from None
    if kind == "datetime":
        try:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"`{raw}` is not a date and time (ISO 8601)") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(timezone))
        return value.astimezone(UTC)
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


def prepare(
    agreement: Agreement, items: Iterable[Event | Rejected], as_of: int | None = None
) -> Prepared:
    """Type, validate and deduplicate the input, and fix the as-of instant."""
    read = rejected = duplicate = after = 0
    rejections: list[Diagnostic] = []
    kept: list[Row] = []
    seen_ids: set[str] = set()
    coerced: dict[tuple[str, str], Value] = {}
    stage_names = [*agreement.stages, *agreement.aliases]
    fields = agreement.fields
    timezone = agreement.timezone
    for item in items:
        read += 1
        if isinstance(item, Rejected):
            rejections.append(item.diagnostic)
            if item.whole_file:
                read -= 1  # a file that could not be read has no rows to account for
            else:
                rejected += 1
            continue
        problem: Diagnostic | None = None
        value = item.value
        if item.kind is EventKind.STAGE and value is not None:
            stage = agreement.stage_for(value)
            if stage is None:
                hint = did_you_mean(value, stage_names)
                problem = Diagnostic(
                    "SLA910",
                    f"`{value}` is not a stage of the agreement",
                    item.origin.file,
                    row=item.origin.row,
                    column="value",
                    help=hint
                    or "add it to a stage's `aliases` so the CRM's spelling maps to a stage",
                )
            value = stage
        typed: list[tuple[str, Value | None]] = []
        if problem is None:
            for name, raw in item.attributes:
                field_type = fields.get(name)
                if raw is None or field_type is None:
                    typed.append((name, raw))
                    continue
                key = (name, raw)
                known = coerced.get(key)
                if known is None:
                    try:
                        known = coerce(field_type.kind, raw, field_type, timezone)
                    except ValueError as error:
                        problem = Diagnostic(
                            "SLA911",
                            f"{error} for {field_type.kind} field `{name}`",
                            item.origin.file,
                            row=item.origin.row,
                            column=name,
                            help=_VALUE_HELP[field_type.kind],
                        )
                        break
                    coerced[key] = known
                typed.append((name, known))
        if problem is not None:
            rejected += 1
            rejections.append(problem)
            continue
        if item.event_id is not None:
            if item.event_id in seen_ids:
                duplicate += 1
                continue
            seen_ids.add(item.event_id)
        attributes = tuple(typed)
        if attributes and item.kind is not EventKind.UPDATE:
            # Cells on a stage, activity or assign row are an update at rank 0 of the same
            # instant (semantics.md 9), seen before anything else that happens then.
            kept.append(
                Row(
                    item.lead,
                    item.time,
                    EventKind.UPDATE,
                    item.seq,
                    None,
                    item.actor,
                    item.team,
                    attributes,
                    item.origin,
                    cells=True,
                )
            )
            attributes = ()
        kept.append(
            Row(
                item.lead,
                item.time,
                item.kind,
                item.seq,
                value,
                item.actor,
                item.team,
                attributes,
                item.origin,
            )
        )
    if as_of is None:
        as_of = max((row.time for row in kept), default=0)
    leads: dict[str, list[Row]] = {}
    replayed = 0
    for row in kept:
        if row.time > as_of:
            after += not row.cells
            continue
        replayed += not row.cells
        leads.setdefault(row.lead, []).append(row)
    ordered = {
        lead: tuple(sorted(rows, key=lambda r: (r.time, r.kind, r.seq)))
        for lead, rows in sorted(leads.items())
    }
    accounting = Accounting(read, replayed, rejected, duplicate, after)
    rejections.sort(key=sort_key)
    return Prepared(ordered, as_of, accounting, tuple(rejections))


# ---------------------------------------------------------------- the per-lead fold


@dataclass(slots=True)
class _Run:
    """A running clock or cadence cycle."""

    rule: str
    kind: str
    index: int
    started: int
    start_row: Origin
    tier: int
    goal: int
    goal_text: str
    calendar: str
    cal: BusinessCalendar
    responsible: str | None
    warn: Decimal | None
    consumed: int = 0
    segment: int | None = None
    paused_total: int = 0
    pause_start: int | None = None
    due: int | None = None
    count: int = 0
    required: int = 0

    def elapsed(self, t: int) -> int:
        running = self.cal.elapsed(self.segment, t) if self.segment is not None else 0
        return self.consumed + running

    def paused(self, t: int) -> int:
        pausing = self.cal.elapsed(self.pause_start, t) if self.pause_start is not None else 0
        return self.paused_total + pausing

    def set_paused(self, paused: bool, t: int) -> None:
        if paused and self.segment is not None:
            self.consumed += self.cal.elapsed(self.segment, t)
            self.segment = None
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


@dataclass(slots=True)
class _Lead:
    """The mutable state of one lead during its fold."""

    lead: str
    stage: str | None = None
    entered: int = 0
    entered_row: Origin | None = None
    owner: str | None = None
    attributes: dict[str, Value] = field(default_factory=dict)
    entries: dict[str, int] = field(default_factory=dict)
    activities: list[Activity] = field(default_factory=list)
    runs: dict[str, _Run] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    stays: list[Stay] = field(default_factory=list)
    cycles: list[Cycle] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tracing: bool = False


class Engine:
    """A compiled agreement ready to replay leads: calendars built, rules indexed."""

    def __init__(self, agreement: Agreement) -> None:
        self.agreement = agreement
        self.calendars = {
            name: BusinessCalendar(spec) for name, spec in agreement.calendars.items()
        }
        self.zone = ZoneInfo(agreement.timezone)
        self.dwell_calendar = agreement.default_calendar or "always"
        # Triggers indexed by what fires them, so an event only looks at the rules it can touch.
        self.rule_order: dict[str, int] = {}
        self.on_enter: dict[str, list[tuple[str, int]]] = {}
        self.on_leave: dict[str, list[tuple[str, int]]] = {}
        self.on_handoff: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self.on_create: list[tuple[str, int]] = []
        self.on_assign: list[tuple[str, int]] = []
        self.on_activity: dict[str, list[tuple[str, int, n.Actor | None]]] = {}
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
        self.counted = {t for cadence in agreement.cadences.values() for t in cadence.types}
        self.pausing = any(clock.pauses for clock in agreement.clocks.values())

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
                    entry = (rule, action, trigger.by)
                    self.on_activity.setdefault(activity.text, []).append(entry)
            case _:
                assert_never(trigger)

    def act(self, state: _Lead, rule: str, fired: int, t: int, origin: Origin) -> None:
        """Apply one event's triggers to one rule: close first, then open (semantics.md 6)."""
        run = state.runs.get(rule)
        clock = self.agreement.clocks.get(rule)
        if run is not None:
            if clock is not None and fired & STOP:
                outcome = Outcome.MET if run.elapsed(t) <= run.goal else Outcome.BREACHED
                self.close(state, run, t, outcome, origin, t)
            elif fired & CANCEL:
                self.close(state, run, t, Outcome.CANCELLED, origin, t)
        if fired & START and rule not in state.runs:
            if clock is not None:
                self.start_clock(clock, state, t, origin)
            else:
                self.start_cadence(self.agreement.cadences[rule], state, t, origin)

    # -------------------------------------------------------- evaluation

    def team_of(self, actor: str | None, team: str | None) -> str | None:
        if team:
            return team
        if actor:
            return self.agreement.roster.get(actor)
        return None

    def owner_of(self, stage: str | None) -> str | None:
        if stage is None:
            return None
        return self.agreement.stages[stage].owner

    def actor_matches(self, by: n.Actor | None, team: str | None, stage: str | None) -> bool:
        if by is None:
            return True
        if isinstance(by, n.ByOwner):
            return team is not None and team == self.owner_of(stage)
        return team == by.team.text

    def count(self, item: n.ActivityCount, state: _Lead, t: int, since_default: str | None) -> int:
        stage = item.since.text if item.since is not None else since_default
        if stage is None or stage not in state.entries:
            return 0
        since = state.entries[stage]
        types = {name.text for name in item.types}
        return sum(
            1
            for activity in state.activities
            if activity.time >= since
            and activity.time <= t
            and activity.type in types
            and self.actor_matches(item.by, activity.team, state.stage)
        )

    def evaluate(self, expr: n.Expr, state: _Lead, t: int, since_default: str | None) -> bool:
        attributes = state.attributes
        match expr:
            case n.And():
                return all(self.evaluate(p, state, t, since_default) for p in expr.parts)
            case n.Or():
                return any(self.evaluate(p, state, t, since_default) for p in expr.parts)
            case n.Not():
                return not self.evaluate(expr.part, state, t, since_default)
            case n.Presence():
                return (expr.field.text in attributes) == expr.present
            case n.Comparison():
                value = attributes.get(expr.field.text)
                if value is None:
                    return False
                return _compare(value, expr.op, _literal(expr.value))
            case n.Membership():
                value = attributes.get(expr.field.text)
                if value is None:
                    return False
                found = any(_compare(value, "=", _literal(v)) for v in expr.values)
                return found != expr.negated
            case n.Recent():
                value = attributes.get(expr.field.text)
                if value is None:
                    return False
                instant = self.instant_of(value)
                if instant is None or instant > t:
                    return False
                length = self.recent_length(expr.duration)
                return self.calendars[length.calendar].elapsed(instant, t) <= length.micros
            case n.ActivityCount():
                return self.count(expr, state, t, since_default) >= expr.minimum
        raise AssertionError(expr)  # pragma: no cover

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
        self, exprs: Sequence[n.Expr], state: _Lead, t: int, since_default: str | None
    ) -> list[tuple[str, str]]:
        """The failing sub-conditions of a conjunction, each with the values seen."""
        failed: list[tuple[str, str]] = []
        parts: list[n.Expr] = []
        for expr in exprs:
            parts.extend(expr.parts if isinstance(expr, n.And) else [expr])
        for part in parts:
            if self.evaluate(part, state, t, since_default):
                continue
            failed.append((formatter.format_expr(part), self.seen(part, state, t, since_default)))
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

    def start_clock(self, clock: Clock, state: _Lead, t: int, row: Origin) -> None:
        tier = 0
        for index, goal in enumerate(clock.goals):
            if goal.condition is None or self.evaluate(goal.condition, state, t, state.stage):
                tier = index
                break
        goal = clock.goals[tier]
        index = state.counts.get(clock.name, 0) + 1
        state.counts[clock.name] = index
        calendar = self.calendars[goal.length.calendar]
        run = _Run(
            clock.name,
            "clock",
            index,
            t,
            row,
            tier,
            goal.length.micros,
            goal.length.text,
            goal.length.calendar,
            calendar,
            clock.responsible or self.owner_of(state.stage),
            clock.warn,
            segment=t,
            due=_deadline(calendar, t, goal.length.micros),
        )
        state.runs[clock.name] = run
        if state.tracing:
            state.notes.append(f"clock {clock.name} starts (goal {goal.length.text})")

    def start_cadence(self, cadence: Cadence, state: _Lead, t: int, row: Origin) -> None:
        index = state.counts.get(cadence.name, 0) + 1
        state.counts[cadence.name] = index
        calendar = self.calendars[cadence.within.calendar]
        state.runs[cadence.name] = _Run(
            cadence.name,
            "cadence",
            index,
            t,
            row,
            0,
            cadence.within.micros,
            cadence.within.text,
            cadence.within.calendar,
            calendar,
            cadence.responsible or self.owner_of(state.stage),
            None,
            segment=t,
            due=_deadline(calendar, t, cadence.within.micros),
            required=cadence.minimum,
        )
        if state.tracing:
            state.notes.append(
                f"cadence {cadence.name} starts ({cadence.minimum} within {cadence.within.text})"
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
        if run.kind == "cadence" and outcome is Outcome.BREACHED and run.due is not None:
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
                outcome is Outcome.PENDING
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
        if outcome is Outcome.BREACHED:
            self.breach(state, run, cycle)

    def breach(self, state: _Lead, run: _Run, cycle: Cycle) -> None:
        agreement = self.agreement
        rows = (run.start_row,) + ((cycle.end_row,) if cycle.end_row is not None else ())
        if run.kind == "clock":
            clause = agreement.clocks[run.rule].goals[run.tier].clause
            if cycle.ended is None:
                message = (
                    f"still open at as-of after {_span_text(cycle.elapsed)} of business time; "
                    f"the goal was {run.goal_text}"
                )
            else:
                message = (
                    f"stopped after {_span_text(cycle.elapsed)} of business time; the goal "
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
        for run in list(state.runs.values()):
            if run.kind == "cadence" and run.elapsed(t) > run.goal:
                due = run.due if run.due is not None else t
                self.close(state, run, due, Outcome.BREACHED, None, due)

    # -------------------------------------------------------- stays

    def leave(self, state: _Lead, t: int, next_stage: str | None, row: Origin | None) -> None:
        if state.stage is None or state.entered_row is None:
            return
        stage = self.agreement.stages[state.stage]
        dwell = self.calendars[stage.calendar].elapsed(state.entered, t)
        state.stays.append(
            Stay(
                state.lead,
                state.stage,
                state.entered,
                t if next_stage is not None else None,
                next_stage,
                dwell,
                t - state.entered,
                state.entered_row,
            )
        )
        limit = stage.max_dwell
        if limit is None:
            return
        # The limit may be absolute (`max dwell 5 days`): judge it on its own calendar.
        limit_calendar = self.calendars[limit.calendar]
        over = (
            dwell if limit.calendar == stage.calendar else limit_calendar.elapsed(state.entered, t)
        )
        if over > limit.micros:
            at = limit_calendar.deadline(state.entered, limit.micros)
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
                        f"stayed in {stage.name} for {_span_text(dwell)} of business time; "
                        f"the limit is {limit.text}"
                    ),
                    started=state.entered,
                    due=at,
                    ended=t if next_stage is not None else None,
                    elapsed=over,
                    wall=t - state.entered,
                )
            )

    # -------------------------------------------------------- the fold

    def replay_lead(
        self, lead: str, rows: Sequence[Row], as_of: int, trace: list[TraceEntry] | None = None
    ) -> LeadResult:
        """Fold one lead's rows (already in replay order) into its result."""
        state = _Lead(lead)
        tracing = trace is not None
        state.tracing = tracing
        has_cadences = bool(self.agreement.cadences)
        first = True
        for row in rows:
            t = row.time
            if tracing:
                state.notes = []
            for name, value in row.attributes:
                if value is None:
                    state.attributes.pop(name, None)
                else:
                    state.attributes[name] = value
            if has_cadences and state.runs:
                self.expire_cadences(state, t)
            fired: dict[str, int] = {}
            if first and not row.cells:
                # The first row of the lead creates it; cells split off a row are part of it.
                _add(fired, self.on_create)
                first = False
            kind = row.kind
            if kind is EventKind.ASSIGN:
                state.owner = row.value
                _add(fired, self.on_assign)
            elif kind is EventKind.ACTIVITY and row.value is not None:
                team = self.team_of(row.actor, row.team)
                state.activities.append(Activity(t, row.value, row.actor, team))
                for rule, action, by in self.on_activity.get(row.value, ()):
                    if by is None or self.actor_matches(by, team, state.stage):
                        fired[rule] = fired.get(rule, 0) | action
                if row.value in self.counted:
                    self.count_activity(state, row, team, t)
            elif kind is EventKind.STAGE and row.value is not None:
                left = state.stage
                if self.change_stage(state, row):
                    entered = row.value
                    if left is not None:
                        _add(fired, self.on_leave.get(left, ()))
                        _add(fired, self.on_handoff.get((left, entered), ()))
                    _add(fired, self.on_enter.get(entered, ()))
            if fired:
                for rule in sorted(fired, key=self.rule_order.__getitem__):
                    self.act(state, rule, fired[rule], t, row.origin)
            if self.pausing and state.runs:
                self.update_pauses(state, t)
            if trace is not None:
                trace.append(self.trace_entry(state, row, t))
        # As-of: judge what is still open.
        state.notes = []
        self.expire_cadences(state, as_of)
        for run in sorted(state.runs.values(), key=lambda r: r.rule):
            elapsed = run.elapsed(as_of)
            outcome = Outcome.BREACHED if elapsed > run.goal else Outcome.PENDING
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
        state.cycles.sort(key=lambda c: (c.rule, c.index))
        state.violations.sort(
            key=lambda v: (v.at, v.kind.value, v.rule, tuple((o.file, o.row) for o in v.rows))
        )
        return LeadResult(
            lead=lead,
            first_time=rows[0].time if rows else as_of,
            last_time=rows[-1].time if rows else as_of,
            final_stage=state.stage,
            owner=state.owner,
            events=sum(1 for row in rows if not row.cells),
            stays=tuple(state.stays),
            cycles=tuple(state.cycles),
            violations=tuple(state.violations),
            activities=tuple(state.activities),
            attributes=tuple(sorted((k, _show(v)) for k, v in state.attributes.items())),
        )

    def count_activity(self, state: _Lead, row: Row, team: str | None, t: int) -> None:
        for cadence in self.agreement.cadences.values():
            run = state.runs.get(cadence.name)
            if run is None or row.value not in cadence.types:
                continue
            if not self.actor_matches(cadence.by, team, state.stage):
                continue
            if run.elapsed(t) > run.goal:
                continue  # expired; closed by expire_cadences
            run.count += 1
            if run.count >= run.required:
                self.close(state, run, t, Outcome.MET, row.origin, t)

    def change_stage(self, state: _Lead, row: Row) -> bool:
        """Move the lead to the row's stage; False when it is already there (no change)."""
        agreement = self.agreement
        target = row.value
        assert target is not None
        t = row.time
        source = state.stage
        if source == target:
            return False
        if source is None:
            entered = agreement.stages[target]
            if not entered.initial:
                initial = [s.name for s in agreement.stages.values() if s.initial]
                state.violations.append(
                    Violation(
                        lead=state.lead,
                        kind=ViolationKind.INVALID_ENTRY,
                        rule=target,
                        clause=str(entered.clause),
                        responsible=entered.owner,
                        at=t,
                        rows=(row.origin,),
                        message=(
                            f"the lead's first stage is {target}, which is not an initial stage "
                            f"({', '.join(initial)})"
                        ),
                    )
                )
        else:
            handoff = agreement.handoffs.get((source, target))
            owner = agreement.stages[source].owner
            if handoff is None:
                what = "a terminal stage" if agreement.stages[source].terminal else "a stage"
                state.violations.append(
                    Violation(
                        lead=state.lead,
                        kind=ViolationKind.ILLEGAL_TRANSITION,
                        rule=f"{source} -> {target}",
                        clause=str(agreement.stages[source].clause),
                        responsible=owner,
                        at=t,
                        rows=(row.origin,),
                        message=f"moved from {what} {source} to {target}, and the agreement "
                        f"has no handoff {source} -> {target}",
                    )
                )
            else:
                failed = self.failures(handoff.criteria, state, t, source)
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
                            rows=(row.origin,),
                            message=f"handed from {source} to {target} without meeting "
                            + "; ".join(text for text, _ in failed),
                            details=tuple(failed),
                        )
                    )
            self.leave(state, t, target, row.origin)
        state.stage = target
        state.entered = t
        state.entered_row = row.origin
        state.entries[target] = t
        return True

    def update_pauses(self, state: _Lead, t: int) -> None:
        for run in state.runs.values():
            if run.kind != "clock":
                continue
            clock = self.agreement.clocks[run.rule]
            if not clock.pauses:
                continue
            paused = any(
                (state.stage is not None and any(s.text == state.stage for s in p.stages))
                if isinstance(p, n.PauseInStages)
                else self.evaluate(p.condition, state, t, state.stage)
                for p in clock.pauses
            )
            run.set_paused(paused, t)

    def trace_entry(self, state: _Lead, row: Row, t: int) -> TraceEntry:
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
            row.origin,
            row.kind,
            row.value,
            row.actor,
            row.team,
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


def _add(fired: dict[str, int], entries: Iterable[tuple[str, int]]) -> None:
    for rule, action in entries:
        fired[rule] = fired.get(rule, 0) | action


def _literal(literal: n.Literal) -> Any:
    return literal.value


def _compare(value: Value, op: str, other: Any) -> bool:
    try:
        if op == "=":
            return bool(value == other)
        if op == "!=":
            return bool(value != other)
        if op == "<":
            return bool(value < other)
        if op == "<=":
            return bool(value <= other)
        if op == ">":
            return bool(value > other)
        return bool(value >= other)
    except TypeError:
        return False


def _micros(value: dt.datetime) -> int:
    delta = value - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _show(value: Value | None) -> str:
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


def _span_text(micros: int) -> str:
    """A duration for people: 2h 05m, 50h 10m, 45s."""
    seconds = micros // 1_000_000
    # Hours, not days: a "day" of business time would read as 24 hours of it.
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
