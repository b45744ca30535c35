"""Formatting: a parsed agreement (AST and comments) -> its one canonical text layout.

The layout is a function of the AST, the comments and where the comments sit; any two texts with
the same meaning and the same comments in the same places format to the same bytes.

Layout
    Four-space indentation, LF line ends, no trailing spaces, one final newline (an empty file
    stays empty). Top-level statements keep their source order and are separated by one blank
    line. Inside a block there are no blank lines.

Grouping
    Consecutive `field` declarations form one `fields:` block and consecutive activity types one
    `activities a, b, c` line. Repeatable list clauses (`members`, `aliases`, `requires` on a
    handoff) are merged into one line too. A list line is broken where it would pass 100 columns,
    where a comment sits before an item, and after the items that shared a source line with a
    trailing comment (so a suppression comment keeps covering exactly the same items).

Clause order inside a block
    agreement: version, effective, party..., calendar, timezone
    calendar:  timezone, open..., public holidays..., closed..., working day
    stage:     owner, definition, aliases, initial, terminal, calendar, max dwell
    handoff:   requires, criteria...
    clock:     starts..., stops..., cancels..., pauses..., goal..., calendar, warn, responsible
    cadence:   starts..., requires at least, exits..., calendar, responsible
    target:    each, responsible
    Repeated clauses (goal tiers, open lines, criteria, triggers) keep their relative order.

Spellings
    Durations use full unit words, singular for an amount of 1 (`1 business hour`, `4 hours`); an
    ambiguous or unknown unit is printed as written so the checker can still point at it.
    Numbers are plain decimals without insignificant zeros (`4.50` -> `4.5`, `007` -> `7`), never
    in exponent notation. Strings are re-escaped (`\\"`, `\\\\`, `\\n`, `\\t`). Enum values and
    aliases are bare when they are names that are not keywords, quoted otherwise. A run of three or
    more consecutive weekdays is written `monday to friday`, shorter runs as a list; `closed D to D`
    becomes `closed D`; a UTC offset of zero is written `Z`.

Long lines
    A `definition` that does not fit in 100 columns becomes a triple-quoted string filled to
    100 columns (definitions are whitespace-collapsed, so the wrapping keeps their meaning). An
    enum list that does not fit is filled inside its brackets, continuation lines indented four
    more spaces. A criterion (`criteria`, `pauses while`, `goal ... if`) that does not fit is put
    in parentheses with one operand per line, each line after the first starting with its `and`
    or `or`; an operand that still does not fit is broken the same way inside its own
    parentheses. Criteria are otherwise printed with the fewest parentheses the precedence
    (`not` over `and` over `or`) allows.

Comments
    A comment on its own line belongs to the clause or statement below it, and is printed just
    above it; at the top level, blank lines around such comments are kept (at most one). A
    comment after code belongs to the clause on its line and stays at the end of that clause's
    last line; when several end up on one clause, all but the last are printed above it. An
    indented comment after the last clause of a block stays at the end of that block, and
    comments after the last statement stay at the end of the file. No comment is dropped or
    repeated.
"""

from __future__ import annotations

import bisect
import datetime as dt
import difflib
import functools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import assert_never

from slaspec import nodes as n
from slaspec.parser import Comment, Parsed, grammar_text

WIDTH = 100
INDENT = "    "

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SINGULAR = {"minutes": "minute", "hours": "hour", "days": "day", "weeks": "week"}


def format_document(parsed: Parsed) -> str:
    """The canonical text of a parsed agreement (which must have parsed without syntax errors)."""
    if parsed.document is None:
        raise ValueError("cannot format a source with syntax errors")
    statements = _statements(parsed.document)
    text = parsed.source.text if parsed.source.text.endswith("\n") else parsed.source.text + "\n"
    notes = _attach(text, parsed.comments, statements)
    return _render(statements, notes)


def check_formatted(parsed: Parsed) -> bool:
    """Whether the source text is already in canonical layout."""
    return format_document(parsed) == parsed.source.text


def diff(parsed: Parsed, name: str) -> str:
    """A unified diff from the source text to its canonical layout; empty when formatted."""
    before = _split_lines(parsed.source.text)
    after = _split_lines(format_document(parsed))
    lines = difflib.unified_diff(before, after, fromfile=f"a/{name}", tofile=f"b/{name}")
    return "".join(_terminated(line) for line in lines)


