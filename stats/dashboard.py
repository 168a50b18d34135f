"""The statistics dashboard's figures: every query it runs, by name, and the tables made of them.

`QUERIES` names each query of the dashboard (the statistics benchmark times them one by one);
`dashboard_data` runs them, or some of them, for one set of parameters (`stats.params`), and
`dashboard_tables` turns the results into the tables the page shows and the CSV exports write.
Every query aggregates in the database, over `CaseTiming` only: none loads cases into Python, and
each returns one row per group (per week, per provider, per histogram bucket...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from reports.models import AiGenerated
from stats.models import CaseTiming
from stats.params import StatsParams
from stats.queries import HOUR, MEASURES, Overview, Row, overview, takedown_stats

# A provider or country needs this many timed cases to be ranked among the slowest: one slow
# case says little about a provider.
SLOWEST_MIN_CASES = 5
SLOWEST_LIMIT = 10
# Histogram buckets of the measure, in hours: (lower, upper], the first from 0 and the last open.
# Their edges include 24 and 72 so that the buckets add up to the shares within 24 h and 72 h.
BUCKETS = (6, 12, 24, 48, 72, 168, 336, 720)


def _filtered(params: StatsParams) -> Any:
    return params.filters.apply(CaseTiming.objects.all())


def _column(params: StatsParams) -> str:
    return f"{params.measure}_{'wh' if params.working_hours else 's'}"


def _timed(params: StatsParams, group_by: str = "", **options: Any) -> list[Row]:
    return takedown_stats(
        measure=params.measure,
        group_by=group_by,
        filters=params.filters,
        working_hours=params.working_hours,
        **options,
    ).rows


def _local_date(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def query_overview(params: StatsParams) -> Overview:
    return overview(filters=params.filters)


def query_headline(params: StatsParams) -> Row | None:
    """The measure over every case of the filters: count, median, p90, mean and the shares."""
    rows = _timed(params)
    return rows[0] if rows else None


def query_weekly_volumes(params: StatsParams) -> dict[date, tuple[int, int]]:
    """Per week of first report (Monday, local time): (cases reported, of which illegal)."""
    rows = (
        _filtered(params)
        .annotate(week=TruncWeek("first_reported_at"))
        .values("week")
        .annotate(cases=Count("pk"), illegal=Count("pk", filter=Q(illegal=True)))
        .order_by("week")
    )
    return {_local_date(r["week"]): (r["cases"], r["illegal"]) for r in rows}


def query_weekly_times(params: StatsParams) -> list[Row]:
    return _timed(params, "week")


def query_monthly_shares(params: StatsParams) -> list[Row]:
    return _timed(params, "month")


def query_distribution(params: StatsParams) -> list[int]:
    """How many timed cases fall in each of `BUCKETS` (and above the last): one aggregate with a
    conditional count per bucket."""
    column = _column(params)
    counts: dict[str, Any] = {}
    lower = None
    for i, upper in enumerate((*BUCKETS, None)):
        within = Q(**{f"{column}__isnull": False})
        if lower is not None:
            within &= Q(**{f"{column}__gt": lower * HOUR})
        if upper is not None:
            within &= Q(**{f"{column}__lte": upper * HOUR})
        counts[f"b{i}"] = Count("pk", filter=within)
        lower = upper
    found = _filtered(params).aggregate(**counts)
    return [found[f"b{i}"] for i in range(len(BUCKETS) + 1)]


def _slowest(params: StatsParams, group_by: str) -> list[Row]:
    # takedown_stats has no minimum count, so the limit is applied here, after the minimum.
    rows = _timed(params, group_by, order="slowest")
    return [r for r in rows if r.group not in (None, "") and r.count >= SLOWEST_MIN_CASES][:SLOWEST_LIMIT]


def query_providers(params: StatsParams) -> list[Row]:
    return _slowest(params, "provider")


def query_countries(params: StatsParams) -> list[Row]:
    return _slowest(params, "country")


def query_routes(params: StatsParams) -> list[Row]:
    return _timed(params, "route", order="count")


def query_channels(params: StatsParams) -> list[Row]:
    return _timed(params, "channel", order="count")


def query_ai_volumes(params: StatsParams) -> dict[str, int]:
    """Illegal cases per AI-generated flag."""
    rows = _filtered(params).filter(illegal=True).values("ai_generated").annotate(n=Count("pk")).order_by()
    return {r["ai_generated"]: r["n"] for r in rows}


def query_ai_times(params: StatsParams) -> list[Row]:
    return _timed(params, "ai_generated")


QUERIES: dict[str, Callable[[StatsParams], Any]] = {
    "overview": query_overview,
    "headline": query_headline,
    "weekly_volumes": query_weekly_volumes,
    "weekly_times": query_weekly_times,
    "monthly_shares": query_monthly_shares,
    "distribution": query_distribution,
    "providers": query_providers,
    "countries": query_countries,
    "routes": query_routes,
    "channels": query_channels,
    "ai_volumes": query_ai_volumes,
    "ai_times": query_ai_times,
}


def dashboard_data(params: StatsParams, *, only: Iterable[str] | None = None) -> dict[str, Any]:
    """The results of `QUERIES` (or of the ones named in ``only``) for ``params``, by name."""
    names = list(QUERIES) if only is None else list(only)
    return {name: QUERIES[name](params) for name in names}


# --- tables -----------------------------------------------------------------------------------


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


def _weeks(volumes: dict[date, tuple[int, int]], times: list[Row]) -> list[date]:
    """Every week from the first to the last with cases, the empty ones too (a trend has no gaps)."""
    found = set(volumes) | {r.group for r in times if isinstance(r.group, date)}
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
    if "overview" in data:
        o: Overview = data["overview"]
        figures: list[tuple[str, str, Any, str]] = [
            ("cases", "Cases first reported", o.cases, "cases"),
            ("assessed", "Assessed", o.assessed, "cases"),
            ("illegal", "Illegal", o.illegal, "cases"),
            ("notified", "Notified (first notice sent)", o.notified, "cases"),
            ("removed", "Removed", o.removed, "cases"),
            ("removed_before_notice", "Removed before any notice", o.removed_before_notice, "cases"),
            ("removed_unreachable", "Removed after 72 h unreachable", o.removed_unreachable, "cases"),
            ("still_online", "Illegal and still online", o.still_online, "cases"),
            ("still_online_median_age", "Still online: median age (hours)", o.still_online_median_age_hours, "hours"),
            ("still_online_oldest_age", "Still online: the oldest (hours)", o.still_online_oldest_age_hours, "hours"),
            ("reappeared", "Came back after removal", o.reappeared, "cases"),
            ("ai_generated_share", "AI-generated or suspected, of illegal", o.ai_generated_share, "share"),
        ]
        if "headline" in data:
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
    if "weekly_volumes" in data or "weekly_times" in data:
        # A chart asks for one of the two; the page and the export for both.
        volumes: dict[date, tuple[int, int]] = data.get("weekly_volumes", {})
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
                    "cases": volumes.get(week, (0, 0))[0],
                    "illegal": volumes.get(week, (0, 0))[1],
                    "count": times[week].count if week in times else 0,
                    "median_hours": times[week].median_hours if week in times else None,
                    "p90_hours": times[week].p90_hours if week in times else None,
                }
                for week in _weeks(volumes, data.get("weekly_times", []))
            ],
        )
    if "monthly_shares" in data:
        tables["months"] = Table(
            "months",
            "By month of first report",
            [Column("month", "Month"), *_figures(unit)],
            [{"month": r.label} | _figure_values(r) for r in data["monthly_shares"]],
        )
    if "distribution" in data:
        counts: list[int] = data["distribution"]
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
    if "ai_volumes" in data and "ai_times" in data:
        ai_volumes: dict[str, int] = data["ai_volumes"]
        ai_times = {r.group: r for r in data["ai_times"]}
        illegal = sum(ai_volumes.values())
        labels = dict(AiGenerated.choices)
        flags = [*AiGenerated.values, *sorted(k for k in set(ai_volumes) | set(ai_times) if k not in labels)]
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
                    "name": str(labels.get(flag, flag or "not recorded")),
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
    "overview": ("overview", "headline"),
    "weeks": ("weekly_volumes", "weekly_times"),
    "months": ("monthly_shares",),
    "distribution": ("distribution",),
    "providers": ("providers",),
    "countries": ("countries",),
    "routes": ("routes",),
    "channels": ("channels",),
    "ai": ("ai_volumes", "ai_times"),
}
