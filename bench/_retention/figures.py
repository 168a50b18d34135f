"""Every figure the statistics publish, as plain JSON, to compare before and after a retention run:
each measure by every grouping (the API's and ``takedown_stats``'s answer), the dashboard's
queries and the transparency report of every year with its CSV. Computed at one frozen moment
(the ages of what is still online count from it), from the timings as they are."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def statistics(at: datetime) -> dict[str, Any]:
    import time_machine

    from stats.dashboard import dashboard_data
    from stats.measures import GROUPINGS, MEASURES
    from stats.params import stats_params, takedown_body
    from stats.transparency import transparency_csv, transparency_report, transparency_years

    figures: dict[str, Any] = {}
    with time_machine.travel(at, tick=False):
        for measure in MEASURES:
            for group_by in GROUPINGS:
                params = stats_params({"measure": measure, "group_by": group_by})
                figures[f"takedown {measure} {group_by}"] = _plain(takedown_body(params))
        figures["dashboard"] = _plain(dashboard_data(stats_params({})))
        figures["dashboard working hours"] = _plain(dashboard_data(stats_params({"working_hours": "1"})))
        for year in transparency_years():
            report = transparency_report(year=year)
            figures[f"transparency {year}"] = _plain(report)
            figures[f"transparency {year} csv"] = transparency_csv(report)
    return figures


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The names of the figures that differ (or are only on one side)."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def headline(figures: dict[str, Any]) -> dict[str, Any]:
    """A few figures to print: the removal time overall and the counts of the overview."""
    body = figures.get("takedown removal ", {})
    rows = body.get("rows") or [{}]
    return {
        "cases": body.get("overview", {}).get("cases"),
        "removed": rows[0].get("count"),
        "median_hours": rows[0].get("median_hours"),
        "p90_hours": rows[0].get("p90_hours"),
    }
