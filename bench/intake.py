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
import math
import os
import platform
import queue
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"
LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}
REPORTS_PATH = "/api/v1/reports/"
COPY_TABLE = "bench_case_copy"
TARGET_URLS_PER_SECOND = 5_000
TARGET_SINGLE_P95_MS = 50.0


class BenchError(Exception):
    """The run cannot go on, or its results are wrong."""


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


def require_loopback(what: str, url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise BenchError(f"{what} must be on 127.0.0.1 (got host {host!r}): the bench sends no traffic elsewhere")


def say(message: str) -> None:
    """A progress line on stderr, with the time (the figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def unwind_on_sigterm() -> None:
    """A SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: peers stop, temporary files go."""

    def terminated(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)


def require_bench_database(url: str, *, sqlite_allowed: bool = False) -> None:
    """``url`` must be a local PostgreSQL database named for benches: the bench drops it."""
    require_loopback("DATABASE_URL", url)
    if not url.startswith(("postgres://", "postgresql://")):
        raise BenchError("DATABASE_URL must be a PostgreSQL URL" + (" (or use --sqlite)" if sqlite_allowed else ""))
    if "bench" not in urlsplit(url).path:
        raise BenchError("DATABASE_URL must name a database whose name contains 'bench': it is dropped and recreated")


def print_targets(targets: Sequence[tuple[str, bool, str]], line: str) -> None:
    """PASS or MISS per target, and the closing rule."""
    for name, ok, detail in targets:
        print(f"target    {'PASS' if ok else 'MISS'}  {name}: {detail}")
    print(line)


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


def pg_connect(url: str, *, dbname: str | None = None, autocommit: bool = True) -> Any:
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname=dbname or parts.path.lstrip("/"),
        autocommit=autocommit,
        connect_timeout=10,
    )


def database_recreate(url: str) -> None:
    """Drop and create the bench database. Refuses any database whose name does not say 'bench'."""
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise BenchError(f"refusing to drop database {name!r}: its name must contain 'bench' (or use --keep)")
    with pg_connect(url, dbname="postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_ensure(url: str) -> None:
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with pg_connect(url, dbname="postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def count_rows(url: str, table: str) -> int:
    from psycopg import sql

    with pg_connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0])


def redis_purge(url: str) -> str:
    """Empty the bench's Redis database; never database 0, which other things use."""
    import redis

    db = int(urlsplit(url).path.lstrip("/") or 0)
    if db == 0:
        return "not purged (database 0 is shared; give the bench a database of its own)"
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = client.dbsize()
        client.flushdb()
    finally:
        client.close()
    return f"purged database {db} ({keys} keys)"


# --- the server -------------------------------------------------------------------------------


def manage(env: dict[str, str], *args: str) -> str:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise BenchError(f"manage.py {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return completed.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def gunicorn(env: dict[str, str], *, workers: int, log_path: Path, timeout: float) -> Iterator[str]:
    """Run gunicorn as the Procfile does (sync workers) on a free loopback port; yields its base URL."""
    port = free_port()
    command = [
        str(VENV_BIN / "gunicorn"),
        "scart.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--timeout",
        str(int(timeout)),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process=process, log_path=log_path)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_healthy(base: str, *, process: subprocess.Popen[bytes] | None = None, log_path: Path | None = None) -> None:
    deadline = time.monotonic() + 60
    last = ""
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:] if log_path else ""
            raise BenchError(f"gunicorn exited with {process.returncode}:\n{tail}")
        try:
            status, body = http_request(Client(base, timeout=5), "GET", "/healthz")
            if status == 200:
                return
            last = f"{status} {body[:200]!r}"
        except OSError as exc:
            last = repr(exc)
        time.sleep(0.2)
    raise BenchError(f"{base}/healthz did not answer 200 within 60 s (last: {last})")


# --- HTTP client ------------------------------------------------------------------------------


class Client:
    """One HTTP/1.1 connection to the server, reopened when the server closes it.

    gunicorn's sync workers close the connection after every response, so with the Procfile's
    server this is a new TCP connection per request (cheap on loopback); a server with keep-alive
    would reuse it.
    """

    def __init__(self, base: str, *, timeout: float, key: str = "") -> None:
        parts = urlsplit(base)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            self.headers["Authorization"] = f"Api-Key {key}"
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def close(self) -> None:
        self.conn.close()


def http_request(
    client: Client, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    all_headers = {**client.headers, **(headers or {})}
    for attempt in (1, 2):
        try:
            client.conn.request(method, path, body=body, headers=all_headers)
            response = client.conn.getresponse()
            data = response.read()
            if response.will_close:
                client.conn.close()
            return response.status, data
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # A kept-alive connection the server had closed: reconnect once. Never retried for a
            # fresh connection, so a request is not sent twice after a real failure.
            client.conn.close()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


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


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``values``; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def latency_figures(seconds: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(seconds, 50) * 1000, 1),
        "p95_ms": round(percentile(seconds, 95) * 1000, 1),
        "p99_ms": round(percentile(seconds, 99) * 1000, 1),
        "max_ms": round(max(seconds, default=0) * 1000, 1),
    }


def host_facts() -> dict[str, Any]:
    """What every benchmark says of the machine: CPUs, their model, Python, Django, the OS, and the
    load averages (1, 5, 15 minutes) when it is asked."""
    import django

    cpu = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "django": django.get_version(),
        "os": platform.platform(),
        "load": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else [],
    }


def django_database() -> str:
    """The database of Django's connection, as the benchmarks print it: PostgreSQL's version and
    whether autovacuum runs (the figures depend on it), or SQLite's version."""
    from django.db import connection

    if connection.vendor != "postgresql":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()
    return f"PostgreSQL {version[0] if version else '?'} (autovacuum {autovacuum[0] if autovacuum else '?'})"


def django_machine() -> dict[str, Any]:
    """`host_facts` and Django's database: the machine line of the benches that run in Django."""
    return host_facts() | {"database": django_database()}


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

    var_dir = Path(tempfile.mkdtemp(prefix="scart-bench-"))
    env = server_environment(database_url=database_url, broker_url=broker_url, var_dir=var_dir)
    # The bench process normalises URLs with the same code as the server, so it loads the same settings.
    os.environ.update(
        {k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "SECRET_KEY", "DEBUG", "SCART_VAR_DIR")}
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    try:
        return run(args, env=env, database_url=database_url, broker_url=broker_url, var_dir=var_dir)
    finally:
        if not args.url:
            print(f"redis     {redis_purge(broker_url)}", file=sys.stderr)
        shutil.rmtree(var_dir, ignore_errors=True)


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
    print_summary(results)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(1)