def _split_lines(text: str) -> list[str]:
    # Only LF ends a line here (str.splitlines would also cut at form feeds and U+2028).
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _terminated(line: str) -> str:
    # Like git: a last line without a line break is flagged instead of being glued to the next.
    return line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


# ---------------------------------------------------------------- the output plan


@dataclass(frozen=True, slots=True)
class _Fixed:
    """A clause printed as given; continuation lines carry their own extra indentation."""

    lines: tuple[str, ...]
    anchor: int | None
    marker: str = ""


@dataclass(frozen=True, slots=True)
class _Listed:
    """A clause listing items after a keyword; the items are packed into as few lines as fit."""

    keyword: str
    items: tuple[str, ...]
    anchors: tuple[int, ...]


_Clause = _Fixed | _Listed


@dataclass(frozen=True, slots=True)
class _Statement:
    """One top-level statement of the output: its header line(s) and its block's clauses."""

    head: _Clause
    body: tuple[_Clause, ...]


# (statement index, clause index or -1 for the head, item index of a listed clause)
_Key = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class _Note:
    """A comment placed above something, with the blank lines around it in the source."""

    text: str
    blank_before: bool = False
    blank_after: bool = False


@dataclass(frozen=True, slots=True)
class _Notes:
    """Every comment of a document, assigned to the place it is printed."""

    leading: dict[_Key, tuple[_Note, ...]]
    trailing: dict[_Key, str]
    group_end: dict[_Key, int]
    block_end: dict[int, tuple[str, ...]]
    file_end: tuple[_Note, ...]


def _statements(document: n.Document) -> tuple[_Statement, ...]:
    entries: list[n.Header | n.Declaration] = list(document.declarations)
    if document.header is not None:
        entries.append(document.header)
    # The header's place among the declarations is known only from its span.
    entries.sort(key=lambda entry: entry.span.start)
    statements: list[_Statement] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        if isinstance(entry, n.Field):
            fields: list[n.Field] = []
            while index < len(entries) and isinstance(entries[index], n.Field):
                fields.append(entries[index])  # type: ignore[arg-type]
                index += 1
            head = _Fixed(("fields:",), None, "fields:")
            statements.append(_Statement(head, tuple(_field(item) for item in fields)))
            continue
        if isinstance(entry, n.ActivityType):
            types: list[n.ActivityType] = []
            while index < len(entries) and isinstance(entries[index], n.ActivityType):
                types.append(entries[index])  # type: ignore[arg-type]
                index += 1
            items = tuple(item.name.text for item in types)
            anchors = tuple(item.span.start for item in types)
            statements.append(_Statement(_Listed("activities", items, anchors), ()))
            continue
        statements.append(_statement(entry))
        index += 1
    return tuple(statements)


def _statement(entry: n.Header | n.Declaration) -> _Statement:
    start = entry.span.start
    match entry:
        case n.Header():
            return _Statement(
                _head(f"agreement {_quote(entry.title.value)}:", start), _header(entry)
            )
        case n.Use():
            return _Statement(_head(f"use {_quote(entry.path.value)}", start), ())
        case n.Team():
            title = _title(entry.name, entry.title)
            if not entry.members:
                return _Statement(_head(f"team {title}", start), ())
            members = tuple(_quote(member.value) for member in entry.members)
            anchors = tuple(member.span.start for member in entry.members)
            return _Statement(
                _head(f"team {title}:", start), (_Listed("members", members, anchors),)
            )
        case n.Calendar():
            return _Statement(
                _head(f"calendar {_title(entry.name, entry.title)}:", start), _calendar(entry)
            )
        case n.Stage():
            return _Statement(
                _head(f"stage {_title(entry.name, entry.title)}:", start), _stage(entry)
            )
        case n.Handoff():
            line = f"handoff {entry.source.text} -> {_title(entry.target, entry.title)}"
            body: tuple[_Clause, ...] = ()
            if entry.required:
                names = tuple(name.text for name in entry.required)
                anchors = tuple(name.span.start for name in entry.required)
                body += (_Listed("requires", names, anchors),)
            body += tuple(_criterion("criteria ", expr, expr.span.start) for expr in entry.criteria)
            return _Statement(_head(line + ":" if body else line, start), body)
        case n.Clock():
            return _Statement(
                _head(f"clock {_title(entry.name, entry.title)}:", start), _clock(entry)
            )
        case n.Cadence():
            return _Statement(
                _head(f"cadence {_title(entry.name, entry.title)}:", start), _cadence(entry)
            )
        case n.Target():
            return _Statement(
                _head(f"target {_title(entry.name, entry.title)}:", start), _target(entry)
            )
        case n.Field() | n.ActivityType():
            raise AssertionError("fields and activities are grouped by _statements")
        case _:
            assert_never(entry)


