"""Sample logs: a compiled agreement + a seed -> a realistic canonical event log, row by row.

The generator is a seeded simulation, not a replay: each lead arrives (mostly in the business
hours of the agreement's default calendar), walks the state graph from an initial stage along
declared handoffs, and collects the updates, assignments and activities that a CRM would
record. It plans towards the agreement on purpose so the log exercises every rule:

- handoff criteria are usually met (attribute values are chosen to satisfy each comparison,
  membership, presence and recency test; activities are added to reach activity counts) and
  sometimes violated on purpose;
- clock responses and cadence activities are placed in business time so that most cycles
  are met and a minority breached; dwell times respect stage limits, with some stalls;
- a few percent of leads carry structural problems: an illegal transition (a skipped stage),
  a first stage that is not initial, a lead leaving a terminal stage, duplicated event ids.

Everything is drawn from one `random.Random(seed)`, so the same arguments give the same rows.
The module is pure: it yields rows and CSV lines; the caller writes them.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import zoneinfo
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from typing import TypeVar, assert_never

from slaspec import nodes as n
from slaspec.calendar import BusinessCalendar, CalendarSpec
from slaspec.compiler import Agreement, Cadence, Clock, Handoff, Length

FIXED_COLUMNS = ("lead_id", "timestamp", "type", "value", "actor", "team", "event_id")
"""The canonical columns every generated log starts with; the agreement's fields follow."""

Row = tuple[str, ...]
_T = TypeVar("_T")
_Leaf = n.Comparison | n.Membership | n.Presence | n.Recent | n.ActivityCount
Value = str | int | Decimal | bool | dt.date | dt.datetime

