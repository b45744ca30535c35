"""Robustness: no input, however broken, huge, deep or oddly encoded, produces a traceback.

Every finding must carry a known rule code and, when it points into a file, a span inside that
file's text. Bad input is a diagnostic and an exit code, never an exception.
"""

from __future__ import annotations

import json
import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, TODAY, check_text, memory_reader
from slaspec import cli, formatter
from slaspec.diagnostics import RULES, Diagnostic, Severity
from slaspec.parser import MAX_NESTING, MAX_SYNTAX_ERRORS, parse
from slaspec.pipeline import Checked, check_agreement
from slaspec.source import Source

AGREEMENTS = sorted((ROOT / "agreements").glob("*.sla"))
EXAMPLES = tuple(
    path.read_text(encoding="utf-8")
    for path in [
        *AGREEMENTS,
        *sorted((DATA / "fmt").glob("*.sla")),
        DATA / "lint" / "many-problems.sla",
    ]
)
SOLO = (ROOT / "agreements" / "solo-consultant.sla").read_text(encoding="utf-8")
HARBOUR = (ROOT / "agreements" / "harbour-b2b.sla").read_text(encoding="utf-8")
BROKEN = 'agreement "Broken":\n    version "1"\n\nstage inquiry\n    initial\n'

# Words and punctuation of the language, and characters that have tripped lexers before.
TOKENS = (
    "agreement", "use", "fields", "activities", "team", "members", "calendar", "stage",
    "handoff", "clock", "cadence", "target", "initial", "terminal", "owner", "definition",
    "aliases", "max dwell", "criteria", "requires", "starts when", "stops when", "cancels when",
    "pauses while", "goal", "warn at", "responsible", "each month", "at least", "at most",
    "lead enters", "lead is created", "activity", "by", "since entering", "within", "business",
    "hours", "days", "not", "and", "or", "in", "is set", "true", "open", "monday", "to",
    "public holidays", "closed", "timezone", "version", "effective", "party", "signed by",
    "x", "sal", "mql", "score", "4", "-1", "2.5", "60%", "2026-03-01", "2026-03-01T09:00Z",
    "09:00-17:00", "AU-NSW", '"text"', '"unterminated', '"""', '"""long"""', "(", ")", "[", "]",
    ",", ":", "->", "=", ">=", "!=", "<", "%", "#", "# slaspec: ignore[SLA702] -- why", "\\",
    " ", "  ", "    ", "\t", "\n", "\r\n", "\r", "\x0c", "\x00", "\ufeff", "\u2028", "é", "界",
    "\U0001d4b3",
)  # fmt: skip


# ---------------------------------------------------------------- invariants


def _assert_well_formed(diagnostics: tuple[Diagnostic, ...], texts: dict[str, str]) -> None:
    """Every finding has a known code and, when it points into a file, a span inside it."""
    for diagnostic in diagnostics:
        assert diagnostic.code in RULES, diagnostic
        assert isinstance(diagnostic.severity, Severity)
        assert diagnostic.message.strip(), diagnostic
        if diagnostic.span is None:
            continue
        assert diagnostic.file in texts, diagnostic
        length = len(texts[diagnostic.file])
        assert 0 <= diagnostic.span.start <= diagnostic.span.end <= length, (diagnostic, length)


def _check(text: str, name: str = "fuzz.sla", files: dict[str, str] | None = None) -> Checked:
    checked = check_text(text, name, files)
    _assert_well_formed(checked.diagnostics, {name: text, **(files or {})})
    if checked.agreement is None and checked.program.ok:
        assert checked.errors, "an agreement that did not compile must say why"
    return checked


Main = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_today", lambda: TODAY)


@pytest.fixture
def main(capsys: pytest.CaptureFixture[str]) -> Main:
    """Run the CLI in-process: exit code, stdout and stderr, which never hold a traceback."""

    def call(*argv: str | Path) -> tuple[int, str, str]:
        code = cli.main([str(arg) for arg in argv])
        captured = capsys.readouterr()
        assert "Traceback" not in captured.out + captured.err
        return code, captured.out, captured.err

    return call


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parser_never_raises(text: str) -> None:
    parsed = parse(Source("fuzz.sla", text))
    _assert_well_formed(parsed.diagnostics, {"fuzz.sla": text})
    for comment in parsed.comments:
        assert 0 <= comment.span.start < comment.span.end <= len(text)
        assert text[comment.span.start : comment.span.end].rstrip() == comment.text
    if parsed.document is None:
        assert any(d.severity is Severity.ERROR for d in parsed.diagnostics)


