"""Import: CRM export text + mapping (+ the agreement's stages) -> canonical events, rejections.

Every data row of an export ends in exactly one bucket of its file's `FileAccount`: mapped (into
one or more events), rejected (a `readers.Rejected` with an SLA9xx diagnostic naming the file,
the line and the column) or skipped (the mapping says so: a history row of a field it does not
track, a `skip_when` value; counted by reason). rows == mapped + rejected + skipped. Blank lines
are not rows. Events carry `Origin(file, line)` of the export row they came from, so a replay
finding points at the export. A file that cannot be read at all (no mapping entry fits its
header, a column the entry needs is missing) is one whole-file rejection and none of its rows
are read, as in `slaspec.readers`.

Cells are trimmed; Excel habits are undone before anything else: a `="00123"` cell is `00123`,
and a leading apostrophe that protects a formula character (`'=`, `'+`, `'-`, `'@`) is dropped.
Cells equal to one of the mapping's `null_values` are empty. Timestamps are read in the declared
format only: a value such as `01/02/2026` is never guessed at. A date without a time of day is
the first instant of that day in the declared zone (midnight, or the end of a daylight-saving gap
that swallowed midnight). A local time in a gap or fold follows the DST policy as in
`slaspec.readers` (`reject`: SLA905/SLA906; `earlier`/`later`: the smaller or larger instant).
"""

from __future__ import annotations

import csv
import datetime as dt
import fnmatch
import io
import json
import re
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import assert_never

from slaspec.diagnostics import Diagnostic, did_you_mean
from slaspec.events import (
    EARLIEST,
    EVENT_TYPES,
    LATEST,
    Event,
    EventKind,
    Origin,
    outside_years,
)
from slaspec.mapping import (
    Attribute,
    Constant,
    DstPolicy,
    ExportMapping,
    FileMapping,
    has_time_of_day,
)
from slaspec.readers import RESERVED_COLUMNS, Rejected

_US = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EXCEL_EPOCH = dt.datetime(1899, 12, 30)
_SHOWN = 60
_FORMULA_TEXT = re.compile(r'^="(?P<inner>(?:[^"]|"")*)"$')
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
_SLASHED = re.compile(r"^\s*[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}")
# First characters of cells Excel may have wrapped or guarded.
_EXCEL_MARKS = frozenset("='")
_KINDS = {"stage": EventKind.STAGE, "assign": EventKind.ASSIGN, "activity": EventKind.ACTIVITY}


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """Command-line overrides of the mapping, and the stage names and aliases of the agreement."""

    timezone: str | None = None
    dst_policy: DstPolicy | None = None
    # Stage names and aliases a stage value must be one of; None: not checked here.
    known_stages: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class FileAccount:
    """Where the rows of one export file went; rows == mapped + rejected + skipped."""

    file: str
    entry: str | None
    rows: int
    mapped: int
    events: int
    rejected: int
    skipped: tuple[tuple[str, int], ...]
    blank_lines: int
    dst_resolved: int
    file_errors: int
    # Optional columns the mapping entry names that the file does not have.
    absent: tuple[str, ...] = ()

    @property
    def skipped_rows(self) -> int:
        """Rows the mapping skips, over every reason."""
        return sum(count for _, count in self.skipped)

    @property
    def balanced(self) -> bool:
        """True when every row is in exactly one bucket."""
        return self.rows == self.mapped + self.rejected + self.skipped_rows


@dataclass(slots=True)
class FileCounter:
    """Counts filled in while one file is imported; complete when its iterator is exhausted."""

    file: str
    entry: str | None = None
    rows: int = 0
    mapped: int = 0
    events: int = 0
    rejected: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    blank_lines: int = 0
    dst_resolved: int = 0
    file_errors: int = 0
    absent: list[str] = field(default_factory=list)

    def freeze(self) -> FileAccount:
        """The counts so far, as an immutable record (skip reasons sorted)."""
        return FileAccount(
            self.file,
            self.entry,
            self.rows,
            self.mapped,
            self.events,
            self.rejected,
            tuple(sorted(self.skipped.items())),
            self.blank_lines,
            self.dst_resolved,
            self.file_errors,
            tuple(self.absent),
        )


