"""The replay report: ReplayResult + provenance -> the versioned, schema'd document (pydantic).

The JSON report is a boundary: other tools read it, so its shape is declared here with
pydantic and published as a JSON Schema (`slaspec schema report`). Bump SCHEMA_VERSION on any
change that is not purely additive. Version 1.1 added `analysis` (slaspec.analysis), written only
when the analysis was computed. Version 1.2 added the agreement's `versions`, each rule's
`by_version` and each cycle's and violation's `agreement_version` (docs/versions.md), written only
when the replay used versions.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from slaspec import analysis as an
from slaspec.compiler import Agreement
from slaspec.diagnostics import Diagnostic
from slaspec.events import Origin
from slaspec.results import (
    AT_RISK,
    BREACHED,
    CANCELLED,
    MET,
    OUTCOME_SLOTS,
    PENDING,
    Accounting,
    Cycle,
    LeadResult,
    ReplayResult,
    Tally,
    Violation,
)

if TYPE_CHECKING:
    from slaspec.versions import Version

SCHEMA_VERSION = "1.2"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputFile(_Model):
    """An input file and the sha256 of its bytes, so an auditor can reproduce the report."""

    path: str
    sha256: str
    kind: Literal["agreement", "log", "mapping"]


class RowRef(_Model):
    """A row of an input log."""

    file: str
    row: int


class AccountingOut(_Model):
    """Where every row read went; replayed + rejected + duplicate + after_as_of == read."""

    read: int
    replayed: int
    rejected: int
    duplicate: int
    after_as_of: int
    dst_resolved: int = Field(description="naive timestamps resolved by the declared DST policy")


class Rejection(_Model):
    """A row that could not be replayed, and why."""

    file: str | None
    row: int | None
    column: str | None
    code: str
    message: str
    help: str | None


class Attainment(_Model):
    """Outcomes of a rule's cycles (for one team or all); attainment = met / (met + breached)."""

    team: str | None
    met: int
    breached: int
    pending: int
    at_risk: int
    cancelled: int
    attainment: float | None = Field(description="null when no cycle was met or breached")


class VersionAttainment(_Model):
    """Outcomes of the cycles of a rule that one version of the agreement judged."""

    version: str = Field(description="the version's label, as in `agreement_version`")
    met: int
    breached: int
    pending: int
    at_risk: int
    cancelled: int
    attainment: float | None = Field(description="null when no cycle was met or breached")


class RuleSummary(_Model):
    """A clock or cadence: where it is written and how it did, overall and by responsible team."""

    name: str
    title: str
    kind: Literal["clock", "cadence"]
    clause: str
    overall: Attainment
    by_team: list[Attainment]
    by_version: list[VersionAttainment] | None = Field(
        default=None,
        description="by the agreement version that judged the cycles, oldest first: each "
        "version that declares the rule; absent when the replay used one agreement (schema 1.2)",
    )


class CycleOut(_Model):
    """One clock or cadence cycle of one lead."""

    lead: str
    rule: str
    kind: Literal["clock", "cadence"]
    index: int
    started: str
    start_row: RowRef
    tier: int
    goal: str
    goal_seconds: float
    calendar: str
    due: str | None
    ended: str | None
    end_row: RowRef | None
    judged_at: str
    outcome: Literal["met", "breached", "cancelled", "pending"]
    at_risk: bool
    elapsed_seconds: float = Field(
        description="business time on the goal's calendar, pauses excluded"
    )
    wall_seconds: float
    paused_seconds: float
    responsible: str | None
    count: int | None = Field(description="cadences: activities counted")
    required: int | None = Field(description="cadences: activities required")
    agreement_version: str | None = Field(
        default=None,
        description="the label of the agreement version that judged the cycle; absent when "
        "the replay used one agreement (schema 1.2)",
    )


class Condition(_Model):
    """A failing sub-condition of handoff criteria, with the values the lead had."""

    condition: str
    seen: str