def _head(line: str, anchor: int) -> _Fixed:
    return _Fixed((line,), anchor)


def _line(text: str, anchor: int) -> _Fixed:
    return _Fixed((text,), anchor)


def _title(name: n.Name, title: n.Text | None) -> str:
    return name.text if title is None else f"{name.text} {_quote(title.value)}"


def _header(header: n.Header) -> tuple[_Clause, ...]:
    clauses: list[_Clause] = []
    if header.version is not None:
        clauses.append(_line(f"version {_quote(header.version.value)}", header.version.span.start))
    if header.effective is not None:
        effective = f"effective {header.effective.isoformat()}"
        clauses.append(_line(effective, header.effective_span.start))
    for party in header.parties:
        text = f"party {party.name.text} {_quote(party.title.value)}"
        text += f" signed by {_quote(party.signatory.value)}"
        if party.role is not None:
            text += f" as {_quote(party.role.value)}"
        clauses.append(_line(text, party.span.start))
    if header.calendar is not None:
        clauses.append(_line(f"calendar {header.calendar.text}", header.calendar.span.start))
    if header.timezone is not None:
        clauses.append(
            _line(f"timezone {_quote(header.timezone.value)}", header.timezone.span.start)
        )
    return tuple(clauses)


def _field(field: n.Field) -> _Fixed:
    description = "" if field.description is None else " " + _quote(field.description.value)
    kind: str = field.type.kind
    if kind == "enum":
        values = [_bare_or_quoted(value.value) for value in field.type.values]
        return _Fixed(
            _fill(f"{field.name.text}: enum [", values, ", ", "]" + description), field.span.start
        )
    if kind == "money" and field.type.currency is not None:
        kind = f"money {field.type.currency.text}"
    return _line(f"{field.name.text}: {kind}{description}", field.span.start)


def _calendar(calendar: n.Calendar) -> tuple[_Clause, ...]:
    clauses: list[_Clause] = []
    if calendar.timezone is not None:
        clauses.append(
            _line(f"timezone {_quote(calendar.timezone.value)}", calendar.timezone.span.start)
        )
    for hours in calendar.hours:
        windows = ", ".join(_window(window) for window in hours.windows)
        clauses.append(_line(f"open {_days(hours.days)} {windows}", hours.span.start))
    for holidays in calendar.holidays:
        region = holidays.country
        if holidays.subdivision is not None:
            region += f"-{holidays.subdivision}"
        text = f"public holidays {region}"
        if holidays.categories:
            text += " including " + ", ".join(name.text for name in holidays.categories)
        clauses.append(_line(text, holidays.span.start))
    for closure in calendar.closures:
        text = f"closed {closure.first.isoformat()}"
        if closure.last != closure.first:
            text += f" to {closure.last.isoformat()}"
        if closure.window is not None:
            text += f" {_window(closure.window)}"
        if closure.reason is not None:
            text += f" {_quote(closure.reason.value)}"
        clauses.append(_line(text, closure.span.start))
    if calendar.working_day is not None:
        day = calendar.working_day
        clauses.append(_line(f"working day {_duration(day)}", day.span.start))
    return tuple(clauses)


def _days(days: Sequence[int]) -> str:
    # The AST keeps the days in written order, so only increasing runs may become ranges.
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_DAYS[run[0]]} to {_DAYS[run[-1]]}")
        else:
            parts.extend(_DAYS[day] for day in run)
    return ", ".join(parts)


