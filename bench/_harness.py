"""What every benchmark shares: the project root on the path, errors and progress lines, SIGTERM
unwinding, the bench database (local, named for benches, dropped and recreated, then migrated), Django set up
production-like in the bench process, machine facts, percentiles, the summary's table and target
lines, and the ``__main__`` skeleton (`bench_main`). The web server and HTTP client are in
`bench._server`, the peer processes and the synthetic worlds in `bench._world`.

A bench module keeps what it measures (its arguments, its world, its phases, its summary); it
imports this module and `devnet`, never another bench.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Run as a script (`python bench/x.py`): the project root is not on the path yet.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}
# Variables of the caller's environment that would point a bench at another database, broker or
# cache, or change the settings' test mode: a bench sets what it needs itself.
FOREIGN = ("DATABASE_URL", "CELERY_BROKER_URL", "SCART_CACHE_URL", "SCART_CACHE_PREFIX", "SCART_DEMO", "SCART_TESTING")


class BenchError(Exception):
    """The run cannot go on, or its results are wrong."""


# --- running ------------------------------------------------------------------------------


def say(message: str) -> None:
    """A progress line on stderr, with the time (the figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def require_loopback(what: str, url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise BenchError(f"{what} must be on 127.0.0.1 (got host {host!r}): the bench sends no traffic elsewhere")


def bench_arguments(
    description: str,
    options: Iterable[tuple[str, Any, Any, str | None]],
    *,
    seed: int | str = 4711,
    seed_help: str | None = "seed of the synthetic cases",
) -> argparse.ArgumentParser:
    """A bench's argument parser, with the defaults in ``--help``: one ``(name, type, default,
    help)`` per option (the type ``bool`` for a flag), then the seed of its world (of the type of
    ``seed``: a bench whose random generators are seeded with text takes text) and ``--json``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    for name, kind, default, text in options:
        if kind is bool:
            parser.add_argument(name, action="store_true", help=text)
        else:
            parser.add_argument(name, type=kind, default=default, help=text)
    parser.add_argument("--seed", type=type(seed), default=seed, help=seed_help)
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    return parser


# --- the summary ------------------------------------------------------------------------------


def print_report(
    machine: Mapping[str, Any],
    about: str,
    *sections: Sequence[str | tuple[str, str]],
    targets: Sequence[tuple[str, bool, str]],
    width: int = 100,
    name_width: int = 20,
) -> None:
    """The human summary: the machine (CPUs, Python, Django, then ``about``: the database or the
    load) and each section's lines between rules, a ``(name, value)`` pair as one aligned line;
    then PASS or MISS per target."""
    line = "-" * width
    m = machine
    print()
    print(line)
    print(f"machine   {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Django {m['django']}, {about}")
    for section in sections:
        for text in section:
            print(text if isinstance(text, str) else f"{text[0]:<{name_width}}{text[1]}")
        print(line)
    for name, ok, detail in targets:
        print(f"target    {'PASS' if ok else 'MISS'}  {name}: {detail}")
    print(line)


# --- PostgreSQL and Redis -----------------------------------------------------------------


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


def database_migrate(url: str) -> None:
    """In the Django `django_start` set up: drop, create and migrate the PostgreSQL database of
    ``url``, or, for "", migrate the fresh SQLite file of the var dir."""
    from django.conf import settings
    from django.core.management import call_command

    if url:
        say(f"recreating database {urlsplit(url).path.lstrip('/')} and migrating")
        database_recreate(url)
    else:
        say(f"migrating a fresh SQLite database in {settings.VAR_DIR}")
    call_command("migrate", "--noinput", verbosity=0)


def bench_redis(variable: str, default: str) -> str:
    """The Redis URL in ``variable`` (``default`` when unset), which must be on 127.0.0.1."""
    url = os.environ.get(variable, default)
    require_loopback(variable, url)
    if not url.startswith("redis://"):
        raise BenchError(f"{variable} must be a Redis URL")
    return url


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


# --- figures ------------------------------------------------------------------------------


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TABLE = {
    "SELECT": re.compile(r'\bFROM "(\w+)"'),
    "INSERT": re.compile(r'\bINTO "(\w+)"'),
    "UPDATE": re.compile(r'^\s*UPDATE "(\w+)"'),
    "DELETE": re.compile(r'\bFROM "(\w+)"'),
}


def sql_shape(sql: str) -> str:
    """``UPDATE reports_case``: the statement's kind and (first) table, to add up time by."""
    kind = sql.lstrip()[:6].upper()
    pattern = _TABLE.get(kind)
    if pattern is None:
        return kind.strip()
    match = pattern.search(sql)
    return f"{kind} {match.group(1) if match else '?'}"


@dataclass
class SqlTally:
    """A Django execute wrapper (``connection.execute_wrapper(tally)``) that counts the SQL
    statements run and the seconds spent waiting for them, and with ``shapes`` adds both up by
    `sql_shape` ("UPDATE reports_case": [count, seconds])."""

    statements: int = 0
    seconds: float = 0.0
    shapes: bool = False
    by_shape: dict[str, list[float]] = field(default_factory=dict)

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            self.statements += 1
            self.seconds += spent
            if self.shapes:
                shape = self.by_shape.setdefault(sql_shape(sql), [0, 0.0])
                shape[0] += 1
                shape[1] += spent

    def add(self, other: SqlTally) -> None:
        self.statements += other.statements
        self.seconds += other.seconds
        for shape, (n, spent) in other.by_shape.items():
            mine = self.by_shape.setdefault(shape, [0, 0.0])
            mine[0] += n
            mine[1] += spent


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


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine from /proc/stat; (0, 0) where there is none."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


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


# --- the skeleton -----------------------------------------------------------------------------


def bench_database(default_url: str, *, sqlite: bool | None = None) -> str:
    """The bench's PostgreSQL database from ``DATABASE_URL`` (``default_url`` when unset), which
    must be local and named for benches, as the bench drops it; "" when ``sqlite`` (the bench's
    ``--sqlite``, None for a bench without one) is set: Django's default SQLite file in the var dir."""
    if sqlite:
        return ""
    url = os.environ.get("DATABASE_URL", default_url)
    require_loopback("DATABASE_URL", url)
    if not url.startswith(("postgres://", "postgresql://")):
        raise BenchError("DATABASE_URL must be a PostgreSQL URL" + (" (or use --sqlite)" if sqlite is not None else ""))
    if "bench" not in urlsplit(url).path:
        raise BenchError("DATABASE_URL must name a database whose name contains 'bench': it is dropped and recreated")
    return url


@contextmanager
def var_dir(name: str) -> Iterator[Path]:
    """A temporary ``SCART_VAR_DIR`` for the run (under ``TMPDIR``), removed at the end, also when
    the run is terminated (a SIGTERM from a CI timeout or `kill` unwinds like Ctrl-C)."""

    def terminated(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
    path = Path(tempfile.mkdtemp(prefix=f"scart-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def django_start(
    var: Path, environment: Mapping[str, str], *, database_url: str = "", unset: Iterable[str] = ()
) -> None:
    """Set Django up in this process, production-like: DEBUG off (it would also keep every SQL
    statement in memory), plain HTTP, a fresh secret key and field key, ``var`` as the var dir and
    ``database_url`` as the database (SQLite in ``var`` when ""), plus the bench's own
    ``environment``; `FOREIGN` and the names in ``unset`` are removed from the environment first."""
    for name in (*FOREIGN, *unset):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "scart.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            # A fresh key sealing secrets at rest (scart.sealing: a Fernet key, URL-safe base64).
            "SCART_FIELD_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "DEBUG": "0",
            "SCART_HTTPS": "0",
            "SCART_VAR_DIR": str(var),
            **({"DATABASE_URL": database_url} if database_url else {}),
            **environment,
        }
    )
    import django  # after the environment: the settings read it when Django loads them

    django.setup()


def print_results(
    results: dict[str, Any], summary: Callable[[dict[str, Any]], None], *, as_json: bool, default: Any = None
) -> None:
    """The human summary and, with ``--json``, the results as one JSON object on the last line."""
    summary(results)
    if as_json:
        print(json.dumps(results, default=default))


def bench_main(main: Callable[[], int]) -> None:
    """A bench's ``__main__``: exit with what ``main`` returns; a `BenchError` is one line on
    stderr and exit status 1."""
    try:
        sys.exit(main())
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        sys.exit(1)