class ViolationOut(_Model):
    """A broken promise, with the clause, the accountable team and the rows behind it."""

    lead: str
    kind: Literal[
        "invalid_entry",
        "illegal_transition",
        "criteria_unmet",
        "stall",
        "clock_breached",
        "cadence_breached",
    ]
    rule: str
    clause: str
    responsible: str | None
    at: str
    rows: list[RowRef]
    message: str
    conditions: list[Condition]
    started: str | None
    due: str | None
    ended: str | None
    elapsed_seconds: float | None
    wall_seconds: float | None
    agreement_version: str | None = Field(
        default=None,
        description="the label of the agreement version that judged the violation; absent "
        "when the replay used one agreement (schema 1.2)",
    )


class VersionOut(_Model):
    """A version of the agreement a replay judged by, and when it came into force."""

    label: str = Field(description="the name results give it: `agreement_version`")
    version: str = Field(description="its `version` text; empty when it states none")
    effective: str | None = Field(description="its effective date, as written")
    timezone: str = Field(description="the time zone its effective date is a date in")
    starts: str | None = Field(
        description="the instant it came into force (UTC); the oldest version also judges "
        "everything before it"
    )
    files: list[str]


class AgreementOut(_Model):
    """The agreement the log was judged by."""

    title: str
    version: str
    effective: str | None
    timezone: str
    files: list[str]
    versions: list[VersionOut] | None = Field(
        default=None,
        description="every version of the agreement, oldest first, when the replay judged each "
        "cycle by the version in force; absent otherwise (schema 1.2)",
    )


# ---------------------------------------------------------------- the analysis (schema 1.1)


class DurationsOut(_Model):
    """Count, total, median, 90th percentile and maximum of a set of durations, in seconds."""

    count: int
    total_seconds: float
    median_seconds: float | None = Field(description="linear between closest ranks")
    p90_seconds: float | None
    max_seconds: float | None


class StageCount(_Model):
    """A stage and a count of stays or leads."""

    stage: str
    count: int


class WaitingOut(_Model):
    """A lead still in a stage at as-of, and how long it has waited there."""

    lead: str
    entered: str
    business_seconds: float
    wall_seconds: float


class StageOut(_Model):
    """One stage as a bottleneck: entries, exits by next stage, dwell, leads waiting, stalls."""

    stage: str
    title: str
    owner: str | None
    terminal: bool
    limit: str | None = Field(description="the stage's `max dwell`, as written")
    entries: int = Field(description="stays begun, re-entries included")
    leads: int = Field(description="distinct leads that entered")
    exits: list[StageCount] = Field(description="completed stays by the stage entered next")
    dwell: DurationsOut = Field(description="completed stays, business time of the stage")
    dwell_wall: DurationsOut = Field(description="completed stays, wall-clock time")
    open: int = Field(description="leads in the stage at as-of")
    waiting: DurationsOut = Field(description="open stays to as-of, business time")
    waiting_wall: DurationsOut = Field(description="open stays to as-of, wall-clock time")
    longest: list[WaitingOut] = Field(description="the open stays that waited longest")
    stalls: int = Field(description="stall violations: stays over the dwell limit")
    stalled_leads: int
    stalled_now: int = Field(description="open stays already over the limit at as-of")


class FlowOut(_Model):
    """Stays in `source` that ended by entering `target`, and their wall-clock time."""

    source: str
    target: str
    declared: bool = Field(description="false for a move the agreement has no handoff for")
    count: int
    wall: DurationsOut


class LostTimeOut(_Model):
    """Time leads spent in a non-terminal stage, open stays included."""

    stage: str
    business_seconds: float
    wall_seconds: float
    stays: int


class BottlenecksOut(_Model):
    """Stages in declaration order, flows between them, stages ranked by business time lost."""

    stages: list[StageOut]
    flows: list[FlowOut]
    ranking: list[LostTimeOut]


class PeriodOut(_Model):
    """A week, month, quarter or year in the agreement's time zone, [start, end)."""

    kind: Literal["week", "month", "quarter", "year"]
    label: str
    start: str
    end: str
    partial: bool = Field(description="not complete at as-of")


class OutcomesOut(_Model):
    """Cycles by outcome; attainment = met / (met + breached), null when both are 0."""

    met: int
    breached: int
    pending: int
    cancelled: int
    at_risk: int
    attainment: float | None


class BreakdownOut(_Model):
    """The outcomes of the cycles of one team or one lead owner (null: none)."""

    key: str | None
    outcomes: OutcomesOut


class PeriodOutcomesOut(_Model):
    """The outcomes of the cycles that started in one period."""

    period: PeriodOut
    outcomes: OutcomesOut


