"""Parsing a plain canonical CSV log into columns (pyarrow): the part of the columnar shortcut
(slaspec.columnar, whose docstring says what "plain" means) that needs no agreement.

`parse_csv` parses the bytes and codes every column that needs no agreement: each row's kind
rank and instant, attribute cells, actor, team, whether its event id was seen before, and the
lead ids. It imports no more than pyarrow and slaspec.readers, so that `slaspec replay` can
start it in a thread as soon as the command line is read, while the agreement's modules are
imported and the agreement is checked.
"""

from __future__ import annotations

import codecs
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pcsv  # type: ignore[import-untyped]

from slaspec import readers
from slaspec.events import EVENT_TYPES, FIRST_YEAR, LAST_YEAR

# The characters besides space and line feed that `str.strip` trims or `str.splitlines` breaks
# at; test_columnar derives this set from the whole of Unicode.
_SPECIAL = (
    "\t\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_NON_ASCII_SPECIAL = tuple(ch for ch in _SPECIAL if not ch.isascii())
_BOM = b"\xef\xbb\xbf"
_DECODED_BYTES = 1 << 22
_BLOCK_BYTES = 1 << 22  # pyarrow parses the text in blocks of this size, one piece each
_MAX_BYTES = (1 << 31) - 1
# Every byte but the control characters and `"`: deleting them leaves the ones to look at.
_ORDINARY = bytes(octet for octet in range(0x20, 0x100) if octet != ord('"'))
_SPACE = 0x20
# What ends a cell: a byte that a space must not stand beside.
_CELL_ENDS = pa.array(b",\n", pa.uint8())
# A timestamp is its first 13 characters (the hour) and the rest, as `readers._Clock` splits it;
# together the two patterns are `readers._INSTANT` with a time of day and an offset.
_HOUR = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}")
_REST = re.compile(r":[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)")
_HOUR_CHARS = 13
_EPOCH_HOUR = "1970-01-01T00"
# The `type` spellings in the order of their kinds' ranks.
_TYPE_NAMES = pa.array(sorted(EVENT_TYPES, key=EVENT_TYPES.__getitem__))


