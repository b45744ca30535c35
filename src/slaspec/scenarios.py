"""Scenario tests: a `.scenarios` file -> checked scenarios -> results of replaying them.

A scenario test file sits beside an agreement (`harbour-b2b.scenarios` beside `harbour-b2b.sla`)
and holds scenarios a person can read: a few events of a lead or two, written in the agreement's
time zone, and what the agreement must make of them (a clock met or breached with its due time,
violations, the stage at the end). docs/testing.md describes the format.

The stages are `parse` (text -> syntax, in scenario_syntax.py), `check` (syntax + compiled
agreement -> scenarios of events and expectations; SLA951-SLA953), `run` (replay each
scenario's leads through `replay.Engine` and compare) and `coverage` (which stages, handoffs,
criteria, clocks, tiers and targets the scenarios reached). Nothing here reads files: `load`
takes a reader, as `loader.load` does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fnmatch
import itertools
import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Literal, assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slaspec import nodes as n
from slaspec.calendar import BusinessCalendar
from slaspec.compiler import Agreement, Target
from slaspec.diagnostics import Diagnostic, Severity, did_you_mean, sort_key
from slaspec.events import (
    EARLIEST,
    FIRST_YEAR,
    LAST_YEAR,
    LATEST,
    Event,
    EventKind,
    Origin,
    outside_years,
)
from slaspec.pipeline import Checked, check_agreement
from slaspec.replay import Engine, TraceEntry, prepare
from slaspec.results import Cycle, LeadResult, Outcome, Stay, Violation, ViolationKind
from slaspec.scenario_syntax import (
    GOOD_TIME,
    Attribute,
    CycleWord,
    EventLine,
    Expectation,
    ExpectAttainment,
    ExpectCycle,
    ExpectNoViolations,
    ExpectPath,
    ExpectStage,
    ExpectViolation,
    LeadBlock,
    ScenarioBlock,
    TestFile,
    Token,
    When,
    read_when,
)
from slaspec.scenario_syntax import parse as parse
from slaspec.source import Source, Span

SUFFIX = ".scenarios"
AGREEMENT_SUFFIX = ".sla"
UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

Reader = Callable[[str], Source | Diagnostic]
_KINDS = {kind.value: kind for kind in ViolationKind}
_EVENT_WORDS = ("enters", "set", "clear", "assigned")

# ---------------------------------------------------------------- checked scenarios


@dataclass(frozen=True, slots=True)
class CycleIs:
    """A clock or cadence cycle's outcome and details."""

    rule: str
    cycle: int | None
    outcome: CycleWord
    due: int | None
    no_due: bool
    ended: int | None
    goal: str | None
    at_risk: bool | None
    team: str | None
    count: int | None


@dataclass(frozen=True, slots=True)
class ViolationIs:
    """A violation of a kind, optionally of one rule, at one instant, charged to one team."""

    kind: ViolationKind
    rule: str | None
    at: int | None
    team: str | None


@dataclass(frozen=True, slots=True)
class StageIs:
    """The lead's stage at the end (as of)."""

    stage: str


@dataclass(frozen=True, slots=True)
class PathIs:
    """The stages the lead passed through, in order."""

    stages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NoViolations:
    """The lead broke no rule."""


@dataclass(frozen=True, slots=True)
class AttainmentIs:
    """A rule's attainment over the scenario's leads: met of met-or-breached cycles."""

    rule: str
    met: int | None
    judged: int | None
    percent: Decimal | None


Claim = CycleIs | ViolationIs | StageIs | PathIs | NoViolations | AttainmentIs