_SOUP = st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join) | st.lists(
    st.sampled_from(TOKENS), max_size=80
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_SOUP)
def test_parser_never_raises_on_token_soup(text: str) -> None:
    parsed = parse(Source("soup.sla", text))
    _assert_well_formed(parsed.diagnostics, {"soup.sla": text})


@settings(max_examples=200, deadline=None)
@given(st.text() | _SOUP)
def test_lint_pipeline_never_raises_on_arbitrary_text(text: str) -> None:
    _check(text)


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    """An example agreement with lines deleted, duplicated, swapped, re-indented or cut short."""
    lines = draw(st.sampled_from(EXAMPLES)).splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 6))):
        if not lines:
            lines = [""]
        at = draw(st.integers(0, len(lines) - 1))
        operation = draw(
            st.sampled_from(["delete", "duplicate", "swap", "insert", "keyword", "indent", "cut"])
        )
        if operation == "delete":
            del lines[at]
        elif operation == "duplicate":
            lines.insert(at, lines[at])
        elif operation == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif operation in ("insert", "keyword"):
            inserted = (
                draw(st.text(max_size=6))
                if operation == "insert"
                else draw(st.sampled_from(TOKENS))
            )
            column = draw(st.integers(0, len(lines[at])))
            lines[at] = lines[at][:column] + inserted + lines[at][column:]
        elif operation == "indent":
            indent = draw(st.sampled_from(["", " ", "  ", "    ", "\t", "        ", "   \t"]))
            lines[at] = indent + lines[at].lstrip(" \t")
        else:
            text = "".join(lines)
            lines = text[: draw(st.integers(0, len(text)))].splitlines(keepends=True)
    return "".join(lines)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_examples())
def test_lint_pipeline_never_raises_on_mutated_examples(text: str) -> None:
    checked = _check(text)
    if checked.program.root.document is not None:
        formatter.format_document(checked.program.root)
    if checked.agreement is not None:
        graph = checked.agreement.graph
        graph.to_mermaid()
        graph.to_dot()
        json.loads(graph.to_json())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_examples() | st.text())
def test_used_file_findings_point_into_the_used_file(text: str) -> None:
    root = SOLO + '\nuse "shared/vocabulary.sla"\n'
    checked = _check(root, "root.sla", {"shared/vocabulary.sla": text})
    assert {d.file for d in checked.diagnostics} <= {"root.sla", "shared/vocabulary.sla"}


# ---------------------------------------------------------------- size


def _big_agreement(stages: int) -> str:
    """A valid agreement: a chain of stages with handoffs, criteria and one clock per stage."""
    parts = [
        'agreement "Large":\n    version "1"\n    effective 2026-01-05\n\n'
        'fields:\n    score: number\n\nactivities call\n\nteam sales "Sales"\n'
    ]
    for i in range(stages):
        flags = "    initial\n" if i == 0 else ""
        parts.append(
            f'\nstage s{i} "Stage number {i}":\n    owner sales\n{flags}'
            f'\nhandoff s{i} -> s{i + 1} "Step {i}":\n'
            f"    criteria score >= {i % 100} and at least 1 call by sales since entering s{i}\n"
        )
        if i % 50 == 0:
            parts.append(
                f"\nclock c{i}:\n    starts when lead enters s{i}\n"
                f"    stops when activity call by sales\n    goal 4 hours\n"
            )
    parts.append(f'\nstage s{stages} "Last":\n    owner sales\n    terminal\n')
    return "".join(parts)


def test_large_valid_agreement_lints_clean(main: Main, tmp_path: Path) -> None:
    # 10 MB takes about a minute in lark's LALR parser (reported as a performance problem), so
    # the test uses a few hundred kilobytes of the same shape.
    path = tmp_path / "large.sla"
    path.write_text(_big_agreement(2500), encoding="utf-8")
    assert path.stat().st_size > 300_000
    assert main("lint", path) == (0, "All checks passed.\n", "")


