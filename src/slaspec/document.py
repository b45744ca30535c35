"""The agreement document: a compiled Agreement -> Markdown or HTML for the people who sign it.

Everything is phrased in plain English from the compiled agreement: criteria, triggers, goal
tiers, pauses, cadences and targets become sentences, never the agreement language's syntax.
Both formats are written from one outline (`outline`), so they say the same things. Agreement
text is escaped for its format; the output depends only on the agreement, the year whose
public holidays are listed and the wording taken from the source (calendar titles, field
descriptions), so the same input gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import assert_never

from slaspec import calendar as cal
from slaspec import nodes as n
from slaspec.compiler import Agreement, Cadence, Clock, Handoff, Length, Stage, Target
from slaspec.loader import Program
from slaspec.semantics import ALWAYS

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_OWNER_TEAM = "the team that owns the lead's stage"
_DASH = "\u2014"
_ARROW = "\u2192"
_EN_DASH = "\u2013"


# ---------------------------------------------------------------- wording from the source


@dataclass(frozen=True, slots=True)
class Wording:
    """Words the compiled agreement does not keep: calendar titles and field descriptions."""

    calendar_titles: Mapping[str, str] = field(default_factory=dict)
    field_descriptions: Mapping[str, str] = field(default_factory=dict)


def wording_of(program: Program) -> Wording:
    """The calendar titles and field descriptions declared in a program's files."""
    titles: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    for parsed in program.files:
        if parsed.document is None:
            continue
        for declaration in parsed.document.declarations:
            if isinstance(declaration, n.Calendar) and declaration.title is not None:
                titles.setdefault(declaration.name.text, declaration.title.value)
            elif isinstance(declaration, n.Field) and declaration.description is not None:
                descriptions.setdefault(declaration.name.text, declaration.description.value)
    return Wording(titles, descriptions)


# ---------------------------------------------------------------- small words


def humanize(name: str) -> str:
    """A declared name as words: first_touch -> First touch."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else name


def words(name: str) -> str:
    """A field or activity name inside a sentence: last_engaged -> last engaged."""
    return name.replace("_", " ")


def series(items: Sequence[str], conjunction: str) -> str:
    """`a`, `a and b`, `a, b and c`; a comma before the conjunction once an item has its own."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    nested = any(_compound(item) for item in items)
    head = ", ".join(items[:-1])
    return f"{head}, {conjunction} {items[-1]}" if nested else f"{head} {conjunction} {items[-1]}"


def _compound(text: str) -> bool:
    return "," in text or " and " in text or " or " in text


def number(value: Decimal | int) -> str:
    """A number for people: 5,000 and 7.5, never 5E+3."""
    if isinstance(value, int):
        return f"{value:,}"
    return format(value.normalize(), ",f")


def percent(value: Decimal) -> str:
    """A percentage as written: 20%, 7.5%."""
    return f"{format(value.normalize(), 'f')}%"


