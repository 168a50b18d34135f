"""What the retention tests compare before and after a run: every figure the statistics publish,
and every row of the tables that hold personal data or what the statistics read."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any

from axes.models import AccessAttempt, AccessLog
from django.db.models import Model

from accounts.models import AuditAction, AuditEntry
from reports.models import Assessment, Case, Event, IdempotencyKey, Report, ReportedUrl, Review
from routing.models import AvailabilityCheck, Notice, NoticeCase, NoticeMessage
from stats.dashboard import dashboard_data
from stats.measures import GROUPINGS, MEASURES
from stats.models import CaseTiming
from stats.params import stats_params, takedown_body
from stats.timings import timings_refresh_all
from stats.transparency import transparency_csv, transparency_report, transparency_years

# The retention run and its settings write audit entries of their own: not what a rule changed.
OWN_ACTIONS = (AuditAction.RETENTION_RUN, AuditAction.RETENTION_CHANGED)
TABLES: tuple[type[Model], ...] = (
    Report,
    ReportedUrl,
    Case,
    Event,
    Assessment,
    Review,
    Notice,
    NoticeCase,
    NoticeMessage,
    AvailabilityCheck,
    AuditEntry,
    AccessLog,
    AccessAttempt,
    IdempotencyKey,
    CaseTiming,
)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def statistics() -> dict[str, Any]:
    """Every published figure, computed afresh from the events (`timings_refresh_all`): each
    measure by every grouping (the API's and ``takedown_stats``'s answer), the dashboard's
    queries, and the transparency report of every year with its CSV."""
    timings_refresh_all()
    figures: dict[str, Any] = {}
    for measure in MEASURES:
        for group_by in GROUPINGS:
            for hours in ("", "1"):
                params = stats_params({"measure": measure, "group_by": group_by, "working_hours": hours})
                figures[f"takedown {measure} {group_by} {hours}"] = _plain(takedown_body(params))
    figures["dashboard"] = _plain(dashboard_data(stats_params({})))
    for year in transparency_years():
        report = transparency_report(year=year)
        report.generated_at = None  # type: ignore[assignment]
        figures[f"transparency {year}"] = _plain(report)
        figures[f"transparency {year} csv"] = transparency_csv(report).splitlines()[1:]
    return figures


def rows() -> dict[str, dict[Any, dict[str, Any]]]:
    """Every row of `TABLES`, by table and primary key (the retention's own audit entries left out)."""
    found: dict[str, dict[Any, dict[str, Any]]] = {}
    for model in TABLES:
        query = model._default_manager.all()
        if model is AuditEntry:
            query = query.exclude(action__in=OWN_ACTIONS)
        key = model._meta.pk.attname
        found[model._meta.db_table] = {row[key]: _plain(row) for row in query.values()}
    return found


def changes(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """``table.column`` of every value that changed, ``table.(deleted)`` and ``table.(added)``."""
    found = set()
    for table, old in before.items():
        new = after[table]
        if old.keys() - new.keys():
            found.add(f"{table}.(deleted)")
        if new.keys() - old.keys():
            found.add(f"{table}.(added)")
        for pk in old.keys() & new.keys():
            for column, value in old[pk].items():
                if new[pk][column] != value:
                    found.add(f"{table}.{column}")
    return found