def _junk(size: int, seed: int) -> str:
    rng = random.Random(seed)
    fragments = [*TOKENS, "\n", "\n", "\n    ", ":\n    "]
    pieces: list[str] = []
    total = 0
    while total < size:
        chunk = "".join(rng.choices(fragments, k=10_000))
        pieces.append(chunk)
        total += len(chunk)
    return "".join(pieces)[:size]


def test_ten_megabytes_of_junk_stops_at_the_error_cap(main: Main, tmp_path: Path) -> None:
    path = tmp_path / "junk.sla"
    path.write_text(_junk(10 * 1024 * 1024, seed=2026).replace("\x00", "0"), encoding="utf-8")
    code, out, _ = main("lint", path, "--format", "json")
    assert code == 1
    findings = json.loads(out)["findings"]
    assert [f["code"] for f in findings].count("SLA001") == MAX_SYNTAX_ERRORS
    assert findings[-1]["code"] == "SLA007"
    assert findings[-1]["message"] == f"stopped after {MAX_SYNTAX_ERRORS} syntax errors"
    assert all(f["file"] == str(path) for f in findings)


@pytest.mark.parametrize(
    ("high_bit", "says"),
    [(False, "is a binary file (NUL byte"), (True, "is not UTF-8 text (byte 0x")],
    ids=["random-bytes", "not-utf8"],
)
def test_ten_megabytes_of_binary(main: Main, tmp_path: Path, high_bit: bool, says: str) -> None:
    data = random.Random(7).randbytes(10 * 1024 * 1024)
    if high_bit:
        # Bytes 0x80-0xff only: no NUL, and no valid UTF-8 sequence at the start.
        data = b"\xff" + data[1:].translate(bytes(b | 0x80 for b in range(256)))
    path = tmp_path / "blob.sla"
    path.write_bytes(data)
    code, out, _ = main("lint", path)
    assert code == 2
    assert out.startswith(f"{path}: error[SLA004] {path} ")
    assert says in out


# ---------------------------------------------------------------- depth

DEPTH = 10_000
CRITERION = "    criteria amount > 0\n"


def _with_criterion(criterion: str) -> str:
    assert SOLO.count(CRITERION) == 1
    return SOLO.replace(CRITERION, f"    criteria {criterion}\n")


@pytest.mark.parametrize(
    "criterion",
    [
        "not " * DEPTH + "amount > 0",
        "(amount > 0 and " * DEPTH + "amount > 0" + ")" * DEPTH,
        "not (" * DEPTH + "amount > 0" + ")" * DEPTH,
    ],
    ids=["nots", "and-parentheses", "not-parentheses"],
)
def test_deep_nesting_is_a_diagnostic(criterion: str) -> None:
    checked = _check(_with_criterion(criterion))
    assert [d.code for d in checked.diagnostics] == ["SLA206"]
    assert checked.diagnostics[0].message == f"criteria nested more than {MAX_NESTING} levels deep"


def test_deep_nesting_through_the_cli(main: Main, tmp_path: Path) -> None:
    path = tmp_path / "deep.sla"
    path.write_text(_with_criterion("not " * DEPTH + "amount > 0"), encoding="utf-8")
    code, out, _ = main("lint", path, "--format", "json")
    assert code == 1
    assert [f["code"] for f in json.loads(out)["findings"]] == ["SLA206"]
    code, _, err = main("fmt", "--check", path)
    assert code == 2 and "error[SLA206]" in err
    code, _, err = main("graph", path)
    assert code == 2 and "error[SLA206]" in err


def test_deep_redundant_parentheses_are_harmless(main: Main, tmp_path: Path) -> None:
    # Parentheses around one comparison add no nesting, so there is nothing to report.
    path = tmp_path / "parentheses.sla"
    path.write_text(_with_criterion("(" * DEPTH + "amount > 0" + ")" * DEPTH), encoding="utf-8")
    assert main("lint", path) == (0, "All checks passed.\n", "")
    assert main("fmt", path)[0] == 0
    assert path.read_text(encoding="utf-8") == SOLO


def test_deep_unclosed_parentheses_are_a_syntax_error() -> None:
    checked = _check(_with_criterion("(" * DEPTH + "amount > 0"))
    assert [d.code for d in checked.diagnostics] == ["SLA001"]


