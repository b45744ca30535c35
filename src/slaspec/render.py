"""Rendering: a replay Report -> text for a person, CSV of violations, JSON for machines.

The text report adds the analysis (targets, scorecard, funnel, closed loop, bottlenecks,
accountability) when the Report has one, coloured only when asked; analysis_report.py writes
the Markdown and JUnit formats with the helpers defined here.

All output is deterministic: rows sorted, no wall clock, no random ids. CSV cells that a
spreadsheet would run as a formula (leading = + - @, tab or carriage return) are neutralised.

The per-cycle and per-violation lists of a large replay are written straight from the result
records, some leads at a time (`json_items` into `json_chunks`, `csv_chunk`), instead of through
a pydantic model per record; they produce exactly the bytes of `render_json` / `render_csv` on
the full Report, and tests hold the two paths together and validate the streamed JSON against
the Report schema.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slaspec.compiler import Agreement
from slaspec.events import Origin
from slaspec.report import (
    AnalysisOut,
    ClosedLoopOut,
    CommitmentOut,
    HeatmapOut,
    OutcomesOut,
    PeriodOut,
    Report,
    TargetOut,
    TargetPeriodOut,
    iso,
    percent,
)
from slaspec.results import Cycle, LeadResult, Violation, human_duration

if TYPE_CHECKING:
    import jinja2

    from slaspec.replay import TraceEntry

MAX_TEXT_REJECTIONS = 10
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _document(report: Report) -> dict[str, Any]:
    """The report as JSON values; `analysis` only when it was computed (schema 1.1), the
    agreement's `versions` and each record's `agreement_version` only when the replay used
    versions (schema 1.2), so a report of one agreement keeps the bytes it always had."""
    document = report.model_dump(mode="json")
    if document["analysis"] is None:
        del document["analysis"]
    if document["agreement"]["versions"] is None:
        del document["agreement"]["versions"]
    for rule in document["rules"]:
        if rule["by_version"] is None:
            del rule["by_version"]
    for key in ("cycles", "violations"):
        for item in document[key]:
            if item["agreement_version"] is None:
                del item["agreement_version"]
    return document


def render_json(report: Report) -> str:
    """The report as JSON with sorted keys."""
    return json.dumps(_document(report), indent=2, sort_keys=True) + "\n"


def json_chunks(report: Report, cycles: Iterable[str], violations: Iterable[str]) -> Iterator[str]:
    """`render_json(report)` with its `cycles` and `violations` lists replaced by the given
    chunks of items (`json_items` texts, in order), as consecutive pieces of text."""
    document = _document(report)
    yield "{"
    for number, key in enumerate(sorted(document)):
        yield f"{',' if number else ''}\n  {encode_basestring_ascii(key)}: "
        if key == "cycles":
            yield from _json_list(cycles)
        elif key == "violations":
            yield from _json_list(violations)
        else:
            # json.dumps indents a nested value from column 0; inside the document it sits
            # one level (two spaces) in. Strings hold no raw line breaks, so this is exact.
            yield json.dumps(document[key], indent=2, sort_keys=True).replace("\n", "\n  ")
    yield "\n}\n"


def _json_list(chunks: Iterable[str]) -> Iterator[str]:
    """A list at the document's top level, from chunks of items (empty chunks are skipped)."""
    empty = True
    for chunk in chunks:
        if chunk:
            yield "[\n" + chunk if empty else ",\n" + chunk
            empty = False
    yield "[]" if empty else "\n  ]"


def json_items(cycles: Iterable[Cycle], violations: Iterable[Violation]) -> tuple[str, str]:
    """Chunks of the `cycles` and `violations` lists of the JSON report holding these records."""
    return ",\n".join(map(_cycle_json, cycles)), ",\n".join(map(_violation_json, violations))


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


def _iso(micros: int | None) -> str:
    return "null" if micros is None else f'"{iso(micros)}"'


def _seconds(micros: int | None) -> float | None:
    return None if micros is None else micros / 1_000_000


def _float(micros: int | None) -> str:
    # json.dumps writes a float as repr() does.
    return "null" if micros is None else repr(micros / 1_000_000)


def _version_json(version: str | None) -> str:
    """The `agreement_version` line that opens a record (keys sorted), when it has one."""
    if version is None:
        return ""
    return f'      "agreement_version": {encode_basestring_ascii(version)},\n'


