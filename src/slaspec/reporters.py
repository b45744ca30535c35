"""Reporting: diagnostics and their sources -> text, JSON, SARIF 2.1.0 or GitHub workflow commands.

Every renderer is a pure function of its inputs: findings are ordered by `diagnostics.sort_key`,
lines are 1-based and columns count characters (code points), never bytes. An end position
names the line of the span's last character and the column just after it (as SARIF does).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from slaspec.diagnostics import RULES, Diagnostic, Rule, Severity, sort_key
from slaspec.source import Source

JSON_FORMAT_VERSION = 1
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
TAB_WIDTH = 4

_RESET = "\x1b[0m"
_BOLD = "1"
_RED = "1;31"
_GREEN = "1;32"
_YELLOW = "1;33"
_BLUE = "1;34"

# Right-to-left overrides and isolates can make a line read differently from how it parses.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:/")


@dataclass(frozen=True, slots=True)
class Location:
    """A span as shown to people: 1-based lines, columns in characters, end column exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int


def locate(diagnostic: Diagnostic, sources: Mapping[str, Source]) -> Location | None:
    """The display position of a finding's span, or None when the finding has no span."""
    span = diagnostic.span
    if span is None:
        return None
    if diagnostic.file is None or diagnostic.file not in sources:
        # A span is an offset into one text; without that text it cannot be shown honestly.
        raise ValueError(f"{diagnostic.code} has a span but no source for {diagnostic.file!r}")
    source = sources[diagnostic.file]
    line, column = source.position(span.start)
    if span.end <= span.start:
        return Location(line, column, line, column)
    end_line, last_column = source.position(span.end - 1)
    return Location(line, column, end_line, last_column + 1)


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    """One sentence counting errors, warnings and files, or `All checks passed.`."""
    if not diagnostics:
        return "All checks passed."
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = len(diagnostics) - errors
    counted = []
    if errors:
        counted.append(_plural(errors, "error"))
    if warnings:
        counted.append(_plural(warnings, "warning"))
    text = "Found " + " and ".join(counted)
    files = len({d.file for d in diagnostics if d.file is not None})
    if files:
        text += " in " + _plural(files, "file")
    return text + "."


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _ordered(diagnostics: Sequence[Diagnostic]) -> list[Diagnostic]:
    return sorted(diagnostics, key=sort_key)


# ---------------------------------------------------------------- text


def render_text(
    diagnostics: Sequence[Diagnostic], sources: Mapping[str, Source], color: bool
) -> str:
    """Findings as rustc-style blocks (location, source line, caret, help) and a summary line."""
    blocks = [_text_block(d, sources, color) for d in _ordered(diagnostics)]
    errors = any(d.severity is Severity.ERROR for d in diagnostics)
    tone = _RED if errors else _YELLOW if diagnostics else _GREEN
    blocks.append(_paint(summary(diagnostics), tone, color))
    return "\n\n".join(blocks) + "\n"


def _paint(text: str, style: str, color: bool) -> str:
    return f"\x1b[{style}m{text}{_RESET}" if color and text else text


def _text_block(diagnostic: Diagnostic, sources: Mapping[str, Source], color: bool) -> str:
    location = locate(diagnostic, sources)
    place = _escape(diagnostic.file) if diagnostic.file is not None else ""
    if location is not None:
        place += f":{location.line}:{location.column}"
    elif diagnostic.row is not None:
        place += f":{diagnostic.row}" if place else f"row {diagnostic.row}"
    tone = _RED if diagnostic.severity is Severity.ERROR else _YELLOW
    label = _paint(f"{diagnostic.severity.value}[{diagnostic.code}]", tone, color)
    message = _paint(_escape(diagnostic.message + _details(diagnostic, location)), _BOLD, color)
    header = (
        f"{_paint(place + ':', _BOLD, color)} {label} {message}" if place else f"{label} {message}"
    )
    lines = [header]
    gutter = " "
    if location is not None:
        assert diagnostic.file is not None  # locate() guarantees it
        number = str(location.line)
        gutter = " " * len(number)
        shown, columns = _display(sources[diagnostic.file].line_text(location.line))
        start = min(location.column - 1, len(columns) - 1)
        end = len(columns) - 1
        if location.end_line == location.line:
            end = min(location.end_column - 1, end)
        carets = max(1, columns[end] - columns[start])
        bar = _paint("|", _BLUE, color)
        lines.append(f"{gutter} {bar}")
        lines.append(f"{_paint(number, _BLUE, color)} {bar} {shown}".rstrip())
        lines.append(f"{gutter} {bar} {' ' * columns[start]}{_paint('^' * carets, tone, color)}")
    if diagnostic.help is not None:
        equals = _paint("=", _BLUE, color)
        lines.append(
            f"{gutter} {equals} {_paint('help:', _BOLD, color)} {_escape(diagnostic.help)}"
        )
    return "\n".join(lines)


