"""Tests for slaspec.columnar: the same `Prepared` as the reference read + prepare, or None."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import multiprocessing
import os
import random
from functools import cache
from pathlib import Path
from types import ModuleType

import pyarrow as pa  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaspec import columnar, columnar_parse, generate, readers, replay
from slaspec.compiler import Agreement
from slaspec.events import FIRST_YEAR, LAST_YEAR, Origin
from slaspec.pipeline import check_agreement
from slaspec.results import Accounting
from slaspec.source import Source

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("harbour-b2b", "saas-waterfall", "solo-consultant")
TODAY = dt.date(2026, 11, 30)
DAY = 86_400_000_000
START = dt.date(2026, 3, 2)

# Every kind of field, and stages with aliases (one with a space, one not ASCII).
CASES = """\
agreement "Columnar cases":
    version "1"
    effective 2026-03-02
    timezone "Australia/Sydney"

fields:
    n: number "a number"
    m: money AUD "an amount"
    b: boolean "a flag"
    e: enum [gold, "silver plate"]
    d: date "a day"
    t: datetime "an instant"
    s: string "a text"

activities call, demo

team desk "Desk":
    members "one@example.org"

stage new "New":
    owner desk
    aliases "Fresh Lead", "né"
    initial

stage open "Open":
    owner desk
    aliases opened

stage closed "Closed":
    owner desk
    terminal

handoff new -> open
handoff open -> closed
"""
HEADER = "lead_id,timestamp,type,value,actor,team,event_id,n,m,b,e,d,t,s,extra"
ROWS = (
    "L1,2026-03-02T09:15:00+11:00,stage,new,one@example.org,desk,E1,72,,,gold,,,Ann Smith,x",
    "L1,2026-03-02T10:02:00+11:00,update,,,,E2,80,18500,yes,,2026-03-01,,,",
    "L2,2026-03-02T10:02:00Z,stage,Fresh Lead,,,E3,,,,silver plate,,2026-03-02 09:00,,",
    "L1,2026-03-02T11:40:00+11:00,activity,call,one@example.org,desk,E4,,,,,,,,",
    "L2,2026-03-03T08:00:00.25-05:00,assign,one@example.org,,,,,,,,,,,",
)
LOG = "\n".join((HEADER, *ROWS)) + "\n"


def _read_source(path: str) -> Source:
    return Source(path, Path(path).read_text(encoding="utf-8"))


@cache
def agreement(name: str) -> Agreement:
    """A compiled agreement: `cases` above, or one of agreements/."""
    if name == "cases":
        source = Source("cases.sla", CASES)
        checked = check_agreement(source, lambda path: source, TODAY)
    else:
        path = str(ROOT / "agreements" / f"{name}.sla")
        checked = check_agreement(_read_source(path), _read_source, TODAY)
    assert checked.agreement is not None, [d.message for d in checked.errors]
    return checked.agreement


def reference(
    data: bytes,
    name: str,
    agreement: Agreement,
    as_of: int | None = None,
    start_seq: int = 0,
    options: readers.ReadOptions | None = None,
    counter: readers.ReadCounter | None = None,
) -> tuple[replay.Prepared, readers.ReadCounter]:
    """What the reference gives: decode, read_log, prepare."""
    counter = counter if counter is not None else readers.ReadCounter()
    text = readers.decode(data, name)
    assert isinstance(text, str)
    items = readers.read_log(
        text, name, "csv", options or readers.ReadOptions(), start_seq, counter
    )
    return replay.prepare(agreement, items, as_of), counter


def columnar_prepare(
    data: bytes,
    name: str,
    agreement: Agreement,
    as_of: int | None = None,
    start_seq: int = 0,
    options: readers.ReadOptions | None = None,
    counter: readers.ReadCounter | None = None,
) -> tuple[replay.Prepared | None, readers.ReadCounter]:
    counter = counter if counter is not None else readers.ReadCounter()
    options = options or readers.ReadOptions()
    return columnar.prepare_csv(data, name, agreement, options, as_of, counter, start_seq), counter


_ENGINES: dict[int, tuple[Agreement, replay.Engine]] = {}


def engine(agreement: Agreement) -> replay.Engine:
    """The agreement's engine, made once (agreements are not hashable; each is kept)."""
    known = _ENGINES.get(id(agreement))
    if known is None or known[0] is not agreement:
        known = _ENGINES[id(agreement)] = (agreement, replay.Engine(agreement))
    return known[1]


def assert_same(
    got: replay.Prepared | None, expected: replay.Prepared, agreement: Agreement
) -> None:
    """Field by field: as-of, accounting, rejections, lead order and every lead's rows; and
    every lead's fold of the columns (`replay.Rows`) equals the fold of the reference's rows,
    its timeline (`slaspec explain`) included."""
    assert got is not None
    assert got.as_of == expected.as_of
    assert got.accounting == expected.accounting
    assert got.rejections == expected.rejections == ()
    assert list(got.leads) == list(expected.leads)
    assert len(got.leads) == len(expected.leads)
    fold = engine(agreement).replay_lead
    for lead, rows in expected.leads.items():
        columns = got.leads[lead]
        assert type(columns) is replay.Rows
        assert tuple(columns) == rows, lead
        assert columns == rows, lead
        traced: tuple[list[replay.TraceEntry], list[replay.TraceEntry]] = ([], [])
        assert fold(lead, columns, got.as_of, traced[0]) == fold(
            lead, rows, expected.as_of, traced[1]
        ), lead
        assert traced[0] == traced[1], lead


def check(
    data: bytes,
    agreement: Agreement,
    as_of: int | None = None,
    start_seq: int = 0,
    name: str = "log.csv",
) -> replay.Prepared:
    """The columnar result equals the reference's, counts included; returns it."""
    got, counter = columnar_prepare(data, name, agreement, as_of, start_seq)
    expected, expected_counter = reference(data, name, agreement, as_of, start_seq)
    assert_same(got, expected, agreement)
    assert counter == expected_counter
    assert got is not None
    return got


