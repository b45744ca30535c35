"""Reporters: golden renderings of one broken agreement in every format, plus validity checks.

Set SLASPEC_UPDATE_GOLDEN=1 to rewrite the goldens under tests/data/reporters/ (review the diff).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaspec import reporters
from slaspec.diagnostics import RULES, Diagnostic, Severity
from slaspec.source import Source, Span

DATA = Path(__file__).parent / "data" / "reporters"
NAME = "agreements/acme.sla"
TEXT = (DATA / "acme.sla").read_bytes().decode("utf-8")
SOURCES = {NAME: Source(NAME, TEXT)}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SARIF_OPTIONS = {
    "version": "0.1.0",
    "information_uri": "https://example.org/slaspec",
    "docs_uri": "https://example.org/slaspec/docs/diagnostics.md",
}


def _span(needle: str, after: str = "") -> Span:
    start = TEXT.index(needle, TEXT.index(after) if after else 0)
    return Span(start, start + len(needle))


def _end_of(needle: str) -> Span:
    end = TEXT.index(needle) + len(needle)
    return Span(end, end)


_HANDOFF = Span(TEXT.index("handoff lead"), TEXT.index("\n", TEXT.index("criteria score")))

# Each case the brief names: multi-line span, span at end of file, empty span, tab-indented
# line, wide and accented text before the caret, no span, no file, and log rows.
DIAGNOSTICS = (
    Diagnostic("SLA101", "undefined stage `sqll`", NAME, _span("sqll"), "did you mean `sql`?"),
    Diagnostic("SLA101", "undefined team `salse`", NAME, _span("salse"), "did you mean `sales`?"),
    Diagnostic(
        "SLA107",
        "CRM value `qualifie` differs from alias `Qualifié` only by its accent",
        NAME,
        _span("qualifie", after="aliases"),
        "map each CRM value to one stage",
    ),
    Diagnostic(
        "SLA305",
        "handoff `lead -> lead` leads from a stage to itself",
        NAME,
        _HANDOFF,
        "remove it, or point it at another stage",
    ),
    Diagnostic(
        "SLA001",
        "unexpected end of the line; expected `:`",
        NAME,
        _end_of("clock first_touch"),
        "a block header ends with `:` and its clauses go on the indented lines below",
    ),
    Diagnostic(
        "SLA001",
        "unexpected end of file; expected the end of the block",
        NAME,
        Span(len(TEXT), len(TEXT)),
    ),
    Diagnostic(
        "SLA106",
        "`agreements/shared.sla` has no `agreement` header",
        "agreements/shared.sla",
        help="`use` it from an agreement instead of linting it alone",
    ),
    Diagnostic("SLA002", "`agreements/missing.sla` does not exist"),
    Diagnostic(
        "SLA903",
        "`2026-13-02T09:00` is not an ISO 8601 instant",
        "logs/leads.csv",
        row=17,
        column="timestamp",
        help="write an instant with its offset, such as 2026-03-02T09:15:00+11:00",
    ),
    Diagnostic(
        "SLA910",
        "`qualified` is not a stage or alias of the agreement",
        "logs/leads.csv",
        row=4,
        column="value",
        help="did you mean `sql`?",
    ),
)

RENDERERS: dict[str, Callable[[], str]] = {
    "acme.text": lambda: reporters.render_text(DIAGNOSTICS, SOURCES, color=False),
    "acme.color.text": lambda: reporters.render_text(DIAGNOSTICS, SOURCES, color=True),
    "acme.json": lambda: reporters.render_json(DIAGNOSTICS, SOURCES),
    "acme.sarif": lambda: reporters.render_sarif(DIAGNOSTICS, SOURCES, **SARIF_OPTIONS),
    "acme.github": lambda: reporters.render_github(DIAGNOSTICS, SOURCES),
}


@pytest.mark.parametrize("golden", sorted(RENDERERS))
def test_golden(golden: str) -> None:
    actual = RENDERERS[golden]()
    path = DATA / golden
    if os.environ.get("SLASPEC_UPDATE_GOLDEN") == "1":
        path.write_bytes(actual.encode("utf-8"))
    assert actual == path.read_bytes().decode("utf-8")


@settings(max_examples=30, deadline=None)
@given(st.permutations(DIAGNOSTICS))
def test_output_is_independent_of_input_order(shuffled: list[Diagnostic]) -> None:
    for golden, render in RENDERERS.items():
        expected = render()
        if golden == "acme.text":
            assert reporters.render_text(shuffled, SOURCES, color=False) == expected
        elif golden == "acme.json":
            assert reporters.render_json(shuffled, SOURCES) == expected
        elif golden == "acme.sarif":
            assert reporters.render_sarif(shuffled, SOURCES, **SARIF_OPTIONS) == expected
        elif golden == "acme.github":
            assert reporters.render_github(shuffled, SOURCES) == expected


# ---------------------------------------------------------------- text


def test_colour_only_adds_escape_codes() -> None:
    plain = reporters.render_text(DIAGNOSTICS, SOURCES, color=False)
    coloured = reporters.render_text(DIAGNOSTICS, SOURCES, color=True)
    assert "\x1b" not in plain
    assert "\x1b[1;31merror[SLA101]\x1b[0m" in coloured
    assert "\x1b[1;33mwarning[SLA305]\x1b[0m" in coloured
    assert ANSI.sub("", coloured) == plain


def test_clean_run_is_green_only_with_colour() -> None:
    assert reporters.render_text([], {}, color=False) == "All checks passed.\n"
    assert reporters.render_text([], {}, color=True) == "\x1b[1;32mAll checks passed.\x1b[0m\n"


def _error(file: str | None = "a.sla", code: str = "SLA101") -> Diagnostic:
    return Diagnostic(code, "m", file)


@pytest.mark.parametrize(
    ("diagnostics", "expected"),
    [
        ([], "All checks passed."),
        ([_error()], "Found 1 error in 1 file."),
        ([_error(), _error()], "Found 2 errors in 1 file."),
        ([_error(code="SLA305")], "Found 1 warning in 1 file."),
        ([_error("a.sla", "SLA305"), _error("b.sla", "SLA305")], "Found 2 warnings in 2 files."),
        ([_error("a.sla"), _error("b.sla", "SLA305")], "Found 1 error and 1 warning in 2 files."),
        ([_error(None)], "Found 1 error."),
        (
            [_error(), _error("b.sla"), _error("c.sla"), _error(code="SLA305")],
            "Found 3 errors and 1 warning in 3 files.",
        ),
        (
            [Diagnostic("SLA101", "m", "a.sla", severity_override=Severity.WARNING)],
            "Found 1 warning in 1 file.",
        ),
    ],
)
def test_summary_counts_and_plurals(diagnostics: list[Diagnostic], expected: str) -> None:
    assert reporters.summary(diagnostics) == expected
    assert reporters.render_text(diagnostics, {}, color=False).endswith(expected + "\n")


def _snippet(text: str, span: Span) -> list[str]:
    """The header's position and the source and caret lines of one rendered finding."""
    source = Source("t.sla", text)
    diagnostic = Diagnostic("SLA101", "m", "t.sla", span)
    lines = reporters.render_text([diagnostic], {"t.sla": source}, color=False).splitlines()
    return [lines[0].split(": ")[0], lines[2], lines[3]]


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        ("abc def\n", Span(4, 7), ["t.sla:1:5", "1 | abc def", "  |     ^^^"]),
        # A tab expands to the next stop of four cells on both the source and the caret line.
        ("\tx = 1\n", Span(1, 2), ["t.sla:1:2", "1 |     x = 1", "  |     ^"]),
        ("ab\tx\n", Span(3, 4), ["t.sla:1:4", "1 | ab  x", "  |     ^"]),
        ("a\tb\n", Span(1, 2), ["t.sla:1:2", "1 | a   b", "  |  ^^^"]),
        # Columns count characters; wide characters take two cells, combining marks none.
        ("東京 x\n", Span(3, 4), ["t.sla:1:4", "1 | 東京 x", "  |      ^"]),
        ("e\u0301 x\n", Span(3, 4), ["t.sla:1:4", "1 | e\u0301 x", "  |   ^"]),
        ("café x\n", Span(5, 6), ["t.sla:1:6", "1 | café x", "  |      ^"]),
        # Empty spans get one caret; so does a span at the end of a file with no final newline.
        ("abc\n", Span(1, 1), ["t.sla:1:2", "1 | abc", "  |  ^"]),
        ("abc", Span(3, 3), ["t.sla:1:4", "1 | abc", "  |    ^"]),
        ("abc\n", Span(4, 4), ["t.sla:2:1", "2 |", "  | ^"]),
        # A span over several lines is marked to the end of its first line.
        ("ab\ncd\n", Span(1, 4), ["t.sla:1:2", "1 | ab", "  |  ^"]),
        ("abcd\nef\n", Span(0, 7), ["t.sla:1:1", "1 | abcd", "  | ^^^^"]),
        # A span on the line break itself points just past the line's text.
        ("ab\ncd", Span(2, 3), ["t.sla:1:3", "1 | ab", "  |   ^"]),
        ("ab\r\ncd\r\n", Span(4, 6), ["t.sla:2:1", "2 | cd", "  | ^^"]),
        # Control and bidi characters in the line show as U+FFFD, one cell each.
        ("a\x1bb\n", Span(2, 3), ["t.sla:1:3", "1 | a\ufffdb", "  |   ^"]),
        ("a\u202eb c\n", Span(4, 5), ["t.sla:1:5", "1 | a\ufffdb c", "  |     ^"]),
        ("a\udc80b\n", Span(2, 3), ["t.sla:1:3", "1 | a\ufffdb", "  |   ^"]),
        ("\n" * 9 + "x\n", Span(9, 10), ["t.sla:10:1", "10 | x", "   | ^"]),
    ],
)
def test_caret_placement(text: str, span: Span, expected: list[str]) -> None:
    assert _snippet(text, span) == expected


