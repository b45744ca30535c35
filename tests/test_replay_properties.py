"""Properties of the replay: row order, lead independence, accounting, provenance, split and merge.

Logs are small CSVs judged by tests/data/replay/base.sla. Each mixes the rows of a few leads of
a seeded generated log (realistic handoffs, cycles, stalls and structural mistakes) with drawn
rows for a few more leads: instants on a half-hour grid, so several rows share one, written
with different UTC offsets; junk rows the reader or `prepare` must reject; exact copies of rows
(duplicate event ids); and rejected twins that carry a kept row's event id.

Row order and lead independence compare whole results after relabelling rows: a result of a
rearranged log has each `Origin` mapped back to the line the same row had in the original log
(`relabel`). Everything else (instants, outcomes, elapsed times, messages, attributes,
accounting, rejection reasons) must be equal as it stands.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import DATA, ROOT, check_text
from slaspec import generate, readers
from slaspec.compiler import Agreement
from slaspec.diagnostics import Diagnostic, sort_key
from slaspec.events import Event, Origin
from slaspec.render import render_json
from slaspec.replay import Engine, input_totals, prepare, replay_prepared
from slaspec.report import InputFile, build_report
from slaspec.results import LeadResult, ReplayResult, Violation, ViolationKind, merge

LOG = "log.csv"
AGREEMENT_NAME = "base.sla"
AGREEMENT_TEXT = (DATA / "replay" / AGREEMENT_NAME).read_text(encoding="utf-8")
AGREEMENT_LINES = AGREEMENT_TEXT.splitlines()


def compile_base() -> Agreement:
    checked = check_text(AGREEMENT_TEXT, AGREEMENT_NAME)
    assert checked.agreement is not None, checked.errors
    return checked.agreement


AGREEMENT = compile_base()
ENGINE = Engine(AGREEMENT)  # built once: calendars are the slow part, and they never change
HEADER = generate.columns(AGREEMENT)
COLUMN = {name: index for index, name in enumerate(HEADER)}
SYDNEY = ZoneInfo("Australia/Sydney")
START = dt.date(2026, 3, 2)
# Mistakes far more often than a real CRM makes them, so small logs still hold every finding.
HARSH = generate.Profile(
    breach=0.4,
    stall=0.4,
    unmet=0.3,
    shortfall=0.4,
    skip=0.15,
    bad_entry=0.1,
    reopen=0.1,
    duplicate=0.1,
)
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pool() -> dict[str, tuple[tuple[str, ...], ...]]:
    by_lead: dict[str, list[tuple[str, ...]]] = {}
    for cells in generate.generate(AGREEMENT, 80, 1, START, days=15, profile=HARSH):
        by_lead.setdefault(cells[COLUMN["lead_id"]], []).append(cells)
    return {lead: tuple(rows) for lead, rows in by_lead.items()}


POOL = _pool()
POOL_LEADS = sorted(POOL)
# Most generated leads never leave their first stage; draw mostly from those that do.
BUSY_LEADS = [lead for lead in POOL_LEADS if len(POOL[lead]) >= 3]


# ---------------------------------------------------------------- logs


@dataclass(frozen=True)
class Row:
    """A log row as written, and whether it must be rejected (by the reader or by `prepare`)."""

    cells: tuple[str, ...]
    junk: bool

    @property
    def lead(self) -> str:
        return self.cells[COLUMN["lead_id"]]

    @property
    def event_id(self) -> str:
        return self.cells[COLUMN["event_id"]]

    @property
    def instant(self) -> int | None:
        """UTC microseconds of the timestamp, or None when it is not a valid one."""
        try:
            moment = dt.datetime.fromisoformat(self.cells[COLUMN["timestamp"]])
        except ValueError:
            return None
        return None if moment.tzinfo is None else micros(moment)


def micros(moment: dt.datetime) -> int:
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def line(index: int) -> int:
    """The line of the index-th data row: the header is line 1 and no cell spans lines."""
    return index + 2


def csv_text(rows: Sequence[Row]) -> str:
    return "".join(generate.csv_lines((row.cells for row in rows), HEADER))


def read(rows: Sequence[Row]) -> list[Event | readers.Rejected]:
    return list(readers.read_log(csv_text(rows), LOG, "csv", readers.ReadOptions()))


def run(rows: Sequence[Row], as_of: int | None) -> ReplayResult:
    return replay_items(read(rows), as_of)


def replay_items(items: Sequence[Event | readers.Rejected], as_of: int | None) -> ReplayResult:
    """Replay read items."""
    return replay_prepared(ENGINE, prepare(AGREEMENT, items, as_of))


GRID_START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=SYDNEY)
GRID_STEPS = 12 * 48  # half hours over twelve days
OFFSETS = (
    dt.timedelta(hours=11),  # Sydney's own offset in March
    dt.timedelta(0),
    dt.timedelta(hours=-5),
    dt.timedelta(hours=5, minutes=30),
)
STAGE_VALUES = ("inquiry", "Lead", "mql", "marketingqualifiedlead", "sal", "sql", "won", "lost")
ACTORS = ("ann@x.example", "automation", "tom@x.example", "li@x.example", "sam@x.example")
VALUES: dict[str, st.SearchStrategy[str]] = {
    "stage": st.sampled_from(STAGE_VALUES),
    "activity": st.sampled_from(("call", "email", "meeting")),
    "assign": st.sampled_from(ACTORS),
    "update": st.just(""),
}
# What each corruption writes; every one of them must be rejected.
CORRUPTIONS: dict[str, tuple[str, str]] = {
    "timestamp": ("timestamp", "next tuesday"),
    "naive": ("timestamp", "2026-03-03T10:00:00"),  # no offset and no log time zone
    "lead": ("lead_id", ""),
    "type": ("type", "meeting"),
    "stage": ("value", "prospect"),
    "score": ("score", "1,000"),
    "on_hold": ("on_hold", "maybe"),
    "reason": ("reason", "broke"),
}


def stamp(step: int, offset: dt.timedelta) -> str:
    text = (GRID_START + dt.timedelta(minutes=30 * step)).astimezone(dt.timezone(offset))
    return text.isoformat().replace("+00:00", "Z")


@st.composite
def drawn_rows(draw: st.DrawFn, leads: Sequence[str]) -> list[Row]:
    """Hand-drawn rows for `leads`: ties across offsets, junk, lead-scoped event ids."""
    rows: list[Row] = []
    steps: list[int] = []
    for number in range(draw(st.integers(0, 18))):
        lead = draw(st.sampled_from(leads))
        if len(steps) > 0 and draw(st.booleans()):
            step = draw(st.sampled_from(steps))  # another row at the same instant
        else:
            step = draw(st.integers(0, GRID_STEPS))
        steps.append(step)
        kind = draw(st.sampled_from(("stage", "stage", "activity", "update", "assign")))
        value = draw(VALUES[kind])
        cells = dict.fromkeys(HEADER, "")
        cells.update(
            lead_id=lead,
            timestamp=stamp(step, draw(st.sampled_from(OFFSETS))),
            type=kind,
            value=value,
            actor=draw(st.sampled_from(("", *ACTORS, "stranger@x.example"))),
            team=draw(st.sampled_from(("", "", "sdr", "sales", "marketing"))),
            event_id=draw(st.sampled_from(("", f"{lead}-h{number}"))),
            score=draw(st.sampled_from(("", "", "45", "60", "85", "92.5"))),
            source=draw(st.sampled_from(("", "web", "referral"))),
            email=draw(st.sampled_from(("", "", "a@b.example"))),
            reason=draw(st.sampled_from(("", "", "no_budget"))),
            on_hold=draw(st.sampled_from(("", "", "", "true", "false"))),
        )
        corruption = draw(st.sampled_from((None,) * 6 + tuple(CORRUPTIONS)))
        if corruption is not None:
            column, bad = CORRUPTIONS[corruption]
            cells[column] = bad
            if corruption == "stage":
                cells["type"] = "stage"
        rows.append(Row(tuple(cells[name] for name in HEADER), corruption is not None))
    return rows


@dataclass(frozen=True)
class Log:
    """A drawn log and the as-of to replay it with (None: the default)."""

    rows: tuple[Row, ...]
    as_of: int | None


@st.composite
def logs(draw: st.DrawFn) -> Log:
    """Generated rows of a few pool leads, drawn rows, copies and rejected twins, in any order."""
    chosen = draw(st.lists(st.sampled_from(BUSY_LEADS), max_size=5, unique=True))
    chosen += draw(st.lists(st.sampled_from(POOL_LEADS), max_size=2, unique=True))
    chosen = list(dict.fromkeys(chosen))
    rows = [Row(cells, False) for lead in chosen for cells in POOL[lead]]
    hand_leads = ["H1", "H2", "H3", *chosen[:1]]
    rows += draw(drawn_rows(hand_leads))
    with_ids = [row for row in rows if row.event_id]
    for _ in range(draw(st.integers(0, 3)) if with_ids else 0):
        rows.append(draw(st.sampled_from(with_ids)))  # exported twice: same event id
    for _ in range(draw(st.integers(0, 2)) if with_ids else 0):
        twin = list(draw(st.sampled_from(with_ids)).cells)
        twin[COLUMN["timestamp"]] = "not a time"  # rejected, so it must not claim the id
        rows.append(Row(tuple(twin), True))
    rows = list(draw(st.permutations(rows)))
    as_of = draw(
        st.one_of(
            st.none(),
            st.integers(0, GRID_STEPS).map(
                lambda step: micros(GRID_START + dt.timedelta(minutes=30 * step))
            ),
        )
    )
    return Log(tuple(rows), as_of)


# ---------------------------------------------------------------- an independent model


def buckets(rows: Sequence[Row], as_of: int | None) -> dict[int, str]:
    """Each line's bucket by semantics 8-9: rejected, duplicate, after as-of, else replayed."""
    found: dict[int, str] = {}
    claimed: set[str] = set()
    for index, row in enumerate(rows):
        if row.junk:
            found[line(index)] = "rejected"
        elif row.event_id and row.event_id in claimed:
            found[line(index)] = "duplicate"
        else:
            if row.event_id:
                claimed.add(row.event_id)
            found[line(index)] = "kept"
    kept = [row.instant for index, row in enumerate(rows) if found[line(index)] == "kept"]
    limit = as_of if as_of is not None else max((t for t in kept if t is not None), default=0)
    for index, row in enumerate(rows):
        if found[line(index)] == "kept":
            instant = row.instant
            assert instant is not None
            found[line(index)] = "after_as_of" if instant > limit else "replayed"
    return found