def day_text(day: dt.date) -> str:
    """A date for people: 2 February 2026."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def _minute(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _window(window: tuple[int, int]) -> str:
    return f"{_minute(window[0])}{_EN_DASH}{_minute(window[1])}"


def _instant(moment: dt.datetime) -> str:
    clock = f"{moment.hour:02d}:{moment.minute:02d}"
    if moment.second:
        clock += f":{moment.second:02d}"
    offset = moment.utcoffset()
    zone = "UTC"
    if offset:
        total = int(offset.total_seconds()) // 60
        sign = "+" if total >= 0 else "-"
        zone = f"UTC{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
    return f"{day_text(moment.date())} at {clock} ({zone})"


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _plural(noun: str) -> str:
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _hours(seconds: int) -> str:
    """A clock-time length: 7.5 hours, 1 hour, 45 minutes."""
    if seconds % 3600 == 0 or (seconds * 100) % 3600 == 0:
        amount = Decimal(seconds) / 3600
        return f"{number(amount)} hour{'' if amount == 1 else 's'}"
    minutes = Decimal(seconds) / 60
    return f"{number(minutes)} minute{'' if minutes == 1 else 's'}"


# ---------------------------------------------------------------- phrasing


class Phrases:
    """Plain-English sentences for the parts of one agreement."""

    def __init__(self, agreement: Agreement, wording: Wording | None = None) -> None:
        self.agreement = agreement
        self.wording = wording if wording is not None else Wording()

    # -- names

    def stage(self, name: str) -> str:
        """A stage's display name."""
        found = self.agreement.stages.get(name)
        if found is None or found.title == name:
            return humanize(name)
        return found.title

    def stages(self, names: Sequence[str], conjunction: str = "or") -> str:
        """Several stages' display names in a series."""
        return series([self.stage(name) for name in names], conjunction)

    def team(self, name: str) -> str:
        """A team's display name."""
        title = self.agreement.teams.get(name, name)
        return humanize(name) if title == name else title

    def calendar(self, name: str) -> str:
        """A calendar as the object of `on`: Sydney office hours, the Office calendar."""
        if name == ALWAYS:
            return "wall-clock time, around the clock"
        title = self.wording.calendar_titles.get(name)
        return title if title is not None else f"the {humanize(name)} calendar"

    def calendar_title(self, name: str) -> str:
        """A calendar's heading."""
        if name == ALWAYS:
            return "Around the clock"
        return self.wording.calendar_titles.get(name, humanize(name))

    def rule(self, name: str) -> str:
        """A clock's or cadence's display name."""
        found: Clock | Cadence | None = self.agreement.clocks.get(name)
        if found is None:
            found = self.agreement.cadences.get(name)
        if found is None or found.title == name:
            return humanize(name)
        return found.title

    def _actor(self, actor: n.Actor | None) -> str:
        match actor:
            case None:
                return ""
            case n.ByOwner():
                return f" by {_OWNER_TEAM}"
            case n.ByTeam():
                return f" by {self.team(actor.team.text)}"
            case _:
                assert_never(actor)

    def _kinds(self, types: Sequence[n.Name] | Sequence[str]) -> list[str]:
        return [words(t.text if isinstance(t, n.Name) else t) for t in types]

    def activities(self, minimum: int, types: Sequence[n.Name] | Sequence[str]) -> str:
        """`6 calls`, `1 proposal`, `8 call, email or linkedin activities`."""
        kinds = self._kinds(types)
        if len(kinds) == 1:
            noun = kinds[0] if minimum == 1 else _plural(kinds[0])
            return f"{number(minimum)} {noun}"
        noun = "activity" if minimum == 1 else "activities"
        return f"{number(minimum)} {series(kinds, 'or')} {noun}"

    # -- criteria

    def criterion(self, expr: n.Expr, stage: str | None = None) -> str:
        """A condition in plain English; `stage` is the stage activity counts start from."""
        return self._expr(expr, stage, nested=False)

    def _expr(self, expr: n.Expr, stage: str | None, nested: bool) -> str:
        match expr:
            case n.And():
                parts = [self._expr(part, stage, True) for part in expr.parts]
                text = series(parts, "and")
                if not nested:
                    return text
                return f"both {text}" if len(parts) == 2 else f"all of {text}"
            case n.Or():
                parts = [self._expr(part, stage, True) for part in expr.parts]
                text = series(parts, "or")
                # "either" marks where the alternatives begin once one of them is compound.
                grouped = nested or any(isinstance(p, n.And | n.Or | n.Not) for p in expr.parts)
                return f"either {text}" if grouped else text
            case n.Not():
                return self._negated(expr.part, stage, nested)
            case _:
                return self._atom(expr, stage, negated=False)

    def _negated(self, expr: n.Expr, stage: str | None, nested: bool) -> str:
        match expr:
            case n.Not():
                return self._expr(expr.part, stage, nested)
            case n.And():
                parts = [self._expr(part, stage, True) for part in expr.parts]
                if len(parts) == 2:
                    return f"not both {series(parts, 'and')}"
                return f"not all of {series(parts, 'and')}"
            case n.Or():
                parts = [self._expr(part, stage, True) for part in expr.parts]
                if len(parts) == 2:
                    return f"neither {parts[0]} nor {parts[1]}"
                return f"none of {series(parts, 'or')}"
            case _:
                return self._atom(expr, stage, negated=True)

    def _atom(self, expr: n.Expr, stage: str | None, negated: bool) -> str:
        match expr:
            case n.Comparison():
                return self._comparison(expr, negated)
            case n.Membership():
                return self._membership(expr, negated)
            case n.Presence():
                present = expr.present != negated
                return f"{words(expr.field.text)} is {'' if present else 'not '}recorded"
            case n.Recent():
                span = self._within(expr.duration)
                name = words(expr.field.text)
                if negated:
                    return f"{name} is not recorded or is not within the past {span}"
                return f"{name} is within the past {span}"
            case n.ActivityCount():
                return self._count(expr, stage, negated)
            case n.And() | n.Or() | n.Not():
                raise AssertionError("compound expressions are phrased by _expr")
            case _:
                assert_never(expr)

    def _within(self, duration: n.Duration) -> str:
        amount = format(duration.amount.normalize(), "f")
        unit = duration.unit or duration.written
        if duration.amount == 1:
            unit = unit.removesuffix("s")
        text = f"{amount} {unit}"
        default = self.agreement.default_calendar
        if duration.business and default is not None and default != ALWAYS:
            text += f" of {self.calendar(default)}"
        return text

    def _kind(self, name: str) -> str:
        found = self.agreement.fields.get(name)
        return found.kind if found is not None else "string"

    def value(self, literal: n.Literal, field_name: str) -> str:
        """A value in a condition: 60, AUD 5,000, “CU”, yes, 31 March 2026."""
        value = literal.value
        match literal.kind:
            case "number":
                assert isinstance(value, Decimal)
                found = self.agreement.fields.get(field_name)
                if found is not None and found.currency is not None:
                    return f"{found.currency.text} {number(value)}"
                return number(value)
            case "boolean":
                return "yes" if value is True else "no"
            case "date":
                assert isinstance(value, dt.date)
                return day_text(value)
            case "datetime":
                assert isinstance(value, dt.datetime)
                return _instant(value)
            case "string" | "symbol":
                return f"\u201c{value}\u201d"
            case _:
                assert_never(literal.kind)

    def _comparison(self, expr: n.Comparison, negated: bool) -> str:
        name = words(expr.field.text)
        value = self.value(expr.value, expr.field.text)
        op: str = expr.op
        if negated:
            op = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}[op]
        kind = self._kind(expr.field.text)
        if kind in ("date", "datetime"):
            on = "on" if kind == "date" else "at"
            relation = {
                "=": f"is {on} {value}",
                "!=": f"is not {on} {value}",
                "<": f"is before {value}",
                "<=": f"is {on} or before {value}",
                ">": f"is after {value}",
                ">=": f"is {on} or after {value}",
            }[op]
        else:
            relation = {
                "=": f"is {value}",
                "!=": f"is not {value}",
                "<": f"is less than {value}",
                "<=": f"is {value} or less",
                ">": f"is more than {value}",
                ">=": f"is {value} or more",
            }[op]
        if negated:
            # A negated comparison also holds while the field has no value.
            return f"{name} is not recorded or {relation}"
        if op == "!=":
            # `!=` is false while the field has no value: say so.
            return f"{name} is recorded and {relation}"
        return f"{name} {relation}"

    def _membership(self, expr: n.Membership, negated: bool) -> str:
        name = words(expr.field.text)
        values = [self.value(v, expr.field.text) for v in expr.values]
        inside = expr.negated == negated
        if inside:
            if len(values) <= 2:
                relation = f"is {series(values, 'or')}"
            else:
                relation = f"is one of {series(values, 'or')}"
        elif len(values) == 1:
            relation = f"is not {values[0]}"
        elif len(values) == 2:
            relation = f"is neither {values[0]} nor {values[1]}"
        else:
            relation = f"is none of {series(values, 'or')}"
        if negated:
            return f"{name} is not recorded or {relation}"
        if expr.negated:
            return f"{name} is recorded and {relation}"
        return f"{name} {relation}"

    def _count(self, expr: n.ActivityCount, stage: str | None, negated: bool) -> str:
        by = self._actor(expr.by)
        if expr.since is not None:
            since = f"since the lead last entered {self.stage(expr.since.text)}"
        elif stage is not None:
            since = f"since the lead entered {self.stage(stage)}"
        else:
            since = "since the lead entered its current stage"
        if negated and expr.minimum == 1:
            kinds = series(self._kinds(expr.types), "or")
            return f"no {kinds}{by} has been logged {since}"
        things = self.activities(expr.minimum, expr.types)
        if negated:
            return f"fewer than {things}{by} have been logged {since}"
        verb = "has" if expr.minimum == 1 else "have"
        return f"at least {things}{by} {verb} been logged {since}"

    # -- triggers

    def _one_of(self, types: Sequence[n.Name]) -> str:
        kinds = series(self._kinds(types), "or")
        return f"{_article(kinds)} {kinds}"

    def event(self, trigger: n.Trigger) -> str:
        """A trigger as a clause after `when`: the lead enters Inquiry."""
        match trigger:
            case n.OnEnter():
                return f"the lead enters {self.stages([s.text for s in trigger.stages])}"
            case n.OnLeave():
                return f"the lead leaves {self.stages([s.text for s in trigger.stages])}"
            case n.OnHandoff():
                source, target = self.stage(trigger.source.text), self.stage(trigger.target.text)
                return f"the lead moves from {source} to {target}"
            case n.OnCreate():
                return "the lead is created in the CRM"
            case n.OnAssign():
                return "the lead is assigned to an owner"
            case n.OnActivity():
                return f"{self._one_of(trigger.types)}{self._actor(trigger.by)} is logged"
            case _:
                assert_never(trigger)

    def since(self, trigger: n.Trigger) -> str:
        """A trigger after `of`: the lead entering Inquiry."""
        match trigger:
            case n.OnEnter():
                return f"the lead entering {self.stages([s.text for s in trigger.stages])}"
            case n.OnLeave():
                return f"the lead leaving {self.stages([s.text for s in trigger.stages])}"
            case n.OnHandoff():
                source, target = self.stage(trigger.source.text), self.stage(trigger.target.text)
                return f"the lead moving from {source} to {target}"
            case n.OnCreate():
                return "the lead being created in the CRM"
            case n.OnAssign():
                return "the lead being assigned to an owner"
            case n.OnActivity():
                return f"{self._one_of(trigger.types)}{self._actor(trigger.by)} being logged"
            case _:
                assert_never(trigger)

    def duty(self, trigger: n.Trigger) -> str:
        """A trigger as what must happen: Sales development must log a call or email."""
        match trigger:
            case n.OnActivity():
                thing = self._one_of(trigger.types)
                match trigger.by:
                    case None:
                        return f"{thing} must be logged"
                    case n.ByOwner():
                        return f"{_OWNER_TEAM} must log {thing}"
                    case n.ByTeam():
                        return f"{self.team(trigger.by.team.text)} must log {thing}"
                    case _:
                        assert_never(trigger.by)
            case n.OnEnter():
                return f"the lead must enter {self.stages([s.text for s in trigger.stages])}"
            case n.OnLeave():
                return f"the lead must leave {self.stages([s.text for s in trigger.stages])}"
            case n.OnHandoff():
                source, target = self.stage(trigger.source.text), self.stage(trigger.target.text)
                return f"the lead must move from {source} to {target}"
            case n.OnCreate():
                return "the lead must be created in the CRM"
            case n.OnAssign():
                return "the lead must be assigned to an owner"
            case _:
                assert_never(trigger)

    def events(self, triggers: Sequence[n.Trigger]) -> str:
        """Several triggers after `when`."""
        return series([self.event(t) for t in triggers], "or")

    def pause(self, pause: n.Pause) -> str:
        """A pause after `while`."""
        match pause:
            case n.PauseInStages():
                return f"the lead is in {self.stages([s.text for s in pause.stages])}"
            case n.PauseWhile():
                return self.criterion(pause.condition)
            case _:
                assert_never(pause)

    # -- rules

    def tiers(self, clock: Clock) -> str:
        """The goal tiers in order: 15 business minutes when ...; otherwise 1 business day."""
        parts: list[str] = []
        for index, goal in enumerate(clock.goals):
            text = goal.length.text
            if goal.condition is not None:
                text += f" when {self.criterion(goal.condition)}"
            parts.append(text if index == 0 else f"otherwise {text}")
        return "; ".join(parts)

    def measured(self, lengths: Sequence[Length], calendar: str) -> str:
        """Where durations are measured: on Sydney office hours, in wall-clock time."""
        on = calendar if any(length.calendar != ALWAYS for length in lengths) else ALWAYS
        return f"on {self.calendar(on)}" if on != ALWAYS else f"in {self.calendar(ALWAYS)}"

    def clock(self, clock: Clock) -> str:
        """A clock's promise in one sentence."""
        catch_all = clock.goals[-1].length.text
        start = series([self.since(t) for t in clock.starts], "or")
        exceptions = [
            f"{goal.length.text} when {self.criterion(goal.condition)}"
            for goal in clock.goals
            if goal.condition is not None
        ]
        tail = f" {_DASH} {'; otherwise '.join(exceptions)} {_DASH}" if exceptions else ""
        measured = self.measured([g.length for g in clock.goals], clock.calendar)
        if len(clock.stops) == 1:
            duty = self.duty(clock.stops[0])
            sentence = f"{duty} within {catch_all} of {start}{tail or ','} {measured}"
        else:
            happens = "; or ".join(self.event(t) for t in clock.stops)
            sentence = (
                f"one of these must happen within {catch_all} of {start}{tail or ','} {measured}: "
                f"{happens}"
            )
        return _sentence(sentence)

    def cadence(self, cadence: Cadence) -> str:
        """A cadence's promise in one sentence."""
        things = self.activities(cadence.minimum, cadence.types)
        mix = " (in any mix)" if len(cadence.types) > 1 else ""
        start = series([self.since(t) for t in cadence.starts], "or")
        measured = self.measured([cadence.within], cadence.calendar)
        match cadence.by:
            case None:
                verb = "has" if cadence.minimum == 1 else "have"
                duty = f"at least {things}{mix} {verb} to be logged"
            case n.ByOwner():
                duty = f"{_OWNER_TEAM} must log at least {things}{mix}"
            case n.ByTeam():
                duty = f"{self.team(cadence.by.team.text)} must log at least {things}{mix}"
            case _:
                assert_never(cadence.by)
        return _sentence(f"{duty} within {cadence.within.text} of {start}, {measured}")

    def target(self, target: Target) -> str:
        """A target in one sentence: Each month, at least 120 leads enter Inquiry."""
        measure = target.measure
        bound = target.bound
        within = ""
        if target.within is not None:
            within = f" within {target.within.text}"
            if isinstance(measure, n.Worked):
                within += " of entering it"
            if target.within.calendar != ALWAYS:
                within += f" (on {self.calendar(target.within.calendar)})"
        match measure:
            case n.Volume():
                leads = "lead enters" if measure.count == 1 else "leads enter"
                text = f"{bound} {number(measure.count)} {leads} {self.stage(measure.stage.text)}"
            case n.Conversion():
                text = (
                    f"{bound} {percent(measure.percent.value)} of the leads that enter "
                    f"{self.stage(measure.source.text)} go on to reach "
                    f"{self.stage(measure.target.text)}{within}"
                )
            case n.Attainment():
                name = measure.clock.text
                kind = "deadlines" if name in self.agreement.clocks else "obligations"
                text = (
                    f"{bound} {percent(measure.percent.value)} of the {kind} of "
                    f"{self.rule(name)} are met"
                )
            case n.Worked():
                match measure.by:
                    case n.ByOwner():
                        who = _OWNER_TEAM
                    case n.ByTeam():
                        who = self.team(measure.by.team.text)
                    case _:
                        assert_never(measure.by)
                text = (
                    f"{bound} {percent(measure.percent.value)} of the leads that enter "
                    f"{self.stage(measure.stage.text)} get at least one activity of any kind "
                    f"from {who}{within}"
                )
            case _:
                assert_never(measure)
        return _sentence(f"each {target.period}, {text}")

    def accountable(self, rule: Clock | Cadence) -> str:
        """The team charged with a clock's or cadence's misses."""
        if rule.responsible is not None:
            return self.team(rule.responsible)
        owners: list[str | None] = []
        for trigger in rule.starts:
            match trigger:
                case n.OnEnter():
                    names = [s.text for s in trigger.stages]
                case n.OnHandoff():
                    names = [trigger.target.text]
                case _:
                    names = []
                    owners.append(None)
            for name in names:
                found = self.agreement.stages.get(name)
                owners.append(found.owner if found is not None else None)
        distinct = list(dict.fromkeys(owners))
        if len(distinct) == 1 and distinct[0] is not None:
            return self.team(distinct[0])
        return f"{_OWNER_TEAM} when it starts"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