def test_control_characters_in_messages_are_spelled_out() -> None:
    diagnostic = Diagnostic("SLA001", "unexpected character `\x1b[31m`\tand `\u202e`", "a\nb.sla")
    text = reporters.render_text([diagnostic], {}, color=False)
    assert text.splitlines()[0] == (
        "a\\nb.sla: error[SLA001] unexpected character `\\x1b[31m`\\tand `\\u202e`"
    )


def test_row_without_file_is_still_shown() -> None:
    diagnostic = Diagnostic("SLA903", "bad", row=3, column="timestamp")
    first = reporters.render_text([diagnostic], {}, color=False).splitlines()[0]
    assert first == "row 3: error[SLA903] bad (column timestamp)"


def test_row_next_to_a_span_is_kept() -> None:
    diagnostic = Diagnostic("SLA101", "m", "t.sla", Span(0, 1), row=3)
    sources = {"t.sla": Source("t.sla", "x\n")}
    assert reporters.render_text([diagnostic], sources, color=False).startswith(
        "t.sla:1:1: error[SLA101] m (row 3)\n"
    )


def test_a_span_without_its_source_is_a_bug() -> None:
    diagnostic = Diagnostic("SLA101", "m", "elsewhere.sla", Span(0, 1))
    with pytest.raises(ValueError, match=r"elsewhere\.sla"):
        reporters.render_text([diagnostic], SOURCES, color=False)


