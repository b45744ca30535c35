"""Parsing: agreement text -> lark parse tree -> typed AST, lark errors -> diagnostics.

This is the only module that imports lark. A file that parses whole is converted in one pass.
A file with syntax errors is cut into its top-level statements and each is parsed alone, so one
run reports every broken statement, not just the first.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import cast

import lark
from lark import Lark, Token, Tree
from lark.exceptions import (
    LarkError,
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedToken,
)
from lark.indenter import DedentError, Indenter

from slaspec import nodes as n
from slaspec.diagnostics import Diagnostic
from slaspec.source import Source, Span

MAX_NESTING = 64
MAX_SYNTAX_ERRORS = 50

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Every unit slaspec accepts, spelled as users write them, and its canonical form.
UNITS: dict[str, n.UnitWord] = {
    "minute": "minutes",
    "minutes": "minutes",
    "min": "minutes",
    "mins": "minutes",
    "hour": "hours",
    "hours": "hours",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
}
# Units that could mean two things; the checker reports them and says what to write instead.
AMBIGUOUS_UNITS = {
    "d": "`days` (calendar days) or `business days`",
    "m": "`minutes`, or a target period (`each month`)",
    "w": "`weeks`",
    "month": "a fixed duration such as `30 days`; months differ in length",
    "months": "a fixed duration such as `30 days`; months differ in length",
}


class _Indenter(Indenter):
    """Python-style blocks; comment lines never change the indentation."""

    NL_type = "_NL"
    OPEN_PAREN_types = ("LPAR", "LSQB")  # type: ignore[assignment]
    CLOSE_PAREN_types = ("RPAR", "RSQB")  # type: ignore[assignment]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


def grammar_text() -> str:
    """The grammar: packaged inside a built wheel, or read from the checkout in development."""
    packaged = resources.files("slaspec").joinpath("grammar/slaspec.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[2] / "grammar" / "slaspec.lark"
    return checkout.read_text(encoding="utf-8")


_OPTIONS: dict[str, object] = {
    "parser": "lalr",
    "lexer": "contextual",
    "propagate_positions": True,
    "maybe_placeholders": False,
}
_parser: Lark | None = None  # made by `prime` or on first use


def _lark() -> Lark:
    global _parser
    if _parser is None:
        _parser = _analysed()
    return _parser


def _analysed() -> Lark:
    return Lark(grammar_text(), postlex=_Indenter(), **_OPTIONS)


def tables_key() -> str:
    """What the parse tables depend on: the grammar, the parser's options, lark's version and
    Python's, as a hash. Tables kept under this key (`prime`) fit this parser."""
    # The indenter's settings (its token names and tab width) shape the lexer's tables too.
    indenter = sorted((name, value) for name, value in vars(_Indenter).items() if name[0] != "_")
    options = (sorted(_OPTIONS.items()), indenter)
    key = "\n".join((grammar_text(), repr(options), lark.__version__, sys.version))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def prime(saved: bytes | None) -> bytes | None:
    """Make the parser before its first use: from `saved`, tables an earlier `prime` returned
    under the same `tables_key`, or by analysing the grammar into LALR tables (a tenth of a
    second, at every start of a command, where loading them takes a fiftieth). Returns the
    tables to keep when it analysed the grammar, None when `saved` served. The command line
    keeps them in the user's cache directory (cli.py)."""
    global _parser
    if saved is not None:
        try:
            _parser = Lark.load(io.BytesIO(saved))
            return None
        except Exception:  # damaged, or from another lark: analysed again below
            pass
    _parser = _analysed()
    made = io.BytesIO()
    _parser.save(made)
    return made.getvalue()


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` comment: where it is and its text (with the `#`)."""

    span: Span
    text: str
    own_line: bool


@dataclass(frozen=True, slots=True)
class Parsed:
    """The result of parsing one source: the AST (None on syntax errors), comments, findings."""

    source: Source
    document: n.Document | None
    comments: tuple[Comment, ...]
    diagnostics: tuple[Diagnostic, ...]


class _Invalid(Exception):
    """A construct that parsed but cannot become an AST node (reported, never escapes)."""

    def __init__(self, message: str, span: Span, help_: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.help = help_


# ---------------------------------------------------------------- terminal names for people

_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": 'a quoted text such as "Sales"',
    "LONG_STRING": "a quoted text",
    "NUMBER": "a number",
    "DATE": "a date such as 2026-03-01",
    "DATETIME": "a date and time such as 2026-03-01T09:00+11:00",
    "TIME": "a time such as 09:00",
    "COMPARE": "a comparison (=, !=, <, <=, >, >=)",
    "DAY": "a weekday (monday ... sunday)",
    "PERIOD": "week, month, quarter or year",
    "REGION": "a country or country-subdivision code such as AU-NSW",
    "BUSINESS": "`business`",
    "_NL": "the end of the line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "$END": "the end of the file",
}


