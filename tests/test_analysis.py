"""Analysis: bottlenecks, accountability, targets, closed loop and funnel, checked by hand.

Every small case is a CSV log replayed through the real engine, mostly against
tests/data/replay/base.sla (Sydney business hours: Monday to Friday 09:00-12:00 and 13:00-17:30,
AU-NSW holidays), with each expected number worked out in the comments. The Olist checks
compare the closed loop with a computation made straight from the Olist CSVs.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import math
import pickle
import statistics
from collections import Counter, defaultdict
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, check_text, requires_shared
from slaspec import readers
from slaspec.analysis import (
    ALL,
    NOT_SET,
    Analyser,
    Analysis,
    Breakdown,
    Outcomes,
    PeriodKind,
    Summary,
    TargetStats,
    Verdict,
    _attribute,
    _Days,
    _Window,
    analyse,
    main_path,
    periods,
    quantile,
    summarise,
)
from slaspec.calendar import BusinessCalendar
from slaspec.compiler import Agreement
from slaspec.generate import generate_csv_text
from slaspec.replay import replay
from slaspec.results import ReplayResult, merge
from test_olist import Files, excerpt, instant, originals, rows
from test_olist import agreement as olist_agreement

BASE = (DATA / "replay" / "base.sla").read_text(encoding="utf-8")
HOUR = 3_600_000_000
SYDNEY = ZoneInfo("Australia/Sydney")
HEADER = "lead_id,timestamp,type,value,actor,team,score,email,source,amount\n"


def compiled(text: str) -> Agreement:
    checked = check_text(text, "base.sla")
    assert checked.agreement is not None, checked.diagnostics
    return checked.agreement


AGREEMENT = compiled(BASE)


def at(text: str) -> int:
    """An ISO instant as epoch microseconds."""
    moment = dt.datetime.fromisoformat(text)
    assert moment.tzinfo is not None
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def run(log: str, as_of: str | None = None, agreement: Agreement = AGREEMENT) -> ReplayResult:
    items = list(readers.read_log(HEADER + log, "log.csv", "csv", readers.ReadOptions()))
    return replay(agreement, items, at(as_of) if as_of else None)


def outcomes(met: int, breached: int, pending: int = 0, cancelled: int = 0) -> Outcomes:
    judged = met + breached
    return Outcomes(met, breached, pending, cancelled, 0, met / judged if judged else None)


# ---------------------------------------------------------------- quantiles


def reference_quantile(values: list[int], q: Fraction) -> float:
    """numpy's default ("linear"): (1 - g) * x[j] + g * x[j + 1] at the virtual index (n - 1)q."""
    xs = sorted(values)
    h = (len(xs) - 1) * q
    j = math.floor(h)
    g = h - j
    upper = xs[min(j + 1, len(xs) - 1)]
    return float((1 - g) * xs[j] + g * upper)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([10, 7, 4, 3, 2, 1], Fraction(1, 2), 3.5),  # numpy.percentile's documented example
        ([1, 2, 3, 4], Fraction(9, 10), 3.7),
        (list(range(1, 11)), Fraction(9, 10), 9.1),
        ([5], Fraction(9, 10), 5.0),
        ([1, 1, 1, 100], Fraction(1, 2), 1.0),
        ([0, 3], Fraction(1, 2), 1.5),
    ],
)
def test_quantile_known_values(values: list[int], q: Fraction, expected: float) -> None:
    assert quantile(sorted(values), q) == expected


@settings(max_examples=200)
@given(
    st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=40),
    st.sampled_from([Fraction(1, 2), Fraction(9, 10), Fraction(0), Fraction(1), Fraction(1, 4)]),
)
def test_quantile_matches_the_reference(values: list[int], q: Fraction) -> None:
    assert quantile(sorted(values), q) == reference_quantile(values, q)


def test_summary_of_nothing_has_no_statistics() -> None:
    assert summarise([]) == Summary(0, 0, None, None, None)
    assert summarise([3, 1, 2]) == Summary(3, 6, 2.0, 2.8, 3)


# ---------------------------------------------------------------- bottlenecks and the rest

# L1 goes all the way to won; L2 stalls in sal and nobody calls; L3 is handed to mql without
# meeting the criteria (score 50, no e-mail); L4 never leaves inquiry.
CASE = """\
L1,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,a@x.example,web,
L1,2026-03-02T10:00:00+11:00,stage,mql,automation,,,,,
L1,2026-03-02T11:00:00+11:00,assign,tom@x.example,,,,,,
L1,2026-03-02T11:00:00+11:00,stage,sal,tom@x.example,,,,,
L1,2026-03-02T11:30:00+11:00,activity,call,tom@x.example,,,,,
L1,2026-03-03T11:00:00+11:00,stage,sql,sam@x.example,,,,,
L1,2026-03-04T10:00:00+11:00,stage,won,sam@x.example,,,,,1000
L2,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,b@x.example,referral,
L2,2026-03-02T09:30:00+11:00,stage,mql,automation,,,,,
L2,2026-03-02T10:00:00+11:00,stage,sal,tom@x.example,,,,,
L3,2026-03-03T09:00:00+11:00,stage,inquiry,,,50,,web,
L3,2026-03-03T10:00:00+11:00,stage,mql,automation,,,,,
L4,2026-03-04T09:00:00+11:00,stage,inquiry,,,,,,
"""
CASE_AS_OF = "2026-03-13T17:00:00+11:00"


@pytest.fixture(scope="module")
def case() -> Analysis:
    return analyse(AGREEMENT, run(CASE, CASE_AS_OF), group_by=("source",), money_field="amount")