def _row_json(origin: Origin | None, indent: str) -> str:
    if origin is None:
        return "null"
    return (
        f'{{\n{indent}  "file": {encode_basestring_ascii(origin.file)},\n'
        f'{indent}  "row": {origin.row}\n{indent}}}'
    )


def _cycle_json(cycle: Cycle) -> str:
    """A cycle as an item of the report's `cycles` list: report.CycleOut, written by hand."""
    cadence = cycle.kind != "clock"
    kind = '"cadence"' if cadence else '"clock"'
    count = str(cycle.count) if cadence else "null"
    required = str(cycle.required) if cadence else "null"
    return (
        "    {\n"
        f"{_version_json(cycle.version)}"
        f'      "at_risk": {"true" if cycle.at_risk else "false"},\n'
        f'      "calendar": {encode_basestring_ascii(cycle.calendar)},\n'
        f'      "count": {count},\n'
        f'      "due": {_iso(cycle.due)},\n'
        f'      "elapsed_seconds": {_float(cycle.elapsed)},\n'
        f'      "end_row": {_row_json(cycle.end_row, "      ")},\n'
        f'      "ended": {_iso(cycle.ended)},\n'
        f'      "goal": {encode_basestring_ascii(cycle.goal_text)},\n'
        f'      "goal_seconds": {_float(cycle.goal)},\n'
        f'      "index": {cycle.index},\n'
        f'      "judged_at": {_iso(cycle.judged_at)},\n'
        f'      "kind": {kind},\n'
        f'      "lead": {encode_basestring_ascii(cycle.lead)},\n'
        f'      "outcome": "{cycle.outcome.value}",\n'
        f'      "paused_seconds": {_float(cycle.paused)},\n'
        f'      "required": {required},\n'
        f'      "responsible": {_text(cycle.responsible)},\n'
        f'      "rule": {encode_basestring_ascii(cycle.rule)},\n'
        f'      "start_row": {_row_json(cycle.start_row, "      ")},\n'
        f'      "started": {_iso(cycle.started)},\n'
        f'      "tier": {cycle.tier},\n'
        f'      "wall_seconds": {_float(cycle.wall)}\n'
        "    }"
    )


def _violation_json(violation: Violation) -> str:
    """A violation as an item of the report's `violations` list: report.ViolationOut."""
    if violation.details:
        conditions = (
            "[\n"
            + ",\n".join(
                "        {\n"
                f'          "condition": {encode_basestring_ascii(condition)},\n'
                f'          "seen": {encode_basestring_ascii(seen)}\n'
                "        }"
                for condition, seen in violation.details
            )
            + "\n      ]"
        )
    else:
        conditions = "[]"
    if violation.rows:
        rows = (
            "[\n"
            + ",\n".join("        " + _row_json(row, "        ") for row in violation.rows)
            + "\n      ]"
        )
    else:
        rows = "[]"
    return (
        "    {\n"
        f"{_version_json(violation.version)}"
        f'      "at": {_iso(violation.at)},\n'
        f'      "clause": {encode_basestring_ascii(violation.clause)},\n'
        f'      "conditions": {conditions},\n'
        f'      "due": {_iso(violation.due)},\n'
        f'      "elapsed_seconds": {_float(violation.elapsed)},\n'
        f'      "ended": {_iso(violation.ended)},\n'
        f'      "kind": "{violation.kind.value}",\n'
        f'      "lead": {encode_basestring_ascii(violation.lead)},\n'
        f'      "message": {encode_basestring_ascii(violation.message)},\n'
        f'      "responsible": {_text(violation.responsible)},\n'
        f'      "rows": {rows},\n'
        f'      "rule": {encode_basestring_ascii(violation.rule)},\n'
        f'      "started": {_iso(violation.started)},\n'
        f'      "wall_seconds": {_float(violation.wall)}\n'
        "    }"
    )