def _details(diagnostic: Diagnostic, location: Location | None) -> str:
    """The parenthesised row and column name of a log finding, when they are not shown elsewhere."""
    parts = []
    if diagnostic.row is not None and location is not None:
        parts.append(f"row {diagnostic.row}")
    if diagnostic.column is not None:
        parts.append(f"column {diagnostic.column}")
    return f" ({', '.join(parts)})" if parts else ""


def _escape(text: str) -> str:
    """Control characters spelled out, so a message cannot drive the terminal."""
    out = []
    for char in text:
        if char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif _unsafe(char):
            out.append(f"\\u{ord(char):04x}" if ord(char) > 0xFF else f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def _display(line: str) -> tuple[str, list[int]]:
    """A source line as a terminal shows it, and the display column before each character.

    Tabs expand to the next stop, wide East Asian characters take two cells and combining
    marks none; control characters become U+FFFD so the caret line stays aligned with them.
    """
    shown: list[str] = []
    columns = [0]
    width = 0
    for char in line:
        if char == "\t":
            step = TAB_WIDTH - width % TAB_WIDTH
            shown.append(" " * step)
        elif _unsafe(char):
            step = 1
            shown.append("\ufffd")
        else:
            step = _cell_width(char)
            shown.append(char)
        width += step
        columns.append(width)
    return "".join(shown), columns


def _unsafe(char: str) -> bool:
    """Characters a terminal acts on, or that break or reorder a line, rather than draws."""
    return unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") or char in _BIDI_CONTROLS


def _cell_width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


# ---------------------------------------------------------------- JSON


def render_json(diagnostics: Sequence[Diagnostic], sources: Mapping[str, Source]) -> str:
    """A JSON document: format version, the findings in order, and their counts."""
    findings = []
    for diagnostic in _ordered(diagnostics):
        location = locate(diagnostic, sources)
        findings.append(
            {
                "code": diagnostic.code,
                "name": diagnostic.rule.name,
                "severity": diagnostic.severity.value,
                "message": diagnostic.message,
                "help": diagnostic.help,
                "file": diagnostic.file,
                "line": location.line if location else None,
                "column": location.column if location else None,
                "end_line": location.end_line if location else None,
                "end_column": location.end_column if location else None,
                "row": diagnostic.row,
                "column_name": diagnostic.column,
            }
        )
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    document = {
        "version": JSON_FORMAT_VERSION,
        "findings": findings,
        "counts": {
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "files": len({d.file for d in diagnostics if d.file is not None}),
        },
    }
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


# ---------------------------------------------------------------- SARIF


def render_sarif(
    diagnostics: Sequence[Diagnostic],
    sources: Mapping[str, Source],
    version: str,
    docs_uri: str,
    information_uri: str | None = None,
) -> str:
    """A SARIF 2.1.0 log with one run, in the subset GitHub code scanning accepts.

    `version` is slaspec's; `docs_uri` is the absolute address of docs/diagnostics.md, and each
    rule's help links to its heading anchor there (`#sla101-undefined-name`); `information_uri`
    (the project's home) defaults to `docs_uri`. Findings without a file become tool
    notifications, since GitHub rejects a whole upload when one result has no location.
    """
    ordered = _ordered(diagnostics)
    codes = sorted({d.code for d in ordered})
    index = {code: position for position, code in enumerate(codes)}
    results: list[dict[str, object]] = []
    notifications: list[dict[str, object]] = []
    for diagnostic in ordered:
        level = diagnostic.severity.value
        text = _full_message(diagnostic, locate(diagnostic, sources))
        if diagnostic.file is None:
            notifications.append(
                {
                    "level": level,
                    "message": {"text": text},
                    "associatedRule": {"id": diagnostic.code, "index": index[diagnostic.code]},
                }
            )
            continue
        result: dict[str, object] = {
            "ruleId": diagnostic.code,
            "ruleIndex": index[diagnostic.code],
            "level": level,
            "message": {"text": text},
            "locations": [{"physicalLocation": _physical_location(diagnostic, sources)}],
        }
        properties: dict[str, object] = {}
        if diagnostic.row is not None:
            properties["row"] = diagnostic.row
        if diagnostic.column is not None:
            properties["column"] = diagnostic.column
        if properties:
            result["properties"] = properties
        results.append(result)
    run = {
        "tool": {
            "driver": {
                "name": "slaspec",
                "version": version,
                "informationUri": information_uri or docs_uri,
                "rules": [_sarif_rule(RULES[code], docs_uri) for code in codes],
            }
        },
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
        "results": results,
    }
    document = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def _sarif_rule(rule: Rule, docs_uri: str) -> dict[str, object]:
    help_uri = f"{docs_uri}#{rule.code.lower()}-{rule.name}"
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.code} ({rule.name}): {rule.summary}"},
        "help": {
            "text": f"{rule.summary} See {help_uri}",
            "markdown": f"{rule.summary} [{rule.code} in the documentation]({help_uri})",
        },
        "helpUri": help_uri,
        "defaultConfiguration": {"level": rule.severity.value},
    }


