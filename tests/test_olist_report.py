"""The report of the Olist marketing funnel: conversion and revenue by origin, median days from
MQL to won per sales representative, checked against a computation made from the two CSVs.

The report is built as `slaspec replay` builds it (replay, analysis grouped by `origin` and by
the deal's `sr_id`, revenue `declared_monthly_revenue`), then its JSON document and its
Markdown and text tables are compared with `expected`, which reads the CSVs with `csv`,
`datetime`, `zoneinfo` and `decimal` only. The committed excerpt always runs; the full files
run too when ../shared is present.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from conftest import DATA, golden, requires_shared
from slaspec import readers
from slaspec.analysis import NOT_SET, analyse
from slaspec.analysis_report import render_markdown
from slaspec.render import render_json, render_text
from slaspec.replay import replay
from slaspec.report import InputFile, Report, analysis_out, build_report
from test_olist import Files, agreement, excerpt, originals

ZONE = ZoneInfo("America/Sao_Paulo")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MONEY = "declared_monthly_revenue"


def records(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def olist_log(mqls: str, deals: str) -> str:
    """The canonical log: an MQL enters `mql` at local midnight of its first_contact_date with
    its origin; a deal is assigned to its sales representative and enters `won` with the
    representative (`sr_id`) and its declared monthly revenue as attributes."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*readers.RESERVED_COLUMNS, "origin", "sr_id", MONEY])
    for mql in records(mqls):
        lead = mql["mql_id"]
        writer.writerow(
            [lead, f"{mql['first_contact_date']}T00:00:00", "stage", "mql", "", "marketing",
             f"mql-{lead}", mql["origin"], "", ""]
        )  # fmt: skip
    for deal in records(deals):
        lead, won = deal["mql_id"], deal["won_date"].replace(" ", "T")
        writer.writerow(
            [lead, won, "assign", deal["sr_id"], deal["sdr_id"], "sales", f"sr-{lead}", "", "", ""]
        )  # fmt: skip
        writer.writerow(
            [lead, won, "stage", "won", deal["sdr_id"], "sales", f"won-{lead}", "",
             deal["sr_id"], deal[MONEY]]
        )  # fmt: skip
    return out.getvalue()


def report_of(mqls: str, deals: str) -> Report:
    """The report `slaspec replay --group-by origin --group-by sr_id` would write."""
    options = readers.ReadOptions("America/Sao_Paulo", "later")
    items = list(readers.read_log(olist_log(mqls, deals), "olist.csv", "csv", options))
    compiled = agreement()
    result = replay(compiled, items)
    files = [InputFile(path="olist.csv", sha256="0" * 64, kind="log")]
    report = build_report(compiled, result, files, "VERSION", "HOLIDAYS", 0, False, False)
    analysis = analyse(compiled, result, ("origin", "sr_id"), MONEY)
    return report.model_copy(update={"analysis": analysis_out(analysis)})


# ---------------------------------------------------------------- the independent computation


def instant(naive: dt.datetime) -> float:
    """A São Paulo wall time as UTC seconds; a skipped or repeated time reads as the later."""
    return max(
        (naive.replace(tzinfo=ZONE, fold=fold).astimezone(dt.UTC) - EPOCH).total_seconds()
        for fold in (0, 1)
    )


@dataclass(frozen=True)
class Origin:
    leads: int
    won: int
    revenue: Decimal


def expected(mqls: str, deals: str) -> tuple[dict[str, Origin], dict[str, float]]:
    """Per origin: leads, won deals and their revenue; per representative: median days from
    MQL to won. A deal counts when it was won at or after its MQL (one deal in the data was
    won two days before its MQL date, so that lead ends in `mql`)."""
    mql_at: dict[str, float] = {}
    origin: dict[str, str] = {}
    for row in records(mqls):
        mql_at[row["mql_id"]] = instant(dt.datetime.fromisoformat(row["first_contact_date"]))
        origin[row["mql_id"]] = row["origin"] or NOT_SET
    leads = Counter(origin.values())
    won: Counter[str] = Counter()
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    days: dict[str, list[float]] = defaultdict(list)
    for row in records(deals):
        lead = row["mql_id"]
        at = instant(dt.datetime.fromisoformat(row["won_date"]))
        if at < mql_at[lead]:
            continue
        won[origin[lead]] += 1
        revenue[origin[lead]] += Decimal(row[MONEY])
        days[row["sr_id"]].append((at - mql_at[lead]) / 86_400)
    origins = {key: Origin(leads[key], won[key], revenue[key]) for key in leads}
    return origins, {sr: statistics.median(values) for sr, values in days.items()}