# ---------------------------------------------------------------- relabelling


LINE_IN_MESSAGE = re.compile(rf"(`{re.escape(LOG)}` line )(\d+)")


def relabel(result: ReplayResult, lines: Mapping[int, int]) -> ReplayResult:
    """The result with every row of LOG renumbered by `lines`, in the engine's sort orders."""

    def origin(o: Origin) -> Origin:
        return Origin(o.file, lines[o.row]) if o.file == LOG else o

    def maybe(o: Origin | None) -> Origin | None:
        return None if o is None else origin(o)

    def diagnostic(d: Diagnostic) -> Diagnostic:
        if d.file != LOG or d.row is None:
            return d
        # Reader messages quote the line as well ("`log.csv` line 7, column ...").
        message = LINE_IN_MESSAGE.sub(lambda m: f"{m[1]}{lines[int(m[2])]}", d.message)
        return dataclasses.replace(d, row=lines[d.row], message=message)

    leads = tuple(relabel_lead(lead, origin, maybe) for lead in result.leads)
    rejections = tuple(sorted((diagnostic(d) for d in result.rejections), key=sort_key))
    return dataclasses.replace(result, leads=leads, rejections=rejections)


def relabel_lead(
    lead: LeadResult,
    origin: Callable[[Origin], Origin],
    maybe: Callable[[Origin | None], Origin | None],
) -> LeadResult:
    violations = sorted(
        (dataclasses.replace(v, rows=tuple(origin(o) for o in v.rows)) for v in lead.violations),
        key=violation_order,
    )
    return dataclasses.replace(
        lead,
        stays=tuple(dataclasses.replace(s, row=origin(s.row)) for s in lead.stays),
        cycles=tuple(
            dataclasses.replace(c, start_row=origin(c.start_row), end_row=maybe(c.end_row))
            for c in lead.cycles
        ),
        violations=tuple(violations),
    )


