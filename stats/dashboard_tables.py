"""The statistics dashboard's tables: `dashboard_tables` turns the results of the dashboard's
queries (`stats.dashboard.dashboard_data`) into the tables the page shows and the CSV exports
write; `TABLE_QUERIES` says which queries each table needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from reports.models import AiGenerated
from stats.dashboard import BUCKETS, SLOWEST_LIMIT, SLOWEST_MIN_CASES
from stats.measures import MEASURES, choice_label, unreachable_hours
from stats.params import StatsParams
from stats.takedown_times import Row
from stats.volumes import Volumes


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, count, number, hours, share, date; "unit": as the row's "unit" says


@dataclass
class Table:
    """One table of the dashboard; rows are dicts keyed by the columns' keys. ``links``: (filter,
    key): a row's first cell narrows the dashboard to its value under ``key`` (when it has one)."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    links: tuple[str, str] | None = None


def _figures(unit: str) -> list[Column]:
    return [
        Column("count", "Cases timed", "count"),
        Column("median_hours", f"Median ({unit})", "hours"),
        Column("p90_hours", f"90th percentile ({unit})", "hours"),
        Column("mean_hours", f"Mean ({unit})", "hours"),
        Column("within_24h", "Within 24 h", "share"),
        Column("within_72h", "Within 72 h", "share"),
        Column("within_7d", "Within 7 days", "share"),
    ]


def _figure_values(row: Row | None) -> dict[str, Any]:
    keys = ("count", "median_hours", "p90_hours", "mean_hours", "within_24h", "within_72h", "within_7d")
    return {k: getattr(row, k) if row else None for k in keys} | {"count": row.count if row else 0}


def _weeks(weekly: dict[date, tuple[int, int]], times: list[Row]) -> list[date]:
    """Every week from the first to the last with cases, the empty ones too (a trend has no gaps)."""
    found = set(weekly) | {r.group for r in times if isinstance(r.group, date)}
    if not found:
        return []
    week, last = min(found), max(found)
    weeks = []
    while week <= last:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


def bucket_labels() -> list[str]:
    edges = (0, *BUCKETS)
    return [f"{lo}-{hi}" for lo, hi in zip(edges, BUCKETS, strict=False)] + [f"over {BUCKETS[-1]}"]


