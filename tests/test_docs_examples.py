"""Documentation examples: every agreement snippet in docs/*.md parses, and shown output is real.

How docs mark their examples (fenced code blocks, backticks at the start of the line):

- ```sla                 a complete file or complete top-level statements (a `stage ...:` block
                         parses on its own). It must parse with no diagnostic at all.
- ```sla fragment KIND   clause lines that belong inside one block, written without their
                         header. The test indents them under a minimal `KIND` header and parses
                         that. KIND is one of the keys of WRAPPERS below.
- any other info string (text, console, mermaid, ...) is prose and is not checked; an info
  string starting with `sla` that is neither form above is an error, so a typo cannot hide a
  snippet from the test.
- An HTML comment line `<!-- output: slaspec ARGS -->` marks the next fenced block as exactly
  what `slaspec ARGS` prints on standard output. The command runs in an empty folder holding
  one file, named by the `.sla` argument, whose text is the last ```sla block above the comment
  that starts with `agreement` (a complete agreement).

Every `agreements/*.sla` path a document mentions must exist and lint clean.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from slaspec import nodes as n
from slaspec.diagnostics import Diagnostic
from slaspec.parser import parse
from slaspec.pipeline import check_agreement
from slaspec.source import Source

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# The diagnostics catalogue shows broken snippets on purpose; test_diagnostics_catalogue.py
# checks each of its examples against the code it documents.
DOC_FILES = sorted(p for p in DOCS.glob("*.md") if p.name != "diagnostics.md")
TODAY = dt.date(2026, 3, 1)

WRAPPERS = {
    "agreement": 'agreement "Example":',
    "fields": "fields:",
    "team": "team example:",
    "calendar": "calendar example:",
    "stage": "stage example:",
    "handoff": "handoff a -> b:",
    "clock": "clock example:",
    "cadence": "cadence example:",
    "target": "target example:",
}

_INDENT = "    "
_FENCE = re.compile(r"^(`{3,})(.*)$")
_OUTPUT = re.compile(r"^<!-- output: (?P<command>.+?) -->\s*$")
_AGREEMENT_PATH = re.compile(r"agreements/[A-Za-z0-9_.-]+\.sla")


class Kind(enum.Enum):
    """What a fenced block is, judged by its info string."""

    COMPLETE = "complete"
    FRAGMENT = "fragment"
    OTHER = "other"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced code block of a document."""

    doc: str
    line: int  # 1-based line of the first line inside the fence
    info: str
    text: str
    output_of: str | None  # the command an `output:` comment says printed this block
    agreement: str | None  # the last complete agreement shown above this block

    @property
    def kind(self) -> Kind:
        """Whether the block is a complete snippet, a fragment, prose, or badly marked."""
        words = self.info.split()
        if not words or words[0] != "sla":
            return Kind.INVALID if self.info.startswith("sla") else Kind.OTHER
        if len(words) == 1:
            return Kind.COMPLETE
        if len(words) == 3 and words[1] == "fragment" and words[2] in WRAPPERS:
            return Kind.FRAGMENT
        return Kind.INVALID

    @property
    def where(self) -> str:
        """`doc:line` of the block, for test ids and messages."""
        return f"{self.doc}:{self.line}"


