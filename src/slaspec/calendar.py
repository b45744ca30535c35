"""Business calendars: calendar specs -> open-interval tables, a business clock and deadlines.

Instants are `int` microseconds since the Unix epoch (UTC). The rules, fixed here:

- Open windows are half-open `[start, end)` minutes of LOCAL wall-clock time in the calendar's
  zone; each boundary is converted to UTC on its own date with zoneinfo, so a window on a
  daylight-saving day has its real length. A local boundary that does not exist (DST gap) maps
  to the instant the clocks jump; one that exists twice (DST fold) maps to its first occurrence.
  Overlapping windows of one day count once (their union).
- Public holidays come from the `holidays` package: category `public` always, other categories
  only when listed. A holiday closes the whole local day, except that a holiday whose name
  states a start time, such as "Christmas Eve (from 1pm)", closes from that time to midnight,
  and a `half_day` holiday whose name states no time closes from 12:00. Names are requested in
  the country's English locale when it has one, so the stated time can be read.
- Explicit closures close whole local days, or a part-day window on each date of their
  inclusive range; closures subtract from open windows (a partial overlap shortens a window).
- The business clock F(t) counts business microseconds from local midnight starting
  1 January of `ANCHOR_YEAR` (negative before it), so F never depends on which instants were
  asked about first; elapsed(a, b) = F(b) - F(a). All arithmetic is in integers.
- A deadline is the earliest instant at which elapsed reaches the amount: a window's end
  (Fri 17:30), not the next opening. With no open time left before `LATEST` it raises
  `NoOpenTime`. Instants from `EARLIEST` (1900) to `LATEST` (2200) are supported.
- `business days` are N x the working day (declared, else the common total of every open
  weekday), to the nearest microsecond, ties to even.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import importlib.util
import re
import sys
import zoneinfo
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache, lru_cache, partial
from importlib.abc import Loader
from types import ModuleType
from typing import Any, Final

import holidays
from holidays.registry import COUNTRIES, IMPORT_LOCK, EntityLoader

from slaspec.diagnostics import did_you_mean

US_PER_SECOND = 1_000_000
MINUTES_PER_DAY = 1440
_UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)
_INDEX_STEP: Final = MINUTES_PER_DAY * 60 * US_PER_SECOND  # BusinessCalendar._days

ANCHOR_YEAR = 2020
"""F(local midnight starting 1 January of this year) == 0 on every calendar."""

FIRST_YEAR = 1900
LAST_YEAR = 2199
EARLIEST = (dt.datetime(FIRST_YEAR, 1, 1, tzinfo=dt.UTC) - _UNIX_EPOCH) // _ONE_US
"""The first instant a calendar answers for (1900-01-01T00:00Z)."""
LATEST = (dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=dt.UTC) - _UNIX_EPOCH) // _ONE_US
"""The first instant past the supported range (2200-01-01T00:00Z)."""

PUBLIC = "public"
HALF_DAY = "half_day"
HALF_DAY_START = 12 * 60
"""A half-day holiday whose name states no time closes from this local minute (12:00)."""

_SECONDS_PER_DAY = 86_400
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()
_STATED_START = re.compile(r"\(from (\d{1,2})(?::(\d{2}))?\s*([ap])m\)", re.IGNORECASE)
_SHOWN_CHOICES = 12

Window = tuple[int, int]


def _by_fields(record: Any) -> tuple[Any, ...]:
    """How this module's frozen records pickle: rebuilt by their constructor from their fields.
    (Compiled by mypyc, a class is otherwise unpickled attribute by attribute, which a frozen
    dataclass refuses.)"""
    return (type(record), tuple(getattr(record, f.name) for f in fields(record)))


@dataclass(frozen=True, slots=True)
class HolidaySet:
    """A named public-holiday set from the `holidays` package, plus opted-in categories."""

    country: str
    subdivision: str | None
    categories: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)


@dataclass(frozen=True, slots=True)
class Closure:
    """An explicit closure of local dates `first..last` (inclusive), whole days or a window."""

    first: dt.date
    last: dt.date
    window: Window | None
    reason: str = ""

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)


@dataclass(frozen=True, slots=True)
class CalendarSpec:
    """A business calendar as declared: zone, weekly windows Monday..Sunday, holidays, closures."""

    name: str
    timezone: str
    weekly: tuple[tuple[Window, ...], ...]
    holiday_sets: tuple[HolidaySet, ...] = ()
    closures: tuple[Closure, ...] = ()
    working_day: int | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        return _by_fields(self)


ALWAYS = CalendarSpec("always", "UTC", tuple(((0, MINUTES_PER_DAY),) for _ in range(7)))
"""The built-in 24x7 calendar."""


class NoOpenTime(Exception):
    """A deadline cannot be reached: the calendar has no open time left before `LATEST`."""


@dataclass(frozen=True, slots=True)
class _Holiday:
    """One holiday on one date, and the local minute from which it closes the day."""

    day: dt.date
    name: str
    closes_from: int


# ---------------------------------------------------------------- validation for the linter


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone name, or None when it is one."""
    zones = _zone_names()
    if name in zones:
        return None
    message = f"`{name}` is not an IANA time zone name"
    hint = did_you_mean(name, zones)
    return f"{message}; {hint}" if hint else message