def test_stage_statistics(case: Analysis) -> None:
    stages = {s.stage: s for s in case.bottlenecks.stages}
    assert list(stages) == ["inquiry", "mql", "sal", "sql", "won", "lost", "nurture"]

    inquiry = stages["inquiry"]
    assert (inquiry.entries, inquiry.leads, inquiry.exits) == (4, 4, (("mql", 3),))
    # Completed: L2 0.5 h, L1 and L3 1 h each (all inside Monday/Tuesday morning windows).
    assert inquiry.dwell == Summary(3, int(2.5 * HOUR), 1.0 * HOUR, 1.0 * HOUR, HOUR)
    # L4 waits from Wed 09:00: 7.5 h x 3 days (Wed-Fri), 7.5 h x 4 + 8 h on the next week.
    assert inquiry.open == 1
    assert inquiry.longest[0].lead == "L4"
    assert inquiry.waiting.max == int(59.5 * HOUR)
    assert inquiry.waiting_wall.max == (9 * 24 + 8) * HOUR

    mql = stages["mql"]
    assert mql.exits == (("sal", 2),)
    # Completed: 1 h (L1), 0.5 h (L2): median 0.75 h, p90 at index 0.9 -> 0.5 + 0.9 x 0.5 h.
    assert (mql.dwell.median, mql.dwell.p90) == (0.75 * HOUR, 0.95 * HOUR)
    assert mql.waiting.max == 66 * HOUR  # L3 from Tue 10:00: 6.5 + 22.5 + 37 h

    sal = stages["sal"]
    assert sal.limit == "3 business days"
    # L1: Mon 11:00 -> Tue 11:00 is 1 + 4.5 + 2 = 7.5 h of business time, 24 h of wall time.
    assert (sal.dwell.max, sal.dwell_wall.max) == (int(7.5 * HOUR), 24 * HOUR)
    # L2 is still there: 6.5 h on Monday, 30 h Tue-Fri, 37 h the week after; it stalled.
    assert [(w.lead, w.business, w.wall) for w in sal.longest] == [
        ("L2", int(73.5 * HOUR), (11 * 24 + 7) * HOUR)
    ]
    assert (sal.stalls, sal.stalled_leads, sal.stalled_now) == (1, 1, 1)

    won = stages["won"]
    assert (won.entries, won.open, won.dwell.count, won.exits) == (1, 1, 0, ())
    assert stages["lost"].entries == 0
    assert stages["lost"].dwell == Summary(0, 0, None, None, None)


def test_flows_and_the_ranking_of_lost_time(case: Analysis) -> None:
    flows = {
        (f.source, f.target): (f.count, f.wall.median, f.declared) for f in case.bottlenecks.flows
    }
    assert flows == {
        ("inquiry", "mql"): (3, 1.0 * HOUR, True),
        ("mql", "sal"): (2, 0.75 * HOUR, True),
        ("sal", "sql"): (1, 24.0 * HOUR, True),
        ("sql", "won"): (1, 23.0 * HOUR, True),
    }
    # Business hours spent in each non-terminal stage, open stays included.
    assert [(r.stage, r.business / HOUR) for r in case.bottlenecks.ranking] == [
        ("sal", 81.0),  # 7.5 + 73.5
        ("mql", 67.5),  # 1 + 0.5 + 66
        ("inquiry", 62.0),  # 1 + 0.5 + 1 + 59.5
        ("sql", 6.5),
        ("nurture", 0.0),
    ]


def test_accountability_by_team_owner_and_period(case: Analysis) -> None:
    rules = {r.rule: r for r in case.accountability.rules}
    assert list(rules) == ["first_touch", "sal_calls"]
    touch = rules["first_touch"]
    # L1 called 30 minutes after entering sal; L2 never called (due Mon 15:00).
    assert touch.outcomes == outcomes(1, 1)
    assert touch.by_team == (Breakdown("sdr", outcomes(1, 1)),)
    assert touch.by_owner == (
        Breakdown("tom@x.example", outcomes(1, 0)),
        Breakdown(None, outcomes(0, 1)),
    )
    assert [(p.period.label, p.period.partial, p.outcomes) for p in touch.by_week] == [
        ("2026-W10", False, outcomes(1, 1)),
        ("2026-W11", True, outcomes(0, 0)),
    ]
    assert [p.period.label for p in touch.by_month] == ["2026-03"]
    assert [p.period.label for p in touch.by_quarter] == ["2026-Q1"]
    # L1 entered sql before its second call (exit: cancelled); L2's window passed.
    assert rules["sal_calls"].outcomes == outcomes(0, 1, cancelled=1)
    # Both breaches started on Monday at 10:00 Sydney time.
    heat = case.accountability.heatmap
    assert heat.total == 2 and heat.counts[0][10] == 2
    assert touch.heatmap.total == 1 and touch.heatmap.counts[0][10] == 1


def test_scorecard(case: Analysis) -> None:
    lines = [
        (c.team, c.kind, c.subject, c.part, c.whole, c.verdict)
        for c in case.accountability.scorecard
    ]
    assert lines == [
        # Handoffs out of inquiry and mql: L1 x2, L2 x2, L3 x1 (criteria unmet).
        ("marketing", "criteria", "marketing", 4, 5, None),
        ("sdr", "criteria", "sdr", 1, 1, None),
        # mql (marketing) -> sal (sdr) on the main path: L1 and L2 of the 3 leads in mql.
        ("sdr", "acceptance", "mql -> sal", 2, 3, None),
        ("sdr", "speed", "first_touch", 1, 2, None),
        ("sdr", "cadence", "sal_calls", 0, 1, None),
        ("sales", "criteria", "sales", 1, 1, None),
        ("sales", "acceptance", "sal -> sql", 1, 2, None),
    ]


