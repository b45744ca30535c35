"""Tests for slaspec.formatter: golden layouts, tricky cases and the formatter's properties.

Set SLASPEC_UPDATE_GOLDEN=1 to rewrite tests/data/fmt/*.expected.sla from the current formatter
instead of comparing (review the diff before committing it).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import string
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from slaspec.formatter import WIDTH, check_formatted, diff, format_document
from slaspec.parser import Parsed, parse
from slaspec.source import Source

DATA = Path(__file__).parent / "data" / "fmt"
AGREEMENTS = Path(__file__).parent.parent / "agreements"
UPDATE = os.environ.get("SLASPEC_UPDATE_GOLDEN") == "1"

CASES = sorted(p for p in DATA.glob("*.sla") if not p.name.endswith(".expected.sla"))
EXPECTED = sorted(DATA.glob("*.expected.sla"))


def parsed_text(text: str, name: str = "test.sla") -> Parsed:
    parsed = parse(Source(name, text))
    assert parsed.document is not None, parsed.diagnostics
    return parsed


def fmt(text: str) -> str:
    return format_document(parsed_text(text))


def comment_texts(parsed: Parsed) -> Counter[str]:
    return Counter(comment.text for comment in parsed.comments)


def assert_properties(text: str) -> str:
    """Format text and check idempotence, meaning and comments; return the formatted text."""
    before = parsed_text(text)
    formatted = format_document(before)
    after = parsed_text(formatted, "formatted.sla")
    assert after.document == before.document
    assert comment_texts(after) == comment_texts(before)
    assert format_document(after) == formatted
    assert check_formatted(after)
    assert_layout(formatted)
    return formatted


def assert_layout(formatted: str) -> None:
    if not formatted:
        return
    assert formatted.endswith("\n") and not formatted.endswith("\n\n")
    assert "\r" not in formatted
    lines = formatted.split("\n")[:-1]
    assert lines[0] != ""
    for line in lines:
        assert line == line.rstrip(), f"trailing space in {line!r}"
        indent = len(line) - len(line.lstrip(" "))
        assert not line[:indent].count("\t")
    assert "\n\n\n" not in formatted


# ---------------------------------------------------------------- golden files


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.stem)
def test_golden(case: Path) -> None:
    formatted = format_document(parsed_text(case.read_text(encoding="utf-8"), case.name))
    expected = case.with_name(case.stem + ".expected.sla")
    if UPDATE:
        expected.write_text(formatted, encoding="utf-8")
    assert expected.exists(), f"run with SLASPEC_UPDATE_GOLDEN=1 to create {expected.name}"
    assert formatted == expected.read_text(encoding="utf-8")


def test_every_case_has_a_golden_file() -> None:
    assert CASES
    assert {p.name.removesuffix(".expected.sla") for p in EXPECTED} == {p.stem for p in CASES}


@pytest.mark.parametrize(
    "path",
    CASES + EXPECTED + sorted(AGREEMENTS.glob("*.sla")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_properties_on_files(path: Path) -> None:
    assert_properties(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.name)
def test_golden_outputs_are_formatted(path: Path) -> None:
    assert check_formatted(parsed_text(path.read_text(encoding="utf-8"), path.name))


def test_long_lines_only_where_nothing_can_be_broken() -> None:
    formatted = (DATA / "long_lines.expected.sla").read_text(encoding="utf-8")
    too_long = [line for line in formatted.splitlines() if len(line) > WIDTH]
    # A single word longer than a line is the only thing left too long.
    assert too_long == [
        line for line in too_long if " " not in line.strip().removeprefix("definition ")
    ]
    assert len(too_long) == 1


# ---------------------------------------------------------------- tricky cases


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("4h", "4 hours"),
        ("4 hour", "4 hours"),
        ("1 hours", "1 hour"),
        ("1.0 hours", "1 hour"),
        ("1.5 hours", "1.5 hours"),
        ("30 min", "30 minutes"),
        ("1 mins", "1 minute"),
        ("2 hrs", "2 hours"),
        ("1 hr", "1 hour"),
        ("3 day", "3 days"),
        ("1 weeks", "1 week"),
        ("1 business hours", "1 business hour"),
        ("4 business hour", "4 business hours"),
        ("1 business days", "1 business day"),
        ("15 business min", "15 business minutes"),
        ("0 hours", "0 hours"),
        ("007 days", "7 days"),
        (".5 days", "0.5 days"),
        ("2.50 hours", "2.5 hours"),
        ("10.000 days", "10 days"),
        # Ambiguous or unknown units stay as written so the checker can point at them.
        ("3 d", "3 d"),
        ("3.0 d", "3 d"),
        ("1 months", "1 months"),
        ("2 m", "2 m"),
        ("2 business weeks", "2 business weeks"),
        ("2 business  weeks", "2 business weeks"),
        ("5 fortnights", "5 fortnights"),
    ],
)
def test_durations(written: str, canonical: str) -> None:
    assert fmt(f"clock c:\n    goal {written}\n") == f"clock c:\n    goal {canonical}\n"


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("100", "100"),
        ("100.0", "100"),
        ("0.50", "0.5"),
        (".25", "0.25"),
        ("000", "0"),
        ("0.000", "0"),
        ("- 3.10", "-3.1"),
        ("-0.0", "0"),
        (
            "12345678901234567890.123456789012345678901",
            "12345678901234567890.123456789012345678901",
        ),
        ('"a \\"quoted\\" \\\\ word"', '"a \\"quoted\\" \\\\ word"'),
        ('"tab\tinside"', '"tab\\tinside"'),
        ('"\\q\\n"', '"q\\n"'),
        ('"# not a comment"', '"# not a comment"'),
        ("2026-03-01", "2026-03-01"),
        ("2026-03-01T09:00+11:00", "2026-03-01T09:00+11:00"),
        ("2026-03-01T09:00:00-05:30", "2026-03-01T09:00-05:30"),
        ("2026-03-01T09:00:59+00:00", "2026-03-01T09:00:59Z"),
        ("2026-03-01T09:00Z", "2026-03-01T09:00Z"),
        ("true", "true"),
        ("open", "open"),
    ],
)
def test_literals(written: str, canonical: str) -> None:
    assert fmt(f"handoff a -> b:\n    criteria x = {written}\n") == (
        f"handoff a -> b:\n    criteria x = {canonical}\n"
    )


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("(a = 1)", "a = 1"),
        ("((a = 1))", "a = 1"),
        ("a = 1 and (b = 2 and c = 3)", "a = 1 and b = 2 and c = 3"),
        ("a = 1 or (b = 2 and c = 3)", "a = 1 or b = 2 and c = 3"),
        ("(a = 1 or b = 2) and c = 3", "(a = 1 or b = 2) and c = 3"),
        ("not (a = 1)", "not a = 1"),
        ("not (not a = 1)", "not not a = 1"),
        ("not (a = 1 or b = 2)", "not (a = 1 or b = 2)"),
        ("(not a = 1) and b = 2", "not a = 1 and b = 2"),
        ("not a = 1 or (not b = 2)", "not a = 1 or not b = 2"),
        ("((a = 1 or b = 2) or c = 3)", "a = 1 or b = 2 or c = 3"),
        ('a in [x, "y z", 1.50, -2]', 'a in [x, "y z", 1.5, -2]'),
        ("a not  in [x]", "a not in [x]"),
        ("a is  not set", "a is not set"),
        ("a within 2 business hrs", "a within 2 business hours"),
        (
            "at least 2 call,email by owner since entering mql",
            "at least 2 call, email by owner since entering mql",
        ),
        ("at least 2.0 call by sales", "at least 2 call by sales"),
    ],
)
def test_criteria(written: str, canonical: str) -> None:
    assert fmt(f"handoff a -> b:\n    criteria {written}\n") == (
        f"handoff a -> b:\n    criteria {canonical}\n"
    )


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("web", "web"),
        ("_x9", "_x9"),
        ('"web"', "web"),
        ('"trade show"', '"trade show"'),
        ('"9lives"', '"9lives"'),
        ('"stage"', '"stage"'),
        ("stage", '"stage"'),
        ('"true"', '"true"'),
        ('"monday"', '"monday"'),
        ('"business"', '"business"'),
        ('"Won"', "Won"),
        ('""', '""'),
        ('"caf\u00e9"', '"caf\u00e9"'),
    ],
)
def test_enum_values_and_aliases(written: str, canonical: str) -> None:
    assert fmt(f"fields:\n    f: enum [{written}]\n") == f"fields:\n    f: enum [{canonical}]\n"
    assert fmt(f"stage s:\n    aliases {written}\n") == f"stage s:\n    aliases {canonical}\n"


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("monday to friday", "monday to friday"),
        ("monday, tuesday, wednesday", "monday to wednesday"),
        ("monday to tuesday", "monday, tuesday"),
        ("saturday, sunday", "saturday, sunday"),
        ("friday, monday to wednesday", "friday, monday to wednesday"),
        ("monday to wednesday, thursday", "monday to thursday"),
        ("sunday, monday", "sunday, monday"),
    ],
)
def test_open_days(written: str, canonical: str) -> None:
    text = f"calendar c:\n    open {written} 09:00-17:00, 18:00-24:00\n"
    assert fmt(text) == f"calendar c:\n    open {canonical} 09:00-17:00, 18:00-24:00\n"


def test_statements_keep_their_order_and_groups_merge() -> None:
    text = (
        "stage b:\n  initial\nfields:\n  x: number\nfields:\n  y: string\n"
        'activities call\nactivities email\nuse "a.sla"\nfields:\n  z: date\n'
        'agreement "T":\n  version "1"\nactivities meeting\n'
    )
    assert fmt(text) == (
        "stage b:\n    initial\n\nfields:\n    x: number\n    y: string\n\n"
        'activities call, email\n\nuse "a.sla"\n\nfields:\n    z: date\n\n'
        'agreement "T":\n    version "1"\n\nactivities meeting\n'
    )


def test_line_ends_tabs_and_continuations_are_normalised() -> None:
    text = 'stage s "T":\r\n\towner   x\r\n\tmax dwell \\\r\n\t  4h  \r\n\r\n\r\nteam t\r\n'
    assert fmt(text) == 'stage s "T":\n    owner x\n    max dwell 4 hours\n\nteam t\n'


def test_a_file_without_final_newline_gets_one() -> None:
    assert fmt("team t") == "team t\n"
    assert fmt("") == ""
    assert fmt("\n\n   \n") == ""


def test_definitions_are_wrapped_only_when_too_long() -> None:
    short = 'stage s:\n    definition """one\n      two   three"""\n'
    assert fmt(short) == 'stage s:\n    definition "one two three"\n'
    words = " ".join(f"word{i}" for i in range(40))
    formatted = fmt(f'stage s:\n    definition "{words}"\n')
    lines = formatted.splitlines()
    assert lines[1].startswith('    definition """word0 word1')
    assert lines[-1].endswith('word39"""')
    assert all(len(line) <= WIDTH for line in lines)
    assert all(line.startswith("        word") for line in lines[2:])
    # Filled: no line could have taken the first word of the next.
    for line, following in itertools.pairwise(lines[1:]):
        assert len(line) + 1 + len(following.split()[0]) > WIDTH