@cache
def _countries() -> frozenset[str]:
    # The codes `holidays.list_supported_countries()` lists (aliases included), read from the
    # package's registry: that function also loads every country class to list subdivisions.
    return frozenset(EntityLoader.get_country_codes())


def _choices(values: Iterable[str]) -> str:
    ordered = sorted(values)
    shown = ", ".join(ordered[:_SHOWN_CHOICES])
    if len(ordered) > _SHOWN_CHOICES:
        shown += f", ... ({len(ordered) - _SHOWN_CHOICES} more)"
    return shown


def _country_class(country: str) -> type[holidays.HolidayBase]:
    _import_country(country)
    entity: type[holidays.HolidayBase] = getattr(holidays, country)
    return entity


_COUNTRIES_PACKAGE = "holidays.countries"
_PENDING = "__getattr__"  # the package's module-level hook while its `__init__` has not run


def _import_country(country: str) -> None:
    """Import the module of one country's holidays, rather than those of all 250.

    `holidays` loads a country's class when it is first used, by importing its module. But a
    module of the package `holidays.countries` is imported after the package, whose `__init__`
    imports every country's module: 0.1 s at the start of every command that checks or uses a
    holiday set. So the package is made without running its `__init__`, and the one module
    imported into it; `holidays` then finds that module imported. The package is left with a
    module `__getattr__` (PEP 562) that runs its `__init__`, in place, the first time anyone
    asks it for a name it does not have yet (`from holidays.countries import Finland`): it is
    then the package `holidays` makes, with the modules imported already reused. If anything
    about the package is not as expected (another layout), it is left to `holidays`.
    """
    found = [module for module, names in COUNTRIES.items() if country in names[1:]]
    if len(found) != 1:
        return
    with IMPORT_LOCK:  # the lock `holidays` imports its countries under
        package = sys.modules.get(_COUNTRIES_PACKAGE)
        if package is None:
            spec = importlib.util.find_spec(_COUNTRIES_PACKAGE)
            if spec is None or spec.loader is None or spec.submodule_search_locations is None:
                return
            package = importlib.util.module_from_spec(spec)
            vars(package)[_PENDING] = partial(_run_package, package, spec.loader)
            sys.modules[_COUNTRIES_PACKAGE] = package
            holidays.countries = package
        elif _PENDING not in vars(package):
            return  # imported in full already
        # If it fails, it is left to `holidays`: its own import of the module raises the error.
        with contextlib.suppress(Exception):
            importlib.import_module(f"{_COUNTRIES_PACKAGE}.{found[0]}")


def _run_package(package: ModuleType, loader: Loader, name: str) -> Any:
    """A name of `holidays.countries`, once its `__init__` has run (see `_import_country`)."""
    with IMPORT_LOCK:
        if _PENDING in vars(package):
            del vars(package)[_PENDING]
            loader.exec_module(package)
    return getattr(package, name)