def test_scorecard_lists_rules_that_have_no_cycles_yet() -> None:
    log = "A,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,a@x.example,web,\n"
    analysis = analyse(AGREEMENT, run(log))
    speed = [c for c in analysis.accountability.scorecard if c.kind in ("speed", "cadence")]
    assert [(c.team, c.subject, c.part, c.whole, c.value) for c in speed] == [
        ("sdr", "first_touch", 0, 0, None),
        ("sdr", "sal_calls", 0, 0, None),
    ]
    touch, _ = analysis.accountability.rules
    assert touch.outcomes == outcomes(0, 0)
    assert touch.by_team == touch.by_owner == ()


def test_funnel_and_closed_loop(case: Analysis) -> None:
    assert case.funnel.path == ("inquiry", "mql", "sal", "sql", "won")
    assert [(s.source, s.target, s.entered, s.converted) for s in case.funnel.steps] == [
        ("inquiry", "mql", 4, 3),
        ("mql", "sal", 3, 2),
        ("sal", "sql", 2, 1),
        ("sql", "won", 1, 1),
    ]
    assert case.won_stages == ("won",)
    (loop,) = case.closed_loop
    groups = {g.value: g for g in loop.groups}
    assert list(groups) == ["referral", "web", NOT_SET]
    web = groups["web"]
    assert (web.leads, web.won, web.revenue, web.unpriced) == (2, 1, Decimal(1000), 0)
    assert dict(web.entered) == {
        "inquiry": 2, "mql": 2, "sal": 1, "sql": 1, "won": 1, "lost": 0, "nurture": 0
    }  # fmt: skip
    assert [(s.entered, s.converted) for s in web.steps] == [(2, 2), (2, 1), (1, 1), (1, 1)]
    # L1: Mon 09:00 -> Wed 10:00.
    assert web.time_to_won == Summary(1, 49 * HOUR, 49.0 * HOUR, 49.0 * HOUR, 49 * HOUR)
    assert (groups["referral"].won, groups["referral"].revenue) == (0, Decimal(0))
    assert groups[NOT_SET].leads == 1
    assert groups[NOT_SET].time_to_won.median is None


def test_won_stages_the_caller_names() -> None:
    result = run(CASE, CASE_AS_OF)
    default = analyse(AGREEMENT, result, money_field="amount")
    assert (default.overall.value, default.overall.leads) == (ALL, 4)
    assert (default.overall.won, default.overall.revenue) == (1, Decimal(1000))
    analysis = analyse(AGREEMENT, result, money_field="amount", won_stages=("sql",))
    # L1 ends in won, not sql: no lead's final stage is sql.
    assert analysis.won_stages == ("sql",)
    assert (analysis.overall.won, analysis.overall.revenue) == (0, Decimal(0))
    assert analysis.funnel == default.funnel
    with pytest.raises(ValueError, match="nowhere"):
        analyse(AGREEMENT, result, won_stages=("nowhere",))


def test_revenue_that_is_not_a_plain_decimal_is_counted_apart() -> None:
    log = """\
A,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,a@x.example,web,
A,2026-03-02T10:00:00+11:00,stage,won,,,,,,"$5,000"
B,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,a@x.example,web,
B,2026-03-02T10:00:00+11:00,stage,won,,,,,,12.50
C,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,a@x.example,web,
C,2026-03-02T10:00:00+11:00,stage,won,,,,,,
"""
    analysis = analyse(AGREEMENT, run(log), group_by=("source",), money_field="amount")
    (web,) = analysis.closed_loop[0].groups
    assert (web.won, web.revenue, web.unpriced) == (3, Decimal("12.50"), 2)
    assert analyse(AGREEMENT, run(log)).closed_loop == ()


def test_main_path_follows_declaration_order() -> None:
    assert main_path(AGREEMENT) == ("inquiry", "mql", "sal", "sql", "won")
    # sal -> nurture declared first: the path goes there, and nurture -> mql is already on it.
    reordered = BASE.replace("handoff sal -> sql\n", "").replace(
        "handoff nurture -> mql\n", "handoff nurture -> mql\nhandoff sal -> sql\n"
    )
    assert main_path(compiled(reordered)) == ("inquiry", "mql", "sal", "nurture")


# ---------------------------------------------------------------- targets

TARGETS = (
    BASE
    + """
target mql_volume "MQLs":
    each week at least 2 leads enter mql
    responsible marketing

target mql_to_sal "MQL to SAL":
    each week at least 50% of leads entering mql reach sal within 2 business days

target first_touch_on_time "First touch":
    each month at least 90% of first_touch cycles met

target sal_worked "SAL worked":
    each week at least 50% of leads entering sal worked by sdr within 4 business hours
"""
)

# W10: A converts within the window (7.5 h) and is called 30 minutes into sal; B reaches sal
# 22.5 business hours after mql, too late, in W11, and nobody calls it. W12 (partial, as-of Wed
# 10:00): C entered mql 30 minutes before as-of (window still open); D entered mql twice in the
# week (counted once, anchored on the first entry) and reached sal 10 minutes later.
TARGET_LOG = """\
A,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,a@x.example,web,
A,2026-03-02T09:30:00+11:00,stage,mql,automation,,,,,
A,2026-03-03T09:30:00+11:00,stage,sal,tom@x.example,,,,,
A,2026-03-03T10:00:00+11:00,activity,call,tom@x.example,,,,,
B,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,b@x.example,web,
B,2026-03-05T09:00:00+11:00,stage,mql,automation,,,,,
B,2026-03-10T09:00:00+11:00,stage,sal,tom@x.example,,,,,
C,2026-03-18T09:00:00+11:00,stage,inquiry,,,70,c@x.example,web,
C,2026-03-18T09:30:00+11:00,stage,mql,automation,,,,,
D,2026-03-16T09:00:00+11:00,stage,inquiry,,,70,d@x.example,web,
D,2026-03-16T09:10:00+11:00,stage,mql,automation,,,,,
D,2026-03-16T09:20:00+11:00,stage,sal,tom@x.example,,,,,
D,2026-03-16T09:40:00+11:00,stage,nurture,tom@x.example,,,,,
D,2026-03-16T10:00:00+11:00,stage,mql,automation,,,,,
"""
TARGET_AS_OF = "2026-03-18T10:00:00+11:00"


