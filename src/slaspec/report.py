"""The replay report: ReplayResult + provenance -> the versioned, schema'd document (pydantic).

The JSON report is a boundary: other tools read it, so its shape is declared here with
pydantic and published as a JSON Schema (`slaspec schema report`). Bump SCHEMA_VERSION on any
change that is not purely additive.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from slaspec.compiler import Agreement
from slaspec.diagnostics import Diagnostic
from slaspec.events import Origin
from slaspec.results import Cycle, Outcome, ReplayResult, Violation

SCHEMA_VERSION = "1.0"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputFile(_Model):
    """An input file and the sha256 of its bytes, so an auditor can reproduce the report."""

    path: str
    sha256: str
    kind: Literal["agreement", "log"]


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


class RuleSummary(_Model):
    """A clock or cadence: where it is written and how it did, overall and by responsible team."""

    name: str
    title: str
    kind: Literal["clock", "cadence"]
    clause: str
    overall: Attainment
    by_team: list[Attainment]


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


class AgreementOut(_Model):
    """The agreement the log was judged by."""

    title: str
    version: str
    effective: str | None
    timezone: str
    files: list[str]


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


# ---------------------------------------------------------------- building


def iso(micros: int | None) -> str | None:
    """An instant as ISO 8601 UTC with a Z (seconds, or microseconds when it has them)."""
    if micros is None:
        return None
    seconds, fraction = divmod(micros, 1_000_000)
    moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seconds)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += f".{fraction:06d}"
    return text + "Z"


def seconds(micros: int | None) -> float | None:
    """Microseconds as seconds (exact for whole seconds)."""
    if micros is None:
        return None
    return micros / 1_000_000


def _row(origin: Origin) -> RowRef:
    return RowRef(file=origin.file, row=origin.row)


def attainment(cycles: Iterable[Cycle], team: str | None) -> Attainment:
    """Counts of outcomes and the attainment ratio of a set of cycles."""
    counts: Counter[Outcome] = Counter()
    at_risk = 0
    for cycle in cycles:
        counts[cycle.outcome] += 1
        at_risk += cycle.at_risk
    met, breached = counts[Outcome.MET], counts[Outcome.BREACHED]
    ratio = None if met + breached == 0 else met / (met + breached)
    return Attainment(
        team=team,
        met=met,
        breached=breached,
        pending=counts[Outcome.PENDING],
        at_risk=at_risk,
        cancelled=counts[Outcome.CANCELLED],
        attainment=ratio,
    )


def rule_summaries(agreement: Agreement, result: ReplayResult) -> list[RuleSummary]:
    """Every clock and cadence with its outcomes, overall and by responsible team."""
    by_rule: dict[str, list[Cycle]] = defaultdict(list)
    for cycle in result.cycles:
        by_rule[cycle.rule].append(cycle)
    summaries: list[RuleSummary] = []
    rules: list[tuple[str, str, Literal["clock", "cadence"], str]] = [
        (c.name, c.title, "clock", str(c.clause)) for c in agreement.clocks.values()
    ]
    rules += [(c.name, c.title, "cadence", str(c.clause)) for c in agreement.cadences.values()]
    for name, title, kind, clause in rules:
        cycles = by_rule.get(name, [])
        teams: dict[str, list[Cycle]] = defaultdict(list)
        for cycle in cycles:
            teams[cycle.responsible or ""].append(cycle)
        summaries.append(
            RuleSummary(
                name=name,
                title=title,
                kind=kind,
                clause=clause,
                overall=attainment(cycles, None),
                by_team=[attainment(teams[t], t or None) for t in sorted(teams)],
            )
        )
    return summaries


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
    found = result.violations
    by_kind = Counter(v.kind.value for v in found)
    by_team = Counter(v.responsible or "(no team)" for v in found)
    accounting = result.accounting
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
        as_of=iso(result.as_of) or "",
        accounting=AccountingOut(
            read=accounting.read,
            replayed=accounting.replayed,
            rejected=accounting.rejected,
            duplicate=accounting.duplicate,
            after_as_of=accounting.after_as_of,
            dst_resolved=dst_resolved or accounting.dst_resolved,
        ),
        rules=rule_summaries(agreement, result),
        violations_by_kind=dict(sorted(by_kind.items())),
        violations_by_team=dict(sorted(by_team.items())),
        violations=[_violation(v) for v in found] if violations else [],
        cycles=[_cycle(c) for c in result.cycles] if cycles else [],
        rejections=[_rejection(d) for d in result.rejections],
    )


def percent(value: float | Decimal | None) -> str:
    """A ratio as a percentage for people, or a dash when there is none."""
    if value is None:
        return "-"
    return f"{float(value) * 100:.1f}%"
