"""The report document: instants as text, and the summaries counted lead by lead (Tally)."""

from __future__ import annotations

import datetime as dt
import pickle
import random
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT, check_text
from slaspec import readers
from slaspec.replay import Engine, prepare, replay_prepared
from slaspec.report import (
    InputFile,
    attainment,
    build_report,
    iso,
    rule_summaries,
    summary_report,
    tally,
    tally_rules,
)
from slaspec.results import Cycle, ReplayResult, Tally

AGREEMENT_PATH = ROOT / "agreements" / "harbour-b2b.sla"
LOG_PATH = ROOT / "examples" / "harbour-b2b.events.csv"
INPUTS = [InputFile(path="log.csv", sha256="0" * 64, kind="log")]


def reference_iso(micros: int) -> str:
    """report.iso as first written: one datetime and one strftime per instant."""
    seconds, fraction = divmod(micros, 1_000_000)
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{fraction:06d}"
    return text + "Z"


FIRST = (dt.datetime(1, 1, 1, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).days
LAST = (dt.datetime(9999, 12, 31, tzinfo=dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).days


@settings(max_examples=300)
@given(
    st.one_of(
        st.integers(-2_208_988_800_000_000, 7_258_118_400_000_000),  # 1900..2200
        st.integers(FIRST * 86_400_000_000, (LAST + 1) * 86_400_000_000 - 1),
    )
)
def test_iso_writes_what_the_reference_writes(micros: int) -> None:
    assert iso(micros) == reference_iso(micros)


def test_iso_edges() -> None:
    assert iso(None) is None
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(-1) == "1969-12-31T23:59:59.999999Z"
    assert iso(1_772_403_300_000_000) == "2026-03-01T22:15:00Z"


def replayed() -> tuple[object, ReplayResult]:
    checked = check_text(AGREEMENT_PATH.read_text(encoding="utf-8"), str(AGREEMENT_PATH))
    agreement = checked.agreement
    assert agreement is not None
    text = LOG_PATH.read_text(encoding="utf-8")
    items = list(readers.read_log(text, "log.csv", "csv", readers.ReadOptions()))
    return agreement, replay_prepared(Engine(agreement), prepare(agreement, items))


AGREEMENT, RESULT = replayed()


def test_tally_counts_what_attainment_counts() -> None:
    counted = tally(RESULT.leads)
    by_rule_team: defaultdict[tuple[str, str], list[Cycle]] = defaultdict(list)
    for cycle in RESULT.cycles:
        by_rule_team[(cycle.rule, cycle.responsible or "")].append(cycle)
    assert set(counted.outcomes) == set(by_rule_team)
    for (rule, team), cycles in by_rule_team.items():
        counts = counted.outcomes[(rule, team)]
        expected = attainment(cycles, team or None)
        assert counts == [
            expected.met,
            expected.breached,
            expected.pending,
            expected.at_risk,
            expected.cancelled,
        ]
    kinds = defaultdict(int)
    for violation in RESULT.violations:
        kinds[violation.kind.value] += 1
    assert dict(counted.by_kind) == kinds
    assert sum(counted.by_team.values()) == len(RESULT.violations)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, len(RESULT.leads)), st.integers(0, 2**32))
def test_tallies_of_disjoint_leads_merge_exactly(cut: int, seed: int) -> None:
    leads = list(RESULT.leads)
    random.Random(seed).shuffle(leads)
    merged = Tally()
    merged.merge(tally(leads[:cut]))
    merged.merge(tally(leads[cut:]))
    whole = tally(RESULT.leads)
    assert merged.outcomes == whole.outcomes
    assert merged.by_kind == whole.by_kind and merged.by_team == whole.by_team
    assert tally_rules(merged, AGREEMENT) == rule_summaries(AGREEMENT, RESULT)  # type: ignore[arg-type]
    # A tally crosses processes pickled (the command's forked replay).
    again = pickle.loads(pickle.dumps(merged))
    assert type(again) is Tally
    assert (again.outcomes, again.by_version) == (merged.outcomes, merged.by_version)
    assert (again.by_kind, again.by_team) == (merged.by_kind, merged.by_team)


def test_summary_report_is_build_report_without_the_long_lists() -> None:
    full = build_report(AGREEMENT, RESULT, INPUTS, "v", "h", 3)  # type: ignore[arg-type]
    summary = summary_report(
        AGREEMENT,  # type: ignore[arg-type]
        tally(RESULT.leads),
        RESULT.as_of,
        RESULT.accounting,
        RESULT.rejections,
        INPUTS,
        "v",
        "h",
        3,
    )
    assert full.cycles and full.violations
    assert summary == full.model_copy(update={"cycles": [], "violations": []})
    text_only = build_report(
        AGREEMENT,  # type: ignore[arg-type]
        RESULT,
        INPUTS,
        "v",
        "h",
        3,
        cycles=False,
        violations=False,
    )
    assert text_only == summary


def test_a_rule_with_no_cycles_has_no_attainment() -> None:
    empty = tally_rules(Tally(), AGREEMENT)  # type: ignore[arg-type]
    assert [rule.name for rule in empty] == ["first_touch", "sql_follow_up", "sal_calls"]
    for rule in empty:
        assert rule.by_team == []
        assert rule.overall.attainment is None and rule.overall.met == 0
