"""Architecture dumps: walkthrough.sla + walkthrough.csv -> every stage's data, as Markdown blocks.

docs/architecture.md follows one agreement and one log through the pipeline and shows what each
stage hands to the next. This script produces those blocks by calling the stages one by one, as
the CLI does. It is a documentation tool, so unlike the core it reads files and prints.

    python docs/architecture/dump.py           print every block, ready to paste
    python docs/architecture/dump.py --check   exit 1 when a block of the document is stale
    python docs/architecture/dump.py --write   rewrite the blocks of the document in place

A block in the document is the fenced block right after a `<!-- dump: NAME -->` line.
tests/test_architecture_doc.py runs the same code and fails when a block is stale.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pprint
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from slaspec import formatter, readers, reporters
from slaspec import nodes as n
from slaspec import parser as slaspec_parser
from slaspec.calendar import BusinessCalendar
from slaspec.diagnostics import Diagnostic
from slaspec.events import Event
from slaspec.loader import load
from slaspec.pipeline import check_agreement
from slaspec.render import render_json, render_timeline
from slaspec.replay import Engine, TraceEntry, prepare, replay_prepared
from slaspec.report import build_report
from slaspec.results import merge
from slaspec.semantics import check
from slaspec.source import Source
from slaspec.suppressions import apply

HERE = Path(__file__).resolve().parent
DOCUMENT = HERE.parent / "architecture.md"
AGREEMENT = "walkthrough.sla"
LOG = "walkthrough.csv"
# Checks that look ahead in time (a calendar's next 366 days) need a date; a fixed one keeps
# the dumps the same on every day they are regenerated.
TODAY = dt.date(2026, 3, 2)
# The lead followed through the replay: it has an alias, attribute cells on a stage row, a
# duplicate, a value that does not fit its field, failed criteria and a clock open at as-of.
LEAD = "L-2"
# The log lines shown as read: a row the reader rejects, then three of the lead's rows.
SHOWN_LINES = (6, 7, 8, 10)
WIDTH = 100

MARKER = re.compile(r"^<!-- dump: (?P<name>[a-z0-9-]+) -->$")
FENCE = re.compile(r"^(?P<ticks>`{3,})(?P<info>[^`]*)$")


@dataclass(frozen=True, slots=True)
class Dump:
    """One block of the document: its name, the fence's info string and its text."""

    name: str
    info: str
    text: str

    def markdown(self) -> str:
        """The marker comment and the fenced block, as they appear in the document."""
        return f"<!-- dump: {self.name} -->\n```{self.info}\n{self.text}```\n"


def _show(value: object) -> str:
    return pprint.pformat(value, width=WIDTH, sort_dicts=False) + "\n"