def violation_order(v: Violation) -> tuple[int, str, str, tuple[tuple[str, int], ...]]:
    """The engine's order of a lead's violations, rows compared as (file, line)."""
    return (v.at, v.kind.value, v.rule, tuple((o.file, o.row) for o in v.rows))


def identity(rows: Sequence[Row]) -> dict[int, int]:
    return {line(i): line(i) for i in range(len(rows))}


def stable_shuffle(rows: Sequence[Row], order: Sequence[int]) -> list[int]:
    """`order` with rows that share an instant put back in their original relative order."""
    groups: dict[object, list[int]] = {}
    for index, row in enumerate(rows):
        instant = row.instant
        # Rows with no valid instant are rejected and have no place in replay order.
        groups.setdefault(instant if instant is not None else ("none", index), []).append(index)
    queues = {key: iter(members) for key, members in groups.items()}
    key_of = {index: key for key, members in groups.items() for index in members}
    return [next(queues[key_of[index]]) for index in order]


# ---------------------------------------------------------------- properties


@SETTINGS
@given(logs(), st.data())
def test_result_does_not_depend_on_row_order_across_timestamps(
    log: Log, data: st.DataObject
) -> None:
    order = stable_shuffle(log.rows, data.draw(st.permutations(range(len(log.rows)))))
    shuffled = [log.rows[i] for i in order]
    original = run(log.rows, log.as_of)
    rearranged = run(shuffled, log.as_of)
    back = {line(k): line(i) for k, i in enumerate(order)}
    assert relabel(rearranged, back) == relabel(original, identity(log.rows))