def _pool() -> Any:
    """jemalloc where pyarrow is built with it, else the system allocator."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


_POOL = _pool()
_Words = list[str | None]


class _Declined(Exception):
    """The log is not plain; the caller reads it the reference way."""


@dataclass(slots=True)
class Parsed:
    """A plain CSV log parsed by pyarrow, not yet checked against an agreement: its header,
    one text column per column of the log, in the pieces pyarrow parsed it in (a ChunkedArray;
    given up to `prepare_csv`, which empties the list) and, once coded, the columns that need
    no agreement."""

    header: readers._Header
    arrays: list[Any]
    rows: int
    is_ascii: bool
    precoded: _Precoded | None = None


def parse_csv(data: bytes, name: str) -> Parsed | None:
    """The part of `prepare_csv` that needs no agreement: parsing by pyarrow and coding the
    columns that need no agreement (about half its time); None if the log is not plain.
    `slaspec replay` runs it in a thread while it checks the agreement: pyarrow computes
    without the GIL."""
    try:
        with _allocator():
            parsed = _parse(data, name)
            parsed.precoded = _precode(parsed)
            return parsed
    except _Declined:
        return None


@dataclass(frozen=True, slots=True)
class _Precoded:
    """The columns that need no agreement, coded: each row's kind rank and instant, its
    attribute cells, actor and team, whether it is the first with its event id (or has
    none), the lead ids dictionary-encoded, and the leads' codes in id order and each code's
    rank in it."""

    kind: Any
    time: Any
    cells: _Cells
    actors: _Coded
    teams: _Coded
    kept: Any
    leads: Any
    by_id: Any
    lead_rank: Any


def _precode(parsed: Parsed) -> _Precoded:
    """Code the columns that need no agreement; _Declined if they show the log is not plain."""
    header, arrays, rows = parsed.header, parsed.arrays, parsed.rows

    def column(key: str) -> Any:
        index = header.index[key]
        return arrays[index] if index < header.width else None

    lead = column(readers.LEAD_ID)
    # A blank line reads as a row of empty cells, and is declined here too.
    if pc.min(pc.binary_length(lead)).as_py() == 0:
        raise _Declined
    attribute_columns = [(key, arrays[i]) for key, i in header.attributes]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # pyarrow computes without the GIL: a second thread codes the attribute cells and finds
        # the duplicate event ids while this one reads the types and the timestamps (Python
        # work per distinct hour) and codes the rest, in a little less time. (A third thread,
        # the cells and the duplicates side by side, made it no sooner on the 1M-row log.)
        cells = pool.submit(_Cells.of, attribute_columns, rows)
        kept = pool.submit(_first_occurrences, column(readers.EVENT_ID), rows)
        kind = _single(pc.index_in(column(readers.TYPE), value_set=_TYPE_NAMES))
        if kind.null_count:
            raise _Declined
        time = _times(column(readers.TIMESTAMP), parsed.is_ascii)
        actors = _Coded.of(column(readers.ACTOR), rows)
        teams = _Coded.of(column(readers.TEAM), rows)
        leads = _encoded(lead)
        # Leads sort as `sorted()` sorts their ids: pyarrow compares UTF-8 bytes, and valid
        # UTF-8 sorts by code point in byte order, as Python compares str. The order of a
        # permutation's values is its inverse: each id's rank. (Found here, where this thread
        # would wait for the other, rather than where the rows are ordered.)
        by_id = pc.sort_indices(leads.dictionary)
        lead_rank = pc.sort_indices(by_id)
        return _Precoded(
            kind.cast(pa.int8()),
            time,
            cells.result(),
            actors,
            teams,
            kept.result(),
            leads,
            by_id,
            lead_rank,
        )


@contextmanager
def _allocator() -> Iterator[None]:
    # With pyarrow's default allocator (mimalloc) a third of the time on a large log went to
    # page faults, and the peak memory was higher; the arrays allocated here outlive the call.
    default = pa.default_memory_pool()
    pa.set_memory_pool(_POOL)
    try:
        yield
    finally:
        pa.set_memory_pool(default)


def _parse(data: bytes, name: str) -> Parsed:
    """The log's columns; _Declined as soon as it turns out not to be plain."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    end = data.find(b"\n", start)
    if len(data) > _MAX_BYTES or end < 0 or end + 1 == len(data):
        raise _Declined  # too large for a text column, or a header without rows
    if data[start:end].translate(None, _ORDINARY):
        raise _Declined  # a quote or a control character in the header
    try:
        names = data[start:end].decode("utf-8").split(",")
    except UnicodeDecodeError:
        raise _Declined from None
    header = readers._header(names, name, 1)
    if not isinstance(header, readers._Header):
        raise _Declined
    with ThreadPoolExecutor(max_workers=1) as pool:
        # pyarrow parses without the GIL while this thread checks that the text is plain.
        reading = pool.submit(_read, pa.py_buffer(data).slice(end + 1), header.width)
        is_ascii = _plain_text(data)
        table = reading.result()
    rows = table.num_rows
    # The columns stay in the pieces pyarrow parsed them in (one per block of the text):
    # joining them wrote the whole log to fresh pages again, and what reads them (the coding
    # below, and `columnar`) takes pieces as well. `_single` joins the small arrays that must
    # be one.
    arrays: list[Any] = [table.column(index) for index in range(header.width)]
    del table
    if not all(_control_free(piece) for array in arrays for piece in array.chunks):
        raise _Declined
    return Parsed(header, arrays, rows, is_ascii)