def test_long_criteria_break_one_operand_per_line_inside_parentheses() -> None:
    parts = " and ".join(f"field_number_{i} >= {i}" for i in range(8))
    formatted = fmt(f"handoff a -> b:\n    criteria x = 1 or {parts}\n")
    assert formatted == (
        "handoff a -> b:\n"
        "    criteria (\n"
        "        x = 1\n"
        "        or (\n"
        "            field_number_0 >= 0\n"
        + "".join(f"            and field_number_{i} >= {i}\n" for i in range(1, 8))
        + "        )\n"
        "    )\n"
    )


def test_members_aliases_and_requires_merge_and_fill() -> None:
    members = ", ".join(f'"person{i}@example.com"' for i in range(8))
    text = f'team t:\n    members "a@x.com"\n    members {members}\n'
    lines = fmt(text).splitlines()
    assert lines[0] == "team t:"
    assert all(line.startswith('    members "') and len(line) <= WIDTH for line in lines[1:])
    assert ", ".join(line.removeprefix("    members ") for line in lines[1:]) == (
        f'"a@x.com", {members}'
    )
    assert fmt("handoff a -> b:\n    requires x\n    requires y, z\n") == (
        "handoff a -> b:\n    requires x, y, z\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A trailing suppression covers exactly the items of its line, so the line is kept.
        (
            "activities a\nactivities b, c  # slaspec: ignore[SLA704] -- why\nactivities d\n",
            "activities a\nactivities b, c  # slaspec: ignore[SLA704] -- why\nactivities d\n",
        ),
        (
            "activities a\n# slaspec: ignore[SLA704] -- why\nactivities b\nactivities c\n",
            "activities a\n# slaspec: ignore[SLA704] -- why\nactivities b, c\n",
        ),
        # A suppression above a clause moves with the clause.
        (
            "stage s:\n    # slaspec: ignore[SLA404] -- why\n    max dwell 1 hour\n    owner o\n",
            "stage s:\n    owner o\n    # slaspec: ignore[SLA404] -- why\n    max dwell 1 hour\n",
        ),
        (
            "stage s:\n    max dwell 1h  # slaspec: ignore[SLA404] -- why\n    owner o\n",
            "stage s:\n    owner o\n    max dwell 1 hour  # slaspec: ignore[SLA404] -- why\n",
        ),
        (
            "fields:\n    a: number  # slaspec: ignore[SLA702] -- why\nfields:\n    b: number\n",
            "fields:\n    a: number  # slaspec: ignore[SLA702] -- why\n    b: number\n",
        ),
        # A trailing comment on a multi-line criterion stays at the end of the clause.
        (
            "handoff a -> b:\n  criteria (x = 1\n     or y = 2)  # slaspec: ignore[SLA501] -- r\n",
            "handoff a -> b:\n    criteria x = 1 or y = 2  # slaspec: ignore[SLA501] -- r\n",
        ),
        # Blank lines between top-level comments are kept, at most one.
        (
            "# a\n\n\n# b\n# c\n\nteam t\n\n\n\n# end\n",
            "# a\n\n# b\n# c\n\nteam t\n\n# end\n",
        ),
        ("team t\n# end\n", "team t\n# end\n"),
        # An indented comment after a block ends the block; at column 0 it leads what follows.
        (
            'team t:\n  members "a"\n  # end of t\n# about u\nteam u\n',
            'team t:\n    members "a"\n    # end of t\n\n# about u\nteam u\n',
        ),
        # An indented comment after a one-line statement leads the next one.
        ("team t\n    # about u\nteam u\n", "team t\n\n# about u\nteam u\n"),
        # Comments inside a clause keep their order; the last trailing one stays on the line.
        (
            "handoff a -> b:\n    criteria (x = 1  # one\n      # two\n      or y = 2)  # three\n",
            "handoff a -> b:\n    # one\n    # two\n    criteria x = 1 or y = 2  # three\n",
        ),
        (
            "handoff a -> b:\n    criteria (x = 1  # one\n        # two\n        or y = 2)\n",
            "handoff a -> b:\n    # one\n    # two\n    criteria x = 1 or y = 2\n",
        ),
        # The comments of a second `fields:` header go above its first field.
        (
            "fields:  # head\n  a: number\n# lead b\nfields:  # merged\n  b: number\n",
            "fields:  # head\n    a: number\n    # lead b\n    # merged\n    b: number\n",
        ),
        (
            "stage s:  # about s\n  initial  # first\n",
            "stage s:  # about s\n    initial  # first\n",
        ),
        (
            "fields:\n  a: number\nfields:  # merged\n  # about b\n  b: number  # b\n",
            "fields:\n    a: number\n    # merged\n    # about b\n    b: number  # b\n",
        ),
        # Line continuations join physical lines into one clause.
        (
            "stage s:\n  max dwell \\\n    4 h  # four\n  owner \\\n o\n",
            "stage s:\n    owner o\n    max dwell 4 hours  # four\n",
        ),
    ],
)
def test_comment_placement(text: str, expected: str) -> None:
    assert fmt(text) == expected
    assert_properties(text)


