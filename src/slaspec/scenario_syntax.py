"""Scenario test syntax: `.scenarios` text -> lines, blocks and a syntax tree, with SLA950/SLA952.

The format is line based (docs/testing.md): each line is one statement, and a `scenario` or
`lead` line ending in `:` holds the lines indented below it. It is parsed by hand rather than by
a second lark grammar: a small tokenizer gives exact columns for every diagnostic, and lark
stays confined to parser.py (a packaging test holds that boundary). Nothing here knows the
agreement; `scenarios.check` resolves names and values against it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from slaspec.diagnostics import Diagnostic, did_you_mean
from slaspec.parser import UNITS
from slaspec.results import ViolationKind
from slaspec.source import Source, Span

# ---------------------------------------------------------------- syntax


TokenKind = Literal["word", "string", "arrow", "comma", "equals"]


@dataclass(frozen=True, slots=True)
class Token:
    """One word, quoted text or punctuation mark of a line, with its place in the file."""

    kind: TokenKind
    text: str  # quoted text without its quotes, escapes resolved
    span: Span

    @property
    def lower(self) -> str:
        """The text in lower case, for keywords (which are not case-sensitive)."""
        return self.text.lower()


@dataclass(frozen=True, slots=True)
class When:
    """A time as written: a local wall-clock time in the file's zone, or one with an offset."""

    date: dt.date
    time: dt.time
    offset: dt.timedelta | None
    span: Span


@dataclass(frozen=True, slots=True)
class Attribute:
    """`name=value` on an event line; `value` is None for `clear name`."""

    name: Token
    value: Token | None


EventAction = Literal["enters", "activity", "set", "clear", "assigned"]


@dataclass(frozen=True, slots=True)
class EventLine:
    """One event of a lead: when, what happened, who did it and the attribute values it carries."""

    when: When
    action: EventAction
    subject: Token | None  # the stage, the activity type or the new owner
    by: Token | None
    attributes: tuple[Attribute, ...]
    line: int
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectStage:
    """`expect stage NAME`: the lead's stage at the end."""

    stage: Token
    line: int
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectPath:
    """`expect path A -> B -> C`: every stage the lead passed through, in order."""

    stages: tuple[Token, ...]
    line: int
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectNoViolations:
    """`expect no violations`."""

    line: int
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectViolation:
    """`expect violation KIND [RULE] [, at TIME] [, team NAME]`."""

    kind: Token
    rule: tuple[Token, ...]  # empty, a name, or a handoff's two stages
    at: When | None
    team: Token | None
    line: int
    span: Span


CycleWord = Literal["met", "breached", "pending", "cancelled", "not started"]


@dataclass(frozen=True, slots=True)
class ExpectCycle:
    """`expect RULE [cycle N] OUTCOME [, due TIME] [, goal DURATION] ...`."""

    rule: Token
    cycle: int | None
    outcome: CycleWord
    due: When | None
    no_due: bool
    ended: When | None
    goal: tuple[str, Span] | None  # the goal in the agreement's words, e.g. `1 business hour`
    at_risk: bool | None
    team: Token | None
    count: int | None
    line: int
    span: Span


@dataclass(frozen=True, slots=True)
class ExpectAttainment:
    """`expect attainment RULE (P% | N of M | none)`, over every lead of the scenario."""

    rule: Token
    met: int | None
    judged: int | None
    percent: Decimal | None
    line: int
    span: Span


Expectation = ExpectStage | ExpectPath | ExpectNoViolations | ExpectViolation | ExpectCycle


@dataclass(frozen=True, slots=True)
class LeadBlock:
    """`lead ID:` and its events and expectations."""

    name: Token
    events: tuple[EventLine, ...]
    expectations: tuple[Expectation, ...]
    line: int
    span: Span


@dataclass(frozen=True, slots=True)
class ScenarioBlock:
    """`scenario "NAME":` and what it holds."""

    name: str
    name_span: Span
    as_of: When | None
    leads: tuple[LeadBlock, ...]
    attainments: tuple[ExpectAttainment, ...]
    line: int
    span: Span


@dataclass(frozen=True, slots=True)
class TestFile:
    """A parsed scenario test file: its header lines, scenarios and syntax diagnostics."""

    source: Source
    agreement: Token | None
    timezone: Token | None
    scenarios: tuple[ScenarioBlock, ...]
    diagnostics: tuple[Diagnostic, ...]


# ---------------------------------------------------------------- lines and tokens


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    indent: int
    tokens: tuple[Token, ...]
    opens: bool  # ends with `:`
    end: int  # offset just after the last token


@dataclass(slots=True)
class _Node:
    line: _Line
    children: list[_Node] = field(default_factory=list)