@functools.cache
def _terminal_word(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    for terminal in _lark().terminals:
        if terminal.name == name and terminal.pattern.type == "str":
            return f"`{terminal.pattern.value}`"
    return f"`{name.lower()}`"


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    if token.type == "_INDENT":
        return "indentation"
    if token.type == "_DEDENT":
        return "end of block"
    text = str(token)
    if len(text) > 30:
        text = text[:27] + "..."
    return f"`{text}`"


def _expected(names: set[str]) -> str:
    words = sorted({_terminal_word(name) for name in names})
    if not words:
        return ""
    if len(words) == 1:
        return f"; expected {words[0]}"
    if len(words) > 10:
        return "; expected one of " + ", ".join(words[:10]) + ", ..."
    return "; expected one of " + ", ".join(words)


# ---------------------------------------------------------------- entry point


def parse(source: Source) -> Parsed:
    """Parse one source; never raises on any text."""
    text = source.text
    if not text.endswith("\n"):
        text += "\n"
    comments = tuple(_comments(text))
    try:
        tree = _lark().parse(text)
    except (LarkError, DedentError):
        return _parse_recovering(source, text, comments)
    builder = _Builder(source)
    document = builder.document(tree)
    if builder.fatal:
        return Parsed(source, None, comments, tuple(builder.diagnostics))
    return Parsed(source, document, comments, tuple(builder.diagnostics))


_COMMENT_RE = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|"(?:[^"\\\n]|\\.)*"|(#[^\n]*)', re.S)


def _comments(text: str) -> Iterator[Comment]:
    for match in _COMMENT_RE.finditer(text):
        if match.group(1) is None:
            continue
        start, end = match.span(1)
        line_start = text.rfind("\n", 0, start) + 1
        own_line = text[line_start:start].strip() == ""
        yield Comment(Span(start, end), match.group(1).rstrip(), own_line)


def _statement_starts(text: str) -> list[int]:
    """Offsets of lines that start a top-level statement (text at column 0, not a comment)."""
    starts: list[int] = []
    offset = 0
    inside_long_string = False
    for line in text.splitlines(keepends=True):
        if not inside_long_string and line[:1] not in (" ", "\t", "#", "\n", "\r", ""):
            starts.append(offset)
        if line.count('"""') % 2 == 1:
            inside_long_string = not inside_long_string
        offset += len(line)
    return starts


def _parse_recovering(source: Source, text: str, comments: tuple[Comment, ...]) -> Parsed:
    diagnostics: list[Diagnostic] = []
    starts = _statement_starts(text)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = list(zip(starts, [*starts[1:], len(text)], strict=True))
    for begin, end in bounds:
        chunk = text[begin:end]
        if not chunk.strip():
            continue
        error = _syntax_error(source, chunk, begin)
        if error is not None:
            diagnostics.append(error)
            if len(diagnostics) >= MAX_SYNTAX_ERRORS:
                diagnostics.append(
                    Diagnostic(
                        "SLA007",
                        f"stopped after {MAX_SYNTAX_ERRORS} syntax errors",
                        source.name,
                        Span(end, end),
                        help="fix these first; is this really an agreement file?",
                    )
                )
                break
    if not diagnostics:
        # Every statement parses alone, so the whole failed on how they fit together
        # (typically indentation at the very start); report the whole-file error.
        error = _syntax_error(source, text, 0)
        if error is not None:
            diagnostics.append(error)
    return Parsed(source, None, comments, tuple(diagnostics))