def test_formatting_needs_a_syntax_error_free_source() -> None:
    parsed = parse(Source("bad.sla", "stage:\n"))
    assert parsed.document is None
    with pytest.raises(ValueError, match="syntax errors"):
        format_document(parsed)


def test_check_and_diff() -> None:
    messy = parsed_text("team  t\nactivities a\nactivities b", "m.sla")
    assert not check_formatted(messy)
    assert diff(messy, "agreements/m.sla") == (
        "--- a/agreements/m.sla\n"
        "+++ b/agreements/m.sla\n"
        "@@ -1,3 +1,3 @@\n"
        "-team  t\n"
        "-activities a\n"
        "-activities b\n"
        "\\ No newline at end of file\n"
        "+team t\n"
        "+\n"
        "+activities a, b\n"
    )
    clean = parsed_text("team t\n")
    assert check_formatted(clean)
    assert diff(clean, "t.sla") == ""
    separator = parsed_text('team t "a\u2028b"  # c\u2028d\n')
    assert check_formatted(separator)
    assert diff(separator, "t.sla") == ""
    spaced = parsed_text('team  t "a\u2028b"\n')
    assert diff(spaced, "t.sla").endswith('@@ -1 +1 @@\n-team  t "a\u2028b"\n+team t "a\u2028b"\n')
    crlf = parsed_text("team t\r\n")
    assert not check_formatted(crlf)
    assert diff(crlf, "t.sla").endswith("-team t\r\n+team t\n")