def holiday_set_problem(
    country: str, subdivision: str | None, categories: tuple[str, ...]
) -> str | None:
    """Why a public-holiday set is unknown to the `holidays` package, or None when it is known."""
    countries = _countries()
    if country not in countries:
        message = f"`{country}` is not a country code known to `holidays` {holidays_version()}"
        hint = did_you_mean(country, countries)
        return f"{message}; {hint}" if hint else message
    entity = _country_class(country)
    if subdivision is not None:
        codes = tuple(entity.subdivisions)
        aliases = tuple(getattr(entity, "subdivisions_aliases", {}))
        if not codes:
            return f"`{country}` has no subdivisions in `holidays`; drop `{subdivision}`"
        if subdivision not in codes and subdivision not in aliases:
            message = f"`{country}` has no subdivision `{subdivision}`; valid: {_choices(codes)}"
            hint = did_you_mean(subdivision, codes + aliases)
            return f"{message}; {hint}" if hint else message
    supported = tuple(entity.supported_categories)
    for category in categories:
        if category not in supported:
            message = (
                f"`{country}` has no holiday category `{category}`; valid: {_choices(supported)}"
            )
            hint = did_you_mean(category, supported)
            return f"{message}; {hint}" if hint else message
    return None


def holidays_version() -> str:
    """The `holidays` package version, which dates its holiday data, for reports."""
    return importlib.metadata.version("holidays")


# ---------------------------------------------------------------- holidays


def _language(entity: type[holidays.HolidayBase]) -> str | None:
    """The locale holiday names are asked in: never the environment's, English when possible."""
    default = entity.default_language
    if default is not None and default.startswith("en"):
        return default
    if "en_US" in entity.supported_languages:
        return "en_US"
    return default


def _stated_start(name: str) -> int | None:
    """The local minute a name like "Christmas Eve (from 1pm)" says the holiday starts."""
    match = _STATED_START.search(name)
    if match is None:
        return None
    hour = int(match.group(1)) % 12 + (12 if match.group(3).lower() == "p" else 0)
    return hour * 60 + int(match.group(2) or 0)


def _categories(holiday_set: HolidaySet) -> tuple[str, ...]:
    extra = tuple(c for c in dict.fromkeys(holiday_set.categories) if c != PUBLIC)
    return (PUBLIC, *extra)


@lru_cache(maxsize=4096)
def _holidays_of(holiday_set: HolidaySet, year: int) -> tuple[_Holiday, ...]:
    """The holidays a set closes in one year, with the minute each starts closing."""
    language = _language(_country_class(holiday_set.country))
    found: list[_Holiday] = []
    for category in _categories(holiday_set):
        table = holidays.country_holidays(
            holiday_set.country,
            subdiv=holiday_set.subdivision,
            years=year,
            categories=(category,),
            language=language,
        )
        for day in sorted(table):
            if day.year != year:
                continue
            for name in table.get_list(day):
                start = _stated_start(name)
                if start is None and category == HALF_DAY:
                    found.append(_Holiday(day, f"{name} (from 12pm)", HALF_DAY_START))
                else:
                    found.append(_Holiday(day, name, start or 0))
    return tuple(sorted(set(found), key=lambda h: (h.day, h.name, h.closes_from)))


def holidays_in(spec: CalendarSpec, year: int) -> tuple[tuple[dt.date, str], ...]:
    """The holidays a calendar closes on in `year`, sorted; untimed half days get "(from 12pm)"."""
    pairs = {(h.day, h.name) for s in spec.holiday_sets for h in _holidays_of(s, year)}
    return tuple(sorted(pairs))


# ---------------------------------------------------------------- local time -> UTC


def _offset(moment: dt.datetime) -> int:
    offset = moment.utcoffset()
    assert offset is not None
    return offset.days * _SECONDS_PER_DAY + offset.seconds


def _offset_at(zone: zoneinfo.ZoneInfo, second: int) -> int:
    return _offset(dt.datetime.fromtimestamp(second, zone))


def _local_to_utc(zone: zoneinfo.ZoneInfo, ordinal: int, minute: int) -> int:
    """UTC epoch second of a local date and minute; gap -> the jump, fold -> first occurrence."""
    extra_days, minute = divmod(minute, MINUTES_PER_DAY)
    ordinal += extra_days
    wall = (ordinal - _EPOCH_ORDINAL) * _SECONDS_PER_DAY + minute * 60
    day = dt.date.fromordinal(ordinal)
    hour, minute = divmod(minute, 60)
    first = _offset(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone))
    second = _offset(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone, fold=1))
    if first == second:
        return wall - first
    early, late = sorted((wall - first, wall - second))
    naive = dt.datetime(day.year, day.month, day.day, hour, minute)
    if dt.datetime.fromtimestamp(early, zone).replace(tzinfo=None) == naive:
        return early
    # A gap: neither reading exists. The clocks jump at the first second whose offset differs
    # from the one in force at `early`; transitions fall on whole seconds.
    before = _offset_at(zone, early)
    while late - early > 1:
        middle = (early + late) // 2
        if _offset_at(zone, middle) == before:
            early = middle
        else:
            late = middle
    return late


