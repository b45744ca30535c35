"""Semantic diff: two compiled versions of an agreement (and a log) -> classified changes, impact.

The diff compares meanings, not text: durations are compared as microseconds on a calendar
(`4 hours` and `240 minutes` are equal), criteria after normalisation (operand order, `x in [a]`
and `x = a`, `not not`), triggers as sets, and declarations by name, so reordering, formatting
and respelling are no change. Each change is one of five kinds, judged from the view of the team
that must keep the promise:

- added / removed: a declaration, a goal tier, an alias, a roster member or an enum value
  appears or disappears;
- tightened / loosened: the promise is provably harder / easier to keep. Shorter goals, dwell
  limits and cadence windows, more cadence activities, higher `at least` and lower `at most`
  targets tighten. A removed handoff tightens the lifecycle and a new one loosens it. Handoff
  criteria (with `requires` read as `FIELD is set`) tighten when the new criteria imply the old
  ones and loosen when the old imply the new, proved for comparisons of one field with
  literals, `in` lists, presence, recency and activity counts; anything else is "changed".
  A calendar open more hours tightens (its business clocks run more hours a day, so a goal runs
  out sooner in wall-clock time); more holidays, closures or a longer working day loosen. A
  pause added to a clock loosens it (paused time never counts against the goal). A lower
  `warn at` tightens (cycles are flagged at risk sooner);
- changed: a difference whose direction cannot be proved, or that has none (owners, titles,
  definitions, triggers, calendars used, responsible teams, periods).

Lengths are compared only on the same calendar; when the calendars differ the change is
"changed". The impact replays a log under both versions at the same as-of instant.
"""

from __future__ import annotations

import enum
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, TypeVar, assert_never

from slaspec import analysis, report
from slaspec import calendar as cal
from slaspec import nodes as n
from slaspec.compiler import (
    Agreement,
    Cadence,
    Clause,
    Clock,
    Handoff,
    Length,
    Party,
    Stage,
    Target,
)
from slaspec.events import Event
from slaspec.formatter import format_expr
from slaspec.pipeline import Checked
from slaspec.readers import Rejected
from slaspec.replay import Engine, prepare, replay_prepared
from slaspec.results import ReplayResult, human_duration
from slaspec.semantics import ALWAYS, UNIT_SECONDS

LISTED = 20
"""How many flipped cycles, leads and target periods the text and Markdown reports list."""

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ORDERED_KINDS = ("number", "date", "datetime")


class Kind(enum.Enum):
    """How a change moves the promise."""

    ADDED = "added"
    REMOVED = "removed"
    TIGHTENED = "tightened"
    LOOSENED = "loosened"
    CHANGED = "changed"


_TRIGGER_VERBS = {
    "starts": ("now{} starts", "no longer starts", "starts"),
    "stops": ("now{} stops", "no longer stops", "stops"),
    "cancels": ("is now{} cancelled", "is no longer cancelled", "cancels"),
    "exits": ("now{} exits", "no longer exits", "exits"),
}
_VERB = {Kind.TIGHTENED: "tightens", Kind.LOOSENED: "loosens", Kind.CHANGED: "changes"}

Places = Mapping[tuple[str, str], Clause]


@dataclass(frozen=True, slots=True)
class Version:
    """One side of a diff: a label for people, the compiled agreement, where things are written.

    `places` locates the declarations the compiled form keeps no clause for: the header
    (`("agreement", "")`), parties, fields, activities, teams, roster members and calendars.
    """

    label: str
    agreement: Agreement
    places: Places


@dataclass(frozen=True, slots=True)
class Change:
    """One semantic change, located on each side it exists on."""

    kind: Kind
    element: str  # agreement, party, field, activity, team, calendar, stage, handoff, ...
    name: str
    aspect: str  # what about the element changed ("goal 2", "owner"); "" for the whole of it
    message: str
    old: Clause | None
    new: Clause | None
    before: str | None = None
    after: str | None = None

    @property
    def where(self) -> str:
        """The element and aspect, for people: `clock first_touch, goal 2`."""
        head = f"{self.element} {self.name}" if self.name else self.element
        return f"{head}, {self.aspect}" if self.aspect else head

    @property
    def lines(self) -> str:
        """The source line on each side: `old.sla:88 -> new.sla:90`."""
        return f"{_at(self.old)} -> {_at(self.new)}"


def _at(clause: Clause | None) -> str:
    return "(none)" if clause is None else str(clause)


@dataclass(frozen=True, slots=True)
class Diff:
    """The changes from one version of an agreement to another, in a stable order."""

    old: str
    new: str
    changes: tuple[Change, ...]

    def count(self, kind: Kind) -> int:
        """How many changes are of the kind."""
        return sum(change.kind is kind for change in self.changes)

    def fails(self, on: Iterable[str]) -> bool:
        """Whether a change of a kind named by `--fail-on` (loosened, removed, any) exists."""
        for choice in on:
            if choice == "any" and self.changes:
                return True
            if choice != "any" and self.count(Kind(choice)):
                return True
        return False


# ---------------------------------------------------------------- versions


def version(label: str, checked: Checked) -> Version:
    """A diffable version of an agreement that compiled; `label` names it in reports."""
    if checked.agreement is None:
        raise ValueError(f"{label} has errors and was not compiled")
    places: dict[tuple[str, str], Clause] = {}
    # The root file comes first, so a name declared there wins over a used file.
    for parsed in checked.program.files:
        if parsed.document is None:
            continue
        for key, node in _declared(parsed.document):
            line, _ = parsed.source.position(node.span.start)
            places.setdefault(key, Clause(parsed.source.name, line, node.span))
    return Version(label, checked.agreement, MappingProxyType(places))


def _declared(document: n.Document) -> Iterator[tuple[tuple[str, str], Any]]:
    """The declarations of a file the compiled agreement keeps no clause for, by key."""
    if document.header is not None:
        yield ("agreement", ""), document.header
        for party in document.header.parties:
            yield ("party", party.name.text), party
    for declaration in document.declarations:
        match declaration:
            case n.Field():
                yield ("field", declaration.name.text), declaration
            case n.ActivityType():
                yield ("activity", declaration.name.text), declaration
            case n.Calendar():
                yield ("calendar", declaration.name.text), declaration
            case n.Team():
                yield ("team", declaration.name.text), declaration
                for member in declaration.members:
                    yield ("member", member.value), member
            case _:
                pass


# ---------------------------------------------------------------- comparing

_Key = TypeVar("_Key")


def _keys(old: Iterable[_Key], new: Iterable[_Key]) -> list[_Key]:
    """Keys of the new version in its order, then those only in the old one in theirs."""
    ordered = list(dict.fromkeys(new))
    present = set(ordered)
    return ordered + [key for key in dict.fromkeys(old) if key not in present]


def _q(text: str) -> str:
    # Backticks would open a code span in Markdown; user text never needs them.
    return '"' + text.replace("`", "'") + '"'


def _code(text: str) -> str:
    return f"`{text}`"


def _listed(items: Sequence[str]) -> str:
    return ", ".join(items)


def _label(name: str) -> str:
    """A rule's name as words in a sentence: first_touch -> first-touch."""
    return name.replace("_", "-")


def _possessive(owner: str | None) -> str:
    if owner is None:
        return "The "
    return f"{owner}' " if owner.endswith("s") else f"{owner}'s "


def _compare_lengths(old: Length, new: Length) -> Kind | None:
    """Shorter is tighter; None when equal; CHANGED across calendars."""
    if old.calendar != new.calendar:
        return Kind.CHANGED
    if old.micros == new.micros:
        return None
    return Kind.TIGHTENED if new.micros < old.micros else Kind.LOOSENED


def _on(length: Length) -> str:
    return "of wall-clock time" if length.calendar == ALWAYS else f"on {length.calendar}"


def _from_to(old: Length, new: Length) -> str:
    """`from 4 to 8 business hours`, naming calendars when they differ."""
    if old.calendar != new.calendar:
        return f"from {old.text} {_on(old)} to {new.text} {_on(new)}"
    if old.text == new.text:
        # The same words on a calendar whose working day changed.
        return (
            f"in length: {new.text} {_on(new)} is now {human_duration(new.micros)} of open time "
            f"instead of {human_duration(old.micros)}"
        )
    old_amount, _, old_unit = old.text.partition(" ")
    new_amount, _, new_unit = new.text.partition(" ")
    if old_unit == new_unit:
        return f"from {old_amount} to {new_amount} {new_unit}"
    return f"from {old.text} to {new.text}"


def _trigger_keys(triggers: Sequence[n.Trigger]) -> dict[tuple[str, ...], str]:
    """Each trigger as the single events it reacts to (a list of stages is one per stage)."""
    keys: dict[tuple[str, ...], str] = {}
    for trigger in triggers:
        match trigger:
            case n.OnEnter():
                for stage in trigger.stages:
                    keys[("enter", stage.text)] = f"a lead enters {stage.text}"
            case n.OnLeave():
                for stage in trigger.stages:
                    keys[("leave", stage.text)] = f"a lead leaves {stage.text}"
            case n.OnHandoff():
                key = ("handoff", trigger.source.text, trigger.target.text)
                keys[key] = f"a lead moves from {trigger.source.text} to {trigger.target.text}"
            case n.OnCreate():
                keys[("create",)] = "a lead is created"
            case n.OnAssign():
                keys[("assign",)] = "a lead is assigned"
            case n.OnActivity():
                by = _actor_key(trigger.by)
                for kind in trigger.types:
                    text = f"a {kind.text}{_actor_words(trigger.by)} is logged"
                    keys[("activity", kind.text, by)] = text
            case _:
                assert_never(trigger)
    return keys


