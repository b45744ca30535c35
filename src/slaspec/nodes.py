"""The agreement AST: frozen dataclasses produced by the parser, with a span on every clause.

Spans never take part in equality, so two texts that mean the same thing (one formatted, one
not) give equal trees. The nodes hold no behaviour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal as TypingLiteral

from slaspec.source import Span

_NOSPAN = Span(0, 0)


def _span() -> Span:
    return field(default=_NOSPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Name:
    """An identifier as written: a declaration or a reference."""

    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Text:
    """A quoted string value (escapes resolved)."""

    value: str
    span: Span = _span()


# ---------------------------------------------------------------- values

CompareOp = TypingLiteral["=", "!=", "<", "<=", ">", ">="]
Bound = TypingLiteral["at least", "at most"]

UnitWord = TypingLiteral[
    "minutes", "hours", "days", "weeks", "business minutes", "business hours", "business days"
]


@dataclass(frozen=True, slots=True)
class Duration:
    """An amount of time; `unit` is the canonical unit, or None when the written one is unknown."""

    amount: Decimal
    unit: UnitWord | None
    written: str = field(default="", compare=False)
    business: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Literal:
    """A value in a criterion; `kind` says how it was written."""

    kind: TypingLiteral["string", "number", "date", "datetime", "boolean", "symbol"]
    value: str | Decimal | dt.date | dt.datetime | bool
    span: Span = _span()


# ---------------------------------------------------------------- criteria


@dataclass(frozen=True, slots=True)
class Comparison:
    """`field OP value`."""

    field: Name
    op: CompareOp
    value: Literal
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Membership:
    """`field in [a, b]` or `field not in [a, b]`."""

    field: Name
    values: tuple[Literal, ...]
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Presence:
    """`field is set` or `field is not set`."""

    field: Name
    present: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Recent:
    """`field within D`: a date or datetime no older than D at the moment of evaluation."""

    field: Name
    duration: Duration
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ByTeam:
    """`by TEAM`: activities whose actor belongs to the team."""

    team: Name
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ByOwner:
    """`by owner`: activities by the team owning the lead's current stage."""

    span: Span = _span()


Actor = ByTeam | ByOwner


@dataclass(frozen=True, slots=True)
class ActivityCount:
    """`at least N type, type [by TEAM] [since entering STAGE]`."""

    minimum: int
    types: tuple[Name, ...]
    by: Actor | None
    since: Name | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class And:
    """All of the parts hold (nested `and`s are flattened)."""

    parts: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Or:
    """At least one part holds (nested `or`s are flattened)."""

    parts: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    """The part does not hold."""

    part: Expr
    span: Span = _span()


Expr = Comparison | Membership | Presence | Recent | ActivityCount | And | Or | Not


# ---------------------------------------------------------------- triggers


