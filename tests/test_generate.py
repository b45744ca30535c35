"""Tests for the sample-log generator: determinism, canonical rows, and the planned variety."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import hashlib
import importlib.util
import io
import itertools
import os
import re
import subprocess
import sys
import zoneinfo
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slaspec import generate
from slaspec.compiler import Agreement
from slaspec.pipeline import check_agreement
from slaspec.readers import ReadOptions, Rejected, read_log
from slaspec.source import Source

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("harbour-b2b", "saas-waterfall", "solo-consultant")
TYPES = {"stage", "activity", "update", "assign"}
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}\Z")
NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)\Z")
START = dt.date(2026, 3, 2)

# An agreement of unusual shape: no default calendar, a team without members, a clock that
# starts on an activity and stops on an assignment, pauses, dates, Not, string comparisons.
ODD = """\
agreement "Odd shapes":
    version "1"
    effective 2026-03-02
    timezone "Europe/Berlin"

fields:
    tier: enum [gold, "silver plate", bronze]
    region: string "sales region"
    renewal: date "contract renewal date"
    touched: datetime "last touch"
    vip: boolean "a very important prospect"
    seats: number "licensed seats"
    price: money EUR "quoted price"

activities demo, note

team desk "Front desk":
    members "desk@example.org"

team field "Field sales"

stage new "New":
    owner desk
    initial

stage open "Open":
    owner field
    max dwell 3 days

stage closed "Closed":
    owner field
    terminal

stage dropped "Dropped":
    owner desk
    terminal

handoff new -> open:
    criteria not (tier = bronze) and region != "XX"
    criteria renewal >= 2026-01-01 or vip = true
    criteria touched within 2 days

handoff new -> dropped

handoff open -> closed:
    requires price
    criteria price >= 100 and seats > 5 and at least 1 demo by owner since entering open

handoff open -> dropped:
    criteria touched is not set or seats <= 5

clock triage "Triage":
    starts when activity note
    stops when lead is assigned
    goal 2 hours

clock demo_due "Demo":
    starts when lead enters open
    stops when activity demo by field
    pauses while vip = true
    pauses while in new
    goal 1 day
"""


def _read(path: str) -> Source:
    return Source(path, Path(path).read_text(encoding="utf-8"))


# An agreement without a lifecycle: only clocks on activities and assignments.
NO_STAGES = """\
agreement "Inbox only":
    version "1"
    effective 2026-03-02
    timezone "Pacific/Auckland"

activities email, call

team desk "Desk":
    members "one@example.org", "two@example.org"

clock answer "Answer every assignment":
    starts when lead is assigned
    stops when activity email, call by desk
    goal 4 hours