def _window(window: n.Window) -> str:
    return f"{_clock_time(window.start)}-{_clock_time(window.end)}"


def _clock_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _stage(stage: n.Stage) -> tuple[_Clause, ...]:
    clauses: list[_Clause] = []
    if stage.owner is not None:
        clauses.append(_line(f"owner {stage.owner.text}", stage.owner.span.start))
    if stage.definition is not None:
        clauses.append(_definition(stage.definition))
    if stage.aliases:
        items = tuple(_bare_or_quoted(alias.value) for alias in stage.aliases)
        clauses.append(
            _Listed("aliases", items, tuple(alias.span.start for alias in stage.aliases))
        )
    if stage.initial:
        clauses.append(_Fixed(("initial",), None, "initial"))
    if stage.terminal:
        clauses.append(_Fixed(("terminal",), None, "terminal"))
    if stage.calendar is not None:
        clauses.append(_line(f"calendar {stage.calendar.text}", stage.calendar.span.start))
    if stage.max_dwell is not None:
        dwell = stage.max_dwell
        clauses.append(_line(f"max dwell {_duration(dwell)}", dwell.span.start))
    return tuple(clauses)


def _definition(definition: n.Text) -> _Fixed:
    value = definition.value
    short = f"definition {_quote(value)}"
    anchor = definition.span.start
    # Only a whitespace-collapsed value (as the parser makes it) survives being re-wrapped.
    if len(INDENT) + len(short) <= WIDTH or value != " ".join(value.split()):
        return _line(short, anchor)
    words = [word.replace("\\", "\\\\").replace('"', '\\"') for word in value.split(" ")]
    return _Fixed(_fill('definition """', words, " ", '"""'), anchor)


def _fill(head: str, items: Sequence[str], separator: str, tail: str) -> tuple[str, ...]:
    """`head` and the items joined by `separator`, filled to the width; `tail` ends the last."""
    one_line = head + separator.join(items) + tail
    if len(INDENT) + len(one_line) <= WIDTH:
        return (one_line,)
    glue = separator.rstrip()
    pieces = [item + glue for item in items[:-1]] + [items[-1] + tail]
    lines: list[str] = []
    current = head
    fresh = True
    for piece in pieces:
        if fresh:
            current += piece
            fresh = False
        elif len(INDENT) + len(current) + 1 + len(piece) > WIDTH:
            lines.append(current)
            current = INDENT + piece
        else:
            current += " " + piece
    lines.append(current)
    return tuple(lines)


def _clock(clock: n.Clock) -> tuple[_Clause, ...]:
    clauses: list[_Clause] = []
    for word, triggers in (
        ("starts", clock.starts),
        ("stops", clock.stops),
        ("cancels", clock.cancels),
    ):
        clauses.extend(
            _line(f"{word} when {_trigger(trigger)}", trigger.span.start) for trigger in triggers
        )
    for pause in clock.pauses:
        match pause:
            case n.PauseInStages():
                stages = ", ".join(stage.text for stage in pause.stages)
                clauses.append(_line(f"pauses while in {stages}", pause.span.start))
            case n.PauseWhile():
                clauses.append(_criterion("pauses while ", pause.condition, pause.span.start))
            case _:
                assert_never(pause)
    for goal in clock.goals:
        text = f"goal {_duration(goal.duration)}"
        if goal.condition is None:
            clauses.append(_line(text, goal.span.start))
        else:
            clauses.append(_criterion(f"{text} if ", goal.condition, goal.span.start))
    if clock.calendar is not None:
        clauses.append(_line(f"calendar {clock.calendar.text}", clock.calendar.span.start))
    if clock.warn is not None:
        clauses.append(_line(f"warn at {_number(clock.warn.value)}%", clock.warn.span.start))
    if clock.responsible is not None:
        clauses.append(_line(f"responsible {clock.responsible.text}", clock.responsible.span.start))
    return tuple(clauses)