def blocks_of(name: str, markdown: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order, with their output commands."""
    found: list[Block] = []
    lines = markdown.splitlines()
    pending: str | None = None
    last_agreement: str | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = _OUTPUT.match(line)
        if marker is not None:
            pending = marker.group("command")
        fence = _FENCE.match(line)
        if fence is None:
            index += 1
            continue
        ticks, info = fence.group(1), fence.group(2).strip()
        first_line = index + 2  # 1-based number of the line after the opening fence
        body: list[str] = []
        index += 1
        while index < len(lines) and not _closes(lines[index], ticks):
            body.append(lines[index])
            index += 1
        text = "".join(f"{item}\n" for item in body)
        block = Block(name, first_line, info, text, pending, last_agreement)
        found.append(block)
        if block.kind is Kind.COMPLETE and text.lstrip().startswith("agreement"):
            last_agreement = text
        pending = None
        index += 1
    return found


def _closes(line: str, ticks: str) -> bool:
    stripped = line.rstrip()
    return stripped.startswith(ticks) and not stripped.strip("`")


def snippet_source(block: Block) -> Source:
    """The text to parse for a block: as written, or a fragment under its wrapper."""
    if block.kind is Kind.FRAGMENT:
        header = WRAPPERS[block.info.split()[2]]
        body = "".join(
            f"{_INDENT}{line}\n" if line.strip() else "\n" for line in block.text.splitlines()
        )
        return Source(block.where, f"{header}\n{body}")
    return Source(block.where, block.text)


def problems(block: Block) -> list[str]:
    """Why a block is not a valid example; empty when it is."""
    if block.kind is Kind.INVALID:
        return [
            f"{block.where}: info string `{block.info}` is neither `sla` nor "
            f"`sla fragment KIND` (KIND: {', '.join(WRAPPERS)})"
        ]
    if block.kind is Kind.OTHER:
        return []
    source = snippet_source(block)
    parsed = parse(source)
    shift = 1 if block.kind is Kind.FRAGMENT else 0
    return [_describe(block, source, diagnostic, shift) for diagnostic in parsed.diagnostics]


def _describe(block: Block, source: Source, diagnostic: Diagnostic, shift: int) -> str:
    line, column = source.position(diagnostic.span.start) if diagnostic.span else (1, 1)
    if shift and line > 1:
        column = max(1, column - len(_INDENT))
    doc_line = max(block.line, block.line + line - 1 - shift)
    return f"{block.doc}:{doc_line}:{column}: {diagnostic.code} {diagnostic.message}"


def _all_blocks() -> list[Block]:
    return [
        block
        for path in DOC_FILES
        for block in blocks_of(path.name, path.read_text(encoding="utf-8"))
    ]


ALL_BLOCKS = _all_blocks()
SNIPPETS = [block for block in ALL_BLOCKS if block.kind is not Kind.OTHER]
OUTPUTS = [block for block in ALL_BLOCKS if block.output_of is not None]


# ---------------------------------------------------------------- the harness itself


def test_the_documents_exist_and_hold_examples() -> None:
    names = {path.name for path in DOC_FILES}
    assert {"language.md", "tutorial.md"} <= names
    per_doc = {name: sum(1 for b in SNIPPETS if b.doc == name) for name in names}
    assert per_doc["language.md"] >= 20
    assert per_doc["tutorial.md"] >= 8


def test_blocks_are_found_with_their_lines_and_outputs() -> None:
    markdown = (
        "intro\n"
        "```sla\n"
        'agreement "A":\n'
        "    effective 2026-01-01\n"
        "```\n"
        "<!-- output: slaspec lint a.sla -->\n"
        "````text\n"
        "```\n"
        "All checks passed.\n"
        "````\n"
        "```sla fragment clock\n"
        "goal 4h\n"
        "```\n"
    )
    first, second, third = blocks_of("x.md", markdown)
    assert (first.line, first.kind, first.output_of) == (3, Kind.COMPLETE, None)
    assert second.output_of == "slaspec lint a.sla"
    assert second.text == "```\nAll checks passed.\n"
    assert second.agreement == 'agreement "A":\n    effective 2026-01-01\n'
    assert (third.kind, third.line) == (Kind.FRAGMENT, 12)
    assert snippet_source(third).text == "clock example:\n    goal 4h\n"


@pytest.mark.parametrize(
    ("info", "text", "expected"),
    [
        ("sla", "stage mql:\n    owner marketing\n", []),
        ("sla", "stage mql\n    owner marketing\n", ["x.md:2:10: SLA001"]),
        ("sla fragment stage", "owner marketing\ninitial\n", []),
        ("sla fragment stage", "owner marketing\ninitial yes\n", ["x.md:3:9: SLA001"]),
        ("sla fragment clock", "goal 4h if score >= 85\ngoal 1 business day\n", []),
        ("sla fragment clock", "open monday 09:00-17:00\n", ["x.md:2:1: SLA001"]),
        ("sla fragment calendar", "closed 2026-12-24 25:00-26:00\n", ["x.md:2:19: SLA206"]),
        ("sla fragmnet stage", "owner marketing\n", ["x.md:2: info string"]),
        ("sla fragment stages", "owner marketing\n", ["x.md:2: info string"]),
        ("slaspec", "owner marketing\n", ["x.md:2: info string"]),
        ("text", "not an agreement at all\n", []),
    ],
)
def test_problems_are_reported_at_the_document_line(
    info: str, text: str, expected: list[str]
) -> None:
    block = Block("x.md", 2, info, text, None, None)
    found = problems(block)
    assert len(found) == len(expected)
    for item, prefix in zip(found, expected, strict=True):
        assert item.startswith(prefix), (item, prefix)


# ---------------------------------------------------------------- the documents


@pytest.mark.parametrize("block", SNIPPETS, ids=[block.where for block in SNIPPETS])
def test_snippet_parses_without_diagnostics(block: Block) -> None:
    assert problems(block) == []


def _constructs(node: object, found: set[str]) -> None:
    """Every AST node type and every keyword-like value (field kinds, units, periods) below node."""
    if isinstance(node, tuple):
        for item in node:
            _constructs(item, found)
        return
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    found.add(type(node).__name__)
    if isinstance(node, n.FieldType):
        found.add(f"field type {node.kind}")
    elif isinstance(node, n.Duration) and node.unit is not None:
        found.add(f"unit {node.unit}")
    elif isinstance(node, n.Target):
        found.add(f"period {node.period}")
        found.add(f"bound {node.bound}")
    elif isinstance(node, n.Comparison):
        found.add(f"operator {node.op}")
    elif isinstance(node, n.Membership | n.Presence):
        negated = node.negated if isinstance(node, n.Membership) else not node.present
        found.add(f"{type(node).__name__} negated={negated}")
    elif isinstance(node, n.Literal):
        found.add(f"literal {node.kind}")
    for item in dataclasses.fields(node):
        _constructs(getattr(node, item.name), found)


def test_the_language_guide_shows_every_construct() -> None:
    found: set[str] = set()
    for block in SNIPPETS:
        if block.doc != "language.md":
            continue
        document = parse(snippet_source(block)).document
        assert document is not None, block.where
        _constructs(document.header, found)
        _constructs(document.declarations, found)
    statements = {"Header", "Party", "Use", "Field", "ActivityType", "Team", "Calendar", "Stage"}
    statements |= {"Handoff", "Clock", "Cadence", "Target"}
    calendars = {"OpenHours", "Window", "PublicHolidays", "Closure"}
    triggers = {"OnEnter", "OnLeave", "OnCreate", "OnAssign", "OnHandoff", "OnActivity"}
    criteria = {"Comparison", "Recent", "ActivityCount", "And", "Or", "Not", "ByTeam", "ByOwner"}
    criteria |= {"Membership negated=True", "Membership negated=False"}
    criteria |= {"Presence negated=True", "Presence negated=False"}
    criteria |= {f"operator {op}" for op in ("=", "!=", "<", "<=", ">", ">=")}
    literals = {f"literal {kind}" for kind in ("string", "number", "boolean", "symbol")}
    clocks = {"Goal", "PauseInStages", "PauseWhile", "Percent"}
    targets = {"Volume", "Conversion", "Attainment", "Worked", "bound at least", "bound at most"}
    targets |= {f"period {period}" for period in ("week", "month", "quarter", "year")}
    kinds = {"string", "number", "boolean", "date", "datetime", "money", "enum"}
    types = {f"field type {kind}" for kind in kinds}
    units = {f"unit {unit}" for unit in ("minutes", "hours", "days", "business minutes")}
    units |= {"unit business hours", "unit business days"}
    required = statements | calendars | triggers | criteria | literals | clocks | targets
    missing = sorted((required | types | units) - found)
    assert missing == []


def _agreement_paths() -> list[str]:
    paths = {
        match.group(0)
        for path in DOC_FILES
        for match in _AGREEMENT_PATH.finditer(path.read_text(encoding="utf-8"))
    }
    return sorted(paths)


def _read(path: str) -> Source | Diagnostic:
    target = Path(path)
    if not target.is_file():
        return Diagnostic("SLA002", f"no such file: {path}", path)
    return Source(path, target.read_text(encoding="utf-8"))


@pytest.mark.parametrize("relative", _agreement_paths())
def test_agreements_named_in_the_docs_exist_and_lint_clean(relative: str) -> None:
    path = ROOT / relative
    assert path.is_file(), f"docs mention {relative}, which does not exist"
    source = Source(relative, path.read_text(encoding="utf-8"))
    checked = check_agreement(source, _read, TODAY)
    assert [f"{d.code} {d.message}" for d in checked.diagnostics] == []
    assert checked.agreement is not None


def test_the_docs_name_all_three_example_agreements() -> None:
    assert set(_agreement_paths()) >= {
        "agreements/harbour-b2b.sla",
        "agreements/saas-waterfall.sla",
        "agreements/solo-consultant.sla",
    }


# ---------------------------------------------------------------- shown command output


def test_the_tutorial_shows_lint_fmt_and_graph_output() -> None:
    commands = [block.output_of for block in OUTPUTS if block.doc == "tutorial.md"]
    assert commands == [
        "slaspec lint brightside.sla",
        "slaspec lint brightside.sla",
        "slaspec fmt --check brightside.sla",
        "slaspec fmt brightside.sla",
        "slaspec graph brightside.sla --format mermaid",
    ]


@pytest.mark.parametrize("block", OUTPUTS, ids=[block.where for block in OUTPUTS])
def test_shown_output_is_what_the_command_prints(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from slaspec import cli  # the CLI imports every stage; keep parse tests independent of it

    assert block.output_of is not None
    words = shlex.split(block.output_of)
    assert words[0] == "slaspec", block.where
    files = [word for word in words[1:] if word.endswith(".sla")]
    assert len(files) == 1 and block.agreement is not None, block.where
    (tmp_path / files[0]).write_text(block.agreement, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    cli.main(words[1:])
    assert capsys.readouterr().out == block.text
