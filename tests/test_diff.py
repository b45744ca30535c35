"""The semantic diff: golden changes of every kind, implication, properties, the command, impact.

Each case of tests/data/diff/cases.txt edits tests/data/diff/base.sla into the new version (some
edit the old one too) and names the kinds of change expected. Its golden file cases/ID.txt holds
the text report of the diff and of the diff the other way round, which must mirror it (added
<-> removed, tightened <-> loosened). SLASPEC_UPDATE_GOLDEN=1 rewrites the goldens.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, check_text, golden
from slaspec import cli
from slaspec import nodes as n
from slaspec.cli_diff import add_diff_command, split_revision
from slaspec.diff import (
    Diff,
    Kind,
    Version,
    compare,
    implies,
    judge,
    normalise,
    render_json,
    render_markdown,
    render_text,
    version,
)
from slaspec.formatter import format_document
from slaspec.parser import parse
from slaspec.source import Source

FOLDER = DATA / "diff"
SDR_TEAM = 'team sdr "Sales development":\n    members "mia@acme.example", "jack@acme.example"\n'
BASE = (FOLDER / "base.sla").read_text(encoding="utf-8")
AGREEMENTS = sorted((ROOT / "agreements").glob("*.sla"))

Edits = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Case:
    """A golden case of cases.txt: edits making each version, and the kinds expected."""

    kinds: tuple[str, ...]
    new: tuple[tuple[str, str], ...]
    old: tuple[tuple[str, str], ...]


def read_cases(text: str) -> dict[str, Case]:
    """The cases of cases.txt (its format is described at its top)."""
    cases: dict[str, Case] = {}
    for block in re.split(r"^== ", text, flags=re.MULTILINE)[1:]:
        header, *lines = block.split("\n")
        name, _, kinds = header.partition(":")
        expected = tuple(kind.strip() for kind in kinds.split(",") if kind.strip())
        edits = _edits(lines)
        assert name.strip() not in cases, f"case {name} is defined twice"
        cases[name.strip()] = Case(expected, edits["new"], edits["old"])
    return cases


def _edits(lines: Sequence[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    # Each edit is [version, removed lines, added lines]; a blank line or `old:` ends one.
    edits: list[tuple[str, list[str], list[str]]] = []
    target, current = "new", None
    for line in lines:
        if line.startswith(("-", "+")):
            sign, text = line[0], line[1:] + "\n"
            if current is None or (sign == "-" and current[2]):
                current = (target, [], [])
                edits.append(current)
            current[1 if sign == "-" else 2].append(text)
            continue
        current = None
        if line == "old:":
            target = "old"
        elif line.strip() and not line.startswith("#"):
            raise AssertionError(f"unexpected line in cases.txt: {line!r}")
    return {
        version: tuple(
            ("".join(old), "".join(new)) for side_, old, new in edits if side_ == version
        )
        for version in ("new", "old")
    }


CASES = read_cases((FOLDER / "cases.txt").read_text(encoding="utf-8"))

MIRROR = {
    Kind.ADDED: Kind.REMOVED,
    Kind.REMOVED: Kind.ADDED,
    Kind.TIGHTENED: Kind.LOOSENED,
    Kind.LOOSENED: Kind.TIGHTENED,
    Kind.CHANGED: Kind.CHANGED,
}


def edited(text: str, edits: Edits, whole_lines: bool = False) -> str:
    """The text with each `old` replaced by `new`; each must occur exactly once (as whole
    lines, for the cases of cases.txt)."""
    start = "\n" if whole_lines else ""
    text = start + text
    for old, new in edits:
        found = text.count(start + old)
        assert found == 1, f"the edit target occurs {found} times: {old!r}"
        text = text.replace(start + old, start + new)
    return text[len(start) :]


def side(text: str, name: str) -> Version:
    checked = check_text(text, name)
    assert checked.agreement is not None, [d.message for d in checked.errors]
    return version(name, checked)


def kinds(diff: Diff) -> tuple[str, ...]:
    return tuple(change.kind.value for change in diff.changes)


# ---------------------------------------------------------------- golden changes of every kind


def test_every_golden_has_its_case() -> None:
    assert {path.stem for path in (FOLDER / "cases").glob("*.txt")} == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_change_is_classified_and_mirrored(case: str) -> None:
    found = CASES[case]
    old = side(edited(BASE, found.old, whole_lines=True), "old.sla")
    new = side(edited(BASE, found.new, whole_lines=True), "new.sla")
    forward, backward = compare(old, new), compare(new, old)
    assert kinds(forward) == found.kinds
    assert Counter(MIRROR[c.kind] for c in backward.changes) == Counter(
        c.kind for c in forward.changes
    )
    for change in forward.changes:
        assert change.old is not None or change.new is not None
        if not change.aspect and change.kind in (Kind.ADDED, Kind.REMOVED):
            assert (change.old is None) is (change.kind is Kind.ADDED)
    golden(FOLDER / "cases" / f"{case}.txt", render_text(forward) + "\n" + render_text(backward))


def test_the_first_touch_goal_reads_as_business_language() -> None:
    old = side(BASE, "old.sla")
    new = side(edited(BASE, [("goal 4 business hours", "goal 8 business hours")]), "new.sla")
    (change,) = compare(old, new).changes
    assert change.message == (
        "Sales development's first-touch goal for other leads loosens from 4 to 8 business hours"
    )
    assert (change.where, change.lines) == ("clock first_touch, goal 2", "old.sla:89 -> new.sla:89")
    assert (change.before, change.after) == ("4 business hours", "8 business hours")


def test_a_clock_without_responsible_is_charged_to_the_owner_of_its_start_stage() -> None:
    old = side(BASE, "old.sla")
    new = side(edited(BASE, [("goal 1 business day", "goal 2 business days")]), "new.sla")
    (change,) = compare(old, new).changes
    assert change.message.startswith("Account executives' sql-follow-up goal loosens")


def test_clause_lines_follow_each_side() -> None:
    moved = edited(BASE, [("goal 4 business hours", "goal 8 business hours")])
    moved = "# a comment\n# another\n" + moved
    (change,) = compare(side(BASE, "old.sla"), side(moved, "new.sla")).changes
    assert change.lines == "old.sla:89 -> new.sla:91"


def test_declarations_the_compiled_form_does_not_locate_are_located() -> None:
    edits = [('members "sam@acme.example"', 'members "sam@acme.example", "kim@acme.example"')]
    (change,) = compare(side(BASE, "old.sla"), side(edited(BASE, edits), "new.sla")).changes
    assert change.where == "team sales, roster"
    # The new member's line, and on the old side the line of the team it joins.
    assert change.lines == "old.sla:26 -> new.sla:27"


def test_used_files_are_compared_and_located() -> None:
    shared = 'team sdr "Sales development":\n    members "mia@acme.example"\n'
    root = edited(
        BASE,
        [
            (
                SDR_TEAM,
                'use "shared.sla"\n',
            )
        ],
    )
    before = check_text(root, "old/main.sla", {"old/shared.sla": shared})
    after = check_text(
        root, "new/main.sla", {"new/shared.sla": shared.replace("members", 'members "x@y.z",')}
    )
    old, new = version("old", before), version("new", after)
    (change,) = compare(old, new).changes
    assert (change.kind, change.message) == (Kind.ADDED, "x@y.z joins Sales development")
    assert change.lines == "old/shared.sla:1 -> new/shared.sla:2"


# ---------------------------------------------------------------- criteria implication


def _expr(text: str) -> n.Expr:
    checked = check_text(edited(BASE, [("criteria amount > 0", f"criteria {text}")]))
    assert checked.agreement is not None, [d.message for d in checked.errors]
    return normalise(checked.agreement.handoffs[("sql", "won")].criteria[0])


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("score >= 60", "score >= 70", "tightened"),
        ("score >= 60", "score > 60", "tightened"),
        ("score > 60", "score >= 60", "loosened"),
        ("score >= 60", "score >= 60.0", None),
        ("score >= 60", "score = 75", "tightened"),
        ("score = 75", "score in [75, 80]", "loosened"),
        ("score in [75, 80]", "score in [80, 75, 80]", None),
        ("score < 10", "score <= 10", "loosened"),
        ("score < 10", "score != 20", "loosened"),
        ("score != 20", "score not in [20, 30]", "tightened"),
        ("score >= 60", "score < 60", "changed"),
        ("score >= 60", "score is set", "loosened"),
        ("score is set", "not score is not set", None),
        ("source in [website, webinar]", "source not in [referral]", "loosened"),
        ("source not in [referral]", "source not in [referral, webinar]", "tightened"),
        ("source = website", "source != referral", "loosened"),
        ("score is set and score >= 60", "score >= 60", None),
        ("email is set and score >= 60", "score >= 60", "loosened"),
        ("score >= 60 or source = referral", "score >= 60", "tightened"),
        ("score >= 60", "score >= 50 or source = referral", "loosened"),
        ("score >= 60 and score <= 90", "score >= 70 and score <= 80", "tightened"),
        ("last_engaged within 30 days", "last_engaged within 4 weeks", "tightened"),
        ("last_engaged within 30 days", "last_engaged within 720 hours", None),
        ("last_engaged within 2 business days", "last_engaged within 16 business hours", "changed"),
        ("at least 2 call", "at least 3 call", "tightened"),
        ("at least 2 call", "at least 2 call, email", "loosened"),
        ("at least 2 call by sdr", "at least 2 call", "changed"),
        ("not score >= 60", "not score >= 70", "loosened"),
        ("not (score >= 60 and email is set)", "not score >= 60", "tightened"),
    ],
)
def test_criteria_are_compared_by_implication(old: str, new: str, expected: str | None) -> None:
    kind = judge([_expr(old)], [_expr(new)])
    assert (kind.value if kind else None) == expected


_OPS = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
_VALUES = st.integers(min_value=-3, max_value=3)
# Halves between the integers stand for every real number in between; None is unset.
_POINTS = [None, *(Decimal(tenth) / 10 for tenth in range(-50, 51, 5))]


def _number(value: int) -> n.Literal:
    return n.Literal("number", Decimal(value))


def _comparison(op: str, value: int) -> n.Expr:
    return n.Comparison(n.Name("score"), op, _number(value))  # type: ignore[arg-type]


def _membership(values: list[int], negated: bool) -> n.Expr:
    return n.Membership(n.Name("score"), tuple(_number(v) for v in values), negated)


_ATOMS = st.one_of(
    st.builds(_comparison, _OPS, _VALUES),
    st.builds(_membership, st.lists(_VALUES, min_size=1, max_size=3), st.booleans()),
    st.builds(lambda present: n.Presence(n.Name("score"), present), st.booleans()),
)
_CRITERIA = st.recursive(
    _ATOMS,
    lambda parts: st.one_of(
        st.lists(parts, min_size=2, max_size=3).map(lambda items: n.And(tuple(items))),
        st.lists(parts, min_size=2, max_size=3).map(lambda items: n.Or(tuple(items))),
        parts.map(lambda part: n.Not(part)),
    ),
    max_leaves=5,
)


def _holds(expr: n.Expr, x: Decimal | None) -> bool:
    """The semantics of a criterion on a lead whose `score` is x (None: unset)."""
    match expr:
        case n.Comparison():
            value = expr.value.value
            assert isinstance(value, Decimal)
            if x is None:
                return False
            return {
                "=": x == value,
                "!=": x != value,
                "<": x < value,
                "<=": x <= value,
                ">": x > value,
                ">=": x >= value,
            }[expr.op]
        case n.Membership():
            if x is None:
                return False
            return (x in {v.value for v in expr.values}) != expr.negated
        case n.Presence():
            return (x is not None) == expr.present
        case n.And():
            return all(_holds(part, x) for part in expr.parts)
        case n.Or():
            return any(_holds(part, x) for part in expr.parts)
        case n.Not():
            return not _holds(expr.part, x)
    raise AssertionError(expr)


@settings(max_examples=400, deadline=None)
@given(_CRITERIA, _CRITERIA)
def test_implication_is_sound_and_normalising_keeps_the_meaning(p: n.Expr, q: n.Expr) -> None:
    p_normal, q_normal = normalise(p), normalise(q)
    for x in _POINTS:
        assert _holds(p_normal, x) == _holds(p, x)
    if implies(p_normal, q_normal):
        for x in _POINTS:
            assert not _holds(p, x) or _holds(q, x), (p, q, x)
    assert implies(p_normal, p_normal)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_OPS, _VALUES), min_size=1, max_size=3), st.booleans())
def test_a_conjunction_implies_its_parts_and_a_disjunction_is_implied_by_them(
    parts: list[tuple[str, int]], disjunction: bool
) -> None:
    items = [_comparison(op, value) for op, value in parts]
    whole = normalise(n.Or(tuple(items)) if disjunction else n.And(tuple(items)))
    for item in items:
        part = normalise(item)
        assert implies(part, whole) if disjunction else implies(whole, part)


# ---------------------------------------------------------------- properties


def _statements(text: str) -> list[str]:
    """Top-level statements with the comment lines just above them."""
    chunks: list[list[str]] = [[]]
    pending: list[str] = []
    for line in text.splitlines(keepends=True):
        if not line.strip() or line.lstrip().startswith("#"):
            (pending if not line[:1].isspace() else chunks[-1]).append(line)
        elif not line[:1].isspace():
            chunks.append([*pending, line])
            pending = []
        else:
            chunks[-1].extend([*pending, line])
            pending = []
    chunks[-1].extend(pending)
    body = ["".join(chunk).strip("\n") + "\n" for chunk in chunks if "".join(chunk).strip()]
    return body


_AMOUNT = r"(\d+(?:\.\d+)?)"


def _respelled(text: str) -> str:
    """Durations in other units of the same length, outside quoted text."""
    out: list[str] = []
    quoted = False
    for line in text.splitlines(keepends=True):
        inside = quoted or '"' in line
        quoted ^= line.count('"""') % 2 == 1
        if inside or line.lstrip().startswith("#"):
            out.append(line)
            continue
        line = re.sub(
            _AMOUNT + r" (business )?hours?\b",
            lambda m: f"{Decimal(m[1]) * 60} {m[2] or ''}minutes",
            line,
        )
        line = re.sub(
            r"(?<!business )" + _AMOUNT + r" days?\b",
            lambda m: f"{Decimal(m[1]) * 24} hours",
            line,
        )
        out.append(line)
    return "".join(out)