class HeatmapOut(_Model):
    """Breached cycles by weekday (row 0 = Monday) and local hour (column) of their start."""

    counts: list[list[int]]
    total: int


class RuleStatsOut(_Model):
    """A clock or cadence: attainment overall, by responsible team, by owner and by period."""

    rule: str
    title: str
    kind: Literal["clock", "cadence"]
    outcomes: OutcomesOut
    by_team: list[BreakdownOut]
    by_owner: list[BreakdownOut]
    by_week: list[PeriodOutcomesOut]
    by_month: list[PeriodOutcomesOut]
    by_quarter: list[PeriodOutcomesOut]
    heatmap: HeatmapOut


VerdictText = Literal["met", "missed"]


class CommitmentOut(_Model):
    """A line of a team's scorecard: measured over the replay, judged by a target if one exists."""

    team: str | None
    kind: Literal["volume", "criteria", "acceptance", "speed", "cadence"]
    subject: str
    title: str
    part: int
    whole: int | None
    value: float | None = Field(description="part / whole; null for volume")
    target: str | None
    goal: float | None = Field(description="a count (volume) or a ratio (0.9 for 90%)")
    bound: Literal["at least", "at most"] | None
    periods_judged: int
    periods_met: int
    verdict: VerdictText | None


class AccountabilityOut(_Model):
    """Each clock and cadence, breaches of all of them by weekday and hour, the scorecard."""

    rules: list[RuleStatsOut]
    heatmap: HeatmapOut
    scorecard: list[CommitmentOut]


class TargetPeriodOut(_Model):
    """A target in one period: `part` of `whole` (volume: `part` leads, no whole)."""

    period: PeriodOut
    part: int
    whole: int | None
    value: float | None
    verdict: VerdictText | None
    immature: int = Field(description="cohort members whose window was still open at as-of")
    undecided: int = Field(description="immature members not yet converted or worked")


class TargetOut(_Model):
    """A target judged in every listed period; the verdict counts complete periods only."""

    name: str
    title: str
    kind: Literal["volume", "conversion", "attainment", "worked"]
    period: Literal["week", "month", "quarter", "year"]
    bound: Literal["at least", "at most"]
    goal: float = Field(description="a count (volume) or a ratio (0.9 for 90%)")
    subject: str
    window: str | None
    responsible: str | None
    clause: str
    periods: list[TargetPeriodOut]
    met: int = Field(description="complete periods met")
    missed: int = Field(description="complete periods missed")
    verdict: VerdictText | None = Field(description="null until a complete period was judged")


class FunnelStepOut(_Model):
    """Of the leads that entered `source`, those that later entered `target`."""

    source: str
    target: str
    entered: int
    converted: int
    value: float | None


class FunnelOut(_Model):
    """Cohort conversion between consecutive stages of the main path."""

    path: list[str]
    steps: list[FunnelStepOut]


class GroupOut(_Model):
    """The closed loop of the leads sharing one value of an attribute."""

    value: str
    leads: int
    entered: list[StageCount] = Field(description="distinct leads that entered each stage")
    steps: list[FunnelStepOut]
    won: int
    revenue: str | None = Field(
        description="the money field summed over won leads, an exact decimal as text"
    )
    unpriced: int = Field(description="won leads whose money field is unset or not a number")
    time_to_won: DurationsOut = Field(description="wall time from first stage entry to won")


class ClosedLoopOut(_Model):
    """Leads grouped by the final value of one attribute."""

    attribute: str
    groups: list[GroupOut]


class AnalysisOut(_Model):
    """Bottlenecks, accountability, targets, funnel and closed loop of a replay."""

    as_of: str
    timezone: str
    first_event: str | None
    won_stages: list[str]
    money_field: str | None
    bottlenecks: BottlenecksOut
    accountability: AccountabilityOut
    targets: list[TargetOut]
    funnel: FunnelOut
    overall: GroupOut = Field(description="the closed loop of every lead")
    closed_loop: list[ClosedLoopOut]


