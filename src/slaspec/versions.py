"""Agreement versions: compiled versions of one agreement + prepared rows -> results judged by
the version in force (docs/versions.md).

Each version is in force from the first instant of its effective date in its own time zone until
the next version's; the oldest also governs everything before its date. A clock or cadence cycle,
and a stay with its stall, are judged by the version in force when they began; an invalid entry,
an illegal transition or unmet criteria by the version in force at their instant. A rule keeps
one cycle at a time across versions: a cycle that runs over a switch holds back the new version's
cycles of that rule until it ends, as a running cycle holds back its own rule's starts.

`VersionedEngine` drives one unmodified `Engine` per version through `replay_lead`. Rules never
read one another's cycles, so the new version takes over a rule by replaying the lead with a
synthetic activity, inserted where the old cycle let go, that only cancels that rule; what the
new version's replay made of the rule before that point is discarded.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from slaspec import nodes as n
from slaspec.calendar import BusinessCalendar
from slaspec.compiler import Agreement, Cadence, Clause, Clock, Stage
from slaspec.events import Event, EventKind, Origin
from slaspec.readers import Rejected
from slaspec.replay import Engine, Prepared, Row, prepare
from slaspec.results import (
    Cycle,
    LeadResult,
    Outcome,
    ReplayResult,
    Stay,
    Violation,
    ViolationKind,
)
from slaspec.source import Source, Span

if TYPE_CHECKING:
    from slaspec.loader import Program
    from slaspec.pipeline import Checked

# The activity type of the rows that hand a rule over; a CRM cannot write a NUL in a cell.
SWITCH = "\x00slaspec-version-switch:"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NOWHERE = Span(0, 0)
_STRUCTURAL = frozenset(
    {ViolationKind.INVALID_ENTRY, ViolationKind.ILLEGAL_TRANSITION, ViolationKind.CRITERIA_UNMET}
)
_CYCLES = frozenset({ViolationKind.CLOCK_BREACHED, ViolationKind.CADENCE_BREACHED})


class LeadReplayer(Protocol):
    """What the parallel fold needs of an engine: `Engine` and `VersionedEngine` both fit."""

    def replay_lead(self, lead: str, rows: Sequence[Row], as_of: int) -> LeadResult:
        """Fold one lead's rows (already in replay order) into its result."""
        ...


@dataclass(frozen=True, slots=True)
class Problem:
    """Why some agreement files cannot be replayed as versions of one agreement, and where."""

    kind: str  # a stable key, e.g. "same-effective-date"; the CLI maps it to a rule code
    message: str
    file: str
    line: int
    column: int
    span: Span
    help: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True, slots=True)
class Version:
    """One version of the agreement and the instant it comes into force."""

    label: str
    agreement: Agreement
    starts: int | None  # UTC microseconds; None only for a lone version without a date

    @property
    def effective(self) -> dt.date | None:
        """The effective date the version states."""
        return self.agreement.effective


def label_of(agreement: Agreement) -> str:
    """The name a report gives a version: its `version` text, else its date, else its file."""
    if agreement.version:
        return agreement.version
    if agreement.effective is not None:
        return f"effective {agreement.effective.isoformat()}"
    return agreement.files[0]


