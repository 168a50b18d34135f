"""The search benchmark: every form the workspace's search understands, timed on a large database.

    make bench-search                               # 1,000,000 cases on PostgreSQL
    .venv/bin/python bench/search.py --cases 50000  # a quicker run
    .venv/bin/python bench/search.py --sqlite --cases 600 --runs 2 --json   # what the test runs

It recreates its own database (``DATABASE_URL``, default ``scart_bench_search``: the name must
contain "bench"), migrates, and writes ``--cases`` cases with ``COPY`` (on SQLite, plain inserts):
each case's URL, host and registrable domain come from `reports.urls.normalise_url`, as intake
makes them, over hosts on a few registrable domains each (public suffixes of one and two labels,
and private ones such as ``github.io``), some IP literals; providers with their ASNs and networks,
the addresses each case resolved to (`routing.models.CaseAddress`, IPv4 and IPv6), reports of one
to nine URLs with their references, and notices with their ``SCART-…`` references naming one to
three cases. Then ``VACUUM ANALYZE`` (not timed), and for each form of query ``--runs`` different
queries drawn from the data, each a GET of the search page (``/search/?q=…``, rendered as a
senior analyst sees it, the redirect of a single hit turned off) after one warm-up: p50 and p95
per form, against the target of 200 ms. The case list's first page (no filter, and a country and
a state) is timed the same way, without a target.

It needs nothing but the database: no server, no broker (Celery's in-memory transport), no network.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

# Run as a script (`python bench/search.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
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
from bench._search.timing import FORMS, sample_queries, time_forms
from bench._search.world import fill, vacuum_analyze

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_search"
TARGET_MS = 200.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = bench_arguments(
        "Benchmark the workspace's search: every form of query, timed on a large database.",
        [
            ("--cases", int, 1_000_000, "cases to write"),
            ("--runs", int, 30, "queries per form, each a different value"),
            ("--sqlite", bool, False, "a SQLite file instead of PostgreSQL"),
            ("--keep", bool, False, "time the data of an earlier run (no recreate)"),
        ],
        seed="scart",
        seed_help="the data and the queries are the same for a seed",
    )
    args = parser.parse_args(argv)
    if args.cases < 100 or args.runs < 1:
        parser.error("--cases must be at least 100 and --runs at least 1")
    return args


def print_summary(results: dict[str, Any]) -> None:
    m, f = results["machine"], results["fill"]
    head = []
    if m["load"]:
        load = ", ".join(f"{x:.2f}" for x in m["load"])
        head.append(f"load      {load} (1, 5, 15-minute averages when the timing started)")
    if f.get("mode") == "kept":
        head.append("data      kept from an earlier run")
    else:
        head.append(
            f"data      {f['cases']:,} cases, {f['addresses']:,} addresses, {f['reports']:,} reports, "
            f"{f['notices']:,} notices, {f['providers']:,} providers; written in {f['seconds']:.0f} s"
        )
    head.append(f"runs      {results['runs']} different queries per form, GET of the page as a senior analyst")
    forms = [f"{'form':<24}{'p50':>10}{'p95':>10}{'max':>10}{'found':>8}{'SQL':>6}"]
    forms += [
        f"{name:<24}{t['p50_ms']:>7.1f} ms{t['p95_ms']:>7.1f} ms{t['max_ms']:>7.1f} ms"
        f"{t['found_median']:>8}{t['statements']:>6}"
        for name, t in results["forms"].items()
    ]
    print_report(m, m["database"], head, forms, targets=results["targets"], width=90)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = bench_database(DEFAULT_DATABASE_URL, sqlite=args.sqlite)
    with var_dir("search") as var:
        try:
            django_start(
                var,
                {"ALLOWED_HOSTS": "127.0.0.1", "CELERY_BROKER_URL": "memory://localhost/", "LOG_LEVEL": "WARNING"},
                database_url=database_url,
            )
            return run(args, database_url=database_url)
        finally:
            from django.db import connections

            with suppress(Exception):
                connections.close_all()


def run(args: argparse.Namespace, *, database_url: str) -> int:
    from django.utils import timezone

    anchor = timezone.now().replace(microsecond=0)
    if args.keep:
        filled: dict[str, Any] = {"mode": "kept"}
    else:
        database_migrate(database_url)
        say(f"writing {args.cases:,} cases")
        filled = fill(args, anchor)
    say("VACUUM ANALYZE (not timed)")
    vacuum_analyze()
    queries = sample_queries(args.runs, args.seed)
    machine = django_machine()
    say(f"timing each form ({args.runs} queries each after a warm-up)")
    forms = time_forms(queries)
    targets = [
        (
            f"search {form}",
            forms[form]["p95_ms"] < TARGET_MS,
            f"p95 {forms[form]['p95_ms']:.1f} ms (< {TARGET_MS:.0f} ms)",
        )
        for form in FORMS
    ]
    results = {
        "machine": machine,
        "fill": filled,
        "runs": args.runs,
        "forms": forms,
        "targets": targets,
        "queries": {form: values[:3] for form, values in queries.items()},
    }
    print_results(results, print_summary, as_json=args.json, default=str)
    return 0


if __name__ == "__main__":
    bench_main(main)