"""


@cache
def agreement(name: str) -> Agreement:
    if name in ("odd", "no-stages"):
        source = Source(f"{name}.sla", ODD if name == "odd" else NO_STAGES)
        checked = check_agreement(source, lambda p: source, dt.date(2026, 11, 30))
    else:
        checked = check_agreement(
            _read(str(ROOT / "agreements" / f"{name}.sla")), _read, dt.date(2026, 11, 30)
        )
    assert checked.agreement is not None, [d.message for d in checked.errors]
    return checked.agreement


@cache
def sample(name: str, leads: int = 150, seed: int = 11, days: int = 60) -> str:
    return generate.generate_csv_text(agreement(name), leads, seed, START, days)


def rows_of(text: str) -> tuple[list[str], list[list[str]]]:
    table = list(csv.reader(io.StringIO(text, newline="")))
    return table[0], table[1:]


def stage_of(agr: Agreement, value: str) -> str:
    stage = agr.stage_for(value)
    assert stage is not None, value
    return stage


# ---------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", [*EXAMPLES, "odd"])
def test_same_arguments_give_the_same_bytes(name: str) -> None:
    first = generate.generate_csv_text(agreement(name), 80, 5, START, 45)
    again = generate.generate_csv_text(agreement(name), 80, 5, START, 45)
    assert first == again


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_different_seed_gives_a_different_log(name: str) -> None:
    assert sample(name, 80, 1) != sample(name, 80, 2)


def test_output_does_not_depend_on_string_hashing() -> None:
    # Set iteration order changes with PYTHONHASHSEED; the log must not.
    script = (
        "import datetime as dt, hashlib, sys; from pathlib import Path;"
        "from slaspec.pipeline import check_agreement; from slaspec.source import Source;"
        "from slaspec.generate import generate_csv_text;"
        "read = lambda p: Source(p, Path(p).read_text(encoding='utf-8'));"
        "a = check_agreement(read(sys.argv[1]), read, dt.date(2026, 11, 30)).agreement;"
        "text = generate_csv_text(a, 60, 3, dt.date(2026, 3, 2), 40);"
        "print(hashlib.sha256(text.encode()).hexdigest())"
    )
    path = str(ROOT / "agreements" / "saas-waterfall.sla")
    # This process hashes strings with a random seed; the child with none (PYTHONHASHSEED=0).
    child = subprocess.run(
        [sys.executable, "-c", script, path],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    ).stdout
    expected = hashlib.sha256(
        generate.generate_csv_text(agreement("saas-waterfall"), 60, 3, START, 40).encode()
    ).hexdigest()
    assert child == expected + "\n"


def test_rows_and_csv_agree() -> None:
    agr = agreement("harbour-b2b")
    rows = list(generate.generate(agr, 40, 9, START, 30))
    header, parsed = rows_of(generate.generate_csv_text(agr, 40, 9, START, 30))
    assert tuple(header) == generate.columns(agr)
    assert [tuple(row) for row in parsed] == rows


# ---------------------------------------------------------------- canonical rows


@pytest.mark.parametrize("name", [*EXAMPLES, "odd"])
def test_every_row_is_a_valid_canonical_row(name: str) -> None:
    agr = agreement(name)
    header, rows = rows_of(sample(name))
    assert tuple(header) == generate.columns(agr)
    assert header[:7] == list(generate.FIXED_COLUMNS)
    assert set(header[7:]) == set(agr.fields)
    zone = zoneinfo.ZoneInfo(
        agr.calendars[agr.default_calendar].timezone if agr.default_calendar else agr.timezone
    )
    first = dt.datetime.combine(START, dt.time(), zone)
    last = dt.datetime.combine(START + dt.timedelta(days=60), dt.time(), zone)
    for row in rows:
        cells = dict(zip(header, row, strict=True))
        assert cells["lead_id"]
        assert cells["event_id"]
        assert STAMP.match(cells["timestamp"]), cells["timestamp"]
        moment = dt.datetime.fromisoformat(cells["timestamp"])
        # The offset is the zone's own offset at that instant, not a fixed one.
        assert moment.utcoffset() == moment.astimezone(zone).utcoffset()
        assert first <= moment < last
        kind, value = cells["type"], cells["value"]
        assert kind in TYPES
        if kind == "update":
            assert value == ""
            assert any(cells[f] for f in agr.fields), "an update sets something"
        else:
            assert value
        if kind == "stage":
            assert agr.stage_for(value) is not None, value
        if kind == "activity":
            assert value in agr.activities
        if cells["team"]:
            assert cells["team"] in agr.teams
            assert agr.roster.get(cells["actor"], cells["team"]) == cells["team"]
        for name_, field in agr.fields.items():
            raw = cells[name_]
            if not raw:
                continue
            match field.kind:
                case "number" | "money":
                    assert NUMBER.match(raw), (name_, raw)
                case "boolean":
                    assert raw in ("true", "false")
                case "enum":
                    assert raw in [v.value for v in field.values]
                case "date":
                    dt.date.fromisoformat(raw)
                case "datetime":
                    assert STAMP.match(raw), raw
                case "string":
                    assert raw == raw.strip()


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_canonical_reader_accepts_every_row(name: str) -> None:
    items = list(read_log(sample(name), f"{name}.csv", "csv", ReadOptions()))
    rejected = [item.diagnostic.message for item in items if isinstance(item, Rejected)]
    assert rejected == []
    assert len(items) == len(rows_of(sample(name))[1])


@pytest.mark.parametrize("name", [*EXAMPLES, "odd"])
def test_event_ids_are_unique_but_for_repeated_rows(name: str) -> None:
    _, rows = rows_of(sample(name, 400))
    by_id: dict[str, list[list[str]]] = collections.defaultdict(list)
    for row in rows:
        by_id[row[6]].append(row)
    repeated = {key: group for key, group in by_id.items() if len(group) > 1}
    # A repeated id is an exported row written twice: the same row, right after itself.
    for group in repeated.values():
        assert all(row == group[0] for row in group)
    extra = sum(len(group) - 1 for group in repeated.values())
    assert 0 < extra < 0.05 * len(rows)


@pytest.mark.parametrize("leads", [0, 1, 7, 120])
def test_the_requested_number_of_leads(leads: int) -> None:
    _, rows = rows_of(generate.generate_csv_text(agreement("harbour-b2b"), leads, 4, START, 30))
    assert len({row[0] for row in rows}) == leads


def test_rows_come_lead_by_lead_in_time_order() -> None:
    _, rows = rows_of(sample("saas-waterfall"))
    seen: list[str] = []
    for row in rows:
        if not seen or seen[-1] != row[0]:
            assert row[0] not in seen, "a lead's rows are contiguous"
            seen.append(row[0])
    assert seen == sorted(seen)
    for lead, group in _by_lead(rows).items():
        times = [dt.datetime.fromisoformat(row[1]) for row in group]
        assert times == sorted(times), lead


def test_arguments_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="leads"):
        generate.generate(agreement("harbour-b2b"), -1, 1, START)
    with pytest.raises(ValueError, match="days"):
        generate.generate(agreement("harbour-b2b"), 10, 1, START, 0)


def test_no_leads_is_a_header_only_log() -> None:
    text = generate.generate_csv_text(agreement("solo-consultant"), 0, 1, START)
    assert text == ",".join(generate.columns(agreement("solo-consultant"))) + "\n"


@pytest.mark.parametrize(
    ("cells", "line"),
    [
        (("a", "b"), "a,b\n"),
        (("x,y", "z"), '"x,y",z\n'),
        (('say "hi"', ""), '"say ""hi""",\n'),
        (("two\nlines", "cr\r"), '"two\nlines","cr\r"\n'),
        (("", ""), ",\n"),
    ],
)
def test_csv_quoting_follows_rfc_4180(cells: tuple[str, str], line: str) -> None:
    lines = list(generate.csv_lines([cells], ("h1", "h2")))
    assert lines == ["h1,h2\n", line]
    assert next(csv.reader(io.StringIO(line, newline=""))) == list(cells)