def _cadence(cadence: n.Cadence) -> tuple[_Clause, ...]:
    clauses: list[_Clause] = [
        _line(f"starts when {_trigger(trigger)}", trigger.span.start) for trigger in cadence.starts
    ]
    # The grammar requires at least one activity type, so no types means no obligation clause.
    if cadence.types:
        text = f"requires at least {cadence.minimum} {_names(cadence.types)}{_actor(cadence.by)}"
        if cadence.within is not None:
            text += f" within {_duration(cadence.within)}"
        clauses.append(_line(text, cadence.obligation_span.start))
    clauses.extend(
        _line(f"exits when {_trigger(trigger)}", trigger.span.start) for trigger in cadence.exits
    )
    if cadence.calendar is not None:
        clauses.append(_line(f"calendar {cadence.calendar.text}", cadence.calendar.span.start))
    if cadence.responsible is not None:
        clauses.append(
            _line(f"responsible {cadence.responsible.text}", cadence.responsible.span.start)
        )
    return tuple(clauses)


def _target(target: n.Target) -> tuple[_Clause, ...]:
    clauses: list[_Clause] = []
    if target.measure is not None and target.period is not None:
        text = f"each {target.period} {target.bound} {_measure(target.measure)}"
        clauses.append(_line(text, target.measure.span.start))
    if target.responsible is not None:
        clauses.append(
            _line(f"responsible {target.responsible.text}", target.responsible.span.start)
        )
    return tuple(clauses)


def _measure(measure: n.Measure) -> str:
    match measure:
        case n.Volume():
            return f"{measure.count} leads enter {measure.stage.text}"
        case n.Conversion():
            text = f"{_number(measure.percent.value)}% of leads entering {measure.source.text}"
            return text + f" reach {measure.target.text}{_within(measure.within)}"
        case n.Attainment():
            return f"{_number(measure.percent.value)}% of {measure.clock.text} cycles met"
        case n.Worked():
            text = f"{_number(measure.percent.value)}% of leads entering {measure.stage.text}"
            return text + f" worked{_actor(measure.by)}{_within(measure.within)}"
        case _:
            assert_never(measure)


def _within(duration: n.Duration | None) -> str:
    return "" if duration is None else f" within {_duration(duration)}"


def _trigger(trigger: n.Trigger) -> str:
    match trigger:
        case n.OnEnter():
            return f"lead enters {_names(trigger.stages)}"
        case n.OnLeave():
            return f"lead leaves {_names(trigger.stages)}"
        case n.OnHandoff():
            return f"handoff {trigger.source.text} -> {trigger.target.text}"
        case n.OnCreate():
            return "lead is created"
        case n.OnAssign():
            return "lead is assigned"
        case n.OnActivity():
            return f"activity {_names(trigger.types)}{_actor(trigger.by)}"
        case _:
            assert_never(trigger)


def _actor(actor: n.Actor | None) -> str:
    match actor:
        case None:
            return ""
        case n.ByOwner():
            return " by owner"
        case n.ByTeam():
            return f" by {actor.team.text}"
        case _:
            assert_never(actor)


def _names(names: Sequence[n.Name]) -> str:
    return ", ".join(name.text for name in names)


# ---------------------------------------------------------------- values


def _number(value: Decimal) -> str:
    """A decimal in plain notation without insignificant zeros."""
    # format(..., "f") keeps every digit, where normalize() would round to the context precision.
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _duration(duration: n.Duration) -> str:
    amount = _number(duration.amount)
    if duration.unit is None:
        return f"{amount} {duration.written}"
    unit: str = duration.unit
    if duration.amount == 1:
        *business, word = unit.split(" ")
        unit = " ".join([*business, _SINGULAR[word]])
    return f"{amount} {unit}"