@pytest.mark.parametrize(
    ("text", "span", "expected"),
    [
        ("abc\n", Span(0, 3), reporters.Location(1, 1, 1, 4)),
        ("abc\n", Span(2, 2), reporters.Location(1, 3, 1, 3)),
        # The end is the line of the last character, even when that character is the newline.
        ("ab\ncd\n", Span(0, 3), reporters.Location(1, 1, 1, 4)),
        ("ab\ncd\n", Span(1, 5), reporters.Location(1, 2, 2, 3)),
        ("é東\n", Span(1, 2), reporters.Location(1, 2, 1, 3)),
    ],
)
def test_locate(text: str, span: Span, expected: reporters.Location) -> None:
    diagnostic = Diagnostic("SLA101", "m", "t.sla", span)
    assert reporters.locate(diagnostic, {"t.sla": Source("t.sla", text)}) == expected


_ASCII_TEXT = st.text(alphabet=st.sampled_from("ab #:\n"), max_size=40)


@settings(max_examples=150, deadline=None)
@given(_ASCII_TEXT, st.data())
def test_caret_sits_under_the_span_start(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    source = Source("t.sla", text)
    diagnostic = Diagnostic("SLA101", "m", "t.sla", Span(start, end))
    lines = reporters.render_text([diagnostic], {"t.sla": source}, color=False).splitlines()
    line, column = source.position(start)
    assert lines[0] == f"t.sla:{line}:{column}: error[SLA101] m"
    gutter = len(str(line)) + 3
    caret_line = lines[3][gutter:]
    assert caret_line.index("^") == column - 1
    carets = len(caret_line) - caret_line.index("^")
    assert caret_line.endswith("^" * carets)
    same_line = source.position(end)[0] == line
    expected = (
        max(1, end - start) if same_line else max(1, len(source.line_text(line)) - column + 1)
    )
    assert carets == expected


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60), st.data())
def test_every_format_renders_any_text(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    message = data.draw(st.text(max_size=20))
    source = Source("t.sla", text)
    diagnostics = [Diagnostic("SLA101", message, "t.sla", Span(start, end), help=message)]
    sources = {"t.sla": source}
    rendered = reporters.render_text(diagnostics, sources, color=False)
    assert not any(ch != "\n" and unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in rendered)
    assert reporters.render_github(diagnostics, sources).count("\n") == 1
    json.loads(reporters.render_json(diagnostics, sources))
    _check_sarif(json.loads(reporters.render_sarif(diagnostics, sources, **SARIF_OPTIONS)))


# ---------------------------------------------------------------- JSON


def test_json_round_trips_and_counts() -> None:
    rendered = reporters.render_json(DIAGNOSTICS, SOURCES)
    document = json.loads(rendered)
    assert json.dumps(document, sort_keys=True, indent=2) + "\n" == rendered
    assert document["version"] == reporters.JSON_FORMAT_VERSION
    assert document["counts"] == {"errors": 9, "warnings": 1, "files": 3}
    keys = {
        "code",
        "name",
        "severity",
        "message",
        "help",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "row",
        "column_name",
    }
    assert all(set(finding) == keys for finding in document["findings"])
    by_code = {finding["code"]: finding for finding in document["findings"]}
    assert by_code["SLA305"]["line"] == 14
    assert by_code["SLA305"]["end_line"] == 15
    assert by_code["SLA903"]["row"] == 17
    assert by_code["SLA903"]["column_name"] == "timestamp"
    assert by_code["SLA903"]["line"] is None
    assert by_code["SLA002"]["file"] is None
    assert by_code["SLA107"]["message"].endswith("accent")


# ---------------------------------------------------------------- SARIF

# The properties SARIF 2.1.0 allows on each object this module writes (the schema forbids
# any other), and those it or GitHub code scanning requires.
_ALLOWED = {
    "log": ({"$schema", "version", "runs", "inlineExternalProperties", "properties"}, set()),
    "run": (
        {"tool", "invocations", "results", "columnKind", "artifacts", "properties"},
        {"tool", "results"},
    ),
    "driver": (
        {"name", "version", "informationUri", "rules", "semanticVersion", "properties"},
        {"name"},
    ),
    "rule": (
        {
            "id",
            "name",
            "shortDescription",
            "fullDescription",
            "help",
            "helpUri",
            "defaultConfiguration",
            "properties",
        },
        {"id", "shortDescription", "fullDescription", "help"},
    ),
    "result": (
        {"ruleId", "ruleIndex", "level", "message", "locations", "properties"},
        {"message", "locations"},
    ),
    "physicalLocation": ({"artifactLocation", "region"}, {"artifactLocation"}),
    "region": ({"startLine", "startColumn", "endLine", "endColumn"}, {"startLine"}),
    "invocation": ({"executionSuccessful", "toolExecutionNotifications"}, {"executionSuccessful"}),
    "notification": ({"level", "message", "associatedRule"}, {"message"}),
}


def _shape(kind: str, value: dict[str, object]) -> None:
    allowed, required = _ALLOWED[kind]
    assert set(value) <= allowed, (kind, set(value) - allowed)
    assert required <= set(value), (kind, required - set(value))


def _check_sarif(log: dict[str, object]) -> None:
    _shape("log", log)
    assert log["version"] == "2.1.0"
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    runs = log["runs"]
    assert isinstance(runs, list) and len(runs) == 1
    run = runs[0]
    _shape("run", run)
    assert run["columnKind"] == "unicodeCodePoints"
    driver = run["tool"]["driver"]
    _shape("driver", driver)
    rules = driver["rules"]
    for rule in rules:
        _shape("rule", rule)
        assert rule["id"] in RULES
        assert rule["defaultConfiguration"] == {"level": RULES[rule["id"]].severity.value}
        assert rule["helpUri"].endswith("#" + rule["id"].lower() + "-" + rule["name"])
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["help"]["text"]
    ids = [rule["id"] for rule in rules]
    assert ids == sorted(set(ids))
    for result in run["results"]:
        _shape("result", result)
        assert ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning")
        assert result["message"]["text"].strip()
        assert len(result["locations"]) == 1
        (location,) = result["locations"]
        assert set(location) == {"physicalLocation"}
        physical = location["physicalLocation"]
        _shape("physicalLocation", physical)
        assert physical["artifactLocation"]["uri"]
        assert set(physical["artifactLocation"]) == {"uri"}
        if "region" in physical:
            region = physical["region"]
            _shape("region", region)
            assert all(isinstance(v, int) and v >= 1 for v in region.values())
            assert region["endLine"] >= region["startLine"]
            if region["endLine"] == region["startLine"]:
                assert region["endColumn"] >= region["startColumn"]
    (invocation,) = run["invocations"]
    _shape("invocation", invocation)
    for notification in invocation["toolExecutionNotifications"]:
        _shape("notification", notification)
        rule_ref = notification["associatedRule"]
        assert ids[rule_ref["index"]] == rule_ref["id"]


def test_sarif_structure() -> None:
    rendered = reporters.render_sarif(DIAGNOSTICS, SOURCES, **SARIF_OPTIONS)
    log = json.loads(rendered)
    _check_sarif(log)
    assert json.dumps(log, sort_keys=True, indent=2) + "\n" == rendered
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("slaspec", "0.1.0")
    assert driver["informationUri"] == "https://example.org/slaspec"
    used = sorted({d.code for d in DIAGNOSTICS})
    assert [rule["id"] for rule in driver["rules"]] == used
    sla101 = driver["rules"][used.index("SLA101")]
    assert (
        sla101["helpUri"] == "https://example.org/slaspec/docs/diagnostics.md#sla101-undefined-name"
    )
    assert sla101["name"] == "undefined-name"
    # The finding without a file is a notification; every other one is a located result.
    assert len(run["results"]) == len(DIAGNOSTICS) - 1
    (notification,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notification["associatedRule"]["id"] == "SLA002"
    regions = [
        result["locations"][0]["physicalLocation"].get("region") for result in run["results"]
    ]
    assert {"startLine": 14, "startColumn": 1, "endLine": 15, "endColumn": 25} in regions
    row = next(result for result in run["results"] if result["ruleId"] == "SLA903")
    assert row["properties"] == {"row": 17, "column": "timestamp"}
    assert row["message"]["text"].startswith("row 17: ")


def test_sarif_empty_run_still_has_results() -> None:
    log = json.loads(reporters.render_sarif([], {}, **SARIF_OPTIONS))
    _check_sarif(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"] == []


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("agreements/acme.sla", "agreements/acme.sla"),
        ("agreements\\acme.sla", "agreements/acme.sla"),
        ("my agreements/a#1.sla", "my%20agreements/a%231.sla"),
        ("ü.sla", "%C3%BC.sla"),
        ("/srv/a.sla", "file:///srv/a.sla"),
        ("C:\\work\\a b.sla", "file:///C:/work/a%20b.sla"),
    ],
)
def test_artifact_uri(path: str, uri: str) -> None:
    assert reporters.artifact_uri(path) == uri


# ---------------------------------------------------------------- GitHub


def test_github_escapes_data_and_properties() -> None:
    source = Source("a,b:c%.sla", "x\n")
    diagnostic = Diagnostic("SLA101", "100% wrong\r\nnext", "a,b:c%.sla", Span(0, 1), "a:b, c")
    rendered = reporters.render_github([diagnostic], {"a,b:c%.sla": source})
    assert rendered == (
        "::error file=a%2Cb%3Ac%25.sla,line=1,col=1,endLine=1,endColumn=2,"
        "title=SLA101 undefined-name::100%25 wrong%0D%0Anext%0Ahelp: a:b, c\n"
    )


def test_github_drops_columns_for_multi_line_spans() -> None:
    lines = reporters.render_github(DIAGNOSTICS, SOURCES).splitlines()
    assert len(lines) == len(DIAGNOSTICS)
    (handoff,) = [line for line in lines if "SLA305" in line]
    assert handoff.startswith("::warning file=agreements/acme.sla,line=14,endLine=15,title=")


def test_sarif_information_uri_defaults_to_the_docs() -> None:
    docs = "https://example.org/slaspec/docs/diagnostics.md"
    log = json.loads(reporters.render_sarif(DIAGNOSTICS, SOURCES, "0.1.0", docs))
    _check_sarif(log)
    assert log["runs"][0]["tool"]["driver"]["informationUri"] == docs