def safe_cell(value: object) -> str:
    """A CSV cell that spreadsheets will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


VIOLATION_COLUMNS = (
    "lead",
    "kind",
    "rule",
    "clause",
    "responsible",
    "at",
    "started",
    "due",
    "ended",
    "elapsed_seconds",
    "wall_seconds",
    "rows",
    "message",
)
# A replay judged by several versions of the agreement says which one judged each violation,
# in a last column so the columns before it keep their places.
VERSIONED_COLUMNS = (*VIOLATION_COLUMNS, "agreement_version")


def render_csv(report: Report) -> str:
    """One row per violation, with its rows as `file:row` separated by spaces; the version that
    judged it last when the replay used versions."""
    versions = report.agreement.versions is not None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(VERSIONED_COLUMNS if versions else VIOLATION_COLUMNS)
    for v in report.violations:
        writer.writerow(
            [
                safe_cell(cell)
                for cell in (
                    v.lead,
                    v.kind,
                    v.rule,
                    v.clause,
                    v.responsible or "",
                    v.at,
                    v.started or "",
                    v.due or "",
                    v.ended or "",
                    _number(v.elapsed_seconds),
                    _number(v.wall_seconds),
                    " ".join(f"{r.file}:{r.row}" for r in v.rows),
                    v.message,
                    *((v.agreement_version or "",) if versions else ()),
                )
            ]
        )
    return buffer.getvalue()


def csv_header(versions: bool = False) -> str:
    """The header line of the violations CSV; `versions` when the replay used versions."""
    buffer = io.StringIO()
    columns = VERSIONED_COLUMNS if versions else VIOLATION_COLUMNS
    csv.writer(buffer, lineterminator="\n").writerow(columns)
    return buffer.getvalue()


def csv_chunk(leads: Iterable[LeadResult], versions: bool = False) -> str:
    """The violations CSV rows of some leads, as `render_csv` writes them; `versions` when the
    replay used versions (and the header said so)."""
    buffer = io.StringIO()
    write = csv.writer(buffer, lineterminator="\n").writerow
    for lead in leads:
        for v in lead.violations:
            write(
                [
                    safe_cell(cell)
                    for cell in (
                        v.lead,
                        v.kind.value,
                        v.rule,
                        v.clause,
                        v.responsible or "",
                        iso(v.at),
                        iso(v.started) or "",
                        iso(v.due) or "",
                        iso(v.ended) or "",
                        _number(_seconds(v.elapsed)),
                        _number(_seconds(v.wall)),
                        " ".join(f"{r.file}:{r.row}" for r in v.rows),
                        v.message,
                        *((v.version or "",) if versions else ()),
                    )
                ]
            )
    return buffer.getvalue()


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else repr(value)


@dataclass(frozen=True, slots=True)
class Paint:
    """A table cell shown in a colour on a terminal (an ANSI SGR style such as "1;31")."""

    text: str
    style: str


Cell = str | Paint
_RESET = "\x1b[0m"
GREEN, RED, YELLOW = "32", "1;31", "33"


def _cell_text(cell: Cell) -> str:
    return cell if isinstance(cell, str) else cell.text


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    right: set[int],
    color: bool = False,
    indent: str = "  ",
) -> list[str]:
    """Aligned columns; painted cells are coloured only when `color`, padded as plain text."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(_cell_text(cell))) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[Cell]) -> str:
        parts: list[str] = []
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            text = _cell_text(cell)
            padding = " " * (width - len(text))
            if color and isinstance(cell, Paint) and text:
                text = f"\x1b[{cell.style}m{text}{_RESET}"
            parts.append(padding + text if index in right else text + padding)
        # Painted text never ends in a space, so stripping leaves its reset code in place.
        return indent + "  ".join(parts).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def local_time(iso_utc: str, timezone: str) -> str:
    """An ISO UTC instant shown in the agreement's time zone."""
    import datetime as dt

    moment = dt.datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def render_text(report: Report, color: bool = False) -> str:
    """A summary for a person: accounting, attainment per rule and team, violations, and the
    analysis when the report has one; ANSI colours for met, missed and breached when `color`."""
    out: list[str] = []
    agreement = report.agreement
    version = f" (version {agreement.version})" if agreement.version else ""
    out.append(f"{agreement.title}{version}")
    if agreement.versions is not None:
        out.append(versions_line(report))
    out.append(f"as of {local_time(report.as_of, agreement.timezone)} ({report.as_of})")
    out.append("")
    a = report.accounting
    out.append(
        f"Rows: {a.read:,} read = {a.replayed:,} replayed + {a.rejected:,} rejected + "
        f"{a.duplicate:,} duplicate + {a.after_as_of:,} after as-of"
    )
    if a.dst_resolved:
        out.append(f"      {a.dst_resolved:,} local times resolved by the DST policy")
    out.append("")
    if report.rules:
        out.append("Clocks and cadences")
        rows: list[list[Cell]] = []
        for rule in report.rules:
            o = rule.overall
            rows.append(
                [
                    f"{rule.name} ({rule.kind})",
                    "",
                    str(o.met),
                    _breached(o.breached),
                    str(o.pending),
                    str(o.at_risk),
                    str(o.cancelled),
                    percent(o.attainment),
                ]
            )
            for team in rule.by_team:
                rows.append(
                    [
                        "",
                        team.team or "(no team)",
                        str(team.met),
                        _breached(team.breached),
                        str(team.pending),
                        str(team.at_risk),
                        str(team.cancelled),
                        percent(team.attainment),
                    ]
                )
        headers = [
            "rule",
            "team",
            "met",
            "breached",
            "pending",
            "at risk",
            "cancelled",
            "attainment",
        ]
        out.extend(_table(headers, rows, right={2, 3, 4, 5, 6, 7}, color=color))
        out.append("")
        if agreement.versions is not None:
            out.extend(_by_version_text(report, color))
    total = sum(report.violations_by_kind.values())
    out.append(f"Violations: {total:,}")
    if total:
        kinds = [[kind, f"{count:,}"] for kind, count in report.violations_by_kind.items()]
        out.extend(_table(["kind", "count"], kinds, right={1}))
        out.append("")
        teams = [[team, f"{count:,}"] for team, count in report.violations_by_team.items()]
        out.extend(_table(["responsible team", "count"], teams, right={1}))
    out.append("")
    if report.rejections:
        shown = report.rejections[:MAX_TEXT_REJECTIONS]
        more = len(report.rejections) - len(shown)
        heading = f"Rejected rows: {len(report.rejections):,}"
        if more:
            heading += f" (first {len(shown)} shown; all are in --format json)"
        out.append(heading)
        for r in shown:
            where = f"{r.file}:{r.row}" if r.row is not None else f"{r.file}"
            column = f" (column {r.column})" if r.column else ""
            out.append(f"  {where}: {r.code} {r.message}{column}")
            if r.help:
                out.append(f"      help: {r.help}")
        out.append("")
    if report.analysis is not None:
        out.extend(analysis_text(report.analysis, color))
    out.append("Inputs")
    for item in report.inputs:
        out.append(f"  {item.kind:9} {item.path}  sha256 {item.sha256}")
    out.append(
        f"slaspec {report.slaspec_version}, holidays {report.holidays_version}, "
        f"report schema {report.schema_version}"
    )
    return "\n".join(out) + "\n"