def _physical_location(diagnostic: Diagnostic, sources: Mapping[str, Source]) -> dict[str, object]:
    assert diagnostic.file is not None
    physical: dict[str, object] = {"artifactLocation": {"uri": artifact_uri(diagnostic.file)}}
    location = locate(diagnostic, sources)
    if location is not None:
        physical["region"] = {
            "startLine": location.line,
            "startColumn": location.column,
            "endLine": location.end_line,
            "endColumn": location.end_column,
        }
    return physical


def artifact_uri(path: str) -> str:
    """A file name as a SARIF URI: relative paths stay relative, with forward slashes."""
    path = path.replace("\\", "/")
    if _WINDOWS_DRIVE.match(path):
        return "file:///" + path[:2] + quote(path[2:], safe="/")
    if path.startswith("/"):
        return "file://" + quote(path, safe="/")
    return quote(path, safe="/")


def _full_message(diagnostic: Diagnostic, location: Location | None) -> str:
    """Message, log position and help in one text, for formats that show a single string."""
    text = diagnostic.message
    if diagnostic.row is not None and location is None:
        text = f"row {diagnostic.row}: {text}"
    text += _details(diagnostic, location)
    if diagnostic.help is not None:
        text += f"\nhelp: {diagnostic.help}"
    return text


# ---------------------------------------------------------------- GitHub Actions


def render_github(diagnostics: Sequence[Diagnostic], sources: Mapping[str, Source]) -> str:
    """One GitHub Actions `::error` / `::warning` workflow command per finding."""
    lines = []
    for diagnostic in _ordered(diagnostics):
        location = locate(diagnostic, sources)
        properties: list[tuple[str, str]] = []
        if diagnostic.file is not None:
            properties.append(("file", diagnostic.file.replace("\\", "/")))
        if location is not None:
            properties.append(("line", str(location.line)))
            # GitHub accepts columns only for an annotation that stays on one line.
            if location.end_line == location.line:
                properties.append(("col", str(location.column)))
                properties.append(("endLine", str(location.end_line)))
                properties.append(("endColumn", str(location.end_column)))
            else:
                properties.append(("endLine", str(location.end_line)))
        properties.append(("title", f"{diagnostic.code} {diagnostic.rule.name}"))
        fields = ",".join(f"{key}={_github_property(value)}" for key, value in properties)
        message = _github_data(_full_message(diagnostic, location))
        lines.append(f"::{diagnostic.severity.value} {fields}::{message}\n")
    return "".join(lines)


def _github_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_property(text: str) -> str:
    return _github_data(text).replace(":", "%3A").replace(",", "%2C")