def test_deep_indentation_is_a_syntax_error() -> None:
    text = "".join(" " * depth + f"stage s{depth}:\n" for depth in range(2000))
    checked = _check(text)
    assert checked.diagnostics and checked.diagnostics[0].code == "SLA001"


def test_recursion_limit_is_untouched() -> None:
    before = sys.getrecursionlimit()
    _check(_with_criterion("not " * DEPTH + "amount > 0"))
    assert sys.getrecursionlimit() == before


# ---------------------------------------------------------------- line ends, BOM, whitespace


def _tabs(text: str) -> str:
    return re.sub(r"(?m)^((?:    )+)", lambda m: "\t" * (len(m.group(1)) // 4), text)


Encode = Callable[[str], bytes]


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.replace("\n", "\r\n").encode(),
        lambda t: b"\xef\xbb\xbf" + t.encode(),
        lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode(),
        lambda t: _tabs(t).encode(),
        lambda t: t.rstrip("\n").encode(),
        lambda t: t.replace("\n", "  \n").encode(),
    ],
    ids=["crlf", "bom", "bom-crlf", "tabs", "no-final-newline", "trailing-spaces"],
)
def test_layout_variants_of_a_clean_agreement_lint_clean(
    main: Main, tmp_path: Path, encode: Encode
) -> None:
    path = tmp_path / "harbour.sla"
    path.write_bytes(encode(HARBOUR))
    assert main("lint", path) == (0, "All checks passed.\n", "")


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.replace("\n", "\r\n").encode(),
        lambda t: b"\xef\xbb\xbf" + t.encode(),
        lambda t: t.rstrip("\n").encode(),
    ],
    ids=["crlf", "bom", "no-final-newline"],
)
def test_layout_variants_report_the_same_lines_and_columns(
    main: Main, tmp_path: Path, encode: Encode
) -> None:
    plain = tmp_path / "plain" / "many-problems.sla"
    varied = tmp_path / "varied" / "many-problems.sla"
    plain.parent.mkdir()
    varied.parent.mkdir()
    text = (DATA / "lint" / "many-problems.sla").read_text(encoding="utf-8")
    plain.write_bytes(text.encode())
    varied.write_bytes(encode(text))
    expected = main("lint", plain, "--format", "json")
    assert expected[0] == 1
    assert main("lint", varied, "--format", "json") == (
        1,
        expected[1].replace("plain", "varied"),
        "",
    )


def test_crlf_through_the_pipeline_directly() -> None:
    # Callers other than the CLI may pass CRLF text; positions must still match the LF text.
    text = (DATA / "lint" / "many-problems.sla").read_text(encoding="utf-8")
    lf, crlf = _check(text), _check(text.replace("\n", "\r\n"))
    source_lf, source_crlf = lf.program.root.source, crlf.program.root.source

    def where(checked: Checked, source: Source) -> list[tuple[str, int, int]]:
        return [
            (d.code, *source.position(d.span.start))
            for d in checked.diagnostics
            if d.span is not None
        ]

    assert where(lf, source_lf) == where(crlf, source_crlf)
    assert len(lf.diagnostics) == len(crlf.diagnostics) == 18


@pytest.mark.parametrize(
    ("text", "formatted"),
    [
        ("", ""),
        ("\n", ""),
        ("\n\n\n", ""),
        ("   \n\t\n", ""),
        ("# only a comment", "# only a comment\n"),
        ("# one\n# two\n    # indented\n\n# three\n", "# one\n# two\n# indented\n\n# three\n"),
    ],
    ids=["empty", "newline", "blank-lines", "whitespace", "comment-no-newline", "comments"],
)
def test_files_without_statements(main: Main, tmp_path: Path, text: str, formatted: str) -> None:
    # A file that declares nothing is a (trivial) file of shared declarations, which is valid.
    path = tmp_path / "nothing.sla"
    path.write_text(text, encoding="utf-8")
    assert main("lint", path) == (0, "All checks passed.\n", "")
    assert main("graph", path) == (0, "flowchart LR\n", "")
    assert main("fmt", "--check", path)[0] == (0 if text == formatted else 1)
    main("fmt", path)
    assert path.read_text(encoding="utf-8") == formatted
    assert main("fmt", "--check", path) == (0, "", "")