def _by_version_text(report: Report, color: bool) -> list[str]:
    """Each rule's outcomes by the agreement version that judged its cycles."""
    rows: list[list[Cell]] = []
    for rule in report.rules:
        for number, o in enumerate(rule.by_version or ()):
            rows.append(
                [
                    "" if number else f"{rule.name} ({rule.kind})",
                    printable(o.version),
                    str(o.met),
                    _breached(o.breached),
                    str(o.pending),
                    str(o.at_risk),
                    str(o.cancelled),
                    percent(o.attainment),
                ]
            )
    if not rows:
        return []
    headers = ["rule", "version", "met", "breached", "pending", "at risk", "cancelled"]
    return [
        "Clocks and cadences by the agreement version that judged each cycle",
        *_table([*headers, "attainment"], rows, right={2, 3, 4, 5, 6, 7}, color=color),
        "",
    ]


def versions_line(report: Report) -> str:
    """The versions a replay judged by, oldest first, each from its effective date."""
    versions = report.agreement.versions or []
    listed = ", ".join(
        f"{printable(v.label)} from {v.effective}" if v.effective else printable(v.label)
        for v in versions
    )
    noun = "version" if len(versions) == 1 else "versions"
    return f"judged under {len(versions)} {noun}: {listed}"


def _local_micros(micros: int, zone: ZoneInfo) -> str:
    import datetime as dt

    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def render_timeline(
    agreement: Agreement, result: LeadResult, trace: Sequence[TraceEntry], as_of: int
) -> str:
    """One lead's timeline for `slaspec explain`: events, stage, clocks, and each violation."""
    zone = ZoneInfo(agreement.timezone)
    out = [f"Lead {result.lead} under {agreement.title!r}", f"times in {agreement.timezone}", ""]
    for entry in trace:
        when = _local_micros(entry.time, zone)
        if entry.row.file == "as-of":
            out.append(f"{when}  as of")
        else:
            what = entry.kind.name.lower()
            value = f" {entry.value}" if entry.value else ""
            by = f" by {entry.actor}" if entry.actor else ""
            team = f" ({entry.team})" if entry.team else ""
            out.append(f"{when}  {what}{value}{by}{team}   [{entry.row.file}:{entry.row.row}]")
            out.append(f"    stage: {entry.stage or '(none)'}")
        for rule, state, elapsed, due in entry.clocks:
            due_text = f", due {_local_micros(due, zone)}" if due is not None else ""
            out.append(f"    {rule}: {state}, {human_duration(elapsed)} elapsed{due_text}")
        for note in entry.notes:
            out.append(f"    - {note}")
    out.append("")
    if not result.violations:
        out.append("No violations.")
    else:
        out.append(f"Violations: {len(result.violations)}")
        for number, violation in enumerate(result.violations, 1):
            team = violation.responsible or "no team"
            out.append(
                f"{number:3}. {violation.kind.value} {violation.rule} "
                f"(clause {violation.clause}); accountable: {team}"
            )
            out.append(f"     {violation.message}")
            for condition, seen in violation.details:
                out.append(f"     failed: {condition}   (seen: {seen})")
            times = []
            if violation.started is not None:
                times.append(f"started {_local_micros(violation.started, zone)}")
            if violation.due is not None:
                times.append(f"due {_local_micros(violation.due, zone)}")
            if violation.ended is not None:
                times.append(f"ended {_local_micros(violation.ended, zone)}")
            elif violation.started is not None:
                times.append(f"open at as-of {_local_micros(as_of, zone)}")
            if times:
                out.append("     " + ", ".join(times))
            rows = ", ".join(f"{origin.file}:{origin.row}" for origin in violation.rows)
            out.append(f"     rows: {rows}")
    out.append("")
    out.append("Cycles")
    if not result.cycles:
        out.append("  (none)")
    for cycle in result.cycles:
        risk = " (at risk)" if cycle.at_risk else ""
        out.append(
            f"  {cycle.rule} #{cycle.index}: {cycle.outcome.value}{risk}, "
            f"{human_duration(cycle.elapsed)} of {cycle.goal_text}"
        )
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- the analysis as text