# ---------------------------------------------------------------- open hours of a calendar


def _union(windows: Iterable[Window]) -> tuple[Window, ...]:
    merged: list[Window] = []
    for start, end in sorted(windows):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _subtract(windows: tuple[Window, ...], closed: tuple[Window, ...]) -> list[Window]:
    """Open windows minus closed ones; both sorted and disjoint."""
    remaining: list[Window] = []
    for start, end in windows:
        current = start
        for closed_start, closed_end in closed:
            if closed_end <= current:
                continue
            if closed_start >= end:
                break
            if closed_start > current:
                remaining.append((current, closed_start))
            current = closed_end
            if current >= end:
                break
        if current < end:
            remaining.append((current, end))
    return remaining


def _check_window(window: Window, what: str) -> None:
    start, end = window
    if not 0 <= start < end <= MINUTES_PER_DAY:
        raise ValueError(f"{what} {window} is not a window within one day")


class _Hours:
    """A spec's open hours per local date, as UTC microsecond intervals."""

    __slots__ = ("_closed", "_empty", "_weekly", "spec", "zone")

    def __init__(self, spec: CalendarSpec) -> None:
        problem = timezone_problem(spec.timezone)
        if problem is not None:
            raise ValueError(problem)
        for holiday_set in spec.holiday_sets:
            problem = holiday_set_problem(*_fields(holiday_set))
            if problem is not None:
                raise ValueError(problem)
        if len(spec.weekly) != 7:
            raise ValueError(f"calendar `{spec.name}` needs 7 weekdays, has {len(spec.weekly)}")
        for day in spec.weekly:
            for window in day:
                _check_window(window, "open window")
        for closure in spec.closures:
            if closure.last < closure.first:
                raise ValueError(f"closure {closure.first}..{closure.last} runs backwards")
            if closure.window is not None:
                _check_window(closure.window, "closure window")
        self.spec = spec
        self.zone = zoneinfo.ZoneInfo(spec.timezone)
        self._weekly = tuple(_union(day) for day in spec.weekly)
        self._empty = not any(self._weekly)
        self._closed: dict[int, dict[int, tuple[Window, ...]]] = {}

    @property
    def never_open(self) -> bool:
        """No weekday has an open window."""
        return self._empty

    def closed(self, year: int) -> dict[int, tuple[Window, ...]]:
        """Closed local windows by date ordinal in one year: holidays and explicit closures."""
        known = self._closed.get(year)
        if known is not None:
            return known
        gathered: dict[int, list[Window]] = {}
        for holiday_set in self.spec.holiday_sets:
            for holiday in _holidays_of(holiday_set, year):
                window = (holiday.closes_from, MINUTES_PER_DAY)
                gathered.setdefault(holiday.day.toordinal(), []).append(window)
        first = dt.date(year, 1, 1).toordinal()
        last = dt.date(year, 12, 31).toordinal()
        for closure in self.spec.closures:
            window = closure.window or (0, MINUTES_PER_DAY)
            for ordinal in range(
                max(first, closure.first.toordinal()), min(last, closure.last.toordinal()) + 1
            ):
                gathered.setdefault(ordinal, []).append(window)
        table = {ordinal: _union(windows) for ordinal, windows in gathered.items()}
        self._closed[year] = table
        return table

    def day(self, ordinal: int, closed: dict[int, tuple[Window, ...]]) -> list[tuple[int, int]]:
        """Open UTC microsecond intervals `(start, end)` of one local date, in order."""
        windows = self._weekly[(ordinal - 1) % 7]
        if not windows:
            return []
        shut = closed.get(ordinal)
        todo = _subtract(windows, shut) if shut else windows
        intervals: list[tuple[int, int]] = []
        for start, end in todo:
            begin = _local_to_utc(self.zone, ordinal, start) * US_PER_SECOND
            finish = _local_to_utc(self.zone, ordinal, end) * US_PER_SECOND
            if finish > begin:
                intervals.append((begin, finish))
        return intervals

    def year_start(self, year: int) -> int:
        """The UTC instant of local midnight starting 1 January of `year`."""
        return _local_to_utc(self.zone, dt.date(year, 1, 1).toordinal(), 0) * US_PER_SECOND


