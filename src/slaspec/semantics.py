"""Semantic checks: a loaded Program -> diagnostics (names, types, units, graph, clocks, calendars).

Every check collects findings instead of stopping at the first one. The scope built here (all
declarations of the root file and the files it uses, by name) is reused by the compiler.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from slaspec import calendar as cal
from slaspec import nodes as n
from slaspec.diagnostics import Diagnostic, did_you_mean
from slaspec.loader import Program
from slaspec.parser import AMBIGUOUS_UNITS, DAYS, UNITS
from slaspec.source import Span

ALWAYS = "always"
SECOND = 1_000_000
UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86_400, "weeks": 604_800}
SHAREABLE = (n.Use, n.Field, n.ActivityType, n.Team, n.Calendar)


@dataclass(slots=True)
class Scope:
    """Every declaration visible to the root agreement, by name, and the file each came from."""

    header: n.Header | None = None
    fields: dict[str, n.Field] = field(default_factory=dict)
    activities: dict[str, n.ActivityType] = field(default_factory=dict)
    teams: dict[str, n.Team] = field(default_factory=dict)
    calendars: dict[str, n.Calendar] = field(default_factory=dict)
    stages: dict[str, n.Stage] = field(default_factory=dict)
    handoffs: dict[tuple[str, str], n.Handoff] = field(default_factory=dict)
    clocks: dict[str, n.Clock] = field(default_factory=dict)
    cadences: dict[str, n.Cadence] = field(default_factory=dict)
    targets: dict[str, n.Target] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    roster: dict[str, str] = field(default_factory=dict)
    origin: dict[int, str] = field(default_factory=dict)

    def file_of(self, node: object) -> str:
        """The file a declaration came from."""
        return self.origin[id(node)]

    def stage_names(self) -> list[str]:
        """Every stage name, in declaration order."""
        return list(self.stages)


def calendar_spec(calendar: n.Calendar) -> cal.CalendarSpec:
    """The business-calendar spec a calendar declaration describes."""
    weekly: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for hours in calendar.hours:
        for day in hours.days:
            weekly[day].extend((window.start, window.end) for window in hours.windows)
    sets = tuple(
        cal.HolidaySet(h.country, h.subdivision, tuple(c.text for c in h.categories))
        for h in calendar.holidays
    )
    closures = tuple(
        cal.Closure(
            c.first,
            c.last,
            (c.window.start, c.window.end) if c.window is not None else None,
            c.reason.value if c.reason is not None else "",
        )
        for c in calendar.closures
    )
    working_day = None
    if calendar.working_day is not None and calendar.working_day.unit in UNIT_SECONDS:
        seconds = calendar.working_day.amount * UNIT_SECONDS[calendar.working_day.unit]
        if seconds == seconds.to_integral_value() and seconds > 0:
            working_day = int(seconds)
    return cal.CalendarSpec(
        calendar.name.text,
        calendar.timezone.value if calendar.timezone is not None else "UTC",
        tuple(tuple(sorted(day)) for day in weekly),
        sets,
        closures,
        working_day,
    )


def derived_working_day(calendar: n.Calendar) -> int | None:
    """Seconds in a working day: declared, or the common open time of every open weekday."""
    if calendar.working_day is not None:
        unit = calendar.working_day.unit
        if unit in UNIT_SECONDS:
            return int(calendar.working_day.amount * UNIT_SECONDS[unit])
        return None
    totals = [0] * 7
    for hours in calendar.hours:
        for day in hours.days:
            totals[day] += sum(max(0, w.end - w.start) for w in hours.windows)
    open_days = {total for total in totals if total > 0}
    return open_days.pop() * 60 if len(open_days) == 1 else None


def duration_seconds(duration: n.Duration, working_day: int | None) -> Decimal | None:
    """The length of a duration in (business) seconds, or None when it cannot be known."""
    unit = duration.unit
    if unit is None:
        return None
    base = unit.removeprefix("business ")
    if base == "days" and duration.business:
        return None if working_day is None else duration.amount * working_day
    return duration.amount * UNIT_SECONDS[base]


# ---------------------------------------------------------------- expressions


def walk(expr: n.Expr) -> Iterator[n.Expr]:
    """Every node of a criterion, parents before children."""
    stack: list[n.Expr] = [expr]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, n.And | n.Or):
            stack.extend(reversed(node.parts))
        elif isinstance(node, n.Not):
            stack.append(node.part)


def _triggers(decl: n.Clock | n.Cadence) -> Iterator[n.Trigger]:
    if isinstance(decl, n.Clock):
        yield from (*decl.starts, *decl.stops, *decl.cancels)
    else:
        yield from (*decl.starts, *decl.exits)


# ---------------------------------------------------------------- the checker


class Checker:
    """Runs every semantic check over a Program and collects diagnostics."""

    def __init__(self, program: Program, today: dt.date) -> None:
        self.program = program
        self.today = today
        self.scope = Scope()
        self.diagnostics: list[Diagnostic] = []
        self.used: dict[str, set[str]] = defaultdict(set)

    # -------------------------------------------------------- reporting

    def report(
        self, code: str, message: str, node: object, span: Span, help_: str | None = None
    ) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.scope.file_of(node), span, help_))

    # -------------------------------------------------------- driver

    def run(self) -> list[Diagnostic]:
        self.collect()
        if self.scope.header is None and not self.has_lifecycle():
            # A file of shared declarations: check what it declares, not what it lacks.
            self.check_vocabulary()
            return self.diagnostics
        self.check_vocabulary()
        self.check_header()
        self.check_stages()
        self.check_handoffs()
        for clock in self.scope.clocks.values():
            self.check_clock(clock)
        for cadence in self.scope.cadences.values():
            self.check_cadence(cadence)
        for target in self.scope.targets.values():
            self.check_target(target)
        self.check_graph()
        self.check_dwell_against_clocks()
        self.check_unused()
        return self.diagnostics

    def has_lifecycle(self) -> bool:
        return bool(
            self.scope.stages or self.scope.handoffs or self.scope.clocks or self.scope.targets
        )

    # -------------------------------------------------------- collecting names

    def collect(self) -> None:
        root = self.program.root
        for parsed in self.program.files:
            document = parsed.document
            if document is None:
                continue
            is_root = parsed is root
            if document.header is not None:
                self.scope.origin[id(document.header)] = parsed.source.name
                if is_root:
                    self.scope.header = document.header
                else:
                    self.report(
                        "SLA105",
                        "a used file cannot have its own `agreement` header",
                        document.header,
                        document.header.span,
                        "move the header to the agreement that uses this file",
                    )
            for declaration in document.declarations:
                self.scope.origin[id(declaration)] = parsed.source.name
                if not is_root and not isinstance(declaration, SHAREABLE):
                    self.report(
                        "SLA105",
                        f"a used file may share fields, activities, teams and calendars, "
                        f"not {_kind(declaration)}s",
                        declaration,
                        declaration.span,
                        "declare it in the agreement file itself",
                    )
                    continue
                self.declare(declaration)
        if root.document is not None and self.scope.header is None and self.has_lifecycle():
            first = next(d for d in root.document.declarations if not isinstance(d, SHAREABLE))
            self.report(
                "SLA106",
                "this agreement has no `agreement` header",
                first,
                Span(first.span.start, first.span.start),
                'start the file with `agreement "Title":` giving its version, effective date '
                "and parties",
            )

    def declare(self, declaration: n.Declaration) -> None:
        match declaration:
            case n.Use():
                return
            case n.Field():
                self.unique(self.scope.fields, declaration.name, declaration, "field")
            case n.ActivityType():
                self.unique(self.scope.activities, declaration.name, declaration, "activity type")
            case n.Team():
                self.unique(self.scope.teams, declaration.name, declaration, "team")
                for member in declaration.members:
                    previous = self.scope.roster.get(member.value)
                    if previous is not None and previous != declaration.name.text:
                        self.report(
                            "SLA108",
                            f"`{member.value}` is on the rosters of both `{previous}` and "
                            f"`{declaration.name.text}`",
                            declaration,
                            member.span,
                            "an actor belongs to one team; use the log's `team` column for "
                            "people who change teams",
                        )
                    else:
                        self.scope.roster[member.value] = declaration.name.text
            case n.Calendar():
                if declaration.name.text == ALWAYS:
                    self.report(
                        "SLA102",
                        "`always` is the built-in 24x7 calendar and cannot be redeclared",
                        declaration,
                        declaration.name.span,
                        "give this calendar another name",
                    )
                else:
                    self.unique(self.scope.calendars, declaration.name, declaration, "calendar")
            case n.Stage():
                self.unique(self.scope.stages, declaration.name, declaration, "stage")
            case n.Handoff():
                key = (declaration.source.text, declaration.target.text)
                if key in self.scope.handoffs:
                    existing = self.scope.handoffs[key]
                    self.report(
                        "SLA109",
                        f"handoff `{key[0]} -> {key[1]}` is declared twice",
                        declaration,
                        declaration.span,
                        f"merge it with the one on line {self.line_of(existing)}",
                    )
                else:
                    self.scope.handoffs[key] = declaration
            case n.Clock() | n.Cadence() | n.Target():
                rules: dict[str, object] = {
                    **self.scope.clocks,
                    **self.scope.cadences,
                    **self.scope.targets,
                }
                if declaration.name.text in rules:
                    first = rules[declaration.name.text]
                    self.report(
                        "SLA102",
                        f"`{declaration.name.text}` is already the name of a "
                        f"{_kind(first)} (line {self.line_of(first)})",
                        declaration,
                        declaration.name.span,
                        "clocks, cadences and targets share one set of names; rename one",
                    )
                elif isinstance(declaration, n.Clock):
                    self.scope.clocks[declaration.name.text] = declaration
                elif isinstance(declaration, n.Cadence):
                    self.scope.cadences[declaration.name.text] = declaration
                else:
                    self.scope.targets[declaration.name.text] = declaration

    def unique(self, table: dict[str, Any], name: n.Name, decl: object, kind: str) -> None:
        if name.text in table:
            first = table[name.text]
            where = self.where(first)
            self.report(
                "SLA102",
                f"{kind} `{name.text}` is declared twice",
                decl,
                name.span,
                f"the first declaration is at {where}; remove or rename one",
            )
        else:
            table[name.text] = decl

    def line_of(self, node: object) -> int:
        span: Span = node.span  # type: ignore[attr-defined]
        for parsed in self.program.files:
            if parsed.source.name == self.scope.file_of(node):
                return parsed.source.position(span.start)[0]
        return 0  # pragma: no cover

    def where(self, node: object) -> str:
        return f"{self.scope.file_of(node)}:{self.line_of(node)}"

    # -------------------------------------------------------- references

    def ref(
        self,
        table: Mapping[str, object],
        name: n.Name,
        node: object,
        kind: str,
        extra: Iterable[str] = (),
    ) -> bool:
        self.used[kind].add(name.text)
        if name.text in table or name.text in extra:
            return True
        candidates = [*table, *extra]
        hint = did_you_mean(name.text, candidates)
        if hint is None and not candidates:
            hint = f"declare it: no {kind} is declared yet"
        elif hint is None:
            listing = ", ".join(f"`{c}`" for c in sorted(candidates)[:8])
            hint = f"declared {kind}s: {listing}" + (", ..." if len(candidates) > 8 else "")
        self.report("SLA101", f"undefined {kind} `{name.text}`", node, name.span, hint)
        return False

    def stage_ref(self, name: n.Name, node: object) -> bool:
        if name.text in self.scope.aliases and name.text not in self.scope.stages:
            stage = self.scope.aliases[name.text]
            self.report(
                "SLA101",
                f"`{name.text}` is an alias of stage `{stage}`; the agreement refers to stages "
                "by name",
                node,
                name.span,
                f"write `{stage}`",
            )
            return False
        return self.ref(self.scope.stages, name, node, "stage")

    def team_ref(self, name: n.Name, node: object) -> bool:
        return self.ref(self.scope.teams, name, node, "team")

    def actor_ref(self, actor: n.Actor | None, node: object) -> None:
        if isinstance(actor, n.ByTeam):
            self.team_ref(actor.team, node)

    def calendar_ref(self, name: n.Name | None, node: object) -> n.Calendar | None:
        if name is None:
            return None
        if self.ref(self.scope.calendars, name, node, "calendar", extra=(ALWAYS,)):
            return self.scope.calendars.get(name.text)
        return None

    # -------------------------------------------------------- vocabulary

    def check_vocabulary(self) -> None:
        for fld in self.scope.fields.values():
            if fld.type.kind == "money" and fld.type.currency is not None:
                code = fld.type.currency.text
                if len(code) != 3 or not code.isalpha() or not code.isupper():
                    self.report(
                        "SLA206",
                        f"`{code}` is not an ISO 4217 currency code",
                        fld,
                        fld.type.currency.span,
                        "write three capital letters, such as AUD, USD or EUR",
                    )
            if fld.type.kind == "enum":
                seen: set[str] = set()
                for value in fld.type.values:
                    if value.value in seen:
                        self.report(
                            "SLA102",
                            f"`{value.value}` is listed twice in enum `{fld.name.text}`",
                            fld,
                            value.span,
                            "remove the repeated value",
                        )
                    seen.add(value.value)
        for calendar in self.scope.calendars.values():
            self.check_calendar(calendar)

    def check_calendar(self, calendar: n.Calendar) -> None:
        before = len(self.diagnostics)
        if calendar.timezone is None:
            self.report(
                "SLA006",
                f"calendar `{calendar.name.text}` has no time zone",
                calendar,
                calendar.name.span,
                'add a line such as `timezone "Australia/Sydney"` (an IANA zone name)',
            )
        else:
            problem = cal.timezone_problem(calendar.timezone.value)
            if problem is not None:
                self.report("SLA207", *_split_at(problem, calendar, calendar.timezone.span))
        for holiday_set in calendar.holidays:
            problem = cal.holiday_set_problem(
                holiday_set.country,
                holiday_set.subdivision,
                tuple(c.text for c in holiday_set.categories),
            )
            if problem is not None:
                self.report("SLA208", *_split_at(problem, calendar, holiday_set.span))
        by_day: dict[int, list[n.Window]] = defaultdict(list)
        overlaps: dict[tuple[int, int], tuple[n.Window, n.Window, list[int]]] = {}
        for hours in calendar.hours:
            for window in hours.windows:
                if window.end <= window.start:
                    self.report(
                        "SLA603",
                        f"window {_hhmm(window.start)}-{_hhmm(window.end)} ends before it starts",
                        calendar,
                        window.span,
                        "windows run within one day; write 24:00 for midnight at the end",
                    )
            for day in hours.days:
                for window in hours.windows:
                    if window.end <= window.start:
                        continue
                    for other in by_day[day]:
                        if window.start < other.end and other.start < window.end:
                            key = (id(window), id(other))
                            overlaps.setdefault(key, (window, other, []))[2].append(day)
                    by_day[day].append(window)
        for window, other, days in overlaps.values():
            self.report(
                "SLA602",
                f"the window {_hhmm(window.start)}-{_hhmm(window.end)} overlaps "
                f"{_hhmm(other.start)}-{_hhmm(other.end)} on {_days_phrase(days)}",
                calendar,
                window.span,
                "merge the windows, or end one where the other starts",
            )
        for closure in calendar.closures:
            if closure.last < closure.first:
                self.report(
                    "SLA603",
                    f"closure runs backwards, from {closure.first} to {closure.last}",
                    calendar,
                    closure.span,
                    "write the earlier date first",
                )
            if closure.window is not None and closure.window.end <= closure.window.start:
                self.report(
                    "SLA603",
                    "closure window ends before it starts",
                    calendar,
                    closure.window.span,
                    "write the closing time first and the reopening time second, as in 12:00-17:30",
                )
        if calendar.working_day is not None:
            self.check_duration(calendar.working_day, calendar, None, allow_business=False)
        blocking = ("SLA207", "SLA208", "SLA603")
        problems = any(d.code in blocking for d in self.diagnostics[before:])
        if calendar.timezone is not None and not problems:
            start = self.reference_date()
            if not cal.has_open_time(calendar_spec(calendar), start):
                self.report(
                    "SLA601",
                    f"calendar `{calendar.name.text}` has no open time in the 366 days from "
                    f"{start.isoformat()}",
                    calendar,
                    calendar.name.span,
                    "add `open` hours, or remove closures that cover every open day",
                )

    def reference_date(self) -> dt.date:
        header = self.scope.header
        if header is not None and header.effective is not None:
            return header.effective
        return self.today

    # -------------------------------------------------------- header

    def check_header(self) -> None:
        header = self.scope.header
        if header is None:
            return
        if header.effective is None:
            self.report(
                "SLA006",
                "the agreement header has no effective date",
                header,
                header.title.span,
                "add a line such as `effective 2026-01-01`: replays judge leads by the version "
                "in force",
            )
        seen: dict[str, n.Party] = {}
        for party in header.parties:
            if party.name.text in seen:
                self.report(
                    "SLA102",
                    f"party `{party.name.text}` is listed twice",
                    header,
                    party.name.span,
                    "each party signs once; remove the repeated line or rename one party",
                )
            seen[party.name.text] = party
        if header.calendar is not None:
            self.calendar_ref(header.calendar, header)
        if header.timezone is not None:
            problem = cal.timezone_problem(header.timezone.value)
            if problem is not None:
                self.report("SLA207", *_split_at(problem, header, header.timezone.span))

    def default_calendar(self) -> n.Name | None:
        header = self.scope.header
        return header.calendar if header is not None else None

    # -------------------------------------------------------- durations

    def context_calendar(self, own: n.Name | None) -> tuple[bool, int | None, str | None]:
        """(a calendar applies, its working day in seconds, its name)."""
        name = own or self.default_calendar()
        if name is None:
            return False, None, None
        if name.text == ALWAYS:
            return True, 86_400, ALWAYS
        calendar = self.scope.calendars.get(name.text)
        if calendar is None:
            return True, None, name.text  # reported as undefined elsewhere
        return True, derived_working_day(calendar), name.text

    def check_duration(
        self,
        duration: n.Duration,
        node: object,
        calendar: n.Name | None,
        allow_business: bool = True,
        positive: bool = True,
    ) -> Decimal | None:
        """Check one duration; return its length in seconds when known."""
        written = duration.written.removeprefix("business ")
        if duration.unit is None:
            if written in AMBIGUOUS_UNITS:
                self.report(
                    "SLA203",
                    f"`{duration.written}` is ambiguous",
                    node,
                    duration.span,
                    f"write {AMBIGUOUS_UNITS[written]}",
                )
            elif duration.business and UNITS.get(written) == "weeks":
                self.report(
                    "SLA202",
                    "`business weeks` is not a unit",
                    node,
                    duration.span,
                    "write `business days` (five per week on a Monday-to-Friday calendar)",
                )
            else:
                self.report(
                    "SLA202",
                    f"unknown unit `{written}`",
                    node,
                    duration.span,
                    did_you_mean(written, UNITS)
                    or "use minutes, hours, days or weeks, optionally preceded by `business`",
                )
            return None
        if duration.amount <= 0 and positive:
            self.report(
                "SLA206",
                "a duration must be longer than zero",
                node,
                duration.span,
                "a goal, limit or window of zero is met only by the same instant; give a length",
            )
        working_day: int | None = None
        if duration.business:
            if not allow_business:
                self.report(
                    "SLA206",
                    "a working day is measured in hours or minutes of clock time",
                    node,
                    duration.span,
                    f"write `{duration.amount} {duration.unit.removeprefix('business ')}`",
                )
                return None
            applies, working_day, name = self.context_calendar(calendar)
            if not applies:
                self.report(
                    "SLA205",
                    f"`{duration.written}` needs a calendar, and none applies here",
                    node,
                    duration.span,
                    "add a `calendar NAME` line to this block, or a default `calendar` to the "
                    "agreement header",
                )
                return None
            if duration.unit == "business days" and working_day is None:
                self.report(
                    "SLA204",
                    f"calendar `{name}` has no single working-day length, so `business days` "
                    "is undefined",
                    node,
                    duration.span,
                    "add `working day 7.5 hours` (for example) to the calendar, or use "
                    "`business hours`",
                )
                return None
        seconds = duration_seconds(duration, working_day)
        if seconds is not None and seconds != seconds.to_integral_value():
            self.report(
                "SLA206",
                f"{duration.amount} {duration.written} is not a whole number of seconds",
                node,
                duration.span,
            )
        return seconds

    # -------------------------------------------------------- criteria

    def check_expr(self, expr: n.Expr, node: object, calendar: n.Name | None) -> None:
        for item in walk(expr):
            match item:
                case n.Comparison():
                    fld = self.field_ref(item.field, node)
                    if fld is not None:
                        self.check_literal(fld, item.op, item.value, node)
                case n.Membership():
                    fld = self.field_ref(item.field, node)
                    if fld is not None:
                        for value in item.values:
                            self.check_literal(fld, "=", value, node)
                case n.Presence():
                    self.field_ref(item.field, node)
                case n.Recent():
                    fld = self.field_ref(item.field, node)
                    if fld is not None and fld.type.kind not in ("date", "datetime"):
                        self.report(
                            "SLA201",
                            f"`within` needs a date or datetime field; `{fld.name.text}` is "
                            f"{_article(fld.type.kind)}",
                            node,
                            item.field.span,
                            "`within` asks how long ago a date was; compare numbers with < or >",
                        )
                    # `within` is measured on the agreement's default calendar wherever it
                    # appears, so a criterion means the same in a handoff and in a clock.
                    self.check_duration(item.duration, node, None)
                case n.ActivityCount():
                    if item.minimum < 1:
                        self.report(
                            "SLA206",
                            "a count of at least 0 activities always holds",
                            node,
                            item.span,
                            "count at least 1",
                        )
                    for activity in item.types:
                        self.ref(self.scope.activities, activity, node, "activity type")
                    self.actor_ref(item.by, node)
                    if item.since is not None:
                        self.stage_ref(item.since, node)
                case n.And() | n.Or() | n.Not():
                    pass
        self.check_contradictions(expr, node)

    def field_ref(self, name: n.Name, node: object) -> n.Field | None:
        if self.ref(self.scope.fields, name, node, "field"):
            return self.scope.fields[name.text]
        return None

    def check_literal(self, fld: n.Field, op: str, value: n.Literal, node: object) -> None:
        kind = fld.type.kind
        ordered = op in ("<", "<=", ">", ">=")
        expected = {
            "number": ("number",),
            "money": ("number",),
            "string": ("string",),
            "boolean": ("boolean",),
            "date": ("date",),
            "datetime": ("datetime",),
            "enum": ("symbol", "string"),
        }[kind]
        name = fld.name.text
        if value.kind not in expected:
            if value.kind == "symbol" and kind == "string":
                help_ = f'put text in double quotes: "{value.value}"'
            elif kind == "boolean":
                help_ = "compare with true or false"
            else:
                help_ = f"compare `{name}` with {_example(fld)}"
            self.report(
                "SLA201",
                f"`{name}` is {_article(kind)} field and cannot be compared with "
                f"{_article(value.kind)}",
                node,
                value.span,
                help_,
            )
            return
        if ordered and kind in ("string", "boolean", "enum"):
            self.report(
                "SLA201",
                f"`{op}` orders values, and {_article(kind)} field like `{name}` has no order",
                node,
                value.span,
                "use = or !=, or `in [...]`",
            )
            return
        if kind == "enum":
            allowed = [v.value for v in fld.type.values]
            if str(value.value) not in allowed:
                self.report(
                    "SLA201",
                    f"`{value.value}` is not a value of `{name}`",
                    node,
                    value.span,
                    did_you_mean(str(value.value), allowed)
                    or "values: " + ", ".join(f"`{v}`" for v in allowed),
                )

    def check_contradictions(self, expr: n.Expr, node: object) -> None:
        for item in walk(expr):
            if isinstance(item, n.And):
                self.contradiction(item.parts, node)

    def contradiction(self, parts: Iterable[n.Expr], node: object) -> None:
        """Report conjunctions that no lead can satisfy: disjoint ranges, unset-and-compared."""
        lower: dict[str, tuple[object, bool, n.Expr]] = {}
        upper: dict[str, tuple[object, bool, n.Expr]] = {}
        equal: dict[str, tuple[object, n.Expr]] = {}
        unset: dict[str, n.Expr] = {}
        constrained: dict[str, n.Expr] = {}
        for part in parts:
            if isinstance(part, n.Presence):
                name = part.field.text
                if part.present:
                    constrained.setdefault(name, part)
                else:
                    unset[name] = part
                if (not part.present and name in constrained) or (part.present and name in unset):
                    self.report_contradiction(part, node, f"`{name}` cannot be set and unset")
                    return
                continue
            if not isinstance(part, n.Comparison) or part.value.kind == "symbol":
                if isinstance(part, n.Membership | n.Recent):
                    name = part.field.text
                    constrained.setdefault(name, part)
                    if name in unset:
                        self.report_contradiction(
                            part, node, f"`{name}` is required to be unset, so this never holds"
                        )
                        return
                if not isinstance(part, n.Comparison):
                    continue
            name = part.field.text
            value = part.value.value
            constrained.setdefault(name, part)
            if name in unset:
                self.report_contradiction(
                    part, node, f"`{name}` is required to be unset, so a comparison never holds"
                )
                return
            if part.op == "!=":
                continue
            try:
                if part.op == "=":
                    if name in equal and equal[name][0] != value:
                        self.report_contradiction(
                            part, node, f"`{name}` cannot equal both {equal[name][0]} and {value}"
                        )
                        return
                    equal[name] = (value, part)
                    lower_bound: tuple[object, bool, n.Expr] | None = (value, True, part)
                    upper_bound: tuple[object, bool, n.Expr] | None = (value, True, part)
                elif part.op in (">", ">="):
                    lower_bound, upper_bound = (value, part.op == ">=", part), None
                else:
                    lower_bound, upper_bound = None, (value, part.op == "<=", part)
                if lower_bound is not None and (
                    name not in lower or _tighter_lower(lower_bound, lower[name])
                ):
                    lower[name] = lower_bound
                if upper_bound is not None and (
                    name not in upper or _tighter_upper(upper_bound, upper[name])
                ):
                    upper[name] = upper_bound
                if name in lower and name in upper:
                    low, low_inclusive, _ = lower[name]
                    high, high_inclusive, _ = upper[name]
                    if low > high or (low == high and not (low_inclusive and high_inclusive)):  # type: ignore[operator]
                        self.report_contradiction(
                            part,
                            node,
                            f"no value of `{name}` is {_bound_text(lower[name], True)} and "
                            f"{_bound_text(upper[name], False)}",
                        )
                        return
            except TypeError:
                continue  # values of different kinds: already a type error

    def report_contradiction(self, part: n.Expr, node: object, why: str) -> None:
        numeric = isinstance(part, n.Comparison) and part.value.kind in (
            "number",
            "date",
            "datetime",
        )
        self.report(
            "SLA501",
            f"these criteria can never be met: {why}",
            node,
            part.span,
            "check the numbers; did you mean `or`?" if numeric else "did you mean `or`?",
        )

    # -------------------------------------------------------- stages and handoffs

    def check_stages(self) -> None:
        for stage in self.scope.stages.values():
            for alias in stage.aliases:
                key = alias.value
                other = self.scope.aliases.get(key)
                clash = self.scope.stages.get(key)
                if other is not None and other != stage.name.text:
                    self.report(
                        "SLA107",
                        f"`{key}` is an alias of both `{other}` and `{stage.name.text}`",
                        stage,
                        alias.span,
                        "a CRM value can map to one stage only",
                    )
                elif clash is not None and clash is not stage:
                    self.report(
                        "SLA107",
                        f"alias `{key}` is already the name of stage `{key}`",
                        stage,
                        alias.span,
                        "remove the alias; the stage's own name already maps to it",
                    )
                else:
                    self.scope.aliases[key] = stage.name.text
        for stage in self.scope.stages.values():
            if stage.owner is None:
                self.report(
                    "SLA006",
                    f"stage `{stage.name.text}` has no owner",
                    stage,
                    stage.name.span,
                    "add `owner TEAM`: every stage is owned by the team accountable for it",
                )
            else:
                self.team_ref(stage.owner, stage)
            self.calendar_ref(stage.calendar, stage)
            if stage.max_dwell is not None:
                self.check_duration(stage.max_dwell, stage, stage.calendar)

    def check_handoffs(self) -> None:
        for handoff in self.scope.handoffs.values():
            known = [
                self.stage_ref(handoff.source, handoff),
                self.stage_ref(handoff.target, handoff),
            ]
            if all(known) and handoff.source.text == handoff.target.text:
                self.report(
                    "SLA305",
                    f"handoff `{handoff.source.text} -> {handoff.target.text}` leads nowhere",
                    handoff,
                    handoff.span,
                    "a stage change to the same stage is not a change; remove the handoff",
                )
            source = self.scope.stages.get(handoff.source.text)
            if source is not None and source.terminal:
                self.report(
                    "SLA304",
                    f"`{source.name.text}` is terminal but has a handoff to "
                    f"`{handoff.target.text}`",
                    handoff,
                    handoff.span,
                    f"remove `terminal` from `{source.name.text}` or remove this handoff",
                )
            calendar = self.default_calendar()
            for criterion in handoff.criteria:
                self.check_expr(criterion, handoff, calendar)
            if len(handoff.criteria) > 1:
                parts: list[n.Expr] = []
                for criterion in handoff.criteria:
                    parts.extend(criterion.parts if isinstance(criterion, n.And) else [criterion])
                self.contradiction(parts, handoff)
            for required in handoff.required:
                self.field_ref(required, handoff)

    # -------------------------------------------------------- clocks

    def check_trigger(self, trigger: n.Trigger, node: object) -> None:
        match trigger:
            case n.OnEnter() | n.OnLeave():
                for stage in trigger.stages:
                    self.stage_ref(stage, node)
            case n.OnHandoff():
                ok = self.stage_ref(trigger.source, node) & self.stage_ref(trigger.target, node)
                key = (trigger.source.text, trigger.target.text)
                if ok and key not in self.scope.handoffs:
                    self.report(
                        "SLA101",
                        f"no handoff `{key[0]} -> {key[1]}` is declared",
                        node,
                        trigger.span,
                        f"declare the handoff, or use `lead enters {key[1]}` to start on any entry",
                    )
            case n.OnActivity():
                for activity in trigger.types:
                    self.ref(self.scope.activities, activity, node, "activity type")
                self.actor_ref(trigger.by, node)
            case n.OnCreate() | n.OnAssign():
                pass

    def check_clock(self, clock: n.Clock) -> None:
        for clause, items in (("starts when", clock.starts), ("stops when", clock.stops)):
            if not items:
                self.report(
                    "SLA006",
                    f"clock `{clock.name.text}` has no `{clause}` clause",
                    clock,
                    clock.name.span,
                    f"add `{clause} ...`: a clock measures from its start to its stop",
                )
        if not clock.goals:
            self.report(
                "SLA006",
                f"clock `{clock.name.text}` has no goal",
                clock,
                clock.name.span,
                "add `goal 4 business hours` (for example)",
            )
        for trigger in _triggers(clock):
            self.check_trigger(trigger, clock)
        for pause in clock.pauses:
            if isinstance(pause, n.PauseInStages):
                for stage in pause.stages:
                    self.stage_ref(stage, clock)
            else:
                self.check_expr(pause.condition, clock, clock.calendar)
        self.calendar_ref(clock.calendar, clock)
        catch_all: n.Goal | None = None
        for goal in clock.goals:
            self.check_duration(goal.duration, clock, clock.calendar)
            if goal.condition is not None:
                self.check_expr(goal.condition, clock, clock.calendar)
            if catch_all is not None:
                self.report(
                    "SLA402",
                    "this goal never applies: the goal before it has no condition",
                    clock,
                    goal.span,
                    f"tiers are tried in order and the first match wins; move the catch-all "
                    f"goal on line {self.line_of_span(clock, catch_all.span)} to the end",
                )
            elif goal.condition is None:
                catch_all = goal
        if clock.goals and catch_all is None:
            last = clock.goals[-1]
            self.report(
                "SLA403",
                f"a lead matching none of the goal tiers of `{clock.name.text}` gets no goal",
                clock,
                last.span,
                "end the tiers with a goal without `if`, such as `goal 1 business day`",
            )
        if clock.warn is not None and not 0 < clock.warn.value < 100:
            self.report(
                "SLA206",
                f"a warning threshold of {clock.warn.value}% never warns before the deadline",
                clock,
                clock.warn.span,
                "give a percentage of the goal between 1 and 99, such as `warn at 75%`",
            )
        if clock.responsible is not None:
            self.team_ref(clock.responsible, clock)
        if clock.starts and clock.stops:
            self.check_stop_follows_start(clock)

    def line_of_span(self, node: object, span: Span) -> int:
        for parsed in self.program.files:
            if parsed.source.name == self.scope.file_of(node):
                return parsed.source.position(span.start)[0]
        return 0  # pragma: no cover

    def check_cadence(self, cadence: n.Cadence) -> None:
        if not cadence.starts:
            self.report(
                "SLA006",
                f"cadence `{cadence.name.text}` has no `starts when` clause",
                cadence,
                cadence.name.span,
                "add `starts when lead enters STAGE`",
            )
        if cadence.within is None:
            self.report(
                "SLA006",
                f"cadence `{cadence.name.text}` has no `requires at least ...` clause",
                cadence,
                cadence.name.span,
                "add `requires at least 6 call by sdr within 10 business days` (for example)",
            )
        else:
            if cadence.minimum < 1:
                self.report(
                    "SLA206",
                    "a cadence of at least 0 activities is always met",
                    cadence,
                    cadence.obligation_span,
                    "require at least 1",
                )
            for activity in cadence.types:
                self.ref(self.scope.activities, activity, cadence, "activity type")
            self.actor_ref(cadence.by, cadence)
            self.check_duration(cadence.within, cadence, cadence.calendar)
        for trigger in _triggers(cadence):
            self.check_trigger(trigger, cadence)
        self.calendar_ref(cadence.calendar, cadence)
        if cadence.responsible is not None:
            self.team_ref(cadence.responsible, cadence)

    def check_target(self, target: n.Target) -> None:
        if target.measure is None or target.period is None:
            self.report(
                "SLA006",
                f"target `{target.name.text}` says nothing to measure",
                target,
                target.name.span,
                "add a line such as `each month at least 120 leads enter mql`",
            )
            return
        measure = target.measure
        calendar = self.default_calendar()
        match measure:
            case n.Volume():
                self.stage_ref(measure.stage, target)
            case n.Conversion():
                self.stage_ref(measure.source, target)
                self.stage_ref(measure.target, target)
                if measure.source.text == measure.target.text:
                    self.report(
                        "SLA405",
                        f"converting `{measure.source.text}` into itself measures nothing",
                        target,
                        measure.span,
                        "name the later stage the leads should reach",
                    )
                if measure.within is not None:
                    self.check_duration(measure.within, target, calendar)
            case n.Attainment():
                self.used["rule"].add(measure.clock.text)
                self.ref(
                    {**self.scope.clocks, **self.scope.cadences},
                    measure.clock,
                    target,
                    "clock or cadence",
                )
            case n.Worked():
                self.stage_ref(measure.stage, target)
                self.actor_ref(measure.by, target)
                if measure.within is not None:
                    self.check_duration(measure.within, target, calendar)
        if target.responsible is not None:
            self.team_ref(target.responsible, target)

    # -------------------------------------------------------- the lifecycle graph

    def successors(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {name: set() for name in self.scope.stages}
        for source, target in self.scope.handoffs:
            if source in out and target in out:
                out[source].add(target)
        return out

    def check_graph(self) -> None:
        stages = self.scope.stages
        if not stages:
            return
        initial = [name for name, stage in stages.items() if stage.initial]
        if not initial:
            first = next(iter(stages.values()))
            self.report(
                "SLA301",
                "no stage is declared `initial`, so no lead can enter the lifecycle",
                first,
                first.name.span,
                f"add `initial` to the stage leads start in (probably `{first.name.text}`)",
            )
        succ = self.successors()
        reachable = _closure(initial, succ)
        for name, stage in stages.items():
            if initial and name not in reachable:
                self.report(
                    "SLA302",
                    f"stage `{name}` cannot be reached from "
                    + _names_phrase(initial, "the initial stage", "the initial stages"),
                    stage,
                    stage.name.span,
                    f"add a handoff into `{name}`, or mark it `initial`",
                )
        terminal = [name for name, stage in stages.items() if stage.terminal]
        if not terminal:
            first = next(iter(stages.values()))
            self.report(
                "SLA303",
                "no stage is declared `terminal`, so no lead can ever finish",
                first,
                first.name.span,
                "mark the outcome stages (won, lost, ...) `terminal`",
            )
            return
        pred: dict[str, set[str]] = {name: set() for name in stages}
        for source, targets in succ.items():
            for target in targets:
                pred[target].add(source)
        finishing = _closure(terminal, pred)
        for name, stage in stages.items():
            if name not in finishing:
                self.report(
                    "SLA303",
                    f"no terminal stage can be reached from `{name}`",
                    stage,
                    stage.name.span,
                    f"add a handoff from `{name}` toward "
                    + _names_phrase(terminal, "the terminal stage", "one of the terminal stages"),
                )

    def start_stages(self, trigger: n.Trigger, succ: dict[str, set[str]]) -> set[str] | None:
        """Stages the lead can be in right after the trigger fires; None means any stage."""
        match trigger:
            case n.OnEnter():
                return {s.text for s in trigger.stages}
            case n.OnLeave():
                return set().union(*(succ.get(s.text, set()) for s in trigger.stages))
            case n.OnHandoff():
                return {trigger.target.text}
            case n.OnCreate():
                return {name for name, stage in self.scope.stages.items() if stage.initial}
            case n.OnAssign() | n.OnActivity():
                return None

    def can_follow(
        self, stop: n.Trigger, after: set[str] | None, succ: dict[str, set[str]]
    ) -> bool:
        everything = set(self.scope.stages)
        current = everything if after is None else after
        later = _closure(current, succ)  # stages reachable with zero or more handoffs
        moved = set().union(*(succ.get(s, set()) for s in later)) if later else set()
        match stop:
            case n.OnCreate():
                return False
            case n.OnAssign() | n.OnActivity():
                return True
            case n.OnEnter():
                return any(s.text in moved for s in stop.stages)
            case n.OnLeave():
                return any(s.text in later and succ.get(s.text) for s in stop.stages)
            case n.OnHandoff():
                return stop.source.text in later and stop.target.text in succ.get(
                    stop.source.text, set()
                )

    def check_stop_follows_start(self, clock: n.Clock) -> None:
        known = set(self.scope.stages)
        for trigger in (*clock.starts, *clock.stops):
            names = (
                trigger.stages
                if isinstance(trigger, n.OnEnter | n.OnLeave)
                else (trigger.source, trigger.target)
                if isinstance(trigger, n.OnHandoff)
                else ()
            )
            if any(name.text not in known for name in names):
                return  # undefined stages are reported already
        succ = self.successors()
        for start in clock.starts:
            after = self.start_stages(start, succ)
            if any(self.can_follow(stop, after, succ) for stop in clock.stops):
                return
        stop_span = clock.stops[0].span
        self.report(
            "SLA401",
            f"clock `{clock.name.text}` can never stop: no `stops when` event can happen "
            "after it starts",
            clock,
            stop_span,
            "check the stage names against the handoffs; a lead only moves along declared handoffs",
        )

    def check_dwell_against_clocks(self) -> None:
        succ = self.successors()
        for stage in self.scope.stages.values():
            if stage.max_dwell is None or stage.max_dwell.unit is None:
                continue
            _, stage_day, _ = self.context_calendar(stage.calendar)
            limit = duration_seconds(stage.max_dwell, stage_day)
            if limit is None:
                continue
            for clock in self.scope.clocks.values():
                runs_inside = any(
                    (after := self.start_stages(start, succ)) is not None
                    and after == {stage.name.text}
                    for start in clock.starts
                )
                if not runs_inside:
                    continue
                _, clock_day, _ = self.context_calendar(clock.calendar)
                for goal in clock.goals:
                    if goal.duration.unit is None:
                        continue
                    if goal.duration.business != stage.max_dwell.business:
                        continue
                    seconds = duration_seconds(goal.duration, clock_day)
                    if seconds is not None and seconds > limit:
                        self.report(
                            "SLA404",
                            f"stage `{stage.name.text}` stalls after {_dur(stage.max_dwell)}, "
                            f"before clock `{clock.name.text}`'s goal of {_dur(goal.duration)} "
                            "runs out",
                            stage,
                            stage.max_dwell.span,
                            "lengthen the dwell limit or shorten the goal, so a lead is not "
                            "reported stalled while the clock is still on time",
                        )
                        break

    # -------------------------------------------------------- unused declarations

    def check_unused(self) -> None:
        root = self.program.root.source.name
        used = self.used
        header = self.scope.header
        if header is not None and header.calendar is not None:
            used["calendar"].add(header.calendar.text)
        for kind, table, code in (
            ("team", self.scope.teams, "SLA701"),
            ("field", self.scope.fields, "SLA702"),
            ("calendar", self.scope.calendars, "SLA703"),
            ("activity type", self.scope.activities, "SLA704"),
        ):
            for name, decl in table.items():
                if name in used[kind] or self.scope.file_of(decl) != root:
                    continue
                self.report(
                    code,
                    f"{kind} `{name}` is declared but never used",
                    decl,
                    decl.name.span,
                    f"remove it, or refer to it; keep it with `# slaspec: ignore[{code}] -- why`",
                )


def check(program: Program, today: dt.date) -> tuple[tuple[Diagnostic, ...], Scope]:
    """Every semantic finding of a program whose files all parsed, and its scope."""
    checker = Checker(program, today)
    checker.run()
    return tuple(checker.diagnostics), checker.scope


# ---------------------------------------------------------------- small helpers


def _split_at(problem: str, node: object, span: Span) -> tuple[str, object, Span, str | None]:
    """A problem text as report arguments: what follows the first `; ` is the help."""
    message, _, advice = problem.partition("; ")
    return message, node, span, advice or None


def _closure(start: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    stack = list(seen)
    while stack:
        node = stack.pop()
        for nxt in edges.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _kind(node: object) -> str:
    return {
        n.Stage: "stage",
        n.Handoff: "handoff",
        n.Clock: "clock",
        n.Cadence: "cadence",
        n.Target: "target",
        n.Field: "field",
        n.Team: "team",
        n.Calendar: "calendar",
        n.ActivityType: "activity type",
        n.Use: "use",
    }.get(type(node), "declaration")


def _article(kind: str) -> str:
    word = {"symbol": "bare word", "datetime": "date-and-time"}.get(kind, kind)
    return ("an " if word[0] in "aeiou" else "a ") + word


def _example(fld: n.Field) -> str:
    return {
        "number": "a number such as 60",
        "money": "an amount such as 5000",
        "string": 'quoted text such as "AU"',
        "date": "a date such as 2026-01-31",
        "datetime": "a date and time such as 2026-01-31T09:00+11:00",
        "boolean": "true or false",
        "enum": "one of its values",
    }[fld.type.kind]


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _dur(duration: n.Duration) -> str:
    amount = format(duration.amount.normalize(), "f")
    return f"{amount} {duration.unit or duration.written}"


def _bound_text(bound: tuple[object, bool, n.Expr], lower: bool) -> str:
    value, inclusive, _ = bound
    if lower:
        return f"{'>=' if inclusive else '>'} {value}"
    return f"{'<=' if inclusive else '<'} {value}"


def _tighter_lower(new: tuple[object, bool, n.Expr], old: tuple[object, bool, n.Expr]) -> bool:
    return new[0] > old[0] or (new[0] == old[0] and not new[1])  # type: ignore[operator]


def _tighter_upper(new: tuple[object, bool, n.Expr], old: tuple[object, bool, n.Expr]) -> bool:
    return new[0] < old[0] or (new[0] == old[0] and not new[1])  # type: ignore[operator]


def _days_phrase(days: list[int]) -> str:
    ordered = sorted(set(days))
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{DAYS[ordered[0]]} to {DAYS[ordered[-1]]}"
    return ", ".join(DAYS[day] for day in ordered)


def _names_phrase(names: list[str], one: str, many: str) -> str:
    listed = ", ".join(f"`{name}`" for name in names[:4]) + (", ..." if len(names) > 4 else "")
    return f"{one} {listed}" if len(names) == 1 else f"{many} {listed}"