@dataclass(frozen=True, slots=True)
class Expected:
    """One expectation line, checked: what it claims, about which lead, and where it is."""

    claim: Claim
    lead: str | None  # None for attainment, which is about the whole scenario
    line: int
    text: str  # the expectation in canonical words, as reports show it


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scenario ready to replay: its events, as-of instant and expectations."""

    name: str
    file: str
    line: int
    zone: str
    as_of: int | None
    leads: tuple[tuple[str, int], ...]  # each lead id with the line of its block
    events: tuple[Event, ...]
    expectations: tuple[Expected, ...]
    event_lines: Mapping[int, str]  # line -> the event as written after its time, for timelines


@dataclass(frozen=True, slots=True)
class Suite:
    """A test file, checked against its agreement: scenarios to run, or why it cannot run."""

    path: str
    agreement_path: str
    agreement: Agreement | None
    scenarios: tuple[Scenario, ...]
    diagnostics: tuple[Diagnostic, ...]
    sources: Mapping[str, Source]

    @property
    def runnable(self) -> bool:
        """True when the file and its agreement have no errors."""
        return self.agreement is not None and not any(
            d.severity is Severity.ERROR for d in self.diagnostics
        )


def agreement_path(test: TestFile) -> str:
    """The agreement a test file tests: its `agreement "PATH"` line (relative to the test
    file's folder), else the `.sla` file named like the test file up to its first dot."""
    name = test.source.name
    folder = posixpath.dirname(name)
    if test.agreement is not None:
        written = test.agreement.text
        if posixpath.isabs(written):
            return posixpath.normpath(written)
        return posixpath.normpath(posixpath.join(folder, written)) if folder else written
    stem = posixpath.basename(name).split(".", 1)[0]
    return posixpath.join(folder, stem + AGREEMENT_SUFFIX) if folder else stem + AGREEMENT_SUFFIX


@dataclass(frozen=True, slots=True)
class Unclear:
    """A local time that names no single instant: skipped over (`gap`) or repeated."""

    gap: bool
    offsets: tuple[dt.timedelta, dt.timedelta]  # before and after the clock change


def instant(when: When, zone: ZoneInfo) -> int | Unclear:
    """The instant a written time means: with its offset, else read in the zone."""
    naive = dt.datetime.combine(when.date, when.time)
    if when.offset is not None:
        return _micros(naive.replace(tzinfo=dt.timezone(when.offset)))
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    before, after = first.utcoffset(), second.utcoffset()
    if before == after:
        return _micros(first)
    assert before is not None and after is not None
    gap = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive
    return Unclear(gap, (before, after))


class _Checker:
    """Resolves a parsed test file against a compiled agreement."""

    def __init__(self, test: TestFile, agreement: Agreement, zone: ZoneInfo) -> None:
        self.test = test
        self.file = test.source.name
        self.agreement = agreement
        self.zone = zone
        self.diagnostics: list[Diagnostic] = []
        self.stage_names = sorted({*agreement.stages, *agreement.aliases})
        self.rules = {
            **{name: "clock" for name in agreement.clocks},
            **{name: "cadence" for name in agreement.cadences},
        }

    def report(self, code: str, message: str, span: Span, help_: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.file, span, help_))

    def undefined(self, what: str, token: Token, known: Iterable[str], advice: str) -> None:
        pool = sorted(known)
        hint = did_you_mean(token.text, pool)
        listed = ", ".join(pool) if len(pool) <= 12 else ", ".join(pool[:12]) + ", ..."
        self.report(
            "SLA951",
            f"`{token.text}` is not {what} of the agreement",
            token.span,
            hint or (f"{advice}: {listed}" if pool else advice),
        )

    # ------------------------------------------------------------ names

    def stage(self, token: Token) -> str | None:
        stage = self.agreement.stage_for(token.text)
        if stage is None:
            self.undefined("a stage", token, self.stage_names, "the stages and their aliases are")
        return stage

    def team(self, token: Token) -> str | None:
        if token.text in self.agreement.teams:
            return token.text
        self.undefined("a team", token, self.agreement.teams, "the teams are")
        return None

    def rule(self, token: Token) -> str | None:
        if token.text in self.rules:
            return token.text
        hint = did_you_mean(token.text, [*self.rules, "stage", "path", "violation", "no"])
        listed = ", ".join(sorted(self.rules)) or "none"
        self.report(
            "SLA951",
            f"`{token.text}` is not a clock or cadence of the agreement",
            token.span,
            hint or f"the clocks and cadences are: {listed}",
        )
        return None

    def who(self, token: Token) -> tuple[str | None, str | None] | None:
        """`by WHO`: a team, or an actor (on a roster, quoted, or an e-mail address)."""
        if token.text in self.agreement.teams:
            return None, token.text
        if token.kind == "string" or "@" in token.text or token.text in self.agreement.roster:
            return token.text, None
        hint = did_you_mean(token.text, [*self.agreement.teams, *self.agreement.roster])
        self.report(
            "SLA951",
            f"`{token.text}` is neither a team nor an actor on a team's roster",
            token.span,
            hint or "name a team, or put the actor's id in quotes",
        )
        return None

    # ------------------------------------------------------------ times

    def instant(self, when: When) -> int | None:
        shown = _wall_text(dt.datetime.combine(when.date, when.time))
        # Years outside those covered are refused before any arithmetic (which could overflow
        # near year 1 or 9999); the first and last years are checked once converted.
        found = instant(when, self.zone) if FIRST_YEAR <= when.date.year <= LAST_YEAR else None
        if found is None or (isinstance(found, int) and not EARLIEST <= found < LATEST):
            self.report(
                "SLA952",
                outside_years(shown),
                when.span,
                f"check the year, e.g. `{GOOD_TIME}`",
            )
            return None
        if isinstance(found, int):
            return found
        before, after = (_offset_text(offset) for offset in found.offsets)
        if found.gap:
            self.report(
                "SLA952",
                f"{shown} does not exist in {self.zone.key}: the clocks jumped forward over it",
                when.span,
                f"write a time that exists, or give the offset meant: `{shown} {before}` or "
                f"`{shown} {after}`",
            )
        else:
            self.report(
                "SLA952",
                f"{shown} happens twice in {self.zone.key}: the clocks went back",
                when.span,
                f"say which with its offset: `{shown} {before}` (the first) or `{shown} {after}` "
                "(the second)",
            )
        return None

    # ------------------------------------------------------------ scenarios

    def scenarios(self) -> tuple[Scenario, ...]:
        found: list[Scenario] = []
        first_line: dict[str, int] = {}
        for block in self.test.scenarios:
            if block.name in first_line:
                self.report(
                    "SLA953",
                    f"a second scenario named `{block.name}` (the first is on line "
                    f"{first_line[block.name]})",
                    block.name_span,
                    "give each scenario its own name: reports and --run find scenarios by name",
                )
                continue
            first_line[block.name] = block.line
            before = len(self.diagnostics)
            scenario = self.scenario(block)
            if scenario is not None and len(self.diagnostics) == before:
                found.append(scenario)
        return tuple(found)

    def scenario(self, block: ScenarioBlock) -> Scenario | None:
        as_of = self.instant(block.as_of) if block.as_of is not None else None
        events: list[Event] = []
        values: dict[tuple[int, str], Token] = {}
        expectations: list[Expected] = []
        event_lines: dict[int, str] = {}
        leads: dict[str, int] = {}
        for lead in block.leads:
            if lead.name.text in leads:
                self.report(
                    "SLA953",
                    f"lead `{lead.name.text}` has a second block in this scenario (the first is "
                    f"on line {leads[lead.name.text]})",
                    lead.name.span,
                    "put all of one lead's events and expectations in one `lead` block",
                )
                continue
            leads[lead.name.text] = lead.line
            for line in lead.events:
                event = self.event(line, lead.name.text, len(events), values)
                if event is None:
                    continue
                if as_of is not None and event.time > as_of:
                    self.report(
                        "SLA952",
                        "this event is after the scenario's `as of` time, so it would not be "
                        "replayed",
                        line.when.span,
                        "move `as of` later, or remove the event",
                    )
                    continue
                events.append(event)
                text = self.test.source.text[line.when.span.end : line.span.end]
                event_lines[line.line] = text.strip()
            mine: list[Expected] = []
            for expectation in lead.expectations:
                expected = self.expectation(expectation, lead.name.text)
                if expected is not None:
                    mine.append(expected)
            self.consistent(lead, mine)
            expectations.extend(mine)
        for attainment in block.attainments:
            expected = self.attainment(attainment)
            if expected is not None:
                expectations.append(expected)
        if events:
            self.values_fit(events, as_of, values)
        return Scenario(
            block.name,
            self.file,
            block.line,
            self.zone.key,
            as_of,
            tuple(leads.items()),
            tuple(events),
            tuple(expectations),
            MappingProxyType(event_lines),
        )

    def consistent(self, lead: LeadBlock, expectations: Sequence[Expected]) -> None:
        """`expect no violations` and `expect violation ...` cannot both hold."""
        none = [e for e in expectations if isinstance(e.claim, NoViolations)]
        some = [e for e in expectations if isinstance(e.claim, ViolationIs)]
        if none and some:
            node = next(x for x in lead.expectations if x.line == none[0].line)
            self.report(
                "SLA952",
                f"lead `{lead.name.text}` is expected to have no violations, but line "
                f"{some[0].line} expects one",
                node.span,
                "keep `expect no violations` only for a lead that breaks no rule",
            )

    def values_fit(
        self, events: list[Event], as_of: int | None, values: Mapping[tuple[int, str], Token]
    ) -> None:
        """Attribute values the replay would reject, reported at the value as written."""
        prepared = prepare(self.agreement, events, as_of)
        for rejection in prepared.rejections:
            token = values.get((rejection.row or 0, rejection.column or ""))
            assert token is not None, rejection  # names and stages were checked before
            self.report(
                "SLA952",
                rejection.message,
                token.span,
                rejection.help or "write a value of the field's type",
            )

    def event(
        self, line: EventLine, lead: str, seq: int, values: dict[tuple[int, str], Token]
    ) -> Event | None:
        time = self.instant(line.when)
        kind: EventKind
        value: str | None = None
        ok = time is not None
        match line.action:
            case "enters":
                kind = EventKind.STAGE
                assert line.subject is not None
                ok = self.stage(line.subject) is not None and ok
                value = line.subject.text
            case "activity":
                kind = EventKind.ACTIVITY
                assert line.subject is not None
                value = line.subject.text
                if value not in self.agreement.activities:
                    pool = [*self.agreement.activities, *_EVENT_WORDS]
                    self.report(
                        "SLA951",
                        f"`{value}` is not an activity type of the agreement",
                        line.subject.span,
                        did_you_mean(value, pool)
                        or "an event is `enters STAGE`, `set`, `clear`, `assigned to`, or an "
                        f"activity: {', '.join(self.agreement.activities)}",
                    )
                    ok = False
            case "set" | "clear":
                kind = EventKind.UPDATE
            case "assigned":
                kind = EventKind.ASSIGN
                assert line.subject is not None
                value = line.subject.text
            case _:
                assert_never(line.action)
        actor: str | None = None
        team: str | None = None
        if line.by is not None:
            who = self.who(line.by)
            if who is None:
                ok = False
            else:
                actor, team = who
        cells: dict[str, str | None] = {}
        for attribute in line.attributes:
            name = attribute.name.text
            field_type = self.agreement.fields.get(name)
            if field_type is None:
                self.undefined("a field", attribute.name, self.agreement.fields, "the fields are")
                ok = False
                continue
            if name in cells:
                self.report(
                    "SLA950",
                    f"`{name}` is given twice on one line",
                    attribute.name.span,
                    "give each field once per event",
                )
                ok = False
                continue
            cell = self.cell(attribute, field_type)
            if cell is False:
                ok = False
                continue
            cells[name] = cell
            if attribute.value is not None:
                values[(line.line, name)] = attribute.value
        if not ok or time is None:
            return None
        return Event(
            lead=lead,
            time=time,
            kind=kind,
            value=value,
            actor=actor,
            team=team,
            event_id=None,
            attributes=tuple(sorted(cells.items())),
            origin=Origin(self.file, line.line),
            seq=seq,
        )

    def cell(self, attribute: Attribute, field_type: n.FieldType) -> str | Literal[False] | None:
        """The log cell of an attribute value (None clears it); False after a diagnostic."""
        value = attribute.value
        if value is None:
            return None
        if field_type.kind != "datetime":
            return value.text
        # Written in the file's zone like every other time, so it is converted here.
        when = read_when(value.text, value.span)
        if not isinstance(when, When):
            problem, help_ = when
            name = attribute.name.text
            self.report(
                "SLA952",
                f"`{value.text}` for datetime field `{name}` {problem}",
                value.span,
                f'{help_}, e.g. `{name}=2026-03-02T09:30` or `{name}="{GOOD_TIME}"`',
            )
            return False
        instant = self.instant(when)
        if instant is None:
            return False
        return _moment(instant).isoformat()

    # ------------------------------------------------------------ expectations

    def expectation(self, node: Expectation, lead: str) -> Expected | None:
        before = len(self.diagnostics)
        claim: Claim | None = None
        match node:
            case ExpectStage():
                stage = self.stage(node.stage)
                if stage is not None:
                    claim = StageIs(stage)
            case ExpectPath():
                stages = [self.stage(token) for token in node.stages]
                if all(stage is not None for stage in stages):
                    claim = PathIs(tuple(s for s in stages if s is not None))
            case ExpectNoViolations():
                claim = NoViolations()
            case ExpectViolation():
                claim = self.violation(node)
            case ExpectCycle():
                claim = self.cycle(node)
            case _:
                assert_never(node)
        if claim is None or len(self.diagnostics) != before:
            return None
        return Expected(claim, lead, node.line, describe(claim, self.zone))

    def violation(self, node: ExpectViolation) -> ViolationIs | None:
        kind = _KINDS[node.kind.text]
        rule: str | None = None
        agreement = self.agreement
        if node.rule:
            first = node.rule[0]
            if kind in (ViolationKind.CRITERIA_UNMET, ViolationKind.ILLEGAL_TRANSITION):
                if len(node.rule) != 2:
                    self.report(
                        "SLA950",
                        f"a {kind.value} violation names a move between two stages",
                        first.span,
                        f"write e.g. `expect violation {kind.value} inquiry -> mql`",
                    )
                    return None
                source, target = self.stage(node.rule[0]), self.stage(node.rule[1])
                if source is None or target is None:
                    return None
                declared = (source, target) in agreement.handoffs
                span = node.rule[0].span.cover(node.rule[1].span)
                if kind is ViolationKind.CRITERIA_UNMET and not declared:
                    self.report(
                        "SLA951",
                        f"the agreement has no handoff {source} -> {target}",
                        span,
                        "criteria belong to a declared handoff; a move without one is "
                        "`illegal_transition`",
                    )
                    return None
                if kind is ViolationKind.ILLEGAL_TRANSITION and declared:
                    self.report(
                        "SLA952",
                        f"{source} -> {target} is a handoff of the agreement, so moving along "
                        "it is never illegal",
                        span,
                        "a move along a handoff whose criteria fail is `criteria_unmet`",
                    )
                    return None
                rule = f"{source} -> {target}"
            else:
                if len(node.rule) != 1:
                    self.report(
                        "SLA950",
                        f"a {kind.value} violation names one rule, not a move",
                        first.span,
                        f"write e.g. `expect violation {kind.value} {first.text}`",
                    )
                    return None
                if kind in (ViolationKind.STALL, ViolationKind.INVALID_ENTRY):
                    rule = self.stage(first)
                elif kind is ViolationKind.CLOCK_BREACHED:
                    rule = self.named(first, agreement.clocks, "a clock")
                else:
                    rule = self.named(first, agreement.cadences, "a cadence")
                if rule is None:
                    return None
        at = self.instant(node.at) if node.at is not None else None
        team = self.team(node.team) if node.team is not None else None
        if (node.at is not None and at is None) or (node.team is not None and team is None):
            return None
        return ViolationIs(kind, rule, at, team)

    def named(self, token: Token, pool: Mapping[str, object], what: str) -> str | None:
        if token.text in pool:
            return token.text
        self.undefined(what, token, pool, f"the {what.split()[-1]}s are")
        return None

    def cycle(self, node: ExpectCycle) -> CycleIs | None:
        rule = self.rule(node.rule)
        if rule is None:
            return None
        kind = self.rules[rule]
        if node.goal is not None:
            goals = (
                [goal.length.text for goal in self.agreement.clocks[rule].goals]
                if kind == "clock"
                else [self.agreement.cadences[rule].within.text]
            )
            text, span = node.goal
            if text not in goals:
                self.report(
                    "SLA952",
                    f"{rule} has no goal of {text}",
                    span,
                    f"its goals are: {', '.join(goals)}",
                )
        if node.count is not None and kind != "cadence":
            self.report(
                "SLA952",
                f"{rule} is a clock; only a cadence counts activities",
                node.rule.span,
                "remove `count`, or name a cadence",
            )
        if node.at_risk is not None and node.outcome != "pending":
            self.report(
                "SLA952",
                f"only a pending cycle can be at risk, and this one is expected {node.outcome}",
                node.span,
                "remove `at risk`, or expect the cycle pending",
            )
        if node.at_risk is not None and kind == "cadence":
            self.report(
                "SLA952",
                f"{rule} is a cadence; only clocks warn that they are at risk",
                node.rule.span,
                "remove `at risk`",
            )
        due = self.instant(node.due) if node.due is not None else None
        ended = self.instant(node.ended) if node.ended is not None else None
        team = self.team(node.team) if node.team is not None else None
        return CycleIs(
            rule,
            node.cycle,
            node.outcome,
            due,
            node.no_due,
            ended,
            node.goal[0] if node.goal is not None else None,
            node.at_risk,
            team,
            node.count,
        )

    def attainment(self, node: ExpectAttainment) -> Expected | None:
        rule = self.rule(node.rule)
        if rule is None:
            return None
        claim = AttainmentIs(rule, node.met, node.judged, node.percent)
        return Expected(claim, None, node.line, describe(claim, self.zone))