# ---------------------------------------------------------------- the examples


@pytest.mark.parametrize("log", EXAMPLES)
@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_with_every_agreement(name: str, log: str) -> None:
    path = ROOT / "examples" / f"{log}.events.csv"
    data = path.read_bytes()
    if name != log:
        # Another agreement's stages and enum values: the reference rejects rows (already
        # among the first few hundred), so the log is declined.
        head = b"".join(data.splitlines(keepends=True)[:400])
        assert reference(head, str(path), agreement(name))[0].rejections
        got, counter = columnar_prepare(data, str(path), agreement(name))
        assert (got, counter) == (None, readers.ReadCounter())
        return
    full = check(data, agreement(name), name=str(path))
    assert full.accounting.duplicate > 0 or name == "solo-consultant"
    early = check(data, agreement(name), full.as_of - 120 * DAY, 7, str(path))
    assert early.accounting.after_as_of > 0
    assert early.accounting.duplicate == full.accounting.duplicate


# ---------------------------------------------------------------- generated logs


def _shuffled(text: str, seed: int) -> str:
    header, *rows = text.splitlines(keepends=True)
    random.Random(seed).shuffle(rows)
    return header + "".join(rows)


def _restated(stamp: str, rng: random.Random) -> str:
    """The same instant written with another offset, in another of the accepted shapes."""
    instant = dt.datetime.fromisoformat(stamp)
    minutes = rng.choice([0, 0, 60, -300, 330, -570, 765, 600, -60])
    local = instant.astimezone(dt.timezone(dt.timedelta(minutes=minutes)))
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    offsets = [f"{sign}{hours:02}:{rest:02}", f"{sign}{hours:02}{rest:02}"]
    if rest == 0:
        offsets.append(f"{sign}{hours:02}")
    if minutes == 0:
        offsets += ["Z", "z"]
    seconds = local.strftime(":%S") + rng.choice(["", ".0", ".000000"])
    if local.second == 0 and rng.random() < 0.5:
        seconds = ""
    separator = rng.choice("Tt ")
    return local.strftime(f"%Y-%m-%d{separator}%H:%M") + seconds + rng.choice(offsets)


def _reoffset(text: str, seed: int) -> str:
    rng = random.Random(seed)
    header, *rows = text.splitlines()
    column = header.split(",").index("timestamp")
    out = [header]
    for row in rows:
        cells = row.split(",")
        cells[column] = _restated(cells[column], rng)
        out.append(",".join(cells))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("block_bytes", [1 << 22, 1000])
@pytest.mark.parametrize("name", EXAMPLES)
def test_generated_logs(name: str, block_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # pyarrow parses a large text in blocks and hands each column over in pieces, one a block:
    # a thousand bytes a block makes a hundred pieces of these logs, with duplicate event ids,
    # leads, hours and cells in different pieces.
    monkeypatch.setattr(columnar_parse, "_BLOCK_BYTES", block_bytes)
    profile = generate.Profile(duplicate=0.3, alias=0.5)
    text = generate.generate_csv_text(agreement(name), 120, 11, START, 90, profile)
    reference_prepared, _ = reference(text.encode(), "g.csv", agreement(name))
    assert reference_prepared.accounting.duplicate > 0
    for variant, as_of, start_seq in (
        (text, None, 0),
        (_shuffled(text, 3), None, 5),
        (_reoffset(text, 4), reference_prepared.as_of - 30 * DAY, 0),
        (_reoffset(_shuffled(text, 5), 6), None, 1000),
        ("\ufeff" + text.rstrip("\n"), None, 0),
    ):
        if block_bytes < len(variant):
            parsed = columnar_parse.parse_csv(variant.encode(), "g.csv")
            assert parsed is not None
            assert min(len(array.chunks) for array in parsed.arrays) > 50
        check(variant.encode(), agreement(name), as_of, start_seq)


def test_a_slice_of_the_benchmark_log(tmp_path: Path) -> None:
    # The benchmark's own generator (benchmarks/gen_log.py), at a small size.
    spec = importlib.util.spec_from_file_location("gen_log", ROOT / "benchmarks" / "gen_log.py")
    assert spec is not None and spec.loader is not None
    gen_log: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_log)
    path = tmp_path / "harbour.events.csv"
    gen_log.write_log(str(path), 6000, 2026, dt.date(2026, 2, 2), 365)
    data = path.read_bytes()
    prepared = check(data, agreement("harbour-b2b"), name=str(path))
    assert prepared.accounting.read == 6000
    check(data, agreement("harbour-b2b"), prepared.as_of - 90 * DAY, 12, str(path))


# ---------------------------------------------------------------- timestamps

STAMPS = (
    "2026-03-02T09:15:00+11:00",
    "2026-03-02t09:15:00+11:00",
    "2026-03-02 09:15:00+11:00",
    "2026-03-02T09:15+11:00",
    "2026-03-02T09:15:07.5+11:00",
    "2026-03-02T09:15:07.123456-03:30",
    "2026-03-02T09:15:07.000001Z",
    "2026-03-02T23:59:59.999999z",
    "2026-03-02T00:00:00+1100",
    "2026-03-02T00:00:00+11",
    "2026-03-02T00:00:00-11",
    "2026-03-02T00:00:00-0945",
    "2026-03-02T00:00:00+18:00",
    "2026-03-02T00:00:00-18:00",
    "2026-02-28T24:00:00Z",
    "1969-12-31T23:59:59.999999Z",
    "1900-01-01T00:00:00+05:53",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999-18:00",
    "2024-02-29T12:30:00+00:00",
    "2026-02-29T12:30:00+00:00",
    "2026-03-02T09:60:00Z",
    "2026-03-02T09:15:60Z",
    "2026-03-02T09:15:00.1234567Z",
    "2026-03-02T09:15:00+18:01",
    "2026-03-02T09:15:00+05:60",
    "2026-03-02T09:15:00",
    "2026-03-02",
    "2026-03-02+11:00",
    "2026/03/02T09:15:00Z",
    "1772489700",
    "2026-03-02T9:15:00Z",
    "2026-03-02T09:15:00 Z",
    "2026-03-02T09:15:00+11:0",
    "2026-03-02T09:15:00+110",
    "\uff12\uff10\uff12\uff16-03-02T09:15:00Z",
    "2026-03-02T09:15:00+११:00",
)


