"""Takedown-time figures, aggregated in the database.

`takedown_stats` returns, per group, the count, median, 90th percentile and mean of one measure
(`MEASURES`), and the share within 24 h, 72 h and 7 days. On PostgreSQL the percentiles are
``percentile_cont``; elsewhere (SQLite) the same continuous percentile is computed with window
functions (the two rows around the position, interpolated). No case is loaded into Python:
each group comes back as one row.

In working-hours mode the measure is the ``*_wh`` column and the thresholds are working hours
(24 working hours are three working days of eight hours).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    CharField,
    Count,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from routing.models import Provider
from routing.templatetags.notices import country_name
from stats.measures import (
    DIMENSIONS,
    GROUPINGS,
    HOUR,
    MEASURES,
    PERIODS,
    THRESHOLDS,
    Filters,
    Measure,
    StatsQueryError,
    choice_label,
    choices,
)
from stats.models import CaseTiming


@dataclass
class Row:
    group: Any
    count: int
    median_hours: float | None
    p90_hours: float | None
    mean_hours: float | None
    within_24h: float | None
    within_72h: float | None
    within_7d: float | None
    label: str = ""
    # With ``histogram=``: the cases per bucket (the edges given, in seconds, and above the last).
    histogram: list[int] | None = None

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        if self.histogram is None:
            del found["histogram"]
        return found


@dataclass
class Result:
    measure: Measure
    group_by: str
    working_hours: bool
    filters: Filters
    rows: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure.key,
            "label": self.measure.label,
            "from": self.measure.start,
            "to": self.measure.end,
            "note": self.measure.note,
            "group_by": self.group_by,
            "unit": "working hours" if self.working_hours else "hours",
            "filters": self.filters.as_dict(),
            "rows": [r.as_dict() for r in self.rows],
        }


@contextmanager
def sort_memory() -> Iterator[None]:
    """On PostgreSQL, a transaction in which sorts may use ``SCART_STATS_WORK_MEM`` of memory.

    A percentile sorts its group's values. At PostgreSQL's default ``work_mem`` (4 MB) a group of
    more than some 170,000 values is sorted on disk; in memory, values that an index hands over
    already in order are sorted in one pass (at a million cases: the overall median of 600,000
    durations in 77 ms rather than 147). The setting ends with the transaction; inside one that
    is already open (a test's, say) the queries run as they are, so that the setting does not
    outlive them.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [settings.SCART_STATS_WORK_MEM])
        yield


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(f) WITHIN GROUP (ORDER BY x)``."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def takedown_stats(
    *,
    measure: str = "removal",
    group_by: str = "",
    filters: Filters | None = None,
    working_hours: bool = False,
    order: str = "group",
    windows: bool = False,
    histogram: Sequence[int] = (),
) -> Result:
    """The figures of ``measure`` per ``group_by`` (``""``: one row for everything).

    ``order``: ``group`` (the grouping's order), ``slowest`` (highest median first) or ``count``.
    ``windows``: the window-function percentiles even on PostgreSQL (tests compare the two).
    ``histogram``: increasing bucket edges in seconds; each row then also counts its cases per
    bucket, (0, e1], (e1, e2], ... and above the last edge, in the same scan (the first bucket
    includes 0).
    """
    if measure not in MEASURES:
        raise StatsQueryError(f"unknown measure {measure!r}; one of: {', '.join(MEASURES)}")
    if group_by not in GROUPINGS:
        raise StatsQueryError(f"unknown grouping {group_by!r}; one of: {', '.join(g for g in GROUPINGS if g)}")
    if order not in ("group", "slowest", "count"):
        raise StatsQueryError("order must be group, slowest or count")
    filters = filters or Filters()
    column = f"{measure}_{'wh' if working_hours else 's'}"
    rows = filters.apply(CaseTiming.objects.all()).filter(**{f"{column}__isnull": False})
    rows = rows.annotate(g=_group_expression(group_by), x=F(column))
    if list(histogram) != sorted(set(histogram)):
        raise StatsQueryError("histogram edges must increase")
    found = aggregate(rows, histogram, windows=windows)
    if order == "slowest":
        found.sort(key=lambda r: (-(r.median_hours or 0), -r.count))
    elif order == "count":
        found.sort(key=lambda r: -r.count)
    else:
        found.sort(key=lambda r: (r.group is None, r.group))
    _label(found, group_by)
    return Result(
        measure=MEASURES[measure], group_by=group_by, working_hours=working_hours, filters=filters, rows=found
    )