@dataclass(slots=True)
class UnknownStages:
    """Stage values no stage or alias matches, with how often and where each was first seen."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, Origin] = field(default_factory=dict)

    def add(self, value: str, origin: Origin) -> None:
        """Count one row carrying the value."""
        self.counts[value] = self.counts.get(value, 0) + 1
        self.first.setdefault(value, origin)


# --- reading one file -------------------------------------------------------------------------


def import_export(
    text: str,
    name: str,
    mapping: ExportMapping,
    options: ImportOptions,
    start_seq: int = 0,
    counter: FileCounter | None = None,
    unknown: UnknownStages | None = None,
) -> Iterator[Event | Rejected]:
    """Stream one export file as canonical events and rejected rows, in file order.

    Each event and each rejected row takes the next `seq` from `start_seq` on, so the next file
    of the same import starts at `start_seq + counter.events + counter.rejected`.
    """
    tally = counter if counter is not None else FileCounter(name)
    seen = unknown if unknown is not None else UnknownStages()
    records = _records(text.removeprefix("\ufeff"), mapping.delimiter)
    header: list[str] | None = None
    header_line = 1
    for line, cells in records:
        if isinstance(cells, csv.Error):
            tally.file_errors += 1
            yield _whole_file(name, line, "SLA909", f"the header is not valid CSV ({cells})",
                              "check the quoting of the first line")  # fmt: skip
            return
        if not any(cell.strip() for cell in cells):
            tally.blank_lines += 1
            continue
        header, header_line = [_clean(cell, ()) for cell in cells], line
        break
    if header is None:
        tally.file_errors += 1
        yield _whole_file(name, 1, "SLA901", "the file is empty",
                          "export the file again; it needs a header line")  # fmt: skip
        return
    chosen = choose_entry(mapping, name, header)
    if isinstance(chosen, Diagnostic):
        tally.file_errors += 1
        yield Rejected(Origin(name, header_line), _at(chosen, header_line), whole_file=True)
        return
    tally.entry = chosen.name
    tally.absent = [column for column in chosen.optional_columns() if column not in header]
    zone_name = options.timezone or chosen.timezone or mapping.timezone
    policy = options.dst_policy or mapping.dst_policy
    clock = _Clock(zone_name, policy, chosen.timestamp_format)
    problem = clock.problem()
    if problem is not None:
        tally.file_errors += 1
        yield _whole_file(name, header_line, "SLA904", *problem)
        return
    reader = _Rows(name, mapping, chosen, header, clock, options, seen)
    seq = start_seq
    try:
        for line, cells in records:
            if isinstance(cells, csv.Error):
                tally.rows += 1
                tally.rejected += 1
                yield _rejection(
                    name,
                    line,
                    "SLA909",
                    f"the row is not valid CSV ({cells})",
                    'close the quote; inside a quoted cell write a quote as `""`',
                )
                seq += 1
                continue
            if not any(cell.strip() for cell in cells):
                tally.blank_lines += 1
                continue
            tally.rows += 1
            outcome = reader.row(line, cells)
            if isinstance(outcome, Rejected):
                tally.rejected += 1
                yield outcome
                seq += 1
            elif isinstance(outcome, str):
                tally.skipped[outcome] = tally.skipped.get(outcome, 0) + 1
            else:
                tally.mapped += 1
                for draft in outcome:
                    tally.events += 1
                    yield draft.event(name, line, seq)
                    seq += 1
    finally:
        tally.dst_resolved += clock.resolved


def choose_mapping(mappings: Sequence[ExportMapping], name: str, text: str) -> ExportMapping:
    """Of several mappings given together, the one with an entry that reads the file.

    An entry whose `match` pattern names the file wins over one that only fits its header;
    otherwise the first mapping that fits wins. When none fits, the first mapping is used, so
    that its diagnostic says why.
    """
    fitting: list[ExportMapping] = []
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    for mapping in mappings:
        header = _header(text, mapping.delimiter)
        if header is None:
            continue
        chosen = choose_entry(mapping, name, header)
        if isinstance(chosen, Diagnostic):
            continue
        if any(fnmatch.fnmatch(base, pattern) for pattern in chosen.match):
            return mapping
        fitting.append(mapping)
    return fitting[0] if fitting else mappings[0]


def _header(text: str, delimiter: str) -> list[str] | None:
    """The cleaned cells of the first non-blank record, if it is valid CSV."""
    for _, cells in _records(text.removeprefix("\ufeff"), delimiter):
        if isinstance(cells, csv.Error):
            return None
        if any(cell.strip() for cell in cells):
            return [_clean(cell, ()) for cell in cells]
    return None


def _records(text: str, delimiter: str) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """(first line, cells) of each CSV record; a csv.Error in place of the cells of a bad one."""
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    done = 0
    while True:
        start = done + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            done = reader.line_num
            yield start, error
            continue
        done = reader.line_num
        yield start, cells


def choose_entry(
    mapping: ExportMapping, name: str, header: Sequence[str]
) -> FileMapping | Diagnostic:
    """The mapping entry that reads a file: by its `match` patterns, else by its header.

    An entry fits a header holding every column it needs; of several, the one reading the most
    of the header's columns wins, and a tie is an error (SLA921) rather than a guess.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    present = set(header)
    by_name = [
        entry
        for entry in mapping.files
        if any(fnmatch.fnmatch(base, pattern) for pattern in entry.match)
    ]
    if len(by_name) == 1:
        entry = by_name[0]
        missing = entry.missing(header)
        return _missing_columns(name, entry, missing, header) if missing else entry
    candidates = by_name or list(mapping.files)
    fitting = [entry for entry in candidates if not entry.missing(header)]
    if fitting:

        def score(entry: FileMapping) -> int:
            return sum(c in present for c in (*entry.columns(), *entry.optional_columns()))

        widest = max(score(entry) for entry in fitting)
        best = [entry for entry in fitting if score(entry) == widest]
        if len(best) == 1:
            return best[0]
        names = ", ".join(f"`{entry.name}`" for entry in best)
        return Diagnostic(
            "SLA921",
            f"`{name}` fits several entries of the mapping equally well ({names})",
            name,
            help="give the entries `match` patterns for their file names (e.g. "
            '`match = ["*LeadHistory*.csv"]`)',
        )
    if len(mapping.files) == 1:
        entry = mapping.files[0]
        return _missing_columns(name, entry, entry.missing(header), header)
    closest = min(mapping.files, key=lambda entry: len(entry.missing(header)))
    missing = closest.missing(header)
    shown = ", ".join(f"`{column}`" for column in missing[:5])
    return Diagnostic(
        "SLA921",
        f"`{name}` fits no entry of the mapping; the closest, `{closest.name}`, needs {shown}",
        name,
        help=_column_hint(missing[0], header)
        or "check that the file is the export the mapping describes (see docs/import.md)",
    )