def _stamp_log(stamps: list[str]) -> bytes:
    rows = [f"L{i},{stamp},update,,,,,{i}" for i, stamp in enumerate(stamps)]
    return "\n".join(["lead_id,timestamp,type,value,actor,team,event_id,n", *rows]).encode()


@pytest.mark.parametrize("stamp", STAMPS)
def test_each_timestamp_is_the_reference_clocks_reading(stamp: str) -> None:
    clock = readers._Clock(None, "reject")
    instant = clock.instant(stamp)
    got, _ = columnar_prepare(_stamp_log([stamp]), "t.csv", agreement("cases"))
    if isinstance(instant, readers._Bad):
        assert got is None
    else:
        assert got is not None
        assert [row.time for row in got.leads["L0"]] == [instant]
        check(_stamp_log([stamp]), agreement("cases"))


def test_timestamps_together_are_read_per_distinct_piece() -> None:
    clock = readers._Clock(None, "reject")
    good = [stamp for stamp in STAMPS if isinstance(clock.instant(stamp), int)]
    stamps = good * 3
    random.Random(1).shuffle(stamps)
    got = check(_stamp_log(stamps), agreement("cases"))
    times = {lead: rows[0].time for lead, rows in got.leads.items()}
    assert times == {f"L{i}": clock.instant(stamp) for i, stamp in enumerate(stamps)}


_DIGITS = st.integers(0, 99).map("{:02}".format)


@settings(max_examples=150, deadline=None)
@given(
    year=st.one_of(st.integers(0, 9999), st.sampled_from([1899, 1900, 2199, 2200])).map(
        "{:04}".format
    ),
    month=st.integers(0, 13).map("{:02}".format),
    day=st.integers(0, 32).map("{:02}".format),
    separator=st.sampled_from("Tt "),
    hour=st.integers(0, 25).map("{:02}".format),
    minute=st.integers(0, 61).map("{:02}".format),
    second=st.one_of(st.just(""), st.integers(0, 61).map(":{:02}".format)),
    fraction=st.one_of(st.just(""), st.integers(1, 7).map(lambda n: "." + "9" * n)),
    offset=st.one_of(
        st.sampled_from(["Z", "z", ""]),
        st.tuples(st.sampled_from("+-"), _DIGITS, st.sampled_from(["", ":", "-"]), _DIGITS).map(
            "".join
        ),
        st.tuples(st.sampled_from("+-"), _DIGITS).map("".join),
    ),
)
def test_timestamp_property(
    year: str,
    month: str,
    day: str,
    separator: str,
    hour: str,
    minute: str,
    second: str,
    fraction: str,
    offset: str,
) -> None:
    stamp = f"{year}-{month}-{day}{separator}{hour}:{minute}{second}"
    stamp += (fraction if second else "") + offset
    instant = readers._Clock(None, "reject").instant(stamp)
    got, counter = columnar_prepare(_stamp_log([stamp]), "t.csv", agreement("cases"))
    if isinstance(instant, readers._Bad) or int(year) in (FIRST_YEAR, LAST_YEAR):
        # Refused, or in the first or last year covered: read row by row.
        assert (got, counter) == (None, readers.ReadCounter())
    else:
        assert got is not None
        assert got.leads["L0"][0].time == instant


# ---------------------------------------------------------------- small logs


def test_small_log_rows() -> None:
    got = check(LOG.encode(), agreement("cases"), start_seq=40)
    assert list(got.leads) == ["L1", "L2"]
    first = got.leads["L1"][0]
    # A stage row with cells is an update row (the cells) and the stage row (without them).
    assert [(row.kind.name, row.cells, row.value) for row in got.leads["L1"][:2]] == [
        ("UPDATE", True, None),
        ("STAGE", False, "new"),
    ]
    assert first.seq == 40 and first.origin == Origin("log.csv", 2)
    assert first.attributes == (("e", "gold"), ("extra", "x"), ("n", 72), ("s", "Ann Smith"))
    stage = got.leads["L2"][1]
    assert (stage.value, stage.origin.row, stage.seq) == ("new", 4, 42)


def test_typed_pairs_are_shared_between_rows() -> None:
    rows = [f"L{i},2026-03-02T09:15:00+11:00,update,,,,,72,gold" for i in range(3)]
    got = check(
        "\n".join(["lead_id,timestamp,type,value,actor,team,event_id,n,e", *rows]).encode(),
        agreement("cases"),
    )
    pairs = [got.leads[f"L{i}"][0].attributes for i in range(3)]
    assert pairs[0] == (("e", "gold"), ("n", 72))
    assert pairs[0][1] is pairs[1][1] is pairs[2][1]