def _group_expression(group_by: str) -> Any:
    if not group_by:
        return Value("all", output_field=CharField())
    if group_by in PERIODS:
        return PERIODS[group_by]("first_reported_at")
    return F(DIMENSIONS[group_by])


def _shares() -> dict[str, Any]:
    return {
        name: Sum(Case(When(x__lte=limit, then=Value(1)), default=Value(0), output_field=IntegerField()))
        for name, limit in THRESHOLDS.items()
    }


def _buckets(edges: Sequence[int]) -> dict[str, Any]:
    """A conditional count per histogram bucket, ``h0``, ``h1``...: (lower, upper], the first from
    0 (included) and the last open."""
    found = {}
    for i, (lower, upper) in enumerate(zip((None, *edges), (*edges, None), strict=True) if edges else ()):
        within = Q()
        if lower is not None:
            within &= Q(x__gt=lower)
        if upper is not None:
            within &= Q(x__lte=upper)
        found[f"h{i}"] = Sum(Case(When(within, then=Value(1)), default=Value(0), output_field=IntegerField()))
    return found


def _histogram(found: dict[str, Any], edges: Sequence[int]) -> list[int] | None:
    return [int(found[f"h{i}"] or 0) for i in range(len(edges) + 1)] if edges else None


def aggregate(rows: QuerySet[Any], histogram: Sequence[int] = (), *, windows: bool = False) -> list[Row]:
    """The figures per ``g`` of the durations ``x`` of ``rows`` (annotated with both): count,
    percentiles, mean, shares and, with ``histogram``, the buckets. ``percentile_cont`` on
    PostgreSQL (unless ``windows``), window functions elsewhere."""
    with sort_memory():
        if connection.vendor == "postgresql" and not windows:
            return _aggregate_postgresql(rows, histogram)
        return _aggregate_windows(rows, histogram)


def _aggregate_postgresql(rows: QuerySet[Any], histogram: Sequence[int] = ()) -> list[Row]:
    found = rows.values("g").annotate(
        n=Count("x"),
        mean=Avg(Cast("x", FloatField())),
        median=PercentileCont("x", 0.5),
        p90=PercentileCont("x", 0.9),
        **_shares(),
        **_buckets(histogram),
    )
    # A constant group (no grouping) is not grouped by: no cases still give one row, of zero.
    return [
        _row(r["g"], r["n"], r["median"], r["p90"], r["mean"], r, _histogram(r, histogram)) for r in found if r["n"]
    ]


# Percentiles as fractions num/den: integer arithmetic gives the same positions on every database.
_FRACTIONS = {"p50": (1, 2), "p90": (9, 10)}