def _actor_key(actor: n.Actor | None) -> str:
    match actor:
        case None:
            return ""
        case n.ByOwner():
            return "@owner"
        case n.ByTeam():
            return actor.team.text
        case _:
            assert_never(actor)


def _actor_words(actor: n.Actor | None) -> str:
    match actor:
        case None:
            return ""
        case n.ByOwner():
            return " by the stage owner"
        case n.ByTeam():
            return f" by {actor.team.text}"
        case _:
            assert_never(actor)


def _pause_keys(pauses: Sequence[n.Pause]) -> dict[tuple[object, ...], str]:
    keys: dict[tuple[object, ...], str] = {}
    for pause in pauses:
        match pause:
            case n.PauseInStages():
                for stage in pause.stages:
                    keys[("in", stage.text)] = f"in {stage.text}"
            case n.PauseWhile():
                keys[("while", normalise(pause.condition))] = _code(format_expr(pause.condition))
            case _:
                assert_never(pause)
    return keys


class _Note:
    """Records the changes of one element, located on each side."""

    def __init__(
        self, changes: list[Change], element: str, name: str, old: Clause | None, new: Clause | None
    ) -> None:
        self.changes, self.element, self.name = changes, element, name
        self.old, self.new = old, new

    def __call__(
        self,
        kind: Kind,
        aspect: str,
        message: str,
        before: str | None = None,
        after: str | None = None,
    ) -> None:
        old = None if kind is Kind.ADDED and not aspect else self.old
        new = None if kind is Kind.REMOVED and not aspect else self.new
        self.changes.append(
            Change(kind, self.element, self.name, aspect, message, old, new, before, after)
        )

    def retitled(self, what: str, before: str, after: str) -> None:
        if before != after:
            message = f"{what} {self.name} is now called {_q(after)} (was {_q(before)})"
            self(Kind.CHANGED, "title", message, before, after)