def _missing_columns(
    name: str, entry: FileMapping, missing: list[str], header: Sequence[str]
) -> Diagnostic:
    shown = ", ".join(f"`{column}`" for column in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return Diagnostic(
        "SLA902",
        f"the header lacks {shown}{more}, which entry `{entry.name}` of the mapping reads",
        name,
        column=missing[0],
        help=_column_hint(missing[0], header)
        or "export the file with these columns, or change the mapping's column names",
    )


def _column_hint(column: str, header: Sequence[str]) -> str | None:
    hint = did_you_mean(column, [cell for cell in header if cell])
    if hint is None and len(header) == 1 and (";" in header[0] or "\t" in header[0]):
        return "the file seems to use another separator: set `delimiter` in the mapping"
    return hint


# --- one row ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    """An event of a row before it gets its origin and sequence number."""

    lead: str
    time: int
    kind: EventKind
    value: str | None
    actor: str | None
    team: str | None
    event_id: str | None
    attributes: dict[str, str]
    order: int = 0

    def event(self, name: str, line: int, seq: int) -> Event:
        return Event(
            self.lead,
            self.time,
            self.kind,
            self.value,
            self.actor,
            self.team,
            self.event_id,
            tuple(sorted(self.attributes.items())),
            Origin(name, line),
            seq,
        )


_DRAFT_FIELDS = (
    "lead",
    "time",
    "kind",
    "value",
    "actor",
    "team",
    "event_id",
    "attributes",
    "order",
)


@dataclass(frozen=True, slots=True)
class _Bad:
    """Why a cell was refused: the rule, what is wrong and how to fix it."""

    code: str
    problem: str
    help: str


class _Rows:
    """The rows of one file under one mapping entry -> drafts, a rejection or a skip reason."""

    def __init__(
        self,
        name: str,
        mapping: ExportMapping,
        entry: FileMapping,
        header: list[str],
        clock: _Clock,
        options: ImportOptions,
        unknown: UnknownStages,
    ) -> None:
        self.name = name
        self.mapping = mapping
        self.entry = entry
        self.header = header
        index: dict[str, int] = {}
        for position, column in enumerate(header):
            index.setdefault(column, position)
        self.index = index
        self.width = len(header)
        self.clock = clock
        self.nulls = tuple(mapping.null_values)
        self.known = None if options.known_stages is None else frozenset(options.known_stages)
        self.known_list = tuple(options.known_stages or ())
        self.unknown = unknown
        # The attribute and stage columns the file has, with their positions.
        self.attribute_plan = [
            (index[column], column, rule)
            for column, rule in entry.attributes.items()
            if column in index
        ]
        self.stage_plan = [
            (index[column], order, column, stage)
            for order, (column, stage) in enumerate(entry.stages.items())
            if column in index
        ]
        self.attribute_clocks = {
            column: _Clock(clock.zone_name, clock.policy, rule.format)
            for column, rule in entry.attributes.items()
            if isinstance(rule, Attribute) and rule.type in ("date", "datetime")
        }

    def cell(self, cells: list[str], column: str) -> str:
        position = self.index.get(column)
        return "" if position is None else _clean(cells[position], self.nulls)

    def ref(self, cells: list[str], ref: str | Constant | None) -> str | None:
        if ref is None:
            return None
        if isinstance(ref, Constant):
            return ref.value
        return self.cell(cells, ref) or None

    def row(self, line: int, cells: list[str]) -> list[_Draft] | Rejected | str:
        entry = self.entry
        if len(cells) != self.width:
            return self.reject(
                line,
                "SLA909",
                f"the row has {len(cells)} cells but the header has {self.width} columns",
                'quote cells that contain the separator (`"Smith, Ann"`) or make the row '
                f"have {self.width} cells",
            )
        header = self.header
        if cells[0].strip() == header[0] and [cell.strip() for cell in cells] == header:
            return self.reject(
                line,
                "SLA909",
                "the row repeats the header",
                "remove it (were two exports joined into one file?)",
            )
        for column, values in entry.skip_when.items():
            cell = self.cell(cells, column)
            if cell in values:
                return f"`{column}` is `{_show(cell)}`"
        lead = self.cell(cells, entry.lead)
        leads = [lead]
        if entry.lead_separator is not None:
            leads = [part.strip() for part in lead.split(entry.lead_separator) if part.strip()]
            lead = leads[0] if leads else ""
        if not lead:
            return self.reject(
                line,
                "SLA912",
                f"the lead id (`{entry.lead}`) is empty",
                "every row needs the id of the lead (or contact, or deal) it belongs to",
                entry.lead,
            )
        match entry.shape:
            case "history":
                drafts = self.history(line, cells, lead)
            case "wide":
                drafts = self.wide(line, cells, lead)
            case "activities":
                drafts = self.activity(line, cells, lead)
            case _:
                assert_never(entry.shape)
        if len(leads) > 1 and isinstance(drafts, list):
            # The same events for every lead the row names, each with its own event id.
            shared = drafts
            drafts = []
            for other in leads:
                for draft in shared:
                    copy = _Draft(**{name: getattr(draft, name) for name in _DRAFT_FIELDS})
                    copy.lead = other
                    copy.attributes = dict(draft.attributes)
                    if draft.event_id is not None:
                        copy.event_id = f"{draft.event_id}:{other}"
                    drafts.append(copy)
        return drafts

    # history

    def history(self, line: int, cells: list[str], lead: str) -> list[_Draft] | Rejected | str:
        entry = self.entry
        assert entry.value is not None
        event: str = entry.event
        fixed: str | None = None
        attribute: str | None = None
        if entry.field is not None:
            changed = self.cell(cells, entry.field)
            rule = entry.rule(changed)
            if rule is None:
                if entry.other_fields == "skip":
                    return f"field `{_show(changed)}` is not mapped"
                mapped = list(entry.fields)
                return self.reject(
                    line,
                    "SLA923",
                    f"field `{_show(changed)}` is not one the mapping names",
                    did_you_mean(changed, mapped)
                    or f'add it to `fields` (e.g. `{changed} = "skip"`) or set '
                    '`other_fields = "skip"`',
                    entry.field,
                )
            for column, wanted in rule.when.items():
                cell = self.cell(cells, column)
                allowed = (wanted,) if isinstance(wanted, str) else wanted
                if cell not in allowed:
                    return f"field `{_show(changed)}` with `{column}` `{_show(cell)}`"
            if rule.event == "skip":
                return f"field `{_show(changed)}` is skipped by the mapping"
            event, fixed = rule.event, rule.value
            attribute = rule.attribute or changed
        value = fixed if fixed is not None else self.cell(cells, entry.value)
        time = self.time(line, cells, entry.timestamps())
        if isinstance(time, Rejected):
            return time
        attributes = self.attributes(line, cells)
        if isinstance(attributes, Rejected):
            return attributes
        actor = self.ref(cells, entry.actor)
        team = self.ref(cells, entry.team)
        event_id = self.ref(cells, entry.event_id)
        if event == "update":
            if not value:
                return f"field `{attribute}` was cleared (a CSV log cannot clear an attribute)"
            attributes[attribute or entry.value] = value
            return [_Draft(lead, time, EventKind.UPDATE, None, actor, team, event_id, attributes)]
        if not value:
            return self.reject(
                line,
                "SLA908",
                f"the {event} row has an empty `{entry.value}`",
                f"fill in `{entry.value}`, or skip such rows with `skip_when`",
                entry.value,
            )
        if event == "stage":
            stage = self.stage(line, value, entry.value)
            if isinstance(stage, Rejected):
                return stage
            value = stage
        kind = _KINDS[event]
        return [_Draft(lead, time, kind, value, actor, team, event_id, attributes)]

    # wide

    def wide(self, line: int, cells: list[str], lead: str) -> list[_Draft] | Rejected | str:
        entry = self.entry
        actor = self.ref(cells, entry.actor)
        team = self.ref(cells, entry.team)
        event_id = self.ref(cells, entry.event_id)
        drafts: list[_Draft] = []
        nulls = self.nulls
        for position, order, column, stage_value in self.stage_plan:
            text = _clean(cells[position], nulls)
            if not text:
                continue
            time = self.parse(line, text, column, self.clock)
            if isinstance(time, Rejected):
                return time
            stage = self.stage(line, stage_value, column)
            if isinstance(stage, Rejected):
                return stage
            drafts.append(
                _Draft(lead, time, EventKind.STAGE, stage, actor, team,
                       f"{event_id}:{stage}" if event_id else None, {}, order)
            )  # fmt: skip
        attributes = self.attributes(line, cells)
        if isinstance(attributes, Rejected):
            return attributes
        at: int | None = None
        if entry.attributes_at is not None:
            text = self.cell(cells, entry.attributes_at)
            if text:
                parsed = self.parse(line, text, entry.attributes_at, self.clock)
                if isinstance(parsed, Rejected):
                    return parsed
                at = parsed
        if at is not None and (attributes or not drafts):
            update_id = f"{event_id}:attributes" if event_id else None
            drafts.append(
                _Draft(lead, at, EventKind.UPDATE, None, actor, team, update_id, attributes, -1)
            )
        elif attributes and drafts:
            first = min(drafts, key=lambda draft: (draft.time, draft.order))
            first.attributes = attributes
        if not drafts:
            dated = [
                column
                for column in (
                    *entry.stages,
                    *([entry.attributes_at] if entry.attributes_at else []),
                )
                if column in self.index
            ]
            shown = ", ".join(f"`{column}`" for column in dated[:4])
            if len(dated) > 4:
                shown += f" and {len(dated) - 4} more"
            return self.reject(
                line,
                "SLA925",
                f"the row gives no event: {shown} "
                + ("are all empty" if len(dated) > 1 else "is empty"),
                "a wide row needs at least one stage date (or an `attributes_at` date); "
                "delete leads that never entered a stage, or add the missing dates",
                dated[0] if dated else None,
            )
        drafts.sort(key=lambda draft: (draft.time, draft.order))
        return drafts

    # activities

    def activity(self, line: int, cells: list[str], lead: str) -> list[_Draft] | Rejected | str:
        entry = self.entry
        ref = entry.activity
        raw = ""
        column = "activity"
        if isinstance(ref, Constant):
            raw = ref.value
        elif ref is not None:
            for column in (ref,) if isinstance(ref, str) else ref:
                raw = self.cell(cells, column)
                if raw:
                    break
        if not raw:
            return self.reject(
                line,
                "SLA908",
                "the activity type is empty",
                "fill in the activity type, or skip such rows with `skip_when`",
                column,
            )
        value = entry.activities.get(raw)
        if value is None:
            match entry.other_activities:
                case "keep":
                    value = raw
                case "skip":
                    return f"activity `{_show(raw)}` is not mapped"
                case "reject":
                    return self.reject(
                        line,
                        "SLA923",
                        f"activity `{_show(raw)}` is not one the mapping names",
                        did_you_mean(raw, list(entry.activities))
                        or f'add it to `activities` (e.g. `"{raw}" = "{raw.lower()}"`)',
                        column,
                    )
                case _:
                    assert_never(entry.other_activities)
        elif not value:
            return f"activity `{_show(raw)}` is skipped by the mapping"
        time = self.time(line, cells, entry.timestamps())
        if isinstance(time, Rejected):
            return time
        attributes = self.attributes(line, cells)
        if isinstance(attributes, Rejected):
            return attributes
        actor = self.ref(cells, entry.actor)
        team = self.ref(cells, entry.team)
        event_id = self.ref(cells, entry.event_id)
        return [_Draft(lead, time, EventKind.ACTIVITY, value, actor, team, event_id, attributes)]

    # cells

    def time(self, line: int, cells: list[str], columns: tuple[str, ...]) -> int | Rejected:
        for column in columns:
            text = self.cell(cells, column)
            if text:
                return self.parse(line, text, column, self.clock)
        shown = " and ".join(f"`{column}`" for column in columns)
        return self.reject(
            line,
            "SLA922",
            f"the timestamp is empty ({shown})",
            "every row of this file needs the time of its change",
            columns[0] if columns else None,
        )

    def parse(self, line: int, text: str, column: str, clock: _Clock) -> int | Rejected:
        parsed = clock.instant(text)
        if isinstance(parsed, _Bad):
            return self.reject(line, parsed.code, parsed.problem, parsed.help, column)
        return parsed

    def stage(self, line: int, value: str, column: str) -> str | Rejected:
        table = self.mapping.stages
        stage = table.get(value)
        if stage is None:
            if self.mapping.unknown_stages == "reject":
                self.unknown.add(value, Origin(self.name, line))
                return self.reject(
                    line,
                    "SLA923",
                    f"stage value `{_show(value)}` is not in the mapping's `[stages]` table",
                    did_you_mean(value, list(table))
                    or f'add it to `[stages]`, e.g. `"{value}" = "STAGE"`',
                    column,
                )
            stage = value
        if self.known is not None and stage not in self.known:
            self.unknown.add(stage, Origin(self.name, line))
            via = f" (mapped from `{_show(value)}`)" if stage != value else ""
            return self.reject(
                line,
                "SLA910",
                f"`{_show(stage)}`{via} is not a stage of the agreement",
                did_you_mean(stage, self.known_list)
                or "add it to a stage's `aliases`, or map it in the mapping's `[stages]` table",
                column,
            )
        return stage

    def attributes(self, line: int, cells: list[str]) -> dict[str, str] | Rejected:
        found: dict[str, str] = {}
        nulls = self.nulls
        for position, column, rule in self.attribute_plan:
            text = _clean(cells[position], nulls)
            if not text:
                continue
            if isinstance(rule, str):
                found[rule] = text
                continue
            value = _coerce(rule, text, self.attribute_clocks.get(column))
            if isinstance(value, _Bad):
                return self.reject(line, value.code, value.problem, value.help, column)
            found[rule.name or column] = value
        return found

    def reject(
        self, line: int, code: str, problem: str, help_: str, column: str | None = None
    ) -> Rejected:
        return _rejection(self.name, line, code, problem, help_, column)


def _clean(cell: str, nulls: tuple[str, ...]) -> str:
    """A cell trimmed, with Excel's text-formula wrapper and formula-guard apostrophe removed."""
    text = cell.strip()
    if not text or text[0] not in _EXCEL_MARKS:
        return "" if text in nulls else text
    if text.startswith('="'):
        match = _FORMULA_TEXT.match(text)
        if match is not None:
            text = match["inner"].replace('""', '"').strip()
    elif text[:1] == "'" and text[1:2] in ("=", "+", "-", "@"):
        text = text[1:]
    return "" if text in nulls else text


def _coerce(rule: Attribute, text: str, clock: _Clock | None) -> str | _Bad:
    """An attribute cell as canonical text for its declared type."""
    match rule.type:
        case "text":
            return text
        case "number":
            raw = text.replace(rule.currency, "") if rule.currency else text
            if rule.thousands:
                raw = raw.replace(rule.thousands, "")
            raw = raw.replace(" ", "").replace("\u00a0", "")
            if rule.decimal != ".":
                raw = raw.replace(rule.decimal, ".")
            if not _NUMBER.match(raw):
                return _Bad(
                    "SLA924",
                    f"`{_show(text)}` is not a number as the mapping declares it",
                    "set `decimal`, `thousands` or `currency` for this attribute to match the "
                    'export (e.g. `decimal = ","`, `thousands = "."`)',
                )
            try:
                Decimal(raw)
            except InvalidOperation:
                return _Bad("SLA924", f"`{_show(text)}` is not a number", "write a plain decimal")
            return raw.removeprefix("+")
        case "boolean":
            lowered = text.lower()
            if lowered in (value.lower() for value in rule.true):
                return "true"
            if lowered in (value.lower() for value in rule.false):
                return "false"
            return _Bad(
                "SLA924",
                f"`{_show(text)}` is neither a true nor a false value of the mapping",
                f"list it in the attribute's `true` or `false` (now {', '.join(rule.true)} / "
                f"{', '.join(rule.false)})",
            )
        case "date" | "datetime":
            assert clock is not None
            instant = clock.instant(text)
            if isinstance(instant, _Bad):
                return _Bad("SLA924", instant.problem, instant.help)
            if rule.type == "datetime":
                return format_instant(instant)
            local = clock.local_date(instant)
            return local.isoformat()
        case _:
            assert_never(rule.type)


# --- timestamps -------------------------------------------------------------------------------


def _outside_years(text: str) -> _Bad:
    return _Bad(
        "SLA903",
        outside_years(f"`{_show(text)}`"),
        "check the year, and that the declared timestamp format reads the cell as it was meant",
    )


class _Clock:
    """Timestamp text in one declared format and zone -> microseconds since the epoch (UTC);
    instants outside the years business calendars cover are refused (SLA903), as the reader of
    canonical logs refuses them."""

    def __init__(self, zone_name: str | None, policy: DstPolicy, fmt: str) -> None:
        self.zone_name = zone_name
        self.zone = zoneinfo.ZoneInfo(zone_name) if zone_name is not None else None
        self.policy = policy
        self.fmt = fmt
        self.dated = has_time_of_day(fmt)
        self.resolved = 0
        self.cache: dict[str, int | _Bad] = {}

    def problem(self) -> tuple[str, str] | None:
        """Why no timestamp of the file can be read (a format without offset and no zone)."""
        if self.zone is not None or self.fmt in ("iso", "epoch-s", "epoch-ms"):
            return None
        if "%z" in self.fmt or "%Z" in self.fmt:
            return None
        return (
            f"the timestamps (format `{self.fmt}`) carry no UTC offset and no time zone is "
            "declared",
            'declare the export\'s zone: `timezone = "Europe/Berlin"` in the mapping or '
            "--log-timezone ZONE",
        )

    def local_date(self, instant: int) -> dt.date:
        moment = _EPOCH + dt.timedelta(microseconds=instant)
        return (moment.astimezone(self.zone) if self.zone is not None else moment).date()

    def instant(self, text: str) -> int | _Bad:
        known = self.cache.get(text)
        if known is not None:
            return known
        before = self.resolved
        try:
            value = self._read(text)
        except OverflowError:  # an offset or a zone took it before year 1 or past 9999
            value = _outside_years(text)
        if isinstance(value, int) and not EARLIEST <= value < LATEST:
            value = _outside_years(text)
        # A time resolved by the DST policy is read again each time, so each row is counted.
        if self.resolved == before and len(self.cache) < 65_536:
            self.cache[text] = value
        return value

    def _read(self, text: str) -> int | _Bad:
        fmt = self.fmt
        try:
            if fmt == "iso":
                if _SLASHED.match(text):
                    return _ambiguous(text)
                moment = dt.datetime.fromisoformat(text)
                date_only = len(text) <= 10
            elif fmt == "excel":
                days = Decimal(text)
                moment = _EXCEL_EPOCH + dt.timedelta(days=float(days))
                moment = moment.replace(microsecond=round(moment.microsecond, -3) % 1_000_000)
                date_only = False
            elif fmt in ("epoch-s", "epoch-ms"):
                scale = _US if fmt == "epoch-s" else 1000
                return int(Decimal(text) * scale)
            else:
                moment = dt.datetime.strptime(text, fmt)
                date_only = not self.dated
        except (ValueError, InvalidOperation, OverflowError):
            return _Bad(
                "SLA922",
                f"`{_show(text)}` does not match the declared timestamp format `{fmt}`",
                _format_help(text, fmt),
            )
        if moment.tzinfo is not None:
            return _micros(moment)
        if self.zone is None:
            return _Bad(
                "SLA904",
                f"`{_show(text)}` has no UTC offset and no time zone is declared",
                'declare the export\'s zone: `timezone = "Europe/Berlin"` in the mapping or '
                "--log-timezone ZONE",
            )
        return self._local(moment, text, date_only)

    def _local(self, naive: dt.datetime, text: str, date_only: bool) -> int | _Bad:
        zone = self.zone
        assert zone is not None
        readings = [naive.replace(tzinfo=zone, fold=fold) for fold in (0, 1)]
        instants = [_micros(reading) for reading in readings]
        if instants[0] == instants[1]:
            return instants[0]
        exists = [
            reading.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) == naive
            for reading in readings
        ]
        gap = not all(exists)
        if date_only:
            # The first instant of the day: after a gap that swallowed midnight, or its first
            # occurrence in a fold.
            return max(instants) if gap else min(instants)
        if self.policy == "reject":
            if gap:
                return _Bad(
                    "SLA905",
                    f"`{_show(text)}` does not exist in {self.zone_name}: the clocks skipped it "
                    "(daylight saving)",
                    "choose the DST policy `earlier` or `later` (`dst_policy` in the mapping, "
                    "or --dst-policy) to read it, or correct the time",
                )
            return _Bad(
                "SLA906",
                f"`{_show(text)}` happens twice in {self.zone_name} (daylight saving ends)",
                "choose the DST policy `earlier` or `later` (`dst_policy` in the mapping, or "
                "--dst-policy) to pick one",
            )
        self.resolved += 1
        return min(instants) if self.policy == "earlier" else max(instants)