class Report(_Model):
    """A replay report: provenance, accounting, rule outcomes, cycles and violations."""

    schema_version: str = SCHEMA_VERSION
    slaspec_version: str
    holidays_version: str
    agreement: AgreementOut
    inputs: list[InputFile]
    as_of: str
    accounting: AccountingOut
    rules: list[RuleSummary]
    violations_by_kind: dict[str, int]
    violations_by_team: dict[str, int]
    violations: list[ViolationOut]
    cycles: list[CycleOut]
    rejections: list[Rejection]
    analysis: AnalysisOut | None = Field(
        default=None, description="the analysis of the replay; absent when not computed"
    )


# ---------------------------------------------------------------- building


def iso(micros: int | None) -> str | None:
    """An instant as ISO 8601 UTC with a Z (seconds, or microseconds when it has them)."""
    if micros is None:
        return None
    seconds, fraction = divmod(micros, 1_000_000)
    # A report writes several instants per cycle; the date part repeats, the time is arithmetic.
    day, of_day = divmod(seconds, 86_400)
    hour, rest = divmod(of_day, 3600)
    minute, second = divmod(rest, 60)
    text = f"{_date(day)}T{hour:02d}:{minute:02d}:{second:02d}"
    if fraction:
        text += f".{fraction:06d}"
    return text + "Z"


@lru_cache(maxsize=4096)
def _date(day: int) -> str:
    """The UTC date `day` days after 1970-01-01, as the reference strftime writes it."""
    return (_EPOCH + dt.timedelta(days=day)).strftime("%Y-%m-%d")


def seconds(micros: int | None) -> float | None:
    """Microseconds as seconds (exact for whole seconds)."""
    if micros is None:
        return None
    return micros / 1_000_000


def _row(origin: Origin) -> RowRef:
    return RowRef(file=origin.file, row=origin.row)


def _attainment(counts: Sequence[int], team: str | None) -> Attainment:
    met, breached = counts[MET], counts[BREACHED]
    ratio = None if met + breached == 0 else met / (met + breached)
    return Attainment(
        team=team,
        met=met,
        breached=breached,
        pending=counts[PENDING],
        at_risk=counts[AT_RISK],
        cancelled=counts[CANCELLED],
        attainment=ratio,
    )


def _version_attainment(counts: Sequence[int], version: str) -> VersionAttainment:
    shown = _attainment(counts, None)
    return VersionAttainment(
        version=version,
        met=shown.met,
        breached=shown.breached,
        pending=shown.pending,
        at_risk=shown.at_risk,
        cancelled=shown.cancelled,
        attainment=shown.attainment,
    )


def attainment(cycles: Iterable[Cycle], team: str | None) -> Attainment:
    """Counts of outcomes and the attainment ratio of a set of cycles."""
    counts = [0] * 5
    for cycle in cycles:
        counts[OUTCOME_SLOTS[cycle.outcome]] += 1
        counts[AT_RISK] += cycle.at_risk
    return _attainment(counts, team)


def tally_rules(tally: Tally, agreement: Agreement) -> list[RuleSummary]:
    """Every clock and cadence with its outcomes, overall and by responsible team."""
    teams: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for (rule, team), counts in tally.outcomes.items():
        teams[rule][team] = counts
    versions: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for (rule, version), counts in tally.by_version.items():
        versions[rule][version] = counts
    rules: list[tuple[str, str, Literal["clock", "cadence"], str]] = [
        (c.name, c.title, "clock", str(c.clause)) for c in agreement.clocks.values()
    ]
    rules += [(c.name, c.title, "cadence", str(c.clause)) for c in agreement.cadences.values()]
    summaries: list[RuleSummary] = []
    for name, title, kind, clause in rules:
        by_team = teams.get(name, {})
        overall = [sum(counts[slot] for counts in by_team.values()) for slot in range(5)]
        summaries.append(
            RuleSummary(
                name=name,
                title=title,
                kind=kind,
                clause=clause,
                overall=_attainment(overall, None),
                by_team=[_attainment(by_team[t], t or None) for t in sorted(by_team)],
                # Ordered oldest first, and completed, by `with_versions`.
                by_version=[
                    _version_attainment(counts, version)
                    for version, counts in sorted(versions.get(name, {}).items())
                ]
                if tally.by_version
                else None,
            )
        )
    return summaries


def tally(leads: Iterable[LeadResult]) -> Tally:
    """The summaries of a set of leads."""
    counted = Tally()
    for lead in leads:
        counted.add(lead)
    return counted