def _formatted(text: str) -> str:
    return format_document(parse(Source("x.sla", text)))


TEXTS = [BASE] + [path.read_text(encoding="utf-8") for path in AGREEMENTS]


def test_the_respelling_helper_really_respells() -> None:
    text = _respelled(BASE)
    assert "goal 240 business minutes" in text and "within 720 hours" in text
    assert _formatted(text) != _formatted(BASE)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(range(len(TEXTS))), st.randoms(use_true_random=False), st.booleans())
def test_reordering_respelling_and_formatting_are_no_change(
    which: int, random: object, respell: bool
) -> None:
    text = TEXTS[which]
    statements = _statements(text)
    random.shuffle(statements)  # type: ignore[attr-defined]
    changed = "\n".join(statements)
    if respell:
        changed = _respelled(changed)
    changed = _formatted(changed)
    before, after = side(text, "a.sla"), side(changed, "b.sla")
    assert compare(before, after).changes == ()
    assert compare(after, before).changes == ()


@pytest.mark.parametrize("path", AGREEMENTS, ids=lambda path: path.name)
def test_an_example_agreement_after_fmt_has_no_change(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert compare(side(text, "a.sla"), side(_formatted(text), "b.sla")).changes == ()


@pytest.mark.parametrize("first", range(len(TEXTS)))
@pytest.mark.parametrize("second", range(len(TEXTS)))
def test_any_two_agreements_diff_as_mirror_images(first: int, second: int) -> None:
    a, b = side(TEXTS[first], "a.sla"), side(TEXTS[second], "b.sla")
    forward, backward = compare(a, b), compare(b, a)
    assert Counter(MIRROR[c.kind] for c in backward.changes) == Counter(
        c.kind for c in forward.changes
    )
    assert bool(forward.changes) == (first != second)
    for text in (render_text(forward), render_markdown(forward), render_json(forward)):
        assert text.endswith("\n")


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12))
def test_a_longer_goal_loosens_and_a_shorter_one_tightens(was: int, now: int) -> None:
    old = side(edited(BASE, [("goal 4 business hours", f"goal {was} business hours")]), "a")
    new = side(edited(BASE, [("goal 4 business hours", f"goal {now * 60} business minutes")]), "b")
    expected = () if was == now else ("loosened",) if now > was else ("tightened",)
    assert kinds(compare(old, new)) == expected