def _plain_text(data: bytes) -> bool:
    """Whether the text is all ASCII, if plain as far as its bytes show: the cells' control
    characters are looked for in the parsed columns (`_control_free`), the header's in
    `_parse`."""
    start = len(_BOM) if data.startswith(_BOM) else 0
    if len(data) > _MAX_BYTES or data.startswith(_BOM, start) or data.startswith(b"\n", start):
        raise _Declined
    # With neither a quote nor a carriage return, pyarrow breaks lines at line feeds only and
    # takes each line for one row (an empty or ragged line makes it fail), as the reference
    # does. A byte search each: the deletion of every other byte took 0.08 s, with the GIL.
    if data.find(b'"') >= 0 or data.find(b"\r") >= 0:
        raise _Declined
    if data.find(b" ") >= 0:
        # A cell with a space at either end (or a line of spaces): the reference trims it.
        octets = pa.Array.from_buffers(pa.uint8(), len(data), [None, pa.py_buffer(data)])
        spaces = pc.indices_nonzero(pc.equal(octets, pa.scalar(_SPACE, pa.uint8())))
        spaces = spaces.cast(pa.int64())
        if spaces[0].as_py() == start or spaces[-1].as_py() == len(data) - 1:
            raise _Declined
        for step in (-1, 1):
            if pc.any(pc.is_in(pc.take(octets, pc.add(spaces, step)), _CELL_ENDS)).as_py():
                raise _Declined
    is_ascii = data.isascii()
    if not is_ascii:
        # Decoded a piece at a time, so that a wide character does not make the whole text
        # four times the size of the bytes.
        decoder = codecs.getincrementaldecoder("utf-8")()
        view = memoryview(data)
        try:
            for offset in range(0, len(data), _DECODED_BYTES):
                text = decoder.decode(view[offset : offset + _DECODED_BYTES])
                if any(ch in text for ch in _NON_ASCII_SPECIAL):
                    raise _Declined
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _Declined from None
    return is_ascii


def _control_free(array: Any) -> bool:
    """Whether no cell of a parsed text column holds a control character (the reference
    strips some and breaks lines at others), from the smallest byte of its cells' text."""
    buffers = array.buffers()
    ends = pa.Array.from_buffers(pa.int32(), len(array) + 1, [None, buffers[1]], array.offset)
    first, last = ends[0].as_py(), ends[-1].as_py()
    if first == last:
        return True
    octets = pa.Array.from_buffers(pa.uint8(), last - first, [None, buffers[2]], offset=first)
    smallest: int = pc.min(octets).as_py()
    return smallest >= _SPACE


def _read(buffer: Any, width: int) -> Any:
    """The lines after the header as a table of `width` text columns; _Declined if ragged."""
    names = [f"c{i}" for i in range(width)]
    try:
        return pcsv.read_csv(
            pa.BufferReader(buffer),
            read_options=pcsv.ReadOptions(column_names=names, block_size=_BLOCK_BYTES),
            parse_options=pcsv.ParseOptions(
                delimiter=",",
                quote_char=False,
                escape_char=False,
                newlines_in_values=False,
                ignore_empty_lines=False,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
                # `_plain_text` checks the whole text (ASCII, or decoded as UTF-8) beside the
                # parse, and a cell of valid UTF-8 cut at commas and line feeds is valid UTF-8:
                # pyarrow's own check of every cell took a sixth of the parse's CPU.
                check_utf8=False,
            ),
        )
    except pa.ArrowException:
        raise _Declined from None


def _single(array: Any) -> Any:
    """An array in one piece: the pieces of a ChunkedArray joined."""
    if isinstance(array, pa.ChunkedArray):
        return array.combine_chunks()
    return array


def _encoded(array: Any) -> Any:
    """A text column dictionary-encoded, as one DictionaryArray. pyarrow encodes the pieces of a
    ChunkedArray against one dictionary, which they share, and then joins only their codes."""
    return _single(array.dictionary_encode())


@dataclass(frozen=True, slots=True)
class _Coded:
    """A text column as codes into the list of its distinct (interned) texts, "" read as None."""

    codes: Any
    words: _Words
    none: int  # the code of None

    @staticmethod
    def of(array: Any, rows: int) -> _Coded:
        """The column coded; an absent column reads as empty cells."""
        if array is None:
            return _Coded(pa.repeat(pa.scalar(0, pa.int32()), rows), [None], 0)
        encoded = _encoded(array)
        words: _Words = [
            sys.intern(word) if word else None for word in encoded.dictionary.to_pylist()
        ]
        words.append(None)
        return _Coded(encoded.indices, words, len(words) - 1)

    def taken(self, rows: Any) -> Any:
        """The codes of some rows."""
        return pc.take(self.codes, rows)


