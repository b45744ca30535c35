"""Columnar preparation: a plain canonical CSV log's bytes -> `replay.prepare`'s result (pyarrow).

A shortcut for large logs in the common case: `prepare_csv` returns exactly what
`replay.prepare` returns for what `readers.read_log` reads from the same bytes (the same rows
in the same order, the same accounting, the same read counts), or None, leaving the counter
untouched, when the log is not plain. The reference stays the reference: a log of which the
reader or `prepare` would reject or warn about anything, or that a rule this module does not
reproduce could read differently, is declined, and the caller reads it the reference way.

Plain means all of this:
- the log time zone option is absent or names a zone, and the log is smaller than 2 GiB (a
  pyarrow text column holds at most that much);
- the bytes are UTF-8 after at most one byte-order mark, and hold no `"`, no control character
  but the line feed (no CR, tab or NUL) and none of the other characters that `str.strip`
  trims or `str.splitlines` breaks at (`_SPECIAL`, e.g. U+0085, U+00A0, U+2028, U+3000);
- no cell starts or ends with a space (header cells included), and no line is blank;
- the first line is a header `readers` accepts, at least one row follows, and every row has
  as many cells as the header;
- every row is one the reader and `prepare` accept: a lead, a known type, a value exactly when
  the type needs one, a stage value that is a stage or an alias, attribute cells that fit
  their field, and a timestamp `YYYY-MM-DD[Tt ]HH:MM[:SS[.f{1,6}]]` with an offset that
  `readers` accepts. A time without an offset is declined, so the log time zone and the DST
  policy never matter.

Timestamps are read by the reference clock itself, once per distinct hour (`2026-03-02T09`)
and once per distinct rest (`:15:00+11:00`), and added column-wise; attribute cells are typed
by `replay._Cells` once per distinct cell of a field (datetime cells likewise from their hour
and rest, each read once by `replay.coerce`). The rows are sorted by one pyarrow sort
and become Python lists, the columns of a `replay.Block`, only when a lead is looked up, a
block of `BLOCK_LEADS` consecutive leads at a time; a lead's rows are a `replay.Rows` slice of
it, which the fold reads without making a `replay.Row` per row. The command replays its
leads in chunks of that many in two processes forked after preparation, so each process
builds the rows it replays. Building a block only slices arrays and converts them to lists;
all pyarrow computation, and with it pyarrow's thread pool, stays in `parse_csv` and
`prepare_csv`. `parse_csv` also codes every
column that needs no agreement (types, instants, attribute cells, actors, teams, duplicates,
lead ids), so that `slaspec replay` does that too while it checks the agreement.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from slaspec import readers, replay
from slaspec.columnar_parse import (
    _EPOCH_HOUR,
    _HOUR_CHARS,
    Parsed,
    _allocator,
    _Cells,
    _Coded,
    _Declined,
    _parse,
    _precode,
    _Precoded,
    _Words,
)
from slaspec.compiler import Agreement
from slaspec.events import FIRST_YEAR, LAST_YEAR, EventKind
from slaspec.results import Accounting

# Leads whose rows are built together: the command replays its leads in chunks of whole
# blocks (cli._CHUNK_LEADS), in order, so each chunk builds its own blocks, in the process that
# replays it. Small enough that a block's rows, built and freed again and again, stay in the
# processor's caches: the 1M replay took 6-10% less time with 500 than with 2000 (and 250 or
# 125 no less than 500; docs/performance.md).
BLOCK_LEADS = 500

# Event kinds by rank.
_KINDS = tuple(sorted(EventKind))
_UPDATE, _STAGE = int(EventKind.UPDATE), int(EventKind.STAGE)
_FIRST_LINE = 2  # the header is line 1, and no line is blank
# A datetime cell of this shape is typed from its pieces (`_datetimes`); RE2 syntax (pyarrow).
_DATETIME_SHAPE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SCHED_YIELD = hasattr(os, "sched_yield")  # `_offer_gil`
# Distinct attribute cells typed between two offers of the GIL (`_pairs`): half a millisecond.
_TYPED_AT_ONCE = 256


# A (field, typed value) pair, typed Any to stay one shared object when compiled (replay._Cells).
_Pair = Any
_Attributes = tuple[tuple[str, replay.Value | None], ...]


def prepare_csv(
    data: bytes,
    name: str,
    agreement: Agreement,
    options: readers.ReadOptions,
    as_of: int | None,
    counter: readers.ReadCounter,
    start_seq: int = 0,
    parsed: Parsed | None = None,
    beside: Callable[[int], None] | None = None,
) -> replay.Prepared | None:
    """`replay.prepare` of `readers.read_log` of a plain CSV log's bytes; None if not plain.

    `parsed`, when given, is `parse_csv` of the same bytes and name, taken beforehand.
    `beside`, when given, is called with the replay's as-of instant while a pyarrow thread
    orders the rows, for the caller's work that needs that instant but not the rows (it is not
    called when the log is declined before then).
    """
    if readers.check_options(options) is not None:
        return None
    try:
        with _allocator():
            if parsed is None:
                parsed = _parse(data, name)
            prepared = _prepare(parsed, name, agreement, as_of, start_seq, beside)
    except _Declined:
        return None
    counter.rows += prepared.accounting.read
    counter.events += prepared.accounting.read
    return prepared


def _prepare(
    parsed: Parsed,
    name: str,
    agreement: Agreement,
    as_of: int | None,
    start_seq: int,
    beside: Callable[[int], None] | None = None,
) -> replay.Prepared:
    """The columnar preparation; _Declined as soon as the log turns out not to be plain."""
    header, arrays, rows = parsed.header, parsed.arrays, parsed.rows
    coded = parsed.precoded if parsed.precoded is not None else _precode(parsed)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The rows' order needs no agreement and is pyarrow's work, without the GIL: a second
        # thread finds it while this one resolves stage values and types attribute cells.
        is_update = pc.equal(coded.kind, _UPDATE)
        ordering = pool.submit(_order, coded, is_update, rows, as_of)
        index = header.index[readers.VALUE]
        value = arrays[index] if index < header.width else None
        values = _values(value, is_update, pc.equal(coded.kind, _STAGE), agreement)
        pairs = _pairs(coded.cells, agreement)
        if beside is not None:
            # The as-of instant `_order` fixes.
            beside(_latest_kept(coded) if as_of is None else as_of)
        order = ordering.result()
    del arrays[:]  # the text columns are coded now
    source, cells = order.source, order.cells
    columns = _Columns(
        name=name,
        start_seq=start_seq,
        time=order.time,
        kind=order.kind,
        row=source,
        value=pc.if_else(cells, values.none, pc.take(values.codes, source)),
        values=values.words,
        actor=order.actor,
        actors=coded.actors.words,
        team=order.team,
        teams=coded.teams.words,
        carries=order.carries,
        carried_before=order.carried_before,
        attributes=order.attributes,
        pairs=pairs,
        cells=cells,
    )
    accounting = Accounting(rows, order.replayed, 0, order.duplicate, order.after)
    grouped = _Leads(order.ids, order.ends, columns)
    return replay.Prepared(grouped, order.as_of, accounting, ())


@dataclass(frozen=True, slots=True)
class _Order:
    """The rows to replay in replay order: each one's place among the log's rows, whether it
    holds the cells split off a row, its kind rank, instant, actor and team codes and whether
    it carries attribute cells (and those rows' cell codes, and how many come before each
    block of leads); the leads' ids in order and where each one's rows end; the accounting."""

    source: Any
    cells: Any
    kind: Any
    time: Any
    actor: Any
    team: Any
    carries: Any
    attributes: list[Any]
    carried_before: list[int]
    ids: list[str]
    ends: list[int]
    as_of: int
    replayed: int
    duplicate: int
    after: int


def _order(coded: _Precoded, is_update: Any, rows: int, as_of: int | None) -> _Order:
    """Duplicates, rows after as-of, split cells and the sort of `replay.prepare`, column-wise."""
    kind, time, kept, leads = coded.kind, coded.time, coded.kept, coded.leads
    present = coded.cells.present
    duplicate = rows - pc.sum(kept).as_py()
    after = 0
    replayed = kept
    if as_of is None:
        as_of = _latest_kept(coded)
    else:
        late = pc.greater(time, as_of)
        replayed = pc.and_not(kept, late)
        after = pc.sum(pc.and_(kept, late)).as_py()
    # Attribute cells on a stage, activity or assign row become an update row of their own,
    # at the same instant and with the same seq, before the row (replay.prepare).
    base = pc.indices_nonzero(replayed)
    split = pc.indices_nonzero(pc.and_(pc.and_not(present, is_update), replayed))
    source = pa.concat_arrays([base.cast(pa.int64()), split.cast(pa.int64())])
    cells = pa.concat_arrays(
        [pa.repeat(pa.scalar(False), len(base)), pa.repeat(pa.scalar(True), len(split))]
    )
    kinds = pc.if_else(cells, pa.scalar(_UPDATE, pa.int8()), pc.take(kind, source))
    # Each row's lead by its rank in id order (`_precode`).
    lead_rank = pc.take(coded.lead_rank, pc.take(leads.indices, source))
    times = pc.take(time, source)
    # (kind, row) as one key: the row numbers order the seq numbers.
    kind_row = pc.add(pc.multiply(kinds.cast(pa.int64()), rows), source)
    order = pc.sort_indices(
        pa.table({"lead": lead_rank, "time": times, "kind_row": kind_row}),
        sort_keys=[("lead", "ascending"), ("time", "ascending"), ("kind_row", "ascending")],
    )
    source = pc.take(source, order)
    cells = pc.take(cells, order)
    kinds = pc.take(kinds, order)
    runs = pc.run_end_encode(pc.take(lead_rank, order))
    ids = pc.take(leads.dictionary, pc.take(coded.by_id, runs.values)).to_pylist()
    carries = pc.or_(cells, pc.and_(pc.equal(kinds, _UPDATE), pc.take(present, source)))
    ends = runs.run_ends.to_pylist()
    # How many rows carrying attribute cells come before each block of leads.
    counted = pc.cumulative_sum(carries.cast(pa.int64()))
    last_rows = [ends[first - 1] - 1 for first in range(BLOCK_LEADS, len(ends), BLOCK_LEADS)]
    carried_before = [0, *pc.take(counted, pa.array(last_rows, pa.int64())).to_pylist()]
    return _Order(
        source,
        cells,
        kinds,
        pc.take(times, order),
        coded.actors.taken(source),
        coded.teams.taken(source),
        carries,
        coded.cells.taken(pc.take(source, pc.indices_nonzero(carries))),
        carried_before,
        # Not interned (the reader interns its leads): each id is one object that every row,
        # result and tally of its lead shares already; interning took 0.04 s of the GIL here.
        ids,
        ends,
        as_of,
        len(base),
        duplicate,
        after,
    )


def _latest_kept(coded: _Precoded) -> int:
    """The as-of instant when none is given: the latest kept instant, as replay.prepare fixes
    it (a log has a kept row: the first with each event id is kept)."""
    latest: int = pc.max(pc.filter(coded.time, coded.kept)).as_py()
    return latest


def _values(array: Any, is_update: Any, is_stage: Any, agreement: Agreement) -> _Coded:
    """The `value` column coded, with stage names and aliases resolved on stage rows."""
    if array is None:
        if not pc.all(is_update).as_py():
            raise _Declined
        return _Coded.of(None, len(is_update))
    if not pc.all(pc.equal(pc.equal(pc.binary_length(array), 0), is_update)).as_py():
        raise _Declined  # `value` is required by every type but update, and refused on it
    coded = _Coded.of(array, len(array))
    words = list(coded.words)
    resolved = list(range(len(words)))
    positions: dict[str, int] = {}
    for code in pc.unique(pc.filter(coded.codes, is_stage)).to_pylist():
        stage = agreement.stage_for(words[code] or "")  # once per distinct stage value
        if stage is None:
            raise _Declined
        if stage not in positions:
            positions[stage] = len(words)
            words.append(stage)
        resolved[code] = positions[stage]
    codes = pc.if_else(is_stage, pc.take(pa.array(resolved, pa.int32()), coded.codes), coded.codes)
    return _Coded(codes, words, coded.none)


def _pairs(cells: _Cells, agreement: Agreement) -> list[list[_Pair]]:
    """Per attribute column, the (field, value) pair of each distinct cell by its code (None for
    an empty cell): typed as `replay._Cells` types them, each distinct cell once, the pair
    shared by every row that has it; a field the agreement does not type keeps the text.

    This runs beside `_order`, whose thread needs the GIL for a moment between pyarrow's
    computations. Compiled code never offers the GIL (the interpreter's switch interval counts
    bytecode), so the cells are typed a slice at a time and the GIL is offered after each:
    typed at once, the 125,000 distinct datetimes of a 1M-row log held the order up for their
    whole 0.3 s, and the two ran one after the other instead of side by side.
    """
    typer = replay._Cells(agreement)
    pairs: list[list[_Pair]] = []
    for key, dictionary in zip(cells.names, cells.dictionaries, strict=True):
        distinct: list[str] = dictionary.to_pylist()
        typing = key in typer.pairs
        if typing and typer.fields[key].kind == "datetime":
            pairs.append(_datetimes(key, dictionary, distinct, typer))
            continue
        column: list[_Pair] = []
        for first in range(0, len(distinct), _TYPED_AT_ONCE):
            part = distinct[first : first + _TYPED_AT_ONCE]
            texts: tuple[tuple[str, str | None], ...] = tuple((key, raw) for raw in part if raw)
            present: tuple[tuple[str, replay.Value | None], ...] = texts
            if typing:
                try:
                    present = typer.typed(texts)
                except replay._CellError:
                    raise _Declined from None
            # Any, as replay._Cells.pairs: compiled, a tuple type is unboxed and boxed anew.
            shared: Any = present
            typed: Iterator[Any] = iter(shared)
            column.extend([next(typed) if raw else None for raw in part])
            _offer_gil()
        pairs.append(column)
    return pairs


def _offer_gil() -> None:
    """Let a thread waiting for the GIL take it: CPython hands the GIL over when it is released
    while another thread asks for it. `os.sched_yield` releases it for about a microsecond;
    `time.sleep(0)`, used where there is no sched_yield, sleeps for the timer slack (0.05 to
    0.15 ms: 70 ms over the 490 offers of a 1M-row log)."""
    if _SCHED_YIELD:
        os.sched_yield()
    else:
        time.sleep(0)


def _datetimes(key: str, dictionary: Any, distinct: list[str], typer: replay._Cells) -> list[_Pair]:
    """`_pairs` of a datetime field's column, most cells typed from their pieces.

    `replay.coerce` reads a cell of `_DATETIME_SHAPE` (the shape exports write) as the UTC
    instant of its date and hour, plus its minutes, seconds and fraction, less its offset. So
    each distinct date-and-hour (`2026-03-02T09`) is read once, by `coerce` itself, as that hour
    in UTC, and each distinct rest (`:15:00+11:00`) once, as that rest after the epoch's first
    hour, and a cell is the sum of the two: an addition where it was a parse and a time-zone
    conversion (0.2 s for the 125,000 distinct cells of a 1M-row log, on the way to the
    replay). A cell of another shape, with a piece `coerce` refuses, or of the first or last
    year covered, is typed whole by `typer`, as every cell was: the same value or the same
    refusal. The GIL is offered as in `_pairs`.
    """
    shaped: list[bool] = pc.match_substring_regex(dictionary, _DATETIME_SHAPE).to_pylist()
    field_type, zone = typer.fields[key], typer.timezone
    hours: dict[str, Any] = {}  # date-and-hour -> its UTC datetime, or None if refused
    rests: dict[str, Any] = {}  # rest -> its timedelta, or None if refused
    column: list[_Pair] = []
    last = len(distinct) - 1
    for index, raw in enumerate(distinct):
        if index % _TYPED_AT_ONCE == _TYPED_AT_ONCE - 1 or index == last:
            _offer_gil()
        if not raw:
            column.append(None)
            continue
        if shaped[index]:
            head, rest = raw[:_HOUR_CHARS], raw[_HOUR_CHARS:]
            if head not in hours:
                # Only hours of the years strictly inside those covered: a rest moves an hour
                # by less than a day, so the sum is inside too (as in `readers._Clock`).
                inside = FIRST_YEAR < int(head[:4]) < LAST_YEAR
                hours[head] = (
                    _read_piece(f"{head}:00:00+00:00", field_type, zone, None) if inside else None
                )
            if rest not in rests:
                rests[rest] = _read_piece(_EPOCH_HOUR + rest, field_type, zone, _EPOCH)
            base, past = hours[head], rests[rest]
            if base is not None and past is not None:
                column.append((key, base + past))
                continue
        try:
            (pair,) = typer.typed(((key, raw),))
        except replay._CellError:
            raise _Declined from None
        column.append(pair)
    return column


def _read_piece(text: str, field_type: Any, zone: str, epoch: Any) -> Any:
    """`coerce` of a text made around a piece of a datetime cell (less `epoch`, if given), or
    None if it refuses it."""
    try:
        value: Any = replay.coerce("datetime", text, field_type, zone)
    except ValueError:
        return None
    return value if epoch is None else value - epoch


@dataclass(frozen=True, slots=True)
class _Columns:
    """The prepared rows in replay order, column by column, and what decodes them."""

    name: str
    start_seq: int
    time: Any
    kind: Any
    row: Any  # place among the log's rows, from 0
    value: Any
    values: _Words
    actor: Any
    actors: _Words
    team: Any
    teams: _Words
    carries: Any  # whether the row carries attribute cells
    carried_before: list[int]  # rows that carry cells before each block of leads
    attributes: list[Any]  # per attribute column, the codes of the rows that carry cells
    pairs: list[list[_Pair]]  # per attribute column, the pair of each code (None: no cell)
    cells: Any


class _Leads(Mapping[str, replay.Rows]):
    """Prepared rows by lead, in lead order, built a block of leads at a time when looked up."""

    __slots__ = ("_blocks", "_columns", "_ends", "_ids", "_index")

    def __init__(self, ids: list[str], ends: list[int], columns: _Columns) -> None:
        self._ids = ids
        self._ends = ends  # where each lead's rows end
        self._columns = columns
        self._index = {lead: position for position, lead in enumerate(ids)}
        self._blocks: dict[int, dict[str, replay.Rows]] = {}

    def __getitem__(self, lead: str) -> replay.Rows:
        position = self._index[lead]
        number = position // BLOCK_LEADS
        block = self._blocks.get(number)
        if block is None:
            block = self._blocks[number] = self._build(number)
        if position == min(len(self._ids), (number + 1) * BLOCK_LEADS) - 1:
            # Leads are replayed in order: once the block's last lead is looked up, the block is
            # let go, so that its rows are freed as the replay goes (in whichever process
            # replays it) instead of all at the end. A later look-up builds equal rows again.
            del self._blocks[number]
        return block[lead]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, lead: object) -> bool:
        return lead in self._index

    def _build(self, number: int) -> dict[str, replay.Rows]:
        """The rows of one block of leads: one `replay.Block` of columns, sliced by lead."""
        first = number * BLOCK_LEADS
        ids = self._ids[first : first + BLOCK_LEADS]
        ends = self._ends[first : first + BLOCK_LEADS]
        start = self._ends[first - 1] if first else 0
        size = ends[-1] - start
        columns = self._columns

        def part(array: Any) -> list[Any]:
            values: list[Any] = array.slice(start, size).to_pylist()
            return values

        event_kinds, words = _KINDS, columns.values
        columns_of_block = replay.Block(
            part(columns.time),
            [event_kinds[kind] for kind in part(columns.kind)],
            [words[code] for code in part(columns.value)],
            _decoded(columns.actor, columns.actors, part),
            _decoded(columns.team, columns.teams, part),
            self._attributes(number, part(columns.carries)),
            part(columns.cells),
            part(columns.row),
            columns.start_seq,
            None,
            columns.name,
            _FIRST_LINE,
        )
        block: dict[str, replay.Rows] = {}
        begin = 0
        for lead, end in zip(ids, ends, strict=True):
            block[lead] = replay.Rows(lead, columns_of_block, begin, end - start)
            begin = end - start
        return block

    def _attributes(self, number: int, carries: list[bool]) -> list[_Attributes]:
        """The attributes of a block's rows, as `replay._Cells.typed` gives them: the pairs of
        the row's non-empty cells, in column order."""
        columns = self._columns
        before = columns.carried_before[number]
        count = sum(carries)
        cells: list[list[Any]] = [[] for _ in range(count)]
        # Column by column: the inner loop only indexes lists of codes and pairs.
        for pairs, array in zip(columns.pairs, columns.attributes, strict=True):
            codes: list[int] = array.slice(before, count).to_pylist()
            for carried in range(count):
                pair = pairs[codes[carried]]
                if pair is not None:
                    cells[carried].append(pair)
        carrying = iter(cells)
        return [tuple(next(carrying)) if carry else () for carry in carries]


def _decoded(codes: Any, words: _Words, part: Any) -> _Words:
    """A coded column's texts over a block."""
    coded: list[int] = part(codes)
    if len(words) == 1:
        return [None] * len(coded)  # an absent column
    return [words[code] for code in coded]
