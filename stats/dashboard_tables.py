"""The statistics dashboard's tables: `dashboard_tables` turns the results of the dashboard's
queries (`stats.dashboard.dashboard_data`) into the tables the page shows and the CSV exports
write; `TABLE_QUERIES` says which queries each table needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.utils.translation import gettext as _

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


def _figures(unit_text: str) -> list[Column]:
    return [
        Column("count", _("Cases timed"), "count"),
        Column("median_hours", _("Median (%(unit)s)") % {"unit": unit_text}, "hours"),
        Column("p90_hours", _("90th percentile (%(unit)s)") % {"unit": unit_text}, "hours"),
        Column("mean_hours", _("Mean (%(unit)s)") % {"unit": unit_text}, "hours"),
        Column("within_24h", _("Within 24 h"), "share"),
        Column("within_72h", _("Within 72 h"), "share"),
        Column("within_7d", _("Within 7 days"), "share"),
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
    return [f"{lo}-{hi}" for lo, hi in zip(edges, BUCKETS, strict=False)] + [_("over %(n)s") % {"n": BUCKETS[-1]}]


def dashboard_tables(data: dict[str, Any], params: StatsParams) -> dict[str, Table]:
    """The dashboard's tables from `dashboard_data`'s results (those that are there)."""
    measure = MEASURES[params.measure]
    unit = "working hours" if params.working_hours else "hours"
    unit_text = _("working hours") if params.working_hours else _("hours")
    tables: dict[str, Table] = {}
    found: Volumes | None = data.get("volumes")
    if found is not None and "headline" in data:
        o = found.overview
        figures: list[tuple[str, str, Any, str]] = [
            ("cases", _("Cases first reported"), o.cases, "cases"),
            ("assessed", _("Assessed"), o.assessed, "cases"),
            ("illegal", _("Illegal"), o.illegal, "cases"),
            ("notified", _("Notified (first notice sent)"), o.notified, "cases"),
            ("removed", _("Removed"), o.removed, "cases"),
            ("removed_before_notice", _("Removed before any notice"), o.removed_before_notice, "cases"),
            (
                "removed_unreachable",
                _("Removed after %(hours)s h unreachable") % {"hours": unreachable_hours()},
                o.removed_unreachable,
                "cases",
            ),
            ("still_online", _("Illegal and still online"), o.still_online, "cases"),
            (
                "still_online_median_age",
                _("Still online: median age (hours)"),
                o.still_online_median_age_hours,
                "hours",
            ),
            (
                "still_online_oldest_age",
                _("Still online: the oldest (hours)"),
                o.still_online_oldest_age_hours,
                "hours",
            ),
            ("reappeared", _("Came back after removal"), o.reappeared, "cases"),
            ("ai_generated_share", _("AI-generated or suspected, of illegal"), o.ai_generated_share, "share"),
        ]
        values = _figure_values(data["headline"])
        figures += [
            (
                f"{params.measure}_{c.key}",
                f"{measure.label}: {c.label[0].lower()}{c.label[1:]}",
                values[c.key],
                {"count": "cases", "hours": unit}.get(c.kind, c.kind),
            )
            for c in _figures(unit_text)
        ]
        tables["overview"] = Table(
            "overview",
            _("Headline figures"),
            [
                Column("label", _("Figure")),
                Column("value", _("Value"), "unit"),
                Column("unit", _("Unit")),
                Column("figure", _("Key")),
            ],
            [{"figure": key, "label": label, "value": value, "unit": kind} for key, label, value, kind in figures],
        )
    if "volumes" in data or "weekly_times" in data:
        # A chart asks for one of the two; the page and the export for both.
        weekly: dict[date, tuple[int, int]] = found.weeks if found is not None else {}
        times = {r.group: r for r in data.get("weekly_times", [])}
        tables["weeks"] = Table(
            "weeks",
            _("By week of first report"),
            [
                Column("week", _("Week")),
                Column("week_start", _("Starts"), "date"),
                Column("cases", _("Cases reported"), "count"),
                Column("illegal", _("Illegal"), "count"),
                Column("count", _("%(measure)s: cases timed") % {"measure": measure.label}, "count"),
                Column("median_hours", _("Median (%(unit)s)") % {"unit": unit_text}, "hours"),
                Column("p90_hours", _("90th percentile (%(unit)s)") % {"unit": unit_text}, "hours"),
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
            _("By month of first report"),
            [Column("month", _("Month")), *_figures(unit_text)],
            [{"month": r.label} | _figure_values(r) for r in data["monthly_shares"]],
        )
    if "headline" in data:
        headline: Row | None = data["headline"]
        counts = (headline.histogram if headline else None) or [0] * (len(BUCKETS) + 1)
        total = sum(counts)
        lowers = (0, *BUCKETS)
        tables["distribution"] = Table(
            "distribution",
            _("Distribution of %(measure)s") % {"measure": str(measure.label).lower()},
            [
                Column("bucket", unit_text.capitalize()),
                Column("from_hours", _("More than"), "number"),
                Column("to_hours", _("At most"), "number"),
                Column("cases", _("Cases"), "count"),
                Column("share", _("Share"), "share"),
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
            note=_("The first bucket starts at 0 (included)."),
        )
    grouped = {
        "providers": (_("Slowest providers"), _("Provider"), "provider_id", "provider"),
        "countries": (_("Slowest hosting countries"), _("Country"), "country", "country"),
        "routes": (_("By route"), _("Route"), "route", "route"),
        "channels": (_("By intake channel"), _("Channel"), "channel", "channel"),
    }
    for name, (title, label, key, link) in grouped.items():
        if name not in data:
            continue
        note = ""
        if name in ("providers", "countries"):
            note = _("Highest median first; at most %(limit)s, each with at least %(min)s cases timed.") % {
                "limit": SLOWEST_LIMIT,
                "min": SLOWEST_MIN_CASES,
            }
        tables[name] = Table(
            name,
            title,
            [Column("name", label), Column(key, _("Code") if key != "provider_id" else _("Id")), *_figures(unit_text)],
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
            _("AI-generated content"),
            [
                Column("name", _("AI-generated")),
                Column("ai_generated", _("Code")),
                Column("illegal", _("Illegal cases"), "count"),
                Column("share", _("Share of illegal"), "share"),
                Column("count", _("%(measure)s: cases timed") % {"measure": measure.label}, "count"),
                Column("median_hours", _("Median (%(unit)s)") % {"unit": unit_text}, "hours"),
                Column("within_72h", _("Within 72 h"), "share"),
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
            note=_("As the latest assessment of each illegal case records it."),
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
