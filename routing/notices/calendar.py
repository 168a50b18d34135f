"""The hotline's working calendar: when a batch of notices may go out.

Without ``SCART_NOTICE_WORKING_HOURS`` every moment is a working moment. With it (``"09:00-17:00"``,
in ``TIME_ZONE``), notices fall due only on weekdays that are not public holidays of
``SCART_HOTLINE_COUNTRY`` (the ``holidays`` library), between those hours.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone


def working_hours() -> tuple[time, time] | None:
    spec = settings.SCART_NOTICE_WORKING_HOURS.strip()
    return parse_hours(spec, "SCART_NOTICE_WORKING_HOURS") if spec else None


def parse_hours(spec: str, setting: str) -> tuple[time, time]:
    """``"09:00-17:00"`` as (start, end); ``setting`` names the variable in the error."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in spec.split("-"))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{setting} must look like 09:00-17:00, not {spec!r}") from exc
    if start >= end:
        raise ImproperlyConfigured(f"{setting} starts after it ends: {spec!r}")
    return start, end


@lru_cache(maxsize=32)
def _holidays(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def is_working_day(day: date, country: str | None = None) -> bool:
    country = country or settings.SCART_HOTLINE_COUNTRY
    return day.weekday() < 5 and day not in _holidays(country, day.year)


def next_working_moment(moment: datetime, country: str | None = None) -> datetime:
    """``moment`` itself when it falls in working hours, else the start of the next working period."""
    hours = working_hours()
    if hours is None:
        return moment
    start, end = hours
    local = timezone.localtime(moment)
    day = local.date()
    if is_working_day(day, country) and start <= local.time() < end:
        return moment
    if is_working_day(day, country) and local.time() < start:
        return _at(day, start)
    day += timedelta(days=1)
    while not is_working_day(day, country):
        day += timedelta(days=1)
    return _at(day, start)


def _at(day: date, at: time) -> datetime:
    return timezone.make_aware(datetime.combine(day, at), timezone.get_current_timezone())