# ---------------------------------------------------------------- the planned variety


def _by_lead(rows: list[list[str]]) -> dict[str, list[list[str]]]:
    leads: dict[str, list[list[str]]] = collections.defaultdict(list)
    for row in rows:
        leads[row[0]].append(row)
    return leads


def _stage_paths(name: str, text: str) -> dict[str, list[str]]:
    agr = agreement(name)
    paths: dict[str, list[str]] = {}
    for lead, group in _by_lead(rows_of(text)[1]).items():
        stages = [stage_of(agr, row[3]) for row in group if row[2] == "stage"]
        paths[lead] = [s for i, s in enumerate(stages) if i == 0 or s != stages[i - 1]]
    return paths


@pytest.mark.parametrize("name", EXAMPLES)
def test_structural_problems_are_planted_in_a_few_leads(name: str) -> None:
    agr = agreement(name)
    text = sample(name, 1200, 21, 120)
    paths = _stage_paths(name, text)
    bad_entry = [p for p in paths.values() if not agr.stages[p[0]].initial]
    illegal = [
        (a, b)
        for p in paths.values()
        for a, b in itertools.pairwise(p)
        if (a, b) not in agr.handoffs
    ]
    reopened = [p for p in paths.values() if any(agr.stages[s].terminal for s in p[:-1])]
    assert 0 < len(bad_entry) < 0.03 * len(paths)
    assert 0 < len(illegal) < 0.05 * len(paths)
    assert len(reopened) < 0.02 * len(paths)
    # Most leads are clean: they start in an initial stage and follow declared handoffs.
    clean = [
        p
        for p in paths.values()
        if agr.stages[p[0]].initial and all(pair in agr.handoffs for pair in itertools.pairwise(p))
    ]
    assert len(clean) > 0.93 * len(paths)