_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<arrow>->)
  | (?P<comma>,)
  | (?P<equals>=)
  | (?P<word>(?:[^\s,="\#\-]|-(?!>))+)
  | (?P<comment>\#.*)
  | (?P<bad>")
    """,
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
_WEEKDAYS = {
    name: number
    for number, names in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tuesday"),
            ("wed", "wednesday"),
            ("thu", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for name in names
}
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DATE = r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
_CLOCK = r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?"
_OFFSET = r"(?P<off>[Zz]|[+-]\d{2}(?::?\d{2})?)"
_DATE_WORD = re.compile(_DATE)
_DATETIME_WORD = re.compile(_DATE + "[Tt]" + _CLOCK + _OFFSET + "?")
_CLOCK_WORD = re.compile(_CLOCK + _OFFSET + "?")
_OFFSET_WORD = re.compile(_OFFSET)
_TIME_TEXT = re.compile(
    r"(?:(?P<wd>[A-Za-z]+)\s+)?" + _DATE + r"(?:[Tt]|\s+)" + _CLOCK + r"\s*" + _OFFSET + "?"
)
_INTEGER = re.compile(r"\d+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_PERCENT = re.compile(r"(?P<p>\d+(?:\.\d+)?)%")

GOOD_TIME = "Mon 2026-03-02 09:30"
_KINDS = {kind.value: kind for kind in ViolationKind}
_OUTCOME_WORDS: tuple[CycleWord, ...] = ("met", "breached", "pending", "cancelled")


class _LineError(Exception):
    """A line that does not follow the format; caught for each line, so every bad line is
    reported once and the rest of the file is still read."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


class _Parser:
    """The hand-written parser of one scenario test file."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        # The date of the last time read, kept when the rest of its line is wrong, so the bare
        # times below it are not reported as well.
        self.day: dt.date | None = None
        # Lines left out of the blocks (reported already): a block they belonged to may look
        # empty without them, and saying so would report the same mistake twice.
        self.dropped: list[int] = []

    def error(self, code: str, message: str, span: Span, help_: str) -> Diagnostic:
        return Diagnostic(code, message, self.source.name, span, help_)

    def report(self, code: str, message: str, span: Span, help_: str) -> None:
        self.diagnostics.append(self.error(code, message, span, help_))

    # ------------------------------------------------------------ lines

    def lines(self) -> list[_Line]:
        found: list[_Line] = []
        source = self.source
        for number in range(1, source.line_count + 1):
            text = source.line_text(number)
            start = source.line_start(number)
            stripped = text.lstrip(" \t")
            indent_text = text[: len(text) - len(stripped)]
            if not stripped or stripped.startswith("#"):
                continue
            if "\t" in indent_text:
                column = indent_text.index("\t")
                self.report(
                    "SLA950",
                    "a tab in the indentation",
                    Span(start + column, start + column + 1),
                    "indent with spaces (four per level), as in an agreement file",
                )
                self.dropped.append(number)
                continue
            tokens = self.tokens(stripped, start + len(indent_text))
            if tokens is None:
                self.dropped.append(number)
                continue
            if not tokens:
                continue
            opens = False
            last = tokens[-1]
            if last.kind == "word" and last.text.endswith(":"):
                opens = True
                if last.text == ":":
                    tokens = tokens[:-1]
                else:
                    trimmed = Token(
                        "word", last.text[:-1], Span(last.span.start, last.span.end - 1)
                    )
                    tokens = (*tokens[:-1], trimmed)
            if not tokens:
                self.report(
                    "SLA950",
                    "a line with nothing before its `:`",
                    last.span,
                    'start a block with `scenario "NAME":` or `lead ID:`',
                )
                continue
            found.append(_Line(number, len(indent_text), tokens, opens, last.span.end))
        return found

    def tokens(self, text: str, offset: int) -> tuple[Token, ...] | None:
        tokens: list[Token] = []
        position = 0
        while position < len(text):
            if text[position].isspace():
                position += 1
                continue
            match = _TOKEN.match(text, position)
            assert match is not None, "every character starts some token"
            kind = match.lastgroup
            span = Span(offset + match.start(), offset + match.end())
            if kind == "comment":
                break
            if kind == "bad":
                self.report(
                    "SLA950",
                    'this text has no closing `"`',
                    Span(span.start, offset + len(text)),
                    'close the quotes on the same line, e.g. `scenario "A hot lead":`',
                )
                return None
            if kind == "string":
                tokens.append(Token("string", _unquote(match.group()), span))
            elif kind == "arrow":
                tokens.append(Token("arrow", "->", span))
            elif kind == "comma":
                tokens.append(Token("comma", ",", span))
            elif kind == "equals":
                tokens.append(Token("equals", "=", span))
            else:
                tokens.append(Token("word", match.group(), span))
            position = match.end()
        return tuple(tokens)

    def tree(self, lines: list[_Line]) -> list[_Node]:
        """Lines -> blocks: a line holds the lines indented below it. Only `scenario` and
        `lead` lines may, and they must end in `:`; the statements check both, so a forgotten
        `:` is one finding, not one for each line below it."""
        nodes, index = self.block(lines, 0, -1)
        assert index == len(lines)
        return nodes

    def block(self, lines: list[_Line], index: int, parent: int) -> tuple[list[_Node], int]:
        nodes: list[_Node] = []
        indent: int | None = 0 if parent < 0 else None
        while index < len(lines) and lines[index].indent > parent:
            line = lines[index]
            if indent is None:
                indent = line.indent
            if line.indent != indent:
                first = line.tokens[0].span
                if line.indent > indent:
                    self.report(
                        "SLA950",
                        "the first line of the file is indented",
                        first,
                        "start `scenario`, `agreement` and `timezone` lines in the first column",
                    )
                else:
                    self.report(
                        "SLA950",
                        "this line's indentation matches no block above it",
                        first,
                        "indent the lines of one block by the same amount",
                    )
                after = self.skip(lines, index + 1, line.indent)
                self.dropped.extend(dropped.number for dropped in lines[index:after])
                index = after
                continue
            node = _Node(line)
            index += 1
            if index < len(lines) and lines[index].indent > line.indent:
                node.children, index = self.block(lines, index, line.indent)
            nodes.append(node)
        return nodes, index

    @staticmethod
    def skip(lines: list[_Line], index: int, indent: int) -> int:
        """Past the lines nested under a line that was reported."""
        while index < len(lines) and lines[index].indent > indent:
            index += 1
        return index

    # ------------------------------------------------------------ statements

    def parse(self) -> TestFile:
        agreement: Token | None = None
        timezone: Token | None = None
        scenarios: list[ScenarioBlock] = []
        nodes = self.tree(self.lines())
        for number, node in enumerate(nodes):
            line = node.line
            end = nodes[number + 1].line.number if number + 1 < len(nodes) else _NO_LINE
            try:
                cursor = _Cursor(self, line)
                keyword = cursor.peek_keyword()
                if keyword in ("agreement", "timezone"):
                    self.no_block(node)
                if keyword == "agreement":
                    cursor.take()
                    path = cursor.string("the agreement's path in quotes")
                    cursor.end()
                    if agreement is not None:
                        raise self.once("agreement", line)
                    agreement = path
                elif keyword == "timezone":
                    cursor.take()
                    zone = cursor.string('a time zone in quotes, e.g. "Australia/Sydney"')
                    cursor.end()
                    if timezone is not None:
                        raise self.once("timezone", line)
                    timezone = zone
                elif keyword == "scenario":
                    scenario = self.scenario(node, cursor, end)
                    if scenario is not None:
                        scenarios.append(scenario)
                else:
                    raise _LineError(
                        self.error(
                            "SLA950",
                            "expected `scenario`, `agreement` or `timezone` at the start of a "
                            "line that is not indented",
                            line.tokens[0].span,
                            'a test file holds `scenario "NAME":` blocks; events and '
                            "expectations are indented inside them",
                        )
                    )
            except _LineError as problem:
                self.diagnostics.append(problem.diagnostic)
        return TestFile(self.source, agreement, timezone, tuple(scenarios), tuple(self.diagnostics))

    def once(self, keyword: str, line: _Line) -> _LineError:
        return _LineError(
            self.error(
                "SLA950",
                f"a second `{keyword}` line",
                line.tokens[0].span,
                f"a test file has at most one `{keyword}` line; keep one",
            )
        )

    def needs_block(self, node: _Node, what: str) -> None:
        """A block line without its `:` (reported when lines are indented below it; without
        them, the block's emptiness is the finding)."""
        line = node.line
        if not line.opens and node.children:
            written = self.source.text[line.tokens[0].span.start : line.end]
            self.report(
                "SLA950",
                f"{what} opens a block: the line must end with `:`",
                Span(line.end, line.end),
                f"write `{written}:` and indent its lines below it",
            )

    def no_block(self, node: _Node) -> None:
        """Lines indented below a line that opens no block."""
        line = node.line
        if line.opens:
            self.report(
                "SLA950",
                "only `scenario` and `lead` lines open a block",
                Span(line.end - 1, line.end),
                "remove the `:` at the end of the line",
            )
        elif node.children:
            self.report(
                "SLA950",
                "this line is indented more than the line above, which opens no block",
                node.children[0].line.tokens[0].span,
                "indent lines only under a `scenario ...:` or `lead ...:` line",
            )

    def lost(self, first: int, end: int) -> bool:
        """Whether a line of the block from line `first` to before `end` was dropped."""
        return any(first < number < end for number in self.dropped)

    def scenario(self, node: _Node, cursor: _Cursor, end: int) -> ScenarioBlock | None:
        line = node.line
        keyword = cursor.take()
        self.needs_block(node, "`scenario`")
        rest = cursor.rest()
        if not rest:
            raise _LineError(
                self.error(
                    "SLA950",
                    "a scenario needs a name",
                    Span(keyword.span.end, keyword.span.end),
                    'write `scenario "A hot lead is called within the hour":`',
                )
            )
        if len(rest) == 1 and rest[0].kind == "string":
            name = rest[0].text
        else:
            name = self.source.text[rest[0].span.start : rest[-1].span.end]
        name_span = Span(rest[0].span.start, rest[-1].span.end)
        if not name.strip():
            raise _LineError(
                self.error("SLA950", "a scenario needs a name", name_span, "give it a name")
            )
        as_of: When | None = None
        leads: list[LeadBlock] = []
        attainments: list[ExpectAttainment] = []
        expects = 0
        reported = len(self.diagnostics)
        children = node.children
        for number, child in enumerate(children):
            child_end = children[number + 1].line.number if number + 1 < len(children) else end
            try:
                inner = _Cursor(self, child.line)
                word = inner.peek_keyword()
                if word == "as":
                    self.no_block(child)
                    inner.take()
                    inner.keyword("of", "`of`, as in `as of Mon 2026-03-02 17:00`")
                    when = inner.when("the as-of time", None)
                    inner.end()
                    if as_of is not None:
                        raise self.once_in("as of", child.line)
                    as_of = when
                elif word == "lead":
                    lead = self.lead(child, inner, child_end)
                    expects += len(lead.expectations)
                    leads.append(lead)
                elif word == "expect" and inner.peek_keyword(1) == "attainment":
                    self.no_block(child)
                    inner.take()
                    attainments.append(self.attainment(inner, child.line))
                    expects += 1
                elif word == "expect":
                    raise _LineError(
                        self.error(
                            "SLA950",
                            "an expectation about one lead belongs in its `lead` block",
                            child.line.tokens[0].span,
                            "indent it under `lead ID:`; only `expect attainment` is about the "
                            "whole scenario",
                        )
                    )
                elif _looks_like_time(child.line.tokens[0]):
                    raise _LineError(
                        self.error(
                            "SLA950",
                            "an event belongs to a lead",
                            child.line.tokens[0].span,
                            "put the events of each lead in a `lead ID:` block",
                        )
                    )
                else:
                    raise _LineError(
                        self.error(
                            "SLA950",
                            f"`{child.line.tokens[0].text}` is not a line of a scenario",
                            child.line.tokens[0].span,
                            "a scenario holds `as of TIME`, `lead ID:` blocks and "
                            "`expect attainment` lines",
                        )
                    )
            except _LineError as problem:
                self.diagnostics.append(problem.diagnostic)
        span = Span(line.tokens[0].span.start, line.end)
        # An emptiness found now may only be the lines already reported: say nothing more.
        quiet = len(self.diagnostics) > reported or self.lost(line.number, end)
        if not node.children:
            empty = "this scenario is empty"
            help_ = "indent a `lead ID:` block with events and `expect` lines below it"
        elif not leads:
            empty = f"scenario `{name}` has no lead"
            help_ = "add a `lead ID:` block with the lead's events"
        elif not expects:
            empty = f"scenario `{name}` expects nothing"
            help_ = "add `expect` lines under its leads: a scenario without them tests nothing"
        else:
            empty = ""
            help_ = ""
        if empty:
            if not quiet:
                self.report("SLA950", empty, span, help_)
            return None
        return ScenarioBlock(
            name, name_span, as_of, tuple(leads), tuple(attainments), line.number, span
        )

    def once_in(self, clause: str, line: _Line) -> _LineError:
        return _LineError(
            self.error(
                "SLA950",
                f"a second `{clause}` line in this scenario",
                line.tokens[0].span,
                f"a scenario has at most one `{clause}` line; keep one",
            )
        )

    def lead(self, node: _Node, cursor: _Cursor, end: int) -> LeadBlock:
        line = node.line
        cursor.take()
        self.needs_block(node, "`lead`")
        name = cursor.name("the lead's id, e.g. `lead L1:`")
        cursor.end()
        events: list[EventLine] = []
        expectations: list[Expectation] = []
        day: dt.date | None = None
        for child in node.children:
            try:
                inner = _Cursor(self, child.line)
                word = inner.peek_keyword()
                self.no_block(child)
                if word == "expect":
                    inner.take()
                    if inner.peek_keyword() == "attainment":
                        raise _LineError(
                            self.error(
                                "SLA950",
                                "attainment is expected of the whole scenario, not of one lead",
                                inner.peek_span(),
                                "move this line out of the `lead` block, under `scenario`",
                            )
                        )
                    expectations.append(self.expectation(inner, child.line))
                else:
                    self.day = None
                    event = self.event(inner, child.line, day)
                    events.append(event)
            except _LineError as problem:
                self.diagnostics.append(problem.diagnostic)
            day = self.day or day
        span = Span(line.tokens[0].span.start, line.end)
        if not node.children and not self.lost(line.number, end):
            raise _LineError(
                self.error(
                    "SLA950",
                    f"lead `{name.text}` has no events",
                    span,
                    "indent its events below it, e.g. `Mon 2026-03-02 09:00  enters inquiry`",
                )
            )
        return LeadBlock(name, tuple(events), tuple(expectations), line.number, span)

    # ------------------------------------------------------------ events

    def event(self, cursor: _Cursor, line: _Line, day: dt.date | None) -> EventLine:
        when = cursor.when("the time of the event", day)
        first = cursor.word(
            "what happened: `enters STAGE`, an activity such as `call`, `set`, `clear` or "
            "`assigned to`"
        )
        action: EventAction
        subject: Token | None = None
        by: Token | None = None
        attributes: tuple[Attribute, ...] = ()
        keyword = first.lower
        if keyword == "enters":
            action = "enters"
            subject = cursor.name("the stage the lead enters")
            by, attributes = self.by_with(cursor)
        elif keyword == "set":
            action = "set"
            attributes = self.attributes(cursor)
        elif keyword == "clear":
            action = "clear"
            names = [cursor.word("the field to clear")]
            while cursor.comma():
                names.append(cursor.word("the field to clear"))
            attributes = tuple(Attribute(name, None) for name in names)
        elif keyword == "assigned":
            action = "assigned"
            cursor.keyword("to", "`to`, as in `assigned to ana@example.com`")
            subject = cursor.name("the new owner")
            by, attributes = self.by_with(cursor)
        else:
            action = "activity"
            subject = first
            by, attributes = self.by_with(cursor)
        cursor.end()
        return EventLine(
            when,
            action,
            subject,
            by,
            attributes,
            line.number,
            Span(line.tokens[0].span.start, line.end),
        )

    def by_with(self, cursor: _Cursor) -> tuple[Token | None, tuple[Attribute, ...]]:
        by: Token | None = None
        attributes: tuple[Attribute, ...] = ()
        while not cursor.at_end():
            word = cursor.peek_keyword()
            if word == "by" and by is None:
                cursor.take()
                by = cursor.name("who did it: a team such as `sdr`, or an actor in quotes")
            elif word == "with" and not attributes:
                cursor.take()
                attributes = self.attributes(cursor)
            else:
                raise cursor.unexpected("`by WHO` or `with NAME=VALUE, ...`")
        return by, attributes

    def attributes(self, cursor: _Cursor) -> tuple[Attribute, ...]:
        found: list[Attribute] = []
        while True:
            name = cursor.word("a field name, as in `score=90`")
            cursor.equals()
            value = cursor.name(f"the value of `{name.text}`")
            found.append(Attribute(name, value))
            cursor.comma()
            if cursor.at_end():
                return tuple(found)

    # ------------------------------------------------------------ expectations

    def expectation(self, cursor: _Cursor, line: _Line) -> Expectation:
        span = Span(line.tokens[0].span.start, line.end)
        word = cursor.peek_keyword()
        if word == "stage":
            cursor.take()
            stage = cursor.name("the stage the lead ends in")
            cursor.end()
            return ExpectStage(stage, line.number, span)
        if word == "path":
            cursor.take()
            stages = [cursor.name("the first stage of the path")]
            while cursor.arrow():
                stages.append(cursor.name("the next stage of the path"))
            cursor.end()
            return ExpectPath(tuple(stages), line.number, span)
        if word == "no":
            cursor.take()
            cursor.keyword("violations", "`violations`, as in `expect no violations`")
            cursor.end()
            return ExpectNoViolations(line.number, span)
        if word == "violation":
            cursor.take()
            return self.violation(cursor, line, span)
        return self.cycle(cursor, line, span)

    def violation(self, cursor: _Cursor, line: _Line, span: Span) -> ExpectViolation:
        first = cursor.word(f"a kind of violation ({_kind_list()})")
        kind = first
        if first.lower not in _KINDS:
            following = cursor.peek()
            joined = f"{first.lower}_{following.lower}" if following is not None else ""
            if following is not None and following.kind == "word" and joined in _KINDS:
                cursor.take()
                kind = Token("word", joined, first.span.cover(following.span))
            else:
                raise _LineError(
                    self.error(
                        "SLA950",
                        f"`{first.text}` is not a kind of violation",
                        first.span,
                        did_you_mean(first.lower, _KINDS) or f"write one of {_kind_list()}",
                    )
                )
        else:
            kind = Token("word", first.lower, first.span)
        rule: list[Token] = []
        nxt = cursor.peek()
        if nxt is not None and nxt.kind != "comma" and nxt.lower not in ("at", "team"):
            rule.append(cursor.name("the rule broken"))
            if cursor.arrow():
                rule.append(cursor.name("the stage the lead was handed to"))
        at: When | None = None
        team: Token | None = None
        while not cursor.at_end():
            cursor.comma()
            word = cursor.peek_keyword()
            if word == "at" and at is None:
                cursor.take()
                at = cursor.when("when the violation happened", None)
            elif word == "team" and team is None:
                cursor.take()
                team = cursor.name("the team held accountable")
            else:
                raise cursor.unexpected("`, at TIME` or `, team NAME`")
        return ExpectViolation(kind, tuple(rule), at, team, line.number, span)

    def cycle(self, cursor: _Cursor, line: _Line, span: Span) -> ExpectCycle:
        rule = cursor.word(
            "what to expect: `stage`, `path`, `violation`, `no violations`, or a clock or "
            "cadence and its outcome"
        )
        number: int | None = None
        if cursor.peek_keyword() == "cycle":
            cursor.take()
            number = cursor.integer("the cycle's number, counting from 1")
            if number < 1:
                raise _LineError(
                    self.error(
                        "SLA952",
                        "cycles are counted from 1",
                        cursor.previous_span(),
                        "write `cycle 1` for the first run of the clock",
                    )
                )
        outcome_token = cursor.word("the outcome: met, breached, pending, cancelled or not started")
        outcome: CycleWord
        if outcome_token.lower == "not":
            cursor.keyword("started", "`started`, as in `first_touch not started`")
            outcome = "not started"
        elif outcome_token.lower in _OUTCOME_WORDS:
            outcome = _OUTCOME_WORDS[_OUTCOME_WORDS.index(outcome_token.lower)]
        else:
            raise _LineError(
                self.error(
                    "SLA950",
                    f"`{outcome_token.text}` is not an outcome",
                    outcome_token.span,
                    did_you_mean(outcome_token.lower, [*_OUTCOME_WORDS, "not started"])
                    or "write met, breached, pending, cancelled or not started",
                )
            )
        due: When | None = None
        no_due = False
        ended: When | None = None
        goal: tuple[str, Span] | None = None
        at_risk: bool | None = None
        team: Token | None = None
        count: int | None = None
        seen: set[str] = set()
        while not cursor.at_end():
            cursor.comma()
            word = cursor.peek_keyword()
            key = "at risk" if word in ("at", "not") else word
            if key in seen:
                raise cursor.unexpected(f"one `{key}` (it is given twice)")
            if word == "due":
                cursor.take()
                if cursor.peek_keyword() == "none":
                    cursor.take()
                    no_due = True
                else:
                    due = cursor.when("the due time", None)
            elif word == "ended":
                cursor.take()
                ended = cursor.when("when the cycle ended", None)
            elif word == "goal":
                cursor.take()
                goal = cursor.duration()
            elif word == "at" and cursor.peek_keyword(1) == "risk":
                cursor.take()
                cursor.take()
                at_risk = True
            elif word == "not" and cursor.peek_keyword(1) == "at":
                cursor.take()
                cursor.take()
                cursor.keyword("risk", "`risk`, as in `not at risk`")
                at_risk = False
            elif word == "team":
                cursor.take()
                team = cursor.name("the team held accountable")
            elif word == "count":
                cursor.take()
                count = cursor.integer("how many activities the cadence counted")
            else:
                raise cursor.unexpected(
                    "`, due TIME`, `, ended TIME`, `, goal DURATION`, `, at risk`, "
                    "`, team NAME` or `, count N`"
                )
            assert key is not None
            seen.add(key)
        if outcome == "not started" and seen:
            raise _LineError(
                self.error(
                    "SLA950",
                    "a cycle that never started has no due time, goal, team or count",
                    Span(outcome_token.span.start, line.end),
                    f"write just `{rule.text} not started`",
                )
            )
        return ExpectCycle(
            rule,
            number,
            outcome,
            due,
            no_due,
            ended,
            goal,
            at_risk,
            team,
            count,
            line.number,
            span,
        )

    def attainment(self, cursor: _Cursor, line: _Line) -> ExpectAttainment:
        span = Span(line.tokens[0].span.start, line.end)
        cursor.take()  # `attainment`
        rule = cursor.word("the clock or cadence, as in `expect attainment first_touch 50%`")
        value = cursor.word("the attainment: a percentage such as `50%`, `1 of 2`, or `none`")
        met: int | None = None
        judged: int | None = None
        percent: Decimal | None = None
        matched = _PERCENT.fullmatch(value.text)
        if value.lower == "none":
            pass
        elif matched is not None:
            percent = Decimal(matched.group("p"))
            if percent > 100:
                raise _LineError(
                    self.error(
                        "SLA952",
                        f"{value.text} is more than 100%",
                        value.span,
                        "an attainment is between 0% and 100%",
                    )
                )
        elif _INTEGER.fullmatch(value.text):
            met = int(value.text)
            cursor.keyword("of", "`of`, as in `1 of 2` (cycles met of cycles met or breached)")
            judged = cursor.integer("how many cycles were met or breached")
            if met > judged:
                raise _LineError(
                    self.error(
                        "SLA952",
                        f"{met} of {judged} cycles cannot be met",
                        Span(value.span.start, cursor.previous_span().end),
                        "the first number counts met cycles, the second met and breached ones",
                    )
                )
        else:
            raise _LineError(
                self.error(
                    "SLA950",
                    f"`{value.text}` is not an attainment",
                    value.span,
                    "write a percentage such as `50%`, a count such as `1 of 2`, or `none`",
                )
            )
        cursor.end()
        return ExpectAttainment(rule, met, judged, percent, line.number, span)


class _Cursor:
    """The tokens of one line, read left to right."""

    def __init__(self, parser: _Parser, line: _Line) -> None:
        self.parser = parser
        self.line = line
        self.tokens = line.tokens
        self.index = 0

    def peek(self, ahead: int = 0) -> Token | None:
        at = self.index + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def peek_keyword(self, ahead: int = 0) -> str | None:
        token = self.peek(ahead)
        return token.lower if token is not None and token.kind == "word" else None

    def peek_span(self) -> Span:
        token = self.peek()
        return token.span if token is not None else Span(self.line.end, self.line.end)

    def previous_span(self) -> Span:
        return self.tokens[self.index - 1].span

    def at_end(self) -> bool:
        return self.index >= len(self.tokens)

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def rest(self) -> tuple[Token, ...]:
        rest = self.tokens[self.index :]
        self.index = len(self.tokens)
        return rest

    def unexpected(self, wanted: str) -> _LineError:
        token = self.peek()
        if token is None:
            found, span = "the end of the line", Span(self.line.end, self.line.end)
        else:
            shown = f'"{token.text}"' if token.kind == "string" else token.text
            found, span = f"`{shown}`", token.span
        return _LineError(
            self.parser.error("SLA950", f"expected {wanted}, found {found}", span, _HELP)
        )

    def word(self, wanted: str) -> Token:
        token = self.peek()
        if token is None or token.kind != "word":
            raise self.unexpected(wanted)
        return self.take()

    def name(self, wanted: str) -> Token:
        token = self.peek()
        if token is None or token.kind not in ("word", "string"):
            raise self.unexpected(wanted)
        return self.take()

    def string(self, wanted: str) -> Token:
        token = self.peek()
        if token is None or token.kind != "string":
            raise self.unexpected(wanted)
        return self.take()

    def keyword(self, word: str, wanted: str) -> Token:
        if self.peek_keyword() != word:
            raise self.unexpected(wanted)
        return self.take()

    def integer(self, wanted: str) -> int:
        token = self.peek()
        if token is None or token.kind != "word" or not _INTEGER.fullmatch(token.text):
            raise self.unexpected(f"a whole number: {wanted}")
        return int(self.take().text)

    def comma(self) -> bool:
        token = self.peek()
        if token is not None and token.kind == "comma":
            self.index += 1
            return True
        return False

    def arrow(self) -> bool:
        token = self.peek()
        if token is not None and token.kind == "arrow":
            self.index += 1
            return True
        return False

    def equals(self) -> None:
        token = self.peek()
        if token is None or token.kind != "equals":
            raise self.unexpected("`=` between the field and its value, as in `score=90`")
        self.index += 1

    def end(self) -> None:
        if not self.at_end():
            raise self.unexpected("the end of the line")

    def duration(self) -> tuple[str, Span]:
        """A goal such as `4 business hours`, in the words the compiled agreement uses."""
        amount_token = self.peek()
        if amount_token is None or not _NUMBER.fullmatch(amount_token.text):
            raise self.unexpected("a duration such as `4 business hours`")
        self.take()
        business = self.peek_keyword() == "business"
        if business:
            self.take()
        unit_token = self.word("a unit: minutes, hours or days")
        unit = UNITS.get(unit_token.lower)
        span = amount_token.span.cover(unit_token.span)
        if unit is None or (business and unit == "weeks"):
            raise _LineError(
                self.parser.error(
                    "SLA952",
                    f"`{unit_token.text}` is not a unit of a goal",
                    unit_token.span,
                    "write minutes, hours or days, with `business` for business time",
                )
            )
        return _duration_text(Decimal(amount_token.text), unit, business), span

    def when(self, wanted: str, day: dt.date | None) -> When:
        """A time: `[Mon] 2026-03-02 09:30[:00] [+11:00]`, an ISO date-time, or (when `day` is
        known) a bare `09:30` on the same day as the line above."""
        first = self.peek()
        if first is None:
            raise self.unexpected(f"{wanted}, e.g. `{GOOD_TIME}`")
        weekday: Token | None = None
        if first.kind == "word" and first.lower in _WEEKDAYS:
            weekday = self.take()
        token = self.peek()
        if token is None or token.kind != "word":
            raise self.unexpected(f"{wanted}, e.g. `{GOOD_TIME}`")
        start = (weekday or token).span.start
        date: dt.date | None = None
        clock: re.Match[str] | None = None
        if (full := _DATETIME_WORD.fullmatch(token.text)) is not None:
            self.take()
            date = self.real_date(full, token.span)
            clock = full
        elif (plain := _DATE_WORD.fullmatch(token.text)) is not None:
            self.take()
            date = self.real_date(plain, token.span)
            clock_token = self.peek()
            if clock_token is None or (clock := _CLOCK_WORD.fullmatch(clock_token.text)) is None:
                raise self.unexpected(f"the time of day after the date, e.g. `{GOOD_TIME}`")
            self.take()
        elif (clock := _CLOCK_WORD.fullmatch(token.text)) is not None:
            if day is None:
                raise _LineError(
                    self.parser.error(
                        "SLA950",
                        "a time without a date",
                        token.span,
                        "give the date too (a time alone means the day of the event above it), "
                        f"e.g. `{GOOD_TIME}`",
                    )
                )
            self.take()
            date = day
        else:
            raise self.unexpected(f"{wanted}, e.g. `{GOOD_TIME}`")
        assert clock is not None
        self.parser.day = date
        offset_text = clock.group("off")
        if offset_text is None:
            following = self.peek()
            if following is not None and (more := _OFFSET_WORD.fullmatch(following.text)):
                self.take()
                offset_text = more.group("off")
        end = self.previous_span().end
        span = Span(start, end)
        time = self.real_time(clock, span)
        offset = _offset(offset_text) if offset_text is not None else None
        if offset_text is not None and offset is None:
            raise _LineError(
                self.parser.error(
                    "SLA952",
                    f"`{offset_text}` is not a UTC offset between -18:00 and +18:00",
                    span,
                    "write the offset as +HH:MM, e.g. `+11:00`, or `Z` for UTC",
                )
            )
        if weekday is not None and _WEEKDAYS[weekday.lower] != date.weekday():
            raise _LineError(
                self.parser.error(
                    "SLA952",
                    f"{date.isoformat()} is a {_DAY_NAMES[date.weekday()]}, not a "
                    f"{_DAY_NAMES[_WEEKDAYS[weekday.lower]]}",
                    span,
                    "correct the date or the day of the week",
                )
            )
        return When(date, time, offset, span)

    def real_date(self, match: re.Match[str], span: Span) -> dt.date:
        try:
            return dt.date(int(match.group("y")), int(match.group("mo")), int(match.group("d")))
        except ValueError as error:
            raise _LineError(
                self.parser.error(
                    "SLA952",
                    f"`{match.group(0)[:10]}` is not a real date ({error})",
                    span,
                    "write the date as YYYY-MM-DD",
                )
            ) from None

    def real_time(self, match: re.Match[str], span: Span) -> dt.time:
        hour, minute = int(match.group("h")), int(match.group("mi"))
        second = int(match.group("s") or 0)
        fraction = match.group("f")
        if hour > 23 or minute > 59 or second > 59:
            raise _LineError(
                self.parser.error(
                    "SLA952",
                    "not a time of day (hours 00-23, minutes and seconds 00-59)",
                    span,
                    f"write the time as HH:MM, e.g. `{GOOD_TIME}`",
                )
            )
        micros = int(fraction.ljust(6, "0")) if fraction else 0
        return dt.time(hour, minute, second, micros)


_NO_LINE = 1 << 62  # after every line of any file
_HELP = "see docs/testing.md for the lines a scenario test file may hold"


def _kind_list() -> str:
    return ", ".join(kind.value for kind in ViolationKind)


def _looks_like_time(token: Token) -> bool:
    return token.kind == "word" and (
        token.lower in _WEEKDAYS
        or _DATE_WORD.match(token.text) is not None
        or _CLOCK_WORD.fullmatch(token.text) is not None
    )


def _offset(text: str) -> dt.timedelta | None:
    if text in ("Z", "z"):
        return dt.timedelta(0)
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours = int(digits[:2])
    minutes = int(digits[2:] or 0)
    if hours > 18 or minutes > 59 or (hours == 18 and minutes):
        return None
    return sign * dt.timedelta(hours=hours, minutes=minutes)


def _duration_text(amount: Decimal, unit: str, business: bool) -> str:
    """A duration as the compiler names a goal: `1 business hour`, `4 business hours`."""
    word = f"business {unit}" if business else unit
    if amount == 1:
        word = word.removesuffix("s")
    return f"{format(amount.normalize(), 'f')} {word}"


def read_when(text: str, span: Span) -> When | tuple[str, str]:
    """A time written as one value (an attribute's), such as `2026-03-02T09:30` or
    `Mon 2026-03-02 09:30`; else what is wrong with it and how to fix it."""
    match = _TIME_TEXT.fullmatch(text.strip())
    if match is None:
        return "is not a date and time", "write a date and a time of day"
    try:
        day = dt.date(int(match.group("y")), int(match.group("mo")), int(match.group("d")))
        moment = dt.time(
            int(match.group("h")),
            int(match.group("mi")),
            int(match.group("s") or 0),
            int((match.group("f") or "").ljust(6, "0")),
        )
    except ValueError as error:
        return f"is not a real date and time ({error})", "write the date as YYYY-MM-DD"
    offset_text = match.group("off")
    offset = _offset(offset_text) if offset_text is not None else None
    if offset_text is not None and offset is None:
        return (
            f"has `{offset_text}`, not a UTC offset between -18:00 and +18:00",
            "write the offset as +HH:MM, or Z for UTC",
        )
    weekday = match.group("wd")
    if weekday is not None and _WEEKDAYS.get(weekday.lower()) != day.weekday():
        return (
            f"says `{weekday}`, but {day.isoformat()} is a {_DAY_NAMES[day.weekday()]}",
            "correct the date or the day of the week",
        )
    return When(day, moment, offset, span)


def parse(source: Source) -> TestFile:
    """Read a scenario test file into its syntax, with SLA950/SLA952 diagnostics."""
    return _Parser(source).parse()