@pytest.fixture(scope="module")
def targets() -> dict[str, TargetStats]:
    agreement = compiled(TARGETS)
    analysis = analyse(agreement, run(TARGET_LOG, TARGET_AS_OF, agreement))
    return {t.name: t for t in analysis.targets}


def rows_of(target: TargetStats) -> list[tuple[object, ...]]:
    return [
        (
            p.period.label,
            p.period.partial,
            p.part,
            p.whole,
            p.value,
            p.verdict,
            p.immature,
            p.undecided,
        )
        for p in target.periods
    ]


def test_volume_per_week(targets: dict[str, TargetStats]) -> None:
    volume = targets["mql_volume"]
    assert (volume.kind, volume.period, volume.goal, volume.subject) == (
        "volume", "week", Decimal(2), "mql"
    )  # fmt: skip
    met, missed = Verdict.MET, Verdict.MISSED
    assert rows_of(volume) == [
        ("2026-W10", False, 2, None, 2.0, met, 0, 0),
        ("2026-W11", False, 0, None, 0.0, missed, 0, 0),
        ("2026-W12", True, 2, None, 2.0, met, 0, 0),  # D counted once
    ]
    # The partial week is shown but not judged.
    assert (volume.met, volume.missed, volume.verdict) == (1, 1, missed)


def test_conversion_with_an_immature_cohort_and_an_empty_one(
    targets: dict[str, TargetStats],
) -> None:
    conversion = targets["mql_to_sal"]
    assert conversion.window == "2 business days"
    assert conversion.goal == Decimal("0.5")
    assert rows_of(conversion) == [
        ("2026-W10", False, 1, 2, 0.5, Verdict.MET, 0, 0),
        # Nobody entered mql: no value, no verdict (never 0% or 100%).
        ("2026-W11", False, 0, 0, None, None, 0, 0),
        # D converted; C's window (15 business hours) had 30 minutes used at as-of. D's had
        # 7 h 20 min + 7.5 h + 1 h = 15 h 50 min used: closed.
        ("2026-W12", True, 1, 2, 0.5, Verdict.MET, 1, 1),
    ]
    assert (conversion.met, conversion.missed, conversion.verdict) == (1, 0, Verdict.MET)


def test_attainment_and_worked(targets: dict[str, TargetStats]) -> None:
    # March, partial: A met, B breached (no call), D cancelled by entering nurture.
    assert rows_of(targets["first_touch_on_time"]) == [
        ("2026-03", True, 1, 2, 0.5, Verdict.MISSED, 0, 0)
    ]
    assert targets["first_touch_on_time"].verdict is None  # no complete month
    # A was called within 4 business hours of entering sal (W10); B never (W11); D entered
    # sal in W12 and got nothing within the 4 hours, which had passed at as-of (Mon 09:20 ->
    # 13:40 business time).
    assert rows_of(targets["sal_worked"]) == [
        ("2026-W10", False, 1, 1, 1.0, Verdict.MET, 0, 0),
        ("2026-W11", False, 0, 1, 0.0, Verdict.MISSED, 0, 0),
        ("2026-W12", True, 0, 1, 0.0, Verdict.MISSED, 0, 0),
    ]


def test_worked_by_owner_follows_the_stage_at_each_activity() -> None:
    text = BASE + (
        "\ntarget owned:\n    each week at least 50% of leads entering sal worked by owner "
        "within 4 business hours\n"
    )
    agreement = compiled(text)
    # A: sdr (sal's owner) calls. B: sales calls while the lead is in sal, which sdr owns.
    # C: moves on to sql (owned by sales) before sales calls: worked by the owner of the
    # stage it is in. D: sdr calls in the very second of the entry, replayed after it.
    # E: sdr calls 4 h 00 min 01 s of business time after entry (Mon 09:00 -> 14:00:01).
    log = """\
A,2026-03-02T09:00:00+11:00,stage,sal,,,,,,
A,2026-03-02T09:30:00+11:00,activity,call,tom@x.example,,,,,
B,2026-03-02T09:00:00+11:00,stage,sal,,,,,,
B,2026-03-02T09:30:00+11:00,activity,call,sam@x.example,,,,,
C,2026-03-02T09:00:00+11:00,stage,sal,,,,,,
C,2026-03-02T09:10:00+11:00,stage,sql,,,,,,
C,2026-03-02T09:30:00+11:00,activity,call,sam@x.example,,,,,
D,2026-03-02T09:00:00+11:00,activity,call,tom@x.example,,,,,
D,2026-03-02T09:00:00+11:00,stage,sal,,,,,,
E,2026-03-02T09:00:00+11:00,stage,sal,,,,,,
E,2026-03-02T14:00:01+11:00,activity,call,tom@x.example,,,,,
"""
    analysis = analyse(agreement, run(log, "2026-03-09T09:00:00+11:00", agreement))
    (row,) = analysis.targets[0].periods[:1]
    assert (row.part, row.whole) == (3, 5)


