"""The statistics bench's clocks: every dashboard query, the page and its charts as a logged-in
analyst, the transparency report; and the database's facts."""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from bench._harness import BenchError
from bench._world import analyst_client


def backend_clock() -> Callable[[], float] | None:
    """CPU seconds used so far by this connection's PostgreSQL backend (from /proc: the server is
    on this machine), or None where that cannot be read. Parallel workers are not counted."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    stat = Path(f"/proc/{pid}/stat")
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def read() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    try:
        read()
    except (OSError, ValueError, IndexError):
        return None
    return read


def timed(call: Callable[[], Any], runs: int) -> dict[str, Any]:
    """Wall time of ``runs`` calls (median, min, max), and the median CPU time they took in this
    process and in the database backend: on a busy machine, wall time waits for the CPU, and the
    CPU time is closer to what the call costs on an idle one."""
    clock = backend_clock()
    samples, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time() + (clock() if clock else 0.0)
        call()
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() + (clock() if clock else 0.0) - cpu_started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "cpu_ms": round(statistics.median(cpu), 1),
    }


def time_queries(query: str, runs: int, say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stats.dashboard import QUERIES
    from stats.params import stats_params

    params = stats_params(dict(parse_qsl(query)))
    found = {}
    for name, run in QUERIES.items():
        with CaptureQueriesContext(connection) as captured:
            run(params)  # warm-up
        found[name] = {**timed(functools.partial(run, params), runs), "statements": len(captured.captured_queries)}
        say(f"  {name:<16} {found[name]['median_ms']:8.1f} ms")
    return found


def time_pages(query: str, runs: int, say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    from django.test.utils import override_settings
    from django.urls import reverse

    from stats.views import CHART_ALTS

    client = analyst_client("bench-stats-analyst")
    suffix = f"?{query}" if query else ""
    pages = {"dashboard": f"{reverse('stats-dashboard')}{suffix}"}
    pages |= {f"chart {name}": f"{reverse('stats-chart', args=[name])}{suffix}" for name in CHART_ALTS}
    found = {}
    plain = {"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES={"default": {"BACKEND": "django.core.files.storage.FileSystemStorage"}, **plain}):
        for name, url in pages.items():
            response = client.get(url)  # warm-up
            if response.status_code != 200:
                raise BenchError(f"GET {url}: {response.status_code} {response.content[:300]!r}")

            def get(url: str = url) -> None:
                response = client.get(url)
                if response.status_code != 200:
                    raise BenchError(f"GET {url}: {response.status_code}")

            found[name] = {**timed(get, runs), "url": url, "bytes": len(response.content)}
            say(f"  {name:<24} {found[name]['median_ms']:8.1f} ms")
    return found


def time_transparency(anchor: datetime, runs: int) -> dict[str, Any] | None:
    from routing.models import Notice
    from stats.transparency import transparency_report

    if not Notice.objects.exists():
        return None
    year = anchor.year - 1
    report = transparency_report(year=year)
    return {
        "year": year,
        "notices": report.total.notices,
        "urls": report.total.urls,
        "providers": len(report.breakdowns["provider"]),
        **timed(lambda: transparency_report(year=year), runs),
    }


# --- the database -----------------------------------------------------------------------------


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")


def database_facts() -> dict[str, Any]:
    from django.db import connection

    from stats.models import CaseTiming

    facts: dict[str, Any] = {"timings": CaseTiming.objects.count()}
    if connection.vendor != "postgresql":
        return facts
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size('stats_casetiming'), pg_indexes_size('stats_casetiming'), "
            "pg_relation_size('reports_case')"
        )
        heap, indexes, cases = cursor.fetchone()
        cursor.execute(
            "SELECT indexname, pg_relation_size(quote_ident(indexname)::regclass) FROM pg_indexes "
            "WHERE tablename = 'stats_casetiming' ORDER BY indexname"
        )
        facts["indexes"] = {name: size for name, size in cursor.fetchall()}
        settings = {}
        for name in ("shared_buffers", "work_mem", "effective_cache_size", "max_parallel_workers_per_gather", "jit"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    facts.update(timing_mb=heap / 2**20, timing_index_mb=indexes / 2**20, case_mb=cases / 2**20, settings=settings)
    return facts
