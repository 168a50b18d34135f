"""English formats: ISO-like dates and a 24-hour clock, as every page writes them explicitly,
instead of the locale's ``Nov. 21, 2026, 3:53 p.m.`` (the admin's lists and forms)."""

from __future__ import annotations

DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i:s"
TIME_FORMAT = "H:i:s"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