# ---------------------------------------------------------------- the outline


@dataclass(frozen=True, slots=True)
class Heading:
    """A section (level 2) or subsection (level 3) heading."""

    level: int
    text: str
    anchor: str


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph; `label` is shown in bold before the text; `strong` bolds the whole text."""

    text: str
    label: str = ""
    strong: bool = False


@dataclass(frozen=True, slots=True)
class Quote:
    """Agreed wording shown as a quotation: a stage's definition."""

    text: str


@dataclass(frozen=True, slots=True)
class Items:
    """A bulleted list."""

    items: tuple[Paragraph, ...]


@dataclass(frozen=True, slots=True)
class Table:
    """A table with a header row."""

    head: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The lifecycle diagram: Mermaid in Markdown, inline SVG in HTML."""


@dataclass(frozen=True, slots=True)
class Contents:
    """Links to the sections: (title, anchor)."""

    entries: tuple[tuple[str, str], ...]


Block = Heading | Paragraph | Quote | Items | Table | Lifecycle | Contents


@dataclass(frozen=True, slots=True)
class Signatory:
    """A party's signature block."""

    party: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class Outline:
    """The document, independent of its format."""

    title: str
    facts: tuple[Paragraph, ...]
    blocks: tuple[Block, ...]
    signatories: tuple[Signatory, ...]
    footer: str


