"""Retention benchmark: the daily retention run over a world of full timelines, with the statistics
compared before and after.

    .venv/bin/python bench/retention.py                        # 20,000 cases on PostgreSQL (a quick run)
    .venv/bin/python bench/retention.py --cases 1000000        # the full world (seeding takes a while)
    .venv/bin/python bench/retention.py --sqlite --cases 2000  # a smoke run on SQLite

The issue: "the retention run on the 1,000,000-case benchmark world (time, rows changed), and the
statistics before and after."

What it does, in order:

1. drops and recreates the database of ``DATABASE_URL`` (default ``scart_bench_retention``; its
   name must contain ``bench``) and migrates it, or, with ``--sqlite``, migrates a fresh SQLite
   file in a temporary directory;
2. fills it with `devnet.history`'s full timelines over the two years before today (reports on
   every channel with their reporters' addresses, mailbox senders and references, assessments,
   notices, checks, events: what the live system writes), then rebuilds the statistics table, as
   ``manage.py seed_demo`` does. The history writes no analysts' notes: the bench adds one to
   ``--notes`` of the assessments (one ``UPDATE``), so that the staff-text rule has work. Not timed
   as a target (the time is printed);
3. ``VACUUM ANALYZE`` (``ANALYZE`` on SQLite), not timed;
4. **statistics before**: every figure the statistics publish (each measure by every grouping, the
   dashboard, the transparency report of every year), at one frozen moment;
5. **dry run**: ``retention --dry-run``'s counts, by rule and step, timed;
6. **retention run**: the rules with their defaults (`privacy.retention.retention_run`), in batches
   of ``--batch`` rows, timed per step: the rows changed per rule and step;
7. **again**: a second run for the same moment, which must find nothing (timed: about the cost of a
   day with little due; the three runs share one moment, or rows crossing their day between them
   would count);
8. **statistics after**: the statistics table rebuilt from the events (`timings_refresh_all`, as the
   nightly task does; timed) and every figure computed again at the same moment: they must be
   identical. The bench fails (exit status 1) if any differs or if the second run changed rows.

Settings: ``DEBUG=0``, a random ``SECRET_KEY``, a temporary ``SCART_VAR_DIR``, no broker. PostgreSQL
must be on 127.0.0.1: the bench refuses anything else.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import Any

# Run as a script (`python bench/retention.py`): the project root is not on the path yet.
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
from bench._retention.figures import differences, headline, statistics

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_retention"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = bench_arguments(
        "Benchmark the retention run over full timelines; the statistics must not change.",
        [
            ("--cases", int, 20_000, "cases of the world"),
            ("--batch", int, 2000, "rows per statement of the run (SCART_RETENTION_BATCH)"),
            ("--notes", float, 0.1, "share of the assessments given an analyst's note"),
            ("--sqlite", bool, False, "a temporary SQLite database instead of PostgreSQL"),
        ],
    )
    args = parser.parse_args(argv)
    if args.cases < 1 or args.batch < 1 or not 0 <= args.notes <= 1:
        parser.error("--cases and --batch must be positive, --notes a share from 0 to 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = bench_database(DEFAULT_DATABASE_URL, sqlite=args.sqlite)
    with var_dir("retention") as var:
        try:
            django_start(
                var,
                {"ALLOWED_HOSTS": "127.0.0.1", "CELERY_BROKER_URL": "memory://localhost/", "LOG_LEVEL": "WARNING"},
                database_url=database_url,
            )
            return run(args, database_url=database_url, say=say)
        finally:
            from django.db import connections

            with suppress(Exception):
                connections.close_all()


def _fill(args: argparse.Namespace, anchor: datetime, say: Callable[[str], None]) -> dict[str, Any]:
    from django.db import connection

    from devnet.history import demo_seed
    from reports.models import Assessment
    from stats.timings import timings_refresh_all

    def progress(done: int, total: int, seconds: float) -> None:
        say(f"  {done:,} / {total:,} cases  {seconds:.0f} s")

    started = time.perf_counter()
    summary = demo_seed(cases=args.cases, seed=args.seed, now=anchor, days=730, progress=progress)
    seeded = time.perf_counter()
    say(f"seeded in {seeded - started:.0f} s; notes on {args.notes:.0%} of the assessments; the statistics table")
    modulo = max(1, round(1 / args.notes)) if args.notes else 0
    notes = 0
    if modulo:
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Assessment._meta.db_table} SET notes = 'seen on the gallery page, see the screenshots' "
                "WHERE id %% %s = 0",
                [modulo],
            )
            notes = cursor.rowcount
    written = timings_refresh_all(now=anchor)
    return {
        "cases": summary.cases,
        "rows": summary.rows,
        "notes": notes,
        "seed_seconds": round(seeded - started, 1),
        "timings": written,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _analyze() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _tables() -> dict[str, int]:
    from reports.models import Case, Event, Report, ReportedUrl

    return {
        "cases": Case.objects.count(),
        "reports": Report.objects.count(),
        "reported_urls": ReportedUrl.objects.count(),
        "events": Event.objects.count(),
    }


def run(args: argparse.Namespace, *, database_url: str, say: Callable[[str], None]) -> int:
    from django.utils import timezone

    from privacy.retention import retention_run
    from stats.timings import timings_refresh_all

    anchor = timezone.make_aware(datetime.combine(timezone.localdate(), datetime.min.time()))
    database_migrate(database_url)
    say(f"writing {args.cases:,} cases (full timelines with devnet.history)")
    fill = _fill(args, anchor, say)
    say("VACUUM ANALYZE (not timed)")
    _analyze()
    tables = _tables()
    moment = timezone.now()
    say("statistics before")
    started = time.perf_counter()
    before = statistics(moment)
    figures_seconds = time.perf_counter() - started
    say(f"  {len(before)} figures in {figures_seconds:.0f} s; dry run")
    started = time.perf_counter()
    dry = retention_run(now=moment, dry_run=True)
    dry_seconds = time.perf_counter() - started
    say(f"  {dry.rows:,} rows would go ({dry_seconds:.1f} s); retention run")
    started = time.perf_counter()
    result = retention_run(now=moment, batch=args.batch)
    run_seconds = time.perf_counter() - started
    say(f"  {result.rows:,} rows in {run_seconds:.1f} s; again")
    started = time.perf_counter()
    again = retention_run(now=moment, batch=args.batch)
    again_seconds = time.perf_counter() - started
    say("rebuilding the statistics table from the events")
    started = time.perf_counter()
    timings_refresh_all(now=anchor)
    rebuild_seconds = time.perf_counter() - started
    say("statistics after")
    after = statistics(moment)
    differ = differences(before, after)
    results = {
        "machine": django_machine(),
        "settings": {"cases": args.cases, "batch": args.batch, "notes": args.notes, "seed": args.seed},
        "fill": fill,
        "tables": tables,
        "dry_run": {"seconds": round(dry_seconds, 2), "rows": dry.by_rule()},
        "run": {
            "seconds": round(run_seconds, 2),
            "rows": result.rows,
            "steps": [
                {"rule": s.kind, "step": s.step, "rows": s.rows, "seconds": round(s.seconds, 2)} for s in result.steps
            ],
        },
        "again": {"seconds": round(again_seconds, 2), "rows": again.rows},
        "statistics": {
            "figures": len(before),
            "seconds": round(figures_seconds, 1),
            "rebuild_seconds": round(rebuild_seconds, 1),
            "identical": not differ,
            "differ": differ,
            "before": headline(before),
            "after": headline(after),
        },
    }
    print_results(results, print_summary, as_json=args.json)
    if differ:
        raise BenchError(f"the statistics changed: {', '.join(differ[:10])}")
    if again.rows:
        raise BenchError(f"a second run changed {again.rows} rows")
    return 0


def print_summary(results: dict[str, Any]) -> None:
    m, fill, t, r, s = results["machine"], results["fill"], results["tables"], results["run"], results["statistics"]
    head = [
        f"data      {fill['cases']:,} cases with full timelines, written in {fill['seconds']:.0f} s "
        f"({t['reports']:,} reports, {t['reported_urls']:,} links, {t['events']:,} events; "
        f"{fill['notes']:,} analysts' notes added)",
        f"settings  the default rules; batches of {results['settings']['batch']:,} rows",
    ]
    steps = [f"{'rule':<18}{'step':<46}{'rows':>11}{'seconds':>10}"]
    steps += [f"{x['rule']:<18}{x['step'][:45]:<46}{x['rows']:>11,}{x['seconds']:>10.2f}" for x in r["steps"]]
    steps.append(f"{'retention run':<64}{r['rows']:>11,}{r['seconds']:>10.2f}")
    steps.append(f"{'dry run (counts only)':<64}{'':>11}{results['dry_run']['seconds']:>10.2f}")
    steps.append(f"{'second run at once':<64}{results['again']['rows']:>11,}{results['again']['seconds']:>10.2f}")
    b, a = s["before"], s["after"]
    figures = [
        f"statistics {s['figures']} figures computed in {s['seconds']:.0f} s; the table rebuilt from the events "
        f"after the run in {s['rebuild_seconds']:.0f} s",
        f"before    {b['cases']:,} cases; removal after notice: {b['removed']:,} removed, "
        f"median {b['median_hours']} h, p90 {b['p90_hours']} h",
        f"after     {a['cases']:,} cases; removal after notice: {a['removed']:,} removed, "
        f"median {a['median_hours']} h, p90 {a['p90_hours']} h",
    ]
    targets = [
        ("statistics identical", s["identical"], "every figure" if s["identical"] else ", ".join(s["differ"][:5])),
        ("nothing left after one run", results["again"]["rows"] == 0, f"{results['again']['rows']} rows"),
    ]
    print_report(m, m["database"], head, steps, figures, targets=targets)


if __name__ == "__main__":
    bench_main(main)