def test_leaving_a_terminal_stage_is_planted() -> None:
    agr = agreement("harbour-b2b")
    profile = generate.Profile(reopen=1.0)
    text = generate.generate_csv_text(agr, 300, 2, START, 120, profile)
    paths = _stage_paths("harbour-b2b", text)
    reopened = [p for p in paths.values() if any(agr.stages[s].terminal for s in p[:-1])]
    assert reopened
    assert all(not agr.stages[p[-1]].terminal for p in reopened)


def test_a_clean_profile_plants_no_structural_problems() -> None:
    agr = agreement("saas-waterfall")
    profile = generate.Profile(skip=0, bad_entry=0, reopen=0, duplicate=0)
    text = generate.generate_csv_text(agr, 400, 8, START, 90, profile)
    paths = _stage_paths("saas-waterfall", text)
    assert all(agr.stages[p[0]].initial for p in paths.values())
    assert all(pair in agr.handoffs for p in paths.values() for pair in itertools.pairwise(p))
    ids = [row[6] for row in rows_of(text)[1]]
    assert len(ids) == len(set(ids))


def test_leads_walk_the_whole_funnel() -> None:
    agr = agreement("harbour-b2b")
    paths = _stage_paths("harbour-b2b", sample("harbour-b2b", 1200, 21, 120))
    reached = collections.Counter(stage for p in paths.values() for stage in set(p))
    assert set(reached) == set(agr.stages)
    # A funnel: fewer leads at every step towards a sale.
    assert reached["inquiry"] > reached["mql"] > reached["sql"] > reached["won"] > 0
    # Some leads stay open where they are.
    finals = collections.Counter(p[-1] for p in paths.values())
    assert finals["inquiry"] > 0 and finals["sal"] > 0


def test_business_hours_dominate_arrivals() -> None:
    # Sydney office hours: weekdays 09:00-12:00 and 13:00-17:30 (the timestamps are local).
    assert agreement("harbour-b2b").default_calendar == "sydney"
    firsts: dict[str, dt.datetime] = {}
    for row in rows_of(sample("harbour-b2b", 1200, 21, 120))[1]:
        firsts.setdefault(row[0], dt.datetime.fromisoformat(row[1]))
    inside = [
        moment
        for moment in firsts.values()
        if moment.weekday() < 5 and dt.time(9) <= moment.time() < dt.time(17, 30)
    ]
    assert 0.75 * len(firsts) < len(inside) < len(firsts)


def test_money_is_set_on_won_deals() -> None:
    agr = agreement("harbour-b2b")
    header, rows = rows_of(sample("harbour-b2b", 1200, 21, 120))
    amount = header.index("amount")
    won = [row for row in rows if row[2] == "stage" and stage_of(agr, row[3]) == "won"]
    assert won
    assert all(NUMBER.match(row[amount]) for row in won)
    # `opportunity -> won` asks for amount > 0; a few deals are closed without it on purpose.
    positive = [row for row in won if float(row[amount]) > 0]
    assert 0.85 * len(won) <= len(positive) < len(won)


def test_sdr_calls_follow_accepted_leads() -> None:
    # The sal_calls cadence and the sal -> sql criteria ask for calls by sales development.
    agr = agreement("harbour-b2b")
    _, rows = rows_of(sample("harbour-b2b", 1200, 21, 120))
    calls = collections.Counter(
        row[0]
        for row in rows
        if row[2] == "activity" and row[3] == "call" and (row[5] or agr.roster.get(row[4])) == "sdr"
    )
    accepted = {row[0] for row in rows if row[2] == "stage" and stage_of(agr, row[3]) == "sal"}
    assert accepted
    worked = [lead for lead in accepted if calls[lead] >= 6]
    assert 0.4 * len(accepted) < len(worked) < len(accepted)
    assert any(not row[5] for row in rows if row[2] == "activity"), "team left to the roster"
    assert any(row[5] for row in rows if row[2] == "activity"), "team written out"