def _syntax_error(source: Source, chunk: str, offset: int) -> Diagnostic | None:
    try:
        _lark().parse(chunk if chunk.endswith("\n") else chunk + "\n")
    except UnexpectedCharacters as error:
        at = error.pos_in_stream or 0
        position = offset + at
        char = chunk[at] if at < len(chunk) else ""
        message = f"unexpected character `{char}`"
        help_ = _character_help(char)
        if error.allowed:
            message += _expected(set(error.allowed))
        return Diagnostic("SLA001", message, source.name, Span(position, position + 1), help_)
    except UnexpectedEOF as error:
        end = offset + len(chunk.rstrip())
        return Diagnostic(
            "SLA001",
            "unexpected end of file" + _expected(set(error.expected)),
            source.name,
            Span(end, end),
        )
    except UnexpectedToken as error:
        token = error.token
        start = offset + (token.start_pos if token.start_pos is not None else len(chunk))
        end = offset + (token.end_pos if token.end_pos is not None else len(chunk))
        if token.type in ("_NL", "_DEDENT", "$END"):
            # Point at the end of the line rather than at the following line break.
            line_end = start
            while line_end > offset and source_text_at(chunk, line_end - offset - 1) in " \t":
                line_end -= 1
            start = end = line_end
        accepts = set(error.accepts or error.expected)
        message = f"unexpected {_describe_token(token)}" + _expected(accepts)
        return Diagnostic(
            "SLA001",
            message,
            source.name,
            Span(start, max(end, start)),
            _token_help(token, accepts),
        )
    except DedentError as error:
        return Diagnostic(
            "SLA001",
            "this line's indentation does not match any enclosing block",
            source.name,
            Span(offset, offset + 1),
            help=f"indent the lines of a block by the same amount ({error})",
        )
    except LarkError as error:  # pragma: no cover - lark's other errors are grammar bugs
        return Diagnostic("SLA001", f"cannot parse: {error}", source.name, Span(offset, offset))
    return None


def source_text_at(text: str, index: int) -> str:
    """The character at index, or an empty string past either end."""
    return text[index] if 0 <= index < len(text) else ""


def _character_help(char: str) -> str | None:
    if char == "\t":
        return "indent with spaces, not tabs (`slaspec fmt` does this for you)"
    if char in "“”":
        return 'use straight double quotes (") around text'
    if char == "'":
        return 'text is written in double quotes ("like this")'
    return None


def _token_help(token: Token, accepts: set[str]) -> str | None:
    if token.type == "_INDENT":
        return (
            "this line is indented more than the line above; "
            "only a line ending in `:` opens a block"
        )
    if "COLON" in accepts and token.type == "_NL":
        return "a block header ends with `:` and its clauses go on the indented lines below"
    if token.type == "NAME" and "STRING" in accepts:
        return f'put text in double quotes: "{token}"'
    return None


# ---------------------------------------------------------------- tree -> AST


def _span(item: Tree[Token] | Token) -> Span:
    if isinstance(item, Token):
        start = item.start_pos or 0
        end = item.end_pos if item.end_pos is not None else start
        return Span(start, end)
    meta = item.meta
    if getattr(meta, "empty", True):
        return Span(0, 0)
    end = meta.end_pos
    return Span(meta.start_pos, end)


def _tokens(tree: Tree[Token], kind: str) -> list[Token]:
    return [child for child in tree.children if isinstance(child, Token) and child.type == kind]


def _trees(tree: Tree[Token]) -> list[Tree[Token]]:
    return [child for child in tree.children if isinstance(child, Tree)]


def _name(token: Token) -> n.Name:
    return n.Name(str(token), _span(token))


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


