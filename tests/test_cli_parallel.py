"""Tests for slaspec.cli_parallel: a log read in two processes gives what one process reads.

Every comparison is between `cli_parallel.read_log` (the size threshold and the chunk size
lowered so that small logs split and come back in several chunks) and `readers.read_log` on the
same text: the items (events with their line and seq numbers, rejected rows with their
diagnostics) and the counts must be equal, whichever process read which part, and also when
the second process fails before or after sending some of its rows.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import DATA, check_text
from slaspec import cli_parallel, generate, readers
from slaspec.events import Event

_CHECKED = check_text((DATA / "replay" / "base.sla").read_text(encoding="utf-8"), "base.sla")
assert _CHECKED.agreement is not None
AGREEMENT = _CHECKED.agreement
HEADER = generate.columns(AGREEMENT)
HARSH = generate.Profile(breach=0.4, stall=0.4, unmet=0.3, skip=0.15, duplicate=0.2)
JUNK = [
    "J-1,yesterday,stage,inquiry",  # a bad timestamp
    ",2026-03-02T09:00:00+11:00,stage,inquiry",  # no lead
    "J-2,2026-03-02T09:00:00+11:00,stagee,inquiry",  # a bad type
    "J-3,2026-03-02T09:00:00+11:00,stage",  # too few cells
    "",  # a blank line
    "   ",  # another
    "J-4,2026-10-04T02:30:00,stage,inquiry",  # no offset: DST gap in Sydney
    "J-5,2026-04-05T02:30:00,stage,inquiry",  # no offset: DST fold in Sydney
    "J-6,2026-03-02T09:00:00,update,",  # no offset, no DST change
    "J-7,2026-03-02T09:00:00+11:00,update,\x00",  # a NUL character
]


def log_text(seed: int, leads: int = 60) -> str:
    """A generated log, shuffled, with junk rows and blank lines spread through it."""
    rng = random.Random(seed)
    lines = [
        ",".join(cells)
        for cells in generate.generate(AGREEMENT, leads, seed, dt.date(2026, 3, 20), 30, HARSH)
    ]
    lines += [
        row + "," * (len(HEADER) - row.count(",") - 1) if row.strip() else row for row in JUNK * 3
    ]
    rng.shuffle(lines)
    return ",".join(HEADER) + "\n" + "\n".join(lines) + "\n"


Read = tuple[list[Event | readers.Rejected], readers.ReadStats]


def both(text: str, options: readers.ReadOptions, start_seq: int = 0) -> tuple[Read, Read]:
    """(items, counts) read in one process, then in two."""
    one, two = readers.ReadCounter(), readers.ReadCounter()
    serial = list(readers.read_log(text, "log.csv", "csv", options, start_seq, one))
    split = list(cli_parallel.read_log(text, "log.csv", "csv", options, start_seq, two, jobs=2))
    return (serial, one.freeze()), (split, two.freeze())


@pytest.fixture(autouse=True)
def small_logs_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_parallel, "PARALLEL_MIN_CHARS", 0)
    monkeypatch.setattr(cli_parallel, "_CHUNK_ROWS", 40)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "options",
    [
        readers.ReadOptions(),
        readers.ReadOptions("Australia/Sydney", "reject"),
        readers.ReadOptions("Australia/Sydney", "later"),
    ],
    ids=["offsets", "sydney-reject", "sydney-later"],
)
def test_two_processes_read_what_one_reads(seed: int, options: readers.ReadOptions) -> None:
    text = log_text(seed)
    assert cli_parallel._split(text) is not None
    serial, split = both(text, options, start_seq=11)
    assert split == serial
    items, stats = serial
    assert stats.rejected > 0 and stats.blank_lines > 0
    assert stats.dst_resolved > 0 or options.dst_policy != "later"
    events = [item for item in items if isinstance(item, Event)]
    assert [e.seq for e in events] == sorted(e.seq for e in events)


@pytest.mark.parametrize("sent", [0, 1, 3])
def test_a_failed_second_process_leaves_the_rest_to_the_first(
    monkeypatch: pytest.MonkeyPatch, sent: int
) -> None:
    chunks = cli_parallel._chunks

    def failing(*args: Any) -> Iterator[object]:
        for number, chunk in enumerate(chunks(*args)):
            if number == sent:
                raise RuntimeError("the forked process fails")
            yield chunk

    monkeypatch.setattr(cli_parallel, "_chunks", failing)
    serial, split = both(log_text(4), readers.ReadOptions(), start_seq=3)
    assert split == serial


def test_one_job_is_the_plain_reader() -> None:
    text = log_text(5)
    counter = readers.ReadCounter()
    items = cli_parallel.read_log(text, "log.csv", "csv", readers.ReadOptions(), 0, counter, 1)
    assert list(items) == list(readers.read_log(text, "log.csv", "csv", readers.ReadOptions()))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('lead_id,timestamp,type,value\nL-1,"2026-03-02T09:15:00+11:00",stage,mql\n' * 2, "quote"),
        ("lead_id,timestamp,type,value\r\nL-1,2026-03-02T09:15:00+11:00,stage,mql\r\n" * 2, "CR"),
        (
            "lead_id,timestamp,type,value\n" + "\n" * 200 + "L-1,2026-03-02T09:15Z,stage,mql\n",
            "no row in the first part",
        ),
        (
            "lead_id,timestamp,type,value\nL-1,2026-03-02T09:15Z,stage,mql\n" + "\n" * 500,
            "no row in the second part",
        ),
        ("lead_id,timestamp,type,value\n", "no rows"),
        (
            "\nlead_id,timestamp,type,value\n" + "L-1,2026-03-02T09:15Z,stage,mql\n" * 40,
            "the header is not the first line",
        ),
    ],
)
def test_texts_whose_line_breaks_may_not_end_rows_are_not_split(text: str, why: str) -> None:
    assert cli_parallel._split(text) is None, why
    serial, split = both(text, readers.ReadOptions())
    assert split == serial


def test_small_texts_are_not_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_parallel, "PARALLEL_MIN_CHARS", 10_000)
    assert cli_parallel._split(log_text(6, leads=3)[:9_999]) is None


def test_the_split_is_at_a_line_break_and_keeps_every_line() -> None:
    text = log_text(7)
    split = cli_parallel._split(text)
    assert split is not None
    first, second, offset = split
    header = text[: text.index("\n") + 1]
    assert first.endswith("\n") and second.startswith(header)
    assert first + second.removeprefix(header) == text
    assert offset == first.count("\n") - 1


def test_a_refused_header_stops_the_file_in_both_halves() -> None:
    text = log_text(8).replace("lead_id,", "lead,", 1)
    assert cli_parallel._split(text) is not None
    serial, split = both(text, readers.ReadOptions())
    assert split == serial
    items, stats = serial
    assert stats.file_errors == 1 and stats.rows == 0
    assert all(isinstance(item, readers.Rejected) and item.whole_file for item in items)


def test_a_counter_that_already_counts_earlier_files_keeps_the_seq_numbers() -> None:
    text = log_text(9)
    one, two = readers.ReadCounter(rows=500, events=500), readers.ReadCounter(rows=500, events=500)
    serial = list(readers.read_log(text, "b.csv", "csv", readers.ReadOptions(), 500, one))
    split = list(cli_parallel.read_log(text, "b.csv", "csv", readers.ReadOptions(), 500, two, 2))
    assert split == serial and one == two
