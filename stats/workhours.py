"""Working hours between two moments, in the hotline's calendar.

A working day is a weekday that is not a public holiday of ``SCART_HOTLINE_COUNTRY`` (the
``holidays`` library); its working hours are ``SCART_STATS_WORKING_HOURS`` (``09:00-17:00`` by
default) in ``TIME_ZONE``. The working seconds between ``a`` and ``b`` are the seconds of
``[a, b)`` that fall in working hours.

`working_seconds` is O(1) per call after a year's table is built: ``W(t)``, the working seconds
from 1 January 2000 to ``t``, is a running total per day (cached per year), and the answer is
``W(b) - W(a)``. Statistics compute it for millions of cases.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings

from routing.notices.calendar import is_working_day, parse_hours

BASE_YEAR = 2000


@lru_cache(maxsize=8)
def _hours(spec: str) -> tuple[int, int]:
    """(start, end) seconds after midnight of ``"09:00-17:00"``."""
    start, end = parse_hours(spec, "SCART_STATS_WORKING_HOURS")
    return start.hour * 3600 + start.minute * 60 + start.second, end.hour * 3600 + end.minute * 60 + end.second


class Calendar:
    """One country's working calendar with fixed daily hours in one time zone."""

    def __init__(self, *, country: str, hours: str, zone: str) -> None:
        self.country = country
        self.start, self.end = _hours(hours)
        self.zone = ZoneInfo(zone)
        self._years: dict[int, list[int]] = {}
        self._offsets: dict[int, int] = {}

    @property
    def day_seconds(self) -> int:
        return self.end - self.start

    def _prefix(self, year: int) -> list[int]:
        """Working seconds from 1 January of ``year`` to the start of each day (index: day of the
        year, 0-based), and the year's total at the end."""
        table = self._years.get(year)
        if table is None:
            table = [0]
            day = date(year, 1, 1)
            while day.year == year:
                table.append(table[-1] + (self.day_seconds if is_working_day(day, self.country) else 0))
                day += timedelta(days=1)
            self._years[year] = table
        return table

    def _offset(self, year: int) -> int:
        """Working seconds from 1 January ``BASE_YEAR`` to 1 January ``year``."""
        if year <= BASE_YEAR:
            return -sum(self._prefix(y)[-1] for y in range(year, BASE_YEAR))
        cached = self._offsets.get(year)
        if cached is None:
            cached = self._offset(year - 1) + self._prefix(year - 1)[-1]
            self._offsets[year] = cached
        return cached

    def cumulative(self, moment: datetime) -> int:
        """``W(moment)``: working seconds from 1 January 2000 (local time) to ``moment``."""
        local = moment.astimezone(self.zone)
        day = local.date()
        prefix = self._prefix(day.year)
        doy = day.timetuple().tm_yday - 1
        total = self._offset(day.year) + prefix[doy]
        if prefix[doy + 1] > prefix[doy]:  # a working day
            into = local.hour * 3600 + local.minute * 60 + local.second
            total += min(max(into - self.start, 0), self.day_seconds)
        return total

    def working_seconds(self, a: datetime, b: datetime) -> int:
        """Working seconds in ``[a, b)``; negative if ``b`` comes before ``a``."""
        return self.cumulative(b) - self.cumulative(a)


def hotline_calendar() -> Calendar:
    return _calendar(settings.SCART_HOTLINE_COUNTRY, settings.SCART_STATS_WORKING_HOURS, settings.TIME_ZONE)


@lru_cache(maxsize=8)
def _calendar(country: str, hours: str, zone: str) -> Calendar:
    return Calendar(country=country, hours=hours, zone=zone)
