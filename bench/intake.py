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
import http.client
import json
import os
import queue
import random
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a script (`python bench/intake.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    BenchError,
    Client,
    bench_main,
    database_ensure,
    database_recreate,
    gunicorn,
    host_facts,
    http_request,
    latency_figures,
    manage,
    pg_connect,
    print_results,
    print_targets,
    redis_purge,
    require_loopback,
    say,
    var_dir,
    wait_healthy,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"
REPORTS_PATH = "/api/v1/reports/"
COPY_TABLE = "bench_case_copy"
TARGET_URLS_PER_SECOND = 5_000
TARGET_SINGLE_P95_MS = 50.0


# --- configuration ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark URL intake through the API against PostgreSQL COPY.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--urls", type=int, default=200_000, help="URLs in the batch phase")
    parser.add_argument("--batch", type=int, default=1_000, help="URLs per report in the batch phase")
    parser.add_argument("--dup-ratio", type=float, default=0.3, help="share of URLs repeating an earlier one")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads posting batches")
    parser.add_argument("--singles", type=int, default=2_000, help="one-URL reports, sent one after the other")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--seed", type=int, default=4711, help="seed of the URL generator")
    parser.add_argument("--url", default="", help="use this running server (on 127.0.0.1) instead of starting one")
    parser.add_argument("--key", default="", help="API key for --url")
    parser.add_argument("--keep", action="store_true", help="do not drop and recreate the database")
    parser.add_argument("--idempotency", action="store_true", help="send an Idempotency-Key with every request")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON object")
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


# --- PostgreSQL and Redis ---------------------------------------------------------------------


def count_rows(url: str, table: str) -> int:
    from psycopg import sql

    with pg_connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0])


# --- the URL stream ---------------------------------------------------------------------------


@dataclass(slots=True)
class Stream:
    urls: list[str]
    repeats: int  # positions that repeat an earlier URL (exactly or in a variant with the same canonical form)


def generate_stream(*, count: int, dup_ratio: float, seed: int, namespace: str) -> Stream:
    """``count`` URLs on reserved example domains; ``dup_ratio`` of them repeat an earlier URL.

    Hosts are spread over example.com, example.net and example.org (thousands of host names, some
    with ports and plain http). A repeat is the same string two times in three, otherwise a variant
    that normalises to the same case (upper-case scheme and host, a fragment).
    """
    rng = random.Random(f"{seed}:{namespace}")
    repeats = set(rng.sample(range(1, count), round((count - 1) * dup_ratio))) if count > 1 else set()
    fresh: list[str] = []
    urls: list[str] = []
    for position in range(count):
        if position in repeats:
            url = rng.choice(fresh)
            if rng.random() < 1 / 3:
                scheme, rest = url.split("://", 1)
                host, _, path = rest.partition("/")
                url = f"{scheme.upper()}://{host.upper()}/{path}#frag{rng.randrange(100)}"
            urls.append(url)
            continue
        n = len(fresh)
        domain = rng.choices(("example.com", "example.net", "example.org"), weights=(6, 3, 1))[0]
        host = f"{namespace}{rng.randrange(20_000)}.{domain}"
        if rng.random() < 0.2:
            host = f"cdn{rng.randrange(50)}.{host}"
        scheme = "http" if rng.random() < 0.15 else "https"
        port = f":{rng.choice((8080, 8443, 81))}" if rng.random() < 0.03 else ""
        depth = "/".join(f"d{rng.randrange(1000)}" for _ in range(rng.randrange(1, 4)))
        url = f"{scheme}://{host}{port}/{depth}/item/{n}?q={rng.randrange(10**6)}&s={seed}"
        if rng.random() < 0.3:
            url += f"&page={rng.randrange(1, 50)}"
        fresh.append(url)
        urls.append(url)
    return Stream(urls=urls, repeats=len(repeats))


# --- load -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Totals:
    requests: int = 0
    accepted: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Totals) -> None:
        self.requests += other.requests
        self.accepted += other.accepted
        self.new += other.new
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.errors.extend(other.errors)
        self.latencies.extend(other.latencies)


def post_report(client: Client, urls: list[str], totals: Totals, *, idempotency_key: str = "") -> None:
    """Post one report, time it (request to last byte of the response) and check its counts."""
    body = json.dumps({"urls": urls, "external_ref": "bench"}).encode()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    started = time.perf_counter()
    status, data = http_request(client, "POST", REPORTS_PATH, body, headers)
    totals.latencies.append(time.perf_counter() - started)
    totals.requests += 1
    if status != 201:
        totals.errors.append(f"HTTP {status}: {data[:300]!r}")
        return
    answer = json.loads(data)
    totals.accepted += answer["accepted"]
    totals.new += answer["new"]
    totals.duplicates += answer["duplicates"]
    totals.rejected += answer["rejected"]
    if answer["accepted"] != len(urls) or answer["new"] + answer["duplicates"] != answer["accepted"]:
        totals.errors.append(f"counts do not add up for {len(urls)} URLs: {answer['accepted']} accepted")


def run_batches(base: str, key: str, batches: list[list[str]], *, concurrency: int, args: argparse.Namespace) -> Totals:
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(batches)):
        work.put(index)
    per_thread = [Totals() for _ in range(concurrency)]
    run_id = secrets.token_hex(4)

    def worker(totals: Totals) -> None:
        client = Client(base, timeout=args.timeout, key=key)
        try:
            while True:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                idem = f"bench-{run_id}-{index}" if args.idempotency else ""
                try:
                    post_report(client, batches[index], totals, idempotency_key=idem)
                except (OSError, http.client.HTTPException) as exc:
                    totals.errors.append(f"batch {index}: {exc!r}")
                    client.close()
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals = Totals()
    for t in per_thread:
        totals.add(t)
    return totals


def run_singles(base: str, key: str, urls: list[str], *, args: argparse.Namespace) -> Totals:
    totals = Totals()
    client = Client(base, timeout=args.timeout, key=key)
    try:
        for index, url in enumerate(urls):
            idem = f"bench-single-{secrets.token_hex(4)}-{index}" if args.idempotency else ""
            post_report(client, [url], totals, idempotency_key=idem)
    finally:
        client.close()
    return totals


# --- COPY reference ---------------------------------------------------------------------------


def canonical_rows(urls: list[str]) -> list[tuple[Any, ...]]:
    """One row per distinct canonical URL, first reported form kept: what the intake stores."""
    from reports.bulk import url_values
    from reports.urls import UrlRejected, normalise_url

    at = datetime.now(UTC)
    rows: dict[str, tuple[Any, ...]] = {}
    for raw in urls:
        try:
            norm = normalise_url(raw)
        except UrlRejected:
            continue
        if norm.sha256 in rows:
            continue
        rows[norm.sha256] = (*url_values(raw, norm), "new", at, at, at, 1, at, 0, "{}")
    return list(rows.values())


def copy_reference(database_url: str, rows: list[tuple[Any, ...]]) -> float:
    """COPY ``rows`` into a fresh table shaped like reports_case (same indexes); returns seconds."""
    from psycopg import sql

    from reports.bulk import CASE_COLUMNS

    columns = sql.SQL(", ").join(sql.Identifier(c) for c in CASE_COLUMNS)
    with pg_connect(database_url) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(COPY_TABLE)))
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE reports_case INCLUDING ALL)").format(sql.Identifier(COPY_TABLE)))
        conn.autocommit = False
        started = time.perf_counter()
        with conn.cursor() as cursor:
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(COPY_TABLE), columns)
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.autocommit = True
        copied = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(COPY_TABLE))).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(COPY_TABLE)))
    if copied is None or copied[0] != len(rows):
        raise BenchError(f"COPY wrote {copied} rows instead of {len(rows)}")
    return elapsed


# --- figures ----------------------------------------------------------------------------------


def machine(database_url: str) -> dict[str, Any]:
    with pg_connect(database_url) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return host_facts() | {"postgres": row[0] if row else "?"}


def print_summary(results: dict[str, Any]) -> None:
    m, b, s, c, cfg = results["machine"], results["batches"], results["singles"], results["copy"], results["settings"]
    line = "-" * 78
    print()
    print(line)
    print(
        f"machine   {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Django {m['django']}, PostgreSQL {m['postgres']}"
    )
    print(
        f"settings  gunicorn sync workers: {cfg['web_workers']}, client threads: {cfg['concurrency']}, "
        f"batch: {cfg['batch']}, duplicates: {cfg['dup_ratio']:.0%}, seed: {cfg['seed']}"
    )
    print(line)
    rows = [
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
    for name, value in rows:
        print(f"{name:<20}{value}")
    print(line)
    print_targets(results["targets"], line)


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    broker_url = os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    require_loopback("DATABASE_URL", database_url)
    require_loopback("CELERY_BROKER_URL", broker_url)
    if args.url:
        require_loopback("--url", args.url)
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise BenchError("DATABASE_URL must be a PostgreSQL URL")
    if not broker_url.startswith("redis://"):
        raise BenchError("CELERY_BROKER_URL must be a Redis URL")

    with var_dir("intake") as var:
        env = server_environment(database_url=database_url, broker_url=broker_url, var_dir=var)
        # The bench process normalises URLs with the same code as the server, so it loads the same settings.
        os.environ.update(
            {k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SECRET_KEY", "DEBUG", "SCART_VAR_DIR")}
        )
        import django

        django.setup()
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
