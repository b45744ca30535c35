"""Parallel reading: one large CSV log text -> its events and rejected rows, read by two processes.

`read_log` is `readers.read_log` for the command line: the same items in the same order, with the
same line numbers, `seq` numbers and counts. For a large plain CSV text on a machine with a
second core, a forked process reads the last two thirds of the lines while this one reads (and
its caller prepares) the first third; the forked process sends its rows back in chunks as
columns of plain values (one list per field, cheap to pickle), which this process turns into
the same `Event` records, for well under half the cost of reading them, while its caller prepares
them.

A text is split only where every line break ends a record: it holds no `"` (so no quoted cell
spans lines) and no carriage return (so lines end at LF alone, as `readers` splits them). The
second part is read as the header line followed by its lines, with `line_offset` keeping each
line's number. If the forked process cannot start or fails, this process reads what it did not
send: the result never depends on which process read what.

This module forks and uses pipes, so, like cli.py, it is exempt from the rule that core
modules do no I/O (tests/test_packaging.py).
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from slaspec import readers
from slaspec.events import Event, EventKind, Origin

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

# Below this size a second process costs more than it saves (about 70,000 rows of a typical
# export; forking and sending the columns back take tens of milliseconds).
PARALLEL_MIN_CHARS = 8_000_000
# This process reads the first third of the lines, the forked one the rest. Per row, reading
# and preparing here costs about 6 us, turning a sent row back into an event and preparing it
# 4 us, and reading and sending one in the forked process 4.7 us: with a third, the forked
# process finishes about 1.5 s (on 1M rows) before this one needs its last rows, room for a
# slower forked process (it pays for the pages it copies), and this one does about 4.7 s of
# work instead of 6. A fifth would do 4.4 s with no room to spare.
_FIRST_PART = 3
# Rows the forked reader sends at a time: this process turns them into events while it reads on.
_CHUNK_ROWS = 50_000
_NON_BLANK = re.compile(r"\S")
# Event kinds by rank, to turn the ranks sent back into kinds.
_KINDS = tuple(sorted(EventKind))

# One list per Event field of a chunk of the second part, and its rejected rows.
_Columns = tuple[
    list[str],  # lead
    list[int],  # time
    bytes,  # kind, as its rank
    list[str | None],  # value
    list[str | None],  # actor
    list[str | None],  # team
    list[str | None],  # event_id
    list[tuple[tuple[str, str | None], ...]],  # attributes
    list[int],  # line (Origin.row)
    list[tuple[int, readers.Rejected]],  # rejected rows, by position in the chunk
]


def read_log(
    text: str,
    name: str,
    fmt: readers.LogFormat,
    options: readers.ReadOptions,
    start_seq: int = 0,
    counter: readers.ReadCounter | None = None,
    jobs: int = 2,
) -> Iterator[Event | readers.Rejected]:
    """`readers.read_log` of a log's text; most of a large CSV is read by a second process when
    `jobs` > 1."""
    split = _split(text) if jobs > 1 and fmt == "csv" and _can_fork() else None
    if split is None:
        return readers.read_log(text, name, fmt, options, start_seq, counter)
    return _read_halves(*split, name, options, start_seq, counter or readers.ReadCounter())


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _split(text: str) -> tuple[str, str, int] | None:
    """(first part with the header, header + second part, line offset of the second part), or
    None when the text is small or its line breaks may not all end records."""
    if len(text) < PARALLEL_MIN_CHARS or '"' in text or "\r" in text:
        return None
    header_end = text.find("\n") + 1
    middle = text.find("\n", len(text) // _FIRST_PART) + 1
    if header_end <= 0 or middle <= header_end or middle >= len(text):
        return None
    # The reader takes the first non-blank line as the header; it must be the first line.
    if not text[:header_end].strip():
        return None
    # Each part needs a row, or the first would warn of a header without rows.
    if not _NON_BLANK.search(text, header_end, middle) or not _NON_BLANK.search(text, middle):
        return None
    first_lines = text.count("\n", 0, middle)
    # The second part's first line is line first_lines + 1, and its header line 1 + offset.
    return text[:middle], text[:header_end] + text[middle:], first_lines - 1


def _read_halves(
    first: str,
    second: str,
    offset: int,
    name: str,
    options: readers.ReadOptions,
    start_seq: int,
    counter: readers.ReadCounter,
) -> Iterator[Event | readers.Rejected]:
    """The items of both parts in file order; the second read by a forked process."""
    context = multiprocessing.get_context("fork")
    child: Any = None
    receiver: Connection | None = None
    try:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(
            target=_read_second, args=(second, offset, name, options, sender), daemon=True
        )
        child.start()
        sender.close()
    except OSError:  # no pipes or processes here (a sandbox, a process limit): read it all here
        child = None
    rows_before = counter.rows  # the counter may already hold earlier files' rows
    unreadable = False
    for item in readers.read_log(first, name, "csv", options, start_seq, counter):
        # A header the reader refuses stops the file: the second part has no rows to give.
        unreadable = unreadable or (isinstance(item, readers.Rejected) and item.whole_file)
        yield item
    seq = start_seq + counter.rows - rows_before
    given = 0  # items of the second part yielded so far
    stats: readers.ReadStats | None = None
    if receiver is not None and child is not None and not unreadable:
        try:
            while stats is None:
                message = receiver.recv()
                if isinstance(message, readers.ReadStats):
                    stats = message
                    continue
                for item in _rebuilt(message, name, seq + given):
                    yield item
                    given += 1
        except (EOFError, OSError):
            stats = None  # the child failed: the rest of its part is read here below
    if receiver is not None:
        receiver.close()  # a child still sending (after a refused header) fails and exits
    if child is not None:
        child.join()
    if unreadable:
        return
    if stats is None:
        rest = readers.read_log(second, name, "csv", options, seq, counter, offset)
        yield from itertools.islice(rest, given, None)
        return
    counter.rows += stats.rows
    counter.events += stats.events
    counter.rejected += stats.rejected
    counter.blank_lines += stats.blank_lines
    counter.dst_resolved += stats.dst_resolved
    counter.file_errors += stats.file_errors
    counter.notes.extend(stats.notes)


def _read_second(
    text: str,
    offset: int,
    name: str,
    options: readers.ReadOptions,
    sender: Connection,
) -> None:
    """The forked side: read the second part, send its rows in chunks and its counts, exit."""
    try:
        for message in _chunks(text, offset, name, options):
            sender.send(message)
        sender.close()
    except BaseException:
        os._exit(1)  # the parent sees EOF and reads the rest of the part itself
    # Skip the interpreter's teardown of the inherited heap: nothing of it needs saving.
    os._exit(0)


class _Chunk:
    """Some consecutive rows of the second part, one list per field, while being filled."""

    __slots__ = (
        "actors",
        "cells",
        "ids",
        "kinds",
        "leads",
        "lines",
        "rejected",
        "rows",
        "teams",
        "times",
        "values",
    )

    def __init__(self) -> None:
        self.rows = 0
        self.leads: list[str] = []
        self.times: list[int] = []
        self.kinds = bytearray()
        self.values: list[str | None] = []
        self.actors: list[str | None] = []
        self.teams: list[str | None] = []
        self.ids: list[str | None] = []
        self.cells: list[tuple[tuple[str, str | None], ...]] = []
        self.lines: list[int] = []
        self.rejected: list[tuple[int, readers.Rejected]] = []

    def add(self, item: Event | readers.Rejected) -> None:
        if isinstance(item, readers.Rejected):
            self.rejected.append((self.rows, item))
        else:
            self.leads.append(item.lead)
            self.times.append(item.time)
            self.kinds.append(item.kind)
            self.values.append(item.value)
            self.actors.append(item.actor)
            self.teams.append(item.team)
            self.ids.append(item.event_id)
            self.cells.append(item.attributes)
            self.lines.append(item.origin.row)
        self.rows += 1

    def columns(self) -> _Columns:
        return (
            self.leads,
            self.times,
            bytes(self.kinds),
            self.values,
            self.actors,
            self.teams,
            self.ids,
            self.cells,
            self.lines,
            self.rejected,
        )


def _chunks(
    text: str, offset: int, name: str, options: readers.ReadOptions
) -> Iterator[_Columns | readers.ReadStats]:
    """Read a part: its rows in chunks of one list per field, then the read's counts."""
    counter = readers.ReadCounter()
    chunk = _Chunk()
    for item in readers.read_log(text, name, "csv", options, 0, counter, offset):
        chunk.add(item)
        if chunk.rows == _CHUNK_ROWS:
            yield chunk.columns()
            chunk = _Chunk()
    if chunk.rows:
        yield chunk.columns()
    yield counter.freeze()


