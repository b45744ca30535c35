"""Compiling: a checked Program and its Scope -> the compiled Agreement the replay engine runs.

Durations become integer microseconds on a named calendar, names become plain strings, and
every element keeps the clause (file:line and span) it came from, so a finding can name it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from slaspec import calendar as cal
from slaspec import nodes as n
from slaspec.graph import EdgeInfo, NodeInfo, StateGraph
from slaspec.loader import Program
from slaspec.semantics import ALWAYS, UNIT_SECONDS, Scope, calendar_spec, derived_working_day
from slaspec.source import Span

MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class Clause:
    """Where an element of the agreement is written."""

    file: str
    line: int
    span: Span

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Length:
    """A compiled duration: microseconds of business time on `calendar` (wall time on `always`)."""

    micros: int
    calendar: str
    text: str


@dataclass(frozen=True, slots=True)
class Stage:
    """A compiled stage."""

    name: str
    title: str
    owner: str | None
    definition: str
    aliases: tuple[str, ...]
    initial: bool
    terminal: bool
    max_dwell: Length | None
    calendar: str  # dwell is measured on it: the stage's own, else the default, else `always`
    clause: Clause


@dataclass(frozen=True, slots=True)
class Handoff:
    """A compiled handoff: criteria stay AST expressions (names are resolved strings already)."""

    source: str
    target: str
    title: str
    criteria: tuple[n.Expr, ...]
    required: tuple[str, ...]
    clause: Clause


@dataclass(frozen=True, slots=True)
class Goal:
    """One goal tier."""

    length: Length
    condition: n.Expr | None
    clause: Clause


@dataclass(frozen=True, slots=True)
class Clock:
    """A compiled response-time clock."""

    name: str
    title: str
    starts: tuple[n.Trigger, ...]
    stops: tuple[n.Trigger, ...]
    cancels: tuple[n.Trigger, ...]
    pauses: tuple[n.Pause, ...]
    goals: tuple[Goal, ...]
    calendar: str
    warn: Decimal | None
    responsible: str | None
    clause: Clause


@dataclass(frozen=True, slots=True)
class Cadence:
    """A compiled follow-up obligation."""

    name: str
    title: str
    starts: tuple[n.Trigger, ...]
    minimum: int
    types: tuple[str, ...]
    by: n.Actor | None
    within: Length
    exits: tuple[n.Trigger, ...]
    calendar: str
    responsible: str | None
    clause: Clause


@dataclass(frozen=True, slots=True)
class Target:
    """A compiled per-period target."""

    name: str
    title: str
    period: n.Period
    bound: str
    measure: n.Measure
    within: Length | None
    responsible: str | None
    clause: Clause


@dataclass(frozen=True, slots=True)
class Party:
    """A party and its signatory."""

    name: str
    title: str
    signatory: str
    role: str | None


@dataclass(frozen=True, slots=True)
class Agreement:
    """The compiled agreement: everything replay and the renderers need, frozen."""

    title: str
    version: str
    effective: dt.date | None
    parties: tuple[Party, ...]
    timezone: str
    default_calendar: str | None
    fields: Mapping[str, n.FieldType]
    activities: tuple[str, ...]
    teams: Mapping[str, str]
    roster: Mapping[str, str]
    calendars: Mapping[str, cal.CalendarSpec]
    stages: Mapping[str, Stage]
    aliases: Mapping[str, str]
    handoffs: Mapping[tuple[str, str], Handoff]
    clocks: Mapping[str, Clock]
    cadences: Mapping[str, Cadence]
    targets: Mapping[str, Target]
    graph: StateGraph
    files: tuple[str, ...]

    def stage_for(self, value: str) -> str | None:
        """The stage a CRM value names: a stage name or one of its aliases."""
        if value in self.stages:
            return value
        return self.aliases.get(value)


class _Compiler:
    def __init__(self, program: Program, scope: Scope) -> None:
        self.program = program
        self.scope = scope
        self.sources = {parsed.source.name: parsed.source for parsed in program.files}

    def clause(self, node: object, span: Span | None = None) -> Clause:
        file = self.scope.file_of(node)
        where: Span = span if span is not None else node.span  # type: ignore[attr-defined]
        line, _ = self.sources[file].position(where.start)
        return Clause(file, line, where)

    def calendar_name(self, own: n.Name | None) -> str:
        if own is not None:
            return own.text
        header = self.scope.header
        if header is not None and header.calendar is not None:
            return header.calendar.text
        return ALWAYS

    def length(self, duration: n.Duration, calendar: str) -> Length:
        unit = duration.unit
        assert unit is not None, "checked programs have known units"
        base = unit.removeprefix("business ")
        if duration.business:
            if base == "days":
                if calendar == ALWAYS:
                    seconds = duration.amount * 86_400
                else:
                    working_day = derived_working_day(self.scope.calendars[calendar])
                    assert working_day is not None, "checked: business days need a working day"
                    seconds = duration.amount * working_day
            else:
                seconds = duration.amount * UNIT_SECONDS[base]
            on = calendar
        else:
            seconds = duration.amount * UNIT_SECONDS[base]
            on = ALWAYS
        amount = format(duration.amount.normalize(), "f")
        word = unit if duration.amount != 1 else unit.removesuffix("s")
        return Length(int(seconds * MICROS), on, f"{amount} {word}")

    def compile(self) -> Agreement:
        scope = self.scope
        header = scope.header
        stages = {
            name: Stage(
                name,
                stage.title.value if stage.title else name,
                stage.owner.text if stage.owner else None,
                stage.definition.value if stage.definition else "",
                tuple(alias.value for alias in stage.aliases),
                stage.initial,
                stage.terminal,
                self.length(stage.max_dwell, self.calendar_name(stage.calendar))
                if stage.max_dwell is not None
                else None,
                self.calendar_name(stage.calendar),
                self.clause(stage),
            )
            for name, stage in scope.stages.items()
        }
        handoffs = {
            key: Handoff(
                handoff.source.text,
                handoff.target.text,
                handoff.title.value if handoff.title else "",
                handoff.criteria,
                tuple(name.text for name in handoff.required),
                self.clause(handoff),
            )
            for key, handoff in scope.handoffs.items()
        }
        clocks = {name: self.clock(clock) for name, clock in scope.clocks.items()}
        cadences = {name: self.cadence(cadence) for name, cadence in scope.cadences.items()}
        targets = {name: self.target(target) for name, target in scope.targets.items()}
        calendars = {ALWAYS: cal.ALWAYS}
        calendars.update({name: calendar_spec(c) for name, c in scope.calendars.items()})
        default = header.calendar.text if header and header.calendar else None
        if header is not None and header.timezone is not None:
            timezone = header.timezone.value
        elif default is not None:
            timezone = calendars[default].timezone
        else:
            timezone = "UTC"
        graph = StateGraph(
            (
                NodeInfo(s.name, s.title, s.owner, s.initial, s.terminal, str(s.clause))
                for s in stages.values()
            ),
            (
                EdgeInfo(h.source, h.target, h.title, bool(h.criteria), str(h.clause))
                for h in handoffs.values()
            ),
        )
        return Agreement(
            title=header.title.value if header else self.program.root.source.name,
            version=header.version.value if header and header.version else "",
            effective=header.effective if header else None,
            parties=tuple(
                Party(
                    p.name.text, p.title.value, p.signatory.value, p.role.value if p.role else None
                )
                for p in (header.parties if header else ())
            ),
            timezone=timezone,
            default_calendar=default,
            fields=MappingProxyType({name: f.type for name, f in scope.fields.items()}),
            activities=tuple(scope.activities),
            teams=MappingProxyType(
                {name: t.title.value if t.title else name for name, t in scope.teams.items()}
            ),
            roster=MappingProxyType(dict(scope.roster)),
            calendars=MappingProxyType(calendars),
            stages=MappingProxyType(stages),
            aliases=MappingProxyType(dict(scope.aliases)),
            handoffs=MappingProxyType(handoffs),
            clocks=MappingProxyType(clocks),
            cadences=MappingProxyType(cadences),
            targets=MappingProxyType(targets),
            graph=graph,
            files=tuple(parsed.source.name for parsed in self.program.files),
        )

    def clock(self, clock: n.Clock) -> Clock:
        calendar = self.calendar_name(clock.calendar)
        return Clock(
            clock.name.text,
            clock.title.value if clock.title else clock.name.text,
            clock.starts,
            clock.stops,
            clock.cancels,
            clock.pauses,
            tuple(
                Goal(
                    self.length(goal.duration, calendar),
                    goal.condition,
                    self.clause(clock, goal.span),
                )
                for goal in clock.goals
            ),
            calendar,
            clock.warn.value if clock.warn is not None else None,
            clock.responsible.text if clock.responsible else None,
            self.clause(clock),
        )

    def cadence(self, cadence: n.Cadence) -> Cadence:
        calendar = self.calendar_name(cadence.calendar)
        assert cadence.within is not None, "checked: a cadence has an obligation"
        return Cadence(
            cadence.name.text,
            cadence.title.value if cadence.title else cadence.name.text,
            cadence.starts,
            cadence.minimum,
            tuple(t.text for t in cadence.types),
            cadence.by,
            self.length(cadence.within, calendar),
            cadence.exits,
            calendar,
            cadence.responsible.text if cadence.responsible else None,
            self.clause(cadence),
        )

    def target(self, target: n.Target) -> Target:
        assert target.measure is not None and target.period is not None, "checked"
        within_duration = getattr(target.measure, "within", None)
        within = (
            self.length(within_duration, self.calendar_name(None))
            if within_duration is not None
            else None
        )
        return Target(
            target.name.text,
            target.title.value if target.title else target.name.text,
            target.period,
            target.bound,
            target.measure,
            within,
            target.responsible.text if target.responsible else None,
            self.clause(target),
        )


def compile_agreement(program: Program, scope: Scope) -> Agreement:
    """The compiled agreement of a program that checked without errors."""
    return _Compiler(program, scope).compile()