def rule_summaries(agreement: Agreement, result: ReplayResult) -> list[RuleSummary]:
    """Every clock and cadence with its outcomes, overall and by responsible team."""
    return tally_rules(tally(result.leads), agreement)


def _cycle(cycle: Cycle) -> CycleOut:
    return CycleOut(
        lead=cycle.lead,
        rule=cycle.rule,
        kind="clock" if cycle.kind == "clock" else "cadence",
        index=cycle.index,
        started=iso(cycle.started) or "",
        start_row=_row(cycle.start_row),
        tier=cycle.tier,
        goal=cycle.goal_text,
        goal_seconds=cycle.goal / 1_000_000,
        calendar=cycle.calendar,
        due=iso(cycle.due),
        ended=iso(cycle.ended),
        end_row=_row(cycle.end_row) if cycle.end_row is not None else None,
        judged_at=iso(cycle.judged_at) or "",
        outcome=cycle.outcome.value,
        at_risk=cycle.at_risk,
        elapsed_seconds=cycle.elapsed / 1_000_000,
        wall_seconds=cycle.wall / 1_000_000,
        paused_seconds=cycle.paused / 1_000_000,
        responsible=cycle.responsible,
        count=cycle.count if cycle.kind == "cadence" else None,
        required=cycle.required if cycle.kind == "cadence" else None,
        agreement_version=cycle.version,
    )


def _violation(violation: Violation) -> ViolationOut:
    return ViolationOut(
        lead=violation.lead,
        kind=violation.kind.value,
        rule=violation.rule,
        clause=violation.clause,
        responsible=violation.responsible,
        at=iso(violation.at) or "",
        rows=[_row(origin) for origin in violation.rows],
        message=violation.message,
        conditions=[Condition(condition=c, seen=s) for c, s in violation.details],
        started=iso(violation.started),
        due=iso(violation.due),
        ended=iso(violation.ended),
        elapsed_seconds=seconds(violation.elapsed),
        wall_seconds=seconds(violation.wall),
        agreement_version=violation.version,
    )


def _rejection(diagnostic: Diagnostic) -> Rejection:
    return Rejection(
        file=diagnostic.file,
        row=diagnostic.row,
        column=diagnostic.column,
        code=diagnostic.code,
        message=diagnostic.message,
        help=diagnostic.help,
    )


def build_report(
    agreement: Agreement,
    result: ReplayResult,
    inputs: Iterable[InputFile],
    slaspec_version: str,
    holidays_version: str,
    dst_resolved: int = 0,
    cycles: bool = True,
    violations: bool = True,
) -> Report:
    """The report document of a replay; per-cycle and per-violation lists only when asked for.

    The summaries (rules, counts by kind and team) are always complete; leaving the long lists
    out keeps a text summary of a million-event log from building a million records.
    """
    return summary_report(
        agreement,
        tally(result.leads),
        result.as_of,
        result.accounting,
        result.rejections,
        inputs,
        slaspec_version,
        holidays_version,
        dst_resolved,
        cycles=[_cycle(c) for c in result.cycles] if cycles else [],
        violations=[_violation(v) for v in result.violations] if violations else [],
    )


def summary_report(
    agreement: Agreement,
    counted: Tally,
    as_of: int,
    accounting: Accounting,
    rejections: Iterable[Diagnostic],
    inputs: Iterable[InputFile],
    slaspec_version: str,
    holidays_version: str,
    dst_resolved: int = 0,
    cycles: Sequence[CycleOut] = (),
    violations: Sequence[ViolationOut] = (),
) -> Report:
    """The report document from a tally of the leads; the long lists as given (none by default).

    Writers that stream the lists (render.json_chunks) start from this document without them.
    """
    return Report(
        slaspec_version=slaspec_version,
        holidays_version=holidays_version,
        agreement=AgreementOut(
            title=agreement.title,
            version=agreement.version,
            effective=agreement.effective.isoformat() if agreement.effective else None,
            timezone=agreement.timezone,
            files=list(agreement.files),
        ),
        inputs=list(inputs),
        as_of=iso(as_of) or "",
        accounting=AccountingOut(
            read=accounting.read,
            replayed=accounting.replayed,
            rejected=accounting.rejected,
            duplicate=accounting.duplicate,
            after_as_of=accounting.after_as_of,
            dst_resolved=dst_resolved or accounting.dst_resolved,
        ),
        rules=tally_rules(counted, agreement),
        violations_by_kind=dict(sorted(counted.by_kind.items())),
        violations_by_team=dict(sorted(counted.by_team.items())),
        violations=list(violations),
        cycles=list(cycles),
        rejections=[_rejection(d) for d in rejections],
    )