def test_scorecard_judges_commitments_against_their_targets() -> None:
    agreement = compiled(TARGETS)
    analysis = analyse(agreement, run(TARGET_LOG, TARGET_AS_OF, agreement))
    volume = [c for c in analysis.accountability.scorecard if c.kind == "volume"]
    assert [(c.team, c.part, c.target, c.periods_judged, c.periods_met, c.verdict) for c in
            volume] == [("marketing", 4, "mql_volume", 2, 1, Verdict.MISSED)]  # fmt: skip
    acceptance = [c for c in analysis.accountability.scorecard if c.kind == "acceptance"]
    assert [(c.subject, c.target, c.verdict) for c in acceptance] == [
        ("mql -> sal", "mql_to_sal", Verdict.MET),
        ("sal -> sql", None, None),
    ]
    speed = [c for c in analysis.accountability.scorecard if c.kind == "speed"]
    assert [(c.part, c.whole, c.target, c.verdict) for c in speed] == [
        (1, 2, "first_touch_on_time", None)
    ]


def test_a_window_that_closes_exactly_at_as_of_is_mature() -> None:
    # On the always calendar a 1-day window anchored at as-of minus one day is used up: an
    # event after as-of could no longer count. One microsecond less and it is still open.
    text = BASE + (
        "\ntarget conv:\n    each month at least 50% of leads entering inquiry reach mql "
        "within 1 days\n"
    )
    agreement = compiled(text)
    log = "A,2026-03-02T09:00:00+11:00,stage,inquiry,,,70,a@x.example,web,\n"
    closed = analyse(agreement, run(log, "2026-03-03T09:00:00+11:00", agreement))
    assert closed.targets[0].periods[0].immature == 0
    result = run(log, "2026-03-03T09:00:00+11:00", agreement)
    still_open = analyse(agreement, ReplayResult(result.as_of - 1, result.accounting, result.leads))
    assert still_open.targets[0].periods[0].immature == 1


# ---------------------------------------------------------------- periods in a time zone


def test_sydney_april_starts_at_local_midnight_before_daylight_saving_ends() -> None:
    text = BASE + "\ntarget monthly:\n    each month at least 1 leads enter inquiry\n"
    agreement = compiled(text)
    # 23:59:59 on 31 March (AEDT, +11) is March; 00:30 on 1 April is April.
    log = """\
A,2026-03-31T23:59:59+11:00,stage,inquiry,,,,,,
B,2026-04-01T00:30:00+11:00,stage,inquiry,,,,,,
C,2026-05-01T00:00:00+10:00,stage,inquiry,,,,,,
"""
    analysis = analyse(agreement, run(log, "2026-05-01T00:00:00+10:00", agreement))
    (target,) = analysis.targets
    assert [(p.period.label, p.part, p.period.partial) for p in target.periods] == [
        ("2026-03", 1, False),
        ("2026-04", 1, False),
        ("2026-05", 1, True),
    ]
    april = target.periods[1].period
    assert april.start == at("2026-03-31T13:00:00+00:00")
    assert april.end == at("2026-04-30T14:00:00+00:00")  # AEST from 5 April: +10
    assert april.end - april.start == (30 * 24 + 1) * HOUR


@pytest.mark.parametrize(
    ("zone", "kind", "instant", "label", "start"),
    [
        ("Australia/Sydney", "month", "2026-04-15T00:00:00+10:00", "2026-04", "2026-03-31T13:00Z"),
        ("Australia/Sydney", "week", "2026-04-05T12:00:00+10:00", "2026-W14", "2026-03-29T13:00Z"),
        (
            "Australia/Sydney",
            "quarter",
            "2026-05-01T00:00:00+10:00",
            "2026-Q2",
            "2026-03-31T13:00Z",
        ),
        ("Australia/Sydney", "year", "2026-12-31T23:59:59+11:00", "2026", "2025-12-31T13:00Z"),
        # Asunción skipped midnight on Sunday 1 October 2017: the month starts at 01:00 (-03).
        ("America/Asuncion", "month", "2017-10-02T12:00:00-03:00", "2017-10", "2017-10-01T04:00Z"),
        # Havana repeated 00:00-00:59 on Sunday 1 November 2020: the first occurrence (-04).
        ("America/Havana", "month", "2020-11-01T00:30:00-05:00", "2020-11", "2020-11-01T04:00Z"),
        # ISO week numbering: 1 January 2027 is a Friday of week 53 of 2026.
        ("UTC", "week", "2027-01-01T00:00:00+00:00", "2026-W53", "2026-12-28T00:00Z"),
    ],
)
def test_period_boundaries(
    zone: str, kind: PeriodKind, instant: str, label: str, start: str
) -> None:
    t = at(instant)
    (period,) = periods(zone, kind, t, t, t)
    assert (period.label, period.start) == (label, at(start.replace("Z", "+00:00")))
    assert period.start <= t < period.end
    # The day before the start is in the previous local date, the start itself is not.
    local = ZoneInfo(zone)
    before = dt.datetime.fromtimestamp((period.start - 1) / 1e6, local)
    first = dt.datetime.fromtimestamp(period.start / 1e6, local)
    assert before.date() < first.date()