# ---------------------------------------------------------------- rendering and failing


def _realistic() -> tuple[Version, Version]:
    path = ROOT / "agreements" / "harbour-b2b.sla"
    text = path.read_text(encoding="utf-8")
    changed = edited(
        text,
        [
            ("    goal 4 business hours\n", "    goal 8 business hours\n"),
            ("criteria score >= 60 and last_engaged", "criteria score >= 70 and last_engaged"),
            ("each month at least 120 leads", "each month at least 100 leads"),
            ('    requires reject_reason\n    # "No', '    # "No'),
            ('"End-of-year team afternoon"', '"End-of-year <team> | afternoon"'),
        ],
    )
    return side(text, "agreements/harbour-b2b.sla"), side(changed, "agreements/harbour-b2b.sla")


def test_markdown_is_a_pull_request_table() -> None:
    result = compare(*_realistic())
    text = render_markdown(result)
    golden(FOLDER / "harbour.md", text)
    assert "| **loosened** |" in text
    assert "&lt;team> \\| afternoon" in text
    assert "`score >= 60`" in text  # code spans are not escaped


def test_json_lists_every_change_with_both_places() -> None:
    result = compare(*_realistic())
    document = json.loads(render_json(result))
    golden(FOLDER / "harbour.json", render_json(result))
    assert document["summary"]["total"] == len(document["changes"]) == len(result.changes)
    first = document["changes"][0]
    assert set(first) == {
        "kind", "element", "name", "aspect", "message", "old", "new", "before", "after",
    }  # fmt: skip
    assert document["impact"] is None