def _lines(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


def _broken(text: str, old: str, new: str) -> str:
    """The walkthrough with one exact edit; fails loudly when the walkthrough no longer has it."""
    if text.count(old) != 1:
        raise ValueError(f"the walkthrough must contain {old!r} exactly once to break it")
    return text.replace(old, new)


def syntax_broken(text: str) -> str:
    """The walkthrough with two syntax errors: a block header without `:` and a misspelt unit."""
    headless = _broken(text, 'stage sal "Sales accepted lead":', 'stage sal "Sales accepted lead"')
    return _broken(headless, "goal 4 business hours", "goal 4 bussiness hours")


def semantic_broken(text: str) -> str:
    """The walkthrough with a misspelt team, and an unused team whose warning is suppressed."""
    misspelt = _broken(text, "email by sales", "email by sale")
    return _broken(
        misspelt,
        'team marketing "Marketing"\n',
        'team marketing "Marketing"\n\n'
        'team partners "Partners"  # slaspec: ignore[SLA701] -- they sign in the third quarter\n',
    )


def _no_reader(path: str) -> Source | Diagnostic:
    return Diagnostic("SLA002", f"no such file: {path}", path)


def _micros_text(micros: int, zone: str) -> str:
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
    return moment.astimezone(ZoneInfo(zone)).strftime("%a %Y-%m-%d %H:%M %Z")


def _hours(micros: int) -> str:
    minutes = micros // 60_000_000
    return f"{minutes // 60}h {minutes % 60:02d}m"


def dumps(folder: Path = HERE) -> list[Dump]:
    """Every dump of the document, in document order."""
    agreement_text = (folder / AGREEMENT).read_text(encoding="utf-8")
    log_text = (folder / LOG).read_text(encoding="utf-8")
    root = Source(AGREEMENT, agreement_text)
    out: list[Dump] = [Dump("agreement", "sla", agreement_text), Dump("log", "csv", log_text)]

    # ------------------------------------------------------------ source
    handoff_start = agreement_text.index("handoff inquiry -> mql")
    line, column = root.position(handoff_start)
    out.append(
        Dump(
            "source",
            "text",
            _lines(
                f"Source(name={root.name!r}, text=<{len(root.text)} characters>)",
                f"offset {handoff_start} -> root.position({handoff_start}) == {(line, column)}",
                f"root.line_text({line}) == {root.line_text(line)!r}",
            ),
        )
    )

    # ------------------------------------------------------------ parser: tree, AST, syntax errors
    # The parse tree is lark's; only parser.py may import lark, so the tree is reached through
    # the parser module's own cached Lark instance.
    tree = slaspec_parser._lark().parse(agreement_text)
    # A lark Token is a str; every other child of the root is a statement's Tree.
    handoff_tree = next(
        child
        for child in tree.children
        if not isinstance(child, str)
        and child.data == "handoff"
        and str(child.children[0]) == "inquiry"
    )
    # Tabs separate a leaf's rule from its token in `.pretty()`; shown as one space here.
    out.append(Dump("tree", "text", handoff_tree.pretty().replace("\t", " ")))

    parsed = slaspec_parser.parse(root)
    assert parsed.document is not None, parsed.diagnostics
    handoff = next(
        d
        for d in parsed.document.declarations
        if isinstance(d, n.Handoff) and d.source.text == "inquiry"
    )
    start_line, start_column = root.position(handoff.span.start)
    end_line, end_column = root.position(handoff.span.end)
    criterion = handoff.criteria[0]
    out.append(
        Dump(
            "ast",
            "python",
            _show(handoff)
            + _lines(
                "",
                "# spans are kept out of repr and equality, but every node has one:",
                f"handoff.span == {handoff.span!r}"
                f"  # {AGREEMENT}:{start_line}:{start_column} to {end_line}:{end_column}",
                f"handoff.criteria[0].span == {criterion.span!r}"
                f"  # {agreement_text[criterion.span.start : criterion.span.end]!r}",
                "parsed.comments ==",
            )
            + _show(parsed.comments),
        )
    )

    syntax = Source("broken.sla", syntax_broken(agreement_text))
    syntax_parsed = slaspec_parser.parse(syntax)
    assert syntax_parsed.document is None
    out.append(
        Dump(
            "syntax-error",
            "text",
            reporters.render_text(syntax_parsed.diagnostics, {syntax.name: syntax}, color=False),
        )
    )

    # ------------------------------------------------------------ loader
    requested: list[str] = []

    def reader(path: str) -> Source | Diagnostic:
        requested.append(path)
        return _no_reader(path)

    program = load(root, reader)
    out.append(
        Dump(
            "program",
            "text",
            _lines(
                f"files    {[parsed.source.name for parsed in program.files]}",
                f"modules  {program.modules}",
                f"ok       {program.ok}",
                f"reads    {requested}  # no `use` in the walkthrough: the reader is not called",
                f"findings {program.diagnostics}",
            ),
        )
    )

    # ------------------------------------------------------------ semantics and suppressions
    findings, scope = check(program, TODAY)
    out.append(
        Dump(
            "scope",
            "text",
            _lines(
                f"findings   {findings}",
                f"fields     {list(scope.fields)}",
                f"activities {list(scope.activities)}",
                f"teams      {list(scope.teams)}",
                f"roster     {scope.roster}",
                f"calendars  {list(scope.calendars)}",
                f"stages     {list(scope.stages)}",
                f"aliases    {scope.aliases}",
                f"handoffs   {list(scope.handoffs)}",
                f"clocks     {list(scope.clocks)}",
            ),
        )
    )

    semantic = Source("broken.sla", semantic_broken(agreement_text))
    semantic_program = load(semantic, _no_reader)
    raw, _ = check(semantic_program, TODAY)
    kept = apply(raw, semantic_program.root)
    checked = check_agreement(semantic, _no_reader, TODAY)
    assert list(checked.diagnostics) == kept and checked.agreement is None
    sources = {semantic.name: semantic}
    out.append(
        Dump(
            "semantic-error",
            "text",
            _lines(
                "# semantics.check: every finding",
                *(f"{d.code} {d.severity.value:7} {d.message}" for d in raw),
                "# suppressions.apply: the findings kept",
                *(f"{d.code} {d.severity.value:7} {d.message}" for d in kept),
                "# reporters.render_text (slaspec lint broken.sla)",
            )
            + reporters.render_text(kept, sources, color=False)
            + _lines("# reporters.render_github (slaspec lint --format github broken.sla)")
            + reporters.render_github(kept, sources),
        )
    )

    # ------------------------------------------------------------ compiler and graph
    whole = check_agreement(root, _no_reader, TODAY)
    agreement = whole.agreement
    assert agreement is not None and whole.diagnostics == (), whole.diagnostics
    out.append(
        Dump(
            "compiled",
            "python",
            _show(agreement.stages["mql"])
            + _show(agreement.handoffs[("inquiry", "mql")])
            + _show(agreement.clocks["first_touch"])
            + _show(agreement.calendars["sydney"]),
        )
    )
    out.append(Dump("mermaid", "mermaid", agreement.graph.to_mermaid()))

    # ------------------------------------------------------------ formatter
    messy = Source(
        "messy.sla",
        'handoff inquiry->mql   "Marketing qualifies":\n'
        "  criteria (email is set) and score>=60.0   # scored by the CRM\n",
    )
    out.append(
        Dump(
            "fmt",
            "text",
            _lines("# before")
            + messy.text
            + _lines("# formatter.format_document(parse(before))")
            + formatter.format_document(slaspec_parser.parse(messy))
            + _lines(
                f"# the walkthrough is already canonical: {formatter.check_formatted(parsed)}"
            ),
        )
    )

    # ------------------------------------------------------------ readers
    items = list(readers.read_log(log_text, LOG, "csv", readers.ReadOptions()))
    shown = [item for item in items if item.origin.row in SHOWN_LINES]
    out.append(Dump("events", "python", "".join(_show(item) for item in shown)))

    # ------------------------------------------------------------ replay: prepare
    prepared = prepare(agreement, items)
    out.append(
        Dump(
            "prepared",
            "python",
            _lines(
                f"prepared.as_of == {prepared.as_of}"
                f"  # {_micros_text(prepared.as_of, agreement.timezone)}",
                f"prepared.accounting == {prepared.accounting!r}",
                f"list(prepared.leads) == {list(prepared.leads)}",
                "[(d.file, d.row, d.code) for d in prepared.rejections] == "
                f"{[(d.file, d.row, d.code) for d in prepared.rejections]}",
                "",
                f"prepared.leads[{LEAD!r}] ==",
            )
            + _show(prepared.leads[LEAD]),
        )
    )

    # ------------------------------------------------------------ calendar: the F(t) clock
    engine = Engine(agreement)
    sydney: BusinessCalendar = engine.calendars["sydney"]
    started = next(row.time for row in prepared.leads[LEAD] if row.value == "mql")
    as_of = prepared.as_of
    goal = agreement.clocks["first_touch"].goals[1].length
    zone = agreement.timezone
    elapsed = sydney.elapsed(started, as_of)
    out.append(
        Dump(
            "calendar",
            "text",
            _lines(
                f"start = {started}  {_micros_text(started, zone)}",
                f"as-of = {as_of}  {_micros_text(as_of, zone)}",
                f"F(start) = sydney.clock(start) = {sydney.clock(started)}",
                f"F(as-of) = sydney.clock(as-of) = {sydney.clock(as_of)}",
                f"sydney.elapsed(start, as-of) = F(as-of) - F(start) = {elapsed}"
                f"  ({_hours(elapsed)})",
                f"sydney.deadline(start, {goal.micros}) = "
                f"{sydney.deadline(started, goal.micros)}"
                f"  {_micros_text(sydney.deadline(started, goal.micros), zone)}"
                f"  ({goal.text})",
            ),
        )
    )

    # ------------------------------------------------------------ replay: the per-lead fold
    trace: list[TraceEntry] = []
    results = {
        lead: engine.replay_lead(lead, rows, prepared.as_of, trace if lead == LEAD else None)
        for lead, rows in prepared.leads.items()
    }
    result_text = ""
    for lead, result in results.items():
        result_text += _lines(
            f"# {lead}: final stage {result.final_stage}, {result.events} events replayed",
            f"results[{lead!r}].cycles ==",
        )
        result_text += _show(result.cycles)
        result_text += _lines(f"results[{lead!r}].violations ==")
        result_text += _show(result.violations)
    out.append(Dump("lead-result", "python", result_text))

    # ------------------------------------------------------------ results: merge
    whole_result = replay_prepared(engine, prepared)
    first: list[Event | readers.Rejected] = []
    rest: list[Event | readers.Rejected] = []
    for item in items:
        (first if isinstance(item, Event) and item.lead == "L-1" else rest).append(item)
    results_of_parts = [
        replay_prepared(engine, prepare(agreement, part, as_of)) for part in (first, rest)
    ]
    merged = merge(results_of_parts)
    out.append(
        Dump(
            "merge",
            "python",
            _lines(
                "# whole = replay_prepared(engine, prepare(agreement, items))",
                "# parts: the events of L-1, and every other item (L-2 and the rejected line),",
                "#        each prepared on its own with whole.as_of, replayed, then merged",
                *(
                    f"parts[{index}].accounting == {part.accounting!r}"
                    for index, part in enumerate(results_of_parts)
                ),
                f"whole.accounting    == {whole_result.accounting!r}",
                f"merge(parts) == whole: {merged == whole_result}",
                f"whole.leads == (results['L-1'], results['L-2']): "
                f"{whole_result.leads == tuple(results.values())}",
            ),
        )
    )

    # ------------------------------------------------------------ render: explain and report
    out.append(
        Dump("explain", "text", render_timeline(agreement, results[LEAD], trace, prepared.as_of))
    )
    report = build_report(agreement, whole_result, [], "(version)", "(holidays version)")
    document = json.loads(render_json(report))
    excerpt = {
        "as_of": document["as_of"],
        "accounting": document["accounting"],
        "rules": document["rules"],
        "violations_by_kind": document["violations_by_kind"],
        "violations": document["violations"][:1],
    }
    out.append(Dump("report", "json", json.dumps(excerpt, indent=2, sort_keys=True) + "\n"))
    return out


# ---------------------------------------------------------------- the document's blocks


def blocks(markdown: str) -> dict[str, Dump]:
    """The marked blocks of a document, by name; a marker must sit right above a fence."""
    found: dict[str, Dump] = {}
    lines = markdown.splitlines()
    for index, line in enumerate(lines):
        marker = MARKER.match(line)
        if marker is None:
            continue
        name = marker.group("name")
        fence = FENCE.match(lines[index + 1]) if index + 1 < len(lines) else None
        if fence is None:
            raise ValueError(f"`<!-- dump: {name} -->` is not followed by a fenced block")
        if name in found:
            raise ValueError(f"two blocks are marked `{name}`")
        ticks = fence.group("ticks")
        end = index + 2
        while end < len(lines) and lines[end] != ticks:
            end += 1
        if end == len(lines):
            raise ValueError(f"the block marked `{name}` is never closed")
        text = "".join(f"{body}\n" for body in lines[index + 2 : end])
        found[name] = Dump(name, fence.group("info"), text)
    return found


def update(markdown: str, current: Sequence[Dump]) -> str:
    """The document with every marked block replaced by its current dump."""
    wanted = {dump.name: dump for dump in current}
    present = blocks(markdown)
    unknown = sorted(set(present) - set(wanted))
    missing = sorted(set(wanted) - set(present))
    if unknown or missing:
        raise ValueError(f"blocks without a dump: {unknown}; dumps without a block: {missing}")
    out: list[str] = []
    lines = markdown.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        marker = MARKER.match(lines[index].rstrip("\n"))
        if marker is None:
            out.append(lines[index])
            index += 1
            continue
        ticks = FENCE.match(lines[index + 1].rstrip("\n"))
        assert ticks is not None  # blocks() checked every marker
        end = index + 2
        while lines[end].rstrip("\n") != ticks.group("ticks"):
            end += 1
        out.append(wanted[marker.group("name")].markdown())
        index = end + 1
    return "".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the dumps, or check or rewrite the document's blocks."""
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = options.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 when a block is stale")
    mode.add_argument("--write", action="store_true", help="rewrite the document's blocks")
    args = options.parse_args(argv)
    current = dumps()
    if not (args.check or args.write):
        sys.stdout.write("\n".join(dump.markdown() for dump in current))
        return 0
    markdown = DOCUMENT.read_text(encoding="utf-8")
    updated = update(markdown, current)
    if args.check:
        stale = [
            name
            for name, dump in blocks(markdown).items()
            if dump != next(d for d in current if d.name == name)
        ]
        if stale:
            sys.stdout.write(f"stale blocks in {DOCUMENT.name}: {', '.join(stale)}\n")
        return 1 if stale else 0
    if updated != markdown:
        DOCUMENT.write_text(updated, encoding="utf-8")
        sys.stdout.write(f"rewrote {DOCUMENT.name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
