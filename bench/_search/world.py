"""The search bench's world and its fill: providers with their ASNs and networks, hosts on
registrable domains, and cases in the shapes intake makes them, with their addresses, reports and
notices, written in bulk (``COPY`` on PostgreSQL, plain inserts on SQLite)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from bench._harness import say
from bench._world import insert_rows

CHUNK = 50_000
FIRST_ASN = 64_512
# Public suffixes of one and two labels, and private ones (each user its own registrable domain).
SUFFIXES = ("com", "net", "org", "nl", "de", "ru", "co.uk", "com.br", "com.au", "github.io", "blogspot.com")
WORDS = ("img", "cdn", "static", "media", "files", "www", "pics", "share", "up", "dl", "m", "gallery")
NAMES = ("North", "Blue", "Rapid", "Iron", "Cloud", "Delta", "Nova", "Polar", "Hyper", "Quiet", "Atlas", "Zen")
KINDS = ("Hosting", "Networks", "Datacenter", "Cloud", "Internet", "Telecom", "Servers")
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


def vacuum_analyze() -> None:
    """The planner statistics and visibility map a database in service has from autovacuum."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