def check(
    test: TestFile, agreement: Agreement
) -> tuple[tuple[Scenario, ...], tuple[Diagnostic, ...]]:
    """Resolve a parsed test file against its compiled agreement: scenarios and diagnostics."""
    zone_name = test.timezone.text if test.timezone is not None else agreement.timezone
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        assert test.timezone is not None  # the agreement's own zone passed its checks
        diagnostic = Diagnostic(
            "SLA952",
            f"`{zone_name}` is not a time zone",
            test.source.name,
            test.timezone.span,
            'give an IANA zone name such as "Australia/Sydney", or leave the line out to use '
            "the agreement's",
        )
        return (), (diagnostic,)
    checker = _Checker(test, agreement, zone)
    scenarios = checker.scenarios()
    return scenarios, tuple(sorted(checker.diagnostics, key=sort_key))


def suite(test: TestFile, agreement: Checked | Diagnostic) -> Suite:
    """A parsed test file with its agreement checked (or the reason it could not be read):
    the scenarios checked against it, or every reason the file cannot run."""
    path = agreement_path(test)
    source = test.source
    sources: dict[str, Source] = {source.name: source}
    diagnostics: list[Diagnostic] = list(test.diagnostics)
    if isinstance(agreement, Diagnostic):
        diagnostics.append(_unusable(test, path, f"cannot read it: {agreement.message}"))
        return Suite(source.name, path, None, (), _sorted(diagnostics), _frozen(sources))
    for parsed in agreement.program.files:
        sources[parsed.source.name] = parsed.source
    if agreement.agreement is None:
        errors = agreement.errors
        diagnostics.append(_unusable(test, path, f"it has {_count(len(errors), 'error')}"))
        diagnostics.extend(errors)
        return Suite(source.name, path, None, (), _sorted(diagnostics), _frozen(sources))
    if test.diagnostics:
        return Suite(
            source.name, path, agreement.agreement, (), _sorted(diagnostics), _frozen(sources)
        )
    scenarios, found = check(test, agreement.agreement)
    diagnostics.extend(found)
    return Suite(
        source.name, path, agreement.agreement, scenarios, _sorted(diagnostics), _frozen(sources)
    )