PERIODS = compiled(
    """\
agreement "Periods":
    effective 2000-01-01
    calendar always
    timezone "Australia/Sydney"

team marketing "Marketing"

stage inquiry "Inquiry":
    owner marketing
    initial

stage won "Won":
    owner marketing
    terminal

handoff inquiry -> won

target monthly "Monthly":
    each month at least 1 leads enter inquiry

target weekly "Weekly":
    each week at least 1 leads enter inquiry
"""
)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.datetimes(dt.datetime(1995, 1, 1), dt.datetime(2035, 12, 31), timezones=st.just(dt.UTC)),
        min_size=1,
        max_size=8,
    )
)
def test_leads_are_counted_in_their_local_week_and_month(moments: list[dt.datetime]) -> None:
    # Instants decades apart, in no order: the table of local days grows both ways.
    log = "".join(f"L{i},{m.isoformat()},stage,inquiry,,,,,,\n" for i, m in enumerate(moments))
    analysis = analyse(PERIODS, run(log, agreement=PERIODS))
    local = [m.astimezone(SYDNEY).date() for m in moments]
    months = Counter(f"{d.year}-{d.month:02d}" for d in local)
    weeks = Counter("{}-W{:02d}".format(*d.isocalendar()[:2]) for d in local)
    monthly, weekly = analysis.targets
    assert {p.period.label: p.part for p in monthly.periods if p.part} == months
    assert {p.period.label: p.part for p in weekly.periods if p.part} == weeks
    first, last = min(local), max(local)
    assert monthly.periods[0].period.label == f"{first.year}-{first.month:02d}"
    assert monthly.periods[-1].period.label == f"{last.year}-{last.month:02d}"
    assert len(monthly.periods) == (last.year - first.year) * 12 + last.month - first.month + 1
    for kind in (monthly, weekly):
        for before, after in zip(kind.periods, kind.periods[1:], strict=False):
            assert before.period.end == after.period.start
        assert [p.period.partial for p in kind.periods] == [False] * (len(kind.periods) - 1) + [
            True
        ]
    for row in monthly.periods:
        start = dt.datetime.fromtimestamp(row.period.start / 1e6, SYDNEY)
        assert (start.day, start.hour, start.minute) == (1, 0, 0)


ZONES = [
    "Australia/Sydney",
    "Australia/Lord_Howe",  # half an hour of daylight saving
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "America/Havana",  # repeats midnight
    "America/Asuncion",  # skips midnight
    "UTC",
]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.lists(
        st.tuples(
            st.integers(dt.date(1995, 1, 1).toordinal(), dt.date(2035, 12, 31).toordinal()),
            st.sampled_from(
                [0, 1, -1, HOUR // 4, -HOUR // 2, -HOUR + 1, 2**31, -(2**32), 7 * HOUR]
            ),
        ),
        min_size=1,
        max_size=20,
    ),
)
def test_the_local_date_of_an_instant_asked_in_any_order(
    zone: str, moments: list[tuple[int, int]]
) -> None:
    # Instants next to local midnights, asked in no order: the dates come from a table of
    # midnights and a cache of spans of about 72 minutes, most of which hold one date.
    reference = _Days(zone)
    days = _Days(zone)
    for ordinal, offset in moments:
        t = reference.start(ordinal) + offset
        found = days.ordinal(t)
        assert reference.start(found) <= t < reference.start(found + 1)
        assert days.keys_at(t) == days.keys(found)
        assert days.ordinal(t) == found  # asked again, from the cache when it holds the span


@functools.cache
def sydney_clock() -> BusinessCalendar:
    return BusinessCalendar(AGREEMENT.calendars["sydney"])


DAY = 24 * HOUR


@settings(max_examples=60, deadline=None)
@given(
    st.booleans(),
    st.integers(0, 3 * DAY),
    st.lists(st.tuples(st.integers(-DAY, 40 * DAY), st.integers(0, 4 * DAY)), max_size=25),
)
def test_a_window_answers_as_reading_the_clock_would(
    business: bool, micros: int, anchors: list[tuple[int, int]]
) -> None:
    # Anchors before and after as-of in no order: the window skips most readings of the clock
    # and must still say what the readings would.
    clock = sydney_clock().clock if business else (lambda t: t)
    as_of = at("2026-04-20T10:00:00+10:00")
    window = _Window(clock, micros, as_of)
    open_from = clock(as_of + 1) - micros
    for before, length in anchors:
        anchor = as_of - before
        assert window.open_at(anchor) == (clock(anchor) >= open_from)
        assert window.fits(anchor, anchor + length) == (
            clock(anchor + length) - clock(anchor) <= micros
        )


@pytest.mark.parametrize("first", ["closed", "open", "edge"])
def test_a_window_opens_at_the_exact_microsecond(first: str) -> None:
    clock = sydney_clock().clock
    as_of = at("2026-04-20T10:00:00+10:00")  # a Monday morning: the window reaches Friday
    micros = 8 * HOUR
    open_from = clock(as_of + 1) - micros
    low, high = as_of - 30 * DAY, as_of + 1  # the first instant a window is open, searched for
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if clock(middle) >= open_from else (middle, high)
    window = _Window(clock, micros, as_of)
    asked = {"closed": as_of - 20 * DAY, "open": high + HOUR, "edge": high}[first]
    assert window.open_at(asked) == (clock(asked) >= open_from)
    assert [window.open_at(t) for t in (high - 2, high - 1, high, high + 1)] == [
        False,
        False,
        True,
        True,
    ]


@settings(max_examples=100)
@given(
    st.dictionaries(st.text("abc_", max_size=4), st.text(max_size=3), max_size=8),
    st.text("abc_", max_size=4),
)
def test_an_attribute_is_found_in_the_pairs_in_name_order(
    values: dict[str, str], name: str
) -> None:
    pairs = tuple(sorted(values.items()))
    assert _attribute(pairs, name) == values.get(name)
    for key, value in pairs:
        assert _attribute(pairs, key) == value


# ---------------------------------------------------------------- the heatmap