def _fields(holiday_set: HolidaySet) -> tuple[str, str | None, tuple[str, ...]]:
    return holiday_set.country, holiday_set.subdivision, holiday_set.categories


@dataclass(frozen=True, slots=True)
class _Block:
    """One local year of open time: interval starts and lengths, its total, and its end."""

    starts: tuple[int, ...]
    lengths: tuple[int, ...]
    total: int
    end: int


def _block(hours: _Hours, year: int) -> _Block:
    # The zero-length interval at the year's start keeps every instant of the year after
    # some interval start, so the clock's bisect never falls off the front.
    starts = [hours.year_start(year)]
    lengths = [0]
    closed = hours.closed(year)
    for ordinal in range(dt.date(year, 1, 1).toordinal(), dt.date(year, 12, 31).toordinal() + 1):
        for begin, finish in hours.day(ordinal, closed):
            if begin == starts[-1] + lengths[-1]:
                lengths[-1] += finish - begin
            else:
                starts.append(begin)
                lengths.append(finish - begin)
    return _Block(tuple(starts), tuple(lengths), sum(lengths), hours.year_start(year + 1))


# ---------------------------------------------------------------- the compiled calendar


class BusinessCalendar:
    """A compiled calendar: the business clock F, elapsed business time and deadlines.

    The open intervals are held as sorted integer lists (start, length, business time before)
    over a horizon of whole local years that always contains `ANCHOR_YEAR` and grows outward
    when an instant outside it is asked about. F is a pure function of the spec, so answers do
    not depend on the order of calls; the lists are a cache.
    """

    __slots__ = (
        "_before",
        "_blocks",
        "_days",
        "_end",
        "_hi",
        "_hours",
        "_lengths",
        "_lo",
        "_starts",
        "spec",
    )

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec
        self._hours = _Hours(spec)
        self._blocks: dict[int, _Block] = {ANCHOR_YEAR: _block(self._hours, ANCHOR_YEAR)}
        self._starts: list[int] = []
        self._lengths: list[int] = []
        self._before: list[int] = []
        self._days: list[int] = []
        self._lo = self._hi = self._end = 0
        self._rebuild()

    def __reduce__(self) -> tuple[type[BusinessCalendar], tuple[CalendarSpec]]:
        # Pickled as its spec: the tables are rebuilt, for the years asked, where it is unpickled.
        # (A class compiled by mypyc is not pickled attribute by attribute.)
        return (BusinessCalendar, (self.spec,))

    @property
    def name(self) -> str:
        """The calendar's name."""
        return self.spec.name

    @property
    def years(self) -> tuple[int, int]:
        """The first and last local year of the current table (a cache detail, for tests)."""
        return min(self._blocks), max(self._blocks)

    def _rebuild(self) -> None:
        years = sorted(self._blocks)
        running = -sum(self._blocks[y].total for y in years if y < ANCHOR_YEAR)
        starts: list[int] = []
        lengths: list[int] = []
        before: list[int] = []
        for year in years:
            block = self._blocks[year]
            starts.extend(block.starts)
            lengths.extend(block.lengths)
            for length in block.lengths:
                before.append(running)
                running += length
        self._starts, self._lengths, self._before = starts, lengths, before
        self._lo = starts[0]
        self._hi = self._blocks[years[-1]].end
        self._end = running
        # The index of the interval each day starts in, days counted from `_lo` (24-hour
        # steps, whatever the local time): `clock` looks there, then steps past the few
        # intervals that start later that day. A bisect over a few years of intervals took
        # a tenth of the replay's fold.
        days: list[int] = []
        last = len(starts) - 1
        i = 0
        for edge in range(self._lo, self._hi + _INDEX_STEP, _INDEX_STEP):
            while i < last and starts[i + 1] <= edge:
                i += 1
            days.append(i)
        self._days = days

    def _add_years(self, first: int, last: int) -> None:
        for year in range(first, last + 1):
            if year not in self._blocks:
                self._blocks[year] = _block(self._hours, year)

    def _cover(self, t: int) -> None:
        if not EARLIEST <= t < LATEST:
            raise ValueError(f"instant {t} is outside the years {FIRST_YEAR}..{LAST_YEAR}")
        year = dt.datetime.fromtimestamp(t // US_PER_SECOND, self._hours.zone).year
        first, last = self.years
        self._add_years(min(first, year), max(last, year))
        first, last = self.years
        # Local years and UTC instants can disagree by a day at the edges; widen until covered.
        while t < self._blocks[first].starts[0]:
            first -= 1
            self._add_years(first, first)
        while t >= self._blocks[last].end:
            last += 1
            self._add_years(last, last)
        self._rebuild()

    def _reach(self, target: int) -> None:
        if self._hours.never_open:
            raise NoOpenTime(f"calendar `{self.spec.name}` has no open hours on any weekday")
        last = max(self._blocks)
        end = self._end
        while end < target:
            last += 1
            if last > LAST_YEAR + 1:
                self._rebuild()
                raise NoOpenTime(
                    f"calendar `{self.spec.name}` has too little open time before {LAST_YEAR + 1}"
                )
            self._add_years(last, last)
            end += self._blocks[last].total
        self._rebuild()

    def clock(self, t: int) -> int:
        """F(t): business microseconds from the anchor to `t`; F(b) - F(a) = open time in [a, b)."""
        if not self._lo <= t < self._hi:
            self._cover(t)
        starts = self._starts
        # The last interval starting at or before t (`bisect_right(starts, t) - 1`).
        i = self._days[(t - self._lo) // _INDEX_STEP]
        last = len(starts) - 1
        while i < last and starts[i + 1] <= t:
            i += 1
        into = t - starts[i]
        length = self._lengths[i]
        return self._before[i] + (into if into < length else length)

    def elapsed(self, a: int, b: int) -> int:
        """Business microseconds in [a, b); 0 when b <= a."""
        if b <= a:
            return 0
        return self.clock(b) - self.clock(a)

    def deadline(self, start: int, amount: int) -> int:
        """The earliest instant t >= start with elapsed(start, t) == amount microseconds."""
        if amount < 0:
            raise ValueError(f"negative business time {amount}")
        if amount == 0:
            return start
        target = self.clock(start) + amount
        if target > self._end:
            self._reach(target)
        before = self._before
        # The last interval with less business time before it than the target holds the
        # instant; at a window's end that is the end itself, not the next opening.
        j = bisect_left(before, target) - 1
        due = self._starts[j] + (target - before[j])
        if due >= LATEST:
            raise NoOpenTime(f"calendar `{self.spec.name}`: deadline falls after {LAST_YEAR}")
        return due

    def working_day_seconds(self) -> int | None:
        """The working-day length in seconds: declared, derived, or None."""
        return working_day_seconds(self.spec)

    def business_days(self, n: Decimal | int) -> int | None:
        """`n` working days in microseconds (nearest microsecond), or None without a working day."""
        return business_days(self.spec, n)


def working_day_seconds(spec: CalendarSpec) -> int | None:
    """Declared working-day seconds, else the common open time of every open weekday, else None."""
    if spec.working_day is not None:
        return spec.working_day
    totals = {sum(end - start for start, end in _union(day)) for day in spec.weekly}
    totals.discard(0)
    return totals.pop() * 60 if len(totals) == 1 else None


def business_days(spec: CalendarSpec, n: Decimal | int) -> int | None:
    """`n` x the working day in microseconds (nearest microsecond, ties to even), or None."""
    seconds = working_day_seconds(spec)
    if seconds is None:
        return None
    if isinstance(n, int):
        return n * seconds * US_PER_SECOND
    exact = n * seconds * US_PER_SECOND
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def has_open_time(spec: CalendarSpec, start: dt.date, days: int = 366) -> bool:
    """Whether the calendar is open at all on the local dates [start, start + days)."""
    hours = _Hours(spec)
    if hours.never_open:
        return False
    first = start.toordinal()
    for ordinal in range(first, first + days):
        closed = hours.closed(dt.date.fromordinal(ordinal).year)
        if hours.day(ordinal, closed):
            return True
    return False