def effective_instant(date: dt.date, timezone: str) -> int:
    """The first instant of `date` in `timezone`, as UTC microseconds.

    A midnight lost to a DST gap maps, with fold 0, to the instant the gap starts, and the day
    begins then; so this is the first instant whose local date is `date` in every case.
    """
    local = dt.datetime.combine(date, dt.time(), tzinfo=ZoneInfo(timezone))
    delta = local.astimezone(dt.UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


# ---------------------------------------------------------------- checking a set of versions


@dataclass(frozen=True, slots=True)
class _Entry:
    """A version to check: the agreement, and its program when spans can be shown."""

    agreement: Agreement
    program: Program | None


class _Locator:
    """Positions of header parts and declarations, from the program when there is one."""

    def __init__(self, entry: _Entry) -> None:
        self.entry = entry
        self.root = entry.agreement.files[0]
        program = entry.program
        self.sources: dict[str, Source] = (
            {parsed.source.name: parsed.source for parsed in program.files} if program else {}
        )
        self.header: n.Header | None = None
        self.declarations: list[tuple[str, n.Declaration]] = []
        if program is not None:
            document = program.root.document
            self.header = document.header if document is not None else None
            for parsed in program.files:
                if parsed.document is not None:
                    self.declarations.extend(
                        (parsed.source.name, d) for d in parsed.document.declarations
                    )

    def problem(
        self, kind: str, message: str, help_: str, file: str, span: Span, line: int = 1
    ) -> Problem:
        source = self.sources.get(file)
        if source is not None:
            line, column = source.position(span.start)
        else:
            column = 1
        return Problem(kind, message, file, line, column, span, help_)

    def at_header(self, kind: str, message: str, help_: str, part: str = "") -> Problem:
        header = self.header
        span = _NOWHERE
        if header is not None:
            span = header.span
            if part == "title":
                span = header.title.span
            elif part == "effective" and header.effective is not None:
                span = header.effective_span
            elif part == "version" and header.version is not None:
                span = header.version.span
        return self.problem(kind, message, help_, self.root, span)

    def at_clause(self, kind: str, message: str, help_: str, clause: Clause) -> Problem:
        return self.problem(kind, message, help_, clause.file, clause.span, clause.line)

    def at_field(self, kind: str, message: str, help_: str, name: str) -> Problem:
        for file, declaration in self.declarations:
            if isinstance(declaration, n.Field) and declaration.name.text == name:
                return self.problem(kind, message, help_, file, declaration.type.span)
        return self.problem(kind, message, help_, self.root, _NOWHERE)

    def at_spelling(self, kind: str, message: str, help_: str, spelling: str) -> Problem:
        agreement = self.entry.agreement
        for file, declaration in self.declarations:
            if not isinstance(declaration, n.Stage):
                continue
            if declaration.name.text == spelling:
                return self.problem(kind, message, help_, file, declaration.name.span)
            for alias in declaration.aliases:
                if alias.value == spelling:
                    return self.problem(kind, message, help_, file, alias.span)
        stage = agreement.stage_for(spelling)
        if stage is not None:
            return self.at_clause(kind, message, help_, agreement.stages[stage].clause)
        return self.problem(kind, message, help_, self.root, _NOWHERE)


def check_versions(versions: Sequence[Checked]) -> list[Problem]:
    """Why these checked files cannot be replayed as versions of one agreement (empty: they can)."""
    problems: list[Problem] = []
    entries: list[_Entry] = []
    for checked in versions:
        if checked.agreement is None:
            problems.append(
                Problem(
                    "not-compiled",
                    f"`{checked.program.root.source.name}` has errors, so it cannot be a version",
                    checked.program.root.source.name,
                    1,
                    1,
                    _NOWHERE,
                    "run `slaspec lint` on it and fix the errors first",
                )
            )
        else:
            entries.append(_Entry(checked.agreement, checked.program))
    return problems + _problems(entries)


def _problems(entries: Sequence[_Entry]) -> list[Problem]:
    """Every reason these versions cannot be replayed together, in a stable order."""
    if len(entries) < 2:
        return []
    where = [_Locator(entry) for entry in entries]
    found: list[Problem] = []
    dated = [i for i, e in enumerate(entries) if e.agreement.effective is not None]
    # The reference is the newest version; later-given files win ties.
    newest = max(
        range(len(entries)),
        key=lambda i: (entries[i].agreement.effective or dt.date.min, i),
    )
    reference = entries[newest].agreement
    names = {i: f"`{e.agreement.files[0]}`" for i, e in enumerate(entries)}
    for i, entry in enumerate(entries):
        agreement = entry.agreement
        if agreement.title != reference.title:
            found.append(
                where[i].at_header(
                    "different-agreement",
                    f"{names[i]} is `{agreement.title}`, not a version of "
                    f"`{reference.title}` ({names[newest]})",
                    "versions of one agreement keep its title; replay other agreements apart",
                    "title",
                )
            )
        if agreement.effective is None:
            found.append(
                where[i].at_header(
                    "no-effective-date",
                    f"{names[i]} states no effective date, so it cannot take its place among "
                    "versions",
                    "add `effective YYYY-MM-DD` to its agreement block",
                )
            )
    first_with: dict[dt.date, int] = {}
    for i in dated:
        date = entries[i].agreement.effective
        assert date is not None
        if date in first_with:
            found.append(
                where[i].at_header(
                    "same-effective-date",
                    f"{names[i]} and {names[first_with[date]]} are both effective "
                    f"{date.isoformat()}",
                    "each version comes into force on its own date; give this one its date",
                    "effective",
                )
            )
        else:
            first_with[date] = i
    first_label: dict[str, int] = {}
    for i, entry in enumerate(entries):
        label = label_of(entry.agreement)
        if label in first_label:
            found.append(
                where[i].at_header(
                    "same-version-label",
                    f"{names[i]} and {names[first_label[label]]} are both version `{label}`",
                    "give each version its own `version` text, so a report can say which "
                    "judged a cycle",
                    "version",
                )
            )
        else:
            first_label[label] = i
    in_date_order = sorted(first_with.values(), key=lambda i: _date_of(entries[i]))
    for before, after in itertools.pairwise(in_date_order):
        if _starts(entries[after].agreement) <= _starts(entries[before].agreement):
            found.append(
                where[after].at_header(
                    "effective-order",
                    f"{names[after]} is dated after {names[before]}, but midnight in its time "
                    f"zone ({entries[after].agreement.timezone}) comes first",
                    "versions must come into force in the order of their dates; move one date",
                    "effective",
                )
            )
    found.extend(_reading_problems(entries, where, names))
    return found


def _date_of(entry: _Entry) -> dt.date:
    """The effective date of a dated entry."""
    date = entry.agreement.effective
    assert date is not None
    return date


def _starts(agreement: Agreement) -> int:
    assert agreement.effective is not None
    return effective_instant(agreement.effective, agreement.timezone)


def _reading_problems(
    entries: Sequence[_Entry], where: Sequence[_Locator], names: Mapping[int, str]
) -> list[Problem]:
    """Spellings, fields and rule names that would make one reading of the log wrong for
    some version: rows are read once, for every version alike."""
    found: list[Problem] = []
    # Oldest first, so a problem points at the version that changed the meaning.
    order = sorted(
        range(len(entries)), key=lambda i: (entries[i].agreement.effective or dt.date.min, i)
    )
    meaning: dict[str, tuple[str, int]] = {}
    kinds: dict[str, tuple[str, int]] = {}
    rules: dict[str, tuple[str, int]] = {}
    for i in order:
        agreement = entries[i].agreement
        spellings = {name: name for name in agreement.stages}
        spellings.update(
            {alias: stage for alias, stage in agreement.aliases.items() if alias not in spellings}
        )
        for spelling, stage in sorted(spellings.items()):
            seen = meaning.setdefault(spelling, (stage, i))
            if seen[0] != stage:
                found.append(
                    where[i].at_spelling(
                        "stage-spelling-conflict",
                        f"`{spelling}` means stage {stage} in {names[i]} but stage {seen[0]} in "
                        f"{names[seen[1]]}; the log is read once, for every version",
                        "keep what a CRM value means across versions: rename the stage or "
                        "drop the alias in one of them",
                        spelling,
                    )
                )
        for name, field_type in sorted(agreement.fields.items()):
            seen = kinds.setdefault(name, (field_type.kind, i))
            if seen[0] != field_type.kind:
                found.append(
                    where[i].at_field(
                        "field-type-conflict",
                        f"field `{name}` is {field_type.kind} in {names[i]} but {seen[0]} in "
                        f"{names[seen[1]]}; the log is read once, for every version",
                        "keep a field's type across versions, or give the new meaning a new "
                        "field name",
                        name,
                    )
                )
        for name, rule_kind, clause in sorted(
            [(c.name, "clock", c.clause) for c in agreement.clocks.values()]
            + [(c.name, "cadence", c.clause) for c in agreement.cadences.values()]
        ):
            seen = rules.setdefault(name, (rule_kind, i))
            if seen[0] != rule_kind:
                found.append(
                    where[i].at_clause(
                        "rule-kind-conflict",
                        f"`{name}` is a {rule_kind} in {names[i]} but a {seen[0]} in "
                        f"{names[seen[1]]}; its cycles would be counted as one rule",
                        "give the new rule a new name",
                        clause,
                    )
                )
    return found


# ---------------------------------------------------------------- reading the log once


def reading_agreement(agreements: Sequence[Agreement]) -> Agreement:
    """The agreement to `prepare` a log with: the newest version, knowing every stage, alias
    and field of the others (enum values united), so each era's rows read as written, and
    every clock and cadence of the others, so the report and the analysis count the cycles of
    a rule a newer version dropped."""
    ordered = _by_date(agreements)
    newest = ordered[-1]
    stages: dict[str, Stage] = {}
    aliases: dict[str, str] = {}
    fields: dict[str, n.FieldType] = {}
    clocks: dict[str, Clock] = {}
    cadences: dict[str, Cadence] = {}
    for agreement in reversed(ordered):
        for name, stage in agreement.stages.items():
            stages.setdefault(name, stage)
        for alias, stage_name in agreement.aliases.items():
            aliases.setdefault(alias, stage_name)
        for name, clock in agreement.clocks.items():
            clocks.setdefault(name, clock)
        for name, cadence in agreement.cadences.items():
            cadences.setdefault(name, cadence)
        for name, field_type in agreement.fields.items():
            known = fields.setdefault(name, field_type)
            if known.kind == "enum" and field_type.kind == "enum":
                values = {v.value for v in known.values}
                extra = tuple(v for v in field_type.values if v.value not in values)
                if extra:
                    fields[name] = dataclasses.replace(known, values=known.values + extra)
    return dataclasses.replace(
        newest,
        stages=MappingProxyType(stages),
        aliases=MappingProxyType(aliases),
        fields=MappingProxyType(fields),
        clocks=MappingProxyType(clocks),
        cadences=MappingProxyType(cadences),
    )


def _by_date(agreements: Sequence[Agreement]) -> list[Agreement]:
    return sorted(agreements, key=lambda a: (a.effective or dt.date.min,))


# ---------------------------------------------------------------- the versioned engine


def _variant(agreement: Agreement, stages: Mapping[str, Stage]) -> Agreement:
    """The version as its engine runs it: each rule also cancelled by its switch activity, and
    stages it does not declare present as bare stages (no owner, not initial, no handoff), so
    a lead entering one under this version is an invalid entry or an illegal transition."""
    nowhere = Clause(agreement.files[0], 1, _NOWHERE)
    known = dict(agreement.stages)
    for name in stages:
        if name not in known:
            known[name] = Stage(
                name,
                name,
                None,
                "",
                (),
                False,
                False,
                None,
                agreement.default_calendar or "always",
                nowhere,
            )
    clocks = {
        name: dataclasses.replace(clock, cancels=(*clock.cancels, _switch(name)))
        for name, clock in agreement.clocks.items()
    }
    cadences = {
        name: dataclasses.replace(cadence, exits=(*cadence.exits, _switch(name)))
        for name, cadence in agreement.cadences.items()
    }
    return dataclasses.replace(
        agreement,
        stages=MappingProxyType(known),
        clocks=MappingProxyType(clocks),
        cadences=MappingProxyType(cadences),
    )


def _switch(rule: str) -> n.OnActivity:
    return n.OnActivity((n.Name(SWITCH + rule),), None)


@dataclass(frozen=True, slots=True)
class _Judge:
    """One version as the replay uses it."""

    version: Version
    engine: Engine
    rules: tuple[str, ...]
    undeclared: frozenset[str]  # stages of other versions this one does not declare


class VersionedEngine:
    """Compiled versions of one agreement, ready to replay leads: each cycle, stay and finding
    judged by the version in force when it began (see the module docstring)."""

    def __init__(self, agreements: Sequence[Agreement]) -> None:
        if not agreements:
            raise ValueError("no agreement versions to replay")
        problems = _problems([_Entry(a, None) for a in agreements])
        if problems:
            raise ValueError("; ".join(p.message for p in problems))
        ordered = _by_date(agreements)
        self.reading = reading_agreement(ordered)
        judges: list[_Judge] = []
        for agreement in ordered:
            version = Version(
                label_of(agreement),
                agreement,
                None
                if agreement.effective is None
                else effective_instant(agreement.effective, agreement.timezone),
            )
            judges.append(
                _Judge(
                    version,
                    Engine(_variant(agreement, self.reading.stages)),
                    tuple(sorted([*agreement.clocks, *agreement.cadences])),
                    frozenset(self.reading.stages) - frozenset(agreement.stages),
                )
            )
        self.judges = tuple(judges)
        self.versions = tuple(judge.version for judge in judges)
        # Where each later version takes over; the oldest also governs everything before.
        self.switches: list[int] = []
        for version in self.versions[1:]:
            assert version.starts is not None, "checked: several versions all have dates"
            self.switches.append(version.starts)
        self._calendars: dict[tuple[int, str], BusinessCalendar] = {}

    def prepare(self, items: Iterable[Event | Rejected], as_of: int | None = None) -> Prepared:
        """Type, validate and deduplicate the input once, for every version alike."""
        return prepare(self.reading, items, as_of)

    def version_at(self, instant: int) -> Version:
        """The version in force at an instant."""
        return self.versions[self.index_at(instant)]

    def index_at(self, instant: int) -> int:
        """The position, oldest first, of the version in force at an instant."""
        return bisect.bisect_right(self.switches, instant)

    def replay_lead(self, lead: str, rows: Sequence[Row], as_of: int) -> LeadResult:
        """Fold one lead's rows (already in replay order) into its result."""
        times = [row.time for row in rows]
        cuts = [0, *(bisect.bisect_left(times, s) for s in self.switches), len(rows)]
        owners = [i for i in range(len(self.judges)) if cuts[i] < cuts[i + 1]]
        if len(owners) <= 1:
            # The whole lead lives under one version (or has no rows): nothing to hand over.
            index = owners[0] if owners else self.index_at(as_of)
            judge = self.judges[index]
            result = judge.engine.replay_lead(lead, rows, as_of)
            return dataclasses.replace(
                result,
                cycles=tuple(self.labelled(judge, c) for c in result.cycles),
                violations=tuple(self.noted(judge, v) for v in result.violations),
            )
        return self.replay_across(lead, rows, times, as_of, cuts, owners)

    def replay_across(
        self,
        lead: str,
        rows: Sequence[Row],
        times: Sequence[int],
        as_of: int,
        cuts: Sequence[int],
        owners: Sequence[int],
    ) -> LeadResult:
        """A lead whose rows fall under several versions: one replay per version, each keeping
        what began in its own time, with every rule handed over where the last one let go."""
        position = {row.origin: i for i, row in enumerate(rows) if not row.cells}
        free: dict[str, int] = {}  # rule -> first row index at which no earlier cycle runs
        cycles: list[Cycle] = []
        violations: list[Violation] = []
        stays: list[Stay] = []
        result: LeadResult | None = None
        inserted = 0
        for i in owners:
            judge = self.judges[i]
            low, high = cuts[i], cuts[i + 1]
            start = self.switches[i - 1] if i > 0 else -(2**63)
            end = self.switches[i] if i < len(self.switches) else 2**63
            handover = {rule: max(low, free.get(rule, 0)) for rule in judge.rules}
            switches = sorted(
                (at, rule) for rule, at in handover.items() if 0 < at < min(high, len(rows))
            )
            fed = _with_switches(rows, switches)
            inserted = len(switches)
            result = judge.engine.replay_lead(lead, fed, as_of)
            kept: set[tuple[str, int, Origin]] = set()
            for cycle in result.cycles:
                begun = position[cycle.start_row]
                if handover[cycle.rule] <= begun < high:
                    kept.add((cycle.rule, cycle.started, cycle.start_row))
                    cycles.append(self.labelled(judge, cycle))
                    free[cycle.rule] = self.released(i, cycle, times, position)
            for violation in result.violations:
                kind = violation.kind
                if kind in _CYCLES:
                    key = (violation.rule, violation.started, violation.rows[0])
                    keep = key in kept
                elif kind is ViolationKind.STALL:
                    assert violation.started is not None
                    keep = start <= violation.started < end
                else:
                    keep = start <= violation.at < end
                if keep:
                    violations.append(self.noted(judge, violation))
            stays.extend(s for s in result.stays if start <= s.entered < end)
        assert result is not None
        cycles.sort(key=lambda c: (c.rule, c.started, position[c.start_row]))
        numbered: list[Cycle] = []
        counts: dict[str, int] = {}
        for cycle in cycles:
            counts[cycle.rule] = counts.get(cycle.rule, 0) + 1
            numbered.append(dataclasses.replace(cycle, index=counts[cycle.rule]))
        violations.sort(
            key=lambda v: (v.at, v.kind.value, v.rule, tuple((o.file, o.row) for o in v.rows))
        )
        return dataclasses.replace(
            result,
            events=result.events - inserted,
            stays=tuple(stays),
            cycles=tuple(numbered),
            violations=tuple(violations),
            activities=tuple(a for a in result.activities if not a.type.startswith(SWITCH)),
        )

    def released(
        self, index: int, cycle: Cycle, times: Sequence[int], position: Mapping[Origin, int]
    ) -> int:
        """The first row index at which a later cycle of the rule may start: the row that ended
        this one, the row at which an expired cadence is closed, or never (len(times))."""
        if cycle.end_row is not None:
            return position[cycle.end_row]
        if cycle.outcome is not Outcome.BREACHED or cycle.kind != "cadence" or cycle.due is None:
            return len(times)  # open at as-of
        # As the engine does: a cadence past due is closed at the first row at which its
        # business time exceeds the window (a closed calendar can keep it at the window).
        calendar = self.calendar(index, cycle.calendar)
        for i in range(bisect.bisect_right(times, cycle.due), len(times)):
            if calendar.elapsed(cycle.started, times[i]) > cycle.goal:
                return i
        return len(times)

    def calendar(self, index: int, name: str) -> BusinessCalendar:
        """A version's business calendar by name, built once."""
        key = (index, name)
        found = self._calendars.get(key)
        if found is None:
            spec = self.judges[index].version.agreement.calendars[name]
            found = self._calendars[key] = BusinessCalendar(spec)
        return found

    def labelled(self, judge: _Judge, cycle: Cycle) -> Cycle:
        """The cycle, saying which version judged it."""
        return dataclasses.replace(cycle, version=judge.version.label)

    def noted(self, judge: _Judge, violation: Violation) -> Violation:
        """The violation, saying which version judged it and naming stages it did not know."""
        message = violation.message
        if judge.undeclared and violation.kind in _STRUCTURAL:
            strangers = [s for s in violation.rule.split(" -> ") if s in judge.undeclared]
            if strangers:
                verb = "is" if len(strangers) == 1 else "are"
                message += f"; {' and '.join(strangers)} {verb} not a stage of version "
                message += judge.version.label
        return dataclasses.replace(violation, message=message, version=judge.version.label)


def _with_switches(rows: Sequence[Row], switches: Sequence[tuple[int, str]]) -> Sequence[Row]:
    """The rows with a switch activity for each (index, rule) inserted before that row."""
    if not switches:
        return rows
    fed: list[Row] = []
    previous = 0
    for at, rule in switches:
        fed.extend(rows[previous:at])
        previous = at
        anchor = rows[at]
        fed.append(
            Row(
                anchor.lead,
                anchor.time,
                EventKind.ACTIVITY,
                anchor.seq,
                SWITCH + rule,
                None,
                None,
                (),
                Origin(SWITCH, 0),
            )
        )
    fed.extend(rows[previous:])
    return fed


def replay_versions(
    agreements: Sequence[Agreement],
    items: Iterable[Event | Rejected],
    as_of: int | None = None,
) -> ReplayResult:
    """Replay every lead of the input, each cycle judged by the version in force."""
    engine = VersionedEngine(agreements)
    prepared = engine.prepare(items, as_of)
    leads = tuple(
        engine.replay_lead(lead, rows, prepared.as_of) for lead, rows in prepared.leads.items()
    )
    return ReplayResult(prepared.as_of, prepared.accounting, leads, prepared.rejections)
