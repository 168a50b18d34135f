"""Case counts: the overview's headline figures and the weekly volumes, from one grouped count
over the cases of the filters."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from stats.measures import Filters
from stats.models import CaseTiming


@dataclass
class Overview:
    """Headline figures for cases first reported under ``filters``."""

    cases: int
    assessed: int
    illegal: int
    notified: int
    removed: int
    removed_before_notice: int
    removed_unreachable: int
    still_online: int
    still_online_median_age_hours: float | None
    still_online_oldest_age_hours: float | None
    reappeared: int
    ai_generated_share: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# The overview's counts, each a conditional count over the cases of the filters (named n_...: a
# name of a field would hide the field from the filters of the counts that come after it).
_COUNTS = {
    "cases": None,
    "assessed": Q(first_verdict_at__isnull=False),
    "illegal": Q(illegal=True),
    "notified": Q(first_notice_at__isnull=False),
    "removed": Q(removed_at__isnull=False),
    "removed_before_notice": Q(removal_kind="before_notice"),
    "removed_unreachable": Q(removal_kind="unreachable"),
    "still_online": Q(still_online=True),
    "reappeared": Q(reappeared__gt=0),
}
AI_FLAGGED = ("yes", "suspected")


@dataclass
class Volumes:
    """How many cases there are, from one grouped count: the overview, the cases reported and the
    illegal ones per week of first report (a Monday, local time; with ``weekly``), and the illegal
    ones per AI-generated flag."""

    overview: Overview
    weeks: dict[date, tuple[int, int]]
    illegal_by_ai: dict[str, int]


def volumes(*, filters: Filters | None = None, now: datetime | None = None, weekly: bool = False) -> Volumes:
    """The case counts for cases first reported under ``filters``: one aggregate grouped by the
    AI-generated flag (and the week, with ``weekly``), summed here over a few hundred rows at most,
    and the ages of the oldest and the middle case still online (two indexed lookups)."""
    rows = (filters or Filters()).apply(CaseTiming.objects.all())
    # The week is stored: the same date_trunc of the moment in local time for every row costs
    # twice the rest of this aggregate at a million cases.
    keys = ["ai_generated", *(["reported_week"] if weekly else [])]
    counts = {f"n_{name}": Count("pk", filter=test) for name, test in _COUNTS.items()}
    totals = dict.fromkeys(_COUNTS, 0)
    weeks: dict[date, tuple[int, int]] = {}
    by_ai: dict[str, int] = {}
    for found in rows.values(*keys).annotate(**counts).order_by():
        for name in _COUNTS:
            totals[name] += found[f"n_{name}"]
        if found["n_illegal"]:
            by_ai[found["ai_generated"]] = by_ai.get(found["ai_generated"], 0) + found["n_illegal"]
        if weekly:
            week = found["reported_week"]
            cases, illegal = weeks.get(week, (0, 0))
            weeks[week] = (cases + found["n_cases"], illegal + found["n_illegal"])
    flagged = sum(by_ai.get(flag, 0) for flag in AI_FLAGGED)
    median_age, oldest_age = _online_ages(rows, totals["still_online"], now or timezone.now())
    return Volumes(
        overview=Overview(
            **totals,
            still_online_median_age_hours=median_age,
            still_online_oldest_age_hours=oldest_age,
            ai_generated_share=round(flagged / totals["illegal"], 4) if totals["illegal"] else None,
        ),
        weeks=dict(sorted(weeks.items())),
        illegal_by_ai=by_ai,
    )


def _online_ages(rows: QuerySet[CaseTiming], online: int, now: datetime) -> tuple[float | None, float | None]:
    """The ages in hours of the middle case still online by first report (percentile_disc) and
    of the oldest: one indexed OFFSET each, the same on every database."""
    if not online:
        return None, None
    first = rows.filter(still_online=True).order_by("first_reported_at").values_list("first_reported_at", flat=True)
    middle = first[(online - 1) // 2]
    return round((now - middle) / timedelta(hours=1), 1), round((now - first[0]) / timedelta(hours=1), 1)


def overview(*, filters: Filters | None = None, now: datetime | None = None) -> Overview:
    return volumes(filters=filters, now=now).overview