def test_assignments_start_the_sequence_for_a_rep() -> None:
    agr = agreement("saas-waterfall")
    _, rows = rows_of(sample("saas-waterfall", 600, 3, 90))
    assigned = [row[3] for row in rows if row[2] == "assign"]
    assert assigned
    # Only sales development reps are dealt leads: the assignment starts their sequence.
    assert {agr.roster[rep] for rep in assigned} == {"sdr"}


def test_the_odd_agreement_exercises_its_rules() -> None:
    agr = agreement("odd")
    header, rows = rows_of(sample("odd", 400, 5, 60))
    kinds = collections.Counter(row[2] for row in rows)
    assert kinds["assign"] > 0 and kinds["activity"] > 0 and kinds["update"] > 0
    notes = [row for row in rows if row[2] == "activity" and row[3] == "note"]
    assert notes
    # The member-less team is named in the team column, since no roster can resolve it.
    field_rows = [row for row in rows if row[4].startswith("field.")]
    assert field_rows and all(row[5] == "field" for row in field_rows)
    vip = header.index("vip")
    assert {row[vip] for row in rows} >= {"true", "false"}
    paths = _stage_paths("odd", sample("odd", 400, 5, 60))
    assert any(p[-1] == "closed" for p in paths.values())
    assert agr.default_calendar is None


def test_an_agreement_without_stages_still_gets_leads() -> None:
    agr = agreement("no-stages")
    assert not agr.stages
    text = generate.generate_csv_text(agr, 50, 6, START, 30)
    header, rows = rows_of(text)
    assert header == list(generate.FIXED_COLUMNS)
    assert len({row[0] for row in rows}) == 50
    kinds = collections.Counter(row[2] for row in rows)
    assert kinds["assign"] >= 50 and kinds["activity"] > 0 and kinds["stage"] == 0
    items = list(read_log(text, "log.csv", "csv", ReadOptions()))
    assert not [item for item in items if isinstance(item, Rejected)]


@settings(max_examples=12, deadline=None)
@given(
    name=st.sampled_from([*EXAMPLES, "odd", "no-stages"]),
    leads=st.integers(min_value=0, max_value=25),
    seed=st.integers(min_value=0, max_value=2**32),
    days=st.integers(min_value=1, max_value=45),
)
def test_any_arguments_give_a_readable_deterministic_log(
    name: str, leads: int, seed: int, days: int
) -> None:
    agr = agreement(name)
    text = generate.generate_csv_text(agr, leads, seed, START, days)
    assert text == generate.generate_csv_text(agr, leads, seed, START, days)
    header, rows = rows_of(text)
    assert tuple(header) == generate.columns(agr)
    assert len({row[0] for row in rows}) == leads
    items = list(read_log(text, "log.csv", "csv", ReadOptions()))
    assert not [item for item in items if isinstance(item, Rejected)]
    for row in rows:
        if row[2] == "stage":
            assert agr.stage_for(row[3]) is not None


# ---------------------------------------------------------------- the committed examples


def test_the_examples_regenerate_byte_for_byte() -> None:
    spec = importlib.util.spec_from_file_location("regenerate", ROOT / "examples" / "regenerate.py")
    assert spec is not None and spec.loader is not None
    regenerate = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules while the class is built.
    sys.modules[spec.name] = regenerate
    try:
        spec.loader.exec_module(regenerate)
    finally:
        del sys.modules[spec.name]
    assert [example.output for example in regenerate.EXAMPLES] == [
        f"{name}.events.csv" for name in EXAMPLES
    ]
    for example in regenerate.EXAMPLES:
        target = ROOT / "examples" / example.output
        assert regenerate.render(example).encode("utf-8") == target.read_bytes(), example.output
        assert target.stat().st_size < 3_000_000