@SETTINGS
@given(logs(), st.data())
def test_a_lead_never_changes_another_leads_result(log: Log, data: st.DataObject) -> None:
    leads = sorted({row.lead for row in log.rows if row.lead})
    if not leads:
        return
    removed = data.draw(st.sampled_from(leads))
    full = run(log.rows, log.as_of)
    kept = [i for i, row in enumerate(log.rows) if row.lead != removed]
    without = run([log.rows[i] for i in kept], full.as_of)
    back = {line(k): line(i) for k, i in enumerate(kept)}
    expected = {
        lead.lead: lead for lead in relabel(full, identity(log.rows)).leads if lead.lead != removed
    }
    actual = {lead.lead: lead for lead in relabel(without, back).leads}
    assert actual == expected


@SETTINGS
@given(logs())
def test_every_row_lands_in_exactly_one_bucket(log: Log) -> None:
    result = run(log.rows, log.as_of)
    model = buckets(log.rows, log.as_of)
    counts = Counter(model.values())
    a = result.accounting
    assert a.read == len(log.rows)
    assert (a.replayed, a.rejected, a.duplicate, a.after_as_of) == (
        counts["replayed"],
        counts["rejected"],
        counts["duplicate"],
        counts["after_as_of"],
    )
    assert a.read == a.replayed + a.rejected + a.duplicate + a.after_as_of
    assert a.balanced
    assert sorted(d.row for d in result.rejections if d.row is not None) == sorted(
        number for number, bucket in model.items() if bucket == "rejected"
    )
    assert sum(lead.events for lead in result.leads) == a.replayed
    per_lead = Counter(
        log.rows[number - 2].lead for number, bucket in model.items() if bucket == "replayed"
    )
    assert {lead.lead: lead.events for lead in result.leads} == dict(per_lead)