MAX_TEXT_ROWS = 25
"""Rows of an unbounded table (owners, attribute values) the text report shows."""
LONGEST_SHOWN = 3
"""Longest-waiting leads the text report names per stage."""
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """A CRM value for a terminal: control characters (escape sequences, line breaks) shown
    as `\\xNN` escapes, so a value can neither break a table nor drive the terminal."""
    return _UNPRINTABLE.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _breached(count: int) -> Cell:
    return Paint(str(count), RED) if count else str(count)


def verdict_cell(verdict: str | None, partial: bool = False) -> Cell:
    """A verdict as a table cell: `met` green, `missed` red; `so far` in a partial period."""
    if verdict is None:
        return "-"
    text = f"{verdict} so far" if partial else verdict
    return Paint(text, GREEN if verdict == "met" else RED)


def count(value: int) -> str:
    """A count with thousands separators."""
    return f"{value:,}"


def duration(seconds: float | None) -> str:
    """Seconds as hours and minutes (human_duration), or a dash."""
    return "-" if seconds is None else human_duration(round(seconds * 1_000_000))


def days(seconds: float | None) -> str:
    """Seconds as days with one decimal, or a dash."""
    return "-" if seconds is None else f"{seconds / 86_400:.1f}"


def ratio_goal(goal: float) -> str:
    """A goal ratio as the agreement writes it: 0.9 -> 90%, 0.125 -> 12.5%."""
    text = format(Decimal(repr(goal)) * 100, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "%"


def goal_text(target: TargetOut) -> str:
    """The bound and goal of a target: `at least 120`, `at least 90%`."""
    if target.kind == "volume":
        return f"{target.bound} {count(int(target.goal))}"
    return f"{target.bound} {ratio_goal(target.goal)}"


def target_sentence(target: TargetOut) -> str:
    """The target as the agreement states it, with its names resolved."""
    within = f" within {target.window}" if target.window else ""
    goal = goal_text(target)
    match target.kind:
        case "volume":
            measure = f"{goal} leads enter {target.subject}"
        case "conversion":
            source, _, reach = target.subject.partition(" -> ")
            measure = f"{goal} of leads entering {source} reach {reach}{within}"
        case "attainment":
            measure = f"{goal} of {target.subject} cycles met"
        case "worked":
            measure = f"{goal} of leads entering {target.subject} worked{within}"
    return f"each {target.period} {measure}"


def share_text(part: int, whole: int | None, value: float | None) -> str:
    """`45.0% (9 of 20)`; a count when there is no whole; a dash when the whole is 0."""
    if whole is None:
        return count(part)
    if not whole:
        return "-"
    return f"{percent(value)} ({count(part)} of {count(whole)})"


def period_label(period: PeriodOut) -> str:
    """A period's label, marked when it was not complete at as-of."""
    return f"{period.label} (partial)" if period.partial else period.label


def target_status(target: TargetOut) -> str:
    """How a target did over its complete periods."""
    judged = target.met + target.missed
    if not judged:
        return f"not judged: no complete {target.period} with leads yet"
    return f"{target.verdict}: met in {target.met} of {judged} complete {target.period}s"


def cohort_note(row: TargetPeriodOut) -> str:
    """Cohort members whose window was still open at as-of, if any."""
    if not row.immature:
        return ""
    return f"{count(row.immature)} immature, {count(row.undecided)} undecided"


def revenue_text(revenue: str | None) -> str:
    """An exact decimal sum with thousands separators, or a dash."""
    return "-" if revenue is None else format(Decimal(revenue), ",")


def analysis_text(analysis: AnalysisOut, color: bool) -> list[str]:
    """The analysis sections of the text report: targets, scorecard, funnel, closed loop,
    bottlenecks and accountability."""
    out: list[str] = []
    for section in (
        _targets_text(analysis, color),
        _scorecard_text(analysis, color),
        _funnel_text(analysis),
        *(_closed_loop_text(analysis, loop) for loop in analysis.closed_loop),
        _bottlenecks_text(analysis, color),
        _accountability_text(analysis, color),
    ):
        out.extend(section)
        out.append("")
    return out


def _capped(rows: list[list[Cell]], noun: str) -> tuple[list[list[Cell]], list[str]]:
    if len(rows) <= MAX_TEXT_ROWS:
        return rows, []
    more = len(rows) - MAX_TEXT_ROWS
    return rows[:MAX_TEXT_ROWS], [f"    ... and {count(more)} more {noun} (all in --format json)"]


def _targets_text(analysis: AnalysisOut, color: bool) -> list[str]:
    if not analysis.targets:
        return ["Targets: none declared"]
    out = [f"Targets (periods in {analysis.timezone}; verdicts count complete periods only)"]
    for target in analysis.targets:
        team = f"; responsible {target.responsible}" if target.responsible else ""
        out.append(f"  {target.name}: {target.title}  [{target.clause}]")
        out.append(f"    {target_sentence(target)}{team}")
        status = target_status(target)
        out.append("    " + (_paint(status, target.verdict) if color else status))
        rows: list[list[Cell]] = [
            [
                period_label(row.period),
                share_text(row.part, row.whole, row.value),
                verdict_cell(row.verdict, row.period.partial),
                cohort_note(row),
            ]
            for row in target.periods
        ]
        out.extend(_table(["period", "value", "verdict", "note"], rows, {1}, color, "    "))
    return out


def _paint(text: str, verdict: str | None) -> str:
    if verdict is None:
        return text
    return f"\x1b[{GREEN if verdict == 'met' else RED}m{text}{_RESET}"


def _scorecard_text(analysis: AnalysisOut, color: bool) -> list[str]:
    lines = analysis.accountability.scorecard
    if not lines:
        return ["Scorecard: no commitments"]
    rows: list[list[Cell]] = []
    for line in lines:
        judged = f"{line.periods_met} of {line.periods_judged}" if line.target else ""
        rows.append(
            [
                printable(line.team or "(no team)"),
                line.kind,
                line.subject,
                share_text(line.part, line.whole, line.value),
                line.target or "-",
                goal_of(line),
                judged,
                verdict_cell(line.verdict),
            ]
        )
    headers = ["team", "commitment", "subject", "measured", "target", "goal", "periods met"]
    return [
        "Scorecard (measured over the whole replay; verdicts from the targets' complete periods)",
        *_table([*headers, "verdict"], rows, {3}, color),
    ]


def goal_of(line: CommitmentOut) -> str:
    """The goal of a scorecard line's target, or a dash."""
    if line.goal is None or line.bound is None:
        return "-"
    if line.kind == "volume":
        return f"{line.bound} {count(int(line.goal))}"
    return f"{line.bound} {ratio_goal(line.goal)}"


def _funnel_text(analysis: AnalysisOut) -> list[str]:
    funnel = analysis.funnel
    if not funnel.steps:
        return ["Funnel: the main path has a single stage"]
    rows: list[list[Cell]] = [
        [f"{s.source} -> {s.target}", count(s.entered), count(s.converted), percent(s.value)]
        for s in funnel.steps
    ]
    return [
        f"Funnel along the main path {' -> '.join(funnel.path)}",
        *_table(["step", "entered", "converted", "conversion"], rows, {1, 2, 3}),
    ]


def _closed_loop_text(analysis: AnalysisOut, loop: ClosedLoopOut) -> list[str]:
    won = ", ".join(analysis.won_stages) or "(none)"
    money = analysis.money_field or "(none)"
    out = [f"Closed loop by {loop.attribute} (won: {won}; revenue: {money})"]
    groups = [*loop.groups, analysis.overall]
    rows: list[list[Cell]] = [
        [
            printable(g.value),
            count(g.leads),
            count(g.won),
            percent(g.won / g.leads if g.leads else None),
            revenue_text(g.revenue),
            count(g.unpriced),
            days(g.time_to_won.median_seconds),
        ]
        for g in groups
    ]
    shown, note = _capped(rows[:-1], "values")
    headers = [loop.attribute, "leads", "won", "win rate", "revenue", "unpriced"]
    out.extend(_table([*headers, "median days to won"], [*shown, rows[-1]], {1, 2, 3, 4, 5, 6}))
    out.extend(note)
    if analysis.funnel.steps:
        steps: list[list[Cell]] = [
            [printable(g.value), *(f"{count(s.converted)} {percent(s.value)}" for s in g.steps)]
            for g in groups
        ]
        shown_steps, _ = _capped(steps[:-1], "values")
        heads = [f"{s.source}->{s.target}" for s in analysis.funnel.steps]
        out.append("  converted along the main path (share of those that entered the step)")
        out.extend(
            _table(
                [loop.attribute, *heads],
                [*shown_steps, steps[-1]],
                set(range(1, len(heads) + 1)),
                indent="    ",
            )
        )
    return out


def _bottlenecks_text(analysis: AnalysisOut, color: bool) -> list[str]:
    bottlenecks = analysis.bottlenecks
    out = ["Bottlenecks (business time on each stage's calendar; wall = clock time)"]
    flow_rows: list[list[Cell]] = []
    time_rows: list[list[Cell]] = []
    wait_rows: list[list[Cell]] = []
    for s in bottlenecks.stages:
        exits = ", ".join(f"{e.stage} {count(e.count)}" for e in s.exits) or "-"
        flow_rows.append(
            [
                s.stage,
                count(s.entries),
                count(s.leads),
                exits,
                count(s.open),
                _breached(s.stalls) if s.limit else "-",
                _breached(s.stalled_now) if s.limit else "-",
                s.limit or "-",
            ]
        )
        if s.terminal:
            continue
        time_rows.append(
            [
                s.stage,
                duration(s.dwell.median_seconds),
                duration(s.dwell.p90_seconds),
                duration(s.dwell.max_seconds),
                duration(s.dwell_wall.median_seconds),
                duration(s.dwell_wall.p90_seconds),
                duration(s.dwell_wall.max_seconds),
            ]
        )
        if s.open:
            longest = ", ".join(
                f"{printable(w.lead)} {duration(w.business_seconds)}"
                for w in s.longest[:LONGEST_SHOWN]
            )
            wait_rows.append(
                [
                    s.stage,
                    count(s.open),
                    duration(s.waiting.median_seconds),
                    duration(s.waiting.max_seconds),
                    duration(s.waiting_wall.max_seconds),
                    longest,
                ]
            )
    heads = ["stage", "entries", "leads", "exits to", "in stage now", "over limit"]
    out.extend(_table([*heads, "over limit now", "limit"], flow_rows, {1, 2, 4, 5, 6}, color))
    out.append("")
    out.append("  Time in stage (completed stays)")
    heads = ["stage", "median", "p90", "max", "wall median", "wall p90", "wall max"]
    out.extend(_table(heads, time_rows, {1, 2, 3, 4, 5, 6}, indent="    "))
    if wait_rows:
        out.append("")
        out.append("  Leads in stage at as-of")
        heads = ["stage", "leads", "median wait", "longest wait", "longest (wall)"]
        out.extend(_table([*heads, "waiting longest"], wait_rows, {1, 2, 3, 4}, indent="    "))
    if bottlenecks.flows:
        out.append("")
        out.append("  Flows between stages (wall-clock time in the first stage)")
        flows: list[list[Cell]] = [
            [
                f"{f.source} -> {f.target}",
                count(f.count),
                duration(f.wall.median_seconds),
                duration(f.wall.p90_seconds),
                "yes" if f.declared else Paint("no", RED),
            ]
            for f in bottlenecks.flows
        ]
        heads = ["flow", "stays", "median", "p90", "declared"]
        out.extend(_table(heads, flows, {1, 2, 3}, color, "    "))
    if bottlenecks.ranking:
        out.append("")
        out.append("  Where leads lose the most business time (open stays to as-of included)")
        total = sum(lost.business_seconds for lost in bottlenecks.ranking)
        ranked: list[list[Cell]] = [
            [
                str(rank),
                lost.stage,
                duration(lost.business_seconds),
                percent(lost.business_seconds / total if total else None),
                duration(lost.wall_seconds),
                count(lost.stays),
            ]
            for rank, lost in enumerate(bottlenecks.ranking, 1)
        ]
        heads = ["rank", "stage", "business time", "share", "wall time", "stays"]
        out.extend(_table(heads, ranked, {0, 2, 3, 4, 5}, indent="    "))
    return out


def _outcome_row(label: str, o: OutcomesOut) -> list[Cell]:
    return [
        label,
        count(o.met),
        _breached(o.breached),
        count(o.pending),
        count(o.at_risk),
        count(o.cancelled),
        percent(o.attainment),
    ]


_OUTCOME_HEADS = ("met", "breached", "pending", "at risk", "cancelled", "attainment")


def _accountability_text(analysis: AnalysisOut, color: bool) -> list[str]:
    rules = analysis.accountability.rules
    if not rules:
        return ["Accountability: no clocks or cadences"]
    out = ["Accountability (owner: the lead's owner at as-of; periods by the start of the cycle)"]
    right = set(range(1, 7))
    for rule in rules:
        out.append(f"  {rule.rule} ({rule.kind}): {rule.title}")
        owners = [_outcome_row(printable(b.key or "(no owner)"), b.outcomes) for b in rule.by_owner]
        shown, note = _capped(owners, "owners")
        out.extend(_table(["owner", *_OUTCOME_HEADS], shown, right, color, "    "))
        out.extend(note)
        months = [_outcome_row(period_label(p.period), p.outcomes) for p in rule.by_month]
        if months:
            out.append("")
            out.extend(_table(["month", *_OUTCOME_HEADS], months, right, color, "    "))
        out.append("")
        out.extend(heatmap_text(rule.heatmap, analysis.timezone, "    "))
        out.append("")
    out.extend(heatmap_text(analysis.accountability.heatmap, analysis.timezone, "  ", "every rule"))
    return out


def heatmap_text(heatmap: HeatmapOut, timezone: str, indent: str, what: str = "") -> list[str]:
    """Breaches by weekday and local hour, only the hours in which something was breached."""
    title = f"breaches{' of ' + what if what else ''} by weekday and hour of start ({timezone})"
    if not heatmap.total:
        return [f"{indent}{title}: none"]
    hours = [h for h in range(24) if any(day[h] for day in heatmap.counts)]
    width = max(2, *(len(str(day[h])) for day in heatmap.counts for h in hours))
    lines = [f"{indent}{title}: {count(heatmap.total)}"]
    lines.append(indent + "      " + " ".join(f"{h:02d}".rjust(width) for h in hours))
    for name, day in zip(WEEKDAYS, heatmap.counts, strict=True):
        cells = " ".join((str(day[h]) if day[h] else ".").rjust(width) for h in hours)
        lines.append(f"{indent}  {name} {cells}")
    return lines


# ---------------------------------------------------------------- HTML templates


@functools.cache
def _templates() -> jinja2.Environment:
    # Imported here: only the HTML reports use templates, and text, CSV and JSON need not wait
    # for jinja2 to load.
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("slaspec", "templates"),
        autoescape=True,  # every CRM value and agreement text is escaped unless marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(name: str, **context: object) -> str:
    """Render one of the package's HTML templates (src/slaspec/templates/NAME), autoescaped."""
    return _templates().get_template(name).render(**context)