def _micros(moment: dt.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


def _ambiguous(text: str) -> _Bad:
    return _Bad(
        "SLA922",
        f"`{_show(text)}` is not ISO 8601, and a date such as 01/02/2026 can be read day first "
        "or month first",
        'declare the format in the mapping: `timestamp_format = "%d/%m/%Y %H:%M"` (day first) '
        'or `"%m/%d/%Y %H:%M"` (month first); slaspec never guesses',
    )


def _format_help(text: str, fmt: str) -> str:
    if fmt == "iso":
        return (
            "write year-month-day (`2026-03-02 09:15`), or declare the export's format with "
            "`timestamp_format`"
        )
    return (
        f"check the declared format `{fmt}` against the export (strptime codes: %d day, %m month, "
        "%Y year, %H:%M hours and minutes, %I %p 12-hour clock)"
    )


def format_instant(instant: int) -> str:
    """An instant as canonical ISO 8601 text in UTC (`2026-03-01T22:15:00Z`)."""
    moment = _EPOCH + dt.timedelta(microseconds=instant)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


# --- diagnostics --------------------------------------------------------------------------------


def _show(text: str) -> str:
    shown = text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= _SHOWN else shown[: _SHOWN - 3] + "..."


def _rejection(
    name: str, line: int, code: str, problem: str, help_: str, column: str | None = None
) -> Rejected:
    return Rejected(
        Origin(name, line), Diagnostic(code, problem, name, help=help_, row=line, column=column)
    )


def _whole_file(name: str, line: int, code: str, problem: str, help_: str) -> Rejected:
    return Rejected(
        Origin(name, line),
        Diagnostic(code, f"`{name}`: {problem}", name, help=help_, row=line),
        whole_file=True,
    )


def _at(diagnostic: Diagnostic, line: int) -> Diagnostic:
    return Diagnostic(
        diagnostic.code,
        diagnostic.message,
        diagnostic.file,
        help=diagnostic.help,
        row=line,
        column=diagnostic.column,
    )


# --- writing the canonical log ----------------------------------------------------------------


def attribute_names(events: Sequence[Event]) -> tuple[str, ...]:
    """Every attribute name the events set, sorted (the CSV columns after the canonical ones)."""
    return tuple(sorted({name for event in events for name, _ in event.attributes}))


def to_csv(events: Sequence[Event]) -> str:
    """The events as a canonical CSV log (docs: shared/spec/event-log.md), in the given order."""
    names = attribute_names(events)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*RESERVED_COLUMNS, *names])
    for event in events:
        cells = dict(event.attributes)
        writer.writerow(
            [
                event.lead,
                format_instant(event.time),
                _TYPE_NAMES[event.kind],
                event.value or "",
                event.actor or "",
                event.team or "",
                event.event_id or "",
                *(cells.get(name) or "" for name in names),
            ]
        )
    return out.getvalue()