def load(source: Source, read: Reader, today: dt.date) -> Suite:
    """A test file from its text, with its agreement read through `read` and checked as of
    `today` (the way `lint` checks it)."""
    test = parse(source)
    root = read(agreement_path(test))
    checked = root if isinstance(root, Diagnostic) else check_agreement(root, read, today)
    return suite(test, checked)


def _unusable(test: TestFile, path: str, why: str) -> Diagnostic:
    span = test.agreement.span if test.agreement is not None else Span(0, 0)
    help_ = (
        "fix the agreement (see `slaspec lint`), or correct the `agreement` line"
        if test.agreement is not None
        else f'fix the agreement (see `slaspec lint`), or name it: `agreement "{path}"`'
    )
    return Diagnostic(
        "SLA954", f"agreement `{path}` cannot be tested: {why}", test.source.name, span, help_
    )


def _frozen(sources: dict[str, Source]) -> Mapping[str, Source]:
    return MappingProxyType(sources)


def _sorted(diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    return tuple(sorted(set(diagnostics), key=sort_key))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def select(scenarios: Sequence[Scenario], patterns: Sequence[str]) -> tuple[Scenario, ...]:
    """The scenarios whose name matches one of the glob patterns (all, without patterns).

    Matching ignores case: `--run '*breach*'` finds "First touch breached".
    """
    if not patterns:
        return tuple(scenarios)
    lowered = [pattern.lower() for pattern in patterns]
    return tuple(
        s for s in scenarios if any(fnmatch.fnmatchcase(s.name.lower(), p) for p in lowered)
    )


# ---------------------------------------------------------------- running


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One expectation after the replay: what was expected, what happened, and whether they
    agree. `tested` names a (rule, outcome) the expectation asserted and the replay produced."""

    line: int
    lead: str | None
    expected: str
    actual: str
    passed: bool
    tested: tuple[str, str] | None = None
    about: tuple[str, ...] = ()  # the leads whose timelines explain it


@dataclass(frozen=True, slots=True)
class LeadRun:
    """One lead of a scenario, replayed, with its timeline."""

    lead: str
    line: int
    result: LeadResult
    trace: tuple[TraceEntry, ...]


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """A scenario after its replay: every lead's result and every expectation checked."""

    scenario: Scenario
    as_of: int
    leads: tuple[LeadRun, ...]
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True when every expectation held."""
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The expectations that did not hold, in file order."""
        return tuple(check for check in self.checks if not check.passed)


def run_scenario(scenario: Scenario, engine: Engine) -> ScenarioResult:
    """Replay a scenario's leads and check every expectation."""
    agreement = engine.agreement
    prepared = prepare(agreement, scenario.events, scenario.as_of)
    assert not prepared.rejections, prepared.rejections  # `check` rejected these already
    zone = ZoneInfo(scenario.zone)
    runs: list[LeadRun] = []
    for lead, line in scenario.leads:
        rows = prepared.leads.get(lead, ())
        trace: list[TraceEntry] = []
        result = engine.replay_lead(lead, rows, prepared.as_of, trace)
        runs.append(LeadRun(lead, line, result, tuple(trace)))
    by_lead = {run.lead: run.result for run in runs}
    checks: list[CheckResult] = []
    for lead, _ in scenario.leads:
        mine = [e for e in scenario.expectations if e.lead == lead]
        found = _check_lead(by_lead[lead], mine, zone)
        checks.extend(dataclasses.replace(check, about=(lead,)) for check in found)
    cycles = [cycle for run in runs for cycle in run.result.cycles]
    for expected in scenario.expectations:
        if isinstance(expected.claim, AttainmentIs):
            check = _check_attainment(expected, expected.claim, cycles)
            rule = expected.claim.rule
            about = tuple(
                run.lead for run in runs if any(c.rule == rule for c in run.result.cycles)
            )
            checks.append(dataclasses.replace(check, about=about or tuple(by_lead)))
    checks.sort(key=lambda check: check.line)
    return ScenarioResult(scenario, prepared.as_of, tuple(runs), tuple(checks))


def run(suite: Suite, patterns: Sequence[str] = ()) -> tuple[ScenarioResult, ...]:
    """Run the suite's scenarios (those matching the patterns, when given)."""
    if suite.agreement is None or not suite.runnable:
        return ()
    engine = Engine(suite.agreement)
    return tuple(run_scenario(s, engine) for s in select(suite.scenarios, patterns))


def _check_lead(
    result: LeadResult, expectations: Sequence[Expected], zone: ZoneInfo
) -> list[CheckResult]:
    checks: list[CheckResult] = []
    violation_claims: list[Expected] = []
    exact: int | None = None  # the line that makes the lead's violations exact
    for expected in expectations:
        claim = expected.claim
        match claim:
            case StageIs():
                actual = f"stage {result.final_stage}" if result.final_stage else "no stage"
                checks.append(
                    CheckResult(
                        expected.line,
                        result.lead,
                        expected.text,
                        actual,
                        result.final_stage == claim.stage,
                    )
                )
            case PathIs():
                path = tuple(stay.stage for stay in result.stays)
                actual = "path " + " -> ".join(path) if path else "no stage"
                checks.append(
                    CheckResult(
                        expected.line, result.lead, expected.text, actual, path == claim.stages
                    )
                )
            case CycleIs():
                checks.append(_check_cycle(result, expected, claim, zone))
            case ViolationIs():
                violation_claims.append(expected)
                exact = max(exact or 0, expected.line)
            case NoViolations():
                exact = expected.line
            case AttainmentIs():
                raise AssertionError("attainment is checked for the whole scenario")
            case _:
                assert_never(claim)
    if exact is not None:
        checks.extend(_check_violations(result, violation_claims, exact, zone))
    return checks


def _select_cycle(
    result: LeadResult, claim: CycleIs
) -> tuple[Cycle | None, str | None, list[Cycle]]:
    """The cycle an expectation is about, or why there is none to compare."""
    cycles = sorted((c for c in result.cycles if c.rule == claim.rule), key=lambda c: c.index)
    if claim.cycle is not None:
        chosen = [c for c in cycles if c.index == claim.cycle]
        if chosen:
            return chosen[0], None, cycles
        return None, f"{claim.rule} cycle {claim.cycle} not started", cycles
    if not cycles:
        return None, f"{claim.rule} not started", cycles
    if len(cycles) > 1:
        runs = ", ".join(f"cycle {c.index} {c.outcome.value}" for c in cycles)
        return None, f"{claim.rule} ran {len(cycles)} cycles ({runs}); say which one", cycles
    return cycles[0], None, cycles


def _check_cycle(
    result: LeadResult, expected: Expected, claim: CycleIs, zone: ZoneInfo
) -> CheckResult:
    cycle, absent, cycles = _select_cycle(result, claim)
    if claim.outcome == "not started":
        if claim.cycle is None and cycles:
            return CheckResult(
                expected.line, result.lead, expected.text, _cycles_text(claim.rule, cycles), False
            )
        if cycle is not None:
            actual = describe_cycle(cycle, claim, zone)
            return CheckResult(expected.line, result.lead, expected.text, actual, False)
        assert absent is not None
        return CheckResult(expected.line, result.lead, expected.text, absent, True)
    if cycle is None:
        assert absent is not None
        return CheckResult(expected.line, result.lead, expected.text, absent, False)
    actual = describe_cycle(cycle, claim, zone)
    outcome_held = cycle.outcome.value == claim.outcome
    tested = (claim.rule, claim.outcome) if outcome_held else None
    return CheckResult(
        expected.line, result.lead, expected.text, actual, actual == expected.text, tested
    )


def _cycles_text(rule: str, cycles: Sequence[Cycle]) -> str:
    runs = ", ".join(f"cycle {c.index} {c.outcome.value}" for c in cycles)
    return f"{rule} started ({runs})"


def _check_violations(
    result: LeadResult, claims: Sequence[Expected], line: int, zone: ZoneInfo
) -> list[CheckResult]:
    """Each expected violation matched to its own actual one; the rest must not exist."""
    actual = list(result.violations)
    wanted = [expected.claim for expected in claims]
    assert all(isinstance(claim, ViolationIs) for claim in wanted)
    pairs = _match(
        [claim for claim in wanted if isinstance(claim, ViolationIs)],
        actual,
    )
    checks: list[CheckResult] = []
    used = set(pairs.values())
    leftover = [v for index, v in enumerate(actual) if index not in used]
    for number, expected in enumerate(claims):
        index = pairs.get(number)
        if index is not None:
            claim = expected.claim
            assert isinstance(claim, ViolationIs)
            shown = describe_violation(actual[index], claim, zone)
            checks.append(CheckResult(expected.line, result.lead, expected.text, shown, True))
        else:
            others = "; ".join(describe_violation(v, None, zone) for v in leftover)
            checks.append(
                CheckResult(
                    expected.line, result.lead, expected.text, others or "no violations", False
                )
            )
    wanted_text = "no violations" if not claims else "no other violations"
    shown = "; ".join(describe_violation(v, None, zone) for v in leftover)
    checks.append(CheckResult(line, result.lead, wanted_text, shown or wanted_text, not leftover))
    return checks


def _match(claims: Sequence[ViolationIs], actual: Sequence[Violation]) -> dict[int, int]:
    """A largest matching of expected to actual violations (claim index -> violation index),
    so that a broad expectation cannot take the violation a narrower one needs."""
    fits = [[i for i, v in enumerate(actual) if _fits(claim, v)] for claim in claims]
    owner: dict[int, int] = {}

    def place(claim: int, seen: set[int]) -> bool:
        for index in fits[claim]:
            if index in seen:
                continue
            seen.add(index)
            if index not in owner or place(owner[index], seen):
                owner[index] = claim
                return True
        return False

    for claim in range(len(claims)):
        place(claim, set())
    return {claim: index for index, claim in owner.items()}


def _fits(claim: ViolationIs, violation: Violation) -> bool:
    return (
        violation.kind is claim.kind
        and (claim.rule is None or violation.rule == claim.rule)
        and (claim.at is None or violation.at == claim.at)
        and (claim.team is None or violation.responsible == claim.team)
    )


def _check_attainment(
    expected: Expected, claim: AttainmentIs, cycles: Sequence[Cycle]
) -> CheckResult:
    mine = [c for c in cycles if c.rule == claim.rule]
    met = sum(1 for c in mine if c.outcome is Outcome.MET)
    judged = met + sum(1 for c in mine if c.outcome is Outcome.BREACHED)
    if claim.percent is not None:
        passed = judged > 0 and Decimal(met) * 100 == claim.percent * judged
    elif claim.met is not None:
        passed = (met, judged) == (claim.met, claim.judged)
    else:
        passed = judged == 0
    if judged:
        actual = f"attainment {claim.rule} {met} of {judged} ({_percent(met, judged)})"
    else:
        actual = f"attainment {claim.rule} none (no cycle met or breached)"
    return CheckResult(expected.line, None, expected.text, actual, passed)


def _percent(part: int, whole: int) -> str:
    value = (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.01"))
    text = format(value.normalize(), "f")
    return f"{text}%"


# ---------------------------------------------------------------- words


def show_time(micros: int, zone: ZoneInfo) -> str:
    """An instant as scenario files write it: `Mon 2026-03-02 09:30`, with seconds when it has
    them, and with its offset when the wall time happens twice (a daylight-saving fold)."""
    moment = _moment(micros).astimezone(zone)
    text = moment.strftime("%a %Y-%m-%d %H:%M")
    if moment.second or moment.microsecond:
        text += f":{moment.second:02d}"
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    naive = moment.replace(tzinfo=None)
    other = naive.replace(tzinfo=zone, fold=1 - moment.fold)
    if other.utcoffset() != moment.utcoffset():
        offset = moment.utcoffset()
        assert offset is not None
        text += " " + _offset_text(offset)
    return text


def describe(claim: Claim, zone: ZoneInfo) -> str:
    """An expectation in canonical words."""
    match claim:
        case StageIs():
            return f"stage {claim.stage}"
        case PathIs():
            return "path " + " -> ".join(claim.stages)
        case NoViolations():
            return "no violations"
        case ViolationIs():
            parts = [f"violation {claim.kind.value}" + (f" {claim.rule}" if claim.rule else "")]
            if claim.at is not None:
                parts.append(f"at {show_time(claim.at, zone)}")
            if claim.team is not None:
                parts.append(f"team {claim.team}")
            return ", ".join(parts)
        case CycleIs():
            head = claim.rule + (f" cycle {claim.cycle}" if claim.cycle is not None else "")
            parts = [f"{head} {claim.outcome}"]
            if claim.no_due:
                parts.append("due none")
            elif claim.due is not None:
                parts.append(f"due {show_time(claim.due, zone)}")
            if claim.ended is not None:
                parts.append(f"ended {show_time(claim.ended, zone)}")
            if claim.goal is not None:
                parts.append(f"goal {claim.goal}")
            if claim.at_risk is not None:
                parts.append("at risk" if claim.at_risk else "not at risk")
            if claim.team is not None:
                parts.append(f"team {claim.team}")
            if claim.count is not None:
                parts.append(f"count {claim.count}")
            return ", ".join(parts)
        case AttainmentIs():
            if claim.percent is not None:
                value = f"{format(claim.percent.normalize(), 'f')}%"
            elif claim.met is not None:
                value = f"{claim.met} of {claim.judged}"
            else:
                value = "none"
            return f"attainment {claim.rule} {value}"
        case _:
            assert_never(claim)


def describe_cycle(cycle: Cycle, claim: CycleIs, zone: ZoneInfo) -> str:
    """A cycle in the words of the expectation about it: the same details, actual values."""
    head = claim.rule + (f" cycle {claim.cycle}" if claim.cycle is not None else "")
    parts = [f"{head} {cycle.outcome.value}"]
    if claim.no_due or claim.due is not None:
        parts.append("due " + (show_time(cycle.due, zone) if cycle.due is not None else "none"))
    if claim.ended is not None:
        ended = show_time(cycle.ended, zone) if cycle.ended is not None else "not yet"
        parts.append(f"ended {ended}")
    if claim.goal is not None:
        parts.append(f"goal {cycle.goal_text}")
    if claim.at_risk is not None:
        parts.append("at risk" if cycle.at_risk else "not at risk")
    if claim.team is not None:
        parts.append(f"team {cycle.responsible or '(none)'}")
    if claim.count is not None:
        parts.append(f"count {cycle.count}")
    return ", ".join(parts)


def describe_violation(violation: Violation, claim: ViolationIs | None, zone: ZoneInfo) -> str:
    """A violation in the words of the expectation about it (all details, and its message,
    when no expectation matched it)."""
    parts = [f"violation {violation.kind.value} {violation.rule}"]
    if claim is None or claim.at is not None:
        parts.append(f"at {show_time(violation.at, zone)}")
    if claim is None or claim.team is not None:
        parts.append(f"team {violation.responsible or '(none)'}")
    text = ", ".join(parts)
    return text if claim is not None else f"{text} ({violation.message})"


def _moment(micros: int) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=micros)


def _micros(moment: dt.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _wall_text(naive: dt.datetime) -> str:
    return naive.strftime("%a %Y-%m-%d %H:%M")


def _offset_text(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


# ---------------------------------------------------------------- coverage

CATEGORIES = ("stages", "handoffs", "criteria", "clocks", "tiers", "targets")


@dataclass(frozen=True, slots=True)
class CoverageItem:
    """One thing a test could exercise, and whether one did (else what is missing)."""

    category: str
    name: str
    covered: bool
    missing: str


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the scenarios of one agreement exercised, item by item."""

    agreement: str
    items: tuple[CoverageItem, ...]

    @property
    def covered(self) -> int:
        """How many items were exercised."""
        return sum(1 for item in self.items if item.covered)

    @property
    def total(self) -> int:
        """How many items there are."""
        return len(self.items)

    @property
    def percent(self) -> Decimal:
        """Covered items as a percentage (100 when there is nothing to cover)."""
        if not self.items:
            return Decimal(100)
        return Decimal(self.covered) * 100 / Decimal(self.total)

    def category(self, name: str) -> tuple[CoverageItem, ...]:
        """The items of one category, in the agreement's order."""
        return tuple(item for item in self.items if item.category == name)


def coverage(agreement: Agreement, path: str, results: Iterable[ScenarioResult]) -> Coverage:
    """Which stages, handoffs, criteria, clocks and cadences, goal tiers and targets the
    scenarios exercised.

    A stage counts once a lead entered it; a handoff once a lead moved along it; a handoff's
    criteria once they were seen both met and unmet; a clock or cadence once an expectation
    asserted each of its met and breached outcomes and the replay agreed; a goal tier once a
    cycle chose it; a target once a lead fed its measure.
    """
    leads: list[LeadResult] = []
    tested: set[tuple[str, str]] = set()
    for result in results:
        leads.extend(run.result for run in result.leads)
        tested.update(check.tested for check in result.checks if check.tested is not None)
    entered: set[str] = set()
    taken: set[tuple[str, str]] = set()
    met: set[tuple[str, str]] = set()
    unmet: set[tuple[str, str]] = set()
    tiers: set[tuple[str, int]] = set()
    for lead in leads:
        entered.update(stay.stage for stay in lead.stays)
        for key, row in _moves(lead.stays):
            if key not in agreement.handoffs:
                continue
            taken.add(key)
            rule = f"{key[0]} -> {key[1]}"
            failed = any(
                v.kind is ViolationKind.CRITERIA_UNMET and v.rule == rule and v.rows[:1] == (row,)
                for v in lead.violations
            )
            (unmet if failed else met).add(key)
        tiers.update((c.rule, c.tier) for c in lead.cycles if c.kind == "clock")
    items: list[CoverageItem] = []
    for name in agreement.stages:
        items.append(CoverageItem("stages", name, name in entered, "never entered"))
    for key in agreement.handoffs:
        label = f"{key[0]} -> {key[1]}"
        items.append(CoverageItem("handoffs", label, key in taken, "never taken"))
    for key, handoff in agreement.handoffs.items():
        if not (handoff.criteria or handoff.required):
            continue
        label = f"{key[0]} -> {key[1]}"
        missing = [word for word, seen in (("met", met), ("unmet", unmet)) if key not in seen]
        items.append(
            CoverageItem("criteria", label, not missing, " and ".join(missing) + " never seen")
        )
    for name in [*agreement.clocks, *agreement.cadences]:
        missing = [word for word in ("met", "breached") if (name, word) not in tested]
        items.append(
            CoverageItem("clocks", name, not missing, " and ".join(missing) + " never tested")
        )
    for name, clock in agreement.clocks.items():
        for tier, goal in enumerate(clock.goals):
            label = f"{name} goal {goal.length.text}"
            items.append(CoverageItem("tiers", label, (name, tier) in tiers, "never chosen"))
    for name, target in agreement.targets.items():
        items.append(
            CoverageItem("targets", name, _target_fed(agreement, target, leads), "never fed")
        )
    return Coverage(path, tuple(items))


def _moves(stays: Sequence[Stay]) -> Iterable[tuple[tuple[str, str], Origin]]:
    """Each move between stages: (source, target) and the row of the stage change."""
    for before, after in itertools.pairwise(stays):
        if before.next_stage == after.stage:
            yield (before.stage, after.stage), after.row


def _target_fed(agreement: Agreement, target: Target, leads: Sequence[LeadResult]) -> bool:
    measure = target.measure
    within = target.within
    calendar = BusinessCalendar(agreement.calendars[within.calendar]) if within else None

    def limit(start: int, end: int) -> bool:
        if end < start:
            return False
        return within is None or calendar is None or calendar.elapsed(start, end) <= within.micros

    match measure:
        case n.Volume():
            stage = measure.stage.text
            return any(stay.stage == stage for lead in leads for stay in lead.stays)
        case n.Conversion():
            source, goal = measure.source.text, measure.target.text
            return any(
                limit(first.entered, later.entered)
                for lead in leads
                for first in lead.stays
                if first.stage == source
                for later in lead.stays
                if later.stage == goal and later.entered > first.entered
            )
        case n.Attainment():
            rule = measure.clock.text
            return any(
                c.rule == rule and c.outcome in (Outcome.MET, Outcome.BREACHED)
                for lead in leads
                for c in lead.cycles
            )
        case n.Worked():
            stage = measure.stage.text
            by = measure.by
            team = agreement.stages[stage].owner if isinstance(by, n.ByOwner) else by.team.text
            return team is not None and any(
                activity.team == team and limit(stay.entered, activity.time)
                for lead in leads
                for stay in lead.stays
                if stay.stage == stage
                for activity in lead.activities
            )
        case _:
            assert_never(measure)


# ---------------------------------------------------------------- a whole run


@dataclass(frozen=True, slots=True)
class SuiteRun:
    """A test file after the run: the suite (with its diagnostics) and its scenario results."""

    suite: Suite
    results: tuple[ScenarioResult, ...]

    @property
    def failed(self) -> int:
        """How many of its scenarios failed."""
        return sum(1 for result in self.results if not result.passed)


@dataclass(frozen=True, slots=True)
class TestRun:
    """Everything `slaspec test` ran: each file, coverage per agreement, problems with paths."""

    suites: tuple[SuiteRun, ...]
    coverage: tuple[Coverage, ...] | None = None
    threshold: Decimal | None = None
    problems: tuple[Diagnostic, ...] = ()

    @property
    def scenarios(self) -> int:
        """How many scenarios ran."""
        return sum(len(run.results) for run in self.suites)

    @property
    def failed(self) -> int:
        """How many scenarios failed."""
        return sum(run.failed for run in self.suites)

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        """Every diagnostic: problems with paths, then each file's."""
        found = [*self.problems]
        for run in self.suites:
            found.extend(run.suite.diagnostics)
        return tuple(found)

    @property
    def could_not_run(self) -> bool:
        """True when a path, a test file or an agreement had errors."""
        return bool(self.problems) or any(not run.suite.runnable for run in self.suites)

    @property
    def below_threshold(self) -> tuple[Coverage, ...]:
        """The agreements whose coverage is below the threshold."""
        if self.threshold is None or self.coverage is None:
            return ()
        return tuple(c for c in self.coverage if c.percent < self.threshold)

    @property
    def exit_code(self) -> int:
        """0 all passed, 1 a scenario failed or coverage is below the threshold, 2 could not run."""
        if self.could_not_run:
            return 2
        if self.failed or self.below_threshold:
            return 1
        return 0


def run_all(
    suites: Sequence[Suite],
    patterns: Sequence[str] = (),
    with_coverage: bool = False,
    threshold: Decimal | None = None,
    problems: Sequence[Diagnostic] = (),
) -> TestRun:
    """Run every suite and, when asked, measure coverage per agreement (in path order)."""
    runs = tuple(SuiteRun(suite, run(suite, patterns)) for suite in suites)
    report: tuple[Coverage, ...] | None = None
    if with_coverage or threshold is not None:
        agreements: dict[str, Agreement] = {}
        results: dict[str, list[ScenarioResult]] = {}
        for item in runs:
            if item.suite.agreement is None or not item.suite.runnable:
                continue
            agreements[item.suite.agreement_path] = item.suite.agreement
            results.setdefault(item.suite.agreement_path, []).extend(item.results)
        report = tuple(
            coverage(agreements[path], path, results[path]) for path in sorted(agreements)
        )
    return TestRun(runs, report, threshold, tuple(problems))
