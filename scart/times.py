"""One rule for the times scart writes out.

Moments are stored in UTC (``USE_TZ``). A person reads every time in ``TIME_ZONE``, the zone each
page names in its footer: templates format with ``|date``, which converts to it, and everything
else that writes a moment out (API answers, event and audit data, CSV cells and file names) goes
through this module, so that the moment a page shows as 15:53 is ``2026-11-21T15:53:00+01:00``
everywhere, never ``14:53:00+00:00`` in one place and 15:53 in another. Machine-readable
output is ISO 8601 with the offset. (Notices are the one exception: they go to recipients in
every zone and say UTC in so many words; see `routing.notices.render`.)
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def iso(moment: datetime) -> str:
    """``moment`` in ``TIME_ZONE`` as ISO 8601 with its offset (``2026-11-21T15:53:00+01:00``)."""
    return timezone.localtime(moment).isoformat()


def iso_or_none(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def file_stamp(moment: datetime | None = None) -> str:
    """``20261121-1553``: the moment (now by default) in ``TIME_ZONE``, for a file name."""
    return f"{timezone.localtime(moment or timezone.now()):%Y%m%d-%H%M}"


def shown(moment: datetime, *, seconds: bool = False) -> str:
    """``2026-11-21 15:53`` (with ``:07`` seconds if asked) in ``TIME_ZONE``: a time in text that
    Python writes for a person (a suggestion's note, an admin row), as the pages show it."""
    return (
        f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S}" if seconds else f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"
    )