def _times(array: Any, ascii_only: bool) -> Any:
    """The instants of the timestamp column, read by `readers._Clock` per distinct hour and rest.

    `_Clock.instant(text)` is hour_start(text[:13]) + (past - offset)(text[13:]) for a text of
    the shape both patterns describe, and it refuses such a text exactly when it refuses one of
    the synthetic texts below: the date and hour are checked in the first, the minutes, seconds
    and offset in the second.
    """
    if not ascii_only and not pc.all(pc.string_is_ascii(array)).as_py():
        raise _Declined
    octets = array.cast(pa.binary())
    clock = readers._Clock(None, "reject")
    hours = _encoded(pc.binary_slice(octets, 0, _HOUR_CHARS))
    starts = [_instant(clock, _HOUR, hour, "{}:00:00Z") for hour in hours.dictionary.to_pylist()]
    longest = max(pc.max(pc.binary_length(octets)).as_py(), _HOUR_CHARS)
    rests = _encoded(pc.binary_slice(octets, _HOUR_CHARS, longest))
    pasts = [
        _instant(clock, _REST, rest, _EPOCH_HOUR + "{}") for rest in rests.dictionary.to_pylist()
    ]
    return pc.add_checked(
        pc.take(pa.array(starts, pa.int64()), hours.indices),
        pc.take(pa.array(pasts, pa.int64()), rests.indices),
    )


def _instant(clock: readers._Clock, shape: re.Pattern[str], piece: bytes, text: str) -> int:
    """The reference clock's reading of a synthetic timestamp around a piece of the shape."""
    decoded = piece.decode("ascii")
    if shape.fullmatch(decoded) is None:
        raise _Declined
    if shape is _HOUR and not FIRST_YEAR < int(decoded[:4]) < LAST_YEAR:
        # The reference refuses an instant outside the years business calendars cover, and
        # reads an hour of the first or last year row by row: so is such a log.
        raise _Declined
    instant = clock.instant(text.format(decoded))
    if not isinstance(instant, int):
        raise _Declined
    return instant


@dataclass(frozen=True, slots=True)
class _Cells:
    """The attribute columns coded: which rows have a cell, and each column's codes into its
    distinct cells ("" for an empty one) over the rows that have a cell."""

    names: tuple[str, ...]
    present: Any  # whether each row has a non-empty attribute cell
    place: Any  # a row's place among the rows that have one
    codes: list[Any]
    dictionaries: list[Any]

    @staticmethod
    def of(columns: list[tuple[str, Any]], rows: int) -> _Cells:
        """The attribute columns of a log with `rows` rows."""
        present: Any = pa.repeat(pa.scalar(False), rows)
        for _, array in columns:
            present = pc.or_(present, pc.greater(pc.binary_length(array), 0))
        # Only the rows with a cell are coded: most rows of a log have none (three quarters of
        # the 1M benchmark log's), and coding a column hashes each of its cells.
        present = _single(present)
        with_cells = pc.indices_nonzero(present)
        codes, dictionaries = [], []
        for _, array in columns:
            encoded = _encoded(pc.take(array, with_cells))
            codes.append(encoded.indices)
            dictionaries.append(encoded.dictionary)
        place = pc.subtract(pc.cumulative_sum(present.cast(pa.int64())), 1)
        return _Cells(tuple(key for key, _ in columns), present, place, codes, dictionaries)

    def taken(self, rows: Any) -> list[Any]:
        """Per column, the codes of some rows that have a cell."""
        places = pc.take(self.place, rows)
        return [pc.take(codes, places) for codes in self.codes]


def _first_occurrences(array: Any, rows: int) -> Any:
    """Which rows are the first with their event id, or have none."""
    if array is None:
        return pa.repeat(pa.scalar(True), rows)
    # A stable sort puts the rows of one id together in file order: all but the first of each
    # are duplicates. An empty id is never a duplicate.
    order = pc.sort_indices(array)
    ranked = pc.take(array, order)
    later = ranked.slice(1)
    again = _single(pc.and_(pc.equal(later, ranked.slice(0, rows - 1)), pc.not_equal(later, "")))
    duplicates = _single(pc.filter(order.slice(1), again))
    every = pc.indices_nonzero(pa.repeat(pa.scalar(True), rows))
    return pc.invert(pc.is_in(every, value_set=duplicates))