def dashboard_tables(data: dict[str, Any], params: StatsParams) -> dict[str, Table]:
    """The dashboard's tables from `dashboard_data`'s results (those that are there)."""
    measure = MEASURES[params.measure]
    unit = "working hours" if params.working_hours else "hours"
    tables: dict[str, Table] = {}
    found: Volumes | None = data.get("volumes")
    if found is not None and "headline" in data:
        o = found.overview
        figures: list[tuple[str, str, Any, str]] = [
            ("cases", "Cases first reported", o.cases, "cases"),
            ("assessed", "Assessed", o.assessed, "cases"),
            ("illegal", "Illegal", o.illegal, "cases"),
            ("notified", "Notified (first notice sent)", o.notified, "cases"),
            ("removed", "Removed", o.removed, "cases"),
            ("removed_before_notice", "Removed before any notice", o.removed_before_notice, "cases"),
            (
                "removed_unreachable",
                f"Removed after {unreachable_hours()} h unreachable",
                o.removed_unreachable,
                "cases",
            ),
            ("still_online", "Illegal and still online", o.still_online, "cases"),
            ("still_online_median_age", "Still online: median age (hours)", o.still_online_median_age_hours, "hours"),
            ("still_online_oldest_age", "Still online: the oldest (hours)", o.still_online_oldest_age_hours, "hours"),
            ("reappeared", "Came back after removal", o.reappeared, "cases"),
            ("ai_generated_share", "AI-generated or suspected, of illegal", o.ai_generated_share, "share"),
        ]
        values = _figure_values(data["headline"])
        figures += [
            (
                f"{params.measure}_{c.key}",
                f"{measure.label}: {c.label[0].lower()}{c.label[1:]}",
                values[c.key],
                {"count": "cases", "hours": unit}.get(c.kind, c.kind),
            )
            for c in _figures(unit)
        ]
        tables["overview"] = Table(
            "overview",
            "Headline figures",
            [
                Column("label", "Figure"),
                Column("value", "Value", "unit"),
                Column("unit", "Unit"),
                Column("figure", "Key"),
            ],
            [{"figure": key, "label": label, "value": value, "unit": kind} for key, label, value, kind in figures],
        )
    if "volumes" in data or "weekly_times" in data:
        # A chart asks for one of the two; the page and the export for both.
        weekly: dict[date, tuple[int, int]] = found.weeks if found is not None else {}
        times = {r.group: r for r in data.get("weekly_times", [])}
        tables["weeks"] = Table(
            "weeks",
            "By week of first report",
            [
                Column("week", "Week"),
                Column("week_start", "Starts", "date"),
                Column("cases", "Cases reported", "count"),
                Column("illegal", "Illegal", "count"),
                Column("count", f"{measure.label}: cases timed", "count"),
                Column("median_hours", f"Median ({unit})", "hours"),
                Column("p90_hours", f"90th percentile ({unit})", "hours"),
            ],
            [
                {
                    "week": f"{week:%G-W%V}",
                    "week_start": week,
                    "cases": weekly.get(week, (0, 0))[0],
                    "illegal": weekly.get(week, (0, 0))[1],
                    "count": times[week].count if week in times else 0,
                    "median_hours": times[week].median_hours if week in times else None,
                    "p90_hours": times[week].p90_hours if week in times else None,
                }
                for week in _weeks(weekly, data.get("weekly_times", []))
            ],
        )
    if "monthly_shares" in data:
        tables["months"] = Table(
            "months",
            "By month of first report",
            [Column("month", "Month"), *_figures(unit)],
            [{"month": r.label} | _figure_values(r) for r in data["monthly_shares"]],
        )
    if "headline" in data:
        headline: Row | None = data["headline"]
        counts = (headline.histogram if headline else None) or [0] * (len(BUCKETS) + 1)
        total = sum(counts)
        lowers = (0, *BUCKETS)
        tables["distribution"] = Table(
            "distribution",
            f"Distribution of {measure.label.lower()}",
            [
                Column("bucket", f"{unit.capitalize()}"),
                Column("from_hours", "More than", "number"),
                Column("to_hours", "At most", "number"),
                Column("cases", "Cases", "count"),
                Column("share", "Share", "share"),
            ],
            [
                {
                    "bucket": label,
                    "from_hours": lowers[i],
                    "to_hours": BUCKETS[i] if i < len(BUCKETS) else None,
                    "cases": n,
                    "share": round(n / total, 4) if total else None,
                }
                for i, (label, n) in enumerate(zip(bucket_labels(), counts, strict=True))
            ],
            note="The first bucket starts at 0 (included).",
        )
    grouped = {
        "providers": ("Slowest providers", "Provider", "provider_id", "provider"),
        "countries": ("Slowest hosting countries", "Country", "country", "country"),
        "routes": ("By route", "Route", "route", "route"),
        "channels": ("By intake channel", "Channel", "channel", "channel"),
    }
    for name, (title, label, key, link) in grouped.items():
        if name not in data:
            continue
        note = ""
        if name in ("providers", "countries"):
            note = f"Highest median first; at most {SLOWEST_LIMIT}, each with at least {SLOWEST_MIN_CASES} cases timed."
        tables[name] = Table(
            name,
            title,
            [Column("name", label), Column(key, "Code" if key != "provider_id" else "Id"), *_figures(unit)],
            [{"name": r.label, key: r.group} | _figure_values(r) for r in data[name]],
            note=note,
            links=(link, key),
        )
    if found is not None and "ai_times" in data:
        ai_volumes = found.illegal_by_ai
        ai_times = {r.group: r for r in data["ai_times"]}
        illegal = sum(ai_volumes.values())
        flags = [
            *AiGenerated.values,
            *sorted(k for k in set(ai_volumes) | set(ai_times) if k not in AiGenerated.values),
        ]
        tables["ai"] = Table(
            "ai",
            "AI-generated content",
            [
                Column("name", "AI-generated"),
                Column("ai_generated", "Code"),
                Column("illegal", "Illegal cases", "count"),
                Column("share", "Share of illegal", "share"),
                Column("count", f"{measure.label}: cases timed", "count"),
                Column("median_hours", f"Median ({unit})", "hours"),
                Column("within_72h", "Within 72 h", "share"),
            ],
            [
                {
                    "name": choice_label("ai_generated", flag),
                    "ai_generated": flag,
                    "illegal": ai_volumes.get(flag, 0),
                    "share": round(ai_volumes.get(flag, 0) / illegal, 4) if illegal else None,
                    "count": ai_times[flag].count if flag in ai_times else 0,
                    "median_hours": ai_times[flag].median_hours if flag in ai_times else None,
                    "within_72h": ai_times[flag].within_72h if flag in ai_times else None,
                }
                for flag in flags
                if ai_volumes.get(flag) or flag in ai_times
            ],
            note="As the latest assessment of each illegal case records it.",
            links=("ai_generated", "ai_generated"),
        )
    return tables


# The tables of the page and of /stats/export/<name>.csv, and the queries each one needs.
TABLE_QUERIES: dict[str, tuple[str, ...]] = {
    "overview": ("volumes", "headline"),
    "weeks": ("volumes", "weekly_times"),
    "months": ("monthly_shares",),
    "distribution": ("headline",),
    "providers": ("providers",),
    "countries": ("countries",),
    "routes": ("routes",),
    "channels": ("channels",),
    "ai": ("volumes", "ai_times"),
}