def slug(text: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", text.lower())
    return kept.replace(" ", "-")


class _Outliner:
    def __init__(self, agreement: Agreement, year: int, wording: Wording) -> None:
        self.agreement = agreement
        self.year = year
        self.say = Phrases(agreement, wording)
        self.wording = wording
        self.sections: list[tuple[str, list[Block]]] = []

    def section(self, title: str, blocks: list[Block]) -> None:
        self.sections.append((title, blocks))

    def outline(self) -> Outline:
        agreement = self.agreement
        facts: list[Paragraph] = []
        if agreement.version:
            facts.append(Paragraph(agreement.version, "Version"))
        if agreement.effective is not None:
            facts.append(Paragraph(day_text(agreement.effective), "Effective from"))
        if agreement.parties:
            names = series([p.title for p in agreement.parties], "and")
            facts.append(Paragraph(names, "Agreed by" if len(agreement.parties) > 1 else "Party"))
        self.parties()
        self.lifecycle()
        self.stages()
        self.handoffs()
        self.clocks()
        self.cadences()
        self.targets()
        self.calendars()
        self.teams()
        self.fields()
        blocks: list[Block] = [
            Paragraph(self.introduction()),
            Contents(tuple((title, slug(title)) for title, _ in self.sections)),
        ]
        for title, body in self.sections:
            blocks.append(Heading(2, title, slug(title)))
            blocks.extend(body)
        source = posixpath.basename(agreement.files[0]) if agreement.files else ""
        footer = "Generated by slaspec" + (f" from {source}" if source else "")
        footer += "; change the agreement, not this document."
        return Outline(
            agreement.title,
            tuple(facts),
            tuple(blocks),
            tuple(Signatory(p.title, p.signatory, p.role or "") for p in agreement.parties),
            footer,
        )

    def introduction(self) -> str:
        agreement = self.agreement
        text = (
            "This document sets out how leads move between marketing and sales, what each "
            "stage means, who owns it, how quickly each team responds and the targets both "
            "sides report on."
        )
        default = agreement.default_calendar
        if default is not None and default != ALWAYS:
            text += (
                f" Business time is measured on {self.say.calendar(default)} unless a rule "
                "says otherwise: business hours and business days count only the hours the "
                "calendar is open."
            )
        return text

    # -- sections

    def parties(self) -> None:
        if not self.agreement.parties:
            return
        rows = tuple((p.title, p.signatory, p.role or "") for p in self.agreement.parties)
        self.section(
            "Parties and signatories",
            [Table(("Party", "Signed by", "Role"), rows)],
        )

    def lifecycle(self) -> None:
        agreement, say = self.agreement, self.say
        initial = [name for name, s in agreement.stages.items() if s.initial]
        terminal = [name for name, s in agreement.stages.items() if s.terminal]
        text = (
            f"A lead starts in {say.stages(initial)} and ends in {say.stages(terminal)}. "
            "It may move only along the arrows; any other move is reported against the team "
            "that owned the stage it left."
        )
        self.section("Lifecycle", [Paragraph(text), Lifecycle()])

    def stages(self) -> None:
        agreement, say = self.agreement, self.say
        blocks: list[Block] = []
        for name, stage in agreement.stages.items():
            blocks.append(Heading(3, say.stage(name), f"stage-{name}"))
            if stage.definition:
                blocks.append(Quote(stage.definition))
            blocks.append(Items(tuple(self.stage_facts(stage))))
        self.section("Stages", blocks)

    def stage_facts(self, stage: Stage) -> list[Paragraph]:
        say = self.say
        facts = [Paragraph(say.team(stage.owner) if stage.owner else "no team", "Owner")]
        if stage.initial:
            facts.append(Paragraph("a lead's life may begin here.", "Starting stage"))
        if stage.terminal:
            facts.append(Paragraph("a lead ends here.", "Outcome"))
        facts.append(Paragraph(", ".join((stage.name, *stage.aliases)), "Recorded in the CRM as"))
        if stage.max_dwell is not None:
            measured = (
                f"on {say.calendar(stage.max_dwell.calendar)}"
                if stage.max_dwell.calendar != ALWAYS
                else f"in {say.calendar(ALWAYS)}"
            )
            facts.append(
                Paragraph(
                    f"{stage.max_dwell.text}, {measured}; a lead that stays longer has "
                    f"stalled, and the stall is reported against {say.team(stage.owner)}."
                    if stage.owner
                    else f"{stage.max_dwell.text}, {measured}; a lead that stays longer has "
                    "stalled.",
                    "Longest stay",
                )
            )
        onward = self.agreement.graph.successors(stage.name)
        if onward:
            facts.append(Paragraph(say.stages(onward, "or") + ".", "Moves on to"))
        return facts

    def handoffs(self) -> None:
        say = self.say
        blocks: list[Block] = []
        for (source, target), handoff in self.agreement.handoffs.items():
            route = f"{say.stage(source)} {_ARROW} {say.stage(target)}"
            heading = f"{handoff.title} ({route})" if handoff.title else route
            blocks.append(Heading(3, heading, f"handoff-{source}-{target}"))
            blocks.extend(self.handoff_body(handoff))
        if blocks:
            self.section("Handoffs", blocks)

    def handoff_body(self, handoff: Handoff) -> list[Block]:
        say = self.say
        conditions = [f"{words(name)} is recorded" for name in handoff.required]
        conditions += [say.criterion(expr, handoff.source) for expr in handoff.criteria]
        if not conditions:
            return [Paragraph("No conditions: the lead may move whenever its owner decides.")]
        lead = (
            "Before the lead moves, this must hold:"
            if len(conditions) == 1
            else "Before the lead moves, all of these must hold:"
        )
        source = self.agreement.stages[handoff.source]
        blame = (
            f" A lead that moves without meeting them is reported against {say.team(source.owner)}."
            if source.owner
            else ""
        )
        return [
            Paragraph(lead),
            Items(tuple(Paragraph(_sentence(text)) for text in conditions)),
            Paragraph(
                "The conditions are checked on the lead's record and activities just before "
                f"it moves.{blame}"
            ),
        ]

    def clocks(self) -> None:
        say = self.say
        blocks: list[Block] = []
        for name, clock in self.agreement.clocks.items():
            blocks.append(Heading(3, say.rule(name), f"clock-{name}"))
            blocks.append(Paragraph(say.clock(clock), strong=True))
            items = [
                Paragraph(_sentence(say.events(clock.starts)), "Starts when"),
                Paragraph(_sentence(say.events(clock.stops)), "Stops when"),
            ]
            if clock.cancels:
                items.append(
                    Paragraph(
                        _sentence(say.events(clock.cancels))[:-1]
                        + "; the clock is withdrawn and counts as neither met nor missed.",
                        "Withdrawn when",
                    )
                )
            if clock.pauses:
                pauses = series([say.pause(p) for p in clock.pauses], "or")
                items.append(
                    Paragraph(_sentence(pauses)[:-1] + "; no time counts then.", "Paused while")
                )
            tiers = say.tiers(clock)
            if len(clock.goals) > 1:
                tiers += "; the first that fits the lead when the clock starts applies"
            items.append(Paragraph(_sentence(tiers), "Goal"))
            measured = say.measured([g.length for g in clock.goals], clock.calendar)
            label, _, where = measured.partition(" ")
            items.append(Paragraph(f"{where}.", f"Measured {label}"))
            if clock.warn is not None:
                items.append(
                    Paragraph(f"once {percent(clock.warn)} of the goal has passed.", "At risk")
                )
            items.append(Paragraph(_sentence(say.accountable(clock)), "Accountable"))
            blocks.append(Items(tuple(items)))
        if blocks:
            blocks.insert(
                0,
                Paragraph(
                    "Each clock starts on an event and must stop within its goal. Every time a "
                    "clock starts again it is judged on its own."
                ),
            )
            self.section("Response times", blocks)

    def cadences(self) -> None:
        say = self.say
        blocks: list[Block] = []
        for name, cadence in self.agreement.cadences.items():
            blocks.append(Heading(3, say.rule(name), f"cadence-{name}"))
            blocks.append(Paragraph(say.cadence(cadence), strong=True))
            items = [Paragraph(_sentence(say.events(cadence.starts)), "Starts when")]
            if cadence.exits:
                items.append(
                    Paragraph(
                        _sentence(say.events(cadence.exits))[:-1] + "; nothing more is owed.",
                        "Ends early when",
                    )
                )
            items.append(Paragraph(_sentence(say.accountable(cadence)), "Accountable"))
            blocks.append(Items(tuple(items)))
        if blocks:
            self.section("Follow-up cadences", blocks)

    def targets(self) -> None:
        say = self.say
        blocks: list[Block] = []
        for name, target in self.agreement.targets.items():
            title = humanize(name) if target.title == name else target.title
            blocks.append(Heading(3, title, f"target-{name}"))
            blocks.append(Paragraph(say.target(target), strong=True))
            team = say.team(target.responsible) if target.responsible else "no single team"
            blocks.append(Items((Paragraph(_sentence(team), "Accountable"),)))
        if blocks:
            blocks.insert(
                0,
                Paragraph(
                    "Targets are counted per calendar week (Monday to Sunday), month, quarter "
                    f"or year in {self.agreement.timezone} time."
                ),
            )
            self.section("Targets", blocks)

    def calendars(self) -> None:
        say = self.say
        blocks: list[Block] = []
        default = self.agreement.default_calendar
        for name, spec in self.agreement.calendars.items():
            if name == ALWAYS:
                continue
            blocks.append(Heading(3, say.calendar_title(name), f"calendar-{name}"))
            facts = [Paragraph(spec.timezone, "Time zone")]
            if name == default:
                facts.insert(0, Paragraph("the agreement's default calendar.", "Default"))
            regions = [self.holiday_set(s) for s in spec.holiday_sets]
            if regions:
                facts.append(
                    Paragraph(series(regions, "and") + ".", "Closed on public holidays of")
                )
            working = cal.working_day_seconds(spec)
            if working is not None:
                facts.append(Paragraph(f"{_hours(working)} of open time.", "A business day is"))
            blocks.append(Items(tuple(facts)))
            blocks.append(Table(("Days", "Open"), tuple(self.week(spec))))
            if spec.closures:
                blocks.append(Paragraph("Also closed:"))
                blocks.append(Items(tuple(Paragraph(self.closure(c)) for c in spec.closures)))
            if spec.holiday_sets:
                found = cal.holidays_in(spec, self.year)
                blocks.append(Paragraph(f"Public holidays in {self.year}:"))
                if found:
                    rows = tuple(
                        (f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}", title)
                        for day, title in found
                    )
                    blocks.append(Table(("Date", "Holiday"), rows))
                else:
                    blocks.append(Paragraph("None."))
        if blocks:
            self.section("Calendars", blocks)

    def holiday_set(self, holiday_set: cal.HolidaySet) -> str:
        region = holiday_set.country + (
            f"-{holiday_set.subdivision}" if holiday_set.subdivision else ""
        )
        extra = [c for c in holiday_set.categories if c != cal.PUBLIC]
        if extra:
            region += f" (including its {series([words(c) for c in extra], 'and')} holidays)"
        return region

    def week(self, spec: cal.CalendarSpec) -> list[tuple[str, str]]:
        rows: list[tuple[str, str]] = []
        day = 0
        while day < 7:
            last = day
            while last + 1 < 7 and spec.weekly[last + 1] == spec.weekly[day]:
                last += 1
            if last == day:
                days = WEEKDAYS[day]
            elif last == day + 1:
                days = f"{WEEKDAYS[day]} and {WEEKDAYS[last]}"
            else:
                days = f"{WEEKDAYS[day]} to {WEEKDAYS[last]}"
            windows = spec.weekly[day]
            hours = series([_window(w) for w in windows], "and") if windows else "closed"
            rows.append((days, hours))
            day = last + 1
        return rows

    def closure(self, closure: cal.Closure) -> str:
        text = day_text(closure.first)
        if closure.last != closure.first:
            text += f" to {day_text(closure.last)}"
        text += f", {_window(closure.window)}" if closure.window is not None else " (all day)"
        return text + (f": {closure.reason}" if closure.reason else "")

    def teams(self) -> None:
        say = self.say
        owned: dict[str, list[str]] = {}
        for stage in self.agreement.stages.values():
            if stage.owner is not None:
                owned.setdefault(stage.owner, []).append(say.stage(stage.name))
        members: dict[str, list[str]] = {}
        for actor, team in self.agreement.roster.items():
            members.setdefault(team, []).append(actor)
        rows = tuple(
            (
                say.team(name),
                ", ".join(owned.get(name, [])) or "none",
                ", ".join(sorted(members.get(name, []))) or "not listed",
            )
            for name in self.agreement.teams
        )
        blocks: list[Block] = [Table(("Team", "Owns", "People"), rows)]
        if self.agreement.activities:
            kinds = series([words(a) for a in self.agreement.activities], "and")
            blocks.append(Paragraph(f"{kinds}.", "Activities counted"))
        self.section("Teams", blocks)

    def fields(self) -> None:
        fields = self.agreement.fields
        if not fields:
            return
        rows = tuple(
            (
                words(name),
                name,
                _field_kind(kind),
                self.wording.field_descriptions.get(name, ""),
            )
            for name, kind in fields.items()
        )
        self.section(
            "Lead information",
            [
                Paragraph("The conditions above read these fields of the lead's CRM record."),
                Table(("Field", "CRM column", "Kind", "Meaning"), rows),
            ],
        )


def _field_kind(kind: n.FieldType) -> str:
    match kind.kind:
        case "string":
            return "text"
        case "number":
            return "number"
        case "boolean":
            return "yes or no"
        case "date":
            return "date"
        case "datetime":
            return "date and time"
        case "money":
            return f"money ({kind.currency.text})" if kind.currency is not None else "money"
        case "enum":
            return "one of " + ", ".join(f"\u201c{v.value}\u201d" for v in kind.values)
        case _:
            assert_never(kind.kind)


def outline(agreement: Agreement, year: int, wording: Wording | None = None) -> Outline:
    """The document's outline: sections of headings, paragraphs, lists and tables."""
    return _Outliner(agreement, year, wording if wording is not None else Wording()).outline()


# ---------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|#~$&!{}])")
_MD_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def md_escape(text: str) -> str:
    """Text that GitHub Markdown shows as written: markup, HTML and math characters escaped."""
    flat = " ".join(text.split())
    escaped = _MD_SPECIAL.sub(r"\\\1", flat)
    return _MD_UNDERSCORE.sub(r"\\_", escaped)


def _md_line(text: str) -> str:
    """Escaped text that starts a line: it must not open a list or a heading by accident."""
    escaped = re.sub(r"^([-+=])", r"\\\1", md_escape(text))
    return re.sub(r"^(\d+)([.)])(?=\s|$)", r"\1\\\2", escaped)


def _md_paragraph(paragraph: Paragraph) -> str:
    text = md_escape(paragraph.text)
    if not paragraph.label and not paragraph.strong:
        text = _md_line(paragraph.text)
    if paragraph.strong:
        text = f"**{text}**"
    if paragraph.label:
        text = f"**{md_escape(paragraph.label)}:** {text}"
    return text


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def render_markdown(agreement: Agreement, year: int, wording: Wording | None = None) -> str:
    """The agreement as a GitHub-flavoured Markdown document, with a Mermaid lifecycle."""
    document = outline(agreement, year, wording)
    lines = [f"# {md_escape(document.title)}", ""]
    lines.append("  \n".join(_md_paragraph(fact) for fact in document.facts))
    lines.append("")
    for block in document.blocks:
        match block:
            case Heading():
                lines += ["#" * block.level + " " + md_escape(block.text), ""]
            case Paragraph():
                lines += [_md_paragraph(block), ""]
            case Quote():
                lines += [f"> {_md_line(block.text)}", ""]
            case Items():
                lines += [f"- {_md_paragraph(item)}" for item in block.items]
                lines.append("")
            case Table():
                lines.append("| " + " | ".join(md_escape(h) for h in block.head) + " |")
                lines.append("|" + "|".join(" --- " for _ in block.head) + "|")
                for row in block.rows:
                    lines.append("| " + " | ".join(md_escape(c) or " " for c in row) + " |")
                lines.append("")
            case Lifecycle():
                diagram = agreement.graph.to_mermaid()
                fence = _fence(diagram)
                lines += [f"{fence}mermaid", diagram.rstrip("\n"), fence, ""]
            case Contents():
                links = [f"[{md_escape(title)}](#{anchor})" for title, anchor in block.entries]
                lines += [" \u00b7 ".join(links), ""]
            case _:
                assert_never(block)
    lines += ["---", "", f"*{md_escape(document.footer)}*", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; color: #1f2933; background: #ffffff; line-height: 1.5; margin: 0; }
main { max-width: 52rem; margin: 0 auto; padding: 2rem 1.5rem 3rem; }
h1 { font-size: 1.9rem; margin: 0 0 0.5rem; line-height: 1.25; }
h2 { font-size: 1.35rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.25rem;
  border-bottom: 2px solid #d9e2ec; }
h3 { font-size: 1.08rem; margin: 1.5rem 0 0.4rem; }
p { margin: 0.45rem 0; }
.facts { margin: 0 0 1rem; color: #52606d; }
.facts p { margin: 0.1rem 0; }
.promise { font-weight: 600; }
blockquote { margin: 0.5rem 0; padding: 0.3rem 0 0.3rem 0.9rem; border-left: 4px solid #9cc3e0;
  color: #334e68; font-style: italic; }
ul { margin: 0.3rem 0 0.6rem; padding-left: 1.3rem; }
li { margin: 0.15rem 0; }
table { border-collapse: collapse; margin: 0.5rem 0 0.8rem; width: 100%; font-size: 0.95rem; }
th, td { text-align: left; vertical-align: top; padding: 0.3rem 0.6rem;
  border-bottom: 1px solid #d9e2ec; }
th { background: #f0f4f8; }
nav { font-size: 0.95rem; margin: 1rem 0; }
nav a { color: #2f6690; margin-right: 0.8rem; }
.diagram { overflow-x: auto; margin: 0.8rem 0; }
.diagram svg { max-width: 100%; height: auto; }
.signatures { display: flex; flex-wrap: wrap; gap: 2rem; margin-top: 1rem; }
.signatory { flex: 1 1 18rem; break-inside: avoid; page-break-inside: avoid; }
.signatory .party { font-weight: 700; margin-bottom: 2.6rem; }
.signatory .line { border-top: 1px solid #1f2933; margin-top: 2.4rem; padding-top: 0.2rem;
  font-size: 0.85rem; color: #52606d; }
.signatory .name { margin-top: 0.6rem; font-weight: 600; }
footer { margin-top: 2.5rem; font-size: 0.85rem; color: #52606d; }
@page { size: A4; margin: 18mm 16mm; }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  table, blockquote, ul, .diagram { break-inside: avoid; page-break-inside: avoid; }
  section.signing { break-before: page; page-break-before: always; }
}
""".strip()


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_paragraph(paragraph: Paragraph, tag: str = "p") -> str:
    text = _esc(paragraph.text)
    if paragraph.strong:
        text = f'<span class="promise">{text}</span>'
    if paragraph.label:
        text = f"<strong>{_esc(paragraph.label)}:</strong> {text}"
    return f"<{tag}>{text}</{tag}>"


def render_html(agreement: Agreement, year: int, wording: Wording | None = None) -> str:
    """The agreement as one self-contained, printable HTML page with an SVG lifecycle."""
    from slaspec.svg import lifecycle_svg

    document = outline(agreement, year, wording)
    title = _esc(document.title)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        f"<h1>{title}</h1>",
        '<div class="facts">',
        *(_html_paragraph(fact) for fact in document.facts),
        "</div>",
        "</header>",
    ]
    open_section = False
    for block in document.blocks:
        match block:
            case Heading(level=2):
                if open_section:
                    out.append("</section>")
                out.append(f'<section id="{_esc(block.anchor)}">')
                out.append(f"<h2>{_esc(block.text)}</h2>")
                open_section = True
            case Heading():
                out.append(
                    f'<h{block.level} id="{_esc(block.anchor)}">{_esc(block.text)}</h{block.level}>'
                )
            case Paragraph():
                out.append(_html_paragraph(block))
            case Quote():
                out.append(f"<blockquote>{_esc(block.text)}</blockquote>")
            case Items():
                out.append("<ul>")
                out.extend(_html_paragraph(item, "li") for item in block.items)
                out.append("</ul>")
            case Table():
                out.append("<table>")
                out.append(
                    "<thead><tr>"
                    + "".join(f"<th>{_esc(h)}</th>" for h in block.head)
                    + "</tr></thead>"
                )
                out.append("<tbody>")
                for row in block.rows:
                    out.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>")
                out.append("</tbody>")
                out.append("</table>")
            case Lifecycle():
                out.append(f'<div class="diagram">{lifecycle_svg(agreement)}</div>')
            case Contents():
                links = "".join(
                    f'<a href="#{_esc(anchor)}">{_esc(text)}</a>' for text, anchor in block.entries
                )
                out.append(f"<nav>{links}</nav>")
            case _:
                assert_never(block)
    if open_section:
        out.append("</section>")
    if document.signatories:
        out.append('<section class="signing" id="signatures">')
        out.append("<h2>Signatures</h2>")
        out.append(
            "<p>Signed for each party by the person named, who agrees to the service levels "
            "in this document.</p>"
        )
        out.append('<div class="signatures">')
        for signatory in document.signatories:
            role = f'<div class="role">{_esc(signatory.role)}</div>' if signatory.role else ""
            out.append(
                '<div class="signatory">'
                f'<div class="party">{_esc(signatory.party)}</div>'
                '<div class="line">Signature</div>'
                f'<div class="name">{_esc(signatory.name)}</div>{role}'
                '<div class="line">Date</div>'
                "</div>"
            )
        out.append("</div>")
        out.append("</section>")
    out += [f"<footer>{_esc(document.footer)}</footer>", "</main>", "</body>", "</html>", ""]
    return "\n".join(out)
