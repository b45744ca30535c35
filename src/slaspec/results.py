"""Replay results: cycles, violations, stays and row accounting -> the renderers' only input.

A result is a fold over leads: results of disjoint sets of leads merge exactly (counts add,
per-lead records are concatenated and sorted), so quantiles are taken only after merging.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from slaspec.diagnostics import Diagnostic, sort_key


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


# _RECORDS: Origin, Cycle, Violation, Stay and LeadResult are read-only records but not frozen
# dataclasses, for speed alone, as replay.Row: this module is compiled by mypyc
# (docs/decisions.md) and a replay builds several per lead, and a frozen dataclass is built
# through a Python-level `__init__` (each field set by `object.__setattr__`), where these
# hand-written ones compile to a few stores. They compare and hash by value and pickle
# through their constructors, as a frozen dataclass does; nothing assigns to a record.


@dataclass(slots=True, init=False)
class Origin:
    """Where a row came from: the file name shown to users and the line the record starts on
    (`slaspec.events` says how lines are counted; it is imported from there). Read-only (see
    `_RECORDS`).

    Defined in this compiled module because a replay keeps one per row: built by compiled code
    it takes a few stores, where the frozen dataclass it was took an interpreted constructor
    (about 2,000 more machine instructions a row: a third of building the rows).
    """

    file: str
    row: int

    def __init__(self, file: str, row: int) -> None:
        self.file = file
        self.row = row

    def __hash__(self) -> int:
        return hash((self.file, self.row))

    def __reduce__(self) -> tuple[type[Origin], tuple[str, int]]:
        return (Origin, (self.file, self.row))


@dataclass(slots=True, init=False)
class Cycle:
    """One run of a clock or cadence for one lead, from its start to its end or as-of.
    Read-only (see `_RECORDS`)."""

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
    # The label of the agreement version that judged it (versions.py); None when replayed under
    # one agreement. Out of repr, so dumps of single-agreement results read as they always did.
    version: str | None = field(default=None, repr=False)

    def __init__(
        self,
        lead: str,
        rule: str,
        kind: str,
        index: int,
        started: int,
        start_row: Origin,
        tier: int,
        goal: int,
        goal_text: str,
        calendar: str,
        due: int | None,
        ended: int | None,
        end_row: Origin | None,
        judged_at: int,
        outcome: Outcome,
        at_risk: bool,
        elapsed: int,
        wall: int,
        paused: int,
        responsible: str | None,
        count: int = 0,
        required: int = 0,
        version: str | None = None,
    ) -> None:
        self.lead = lead
        self.rule = rule
        self.kind = kind
        self.index = index
        self.started = started
        self.start_row = start_row
        self.tier = tier
        self.goal = goal
        self.goal_text = goal_text
        self.calendar = calendar
        self.due = due
        self.ended = ended
        self.end_row = end_row
        self.judged_at = judged_at
        self.outcome = outcome
        self.at_risk = at_risk
        self.elapsed = elapsed
        self.wall = wall
        self.paused = paused
        self.responsible = responsible
        self.count = count
        self.required = required
        self.version = version

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[type[Cycle], tuple[Any, ...]]:
        return (Cycle, self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.lead,
            self.rule,
            self.kind,
            self.index,
            self.started,
            self.start_row,
            self.tier,
            self.goal,
            self.goal_text,
            self.calendar,
            self.due,
            self.ended,
            self.end_row,
            self.judged_at,
            self.outcome,
            self.at_risk,
            self.elapsed,
            self.wall,
            self.paused,
            self.responsible,
            self.count,
            self.required,
            self.version,
        )


@dataclass(slots=True, init=False)
class Violation:
    """A broken promise: which lead, which clause, who is accountable, and the rows behind it.
    Read-only (see `_RECORDS`)."""

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
    # The label of the agreement version that judged it (versions.py); None when replayed under
    # one agreement. Out of repr, so dumps of single-agreement results read as they always did.
    version: str | None = field(default=None, repr=False)

    def __init__(
        self,
        lead: str,
        kind: ViolationKind,
        rule: str,
        clause: str,
        responsible: str | None,
        at: int,
        rows: tuple[Origin, ...],
        message: str,
        details: tuple[tuple[str, str], ...] = (),
        started: int | None = None,
        due: int | None = None,
        ended: int | None = None,
        elapsed: int | None = None,
        wall: int | None = None,
        version: str | None = None,
    ) -> None:
        self.lead = lead
        self.kind = kind
        self.rule = rule
        self.clause = clause
        self.responsible = responsible
        self.at = at
        self.rows = rows
        self.message = message
        self.details = details
        self.started = started
        self.due = due
        self.ended = ended
        self.elapsed = elapsed
        self.wall = wall
        self.version = version

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[type[Violation], tuple[Any, ...]]:
        return (Violation, self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.lead,
            self.kind,
            self.rule,
            self.clause,
            self.responsible,
            self.at,
            self.rows,
            self.message,
            self.details,
            self.started,
            self.due,
            self.ended,
            self.elapsed,
            self.wall,
            self.version,
        )


@dataclass(slots=True, init=False)
class Stay:
    """A lead's time in one stage, from entering to leaving (or open at as-of). Read-only
    (see `_RECORDS`)."""

    lead: str
    stage: str
    entered: int
    left: int | None
    next_stage: str | None
    dwell: int  # business microseconds on the stage's calendar, to leaving or as-of
    wall: int
    row: Origin

    def __init__(
        self,
        lead: str,
        stage: str,
        entered: int,
        left: int | None,
        next_stage: str | None,
        dwell: int,
        wall: int,
        row: Origin,
    ) -> None:
        self.lead = lead
        self.stage = stage
        self.entered = entered
        self.left = left
        self.next_stage = next_stage
        self.dwell = dwell
        self.wall = wall
        self.row = row

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[type[Stay], tuple[Any, ...]]:
        return (Stay, self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.lead,
            self.stage,
            self.entered,
            self.left,
            self.next_stage,
            self.dwell,
            self.wall,
            self.row,
        )


class Activity(NamedTuple):
    """An activity a lead received, with the team it is attributed to.

    A tuple record rather than a dataclass: a replay builds one per activity row (a third of a
    large log), and a tuple costs a third as much to build.
    """

    time: int
    type: str
    actor: str | None
    team: str | None


@dataclass(slots=True, init=False)
class LeadResult:
    """Everything the replay learned about one lead. Read-only (see `_RECORDS`)."""

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

    def __init__(
        self,
        lead: str,
        first_time: int,
        last_time: int,
        final_stage: str | None,
        owner: str | None,
        events: int,
        stays: tuple[Stay, ...],
        cycles: tuple[Cycle, ...],
        violations: tuple[Violation, ...],
        activities: tuple[Activity, ...],
        attributes: tuple[tuple[str, str], ...],
    ) -> None:
        self.lead = lead
        self.first_time = first_time
        self.last_time = last_time
        self.final_stage = final_stage
        self.owner = owner
        self.events = events
        self.stays = stays
        self.cycles = cycles
        self.violations = violations
        self.activities = activities
        self.attributes = attributes

    def __hash__(self) -> int:
        return hash(self._fields())

    def __reduce__(self) -> tuple[type[LeadResult], tuple[Any, ...]]:
        return (LeadResult, self._fields())

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.lead,
            self.first_time,
            self.last_time,
            self.final_stage,
            self.owner,
            self.events,
            self.stays,
            self.cycles,
            self.violations,
            self.activities,
            self.attributes,
        )


# Outcome counts of a set of cycles, in this order: met, breached, pending, at risk, cancelled.
MET, BREACHED, PENDING, AT_RISK, CANCELLED = range(5)
OUTCOME_SLOTS = {
    Outcome.MET: MET,
    Outcome.BREACHED: BREACHED,
    Outcome.PENDING: PENDING,
    Outcome.CANCELLED: CANCELLED,
}


class Tally:
    """The report's summaries, counted lead by lead: outcomes per rule and responsible team,
    violations per kind and per team (report.py turns them into the report's records).

    A tally of disjoint sets of leads merges exactly (`merge`), and counting needs no record
    kept, so a million-event replay can be summarised as it streams.
    """

    __slots__ = ("by_kind", "by_team", "by_version", "outcomes")

    def __init__(self) -> None:
        # (rule, responsible team or "") -> outcome counts, in OUTCOME_SLOTS order.
        self.outcomes: dict[tuple[str, str], list[int]] = {}
        # (rule, version label) -> outcome counts, for cycles judged by a version.
        self.by_version: dict[tuple[str, str], list[int]] = {}
        self.by_kind: dict[str, int] = {}
        self.by_team: dict[str, int] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Compiled by mypyc, a tally is sent between processes through its fields.
        fields = (self.outcomes, self.by_version, self.by_kind, self.by_team)
        return (_tally, fields)

    def add(self, lead: LeadResult) -> None:
        """Count one lead's cycles and violations."""
        outcomes, slots = self.outcomes, OUTCOME_SLOTS
        for cycle in lead.cycles:
            key = (cycle.rule, cycle.responsible or "")
            counts = outcomes.get(key)
            if counts is None:
                counts = outcomes[key] = [0] * 5
            counts[slots[cycle.outcome]] += 1
            counts[AT_RISK] += cycle.at_risk
            if cycle.version is not None:
                counts = self.by_version.setdefault((cycle.rule, cycle.version), [0] * 5)
                counts[slots[cycle.outcome]] += 1
                counts[AT_RISK] += cycle.at_risk
        by_kind, by_team = self.by_kind, self.by_team
        for violation in lead.violations:
            kind = violation.kind.value
            by_kind[kind] = by_kind.get(kind, 0) + 1
            team = violation.responsible or "(no team)"
            by_team[team] = by_team.get(team, 0) + 1

    def merge(self, other: Tally) -> None:
        """Add the counts of a tally of other leads."""
        for mine_by, theirs in (
            (self.outcomes, other.outcomes),
            (self.by_version, other.by_version),
        ):
            for key, counts in theirs.items():
                mine = mine_by.setdefault(key, [0] * 5)
                for slot, count in enumerate(counts):
                    mine[slot] += count
        for mine_of, theirs_of in ((self.by_kind, other.by_kind), (self.by_team, other.by_team)):
            for name, count in theirs_of.items():
                mine_of[name] = mine_of.get(name, 0) + count


def _tally(
    outcomes: dict[tuple[str, str], list[int]],
    by_version: dict[tuple[str, str], list[int]],
    by_kind: dict[str, int],
    by_team: dict[str, int],
) -> Tally:
    """A Tally with these counts (unpickling)."""
    tally = Tally()
    tally.outcomes, tally.by_version, tally.by_kind, tally.by_team = (
        outcomes,
        by_version,
        by_kind,
        by_team,
    )
    return tally


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


def human_duration(micros: int) -> str:
    """A duration for people: 2h 05m, 50h 10m, 45s."""
    seconds = micros // 1_000_000
    # Hours, not days: a "day" of business time would read as 24 hours of it.
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
