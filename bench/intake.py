"""Intake benchmark: the reports API on PostgreSQL + Redis against PostgreSQL COPY of the same rows.

    .venv/bin/python bench/intake.py                 # full run: 200,000 URLs, starts its own gunicorn
    .venv/bin/python bench/intake.py --urls 20000    # a quick one
    .venv/bin/python bench/intake.py --url http://127.0.0.1:8000 --key scart_... --keep

What it does, in order (bench/README.md has the details):

1. drops and recreates the database of ``DATABASE_URL`` (default ``scart_bench``; ``--keep`` skips
   this), migrates it, creates a partner key with a high rate limit;
2. starts ``gunicorn scart.wsgi`` on a free port of 127.0.0.1 and waits for ``/healthz``;
3. posts ``--urls`` synthetic URLs (``--dup-ratio`` of them repeat earlier ones) in batches of
   ``--batch`` from ``--concurrency`` client threads, then ``--singles`` one-URL reports from one
   client; checks every response and the number of cases in the database;
4. writes the distinct rows of step 3 with ``COPY`` into a copy of ``reports_case`` (same indexes)
   as the physical reference;
5. prints the figures (``--json`` for machine-readable output), stops gunicorn and purges the
   Redis database the run used.

No traffic leaves 127.0.0.1: the server, PostgreSQL and Redis must all be on the loopback
interface, the URLs are on reserved example domains, and no Celery worker runs (the resolution
messages the intake enqueues stay in the bench's own Redis database and are purged at the end).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a script (`python bench/intake.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    BenchError,
    bench_arguments,
    bench_main,
    bench_redis,
    database_ensure,
    database_recreate,
    django_start,
    host_facts,
    latency_figures,
    pg_connect,
    print_report,
    print_results,
    redis_purge,
    require_loopback,
    say,
    var_dir,
)
from bench._intake.load import Totals, generate_stream, run_batches, run_singles
from bench._intake.reference import canonical_rows, copy_reference, count_rows
from bench._server import gunicorn, manage, wait_healthy

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"
TARGET_URLS_PER_SECOND = 5_000
TARGET_SINGLE_P95_MS = 50.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = bench_arguments(
        "Benchmark URL intake through the API against PostgreSQL COPY.",
        [
            ("--urls", int, 200_000, "URLs in the batch phase"),
            ("--batch", int, 1_000, "URLs per report in the batch phase"),
            ("--dup-ratio", float, 0.3, "share of URLs repeating an earlier one"),
            ("--concurrency", int, 4, "client threads posting batches"),
            ("--singles", int, 2_000, "one-URL reports, sent one after the other"),
            ("--web-workers", int, 3, "gunicorn sync workers"),
            ("--url", str, "", "use this running server (on 127.0.0.1) instead of starting one"),
            ("--key", str, "", "API key for --url"),
            ("--keep", bool, False, "do not drop and recreate the database"),
            ("--idempotency", bool, False, "send an Idempotency-Key with every request"),
            ("--timeout", float, 120.0, "seconds per HTTP request"),
        ],
        seed_help="seed of the URL generator",
    )
    args = parser.parse_args(argv)
    if args.url and not args.key:
        parser.error("--url needs --key")
    if not 0 <= args.dup_ratio < 1:
        parser.error("--dup-ratio must be in [0, 1)")
    if args.urls < 1 or args.batch < 1 or args.concurrency < 1 or args.web_workers < 1:
        parser.error("--urls, --batch, --concurrency and --web-workers must be positive")
    return args


def server_environment(*, database_url: str, broker_url: str, var_dir: Path) -> dict[str, str]:
    """The environment of manage.py and gunicorn: production-like (DEBUG off) but plain HTTP."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="scart.settings",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        SCART_CACHE_URL=broker_url,
        SCART_CACHE_PREFIX="scart-bench",
        SECRET_KEY=secrets.token_urlsafe(50),
        DEBUG="0",
        SCART_HTTPS="0",
        ALLOWED_HOSTS="127.0.0.1",
        SCART_VAR_DIR=str(var_dir),
        SCART_API_THROTTLE="100000/min",
        LOG_LEVEL="WARNING",
    )
    return env