def test_breaches_by_weekday_and_hour_of_start() -> None:
    # Nobody calls: first_touch and sal_calls both breach, each cycle starting on entry to sal.
    log = """\
A,2026-03-06T16:00:00+11:00,stage,sal,,,,,,
B,2026-03-06T16:59:59+11:00,stage,sal,,,,,,
C,2026-03-09T09:00:00+11:00,stage,sal,,,,,,
D,2026-04-06T09:00:00+10:00,stage,sal,,,,,,
E,2026-03-07T23:30:00+11:00,stage,sal,,,,,,
"""
    analysis = analyse(AGREEMENT, run(log, "2026-05-01T00:00:00+10:00"))
    (touch,) = [r for r in analysis.accountability.rules if r.rule == "first_touch"]
    cells = {
        (day, hour): count
        for day, row in enumerate(touch.heatmap.counts)
        for hour, count in enumerate(row)
        if count
    }
    # Friday 16h twice, Monday 09h twice (one in AEDT, one in AEST: 23:00 UTC on a Sunday),
    # Saturday 23h once.
    assert cells == {(4, 16): 2, (0, 9): 2, (5, 23): 1}
    assert analysis.accountability.heatmap.total == 10
    assert analysis.accountability.heatmap.counts[4][16] == 4


# ---------------------------------------------------------------- merging


def test_analysis_of_merged_parts_equals_analysis_of_the_whole() -> None:
    whole = run(CASE, CASE_AS_OF)
    lines = CASE.splitlines(keepends=True)
    parts = [
        run("".join(line for line in lines if line.split(",")[0] in leads), CASE_AS_OF)
        for leads in ({"L1", "L3"}, {"L2", "L4"})
    ]
    merged = analyse(AGREEMENT, merge(parts), group_by=("source",), money_field="amount")
    assert merged == analyse(AGREEMENT, whole, group_by=("source",), money_field="amount")


@pytest.fixture(scope="module")
def generated() -> tuple[Agreement, ReplayResult]:
    text = (DATA.parent.parent / "agreements" / "harbour-b2b.sla").read_text(encoding="utf-8")
    checked = check_text(text, "harbour-b2b.sla")
    assert checked.agreement is not None
    agreement = checked.agreement
    text = generate_csv_text(agreement, 150, 7, dt.date(2026, 3, 2), 120)
    items = list(readers.read_log(text, "generated.csv", "csv", readers.ReadOptions()))
    return agreement, replay(agreement, items)


@settings(max_examples=12, deadline=None)
@given(st.data())
def test_tallies_of_disjoint_leads_merge_exactly(
    generated: tuple[Agreement, ReplayResult], data: st.DataObject
) -> None:
    agreement, result = generated
    sides = data.draw(
        st.lists(st.booleans(), min_size=len(result.leads), max_size=len(result.leads))
    )
    group_by = ("source", "lost_reason")
    whole = analyse(agreement, result, group_by, "amount")
    halves = [Analyser(agreement, result.as_of, group_by, "amount") for _ in range(2)]
    # Leads in any order: the second half backwards.
    for lead, side in zip(result.leads, sides, strict=True):
        if side:
            halves[0].add(lead)
    for lead, side in reversed(list(zip(result.leads, sides, strict=True))):
        if not side:
            halves[1].add(lead)
    # The tallies travel between processes by pickle.
    halves[0].tallies.merge(pickle.loads(pickle.dumps(halves[1].tallies)))
    assert halves[0].finish() == whole


@pytest.mark.parametrize("size", [17, 60])
def test_an_analyser_handing_over_chunks_counts_as_one_pass(
    generated: tuple[Agreement, ReplayResult], size: int
) -> None:
    # As `slaspec replay` runs it: a worker adds a chunk and takes its tallies, again and again
    # (its caches outlive each take), and another analyser merges them in order and finishes.
    agreement, result = generated
    group_by = ("source", "lost_reason")
    worker = Analyser(agreement, result.as_of, group_by, "amount")
    parts = []
    for start in range(0, len(result.leads), size):
        for lead in result.leads[start : start + size]:
            worker.add(lead)
        sent = pickle.dumps(worker.take())
        assert b"BusinessCalendar" not in sent  # plain counts, not the targets' calendars
        parts.append(pickle.loads(sent))
    # A chunk sends only the open stays that may be among their stage's longest waits.
    assert any(
        len(part.open[name]) < len(part.waiting[name]) for part in parts for name in part.open
    )
    joined = Analyser(agreement, result.as_of, group_by, "amount")
    joined.tallies = parts[0]
    for part in parts[1:]:
        joined.tallies.merge(part)
    assert joined.finish() == analyse(agreement, result, group_by, "amount")


def test_generated_log_is_analysed_consistently(generated: tuple[Agreement, ReplayResult]) -> None:
    agreement, result = generated
    analysis = analyse(agreement, result)
    stages = {s.stage: s for s in analysis.bottlenecks.stages}
    stays = Counter(s.stage for s in result.stays)
    open_stays = Counter(s.stage for s in result.stays if s.left is None)
    for name, stage in stages.items():
        assert stage.entries == stays[name]
        assert stage.open == open_stays[name]
        assert stage.dwell.count + stage.open == stage.entries
        assert sum(count for _, count in stage.exits) == stage.dwell.count
    flows = Counter((s.stage, s.next_stage) for s in result.stays if s.next_stage)
    assert {(f.source, f.target): f.count for f in analysis.bottlenecks.flows} == flows
    cycles = Counter((c.rule, c.outcome.value) for c in result.cycles)
    for rule in analysis.accountability.rules:
        assert (rule.outcomes.met, rule.outcomes.breached) == (
            cycles[(rule.rule, "met")], cycles[(rule.rule, "breached")]
        )  # fmt: skip
        assert sum(p.outcomes.met for p in rule.by_week) == rule.outcomes.met
        assert sum(p.outcomes.breached for p in rule.by_month) == rule.outcomes.breached
        assert rule.heatmap.total == rule.outcomes.breached
    entered = {(lead.lead, s.stage) for lead in result.leads for s in lead.stays}
    for step in analysis.funnel.steps:
        assert step.entered == sum(stage == step.source for _, stage in entered)


# ---------------------------------------------------------------- Olist