@pytest.mark.parametrize(
    ("on", "expected"),
    [
        ([], False),
        (["any"], True),
        (["loosened"], True),
        (["removed"], False),
        (["removed", "loosened"], True),
    ],
)
def test_fails_on_the_kinds_named(on: list[str], expected: bool) -> None:
    assert compare(*_realistic()).fails(on) is expected


def test_no_change_fails_nothing() -> None:
    same = side(BASE, "a.sla")
    result = compare(same, same)
    assert not result.fails(["any", "loosened", "removed"])
    assert render_text(result) == "slaspec diff a.sla -> a.sla\nNo change in meaning.\n"


# ---------------------------------------------------------------- the command


def _parser() -> argparse.ArgumentParser:
    parser = cli.build_parser()
    commands = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    if "diff" not in commands.choices:  # until cli.py registers the command itself
        add_diff_command(commands)
    return parser


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`slaspec diff ARGV` in-process, with cli.main's handling of errors."""
    try:
        args = _parser().parse_args(["diff", *argv])
        code: int = args.handler(args)
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 2
    except cli.UsageError as error:
        sys.stderr.write(f"slaspec: error: {error}\n")
        code = 2
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.sla").write_text(BASE, encoding="utf-8")
    (tmp_path / "new.sla").write_text(
        edited(BASE, [("goal 4 business hours", "goal 8 business hours")]), encoding="utf-8"
    )
    (tmp_path / "removed.sla").write_text(
        edited(BASE, [("    warn at 75%\n", "")]).replace(
            "target sql_lost:\n    each quarter at most 10% of leads entering sql reach lost\n",
            "",
        ),
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize(
    ("new", "fail_on", "code"),
    [
        ("new.sla", [], 0),
        ("new.sla", ["loosened"], 1),
        ("new.sla", ["removed"], 0),
        ("new.sla", ["any"], 1),
        ("old.sla", ["any"], 0),
        ("removed.sla", ["removed"], 1),
        ("removed.sla", ["removed", "loosened"], 1),
    ],
)
def test_exit_codes_follow_fail_on(
    versions: Path, capsys: pytest.CaptureFixture[str], new: str, fail_on: list[str], code: int
) -> None:
    flags = [word for choice in fail_on for word in ("--fail-on", choice)]
    found, out, err = run(capsys, "old.sla", new, *flags)
    assert (found, err) == (code, "")
    assert out.startswith(f"slaspec diff old.sla -> {new}\n")


def test_the_command_writes_each_format(versions: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, text, _ = run(capsys, "old.sla", "new.sla")
    assert "loosened   Sales development's first-touch goal" in text
    _, markdown, _ = run(capsys, "old.sla", "new.sla", "--format", "markdown")
    assert markdown.startswith("### slaspec diff: `old.sla` -> `new.sla`")
    _, document, _ = run(capsys, "old.sla", "new.sla", "--format", "json", "-o", "out.json")
    assert document == ""
    assert json.loads((versions / "out.json").read_text(encoding="utf-8"))["summary"] == {
        "added": 0, "removed": 0, "tightened": 0, "loosened": 1, "changed": 0, "total": 1,
    }  # fmt: skip


def test_a_version_with_errors_or_missing_exits_2(
    versions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (versions / "broken.sla").write_text(BASE.replace("owner sdr", "owner nobody"), "utf-8")
    code, out, err = run(capsys, "old.sla", "broken.sla")
    assert (code, out) == (2, "")
    assert "broken.sla has errors" in err and "SLA101" in err
    code, _, err = run(capsys, "old.sla", "missing.sla")
    assert code == 2 and "no such file: missing.sla" in err
    code, _, err = run(capsys, "old.sla", "new.sla", "--fail-on", "bigger")
    assert code == 2 and "invalid choice" in err


def test_revision_arguments_are_told_from_paths(tmp_path: Path) -> None:
    (tmp_path / "a:b.sla").write_text(BASE, encoding="utf-8")
    assert split_revision("HEAD~1:agreements/x.sla") == ("HEAD~1", "agreements/x.sla")
    assert split_revision(":x.sla") == ("", "x.sla")
    assert split_revision("x.sla") is None
    assert split_revision(str(tmp_path / "a:b.sla")) is None


needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repository: Path, *argv: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *argv],
        cwd=repository,
        check=True,
        capture_output=True,
    )


@needs_git
def test_a_git_revision_is_read_with_the_files_it_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "agreements"
    folder.mkdir()
    shared = 'team sdr "Sales development":\n    members "mia@acme.example"\n'
    root = edited(
        BASE,
        [
            (
                SDR_TEAM,
                'use "../shared/teams.sla"\n',
            )
        ],
    )
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "teams.sla").write_text(shared, encoding="utf-8")
    (folder / "sla.sla").write_text(root, encoding="utf-8")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "v1")
    (folder / "sla.sla").write_text(
        edited(root, [("goal 4 business hours", "goal 2 business hours")]), encoding="utf-8"
    )
    (tmp_path / "shared" / "teams.sla").write_text(
        shared.replace('"mia@acme.example"', '"mia@acme.example", "kim@acme.example"'), "utf-8"
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = run(
        capsys, "HEAD:agreements/sla.sla", "agreements/sla.sla", "--fail-on", "any"
    )
    assert (code, err) == (1, "")
    golden(FOLDER / "git.txt", out)
    assert "kim@acme.example joins Sales development" in out
    assert "agreements/sla.sla:" in out and "HEAD:" not in out.splitlines()[-1]
    # From a subfolder, `REV:./path` is relative to it, as in git.
    monkeypatch.chdir(folder)
    code, out, _ = run(capsys, "HEAD:./sla.sla", "sla.sla")
    assert code == 0 and "2 changes" in out
    code, _, err = run(capsys, "HEAD:agreements/sla.sla", "sla.sla")
    assert code == 0, err
    code, _, err = run(capsys, "nosuchrev:agreements/sla.sla", "sla.sla")
    assert code == 2 and "cannot read nosuchrev:agreements/sla.sla from git" in err
    code, _, err = run(capsys, "HEAD:agreements", "sla.sla")
    assert code == 2 and "is a folder in git" in err


# ---------------------------------------------------------------- impact

SMALL = """agreement "Reply SLA":
    version "1"
    effective 2026-03-02
    party practice "Practice" signed by "Ann"

activities email

team consultant:
    members "ann@example.com"

stage inquiry:
    owner consultant
    definition "Asked."
    initial

stage done:
    owner consultant
    definition "Answered."
    terminal

handoff inquiry -> done:
    criteria at least 1 email

clock reply "Reply to every inquiry":
    starts when lead enters inquiry
    stops when activity email by consultant
    goal 2 hours

target replies:
    each month at least 60% of reply cycles met
    responsible consultant
"""

LOG = """lead_id,timestamp,type,value,actor,team
A,2026-03-02T09:00:00Z,stage,inquiry,,
A,2026-03-02T09:30:00Z,activity,email,ann@example.com,
A,2026-03-02T09:40:00Z,stage,done,ann@example.com,
B,2026-03-03T09:00:00Z,stage,inquiry,,
B,2026-03-03T10:30:00Z,activity,email,ann@example.com,
B,2026-03-03T10:40:00Z,stage,done,ann@example.com,
C,2026-03-04T09:00:00Z,stage,inquiry,,
C,2026-03-04T09:05:00Z,stage,done,ann@example.com,
D,2026-03-05T09:00:00Z,stage,inquiry,,
D,2026-03-05T09:10:00Z,activity,email,ann@example.com,
D,2026-04-01T00:00:00Z,activity,email,ann@example.com,
"""


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "old.sla").write_text(SMALL, encoding="utf-8")
    (tmp_path / "new.sla").write_text(SMALL.replace("goal 2 hours", "goal 1 hour"), "utf-8")
    (tmp_path / "log.csv").write_text(LOG, encoding="utf-8")
    return tmp_path