# ---------------------------------------------------------------- random agreements

# Breakable separators: BREAK may become a line break (and a comment) inside brackets only.
SPACE = "\x01"
BREAK = "\x02"

NAMES = st.sampled_from(
    [
        "mql",
        "sql",
        "sal",
        "won",
        "lost",
        "nurture",
        "sales",
        "marketing",
        "score",
        "amount",
        "source",
        "call",
        "email",
        "x",
        "_private",
        "Stage_2",
        "office",
        "AUD",
    ]
)
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029")
    | st.sampled_from(['"', "\\", "#", " ", "\t", "\n", "\u00e9", "-"]),
    max_size=12,
)
COMMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")) | st.just('"'),
    max_size=15,
).map(lambda body: "#" + body)


@st.composite
def quoted(draw: st.DrawFn, value: str | None = None) -> str:
    """A string token for a value, with optional escapes for characters that need none."""
    if value is None:
        value = draw(TEXT)
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append(draw(st.sampled_from(["\t", "\\t"])))
        elif char in string.ascii_letters and char not in "nt" and draw(st.booleans()):
            out.append("\\" + char)
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


@st.composite
def numbers(draw: st.DrawFn, whole: bool = False, most: int = 100000) -> str:
    value = draw(st.integers(0, most))
    text = draw(st.sampled_from(["", "0", "00"])) + str(value)
    if draw(st.booleans()):
        text += "." + (
            "0" * draw(st.integers(1, 3))
            if whole
            else draw(st.sampled_from(["0", "5", "25", "50", "125"]))
        )
    if not whole and value == 0 and draw(st.booleans()):
        text = "." + draw(st.sampled_from(["5", "25", "0"]))
    return text