def olist_log(mqls: str, deals: str) -> str:
    """test_olist's conversion, plus for each deal its sales representative (an `assign` row
    and an `sr_id` attribute) and its `declared_monthly_revenue`, on the won row."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*readers.RESERVED_COLUMNS, "origin", "sr_id", "declared_monthly_revenue"])
    for mql in rows(mqls):
        lead = mql["mql_id"]
        writer.writerow(
            [lead, f"{mql['first_contact_date']}T00:00:00", "stage", "mql", "", "marketing",
             f"mql-{lead}", mql["origin"], "", ""]
        )  # fmt: skip
    for deal in rows(deals):
        lead, won = deal["mql_id"], deal["won_date"].replace(" ", "T")
        writer.writerow(
            [lead, won, "assign", deal["sr_id"], deal["sdr_id"], "sales", f"sr-{lead}", "", "", ""]
        )  # fmt: skip
        writer.writerow(
            [lead, won, "stage", "won", deal["sdr_id"], "sales", f"won-{lead}", "",
             deal["sr_id"], deal["declared_monthly_revenue"]]
        )  # fmt: skip
    return out.getvalue()


@functools.cache
def olist_analysis_of(source: Files) -> Analysis:
    return olist_analysis(*source())


def olist_analysis(mqls: str, deals: str) -> Analysis:
    options = readers.ReadOptions("America/Sao_Paulo", "later")
    items = list(readers.read_log(olist_log(mqls, deals), "olist.csv", "csv", options))
    agreement = olist_agreement()
    result = replay(agreement, items)
    return analyse(
        agreement, result, group_by=("origin", "sr_id"), money_field="declared_monthly_revenue"
    )


OLIST = [
    pytest.param(excerpt, id="excerpt"),
    pytest.param(originals, id="full", marks=requires_shared),
]


@pytest.mark.parametrize("source", OLIST)
def test_olist_conversion_and_revenue_by_origin(source: Files) -> None:
    mqls, deals = source()
    analysis = olist_analysis_of(source)
    # Independently: a lead converts when its deal is won at or after its MQL instant.
    mql_at = {r["mql_id"]: instant(dt.datetime.fromisoformat(r["first_contact_date"]))
              for r in rows(mqls)}  # fmt: skip
    origin = {r["mql_id"]: r["origin"] or NOT_SET for r in rows(mqls)}
    leads = Counter(origin.values())
    won: Counter[str] = Counter()
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for deal in rows(deals):
        lead = deal["mql_id"]
        if instant(dt.datetime.fromisoformat(deal["won_date"])) >= mql_at[lead]:
            won[origin[lead]] += 1
            revenue[origin[lead]] += Decimal(deal["declared_monthly_revenue"])
    by_origin = {loop.attribute: loop for loop in analysis.closed_loop}["origin"]
    actual = {g.value: (g.leads, g.won, g.revenue) for g in by_origin.groups}
    assert actual == {key: (leads[key], won[key], revenue[key]) for key in leads}
    for group in by_origin.groups:
        (step,) = group.steps  # mql -> won
        assert (step.entered, step.converted) == (group.leads, group.won)
        assert group.unpriced == 0
    total_won = sum(g.won for g in by_origin.groups)
    assert analysis.funnel.steps[0].converted == total_won


@pytest.mark.parametrize("source", OLIST)
def test_olist_median_days_from_mql_to_won_per_sales_representative(source: Files) -> None:
    mqls, deals = source()
    analysis = olist_analysis_of(source)
    mql_at = {r["mql_id"]: instant(dt.datetime.fromisoformat(r["first_contact_date"]))
              for r in rows(mqls)}  # fmt: skip
    durations: dict[str, list[int]] = defaultdict(list)
    for deal in rows(deals):
        won = instant(dt.datetime.fromisoformat(deal["won_date"]))
        if won >= mql_at[deal["mql_id"]]:
            durations[deal["sr_id"]].append(won - mql_at[deal["mql_id"]])
    expected = {sr: statistics.median(values) / 86_400e6 for sr, values in durations.items()}
    by_sr = {loop.attribute: loop for loop in analysis.closed_loop}["sr_id"]
    actual = {
        g.value: g.time_to_won.median / 86_400e6
        for g in by_sr.groups
        if g.time_to_won.median is not None
    }
    assert actual == expected
    # Leads without a deal have no representative.
    assert {g.value for g in by_sr.groups} == set(durations) | {NOT_SET} | {
        d["sr_id"] for d in rows(deals)
    }


@pytest.mark.parametrize("source", OLIST)
def test_olist_clock_attainment_per_owner(source: Files) -> None:
    mqls, deals = source()
    analysis = olist_analysis_of(source)
    goal = 30 * 86_400 * 1_000_000
    mql_at = {r["mql_id"]: instant(dt.datetime.fromisoformat(r["first_contact_date"]))
              for r in rows(mqls)}  # fmt: skip
    won_at = {d["mql_id"]: instant(dt.datetime.fromisoformat(d["won_date"])) for d in rows(deals)}
    owner = {d["mql_id"]: d["sr_id"] for d in rows(deals)}
    as_of = max([*mql_at.values(), *won_at.values()])
    counts: dict[str | None, Counter[str]] = defaultdict(Counter)
    for lead, start in mql_at.items():
        end = won_at.get(lead)
        if end is not None and end >= start:
            outcome = "met" if end - start <= goal else "breached"
        else:
            outcome = "breached" if as_of - start > goal else "pending"
        counts[owner.get(lead)][outcome] += 1
    (clock,) = analysis.accountability.rules
    actual = {
        b.key: (b.outcomes.met, b.outcomes.breached, b.outcomes.pending) for b in clock.by_owner
    }
    assert actual == {key: (c["met"], c["breached"], c["pending"]) for key, c in counts.items()}
