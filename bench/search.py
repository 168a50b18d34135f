"""The search benchmark: every form the workspace's search understands, timed on a large database.

    make bench-search                               # 1,000,000 cases on PostgreSQL
    .venv/bin/python bench/search.py --cases 50000  # a quicker run
    .venv/bin/python bench/search.py --sqlite --cases 500 --runs 2 --json   # what the test runs

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
import ipaddress
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

# Run as a script (`python bench/search.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    BenchError,
    bench_database,
    bench_main,
    database_recreate,
    django_machine,
    django_start,
    latency_figures,
    print_results,
    print_targets,
    say,
    unwind_on_sigterm,
    var_dir,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_search"
TARGET_MS = 200.0
CHUNK = 50_000
FIRST_ASN = 64_512
FOREIGN = ("DATABASE_URL", "CELERY_BROKER_URL", "SCART_CACHE_URL", "SCART_CACHE_PREFIX", "SCART_DEMO", "SCART_TESTING")
# Public suffixes of one and two labels, and private ones (each user its own registrable domain).
SUFFIXES = ("com", "net", "org", "nl", "de", "ru", "co.uk", "com.br", "com.au", "github.io", "blogspot.com")
WORDS = ("img", "cdn", "static", "media", "files", "www", "pics", "share", "up", "dl", "m", "gallery")
NAMES = ("North", "Blue", "Rapid", "Iron", "Cloud", "Delta", "Nova", "Polar", "Hyper", "Quiet", "Atlas", "Zen")
KINDS = ("Hosting", "Networks", "Datacenter", "Cloud", "Internet", "Telecom", "Servers")
FORMS = (
    "url exact",
    "url prefix",
    "url without scheme",
    "host",
    "domain",
    "ip",
    "ipv6",
    "network /24",
    "network /16",
    "network ipv6 /48",
    "asn",
    "report reference",
    "notice reference",
    "case number",
    "provider name",
)
STATES = (
    ("awaiting_assessment", "", 25),
    ("illegal", "illegal", 5),
    ("notified", "illegal", 20),
    ("removed", "illegal", 35),
    ("not_illegal", "not_illegal", 12),
    ("cannot_assess", "cannot_assess", 3),
)
CASE_COLUMNS = (
    *("id", "url_sha256", "canonical_url", "original_url", "scheme", "host", "registrable_domain", "is_ip"),
    *("unresolvable", "had_credentials", "state", "state_changed_at", "first_reported_at", "last_reported_at"),
    *("report_count", "resolve_attempts", "resolution", "resolved_at", "provider_id", "hosting_country", "asn"),
    "verdict",
)
REPORT_COLUMNS = (
    *("id", "reference", "channel", "source", "reporter_email", "description", "external_ref", "hashes"),
    *("classification", "urgent", "received_at", "url_count", "rejected_count", "acknowledgement_error"),
)
REPORTED_COLUMNS = ("report_id", "case_id", "original_url", "had_credentials", "duplicate")
ADDRESS_COLUMNS = ("case_id", "ip")
NOTICE_COLUMNS = (
    *("id", "reference", "kind", "recipient_kind", "recipient_name", "batch_key", "emails", "language"),
    *("provider_id", "ask_origin", "step", "urgent", "state", "open", "created_at", "due_at", "claim_token"),
    *("attempts", "sent_at", "message_id", "last_error", "link_key_hash"),
)
NOTICE_CASE_COLUMNS = (
    *("notice_id", "case_id", "added_at", "drop_reason", "response", "response_reason", "dispute_state"),
    "dispute_note",
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases to write (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=30, help="queries per form, each a different value (30)")
    parser.add_argument("--seed", default="scart", help="the data and the queries are the same for a seed")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="time the data of an earlier run (no recreate)")
    parser.add_argument("--json", action="store_true", help="also print every figure as one JSON line")
    args = parser.parse_args(argv)
    if args.cases < 100 or args.runs < 1:
        parser.error("--cases must be at least 100 and --runs at least 1")
    return args


# --- the data ---------------------------------------------------------------------------------


class World:
    """The shapes the cases are drawn from: providers with ASNs and networks, hosts on registrable
    domains with their addresses. Deterministic for a seed."""

    def __init__(self, cases: int, seed: str) -> None:
        rng = random.Random(f"{seed}:world")
        self.rng = rng
        self.providers = max(5, min(3000, cases // 300))
        self.countries = [
            rng.choice(("NL", "DE", "US", "GB", "FR", "RU", "BR", "SG", "UA", "CA")) for _ in range(self.providers)
        ]
        # Two public /24s and a /48 per provider, spread over the address space.
        self.v4 = [self._networks(p) for p in range(self.providers)]
        self.v6 = [ipaddress.ip_network(f"2a0{p % 10}:{p:x}:{(p * 37) % 65536:x}::/48") for p in range(self.providers)]
        hosts = max(20, cases // 20)
        domains = max(10, hosts // 4)
        self.domains = [
            f"{rng.choice(WORDS)}{n}-{rng.choice(NAMES).lower()}.{rng.choice(SUFFIXES)}" for n in range(domains)
        ]
        self.hosts: list[tuple[str, int, tuple[str, ...]]] = []  # (host, provider, addresses)
        for n in range(hosts):
            domain = self.domains[n % domains]
            host = domain if n < domains else f"{rng.choice(WORDS)}{n % 7}.{domain}"
            provider = self._zipf(self.providers)
            net = rng.choice(self.v4[provider])
            addresses = [str(net[rng.randrange(2, 250)])]
            if rng.random() < 0.25:
                addresses.append(str(self.v6[provider][rng.randrange(1, 2**16)]))
            self.hosts.append((host, provider, tuple(addresses)))

    @staticmethod
    def _networks(p: int) -> list[ipaddress.IPv4Network]:
        found: list[ipaddress.IPv4Network] = []
        j = 0
        while len(found) < 2:
            net = ipaddress.IPv4Network(f"{23 + (p * 7 + j) % 190}.{(p * 13 + j * 71) % 256}.{(p * 29 + j) % 256}.0/24")
            if net.is_global:
                found.append(net)
            j += 1
        return found

    def _zipf(self, n: int) -> int:
        """A few big ones and a long tail, as hosting is."""
        return min(n - 1, int(n * self.rng.random() ** 3))

    def host(self) -> tuple[str, int, tuple[str, ...]]:
        return self.hosts[self._zipf(len(self.hosts))]


def case_rows(world: World, cases: int, anchor: datetime, seed: str, base: int) -> Iterator[dict[str, Any]]:
    """Cases in the order of their first report, each with its row, addresses and report;
    provider ``p`` of the world has the id ``base + p``."""
    from reports.urls import normalise_url

    rng = random.Random(f"{seed}:cases")
    span = 730 * 86_400
    states = [s for s, _, w in STATES for _ in range(w)]
    verdicts = {s: v for s, v, _ in STATES}
    for n in range(1, cases + 1):
        host, provider, addresses = world.host()
        if rng.random() < 0.01:  # an IP literal
            host, addresses = addresses[0], addresses[:1]
        path = f"/{rng.choice(WORDS)}/{n // 50}/{n}-{rng.randrange(10**6)}.jpg"
        if rng.random() < 0.2:
            path += f"?id={rng.randrange(10**5)}"
        scheme = "https" if rng.random() < 0.8 else "http"
        raw = f"{scheme}://{host.upper() if rng.random() < 0.1 else host}{path}"
        url = normalise_url(raw)
        reported = anchor - timedelta(seconds=span * (1 - (n - 1 + rng.random()) / cases))
        state = rng.choice(states)
        changed = min(anchor, reported + timedelta(hours=rng.lognormvariate(2.5, 1.5)))
        yield {
            "case": (
                *(n, url.sha256, url.canonical, raw, url.scheme, url.host, url.registrable_domain, url.is_ip),
                *(url.unresolvable, False, state, changed, reported, reported, 1, 0),
                *(json.dumps({"outcome": "resolved", "addresses": list(addresses)}), reported),
                *(base + provider, world.countries[provider], FIRST_ASN + provider, verdicts[state]),
            ),
            "addresses": addresses,
            "original": raw,
            "reported": reported,
            "provider": base + provider,
        }


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


def fill(args: argparse.Namespace, anchor: datetime) -> dict[str, Any]:
    from django.db import connection, transaction

    from routing.models import Provider

    started = time.perf_counter()
    world = World(args.cases, args.seed)
    rng = random.Random(f"{args.seed}:refs")
    # After the providers the migrations made (the CDNs).
    base = (Provider.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    Provider.objects.bulk_create(
        [
            Provider(
                id=base + p,
                name=f"{NAMES[p % len(NAMES)]} {KINDS[(p // len(NAMES)) % len(KINDS)]} {p}",
                key=f"bench-search:{p}",
                country=world.countries[p],
                asns=[FIRST_ASN + p],
                cidrs=[str(n) for n in world.v4[p]],
                abuse_emails=[f"abuse@p{p}.bench.example.net"],
            )
            for p in range(world.providers)
        ],
        batch_size=1000,
    )
    rows = case_rows(world, args.cases, anchor, args.seed, base)
    counts = {"cases": 0, "addresses": 0, "reports": 0, "notices": 0}
    report_id = notice_id = 0
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    day_numbers: dict[str, int] = {}
    while True:
        chunk = [row for _, row in zip(range(CHUNK), rows, strict=False)]
        if not chunk:
            break
        reports, reported, notices, items = [], [], [], []
        i = 0
        while i < len(chunk):  # reports of one to nine URLs
            size = min(len(chunk) - i, rng.choice((1, 1, 1, 2, 3, 5, 9)))
            report_id += 1
            when = chunk[i]["reported"]
            reference = f"R-{when:%Y%m%d}-{''.join(rng.choice(alphabet) for _ in range(8))}"
            reports.append((report_id, reference, "api", "", "", "", "", "[]", "{}", False, when, size, 0, ""))
            reported += [(report_id, row["case"][0], row["original"], False, False) for row in chunk[i : i + size]]
            i += size
        i = 0
        while i < len(chunk):  # a notice per few cases of one provider (as batching makes them)
            size = min(len(chunk) - i, rng.choice((1, 2, 3)))
            row = chunk[i]
            if row["case"][10] in ("notified", "removed"):
                notice_id += 1
                sent = row["reported"] + timedelta(hours=6)
                day = f"{sent:%Y%m%d}"
                day_numbers[day] = day_numbers.get(day, 0) + 1
                notices.append(
                    (
                        *(notice_id, f"SCART-{day}-{day_numbers[day]:06d}", "provider", "provider"),
                        *(f"Provider {row['provider']}", f"bench:{notice_id}", "[]", "en", row["provider"]),
                        *(False, 0, False, "sent", False, sent, sent, "", 1, sent),
                        *(f"<{notice_id}@bench.example.net>", "", ""),
                    )
                )
                items += [(notice_id, r["case"][0], sent, "", "", "", "", "") for r in chunk[i : i + size]]
            i += size
        with transaction.atomic():
            insert_rows("reports_case", CASE_COLUMNS, [row["case"] for row in chunk])
            addresses = [(row["case"][0], ip) for row in chunk for ip in row["addresses"]]
            insert_rows("routing_caseaddress", ADDRESS_COLUMNS, addresses)
            insert_rows("reports_report", REPORT_COLUMNS, reports)
            insert_rows("reports_reportedurl", REPORTED_COLUMNS, reported)
            insert_rows("routing_notice", NOTICE_COLUMNS, notices)
            insert_rows("routing_noticecase", NOTICE_CASE_COLUMNS, items)
        counts["cases"] += len(chunk)
        counts["addresses"] += len(addresses)
        counts["reports"] += len(reports)
        counts["notices"] += len(notices)
        say(f"  {counts['cases']:,} / {args.cases:,} cases  {time.perf_counter() - started:.0f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("reports_case", "reports_report", "routing_notice", "routing_provider"):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return {**counts, "providers": world.providers, "seconds": round(time.perf_counter() - started, 1)}


# --- the queries ------------------------------------------------------------------------------


def sample_queries(runs: int, seed: str) -> dict[str, list[str]]:
    """``runs`` queries of each form, drawn from what the database holds."""
    from reports.models import Case, Report
    from routing.models import CaseAddress, Notice, Provider

    rng = random.Random(f"{seed}:queries")
    top = Case.objects.order_by("-id").values_list("id", flat=True).first() or 0
    picks: list[Any] = []
    while len(picks) < runs:
        case = (
            Case.objects.filter(pk=rng.randrange(1, top + 1))
            .values("pk", "canonical_url", "host", "registrable_domain", "asn", "is_ip")
            .first()
        )
        if case is not None:
            picks.append(case)
    v4 = list(CaseAddress.objects.filter(ip__contains=".").values_list("ip", flat=True)[: runs * 50])
    v6 = list(CaseAddress.objects.filter(ip__contains=":").values_list("ip", flat=True)[: runs * 50]) or v4
    reports = list(Report.objects.order_by("?").values_list("reference", flat=True)[:runs])
    notices = list(Notice.objects.order_by("?").values_list("reference", flat=True)[:runs])
    providers = list(Provider.objects.order_by("?").values_list("name", flat=True)[:runs])
    addresses4 = [rng.choice(v4) for _ in range(runs)]
    addresses6 = [rng.choice(v6) for _ in range(runs)]

    def cycle(values: list[str]) -> list[str]:
        return [values[i % len(values)] for i in range(runs)] if values else []

    def prefix(url: str) -> str:
        return url.rsplit("/", 1)[0] + "/"

    return {
        "url exact": [p["canonical_url"] for p in picks],
        "url prefix": [prefix(p["canonical_url"]) for p in picks],
        "url without scheme": [prefix(p["canonical_url"]).split("://", 1)[1] for p in picks],
        "host": [p["host"] if "." in p["host"] and not p["is_ip"] else "www.example.com" for p in picks],
        "domain": [p["registrable_domain"] if not p["is_ip"] else "example.com" for p in picks],
        "ip": addresses4,
        "ipv6": addresses6,
        "network /24": [str(ipaddress.ip_network(f"{a}/24", strict=False)) for a in addresses4],
        "network /16": [str(ipaddress.ip_network(f"{a}/16", strict=False)) for a in addresses4],
        "network ipv6 /48": [str(ipaddress.ip_network(f"{a}/48", strict=False)) for a in addresses6],
        "asn": [f"AS{p['asn']}" for p in picks],
        "report reference": cycle(reports),
        "notice reference": cycle(notices),
        "case number": [f"#{p['pk']}" for p in picks],
        "provider name": [name[1:10] for name in cycle(providers)],  # a part of the name
    }


def senior_client() -> Any:
    """A test client logged in as a senior analyst who passed both factors."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.roles import GROUP_NAMES, Role

    user, _ = get_user_model().objects.get_or_create(username="bench-search-senior")
    user.groups.add(Group.objects.get_or_create(name=GROUP_NAMES[Role.SENIOR])[0])
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def time_gets(client: Any, urls: list[str], queries: Sequence[str] = ()) -> dict[str, Any]:
    """One warm-up GET, then each of ``urls`` once: p50/p95, the SQL statements, and what the
    search found for ``queries`` (asked of the selector itself, after the timing)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workspace.search import query_parse, search

    client.get(urls[0])
    seconds, statements = [], []
    for url in urls:
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            seconds.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise BenchError(f"GET {url} answered {response.status_code}")
        statements.append(len(captured.captured_queries))
    found = [0]
    for text in queries:
        query = query_parse(text)
        results = search(query, see_reporters=True) if query else None
        found.append(len(results.cases) + len(results.notices) + len(results.providers) if results else 0)
    found = found[1:] or found
    return {**latency_figures(seconds), "found_median": sorted(found)[len(found) // 2], "statements": max(statements)}


def time_forms(queries: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    from django.test.utils import override_settings
    from django.urls import reverse

    client = senior_client()
    search = reverse("workspace-search")
    timed = {}
    # The pages' static files are named without the manifest that `collectstatic` would write.
    plain = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=plain):
        for form in FORMS:
            urls = [f"{search}?{urlencode({'q': q, 'stay': '1'})}" for q in queries[form]]
            timed[form] = time_gets(client, urls, queries[form])
            say(f"  {form:<20} p50 {timed[form]['p50_ms']:7.1f} ms  p95 {timed[form]['p95_ms']:7.1f} ms")
        cases = reverse("cases-list")
        for name, query in (("case list", ""), ("case list GB removed", "country=GB&state=removed")):
            timed[name] = time_gets(client, [f"{cases}?{query}"] * max(3, len(queries[FORMS[0]])))
            say(f"  {name:<20} p50 {timed[name]['p50_ms']:7.1f} ms  p95 {timed[name]['p95_ms']:7.1f} ms")
    return timed


# --- output -----------------------------------------------------------------------------------


def print_summary(results: dict[str, Any]) -> None:
    m, f = results["machine"], results["fill"]
    line = "-" * 90
    print()
    print(line)
    print(f"machine   {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Django {m['django']}, {m['database']}")
    if m["load"]:
        print(
            f"load      {', '.join(f'{x:.2f}' for x in m['load'])} (1, 5, 15-minute averages when the timing started)"
        )
    if f.get("mode") == "kept":
        print("data      kept from an earlier run")
    else:
        print(
            f"data      {f['cases']:,} cases, {f['addresses']:,} addresses, {f['reports']:,} reports, "
            f"{f['notices']:,} notices, {f['providers']:,} providers; written in {f['seconds']:.0f} s"
        )
    print(f"runs      {results['runs']} different queries per form, GET of the page as a senior analyst")
    print(line)
    print(f"{'form':<24}{'p50':>10}{'p95':>10}{'max':>10}{'found':>8}{'SQL':>6}")
    for name, t in results["forms"].items():
        print(
            f"{name:<24}{t['p50_ms']:>7.1f} ms{t['p95_ms']:>7.1f} ms{t['max_ms']:>7.1f} ms"
            f"{t['found_median']:>8}{t['statements']:>6}"
        )
    print(line)
    print_targets(results["targets"], line)


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    unwind_on_sigterm()
    database_url = bench_database(DEFAULT_DATABASE_URL, sqlite=args.sqlite)
    with var_dir("search") as var:
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
            return run(args, database_url=database_url)
        finally:
            from django.db import connections

            with suppress(Exception):
                connections.close_all()


def run(args: argparse.Namespace, *, database_url: str) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    anchor = timezone.now().replace(microsecond=0)
    if args.keep:
        filled: dict[str, Any] = {"mode": "kept"}
    else:
        if database_url:
            say(f"recreating database {urlsplit(database_url).path.lstrip('/')} and migrating")
            database_recreate(database_url)
        else:
            say(f"migrating a fresh SQLite database in {settings.VAR_DIR}")
        call_command("migrate", "--noinput", verbosity=0)
        say(f"writing {args.cases:,} cases")
        filled = fill(args, anchor)
    say("VACUUM ANALYZE (not timed)")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
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