@dataclass(frozen=True, slots=True)
class OnEnter:
    """The lead enters one of the stages."""

    stages: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OnLeave:
    """The lead leaves one of the stages."""

    stages: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OnHandoff:
    """The lead moves from one given stage to another."""

    source: Name
    target: Name
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OnCreate:
    """The lead's first event."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OnAssign:
    """The lead is assigned to an owner."""

    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OnActivity:
    """An activity of one of the types, optionally by a given team."""

    types: tuple[Name, ...]
    by: Actor | None
    span: Span = _span()


Trigger = OnEnter | OnLeave | OnHandoff | OnCreate | OnAssign | OnActivity


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Party:
    """A party to the agreement and who signs for it."""

    name: Name
    title: Text
    signatory: Text
    role: Text | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Header:
    """The `agreement` block: title, version, effective date, parties, defaults."""

    title: Text
    version: Text | None
    effective: dt.date | None
    parties: tuple[Party, ...]
    calendar: Name | None
    timezone: Text | None
    span: Span = _span()
    effective_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Use:
    """`use "file.sla"`: share fields, activities, teams and calendars from another file."""

    path: Text
    span: Span = _span()


FieldKind = TypingLiteral["string", "number", "boolean", "date", "datetime", "money", "enum"]


@dataclass(frozen=True, slots=True)
class FieldType:
    """A lead field's type; `currency` for money, `values` for enums."""

    kind: FieldKind
    currency: Name | None = None
    values: tuple[Text, ...] = ()
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Field:
    """A typed lead attribute criteria may read."""

    name: Name
    type: FieldType
    description: Text | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ActivityType:
    """A declared activity type (`call`, `email`, ...)."""

    name: Name
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Team:
    """A team and the actors (e-mails, user ids) on its roster."""

    name: Name
    title: Text | None
    members: tuple[Text, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Window:
    """An open window `[start, end)` in local wall-clock time; times are minutes after midnight."""

    start: int
    end: int
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OpenHours:
    """`open DAYS WINDOWS`: weekdays are 0 (Monday) to 6 (Sunday), in order, without repeats."""

    days: tuple[int, ...]
    windows: tuple[Window, ...]
    span: Span = _span()
    day_spans: tuple[tuple[int, int, Span], ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PublicHolidays:
    """`public holidays AU-NSW [including bank]`: a set from the `holidays` package."""

    country: str
    subdivision: str | None
    categories: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Closure:
    """`closed DATE [to DATE] [HH:MM-HH:MM] ["reason"]`: whole days or part of each day."""

    first: dt.date
    last: dt.date
    window: Window | None
    reason: Text | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Calendar:
    """A business calendar: zone, weekly open hours, holidays, closures, working-day length."""

    name: Name
    title: Text | None
    timezone: Text | None
    hours: tuple[OpenHours, ...]
    holidays: tuple[PublicHolidays, ...]
    closures: tuple[Closure, ...]
    working_day: Duration | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Stage:
    """A lifecycle stage and what it means."""

    name: Name
    title: Text | None
    owner: Name | None
    definition: Text | None
    aliases: tuple[Text, ...]
    initial: bool
    terminal: bool
    max_dwell: Duration | None
    calendar: Name | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Handoff:
    """A permitted stage change, with the criteria the lead must meet and the fields required."""

    source: Name
    target: Name
    title: Text | None
    criteria: tuple[Expr, ...]
    required: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Goal:
    """One goal tier: a duration, and the condition (at start) under which it applies."""

    duration: Duration
    condition: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PauseInStages:
    """`pauses while in STAGE, ...`."""

    stages: tuple[Name, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class PauseWhile:
    """`pauses while EXPR`."""

    condition: Expr
    span: Span = _span()


Pause = PauseInStages | PauseWhile


@dataclass(frozen=True, slots=True)
class Percent:
    """A percentage as written (0-100)."""

    value: Decimal
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Clock:
    """A response-time SLA: when it starts, stops, cancels and pauses, and its goal."""

    name: Name
    title: Text | None
    starts: tuple[Trigger, ...]
    stops: tuple[Trigger, ...]
    cancels: tuple[Trigger, ...]
    pauses: tuple[Pause, ...]
    goals: tuple[Goal, ...]
    calendar: Name | None
    warn: Percent | None
    responsible: Name | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Cadence:
    """A follow-up obligation: at least N activities within D of a trigger."""

    name: Name
    title: Text | None
    starts: tuple[Trigger, ...]
    minimum: int
    types: tuple[Name, ...]
    by: Actor | None
    within: Duration | None
    exits: tuple[Trigger, ...]
    calendar: Name | None
    responsible: Name | None
    span: Span = _span()
    obligation_span: Span = _span()


Period = TypingLiteral["week", "month", "quarter", "year"]


@dataclass(frozen=True, slots=True)
class Volume:
    """`N leads enter STAGE`."""

    count: int
    stage: Name
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Conversion:
    """`P% of leads entering X reach Y [within D]`."""

    percent: Percent
    source: Name
    target: Name
    within: Duration | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Attainment:
    """`P% of CLOCK cycles met`."""

    percent: Percent
    clock: Name
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Worked:
    """`P% of leads entering X worked by TEAM [within D]`."""

    percent: Percent
    stage: Name
    by: Actor
    within: Duration | None
    span: Span = _span()


Measure = Volume | Conversion | Attainment | Worked


@dataclass(frozen=True, slots=True)
class Target:
    """A per-period target: `each PERIOD at least|at most MEASURE`."""

    name: Name
    title: Text | None
    period: Period | None
    bound: Bound
    measure: Measure | None
    responsible: Name | None
    span: Span = _span()


Declaration = (
    Use | Field | ActivityType | Team | Calendar | Stage | Handoff | Clock | Cadence | Target
)


@dataclass(frozen=True, slots=True)
class Document:
    """One parsed file: its optional header and its declarations in source order."""

    header: Header | None
    declarations: tuple[Declaration, ...]