def with_versions(report: Report, versions: Sequence[Version]) -> Report:
    """The report, its agreement section listing the versions the replay judged by, and each
    rule's outcomes split by version: every version that declares the rule, oldest first."""
    listed = [
        VersionOut(
            label=version.label,
            version=version.agreement.version,
            effective=None if version.effective is None else version.effective.isoformat(),
            timezone=version.agreement.timezone,
            starts=iso(version.starts),
            files=list(version.agreement.files),
        )
        for version in versions
    ]
    agreement = report.agreement.model_copy(update={"versions": listed})
    rules = []
    for rule in report.rules:
        counted = {row.version: row for row in rule.by_version or ()}
        by_version = [
            counted.get(version.label) or _version_attainment([0] * 5, version.label)
            for version in versions
            if version.label in counted
            or rule.name in version.agreement.clocks
            or rule.name in version.agreement.cadences
        ]
        rules.append(rule.model_copy(update={"by_version": by_version}))
    return report.model_copy(update={"agreement": agreement, "rules": rules})


# ---------------------------------------------------------------- the analysis as a document


def analysis_out(analysis: an.Analysis) -> AnalysisOut:
    """The analysis as the report's `analysis` section: seconds and ISO instants."""
    accountability = analysis.accountability
    return AnalysisOut(
        as_of=iso(analysis.as_of) or "",
        timezone=analysis.timezone,
        first_event=iso(analysis.first_event),
        won_stages=list(analysis.won_stages),
        money_field=analysis.money_field,
        bottlenecks=_bottlenecks(analysis.bottlenecks),
        accountability=AccountabilityOut(
            rules=[_rule_stats(rule) for rule in accountability.rules],
            heatmap=_heatmap(accountability.heatmap),
            scorecard=[_commitment(line) for line in accountability.scorecard],
        ),
        targets=[_target(target) for target in analysis.targets],
        funnel=FunnelOut(
            path=list(analysis.funnel.path), steps=[_step(s) for s in analysis.funnel.steps]
        ),
        overall=_group(analysis.overall),
        closed_loop=[
            ClosedLoopOut(attribute=loop.attribute, groups=[_group(g) for g in loop.groups])
            for loop in analysis.closed_loop
        ],
    )


def _durations(summary: an.Summary) -> DurationsOut:
    return DurationsOut(
        count=summary.count,
        total_seconds=summary.total / 1_000_000,
        median_seconds=None if summary.median is None else summary.median / 1_000_000,
        p90_seconds=None if summary.p90 is None else summary.p90 / 1_000_000,
        max_seconds=seconds(summary.max),
    )


def _bottlenecks(bottlenecks: an.Bottlenecks) -> BottlenecksOut:
    return BottlenecksOut(
        stages=[
            StageOut(
                stage=s.stage,
                title=s.title,
                owner=s.owner,
                terminal=s.terminal,
                limit=s.limit,
                entries=s.entries,
                leads=s.leads,
                exits=[StageCount(stage=stage, count=count) for stage, count in s.exits],
                dwell=_durations(s.dwell),
                dwell_wall=_durations(s.dwell_wall),
                open=s.open,
                waiting=_durations(s.waiting),
                waiting_wall=_durations(s.waiting_wall),
                longest=[
                    WaitingOut(
                        lead=w.lead,
                        entered=iso(w.entered) or "",
                        business_seconds=w.business / 1_000_000,
                        wall_seconds=w.wall / 1_000_000,
                    )
                    for w in s.longest
                ],
                stalls=s.stalls,
                stalled_leads=s.stalled_leads,
                stalled_now=s.stalled_now,
            )
            for s in bottlenecks.stages
        ],
        flows=[
            FlowOut(
                source=f.source,
                target=f.target,
                declared=f.declared,
                count=f.count,
                wall=_durations(f.wall),
            )
            for f in bottlenecks.flows
        ],
        ranking=[
            LostTimeOut(
                stage=lost.stage,
                business_seconds=lost.business / 1_000_000,
                wall_seconds=lost.wall / 1_000_000,
                stays=lost.stays,
            )
            for lost in bottlenecks.ranking
        ],
    )


