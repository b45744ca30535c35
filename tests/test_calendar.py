"""Tests for slaspec.calendar: business clock, elapsed time, deadlines, holidays, validation."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import pickle
import re
import subprocess
import sys
from bisect import bisect_right
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from slaspec import calendar, events
from slaspec.calendar import (
    ALWAYS,
    ANCHOR_YEAR,
    EARLIEST,
    LATEST,
    BusinessCalendar,
    CalendarSpec,
    Closure,
    HolidaySet,
    NoOpenTime,
    business_days,
    has_open_time,
    holiday_set_problem,
    holidays_in,
    holidays_version,
    timezone_problem,
    working_day_seconds,
)

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

WEEKDAYS_SPLIT = ((540, 720), (780, 1050))  # 09:00-12:00 and 13:00-17:30: 7.5 h
SYDNEY_HOURS = (WEEKDAYS_SPLIT,) * 5 + ((), ())
NSW = HolidaySet("AU", "NSW")
SYDNEY = CalendarSpec("sydney", "Australia/Sydney", SYDNEY_HOURS, (NSW,))


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, zone: str = "") -> int:
    """Epoch microseconds of a local wall time (an unambiguous one) in `zone` (Sydney default)."""
    tz = ZoneInfo(zone or "Australia/Sydney")
    moment = dt.datetime(year, month, day, hour, minute, tzinfo=tz)
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """Epoch microseconds of a UTC wall time."""
    moment = dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)
    return (moment - EPOCH) // dt.timedelta(microseconds=1)


def spec(
    weekly: tuple[tuple[tuple[int, int], ...], ...] = SYDNEY_HOURS,
    zone: str = "Australia/Sydney",
    holiday_sets: tuple[HolidaySet, ...] = (NSW,),
    closures: tuple[Closure, ...] = (),
    working_day: int | None = None,
) -> CalendarSpec:
    """A calendar spec, Sydney office hours unless told otherwise."""
    return CalendarSpec("test", zone, weekly, holiday_sets, closures, working_day)


SYD = BusinessCalendar(SYDNEY)
ALL = BusinessCalendar(ALWAYS)


# ---------------------------------------------------------------- hypothesis properties

# 2025-01-01Z .. 2029-01-01Z, to the microsecond, with whole hours over-represented so that
# instants land exactly on window boundaries.
_LOW, _HIGH = utc(2025, 1, 1), utc(2029, 1, 1)
instants = st.one_of(
    st.integers(_LOW, _HIGH),
    st.integers(_LOW // HOUR, _HIGH // HOUR).map(lambda h: h * HOUR),
    st.integers(_LOW // (30 * MINUTE), _HIGH // (30 * MINUTE)).map(lambda h: h * 30 * MINUTE),
)
amounts = st.one_of(
    st.integers(0, 40 * 27_000 * SECOND),
    st.integers(0, 400).map(lambda m: m * 15 * MINUTE),
)
calendars = st.sampled_from([SYD, ALL])
fast = settings(max_examples=150, deadline=None)


@fast
@given(calendars, instants, instants, instants)
def test_elapsed_is_additive(calendar: BusinessCalendar, x: int, y: int, z: int) -> None:
    a, b, c = sorted((x, y, z))
    assert calendar.elapsed(a, c) == calendar.elapsed(a, b) + calendar.elapsed(b, c)


@fast
@given(calendars, instants, instants)
def test_clock_is_monotone_and_bounded_by_wall_time(
    calendar: BusinessCalendar, x: int, y: int
) -> None:
    a, b = sorted((x, y))
    assert calendar.clock(a) <= calendar.clock(b)
    assert 0 <= calendar.elapsed(a, b) <= b - a
    assert calendar.elapsed(b, a) == 0


@fast
@given(instants, instants)
def test_always_counts_wall_time(x: int, y: int) -> None:
    a, b = sorted((x, y))
    assert ALL.elapsed(a, b) == b - a


@fast
@given(calendars, instants, amounts)
def test_deadline_inverts_elapsed(calendar: BusinessCalendar, start: int, amount: int) -> None:
    due = calendar.deadline(start, amount)
    assert due >= start
    assert calendar.elapsed(start, due) == amount
    if amount > 0:
        # The clock is monotone, so one microsecond earlier is the latest instant to check.
        assert calendar.elapsed(start, due - 1) < amount
    else:
        assert due == start


@settings(max_examples=20, deadline=None)
@given(st.lists(st.one_of(instants, st.integers(utc(2014, 1, 1), utc(2034, 1, 1))), max_size=8))
def test_clock_ignores_call_order_and_horizon(times: list[int]) -> None:
    forward = BusinessCalendar(SYDNEY)
    backward = BusinessCalendar(SYDNEY)
    first = [forward.clock(t) for t in times]
    second = [backward.clock(t) for t in reversed(times)][::-1]
    assert first == second
    assert first == [SYD.clock(t) for t in times]


@fast
@given(calendars, st.data())
def test_clock_finds_the_interval_a_bisect_finds(
    calendar: BusinessCalendar, data: st.DataObject
) -> None:
    # `clock` looks an instant's interval up through a per-day index; a bisect of the interval
    # starts is the plain way. Instants on, just before and just after each start included.
    calendar.clock(utc(2025, 1, 1))
    calendar.clock(utc(2028, 12, 31))
    starts = calendar._starts
    j = data.draw(st.integers(0, len(starts) - 1))
    t = data.draw(st.one_of(instants, st.integers(-1, 1).map(lambda d: starts[j] + d)))
    t = max(t, starts[0])
    clock = calendar.clock(t)
    starts = calendar._starts  # as extended for t, if it was
    i = bisect_right(starts, t) - 1
    assert clock == calendar._before[i] + min(t - starts[i], calendar._lengths[i])


def test_clock_survives_horizon_extension() -> None:
    calendar = BusinessCalendar(SYDNEY)
    monday, friday = at(2026, 3, 2, 10), at(2026, 3, 6, 15)
    before = (calendar.clock(monday), calendar.clock(friday))
    calendar.clock(utc(1950, 6, 1))
    calendar.clock(utc(2150, 6, 1))
    assert calendar.years == (1950, 2150)
    assert (calendar.clock(monday), calendar.clock(friday)) == before
    # Mon 10:00 -> Fri 15:00: 6.5 h + 3 x 7.5 h + 5 h.
    assert calendar.elapsed(monday, friday) == 34 * HOUR


def test_clock_is_anchored() -> None:
    assert SYD.clock(at(ANCHOR_YEAR, 1, 1)) == 0
    assert ALL.clock(utc(ANCHOR_YEAR, 1, 1)) == 0
    assert ALL.clock(utc(2026, 1, 1)) == utc(2026, 1, 1) - utc(ANCHOR_YEAR, 1, 1)
    assert ALL.clock(utc(2019, 12, 31)) == -24 * HOUR


def test_clock_range_is_checked() -> None:
    with pytest.raises(ValueError, match=re.escape("outside the years 1900..2199")):
        SYD.clock(EARLIEST - 1)
    with pytest.raises(ValueError, match="outside"):
        SYD.clock(LATEST)


def test_pickled_calendar_answers_the_same() -> None:
    copy = pickle.loads(pickle.dumps(SYD))
    t = at(2026, 5, 5, 11)
    assert copy.clock(t) == SYD.clock(t)


# ---------------------------------------------------------------- dated cases, Sydney


def test_easter_2026_with_dst_ending() -> None:
    # Thu 2 Apr 2026 is AEDT (+11). Good Friday 3, Easter Sat 4, Easter Sun 5 (DST ends 03:00
    # AEDT -> 02:00 AEST), Easter Monday 6; Tue 7 Apr is AEST (+10).
    thursday_4pm, tuesday_10am = at(2026, 4, 2, 16), at(2026, 4, 7, 10)
    # Wall: Thu 05:00Z -> Tue 00:00Z = 4 d 19 h, one hour more than the local clocks show.
    assert tuesday_10am - thursday_4pm == (4 * 24 + 19) * HOUR
    # Business: Thu 16:00-17:30 (1.5 h) + Tue 09:00-10:00 (1 h).
    assert SYD.elapsed(thursday_4pm, tuesday_10am) == 150 * MINUTE
    # 1.5 h runs out exactly at Thursday's close: due Thu 17:30, not Tue 09:00.
    assert SYD.deadline(thursday_4pm, 90 * MINUTE) == at(2026, 4, 2, 17, 30)
    # 2 h: 1.5 h on Thursday, the last 30 min from Tue 09:00 -> Tue 09:30 AEST.
    assert SYD.deadline(thursday_4pm, 2 * HOUR) == at(2026, 4, 7, 9, 30)
    # The whole Easter weekend is closed: nothing from Thu close to Tue open.
    assert SYD.elapsed(at(2026, 4, 2, 17, 30), at(2026, 4, 7, 9)) == 0


def test_labour_day_2026_after_dst_starts() -> None:
    # Fri 2 Oct 2026 is AEST (+10); DST starts Sun 4 Oct 02:00 -> 03:00; Mon 5 Oct is Labour
    # Day; Tue 6 Oct is AEDT (+11).
    friday_5pm, tuesday_915 = at(2026, 10, 2, 17), at(2026, 10, 6, 9, 15)
    # Wall: Fri 07:00Z -> Mon 22:15Z = 3 d 15 h 15 min, one hour less than local.
    assert tuesday_915 - friday_5pm == (3 * 24 + 15) * HOUR + 15 * MINUTE
    # Business: Fri 17:00-17:30 + Tue 09:00-09:15 = 45 min.
    assert SYD.elapsed(friday_5pm, tuesday_915) == 45 * MINUTE
    # From Friday's lunch break, 5 h: Fri 13:00-17:30 (4.5 h), then Tue 09:00-09:30 AEDT.
    friday_1230 = at(2026, 10, 2, 12, 30)
    assert SYD.elapsed(friday_1230, at(2026, 10, 2, 13)) == 0
    assert SYD.deadline(friday_1230, 5 * HOUR) == at(2026, 10, 6, 9, 30)


def test_christmas_holidays_2026_and_2027() -> None:
    december_2026 = [h for h in holidays_in(SYDNEY, 2026) if h[0].month == 12]
    assert december_2026 == [
        (dt.date(2026, 12, 25), "Christmas Day"),
        (dt.date(2026, 12, 26), "Boxing Day"),  # a Saturday ...
        (dt.date(2026, 12, 28), "Boxing Day (observed)"),  # ... so Monday is the substitute
    ]
    december_2027 = [h for h in holidays_in(SYDNEY, 2027) if h[0].month == 12]
    assert december_2027 == [
        (dt.date(2027, 12, 25), "Christmas Day"),  # Saturday
        (dt.date(2027, 12, 26), "Boxing Day"),  # Sunday
        (dt.date(2027, 12, 27), "Christmas Day (observed)"),
        (dt.date(2027, 12, 28), "Boxing Day (observed)"),
    ]
    # Thu 24 Dec 2026 17:00 -> Tue 29 Dec 09:00: Thu 17:00-17:30 only (Fri 25 and Mon 28
    # closed, the weekend closed, Tuesday opens exactly at the end of the range).
    assert SYD.elapsed(at(2026, 12, 24, 17), at(2026, 12, 29, 9)) == 30 * MINUTE
    assert SYD.deadline(at(2026, 12, 24, 17), HOUR) == at(2026, 12, 29, 9, 30)
    # Fri 24 Dec 2027 is a full day (7.5 h); Mon 27 and Tue 28 are substitutes.
    assert SYD.elapsed(at(2027, 12, 24, 9), at(2027, 12, 29, 9)) == 450 * MINUTE


def test_lunch_break() -> None:
    # Wed 8 Jul 2026: 11:30 -> 13:30 is 30 min before lunch and 30 min after it.
    assert SYD.elapsed(at(2026, 7, 8, 11, 30), at(2026, 7, 8, 13, 30)) == HOUR
    assert SYD.deadline(at(2026, 7, 8, 11, 30), 30 * MINUTE) == at(2026, 7, 8, 12)
    assert SYD.deadline(at(2026, 7, 8, 11, 30), 31 * MINUTE) == at(2026, 7, 8, 13, 1)
    assert SYD.deadline(at(2026, 7, 8, 12, 15), MINUTE) == at(2026, 7, 8, 13, 1)


def test_event_exactly_at_closing_time() -> None:
    closing, opening = at(2026, 7, 8, 17, 30), at(2026, 7, 9, 9)
    assert SYD.elapsed(closing, opening) == 0
    assert SYD.clock(closing) == SYD.clock(opening)
    assert SYD.deadline(at(2026, 7, 8, 17), 30 * MINUTE) == closing
    assert SYD.deadline(closing, 0) == closing
    assert SYD.deadline(closing, 1) == opening + 1
    # The first microsecond of a window counts; the last one before its end does too.
    assert SYD.elapsed(opening, opening + 1) == 1
    assert SYD.elapsed(closing - 1, closing) == 1


def test_event_on_a_weekend() -> None:
    saturday = at(2026, 7, 11, 10)
    assert SYD.elapsed(saturday, at(2026, 7, 13, 9)) == 0
    assert SYD.deadline(saturday, HOUR) == at(2026, 7, 13, 10)
    assert SYD.elapsed(saturday, at(2026, 7, 13, 12)) == 3 * HOUR


@pytest.mark.parametrize(
    ("window", "open_hours"),
    [
        # Wed 15 Jul 2026, normally 09-12 + 13-17:30 = 7.5 h.
        ((14 * 60, 16 * 60), Decimal("5.5")),  # 09-12, 13-14, 16-17:30
        ((11 * 60, 13 * 60 + 30), 6),  # 09-11, 13:30-17:30
        ((12 * 60, 13 * 60), Decimal("7.5")),  # lunch only: nothing lost
        ((0, 9 * 60 + 30), 7),  # opens at 09:30
        ((17 * 60, 24 * 60), 7),  # closes at 17:00
    ],
)
def test_part_day_closure(window: tuple[int, int], open_hours: Decimal) -> None:
    day = dt.date(2026, 7, 15)
    calendar = BusinessCalendar(spec(closures=(Closure(day, day, window, "training"),)))
    elapsed = calendar.elapsed(at(2026, 7, 15), at(2026, 7, 16))
    assert elapsed == int(open_hours * HOUR)
    # The day before and after are untouched.
    assert calendar.elapsed(at(2026, 7, 14), at(2026, 7, 15)) == 450 * MINUTE
    assert calendar.elapsed(at(2026, 7, 16), at(2026, 7, 17)) == 450 * MINUTE


def test_explicit_holiday_range() -> None:
    closure = Closure(dt.date(2026, 7, 16), dt.date(2026, 7, 17), None, "stocktake")
    calendar = BusinessCalendar(spec(closures=(closure,)))
    # Wed 17:00-17:30, Thu and Fri closed, Mon 09:00-10:00.
    assert calendar.elapsed(at(2026, 7, 15, 17), at(2026, 7, 20, 10)) == 90 * MINUTE
    assert calendar.deadline(at(2026, 7, 15, 17), 30 * MINUTE) == at(2026, 7, 15, 17, 30)
    assert calendar.deadline(at(2026, 7, 15, 17), 31 * MINUTE) == at(2026, 7, 20, 9, 1)


# ---------------------------------------------------------------- daylight saving boundaries


def test_window_in_the_spring_forward_gap_vanishes() -> None:
    # Sundays 02:00-03:00. Sun 4 Oct 2026 the clocks jump 02:00 AEST -> 03:00 AEDT: the
    # nonexistent 02:00 maps to the jump (16:00Z), 03:00 AEDT is 16:00Z too, so no open time.
    calendar = BusinessCalendar(spec(weekly=((),) * 6 + (((120, 180),),), holiday_sets=()))
    assert calendar.elapsed(at(2026, 10, 3), at(2026, 10, 5)) == 0
    # An ordinary Sunday has its hour; on Sun 5 Apr 2026 (fall back) 02:00 is its first
    # occurrence (02:00 AEDT = 15:00Z) and 03:00 AEST is 17:00Z: two real hours.
    assert calendar.elapsed(at(2026, 10, 10), at(2026, 10, 12)) == HOUR
    assert calendar.elapsed(at(2026, 4, 4), at(2026, 4, 6)) == 2 * HOUR
    assert calendar.deadline(at(2026, 4, 4), 90 * MINUTE) == utc(2026, 4, 4, 16, 30)


def test_window_ending_in_the_gap_ends_at_the_jump() -> None:
    # Sundays 01:00-02:30: on 4 Oct 2026, 01:00 AEST = 15:00Z and the nonexistent 02:30 maps
    # to the jump at 16:00Z: one hour instead of 1.5. On 5 Apr 2026, 01:00 AEDT = 14:00Z and
    # 02:30 first occurs at 02:30 AEDT = 15:30Z: 1.5 h.
    calendar = BusinessCalendar(spec(weekly=((),) * 6 + (((60, 150),),), holiday_sets=()))
    assert calendar.elapsed(at(2026, 10, 3), at(2026, 10, 5)) == HOUR
    assert calendar.deadline(at(2026, 10, 3), HOUR) == utc(2026, 10, 3, 16)
    assert calendar.elapsed(at(2026, 4, 4), at(2026, 4, 6)) == 90 * MINUTE


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Australia/Sydney", dt.date(2026, 10, 4), 23),
        ("Australia/Sydney", dt.date(2026, 4, 5), 25),
        ("Australia/Sydney", dt.date(2026, 7, 5), 24),
        ("Europe/London", dt.date(2026, 3, 29), 23),
        ("Europe/London", dt.date(2026, 10, 25), 25),
        # Chile skips local midnight: 00:00 -> 01:00 on Sun 6 Sep 2026.
        ("America/Santiago", dt.date(2026, 9, 6), 23),
    ],
)
def test_full_day_windows_have_their_real_length(zone: str, day: dt.date, hours: int) -> None:
    weekly = ((), (), (), (), (), (), ((0, 1440),))
    calendar = BusinessCalendar(spec(weekly, zone, holiday_sets=()))
    following = day + dt.timedelta(days=1)
    begin = at(day.year, day.month, day.day, 12, zone=zone)
    end = at(following.year, following.month, following.day, 12, zone=zone)
    assert calendar.elapsed(begin - 24 * HOUR, end) == hours * HOUR


def test_midnight_gap_maps_to_the_jump() -> None:
    # Santiago, Sat 5 Sep 2026 23:00 (-04) = Sun 03:00Z; 24x7, so one hour later is 04:00Z,
    # which the local clocks show as 01:00 (-03).
    calendar = BusinessCalendar(spec((((0, 1440),),) * 7, "America/Santiago", ()))
    start = at(2026, 9, 5, 23, zone="America/Santiago")
    assert calendar.deadline(start, HOUR) == utc(2026, 9, 6, 4)
    assert calendar.elapsed(start, utc(2026, 9, 6, 4)) == HOUR


# ---------------------------------------------------------------- holidays


def test_half_day_with_a_stated_time_iceland() -> None:
    # Iceland (UTC+0 all year): Christmas Eve and New Year's Eve are "(from 1pm)" half days.
    hours = (((540, 1020),),) * 5 + ((), ())  # 09:00-17:00, 8 h
    with_half = BusinessCalendar(
        spec(hours, "Atlantic/Reykjavik", (HolidaySet("IS", None, ("half_day",)),))
    )
    without = BusinessCalendar(spec(hours, "Atlantic/Reykjavik", (HolidaySet("IS", None),)))
    christmas_eve = (utc(2026, 12, 24), utc(2026, 12, 25))  # a Thursday
    assert with_half.elapsed(*christmas_eve) == 4 * HOUR  # 09:00-13:00
    assert without.elapsed(*christmas_eve) == 8 * HOUR
    assert with_half.elapsed(utc(2026, 12, 31), utc(2027, 1, 1)) == 4 * HOUR
    names = dict(holidays_in(with_half.spec, 2026))
    assert names[dt.date(2026, 12, 24)] == "Christmas Eve (from 1pm)"
    assert dt.date(2026, 12, 24) not in dict(holidays_in(without.spec, 2026))


def test_half_day_evening_south_australia() -> None:
    # Adelaide, open 09:00-21:00 daily; Christmas Eve 2026 is "(from 7pm)": 10 h instead of 12.
    hours = (((540, 1260),),) * 7
    holidays = (HolidaySet("AU", "SA", ("half_day",)),)
    calendar = BusinessCalendar(spec(hours, "Australia/Adelaide", holidays))
    eve = (at(2026, 12, 24, zone="Australia/Adelaide"), at(2026, 12, 25, zone="Australia/Adelaide"))
    assert calendar.elapsed(*eve) == 10 * HOUR
    # From 10:00 on the eve, 10 h: 9 h to 19:00; Christmas Day and Proclamation Day (Sat 26)
    # are closed; the last hour is Sun 27 Dec 09:00-10:00.
    due = calendar.deadline(eve[0] + 10 * HOUR, 10 * HOUR)
    assert due == at(2026, 12, 27, 10, zone="Australia/Adelaide")
    # From 09:00 exactly 10 h ends at the half day's 19:00 closing.
    assert calendar.deadline(eve[0] + 9 * HOUR, 10 * HOUR) == eve[0] + 19 * HOUR


def test_half_day_without_a_stated_time_closes_the_afternoon() -> None:
    # City of Zurich: Christmas Eve is a half day with no time in its name -> closed from 12:00.
    hours = ((480, 720), (780, 1020))  # 08:00-12:00, 13:00-17:00
    holidays = (HolidaySet("CH", "Stadt Zurich", ("half_day",)),)
    calendar = BusinessCalendar(spec((hours,) * 5 + ((), ()), "Europe/Zurich", holidays))
    zurich = "Europe/Zurich"
    assert calendar.elapsed(at(2026, 12, 24, zone=zurich), at(2026, 12, 25, zone=zurich)) == (
        4 * HOUR
    )
    names = dict(holidays_in(calendar.spec, 2026))
    assert names[dt.date(2026, 12, 24)] == "Christmas Eve (from 12pm)"


def test_extra_category_only_when_listed() -> None:
    # NSW bank holiday: Bank Holiday, Mon 3 Aug 2026, only with `bank`.
    plain = dict(holidays_in(SYDNEY, 2026))
    banks = dict(holidays_in(spec(holiday_sets=(HolidaySet("AU", "NSW", ("bank",)),)), 2026))
    assert dt.date(2026, 8, 3) not in plain
    assert banks[dt.date(2026, 8, 3)] == "Bank Holiday"
    assert set(plain.items()) < set(banks.items())


def test_holidays_version() -> None:
    assert holidays_version() == importlib.metadata.version("holidays")
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", holidays_version())


# ---------------------------------------------------------------- working day and open time


@pytest.mark.parametrize(
    ("calendar", "expected"),
    [
        (SYDNEY, 27_000),  # derived: every open weekday has 7.5 h
        (spec(working_day=28_800), 28_800),  # declared wins
        (spec(weekly=(((540, 1050),),) * 4 + (((540, 900),), (), ())), None),  # 8.5 h vs 6 h
        (spec(weekly=((),) * 7), None),  # never open
        (spec(weekly=(((540, 720), (600, 780)),) * 7), 240 * 60),  # overlaps count once
        (ALWAYS, 86_400),
    ],
)
def test_working_day(calendar: CalendarSpec, expected: int | None) -> None:
    assert working_day_seconds(calendar) == expected
    assert BusinessCalendar(calendar).working_day_seconds() == expected


def test_business_days() -> None:
    assert SYD.business_days(2) == 2 * 27_000 * SECOND
    assert SYD.business_days(Decimal("1.5")) == 40_500 * SECOND
    # 27,000 s x 1e-10 = 2.7 us, to the nearest microsecond.
    assert business_days(SYDNEY, Decimal("0.0000000001")) == 3
    underivable = spec(weekly=(((540, 1050),),) * 4 + (((540, 900),), (), ()))
    assert business_days(underivable, 1) is None
    # Ten business days (75 h) from Thu 2 Apr 2026 16:00 skip Easter: 1.5 h on Thursday, Tue 7
    # to Fri 17 Apr is 9 days (67.5 h), the last 6 h on Mon 20 Apr: 09-12, 13-16.
    assert SYD.deadline(at(2026, 4, 2, 16), SYD.business_days(10) or 0) == at(2026, 4, 20, 16)


def test_overlapping_windows_count_once() -> None:
    calendar = BusinessCalendar(spec(weekly=(((540, 720), (600, 780)),) * 7, holiday_sets=()))
    assert calendar.elapsed(at(2026, 7, 8), at(2026, 7, 9)) == 4 * HOUR  # 09:00-13:00


def test_has_open_time() -> None:
    start = dt.date(2026, 1, 1)
    assert has_open_time(SYDNEY, start)
    assert not has_open_time(spec(weekly=((),) * 7), start)
    # Closed all of 2026; 1 Jan 2027 is New Year's Day, 2-3 Jan a weekend, Mon 4 Jan is day 369.
    year_off = spec(closures=(Closure(start, dt.date(2026, 12, 31), None, "sabbatical"),))
    assert not has_open_time(year_off, start)
    assert not has_open_time(year_off, start, days=368)
    assert has_open_time(year_off, start, days=369)
    # A part-day closure covering every window leaves nothing either.
    evenings = spec(closures=(Closure(start, dt.date(2026, 12, 31), (0, 1440), ""),))
    assert not has_open_time(evenings, start, days=365)


def test_no_open_time_raises() -> None:
    never = BusinessCalendar(spec(weekly=((),) * 7))
    t = at(2026, 7, 8, 10)
    assert never.elapsed(t, t + 1000 * HOUR) == 0
    assert never.deadline(t, 0) == t
    with pytest.raises(NoOpenTime):
        never.deadline(t, 1)
    shut = Closure(dt.date(2026, 1, 1), dt.date(2210, 12, 31), None, "forever")
    with pytest.raises(NoOpenTime):
        BusinessCalendar(spec(closures=(shut,), holiday_sets=())).deadline(t, MINUTE)
    with pytest.raises(ValueError, match="negative"):
        SYD.deadline(t, -1)


def test_invalid_specs_are_bugs() -> None:
    with pytest.raises(ValueError, match="7 weekdays"):
        BusinessCalendar(spec(weekly=((),) * 5))
    with pytest.raises(ValueError, match="within one day"):
        BusinessCalendar(spec(weekly=(((600, 540),),) * 7))
    with pytest.raises(ValueError, match="runs backwards"):
        BusinessCalendar(spec(closures=(Closure(dt.date(2026, 2, 1), dt.date(2026, 1, 1), None),)))
    with pytest.raises(ValueError, match="IANA"):
        BusinessCalendar(spec(zone="Australia/Sidney"))


# ---------------------------------------------------------------- validation helpers


def test_timezone_problem() -> None:
    assert timezone_problem("Australia/Sydney") is None
    assert timezone_problem("UTC") is None
    assert timezone_problem("Australia/Sidney") == (
        "`Australia/Sidney` is not an IANA time zone name; did you mean `Australia/Sydney`?"
    )
    assert timezone_problem("Mars/Olympus_Mons") == (
        "`Mars/Olympus_Mons` is not an IANA time zone name"
    )


@pytest.mark.parametrize(
    ("country", "subdivision", "categories", "expected"),
    [
        ("AU", "NSW", (), None),
        ("AU", "NSW", ("bank", "half_day", "public"), None),
        ("AU", "New South Wales", (), None),
        ("AU", None, (), None),
        ("XX", None, (), "`XX` is not a country code known to `holidays` {v}"),
        ("au", None, (), "`au` is not a country code known to `holidays` {v}; did you mean `AU`?"),
        (
            "AU",
            "nsw",
            (),
            "`AU` has no subdivision `nsw`; valid: ACT, NSW, NSW Western, NT, QLD, SA, TAS, "
            "VIC, WA; did you mean `NSW`?",
        ),
        (
            "US",
            "XQ",
            (),
            "`US` has no subdivision `XQ`; valid: AK, AL, AR, AS, AZ, CA, CO, CT, DC, DE, FL, "
            "GA, ... (45 more)",
        ),
        (
            "AU",
            "NSW",
            ("bnak",),
            "`AU` has no holiday category `bnak`; valid: bank, half_day, public, school; "
            "did you mean `bank`?",
        ),
    ],
)
def test_holiday_set_problem(
    country: str, subdivision: str | None, categories: tuple[str, ...], expected: str | None
) -> None:
    wanted = expected.format(v=holidays_version()) if expected else None
    assert holiday_set_problem(country, subdivision, categories) == wanted


def test_only_calendar_imports_holidays() -> None:
    src = Path(__file__).parent.parent / "src" / "slaspec"
    importers = sorted(
        path.name
        for path in src.rglob("*.py")
        if re.search(r"^\s*(import holidays|from holidays)", path.read_text(), re.MULTILINE)
    )
    assert importers == ["calendar.py"]


def test_known_countries_are_the_holidays_package_list() -> None:
    # Read from the registry instead of by loading every country class.
    import holidays

    from slaspec import calendar

    assert calendar._countries() == frozenset(holidays.list_supported_countries())
    assert {"AU", "AUS", "GB", "UK", "US"} <= calendar._countries()


def test_the_readers_bounds_are_the_calendars() -> None:
    # slaspec.events holds the same bounds for the readers, which must not import the calendars.
    assert (events.FIRST_YEAR, events.LAST_YEAR, events.EARLIEST, events.LATEST) == (
        calendar.FIRST_YEAR,
        calendar.LAST_YEAR,
        calendar.EARLIEST,
        calendar.LATEST,
    )


# ---------------------------------------------------------------- importing a country's holidays

_DAYS = (
    'days = sorted((str(d), n) for d, n in holidays.AU(subdiv="NSW", years=[2025, 2026]).items())'
)
_ONE_COUNTRY = f"""
import sys
from slaspec import calendar