US = 1_000_000
_MINUTE = 60 * US
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_NEVER = 1 << 62
_UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86_400, "weeks": 604_800}
_OFFICE = " office hours"  # not a name an agreement can declare
_OFFICE_HOURS = ((9 * 60, 17 * 60),)
_RANK = {"update": 0, "assign": 1, "stage": 2, "activity": 3}
_NEGATED = {"=": "!=", "!=": "=", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_WON_WORDS = ("won", "win", "customer", "engaged", "signed", "closed won")

_FIRST_NAMES = (
    "ava", "ben", "chen", "dana", "eli", "farah", "george", "hana", "ivan", "jade", "kai",
    "lena", "mateo", "nina", "omar", "priya", "quinn", "rosa", "sam", "tariq", "uma", "vera",
    "wiremu", "xin", "yusuf", "zoe",
)  # fmt: skip
_LAST_NAMES = (
    "adams", "baker", "costa", "dubois", "evans", "fischer", "garcia", "hughes", "ito",
    "jensen", "kowalski", "lee", "moreau", "nguyen", "okoro", "patel", "rossi", "smith",
    "tanaka", "walker", "young", "zhang",
)  # fmt: skip
_COMPANIES = (
    "acme", "bluefin", "cobalt", "driftwood", "ember", "fernhill", "granite", "harbourline",
    "ironbark", "juniper", "kestrel", "lumina", "meridian", "northstar", "orchard", "pinnacle",
    "quartz", "redgum", "summit", "tidewater", "upland", "vantage", "willow", "zenith",
)  # fmt: skip
_COUNTRIES = ("US", "US", "US", "US", "GB", "CA", "AU", "AU", "DE", "FR", "NZ", "IN", "SG", "NL")


@dataclass(frozen=True, slots=True)
class Profile:
    """How generated leads behave: rates of good and bad behaviour and the shape of the funnel."""

    business_hours: float = 0.85
    """Share of leads that arrive while the default calendar is open."""
    stay: float = 0.5
    """Weight of a lead staying in its stage for good, against a handoff's weight of 1-1.5."""
    breach: float = 0.12
    """Typical share of clock cycles answered late (varies month to month)."""
    stall: float = 0.12
    """Typical share of stays in a stage with a dwell limit that overstay it."""
    unmet: float = 0.06
    """Share of handoffs made without meeting their criteria or required fields."""
    shortfall: float = 0.2
    """Share of cadence cycles that get too few activities in their window."""
    team_cell: float = 0.6
    """Share of activity and stage rows whose `team` cell is filled (else the roster decides)."""
    alias: float = 0.3
    """Share of stage rows that name the stage by one of its CRM aliases, when it has any."""
    skip: float = 0.012
    """Share of leads that skip a stage once (an illegal transition)."""
    bad_entry: float = 0.008
    """Share of leads whose first stage is not an initial stage."""
    reopen: float = 0.03
    """Share of leads reaching a terminal stage that leave it again (reopened in the CRM)."""
    duplicate: float = 0.015
    """Share of leads with one or two rows exported twice (same event id)."""
    growth: float = 1.0
    """How much busier the last day is than the first (lead arrivals grow linearly)."""
    dwell_days: float = 2.0
    """Median working days in a stage without a dwell limit."""
    max_steps: int = 12
    """Most stage changes one lead makes."""


DEFAULT_PROFILE = Profile()


def columns(agreement: Agreement) -> tuple[str, ...]:
    """The columns of a generated log: the canonical ones, then one per field of the agreement."""
    return FIXED_COLUMNS + tuple(name for name in agreement.fields if name not in FIXED_COLUMNS)


def generate(
    agreement: Agreement,
    leads: int,
    seed: int,
    start: dt.date,
    days: int = 180,
    profile: Profile = DEFAULT_PROFILE,
) -> Iterator[Row]:
    """Rows of a canonical log (cells in `columns(agreement)` order), lead by lead."""
    if leads < 0:
        raise ValueError(f"leads must be 0 or more, not {leads}")
    if days < 1:
        raise ValueError(f"days must be 1 or more, not {days}")
    return _Generator(agreement, seed, start, days, profile).rows(leads)


def csv_lines(rows: Iterable[Row], header: Sequence[str]) -> Iterator[str]:
    """The CSV text of a log, line by line (RFC 4180 quoting, LF endings), header first."""
    yield _csv_line(header)
    for row in rows:
        yield _csv_line(row)


def generate_csv(
    agreement: Agreement,
    leads: int,
    seed: int,
    start: dt.date,
    days: int = 180,
    profile: Profile = DEFAULT_PROFILE,
) -> Iterator[str]:
    """The lines of a generated CSV log, for streaming to a file."""
    return csv_lines(generate(agreement, leads, seed, start, days, profile), columns(agreement))


def generate_csv_text(
    agreement: Agreement,
    leads: int,
    seed: int,
    start: dt.date,
    days: int = 180,
    profile: Profile = DEFAULT_PROFILE,
) -> str:
    """A whole generated CSV log as one string."""
    return "".join(generate_csv(agreement, leads, seed, start, days, profile))


def _csv_line(cells: Sequence[str]) -> str:
    line = ",".join(cells)
    # Most rows need no quoting; check the joined line once before looking at each cell.
    if '"' in line or "\n" in line or "\r" in line or line.count(",") >= len(cells):
        line = ",".join(_quote(cell) for cell in cells)
    return line + "\n"


def _quote(cell: str) -> str:
    if "," in cell or '"' in cell or "\n" in cell or "\r" in cell:
        return '"' + cell.replace('"', '""') + '"'
    return cell


# ---------------------------------------------------------------- lead state


@dataclass(slots=True)
class _Event:
    """One planned row of a lead; mutable only while the lead is being planned."""

    time: int
    kind: str
    value: str
    actor: str = ""
    team_cell: str = ""
    team: str | None = None
    cells: dict[str, Value] = field(default_factory=dict)
    tag: str = ""
    seq: int = 0


@dataclass(slots=True)
class _Run:
    """A clock or cadence cycle the plan has opened: when it started and when it will end."""

    start: int
    until: int
    tag: str


@dataclass(slots=True)
class _Lead:
    """A lead while it is being planned."""

    id: str
    attrs: dict[str, Value] = field(default_factory=dict)
    events: list[_Event] = field(default_factory=list)
    entries: dict[str, int] = field(default_factory=dict)
    stage: str | None = None
    visited: set[str] = field(default_factory=set)
    reps: dict[str, str] = field(default_factory=dict)
    assigned: str | None = None
    runs: dict[str, _Run] = field(default_factory=dict)
    person: tuple[str, str, str] = ("", "", "")
    arrival: int = 0
    fit: float = 0.5
    stays: int = 0


@dataclass(frozen=True, slots=True)
class _Triggers:
    """Triggers of one clause, indexed so that matching an event is a few set look-ups."""

    enter: frozenset[str] = frozenset()
    leave: frozenset[str] = frozenset()
    handoffs: frozenset[tuple[str, str]] = frozenset()
    create: bool = False
    assign: bool = False
    activities: tuple[tuple[frozenset[str], n.Actor | None], ...] = ()


def _index(triggers: Iterable[n.Trigger]) -> _Triggers:
    """The triggers, indexed."""
    enter: set[str] = set()
    leave: set[str] = set()
    handoffs: set[tuple[str, str]] = set()
    create = assign = False
    activities: list[tuple[frozenset[str], n.Actor | None]] = []
    for trigger in triggers:
        match trigger:
            case n.OnEnter():
                enter.update(s.text for s in trigger.stages)
            case n.OnLeave():
                leave.update(s.text for s in trigger.stages)
            case n.OnHandoff():
                handoffs.add((trigger.source.text, trigger.target.text))
            case n.OnCreate():
                create = True
            case n.OnAssign():
                assign = True
            case n.OnActivity():
                activities.append((frozenset(t.text for t in trigger.types), trigger.by))
            case _:
                assert_never(trigger)
    return _Triggers(
        frozenset(enter), frozenset(leave), frozenset(handoffs), create, assign, tuple(activities)
    )


@dataclass(slots=True)
class _Facts:
    """What one planned event does, for deciding which triggers fire."""

    time: int
    entered: str | None = None
    left: str | None = None
    created: bool = False
    assigned: bool = False
    activity: str | None = None
    team: str | None = None


@dataclass(slots=True)
class _Plan:
    """What a lead must get before a handoff: attribute values and activity counts."""

    values: dict[str, Value] = field(default_factory=dict)
    needs: list[tuple[n.ActivityCount, int]] = field(default_factory=list)

    def merge(self, other: _Plan) -> None:
        self.values.update(other.values)
        self.needs.extend(other.needs)


# ---------------------------------------------------------------- the generator


class _Generator:
    """One generation run: the agreement indexed for planning, the RNG, and the lead plans."""

    def __init__(
        self, agreement: Agreement, seed: int, start: dt.date, days: int, profile: Profile
    ) -> None:
        self.agreement = agreement
        self.profile = profile
        self.rng = random.Random(seed)
        self.calendars = {
            name: BusinessCalendar(spec) for name, spec in agreement.calendars.items()
        }
        default = agreement.default_calendar
        zone_name = agreement.calendars[default].timezone if default else agreement.timezone
        self.zone = zoneinfo.ZoneInfo(zone_name)
        # Business durations in criteria are measured on the default calendar, as in replay.
        self.dwell_home = default if default is not None else "always"
        self.home = self.dwell_home
        if default is None:
            # Without a default calendar people still work office hours in the agreement's zone.
            self.home = _OFFICE
            weekly = tuple(_OFFICE_HOURS if day < 5 else () for day in range(7))
            self.calendars[_OFFICE] = BusinessCalendar(CalendarSpec(_OFFICE, zone_name, weekly))
        self.cal = self.calendars[self.home]
        self.start = start
        self.days = days
        self.first = self._midnight(start)
        self.horizon = self._midnight(start + dt.timedelta(days=days))
        working = self.cal.working_day_seconds()
        self.working_day = (working or 8 * 3600) * US
        self.columns = columns(agreement)
        self.index = {name: i for i, name in enumerate(self.columns)}
        self.stages = agreement.stages
        self.initial = [s.name for s in self.stages.values() if s.initial]
        self.outgoing: dict[str, list[Handoff]] = {name: [] for name in self.stages}
        for handoff in agreement.handoffs.values():
            if handoff.source != handoff.target:
                self.outgoing[handoff.source].append(handoff)
        self.teams = list(agreement.teams)
        robots = ("automation", "marketo", "router", "bot@", "noreply")
        self.router = next((a for a in agreement.roster if any(w in a for w in robots)), "")
        # People work leads; a marketing-automation account only routes and updates them.
        self.members: dict[str, list[str]] = {team: [] for team in self.teams}
        for actor, team in agreement.roster.items():
            if not any(w in actor for w in robots):
                self.members.setdefault(team, []).append(actor)
        for actor, team in agreement.roster.items():
            if not self.members.get(team):
                self.members[team] = [actor]
        self.literals = self._literals()
        self.kinds = {name: kind.kind for name, kind in agreement.fields.items()}
        self.enums = {
            name: [v.value for v in kind.values] for name, kind in agreement.fields.items()
        }
        self.tops = {
            name: max(_magnitudes(values), default=100.0) for name, values in self.literals.items()
        }
        self.won = {name for name in self.stages if self._won_like(name)}
        self.distance = self._distances()
        self.required_fields = {f for h in agreement.handoffs.values() for f in h.required}
        self.clocks = list(agreement.clocks.values())
        self.cadences = list(agreement.cadences.values())
        self.starts = {c.name: _index(c.starts) for c in self.clocks}
        self.starts.update((c.name, _index(c.starts)) for c in self.cadences)
        self.stops = {c.name: _index(c.stops) for c in self.clocks}
        # What ends a cycle: a clock's stops and cancels, a cadence's exits.
        self.ends = {c.name: _index((*c.stops, *c.cancels)) for c in self.clocks}
        self.ends.update((c.name, _index(c.exits)) for c in self.cadences)
        self.stop_types = {
            c.name: frozenset(t for types, _ in self.stops[c.name].activities for t in types)
            for c in self.clocks
        }
        self.pause_fields = {
            part.field.text
            for clock in self.clocks
            for pause in clock.pauses
            if isinstance(pause, n.PauseWhile)
            for part in _atoms(pause.condition)
            if isinstance(part, n.Comparison | n.Membership | n.Presence | n.Recent)
        }
        # Outcome fields (reasons, amounts, flags) are filled in later, when a handoff needs them.
        self.born = [
            (name, 0.95 if kind in ("string", "enum", "datetime", "date") else 0.8)
            for name, kind in self.kinds.items()
            if kind not in ("money", "boolean")
            and name not in self.required_fields
            and name not in self.pause_fields
        ]
        self.drifting = [
            name for name, chance in self.born if self.kinds[name] in ("number", "datetime", "date")
        ]
        months = days // 30 + 2
        # A month's quality: good months answer faster and convert better than bad ones.
        self.quality = [self.rng.uniform(0.4, 1.8) for _ in range(months)]
        self.seq = 0
        self.emitted = 0
        self.depth_now = 0
        starts = [t for c in self.clocks for t in c.starts]
        starts.extend(t for c in self.cadences for t in c.starts)
        self.starts_on_activity = any(isinstance(t, n.OnActivity) for t in starts)
        self.assign_teams = self._assign_teams()

    # -------------------------------------------------------- set-up helpers

    def _midnight(self, day: dt.date) -> int:
        local = dt.datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return int(local.timestamp()) * US

    def _assign_teams(self) -> set[str]:
        """The teams whose rules an assignment starts or ends (empty: any team is dealt leads)."""
        teams: set[str] = set()
        for clock in self.clocks:
            if any(
                isinstance(t, n.OnAssign) for t in (*clock.starts, *clock.stops, *clock.cancels)
            ):
                teams.add(clock.responsible or "")
        for cadence in self.cadences:
            if any(isinstance(t, n.OnAssign) for t in (*cadence.starts, *cadence.exits)):
                by = cadence.by.team.text if isinstance(cadence.by, n.ByTeam) else ""
                teams.add(cadence.responsible or by)
        return set() if "" in teams else teams

    def _distances(self) -> dict[str, int]:
        """Handoffs from each stage to the nearest won-like (else any) terminal stage."""
        goals = sorted(self.won) or [s.name for s in self.stages.values() if s.terminal]
        incoming: dict[str, list[str]] = {name: [] for name in self.stages}
        for source, handoffs in self.outgoing.items():
            for handoff in handoffs:
                incoming[handoff.target].append(source)
        distance = dict.fromkeys(goals, 0)
        frontier = goals
        while frontier:
            following: list[str] = []
            for name in frontier:
                for source in incoming[name]:
                    if source not in distance:
                        distance[source] = distance[name] + 1
                        following.append(source)
            frontier = following
        return distance

    def _literals(self) -> dict[str, list[Value]]:
        found: dict[str, list[Value]] = {name: [] for name in self.agreement.fields}
        exprs: list[n.Expr] = [c for h in self.agreement.handoffs.values() for c in h.criteria]
        for clock in self.agreement.clocks.values():
            exprs.extend(g.condition for g in clock.goals if g.condition is not None)
            exprs.extend(p.condition for p in clock.pauses if isinstance(p, n.PauseWhile))
        for expr in exprs:
            for atom in _atoms(expr):
                if isinstance(atom, n.Comparison) and atom.field.text in found:
                    found[atom.field.text].append(self._literal(atom.value))
                elif isinstance(atom, n.Membership) and atom.field.text in found:
                    found[atom.field.text].extend(self._literal(v) for v in atom.values)
        return found

    def _won_like(self, name: str) -> bool:
        stage = self.stages[name]
        if not stage.terminal:
            return False
        words = " ".join((stage.name, stage.title, *stage.aliases)).lower()
        if any(word in words for word in _WON_WORDS):
            return True
        money = {f for f, t in self.agreement.fields.items() if t.kind == "money"}
        return any(
            isinstance(atom, n.Comparison) and atom.field.text in money
            for h in self.agreement.handoffs.values()
            if h.target == name
            for c in h.criteria
            for atom in _atoms(c)
        )

    def _literal(self, literal: n.Literal) -> Value:
        value = literal.value
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=self.zone)
        return value

    # -------------------------------------------------------- arrivals and output

    def rows(self, leads: int) -> Iterator[Row]:
        arrivals = self._arrivals(leads)
        width = max(5, len(str(leads)))
        for number, arrival in enumerate(arrivals, start=1):
            lead = _Lead(f"L{number:0{width}d}")
            self._plan_lead(lead, arrival)
            yield from self._emit(lead)

    def _arrivals(self, leads: int) -> list[int]:
        rng = self.rng
        profile = self.profile
        weights = []
        for offset in range(self.days):
            day = self.start + dt.timedelta(days=offset)
            weekend = 0.35 if day.weekday() >= 5 else 1.0
            month = math.sqrt(self.quality[offset // 30])
            weights.append((1.0 + profile.growth * offset / self.days) * weekend * month)
        cumulative = list(accumulate(weights))
        total = cumulative[-1]
        spans: dict[int, tuple[int, int, int]] = {}
        arrivals = []
        for _ in range(leads):
            offset = min(bisect_right(cumulative, rng.random() * total), self.days - 1)
            if offset not in spans:
                begin = self._midnight(self.start + dt.timedelta(days=offset))
                end = self._midnight(self.start + dt.timedelta(days=offset + 1))
                spans[offset] = (begin, end, self.cal.elapsed(begin, end) // US)
            begin, end, open_seconds = spans[offset]
            if open_seconds > 0 and rng.random() < profile.business_hours:
                # The instant k seconds into the day's open time: always inside a window.
                opened = _below(rng, open_seconds) + 1
                arrivals.append(self.cal.deadline(begin, opened * US) - US)
            else:
                arrivals.append(begin + _below(rng, (end - begin) // US) * US)
        arrivals.sort()
        return arrivals

    def _emit(self, lead: _Lead) -> list[Row]:
        events = [e for e in lead.events if e.time < self.horizon]
        events.sort(key=lambda e: (e.time, _RANK[e.kind], e.seq))
        width = len(self.columns)
        rows: list[Row] = []
        for event in events:
            self.emitted += 1
            cells = [""] * width
            cells[0] = lead.id
            cells[1] = self._stamp(event.time)
            cells[2] = event.kind
            cells[3] = event.value
            cells[4] = event.actor
            cells[5] = event.team_cell
            cells[6] = f"E{self.emitted:07d}"
            for name, value in event.cells.items():
                cells[self.index[name]] = self._text(value)
            rows.append(tuple(cells))
        if rows and self.rng.random() < self.profile.duplicate:
            # An export glitch: a row or two written twice, right after the original.
            for _ in range(_pick(self.rng, (1, 1, 2))):
                index = _below(self.rng, len(rows))
                rows.insert(index + 1, rows[index])
        return rows

    def _stamp(self, time: int) -> str:
        return dt.datetime.fromtimestamp(time // US, self.zone).isoformat()

    def _text(self, value: Value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, Decimal):
            return format(value, "f")
        if isinstance(value, dt.datetime):
            return value.astimezone(self.zone).replace(microsecond=0).isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        return str(value)

    # -------------------------------------------------------- the walk

    def _plan_lead(self, lead: _Lead, arrival: int) -> None:
        rng = self.rng
        profile = self.profile
        lead.person = (_pick(rng, _FIRST_NAMES), _pick(rng, _LAST_NAMES), _pick(rng, _COMPANIES))
        lead.arrival = arrival
        lead.fit = rng.random()
        problem = rng.random()
        skip = problem < profile.skip
        bad_entry = profile.skip <= problem < profile.skip + profile.bad_entry
        reopen = rng.random() < profile.reopen
        if not self.stages:
            self._plan_without_stages(lead, arrival)
            return
        if bad_entry:
            candidates = [
                s.name for s in self.stages.values() if not s.initial and not s.terminal
            ] or [s.name for s in self.stages.values() if not s.initial]
            stage = _pick(rng, candidates) if candidates else self._pick_initial()
        else:
            stage = self._pick_initial()
        cells = self._creation_cells(lead, arrival)
        self._enter(lead, None, stage, arrival, cells)
        now = arrival
        for _ in range(profile.max_steps):
            current = self.stages[stage]
            if current.terminal:
                if reopen:
                    self._reopen(lead, stage, now)
                return
            handoff = self._choose(lead, stage, now)
            if handoff is None:
                self._background(lead, stage, now, min(self.horizon, now + 20 * _DAY), None)
                return
            target = handoff.target
            jump = self._skip_target(stage, target) if skip else None
            leave = self._dwell(lead, stage, handoff, now)
            if leave >= self.horizon:
                self._background(lead, stage, now, self.horizon, None)
                return
            self._background(lead, stage, now, leave, handoff)
            if jump is not None:
                skip = False
                self._enter(lead, stage, jump, leave, {})
                stage = jump
            else:
                cells = self._prepare_handoff(lead, handoff, now, leave)
                self._enter(lead, stage, target, leave, cells)
                stage = target
            now = leave

    def _plan_without_stages(self, lead: _Lead, arrival: int) -> None:
        """A lead of an agreement with no lifecycle: its details, then the work done on it."""
        cells = self._creation_cells(lead, arrival)
        if cells or not self.teams:
            self._add(lead, _Event(arrival, "update", "", self.router, cells=cells))
            lead.attrs.update(cells)
            self._react(lead, _Facts(arrival, created=True))
        else:
            team = self.teams[0]
            self._assign(lead, team, arrival, created=True)
        self._background(lead, None, arrival, min(self.horizon, arrival + 20 * _DAY), None)

    def _pick_initial(self) -> str:
        if not self.initial:
            return next(iter(self.stages))
        # The first initial stage is the usual way in; the others are side doors.
        weights = [3.0] + [1.0] * (len(self.initial) - 1)
        return self.rng.choices(self.initial, weights)[0]

    def _choose(self, lead: _Lead, stage: str, now: int) -> Handoff | None:
        """The next handoff, or None when the lead stays where it is for good."""
        # Momentum: a good lead in a good month moves towards a sale; a poor one is parked,
        # recycled or lost. Later stages therefore hold better leads, as real funnels do.
        momentum = self._quality(now) * (0.2 + 1.6 * lead.fit)
        current = self.stages[stage]
        # Most inquiries never go further; a stage with a dwell limit is rarely left for good.
        scale = 0.15 if current.max_dwell is not None else 4.0 if current.initial else 1.0
        options: list[Handoff | None] = [None]
        weights = [self.profile.stay * scale / momentum]
        far = len(self.stages)
        here = self.distance.get(stage, far)
        for handoff in self.outgoing[stage]:
            target = handoff.target
            if self.stages[target].terminal:
                weight = 0.8 * momentum if target in self.won else 0.6 / momentum
            elif target in lead.visited:
                weight = 0.3
            elif self.distance.get(target, far) < here:
                weight = 1.2 * momentum
            else:
                weight = 0.5 / momentum
            options.append(handoff)
            weights.append(weight)
        return self.rng.choices(options, weights)[0]

    def _skip_target(self, stage: str, target: str) -> str | None:
        direct = {h.target for h in self.outgoing[stage]}
        beyond = sorted(
            {h.target for h in self.outgoing[target]} - direct - {stage},
            key=lambda name: list(self.stages).index(name),
        )
        return _pick(self.rng, beyond) if beyond else None

    def _reopen(self, lead: _Lead, stage: str, now: int) -> None:
        choices = [s.name for s in self.stages.values() if not s.terminal and s.name != stage]
        if not choices:
            return
        back = _pick(self.rng, choices)
        when = self._after(now, self.working_day * self.rng.uniform(0.5, 20))
        self._enter(lead, stage, back, when, {})

    def _quality(self, time: int) -> float:
        index = max(0, (time - self.first) // (30 * _DAY))
        return self.quality[min(index, len(self.quality) - 1)]

    def _after(self, start: int, business: float, calendar: str | None = None) -> int:
        """The instant `business` microseconds of open time after start, in whole seconds."""
        cal = self.calendars[calendar or self.home]
        seconds = max(1, int(business) // US)
        return cal.deadline(start, seconds * US)

    def _between(self, low: int, high: int, calendar: str | None = None) -> int:
        """A random instant in [low, high], in open time when there is any."""
        if high <= low:
            return low
        cal = self.calendars[calendar or self.home]
        span = cal.elapsed(low, high) // US
        if span < 1:
            return low + _below(self.rng, (high - low) // US + 1) * US
        return min(high, cal.deadline(low, _below(self.rng, span + 1) * US))

    # -------------------------------------------------------- stage entries and triggers

    def _enter(
        self, lead: _Lead, source: str | None, target: str, time: int, cells: dict[str, Value]
    ) -> None:
        rng = self.rng
        stage = self.stages[target]
        value = target
        if stage.aliases and rng.random() < self.profile.alias:
            value = _pick(rng, stage.aliases)
        roll = rng.random()
        owner = stage.owner if roll < 0.5 else self.stages[source].owner if source else None
        actor, team_cell = self._actor_cells(lead, owner) if roll < 0.8 else ("", "")
        if stage.terminal and target in self.won:
            for name, kind in self.agreement.fields.items():
                if kind.kind == "money" and name not in cells:
                    base = lead.attrs.get(name)
                    cells[name] = (
                        _cents(Decimal(str(base)) * Decimal(str(round(rng.uniform(0.85, 1.15), 2))))
                        if isinstance(base, Decimal | int) and not isinstance(base, bool)
                        else self._money(name)
                    )
        self._add(lead, _Event(time, "stage", value, actor, team_cell, cells=cells))
        lead.attrs.update(cells)
        lead.stage = target
        lead.visited.add(target)
        lead.entries[target] = time
        facts = _Facts(time, entered=target, left=source, created=lead.stays == 0)
        lead.stays += 1
        worker = None if stage.terminal else self._worker(target, facts)
        if worker is not None and (
            worker not in self.assign_teams if self.assign_teams else source is None
        ):
            # Where assignments start clocks or cadences, the router deals leads only to the
            # teams those rules are about; a new lead otherwise sits in its owner's queue.
            worker = None
        if worker is not None and worker != self.agreement.roster.get(lead.assigned or ""):
            # The router deals the lead to someone on the team that must answer it.
            delay = 0 if rng.random() < 0.3 else (1 + _below(rng, 899)) * US
            self._assign(lead, worker, time + delay)
            if len(self.members.get(worker, ())) > 1 and rng.random() < 0.05:
                # A re-route: the first rep is away and the router deals the lead again.
                later = self._after(time + delay, rng.uniform(0.1, 1.0) * self.working_day)
                self._assign(lead, worker, later, other=True)
        self._react(lead, facts)
        if stage.terminal:
            self._close(lead, time)

    def _worker(self, stage: str, facts: _Facts) -> str | None:
        for clock in self.clocks:
            if clock.responsible and self._fires(self.starts[clock.name], facts, stage):
                return clock.responsible
        return self.stages[stage].owner

    def _assign(
        self, lead: _Lead, team: str, time: int, other: bool = False, created: bool = False
    ) -> None:
        members = self.members.get(team) or [f"{team}.rep@example.com"]
        current = lead.reps.get(team)
        choices = [m for m in members if m != current] if other else members
        rep = _pick(self.rng, choices or members)
        lead.reps[team] = rep
        lead.assigned = rep
        self._add(lead, _Event(time, "assign", rep, self.router))
        self._react(lead, _Facts(time, assigned=True, created=created))

    def _close(self, lead: _Lead, time: int) -> None:
        """A terminal stage: nothing planned after it happens."""
        lead.events = [e for e in lead.events if e.time <= time or e.kind == "stage"]
        for run in lead.runs.values():
            if run.until > time:
                run.until = _NEVER

    def _react(self, lead: _Lead, facts: _Facts) -> None:
        """Open, stop, cancel and exit the cycles the event triggers, planning what follows."""
        if self.depth_now > 2:
            # Chains of triggers ("starts on assign, stops on assign") end here.
            return
        self.depth_now += 1
        t = facts.time
        stage = lead.stage
        for clock in self.clocks:
            run = lead.runs.get(clock.name)
            running = run is not None and run.start <= t < run.until
            if running and run is not None and self._fires(self.ends[clock.name], facts, stage):
                self._stop(lead, run, t)
                running = False
            if not running and self._fires(self.starts[clock.name], facts, stage):
                self._start_clock(lead, clock, t)
        for cadence in self.cadences:
            run = lead.runs.get(cadence.name)
            running = run is not None and run.start <= t < run.until
            if running and run is not None and self._fires(self.ends[cadence.name], facts, stage):
                self._stop(lead, run, t)
                running = False
            if not running and self._fires(self.starts[cadence.name], facts, stage):
                self._start_cadence(lead, cadence, t)
        self.depth_now -= 1

    def _stop(self, lead: _Lead, run: _Run, t: int) -> None:
        run.until = t
        lead.events = [e for e in lead.events if e.tag != run.tag or e.time <= t]

    def _fires(self, triggers: _Triggers, facts: _Facts, stage: str | None) -> bool:
        entered = facts.entered
        if entered is not None and (
            entered in triggers.enter
            or facts.left in triggers.leave
            or (facts.left or "", entered) in triggers.handoffs
        ):
            return True
        if (facts.created and triggers.create) or (facts.assigned and triggers.assign):
            return True
        if facts.activity is not None:
            for types, by in triggers.activities:
                if facts.activity in types and self._by_matches(by, facts.team, stage):
                    return True
        return False

    def _by_matches(self, by: n.Actor | None, team: str | None, stage: str | None) -> bool:
        if by is None:
            return True
        if isinstance(by, n.ByOwner):
            return team is not None and stage is not None and team == self.stages[stage].owner
        return team == by.team.text

    # -------------------------------------------------------- clocks and cadences

    def _miss(self, base: float, time: int) -> float:
        """The chance of a slip at `time`: the base rate, worse in a bad month."""
        return min(0.9, base / math.pow(self._quality(time), 1.5))

    def _late(self, base: float, time: int) -> bool:
        return self.rng.random() < self._miss(base, time)

    def _start_clock(self, lead: _Lead, clock: Clock, t: int) -> None:
        rng = self.rng
        self.seq += 1
        tag = f"{clock.name}#{self.seq}"
        run = _Run(t, _NEVER, tag)
        lead.runs[clock.name] = run
        goal = clock.goals[-1].length
        for tier in clock.goals:
            if tier.condition is None or self._holds(tier.condition, lead, t, lead.stage):
                goal = tier.length
                break
        if self._late(self.profile.breach, t):
            elapsed = goal.micros * (1.05 + rng.expovariate(1.0) * 1.5)
        else:
            # Most answers come early; a tail runs close to the deadline (the warning zone).
            elapsed = goal.micros * (rng.random() ** 1.6) * 0.98
        elapsed = max(float(US), elapsed)
        activity_stops = [tr for tr in clock.stops if isinstance(tr, n.OnActivity)]
        assign_stops = [tr for tr in clock.stops if isinstance(tr, n.OnAssign)]
        if not activity_stops and not assign_stops:
            # A stage-bound clock: the dwell planner times the stage change against it.
            run.until = _NEVER
            return
        answer = int(elapsed) // US * US
        pause = next((p for p in clock.pauses if isinstance(p, n.PauseWhile)), None)
        if pause is not None and rng.random() < 0.15:
            answer += self._pause(lead, pause.condition, t, goal, answer)
        due = self.calendars[goal.calendar].deadline(t, answer)
        if activity_stops:
            trigger = _pick(rng, activity_stops)
            kind = _pick(rng, [name.text for name in trigger.types])
            team = self._team_for(trigger.by, lead.stage)
            self._activity(lead, due, kind, team, tag=tag, from_run=run)
        else:
            team = clock.responsible or self._owner(lead.stage) or ""
            self._assign(lead, team, due, other=True)
        run.until = due

    def _pause(self, lead: _Lead, condition: n.Expr, t: int, goal: Length, answer: int) -> int:
        """Put the lead on hold for a while after t; the hold's business time before the answer."""
        saved = lead.attrs
        # Plan from a blank lead so the hold is written down, and back from the hold.
        lead.attrs = {}
        on = self._satisfy(condition, True, lead, t, lead.stage)
        lead.attrs = dict(on.values) if on is not None else {}
        off = self._satisfy(condition, False, lead, t, lead.stage)
        lead.attrs = saved
        if on is None or off is None or on.needs or off.needs or not on.values:
            return 0
        cal = self.calendars[goal.calendar]
        held = int(goal.micros * self.rng.uniform(0.05, 0.5)) // US * US
        begin = cal.deadline(t, held)
        end = self._after(begin, goal.micros * self.rng.uniform(0.2, 2.0), goal.calendar)
        actor, team_cell = self._actor_cells(lead, self._owner(lead.stage))
        self._add(lead, _Event(begin, "update", "", actor, team_cell, cells=dict(on.values)))
        self._add(lead, _Event(end, "update", "", actor, team_cell, cells=dict(off.values)))
        lead.attrs.update(off.values)
        # An answer before the hold began is not delayed by it.
        return cal.elapsed(begin, end) if answer > held else 0

    def _start_cadence(self, lead: _Lead, cadence: Cadence, t: int) -> None:
        rng = self.rng
        self.seq += 1
        tag = f"{cadence.name}#{self.seq}"
        run = _Run(t, _NEVER, tag)
        lead.runs[cadence.name] = run
        window = cadence.within
        cal = self.calendars[window.calendar]
        due = cal.deadline(t, window.micros)
        short = self._late(self.profile.shortfall, t)
        count = cadence.minimum
        if short:
            count = max(0, cadence.minimum - 3) + _below(rng, min(3, cadence.minimum))
        # A sequence starts at once and spreads the rest over the window, as reps work one.
        offsets = [(i + rng.random()) / cadence.minimum * 0.97 for i in range(count)]
        if offsets and rng.random() > (0.4 if short else self._miss(0.03, t)):
            offsets[0] = rng.random() ** 2 * 0.1
        team = self._team_for(cadence.by, lead.stage)
        times = [cal.deadline(t, max(1, int(window.micros * o) // US) * US) for o in offsets]
        for time in times:
            self._activity(lead, time, _pick(rng, cadence.types), team, tag=tag)
        if short:
            for _ in range(_pick(rng, (0, 1, 2))):
                later = self._after(due, rng.uniform(0.05, 0.5) * window.micros, window.calendar)
                self._activity(lead, later, _pick(rng, cadence.types), team, tag=tag)
            run.until = due
        else:
            run.until = times[-1] if times else t

    # -------------------------------------------------------- activities

    def _owner(self, stage: str | None) -> str | None:
        return self.stages[stage].owner if stage is not None else None

    def _team_for(self, by: n.Actor | None, stage: str | None) -> str | None:
        if isinstance(by, n.ByTeam):
            return by.team.text
        owner = self._owner(stage)
        if isinstance(by, n.ByOwner):
            return owner
        return owner or (self.teams[0] if self.teams else None)

    def _actor_cells(self, lead: _Lead, team: str | None) -> tuple[str, str]:
        if team is None:
            return "", ""
        actor = lead.reps.get(team)
        if actor is None:
            members = self.members.get(team) or [f"{team}.rep@example.com"]
            actor = _pick(self.rng, members)
            lead.reps[team] = actor
        rostered = self.agreement.roster.get(actor) == team
        fill = not rostered or self.rng.random() < self.profile.team_cell
        return actor, team if fill else ""

    def _activity(
        self,
        lead: _Lead,
        time: int,
        kind: str,
        team: str | None,
        tag: str = "",
        from_run: _Run | None = None,
    ) -> None:
        actor, team_cell = self._actor_cells(lead, team)
        self._add(lead, _Event(time, "activity", kind, actor, team_cell, team=team, tag=tag))
        facts = _Facts(time, activity=kind, team=team)
        stage = lead.stage
        for clock in self.clocks:
            run = lead.runs.get(clock.name)
            if run is None or run is from_run or not run.start <= time < run.until:
                continue
            if self._fires(self.ends[clock.name], facts, stage):
                # An earlier answer than planned: the cycle ends here instead.
                self._stop(lead, run, time)
        if self.starts_on_activity and from_run is None:
            self._react(lead, facts)

    def _stops_running(self, lead: _Lead, time: int, kind: str, team: str | None) -> int:
        """The latest planned end of a running cycle an activity at `time` would cut short."""
        facts = _Facts(time, activity=kind, team=team)
        latest = 0
        for clock in self.clocks:
            run = lead.runs.get(clock.name)
            if run is None or not run.start <= time < run.until:
                continue
            if self._fires(self.stops[clock.name], facts, lead.stage):
                latest = max(latest, run.until)
        for cadence in self.cadences:
            run = lead.runs.get(cadence.name)
            if run is None or not run.start <= time < run.until or kind not in cadence.types:
                continue
            if self._by_matches(cadence.by, team, lead.stage):
                latest = max(latest, run.until)
        return latest

    def _background(
        self, lead: _Lead, stage: str | None, begin: int, end: int, handoff: Handoff | None
    ) -> None:
        """Ordinary work during a stay: a few activities and attribute changes."""
        rng = self.rng
        activities = self.agreement.activities
        if activities and end > begin:
            team = self._team_for(None, stage)
            for _ in range(_pick(rng, (0, 0, 0, 0, 0, 0, 1, 1, 1, 2))):
                kind = _pick(rng, activities)
                time = self._between(begin, end)
                blocked = self._stops_running(lead, time, kind, team)
                if blocked:
                    if blocked >= end:
                        continue
                    time = self._between(blocked + US, end)
                self._activity(lead, time, kind, team)
        if handoff is None and rng.random() < 0.3 and end > begin:
            self._drift(lead, self._between(begin, end))

    def _drift(self, lead: _Lead, time: int) -> None:
        """A routine attribute change (a score moving, an engagement recorded)."""
        if not self.drifting:
            return
        name = _pick(self.rng, self.drifting)
        value = self._natural(name, lead, time)
        actor, team_cell = self._actor_cells(lead, self._owner(lead.stage))
        self._add(lead, _Event(time, "update", "", actor, team_cell, cells={name: value}))
        lead.attrs[name] = value

    def _add(self, lead: _Lead, event: _Event) -> None:
        self.seq += 1
        event.seq = self.seq
        lead.events.append(event)

    # -------------------------------------------------------- dwell

    def _dwell(self, lead: _Lead, stage: str, handoff: Handoff, now: int) -> int:
        """When the lead leaves `stage` by `handoff`: within limits mostly, sometimes late."""
        rng = self.rng
        limits: list[int] = []
        limit = self.stages[stage].max_dwell
        if limit is not None:
            limits.append(self.calendars[limit.calendar].deadline(now, limit.micros))
        leaving = _Facts(now, entered=handoff.target, left=stage)
        for clock in self.clocks:
            run = lead.runs.get(clock.name)
            if run is None or run.until != _NEVER or run.start > now:
                continue
            if self._fires(self.stops[clock.name], leaving, stage):
                goal = clock.goals[-1].length
                limits.append(self.calendars[goal.calendar].deadline(run.start, goal.micros))
        ended = self._ends_on(leaving)
        wanted = {
            name.text
            for criterion in handoff.criteria
            for atom in _atoms(criterion)
            if isinstance(atom, n.ActivityCount)
            for name in atom.types
        }
        terminal = self.stages[handoff.target].terminal
        entered = lead.entries.get(stage, now)
        needed = wished = now + US
        for name, run in lead.runs.items():
            if not now < run.until < _NEVER:
                continue
            answered = self.agreement.clocks.get(name)
            after = run.until + (60 + _below(rng, 7140)) * US
            if answered is not None and wanted & self.stop_types[name]:
                needed = max(needed, after)  # the handoff needs the activity that answers it
            elif name in ended:
                if rng.random() < (0.1 if terminal else 0.6):
                    wished = max(wished, after)  # let the sequence or clock finish first
            elif answered is not None and run.start >= entered and rng.random() < 0.5:
                wished = max(wished, after)  # the lead is usually answered before it moves on
        if limits:
            bound = min(limits)
            if self._late(self.profile.stall, now):
                span = self.cal.elapsed(now, bound)
                late = self._after(bound, max(US, span * rng.uniform(0.05, 1.5)))
                return max(needed, wished, late)
            # Waiting for a sequence is not worth overstaying the stage for.
            floor = max(needed, wished) if wished < bound else needed
            if floor < bound:
                return self._between(floor, bound - US)
            return floor
        typical = self.profile.dwell_days * self.working_day
        business = typical * math.exp(rng.gauss(0.0, 1.0))
        business = min(max(business, 10.0 * _MINUTE), 60.0 * self.working_day)
        return max(needed, wished, self._after(now, business))

    def _ends_on(self, facts: _Facts) -> set[str]:
        """Clocks and cadences the given stage change stops, cancels or exits."""
        return {name for name, ends in self.ends.items() if self._fires(ends, facts, facts.left)}

    # -------------------------------------------------------- handoff criteria

    def _prepare_handoff(
        self, lead: _Lead, handoff: Handoff, entered: int, leave: int
    ) -> dict[str, Value]:
        """Meet (or on purpose miss) the handoff's criteria; the stage row's cells are returned."""
        rng = self.rng
        source = handoff.source
        criteria = handoff.criteria
        missing = [name for name in handoff.required if name not in lead.attrs]
        violate = rng.random() < self.profile.unmet
        drop_required = violate and bool(handoff.required) and (not criteria or rng.random() < 0.5)
        plan = _Plan()
        if criteria:
            goal = not (violate and not drop_required)
            whole: n.Expr = criteria[0] if len(criteria) == 1 else n.And(criteria)
            for _ in range(3):
                found = self._satisfy(whole, goal, lead, leave, source)
                if found is not None:
                    plan = found
                    break
        values = dict(plan.values)
        if drop_required:
            for name in handoff.required:
                values.pop(name, None)
            missing = []
        for name in missing:
            if name not in values:
                values[name] = self._natural(name, lead, leave)
        for item, deficit in plan.needs:
            self._meet_count(lead, item, deficit, source, leave)
        if not values:
            return {}
        if rng.random() < 0.7:
            return values  # set on the stage row itself, as a CRM stage-change form does
        gap = min(2 * 3600, max(0, (leave - entered) // US // 5))
        time = leave - _below(rng, gap + 1) * US
        actor, team_cell = self._actor_cells(lead, self.stages[source].owner)
        self._add(lead, _Event(time, "update", "", actor, team_cell, cells=values))
        lead.attrs.update(values)
        return {}

    def _meet_count(
        self, lead: _Lead, item: n.ActivityCount, deficit: int, source: str, leave: int
    ) -> None:
        rng = self.rng
        since = item.since.text if item.since is not None else source
        low = lead.entries.get(since, leave - US)
        high = max(low, leave - US)
        team = self._team_for(item.by, source)
        for _ in range(deficit):
            kind = _pick(rng, [name.text for name in item.types])
            time = self._between(low, high)
            blocked = self._stops_running(lead, time, kind, team)
            if blocked and blocked < high:
                time = self._between(blocked + US, high)
            self._activity(lead, time, kind, team)

    def _satisfy(
        self, expr: n.Expr, want: bool, lead: _Lead, t: int, since: str | None
    ) -> _Plan | None:
        """Attribute values and activities that make `expr` evaluate to `want`, or None."""
        rng = self.rng
        match expr:
            case n.And() | n.Or():
                conjunction = isinstance(expr, n.And) == want
                parts = list(expr.parts)
                if conjunction:
                    plan = _Plan()
                    for part in parts:
                        found = self._satisfy(part, want, lead, t, since)
                        if found is None:
                            return None
                        plan.merge(found)
                    return plan
                if (
                    any(self._holds(p, lead, t, since) == want for p in parts)
                    and rng.random() < 0.9
                ):
                    return _Plan()
                rng.shuffle(parts)
                # A CRM changes a score or adds a missing value sooner than it rewrites a source.
                parts.sort(key=lambda part: self._cost(part, lead))
                for index, part in enumerate(parts):
                    found = self._satisfy(part, want, lead, t, since)
                    if found is None:
                        continue
                    rest = parts[:index] + parts[index + 1 :]
                    for other in rest:
                        extra = self._satisfy(other, not want, lead, t, since)
                        if extra is not None and rng.random() < 0.3:
                            found.merge(extra)
                    return found
                return None
            case n.Not():
                return self._satisfy(expr.part, not want, lead, t, since)
            case n.ActivityCount():
                have = self._count(expr, lead, t - US, since)
                if want:
                    return _Plan(needs=[(expr, expr.minimum - have)] if have < expr.minimum else [])
                return _Plan() if have < expr.minimum else None
            case n.Presence():
                name = expr.field.text
                present = name in lead.attrs
                if present == (expr.present == want):
                    return _Plan()
                if present:
                    return None
                return _Plan(values={name: self._natural(name, lead, t)})
            case n.Recent():
                return self._recent(expr, want, lead, t)
            case n.Comparison():
                name = expr.field.text
                op = expr.op if want else _NEGATED[expr.op]
                literal = self._literal(expr.value)
                current = lead.attrs.get(name)
                if current is not None and _compare(current, op, literal) and rng.random() < 0.85:
                    return _Plan()
                if not want and current is None and rng.random() < 0.3:
                    return _Plan()
                value = self._fit(name, lead, t, lambda v: _compare(v, op, literal), literal, op)
                return None if value is None else _Plan(values={name: value})
            case n.Membership():
                name = expr.field.text
                values = [self._literal(v) for v in expr.values]
                inside = want != expr.negated
                current = lead.attrs.get(name)
                if current is not None and (current in values) == inside and rng.random() < 0.85:
                    return _Plan()
                if inside:
                    return _Plan(values={name: _pick(rng, values)})
                value = self._fit(name, lead, t, lambda v: v not in values, None, "!=")
                return None if value is None else _Plan(values={name: value})
            case _:
                assert_never(expr)

    def _cost(self, expr: n.Expr, lead: _Lead) -> int:
        """How unusual it is to change what a criterion reads: 0 add, 1 adjust, 2 rewrite."""
        cost = 0
        for atom in _atoms(expr):
            if isinstance(atom, n.ActivityCount) or atom.field.text not in lead.attrs:
                continue
            kind = self.agreement.fields[atom.field.text].kind
            cost = max(cost, 2 if kind in ("enum", "string") else 1)
        return cost

    def _recent(self, expr: n.Recent, want: bool, lead: _Lead, t: int) -> _Plan | None:
        name = expr.field.text
        length = self._recent_length(expr.duration)
        cal = self.calendars[length.calendar]
        current = lead.attrs.get(name)
        if current is not None and self._is_recent(current, t, length) == want:
            return _Plan()
        kind = self.agreement.fields[name].kind if name in self.agreement.fields else "datetime"
        # Wall time per unit of business time over the past week, to step back far enough.
        open_week = cal.elapsed(t - 7 * _DAY, t)
        stretch = 7 * _DAY / open_week if open_week > 0 else 1.0
        for _ in range(6):
            share = self.rng.uniform(0.0, 0.9) if want else self.rng.uniform(1.2, 3.0)
            back = int(length.micros * share * stretch)
            if want:
                back = min(back, max(0, t - lead.arrival))  # engaged no earlier than it arrived
            value: Value = self._instant_value(kind, (t - back) // US * US)
            if self._is_recent(value, t, length) == want:
                return _Plan(values={name: value})
        if want:
            return _Plan(values={name: self._instant_value(kind, t // US * US)})
        return None

    def _instant_value(self, kind: str, instant: int) -> Value:
        moment = dt.datetime.fromtimestamp(instant // US, self.zone)
        return moment.date() if kind == "date" else moment

    def _recent_length(self, duration: n.Duration) -> Length:
        unit = duration.unit or "days"
        base = unit.removeprefix("business ")
        seconds = Decimal(_UNIT_SECONDS[base])
        calendar = self.dwell_home if duration.business else "always"
        if duration.business and base == "days":
            seconds = Decimal(self.working_day // US)
        return Length(int(duration.amount * seconds * US), calendar, "")

    def _is_recent(self, value: Value, t: int, length: Length) -> bool:
        instant = self._instant(value)
        if instant is None or instant > t:
            return False
        return self.calendars[length.calendar].elapsed(instant, t) <= length.micros

    def _instant(self, value: Value) -> int | None:
        if isinstance(value, dt.datetime):
            return int(value.timestamp() * US)
        if isinstance(value, dt.date):
            return self._midnight(value)
        return None

    def _holds(self, expr: n.Expr, lead: _Lead, t: int, since: str | None) -> bool:
        attrs = lead.attrs
        match expr:
            case n.And():
                return all(self._holds(p, lead, t, since) for p in expr.parts)
            case n.Or():
                return any(self._holds(p, lead, t, since) for p in expr.parts)
            case n.Not():
                return not self._holds(expr.part, lead, t, since)
            case n.Presence():
                return (expr.field.text in attrs) == expr.present
            case n.Comparison():
                value = attrs.get(expr.field.text)
                return value is not None and _compare(value, expr.op, self._literal(expr.value))
            case n.Membership():
                value = attrs.get(expr.field.text)
                if value is None:
                    return False
                found = any(_compare(value, "=", self._literal(v)) for v in expr.values)
                return found != expr.negated
            case n.Recent():
                value = attrs.get(expr.field.text)
                length = self._recent_length(expr.duration)
                return value is not None and self._is_recent(value, t, length)
            case n.ActivityCount():
                return self._count(expr, lead, t, since) >= expr.minimum
            case _:
                assert_never(expr)

    def _count(self, item: n.ActivityCount, lead: _Lead, t: int, since: str | None) -> int:
        stage = item.since.text if item.since is not None else since
        if stage is None or stage not in lead.entries:
            return 0
        begin = lead.entries[stage]
        types = {name.text for name in item.types}
        return sum(
            1
            for e in lead.events
            if e.kind == "activity"
            and begin <= e.time <= t
            and e.value in types
            and self._by_matches(item.by, e.team, lead.stage)
        )

    # -------------------------------------------------------- attribute values

    def _creation_cells(self, lead: _Lead, arrival: int) -> dict[str, Value]:
        """The attributes a lead arrives with: who it is, where it came from, how it scores."""
        cells: dict[str, Value] = {}
        rng = self.rng
        for name, chance in self.born:
            if rng.random() < chance:
                cells[name] = self._natural(name, lead, arrival)
        return cells

    def _natural(self, name: str, lead: _Lead, t: int) -> Value:
        """A plausible value for the field, as a CRM would hold it."""
        rng = self.rng
        kind: n.FieldKind = self.kinds.get(name, "string")
        match kind:
            case "number":
                top = self.tops[name]
                if top <= 100:
                    return int(rng.triangular(0, 100, 55))
                return int(math.exp(rng.uniform(math.log(top / 20), math.log(top * 20))))
            case "money":
                return self._money(name)
            case "boolean":
                return rng.random() < 0.5
            case "enum":
                return _pick(rng, self.enums[name])
            case "date":
                return self._instant_value("date", t - _below(rng, 30) * _DAY)
            case "datetime":
                return self._instant_value("datetime", t // US * US)
            case "string":
                return self._string(name, lead, self.literals.get(name, []))
            case _:
                assert_never(kind)

    def _string(self, name: str, lead: _Lead, literals: list[Value]) -> str:
        rng = self.rng
        texts = [v for v in literals if isinstance(v, str)]
        first, last, company = lead.person
        lowered = name.lower()
        if "mail" in lowered:
            return f"{first}.{last}@{company}.example"
        if "country" in lowered:
            if texts and rng.random() < 0.03:
                return _pick(rng, texts)
            return _pick(rng, _COUNTRIES)
        if "company" in lowered or "account" in lowered:
            return company.title()
        if "name" in lowered:
            return f"{first.title()} {last.title()}"
        if texts and rng.random() < 0.2:
            return _pick(rng, texts)
        return f"{name}-{(100 + _below(rng, 900))}"

    def _money(self, name: str) -> Decimal:
        scale = max(self.tops.get(name, 0.0), 1000.0)
        amount = math.exp(self.rng.uniform(math.log(scale * 0.5), math.log(scale * 40)))
        return Decimal(int(amount / 50) * 50)

    def _fit(
        self,
        name: str,
        lead: _Lead,
        t: int,
        ok: Callable[[Value], bool],
        literal: Value | None,
        op: str,
    ) -> Value | None:
        """A natural value passing `ok`, or one built next to the literal, or None."""
        for _ in range(12):
            value = self._natural(name, lead, t)
            if ok(value):
                return value
        if literal is None:
            return None
        built = _beside(literal, op, self.rng)
        return built if built is not None and ok(built) else None


def _atoms(expr: n.Expr) -> Iterator[_Leaf]:
    """The leaves of a criterion."""
    match expr:
        case n.And() | n.Or():
            for part in expr.parts:
                yield from _atoms(part)
        case n.Not():
            yield from _atoms(expr.part)
        case _:
            yield expr


def _compare(value: Value, op: str, other: Value) -> bool:
    try:
        if (
            isinstance(value, dt.datetime)
            and isinstance(other, dt.date)
            and not isinstance(other, dt.datetime)
        ):
            value = value.date()
        if isinstance(other, dt.datetime) and not isinstance(value, dt.datetime):
            return False
        match op:
            case "=":
                return value == other
            case "!=":
                return value != other
            case "<":
                return value < other  # type: ignore[operator]
            case "<=":
                return value <= other  # type: ignore[operator]
            case ">":
                return value > other  # type: ignore[operator]
            case ">=":
                return value >= other  # type: ignore[operator]
    except TypeError:
        return False
    raise AssertionError(op)  # pragma: no cover


def _beside(literal: Value, op: str, rng: random.Random) -> Value | None:
    """A value on the wanted side of a literal (equal to it for `=`, `<=` and `>=`)."""
    if isinstance(literal, bool):
        return literal if op in ("=", "<=", ">=") else not literal
    if op in ("=", "<=", ">="):
        return literal
    sign = 1 if op in (">", "!=") else -1
    if isinstance(literal, Decimal | int):
        step = max(
            Decimal(1), abs(Decimal(literal)) * Decimal(str(round(rng.uniform(0.01, 0.5), 2)))
        )
        return Decimal(literal) + sign * step.to_integral_value()
    if isinstance(literal, dt.datetime):
        return literal + sign * dt.timedelta(hours=(1 + _below(rng, 239)))
    if isinstance(literal, dt.date):
        return literal + sign * dt.timedelta(days=(1 + _below(rng, 59)))
    if isinstance(literal, str):
        return literal + "x" if sign > 0 else None
    return None  # pragma: no cover


def _below(rng: random.Random, count: int) -> int:
    """A uniform integer in [0, count): `randrange` without its argument checks."""
    return int(rng.random() * count)


def _pick(rng: random.Random, items: Sequence[_T]) -> _T:
    """A uniform choice from a non-empty sequence: `choice` without its argument checks."""
    return items[int(rng.random() * len(items))]


def _magnitudes(values: Iterable[Value]) -> list[float]:
    """The sizes of the numbers among literal values."""
    return [
        abs(float(v)) for v in values if isinstance(v, Decimal | int) and not isinstance(v, bool)
    ]


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal(1))