def _period(period: an.Period) -> PeriodOut:
    return PeriodOut(
        kind=period.kind,
        label=period.label,
        start=iso(period.start) or "",
        end=iso(period.end) or "",
        partial=period.partial,
    )


def _outcomes(outcomes: an.Outcomes) -> OutcomesOut:
    return OutcomesOut(
        met=outcomes.met,
        breached=outcomes.breached,
        pending=outcomes.pending,
        cancelled=outcomes.cancelled,
        at_risk=outcomes.at_risk,
        attainment=outcomes.attainment,
    )


def _heatmap(heatmap: an.Heatmap) -> HeatmapOut:
    return HeatmapOut(counts=[list(day) for day in heatmap.counts], total=heatmap.total)


def _rule_stats(rule: an.RuleStats) -> RuleStatsOut:
    def periods(rows: Sequence[an.PeriodOutcomes]) -> list[PeriodOutcomesOut]:
        return [
            PeriodOutcomesOut(period=_period(row.period), outcomes=_outcomes(row.outcomes))
            for row in rows
        ]

    return RuleStatsOut(
        rule=rule.rule,
        title=rule.title,
        kind=rule.kind,
        outcomes=_outcomes(rule.outcomes),
        by_team=[BreakdownOut(key=b.key, outcomes=_outcomes(b.outcomes)) for b in rule.by_team],
        by_owner=[BreakdownOut(key=b.key, outcomes=_outcomes(b.outcomes)) for b in rule.by_owner],
        by_week=periods(rule.by_week),
        by_month=periods(rule.by_month),
        by_quarter=periods(rule.by_quarter),
        heatmap=_heatmap(rule.heatmap),
    )


def _verdict(verdict: an.Verdict | None) -> VerdictText | None:
    if verdict is None:
        return None
    return "met" if verdict is an.Verdict.MET else "missed"


def _bound(bound: str) -> Literal["at least", "at most"]:
    assert bound in ("at least", "at most"), bound
    return "at least" if bound == "at least" else "at most"


def _commitment(line: an.Commitment) -> CommitmentOut:
    return CommitmentOut(
        team=line.team,
        kind=line.kind,
        subject=line.subject,
        title=line.title,
        part=line.part,
        whole=line.whole,
        value=line.value,
        target=line.target,
        goal=None if line.goal is None else float(line.goal),
        bound=None if line.bound is None else _bound(line.bound),
        periods_judged=line.periods_judged,
        periods_met=line.periods_met,
        verdict=_verdict(line.verdict),
    )


def _target(target: an.TargetStats) -> TargetOut:
    return TargetOut(
        name=target.name,
        title=target.title,
        kind=target.kind,
        period=target.period,
        bound=_bound(target.bound),
        goal=float(target.goal),
        subject=target.subject,
        window=target.window,
        responsible=target.responsible,
        clause=target.clause,
        periods=[
            TargetPeriodOut(
                period=_period(row.period),
                part=row.part,
                whole=row.whole,
                value=row.value,
                verdict=_verdict(row.verdict),
                immature=row.immature,
                undecided=row.undecided,
            )
            for row in target.periods
        ],
        met=target.met,
        missed=target.missed,
        verdict=_verdict(target.verdict),
    )


def _step(step: an.FunnelStep) -> FunnelStepOut:
    return FunnelStepOut(
        source=step.source,
        target=step.target,
        entered=step.entered,
        converted=step.converted,
        value=step.value,
    )


def _group(group: an.GroupStats) -> GroupOut:
    return GroupOut(
        value=group.value,
        leads=group.leads,
        entered=[StageCount(stage=stage, count=count) for stage, count in group.entered],
        steps=[_step(step) for step in group.steps],
        won=group.won,
        revenue=None if group.revenue is None else str(group.revenue),
        unpriced=group.unpriced,
        time_to_won=_durations(group.time_to_won),
    )


def percent(value: float | Decimal | None) -> str:
    """A ratio as a percentage for people, or a dash when there is none."""
    if value is None:
        return "-"
    return f"{float(value) * 100:.1f}%"