@st.composite
def percents(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["0", "20", "75.0", "99.5", "100", "100.00", "007", ".5"]))


@st.composite
def durations(draw: st.DrawFn) -> str:
    business = draw(st.sampled_from(["", "business "]))
    unit = draw(
        st.sampled_from(
            [
                "minute",
                "minutes",
                "min",
                "mins",
                "hour",
                "hours",
                "h",
                "hr",
                "hrs",
                "day",
                "days",
                "week",
                "weeks",
                "d",
                "m",
                "w",
                "month",
                "months",
                "fortnights",
            ]
        )
    )
    return f"{draw(numbers(most=30))}{draw(st.sampled_from([' ', '  ']))}{business}{unit}"


@st.composite
def literals(draw: st.DrawFn) -> str:
    kind = draw(
        st.sampled_from(["string", "number", "negative", "date", "datetime", "bool", "symbol"])
    )
    if kind == "string":
        return draw(quoted())
    if kind == "number":
        return draw(numbers())
    if kind == "negative":
        return "-" + draw(st.sampled_from(["", " "])) + draw(numbers())
    if kind == "date":
        return draw(st.dates(dt.date(1000, 1, 1), dt.date(2999, 12, 31))).isoformat()
    if kind == "datetime":
        seconds = draw(st.sampled_from(["", ":00", ":30"]))
        offset = draw(st.sampled_from(["Z", "+00:00", "+11:00", "-05:30"]))
        return f"2026-03-01T0{draw(st.integers(0, 9))}:15{seconds}{offset}"
    if kind == "bool":
        return draw(st.sampled_from(["true", "false"]))
    return draw(NAMES)


def bracketed(items: list[str]) -> str:
    return "[" + f",{BREAK}".join(items) + "]"