class _Differ:
    """Walks two versions element by element and collects the changes."""

    def __init__(self, old: Version, new: Version) -> None:
        self.old_places, self.new_places = old.places, new.places
        self.a, self.b = old.agreement, new.agreement
        self.changes: list[Change] = []

    def note(self, element: str, name: str, old: Clause | None, new: Clause | None) -> _Note:
        return _Note(self.changes, element, name, old, new)

    def placed(self, element: str, name: str) -> _Note:
        key = (element, name)
        return self.note(element, name, self.old_places.get(key), self.new_places.get(key))

    def team(self, agreement: Agreement, name: str | None) -> str:
        if name is None:
            return "the owner of the lead's stage"
        return agreement.teams.get(name, name)

    def by(self, agreement: Agreement, actor: n.Actor | None) -> str:
        match actor:
            case None:
                return "anyone"
            case n.ByOwner():
                return "the owner of the lead's stage"
            case n.ByTeam():
                return self.team(agreement, actor.team.text)
            case _:
                assert_never(actor)

    def owner(self, rule: Clock | Cadence | Target) -> str:
        """`Sales development's ` for the team answering for a rule of the new version."""
        team = rule.responsible if isinstance(rule, Target) else _rule_team(self.b, rule)
        return _possessive(None if team is None else self.team(self.b, team))

    def run(self) -> tuple[Change, ...]:
        self.header()
        self.parties()
        self.fields()
        self.activities()
        self.teams()
        self.calendars()
        self.stages()
        self.handoffs()
        self.clocks()
        self.cadences()
        self.targets()
        return tuple(self.changes)

    # ------------------------------------------------------------ header, parties, vocabulary

    def header(self) -> None:
        a, b = self.a, self.b
        note = self.placed("agreement", "")
        if a.title != b.title:
            message = f"The agreement is now titled {_q(b.title)} (was {_q(a.title)})"
            note(Kind.CHANGED, "title", message, a.title, b.title)
        if a.version != b.version:
            message = f"The version label changes from {_q(a.version)} to {_q(b.version)}"
            note(Kind.CHANGED, "version", message, a.version, b.version)
        if a.effective != b.effective:
            was, now = str(a.effective or "none"), str(b.effective or "none")
            message = f"The agreement takes effect on {now} instead of {was}"
            note(Kind.CHANGED, "effective", message, was, now)
        if a.timezone != b.timezone:
            message = (
                f"Targets' weeks, months, quarters and years are cut in {b.timezone} "
                f"instead of {a.timezone}"
            )
            note(Kind.CHANGED, "timezone", message, a.timezone, b.timezone)
        if a.default_calendar != b.default_calendar:
            was, now = a.default_calendar or "none", b.default_calendar or "none"
            message = f"The default calendar is {now} instead of {was}"
            note(Kind.CHANGED, "calendar", message, was, now)

    def parties(self) -> None:
        old = {party.name: party for party in self.a.parties}
        new = {party.name: party for party in self.b.parties}
        for name in _keys(old, new):
            note = self.placed("party", name)
            was, now = old.get(name), new.get(name)
            if was is None:
                assert now is not None
                note(Kind.ADDED, "", f"{now.title} becomes a party, signed by {_signer(now)}")
            elif now is None:
                note(Kind.REMOVED, "", f"{was.title} is no longer a party")
            else:
                note.retitled("Party", was.title, now.title)
                if _signer(was) != _signer(now):
                    message = (
                        f"{now.title} is now signed for by {_signer(now)} instead of {_signer(was)}"
                    )
                    note(Kind.CHANGED, "signatory", message, _signer(was), _signer(now))

    def fields(self) -> None:
        old, new = self.a.fields, self.b.fields
        for name in _keys(old, new):
            note = self.placed("field", name)
            was, now = old.get(name), new.get(name)
            if was is None:
                assert now is not None
                type_ = _field_type(now)
                note(Kind.ADDED, "", f"New field {name} ({type_})", None, type_)
            elif now is None:
                type_ = _field_type(was)
                note(Kind.REMOVED, "", f"Field {name} ({type_}) is no longer declared", type_)
            elif (was.kind, was.currency) != (now.kind, now.currency):
                before, after = _field_type(was), _field_type(now)
                message = f"Field {name} changes type from {before} to {after}"
                note(Kind.CHANGED, "type", message, before, after)
            else:
                old_values = [value.value for value in was.values]
                new_values = [value.value for value in now.values]
                gained = [value for value in new_values if value not in old_values]
                lost = [value for value in old_values if value not in new_values]
                if gained:
                    message = f"Field {name} accepts new values: {_listed(gained)}"
                    note(Kind.ADDED, "values", message, None, _listed(gained))
                if lost:
                    which = "that value" if len(lost) == 1 else "these values"
                    message = (
                        f"Field {name} no longer accepts {_listed(lost)}: rows with {which} are "
                        "rejected"
                    )
                    note(Kind.REMOVED, "values", message, _listed(lost))

    def activities(self) -> None:
        old, new = self.a.activities, self.b.activities
        for name in _keys(old, new):
            note = self.placed("activity", name)
            if name not in old:
                note(Kind.ADDED, "", f"New activity type {name}")
            elif name not in new:
                note(Kind.REMOVED, "", f"Activity type {name} is no longer declared")

    def teams(self) -> None:
        a, b = self.a, self.b
        for name in _keys(a.teams, b.teams):
            note = self.placed("team", name)
            was, now = a.teams.get(name), b.teams.get(name)
            if was is None:
                note(Kind.ADDED, "", f"New team {now}")
            elif now is None:
                note(Kind.REMOVED, "", f"Team {was} is no longer declared")
            else:
                note.retitled("Team", was, now)
        for actor in _keys(a.roster, b.roster):
            was, now = a.roster.get(actor), b.roster.get(actor)
            if was == now:
                continue
            # A team added or removed whole brings or takes its roster: that is one change.
            if (was is None and now not in a.teams) or (now is None and was not in b.teams):
                continue
            # The member's own line where it is listed, else its team's line.
            note = self.placed("team", str(now or was))
            note.old = self.old_places.get(("member", actor), note.old)
            note.new = self.new_places.get(("member", actor), note.new)
            if was is None:
                assert now is not None
                note(Kind.ADDED, "roster", f"{actor} joins {self.team(b, now)}", None, actor)
            elif now is None:
                note(Kind.REMOVED, "roster", f"{actor} leaves {self.team(a, was)}", actor)
            else:
                message = (
                    f"{actor} moves from {self.team(a, was)} to {self.team(b, now)}: "
                    "their activities count for the new team"
                )
                note(Kind.CHANGED, "roster", message, was, now)

    # ------------------------------------------------------------ calendars

    def calendars(self) -> None:
        old, new = self.a.calendars, self.b.calendars
        for name in _keys(old, new):
            if name == ALWAYS:
                continue
            note = self.placed("calendar", name)
            was, now = old.get(name), new.get(name)
            if was is None:
                assert now is not None
                message = f"New calendar {name}: {now.timezone}, open {_week_total(now)} a week"
                note(Kind.ADDED, "", message)
            elif now is None:
                note(Kind.REMOVED, "", f"Calendar {name} is removed")
            else:
                if was.timezone != now.timezone:
                    message = (
                        f"Calendar {name} keeps time in {now.timezone} instead of {was.timezone}"
                    )
                    note(Kind.CHANGED, "timezone", message, was.timezone, now.timezone)
                self.open_hours(note, was, now)
                self.holidays(note, was, now)
                self.closures(note, was, now)
                self.working_day(note, was, now)

    def open_hours(self, note: _Note, was: cal.CalendarSpec, now: cal.CalendarSpec) -> None:
        old_week = [_minutes(day) for day in was.weekly]
        new_week = [_minutes(day) for day in now.weekly]
        if old_week == new_week:
            return
        pairs = list(zip(old_week, new_week, strict=True))
        runs: list[tuple[int, int, str]] = []  # first day, last day, what changed
        for day in range(7):
            if old_week[day] == new_week[day]:
                continue
            change = f"{_windows(was.weekly[day])} -> {_windows(now.weekly[day])}"
            if runs and runs[-1][1] == day - 1 and runs[-1][2] == change:
                runs[-1] = (runs[-1][0], day, change)
            else:
                runs.append((day, day, change))
        days = [_day_range(first, last) + f" {change}" for first, last, change in runs]
        totals = f"{_week_total(was)} -> {_week_total(now)} a week"
        if all(old <= new for old, new in pairs):
            kind, how = Kind.TIGHTENED, "is open longer"
            why = "; business clocks on it run more hours a day, so goals run out sooner"
        elif all(new <= old for old, new in pairs):
            kind, how = Kind.LOOSENED, "is open less"
            why = "; business clocks on it run fewer hours a day, so goals last longer"
        else:
            kind, how, why = Kind.CHANGED, "is open at other times", ""
        message = f"Calendar {note.name} {how}: {'; '.join(days)} ({totals}){why}"
        note(kind, "open hours", message, _week_text(was), _week_text(now))

    def holidays(self, note: _Note, was: cal.CalendarSpec, now: cal.CalendarSpec) -> None:
        old_sets, new_sets = _holiday_items(was), _holiday_items(now)
        gained = [item for item in new_sets if item not in old_sets]
        lost = [item for item in old_sets if item not in new_sets]
        if not gained and not lost:
            return
        parts = []
        if gained:
            parts.append(f"now closes on {_listed(gained)}")
        if lost:
            parts.append(f"no longer closes on {_listed(lost)}")
        kind = Kind.CHANGED if gained and lost else Kind.LOOSENED if gained else Kind.TIGHTENED
        message = f"Calendar {note.name} " + " and ".join(parts)
        note(kind, "holidays", message, _listed(old_sets) or "none", _listed(new_sets) or "none")

    def closures(self, note: _Note, was: cal.CalendarSpec, now: cal.CalendarSpec) -> None:
        old = {(c.first, c.last, c.window): c for c in was.closures}
        new = {(c.first, c.last, c.window): c for c in now.closures}
        for key in _keys(old, new):
            before, after = old.get(key), new.get(key)
            if before is None:
                assert after is not None
                message = f"Calendar {note.name} closes {_closure(after)}"
                note(Kind.LOOSENED, "closures", message, None, _closure(after))
            elif after is None:
                message = f"Calendar {note.name} no longer closes {_closure(before)}"
                note(Kind.TIGHTENED, "closures", message, _closure(before))
            elif before.reason != after.reason:
                message = (
                    f"The closure of {note.name} on {_closure(after, reason=False)} is now "
                    f"explained as {_q(after.reason)} (was {_q(before.reason)})"
                )
                note(Kind.CHANGED, "closures", message, before.reason, after.reason)

    def working_day(self, note: _Note, was: cal.CalendarSpec, now: cal.CalendarSpec) -> None:
        before, after = cal.working_day_seconds(was), cal.working_day_seconds(now)
        if before == after:
            return
        old_text = "unknown" if before is None else human_duration(before * 1_000_000)
        new_text = "unknown" if after is None else human_duration(after * 1_000_000)
        if before is None or after is None:
            kind = Kind.CHANGED
        else:
            kind = Kind.LOOSENED if after > before else Kind.TIGHTENED
        message = f"A business day on {note.name} is {new_text} instead of {old_text}"
        note(kind, "working day", message, old_text, new_text)

    # ------------------------------------------------------------ stages and handoffs

    def stages(self) -> None:
        a, b = self.a, self.b
        for name in _keys(a.stages, b.stages):
            was, now = a.stages.get(name), b.stages.get(name)
            note = self.note("stage", name, *_clauses(was, now))
            if was is None:
                assert now is not None
                message = f"New stage {name}{_titled(now)}, owned by {self.team(b, now.owner)}"
                note(Kind.ADDED, "", message)
            elif now is None:
                note(Kind.REMOVED, "", f"Stage {name}{_titled(was)} is removed")
            else:
                self.stage(note, was, now)

    def stage(self, note: _Note, was: Stage, now: Stage) -> None:
        name = now.name
        if was.owner != now.owner:
            before, after = self.team(self.a, was.owner), self.team(self.b, now.owner)
            message = f"Stage {name} is now owned by {after} instead of {before}"
            note(Kind.CHANGED, "owner", message, before, after)
        note.retitled("Stage", was.title, now.title)
        if was.definition != now.definition:
            message = f"The agreed definition of {name} changes to {_q(now.definition)}"
            note(Kind.CHANGED, "definition", message, was.definition, now.definition)
        if was.initial != now.initial:
            if now.initial:
                note(Kind.LOOSENED, "initial", f"Leads may now start their life in {name}")
            else:
                note(Kind.TIGHTENED, "initial", f"Leads may no longer start their life in {name}")
        if was.terminal != now.terminal:
            if now.terminal:
                message = f"Stage {name} becomes an outcome: leads may not leave it"
                note(Kind.TIGHTENED, "terminal", message)
            else:
                message = f"Stage {name} is no longer an outcome: leads may leave it"
                note(Kind.LOOSENED, "terminal", message)
        for alias in _keys(was.aliases, now.aliases):
            if alias not in was.aliases:
                message = f"The CRM value {_q(alias)} now means {name}"
                note(Kind.ADDED, "aliases", message, None, alias)
            elif alias not in now.aliases:
                message = (
                    f"The CRM value {_q(alias)} no longer means {name}: rows with it are rejected"
                )
                note(Kind.REMOVED, "aliases", message, alias)
        self.dwell(note, was, now)

    def dwell(self, note: _Note, was: Stage, now: Stage) -> None:
        name, before, after = now.name, was.max_dwell, now.max_dwell
        if before is None and after is None:
            return
        if before is None:
            assert after is not None
            message = f"Leads may now stay in {name} at most {after.text} before they stall"
            note(Kind.TIGHTENED, "max dwell", message, None, after.text)
            return
        if after is None:
            message = f"Stage {name} no longer has a dwell limit (was {before.text})"
            note(Kind.LOOSENED, "max dwell", message, before.text)
            return
        kind = _compare_lengths(before, after)
        if kind is not None:
            owner = _possessive(self.team(self.b, now.owner))
            message = f"{owner}dwell limit in {name} {_VERB[kind]} {_from_to(before, after)}"
            note(kind, "max dwell", message, before.text, after.text)

    def handoffs(self) -> None:
        a, b = self.a, self.b
        for key in _keys(a.handoffs, b.handoffs):
            was, now = a.handoffs.get(key), b.handoffs.get(key)
            name = f"{key[0]} -> {key[1]}"
            note = self.note("handoff", name, *_clauses(was, now))
            if was is None:
                assert now is not None
                titled = f" ({now.title})" if now.title else ""
                note(Kind.LOOSENED, "", f"Leads may now move from {key[0]} to {key[1]}{titled}")
            elif now is None:
                message = (
                    f"Leads may no longer move from {key[0]} to {key[1]}: "
                    "such a move is now an illegal transition"
                )
                note(Kind.TIGHTENED, "", message)
            else:
                note.retitled("Handoff", was.title, now.title)
                self.handoff(note, was, now)

    def handoff(self, note: _Note, was: Handoff, now: Handoff) -> None:
        old, new = _conditions(was), _conditions(now)
        kind = judge([key for key, _ in old], [key for key, _ in new])
        if kind is None:
            return
        old_keys, new_keys = {key for key, _ in old}, {key for key, _ in new}
        dropped = [text for key, text in old if key not in new_keys]
        added = [text for key, text in new if key not in old_keys]
        required = set(was.required) != set(now.required)
        criteria = {key for key, _ in old if not _is_required(key, was)} != {
            key for key, _ in new if not _is_required(key, now)
        }
        aspect = " and ".join(
            word for word, differs in (("criteria", criteria), ("requires", required)) if differs
        )
        how = {
            Kind.TIGHTENED: "asks more of a lead",
            Kind.LOOSENED: "asks less of a lead",
            Kind.CHANGED: "asks something else of a lead",
        }[kind]
        titled = f" ({now.title})" if now.title else ""
        message = f"Handoff {note.name}{titled} {how}: {_becomes(dropped, added)}"
        before = " and ".join(text for _, text in old) or "none"
        after = " and ".join(text for _, text in new) or "none"
        note(kind, aspect or "criteria", message, before, after)

    # ------------------------------------------------------------ clocks and cadences

    def clocks(self) -> None:
        a, b = self.a, self.b
        for name in _keys(a.clocks, b.clocks):
            was, now = a.clocks.get(name), b.clocks.get(name)
            note = self.note("clock", name, *_clauses(was, now))
            if was is None:
                assert now is not None
                message = (
                    f"New clock {name}{_titled(now)}: goal {now.goals[-1].length.text}, "
                    f"charged to {self.team(b, _rule_team(b, now))}"
                )
                note(Kind.ADDED, "", message)
            elif now is None:
                message = f"Clock {name}{_titled(was)} is removed: its cycles are no longer judged"
                note(Kind.REMOVED, "", message)
            else:
                self.clock(note, was, now)

    def triggers(
        self, note: _Note, verb: str, was: Sequence[n.Trigger], now: Sequence[n.Trigger]
    ) -> None:
        old, new = _trigger_keys(was), _trigger_keys(now)
        if old.keys() == new.keys():
            return
        gained = [text for key, text in new.items() if key not in old]
        lost = [text for key, text in old.items() if key not in new]
        now_verb, no_longer_verb, aspect = _TRIGGER_VERBS[verb]
        also = " also" if old.keys() & new.keys() else ""
        parts = []
        if gained:
            parts.append(f"{now_verb.format(also)} when {' or '.join(gained)}")
        if lost:
            parts.append(f"{no_longer_verb} when {' or '.join(lost)}")
        message = f"The {_label(note.name)} {note.element} " + "; it ".join(parts)
        note(Kind.CHANGED, aspect, message, " or ".join(old.values()), " or ".join(new.values()))

    def clock(self, note: _Note, was: Clock, now: Clock) -> None:
        label = _label(now.name)
        note.retitled("Clock", was.title, now.title)
        self.triggers(note, "starts", was.starts, now.starts)
        self.triggers(note, "stops", was.stops, now.stops)
        self.triggers(note, "cancels", was.cancels, now.cancels)
        self.pauses(note, was, now)
        self.goals(note, was, now)
        if was.calendar != now.calendar:
            message = f"The {label} clock is measured on {now.calendar} instead of {was.calendar}"
            note(Kind.CHANGED, "calendar", message, was.calendar, now.calendar)
        if was.warn != now.warn:
            before = "never" if was.warn is None else f"{_number(was.warn)}%"
            after = "never" if now.warn is None else f"{_number(now.warn)}%"
            if was.warn is None or now.warn is None:
                kind = Kind.TIGHTENED if was.warn is None else Kind.LOOSENED
            else:
                kind = Kind.TIGHTENED if now.warn < was.warn else Kind.LOOSENED
            if now.warn is None:
                message = (
                    f"The {label} clock no longer warns that a cycle is at risk (was at {before})"
                )
            elif was.warn is None:
                message = (
                    f"The {label} clock now warns that a cycle is at risk at {after} of its goal"
                )
            else:
                message = (
                    f"The {label} clock warns that a cycle is at risk at {after} of its goal "
                    f"instead of {before}"
                )
            note(kind, "warn", message, before, after)
        if was.responsible != now.responsible:
            before, after = self.team(self.a, was.responsible), self.team(self.b, now.responsible)
            message = f"Breaches of the {label} clock are charged to {after} instead of {before}"
            note(Kind.CHANGED, "responsible", message, before, after)

    def pauses(self, note: _Note, was: Clock, now: Clock) -> None:
        old, new = _pause_keys(was.pauses), _pause_keys(now.pauses)
        if old.keys() == new.keys():
            return
        gained = [text for key, text in new.items() if key not in old]
        lost = [text for key, text in old.items() if key not in new]
        parts = []
        if gained:
            parts.append(f"now pauses while {' or '.join(gained)}")
        if lost:
            parts.append(f"no longer pauses while {' or '.join(lost)}")
        kind = Kind.CHANGED if gained and lost else Kind.LOOSENED if gained else Kind.TIGHTENED
        message = f"The {_label(now.name)} clock " + "; it ".join(parts)
        before, after = " or ".join(old.values()) or "none", " or ".join(new.values()) or "none"
        note(kind, "pauses", message, before, after)

    def goals(self, note: _Note, was: Clock, now: Clock) -> None:
        """Goal tiers are matched by their condition, then by position."""
        rule, owner = _label(now.name), self.owner(now)
        old_keys = [_condition_key(goal.condition) for goal in was.goals]
        new_keys = [_condition_key(goal.condition) for goal in now.goals]
        pairs: list[tuple[int, int]] = []
        unmatched_old = list(range(len(was.goals)))
        for j, key in enumerate(new_keys):
            i = next((i for i in unmatched_old if _same(old_keys[i], key)), None)
            if i is not None:
                pairs.append((i, j))
                unmatched_old.remove(i)
        # Conditional tiers matched on both sides must be tried in the same order.
        reordered = [i for i, j in pairs if new_keys[j] is not None] != sorted(
            i for i, j in pairs if new_keys[j] is not None
        )
        unmatched_new = [j for j in range(len(now.goals)) if j not in {j for _, j in pairs}]
        # A tier whose condition was rewritten keeps its position.
        for j in [j for j in unmatched_new if j in unmatched_old]:
            pairs.append((j, j))
            unmatched_old.remove(j)
            unmatched_new.remove(j)
        several = len(now.goals) > 1
        for i, j in sorted(pairs, key=lambda pair: pair[1]):
            before, after = was.goals[i], now.goals[j]
            tier = _Note(self.changes, "clock", now.name, before.clause, after.clause)
            old_text = _tier_text(before.length, before.condition)
            new_text = _tier_text(after.length, after.condition)
            if not _same(old_keys[i], new_keys[j]):
                message = (
                    f"{owner}{rule} goal of {after.length.text} now applies"
                    f"{_tier_condition(after.condition, several)} instead of"
                    f"{_tier_condition(before.condition, several)}"
                )
                if before.length != after.length:
                    message += f" (it was {before.length.text})"
                tier(Kind.CHANGED, f"goal {j + 1}", message, old_text, new_text)
                continue
            kind = _compare_lengths(before.length, after.length)
            if kind is None or (kind is Kind.CHANGED and before.length.text == after.length.text):
                continue  # the same words on another calendar: reported as the clock's calendar
            condition = _tier_condition(after.condition, several)
            message = (
                f"{owner}{rule} goal{condition} {_VERB[kind]} "
                f"{_from_to(before.length, after.length)}"
            )
            tier(kind, f"goal {j + 1}", message, before.length.text, after.length.text)
        for j in unmatched_new:
            goal = now.goals[j]
            tier = _Note(self.changes, "clock", now.name, None, goal.clause)
            message = (
                f"{owner}{rule} clock has a new goal tier: {goal.length.text}"
                f"{_tier_condition(goal.condition, True)}"
            )
            tier(
                Kind.ADDED, f"goal {j + 1}", message, None, _tier_text(goal.length, goal.condition)
            )
        for i in unmatched_old:
            goal = was.goals[i]
            tier = _Note(self.changes, "clock", now.name, goal.clause, None)
            message = (
                f"{owner}{rule} clock drops its goal tier of {goal.length.text}"
                f"{_tier_condition(goal.condition, True)}"
            )
            tier(
                Kind.REMOVED, f"old goal {i + 1}", message, _tier_text(goal.length, goal.condition)
            )
        if reordered:
            message = (
                f"The {rule} clock tries its goal tiers in another order "
                "(the first tier that matches wins)"
            )
            note(Kind.CHANGED, "goal order", message)

    def cadences(self) -> None:
        a, b = self.a, self.b
        for name in _keys(a.cadences, b.cadences):
            was, now = a.cadences.get(name), b.cadences.get(name)
            note = self.note("cadence", name, *_clauses(was, now))
            if was is None:
                assert now is not None
                message = (
                    f"New cadence {name}{_titled(now)}: at least {now.minimum} "
                    f"{_listed(now.types)}{_actor_words(now.by)} within {now.within.text}"
                )
                note(Kind.ADDED, "", message)
            elif now is None:
                note(Kind.REMOVED, "", f"Cadence {name}{_titled(was)} is removed")
            else:
                self.cadence(note, was, now)

    def cadence(self, note: _Note, was: Cadence, now: Cadence) -> None:
        label, owner = _label(now.name), self.owner(now)
        note.retitled("Cadence", was.title, now.title)
        self.triggers(note, "starts", was.starts, now.starts)
        self.triggers(note, "exits", was.exits, now.exits)
        if was.minimum != now.minimum:
            kind = Kind.TIGHTENED if now.minimum > was.minimum else Kind.LOOSENED
            message = (
                f"{owner}{label} cadence {_VERB[kind]} from {was.minimum} to {now.minimum} "
                f"activities within {now.within.text}"
            )
            note(kind, "count", message, str(was.minimum), str(now.minimum))
        old_types, new_types = set(was.types), set(now.types)
        if old_types != new_types:
            if new_types < old_types:
                kind = Kind.TIGHTENED
            elif old_types < new_types:
                kind = Kind.LOOSENED
            else:
                kind = Kind.CHANGED
            before, after = _listed(was.types), _listed(now.types)
            message = f"{owner}{label} cadence {_VERB[kind]}: it counts {after} instead of {before}"
            note(kind, "activities", message, before, after)
        if was.by != now.by:
            if was.by is None or now.by is None:
                kind = Kind.TIGHTENED if was.by is None else Kind.LOOSENED
            else:
                kind = Kind.CHANGED
            before, after = self.by(self.a, was.by), self.by(self.b, now.by)
            message = (
                f"{owner}{label} cadence {_VERB[kind]}: it counts activities by {after} "
                f"instead of {before}"
            )
            note(kind, "by", message, before, after)
        kind_ = _compare_lengths(was.within, now.within)
        if kind_ is not None and not (kind_ is Kind.CHANGED and was.within.text == now.within.text):
            message = (
                f"{owner}{label} cadence window {_VERB[kind_]} {_from_to(was.within, now.within)}"
            )
            note(kind_, "window", message, was.within.text, now.within.text)
        if was.calendar != now.calendar:
            message = f"The {label} cadence is measured on {now.calendar} instead of {was.calendar}"
            note(Kind.CHANGED, "calendar", message, was.calendar, now.calendar)
        if was.responsible != now.responsible:
            before, after = self.team(self.a, was.responsible), self.team(self.b, now.responsible)
            message = f"Breaches of the {label} cadence are charged to {after} instead of {before}"
            note(Kind.CHANGED, "responsible", message, before, after)

    # ------------------------------------------------------------ targets

    def targets(self) -> None:
        a, b = self.a, self.b
        for name in _keys(a.targets, b.targets):
            was, now = a.targets.get(name), b.targets.get(name)
            note = self.note("target", name, *_clauses(was, now))
            if was is None:
                assert now is not None
                note(Kind.ADDED, "", f"New target {name}{_titled(now)}: {_target_text(now)}")
            elif now is None:
                note(Kind.REMOVED, "", f"Target {name}{_titled(was)} is removed")
            else:
                self.target(note, was, now)

    def target(self, note: _Note, was: Target, now: Target) -> None:
        label, owner = _label(now.name), self.owner(now)
        note.retitled("Target", was.title, now.title)
        old_text, new_text = _target_text(was), _target_text(now)
        old_shape = (was.period, was.bound, _subject(was.measure))
        if old_shape != (now.period, now.bound, _subject(now.measure)):
            message = f"{owner}{label} target changes from {old_text} to {new_text}"
            note(Kind.CHANGED, "measure", message, old_text, new_text)
        else:
            old_goal, new_goal = _goal_value(was.measure), _goal_value(now.measure)
            if old_goal != new_goal:
                higher = new_goal > old_goal
                kind = Kind.TIGHTENED if higher == (now.bound == "at least") else Kind.LOOSENED
                before_text, after_text = _goal_text(was.measure), _goal_text(now.measure)
                message = (
                    f"{owner}{label} target {_VERB[kind]} from {now.bound} {before_text} to "
                    f"{now.bound} {after_text} {_goal_rest(now)}"
                )
                note(kind, "goal", message, before_text, after_text)
            self.target_window(note, was, now)
        if was.responsible != now.responsible:
            before = self.team(self.a, was.responsible) if was.responsible else "no team"
            after = self.team(self.b, now.responsible) if now.responsible else "no team"
            message = f"The {label} target is answered for by {after} instead of {before}"
            note(Kind.CHANGED, "responsible", message, before, after)

    def target_window(self, note: _Note, was: Target, now: Target) -> None:
        before, after = was.within, now.within
        if before is None and after is None:
            return
        # A longer window lets more leads count: easier to reach `at least`, harder to stay
        # under `at most`.
        at_least = now.bound == "at least"
        if before is None or after is None:
            longer = after is None
            kind: Kind | None = Kind.LOOSENED if longer == at_least else Kind.TIGHTENED
        else:
            kind = _compare_lengths(before, after)
            if kind is None:
                return
            if kind is not Kind.CHANGED:
                longer = kind is Kind.LOOSENED
                kind = Kind.LOOSENED if longer == at_least else Kind.TIGHTENED
        assert kind is not None
        old_text = f"within {before.text}" if before else "at any time"
        new_text = f"within {after.text}" if after else "at any time"
        counted = (
            f"leads reaching {now.measure.target.text}"
            if isinstance(now.measure, n.Conversion)
            else "work on leads"
        )
        message = (
            f"{self.owner(now)}{_label(now.name)} target {_VERB[kind]}: it counts {counted} "
            f"{new_text} instead of {old_text}"
        )
        note(kind, "within", message, old_text, new_text)


