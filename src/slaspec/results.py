"""Replay results: cycles, violations, stays and row accounting -> the renderers' only input.

A result is a fold over leads: results of disjoint sets of leads merge exactly (counts add,
per-lead records are concatenated and sorted), so quantiles are taken only after merging.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from slaspec.diagnostics import Diagnostic, sort_key
from slaspec.events import Origin


class Outcome(enum.Enum):
    """How a clock or cadence cycle ended, or stands at as-of."""

    MET = "met"
    BREACHED = "breached"
    CANCELLED = "cancelled"
    PENDING = "pending"


class ViolationKind(enum.Enum):
    """What kind of promise a violation broke."""

    INVALID_ENTRY = "invalid_entry"
    ILLEGAL_TRANSITION = "illegal_transition"
    CRITERIA_UNMET = "criteria_unmet"
    STALL = "stall"
    CLOCK_BREACHED = "clock_breached"
    CADENCE_BREACHED = "cadence_breached"


@dataclass(frozen=True, slots=True)
class Cycle:
    """One run of a clock or cadence for one lead, from its start to its end or as-of."""

    lead: str
    rule: str
    kind: str  # "clock" or "cadence"
    index: int  # 1-based, per lead and rule
    started: int
    start_row: Origin
    tier: int  # goal tier used (0-based); 0 for cadences
    goal: int  # business microseconds on `calendar`
    goal_text: str
    calendar: str
    due: int | None  # None while paused at as-of
    ended: int | None  # stop or cancel instant; None when open at as-of
    end_row: Origin | None
    judged_at: int  # ended, or as-of for open cycles
    outcome: Outcome
    at_risk: bool
    elapsed: int  # business microseconds, pauses excluded
    wall: int  # wall-clock microseconds from start to judged_at
    paused: int  # business microseconds spent paused
    responsible: str | None
    count: int = 0  # cadences: activities counted
    required: int = 0  # cadences: activities required


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken promise: which lead, which clause, who is accountable, and the rows behind it."""

    lead: str
    kind: ViolationKind
    rule: str
    clause: str  # file:line of the agreement clause
    responsible: str | None
    at: int
    rows: tuple[Origin, ...]
    message: str
    details: tuple[tuple[str, str], ...] = ()
    started: int | None = None
    due: int | None = None
    ended: int | None = None
    elapsed: int | None = None
    wall: int | None = None


@dataclass(frozen=True, slots=True)
class Stay:
    """A lead's time in one stage, from entering to leaving (or open at as-of)."""

    lead: str
    stage: str
    entered: int
    left: int | None
    next_stage: str | None
    dwell: int  # business microseconds on the stage's calendar, to leaving or as-of
    wall: int
    row: Origin


@dataclass(frozen=True, slots=True)
class Activity:
    """An activity a lead received, with the team it is attributed to."""

    time: int
    type: str
    actor: str | None
    team: str | None


@dataclass(frozen=True, slots=True)
class LeadResult:
    """Everything the replay learned about one lead."""

    lead: str
    first_time: int
    last_time: int
    final_stage: str | None
    owner: str | None
    events: int
    stays: tuple[Stay, ...]
    cycles: tuple[Cycle, ...]
    violations: tuple[Violation, ...]
    activities: tuple[Activity, ...]
    attributes: tuple[tuple[str, str], ...]  # final values, as text, sorted by name


@dataclass(frozen=True, slots=True)
class Accounting:
    """Where every input row went; the four buckets add up to the rows read."""

    read: int = 0
    replayed: int = 0
    rejected: int = 0
    duplicate: int = 0
    after_as_of: int = 0
    dst_resolved: int = 0

    def __add__(self, other: Accounting) -> Accounting:
        return Accounting(
            self.read + other.read,
            self.replayed + other.replayed,
            self.rejected + other.rejected,
            self.duplicate + other.duplicate,
            self.after_as_of + other.after_as_of,
            self.dst_resolved + other.dst_resolved,
        )

    @property
    def balanced(self) -> bool:
        """True when every row is in exactly one bucket."""
        return self.read == self.replayed + self.rejected + self.duplicate + self.after_as_of


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """The merged result of a replay: leads sorted by id, rejected rows, accounting."""

    as_of: int
    accounting: Accounting
    leads: tuple[LeadResult, ...]
    rejections: tuple[Diagnostic, ...] = field(default=())

    @property
    def cycles(self) -> tuple[Cycle, ...]:
        """Every cycle, by lead, rule and index."""
        return tuple(c for lead in self.leads for c in lead.cycles)

    @property
    def violations(self) -> tuple[Violation, ...]:
        """Every violation, by lead and time."""
        return tuple(v for lead in self.leads for v in lead.violations)

    @property
    def stays(self) -> tuple[Stay, ...]:
        """Every stay, by lead and time."""
        return tuple(s for lead in self.leads for s in lead.stays)


def merge(parts: Iterable[ReplayResult]) -> ReplayResult:
    """Merge results of disjoint sets of leads replayed with the same as-of."""
    items = list(parts)
    if not items:
        return ReplayResult(0, Accounting(), ())
    as_ofs = {item.as_of for item in items}
    if len(as_ofs) != 1:
        raise ValueError("results replayed with different as-of instants cannot be merged")
    accounting = Accounting()
    leads: list[LeadResult] = []
    rejections: list[Diagnostic] = []
    for item in items:
        accounting = accounting + item.accounting
        leads.extend(item.leads)
        rejections.extend(item.rejections)
    names = [lead.lead for lead in leads]
    if len(names) != len(set(names)):
        raise ValueError("merged results share a lead; partitions must be disjoint by lead")
    leads.sort(key=lambda lead: lead.lead)
    rejections.sort(key=sort_key)
    return ReplayResult(items[0].as_of, accounting, tuple(leads), tuple(rejections))
