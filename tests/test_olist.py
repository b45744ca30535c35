"""Real data: the Olist marketing funnel (MQLs, won deals) -> replay against data/olist/olist.sla.

The two Olist CSVs are turned into a canonical log by `canonical_log` below, replayed, and every
count is checked against `independent`, which reads the same CSVs with `csv` and `zoneinfo` only,
never through slaspec. The committed excerpt (tests/data/olist/, see its README.md) always runs;
the full files run too when ../shared is present.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest

from conftest import DATA, SHARED, TODAY, memory_reader, requires_shared
from slaspec import readers
from slaspec.compiler import Agreement
from slaspec.formatter import check_formatted
from slaspec.pipeline import Checked, check_agreement
from slaspec.replay import replay
from slaspec.results import LeadResult, Outcome, ReplayResult, ViolationKind
from slaspec.source import Source

EXCERPT = DATA / "olist"
ORIGINALS = SHARED / "data" / "realworld" / "olist-marketing-funnel"
MQLS = "olist_marketing_qualified_leads_dataset.csv"
DEALS = "olist_closed_deals_dataset.csv"
SHA256 = {
    MQLS: "5537753b7549ce4068e52e2402c29f2773c5375fc0575520ae8f3f301f666573",
    DEALS: "1433f402d8fff00ca167579de641d9525f6e846368958c166f699ef1b0c31f3d",
}
ZONE = ZoneInfo("America/Sao_Paulo")
GOAL = 30 * 86_400 * 1_000_000
ANOMALY = "b91cf8812365f50ff4bda4bcd6206b05"
LOG = "olist.csv"
CLOCK = "mql_to_won"
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def rows(text: str) -> list[dict[str, str]]:
    """The records of an Olist CSV."""
    return list(csv.DictReader(io.StringIO(text, newline="")))


def checked_agreement() -> Checked:
    """The Olist agreement after every check."""
    text = (EXCERPT / "olist.sla").read_text(encoding="utf-8")
    return check_agreement(Source("olist.sla", text), memory_reader({}), TODAY)


def agreement() -> Agreement:
    """The Olist agreement, compiled."""
    checked = checked_agreement()
    assert checked.agreement is not None, checked.diagnostics
    return checked.agreement


# ---------------------------------------------------------------- the converter


def canonical_log(mqls: str, deals: str) -> str:
    """The two Olist CSVs as one canonical log in São Paulo local time (no offsets).

    An MQL becomes `stage mql` at 00:00 of its first_contact_date with its `origin`; a deal
    becomes `stage won` at its won_date, by its SDR (`actor`), team `sales`.
    """
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*readers.RESERVED_COLUMNS, "origin"])
    for mql in rows(mqls):
        lead = mql["mql_id"]
        writer.writerow(
            [lead, f"{mql['first_contact_date']}T00:00:00", "stage", "mql", "", "marketing",
             f"mql-{lead}", mql["origin"]]
        )  # fmt: skip
    for deal in rows(deals):
        lead = deal["mql_id"]
        writer.writerow(
            [lead, deal["won_date"].replace(" ", "T"), "stage", "won", deal["sdr_id"], "sales",
             f"won-{lead}", ""]
        )  # fmt: skip
    return out.getvalue()


def replay_olist(mqls: str, deals: str) -> tuple[ReplayResult, readers.ReadStats]:
    """Convert, read in São Paulo time (a midnight lost to DST reads as the day's first instant)."""
    counter = readers.ReadCounter()
    options = readers.ReadOptions("America/Sao_Paulo", "later")
    items = list(readers.read_log(canonical_log(mqls, deals), LOG, "csv", options, 0, counter))
    return replay(agreement(), items), counter.freeze()


# ---------------------------------------------------------------- the independent computation


def instant(naive: dt.datetime) -> int:
    """A São Paulo wall time as UTC microseconds; a skipped or repeated time reads as the later."""
    readings = [naive.replace(tzinfo=ZONE, fold=fold).astimezone(dt.UTC) for fold in (0, 1)]
    delta = max(readings) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000


def ambiguous(naive: dt.datetime) -> bool:
    """True when a São Paulo wall time falls in a DST gap or fold (its two readings differ)."""
    readings = {naive.replace(tzinfo=ZONE, fold=fold).astimezone(dt.UTC) for fold in (0, 1)}
    return len(readings) == 2


@dataclass(frozen=True)
class Expected:
    """What a careful reader of the two CSVs expects the replay to find."""

    rows: int
    leads: int
    deals: int
    as_of: int
    dst_resolved: int
    final_won: int
    anomalies: tuple[str, ...]
    # lead -> (clock outcome, elapsed microseconds); the always calendar makes elapsed wall time
    clock: dict[str, tuple[str, int]]
    mql_entered: dict[str, int]
    origins: Counter[str | None]


def independent(mqls: str, deals: str) -> Expected:
    """The expected replay of the Olist funnel, computed from the CSVs without slaspec."""
    mql_rows, deal_rows = rows(mqls), rows(deals)
    mql_times = {r["mql_id"]: dt.datetime.fromisoformat(r["first_contact_date"]) for r in mql_rows}
    won_times = {r["mql_id"]: dt.datetime.fromisoformat(r["won_date"]) for r in deal_rows}
    started = {lead: instant(naive) for lead, naive in mql_times.items()}
    won = {lead: instant(naive) for lead, naive in won_times.items()}
    as_of = max([*started.values(), *won.values()])
    clock: dict[str, tuple[str, int]] = {}
    final_won = 0
    anomalies: list[str] = []
    for lead, start in started.items():
        end = won.get(lead)
        if end is not None and end >= start:
            final_won += 1
            clock[lead] = ("met" if end - start <= GOAL else "breached", end - start)
            continue
        if end is not None:
            anomalies.append(lead)  # won before its MQL: the clock starts later and never stops
        elapsed = as_of - start
        clock[lead] = ("breached" if elapsed > GOAL else "pending", elapsed)
    return Expected(
        rows=len(mql_rows) + len(deal_rows),
        leads=len(started.keys() | won.keys()),
        deals=len(won),
        as_of=as_of,
        dst_resolved=sum(ambiguous(t) for t in [*mql_times.values(), *won_times.values()]),
        final_won=final_won,
        anomalies=tuple(sorted(anomalies)),
        clock=clock,
        mql_entered=started,
        origins=Counter(r["origin"] or None for r in mql_rows),
    )


# ---------------------------------------------------------------- the excerpt


def select_excerpt(mqls: str, deals: str, size: int = 300) -> tuple[str, str]:
    """The committed excerpt, chosen from the originals by the rule in data/olist/README.md."""
    mql_rows, deal_rows = rows(mqls), rows(deals)
    day = {r["mql_id"]: dt.date.fromisoformat(r["first_contact_date"]) for r in mql_rows}
    gap_day = {r["mql_id"] for r in mql_rows if r["first_contact_date"] == "2017-10-15"}

    def days(deal: dict[str, str]) -> int:
        return (dt.date.fromisoformat(deal["won_date"][:10]) - day[deal["mql_id"]]).days

    chosen: list[str] = []
    for deal in deal_rows:
        lead = deal["mql_id"]
        if (
            days(deal) < 0
            or 28 <= days(deal) <= 31
            or deal["won_date"].endswith(" 00:00:00")
            or lead in gap_day
        ):
            chosen.append(lead)
    crossing = [
        d["mql_id"]
        for d in deal_rows
        if day[d["mql_id"]] < dt.date(2018, 2, 18) <= dt.date.fromisoformat(d["won_date"][:10])
        and d["mql_id"] not in chosen
    ]
    chosen += crossing[:3]
    chosen += [d["mql_id"] for d in deal_rows if d["mql_id"] not in chosen][:20]
    dealt = {d["mql_id"] for d in deal_rows}
    keep = set(chosen) | gap_day
    for r in mql_rows:
        if len(keep) >= size:
            break
        if r["mql_id"] not in dealt:
            keep.add(r["mql_id"])
    return _lines_of(mqls, keep), _lines_of(deals, keep)


def _lines_of(text: str, leads: Iterable[str]) -> str:
    """The header and the lines whose mql_id (first cell) is one of `leads`, byte for byte."""
    wanted = set(leads)
    lines = text.splitlines(keepends=True)
    return lines[0] + "".join(line for line in lines[1:] if line.split(",", 1)[0] in wanted)


def excerpt() -> tuple[str, str]:
    return (
        (EXCERPT / MQLS).read_text(encoding="utf-8"),
        (EXCERPT / DEALS).read_text(encoding="utf-8"),
    )


def originals() -> tuple[str, str]:
    return (
        (ORIGINALS / MQLS).read_text(encoding="utf-8"),
        (ORIGINALS / DEALS).read_text(encoding="utf-8"),
    )


Files = Callable[[], tuple[str, str]]  # reads the MQL and deal CSVs
SOURCES = [
    pytest.param(excerpt, id="excerpt"),
    pytest.param(originals, id="full", marks=requires_shared),
]


# ---------------------------------------------------------------- tests


def test_agreement_lints_clean_and_is_formatted() -> None:
    checked = checked_agreement()
    assert checked.diagnostics == ()
    assert check_formatted(checked.program.root)


def by_lead(result: ReplayResult) -> dict[str, LeadResult]:
    return {lead.lead: lead for lead in result.leads}


@pytest.mark.parametrize("source", SOURCES)
def test_counts_match_an_independent_computation(source: Files) -> None:
    mqls, deals = source()
    expected = independent(mqls, deals)
    result, stats = replay_olist(mqls, deals)

    a = result.accounting
    assert a.read == a.replayed == expected.rows
    assert (a.rejected, a.duplicate, a.after_as_of) == (0, 0, 0)
    assert a.balanced
    assert result.rejections == ()
    assert stats.dst_resolved == expected.dst_resolved
    assert result.as_of == expected.as_of

    leads = by_lead(result)
    assert len(leads) == expected.leads
    assert sum(lead.final_stage == "won" for lead in leads.values()) == expected.final_won
    entered_won = sum(any(s.stage == "won" for s in lead.stays) for lead in leads.values())
    assert entered_won == expected.deals

    actual_clock = {c.lead: (c.outcome.value, c.elapsed) for c in result.cycles if c.rule == CLOCK}
    assert len(result.cycles) == expected.leads  # one cycle per MQL, none for anything else
    assert actual_clock == expected.clock
    outcomes = Counter(outcome for outcome, _ in actual_clock.values())
    assert outcomes == Counter(outcome for outcome, _ in expected.clock.values())
    assert all(c.responsible == "sales" and c.calendar == "always" for c in result.cycles)

    # Each lead enters mql at 00:00 of its first_contact_date, São Paulo time.
    mql_entries = {s.lead: s.entered for s in result.stays if s.stage == "mql"}
    assert mql_entries == expected.mql_entered

    origins = Counter(dict(lead.attributes).get("origin") for lead in leads.values())
    assert origins == expected.origins

    kinds = Counter(v.kind for v in result.violations)
    assert kinds == {
        ViolationKind.CLOCK_BREACHED: outcomes["breached"],
        ViolationKind.INVALID_ENTRY: len(expected.anomalies),
        ViolationKind.ILLEGAL_TRANSITION: len(expected.anomalies),
    }
    assert tuple(sorted({v.lead for v in result.violations if v.kind in {
        ViolationKind.INVALID_ENTRY, ViolationKind.ILLEGAL_TRANSITION
    }})) == expected.anomalies  # fmt: skip


@pytest.mark.parametrize("source", SOURCES)
def test_known_facts_of_the_data(source: Files) -> None:
    """Numbers stated in the data's README, so the independent computation is itself checked."""
    mqls, deals = source()
    expected = independent(mqls, deals)
    assert expected.anomalies == (ANOMALY,)
    assert expected.dst_resolved >= 1  # MQLs dated 2017-10-15, whose midnight does not exist
    assert expected.origins[None] >= 1  # blank origins
    if source is originals:
        assert (expected.leads, expected.deals) == (8000, 842)
        assert expected.dst_resolved == 7
        # The README counts whole calendar days (won_date's date minus first_contact_date, the
        # anomaly's -2 included); the clock's exact 30 x 24 h from midnight is stricter.
        day = {r["mql_id"]: dt.date.fromisoformat(r["first_contact_date"]) for r in rows(mqls)}
        whole_days = [
            (dt.date.fromisoformat(r["won_date"][:10]) - day[r["mql_id"]]).days for r in rows(deals)
        ]
        assert f"{sum(d <= 30 for d in whole_days) / 842:.1%}" == "65.9%"
        assert f"{sum(d <= 7 for d in whole_days) / 842:.1%}" == "33.7%"
        met = sum(outcome == "met" for outcome, _ in expected.clock.values())
        assert met == 546  # 64.8%: 9 deals closed on day 30 but more than 720 hours after midnight


def test_deal_won_before_its_mql() -> None:
    """The one real ordering anomaly: won on 2018-03-06, MQL dated 2018-03-08."""
    result, _ = replay_olist(*excerpt())
    lead = by_lead(result)[ANOMALY]
    won_at = instant(dt.datetime(2018, 3, 6, 19, 38, 55))
    mql_at = instant(dt.datetime(2018, 3, 8))
    # The first stage event enters `won`, which is not initial (semantics 5: invalid_entry, owner
    # of the entered stage); the later mql row leaves a terminal stage with no handoff declared
    # (illegal_transition, owner of the source stage); the log is the truth, so the lead ends
    # in mql and its clock, started by entering mql, is still open at as-of: breached.
    assert [(v.kind, v.rule, v.responsible, v.at) for v in lead.violations] == [
        (ViolationKind.INVALID_ENTRY, "won", "sales", won_at),
        (ViolationKind.ILLEGAL_TRANSITION, "won -> mql", "sales", mql_at),
        (ViolationKind.CLOCK_BREACHED, CLOCK, "sales", mql_at + GOAL),
    ]
    assert lead.violations[0].rows[0].file == LOG
    assert lead.final_stage == "mql"
    assert [(s.stage, s.entered, s.left, s.next_stage) for s in lead.stays] == [
        ("won", won_at, mql_at, "mql"),
        ("mql", mql_at, None, None),
    ]
    (cycle,) = lead.cycles
    assert (cycle.outcome, cycle.started, cycle.ended) == (Outcome.BREACHED, mql_at, None)
    assert cycle.elapsed == result.as_of - mql_at


def test_midnight_lost_to_daylight_saving() -> None:
    """São Paulo skipped 2017-10-15 00:00-00:59; an MQL of that day enters at 01:00 -02:00."""
    mqls, deals = excerpt()
    gap_day = [r["mql_id"] for r in rows(mqls) if r["first_contact_date"] == "2017-10-15"]
    assert gap_day
    result, stats = replay_olist(mqls, deals)
    first_instant = dt.datetime(2017, 10, 15, 3, tzinfo=dt.UTC)
    entered = {s.lead: s.entered for s in result.stays if s.stage == "mql"}
    expected_micros = int((first_instant - EPOCH).total_seconds()) * 1_000_000
    assert {lead: entered[lead] for lead in gap_day} == dict.fromkeys(gap_day, expected_micros)
    assert stats.dst_resolved == len(gap_day)


def test_excerpt_readme_records_provenance() -> None:
    readme = (EXCERPT / "README.md").read_text(encoding="utf-8")
    for name, digest in SHA256.items():
        assert name in readme and digest in readme
    assert "CC BY-NC-SA 4.0" in readme
    mqls, deals = excerpt()
    assert len(rows(mqls)) == 300
    assert {r["mql_id"] for r in rows(deals)} <= {r["mql_id"] for r in rows(mqls)}


@requires_shared
def test_excerpt_is_drawn_from_the_originals_by_its_rule() -> None:
    for name, digest in SHA256.items():
        assert hashlib.sha256((ORIGINALS / name).read_bytes()).hexdigest() == digest
    assert select_excerpt(*originals()) == excerpt()
