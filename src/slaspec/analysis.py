"""Analysis: a compiled Agreement and its ReplayResult -> the numbers of the weekly meeting.

Bottlenecks per stage, accountability per clock and cadence, targets per period, the closed
loop by lead attribute and the funnel along the main path. Everything is computed from the
per-lead records of the replay (stays, cycles, violations, activities, final attributes), so
it follows the replay's semantics and needs nothing else. The rules this module decides:

- Instants are `int` microseconds since the epoch, durations `int` microseconds; dwell is
  business time on the stage's calendar, as the replay measured it.
- Quantiles interpolate linearly between closest ranks (numpy's default), computed exactly
  and rounded once to a float.
- Periods (week from Monday, month, quarter, year) are cut at local midnight in the
  agreement's time zone; a midnight lost to daylight saving starts the day when the clocks
  jump. A period whose end is after as-of is partial. The listed periods run from the period
  of the earliest replayed event to the period of as-of.
- The main path is the chain of declared handoffs from the first initial stage, taking at each
  stage the first handoff declared out of it whose target is not yet on the path.
- A lead's owner is its owner at as-of (the value of its last `assign` event).

A lead's contribution never depends on another lead, so an `Analyser` adds leads one at a
time and the tallies of disjoint sets of leads merge exactly (`Tallies.merge`).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import zoneinfo
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from operator import attrgetter
from typing import Any, Final, Literal, TypeVar

from slaspec import nodes as n
from slaspec.calendar import BusinessCalendar
from slaspec.compiler import Agreement
from slaspec.results import LeadResult, Outcome, ReplayResult, ViolationKind

US = 1_000_000
MEDIAN = Fraction(1, 2)
P90 = Fraction(9, 10)
LONGEST = 10
"""How many of the longest-waiting leads each stage lists."""
NOT_SET = "(not set)"
"""The group of leads that have no value for a closed-loop attribute."""
ALL = "(all leads)"
"""The value of the closed-loop group of every lead."""
DEFAULT_WON = ("won", "closed_won", "closedwon")
"""Terminal stages counted as won when the caller names none."""

PeriodKind = Literal["week", "month", "quarter", "year"]
MeasureKind = Literal["volume", "conversion", "attainment", "worked"]
CommitmentKind = Literal["volume", "criteria", "acceptance", "speed", "cadence"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("week", "month", "quarter", "year")

_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\Z")
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_MARGIN_DAYS = 92
_SPAN = 32
"""Instants t with the same t >> _SPAN share a span of 2**32 microseconds (about 72 minutes):
shifting a large int is much cheaper than dividing it by an hour."""
# Outcome counts of a set of cycles: met, breached, pending, cancelled, at risk.
_MET, _BREACHED, _PENDING, _CANCELLED, _AT_RISK = range(5)
# The common outcomes as compiled constants (compiled code looks a class attribute up by name).
_OUTCOME_MET: Final = Outcome.MET
_OUTCOME_BREACHED: Final = Outcome.BREACHED
_SLOT = {
    Outcome.MET: _MET,
    Outcome.BREACHED: _BREACHED,
    Outcome.PENDING: _PENDING,
    Outcome.CANCELLED: _CANCELLED,
}
# A Stay's entry instant, read in C rather than through a lambda per item.
_ENTERED = attrgetter("entered")


# ---------------------------------------------------------------- the analysis records


@dataclass(frozen=True, slots=True)
class Summary:
    """Count, total, median, 90th percentile and maximum of a set of durations (microseconds)."""

    count: int
    total: int
    median: float | None
    p90: float | None
    max: int | None


@dataclass(frozen=True, slots=True)
class Waiting:
    """A lead still in a stage at as-of, and how long it has been there."""

    lead: str
    entered: int
    business: int
    wall: int


@dataclass(frozen=True, slots=True)
class StageStats:
    """One stage as a bottleneck: who came in, where they went, how long they stayed."""

    stage: str
    title: str
    owner: str | None
    terminal: bool
    limit: str | None  # the stage's `max dwell`, as written
    entries: int  # stays begun, re-entries included
    leads: int  # distinct leads that entered
    exits: tuple[tuple[str, int], ...]  # next stage -> stays that ended there
    dwell: Summary  # business time on the stage's calendar, completed stays only
    dwell_wall: Summary
    open: int  # leads in the stage at as-of
    waiting: Summary  # business time of the open stays, to as-of
    waiting_wall: Summary
    longest: tuple[Waiting, ...]  # the open stays that have waited longest (business time)
    stalls: int  # stall violations: stays over the limit
    stalled_leads: int
    stalled_now: int  # open stays already over the limit at as-of


@dataclass(frozen=True, slots=True)
class Flow:
    """Leads that moved from one stage straight to another, and their time in the first."""

    source: str
    target: str
    declared: bool  # False for a move the agreement has no handoff for
    count: int
    wall: Summary


@dataclass(frozen=True, slots=True)
class LostTime:
    """Business and wall time leads spent in a non-terminal stage, open stays included."""

    stage: str
    business: int
    wall: int
    stays: int


@dataclass(frozen=True, slots=True)
class Bottlenecks:
    """Stages in declaration order, flows between them, stages ranked by time lost."""

    stages: tuple[StageStats, ...]
    flows: tuple[Flow, ...]
    ranking: tuple[LostTime, ...]


@dataclass(frozen=True, slots=True)
class Period:
    """A week, month, quarter or year in the agreement's time zone: [start, end) in UTC."""

    kind: PeriodKind
    label: str  # 2026-W14, 2026-04, 2026-Q2, 2026
    start: int
    end: int
    partial: bool  # not complete at as-of


@dataclass(frozen=True, slots=True)
class Outcomes:
    """Cycles by outcome; attainment = met / (met + breached), None when both are 0."""

    met: int
    breached: int
    pending: int
    cancelled: int
    at_risk: int
    attainment: float | None


@dataclass(frozen=True, slots=True)
class Breakdown:
    """The outcomes of the cycles of one team or one owner (None: no team, no owner)."""

    key: str | None
    outcomes: Outcomes


@dataclass(frozen=True, slots=True)
class PeriodOutcomes:
    """The outcomes of the cycles started in one period."""

    period: Period
    outcomes: Outcomes


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Breached cycles by weekday (0 = Monday) and hour of their start, in the agreement's zone."""

    counts: tuple[tuple[int, ...], ...]  # 7 rows of 24
    total: int


@dataclass(frozen=True, slots=True)
class RuleStats:
    """A clock or cadence: attainment overall, by responsible team, by owner and by period."""

    rule: str
    title: str
    kind: Literal["clock", "cadence"]
    outcomes: Outcomes
    by_team: tuple[Breakdown, ...]
    by_owner: tuple[Breakdown, ...]
    by_week: tuple[PeriodOutcomes, ...]
    by_month: tuple[PeriodOutcomes, ...]
    by_quarter: tuple[PeriodOutcomes, ...]
    heatmap: Heatmap


class Verdict(enum.Enum):
    """Whether a target or commitment was kept."""

    MET = "met"
    MISSED = "missed"


@dataclass(frozen=True, slots=True)
class TargetPeriod:
    """A target in one period.

    Volume: `part` distinct leads entered, `whole` is None and `value` is the count. The other
    measures: `part` of `whole` (converted of the cohort, met of met + breached, worked of the
    cohort) and `value` = part / whole, None when whole is 0. `immature` counts cohort members
    whose window had not elapsed at as-of, `undecided` those of them not yet converted or worked.
    """

    period: Period
    part: int
    whole: int | None
    value: float | None
    verdict: Verdict | None
    immature: int = 0
    undecided: int = 0


