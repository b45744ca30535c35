"""Rendering: a replay Report -> text for a person, CSV of violations, JSON for machines.

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
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from json.encoder import encode_basestring_ascii
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from slaspec.compiler import Agreement
from slaspec.events import Origin
from slaspec.report import Report, iso, percent
from slaspec.results import Cycle, LeadResult, Violation, human_duration

if TYPE_CHECKING:
    from slaspec.replay import TraceEntry

MAX_TEXT_REJECTIONS = 10
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render_json(report: Report) -> str:
    """The report as JSON with sorted keys."""
    return json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def json_chunks(report: Report, cycles: Iterable[str], violations: Iterable[str]) -> Iterator[str]:
    """`render_json(report)` with its `cycles` and `violations` lists replaced by the given
    chunks of items (`json_items` texts, in order), as consecutive pieces of text."""
    document = report.model_dump(mode="json")
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


def render_csv(report: Report) -> str:
    """One row per violation, with its rows as `file:row` separated by spaces."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(VIOLATION_COLUMNS)
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
                )
            ]
        )
    return buffer.getvalue()


def csv_header() -> str:
    """The header line of the violations CSV."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(VIOLATION_COLUMNS)
    return buffer.getvalue()


def csv_chunk(leads: Iterable[LeadResult]) -> str:
    """The violations CSV rows of some leads, as `render_csv` writes them."""
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
                    )
                ]
            )
    return buffer.getvalue()


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value == int(value) else repr(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  " + "  ".join(parts).rstrip()

    return [line(headers), "  " + "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def local_time(iso_utc: str, timezone: str) -> str:
    """An ISO UTC instant shown in the agreement's time zone."""
    import datetime as dt

    moment = dt.datetime.fromisoformat(iso_utc.replace("Z", "+00:00"))
    local = moment.astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def render_text(report: Report) -> str:
    """A summary for a person: accounting, attainment per rule and team, violations."""
    out: list[str] = []
    agreement = report.agreement
    version = f" (version {agreement.version})" if agreement.version else ""
    out.append(f"{agreement.title}{version}")
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
        rows: list[list[str]] = []
        for rule in report.rules:
            o = rule.overall
            rows.append(
                [
                    f"{rule.name} ({rule.kind})",
                    "",
                    str(o.met),
                    str(o.breached),
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
                        str(team.breached),
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
        out.extend(_table(headers, rows, right={2, 3, 4, 5, 6, 7}))
        out.append("")
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
    out.append("Inputs")
    for item in report.inputs:
        out.append(f"  {item.kind:9} {item.path}  sha256 {item.sha256}")
    out.append(
        f"slaspec {report.slaspec_version}, holidays {report.holidays_version}, "
        f"report schema {report.schema_version}"
    )
    return "\n".join(out) + "\n"


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
