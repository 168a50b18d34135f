"""Statistics benchmark: the dashboard's queries and its page over 1,000,000 cases on PostgreSQL.

    .venv/bin/python bench/stats.py                          # 1,000,000 cases (a few minutes to fill)
    .venv/bin/python bench/stats.py --quick                  # 100,000 cases, 3 runs of each query
    .venv/bin/python bench/stats.py --keep                   # time again on the last run's database, no fill
    .venv/bin/python bench/stats.py --query "from=2026-01-01&country=DE"   # the dashboard with filters
    .venv/bin/python bench/stats.py --demo --cases 100000    # devnet.history's full timelines instead (slow)
    .venv/bin/python bench/stats.py --sqlite --cases 3000 --runs 2         # a smoke run on SQLite

The issue: "1,000,000 cases with full timelines on PostgreSQL, timing every dashboard query and
the whole dashboard page. Target: whole dashboard under 1 s, each query under 300 ms."

What it does, in order:

1. drops and recreates the database of ``DATABASE_URL`` (default ``scart_bench_stats``; its name
   must contain ``bench``) and migrates it, or, with ``--sqlite``, migrates a fresh SQLite file in a
   temporary directory. ``--keep`` reuses the database as the last run left it (no fill);
2. fills it, not timed as a target (the time is printed):

   - by default, **synthetic timelines**: ``--providers`` providers and ``--cases`` cases, each a
     minimal ``reports_case`` row (what the timing's foreign key needs) and its `CaseTiming` row
     drawn from a distribution shaped like what `devnet.history` makes (`SHAPE`: two years of reports,
     68% illegal, verdicts a median 5 hours after the report, notices 25 minutes after the
     verdict, removal a median 34 hours after the notice with a long tail, some removed before
     the notice, unreachable or still online; providers by a Zipf law, routed by their country;
     ids in the order of the first report, as the intake makes them). Working-hours durations
     are the calendar ones times 40/168. Written with ``COPY`` on PostgreSQL (``executemany`` on
     SQLite), in chunks of 100,000 cases, one transaction each;
   - with ``--demo``, **full timelines**: `devnet.history.demo_seed` (reports, assessments, notices,
     checks and events, as the live system writes them) and then `stats.timings.timings_refresh_all`,
     as ``manage.py seed_demo`` does. Realistic but slower: on the 2-core development
     machine 1,000,000 cases took 543 s to seed and 330 s to refresh (2026-11-21);

3. ``VACUUM ANALYZE`` (PostgreSQL; ``ANALYZE`` on SQLite), not timed: the planner statistics and
   visibility map a database in service has from autovacuum (the machine line says whether
   autovacuum is on; the bench does not depend on it);
4. **queries**: each query of `stats.dashboard.QUERIES` (the dashboard's, by name) for the
   dashboard's parameters (``--query``, a query string as the page gets it; default none: every
   case, time to removal). One warm-up run, which also counts the query's SQL statements, then
   ``--runs`` runs: median, min and max;
5. **page**: ``GET /stats/`` through Django's test client as a logged-in analyst (password and
   second factor, as `tests.conftest.staff_login` does it), one warm-up then ``--runs``: the
   median is "the whole dashboard". The four chart images the page loads are timed the same way
   and printed, without a target: the browser fetches them after the page, in parallel;
6. **transparency report** (`stats.transparency`) of the last complete year, when there are
   notices (``--demo``): printed, without a target;
7. prints the figures and PASS/MISS per target (``--json``: also one JSON object). A miss is a
   measurement, not an error: the exit status is 0 unless the run failed.

Settings: ``DEBUG=0`` (production-like: no SQL kept in memory), plain HTTP, a random
``SECRET_KEY``, a temporary ``SCART_VAR_DIR``; the test client renders with the plain static
files storage (no ``collectstatic`` needed). PostgreSQL must be on 127.0.0.1: the bench refuses
anything else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a script (`python bench/stats.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    BenchError,
    bench_arguments,
    bench_database,
    bench_main,
    database_migrate,
    django_machine,
    django_start,
    print_report,
    print_results,
    say,
    var_dir,
)
from bench._stats.fill import fill_demo, fill_synthetic
from bench._stats.timing import database_facts, time_pages, time_queries, time_transparency, vacuum_analyze

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_stats"
QUERY_TARGET_MS = 300.0
PAGE_TARGET_MS = 1000.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = bench_arguments(
        "Benchmark the statistics dashboard: every query and the whole page over many cases.",
        [
            ("--cases", int, None, "cases (default 1,000,000; 100,000 with --quick)"),
            ("--providers", int, None, "hosting providers (default: cases / 500)"),
            ("--runs", int, None, "timed runs per query and page (default 7; 3 --quick)"),
            ("--quick", bool, False, "100,000 cases and 3 runs, unless given"),
            ("--query", str, "", "the dashboard's query string (filters), e.g. 'country=DE'"),
            ("--demo", bool, False, "fill with devnet.history's full timelines (slow)"),
            ("--keep", bool, False, "reuse the database as the last run left it (no fill)"),
            ("--sqlite", bool, False, "a temporary SQLite database instead of PostgreSQL"),
        ],
    )
    args = parser.parse_args(argv)
    args.cases = args.cases if args.cases is not None else (100_000 if args.quick else 1_000_000)
    args.runs = args.runs if args.runs is not None else (3 if args.quick else 7)
    args.providers = args.providers if args.providers is not None else max(1, args.cases // 500)
    if args.cases < 1 or args.runs < 1 or args.providers < 1:
        parser.error("--cases, --runs and --providers must be positive")
    if args.keep and args.sqlite:
        parser.error("--keep reuses a PostgreSQL database; a --sqlite one is gone after the run")
    return args


def print_summary(results: dict[str, Any]) -> None:
    m, fill, db = results["machine"], results["fill"], results["database"]
    head = []
    if m["load"]:
        head.append(f"load      {m['load'][0]:.2f} (1-minute average when the timing started)")
    if "settings" in db:
        head.append("postgres  " + ", ".join(f"{k} {v}" for k, v in db["settings"].items()))
    if fill["mode"] == "kept":
        head.append(f"data      kept from an earlier run: {db['timings']:,} cases")
    else:
        head.append(f"data      {fill['cases']:,} cases ({fill['mode']}) written in {fill['seconds']:.0f} s")
    if "timing_mb" in db:
        head.append(
            f"tables    stats_casetiming {db['timing_mb']:,.0f} MB + {db['timing_index_mb']:,.0f} MB of indexes, "
            f"reports_case {db['case_mb']:,.0f} MB"
        )
    head.append(f"query     {results['query'] or '(none: every case, time to removal)'}; {results['runs']} runs each")
    queries = [f"{'query':<20}{'median':>10}{'min':>10}{'max':>10}{'CPU':>10}{'SQL':>6}"]
    queries += [
        f"{name:<20}{q['median_ms']:>7.1f} ms{q['min_ms']:>7.1f} ms{q['max_ms']:>7.1f} ms"
        f"{q['cpu_ms']:>7.1f} ms{q['statements']:>6}"
        for name, q in results["queries"].items()
    ]
    queries.append(
        f"{'sum of the queries':<20}{results['queries_total_ms']:>7.1f} ms{'':>20}{results['queries_cpu_ms']:>7.1f} ms"
    )
    pages = [
        f"{name:<26}{p['median_ms']:>7.1f} ms  (min {p['min_ms']:.1f}, max {p['max_ms']:.1f}, "
        f"CPU {p['cpu_ms']:.1f}; {p['bytes']:,} bytes)"
        for name, p in results["pages"].items()
    ]
    pages.append("CPU: this process and its PostgreSQL backend (not parallel workers), the median of the runs")
    t = results["transparency"]
    if t is not None:
        pages.append(
            f"{'transparency ' + str(t['year']):<26}{t['median_ms']:>7.1f} ms  ({t['notices']:,} notices, "
            f"{t['urls']:,} URLs, {t['providers']:,} providers; no target)"
        )
    print_report(m, m["database"], head, queries, pages, targets=results["targets"])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = bench_database(DEFAULT_DATABASE_URL, sqlite=args.sqlite)

    with var_dir("stats") as var:
        try:
            django_start(
                var,
                {
                    "ALLOWED_HOSTS": "127.0.0.1",
                    "CELERY_BROKER_URL": "memory://localhost/",
                    "LOG_LEVEL": "WARNING",
                },
                database_url=database_url,
            )
            return run(args, database_url=database_url, say=say)
        finally:
            from django.db import connections

            with suppress(Exception):
                connections.close_all()


def run(args: argparse.Namespace, *, database_url: str, say: Callable[[str], None]) -> int:
    from django.utils import timezone

    import stats.dashboard
    import stats.views  # noqa: F401  (imports before the clock starts)

    anchor = timezone.make_aware(datetime.combine(timezone.localdate(), datetime.min.time()))
    if args.keep:
        say(f"keeping database {urlsplit(database_url).path.lstrip('/')}")
        fill: dict[str, Any] = {"mode": "kept"}
    else:
        database_migrate(database_url)
        what = "full timelines with devnet.history" if args.demo else "synthetic timelines"
        say(f"writing {args.cases:,} cases ({what})")
        fill = fill_demo(args, anchor, say) if args.demo else fill_synthetic(args, anchor, say)
    say("VACUUM ANALYZE (not timed)")
    vacuum_analyze()
    database = database_facts()
    if not database["timings"]:
        raise BenchError("the statistics table is empty")
    if fill["mode"] != "kept" and database["timings"] != fill["cases"]:
        raise BenchError(f"{fill['cases']:,} cases written but {database['timings']:,} timing rows")
    found_machine = django_machine()
    say(f"timing the dashboard's queries ({args.runs} runs each after a warm-up)")
    queries = time_queries(args.query, args.runs, say)
    say("timing the page and its charts")
    pages = time_pages(args.query, args.runs, say)
    transparency = time_transparency(anchor, args.runs)
    total = round(sum(q["median_ms"] for q in queries.values()), 1)
    cpu_total = round(sum(q["cpu_ms"] for q in queries.values()), 1)
    page = pages["dashboard"]["median_ms"]
    targets = [
        (
            f"query {name}",
            q["median_ms"] < QUERY_TARGET_MS,
            f"{q['median_ms']:.1f} ms (target {QUERY_TARGET_MS:.0f} ms)",
        )
        for name, q in queries.items()
    ]
    targets.append(
        (
            "whole dashboard",
            page < PAGE_TARGET_MS,
            f"GET /stats/ {page:.1f} ms (target {PAGE_TARGET_MS:.0f} ms; its queries {total:.1f} ms)",
        )
    )
    results = {
        "machine": found_machine,
        "settings": {"cases": args.cases, "providers": args.providers, "runs": args.runs, "seed": args.seed},
        "query": args.query,
        "runs": args.runs,
        "fill": fill,
        "database": database,
        "queries": queries,
        "queries_total_ms": total,
        "queries_cpu_ms": cpu_total,
        "pages": pages,
        "transparency": transparency,
        "targets": targets,
    }
    print_results(results, print_summary, as_json=args.json, default=str)
    return 0


if __name__ == "__main__":
    bench_main(main)
