"""Suppressions: findings + a parsed file's `# slaspec: ignore[...]` comments -> the findings kept.

A trailing comment covers the line it ends; a comment on a line of its own covers the next line
that is neither blank nor a comment. It suppresses the findings of the codes it names whose span
starts on that line, in the same file. Every suppression must say why (`-- reason`); one that
suppresses nothing, names an unknown code or is malformed is itself reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from slaspec.diagnostics import RULES, Diagnostic, did_you_mean, sort_key
from slaspec.parser import Comment, Parsed
from slaspec.source import Source, Span

# Findings about suppressions themselves, and syntax errors, must stay visible.
UNSUPPRESSIBLE = frozenset({"SLA001", "SLA801", "SLA802", "SLA803"})

_DIRECTIVE = re.compile(r"#\s*slaspec\s*:", re.IGNORECASE)
_IGNORE = re.compile(r"\s*ignore\s*\[(?P<codes>[^\[\]]*)\]\s*(?:--(?P<reason>.*))?", re.DOTALL)
_CODE_LIKE = re.compile(r"SLA\d+", re.IGNORECASE)
_SHOWN_DIRECTIVE = 60


@dataclass(frozen=True, slots=True)
class Suppression:
    """One well-formed ignore comment: the codes it names, its reason and the line it covers."""

    comment: Comment
    codes: tuple[tuple[str, Span], ...]
    reason: str | None
    line: int | None


def apply(diagnostics: Iterable[Diagnostic], parsed: Parsed) -> list[Diagnostic]:
    """The findings no comment suppresses, plus findings about the suppression comments."""
    source = parsed.source
    suppressions, faults = read(parsed)
    problems = list(faults)
    used: set[tuple[int, int]] = set()
    kept: list[Diagnostic] = []
    for diagnostic in diagnostics:
        hits = _hits(diagnostic, suppressions, source)
        used.update(hits)
        if not hits:
            kept.append(diagnostic)
    for which, suppression in enumerate(suppressions):
        seen: set[str] = set()
        for position, (code, span) in enumerate(suppression.codes):
            duplicate = code in seen
            seen.add(code)
            if code in RULES and (duplicate or (which, position) not in used):
                problems.append(_unused(suppression, code, span, duplicate, source))
    return sorted([*kept, *problems], key=sort_key)


def read(parsed: Parsed) -> tuple[tuple[Suppression, ...], tuple[Diagnostic, ...]]:
    """A file's well-formed suppressions, and findings about its faulty `# slaspec:` comments."""
    source = parsed.source
    comment_starts = {comment.span.start for comment in parsed.comments}
    suppressions: list[Suppression] = []
    problems: list[Diagnostic] = []
    for comment in parsed.comments:
        directive = _DIRECTIVE.match(comment.text)
        if directive is None:
            continue
        form = _IGNORE.fullmatch(comment.text, directive.end())
        codes = _codes(comment, form) if form is not None else None
        if form is None or codes is None:
            problems.append(_malformed(comment, source))
            continue
        for code, span in codes:
            if code not in RULES:
                problems.append(_unknown(code, span, source))
        raw_reason = form.group("reason")
        reason = raw_reason.strip() if raw_reason is not None else None
        if not reason:
            problems.append(_no_reason(comment, codes, raw_reason is not None, source))
        line = _covered_line(comment, source, comment_starts)
        suppressions.append(Suppression(comment, codes, reason, line))
    return tuple(suppressions), tuple(problems)


def _codes(comment: Comment, form: re.Match[str]) -> tuple[tuple[str, Span], ...] | None:
    """The codes in the brackets with their spans, or None when one of them is empty."""
    codes: list[tuple[str, Span]] = []
    offset = form.start("codes")
    for piece in form.group("codes").split(","):
        code = piece.strip()
        if not code:
            return None
        start = comment.span.start + offset + piece.index(code)
        codes.append((code, Span(start, start + len(code))))
        offset += len(piece) + 1
    return tuple(codes)


def _covered_line(comment: Comment, source: Source, comment_starts: set[int]) -> int | None:
    line, _ = source.position(comment.span.start)
    if not comment.own_line:
        return line
    for candidate in range(line + 1, source.line_count + 1):
        text = source.line_text(candidate)
        if not text.strip():
            continue
        first = source.line_start(candidate) + len(text) - len(text.lstrip())
        if first in comment_starts:
            continue
        return candidate
    return None


def _hits(
    diagnostic: Diagnostic, suppressions: tuple[Suppression, ...], source: Source
) -> list[tuple[int, int]]:
    if diagnostic.file != source.name or diagnostic.span is None:
        return []
    if diagnostic.code in UNSUPPRESSIBLE:
        return []
    line, _ = source.position(diagnostic.span.start)
    return [
        (which, position)
        for which, suppression in enumerate(suppressions)
        if suppression.line == line
        for position, (code, _span) in enumerate(suppression.codes)
        if code == diagnostic.code
    ]


def _form(codes: Iterable[str]) -> str:
    return f"# slaspec: ignore[{', '.join(codes)}] -- reason"


def _malformed(comment: Comment, source: Source) -> Diagnostic:
    shown = comment.text
    if len(shown) > _SHOWN_DIRECTIVE:
        shown = shown[: _SHOWN_DIRECTIVE - 3] + "..."
    named = [code.upper() for code in _CODE_LIKE.findall(comment.text)] or ["CODE"]
    return Diagnostic(
        "SLA803",
        f"malformed suppression comment `{shown}`",
        source.name,
        comment.span,
        help=f"write `{_form(named)}`, with the codes in square brackets",
    )


def _unknown(code: str, span: Span, source: Source) -> Diagnostic:
    return Diagnostic(
        "SLA803",
        f"unknown code `{code}` in suppression comment",
        source.name,
        span,
        help=did_you_mean(code, RULES) or "the codes are listed in docs/diagnostics.md",
    )


def _no_reason(
    comment: Comment, codes: tuple[tuple[str, Span], ...], has_dashes: bool, source: Source
) -> Diagnostic:
    what = "an empty reason" if has_dashes else "no reason"
    return Diagnostic(
        "SLA801",
        f"suppression comment gives {what}",
        source.name,
        comment.span,
        help=f"say why the finding is accepted: `{_form(code for code, _ in codes)}`",
    )


def _unused(
    suppression: Suppression, code: str, span: Span, duplicate: bool, source: Source
) -> Diagnostic:
    name = RULES[code].name
    if duplicate:
        message = f"`{code}` ({name}) appears twice in this suppression comment"
        help_ = f"remove the second `{code}`"
    else:
        message = f"suppression of `{code}` ({name}) matches no finding"
        if code in UNSUPPRESSIBLE:
            help_ = f"{code} cannot be suppressed; fix the finding instead"
        elif suppression.line is None:
            help_ = "no statement follows this comment; remove it"
        elif len(suppression.codes) == 1:
            help_ = f"no {code} finding starts on line {suppression.line}; remove the comment"
        else:
            help_ = f"no {code} finding starts on line {suppression.line}; remove `{code}`"
    return Diagnostic("SLA802", message, source.name, span, help=help_)
