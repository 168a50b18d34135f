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
import bisect
import functools
import hashlib
import itertools
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

# Run as a script (`python bench/stats.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    BenchError,
    bench_database,
    bench_main,
    database_recreate,
    django_machine,
    django_start,
    print_results,
    print_targets,
    say,
    unwind_on_sigterm,
    var_dir,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_stats"
QUERY_TARGET_MS = 300.0
PAGE_TARGET_MS = 1000.0
CHUNK = 100_000
HOUR = 3600.0
FOREIGN = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SCART_CACHE_URL",
    "SCART_CACHE_PREFIX",
    "SCART_DEMO",
    "SCART_TESTING",
)

# The synthetic distribution (shares, and log-normal durations as (median hours, sigma)), shaped
# after a history of 20,000 cases made by `devnet.history`.
SHAPE: dict[str, Any] = {
    "days": 730,
    "illegal": 0.68,
    "channels": {"api": 46, "bulk_import": 24, "web_form": 16, "mailbox": 14},
    "assess": (4.8, 1.6),
    "notice": (0.4, 0.8),
    "removal": (34.0, 1.0),
    "unreachable_after": (24.0, 1.0),  # after the 72 hours
    # Of the illegal cases with a notice: how they end (the rest: removed after the notice).
    "before_notice": 0.02,
    "unreachable": 0.05,
    "never": 0.05,
    "manual": 0.01,
    "reappeared": 0.01,
    "unknown_provider": 0.03,
    "categories": {"B2": 33, "B1": 27, "A1": 22, "A2": 18},
    "national": 0.2,
    "ai_generated": {"no": 85, "unknown": 8, "yes": 4, "suspected": 3},
    # Countries of the providers: the hotline's own, where a partner hotline works, elsewhere.
    "home": ("NL", 0.45),
    "partner": (("DE", "US", "FR", "GB", "BE", "CA", "SE", "PL"), 0.35),
    "elsewhere": ("RU", "HK", "UA", "SG", "MD", "TR", "VN", "PA", "SC", "KZ"),
}
WORKING_SHARE = 40 / 168  # a week's working hours in its hours
FIRST_ASN = 4_200_000_000  # the 4-byte private-use range (RFC 6996)

CASE_COLUMNS = (
    "id",
    "url_sha256",
    "canonical_url",
    "original_url",
    "scheme",
    "host",
    "registrable_domain",
    "is_ip",
    "unresolvable",
    "had_credentials",
    "state",
    "state_changed_at",
    "first_reported_at",
    "last_reported_at",
    "report_count",
    "resolve_attempts",
    "resolution",
    "provider_id",
    "hosting_country",
    "asn",
    "verdict",
    "assessed_at",
    "removed_at",
    "removal_kind",
)
TIMING_COLUMNS = (
    "case_id",
    "url_sha256",
    "first_reported_at",
    "reported_week",
    "first_verdict_at",
    "illegal",
    "first_notice_at",
    "removed_at",
    "last_online_at",
    "removal_kind",
    "still_online",
    "reappeared",
    "route",
    "channel",
    "provider_id",
    "asn",
    "hosting_country",
    "legal_basis",
    "category",
    "ai_generated",
    "assess_s",
    "notice_s",
    "report_notice_s",
    "removal_s",
    "report_removal_s",
    "assess_wh",
    "notice_wh",
    "report_notice_wh",
    "removal_wh",
    "report_removal_wh",
    "refreshed_at",
)