class _EventDraft:
    """A mutable twin of `Event`, re-classed once filled (as in readers: a third of the cost)."""

    __slots__ = tuple(f.name for f in fields(Event))


def _rebuilt(columns: _Columns, name: str, seq: int) -> Iterator[Event | readers.Rejected]:
    """A chunk's items from its columns, in file order, numbered from `seq`."""
    leads, times, kinds, values, actors, teams, ids, cells, lines, rejected = columns
    intern = sys.intern

    def shared(text: str | None) -> str | None:
        # Strings come back as new objects; interned again, they are shared as the reader
        # shares them.
        return None if text is None else intern(text)

    pending = iter(rejected)
    next_rejected = next(pending, None)
    position = 0
    for lead, time, rank, value, actor, team, event_id, attributes, line in zip(
        leads, times, kinds, values, actors, teams, ids, cells, lines, strict=True
    ):
        while next_rejected is not None and next_rejected[0] == position:
            yield next_rejected[1]
            position += 1
            next_rejected = next(pending, None)
        event: Any = _EventDraft()
        event.lead = intern(lead)
        event.time = time
        event.kind = _KINDS[rank]
        event.value = shared(value)
        event.actor = shared(actor)
        event.team = shared(team)
        event.event_id = event_id
        event.attributes = attributes
        event.origin = Origin(name, line)
        event.seq = seq + position
        event.__class__ = Event
        position += 1
        yield event
    while next_rejected is not None:
        yield next_rejected[1]
        next_rejected = next(pending, None)