@dataclass(frozen=True, slots=True)
class TargetStats:
    """A target judged in every listed period; `goal` is a count or a ratio (0.9 for 90%)."""

    name: str
    title: str
    kind: MeasureKind
    period: PeriodKind
    bound: str
    goal: Decimal
    subject: str  # the stage (volume, worked), `X -> Y` (conversion) or the rule (attainment)
    window: str | None
    responsible: str | None
    clause: str
    periods: tuple[TargetPeriod, ...]
    met: int  # complete periods met
    missed: int  # complete periods missed
    verdict: Verdict | None  # MET when no complete period missed and one was met


@dataclass(frozen=True, slots=True)
class Commitment:
    """One line of a team's scorecard, kept or missed against its target where one exists.

    `part` / `whole` is the measured share over the whole replay (volume: the leads that entered,
    whole None); `target`, `goal` and `verdict` come from the agreement's target for the same
    measure, judged on its complete periods (`periods_met` of `periods_judged`).
    """

    team: str | None
    kind: CommitmentKind
    subject: str
    title: str
    part: int
    whole: int | None
    value: float | None
    target: str | None
    goal: Decimal | None
    bound: str | None
    periods_judged: int
    periods_met: int
    verdict: Verdict | None


@dataclass(frozen=True, slots=True)
class Accountability:
    """Each clock and cadence, breaches of all of them by weekday and hour, the scorecard."""

    rules: tuple[RuleStats, ...]
    heatmap: Heatmap
    scorecard: tuple[Commitment, ...]


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """Of the leads that entered `source`, those that later entered `target`."""

    source: str
    target: str
    entered: int
    converted: int
    value: float | None


@dataclass(frozen=True, slots=True)
class Funnel:
    """Cohort conversion between consecutive stages of the main path."""

    path: tuple[str, ...]
    steps: tuple[FunnelStep, ...]


@dataclass(frozen=True, slots=True)
class GroupStats:
    """The closed loop for the leads sharing one value of an attribute."""

    value: str
    leads: int
    entered: tuple[tuple[str, int], ...]  # stage -> distinct leads that entered it
    steps: tuple[FunnelStep, ...]  # along the main path
    won: int
    revenue: Decimal | None  # sum of the money field over won leads; None without a field
    unpriced: int  # won leads whose money field is not set or not a plain decimal
    time_to_won: Summary  # wall time from the first stage entry to entering the won stage


@dataclass(frozen=True, slots=True)
class ClosedLoop:
    """Leads grouped by the final value of one attribute."""

    attribute: str
    groups: tuple[GroupStats, ...]


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything the reports show beyond the replay's own findings."""

    as_of: int
    timezone: str
    first_event: int | None
    won_stages: tuple[str, ...]
    money_field: str | None
    bottlenecks: Bottlenecks
    accountability: Accountability
    targets: tuple[TargetStats, ...]
    funnel: Funnel
    overall: GroupStats  # the closed loop of every lead, value ALL
    closed_loop: tuple[ClosedLoop, ...]


# ---------------------------------------------------------------- quantiles


def quantile(ordered: Sequence[int], q: Fraction) -> float | None:
    """The q-quantile of sorted values, linear between closest ranks; None when there are none."""
    count = len(ordered)
    if count == 0:
        return None
    # In integers, not Fractions (much slower): the position is low + rest / scale, and the
    # value a + (b - a) * rest / scale as one division of integers is correctly rounded, as
    # float(Fraction) is.
    scale = q.denominator
    low, rest = divmod((count - 1) * q.numerator, scale)
    if rest == 0:
        return float(ordered[low])
    a, b = ordered[low], ordered[low + 1]
    return (a * scale + (b - a) * rest) / scale


def summarise(values: Iterable[int]) -> Summary:
    """Count, total, median, p90 and maximum of durations."""
    return _summary(sorted(values))


def _summary(ordered: Sequence[int]) -> Summary:
    """The Summary of durations already sorted (a caller that needs the order sorts once)."""
    return Summary(
        len(ordered),
        sum(ordered),
        quantile(ordered, MEDIAN),
        quantile(ordered, P90),
        ordered[-1] if ordered else None,
    )


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _outcomes(counts: Sequence[int]) -> Outcomes:
    met, breached = counts[_MET], counts[_BREACHED]
    return Outcomes(
        met,
        breached,
        counts[_PENDING],
        counts[_CANCELLED],
        counts[_AT_RISK],
        _share(met, met + breached),
    )


# ---------------------------------------------------------------- the main path


def main_path(agreement: Agreement) -> tuple[str, ...]:
    """The first initial stage, then at each stage the first declared handoff to a new stage."""
    initial = [name for name, stage in agreement.stages.items() if stage.initial]
    if not initial:
        return ()
    path = [initial[0]]
    while True:
        step = next(
            (
                target
                for source, target in agreement.handoffs
                if source == path[-1] and target not in path
            ),
            None,
        )
        if step is None:
            return tuple(path)
        path.append(step)


# ---------------------------------------------------------------- local days and periods


def _offset(zone: zoneinfo.ZoneInfo, naive: dt.datetime) -> int:
    """The UTC offset in microseconds of a local wall time (its `fold` picks the reading)."""
    offset = zone.utcoffset(naive)
    assert offset is not None
    return (offset.days * 86_400 + offset.seconds) * US + offset.microseconds