@st.composite
def atoms(draw: st.DrawFn) -> str:
    name = draw(NAMES)
    kind = draw(st.sampled_from(["compare", "member", "presence", "recent", "count"]))
    if kind == "compare":
        op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
        return f"{name}{SPACE}{op}{SPACE}{draw(literals())}"
    if kind == "member":
        values = draw(st.lists(literals(), min_size=1, max_size=3))
        return f"{name}{SPACE}{draw(st.sampled_from(['in', 'not in']))}{SPACE}{bracketed(values)}"
    if kind == "presence":
        return f"{name} is {draw(st.sampled_from(['set', 'not set']))}"
    if kind == "recent":
        return f"{name} within {draw(durations())}"
    types = ", ".join(draw(st.lists(NAMES, min_size=1, max_size=3)))
    text = f"at least {draw(numbers(whole=True, most=9))} {types}"
    text += draw(st.sampled_from(["", " by owner", " by sales"]))
    return text + draw(st.sampled_from(["", " since entering mql"]))


def parenthesised(text: str) -> str:
    return "(" + text.replace(SPACE, BREAK) + ")"


@st.composite
def expressions(draw: st.DrawFn, depth: int = 0) -> tuple[str, int]:
    """Criterion text and its precedence (1 or, 2 and, 3 not, 4 atom)."""
    kind = draw(st.sampled_from(["atom", "atom", "and", "or", "not"] if depth < 3 else ["atom"]))
    if kind == "atom":
        text, precedence = draw(atoms()), 4
    elif kind == "not":
        part, part_precedence = draw(expressions(depth + 1))
        text = "not " + (parenthesised(part) if part_precedence < 3 else part)
        precedence = 3
    else:
        least = 3 if kind == "and" else 2
        parts = draw(st.lists(expressions(depth + 1), min_size=2, max_size=3))
        operands = [parenthesised(part) if p < least else part for part, p in parts]
        text = f"{SPACE}{kind} ".join(operands)
        precedence = 2 if kind == "and" else 1
    if draw(st.integers(0, 4)) == 0:
        return parenthesised(text), 4
    return text, precedence


@st.composite
def triggers(draw: st.DrawFn) -> str:
    stages = ", ".join(draw(st.lists(NAMES, min_size=1, max_size=2)))
    return draw(
        st.sampled_from(
            [
                f"lead enters {stages}",
                f"lead leaves {stages}",
                "lead is created",
                "lead is assigned",
                f"handoff {draw(NAMES)} -> {draw(NAMES)}",
                f"activity {stages}{draw(st.sampled_from(['', ' by owner', ' by sales']))}",
            ]
        )
    )