def loaded():
    return sorted(m.rpartition(".")[2] for m in sys.modules if m.startswith("holidays.countries."))


assert calendar.holiday_set_problem("AU", "NSW", ("public",)) is None
assert loaded() == ["australia"], loaded()
# Aland's module imports Finland's; an alias code finds its country.
assert calendar.holiday_set_problem("AX", None, ("public",)) is None
assert calendar.holiday_set_problem("AUS", None, ("public",)) is None
assert loaded() == ["aland_islands", "australia", "finland"], loaded()
import holidays

{_DAYS}
australia = sys.modules["holidays.countries.australia"]
assert holidays.countries.australia is australia
# Any name the package has not got yet runs its __init__, in place: the whole package.
from holidays.countries import Australia, Germany

assert len(loaded()) > 200 and Australia is australia.Australia
assert holidays.countries.Germany is Germany and holidays.countries.australia is australia
print(days)
"""


def _python(code: str) -> str:
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_a_holiday_set_imports_its_country_alone_and_the_package_whole_on_demand() -> None:
    # In fresh interpreters: this one has imported holidays' countries already.
    days = _python(_ONE_COUNTRY)
    assert days == _python(f"import holidays\n{_DAYS}\nprint(days)")  # as holidays gives them
    assert "Christmas Day" in days and "Labor Day" in days


def test_a_country_package_imported_in_full_is_left_alone() -> None:
    code = (
        "import holidays.countries, sys\n"
        "from slaspec import calendar\n"
        "assert calendar.holiday_set_problem('NZ', None, ('public',)) is None\n"
        "assert '__getattr__' not in vars(holidays.countries)\n"
        "assert sys.modules['holidays.countries'] is holidays.countries\n"
        "print('ok')\n"
    )
    assert _python(code) == "ok\n"
