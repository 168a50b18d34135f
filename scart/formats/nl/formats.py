"""Dutch formats: day-month-year with a 24-hour clock (21-11-2026 15:53), as Dutch readers write
them; the long form (21 november 2026) and the decimal comma come from Django's own Dutch formats."""

from __future__ import annotations

DATE_FORMAT = "d-m-Y"
DATETIME_FORMAT = "d-m-Y H:i:s"
TIME_FORMAT = "H:i:s"
SHORT_DATE_FORMAT = "d-m-Y"
SHORT_DATETIME_FORMAT = "d-m-Y H:i"