SOURCES = [
    pytest.param(excerpt, id="excerpt"),
    pytest.param(originals, id="full", marks=requires_shared),
]


@pytest.mark.parametrize("source", SOURCES)
def test_conversion_and_revenue_by_origin(source: Files) -> None:
    mqls, deals = source()
    origins, _ = expected(mqls, deals)
    report = Report.model_validate_json(render_json(report_of(mqls, deals)))
    assert report.analysis is not None
    loops = {loop.attribute: loop for loop in report.analysis.closed_loop}
    groups = {g.value: g for g in loops["origin"].groups}
    assert set(groups) == set(origins)
    for value, want in origins.items():
        group = groups[value]
        assert (group.leads, group.won) == (want.leads, want.won), value
        assert group.revenue is not None and Decimal(group.revenue) == want.revenue, value
        (step,) = group.steps  # mql -> won
        assert (step.entered, step.converted) == (want.leads, want.won)
        assert step.value == pytest.approx(want.won / want.leads)
    overall = report.analysis.overall
    assert overall.won == sum(o.won for o in origins.values())
    assert Decimal(overall.revenue or "0") == sum(o.revenue for o in origins.values())

    # The Markdown table shows the same numbers, formatted as a reader would write them.
    markdown = render_markdown(report)
    text = render_text(report).replace(NOT_SET, NOT_SET.replace(" ", "\0"))
    text_rows = [
        [cell.replace("\0", " ") for cell in line.split()[:5]] for line in text.splitlines()
    ]
    for value, want in sorted(origins.items(), key=lambda item: (item[0] == NOT_SET, item[0])):
        rate = f"{want.won / want.leads * 100:.1f}%"
        cell = value.replace("_", "\\_")
        row = f"| {cell} | {want.leads:,} | {want.won:,} | {rate} | {want.revenue:,} |"
        assert row in markdown, row
        text_row = [value, f"{want.leads:,}", f"{want.won:,}", rate, f"{want.revenue:,}"]
        assert text_row in text_rows, text_row


@pytest.mark.parametrize("source", SOURCES)
def test_median_days_from_mql_to_won_per_sales_representative(source: Files) -> None:
    mqls, deals = source()
    _, medians = expected(mqls, deals)
    report = Report.model_validate_json(render_json(report_of(mqls, deals)))
    assert report.analysis is not None
    loops = {loop.attribute: loop for loop in report.analysis.closed_loop}
    groups = {g.value: g for g in loops["sr_id"].groups}
    # Every representative with a deal is a group; MQLs without one have no representative.
    assert set(groups) == {r["sr_id"] for r in records(deals)} | {NOT_SET}
    actual = {
        value: g.time_to_won.median_seconds / 86_400
        for value, g in groups.items()
        if g.time_to_won.median_seconds is not None
    }
    assert actual == pytest.approx(medians, rel=1e-12)
    # The Markdown closed loop by sr_id shows each median in days, one decimal.
    markdown = render_markdown(report)
    shown = 0
    for line in markdown.split("### Closed loop by `sr_id`")[1].splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) > 5 and cells[0] in medians:
            assert cells[5] == f"{medians[cells[0]]:.1f}", line
            shown += 1
    assert shown == min(len(medians), 30)


def test_excerpt_markdown_golden() -> None:
    """The report docs/reports.md quotes for the Olist excerpt."""
    golden(DATA / "reports" / "olist.md", render_markdown(report_of(*excerpt())))