def test_mixed_tabs_and_spaces_is_a_diagnostic(main: Main, tmp_path: Path) -> None:
    path = tmp_path / "mixed.sla"
    path.write_text(HARBOUR.replace("    owner sales\n", "\towner sales\n"), encoding="utf-8")
    code, out, _ = main("lint", path)
    assert code == 1
    assert "error[SLA001]" in out and "indentation" in out


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\x0b"], ids=["u2028", "nel", "vt"])
def test_unicode_line_separators_are_diagnostics(
    main: Main, tmp_path: Path, separator: str
) -> None:
    # Only LF (and CRLF) end a line; other separators are characters the grammar rejects.
    text = SOLO.replace("\n\nstage won", f"{separator}stage won")
    checked = _check(text)
    assert [d.code for d in checked.diagnostics] == ["SLA001"]
    path = tmp_path / "separators.sla"
    path.write_text(text, encoding="utf-8")
    code, out, _ = main("lint", path)
    assert code == 1
    assert "unexpected character" in out


def test_cr_only_line_ends_are_not_silently_ignored(main: Main, tmp_path: Path) -> None:
    path = tmp_path / "classic-mac.sla"
    path.write_bytes(("# Written on a classic Mac.\n" + BROKEN).replace("\n", "\r").encode())
    code, out, _ = main("lint", path)
    assert code == 1
    assert "error[SLA001]" in out


def test_form_feed_line_is_blank(main: Main, tmp_path: Path) -> None:
    path = tmp_path / "form-feed.sla"
    path.write_text(SOLO.replace("\n\nstage won", "\n\x0c\nstage won"), encoding="utf-8")
    assert main("lint", path) == (0, "All checks passed.\n", "")


@pytest.mark.parametrize(
    "text",
    ["stage a\n", "stage a:\n", "handoff a -> b:\n    criteria (a = 1\n"],
    ids=["end-of-line", "end-of-file", "end-of-block"],
)
def test_syntax_error_messages_read_as_english(text: str) -> None:
    messages = [d.message for d in parse(Source("x.sla", text)).diagnostics]
    assert messages
    assert not any(message.startswith("unexpected the ") for message in messages), messages


def test_fmt_rewrites_crlf_to_lf(main: Main, tmp_path: Path) -> None:
    path = tmp_path / "crlf.sla"
    path.write_bytes(HARBOUR.replace("\n", "\r\n").encode())
    assert main("fmt", "--check", path) == (1, f"would reformat {path}\n", "")
    main("fmt", path)
    assert path.read_bytes() == HARBOUR.encode()


def test_fmt_removes_byte_order_mark(main: Main, tmp_path: Path) -> None:
    path = tmp_path / "bom.sla"
    path.write_bytes(b"\xef\xbb\xbf" + HARBOUR.encode())
    assert main("fmt", "--check", path) == (1, f"would reformat {path}\n", "")
    main("fmt", path)
    assert path.read_bytes() == HARBOUR.encode()


@pytest.mark.parametrize(
    "encode",
    [lambda t: _tabs(t).encode(), lambda t: t.rstrip("\n").encode()],
    ids=["tabs", "no-final-newline"],
)
def test_fmt_restores_canonical_layout(main: Main, tmp_path: Path, encode: Encode) -> None:
    path = tmp_path / "harbour.sla"
    path.write_bytes(encode(HARBOUR))
    assert main("fmt", "--check", path) == (1, f"would reformat {path}\n", "")
    assert main("fmt", path) == (0, f"reformatted {path}\n", "")
    assert path.read_bytes() == HARBOUR.encode()


def test_api_reader_errors_are_diagnostics() -> None:
    # A `use` whose reader reports a problem becomes SLA103 on the `use` line, never an exception.
    root = SOLO + '\nuse "gone.sla"\n'
    checked = check_agreement(Source("root.sla", root), memory_reader({}), TODAY)
    (finding,) = checked.diagnostics
    assert finding.code == "SLA103" and finding.file == "root.sla"
    assert finding.span is not None and root[finding.span.start : finding.span.end] == '"gone.sla"'