# --- configuration ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the statistics dashboard: every query and the whole page over many cases.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--cases", type=int, default=None, help="cases (default 1,000,000; 100,000 with --quick)")
    parser.add_argument("--providers", type=int, default=None, help="hosting providers (default: cases / 500)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per query and page (default 7; 3 --quick)")
    parser.add_argument("--quick", action="store_true", help="100,000 cases and 3 runs, unless given")
    parser.add_argument("--query", default="", help="the dashboard's query string (filters), e.g. 'country=DE'")
    parser.add_argument("--demo", action="store_true", help="fill with devnet.history's full timelines (slow)")
    parser.add_argument("--keep", action="store_true", help="reuse the database as the last run left it (no fill)")
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite database instead of PostgreSQL")
    parser.add_argument("--seed", type=int, default=4711, help="seed of the synthetic cases")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = parser.parse_args(argv)
    args.cases = args.cases if args.cases is not None else (100_000 if args.quick else 1_000_000)
    args.runs = args.runs if args.runs is not None else (3 if args.quick else 7)
    args.providers = args.providers if args.providers is not None else max(1, args.cases // 500)
    if args.cases < 1 or args.runs < 1 or args.providers < 1:
        parser.error("--cases, --runs and --providers must be positive")
    if args.keep and args.sqlite:
        parser.error("--keep reuses a PostgreSQL database; a --sqlite one is gone after the run")
    return args


# --- the synthetic cases ----------------------------------------------------------------------


def _weighted(rng: random.Random, weights: dict[str, int]) -> Callable[[], str]:
    keys = list(weights)
    cumulative = list(itertools.accumulate(weights.values()))
    total = cumulative[-1]
    return lambda: keys[bisect.bisect_right(cumulative, rng.random() * total)]


def providers_build(args: argparse.Namespace) -> list[str]:
    """The country of each provider (the same for the same seed)."""
    rng = random.Random(f"{args.seed}:providers")
    home, home_share = SHAPE["home"]
    partners, partner_share = SHAPE["partner"]
    countries = []
    for _ in range(args.providers):
        r = rng.random()
        if r < home_share:
            countries.append(home)
        elif r < home_share + partner_share:
            countries.append(rng.choice(partners))
        else:
            countries.append(rng.choice(SHAPE["elsewhere"]))
    return countries


def synthetic_rows(
    args: argparse.Namespace, countries: list[str], provider_ids: list[int], anchor: datetime
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """(case row, timing row) per case, in the order of `CASE_COLUMNS` and `TIMING_COLUMNS`."""
    from stats.models import week_of

    rng = random.Random(f"{args.seed}:cases")
    home = SHAPE["home"][0]
    partners = set(SHAPE["partner"][0])
    ranking = list(range(len(countries)))
    rng.shuffle(ranking)
    zipf = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(countries))))
    channel = _weighted(rng, SHAPE["channels"])
    category = _weighted(rng, SHAPE["categories"])
    ai = _weighted(rng, SHAPE["ai_generated"])
    span = SHAPE["days"] * 86_400

    def hours(key: str) -> timedelta:
        median, sigma = SHAPE[key]
        return timedelta(hours=rng.lognormvariate(math.log(median), sigma))

    for n in range(1, args.cases + 1):
        # Ids in the order of the first report, as the intake makes them (the planner counts on it).
        reported = anchor - timedelta(seconds=span * (1 - (n - 1 + rng.random()) / args.cases))
        if rng.random() < SHAPE["unknown_provider"]:
            owner, provider_id, country = None, None, ""
        else:
            owner = ranking[bisect.bisect_left(zipf, rng.random() * zipf[-1])]
            provider_id, country = provider_ids[owner], countries[owner]
        asn = FIRST_ASN + owner if owner is not None else None
        host = f"i{n % 97}.p{owner if owner is not None else 'x'}.bench-stats.example.com"
        url = f"https://{host}/item/{n}.jpg"
        sha = hashlib.sha256(url.encode()).hexdigest()
        verdict_at: datetime | None = reported + hours("assess")
        if verdict_at is not None and verdict_at > anchor:
            verdict_at = None
        illegal = verdict_at is not None and rng.random() < SHAPE["illegal"]
        notice_at = removed_at = last_online = None
        kind, route, reappeared = "", "none", 0
        if illegal and verdict_at is not None:
            notice_at = verdict_at + hours("notice")
            if notice_at > anchor:
                notice_at = None
            else:
                route = "own_country" if country == home else "partner_hotline" if country in partners else "police"
                r = rng.random()
                if r < SHAPE["before_notice"]:
                    kind, removed_at = "before_notice", verdict_at + (notice_at - verdict_at) * rng.random()
                elif r < SHAPE["before_notice"] + SHAPE["unreachable"]:
                    kind, removed_at = "unreachable", notice_at + timedelta(hours=72) + hours("unreachable_after")
                elif r < SHAPE["before_notice"] + SHAPE["unreachable"] + SHAPE["never"]:
                    kind = ""
                else:
                    manual = r > 1 - SHAPE["manual"]
                    kind, removed_at = ("manual" if manual else "gone"), notice_at + hours("removal")
                if removed_at is not None and removed_at > anchor:
                    kind, removed_at = "", None
                if removed_at is not None:
                    last_online = removed_at - timedelta(minutes=30)
                    reappeared = 1 if rng.random() < SHAPE["reappeared"] else 0
        if verdict_at is None:
            state, verdict = "awaiting_assessment", ""
        elif not illegal:
            state, verdict = "not_illegal", "not_illegal"
        else:
            verdict = "illegal"
            state = "removed" if removed_at else "notified" if notice_at else "illegal"
        after_notice = kind in ("gone", "manual")
        durations = [
            _seconds(reported, verdict_at),
            _seconds(verdict_at, notice_at),
            _seconds(reported, notice_at),
            _seconds(notice_at, removed_at) if after_notice else None,
            _seconds(reported, removed_at) if kind != "unreachable" else None,
        ]
        case = (
            n,
            sha,
            url,
            url,
            "https",
            host,
            "bench-stats.example.com",
            False,
            False,
            False,
            state,
            reported,
            reported,
            reported,
            1,
            0,
            "{}",
            provider_id,
            country,
            asn,
            verdict,
            verdict_at,
            removed_at,
            kind,
        )
        timing = (
            n,
            sha,
            reported,
            week_of(reported),
            verdict_at,
            illegal,
            notice_at,
            removed_at,
            last_online,
            kind,
            illegal and removed_at is None,
            reappeared,
            route,
            channel(),
            provider_id,
            asn,
            country,
            ("national" if rng.random() < SHAPE["national"] else "baseline") if illegal else "",
            category() if illegal else "",
            ai() if verdict_at is not None else "",
            *durations,
            *(None if s is None else int(s * WORKING_SHARE) for s in durations),
            anchor,
        )
        yield case, timing


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds()))


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """``COPY`` on PostgreSQL, ``executemany`` elsewhere (datetimes as the backend stores them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        adapt = connection.ops.adapt_datetimefield_value
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [tuple(adapt(v) if isinstance(v, datetime) else v for v in row) for row in rows],
        )


def fill_synthetic(args: argparse.Namespace, anchor: datetime, say: Callable[[str], None]) -> dict[str, Any]:
    from django.db import connection, transaction

    from routing.models import Provider

    started = time.perf_counter()
    countries = providers_build(args)
    providers = Provider.objects.bulk_create(
        [
            Provider(
                name=f"Bench Hosting {i}",
                key=f"bench-stats:{i}",
                country=country,
                asns=[FIRST_ASN + i],
                abuse_emails=[f"abuse@p{i}.bench-stats.example.com"],
            )
            for i, country in enumerate(countries)
        ],
        batch_size=1_000,
    )
    provider_ids = [p.pk for p in providers]
    rows = synthetic_rows(args, countries, provider_ids, anchor)
    written = 0
    while True:
        chunk = list(itertools.islice(rows, CHUNK))
        if not chunk:
            break
        with transaction.atomic():
            insert_rows("reports_case", CASE_COLUMNS, [case for case, _ in chunk])
            insert_rows("stats_casetiming", TIMING_COLUMNS, [timing for _, timing in chunk])
        written += len(chunk)
        say(f"  {written:,} / {args.cases:,} cases  {time.perf_counter() - started:.0f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('reports_case', 'id'), (SELECT max(id) FROM reports_case))"
            )
    return {
        "mode": "synthetic",
        "cases": written,
        "providers": len(providers),
        "seconds": time.perf_counter() - started,
    }


def fill_demo(args: argparse.Namespace, anchor: datetime, say: Callable[[str], None]) -> dict[str, Any]:
    from devnet.history import demo_seed
    from stats.timings import timings_refresh_all

    def progress(done: int, total: int, seconds: float) -> None:
        say(f"  {done:,} / {total:,} cases  {seconds:.0f} s")

    started = time.perf_counter()
    summary = demo_seed(cases=args.cases, seed=args.seed, now=anchor, days=SHAPE["days"], progress=progress)
    seeded = time.perf_counter()
    say(f"seeded in {seeded - started:.0f} s; rebuilding the statistics table")
    written = timings_refresh_all(now=anchor)
    return {
        "mode": "demo",
        "cases": summary.cases,
        "rows": summary.rows,
        "seed_seconds": seeded - started,
        "refresh_seconds": time.perf_counter() - seeded,
        "timings": written,
        "seconds": time.perf_counter() - started,
    }


# --- timing -----------------------------------------------------------------------------------


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


def analyst_client() -> Any:
    """A test client logged in as an analyst who passed both factors."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.roles import GROUP_NAMES, Role

    user, _ = get_user_model().objects.get_or_create(username="bench-stats-analyst")
    user.groups.add(Group.objects.get_or_create(name=GROUP_NAMES[Role.ANALYST])[0])
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def time_pages(query: str, runs: int, say: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    from django.test.utils import override_settings
    from django.urls import reverse

    from stats.views import CHART_ALTS

    client = analyst_client()
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


# --- output -----------------------------------------------------------------------------------


def print_summary(results: dict[str, Any]) -> None:
    m, fill, db = results["machine"], results["fill"], results["database"]
    line = "-" * 100
    print()
    print(line)
    print(f"machine   {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Django {m['django']}, {m['database']}")
    if m["load"]:
        print(f"load      {m['load'][0]:.2f} (1-minute average when the timing started)")
    if "settings" in db:
        print("postgres  " + ", ".join(f"{k} {v}" for k, v in db["settings"].items()))
    if fill["mode"] == "kept":
        print(f"data      kept from an earlier run: {db['timings']:,} cases")
    else:
        print(f"data      {fill['cases']:,} cases ({fill['mode']}) written in {fill['seconds']:.0f} s")
    if "timing_mb" in db:
        print(
            f"tables    stats_casetiming {db['timing_mb']:,.0f} MB + {db['timing_index_mb']:,.0f} MB of indexes, "
            f"reports_case {db['case_mb']:,.0f} MB"
        )
    print(f"query     {results['query'] or '(none: every case, time to removal)'}; {results['runs']} runs each")
    print(line)
    print(f"{'query':<20}{'median':>10}{'min':>10}{'max':>10}{'CPU':>10}{'SQL':>6}")
    for name, q in results["queries"].items():
        print(
            f"{name:<20}{q['median_ms']:>7.1f} ms{q['min_ms']:>7.1f} ms{q['max_ms']:>7.1f} ms"
            f"{q['cpu_ms']:>7.1f} ms{q['statements']:>6}"
        )
    print(
        f"{'sum of the queries':<20}{results['queries_total_ms']:>7.1f} ms{'':>20}{results['queries_cpu_ms']:>7.1f} ms"
    )
    print(line)
    for name, p in results["pages"].items():
        print(
            f"{name:<26}{p['median_ms']:>7.1f} ms  (min {p['min_ms']:.1f}, max {p['max_ms']:.1f}, "
            f"CPU {p['cpu_ms']:.1f}; {p['bytes']:,} bytes)"
        )
    print("CPU: this process and its PostgreSQL backend (not parallel workers), the median of the runs")
    t = results["transparency"]
    if t is not None:
        print(
            f"{'transparency ' + str(t['year']):<26}{t['median_ms']:>7.1f} ms  ({t['notices']:,} notices, "
            f"{t['urls']:,} URLs, {t['providers']:,} providers; no target)"
        )
    print(line)
    print_targets(results["targets"], line)


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    unwind_on_sigterm()
    database_url = bench_database(DEFAULT_DATABASE_URL, sqlite=args.sqlite)

    with var_dir("stats") as var:
        try:
            django_start(
                var,
                {
                    "ALLOWED_HOSTS": "127.0.0.1",
                    "CELERY_BROKER_URL": "memory://localhost/",
                    "LOG_LEVEL": "WARNING",
                    **({"DATABASE_URL": database_url} if database_url else {}),
                },
                unset=FOREIGN,
            )
            return run(args, database_url=database_url, say=say)
        finally:
            from django.db import connections

            with suppress(Exception):
                connections.close_all()


def run(args: argparse.Namespace, *, database_url: str, say: Callable[[str], None]) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    import stats.dashboard
    import stats.views  # noqa: F401  (imports before the clock starts)

    anchor = timezone.make_aware(datetime.combine(timezone.localdate(), datetime.min.time()))
    if args.keep:
        say(f"keeping database {urlsplit(database_url).path.lstrip('/')}")
        fill: dict[str, Any] = {"mode": "kept"}
    else:
        if database_url:
            say(f"recreating database {urlsplit(database_url).path.lstrip('/')} and migrating")
            database_recreate(database_url)
        else:
            say(f"migrating a fresh SQLite database in {settings.VAR_DIR}")
        call_command("migrate", "--noinput", verbosity=0)
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