def test_like_violations_at_one_instant_are_ordered_by_row() -> None:
    text = "lead_id,timestamp,type,value\n" + "".join(
        f"H1,2026-03-02T08:00:00+11:00,stage,{stage}\n"
        for stage in ("inquiry", "mql", "inquiry", "mql")
    )
    items = list(readers.read_log(text, LOG, "csv", readers.ReadOptions()))
    (lead,) = replay_prepared(ENGINE, prepare(AGREEMENT, items)).leads
    # Same second, so section 4 keeps file order: mql without score or email, back to
    # inquiry with no handoff declared, and mql again without them.
    assert [(v.kind, v.rule, v.rows) for v in lead.violations] == [
        (ViolationKind.CRITERIA_UNMET, "inquiry -> mql", (Origin(LOG, 3),)),
        (ViolationKind.CRITERIA_UNMET, "inquiry -> mql", (Origin(LOG, 5),)),
        (ViolationKind.ILLEGAL_TRANSITION, "mql -> inquiry", (Origin(LOG, 4),)),
    ]
    assert lead.final_stage == "mql"


# What each kind of finding cites: the keyword its clause line starts with, and the name.
CLAUSE_OF: dict[ViolationKind, Callable[[Violation], str]] = {
    ViolationKind.INVALID_ENTRY: lambda v: f"stage {v.rule} ",
    ViolationKind.ILLEGAL_TRANSITION: lambda v: f"stage {v.rule.split(' -> ')[0]} ",
    ViolationKind.STALL: lambda v: f"stage {v.rule} ",
    ViolationKind.CRITERIA_UNMET: lambda v: f"handoff {v.rule}",
    ViolationKind.CLOCK_BREACHED: lambda v: "goal ",
    ViolationKind.CADENCE_BREACHED: lambda v: f"cadence {v.rule} ",
}


def enclosing_block(number: int) -> str:
    """The unindented line that opens the block holding line `number` (1-based)."""
    for text in reversed(AGREEMENT_LINES[:number]):
        if text and not text[0].isspace() and not text.startswith("#"):
            return text
    raise AssertionError(f"line {number} is in no block")


def check_provenance(rows: Sequence[Row], as_of: int | None, result: ReplayResult) -> None:
    model = buckets(rows, as_of)

    def cites_a_replayed_row(origin: Origin, lead: str) -> None:
        assert origin.file == LOG
        assert model.get(origin.row) == "replayed", origin
        assert rows[origin.row - 2].lead == lead

    for lead in result.leads:
        for stay in lead.stays:
            cites_a_replayed_row(stay.row, lead.lead)
        for cycle in lead.cycles:
            cites_a_replayed_row(cycle.start_row, lead.lead)
            if cycle.end_row is not None:
                cites_a_replayed_row(cycle.end_row, lead.lead)
        for v in lead.violations:
            assert v.lead == lead.lead and v.rows
            for origin in v.rows:
                cites_a_replayed_row(origin, lead.lead)
            file, _, number = v.clause.rpartition(":")
            assert file == AGREEMENT_NAME
            text = AGREEMENT_LINES[int(number) - 1].strip()
            assert text.startswith(CLAUSE_OF[v.kind](v)), (v.kind, v.clause, text)
            if v.kind is ViolationKind.CLOCK_BREACHED:
                assert enclosing_block(int(number)).startswith(f"clock {v.rule} ")


@SETTINGS
@given(logs())
def test_every_finding_points_at_a_replayed_row_and_its_clause(log: Log) -> None:
    check_provenance(log.rows, log.as_of, run(log.rows, log.as_of))


def test_the_pool_exercises_every_kind_of_finding() -> None:
    """The whole pool holds every violation kind, so the provenance property sees each one."""
    rows = [Row(cells, False) for lead in POOL_LEADS for cells in POOL[lead]]
    result = run(rows, None)
    assert {v.kind for v in result.violations} == set(ViolationKind)
    check_provenance(rows, None, result)


# ---------------------------------------------------------------- split and merge


def partition_items(
    items: Iterable[Event | readers.Rejected], part_of: Callable[[str], int], parts: int
) -> list[list[Event | readers.Rejected]]:
    """Items split by lead; a rejected row goes with the lead named in its line, if any."""
    split: list[list[Event | readers.Rejected]] = [[] for _ in range(parts)]
    for item in items:
        lead = item.lead if isinstance(item, Event) else ""
        split[part_of(lead)].append(item)
    return split


def replay_parts(
    items: Sequence[Event | readers.Rejected], part_of: Callable[[str], int], parts: int
) -> tuple[ReplayResult, ReplayResult]:
    """The whole replay, and the merge of the parts each prepared with the whole's as-of."""
    whole = replay_items(items, None)
    results = [replay_items(part, whole.as_of) for part in partition_items(items, part_of, parts)]
    return whole, merge(results)