def title(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", " " + draw(quoted())]))


@st.composite
def blocks(draw: st.DrawFn) -> tuple[str, list[str]]:
    """One top-level statement: its header line and its clauses (in random order)."""
    kind = draw(
        st.sampled_from(
            [
                "agreement",
                "use",
                "fields",
                "activities",
                "team",
                "calendar",
                "stage",
                "handoff",
                "clock",
                "cadence",
                "target",
            ]
        )
    )
    once: list[st.SearchStrategy[str]] = []
    many: list[st.SearchStrategy[str]] = []
    name = draw(NAMES)
    if kind == "use":
        return f"use {draw(quoted())}", []
    if kind == "activities":
        return "activities " + ",".join(draw(st.lists(NAMES, min_size=1, max_size=4))), []
    if kind == "fields":
        field_types = st.sampled_from(
            ["string", "number", "boolean", "date", "datetime", "money", "money AUD", "enum"]
        )
        fields = []
        for field_name in draw(st.lists(NAMES, min_size=1, max_size=4)):
            field_type = draw(field_types)
            if field_type == "enum":
                values = draw(st.lists(NAMES | quoted(), min_size=1, max_size=4))
                field_type = "enum " + bracketed(values)
            description = draw(st.sampled_from(["", " " + draw(quoted())]))
            fields.append(
                f"{field_name}{draw(st.sampled_from([':', ' :']))} {field_type}{description}"
            )
        return "fields:", fields
    if kind == "team":
        members = [
            "members " + ", ".join(draw(st.lists(quoted(), min_size=1, max_size=3)))
            for _ in range(draw(st.integers(0, 3)))
        ]
        return f"team {name}{title(draw)}{':' if members else ''}", members
    if kind == "agreement":
        once = [
            st.builds(lambda v: f"version {v}", quoted()),
            st.just("effective 2026-03-01"),
            st.builds(lambda n: f"calendar {n}", NAMES),
            st.builds(lambda v: f"timezone {v}", quoted()),
        ]
        many = [
            st.builds(
                lambda n, a, b, c: f"party {n} {a} signed by {b}{c}",
                NAMES,
                quoted(),
                quoted(),
                st.sampled_from(["", ' as "Role"']),
            )
        ]
        header = f"agreement {draw(quoted())}:"
    elif kind == "calendar":
        day_lists = st.sampled_from(
            [
                "monday to friday",
                "saturday",
                "monday, wednesday, friday",
                "tuesday, monday",
                "monday to wednesday, thursday",
                "saturday to sunday",
            ]
        )
        windows = st.sampled_from(["09:00-17:00", "09:00-12:00, 13:00-17:30", "00:00-24:00"])
        once = [
            st.builds(lambda v: f"timezone {v}", quoted()),
            st.builds(lambda d: f"working day {d}", durations()),
        ]
        many = [
            st.builds(lambda d, w: f"open {d} {w}", day_lists, windows),
            st.sampled_from(["public holidays AU", "public holidays au-nsw including bank"]),
            st.sampled_from(
                [
                    "closed 2026-12-25",
                    'closed 2026-12-24 to 2026-12-31 "Summer"',
                    "closed 2026-12-23 13:00-17:00",
                    "closed 2026-01-01 to 2026-01-01",
                ]
            ),
        ]
        header = f"calendar {name}{title(draw)}:"
    elif kind == "stage":
        definitions = (
            st.builds(
                lambda words, spaces: '"""' + spaces.join(words) + '"""',
                st.lists(
                    st.sampled_from(["word", "lead", '\\"quoted\\"', "a\\\\b", "# not"]),
                    max_size=40,
                ),
                st.sampled_from([" ", "\n      ", "  "]),
            )
            | quoted()
        )
        once = [
            st.builds(lambda n: f"owner {n}", NAMES),
            st.builds(lambda d: f"definition {d}", definitions),
            st.just("initial"),
            st.just("terminal"),
            st.builds(lambda d: f"max dwell {d}", durations()),
            st.builds(lambda n: f"calendar {n}", NAMES),
        ]
        many = [
            st.builds(
                lambda a: "aliases " + ", ".join(a),
                st.lists(NAMES | quoted(), min_size=1, max_size=3),
            )
        ]
        header = f"stage {name}{title(draw)}:"
    elif kind == "handoff":
        many = [
            st.builds(lambda e: f"criteria {e[0]}", expressions()),
            st.builds(
                lambda r: "requires " + ", ".join(r), st.lists(NAMES, min_size=1, max_size=3)
            ),
        ]
        header = f"handoff {name} -> {draw(NAMES)}{title(draw)}"
        clauses = draw(st.lists(st.one_of(many), max_size=4))
        return header + (":" if clauses else ""), clauses
    elif kind == "clock":
        once = [
            st.builds(lambda n: f"calendar {n}", NAMES),
            st.builds(lambda p: f"warn at {p}%", percents()),
            st.builds(lambda n: f"responsible {n}", NAMES),
        ]
        many = [
            st.builds(lambda t: f"starts when {t}", triggers()),
            st.builds(lambda t: f"stops when {t}", triggers()),
            st.builds(lambda t: f"cancels when {t}", triggers()),
            st.builds(
                lambda s: "pauses while in " + ", ".join(s), st.lists(NAMES, min_size=1, max_size=2)
            ),
            st.builds(lambda e: f"pauses while {e[0]}", expressions()),
            st.builds(lambda d: f"goal {d}", durations()),
            st.builds(lambda d, e: f"goal {d} if {e[0]}", durations(), expressions()),
        ]
        header = f"clock {name}{title(draw)}:"
    elif kind == "cadence":
        once = [
            st.builds(
                lambda n, t, b, d: f"requires at least {n} {', '.join(t)}{b} within {d}",
                numbers(whole=True, most=9),
                st.lists(NAMES, min_size=1, max_size=3),
                st.sampled_from(["", " by owner", " by sales"]),
                durations(),
            ),
            st.builds(lambda n: f"calendar {n}", NAMES),
            st.builds(lambda n: f"responsible {n}", NAMES),
        ]
        many = [
            st.builds(lambda t: f"starts when {t}", triggers()),
            st.builds(lambda t: f"exits when {t}", triggers()),
        ]
        header = f"cadence {name}{title(draw)}:"
    else:
        periods = st.sampled_from(["week", "month", "quarter", "year"])
        bounds = st.sampled_from(["at least", "at most"])
        within = st.sampled_from(["", " within 30 days", " within 1 business days"])
        measures = st.one_of(
            st.builds(lambda c, s: f"{c} leads enter {s}", numbers(whole=True), NAMES),
            st.builds(
                lambda p, a, b, w: f"{p}% of leads entering {a} reach {b}{w}",
                percents(),
                NAMES,
                NAMES,
                within,
            ),
            st.builds(lambda p, c: f"{p}% of {c} cycles met", percents(), NAMES),
            st.builds(
                lambda p, a, by, w: f"{p}% of leads entering {a} worked {by}{w}",
                percents(),
                NAMES,
                st.sampled_from(["by owner", "by sales"]),
                within,
            ),
        )
        once = [
            st.builds(lambda p, b, m: f"each {p} {b} {m}", periods, bounds, measures),
            st.builds(lambda n: f"responsible {n}", NAMES),
        ]
        header = f"target {name}{title(draw)}:"
    chosen = [draw(clause) for clause in once if draw(st.booleans())]
    chosen += [draw(st.one_of(many)) for _ in range(draw(st.integers(0, 3)))] if many else []
    if not chosen:
        chosen = [draw(st.one_of(once + many))]
    return header, draw(st.permutations(chosen))


@st.composite
def noisy_agreements(draw: st.DrawFn) -> str:
    """A random valid agreement laid out untidily, with comments in random places."""

    def comment_lines(indent: str) -> list[str]:
        return [
            draw(st.sampled_from(["", " ", indent, "  ", "        "])) + draw(COMMENT)
            for _ in range(draw(st.integers(0, 2)))
        ] + [draw(st.sampled_from(["", "  ", "\t"])) for _ in range(draw(st.integers(0, 1)))]

    def trailing() -> str:
        return draw(st.sampled_from(["", "", "  ", " " + draw(COMMENT)]))

    def finish(text: str) -> str:
        out = []
        for char in text:
            if char == SPACE:
                out.append(draw(st.sampled_from([" ", " ", " ", " \\\n      "])))
            elif char == BREAK:
                out.append(
                    draw(
                        st.sampled_from(
                            [
                                " ",
                                " ",
                                "\n   ",
                                " " + draw(COMMENT) + "\n  ",
                                "\n" + draw(COMMENT) + "\n",
                            ]
                        )
                    )
                )
            else:
                out.append(char)
        return "".join(out)

    statements = draw(st.lists(blocks(), max_size=7))
    headers = [i for i, (header, _) in enumerate(statements) if header.startswith("agreement ")]
    # A file holds one agreement header.
    statements = [s for i, s in enumerate(statements) if i not in headers[1:]]
    lines: list[str] = []
    for header, clauses in statements:
        lines.extend(comment_lines(""))
        lines.append(finish(header) + trailing())
        indent = draw(st.sampled_from(["    ", "  ", "\t", "   "]))
        for clause in clauses:
            lines.extend(comment_lines(indent))
            lines.append(indent + finish(clause).replace("\n", "\n" + indent) + trailing())
        block_end: bool = draw(st.booleans())
        if clauses and block_end:
            lines.append(indent + draw(COMMENT))
    lines.extend(comment_lines(""))
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))
    return text.replace("\n", "\r\n") if draw(st.integers(0, 5)) == 0 else text


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noisy_agreements())
def test_properties_on_random_agreements(text: str) -> None:
    parsed = parse(Source("random.sla", text))
    assume(parsed.document is not None)
    assert_properties(text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noisy_agreements())
def test_random_agreements_parse(text: str) -> None:
    # The generator is meant to write valid agreements; a drift would hollow out the property test.
    parsed = parse(Source("random.sla", text))
    assert parsed.document is not None, (text, parsed.diagnostics)