def test_impact_shows_attainment_flips_and_targets(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "old.sla", "new.sla", "--impact", "log.csv")
    assert (code, err) == (0, "")
    golden(FOLDER / "impact.txt", out)
    _, markdown, _ = run(
        capsys, "old.sla", "new.sla", "--impact", "log.csv", "--format", "markdown"
    )
    golden(FOLDER / "impact.md", markdown)
    _, text, _ = run(capsys, "old.sla", "new.sla", "--impact", "log.csv", "--format", "json")
    impact = json.loads(text)["impact"]
    assert impact["as_of"] == "2026-04-01T00:00:00Z" and impact["leads"] == 4
    overall = impact["rules"][0]
    assert (overall["rule"], overall["overall"]) == ("reply", True)
    assert (overall["before"]["met"], overall["before"]["breached"]) == (3, 1)
    assert (overall["after"]["met"], overall["after"]["breached"]) == (2, 2)
    assert impact["flips"] == [
        {"lead": "B", "rule": "reply", "cycle": 1, "before": "met", "after": "breached"}
    ]
    assert impact["leads_shifted"] == [
        {"lead": "B", "added": [{"kind": "clock_breached", "rule": "reply"}], "resolved": []}
    ]
    (target,) = impact["targets"]
    assert (target["before"], target["after"]) == ({"met": 1, "missed": 0}, {"met": 0, "missed": 1})
    assert [(p["period"], p["before"], p["after"]) for p in target["periods"]] == [
        ("2026-03", "met", "missed")
    ]


def test_impact_judges_both_versions_at_one_instant(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        capsys, "old.sla", "new.sla", "--impact", "log.csv", "--as-of", "2026-03-04T09:30:00Z"
    )
    assert code == 0
    assert "as of 2026-03-04T09:30:00Z" in out
    code, _, err = run(capsys, "old.sla", "new.sla", "--impact", "nothere.csv")
    assert code == 2 and "no such log file: nothere.csv" in err


def test_impact_notes_rows_the_versions_read_differently(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (small / "aliased.sla").write_text(
        SMALL.replace('definition "Answered."', 'definition "Answered."\n    aliases closed'),
        "utf-8",
    )
    with (small / "log.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "E,2026-03-06T09:00:00Z,stage,inquiry,,\nE,2026-03-06T09:01:00Z,stage,closed,,\n"
        )
    code, out, _ = run(capsys, "old.sla", "aliased.sla", "--impact", "log.csv")
    assert code == 0
    assert "rows replayed 12 -> 13, rejected 1 -> 0" in out