class _Days:
    """Local dates of instants in one time zone, through a table of local midnights.

    The table is a cache over a range of dates that grows when an instant outside it is asked
    about, so answers never depend on the order of the questions.
    """

    __slots__ = ("_first", "_keys", "_starts", "by_span", "zone")

    def __init__(self, timezone: str) -> None:
        self.zone = zoneinfo.ZoneInfo(timezone)
        self._first = 0
        self._starts: list[int] = []
        # t >> _SPAN -> the date of every instant in the span, or 0 for a span holding two:
        # `ordinal` fills it, and a hot loop may look a span up before calling `ordinal`.
        self.by_span: dict[int, int] = {}
        # ordinal -> the first ordinal of its week, month, quarter and year
        self._keys: dict[int, tuple[int, int, int, int]] = {}

    def _midnight(self, ordinal: int) -> int:
        """The first instant of a local date: a midnight lost to DST starts when clocks jump."""
        day = dt.date.fromordinal(ordinal)
        naive = dt.datetime(day.year, day.month, day.day)
        wall = (ordinal - _EPOCH_ORDINAL) * 86_400 * US
        first = wall - _offset(self.zone, naive)
        second = wall - _offset(self.zone, naive.replace(fold=1))
        if first == second:
            return first
        early, late = sorted((first, second))
        if dt.datetime.fromtimestamp(early // US, self.zone).replace(tzinfo=None) == naive:
            return early  # a repeated midnight: its first occurrence
        # Neither reading exists: the day starts at the first second of the new date.
        low, high = early // US, late // US
        while high - low > 1:
            middle = (low + high) // 2
            if dt.datetime.fromtimestamp(middle, self.zone).date() < day:
                low = middle
            else:
                high = middle
        return high * US

    def _cover(self, first: int, last: int) -> None:
        starts = self._starts
        if not starts:
            self._first = first
            self._starts = [self._midnight(o) for o in range(first, last + 2)]
            return
        # Grow by a margin, so instants arriving in time order rarely grow it.
        known_last = self._first + len(starts) - 2
        if first < self._first:
            first = min(first, self._first - _MARGIN_DAYS)
            self._starts = [self._midnight(o) for o in range(first, self._first)] + starts
            self._first = first
        if last > known_last:
            last = max(last, known_last + _MARGIN_DAYS)
            self._starts.extend(self._midnight(o) for o in range(known_last + 2, last + 2))

    def ordinal(self, t: int) -> int:
        """The local date of an instant, as a proleptic Gregorian ordinal."""
        span = t >> _SPAN
        found = self.by_span.get(span)
        if found is None:
            # Dates only move forward in time: a span that starts and ends on one date lies in
            # it, and a dict look-up of the span is cheaper than the search.
            first = self._search(span << _SPAN)
            last = self._search(((span + 1) << _SPAN) - 1)
            found = self.by_span[span] = first if first == last else 0
        return found or self._search(t)

    def _search(self, t: int) -> int:
        """The local date of an instant, through the table of midnights."""
        starts = self._starts
        if not starts or t < starts[0] or t >= starts[-1]:
            local = dt.datetime.fromtimestamp(t // US, self.zone).date().toordinal()
            self._cover(local - 1, local + 1)
            starts = self._starts
        return self._first + bisect_right(starts, t) - 1

    def start(self, ordinal: int) -> int:
        """The first instant of a local date."""
        if not self._starts or not self._first <= ordinal < self._first + len(self._starts):
            self._cover(ordinal, ordinal)
        return self._starts[ordinal - self._first]

    def keys(self, ordinal: int) -> tuple[int, int, int, int]:
        """The first dates (ordinals) of the week, month, quarter and year holding a date."""
        found = self._keys.get(ordinal)
        if found is None:
            day = dt.date.fromordinal(ordinal)
            quarter_month = (day.month - 1) // 3 * 3 + 1
            found = self._keys[ordinal] = (
                ordinal - day.weekday(),
                dt.date(day.year, day.month, 1).toordinal(),
                dt.date(day.year, quarter_month, 1).toordinal(),
                dt.date(day.year, 1, 1).toordinal(),
            )
        return found

    def keys_at(self, t: int) -> tuple[int, int, int, int]:
        """The first dates of the week, month, quarter and year holding an instant."""
        # `keys(ordinal(t))` with both fast paths inline: the tallies ask this for every cohort
        # entry, almost always in a span and on a date already asked about.
        ordinal = self.by_span.get(t >> _SPAN) or self.ordinal(t)
        found = self._keys.get(ordinal)
        return found if found is not None else self.keys(ordinal)

    def key(self, kind: PeriodKind, ordinal: int) -> int:
        """The first date of the period of one kind holding a date."""
        return self.keys(ordinal)[PERIOD_KINDS.index(kind)]

    def periods(self, kind: PeriodKind, first: int, last: int, as_of: int) -> tuple[Period, ...]:
        """Every period of one kind from the one holding `first` to the one holding `last`."""
        key = self.key(kind, self.ordinal(first))
        end_key = self.key(kind, self.ordinal(last))
        out: list[Period] = []
        while key <= end_key:
            following = _next_period(kind, key)
            end = self.start(following)
            out.append(Period(kind, _label(kind, key), self.start(key), end, end > as_of + 1))
            key = following
        return tuple(out)


def periods(
    timezone: str, kind: PeriodKind, first: int, last: int, as_of: int
) -> tuple[Period, ...]:
    """The periods of one kind in a time zone from `first` to `last`, partial after `as_of`."""
    return _Days(timezone).periods(kind, first, last, as_of)


def _next_period(kind: PeriodKind, ordinal: int) -> int:
    day = dt.date.fromordinal(ordinal)
    match kind:
        case "week":
            return ordinal + 7
        case "month" | "quarter":
            months = day.year * 12 + day.month - 1 + (1 if kind == "month" else 3)
            return dt.date(months // 12, months % 12 + 1, 1).toordinal()
        case "year":
            return dt.date(day.year + 1, 1, 1).toordinal()


def _label(kind: PeriodKind, ordinal: int) -> str:
    day = dt.date.fromordinal(ordinal)
    match kind:
        case "week":
            year, week, _ = day.isocalendar()
            return f"{year}-W{week:02d}"
        case "month":
            return f"{day.year}-{day.month:02d}"
        case "quarter":
            return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
        case "year":
            return str(day.year)


# ---------------------------------------------------------------- the tallies


_Key = TypeVar("_Key")
_CycleKey = tuple[str, str | None, str | None, int, int, bool]
"""rule, responsible team, lead owner, local date of the start, outcome slot, at risk."""


def _add_table(mine: dict[_Key, list[int]], theirs: dict[_Key, list[int]]) -> None:
    """Add counts key by key."""
    for key, counts in theirs.items():
        found = mine.get(key)
        if found is None:
            mine[key] = list(counts)
        else:
            for slot, count in enumerate(counts):
                found[slot] += count


def _add_counts(mine: dict[_Key, int], theirs: dict[_Key, int]) -> None:
    for key, count in theirs.items():
        mine[key] = mine.get(key, 0) + count


def _by_slots(record: Any, blank: tuple[Any, ...], names: tuple[str, ...]) -> tuple[Any, ...]:
    """How a tally pickles (a forked process sends its tallies): made blank by its constructor,
    then given its state. Compiled by mypyc (docs/decisions.md), a class cannot be made without
    its constructor, which the default pickling needs."""
    return (
        _restored,
        (type(record), blank, {name: getattr(record, name) for name in names}),
    )


def _restored(cls: Callable[..., Any], blank: tuple[Any, ...], state: dict[str, Any]) -> Any:
    record = cls(*blank)
    for name, value in state.items():
        setattr(record, name, value)
    return record


_GROUP_FIELDS = ("leads", "revenue", "steps", "to_won", "unpriced", "visits", "won")


class _GroupTally:
    """The closed loop of a set of leads: entries, conversions, wins and revenue."""

    __slots__ = _GROUP_FIELDS

    def __init__(self, steps: int) -> None:
        self.steps = steps  # along the main path
        self.leads = 0
        # Leads by the stages they stayed in: a lead is one count here, and entries and
        # conversions are summed from the counts when asked for. The keys compare by identity
        # (an Analyser makes one per sequence; merged tallies may bring equal ones).
        self.visits: dict[_Visits, int] = {}
        self.won = 0
        self.revenue = Decimal(0)
        self.unpriced = 0
        self.to_won: list[int] = []

    def add(
        self, visits: _Visits, to_won: int | None, amount: Decimal | None, unpriced: bool
    ) -> None:
        """Count one lead; `to_won` is None unless it is won."""
        self.leads += 1
        self.visits[visits] = self.visits.get(visits, 0) + 1
        if to_won is not None:
            self.won += 1
            self.to_won.append(to_won)
            if amount is not None:
                self.revenue += amount
            self.unpriced += unpriced

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_slots(self, (self.steps,), _GROUP_FIELDS)

    def merge(self, other: _GroupTally) -> None:
        self.leads += other.leads
        _add_counts(self.visits, other.visits)
        self.won += other.won
        self.revenue += other.revenue
        self.unpriced += other.unpriced
        self.to_won.extend(other.to_won)

    def entered(self) -> dict[str, int]:
        """Stage -> distinct leads that entered it."""
        entered: dict[str, int] = {}
        for visits, leads in self.visits.items():
            for stage in visits.positions:
                entered[stage] = entered.get(stage, 0) + leads
        return entered

    def converted(self) -> list[int]:
        """Main-path step -> leads that entered its target after first entering its source."""
        converted = [0] * self.steps
        for visits, leads in self.visits.items():
            for step in visits.converted:
                converted[step] += leads
        return converted


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity: cheaply
class _Visits:
    """What the sequence of stages a lead stayed in decides, for every lead with the same one."""

    positions: Mapping[str, tuple[int, ...]]  # stage -> indices of its stays; first entry order
    converted: tuple[int, ...]  # main-path steps whose target was entered after their source
    # the handovers out of a stage stayed in, with the indices of the stays there
    handovers: tuple[tuple[tuple[str, str], tuple[int, ...]], ...]
    # the cohorts on a stage stayed in (their index in Analyser._cohorts: tallies hold these
    # records and travel by pickle, the targets' calendars need not), with the indices of the
    # stays there
    cohorts: tuple[tuple[int, tuple[int, ...]], ...]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Visits, (self.positions, self.converted, self.handovers, self.cohorts))


_TALLIES_FIELDS = (
    "accepted",
    "cycles",
    "dwell",
    "first_event",
    "flows",
    "funnel",
    "groups",
    "heat",
    "missed",
    "open",
    "stalls",
    "targets",
    "waiting",
    "waiting_wall",
)


class Tallies:
    """What an Analyser has counted so far: plain data, picklable, merged by adding."""

    __slots__ = _TALLIES_FIELDS

    def __init__(
        self, stages: Iterable[str], rules: Iterable[str], targets: Iterable[str], steps: int
    ) -> None:
        names = tuple(stages)
        self.first_event: int | None = None
        self.dwell: dict[str, list[int]] = {name: [] for name in names}  # completed, business
        self.flows: dict[tuple[str, str], list[int]] = {}  # completed, wall, by move
        # open stays: business, wall, lead, entered; once taken (`Analyser.take`), only those
        # that may be among the LONGEST of their stage
        self.open: dict[str, list[tuple[int, int, str, int]]] = {name: [] for name in names}
        # every open stay's business and wall time
        self.waiting: dict[str, list[int]] = {name: [] for name in names}
        self.waiting_wall: dict[str, list[int]] = {name: [] for name in names}
        self.stalls: dict[str, list[int]] = {name: [0, 0, 0] for name in names}  # all, leads, now
        self.cycles: dict[_CycleKey, int] = {}
        self.heat: dict[str, list[int]] = {name: [0] * (7 * 24) for name in rules}
        # target -> first date of a period -> [part, whole, immature, undecided]
        self.targets: dict[str, dict[int, list[int]]] = {name: {} for name in targets}
        self.funnel = _GroupTally(steps)
        self.groups: dict[str, dict[str, _GroupTally]] = {}
        # Declared handoffs taken are the flows along them; these are the ones taken with a
        # criteria_unmet, by source stage.
        self.missed: dict[str, int] = {}
        self.accepted: dict[tuple[str, str], int] = {}  # handover -> leads moved along it

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_slots(self, ((), (), (), 0), _TALLIES_FIELDS)

    def merge(self, other: Tallies) -> None:
        """Add the tallies of a disjoint set of leads."""
        if other.first_event is not None and (
            self.first_event is None or other.first_event < self.first_event
        ):
            self.first_event = other.first_event
        for name, values in other.dwell.items():
            self.dwell[name].extend(values)
        for move, walls in other.flows.items():
            self.flows.setdefault(move, []).extend(walls)
        for name, stays in other.open.items():
            self.open[name].extend(stays)
        for name, values in other.waiting.items():
            self.waiting[name].extend(values)
        for name, values in other.waiting_wall.items():
            self.waiting_wall[name].extend(values)
        _add_table(self.stalls, other.stalls)
        _add_counts(self.cycles, other.cycles)
        _add_table(self.heat, other.heat)
        for name, periods in other.targets.items():
            _add_table(self.targets[name], periods)
        self.funnel.merge(other.funnel)
        for attribute, groups in other.groups.items():
            mine = self.groups.setdefault(attribute, {})
            for value, group in groups.items():
                found = mine.get(value)
                if found is None:
                    found = mine[value] = _GroupTally(group.steps)
                found.merge(group)
        _add_counts(self.missed, other.missed)
        _add_counts(self.accepted, other.accepted)


# ---------------------------------------------------------------- the analyser


Clock = Callable[[int], int]
"""A business clock: F(t), business microseconds since a fixed instant (wall time on `always`).

F(b) - F(a) is the open time in [a, b): F never goes back and never runs faster than the wall.
"""


def _wall_clock(t: int) -> int:
    return t


class _Window:
    """A target's window on its calendar: what fits in it, and which windows are open at as-of.

    Both questions are mostly answered without reading the clock, and exactly so. The clock
    never runs faster than the wall, so an interval no longer than the window in wall time fits
    in it. Whether a window opened at t is still open just after as-of changes once as t grows
    (the clock never goes back): the first time a window is found closed, the instant where they
    start being open is searched for, and from then on comparing with it decides.
    """

    __slots__ = ("_closed", "_open", "clock", "micros", "open_from")

    def __init__(self, clock: Clock, micros: int, as_of: int) -> None:
        self.clock = clock
        self.micros = micros
        end = as_of + 1
        # elapsed(anchor, end) <= window  <=>  F(anchor) >= F(end) - window
        self.open_from = clock(end) - micros
        self._open = end - micros  # windows opened from this instant on are open
        self._closed: int | None = None  # ... and up to this one closed, once one was

    def fits(self, start: int, end: int) -> bool:
        """Whether the business time from start to a later end is within the window."""
        micros = self.micros
        return end - start <= micros or self.clock(end) - self.clock(start) <= micros

    def open_at(self, anchor: int) -> bool:
        """Whether a window opened at `anchor` is still open just after as-of."""
        if anchor >= self._open:
            return True
        if self._closed is not None and anchor <= self._closed:
            return False
        clock, open_from = self.clock, self.open_from
        if clock(anchor) >= open_from:
            self._open = anchor
            return True
        low, high = anchor, self._open  # closed at low, open at high
        while high - low > 1:
            middle = (low + high) // 2
            if clock(middle) >= open_from:
                high = middle
            else:
                low = middle
        self._closed, self._open = low, high
        return False


@dataclass(frozen=True, slots=True)
class _CohortTarget:
    """A target measured on the leads entering a stage (volume, conversion, worked)."""

    name: str
    kind: MeasureKind
    period: int  # index in PERIOD_KINDS
    stage: str
    reach: str | None  # conversion: the later stage
    window: _Window | None
    team: str | None  # worked: the team whose activity counts (None: any team, or the owner's)
    by_owner: bool  # worked: the activity counts when by the team owning the lead's stage


class _RuleCounts:
    """The outcome counts of one rule's cycles by team, by owner and by period."""

    __slots__ = ("owners", "periods", "teams")

    def __init__(self) -> None:
        self.teams: dict[str | None, list[int]] = {}
        self.owners: dict[str | None, list[int]] = {}
        # (index in PERIOD_KINDS, first date of the period) -> counts
        self.periods: dict[tuple[int, int], list[int]] = {}


class Analyser:
    """Adds leads one at a time (in any order) and finishes into an Analysis."""

    __slots__ = (
        "_calendars",
        "_cohorts",
        "_days",
        "_group_by",
        "_handoffs",
        "_handovers",
        "_labels",
        "_money",
        "_path",
        "_visits",
        "_won",
        "agreement",
        "as_of",
        "tallies",
    )

    def __init__(
        self,
        agreement: Agreement,
        as_of: int,
        group_by: Sequence[str] = (),
        money_field: str | None = None,
        won_stages: Sequence[str] | None = None,
        calendars: Mapping[str, BusinessCalendar] | None = None,
    ) -> None:
        """`calendars`: business calendars by name to use, if made already (`slaspec replay`
        shares its engine's, so that their tables are built once); others are made here."""
        self.agreement = agreement
        self.as_of = as_of
        self._group_by = tuple(dict.fromkeys(group_by))
        self._money = money_field
        if won_stages is None:
            chosen = {name for name, s in agreement.stages.items() if s.terminal}
            chosen &= set(DEFAULT_WON)
        else:
            unknown = [name for name in won_stages if agreement.stage_for(name) is None]
            if unknown:
                raise ValueError(f"not stages of the agreement: {', '.join(unknown)}")
            chosen = {agreement.stage_for(name) or name for name in won_stages}
        self._won = frozenset(chosen)
        self._path = main_path(agreement)
        owners = {name: stage.owner for name, stage in agreement.stages.items()}
        steps = zip(self._path, self._path[1:], strict=False)
        self._handovers = frozenset((a, b) for a, b in steps if owners[a] != owners[b])
        self._handoffs = frozenset(agreement.handoffs)
        # declared handoff -> the rule name its criteria_unmet violations carry
        self._labels = {(a, b): f"{a} -> {b}" for a, b in agreement.handoffs}
        self._days = _Days(agreement.timezone)
        self._calendars: dict[str, Clock] = {
            name: calendar.clock for name, calendar in (calendars or {}).items()
        }
        # Targets on the same stage and kind of period share the lead's anchors in each period.
        shared: dict[tuple[str, int], list[_CohortTarget]] = {}
        for target in agreement.targets.values():
            cohort = self._cohort(target.name)
            if cohort is not None:
                shared.setdefault((cohort.stage, cohort.period), []).append(cohort)
        self._cohorts = tuple(
            (stage, period, tuple(cohorts)) for (stage, period), cohorts in shared.items()
        )
        # By sequence of stages: most leads follow one of a few. A cache, not tallies: it
        # outlives `take`, and holds at most one entry per lead added.
        self._visits: dict[tuple[str, ...], _Visits] = {}
        self.tallies = self._empty()

    def _empty(self) -> Tallies:
        agreement = self.agreement
        rules = [*agreement.clocks, *agreement.cadences]
        return Tallies(agreement.stages, rules, agreement.targets, len(self._path) - 1)

    def take(self) -> Tallies:
        """The tallies counted so far, leaving this analyser with empty ones.

        A worker counts each chunk of leads this way and sends the chunk's tallies back; the
        receiving analyser merges them in chunk order (`tallies.merge`).
        """
        taken, self.tallies = self.tallies, self._empty()
        # The finish sorts every stage's dwell and every move's walls; sorted here, chunk by
        # chunk in whichever process counts them, they reach it as runs of sorted values, which
        # Python's sort merges in about linear time (0.2 s less in the parent on 1M events).
        for values in taken.dwell.values():
            values.sort()
        for walls in taken.flows.values():
            walls.sort()
        for name, opened in taken.open.items():
            waits = taken.waiting[name]
            waits.sort()
            taken.waiting_wall[name].sort()
            # Only the open stays that may be among their stage's LONGEST go on: the finish
            # picks those by business time first, and none waited less than the LONGEST-th
            # longest here (all the stays otherwise made half of what a chunk sends).
            if len(opened) > LONGEST:
                floor = waits[-LONGEST]
                taken.open[name] = [item for item in opened if item[0] >= floor]
        return taken

    @property
    def won_stages(self) -> tuple[str, ...]:
        """The stages counted as won, in declaration order."""
        return tuple(name for name in self.agreement.stages if name in self._won)

    def _clock(self, calendar: str) -> Clock:
        found = self._calendars.get(calendar)
        if found is None:
            if calendar == "always":
                found = _wall_clock
            else:
                found = BusinessCalendar(self.agreement.calendars[calendar]).clock
            self._calendars[calendar] = found
        return found

    def _stage(self, name: str) -> str:
        return self.agreement.stage_for(name) or name

    def _cohort(self, name: str) -> _CohortTarget | None:
        target = self.agreement.targets[name]
        period = PERIOD_KINDS.index(target.period)
        within = target.within
        window = None
        if within is not None:
            window = _Window(self._clock(within.calendar), within.micros, self.as_of)
        measure = target.measure
        match measure:
            case n.Volume():
                stage = self._stage(measure.stage.text)
                return _CohortTarget(name, "volume", period, stage, None, None, None, False)
            case n.Conversion():
                stage, reach = self._stage(measure.source.text), self._stage(measure.target.text)
                return _CohortTarget(name, "conversion", period, stage, reach, window, None, False)
            case n.Worked():
                stage = self._stage(measure.stage.text)
                by = measure.by
                team = by.team.text if isinstance(by, n.ByTeam) else None
                owner = isinstance(by, n.ByOwner)
                return _CohortTarget(name, "worked", period, stage, None, window, team, owner)
            case n.Attainment():
                return None  # judged from the rule's cycles by period

    # -------------------------------------------------------- one lead

    def cover(self, t: int) -> None:
        """Build the tables of local dates and of the targets' business calendars around t now
        (see `replay.Engine.cover`)."""
        self._days.ordinal(t)
        for clock in self._calendars.values():
            clock(t)

    def attributes_read(self) -> tuple[str, ...]:
        """The attributes of a `LeadResult` that `add` reads: the groups' and the money's."""
        money = () if self._money is None else (self._money,)
        return tuple(dict.fromkeys(self._group_by + money))

    def add(self, lead: LeadResult) -> None:
        """Count one lead."""
        tallies = self.tallies
        if tallies.first_event is None or lead.first_time < tallies.first_event:
            tallies.first_event = lead.first_time
        unmet = self._add_violations(lead) if lead.violations else None
        stays = lead.stays
        dwell, flows, opened = tallies.dwell, tallies.flows, tallies.open
        waiting, waiting_wall = tallies.waiting, tallies.waiting_wall
        stages: list[str] = []
        for stay in stays:
            name, following = stay.stage, stay.next_stage
            stages.append(name)
            if following is None:
                opened[name].append((stay.dwell, stay.wall, lead.lead, stay.entered))
                waiting[name].append(stay.dwell)
                waiting_wall[name].append(stay.wall)
                continue
            dwell[name].append(stay.dwell)
            move = (name, following)
            walls = flows.get(move)
            if walls is None:
                walls = flows[move] = []
            walls.append(stay.wall)
        if unmet:
            labels, missed = self._labels, tallies.missed
            for stay in stays:
                following = stay.next_stage
                label = None if following is None else labels.get((stay.stage, following))
                if label is not None and (stay.left, label) in unmet:
                    missed[stay.stage] = missed.get(stay.stage, 0) + 1
        if lead.cycles:
            self._add_cycles(lead)
        sequence = tuple(stages)
        visits = self._visits.get(sequence)
        if visits is None:
            visits = self._visits[sequence] = self._visited(sequence)
        accepted = tallies.accepted
        for move, entries in visits.handovers:
            following = move[1]
            for index in entries:
                if stays[index].next_stage == following:
                    # A lead counts once per handover, however often it went along it.
                    accepted[move] = accepted.get(move, 0) + 1
                    break
        if visits.cohorts:
            self._add_cohorts(lead, visits)
        self._add_groups(lead, visits)

    def _visited(self, stages: tuple[str, ...]) -> _Visits:
        """What the funnel, the handovers and the cohorts need of a sequence of stays."""
        found: dict[str, list[int]] = {}
        for index, stage in enumerate(stages):
            found.setdefault(stage, []).append(index)
        positions = {stage: tuple(indices) for stage, indices in found.items()}
        path = self._path
        converted = tuple(
            step
            for step, (source, target) in enumerate(pairwise(path))
            if source in positions and positions.get(target, (-1,))[-1] > positions[source][0]
        )
        handovers = tuple(
            (move, positions[move[0]])
            for move in pairwise(path)
            if move in self._handovers and move[0] in positions
        )
        cohorts = tuple(
            (index, positions[stage])
            for index, (stage, _, _) in enumerate(self._cohorts)
            if stage in positions
        )
        return _Visits(positions, converted, handovers, cohorts)

    def _add_violations(self, lead: LeadResult) -> set[tuple[int, str]]:
        """Count stalls; the (instant, rule) of each criteria_unmet, to judge handoffs."""
        unmet: set[tuple[int, str]] = set()
        stalled: set[str] = set()
        stalls = self.tallies.stalls
        for violation in lead.violations:
            kind = violation.kind
            if kind is ViolationKind.CRITERIA_UNMET:
                unmet.add((violation.at, violation.rule))
            elif kind is ViolationKind.STALL and violation.rule in stalls:
                counts = stalls[violation.rule]
                counts[0] += 1
                counts[2] += violation.ended is None
                stalled.add(violation.rule)
        for name in stalled:
            stalls[name][1] += 1
        return unmet

    def _add_cycles(self, lead: LeadResult) -> None:
        cycles, heat = self.tallies.cycles, self.tallies.heat
        days = self._days
        by_span, ordinal, zone = days.by_span, days.ordinal, days.zone
        owner = lead.owner
        for cycle in lead.cycles:
            started = cycle.started
            # `ordinal(started)`, mostly without the call
            date = by_span.get(started >> _SPAN) or ordinal(started)
            outcome = cycle.outcome
            # An Enum member hashes in Python code: test the common outcomes by identity first.
            if outcome is _OUTCOME_MET:
                slot = _MET
            elif outcome is _OUTCOME_BREACHED:
                slot = _BREACHED
            else:
                slot = _SLOT[outcome]
            key = (cycle.rule, cycle.responsible, owner, date, slot, cycle.at_risk)
            cycles[key] = cycles.get(key, 0) + 1
            if slot == _BREACHED:
                local = dt.datetime.fromtimestamp(started // US, zone)
                heat[cycle.rule][local.weekday() * 24 + local.hour] += 1

    def _add_cohorts(self, lead: LeadResult, visits: _Visits) -> None:
        stays = lead.stays
        days = self._days
        targets = self.tallies.targets
        positions = visits.positions
        for group, entries in visits.cohorts:
            _, period, cohorts = self._cohorts[group]
            # first date of a period -> index of the lead's first entry into the stage in it
            anchors: dict[int, int] = {}
            for index in entries:
                key = days.keys_at(stays[index].entered)[period]
                if key not in anchors:
                    anchors[key] = index
            for cohort in cohorts:
                table = targets[cohort.name]
                kind, window = cohort.kind, cohort.window
                for key, index in anchors.items():
                    counts = table.get(key)
                    if counts is None:
                        counts = table[key] = [0, 0, 0, 0]
                    if kind == "volume":
                        counts[0] += 1
                        continue
                    anchor = stays[index].entered
                    if kind == "conversion":
                        done = False
                        for later in positions.get(cohort.reach or "", ()):
                            if later > index:
                                # The first entry after the anchor is the earliest: a later one
                                # cannot be inside the window.
                                reached = stays[later].entered
                                done = window is None or window.fits(anchor, reached)
                                break
                    else:
                        done = self._worked(cohort, lead, anchor)
                    counts[0] += done
                    counts[1] += 1
                    # Open when an event just after as-of could still fall inside the window.
                    if window is not None and window.open_at(anchor):
                        counts[2] += 1
                        counts[3] += not done

    def _worked(self, cohort: _CohortTarget, lead: LeadResult, anchor: int) -> bool:
        """Whether an activity by the cohort's actor followed the anchor inside the window."""
        activities = lead.activities
        # An activity in the second of the entry is replayed after it (semantics.md 4). An
        # Activity is a tuple that starts with its time, and (anchor,) sorts just before every
        # activity at the anchor: the search compares in C, with no key function to call.
        start = bisect_left(activities, (anchor,))
        if start == len(activities):
            return False
        window, team = cohort.window, cohort.team
        for activity in activities[start:]:
            # By position: compiled code reads a named tuple's fields by name, slowly.
            time, team_of = activity[0], activity[3]
            if window is not None and not window.fits(anchor, time):
                return False
            if cohort.by_owner:
                owner = self._owner_at(lead, time)
                if owner is not None and team_of == owner:
                    return True
            elif team is None or team_of == team:
                return True
        return False

    def _owner_at(self, lead: LeadResult, t: int) -> str | None:
        """The owner of the stage the lead was in at t (a stage entered at t included)."""
        index = bisect_right(lead.stays, t, key=_ENTERED) - 1
        if index < 0:
            return None
        return self.agreement.stages[lead.stays[index].stage].owner

    def _add_groups(self, lead: LeadResult, visits: _Visits) -> None:
        to_won: int | None = None
        amount: Decimal | None = None
        unpriced = False
        stays = lead.stays
        attributes = lead.attributes
        if lead.final_stage in self._won and stays:
            to_won = stays[-1].entered - stays[0].entered
            money = self._money
            if money is not None:
                text = _attribute(attributes, money)
                if text is not None and _NUMBER.match(text):
                    amount = Decimal(text)
                else:
                    unpriced = True
        tallies = self.tallies
        tallies.funnel.add(visits, to_won, amount, unpriced)
        for attribute in self._group_by:
            groups = tallies.groups.get(attribute)
            if groups is None:
                groups = tallies.groups[attribute] = {}
            value = _attribute(attributes, attribute)
            if value is None:
                value = NOT_SET
            group = groups.get(value)
            if group is None:
                group = groups[value] = _GroupTally(len(self._path) - 1)
            group.add(visits, to_won, amount, unpriced)

    # -------------------------------------------------------- the finished analysis

    def finish(self) -> Analysis:
        """The analysis of every lead added so far."""
        tallies = self.tallies
        listed: dict[PeriodKind, tuple[Period, ...]] = {}
        for kind in PERIOD_KINDS:
            if tallies.first_event is None:
                listed[kind] = ()
            else:
                first = min(tallies.first_event, self.as_of)
                last = max(tallies.first_event, self.as_of)
                listed[kind] = self._days.periods(kind, first, last, self.as_of)
        counts = self._cycle_counts()
        rules = tuple(
            self._rule(name, counts, listed)
            for name in (*self.agreement.clocks, *self.agreement.cadences)
        )
        targets = tuple(self._target(name, counts, listed) for name in self.agreement.targets)
        heat = [sum(column) for column in zip(*tallies.heat.values(), strict=True)]
        return Analysis(
            as_of=self.as_of,
            timezone=self.agreement.timezone,
            first_event=tallies.first_event,
            won_stages=self.won_stages,
            money_field=self._money,
            bottlenecks=self._bottlenecks(),
            accountability=Accountability(
                rules, _heatmap(heat or [0] * (7 * 24)), self._scorecard(rules, targets)
            ),
            targets=targets,
            funnel=Funnel(self._path, self._steps(tallies.funnel)),
            overall=self._group(ALL, tallies.funnel),
            closed_loop=tuple(
                ClosedLoop(attribute, self._groups(tallies.groups.get(attribute, {})))
                for attribute in self._group_by
            ),
        )

    def _order(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.agreement.stages)}

    def _bottlenecks(self) -> Bottlenecks:
        order = self._order()
        tallies = self.tallies
        moves = sorted(tallies.flows, key=lambda move: (order[move[0]], order[move[1]]))
        # Each list is sorted once: a flow's summary and its stage's share the flow's order, and
        # sorting the stage's walls, a run of sorted flows, is a merge.
        flow_walls = {move: sorted(walls) for move, walls in tallies.flows.items()}
        entries = tallies.funnel.entered()
        stages: list[StageStats] = []
        ranking: list[LostTime] = []
        for name, stage in self.agreement.stages.items():
            dwell = _summary(sorted(tallies.dwell[name]))
            opened = tallies.open[name]
            exits = [(move[1], flow_walls[move]) for move in moves if move[0] == name]
            walls: list[int] = []
            for _, stay_walls in exits:
                walls.extend(stay_walls)
            walls.sort()
            dwell_wall = _summary(walls)
            businesses = sorted(tallies.waiting[name])
            still = len(businesses)  # stays open at as-of (`opened` may hold only the longest)
            waiting = _summary(businesses)
            waiting_wall = summarise(tallies.waiting_wall[name])
            candidates = opened
            if len(opened) > LONGEST:
                # The longest waits come first by business time: none waited less than the
                # LONGEST-th longest, so only those need the full ordering.
                floor = businesses[-LONGEST]
                candidates = [item for item in opened if item[0] >= floor]
            longest = sorted(candidates, key=lambda item: (-item[0], -item[1], item[2], item[3]))
            stalls, stalled_leads, stalled_now = tallies.stalls[name]
            stages.append(
                StageStats(
                    stage=name,
                    title=stage.title,
                    owner=stage.owner,
                    terminal=stage.terminal,
                    limit=stage.max_dwell.text if stage.max_dwell is not None else None,
                    entries=dwell.count + still,
                    leads=entries.get(name, 0),
                    exits=tuple((target, len(stay_walls)) for target, stay_walls in exits),
                    dwell=dwell,
                    dwell_wall=dwell_wall,
                    open=still,
                    waiting=waiting,
                    waiting_wall=waiting_wall,
                    longest=tuple(
                        Waiting(lead, entered, business, wall)
                        for business, wall, lead, entered in longest[:LONGEST]
                    ),
                    stalls=stalls,
                    stalled_leads=stalled_leads,
                    stalled_now=stalled_now,
                )
            )
            if not stage.terminal:
                business = dwell.total + waiting.total
                wall = dwell_wall.total + waiting_wall.total
                ranking.append(LostTime(name, business, wall, dwell.count + still))
        flows = tuple(
            Flow(a, b, (a, b) in self._handoffs, len(flow_walls[(a, b)]),
                 _summary(flow_walls[(a, b)]))
            for a, b in moves
        )  # fmt: skip
        ranking.sort(key=lambda lost: (-lost.business, -lost.wall, order[lost.stage]))
        return Bottlenecks(tuple(stages), flows, tuple(ranking))

    def _cycle_counts(self) -> dict[str, _RuleCounts]:
        """The cycle tallies of every rule by team, owner and period."""
        out = {name: _RuleCounts() for name in (*self.agreement.clocks, *self.agreement.cadences)}
        # Periods depend on the date alone: count by date first, then spread each over its periods.
        by_date: dict[tuple[str, int, int, bool], int] = {}
        for (rule, team, owner, ordinal, slot, at_risk), count in self.tallies.cycles.items():
            counts = out[rule]
            for table, key in ((counts.teams, team), (counts.owners, owner)):
                found = table.get(key)
                if found is None:
                    found = table[key] = [0] * 5
                found[slot] += count
                found[_AT_RISK] += count * at_risk
            dated = (rule, ordinal, slot, at_risk)
            by_date[dated] = by_date.get(dated, 0) + count
        keys = self._days.keys
        for (rule, ordinal, slot, at_risk), count in by_date.items():
            counts = out[rule]
            for kind, start in enumerate(keys(ordinal)):
                found_period = counts.periods.get((kind, start))
                if found_period is None:
                    found_period = counts.periods[(kind, start)] = [0] * 5
                found_period[slot] += count
                found_period[_AT_RISK] += count * at_risk
        return out

    def _rule(
        self,
        name: str,
        counts: dict[str, _RuleCounts],
        listed: dict[PeriodKind, tuple[Period, ...]],
    ) -> RuleStats:
        tally = counts[name]
        kind: Literal["clock", "cadence"]
        if name in self.agreement.clocks:
            title, kind = self.agreement.clocks[name].title, "clock"
        else:
            title, kind = self.agreement.cadences[name].title, "cadence"
        total = [sum(team[slot] for team in tally.teams.values()) for slot in range(5)]
        team_order = {team: index for index, team in enumerate(self.agreement.teams)}
        teams = sorted(
            tally.teams.items(),
            key=lambda item: (
                item[0] is None,
                team_order.get(item[0] or "", len(team_order)),
                item[0] or "",
            ),
        )
        owners = sorted(tally.owners.items(), key=lambda item: (item[0] is None, item[0] or ""))

        def by_period(kind: PeriodKind) -> tuple[PeriodOutcomes, ...]:
            index = PERIOD_KINDS.index(kind)
            return tuple(
                PeriodOutcomes(
                    period, _outcomes(tally.periods.get((index, self._key(period)), [0] * 5))
                )
                for period in listed[kind]
            )

        return RuleStats(
            rule=name,
            title=title,
            kind=kind,
            outcomes=_outcomes(total),
            by_team=tuple(Breakdown(team, _outcomes(c)) for team, c in teams),
            by_owner=tuple(Breakdown(owner, _outcomes(c)) for owner, c in owners),
            by_week=by_period("week"),
            by_month=by_period("month"),
            by_quarter=by_period("quarter"),
            heatmap=_heatmap(self.tallies.heat[name]),
        )

    def _key(self, period: Period) -> int:
        """The first date of a period (its key in the tallies)."""
        return self._days.ordinal(period.start)

    def _target(
        self,
        name: str,
        counts: dict[str, _RuleCounts],
        listed: dict[PeriodKind, tuple[Period, ...]],
    ) -> TargetStats:
        target = self.agreement.targets[name]
        measure = target.measure
        kind: MeasureKind
        match measure:
            case n.Volume():
                kind, goal = "volume", Decimal(measure.count)
                subject = self._stage(measure.stage.text)
            case n.Conversion():
                kind, goal = "conversion", measure.percent.value / 100
                source, reach = self._stage(measure.source.text), self._stage(measure.target.text)
                subject = f"{source} -> {reach}"
            case n.Attainment():
                kind, goal = "attainment", measure.percent.value / 100
                subject = measure.clock.text
            case n.Worked():
                kind, goal = "worked", measure.percent.value / 100
                subject = self._stage(measure.stage.text)
        exact_goal = Fraction(goal)
        index = PERIOD_KINDS.index(target.period)
        rows: list[TargetPeriod] = []
        for period in listed[target.period]:
            key = self._key(period)
            if kind == "attainment":
                found = counts[subject].periods.get((index, key), [0] * 5)
                part, whole = found[_MET], found[_MET] + found[_BREACHED]
                immature = undecided = 0
            else:
                part, whole, immature, undecided = self.tallies.targets[name].get(key, [0] * 4)
            if kind == "volume":
                judged = _judge(target.bound, part >= exact_goal, part <= exact_goal)
                rows.append(TargetPeriod(period, part, None, float(part), judged))
                continue
            verdict: Verdict | None = None
            if whole:
                exact = Fraction(part, whole)
                verdict = _judge(target.bound, exact >= exact_goal, exact <= exact_goal)
            rows.append(
                TargetPeriod(period, part, whole, _share(part, whole), verdict, immature, undecided)
            )
        complete = [row.verdict for row in rows if not row.period.partial and row.verdict]
        met = sum(verdict is Verdict.MET for verdict in complete)
        missed = len(complete) - met
        return TargetStats(
            name=name,
            title=target.title,
            kind=kind,
            period=target.period,
            bound=target.bound,
            goal=goal,
            subject=subject,
            window=target.within.text if target.within is not None else None,
            responsible=target.responsible,
            clause=str(target.clause),
            periods=tuple(rows),
            met=met,
            missed=missed,
            verdict=None if not complete else Verdict.MISSED if missed else Verdict.MET,
        )

    def _steps(self, group: _GroupTally) -> tuple[FunnelStep, ...]:
        path = self._path
        steps: list[FunnelStep] = []
        entries, conversions = group.entered(), group.converted()
        for step in range(len(path) - 1):
            entered = entries.get(path[step], 0)
            converted = conversions[step]
            steps.append(
                FunnelStep(
                    path[step], path[step + 1], entered, converted, _share(converted, entered)
                )
            )
        return tuple(steps)

    def _groups(self, groups: dict[str, _GroupTally]) -> tuple[GroupStats, ...]:
        ordered = sorted(groups.items(), key=lambda item: (item[0] == NOT_SET, item[0]))
        return tuple(self._group(value, group) for value, group in ordered)

    def _group(self, value: str, group: _GroupTally) -> GroupStats:
        entered = group.entered()
        return GroupStats(
            value=value,
            leads=group.leads,
            entered=tuple((name, entered.get(name, 0)) for name in self.agreement.stages),
            steps=self._steps(group),
            won=group.won,
            revenue=group.revenue if self._money is not None else None,
            unpriced=group.unpriced,
            time_to_won=summarise(group.to_won),
        )

    def _scorecard(
        self, rules: tuple[RuleStats, ...], targets: tuple[TargetStats, ...]
    ) -> tuple[Commitment, ...]:
        agreement = self.agreement
        tallies = self.tallies
        entered = tallies.funnel.entered()
        lines: list[Commitment] = []

        def add(
            team: str | None,
            kind: CommitmentKind,
            subject: str,
            title: str,
            part: int,
            whole: int | None,
            matching: list[TargetStats],
        ) -> None:
            value = _share(part, whole) if whole is not None else None
            if not matching:
                lines.append(
                    Commitment(team, kind, subject, title, part, whole, value, None, None, None,
                               0, 0, None)
                )  # fmt: skip
            for target in matching:
                lines.append(
                    Commitment(
                        team, kind, subject, title, part, whole, value, target.name, target.goal,
                        target.bound, target.met + target.missed, target.met, target.verdict,
                    )
                )  # fmt: skip

        for target in targets:
            if target.kind == "volume":
                stage = agreement.stages[target.subject]
                team = target.responsible or stage.owner
                total = sum(row.part for row in target.periods)
                add(team, "volume", target.subject, target.title, total, None, [target])
        criteria: dict[str | None, list[int]] = {}
        for name, stage in agreement.stages.items():
            if any(source == name for source, _ in agreement.handoffs):
                counts = criteria.setdefault(stage.owner, [0, 0])
                taken = sum(
                    len(tallies.flows.get((source, target), ()))
                    for source, target in agreement.handoffs
                    if source == name
                )
                counts[0] += taken - tallies.missed.get(name, 0)
                counts[1] += taken
        for team, (kept, taken) in criteria.items():
            add(team, "criteria", team or "", "Criteria met at handoff", kept, taken, [])
        for source, target_stage in zip(self._path, self._path[1:], strict=False):
            if (source, target_stage) not in self._handovers:
                continue
            matching = [
                t for t in targets if t.kind == "conversion" and t.subject ==
                f"{source} -> {target_stage}"
            ]  # fmt: skip
            add(
                agreement.stages[target_stage].owner,
                "acceptance",
                f"{source} -> {target_stage}",
                f"Leads accepted from {source} into {target_stage}",
                tallies.accepted.get((source, target_stage), 0),
                entered.get(source, 0),
                matching,
            )
        for rule in rules:
            matching = [t for t in targets if t.kind == "attainment" and t.subject == rule.rule]
            kind: CommitmentKind = "speed" if rule.kind == "clock" else "cadence"
            # A rule with no cycles yet is still on its team's card, with nothing judged.
            declared = (
                agreement.clocks[rule.rule].responsible
                if rule.kind == "clock"
                else agreement.cadences[rule.rule].responsible
            )
            by_team = rule.by_team or (Breakdown(declared, _outcomes([0] * 5)),)
            for breakdown in by_team:
                outcomes = breakdown.outcomes
                judged = outcomes.met + outcomes.breached
                add(breakdown.key, kind, rule.rule, rule.title, outcomes.met, judged, matching)
        team_order = {team: index for index, team in enumerate(agreement.teams)}
        kinds = ("volume", "criteria", "acceptance", "speed", "cadence")
        lines.sort(
            key=lambda line: (
                line.team is None,
                team_order.get(line.team or "", len(team_order)),
                line.team or "",
                kinds.index(line.kind),
            )
        )
        return tuple(lines)


def _attribute(attributes: Sequence[tuple[str, str]], name: str) -> str | None:
    """The value of a lead's attribute, from its (name, text) pairs in name order."""
    # A search instead of a dict per lead: (name,) sorts just before (name, text).
    index = bisect_left(attributes, (name,))
    if index < len(attributes) and attributes[index][0] == name:
        return attributes[index][1]
    return None


def _judge(bound: str, at_least: bool, at_most: bool) -> Verdict:
    kept = at_least if bound == "at least" else at_most
    return Verdict.MET if kept else Verdict.MISSED


def _heatmap(flat: Sequence[int]) -> Heatmap:
    return Heatmap(tuple(tuple(flat[day * 24 : day * 24 + 24]) for day in range(7)), sum(flat))


def analyse(
    agreement: Agreement,
    result: ReplayResult,
    group_by: Sequence[str] = (),
    money_field: str | None = None,
    won_stages: Sequence[str] | None = None,
) -> Analysis:
    """The analysis of a replay: bottlenecks, accountability, targets, closed loop and funnel."""
    analyser = Analyser(agreement, result.as_of, group_by, money_field, won_stages)
    for lead in result.leads:
        analyser.add(lead)
    return analyser.finish()
