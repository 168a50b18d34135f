"""What every benchmark shares: the project root on the path, errors and progress lines, SIGTERM
unwinding, the bench database (local, named for benches, dropped and recreated), Django set up
production-like in the bench process, a gunicorn server, machine facts, percentiles and the
summary's target lines, and the ``__main__`` skeleton (`bench_main`).

A bench module keeps what it measures (its arguments, its world, its phases, its summary); it
imports this module and `devnet`, never another bench.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# Run as a script (`python bench/x.py`): the project root is not on the path yet.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", ""}


class BenchError(Exception):
    """The run cannot go on, or its results are wrong."""


# --- running ------------------------------------------------------------------------------


def say(message: str) -> None:
    """A progress line on stderr, with the time (the figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def unwind_on_sigterm() -> None:
    """A SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: peers stop, temporary files go."""

    def terminated(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)


def require_loopback(what: str, url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise BenchError(f"{what} must be on 127.0.0.1 (got host {host!r}): the bench sends no traffic elsewhere")


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


# --- the server ---------------------------------------------------------------------------


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


# --- figures ------------------------------------------------------------------------------


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
    """The bench's PostgreSQL database from ``DATABASE_URL`` (``default_url`` when unset), checked
    by `require_bench_database`; "" when ``sqlite`` (the bench's ``--sqlite``, None for a bench
    without one) is set: Django's default SQLite file in the var dir."""
    if sqlite:
        return ""
    url = os.environ.get("DATABASE_URL", default_url)
    require_bench_database(url, sqlite_allowed=sqlite is not None)
    return url


@contextmanager
def var_dir(name: str) -> Iterator[Path]:
    """A temporary ``SCART_VAR_DIR`` for the run (under ``TMPDIR``), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix=f"scart-bench-{name}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def django_start(var: Path, environment: Mapping[str, str], *, unset: Iterable[str] = ()) -> None:
    """Set Django up in this process, production-like: DEBUG off (it would also keep every SQL
    statement in memory), plain HTTP, a fresh secret key and ``var`` as the var dir, plus the
    bench's own ``environment``; the names in ``unset`` are removed from the environment first."""
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "scart.settings",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DEBUG": "0",
            "SCART_HTTPS": "0",
            "SCART_VAR_DIR": str(var),
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
