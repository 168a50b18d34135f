"""The statistics dashboard's figures: every query it runs, by name, and the tables made of them.

`QUERIES` names each query of the dashboard (the statistics benchmark times them one by one);
`dashboard_data` runs them, or some of them, for one set of parameters (`stats.params`);
`stats.dashboard_tables.dashboard_tables` turns the results into the tables the page shows and
the CSV exports write.
Every query aggregates in the database, over `CaseTiming` only: none loads cases into Python, and
each returns one row per group (per week, per provider, per histogram bucket...).
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection, connections
from django.utils import timezone, translation

from stats.measures import HOUR
from stats.params import StatsParams
from stats.takedown_times import Row, takedown_stats
from stats.volumes import Volumes, volumes

# A provider or country needs this many timed cases to be ranked among the slowest: one slow
# case says little about a provider.
SLOWEST_MIN_CASES = 5
SLOWEST_LIMIT = 10
# Histogram buckets of the measure, in hours: (lower, upper], the first from 0 and the last open.
# Their edges include 24 and 72 so that the buckets add up to the shares within 24 h and 72 h.
BUCKETS = (6, 12, 24, 48, 72, 168, 336, 720)


def _timed(params: StatsParams, group_by: str = "", **options: Any) -> list[Row]:
    return takedown_stats(
        measure=params.measure,
        group_by=group_by,
        filters=params.filters,
        working_hours=params.working_hours,
        **options,
    ).rows


def query_volumes(params: StatsParams) -> Volumes:
    """The case counts: the overview, per week of first report, and the illegal per AI flag."""
    return volumes(filters=params.filters, weekly=True)


def query_headline(params: StatsParams) -> Row | None:
    """The measure over every case of the filters: count, median, p90, mean and the shares, and
    its distribution over `BUCKETS` (in the same scan)."""
    rows = _timed(params, histogram=[hours * HOUR for hours in BUCKETS])
    return rows[0] if rows else None


def query_weekly_times(params: StatsParams) -> list[Row]:
    return _timed(params, "week")


def query_monthly_shares(params: StatsParams) -> list[Row]:
    return _timed(params, "month")


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


def query_ai_times(params: StatsParams) -> list[Row]:
    return _timed(params, "ai_generated")


QUERIES: dict[str, Callable[[StatsParams], Any]] = {
    "volumes": query_volumes,
    "headline": query_headline,
    "weekly_times": query_weekly_times,
    "monthly_shares": query_monthly_shares,
    "providers": query_providers,
    "countries": query_countries,
    "routes": query_routes,
    "channels": query_channels,
    "ai_times": query_ai_times,
}


def dashboard_data(params: StatsParams, *, only: Iterable[str] | None = None) -> dict[str, Any]:
    """The results of `QUERIES` (or of the ones named in ``only``) for ``params``, by name.

    On PostgreSQL the queries run on up to ``SCART_STATS_CONNECTIONS`` connections at once: this
    thread's and that many less one of short-lived threads', each taking the next query not yet
    started. Each query is one scan on one core; at a million cases they take 0.1-0.3 s each.
    Inside a transaction they all run here, on this connection: another would not see what the
    transaction wrote.
    """
    names = list(QUERIES) if only is None else list(only)
    lanes = min(len(names), settings.SCART_STATS_CONNECTIONS)
    if lanes < 2 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return {name: QUERIES[name](params) for name in names}
    pending: queue.SimpleQueue[str] = queue.SimpleQueue()
    for name in names:
        pending.put(name)
    results: dict[str, Any] = {}
    zone, language = timezone.get_current_timezone(), translation.get_language()

    def lane() -> None:
        while True:
            try:
                name = pending.get_nowait()
            except queue.Empty:
                return
            try:
                results[name] = QUERIES[name](params)
            except BaseException:
                # The page fails: the other lanes start nothing more.
                with contextlib.suppress(queue.Empty):
                    while True:
                        pending.get_nowait()
                raise

    def helper() -> None:
        try:
            with timezone.override(zone), translation.override(language):
                lane()
        finally:
            connections.close_all()  # this thread's connection: the thread ends here

    with ThreadPoolExecutor(lanes - 1, thread_name_prefix="stats-query") as pool:
        helpers = [pool.submit(helper) for _ in range(lanes - 1)]
        lane()
        for done in helpers:
            done.result()  # a query's exception, raised here
    return {name: results[name] for name in names}