def by_hash(parts: int) -> Callable[[str], int]:
    return lambda lead: zlib.crc32(lead.encode()) % parts


@SETTINGS
@given(logs(), st.sampled_from((2, 3)), st.booleans(), st.randoms(use_true_random=False))
def test_merge_of_lead_partitions_equals_the_whole(
    log: Log, parts: int, hashed: bool, rng: random.Random
) -> None:
    items = read(log.rows)
    if hashed:
        part_of = by_hash(parts)
    else:
        assigned: dict[str, int] = {}
        part_of = lambda lead: assigned.setdefault(lead, rng.randrange(parts))  # noqa: E731
    whole, merged = replay_parts(items, part_of, parts)
    assert merged == whole


@SETTINGS
@given(logs(), st.sampled_from((2, 3)))
def test_leads_of_one_prepared_input_replay_apart(log: Log, parts: int) -> None:
    items = read(log.rows)
    whole = replay_items(items, log.as_of)
    prepared = prepare(AGREEMENT, items, log.as_of)
    part_of = by_hash(parts)
    subsets = [[lead for lead in prepared.leads if part_of(lead) == k] for k in range(parts)]
    merged = merge(
        [input_totals(prepared), *(replay_prepared(ENGINE, prepared, s) for s in subsets)]
    )
    assert merged == whole


def test_merge_of_subsets_of_one_prepared_input_counts_each_row_once() -> None:
    text = (
        "lead_id,timestamp,type,value\n"
        "A,2026-03-02T09:00:00+11:00,stage,inquiry\n"
        "B,2026-03-02T09:30:00+11:00,stage,inquiry\n"
        "C,not a time,stage,inquiry\n"
    )
    items = list(readers.read_log(text, LOG, "csv", readers.ReadOptions()))
    prepared = prepare(AGREEMENT, items)
    whole = replay_prepared(ENGINE, prepared)
    merged = merge(
        [
            input_totals(prepared),
            replay_prepared(ENGINE, prepared, ["A"]),
            replay_prepared(ENGINE, prepared, ["B"]),
        ]
    )
    assert merged.accounting == whole.accounting
    assert merged.rejections == whole.rejections


def report_json(agreement: Agreement, result: ReplayResult, log_sha: str) -> str:
    inputs = [InputFile(path=LOG, sha256=log_sha, kind="log")]
    return render_json(build_report(agreement, result, inputs, "test", "test"))


def test_split_and_merge_of_a_generated_harbour_log() -> None:
    """3,000 generated leads on agreements/harbour-b2b.sla: the JSON report survives a split."""
    checked = check_text(
        (ROOT / "agreements" / "harbour-b2b.sla").read_text(encoding="utf-8"), "harbour-b2b.sla"
    )
    agreement = checked.agreement
    assert agreement is not None
    text = generate.generate_csv_text(agreement, 3000, 7, START, 90)
    items = list(readers.read_log(text, LOG, "csv", readers.ReadOptions()))
    engine = Engine(agreement)
    prepared = prepare(agreement, items)
    whole = replay_prepared(engine, prepared)
    assert len(whole.leads) == 3000 and whole.accounting.duplicate > 0
    expected = report_json(agreement, whole, "0" * 64)

    for parts, part_of in ((3, by_hash(3)), (2, lambda lead: random.Random(lead).randrange(2))):
        results = [
            replay_prepared(engine, prepare(agreement, part, whole.as_of))
            for part in partition_items(items, part_of, parts)
        ]
        assert all(r.leads for r in results)
        assert report_json(agreement, merge(results), "0" * 64) == expected

    # Leads of the one prepared input replayed apart, with that input's accounting once.
    halves = [[lead for lead in prepared.leads if by_hash(2)(lead) == k] for k in range(2)]
    merged = merge(
        [input_totals(prepared), *(replay_prepared(engine, prepared, h) for h in halves)]
    )
    assert report_json(agreement, merged, "0" * 64) == expected