def compare(old: Version, new: Version) -> Diff:
    """The semantic changes from `old` to `new`."""
    return Diff(old.label, new.label, _Differ(old, new).run())


# ---------------------------------------------------------------- phrasing helpers


def _clauses(
    was: Stage | Handoff | Clock | Cadence | Target | None,
    now: Stage | Handoff | Clock | Cadence | Target | None,
) -> tuple[Clause | None, Clause | None]:
    return (None if was is None else was.clause, None if now is None else now.clause)


def _titled(element: Stage | Clock | Cadence | Target) -> str:
    """` (Title)`, or nothing when the title is only the name."""
    return "" if element.title == element.name else f" ({element.title})"


def _signer(party: Party) -> str:
    return party.signatory + (f" as {party.role}" if party.role else "")


def _field_type(field: n.FieldType) -> str:
    text: str = field.kind
    if field.currency is not None:
        text += f" {field.currency.text}"
    if field.values:
        text += " [" + ", ".join(value.value for value in field.values) + "]"
    return text


def _number(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _minutes(windows: Sequence[tuple[int, int]]) -> frozenset[int]:
    return frozenset(minute for start, end in windows for minute in range(start, end))


def _windows(windows: Sequence[tuple[int, int]]) -> str:
    if not windows:
        return "closed"
    return ", ".join(f"{_clock(start)}-{_clock(end)}" for start, end in windows)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _day_range(first: int, last: int) -> str:
    if first == last:
        return _DAYS[first]
    joint = " and " if last == first + 1 else " to "
    return f"{_DAYS[first]}{joint}{_DAYS[last]}"


def _week_total(spec: cal.CalendarSpec) -> str:
    minutes = sum(len(_minutes(day)) for day in spec.weekly)
    return human_duration(minutes * 60_000_000)


def _week_text(spec: cal.CalendarSpec) -> str:
    return "; ".join(f"{_DAYS[day][:3]} {_windows(spec.weekly[day])}" for day in range(7))


def _holiday_items(spec: cal.CalendarSpec) -> list[str]:
    items: list[str] = []
    for holiday_set in spec.holiday_sets:
        region = holiday_set.country + (
            f"-{holiday_set.subdivision}" if holiday_set.subdivision else ""
        )
        for category in (cal.PUBLIC, *holiday_set.categories):
            item = f"{region} {category} holidays"
            if item not in items:
                items.append(item)
    return items


def _closure(closure: cal.Closure, reason: bool = True) -> str:
    text = str(closure.first)
    if closure.last != closure.first:
        text += f" to {closure.last}"
    if closure.window is not None:
        text += f" {_clock(closure.window[0])}-{_clock(closure.window[1])}"
    return text + (f" ({closure.reason})" if closure.reason and reason else "")


def _rule_team(agreement: Agreement, rule: Clock | Cadence) -> str | None:
    """The team a rule's breaches are charged to, when the agreement says or implies one team.

    Without `responsible`, a breach is charged to the owner of the lead's stage at the start;
    the stage is known when every start trigger enters a stage.
    """
    if rule.responsible is not None:
        return rule.responsible
    owners: set[str | None] = set()
    for trigger in rule.starts:
        match trigger:
            case n.OnEnter():
                stages = [stage.text for stage in trigger.stages]
            case n.OnHandoff():
                stages = [trigger.target.text]
            case _:
                return None
        for stage in stages:
            found = agreement.stages.get(stage)
            owners.add(found.owner if found else None)
    return owners.pop() if len(owners) == 1 else None


def _condition_key(condition: n.Expr | None) -> n.Expr | None:
    return None if condition is None else normalise(condition)


def _same(old: n.Expr | None, new: n.Expr | None) -> bool:
    """Whether two normalised tier conditions (None: the catch-all) hold for the same leads."""
    if old is None or new is None:
        return old is new
    return old == new or (implies(old, new) and implies(new, old))


def _tier_condition(condition: n.Expr | None, several: bool) -> str:
    if condition is None:
        return " for other leads" if several else ""
    return f" when {_code(format_expr(condition))}"


def _tier_text(length: Length, condition: n.Expr | None) -> str:
    return length.text + ("" if condition is None else f" if {format_expr(condition)}")


def _becomes(dropped: Sequence[str], added: Sequence[str]) -> str:
    old = " and ".join(_code(text) for text in dropped)
    new = " and ".join(_code(text) for text in added)
    if dropped and added:
        return f"{old} becomes {new}"
    if added:
        return f"adds {new}"
    if dropped:
        return f"drops {old}"
    return "the same conditions, written differently"


def _subject(measure: n.Measure) -> tuple[str, ...]:
    match measure:
        case n.Volume():
            return ("volume", measure.stage.text)
        case n.Conversion():
            return ("conversion", measure.source.text, measure.target.text)
        case n.Attainment():
            return ("attainment", measure.clock.text)
        case n.Worked():
            return ("worked", measure.stage.text, _actor_key(measure.by))
        case _:
            assert_never(measure)


def _goal_value(measure: n.Measure) -> Decimal:
    if isinstance(measure, n.Volume):
        return Decimal(measure.count)
    return measure.percent.value


def _goal_text(measure: n.Measure) -> str:
    if isinstance(measure, n.Volume):
        return str(measure.count)
    return f"{_number(measure.percent.value)}%"


def _goal_rest(target: Target) -> str:
    """The words after the number: `leads entering mql each month`."""
    measure = target.measure
    within = f" within {target.within.text}" if target.within is not None else ""
    match measure:
        case n.Volume():
            rest = f"leads entering {measure.stage.text}"
        case n.Conversion():
            rest = f"of leads entering {measure.source.text} reaching {measure.target.text}{within}"
        case n.Attainment():
            rest = f"of {measure.clock.text} cycles met"
        case n.Worked():
            rest = (
                f"of leads entering {measure.stage.text} worked{_actor_words(measure.by)}{within}"
            )
        case _:
            assert_never(measure)
    return f"{rest} each {target.period}"


def _target_text(target: Target) -> str:
    return f"{target.bound} {_goal_text(target.measure)} {_goal_rest(target)}"


# ---------------------------------------------------------------- criteria


def _literal(literal: n.Literal) -> n.Literal:
    # Enum values may be written bare or quoted; both are the same value.
    if literal.kind == "symbol":
        return n.Literal("string", literal.value)
    return literal


def _literal_order(literal: n.Literal) -> tuple[str, str]:
    return (literal.kind, str(literal.value))


def _duration(duration: n.Duration) -> n.Duration:
    """A duration in minutes (business minutes), except business days, whose length is a
    calendar's working day."""
    if duration.unit is None:
        return duration
    base = duration.unit.removeprefix("business ")
    if duration.business and base == "days":
        return n.Duration(duration.amount, duration.unit, business=True)
    minutes = duration.amount * UNIT_SECONDS[base] / 60
    unit: n.UnitWord = "business minutes" if duration.business else "minutes"
    return n.Duration(minutes, unit, business=duration.business)


def _order(expr: n.Expr) -> tuple[str, str]:
    return (format_expr(expr), repr(expr))


def normalise(expr: n.Expr) -> n.Expr:
    """A canonical form of a criterion: equal for criteria that differ only in how they are
    written (operand order, duplicates, `in [a]` for `= a`, units, `not not`)."""
    match expr:
        case n.Comparison():
            return n.Comparison(expr.field, expr.op, _literal(expr.value))
        case n.Membership():
            values = sorted({_literal(value) for value in expr.values}, key=_literal_order)
            if len(values) == 1:
                return n.Comparison(expr.field, "!=" if expr.negated else "=", values[0])
            return n.Membership(expr.field, tuple(values), expr.negated)
        case n.Presence():
            return expr
        case n.Recent():
            return n.Recent(expr.field, _duration(expr.duration))
        case n.ActivityCount():
            types = tuple(n.Name(name) for name in sorted({t.text for t in expr.types}))
            return n.ActivityCount(expr.minimum, types, expr.by, expr.since)
        case n.And() | n.Or():
            parts: list[n.Expr] = []
            for part in expr.parts:
                inner = normalise(part)
                if type(inner) is type(expr):
                    parts.extend(inner.parts)
                else:
                    parts.append(inner)
            unique = sorted(set(parts), key=_order)
            if len(unique) == 1:
                return unique[0]
            return n.And(tuple(unique)) if isinstance(expr, n.And) else n.Or(tuple(unique))
        case n.Not():
            inner = normalise(expr.part)
            if isinstance(inner, n.Not):
                return inner.part
            if isinstance(inner, n.Presence):
                return n.Presence(inner.field, not inner.present)
            return n.Not(inner)
        case _:
            assert_never(expr)


def _conditions(handoff: Handoff) -> list[tuple[n.Expr, str]]:
    """The handoff's conditions, one per conjunct, normalised and as written; `requires F` is
    the condition `F is set`."""
    found: dict[n.Expr, str] = {}
    for field in handoff.required:
        found.setdefault(n.Presence(n.Name(field), True), f"requires {field}")
    for criterion in handoff.criteria:
        parts = criterion.parts if isinstance(criterion, n.And) else (criterion,)
        for part in parts:
            normal = normalise(part)
            for conjunct in normal.parts if isinstance(normal, n.And) else (normal,):
                text = format_expr(part) if conjunct is normal else format_expr(conjunct)
                found.setdefault(conjunct, text)
    return list(found.items())


def _is_required(key: n.Expr, handoff: Handoff) -> bool:
    return isinstance(key, n.Presence) and key.present and key.field.text in handoff.required


def judge(old: Sequence[n.Expr], new: Sequence[n.Expr]) -> Kind | None:
    """How the conjunction of `new` compares with that of `old`: TIGHTENED when new implies
    old, LOOSENED when old implies new, None when both (the same meaning), else CHANGED."""
    before, after = normalise(n.And(tuple(old))), normalise(n.And(tuple(new)))
    if before == after:
        return None
    forward, backward = implies(after, before), implies(before, after)
    if forward and backward:
        return None
    if forward:
        return Kind.TIGHTENED
    if backward:
        return Kind.LOOSENED
    return Kind.CHANGED


def implies(p: n.Expr, q: n.Expr) -> bool:
    """Whether every lead meeting criterion `p` meets `q`, proved from their form.

    Sound but not complete: False means "not proved". Both must be normalised. Comparisons with
    an unset field are false, so any condition on a field implies that it is set.
    """
    if p == q:
        return True
    if isinstance(q, n.And):
        return all(implies(p, part) for part in q.parts)
    if isinstance(p, n.Or):
        return all(implies(part, q) for part in p.parts)
    if isinstance(p, n.And) and any(implies(part, q) for part in p.parts):
        return True
    if isinstance(q, n.Or) and any(implies(p, part) for part in q.parts):
        return True
    return _atom_implies(p, q)


def _field_of(expr: n.Expr) -> str | None:
    """The field a condition holds only when it is set."""
    match expr:
        case n.Comparison() | n.Membership() | n.Recent():
            return expr.field.text
        case n.Presence():
            return expr.field.text if expr.present else None
        case _:
            return None


def _atom_implies(p: n.Expr, q: n.Expr) -> bool:
    if isinstance(p, n.Not) and isinstance(q, n.Not):
        return implies(q.part, p.part)
    if isinstance(q, n.Presence) and q.present:
        return _field_of(p) == q.field.text
    if isinstance(p, n.Comparison | n.Membership) and isinstance(q, n.Comparison | n.Membership):
        return p.field.text == q.field.text and _values_imply(p, q)
    if isinstance(p, n.Recent) and isinstance(q, n.Recent):
        shorter, longer = _recency(p.duration), _recency(q.duration)
        return (
            p.field.text == q.field.text
            and shorter is not None
            and longer is not None
            and shorter[0] == longer[0]
            and shorter[1] <= longer[1]
        )
    if isinstance(p, n.ActivityCount) and isinstance(q, n.ActivityCount):
        return (
            p.by == q.by
            and p.since == q.since
            and {t.text for t in p.types} <= {t.text for t in q.types}
            and p.minimum >= q.minimum
        )
    return False


def _recency(duration: n.Duration) -> tuple[tuple[bool, bool], Decimal] | None:
    """A recency window as (kind of time, amount): comparable only within one kind."""
    if duration.unit is None:
        return None
    base = duration.unit.removeprefix("business ")
    if duration.business and base == "days":
        return (True, True), duration.amount
    return (duration.business, False), duration.amount * UNIT_SECONDS[base]


def _points(expr: n.Comparison | n.Membership) -> tuple[n.Literal, ...] | None:
    if isinstance(expr, n.Comparison):
        return (expr.value,) if expr.op == "=" else None
    return None if expr.negated else expr.values


def _values_imply(p: n.Comparison | n.Membership, q: n.Comparison | n.Membership) -> bool:
    points = _points(p)
    if points is not None:
        return all(_value_meets(point, q) for point in points)
    if isinstance(p, n.Membership):  # `not in S`
        if isinstance(q, n.Comparison):
            return q.op == "!=" and q.value in p.values
        return q.negated and set(q.values) <= set(p.values)
    if isinstance(q, n.Membership):
        # An interval or `!= v` is in no finite list, and outside one only value by value.
        return q.negated and all(
            _values_imply(p, n.Comparison(q.field, "!=", value)) for value in q.values
        )
    if not _comparable(p.value, q.value):
        return False
    return _interval_implies(p.op, p.value.value, q.op, q.value.value)


def _comparable(a: n.Literal, b: n.Literal) -> bool:
    return a.kind == b.kind and a.kind in _ORDERED_KINDS


def _value_meets(value: n.Literal, q: n.Comparison | n.Membership) -> bool:
    """Whether a field equal to `value` meets `q`."""
    if isinstance(q, n.Membership):
        same_kind = all(item.kind == value.kind for item in q.values)
        return value not in q.values and same_kind if q.negated else value in q.values
    if q.op == "=":
        return value == q.value
    if q.op == "!=":
        return value.kind == q.value.kind and value != q.value
    if not _comparable(value, q.value):
        return False
    a: Any = value.value
    b: Any = q.value.value
    match q.op:
        case "<":
            return bool(a < b)
        case "<=":
            return bool(a <= b)
        case ">":
            return bool(a > b)
        case ">=":
            return bool(a >= b)
    return False


def _interval_implies(op1: str, v1: Any, op2: str, v2: Any) -> bool:
    """Whether `x op1 v1` implies `x op2 v2` for every ordered x (op1 is not `=`)."""
    if op1 == "!=":
        return op2 == "!=" and bool(v1 == v2)
    if op2 == "=":
        return False
    lower = op1 in (">", ">=")
    if op2 == "!=":
        if lower:
            return bool(v1 > v2) if op1 == ">=" else bool(v1 >= v2)
        return bool(v1 < v2) if op1 == "<=" else bool(v1 <= v2)
    if lower != (op2 in (">", ">=")):
        return False
    if lower:
        if op2 == ">=" or op1 == ">":
            return bool(v1 >= v2)
        return bool(v1 > v2)
    if op2 == "<=" or op1 == "<":
        return bool(v1 <= v2)
    return bool(v1 < v2)


# ---------------------------------------------------------------- impact


@dataclass(frozen=True, slots=True)
class Score:
    """Outcomes of a set of cycles; attainment = met / (met + breached), None without either."""

    met: int
    breached: int
    pending: int
    cancelled: int
    attainment: float | None


@dataclass(frozen=True, slots=True)
class RuleShift:
    """A clock or cadence, overall (team None, overall True) or for one responsible team."""

    rule: str
    kind: str  # clock or cadence
    team: str | None
    overall: bool
    before: Score | None  # None: the rule is not in that version
    after: Score | None


@dataclass(frozen=True, slots=True)
class Flip:
    """One lead's cycle whose outcome differs between the versions (None: no such cycle)."""

    lead: str
    rule: str
    index: int
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class LeadShift:
    """A lead whose violations differ: (kind, rule) pairs only in the new / only in the old."""

    lead: str
    added: tuple[tuple[str, str], ...]
    resolved: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PeriodShift:
    """One period of a target whose verdict differs between the versions."""

    period: str
    partial: bool
    before: str | None  # met, missed, or None (no value)
    after: str | None
    before_value: str
    after_value: str


@dataclass(frozen=True, slots=True)
class TargetShift:
    """A target's complete periods met and missed, before and after, and the periods that flip."""

    target: str
    title: str
    period: str
    before: tuple[int, int] | None  # (met, missed); None: not in that version
    after: tuple[int, int] | None
    periods: tuple[PeriodShift, ...]


@dataclass(frozen=True, slots=True)
class Impact:
    """What the new version would have changed on a log, against the old one."""

    logs: tuple[str, ...]
    as_of: int
    leads: int
    replayed: tuple[int, int]  # rows replayed under the old and the new version
    rejected: tuple[int, int]
    rules: tuple[RuleShift, ...]
    flips: tuple[Flip, ...]
    leads_shifted: tuple[LeadShift, ...]
    targets: tuple[TargetShift, ...]


def impact(
    old: Agreement,
    new: Agreement,
    items: Sequence[Event | Rejected],
    as_of: int | None = None,
    logs: Sequence[str] = (),
) -> Impact:
    """Replay the log under both versions at one as-of instant (default: the latest event in
    the log, so that both sides judge open cycles at the same moment) and compare."""
    if as_of is None:
        as_of = max((item.time for item in items if isinstance(item, Event)), default=0)
    results: list[ReplayResult] = []
    for agreement in (old, new):
        prepared = prepare(agreement, items, as_of)
        results.append(replay_prepared(Engine(agreement), prepared))
    before, after = results
    leads = {lead.lead for lead in before.leads} | {lead.lead for lead in after.leads}
    return Impact(
        logs=tuple(logs),
        as_of=as_of,
        leads=len(leads),
        replayed=(before.accounting.replayed, after.accounting.replayed),
        rejected=(before.accounting.rejected, after.accounting.rejected),
        rules=_rule_shifts(old, before, new, after),
        flips=_flips(before, after),
        leads_shifted=_lead_shifts(before, after),
        targets=_target_shifts(old, before, new, after),
    )


def _score(found: report.Attainment | None) -> Score | None:
    if found is None:
        return None
    return Score(found.met, found.breached, found.pending, found.cancelled, found.attainment)


def _rule_shifts(
    old: Agreement, before: ReplayResult, new: Agreement, after: ReplayResult
) -> tuple[RuleShift, ...]:
    old_rules = {rule.name: rule for rule in report.rule_summaries(old, before)}
    new_rules = {rule.name: rule for rule in report.rule_summaries(new, after)}
    shifts: list[RuleShift] = []
    for name in _keys(old_rules, new_rules):
        was, now = old_rules.get(name), new_rules.get(name)
        kind = (now or was).kind  # type: ignore[union-attr]
        shifts.append(
            RuleShift(
                name,
                kind,
                None,
                True,
                _score(was.overall if was else None),
                _score(now.overall if now else None),
            )
        )
        old_teams = {row.team or "": row for row in (was.by_team if was else [])}
        new_teams = {row.team or "": row for row in (now.by_team if now else [])}
        for team in sorted(set(old_teams) | set(new_teams)):
            empty = report.attainment((), team or None)
            shifts.append(
                RuleShift(
                    name,
                    kind,
                    team or None,
                    False,
                    _score(old_teams.get(team, empty)) if was else None,
                    _score(new_teams.get(team, empty)) if now else None,
                )
            )
    return tuple(shifts)


def _flips(before: ReplayResult, after: ReplayResult) -> tuple[Flip, ...]:
    old = {(c.lead, c.rule, c.index): c.outcome.value for c in before.cycles}
    new = {(c.lead, c.rule, c.index): c.outcome.value for c in after.cycles}
    flips: list[Flip] = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lead, rule, index = key
            flips.append(Flip(lead, rule, index, old.get(key), new.get(key)))
    return tuple(flips)


def _lead_shifts(before: ReplayResult, after: ReplayResult) -> tuple[LeadShift, ...]:
    def counted(result: ReplayResult) -> dict[str, Counter[tuple[str, str]]]:
        found: dict[str, Counter[tuple[str, str]]] = {}
        for lead in result.leads:
            found[lead.lead] = Counter((v.kind.value, v.rule) for v in lead.violations)
        return found

    old, new = counted(before), counted(after)
    shifts: list[LeadShift] = []
    for lead in sorted(set(old) | set(new)):
        was, now = old.get(lead, Counter()), new.get(lead, Counter())
        added = tuple(sorted((now - was).keys()))
        resolved = tuple(sorted((was - now).keys()))
        if added or resolved:
            shifts.append(LeadShift(lead, added, resolved))
    return tuple(shifts)


def _verdict(row: analysis.TargetPeriod | None) -> str | None:
    return None if row is None or row.verdict is None else row.verdict.value


def _value(stats: analysis.TargetStats | None, row: analysis.TargetPeriod | None) -> str:
    if stats is None or row is None or row.value is None:
        return "-"
    if stats.kind == "volume":
        return str(row.part)
    return f"{report.percent(row.value)} ({row.part}/{row.whole})"


def _target_shifts(
    old: Agreement, before: ReplayResult, new: Agreement, after: ReplayResult
) -> tuple[TargetShift, ...]:
    old_targets = {t.name: t for t in analysis.analyse(old, before).targets}
    new_targets = {t.name: t for t in analysis.analyse(new, after).targets}
    shifts: list[TargetShift] = []
    for name in _keys(old_targets, new_targets):
        was, now = old_targets.get(name), new_targets.get(name)
        either = now or was
        assert either is not None
        old_rows = {row.period.label: row for row in (was.periods if was else ())}
        new_rows = {row.period.label: row for row in (now.periods if now else ())}
        periods = tuple(
            PeriodShift(
                label,
                (new_rows.get(label) or old_rows[label]).period.partial,
                _verdict(old_rows.get(label)),
                _verdict(new_rows.get(label)),
                _value(was, old_rows.get(label)),
                _value(now, new_rows.get(label)),
            )
            for label in _keys(old_rows, new_rows)
            if was is not None
            and now is not None
            and _verdict(old_rows.get(label)) != _verdict(new_rows.get(label))
        )
        shifts.append(
            TargetShift(
                name,
                either.title,
                either.period,
                (was.met, was.missed) if was else None,
                (now.met, now.missed) if now else None,
                periods,
            )
        )
    return tuple(shifts)


# ---------------------------------------------------------------- rendering


def _summary(diff: Diff) -> str:
    total = len(diff.changes)
    if not total:
        return "No change in meaning."
    counts = [f"{diff.count(kind)} {kind.value}" for kind in Kind if diff.count(kind)]
    return f"{total} change{'s' if total != 1 else ''}: {', '.join(counts)}"


def _score_text(score: Score | None) -> str:
    if score is None:
        return "(not in this version)"
    judged = score.met + score.breached
    return f"{report.percent(score.attainment)} ({score.met}/{judged})"


def _delta(shift: RuleShift) -> str:
    was, now = shift.before, shift.after
    if was is None or now is None or was.attainment is None or now.attainment is None:
        return ""
    points = (now.attainment - was.attainment) * 100
    return "no change" if abs(points) < 0.05 else f"{points:+.1f} pts"


def _periods_text(counts: tuple[int, int] | None, period: str) -> str:
    if counts is None:
        return "(not in this version)"
    met, missed = counts
    return f"met {met} of {met + missed} complete {period}s"


def _outcome(value: str | None) -> str:
    return "(no cycle)" if value is None else value


def _verdict_text(value: str | None) -> str:
    return "no value" if value is None else value


def _flip_counts(flips: Sequence[Flip]) -> str:
    counted = Counter(f"{_outcome(f.before)} -> {_outcome(f.after)}" for f in flips)
    return ", ".join(f"{pair}: {count}" for pair, count in sorted(counted.items()))


def _violation_text(pairs: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f"{kind} {rule}" for kind, rule in pairs)


def _impact_header(impact: Impact) -> str:
    logs = ", ".join(impact.logs) if impact.logs else "the log"
    return f"Impact on {logs}: {impact.leads} leads, as of {report.iso(impact.as_of)}"


def _rows_note(impact: Impact) -> str | None:
    if impact.replayed[0] == impact.replayed[1] and impact.rejected[0] == impact.rejected[1]:
        return None
    return (
        f"rows replayed {impact.replayed[0]} -> {impact.replayed[1]}, "
        f"rejected {impact.rejected[0]} -> {impact.rejected[1]} "
        "(the versions read the log differently)"
    )


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_text(diff: Diff, impact: Impact | None = None) -> str:
    """The diff (and impact) as plain text for a terminal or a CI log."""
    lines = [f"slaspec diff {diff.old} -> {diff.new}", _summary(diff)]
    if diff.changes:
        lines.append("")
        width = max(len(kind.value) for kind in Kind)
        for change in diff.changes:
            lines.append(
                f"{change.kind.value:<{width}}  {change.message} ({change.where}: {change.lines})"
            )
    if impact is not None:
        lines += ["", *_impact_text(impact)]
    return "\n".join(lines) + "\n"


def _impact_text(impact: Impact) -> list[str]:
    lines = [_impact_header(impact)]
    note = _rows_note(impact)
    if note:
        lines.append(f"  {note}")
    lines += ["", "Attainment (met of met + breached)"]
    rows = [["rule", "team", "before", "after", "change"]]
    for rule in impact.rules:
        name = f"{rule.kind} {rule.rule}" if rule.overall else ""
        team = "all teams" if rule.overall else rule.team or "(no team)"
        rows.append([name, team, _score_text(rule.before), _score_text(rule.after), _delta(rule)])
    lines += [f"  {line}" for line in _table(rows)] if impact.rules else ["  no clocks"]
    lines += ["", f"Cycles whose outcome changes: {len(impact.flips)}"]
    if impact.flips:
        lines[-1] += f" ({_flip_counts(impact.flips)})"
        for flip in impact.flips[:LISTED]:
            lines.append(
                f"  {flip.lead}  {flip.rule} #{flip.index}  "
                f"{_outcome(flip.before)} -> {_outcome(flip.after)}"
            )
        lines += _more(len(impact.flips))
    newly = sum(bool(shift.added) for shift in impact.leads_shifted)
    cleared = sum(bool(shift.resolved) for shift in impact.leads_shifted)
    lines += ["", f"Leads with new violations: {newly}; with violations resolved: {cleared}"]
    for shift in impact.leads_shifted[:LISTED]:
        parts = []
        if shift.added:
            parts.append(f"+ {_violation_text(shift.added)}")
        if shift.resolved:
            parts.append(f"- {_violation_text(shift.resolved)}")
        lines.append(f"  {shift.lead}  {'; '.join(parts)}")
    lines += _more(len(impact.leads_shifted))
    lines += ["", "Targets"]
    if not impact.targets:
        lines.append("  no targets")
    for target in impact.targets:
        lines.append(
            f"  {target.target}: {_periods_text(target.before, target.period)} -> "
            f"{_periods_text(target.after, target.period)}"
        )
        for period in target.periods[:LISTED]:
            partial = " (partial)" if period.partial else ""
            lines.append(
                f"    {period.period}{partial}: {_verdict_text(period.before)} -> "
                f"{_verdict_text(period.after)} ({period.before_value} -> {period.after_value})"
            )
        lines += [f"  {line}" for line in _more(len(target.periods))]
    return lines


def _more(count: int) -> list[str]:
    return [f"  ... and {count - LISTED} more (see --format json)"] if count > LISTED else []


def _cell(text: str) -> str:
    """Text for a Markdown table cell: no HTML outside code spans, pipes escaped."""
    pieces = text.replace("\n", " ").split("`")
    out = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            # `<` opens every tag and `&` every entity; a lone `>` (as in `->`) is plain text.
            piece = piece.replace("&", "&amp;").replace("<", "&lt;")
        out.append(piece.replace("|", "\\|"))
    return "`".join(out)


def render_markdown(diff: Diff, impact: Impact | None = None) -> str:
    """The diff (and impact) as Markdown for a pull-request comment."""
    lines = [
        f"### slaspec diff: {_cell(_code(diff.old))} -> {_cell(_code(diff.new))}",
        "",
        f"**{_cell(_summary(diff))}**",
    ]
    if diff.changes:
        lines += [
            "",
            "| Change | What it means | Where | Old | New |",
            "| --- | --- | --- | --- | --- |",
        ]
        for change in diff.changes:
            cells = [
                f"**{change.kind.value}**",
                _cell(change.message),
                _cell(change.where),
                _cell(_code(_at(change.old))) if change.old else "",
                _cell(_code(_at(change.new))) if change.new else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    if impact is not None:
        lines += ["", *_impact_markdown(impact)]
    return "\n".join(lines) + "\n"


def _impact_markdown(impact: Impact) -> list[str]:
    lines = [f"#### {_cell(_impact_header(impact))}"]
    note = _rows_note(impact)
    if note:
        lines += ["", f"_{_cell(note)}_"]
    lines += ["", "| Rule | Team | Before | After | Change |", "| --- | --- | --- | --- | --- |"]
    for rule in impact.rules:
        name = f"{rule.kind} `{rule.rule}`" if rule.overall else ""
        team = "all teams" if rule.overall else rule.team or "(no team)"
        cells = [name, team, _score_text(rule.before), _score_text(rule.after), _delta(rule)]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    lines += ["", f"**Cycles whose outcome changes: {len(impact.flips)}**"]
    if impact.flips:
        lines[-1] += f" ({_cell(_flip_counts(impact.flips))})"
        lines += ["", "| Lead | Rule | Cycle | Before | After |", "| --- | --- | --- | --- | --- |"]
        for flip in impact.flips[:LISTED]:
            cells = [
                flip.lead,
                flip.rule,
                str(flip.index),
                _outcome(flip.before),
                _outcome(flip.after),
            ]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines += [line.strip() for line in _more(len(impact.flips))]
    newly = sum(bool(shift.added) for shift in impact.leads_shifted)
    cleared = sum(bool(shift.resolved) for shift in impact.leads_shifted)
    lines += ["", f"**Leads with new violations: {newly}; with violations resolved: {cleared}**"]
    if impact.leads_shifted:
        lines += ["", "| Lead | New violations | Resolved |", "| --- | --- | --- |"]
        for shift in impact.leads_shifted[:LISTED]:
            cells = [shift.lead, _violation_text(shift.added), _violation_text(shift.resolved)]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines += [line.strip() for line in _more(len(impact.leads_shifted))]
    lines += ["", "**Targets**", ""]
    if not impact.targets:
        lines.append("No targets.")
    else:
        lines += ["| Target | Before | After | Periods that flip |", "| --- | --- | --- | --- |"]
        for target in impact.targets:
            flips = "; ".join(
                f"{p.period}{' (partial)' if p.partial else ''}: {_verdict_text(p.before)} -> "
                f"{_verdict_text(p.after)}"
                for p in target.periods[:LISTED]
            )
            if len(target.periods) > LISTED:
                flips += f"; and {len(target.periods) - LISTED} more"
            cells = [
                f"`{target.target}`",
                _periods_text(target.before, target.period),
                _periods_text(target.after, target.period),
                flips,
            ]
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return lines


def _place_json(clause: Clause | None) -> dict[str, Any] | None:
    return None if clause is None else {"file": clause.file, "line": clause.line}


def _score_json(score: Score | None) -> dict[str, Any] | None:
    if score is None:
        return None
    return {
        "met": score.met,
        "breached": score.breached,
        "pending": score.pending,
        "cancelled": score.cancelled,
        "attainment": score.attainment,
    }


def _counts_json(counts: tuple[int, int] | None) -> dict[str, int] | None:
    return None if counts is None else {"met": counts[0], "missed": counts[1]}


def _impact_json(impact: Impact) -> dict[str, Any]:
    return {
        "logs": list(impact.logs),
        "as_of": report.iso(impact.as_of),
        "leads": impact.leads,
        "rows": {
            "replayed": {"before": impact.replayed[0], "after": impact.replayed[1]},
            "rejected": {"before": impact.rejected[0], "after": impact.rejected[1]},
        },
        "rules": [
            {
                "rule": shift.rule,
                "kind": shift.kind,
                "team": shift.team,
                "overall": shift.overall,
                "before": _score_json(shift.before),
                "after": _score_json(shift.after),
            }
            for shift in impact.rules
        ],
        "flips": [
            {
                "lead": flip.lead,
                "rule": flip.rule,
                "cycle": flip.index,
                "before": flip.before,
                "after": flip.after,
            }
            for flip in impact.flips
        ],
        "leads_shifted": [
            {
                "lead": shift.lead,
                "added": [{"kind": kind, "rule": rule} for kind, rule in shift.added],
                "resolved": [{"kind": kind, "rule": rule} for kind, rule in shift.resolved],
            }
            for shift in impact.leads_shifted
        ],
        "targets": [
            {
                "target": target.target,
                "title": target.title,
                "period": target.period,
                "before": _counts_json(target.before),
                "after": _counts_json(target.after),
                "periods": [
                    {
                        "period": p.period,
                        "partial": p.partial,
                        "before": p.before,
                        "after": p.after,
                        "before_value": p.before_value,
                        "after_value": p.after_value,
                    }
                    for p in target.periods
                ],
            }
            for target in impact.targets
        ],
    }


def render_json(diff: Diff, impact: Impact | None = None) -> str:
    """The diff (and impact) as a JSON document for other tools."""
    document: dict[str, Any] = {
        "old": diff.old,
        "new": diff.new,
        "summary": {kind.value: diff.count(kind) for kind in Kind} | {"total": len(diff.changes)},
        "changes": [
            {
                "kind": change.kind.value,
                "element": change.element,
                "name": change.name,
                "aspect": change.aspect,
                "message": change.message,
                "old": _place_json(change.old),
                "new": _place_json(change.new),
                "before": change.before,
                "after": change.after,
            }
            for change in diff.changes
        ],
        "impact": None if impact is None else _impact_json(impact),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"text": render_text, "markdown": render_markdown, "json": render_json}
"""The output formats of `slaspec diff`."""