def _aggregate_windows(rows: QuerySet[Any], histogram: Sequence[int] = ()) -> list[Row]:
    """The same figures with window functions (SQLite, and a cross-check on PostgreSQL): each
    row's rank in its group, then per group the rows on either side of each percentile's position
    ``1 + f * (n - 1)``, interpolated as ``percentile_cont`` does."""
    sql, params = rows.values("g", "x").query.sql_with_params()
    positions = []
    for name, (num, den) in _FRACTIONS.items():
        below = f"(1 + ({num} * (n - 1)) / {den})"
        positions.append(
            f"MAX(CASE WHEN rn = {below} THEN x END) AS {name}_lo, "
            f"MAX(CASE WHEN rn = {below} + 1 THEN x END) AS {name}_hi, "
            # The remainder without "%" (a placeholder to psycopg) or MOD (not in every SQLite).
            f"MAX({num} * (n - 1) - (({num} * (n - 1)) / {den}) * {den}) AS {name}_rest"
        )
    shares = ", ".join(f"SUM(CASE WHEN x <= {limit} THEN 1 ELSE 0 END) AS {name}" for name, limit in THRESHOLDS.items())
    edges = [int(e) for e in histogram]  # numbers only: they go into the SQL text
    for i, (lower, upper) in enumerate(zip((None, *edges), (*edges, None), strict=True) if edges else ()):
        test = " AND ".join(
            [*([f"x > {lower}"] if lower is not None else []), *([f"x <= {upper}"] if upper is not None else [])]
        )
        shares += f", SUM(CASE WHEN {test or '1 = 1'} THEN 1 ELSE 0 END) AS h{i}"
    # Only the base query's parameters come from outside; the rest is fixed text and numbers.
    query = (
        "WITH ranked AS (SELECT g, x, ROW_NUMBER() OVER (PARTITION BY g ORDER BY x) AS rn, "  # noqa: S608
        f"COUNT(*) OVER (PARTITION BY g) AS n FROM ({sql}) base) "
        f"SELECT g, COUNT(*), AVG(x), {', '.join(positions)}, {shares} FROM ranked GROUP BY g"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        fetched = cursor.fetchall()
    found = []
    for g, n, mean, *rest in fetched:
        values = []
        for i, (_num, den) in enumerate(_FRACTIONS.values()):
            lo, hi, remainder = rest[3 * i : 3 * i + 3]
            values.append(lo if not remainder else lo + (hi - lo) * remainder / den)
        sums = rest[3 * len(_FRACTIONS) :]
        counts = dict(zip(THRESHOLDS, sums[: len(THRESHOLDS)], strict=True))
        buckets = [int(c or 0) for c in sums[len(THRESHOLDS) :]] if edges else None
        found.append(_row(_group_value(g), n, values[0], values[1], mean, counts, buckets))
    return found


def _group_value(g: Any) -> Any:
    """SQLite hands truncated dates back as text."""
    if isinstance(g, str) and len(g) >= 10 and g[4] == "-" and g[7] == "-":
        try:
            return datetime.fromisoformat(g)
        except ValueError:
            return g
    return g


def _row(
    g: Any, n: int, median: Any, p90: Any, mean: Any, counts: dict[str, Any], histogram: list[int] | None = None
) -> Row:
    def hours(seconds: Any) -> float | None:
        return None if seconds is None else round(float(seconds) / HOUR, 2)

    def share(within: Any) -> float | None:
        return round(int(within) / n, 4) if n else None

    if isinstance(g, datetime):
        g = timezone.localtime(g).date() if timezone.is_aware(g) else g.date()
    return Row(
        group=g,
        count=n,
        median_hours=hours(median),
        p90_hours=hours(p90),
        mean_hours=hours(mean),
        within_24h=share(counts["within_24h"]),
        within_72h=share(counts["within_72h"]),
        within_7d=share(counts["within_7d"]),
        histogram=histogram,
    )


def _label(rows: Sequence[Row], group_by: str) -> None:
    """Names for the groups: providers by name, countries by name, choices by their label."""
    if group_by == "provider":
        names = dict(Provider.objects.filter(pk__in=[r.group for r in rows if r.group]).values_list("pk", "name"))
        for r in rows:
            r.label = names.get(r.group, "unknown provider") if r.group else "unknown provider"
        return
    if group_by == "country":
        for r in rows:
            r.label = f"{country_name(r.group)} ({r.group})" if r.group else "unknown"
        return
    if group_by in choices():
        for r in rows:
            r.label = choice_label(group_by, r.group)
        return
    for r in rows:
        if group_by == "asn":
            r.label = f"AS{r.group}" if r.group else "unknown"
        elif group_by == "week":
            r.label = f"{r.group:%G-W%V}" if r.group else ""
        elif group_by == "month":
            r.label = f"{r.group:%Y-%m}" if r.group else ""
        elif group_by == "year":
            r.label = f"{r.group:%Y}" if r.group else ""
        else:
            r.label = "all"