def unquote(raw: str) -> str:
    """The value of a quoted string token, escapes resolved."""
    body = raw[3:-3] if raw.startswith('"""') else raw[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            out.append(_ESCAPES.get(body[index + 1], body[index + 1]))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _text(token: Token, collapse: bool = False) -> n.Text:
    value = unquote(str(token))
    if collapse:
        value = " ".join(value.split())
    return n.Text(value, _span(token))


class _Builder:
    """Builds the AST from a parse tree, collecting structural diagnostics."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.fatal = False

    # -------------------------------------------------------- helpers

    def span(self, item: Tree[Token] | Token) -> Span:
        """The item's span, without the line breaks and comment lines that follow it."""
        span = _span(item)
        if isinstance(item, Token):
            return span
        text = self.source.text
        end = span.end
        while True:
            trimmed = len(text[span.start : end].rstrip())
            end = span.start + trimmed
            line_start = text.rfind("\n", span.start, end) + 1
            if line_start > span.start and text[line_start:end].lstrip().startswith("#"):
                end = line_start
                continue
            first = max(line_start, span.start)
            for match in _COMMENT_RE.finditer(text, first, end):
                if match.group(1) is not None:
                    # A comment at the end of the clause's last line is not part of the clause.
                    end = first + len(text[first : match.start(1)].rstrip())
                    break
            return Span(span.start, end)

    def error(self, code: str, message: str, span: Span, help_: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, self.source.name, span, help_))
        if code in ("SLA001", "SLA005"):
            self.fatal = True

    def once(self, seen: dict[str, Span], clause: str, item: Tree[Token], block: str) -> None:
        span = self.span(item)
        if clause in seen:
            line, _ = self.source.position(seen[clause].start)
            self.error(
                "SLA005",
                f"`{clause}` appears twice in {block}",
                span,
                f"keep one `{clause}` line (the first is on line {line})",
            )
        else:
            seen[clause] = span

    def number(self, token: Token) -> Decimal:
        try:
            return Decimal(str(token))
        except InvalidOperation as exc:  # pragma: no cover - the grammar admits only decimals
            raise _Invalid(f"`{token}` is not a number", self.span(token)) from exc

    def integer(self, token: Token, what: str) -> int:
        value = self.number(token)
        if value != value.to_integral_value():
            raise _Invalid(f"{what} must be a whole number, not {token}", self.span(token))
        return int(value)

    def date(self, token: Token) -> dt.date:
        try:
            return dt.date.fromisoformat(str(token))
        except ValueError as exc:
            raise _Invalid(
                f"`{token}` is not a calendar date",
                self.span(token),
                "check the day and the month: dates are written YYYY-MM-DD",
            ) from exc

    def time(self, token: Token, allow_midnight_end: bool = False) -> int:
        hours, minutes = (int(part) for part in str(token).split(":"))
        if allow_midnight_end and hours == 24 and minutes == 0:
            return 24 * 60
        if hours > 23 or minutes > 59:
            help_ = (
                "write 24:00 only as the end of a window"
                if hours == 24
                else "times run from 00:00 to 23:59, and 24:00 ends a window at midnight"
            )
            raise _Invalid(f"`{token}` is not a time of day", self.span(token), help_)
        return hours * 60 + minutes

    def guarded(self, convert: object, *args: object) -> object:
        try:
            return convert(*args)  # type: ignore[operator]
        except _Invalid as invalid:
            self.error("SLA206", invalid.message, invalid.span, invalid.help)
            return None

    # -------------------------------------------------------- document

    def document(self, tree: Tree[Token]) -> n.Document:
        header: n.Header | None = None
        declarations: list[n.Declaration] = []
        for statement in _trees(tree):
            try:
                kind = statement.data
                if kind == "agreement":
                    if header is not None:
                        self.error(
                            "SLA005",
                            "a file holds one `agreement` header",
                            self.span(statement),
                            "merge the two headers, or split the file",
                        )
                    header = self.header(statement)
                elif kind == "fields":
                    declarations.extend(self.field(item) for item in _trees(statement))
                elif kind == "activities":
                    declarations.extend(
                        n.ActivityType(_name(token), self.span(token))
                        for token in _tokens(statement, "NAME")
                    )
                else:
                    declarations.append(self.declaration(statement))
            except _Invalid as invalid:
                self.error("SLA206", invalid.message, invalid.span, invalid.help)
                self.fatal = True
        return n.Document(header, tuple(declarations))

    def declaration(self, tree: Tree[Token]) -> n.Declaration:
        kind = tree.data
        if kind == "use":
            return n.Use(_text(_tokens(tree, "STRING")[0]), self.span(tree))
        if kind == "team":
            return self.team(tree)
        if kind == "calendar":
            return self.calendar(tree)
        if kind == "stage":
            return self.stage(tree)
        if kind == "handoff":
            return self.handoff(tree)
        if kind == "clock":
            return self.clock(tree)
        if kind == "cadence":
            return self.cadence(tree)
        if kind == "target":
            return self.target(tree)
        raise AssertionError(f"unknown statement {kind}")  # pragma: no cover

    def header(self, tree: Tree[Token]) -> n.Header:
        title = _text(_tokens(tree, "STRING")[0])
        seen: dict[str, Span] = {}
        version: n.Text | None = None
        effective: dt.date | None = None
        effective_span = Span(0, 0)
        parties: list[n.Party] = []
        calendar: n.Name | None = None
        timezone: n.Text | None = None
        for item in _trees(tree):
            kind = item.data
            if kind == "party":
                strings = _tokens(item, "STRING")
                parties.append(
                    n.Party(
                        _name(_tokens(item, "NAME")[0]),
                        _text(strings[0]),
                        _text(strings[1]),
                        _text(strings[2]) if len(strings) > 2 else None,
                        self.span(item),
                    )
                )
                continue
            self.once(seen, kind.replace("default_", ""), item, "the agreement header")
            if kind == "version":
                version = _text(_tokens(item, "STRING")[0])
            elif kind == "effective":
                effective = self.date(_tokens(item, "DATE")[0])
                effective_span = self.span(item)
            elif kind == "default_calendar":
                calendar = _name(_tokens(item, "NAME")[0])
            elif kind == "timezone":
                timezone = _text(_tokens(item, "STRING")[0])
        return n.Header(
            title,
            version,
            effective,
            tuple(parties),
            calendar,
            timezone,
            self.span(tree),
            effective_span,
        )

    def field(self, tree: Tree[Token]) -> n.Field:
        name = _name(_tokens(tree, "NAME")[0])
        type_tree = _trees(tree)[0]
        strings = _tokens(tree, "STRING")
        description = _text(strings[0], collapse=True) if strings else None
        kind = type_tree.data.removeprefix("type_")
        span = self.span(type_tree)
        if kind == "money":
            names = _tokens(type_tree, "NAME")
            field_type = n.FieldType("money", _name(names[0]) if names else None, (), span)
        elif kind == "enum":
            values = tuple(
                _text(token) if token.type == "STRING" else n.Text(str(token), self.span(token))
                for token in type_tree.children
                if isinstance(token, Token)
            )
            field_type = n.FieldType("enum", None, values, span)
        else:
            field_type = n.FieldType(cast(n.FieldKind, kind), None, (), span)
        return n.Field(name, field_type, description, self.span(tree))

    def team(self, tree: Tree[Token]) -> n.Team:
        strings = _tokens(tree, "STRING")
        members: list[n.Text] = []
        for block in _trees(tree):
            members.extend(_text(token) for token in _tokens(block, "STRING"))
        return n.Team(
            _name(_tokens(tree, "NAME")[0]),
            _text(strings[0]) if strings else None,
            tuple(members),
            self.span(tree),
        )

    # -------------------------------------------------------- calendars

    def window(self, tree: Tree[Token]) -> n.Window:
        first, second = _tokens(tree, "TIME")
        start = self.time(first)
        end = self.time(second, allow_midnight_end=True)
        return n.Window(start, end, self.span(tree))

    def calendar(self, tree: Tree[Token]) -> n.Calendar:
        strings = _tokens(tree, "STRING")
        seen: dict[str, Span] = {}
        timezone: n.Text | None = None
        hours: list[n.OpenHours] = []
        holiday_sets: list[n.PublicHolidays] = []
        closures: list[n.Closure] = []
        working_day: n.Duration | None = None
        for item in _trees(tree):
            kind = item.data
            if kind == "timezone":
                self.once(seen, "timezone", item, "a calendar")
                timezone = _text(_tokens(item, "STRING")[0])
            elif kind == "open":
                hours.append(self.open_hours(item))
            elif kind == "public_holidays":
                region = str(_tokens(item, "REGION")[0])
                country, _, subdivision = region.partition("-")
                holiday_sets.append(
                    n.PublicHolidays(
                        country.upper(),
                        subdivision.upper() or None,
                        tuple(_name(token) for token in _tokens(item, "NAME")),
                        self.span(item),
                    )
                )
            elif kind == "closed":
                dates = [self.date(token) for token in _tokens(item, "DATE")]
                windows = [self.window(child) for child in _trees(item)]
                reasons = _tokens(item, "STRING")
                closures.append(
                    n.Closure(
                        dates[0],
                        dates[-1],
                        windows[0] if windows else None,
                        _text(reasons[0]) if reasons else None,
                        self.span(item),
                    )
                )
            elif kind == "working_day":
                self.once(seen, "working day", item, "a calendar")
                working_day = self.duration(_trees(item)[0])
        return n.Calendar(
            _name(_tokens(tree, "NAME")[0]),
            _text(strings[0]) if strings else None,
            timezone,
            tuple(hours),
            tuple(holiday_sets),
            tuple(closures),
            working_day,
            self.span(tree),
        )

    def open_hours(self, tree: Tree[Token]) -> n.OpenHours:
        days: list[int] = []
        day_spans: list[tuple[int, int, Span]] = []
        windows: list[n.Window] = []
        for child in _trees(tree):
            if child.data == "day_range":
                names = [DAYS.index(str(token)) for token in _tokens(child, "DAY")]
                first, last = names[0], names[-1]
                if last < first:
                    raise _Invalid(
                        f"`{DAYS[first]} to {DAYS[last]}` runs backwards",
                        self.span(child),
                        "a week runs monday to sunday; list the days in that order",
                    )
                day_spans.append((first, last, self.span(child)))
                for day in range(first, last + 1):
                    if day in days:
                        raise _Invalid(f"{DAYS[day]} is listed twice", self.span(child))
                    days.append(day)
            else:
                windows.append(self.window(child))
        return n.OpenHours(tuple(days), tuple(windows), self.span(tree), tuple(day_spans))

    # -------------------------------------------------------- durations and values

    def duration(self, tree: Tree[Token]) -> n.Duration:
        amount = self.number(_tokens(tree, "NUMBER")[0])
        business = bool(_tokens(tree, "BUSINESS"))
        word = str(_tokens(tree, "NAME")[0])
        unit = UNITS.get(word)
        written = f"business {word}" if business else word
        canonical: n.UnitWord | None = None
        if unit is not None:
            if business:
                # `business weeks` has no meaning: a week of open time is not a unit people use.
                canonical = None if unit == "weeks" else cast(n.UnitWord, f"business {unit}")
            else:
                canonical = unit
        return n.Duration(amount, canonical, written, business, self.span(tree))

    def literal(self, tree: Tree[Token]) -> n.Literal:
        kind = tree.data
        span = self.span(tree)
        tokens = [child for child in tree.children if isinstance(child, Token)]
        if kind == "string":
            return n.Literal("string", unquote(str(tokens[0])), span)
        if kind == "number":
            return n.Literal("number", self.number(tokens[0]), span)
        if kind == "negative":
            magnitude = self.number(tokens[0])
            # copy_negate keeps every digit (unary minus rounds to the context); -0 is 0.
            return n.Literal("number", magnitude.copy_negate() if magnitude else magnitude, span)
        if kind == "date":
            return n.Literal("date", self.date(tokens[0]), span)
        if kind == "datetime":
            try:
                value = dt.datetime.fromisoformat(str(tokens[0]).replace("Z", "+00:00"))
            except ValueError as exc:
                raise _Invalid(f"`{tokens[0]}` is not a date and time", span) from exc
            if value.tzinfo is None:
                raise _Invalid(
                    f"`{tokens[0]}` has no UTC offset",
                    span,
                    "add an offset such as +11:00 or Z so the instant is unambiguous",
                )
            return n.Literal("datetime", value, span)
        if kind == "true":
            return n.Literal("boolean", True, span)
        if kind == "false":
            return n.Literal("boolean", False, span)
        if kind == "symbol":
            return n.Literal("symbol", str(tokens[0]), span)
        raise AssertionError(kind)  # pragma: no cover

    def actor(self, tree: Tree[Token] | None) -> n.Actor | None:
        if tree is None:
            return None
        if tree.data == "by_owner":
            return n.ByOwner(self.span(tree))
        return n.ByTeam(_name(_tokens(tree, "NAME")[0]), self.span(tree))

    def find(self, tree: Tree[Token], data: str) -> Tree[Token] | None:
        for child in _trees(tree):
            if child.data == data:
                return child
        return None

    def find_by(self, tree: Tree[Token]) -> Tree[Token] | None:
        return self.find(tree, "by_team") or self.find(tree, "by_owner")

    # -------------------------------------------------------- criteria

    def expr(self, tree: Tree[Token], depth: int = 0) -> n.Expr:
        if depth > MAX_NESTING:
            raise _Invalid(
                f"criteria nested more than {MAX_NESTING} levels deep",
                self.span(tree),
                "split the condition into several `criteria` lines",
            )
        kind = tree.data
        span = self.span(tree)
        if kind in ("and_expr", "or_expr"):
            parts: list[n.Expr] = []
            for child in _trees(tree):
                part = self.expr(child, depth + 1)
                same = n.And if kind == "and_expr" else n.Or
                if isinstance(part, same):
                    parts.extend(part.parts)
                else:
                    parts.append(part)
            return n.And(tuple(parts), span) if kind == "and_expr" else n.Or(tuple(parts), span)
        if kind == "negation":
            return n.Not(self.expr(_trees(tree)[0], depth + 1), span)
        names = _tokens(tree, "NAME")
        if kind == "comparison":
            op = cast(n.CompareOp, str(_tokens(tree, "COMPARE")[0]))
            return n.Comparison(_name(names[0]), op, self.literal(_trees(tree)[0]), span)
        if kind in ("member", "not_member"):
            values = tuple(self.literal(child) for child in _trees(tree))
            return n.Membership(_name(names[0]), values, kind == "not_member", span)
        if kind in ("is_set", "is_not_set"):
            return n.Presence(_name(names[0]), kind == "is_set", span)
        if kind == "recent":
            return n.Recent(_name(names[0]), self.duration(_trees(tree)[0]), span)
        if kind == "activity_count":
            minimum = self.integer(_tokens(tree, "NUMBER")[0], "an activity count")
            by_tree = self.find_by(tree)
            since_tree = self.find(tree, "since")
            since = _name(_tokens(since_tree, "NAME")[0]) if since_tree is not None else None
            return n.ActivityCount(
                minimum, tuple(_name(t) for t in names), self.actor(by_tree), since, span
            )
        raise AssertionError(kind)  # pragma: no cover

    # -------------------------------------------------------- lifecycle

    def stage(self, tree: Tree[Token]) -> n.Stage:
        strings = _tokens(tree, "STRING")
        seen: dict[str, Span] = {}
        owner: n.Name | None = None
        definition: n.Text | None = None
        aliases: list[n.Text] = []
        initial = terminal = False
        max_dwell: n.Duration | None = None
        calendar: n.Name | None = None
        for item in _trees(tree):
            kind = item.data
            clause = {"max_dwell": "max dwell", "stage_calendar": "calendar"}.get(kind, kind)
            if kind != "aliases":
                self.once(seen, clause, item, "a stage")
            if kind == "owner":
                owner = _name(_tokens(item, "NAME")[0])
            elif kind == "definition":
                token = next(c for c in item.children if isinstance(c, Token))
                definition = _text(token, collapse=True)
            elif kind == "aliases":
                aliases.extend(
                    _text(token) if token.type == "STRING" else n.Text(str(token), self.span(token))
                    for token in item.children
                    if isinstance(token, Token)
                )
            elif kind == "initial":
                initial = True
            elif kind == "terminal":
                terminal = True
            elif kind == "max_dwell":
                max_dwell = self.duration(_trees(item)[0])
            elif kind == "stage_calendar":
                calendar = _name(_tokens(item, "NAME")[0])
        return n.Stage(
            _name(_tokens(tree, "NAME")[0]),
            _text(strings[0]) if strings else None,
            owner,
            definition,
            tuple(aliases),
            initial,
            terminal,
            max_dwell,
            calendar,
            self.span(tree),
        )

    def handoff(self, tree: Tree[Token]) -> n.Handoff:
        names = _tokens(tree, "NAME")
        strings = _tokens(tree, "STRING")
        criteria: list[n.Expr] = []
        required: list[n.Name] = []
        for item in _trees(tree):
            if item.data == "criteria":
                criteria.append(self.expr(_trees(item)[0]))
            else:
                required.extend(_name(token) for token in _tokens(item, "NAME"))
        return n.Handoff(
            _name(names[0]),
            _name(names[1]),
            _text(strings[0]) if strings else None,
            tuple(criteria),
            tuple(required),
            self.span(tree),
        )

    def trigger(self, tree: Tree[Token]) -> n.Trigger:
        kind = tree.data
        span = self.span(tree)
        names = tuple(_name(token) for token in _tokens(tree, "NAME"))
        if kind == "on_enter":
            return n.OnEnter(names, span)
        if kind == "on_leave":
            return n.OnLeave(names, span)
        if kind == "on_create":
            return n.OnCreate(span)
        if kind == "on_assign":
            return n.OnAssign(span)
        if kind == "on_handoff":
            return n.OnHandoff(names[0], names[1], span)
        if kind == "on_activity":
            return n.OnActivity(names, self.actor(self.find_by(tree)), span)
        raise AssertionError(kind)  # pragma: no cover

    def percent(self, token: Token) -> n.Percent:
        value = self.number(token)
        if value > 100:
            raise _Invalid(
                f"{token}% is more than 100%", self.span(token), "a percentage runs from 0 to 100"
            )
        return n.Percent(value, self.span(token))

    def clock(self, tree: Tree[Token]) -> n.Clock:
        strings = _tokens(tree, "STRING")
        seen: dict[str, Span] = {}
        starts: list[n.Trigger] = []
        stops: list[n.Trigger] = []
        cancels: list[n.Trigger] = []
        pauses: list[n.Pause] = []
        goals: list[n.Goal] = []
        calendar: n.Name | None = None
        warn: n.Percent | None = None
        responsible: n.Name | None = None
        for item in _trees(tree):
            kind = item.data
            if kind in ("starts", "stops", "cancels"):
                trigger = self.trigger(_trees(item)[0])
                {"starts": starts, "stops": stops, "cancels": cancels}[kind].append(trigger)
            elif kind == "pauses_in":
                stages = tuple(_name(token) for token in _tokens(item, "NAME"))
                pauses.append(n.PauseInStages(stages, self.span(item)))
            elif kind == "pauses_while":
                pauses.append(n.PauseWhile(self.expr(_trees(item)[0]), self.span(item)))
            elif kind == "goal":
                children = _trees(item)
                condition = self.expr(children[1]) if len(children) > 1 else None
                goals.append(n.Goal(self.duration(children[0]), condition, self.span(item)))
            elif kind == "clock_calendar":
                self.once(seen, "calendar", item, "a clock")
                calendar = _name(_tokens(item, "NAME")[0])
            elif kind == "warn":
                self.once(seen, "warn", item, "a clock")
                warn = self.percent(_tokens(item, "NUMBER")[0])
            elif kind == "responsible":
                self.once(seen, "responsible", item, "a clock")
                responsible = _name(_tokens(item, "NAME")[0])
        return n.Clock(
            _name(_tokens(tree, "NAME")[0]),
            _text(strings[0]) if strings else None,
            tuple(starts),
            tuple(stops),
            tuple(cancels),
            tuple(pauses),
            tuple(goals),
            calendar,
            warn,
            responsible,
            self.span(tree),
        )

    def cadence(self, tree: Tree[Token]) -> n.Cadence:
        strings = _tokens(tree, "STRING")
        seen: dict[str, Span] = {}
        starts: list[n.Trigger] = []
        exits: list[n.Trigger] = []
        minimum = 0
        types: tuple[n.Name, ...] = ()
        by: n.Actor | None = None
        within: n.Duration | None = None
        obligation_span = self.span(tree)
        calendar: n.Name | None = None
        responsible: n.Name | None = None
        for item in _trees(tree):
            kind = item.data
            if kind == "starts":
                starts.append(self.trigger(_trees(item)[0]))
            elif kind == "exits":
                exits.append(self.trigger(_trees(item)[0]))
            elif kind == "obligation":
                self.once(seen, "requires", item, "a cadence")
                minimum = self.integer(_tokens(item, "NUMBER")[0], "an activity count")
                types = tuple(_name(token) for token in _tokens(item, "NAME"))
                by = self.actor(self.find_by(item))
                within = self.duration(self.find(item, "duration"))  # type: ignore[arg-type]
                obligation_span = self.span(item)
            elif kind == "clock_calendar":
                self.once(seen, "calendar", item, "a cadence")
                calendar = _name(_tokens(item, "NAME")[0])
            elif kind == "responsible":
                self.once(seen, "responsible", item, "a cadence")
                responsible = _name(_tokens(item, "NAME")[0])
        return n.Cadence(
            _name(_tokens(tree, "NAME")[0]),
            _text(strings[0]) if strings else None,
            tuple(starts),
            minimum,
            types,
            by,
            within,
            tuple(exits),
            calendar,
            responsible,
            self.span(tree),
            obligation_span,
        )

    def target(self, tree: Tree[Token]) -> n.Target:
        strings = _tokens(tree, "STRING")
        seen: dict[str, Span] = {}
        period: n.Period | None = None
        bound: n.Bound = "at least"
        measure: n.Measure | None = None
        responsible: n.Name | None = None
        for item in _trees(tree):
            if item.data == "responsible":
                self.once(seen, "responsible", item, "a target")
                responsible = _name(_tokens(item, "NAME")[0])
                continue
            self.once(seen, "each", item, "a target")
            period = cast(n.Period, str(_tokens(item, "PERIOD")[0]))
            bound_tree, quantity = _trees(item)
            bound = "at least" if bound_tree.data == "at_least" else "at most"
            measure = self.measure(quantity)
        return n.Target(
            _name(_tokens(tree, "NAME")[0]),
            _text(strings[0]) if strings else None,
            period,
            bound,
            measure,
            responsible,
            self.span(tree),
        )

    def measure(self, tree: Tree[Token]) -> n.Measure:
        kind = tree.data
        span = self.span(tree)
        number = _tokens(tree, "NUMBER")[0]
        names = _tokens(tree, "NAME")
        within_tree = self.find(tree, "within")
        within = self.duration(_trees(within_tree)[0]) if within_tree is not None else None
        if kind == "volume":
            return n.Volume(self.integer(number, "a lead count"), _name(names[0]), span)
        if kind == "conversion":
            return n.Conversion(
                self.percent(number), _name(names[0]), _name(names[1]), within, span
            )
        if kind == "attainment":
            return n.Attainment(self.percent(number), _name(names[0]), span)
        if kind == "worked":
            actor = self.actor(self.find_by(tree))
            assert actor is not None
            return n.Worked(self.percent(number), _name(names[0]), actor, within, span)
        raise AssertionError(kind)  # pragma: no cover