def _quote(value: str) -> str:
    escaped = (
        value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    return f'"{escaped}"'


@functools.cache
def _keywords() -> frozenset[str]:
    return frozenset(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', grammar_text()))


def _bare_or_quoted(value: str) -> str:
    if _NAME.fullmatch(value) and value not in _keywords():
        return value
    return _quote(value)


def _literal(literal: n.Literal) -> str:
    value = literal.value
    match literal.kind:
        case "string":
            assert isinstance(value, str)
            return _quote(value)
        case "number":
            assert isinstance(value, Decimal)
            return _number(value)
        case "date":
            assert isinstance(value, dt.date)
            return value.isoformat()
        case "datetime":
            assert isinstance(value, dt.datetime)
            text = value.isoformat(timespec="seconds" if value.second else "minutes")
            return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
        case "boolean":
            return "true" if value is True else "false"
        case "symbol":
            assert isinstance(value, str)
            return value
        case _:
            assert_never(literal.kind)


# ---------------------------------------------------------------- criteria


def _precedence(expr: n.Expr) -> int:
    match expr:
        case n.Or():
            return 1
        case n.And():
            return 2
        case n.Not():
            return 3
        case _:
            return 4


def _expr(expr: n.Expr) -> str:
    """A criterion on one line, with the fewest parentheses."""
    match expr:
        case n.Or():
            return " or ".join(_operand(part, 2) for part in expr.parts)
        case n.And():
            return " and ".join(_operand(part, 3) for part in expr.parts)
        case n.Not():
            return "not " + _operand(expr.part, 3)
        case n.Comparison():
            return f"{expr.field.text} {expr.op} {_literal(expr.value)}"
        case n.Membership():
            values = ", ".join(_literal(value) for value in expr.values)
            return f"{expr.field.text} {'not in' if expr.negated else 'in'} [{values}]"
        case n.Presence():
            return f"{expr.field.text} is {'set' if expr.present else 'not set'}"
        case n.Recent():
            return f"{expr.field.text} within {_duration(expr.duration)}"
        case n.ActivityCount():
            text = f"at least {expr.minimum} {_names(expr.types)}{_actor(expr.by)}"
            return text if expr.since is None else f"{text} since entering {expr.since.text}"
        case _:
            assert_never(expr)


def _operand(expr: n.Expr, least: int) -> str:
    text = _expr(expr)
    return f"({text})" if _precedence(expr) < least else text


def _breakable(expr: n.Expr) -> bool:
    while isinstance(expr, n.Not):
        expr = expr.part
    return isinstance(expr, n.And | n.Or)


def _criterion(prefix: str, expr: n.Expr, anchor: int) -> _Fixed:
    one_line = prefix + _expr(expr)
    if len(INDENT) + len(one_line) <= WIDTH or not _breakable(expr):
        return _line(one_line, anchor)
    return _Fixed(tuple(_broken(prefix, expr, len(INDENT))), anchor)


def _broken(lead: str, expr: n.Expr, column: int) -> list[str]:
    """`lead` and the expression in parentheses, one operand per line (the lead is at column)."""
    while isinstance(expr, n.Not):
        lead += "not "
        expr = expr.part
    assert isinstance(expr, n.And | n.Or)
    word, least = ("and", 3) if isinstance(expr, n.And) else ("or", 2)
    lines = [lead + "("]
    for index, part in enumerate(expr.parts):
        prefix = "" if index == 0 else word + " "
        text = prefix + _operand(part, least)
        if column + len(INDENT) + len(text) <= WIDTH or not _breakable(part):
            lines.append(INDENT + text)
        else:
            lines.extend(INDENT + line for line in _broken(prefix, part, column + len(INDENT)))
    lines.append(")")
    return lines


# ---------------------------------------------------------------- comments


@dataclass(frozen=True, slots=True)
class _Logical:
    """One logical source line: a clause or statement header, with any bracketed continuations."""

    start: int
    end: int
    first_line: int
    last_line: int
    indented: bool
    code: str


_SCAN = re.compile(
    r'(?P<long>"""(?:[^"\\]|\\.|"(?!""))*""")'
    r'|(?P<string>"(?:[^"\\\n]|\\.)*")'
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<continuation>\\[\t \f]*\r?\n)"
    r"|(?P<newline>\n)"
    r"|(?P<open>[(\[])"
    r"|(?P<close>[)\]])"
    r"|(?P<space>[^\S\n]+)"
    r"|(?P<word>[^\"#\\\s()\[\]]+|.)",
    re.S,
)


def _logical_lines(text: str) -> Iterator[_Logical]:
    """The logical lines, cut where the indenter cuts them: at line breaks outside brackets."""
    depth = 0
    start = -1
    code: list[str] = []
    for match in _SCAN.finditer(text):
        kind = match.lastgroup
        if kind in ("comment", "continuation", "space"):
            continue
        if kind == "newline":
            if depth == 0 and start >= 0:
                line_start = text.rfind("\n", 0, start) + 1
                yield _Logical(
                    start,
                    match.start(),
                    text.count("\n", 0, start),
                    text.count("\n", 0, match.start()),
                    start > line_start,
                    "".join(code),
                )
                start = -1
                code = []
            continue
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        if start < 0:
            start = match.start()
        code.append(match.group())


def _anchors(statements: Sequence[_Statement]) -> dict[int, _Key]:
    anchors: dict[int, _Key] = {}
    for index, statement in enumerate(statements):
        for position, clause in enumerate((statement.head, *statement.body)):
            match clause:
                case _Fixed():
                    if clause.anchor is not None:
                        anchors[clause.anchor] = (index, position - 1, 0)
                case _Listed():
                    for item, offset in enumerate(clause.anchors):
                        anchors[offset] = (index, position - 1, item)
                case _:
                    assert_never(clause)
    return anchors


@dataclass(frozen=True, slots=True)
class _Place:
    """Where the comments of one logical line go: its clause, and the last item on the line."""

    key: _Key
    last_item: int
    trailing_ok: bool


def _places(lines: Sequence[_Logical], statements: Sequence[_Statement]) -> list[_Place]:
    anchors = _anchors(statements)
    offsets = sorted(anchors)
    places: list[_Place | None] = []
    current = -1
    for line in lines:
        low = bisect.bisect_left(offsets, line.start)
        high = bisect.bisect_left(offsets, line.end)
        keys = [anchors[offset] for offset in offsets[low:high]]
        if keys:
            if not line.indented:
                current = keys[0][0]
            places.append(_Place(keys[0], keys[-1][2], True))
        elif line.code in ("initial", "terminal"):
            body = statements[current].body
            position = next(
                i for i, c in enumerate(body) if isinstance(c, _Fixed) and c.marker == line.code
            )
            places.append(_Place((current, position, 0), 0, True))
        elif line.code == "fields:":
            places.append(None)
        else:
            raise AssertionError(f"no clause of the AST lies on the line `{line.code}`")
    # A `fields:` line belongs to the field below it; only the first block of a group keeps a head.
    resolved: list[_Place] = []
    for index in range(len(places) - 1, -1, -1):
        place = places[index]
        if place is None:
            below = resolved[0].key if resolved else None
            assert below is not None and below[1] >= 0, "a `fields:` line is followed by a field"
            first_field = below[1] == 0
            place = _Place((below[0], -1, 0), 0, True) if first_field else _Place(below, 0, False)
        resolved.insert(0, place)
    return resolved


def _attach(text: str, comments: Sequence[Comment], statements: Sequence[_Statement]) -> _Notes:
    """Give every comment its place in the output, from where it sits in the source."""
    lines = list(_logical_lines(text))
    places = _places(lines, statements)
    starts = [line.start for line in lines]
    leading: dict[_Key, list[_Note]] = {}
    # Comments within a clause's own line(s), in source order: (text, after code, last item).
    within: dict[_Key, list[tuple[str, bool, int]]] = {}
    block_end: dict[int, list[str]] = {}
    file_end: list[_Note] = []

    # Physical line spans of everything, to know where the blank lines are.
    between = [c for c in comments if not _inside(lines, starts, c.span.start)]
    spans = sorted(
        [(line.first_line, line.last_line) for line in lines]
        + [(text.count("\n", 0, c.span.start),) * 2 for c in between]
    )
    firsts = [first for first, _ in spans]

    for comment in comments:
        offset = comment.span.start
        index = bisect.bisect_right(starts, offset) - 1
        if index >= 0 and offset < lines[index].end:
            place = places[index]
            if not place.trailing_ok:
                # A merged `fields:` header: its comments precede everything about the field.
                leading.setdefault(place.key, []).append(_Note(comment.text))
            else:
                entry = (comment.text, not comment.own_line, place.last_item)
                within.setdefault(place.key, []).append(entry)
            continue
        row = text.count("\n", 0, offset)
        slot = bisect.bisect_left(firsts, row)
        note = _Note(
            comment.text,
            blank_before=slot > 0 and row - spans[slot - 1][1] > 1,
            blank_after=slot + 1 < len(spans) and spans[slot + 1][0] - row > 1,
        )
        before = places[index] if index >= 0 else None
        after = places[index + 1] if index + 1 < len(lines) else None
        indented = offset > text.rfind("\n", 0, offset) + 1
        if after is not None and lines[index + 1].indented:
            leading.setdefault(after.key, []).append(_Note(comment.text))
        elif (
            indented
            and before is not None
            and statements[before.key[0]].body
            and (after is None or after.key[0] != before.key[0])
        ):
            block_end.setdefault(before.key[0], []).append(comment.text)
        elif after is not None:
            leading.setdefault(after.key, []).append(note)
        else:
            file_end.append(note)

    # A clause's last line holds one trailing comment; any others of the clause move above it,
    # keeping their order.
    trailing: dict[_Key, str] = {}
    group_end: dict[_Key, int] = {}
    for key, found in within.items():
        *others, (last, after_code, last_item) = found
        above = leading.setdefault(key, [])
        above.extend(_Note(other) for other, _, _ in others)
        if after_code:
            trailing[key] = last
            group_end[key] = last_item
        else:
            above.append(_Note(last))
    return _Notes(
        {key: tuple(notes) for key, notes in leading.items()},
        trailing,
        group_end,
        {key: tuple(texts) for key, texts in block_end.items()},
        tuple(file_end),
    )


def _inside(lines: Sequence[_Logical], starts: Sequence[int], offset: int) -> bool:
    index = bisect.bisect_right(starts, offset) - 1
    return index >= 0 and offset < lines[index].end


# ---------------------------------------------------------------- rendering


def _render(statements: Sequence[_Statement], notes: _Notes) -> str:
    out: list[str] = []
    for index, statement in enumerate(statements):
        if out:
            out.append("")
        above = notes.leading.get((index, -1, 0), ())
        for position, note in enumerate(above):
            if position > 0 and note.blank_before:
                out.append("")
            out.append(note.text)
        if above and above[-1].blank_after:
            out.append("")
        out.extend(_clause_lines(statement.head, (index, -1), "", notes, head=True))
        for position, clause in enumerate(statement.body):
            out.extend(_clause_lines(clause, (index, position), INDENT, notes, head=False))
        out.extend(INDENT + text for text in notes.block_end.get(index, ()))
    for note in notes.file_end:
        if out and note.blank_before:
            out.append("")
        out.append(note.text)
    return "".join(line + "\n" for line in out)


def _clause_lines(
    clause: _Clause, where: tuple[int, int], indent: str, notes: _Notes, head: bool
) -> list[str]:
    lines: list[str] = []
    match clause:
        case _Fixed():
            key = (*where, 0)
            if not head:
                lines.extend(indent + note.text for note in notes.leading.get(key, ()))
            lines.extend(indent + line for line in clause.lines)
            if key in notes.trailing:
                lines[-1] += "  " + notes.trailing[key]
        case _Listed():
            lines.extend(_listed_lines(clause, where, indent, notes, head))
        case _:
            assert_never(clause)
    return lines


def _listed_lines(
    clause: _Listed, where: tuple[int, int], indent: str, notes: _Notes, head: bool
) -> list[str]:
    lines: list[str] = []
    prefix = f"{indent}{clause.keyword} "
    current: list[str] = []

    def flush() -> None:
        if current:
            lines.append(prefix + ", ".join(current))
            current.clear()

    index = 0
    while index < len(clause.items):
        key = (*where, index)
        above = notes.leading.get(key, ())
        if above or key in notes.trailing:
            flush()
        # A head's first item carries the statement's comments, printed by the caller.
        if not (head and index == 0):
            lines.extend(indent + note.text for note in above)
        if key in notes.trailing:
            end = notes.group_end[key]
            lines.append(
                prefix + ", ".join(clause.items[index : end + 1]) + "  " + notes.trailing[key]
            )
            index = end + 1
            continue
        item = clause.items[index]
        if current and len(prefix) + len(", ".join([*current, item])) > WIDTH:
            flush()
        current.append(item)
        index += 1
    flush()
    return lines


def format_expr(expr: n.Expr) -> str:
    """A criterion in its canonical one-line form (for reports naming a failing condition)."""
    return _expr(expr)