def machine(database_url: str) -> dict[str, Any]:
    with pg_connect(database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return host_facts() | {"postgres": row[0] if row else "?"}


def print_summary(results: dict[str, Any]) -> None:
    m, b, s, c, cfg = results["machine"], results["batches"], results["singles"], results["copy"], results["settings"]
    head = [
        f"settings  gunicorn sync workers: {cfg['web_workers']}, client threads: {cfg['concurrency']}, "
        f"batch: {cfg['batch']}, duplicates: {cfg['dup_ratio']:.0%}, seed: {cfg['seed']}",
    ]
    figures = [
        ("API batches", f"{b['urls']:,} URLs in {b['requests']} reports of {cfg['batch']:,}, {b['seconds']:.1f} s"),
        ("  throughput", f"{b['urls_per_second']:,.0f} URLs/s ({b['new_cases_per_second']:,.0f} new cases/s)"),
        (
            "  per batch",
            "p50 {p50_ms:.0f} ms  p95 {p95_ms:.0f} ms  p99 {p99_ms:.0f} ms  max {max_ms:.0f} ms".format(**b),
        ),
        ("  outcome", f"{b['new']:,} new cases, {b['duplicates']:,} duplicates, {b['rejected']} rejected"),
        ("single-URL reports", f"{s['requests']:,} sequential, {s['seconds']:.1f} s"),
        (
            "  per report",
            "p50 {p50_ms:.1f} ms  p95 {p95_ms:.1f} ms  p99 {p99_ms:.1f} ms  max {max_ms:.1f} ms".format(**s),
        ),
        ("COPY reference", f"{c['rows']:,} rows in {c['seconds']:.2f} s = {c['rows_per_second']:,.0f} rows/s"),
        (
            "  API / COPY",
            f"{c['api_over_copy']:.3f} (new cases/s through the API ÷ COPY rows/s; COPY is {c['copy_speedup']:.1f}x faster)",
        ),
        ("database check", results["check"]),
    ]
    print_report(m, f"PostgreSQL {m['postgres']}", head, figures, targets=results["targets"], width=78)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    require_loopback("DATABASE_URL", database_url)
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise BenchError("DATABASE_URL must be a PostgreSQL URL")
    broker_url = bench_redis("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    if args.url:
        require_loopback("--url", args.url)

    with var_dir("intake") as var:
        env = server_environment(database_url=database_url, broker_url=broker_url, var_dir=var)
        # The bench process normalises URLs with the same code as the server, so it loads the same settings.
        django_start(var, {}, database_url=database_url)
        try:
            return run(args, env=env, database_url=database_url, broker_url=broker_url, var_dir=var)
        finally:
            if not args.url:
                print(f"redis     {redis_purge(broker_url)}", file=sys.stderr)


def run(args: argparse.Namespace, *, env: dict[str, str], database_url: str, broker_url: str, var_dir: Path) -> int:

    if args.url or args.keep:
        database_ensure(database_url)
    else:
        say(f"recreating database {urlsplit(database_url).path.lstrip('/')}")
        database_recreate(database_url)
    if not args.url:
        say("migrating")
        manage(env, "migrate", "--noinput")
    fresh = count_rows(database_url, "reports_case") == 0

    say(f"generating {args.urls:,} URLs ({args.dup_ratio:.0%} repeats) and {args.singles:,} single URLs")
    stream = generate_stream(count=args.urls, dup_ratio=args.dup_ratio, seed=args.seed, namespace="host")
    singles_stream = generate_stream(count=args.singles, dup_ratio=args.dup_ratio, seed=args.seed, namespace="single")
    batches = [stream.urls[i : i + args.batch] for i in range(0, len(stream.urls), args.batch)]
    rows = canonical_rows(stream.urls)
    say(f"{len(rows):,} distinct canonical URLs in the batch stream")

    def load(base: str, key: str) -> tuple[Totals, float, Totals, float, int, int, int]:
        # Warm every worker up (imports, first connection) with URLs of their own.
        warm = generate_stream(count=args.web_workers * 20, dup_ratio=0, seed=args.seed, namespace="warmup")
        run_batches(
            base,
            key,
            [warm.urls[i : i + 10] for i in range(0, len(warm.urls), 10)],
            concurrency=args.web_workers,
            args=args,
        )
        before = count_rows(database_url, "reports_case")
        say(f"posting {len(batches)} batches from {args.concurrency} threads to {base}")
        started = time.perf_counter()
        batch_totals = run_batches(base, key, batches, concurrency=args.concurrency, args=args)
        batch_seconds = time.perf_counter() - started
        middle = count_rows(database_url, "reports_case")
        say(f"posting {len(singles_stream.urls):,} single-URL reports")
        started = time.perf_counter()
        single_totals = run_singles(base, key, singles_stream.urls, args=args)
        single_seconds = time.perf_counter() - started
        after = count_rows(database_url, "reports_case")
        return batch_totals, batch_seconds, single_totals, single_seconds, before, middle, after

    if args.url:
        wait_healthy(args.url)
        outcome = load(args.url, args.key)
        workers = "external"
    else:
        say("creating a partner key")
        key = manage(env, "create_api_key", "bench", "--label", "bench", "--rate", "100000/min").strip()
        say(f"starting gunicorn with {args.web_workers} workers")
        with gunicorn(env, workers=args.web_workers, log_path=var_dir / "gunicorn.log", timeout=args.timeout) as base:
            outcome = load(base, key)
        workers = args.web_workers
    batch_totals, batch_seconds, single_totals, single_seconds, before, middle, after = outcome

    errors = batch_totals.errors + single_totals.errors
    if errors:
        raise BenchError(f"{len(errors)} failed requests, first: {errors[0]}")
    problems = []
    if batch_totals.accepted != len(stream.urls):
        problems.append(f"{batch_totals.accepted} URLs accepted of {len(stream.urls)} sent")
    if middle - before != batch_totals.new:
        problems.append(f"{middle - before} cases created but the responses say {batch_totals.new} new")
    if fresh and batch_totals.new != len(rows):
        problems.append(f"{batch_totals.new} new cases for {len(rows)} distinct canonical URLs")
    if after - middle != single_totals.new:
        problems.append(f"{after - middle} cases created by single reports, responses say {single_totals.new}")
    if problems:
        raise BenchError("; ".join(problems))
    check = (
        f"OK: every response 201 with matching counts; {middle - before:,} new cases"
        + (f" = {len(rows):,} distinct canonical URLs" if fresh else " (the database was not empty)")
        + f"; {after:,} cases in all (with warm-up and singles)"
    )

    say(f"COPY of {len(rows):,} rows")
    copy_seconds = copy_reference(database_url, rows)

    urls_per_second = len(stream.urls) / batch_seconds
    new_per_second = batch_totals.new / batch_seconds
    copy_rate = len(rows) / copy_seconds
    single_lat = latency_figures(single_totals.latencies)
    results: dict[str, Any] = {
        "machine": machine(database_url),
        "settings": {
            "web_workers": workers,
            "concurrency": args.concurrency,
            "batch": args.batch,
            "dup_ratio": args.dup_ratio,
            "seed": args.seed,
            "idempotency_key": args.idempotency,
        },
        "batches": {
            "urls": len(stream.urls),
            "requests": batch_totals.requests,
            "seconds": round(batch_seconds, 2),
            "urls_per_second": round(urls_per_second),
            "new_cases_per_second": round(new_per_second),
            "new": batch_totals.new,
            "duplicates": batch_totals.duplicates,
            "rejected": batch_totals.rejected,
            **latency_figures(batch_totals.latencies),
        },
        "singles": {
            "requests": single_totals.requests,
            "seconds": round(single_seconds, 2),
            **single_lat,
        },
        "copy": {
            "rows": len(rows),
            "seconds": round(copy_seconds, 3),
            "rows_per_second": round(copy_rate),
            "api_over_copy": round(new_per_second / copy_rate, 4),
            "copy_speedup": round(copy_rate / new_per_second, 1),
        },
        "check": check,
        "targets": [
            (
                f"API throughput >= {TARGET_URLS_PER_SECOND:,} URLs/s",
                urls_per_second >= TARGET_URLS_PER_SECOND,
                f"{urls_per_second:,.0f} URLs/s",
            ),
            (
                f"single-URL report p95 < {TARGET_SINGLE_P95_MS:.0f} ms",
                single_lat["p95_ms"] < TARGET_SINGLE_P95_MS,
                f"{single_lat['p95_ms']:.1f} ms",
            ),
        ],
    }
    print_results(results, print_summary, as_json=args.json)
    return 0


if __name__ == "__main__":
    bench_main(main)