def test_cells_are_typed_a_slice_at_a_time_offering_the_gil(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `_pairs` runs beside the thread that orders the rows, which needs the GIL between its
    # pyarrow computations: it types the distinct cells a few at a time and offers the GIL in
    # between (compiled code never offers it by itself). The slices change nothing.
    harbour = agreement("harbour-b2b")
    text = generate.generate_csv_text(harbour, 40, 4, START, 30)
    parsed = columnar_parse.parse_csv(text.encode(), "log.csv")
    assert parsed is not None and parsed.precoded is not None
    cells = parsed.precoded.cells
    at_once = columnar._pairs(cells, harbour)
    offers: list[None] = []
    sched_yield = os.sched_yield
    monkeypatch.setattr(os, "sched_yield", lambda: offers.append(sched_yield()))
    monkeypatch.setattr(columnar, "_TYPED_AT_ONCE", 7)
    sliced = columnar._pairs(cells, harbour)
    assert sliced == at_once
    distinct = [len(dictionary) for dictionary in cells.dictionaries]
    assert max(distinct) > 7 * 3  # several slices of a column
    assert len(offers) == sum(-(-count // 7) for count in distinct)
    # And typed, not left as text: the datetime field's pairs hold datetimes.
    engaged = at_once[cells.names.index("last_engaged")]
    assert all(pair is None or isinstance(pair[1], dt.datetime) for pair in engaged)


_OFFSETS = st.tuples(
    st.sampled_from("+-"), st.integers(0, 25), st.sampled_from([":", ":", ""]), st.integers(0, 61)
).map(lambda t: f"{t[0]}{t[1]:02}{t[2]}{t[3]:02}")
_DATETIME_TEXTS = st.builds(
    "{}-{}-{}{}{}:{}{}{}{}".format,
    st.one_of(
        st.integers(1900, 2199), st.sampled_from([1899, 1900, 2199, 2200]), st.integers(0, 9999)
    ).map("{:04}".format),
    st.integers(0, 13).map("{:02}".format),
    st.integers(0, 32).map("{:02}".format),
    st.sampled_from(["T", "T", "T", "t", " "]),
    st.integers(0, 25).map("{:02}".format),
    st.integers(0, 61).map("{:02}".format),
    st.one_of(st.just(""), st.integers(0, 61).map(":{:02}".format)),
    st.one_of(st.just(""), st.integers(1, 7).map(lambda n: "." + "5" * n)),
    st.one_of(st.sampled_from(["Z", "Z", "z", "", "+00:00", "-00:00"]), _OFFSETS),
)


def _typed_column(texts: list[str]) -> dict[str, object] | None:
    """`columnar._pairs` of one datetime column holding `texts` (and an empty cell, on a row
    with a cell in another column: only rows with a cell are coded), by text; None if it
    declines."""
    rows = len(texts) + 1
    other = pa.array([""] * len(texts) + ["x"], pa.string())
    columns = [("t", pa.array([*texts, ""], pa.string())), ("other", other)]
    cells = columnar_parse._Cells.of(columns, rows)
    try:
        [column, _] = columnar._pairs(cells, agreement("cases"))
    except columnar_parse._Declined:
        return None
    by_text = dict(zip(cells.dictionaries[0].to_pylist(), column, strict=True))
    assert by_text.pop("") is None
    return by_text


@pytest.mark.parametrize(
    ("text", "fits"),
    [
        # The hour is inside the years covered, the cell is not (or the other way round).
        ("1900-01-01T00:30:00+05:00", False),
        ("2199-12-31T23:30:00-05:00", False),
        ("1899-12-31T23:30:00-05:00", True),
        ("2200-01-01T00:30:00+05:00", True),
        ("2026-03-02T09:15:00.123456+11:00", True),
        ("2026-02-29T09:15:00Z", False),
    ],
)
def test_datetime_cells_at_the_edges_typed_from_their_pieces(text: str, fits: bool) -> None:
    typer = replay._Cells(agreement("cases"))
    if fits:
        (pair,) = typer.typed((("t", text),))
        got = _typed_column([text, "2026-03-02T09:15:00+11:00"])
        assert got is not None and got[text] == pair
    else:
        with pytest.raises(replay._CellError):
            typer.typed((("t", text),))
        assert _typed_column([text, "2026-03-02T09:15:00+11:00"]) is None


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(_DATETIME_TEXTS, min_size=1, max_size=12))
def test_datetime_cells_typed_from_their_pieces_are_typed_as_whole(texts: list[str]) -> None:
    # `_datetimes` reads each distinct date-and-hour and rest once and adds them; the value,
    # or the refusal, is what `replay._Cells` gives for the whole cell.
    typer = replay._Cells(agreement("cases"))
    expected: dict[str, object] = {}
    for text in texts:
        try:
            (expected[text],) = typer.typed((("t", text),))
        except replay._CellError:
            assert _typed_column([text]) is None, text
        else:
            assert _typed_column([text]) == {text: expected[text]}, text
    # Together, sharing hours and rests read once.
    together = _typed_column(list(expected))
    assert together == expected
    for text, pair in (together or {}).items():
        assert repr(pair) == repr(expected[text]), text
        assert isinstance(pair, tuple) and pair[1].tzinfo is dt.UTC


def test_a_stage_name_wins_over_an_alias_of_the_same_spelling() -> None:
    base = agreement("cases")
    odd = dataclasses.replace(base, aliases={**base.aliases, "closed": "open", "open": "new"})
    rows = "\n".join(
        [
            "lead_id,timestamp,type,value",
            "L1,2026-03-02T09:00:00Z,stage,closed",
            "L1,2026-03-02T10:00:00Z,stage,open",
            "L1,2026-03-02T11:00:00Z,stage,opened",
            "L1,2026-03-02T12:00:00Z,activity,opened",
        ]
    )
    got = check(rows.encode(), odd)
    assert [row.value for row in got.leads["L1"]] == ["closed", "open", "open", "opened"]


def test_leads_are_in_code_point_order() -> None:
    # UTF-16 order would put the astral U+1D518 before U+FFFF; Python and UTF-8 bytes do not.
    leads = ["z", "\U0001d518", "\uffff", "é", "e", "E", "L10", "L2", "Ж", "a b", "ab", "a"]
    rows = [f"{lead},2026-03-02T09:00:00Z,update,,,," for lead in leads]
    got = check(
        "\n".join(["lead_id,timestamp,type,value,actor,team,event_id", *rows]).encode(),
        agreement("cases"),
    )
    assert list(got.leads) == sorted(leads)


def test_duplicates_first_in_file_order_wins_before_the_as_of_filter() -> None:
    rows = "\n".join(
        [
            "lead_id,timestamp,type,value,event_id",
            "L1,2026-03-05T00:00:00Z,stage,open,E1",  # kept, but after the as-of
            "L1,2026-03-01T00:00:00Z,stage,new,E1",  # a duplicate, although before it
            "L2,2026-03-01T00:00:00Z,stage,new,",
            "L2,2026-03-01T00:00:00Z,stage,new,",  # no id: never a duplicate
            "L3,2026-03-01T00:00:00Z,stage,new,E2",
            "L3,2026-03-01T00:00:00Z,stage,new,E2",
        ]
    )
    as_of = (
        dt.datetime(2026, 3, 3, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    ) // dt.timedelta(microseconds=1)
    got = check(rows.encode(), agreement("cases"), as_of)
    assert got.accounting == Accounting(6, 3, 0, 2, 1)
    assert list(got.leads) == ["L2", "L3"]


def test_every_row_after_the_as_of() -> None:
    got = check(LOG.encode(), agreement("cases"), as_of=0, start_seq=3)
    assert (len(got.leads), list(got.leads), got.accounting.after_as_of) == (0, [], 5)


def test_without_optional_columns() -> None:
    rows = ["update,2026-03-02T09:00:00Z,L1", "update,2026-03-02T09:00:01Z,L2"]
    check("\n".join(["type,timestamp,lead_id", *rows]).encode(), agreement("cases"))
    rows = ["update,2026-03-02T09:00:00Z,L1,,", "update,2026-03-02T09:00:01Z,L2,7,"]
    check("\n".join(["type,timestamp,lead_id,n,s", *rows]).encode(), agreement("cases"))
    # Attribute columns without a single cell.
    rows = ["L1,2026-03-02T09:00:00Z,stage,new,", "L2,2026-03-02T09:00:00Z,update,,"]
    check("\n".join(["lead_id,timestamp,type,value,n", *rows]).encode(), agreement("cases"))


def test_counter_adds_to_earlier_counts() -> None:
    data = LOG.encode()
    note = readers._diagnostic("a.csv", 1, "SLA901", "x", "y")
    earlier = {"rows": 5, "events": 4, "rejected": 1, "blank_lines": 2, "notes": [note]}
    counter = readers.ReadCounter(**earlier)  # type: ignore[arg-type]
    expected_counter = readers.ReadCounter(**earlier)  # type: ignore[arg-type]
    got, _ = columnar_prepare(data, "b.csv", agreement("cases"), None, 5, counter=counter)
    expected, _ = reference(data, "b.csv", agreement("cases"), None, 5, counter=expected_counter)
    assert_same(got, expected, agreement("cases"))
    assert counter == expected_counter and counter.rows == 10


def test_leads_mapping() -> None:
    got = check(LOG.encode(), agreement("cases"))
    leads = got.leads
    number: object = 1
    assert len(leads) == 2 and "L1" in leads and "L3" not in leads and number not in leads
    with pytest.raises(KeyError):
        leads["L3"]
    assert leads.get("L3") is None
    assert dict(leads) == dict(reference(LOG.encode(), "log.csv", agreement("cases"))[0].leads)


def test_blocks_are_built_when_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "BLOCK_LEADS", 3)
    text = generate.generate_csv_text(agreement("harbour-b2b"), 20, 2, START, 30)
    got = check(text.encode(), agreement("harbour-b2b"))
    fresh, _ = columnar_prepare(text.encode(), "log.csv", agreement("harbour-b2b"))
    assert fresh is not None and len(fresh.leads) == 20
    blocks = fresh.leads._blocks  # type: ignore[attr-defined]
    assert blocks == {}
    ids = list(fresh.leads)
    seventh = ids[7]
    assert fresh.leads[seventh] == got.leads[seventh]
    assert list(blocks) == [2]
    assert fresh.leads[seventh] is fresh.leads[seventh]
    # The block's last lead looked up lets the block go; looking up again builds equal rows.
    last = fresh.leads[ids[8]]
    assert blocks == {}
    assert last == got.leads[ids[8]] == fresh.leads[ids[8]]
    assert fresh.leads[ids[19]] == got.leads[ids[19]] and blocks == {}  # the short last block
    assert dict(fresh.leads) == dict(got.leads) and blocks == {}


# ---------------------------------------------------------------- random plain logs

LEADS = ("L1", "L2", "l1", "é", "Ж", "\U0001d518", "\uffff", "z", "L10", "a b")
STAMP_PIECES = (
    ["2026-03-02", "2026-03-01", "1969-12-31", "2024-02-29"],
    ["T", "t", " "],
    ["00", "09", "23"],
    [":00", ":15", ":15:07", ":15:07.5", ":59:59.999999"],
    ["Z", "z", "+11:00", "+1100", "+11", "-05:30", "-03", "+18:00"],
)
# A piece of a timestamp the reference refuses, in each place.
BAD_STAMP_PIECES = (["2026-02-30"], ["_"], ["24"], [":15:07.1234567", ":60"], ["+19:00", ""])
CELLS = {
    "n": ["72", "-1.5", ".5", "0"],
    "m": ["18500", "99.95"],
    "b": ["true", "No", "1"],
    "e": ["gold", "silver plate"],
    "d": ["2026-03-02", "2024-02-29"],
    "t": ["2026-03-02T09:15:00+11:00", "2026-03-02 09:15", "2026-03-02T09:15:00Z"],
    "s": ["x", "a b", "ß", "72"],
    "extra": ["y", "Ünï", "z"],
}
BAD_CELLS = {"n": "abc", "m": "1e3", "b": "maybe", "e": "tin", "d": "2026-02-30", "t": "soon"}
VALUES = {
    "stage": ["new", "open", "closed", "Fresh Lead", "né", "opened"],
    "activity": ["call", "demo", "new"],
    "assign": ["one@example.org", "Ann Smith"],
    "update": [""],
}
FAULTS = ("stamp", "type", "value", "stage", "cell")


@st.composite
def rows(draw: st.DrawFn, attributes: tuple[str, ...], kinds: list[str]) -> dict[str, str]:
    """One row; about one in 60 has a fault that makes the reference reject it."""
    fault = draw(st.sampled_from(FAULTS)) if draw(st.integers(0, 59)) == 0 else None
    kind = draw(st.sampled_from(kinds))
    faulty = draw(st.integers(0, 4)) if fault == "stamp" else None
    stamp = "".join(
        draw(st.sampled_from(BAD_STAMP_PIECES[i] if i == faulty else STAMP_PIECES[i]))
        for i in range(5)
    )
    row = {
        "lead_id": draw(st.sampled_from(LEADS)),
        "timestamp": stamp,
        "type": "Stage" if fault == "type" else kind,
        "value": draw(st.sampled_from(VALUES[kind])),
        "actor": draw(st.sampled_from(["", "", "one@example.org", "Ann Smith"])),
        "team": draw(st.sampled_from(["", "", "desk", "Ünï"])),
        "event_id": draw(st.sampled_from(["", "", "E1", "E2", "E3", "é1"])),
    }
    for column in attributes:
        row[column] = draw(st.sampled_from(["", "", "", *CELLS[column]]))
    if fault == "value" and kind == "update":
        row["type"] = "activity"  # with no value
    elif fault == "value":
        row["value"] = ""
    elif fault == "stage":
        row["type"], row["value"] = "stage", "bogus"
    elif fault == "cell":
        typed = [column for column in attributes if column in BAD_CELLS]
        if typed:
            column = draw(st.sampled_from(typed))
            row[column] = BAD_CELLS[column]
    return row


@st.composite
def logs(draw: st.DrawFn) -> tuple[bytes, int | None, int]:
    """A small log that is plain in its bytes, with its as-of and start seq."""
    optional = draw(st.sets(st.sampled_from(["value", "actor", "team", "event_id"])))
    if draw(st.integers(0, 3)):
        optional.add("value")
    attributes = tuple(draw(st.sets(st.sampled_from(sorted(CELLS)))))
    columns = ["lead_id", "timestamp", "type", *sorted(optional), *attributes]
    columns = draw(st.permutations(columns))
    # Without a `value` column only update rows are readable.
    kinds = [*VALUES, "stage", "update"] if "value" in optional else ["update"]
    drawn = draw(st.lists(rows(attributes, kinds), min_size=1, max_size=25))
    lines = [",".join(columns)]
    lines += [",".join(row[column] for column in columns) for row in drawn]
    text = "\n".join(lines) + draw(st.sampled_from(["\n", ""]))
    if draw(st.booleans()):
        text = "\ufeff" + text
    as_of = draw(st.sampled_from([None, 1_772_400_000_000_000, 1_772_500_000_000_000]))
    return text.encode(), as_of, draw(st.integers(0, 1000))


@settings(max_examples=200, deadline=None)
@given(log=logs())
def test_random_plain_logs_match_or_are_declined(log: tuple[bytes, int | None, int]) -> None:
    data, as_of, start_seq = log
    expected, expected_counter = reference(data, "r.csv", agreement("cases"), as_of, start_seq)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "BLOCK_LEADS", 3)  # several blocks of leads
        patch.setattr(columnar, "_TYPED_AT_ONCE", 2)  # cells typed in several slices
        patch.setattr(columnar_parse, "_BLOCK_BYTES", 200)  # parsed in several pieces
        got, counter = columnar_prepare(data, "r.csv", agreement("cases"), as_of, start_seq)
        if got is None:
            # The logs are plain in their bytes, so only a row the reference refuses declines.
            assert expected.rejections
            assert counter == readers.ReadCounter()
        else:
            assert_same(got, expected, agreement("cases"))
            assert counter == expected_counter


# ---------------------------------------------------------------- declined logs


def _replaced(old: str, new: str, count: int = 1) -> bytes:
    assert old in LOG
    return LOG.replace(old, new, count).encode()


DECLINED = {
    "quote": _replaced("Ann Smith", '"Ann Smith"'),
    "quote inside a cell": _replaced("Ann Smith", 'Ann "Smith'),
    "crlf": LOG.replace("\n", "\r\n").encode(),
    "cr": LOG.replace("\n", "\r").encode(),
    "nul": _replaced("Ann Smith", "Ann\x00Smith"),
    "tab": _replaced("Ann Smith", "Ann\tSmith"),
    "vertical tab": _replaced("Ann Smith", "Ann\x0bSmith"),
    "form feed": _replaced("Ann Smith", "Ann\x0cSmith"),
    "file separator": _replaced("Ann Smith", "Ann\x1cSmith"),
    "group separator": _replaced("Ann Smith", "Ann\x1dSmith"),
    "record separator": _replaced("Ann Smith", "Ann\x1eSmith"),
    "unit separator": _replaced("Ann Smith", "Ann\x1fSmith"),
    "other control character": _replaced("Ann Smith", "Ann\x07Smith"),
    "control character in the last column": _replaced(",x\n", ",x\x01\n"),
    "control character in the first column": _replaced("\nL2,", "\nL\x1f2,"),
    "control character in the last row": _replaced("assign,one@", "assign,one\x02@"),
    "control character in a cell of its own": _replaced(",Ann Smith,", ",\x0c,"),
    "tab in the header": _replaced("lead_id,timestamp", "lead_id\t,timestamp"),
    "carriage return ending the header only": LOG.replace("\n", "\r\n", 1).encode(),
    "carriage return ending the last line only": (LOG[:-1] + "\r\n").encode(),
    "quote in the header": _replaced(",extra", ',"extra"'),
    "next line": _replaced("Ann Smith", "Ann\x85Smith"),
    "line separator": _replaced("Ann Smith", "Ann\u2028Smith"),
    "paragraph separator": _replaced("Ann Smith", "Ann\u2029Smith"),
    "no-break space inside a cell": _replaced("Ann Smith", "Ann\xa0Smith"),
    "no-break space at the end of a cell": _replaced("Ann Smith", "Ann Smith\xa0"),
    "ideographic space": _replaced("Ann Smith", "\u3000Ann Smith"),
    "leading space": _replaced(",stage,new,", ", stage,new,"),
    "trailing space": _replaced(",stage,new,", ",stage ,new,"),
    "space before the line end": _replaced(",x\n", ",x \n"),
    "space after the line start": _replaced("\nL2,", "\n L2,"),
    "space at the end of the file": (LOG + " ").encode(),
    "space at the start of the header": (" " + LOG).encode(),
    "space in a header name": _replaced("lead_id,timestamp", "lead_id ,timestamp"),
    "space-only cell": _replaced(",gold,", ", ,"),
    "blank line": _replaced("\nL2,", "\n\nL2,"),
    "blank line at the end": (LOG + "\n").encode(),
    "blank line before the header": ("\n" + LOG).encode(),
    "line of spaces": _replaced("\nL2,", "\n   \nL2,"),
    "line of commas": _replaced("\nL2,", "\n" + "," * 14 + "\nL2,"),
    "invalid UTF-8": _replaced("Ann Smith", "Ann Smith").replace(b"Ann", b"A\xffn"),
    "Windows-1252": LOG.replace("Ann Smith", "Zoë").encode("cp1252"),
    "surrogate": _replaced("Ann Smith", "Ann Smith").replace(b"Ann", b"A\xed\xa0\x80n"),
    "UTF-16": LOG.encode("utf-16"),
    "two byte-order marks": ("\ufeff\ufeff" + LOG).encode(),
    "header without lead_id": _replaced("lead_id,", "lead,"),
    "repeated header name": _replaced(",extra", ",s"),
    "unnamed header column": _replaced(",extra", ",extra,"),
    "header only": (HEADER + "\n").encode(),
    "header only without a line end": HEADER.encode(),
    "empty file": b"",
    "byte-order mark only": b"\xef\xbb\xbf",
    "row with a cell too many": _replaced(",x\n", ",x,\n"),
    "row with a cell too few": _replaced(",x\n", "\n"),
    "first row with a cell too few": _replaced(
        "E1,72,,,gold,,,Ann Smith,x", "E1,72,,,gold,,,Ann Smith"
    ),
    "unknown type": _replaced(",activity,", ",call,"),
    "type in capitals": _replaced(",activity,", ",Activity,"),
    "empty lead": _replaced("\nL2,", "\n,"),
    "stage without a value": _replaced(",stage,new,", ",stage,,"),
    "update with a value": _replaced(",update,,", ",update,x,"),
    "no value column and a stage row": b"lead_id,timestamp,type\nL1,2026-03-02T09:00:00Z,stage\n",
    "unknown stage": _replaced(",stage,new,", ",stage,New,"),
    "number that is not one": _replaced(",72,", ",72%,"),
    "enum value not declared": _replaced(",gold,", ",Gold,"),
    "boolean that is not one": _replaced(",yes,", ",ja,"),
    "date that is not one": _replaced(",2026-03-01,", ",2026-02-30,"),
    "datetime that is not one": _replaced(",2026-03-02 09:00,", ",tomorrow,"),
    "naive timestamp": _replaced("09:15:00+11:00", "09:15:00"),
    "date-only timestamp": _replaced("2026-03-02T09:15:00+11:00", "2026-03-02"),
    "timestamp with seven fraction digits": _replaced(
        "08:00:00.25-05:00", "08:00:00.2500000-05:00"
    ),
    "hour 24": _replaced("T09:15:00+11:00", "T24:15:00+11:00"),
    "minute 60": _replaced("T09:15:00+11:00", "T09:60:00+11:00"),
    "second 60": _replaced("T09:15:00+11:00", "T09:15:60+11:00"),
    "offset too large": _replaced("+11:00", "+18:30"),
    "offset minutes 60": _replaced("+11:00", "+10:60"),
    "not a real date": _replaced("2026-03-02T09:15", "2026-02-29T09:15"),
    "slashed date": _replaced("2026-03-02T09:15", "2026/03/02T09:15"),
    "epoch number": _replaced("2026-03-02T09:15:00+11:00", "1772403300"),
    "empty timestamp": _replaced("2026-03-02T09:15:00+11:00", ""),
    "row repeating the header": (LOG + HEADER + "\n").encode(),
}


@pytest.mark.parametrize("block_bytes", [1 << 22, 100])
@pytest.mark.parametrize("data", DECLINED.values(), ids=list(DECLINED))
def test_declined(data: bytes, block_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # In pieces, the control character is in a later piece than the first.
    monkeypatch.setattr(columnar_parse, "_BLOCK_BYTES", block_bytes)
    counter = readers.ReadCounter()
    assert (
        columnar.prepare_csv(
            data, "d.csv", agreement("cases"), readers.ReadOptions(), None, counter
        )
        is None
    )
    assert counter == readers.ReadCounter()


def test_text_decoded_piece_by_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    # Pieces of one byte: every character of more than one byte straddles a boundary.
    monkeypatch.setattr(columnar_parse, "_DECODED_BYTES", 1)
    wide = LOG.replace("Ann Smith", "Zoë €\U0001d518").replace("\nL2,", "\nЖ,")
    check(wide.encode(), agreement("cases"))
    for data in (
        wide.replace("€", "\xa0").encode(),
        wide.replace("€", "\u2028").encode(),
        wide.encode() + "€".encode()[:2],
        wide.encode().replace("€".encode(), "€".encode()[:2]),
    ):
        assert columnar_prepare(data, "w.csv", agreement("cases"))[0] is None


def test_a_log_too_large_for_a_text_column_is_declined(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar_parse, "_MAX_BYTES", len(LOG) - 1)
    assert columnar_prepare(LOG.encode(), "big.csv", agreement("cases")) == (
        None,
        readers.ReadCounter(),
    )
    monkeypatch.setattr(columnar_parse, "_MAX_BYTES", len(LOG))
    check(LOG.encode(), agreement("cases"))


def test_the_default_memory_pool_is_left_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    arrow = columnar_parse.pa  # type: ignore[attr-defined]
    before = arrow.default_memory_pool().backend_name
    check(LOG.encode(), agreement("cases"))
    assert columnar_prepare(b"x,y\n", "d.csv", agreement("cases"))[0] is None
    assert arrow.default_memory_pool().backend_name == before

    def no_jemalloc() -> None:
        raise NotImplementedError("this pyarrow is built without jemalloc")

    monkeypatch.setattr(arrow, "jemalloc_memory_pool", no_jemalloc)
    assert columnar_parse._pool().backend_name == "system"


def test_the_undeclined_log_is_read() -> None:
    check(LOG.encode(), agreement("cases"))
    check(("\ufeff" + LOG).encode(), agreement("cases"))
    check(LOG.rstrip("\n").encode(), agreement("cases"))


@pytest.mark.parametrize(
    "options",
    [
        readers.ReadOptions(log_timezone="Mars/Olympus"),
        readers.ReadOptions(log_timezone="Australia/Sydney", dst_policy="later"),
    ],
)
def test_log_time_zone_options(options: readers.ReadOptions) -> None:
    counter = readers.ReadCounter()
    got = columnar.prepare_csv(LOG.encode(), "z.csv", agreement("cases"), options, None, counter)
    if options.log_timezone == "Mars/Olympus":
        # The reference rejects the whole file for a zone that does not exist.
        assert (got, counter) == (None, readers.ReadCounter())
        return
    expected, expected_counter = reference(
        LOG.encode(), "z.csv", agreement("cases"), options=options
    )
    assert_same(got, expected, agreement("cases"))
    assert counter == expected_counter
    naive = _replaced("09:15:00+11:00", "09:15:00")
    assert columnar.prepare_csv(naive, "z.csv", agreement("cases"), options, None, counter) is None


@pytest.mark.parametrize(
    ("stamp", "rejected"),
    [
        ("1900-01-01T10:00:00+11:00", ["SLA903"]),  # 1899-12-31T23:00Z
        ("1900-01-01T10:00:00+05:00", []),
        ("2199-12-31T20:00:00-05:00", ["SLA903"]),  # 2200-01-01T01:00Z
        ("2199-12-31T20:00:00Z", []),
    ],
)
def test_an_hour_of_the_first_or_last_year_covered_is_read_row_by_row(
    stamp: str, rejected: list[str]
) -> None:
    # An offset can take an hour of 1900 or 2199 outside the years business calendars cover,
    # which the reference refuses row by row; the columnar reading declines such a log.
    data = f"lead_id,timestamp,type,value\nL1,{stamp},stage,new\n".encode()
    got, counter = columnar_prepare(data, "log.csv", agreement("cases"))
    assert got is None and counter == readers.ReadCounter()
    expected, _ = reference(data, "log.csv", agreement("cases"))
    assert [d.code for d in expected.rejections] == rejected
    # A year inside is read column-wise as ever.
    check(data.replace(stamp[:4].encode(), b"2026", 1), agreement("cases"))


def test_special_characters_are_every_one_str_strip_or_splitlines_treats_specially() -> None:
    special = {
        ch for ch in map(chr, range(0x110000)) if ch.isspace() or len(f"a{ch}b".splitlines()) > 1
    }
    assert special - {" ", "\n"} == set(columnar_parse._SPECIAL)


# ---------------------------------------------------------------- forked processes


def test_a_forked_process_builds_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columnar, "BLOCK_LEADS", 7)
    text = generate.generate_csv_text(agreement("harbour-b2b"), 40, 9, START, 60)
    prepared = check(text.encode(), agreement("harbour-b2b"))
    fresh, _ = columnar_prepare(text.encode(), "log.csv", agreement("harbour-b2b"))
    assert fresh is not None
    ids = list(fresh.leads)
    first, later = ids[0], ids[30]
    fresh.leads[first]  # the parent builds the first block before forking
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child() -> None:
        # pyarrow's thread pool after a fork: reading and computing must neither hang nor fail.
        again, _ = columnar_prepare(text.encode(), "log.csv", agreement("harbour-b2b"))
        assert again is not None and again.accounting == prepared.accounting
        sender.send([fresh.leads[lead] for lead in (first, later)])

    process = context.Process(target=child)
    process.start()
    sender.close()
    assert receiver.poll(60), "the forked process did not answer"
    built = receiver.recv()
    process.join(60)
    assert process.exitcode == 0
    assert built == [prepared.leads[first], prepared.leads[later]]
    assert 30 // 7 not in fresh.leads._blocks  # type: ignore[attr-defined]


class _Pieces:
    """A column whose dictionary encoding comes in pieces, each with a dictionary of its own."""

    def __init__(self, *pieces: list[str]) -> None:
        self.pieces = pieces

    def dictionary_encode(self) -> pa.ChunkedArray:
        return pa.chunked_array(
            [pa.array(piece, pa.string()).dictionary_encode() for piece in self.pieces]
        )


def test_a_column_in_pieces_is_coded_as_one() -> None:
    pieces = (["b", "a", "b"], ["c", "a"], [], ["a", "d"])
    chunked = pa.chunked_array([pa.array(piece, pa.string()) for piece in pieces])
    encoded = columnar_parse._encoded(chunked)
    assert isinstance(encoded, pa.DictionaryArray)
    assert encoded.to_pylist() == ["b", "a", "b", "c", "a", "a", "d"]
    assert encoded.dictionary.to_pylist() == ["b", "a", "c", "d"]
    # Pieces with dictionaries of their own (not what pyarrow makes) are merged.
    merged = columnar_parse._encoded(_Pieces(*pieces))
    assert merged.to_pylist() == ["b", "a", "b", "c", "a", "a", "d"]
    assert sorted(merged.dictionary.to_pylist()) == ["a", "b", "c", "d"]
    assert columnar_parse._encoded(pa.chunked_array([], pa.string())).to_pylist() == []
    assert columnar_parse._encoded(pa.array(["x", "x"])).to_pylist() == ["x", "x"]
