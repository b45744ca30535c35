"""Suppressions: which findings an ignore comment hides, and what is reported about the comment."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaspec.diagnostics import RULES, Diagnostic, sort_key
from slaspec.parser import parse
from slaspec.source import Source, Span
from slaspec.suppressions import UNSUPPRESSIBLE, apply, read

NAME = "agreements/acme.sla"

# `<field>` marks where a finding of `code` starts: the first occurrence of `field` that is
# not inside a comment.
Finding = tuple[str, str]
# What apply() returns, as (code, line, text the finding's span covers).
Outcome = tuple[str, int, str]


def _run(text: str, findings: list[Finding]) -> tuple[list[Diagnostic], Source]:
    source = Source(NAME, text)
    diagnostics = []
    for code, needle in findings:
        start = _code_index(text, needle)
        diagnostics.append(
            Diagnostic(code, f"finding on `{needle}`", NAME, Span(start, start + len(needle)))
        )
    return apply(diagnostics, parse(source)), source


def _code_index(text: str, needle: str) -> int:
    start = 0
    while True:
        start = text.index(needle, start)
        line_start = text.rfind("\n", 0, start) + 1
        if "#" not in text[line_start:start]:
            return start
        start += 1


def _outcome(diagnostics: list[Diagnostic], source: Source) -> list[Outcome]:
    out = []
    for diagnostic in diagnostics:
        assert diagnostic.span is not None
        line, _ = source.position(diagnostic.span.start)
        out.append(
            (diagnostic.code, line, source.text[diagnostic.span.start : diagnostic.span.end])
        )
    return out


FIELDS = "fields:\n"
TRAILING = FIELDS + "    budget: number  # slaspec: ignore[SLA702] -- kept for the Q3 report\n"
COMMENT_702 = "# slaspec: ignore[SLA702] -- kept for the Q3 report"

CASES: list[tuple[str, str, list[Finding], list[Outcome]]] = [
    ("trailing comment covers its own line", TRAILING, [("SLA702", "budget")], []),
    (
        "own-line comment covers the next line",
        FIELDS + "    " + COMMENT_702 + "\n    budget: number\n",
        [("SLA702", "budget")],
        [],
    ),
    (
        "own-line comment skips blank and comment lines",
        FIELDS
        + "    "
        + COMMENT_702
        + "\n\n    # the Q3 report reads it\n   \n    budget: number\n",
        [("SLA702", "budget")],
        [],
    ),
    (
        "own-line comment covers only the next line",
        FIELDS + "    " + COMMENT_702 + "\n    score: number\n    budget: number\n",
        [("SLA702", "budget")],
        [("SLA802", 2, "SLA702"), ("SLA702", 4, "budget")],
    ),
    (
        "trailing comment does not cover the next line",
        FIELDS + "    score: number  " + COMMENT_702 + "\n    budget: number\n",
        [("SLA702", "budget")],
        [("SLA802", 2, "SLA702"), ("SLA702", 3, "budget")],
    ),
    (
        "a finding must start on the covered line",
        "stage sql:\n    owner sales  # slaspec: ignore[SLA302] -- r\n    terminal\n",
        [("SLA302", "stage sql")],
        [("SLA302", 1, "stage sql"), ("SLA802", 2, "SLA302")],
    ),
    (
        "another code is not suppressed",
        TRAILING,
        [("SLA701", "budget")],
        [("SLA701", 2, "budget"), ("SLA802", 2, "SLA702")],
    ),
    (
        "two codes, only one used",
        FIELDS + "    budget: number  # slaspec: ignore[SLA702, SLA701] -- kept for Q3\n",
        [("SLA702", "budget")],
        [("SLA802", 2, "SLA701")],
    ),
    (
        "two codes, both used",
        FIELDS + "    budget: number  # slaspec: ignore[SLA702,SLA201] -- kept for Q3\n",
        [("SLA702", "budget"), ("SLA201", "number")],
        [],
    ),
    (
        "one code suppresses every finding of it on the line",
        FIELDS + "    budget: budget  # slaspec: ignore[SLA101] -- r\n",
        [("SLA101", "budget:"), ("SLA101", "budget  #")],
        [],
    ),
    (
        "a code listed twice",
        FIELDS + "    budget: number  # slaspec: ignore[SLA702, SLA702] -- r\n",
        [("SLA702", "budget")],
        [("SLA802", 2, "SLA702")],
    ),
    (
        "two comments covering one finding are both used",
        FIELDS + "    " + COMMENT_702 + "\n    budget: number  " + COMMENT_702 + "\n",
        [("SLA702", "budget")],
        [],
    ),
    (
        "no reason still suppresses, and is reported",
        FIELDS + "    budget: number  # slaspec: ignore[SLA702]\n",
        [("SLA702", "budget")],
        [("SLA801", 2, "# slaspec: ignore[SLA702]")],
    ),
    (
        "empty reason",
        FIELDS + "    budget: number  # slaspec: ignore[SLA702] --   \n",
        [("SLA702", "budget")],
        [("SLA801", 2, "# slaspec: ignore[SLA702] --   ")],
    ),
    (
        "unknown code",
        FIELDS + "    budget: number  # slaspec: ignore[SLA7O2] -- r\n",
        [("SLA702", "budget")],
        [("SLA702", 2, "budget"), ("SLA803", 2, "SLA7O2")],
    ),
    (
        "unknown code beside a known one",
        FIELDS + "    budget: number  # slaspec: ignore[ SLA999 , SLA702 ] -- r\n",
        [("SLA702", "budget")],
        [("SLA803", 2, "SLA999")],
    ),
    (
        "directive without brackets",
        FIELDS + "    budget: number  # slaspec: ignore SLA702 -- r\n",
        [("SLA702", "budget")],
        [("SLA702", 2, "budget"), ("SLA803", 2, "# slaspec: ignore SLA702 -- r")],
    ),
    (
        "empty brackets",
        FIELDS + "    budget: number  # slaspec: ignore[] -- r\n",
        [("SLA702", "budget")],
        [("SLA702", 2, "budget"), ("SLA803", 2, "# slaspec: ignore[] -- r")],
    ),
    (
        "an empty code between commas",
        FIELDS + "    budget: number  # slaspec: ignore[SLA702,,SLA701] -- r\n",
        [("SLA702", "budget")],
        [("SLA702", 2, "budget"), ("SLA803", 2, "# slaspec: ignore[SLA702,,SLA701] -- r")],
    ),
    (
        "unknown directive",
        FIELDS + "    budget: number  # slaspec: disable[SLA702] -- r\n",
        [("SLA702", "budget")],
        [("SLA702", 2, "budget"), ("SLA803", 2, "# slaspec: disable[SLA702] -- r")],
    ),
    (
        "a reason without the dashes",
        FIELDS + "    budget: number  # slaspec: ignore[SLA702] kept for Q3\n",
        [("SLA702", "budget")],
        [("SLA702", 2, "budget"), ("SLA803", 2, "# slaspec: ignore[SLA702] kept for Q3")],
    ),
    (
        "the prefix is case-insensitive and spacing is free",
        FIELDS + "    budget: number  #SLASPEC :ignore [SLA702]--r\n",
        [("SLA702", "budget")],
        [],
    ),
    (
        "syntax errors cannot be suppressed",
        FIELDS + "    budget number  # slaspec: ignore[SLA001] -- r\n",
        [("SLA001", "number")],
        [("SLA001", 2, "number"), ("SLA802", 2, "SLA001")],
    ),
    (
        "suppression findings cannot be suppressed",
        FIELDS
        + "    # slaspec: ignore[SLA801] -- r\n"
        + "    budget: number  # slaspec: ignore[SLA702]\n",
        [("SLA702", "budget")],
        [("SLA802", 2, "SLA801"), ("SLA801", 3, "# slaspec: ignore[SLA702]")],
    ),
    (
        "nothing follows an own-line comment",
        FIELDS + "    budget: number\n    " + COMMENT_702 + "\n\n",
        [("SLA702", "budget")],
        [("SLA702", 2, "budget"), ("SLA802", 3, "SLA702")],
    ),
    (
        "text in a string is not a comment",
        FIELDS + '    budget: number "# slaspec: ignore[SLA702] -- r"\n',
        [("SLA702", "budget")],
        [("SLA702", 2, "budget")],
    ),
    (
        "an ordinary comment naming slaspec is not a directive",
        FIELDS + "    budget: number  # slaspec ignores nothing here\n",
        [("SLA702", "budget")],
        [("SLA702", 2, "budget")],
    ),
    (
        "own-line comment above a block covers the block's header",
        "# slaspec: ignore[SLA302] -- kept until the Q3 re-org\nstage sql:\n    owner sales\n",
        [("SLA302", "stage sql")],
        [],
    ),
]


@pytest.mark.parametrize(
    ("text", "findings", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_apply(text: str, findings: list[Finding], expected: list[Outcome]) -> None:
    result, source = _run(text, findings)
    assert _outcome(result, source) == expected
    assert result == sorted(result, key=sort_key)


def _messages(text: str, findings: list[Finding]) -> list[tuple[str, str, str | None]]:
    result, _ = _run(text, findings)
    return [(d.code, d.message, d.help) for d in result if d.code.startswith("SLA80")]


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        (
            "# slaspec: ignore[SLA702, SLA701] -- r",
            (
                "SLA802",
                "suppression of `SLA701` (unused-team) matches no finding",
                "no SLA701 finding starts on line 2; remove `SLA701`",
            ),
        ),
        (
            "# slaspec: ignore[SLA701] -- r",
            (
                "SLA802",
                "suppression of `SLA701` (unused-team) matches no finding",
                "no SLA701 finding starts on line 2; remove the comment",
            ),
        ),
        (
            "# slaspec: ignore[SLA702, SLA702] -- r",
            (
                "SLA802",
                "`SLA702` (unused-field) appears twice in this suppression comment",
                "remove the second `SLA702`",
            ),
        ),
        (
            "# slaspec: ignore[SLA702]",
            (
                "SLA801",
                "suppression comment gives no reason",
                "say why the finding is accepted: `# slaspec: ignore[SLA702] -- reason`",
            ),
        ),
        (
            "# slaspec: ignore[SLA702] --",
            (
                "SLA801",
                "suppression comment gives an empty reason",
                "say why the finding is accepted: `# slaspec: ignore[SLA702] -- reason`",
            ),
        ),
        (
            "# slaspec: ignore[sla702] -- r",
            ("SLA803", "unknown code `sla702` in suppression comment", "did you mean `SLA702`?"),
        ),
        (
            "# slaspec: ignore[noqa] -- r",
            (
                "SLA803",
                "unknown code `noqa` in suppression comment",
                "the codes are listed in docs/diagnostics.md",
            ),
        ),
        (
            "# slaspec: ignore sla702, SLA701 -- r",
            (
                "SLA803",
                "malformed suppression comment `# slaspec: ignore sla702, SLA701 -- r`",
                "write `# slaspec: ignore[SLA702, SLA701] -- reason`, with the codes in square "
                "brackets",
            ),
        ),
        (
            "# slaspec: skip this line please, it is fine for now, really, trust me",
            (
                "SLA803",
                "malformed suppression comment `# slaspec: skip this line please, it is fine for "
                "now, rea...`",
                "write `# slaspec: ignore[CODE] -- reason`, with the codes in square brackets",
            ),
        ),
    ],
)
def test_messages(comment: str, expected: tuple[str, str, str]) -> None:
    text = FIELDS + "    budget: number  " + comment + "\n"
    assert _messages(text, [("SLA702", "budget")]) == [expected]


def test_unsuppressible_code_gets_its_own_help() -> None:
    text = FIELDS + "    budget number  # slaspec: ignore[SLA001] -- r\n"
    assert _messages(text, [("SLA001", "number")]) == [
        (
            "SLA802",
            "suppression of `SLA001` (syntax-error) matches no finding",
            "SLA001 cannot be suppressed; fix the finding instead",
        )
    ]


def test_unsuppressible_codes_are_known_rules() -> None:
    assert set(RULES) >= UNSUPPRESSIBLE


def test_findings_elsewhere_pass_through() -> None:
    parsed = parse(Source(NAME, TRAILING))
    budget = TRAILING.index("budget")
    other_file = Diagnostic("SLA702", "m", "agreements/other.sla", Span(budget, budget + 6))
    no_span = Diagnostic("SLA702", "m", NAME)
    log_row = Diagnostic("SLA903", "m", "logs/leads.csv", row=2)
    result = apply([log_row, other_file, no_span], parsed)
    assert [d for d in result if d.code != "SLA802"] == sorted(
        [log_row, other_file, no_span], key=sort_key
    )
    assert [d.code for d in result].count("SLA802") == 1


def test_existing_suppression_findings_stay() -> None:
    text = FIELDS + "    budget: number  # slaspec: ignore[SLA803] -- r\n"
    start = text.index("budget")
    earlier = Diagnostic("SLA803", "from an earlier pass", NAME, Span(start, start + 6))
    result = apply([earlier], parse(Source(NAME, text)))
    assert earlier in result


def test_read_reports_the_covered_line_and_reason() -> None:
    text = FIELDS + "    # slaspec: ignore[SLA702, SLA701] --  kept for Q3 \n\n    budget: number\n"
    suppressions, problems = read(parse(Source(NAME, text)))
    assert problems == ()
    (suppression,) = suppressions
    assert suppression.line == 4
    assert suppression.reason == "kept for Q3"
    assert [code for code, _ in suppression.codes] == ["SLA702", "SLA701"]
    assert [text[span.start : span.end] for _, span in suppression.codes] == ["SLA702", "SLA701"]


_BODY = st.text(alphabet=st.sampled_from(list("ignore[]SLA07123 ,-r#")), max_size=30)


@settings(max_examples=200, deadline=None)
@given(_BODY, st.booleans())
def test_any_directive_is_handled(body: str, own_line: bool) -> None:
    comment = "# slaspec:" + body
    if own_line:
        text = FIELDS + "    " + comment + "\n    budget: number\n"
    else:
        text = FIELDS + "    budget: number  " + comment + "\n"
    source = Source(NAME, text)
    parsed = parse(source)
    start = text.index("budget")
    finding = Diagnostic("SLA702", "m", NAME, Span(start, start + 6))
    result = apply([finding], parsed)
    (comment_span,) = [c.span for c in parsed.comments]
    for diagnostic in result:
        if diagnostic == finding:
            continue
        assert diagnostic.code in ("SLA801", "SLA802", "SLA803")
        assert diagnostic.span is not None
        assert (
            comment_span.start <= diagnostic.span.start <= diagnostic.span.end <= comment_span.end
        )
    suppressed = finding not in result
    # A finding disappears only behind a well-formed comment that names its code.
    if suppressed:
        assert "SLA702" in body and "[" in body