def to_jsonl(events: Sequence[Event]) -> str:
    """The events as a canonical JSON Lines log, one object per event, keys in a fixed order."""
    lines: list[str] = []
    for event in events:
        row: dict[str, object] = {
            "lead_id": event.lead,
            "timestamp": format_instant(event.time),
            "type": _TYPE_NAMES[event.kind],
        }
        for key, value in (
            ("value", event.value),
            ("actor", event.actor),
            ("team", event.team),
            ("event_id", event.event_id),
        ):
            if value is not None:
                row[key] = value
        if event.attributes:
            row["attributes"] = dict(event.attributes)
        lines.append(json.dumps(row, ensure_ascii=False) + "\n")
    return "".join(lines)


_TYPE_NAMES = {kind: name for name, kind in EVENT_TYPES.items()}


# --- the summary --------------------------------------------------------------------------------


def render_accounts(accounts: Sequence[FileAccount]) -> str:
    """Where every row of every file went, one block per file."""
    lines: list[str] = []
    for account in accounts:
        if account.file_errors:
            lines.append(f"{account.file}: not read")
            continue
        lines.append(
            f"{account.file} (entry {account.entry}): {plural(account.rows, 'row')}: "
            f"{account.mapped} mapped into {plural(account.events, 'event')}, "
            f"{account.rejected} rejected, {account.skipped_rows} skipped"
        )
        lines.extend(f"    skipped {count}: {reason}" for reason, count in account.skipped)
        if account.absent:
            shown = ", ".join(f"`{column}`" for column in account.absent)
            lines.append(f"    columns not in the file (read as empty): {shown}")
        if account.dst_resolved:
            lines.append(f"    {account.dst_resolved} local times resolved by the DST policy")
    return "".join(f"{line}\n" for line in lines)


def plural(count: int, noun: str) -> str:
    """`1 row`, `2 rows`."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def render_unknown(unknown: UnknownStages, known: Sequence[str] | None) -> str:
    """The stage values no stage or alias matches, most frequent first, with a did-you-mean."""
    if not unknown.counts:
        return ""
    lines = ["Unknown stage values (not a stage or alias of the agreement, or not mapped):"]
    ranked = sorted(unknown.counts.items(), key=lambda item: (-item[1], item[0]))
    for value, count in ranked:
        origin = unknown.first[value]
        hint = did_you_mean(value, known or ()) if known is not None else None
        lines.append(
            f"  `{value}`: {plural(count, 'row')}, first at {origin.file}:{origin.row}"
            + (f"; {hint}" if hint else "")
        )
    return "".join(f"{line}\n" for line in lines)
