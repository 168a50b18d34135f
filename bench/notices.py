"""Notice benchmark: route, batch, render and send the notices of 100,000 illegal cases.

    .venv/bin/python bench/notices.py                          # full run: 100,000 cases, 5,000 providers, PostgreSQL
    .venv/bin/python bench/notices.py --cases 300 --providers 20 --sqlite   # a quick run on SQLite
    .venv/bin/python bench/notices.py --reresolve                          # with re-resolution before sending
    .venv/bin/python bench/notices.py --profile var/notices.prof           # also cProfile both phases

The issue: "100,000 illegal cases over 5,000 providers: time to route, batch, render and hand to a
local SMTP peer. Target: under 2 minutes on this machine; print notices/s."

What it does, in order:

1. starts ``devnet.smtp.FakeSMTP`` on 127.0.0.1 in a process of its own (so that what it
   does with what it receives does not compete with scart for this process's GIL) and points Django's SMTP
   backend at it; with ``--reresolve`` also the DNS and RDAP peers of ``devnet``, serving
   every host, its Team Cymru origin, every provider's network (one AS and one /24 each, RDAP
   records in the shape of bench/resolve.py's) and the registrable domains;
2. drops and recreates the database of ``DATABASE_URL`` (default ``scart_bench_notices``) and
   migrates it, or, with ``--sqlite``, migrates a fresh SQLite file in a temporary directory;
3. creates ``--providers`` providers (one abuse address each, notices in English, Dutch or German:
   there are no German templates, so German falls back to English), the partner hotlines of
   `PARTNERS` (each with a referral address), and ``--cases`` cases in state illegal with one
   assessment each, written with ``bulk_create``. Every provider has a case; the rest go to the
   providers by a Zipf law, so a few large hosts get more than ``SCART_NOTICE_MAX_URLS`` cases and
   many small ones a handful. A case is hosted where its provider is: ``--home-share`` in the
   hotline's country (NL: a notice to the provider), ``--partner-share`` where a partner hotline
   works (a referral to the hotline), the rest elsewhere (a notice to the provider and a report to
   ``SCART_POLICE_EMAIL``). Every case counts as resolved when it is made. With ``--reresolve``
   the cases are made unresolved, resolved once against the peers (not timed: this fills the
   lookup caches and makes nothing new, the providers exist), checked, and their resolution dated
   an hour back. Then ``ANALYZE``, not timed, so that the planner knows the tables' sizes as it
   would in service (the machine line says whether autovacuum is on; when it is off, the tables
   that grow during the run keep the statistics of their start);
4. **route + batch**: ``cases_plan_notices`` over chunks of ``--chunk`` case ids (500, as the
   ``notify_sweep`` task does), timed;
5. **render + send**: ``notices_send_due(flush=True, limit=--send-limit, reresolve=False)`` until
   it claims nothing, timed (the ``send_notices --now --no-reresolve`` loop). Re-resolution is off:
   the sender would skip cases resolved in the last 5 minutes anyway, but a full run takes longer
   than that; what is measured is routing, batching, rendering and SMTP. With ``--reresolve``:
   ``reresolve=True`` (``send_notices --now``), so every case is resolved again right before its
   notice goes out, from the warm caches; the peers' logs show what still went on the wire;
6. checks the database (notices sent, their cases, every case notified) and what the SMTP peer
   received: every (recipient, URL) pair the routing calls for in exactly one message, none twice,
   none missing, none unexpected; the CSV and the X-ARF reports of each message name the same URLs;
7. prints the figures and PASS/MISS for the two-minute target (``--json``: also one JSON object).

Nothing leaves 127.0.0.1: mail goes only to the local peer, PostgreSQL must be on the loopback
interface, DNS and RDAP point at the local peers (without ``--reresolve``, at a closed local
port: nothing is resolved), the hosts are under example.com/net/org and the addresses mail goes
to are on the reserved ``.example`` TLD.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import csv
import io
import ipaddress
import itertools
import json
import multiprocessing
import pstats
import random
import re
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a script (`python bench/notices.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    ROOT,
    BenchError,
    bench_database,
    bench_main,
    cpu_ticks,
    database_recreate,
    django_machine,
    django_start,
    print_results,
    print_targets,
    require_loopback,
    say,
    unwind_on_sigterm,
    var_dir,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_notices"
TARGET_SECONDS = 120.0
HOME = "NL"
# Partner hotlines (country: referral address); cases hosted there are referred, not noticed. The
# migrations seed the hotlines without an address; the bench gives these four one.
PARTNERS = {
    "DE": "referrals@hotline-de.example",
    "BE": "referrals@hotline-be.example",
    "GB": "referrals@hotline-gb.example",
    "FR": "referrals@hotline-fr.example",
}
ELSEWHERE = ("RU", "UA", "PA", "VN")  # none of the partner hotlines seeded by routing 0005: provider and police
POLICE_EMAIL = "csam-reports@police.example"
LANGUAGES = (("en", 5), ("nl", 3), ("de", 2))  # language of a provider's notices, and its weight
TLDS = ("com", "net", "org")  # hosts are under example.com/net/org
CASES_PER_HOST = 5
# Variables of the caller's environment that would point the bench elsewhere or change the
# settings' test mode; the bench sets what it needs itself.
FOREIGN = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "SCART_CACHE_URL",
    "SCART_CACHE_PREFIX",
    "SCART_DEMO",
    "SCART_TESTING",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_USE_SSL",
)


# --- configuration ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark notices: route, batch, render and send those of many illegal cases to a local SMTP peer.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--cases", type=int, default=100_000, help="illegal cases, one assessment each")
    parser.add_argument("--providers", type=int, default=5_000, help="hosting providers (each gets at least one case)")
    parser.add_argument("--home-share", type=float, default=0.80, help="share of providers hosting in NL")
    parser.add_argument("--partner-share", type=float, default=0.12, help="share of providers in partner countries")
    parser.add_argument("--zipf", type=float, default=1.0, help="exponent of the cases-per-provider law (0: even)")
    parser.add_argument("--urgent-share", type=float, default=0.01, help="share of cases marked urgent")
    parser.add_argument("--chunk", type=int, default=500, help="case ids per cases_plan_notices call (notify_sweep's)")
    parser.add_argument("--send-limit", type=int, default=200, help="notices per notices_send_due call (its default)")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="planners, then senders, running at once (as the notify queue's worker runs with "
        "WORKER_CONCURRENCY=2); 1: both phases in the bench process",
    )
    parser.add_argument(
        "--reresolve",
        action="store_true",
        help="resolve every case against local DNS and RDAP peers first (not timed), then let the sender "
        "re-resolve each before it goes out, from the warm caches",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.005,
        help="seconds the DNS and RDAP peers wait before answering (--reresolve)",
    )
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite database instead of PostgreSQL")
    parser.add_argument("--profile", default="", help="cProfile both timed phases into this file (slows them down)")
    parser.add_argument("--seed", type=int, default=4711, help="seed of the synthetic cases")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.providers < 1 or args.chunk < 1 or args.send_limit < 1 or args.processes < 1:
        parser.error("--cases, --providers, --chunk, --send-limit and --processes must be positive")
    if args.profile and args.processes != 1:
        parser.error("--profile profiles the bench process: use it with --processes 1")
    if args.providers > args.cases:
        parser.error("--providers must not exceed --cases (every provider gets a case)")
    shares = (args.home_share, args.partner_share, args.urgent_share)
    if any(not 0 <= s <= 1 for s in shares) or args.home_share + args.partner_share > 1:
        parser.error("the shares must be in [0, 1], and --home-share + --partner-share at most 1")
    if args.zipf < 0 or args.latency < 0:
        parser.error("--zipf and --latency must not be negative")
    if args.providers > 256 * 100:
        parser.error("at most 25,600 providers (one /24 each in the address plan)")
    return args


# --- the synthetic world ----------------------------------------------------------------------


# The registry of a country's networks (RIPE NCC unless listed), and the first octet of its
# addresses in the bench's address plan (that of bench/resolve.py).
REGISTRY_OF = {"PA": "lacnic", "VN": "apnic"}
FIRST_OCTET = {"ripencc": 81, "apnic": 103, "lacnic": 186}
FIRST_ASN = 4_200_000_000  # the 4-byte private-use range (RFC 6996): one AS per provider


@dataclass(frozen=True, slots=True)
class BenchProvider:
    """A hosting provider: one AS announcing one /24, in one country, with one abuse address."""

    index: int
    country: str
    language: str

    @property
    def email(self) -> str:
        return f"abuse@prov{self.index}.example"  # as devnet.registries.network_object names it

    @property
    def name(self) -> str:
        return f"Bench Provider {self.index}"

    @property
    def registry(self) -> str:
        return REGISTRY_OF.get(self.country, "ripencc")

    @property
    def asn(self) -> int:
        return FIRST_ASN + self.index

    @property
    def block(self) -> str:
        return f"{FIRST_OCTET[self.registry]}.{20 + self.index // 256}.{self.index % 256}.0/24"

    @property
    def key(self) -> str:
        """The key of the provider resolution makes from its RDAP record (routing.resolution.providers)."""
        return f"rdap:{self.registry}:ORG-BENCH{self.index}"

    def address(self, n: int) -> str:
        return self.block.replace(".0/24", f".{1 + n % 250}")


@dataclass(frozen=True, slots=True)
class BenchCase:
    url: str
    host: str
    ip: str
    provider: int  # index into World.providers
    urgent: bool
    category: str
    media_type: str


@dataclass
class World:
    providers: list[BenchProvider]
    cases: list[BenchCase]
    hosts: dict[str, tuple[str, int]] = field(default_factory=dict)  # host: (address, provider)

    def recipients(self, case: BenchCase) -> tuple[str, ...]:
        """Whom the case must reach, by the routing rules of routing.jurisdiction."""
        provider = self.providers[case.provider]
        if provider.country == HOME:
            return (provider.email,)
        if provider.country in PARTNERS:
            return (PARTNERS[provider.country],)
        return (provider.email, POLICE_EMAIL)


def build_world(args: argparse.Namespace) -> World:
    """The same world for the same arguments (in the bench and in the peer processes)."""
    rng = random.Random(f"{args.seed}:world")
    home = round(args.providers * args.home_share)
    partner = round(args.providers * args.partner_share)
    countries = [HOME] * home
    countries += [sorted(PARTNERS)[i % len(PARTNERS)] for i in range(partner)]
    countries += [ELSEWHERE[i % len(ELSEWHERE)] for i in range(args.providers - home - partner)]
    rng.shuffle(countries)
    names = [name for name, _ in LANGUAGES]
    weights = [weight for _, weight in LANGUAGES]
    providers = [BenchProvider(i, country, rng.choices(names, weights)[0]) for i, country in enumerate(countries)]
    # Every provider has a case; the others go to providers by a Zipf law over a shuffled ranking.
    ranking = list(range(args.providers))
    rng.shuffle(ranking)
    cumulative = list(itertools.accumulate(1 / (rank + 1) ** args.zipf for rank in range(args.providers)))
    owners = list(range(args.providers))
    owners += [
        ranking[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
        for _ in range(args.cases - args.providers)
    ]
    rng.shuffle(owners)  # cases of one provider arrive spread over time, among the others'
    per_provider: Counter[int] = Counter()
    categories = ("A1", "A2", "B1", "B2")
    media = ("image", "image", "image", "video", "page")
    world = World(providers, [])
    for i, owner in enumerate(owners):
        n = per_provider[owner]
        per_provider[owner] += 1
        # A few cases per host, every host on one address in its provider's /24.
        host = f"img{n // CASES_PER_HOST}.p{owner}.example.{TLDS[owner % len(TLDS)]}"
        ip = providers[owner].address(n // CASES_PER_HOST)
        world.hosts[host] = (ip, owner)
        world.cases.append(
            BenchCase(
                url=f"https://{host}/bench/{i}/photo-{n}.jpg",
                host=host,
                ip=ip,
                provider=owner,
                urgent=rng.random() < args.urgent_share,
                category=categories[i % len(categories)],
                media_type=media[i % len(media)],
            )
        )
    return world


# --- the local peers, each in a process of its own --------------------------------------------


def serve_smtp(conn: Connection) -> None:
    """Body of the SMTP peer process: a ``FakeSMTP`` until told to stop.

    ``FakeSMTP`` keeps each message's bytes when it answers 250, as a real MTA queues a message
    rather than parsing it; `digest` parses them after the clock, for the checks. (Until
    2026-11-21 it parsed every message before answering: 41 s of this process's CPU during the
    timed sending, competing with scart for the two cores.) The peer keeps the time spent
    answering DATA, so that the bench can say how much of the sending time was the peer's.
    Running it outside the bench process keeps its work from competing with scart for the GIL.
    Commands on ``conn``: "digest" answers (one digest per message received, seconds spent
    answering DATA, CPU seconds of this process so far); "stop" ends the process.
    """
    sys.path.insert(0, str(ROOT))
    from devnet import smtp as fakesmtp

    answering = [0.0]
    handle_data = fakesmtp._Handler.handle_DATA

    async def timed(self: Any, server: Any, session: Any, envelope: Any) -> str:
        started = time.perf_counter()
        try:
            return await handle_data(self, server, session, envelope)
        finally:
            answering[0] += time.perf_counter() - started

    fakesmtp._Handler.handle_DATA = timed  # type: ignore[method-assign]
    with fakesmtp.FakeSMTP() as smtp:
        conn.send(f"{smtp.host}:{smtp.port}")
        while True:
            try:
                command = conn.recv()
            except EOFError:  # the bench went away
                break
            if command == "digest":
                cpu = time.process_time()
                with smtp.lock:
                    messages = list(smtp.messages)
                conn.send(([digest(m) for m in messages], answering[0], cpu))
            elif command == "stop":
                break


def digest(captured: Any) -> dict[str, Any]:
    """What the checks need of one received message: its recipients, reference, language, size,
    the URLs of its CSV and those of its X-ARF reports."""
    message = captured.message
    csv_urls: list[str] = []
    xarf_urls: list[str] = []
    for part in message.iter_attachments():
        filename = part.get_filename() or ""
        if filename.endswith(".csv"):
            csv_urls += [row["url"] for row in csv.DictReader(io.StringIO(part.get_content()))]
        elif filename.endswith(".xarf.json"):
            xarf_urls.append(json.loads(part.get_content())["url"])
    return {
        "to": sorted(address.lower() for address in captured.rcpt_tos),
        "reference": str(message["X-Scart-Reference"] or ""),
        "language": str(message["Content-Language"] or ""),
        "bytes": len(captured.raw),
        "urls": csv_urls,
        "xarf_urls": xarf_urls,
    }


def serve_lookups(conn: Connection, kind: str, args: argparse.Namespace) -> None:
    """Body of the DNS ("dns") or RDAP ("rdap") peer process, for ``--reresolve``: the world's
    hosts, their Team Cymru origins and AS names, the providers' networks and the registrable
    domains, until told to stop. Commands: "log" answers how many questions arrived since the last
    "log"; "stop" ends the process."""
    sys.path.insert(0, str(ROOT))
    from devnet.cymru import add_asn_name, add_origin
    from devnet.dns import FakeDNS
    from devnet.rdap import FakeRDAP
    from devnet.registries import REGISTRIES, Asn, Network, domain_object, network_object

    world = build_world(args)
    registries = {r.name: r for r in REGISTRIES}
    server: FakeDNS | FakeRDAP
    if kind == "dns":
        dns = server = FakeDNS(latency=args.latency)
        for host, (ip, owner) in world.hosts.items():
            p = world.providers[owner]
            # An hour, as hosting providers often set: answers cached at the warm-up are still
            # fresh when the sender re-resolves (SCART_HOST_CACHE_MIN_SECONDS is 5 minutes).
            dns.add(host, "A", ip, ttl=3600)
            add_origin(dns, ip, asn=str(p.asn), cidr=p.block, country=p.country, registry=p.registry, date="2011-02-08")
        for p in world.providers:
            name = f"BENCH-AS{p.index} {p.name}, {p.country}"
            add_asn_name(dns, str(p.asn), country=p.country, registry=p.registry, name=name)
        log: list[Any] = dns.queries
    else:
        rdap = server = FakeRDAP(latency=args.latency)
        for p in world.providers:
            block = ipaddress.IPv4Network(p.block)
            obj, contacts = network_object(
                Network(p.index, block, Asn(p.asn, registries[p.registry], p.country, provider=p.index))
            )
            rdap.add_network(obj)
            for contact in contacts:
                rdap.add_entity(contact)
        for registrar, tld in enumerate(TLDS):
            rdap.add_domain(domain_object(f"example.{tld}", registrar))
        log = rdap.requests
    with server:
        conn.send(server.address if isinstance(server, FakeDNS) else server.base_url)
        seen = 0
        while True:
            try:
                command = conn.recv()
            except EOFError:
                break
            if command == "log":
                end = len(log)
                conn.send(end - seen)
                seen = end
            elif command == "stop":
                break


class Peer:
    """A peer process (``target(conn, *args)`` sends its address first) and the pipe to it."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), name=f"bench-{name}", daemon=True)
        self.process.start()
        child.close()
        deadline = time.monotonic() + 120
        while not self.conn.poll(0.2):
            if not self.process.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"the {name} peer did not start (exit code {self.process.exitcode})")
        try:
            self.address: str = self.conn.recv()
        except EOFError:
            self.stop()
            raise BenchError(f"the {name} peer failed to start (exit code {self.process.exitcode})") from None
        require_loopback(f"the {name} peer", self.address if "://" in self.address else f"x://{self.address}")

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        with suppress(OSError, BrokenPipeError):
            self.conn.send("stop")
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


def closed_port() -> int:
    """A local port nothing listens on (DNS and RDAP point there: nothing is resolved)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the database -----------------------------------------------------------------------------


def seed(world: World, *, now: datetime, resolved: bool) -> list[int]:
    """Write the providers (as resolution makes them from RDAP, verified by an analyst), the
    partner hotlines' addresses and the illegal cases with their assessments; returns the case ids
    in the order the cases were made. ``resolved``: the cases are resolved (now); otherwise their
    resolution is due."""
    from django.db import transaction

    from reports.models import Assessment, AssessmentSource, Case, CaseState, LegalBasis, Verdict
    from reports.urls import normalise_url
    from routing.models import PartnerHotline, Provider, ProviderSource

    assessed_at = now - timedelta(hours=2)  # the batching window has passed
    reported_at = now - timedelta(days=1)
    with transaction.atomic():
        for country, email in PARTNERS.items():
            PartnerHotline.objects.update_or_create(
                country=country,
                defaults={"email": email, "active": True},
                create_defaults={"name": f"Hotline {country}"},
            )
        providers = Provider.objects.bulk_create(
            [
                Provider(
                    name=p.name,
                    key=p.key,
                    source=ProviderSource.RDAP,
                    rdap_handles=[f"ORG-BENCH{p.index}"],
                    abuse_emails=[p.email],
                    country=p.country,
                    language=p.language,
                    verified=True,
                )
                for p in world.providers
            ],
            batch_size=2_000,
        )
    provider_ids = [p.pk for p in providers]
    ids: list[int] = []
    step = 5_000
    for start in range(0, len(world.cases), step):
        chunk = world.cases[start : start + step]
        rows = []
        for c in chunk:
            norm = normalise_url(c.url)
            provider = world.providers[c.provider]
            where: dict[str, Any] = {"resolve_due_at": now}
            if resolved:
                where = {
                    "resolution": {"addresses": [c.ip], "country": provider.country},
                    "resolved_at": now,
                    "provider_id": provider_ids[c.provider],
                    "hosting_country": provider.country,
                    "asn": provider.asn,
                    "contact_confidence": "high",
                }
            rows.append(
                Case(
                    url_sha256=norm.sha256,
                    canonical_url=norm.canonical,
                    original_url=c.url,
                    scheme=norm.scheme,
                    host=norm.host,
                    registrable_domain=norm.registrable_domain,
                    state=CaseState.ILLEGAL,
                    state_changed_at=assessed_at,
                    first_reported_at=reported_at,
                    last_reported_at=reported_at,
                    verdict=Verdict.ILLEGAL,
                    assessed_at=assessed_at,
                    urgent=c.urgent,
                    notice_plan_at=assessed_at,
                    **where,
                )
            )
        with transaction.atomic():
            made = Case.objects.bulk_create(rows, batch_size=1_000)
            Assessment.objects.bulk_create(
                [
                    Assessment(
                        case_id=case.pk,
                        at=assessed_at,
                        source=AssessmentSource.ANALYST,
                        verdict=Verdict.ILLEGAL,
                        legal_basis=LegalBasis.BASELINE,
                        category=c.category,
                        media_type=c.media_type,
                    )
                    for case, c in zip(made, chunk, strict=True)
                ],
                batch_size=1_000,
            )
        ids += [case.pk for case in made]
    return ids


@contextmanager
def profiled(profile: cProfile.Profile | None) -> Iterator[None]:
    if profile is None:
        yield
        return
    profile.enable()
    try:
        yield
    finally:
        profile.disable()


@dataclass
class Clock:
    """One phase's wall time, this process's CPU time, how busy the machine was, and the SQL
    statements run (and the time spent waiting for them)."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of every process that ran the phase
    machine_busy: float | None = None
    processes: int = 1
    statements: int = 0
    db_seconds: float = 0.0
    by_shape: dict[str, list[float]] = field(default_factory=dict)  # "UPDATE reports_case": [count, seconds]

    @contextmanager
    def running(self, profile: cProfile.Profile | None) -> Iterator[None]:
        from django.db import connection

        def timed(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                spent = time.perf_counter() - started
                self.statements += 1
                self.db_seconds += spent
                shape = self.by_shape.setdefault(sql_shape(sql), [0, 0.0])
                shape[0] += 1
                shape[1] += spent

        ticks = cpu_ticks()
        cpu = time.process_time()
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(timed), profiled(profile):
                yield
        finally:
            self.seconds = time.perf_counter() - started
            self.cpu_seconds = time.process_time() - cpu
            busy, total = (after - before for after, before in zip(cpu_ticks(), ticks, strict=True))
            self.machine_busy = busy / total if total else None

    def add(self, other: Clock) -> None:
        """Another process's share of the same phase (its wall time is not this one's)."""
        self.cpu_seconds += other.cpu_seconds
        self.statements += other.statements
        self.db_seconds += other.db_seconds
        for shape, (n, spent) in other.by_shape.items():
            mine = self.by_shape.setdefault(shape, [0, 0.0])
            mine[0] += n
            mine[1] += spent

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "processes": self.processes,
            "cpu_seconds": round(self.cpu_seconds, 2),
            "machine_busy": round(self.machine_busy, 3) if self.machine_busy is not None else None,
            "statements": self.statements,
            "db_seconds": round(self.db_seconds, 2),
            "sql": {
                shape: {"statements": int(n), "seconds": round(spent, 2)}
                for shape, (n, spent) in sorted(self.by_shape.items(), key=lambda item: -item[1][1])
            },
        }


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
class Phases:
    plan: Clock = field(default_factory=Clock)
    send: Clock = field(default_factory=Clock)
    plan_calls: int = 0
    planned: int = 0  # case-recipient pairs that joined a notice
    held: int = 0
    send_calls: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    dropped_cases: int = 0
    reresolved: int = 0  # cases resolved again while the notices were sent
    errors: list[str] = field(default_factory=list)

    def absorb(self, other: Phases, phase: str) -> None:
        """A worker's counts and its clock for ``phase``."""
        getattr(self, phase).add(getattr(other, phase))
        for name in (
            "plan_calls",
            "planned",
            "held",
            "send_calls",
            "claimed",
            "sent",
            "retried",
            "failed",
            "cancelled",
            "dropped_cases",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


def warm_up(world: World, case_ids: list[int], say: Callable[[str], None]) -> dict[str, Any]:
    """``--reresolve``: resolve every case against the local peers (filling the lookup caches),
    check that each has the provider and country of its host, then date the resolutions an hour
    back so that the sender resolves every case again before it goes out."""
    from reports.models import Case
    from routing.models import Provider
    from routing.resolution.cases import cases_resolve

    say(f"warm-up (not timed): resolving {len(case_ids):,} cases on {len(world.hosts):,} hosts")
    started = time.perf_counter()
    for start in range(0, len(case_ids), 500):
        cases_resolve(case_ids=case_ids[start : start + 500])
    seconds = time.perf_counter() - started
    keys = dict(Provider.objects.values_list("pk", "key"))
    cases = dict(zip(case_ids, world.cases, strict=True))
    problems = []
    rows = Case.objects.filter(pk__in=case_ids).values_list("pk", "provider_id", "hosting_country", "resolved_at")
    for pk, provider_id, country, resolved_at in rows.iterator(chunk_size=5_000):
        expected = world.providers[cases[pk].provider]
        if resolved_at is None or keys.get(provider_id) != expected.key or country != expected.country:
            problems.append(f"case {pk}: provider {keys.get(provider_id)} in {country!r}, expected {expected.key}")
    if problems:
        raise BenchError(f"warm-up: {len(problems)} cases not resolved as expected, first: " + "; ".join(problems[:3]))
    Case.objects.filter(pk__in=case_ids).update(resolved_at=datetime.now(UTC) - timedelta(hours=1))
    return {"seconds": round(seconds, 1)}


def run_phases(
    case_ids: list[int], args: argparse.Namespace, profile: cProfile.Profile | None, say: Callable[[str], None]
) -> Phases:
    from reports.models import Case

    phases = Phases()
    chunks = [case_ids[i : i + args.chunk] for i in range(0, len(case_ids), args.chunk)]
    say(f"route + batch: cases_plan_notices on {len(chunks)} chunks of {args.chunk} in {args.processes} process(es)")
    if args.processes == 1:
        with phases.plan.running(profile):
            plan_chunks(chunks, phases)
    else:
        in_workers("plan", [chunks[k :: args.processes] for k in range(args.processes)], args, phases)

    say(
        f"render + send: notices_send_due(flush=True, limit={args.send_limit}, reresolve={args.reresolve})"
        f" until nothing is claimed, in {args.processes} process(es)"
    )
    started = datetime.now(UTC)
    if args.processes == 1:
        with phases.send.running(profile):
            send_until_done(args, phases)
    else:
        in_workers("send", [None] * args.processes, args, phases)
    phases.reresolved = Case.objects.filter(pk__in=case_ids, resolved_at__gte=started).count()
    return phases


def plan_chunks(chunks: list[list[int]], phases: Phases) -> None:
    from routing.notices.planning import cases_plan_notices

    for chunk in chunks:
        plan = cases_plan_notices(case_ids=chunk)
        phases.plan_calls += 1
        phases.planned += plan.planned
        phases.held += plan.held


def send_until_done(args: argparse.Namespace, phases: Phases) -> None:
    """``send_notices --now`` (``--no-reresolve`` unless ``--reresolve``): until a call claims
    nothing or gets nothing out. Senders running at once claim disjoint notices."""
    from routing.notices.sending import notices_send_due

    while True:
        summary = notices_send_due(flush=True, limit=args.send_limit, reresolve=args.reresolve)
        phases.send_calls += 1
        for name in ("claimed", "sent", "retried", "failed", "cancelled", "dropped_cases"):
            setattr(phases, name, getattr(phases, name) + getattr(summary, name))
        if not summary.claimed or not (summary.sent or summary.cancelled or summary.failed):
            break


def phase_worker(conn: Connection, phase: str, work: list[list[int]] | None, args: argparse.Namespace) -> None:
    """Body of a planner or sender process (the environment is the bench's). It sets Django up,
    says "ready", waits for "go" (so that start-up is not timed), runs its share and sends back
    its `Phases` (its clock in ``plan`` or ``send``)."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import routing.notices.sending  # noqa: F401  (imports before the clock starts)

    phases = Phases()
    conn.send("ready")
    if conn.recv() != "go":
        return
    try:
        with getattr(phases, phase).running(None):
            if phase == "plan":
                plan_chunks(work or [], phases)
            else:
                send_until_done(args, phases)
    except Exception as exc:  # reported, and the bench fails
        phases.errors.append(f"{phase} worker: {exc!r}")
    conn.send(phases)


def in_workers(phase: str, shares: list[Any], args: argparse.Namespace, phases: Phases) -> None:
    """Run ``phase`` in one process per share, all started (and set up) before the clock starts;
    the phase's wall time and the machine's load are this process's view, the rest adds up."""
    context = multiprocessing.get_context("spawn")
    workers = []
    for share in shares:
        conn, child = context.Pipe()
        process = context.Process(target=phase_worker, args=(child, phase, share, args), daemon=True)
        process.start()
        child.close()
        workers.append((conn, process))
    try:
        for conn, process in workers:
            if not conn.poll(120) or conn.recv() != "ready":
                raise BenchError(f"a {phase} worker did not start (exit code {process.exitcode})")
        ticks = cpu_ticks()
        started = time.perf_counter()
        for conn, _process in workers:
            conn.send("go")
        results: list[Phases] = []
        for conn, process in workers:
            try:
                results.append(conn.recv())
            except EOFError:
                raise BenchError(f"a {phase} worker died (exit code {process.exitcode})") from None
        clock = getattr(phases, phase)
        clock.seconds = time.perf_counter() - started
        busy, total = (after - before for after, before in zip(cpu_ticks(), ticks, strict=True))
        clock.machine_busy = busy / total if total else None
        clock.processes = len(workers)
        for result in results:
            phases.absorb(result, phase)
    finally:
        for conn, process in workers:
            conn.close()
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


# --- checks -----------------------------------------------------------------------------------


def check_database(world: World, case_ids: list[int], phases: Phases) -> dict[str, Any]:
    """Counts from the database; raises `BenchError` where they are not what the routing calls for."""
    from django.db.models import Count

    from reports.models import Case, CaseState
    from routing.models import Notice, NoticeCase, NoticeState

    expected_pairs = sum(len(world.recipients(c)) for c in world.cases)
    notices = dict(Notice.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    kinds = dict(Notice.objects.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    items = NoticeCase.objects.filter(dropped_at__isnull=True).count()
    dropped = NoticeCase.objects.filter(dropped_at__isnull=False).count()
    notified = Case.objects.filter(pk__in=case_ids, state=CaseState.NOTIFIED).count()
    biggest = (
        NoticeCase.objects.values("notice").annotate(n=Count("id")).order_by("-n").values_list("n", flat=True).first()
    )
    figures = {
        "notices": sum(notices.values()),
        "notices_by_state": notices,
        "notices_by_kind": kinds,
        "notice_cases": items,
        "largest_notice": biggest or 0,
        "cases_notified": notified,
    }
    problems = []
    if phases.planned != expected_pairs or items != expected_pairs:
        problems.append(
            f"{phases.planned} pairs planned, {items} NoticeCase rows; the routing calls for {expected_pairs}"
        )
    if dropped or phases.dropped_cases:
        problems.append(f"{dropped} cases dropped from their notice")
    if notices.get(NoticeState.SENT, 0) != figures["notices"]:
        problems.append(f"notices not all sent: {notices}")
    if notified != len(world.cases):
        problems.append(f"{notified} of {len(world.cases)} cases notified")
    if phases.held:
        problems.append(f"{phases.held} recipients held")
    if problems:
        raise BenchError("database check failed: " + "; ".join(problems))
    return figures


def check_messages(world: World, digests: list[dict[str, Any]], *, notices: int) -> dict[str, Any]:
    """Every (recipient, URL) pair the routing calls for in exactly one message: none twice, none
    missing, none unexpected."""
    from reports.urls import normalise_url

    expected: Counter[tuple[str, str]] = Counter()
    for case in world.cases:
        url = normalise_url(case.url).canonical
        for address in world.recipients(case):
            expected[(address, url)] += 1
    received: Counter[tuple[str, str]] = Counter()
    problems = []
    for d in digests:
        if Counter(d["urls"]) != Counter(d["xarf_urls"]):
            problems.append(f"{d['reference']}: the CSV and the X-ARF reports name different URLs")
        for address in d["to"]:
            received.update((address, url) for url in d["urls"])
    twice = sum(1 for n in received.values() if n > 1)
    missing = sum(1 for pair in expected if pair not in received)
    unexpected = sum(1 for pair in received if pair not in expected)
    references = Counter(d["reference"] for d in digests)
    if len(digests) != notices:
        problems.append(f"{len(digests)} messages received for {notices} notices")
    if len(references) != len(digests):
        problems.append(f"{len(digests) - len(references)} references in more than one message")
    if twice or missing or unexpected:
        problems.append(f"(recipient, URL) pairs: {twice} received twice, {missing} missing, {unexpected} unexpected")
    if problems:
        raise BenchError("message check failed: " + "; ".join(problems[:5]))
    sizes = sorted(d["bytes"] for d in digests)
    return {
        "messages": len(digests),
        "pairs": sum(received.values()),
        "recipients": len({a for d in digests for a in d["to"]}),
        "languages": dict(Counter(d["language"] for d in digests)),
        "mbytes": round(sum(sizes) / 1e6, 1),
        "largest_kbytes": round(sizes[-1] / 1e3, 1) if sizes else 0.0,
        "xarf_reports": sum(len(d["xarf_urls"]) for d in digests),
    }


# --- figures ----------------------------------------------------------------------------------


def route_mix(world: World) -> dict[str, int]:
    mix: Counter[str] = Counter()
    for case in world.cases:
        country = world.providers[case.provider].country
        mix[
            "own_country" if country == HOME else "partner_hotline" if country in PARTNERS else "provider_and_police"
        ] += 1
    return {k: mix[k] for k in ("own_country", "partner_hotline", "provider_and_police")}


def print_summary(results: dict[str, Any]) -> None:
    m, cfg, f, db, mail = (results[k] for k in ("machine", "settings", "figures", "database", "mail"))
    line = "-" * 100
    print()
    print(line)
    print(f"machine   {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Django {m['django']}, {m['database']}")
    mix = cfg["route_mix"]
    print(
        f"world     {cfg['cases']:,} illegal cases over {cfg['providers']:,} providers (Zipf {cfg['zipf']:g}); routes: "
        f"{mix['own_country']:,} own country, {mix['partner_hotline']:,} partner hotline, "
        f"{mix['provider_and_police']:,} provider + police"
    )
    print(
        f"settings  {cfg['processes']} planner(s), then {cfg['processes']} sender(s); chunks of {cfg['chunk']} for "
        f"planning, {cfg['send_limit']} notices per notices_send_due call, "
        f"SCART_NOTICE_MAX_URLS={cfg['max_urls']}"
    )
    print(f"re-resolution {cfg['reresolution']}")
    print(line)
    rows = [
        (
            "route + batch",
            f"{f['plan_seconds']:.1f} s  ({f['plan_calls']} cases_plan_notices calls, {f['cases_per_second_plan']:,.0f} cases/s)",
        ),
        (
            "render + send",
            f"{f['send_seconds']:.1f} s  ({f['send_calls']} notices_send_due calls, {f['notices_per_second_send']:,.1f} notices/s)",
        ),
        ("total", f"{f['seconds']:.1f} s"),
        *(
            (
                f"  {name}",
                f"{c['statements']:,} SQL statements, {c['db_seconds']:.1f} s waiting for them; "
                f"{c['cpu_seconds']:.1f} s CPU in {c['processes']} process(es)"
                + (f"; the machine was {c['machine_busy']:.0%} busy" if c["machine_busy"] is not None else ""),
            )
            for name, c in (("route + batch", f["plan"]), ("render + send", f["send"]))
        ),
        *(
            (
                f"  {name} SQL",
                "; ".join(
                    f"{shape} {v['statements']:,}x {v['seconds']:.1f} s" for shape, v in list(c["sql"].items())[:4]
                ),
            )
            for name, c in (("route + batch", f["plan"]), ("render + send", f["send"]))
        ),
        ("throughput", f"{f['notices_per_second']:,.1f} notices/s, {f['cases_per_second']:,.0f} cases/s (both phases)"),
        (
            "notices",
            f"{db['notices']:,} ("
            + ", ".join(f"{n:,} {k}" for k, n in sorted(db["notices_by_kind"].items()))
            + f"), largest {db['largest_notice']} URLs; {db['notice_cases']:,} NoticeCase rows",
        ),
        (
            "messages received",
            f"{mail['messages']:,} by {mail['recipients']:,} addresses, {mail['pairs']:,} (recipient, URL) pairs, "
            f"{mail['xarf_reports']:,} X-ARF reports, {mail['mbytes']:,.1f} MB (largest {mail['largest_kbytes']:,.0f} kB)",
        ),
        ("  languages", ", ".join(f"{k or '?'} {n:,}" for k, n in sorted(mail["languages"].items()))),
        (
            "SMTP peer",
            f"{f['smtp_peer_data_seconds']:.1f} s answering DATA (part of render + send: "
            f"{f['seconds_without_peer_parsing']:.1f} s in all without it), {f['smtp_peer_cpu_seconds']:.1f} s CPU "
            "(it keeps the bytes; the check parses them after the clock)",
        ),
        ("check", results["check"]),
    ]
    for name, value in rows:
        print(f"{name:<20}{value}")
    print(line)
    print_targets(results["targets"], line)


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    unwind_on_sigterm()
    database_url = bench_database(DEFAULT_DATABASE_URL, sqlite=args.sqlite)

    peers: dict[str, Peer] = {}
    with var_dir("notices") as var:  # the SQLite file, the file cache
        try:
            peers["smtp"] = Peer("smtp", serve_smtp)
            smtp_host, _, smtp_port = peers["smtp"].address.rpartition(":")
            if args.reresolve:
                peers["dns"] = Peer("dns", serve_lookups, "dns", args)
                peers["rdap"] = Peer("rdap", serve_lookups, "rdap", args)
                dns_address, rdap_base = peers["dns"].address, peers["rdap"].address
            else:
                dead = closed_port()  # nothing is resolved; should anything try, it goes nowhere
                dns_address, rdap_base = f"127.0.0.1:{dead}", f"http://127.0.0.1:{dead}"
            environment = {
                # Planning after a bounce enqueues a task on commit; no worker runs, so it goes nowhere.
                "CELERY_BROKER_URL": "memory://localhost/",
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": smtp_host,
                "EMAIL_PORT": smtp_port,
                "SCART_HOTLINE_COUNTRY": HOME,
                "SCART_POLICE_EMAIL": POLICE_EMAIL,
                "SCART_DNS_NAMESERVERS": dns_address,
                "SCART_RDAP_BASE_URL": rdap_base,
                "SCART_RDAP_DNS_BOOTSTRAP_URL": f"{rdap_base}/dns.json",
                # The local RDAP peer has no rate limit to respect; it only matters for the warm-up.
                "SCART_RDAP_RATE": "0",
                "LOG_LEVEL": "WARNING",
            }
            if database_url:
                environment["DATABASE_URL"] = database_url
            django_start(var, environment, unset=FOREIGN)
            return run(args, database_url=database_url, peers=peers, say=say)
        finally:
            for peer in peers.values():
                peer.stop()


def run(args: argparse.Namespace, *, database_url: str, peers: dict[str, Peer], say: Callable[[str], None]) -> int:
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    import routing.notices.sending
    import routing.resolution.cases  # noqa: F401  (imports before the clock starts)

    if database_url:
        say(f"recreating database {urlsplit(database_url).path.lstrip('/')} and migrating")
        database_recreate(database_url)
    else:
        say(f"migrating a fresh SQLite database in {settings.VAR_DIR}")
    call_command("migrate", "--noinput", verbosity=0)
    say("peers: " + ", ".join(f"{name} on {peer.address}" for name, peer in peers.items()))

    world = build_world(args)
    say(f"writing {len(world.providers):,} providers and {len(world.cases):,} illegal cases with their assessments")
    case_ids = seed(world, now=datetime.now(UTC), resolved=not args.reresolve)
    warm: dict[str, Any] = {}
    lookups: dict[str, int] = {}
    if args.reresolve:
        warm = warm_up(world, case_ids, say)
        warm.update(dns_queries=peers["dns"].ask("log"), rdap_requests=peers["rdap"].ask("log"))
    # Statistics as a database in service has them (with autovacuum off, as on some development
    # servers, nothing else would gather them: the planner would take 100,000 cases for a few).
    say("ANALYZE (not timed)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    profile = cProfile.Profile() if args.profile else None
    try:
        phases = run_phases(case_ids, args, profile, say)
    finally:
        connections.close_all()
    if args.reresolve:
        lookups = {"dns_queries": peers["dns"].ask("log"), "rdap_requests": peers["rdap"].ask("log")}
    if profile is not None:
        profile.dump_stats(args.profile)
        say(f"profile written to {args.profile} (the timings above include cProfile's overhead)")
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    if phases.errors:
        raise BenchError(f"{len(phases.errors)} send errors, first: {phases.errors[0]}")

    say("checking the database and the messages received")
    database = check_database(world, case_ids, phases)
    digests, peer_data, peer_cpu = peers["smtp"].ask("digest")
    mail = check_messages(world, digests, notices=database["notices"])
    check = (
        f"OK: {database['notices']:,} notices sent as {mail['messages']:,} messages; every one of the "
        f"{mail['pairs']:,} (recipient, URL) pairs the routing calls for in exactly one message; "
        f"all {database['cases_notified']:,} cases notified"
    )
    if args.reresolve:
        if phases.reresolved != len(world.cases):
            raise BenchError(f"{phases.reresolved:,} of {len(world.cases):,} cases were resolved again before sending")
        reresolution = (
            f"on: all {phases.reresolved:,} cases resolved again before sending, from the caches the warm-up filled "
            f"({warm['seconds']:.0f} s, not timed: {warm['dns_queries']:,} DNS queries, {warm['rdap_requests']:,} "
            f"RDAP requests); while timed: {lookups['dns_queries']:,} DNS queries, {lookups['rdap_requests']:,} "
            f"RDAP requests; peers answer after {args.latency * 1000:g} ms"
        )
    else:
        reresolution = "off (reresolve=False): not measured"
    plan_seconds, send_seconds = phases.plan.seconds, phases.send.seconds
    seconds = plan_seconds + send_seconds
    figures = {
        "cases": len(world.cases),
        "providers": len(world.providers),
        "notices": database["notices"],
        "messages": mail["messages"],
        "plan_seconds": round(plan_seconds, 2),
        "send_seconds": round(send_seconds, 2),
        "seconds": round(plan_seconds + send_seconds, 2),
        "plan_calls": phases.plan_calls,
        "send_calls": phases.send_calls,
        "cases_per_second_plan": round(len(world.cases) / plan_seconds, 1),
        "notices_per_second_send": round(database["notices"] / send_seconds, 2),
        "notices_per_second": round(database["notices"] / seconds, 2),
        "cases_per_second": round(len(world.cases) / seconds, 1),
        "plan": phases.plan.as_dict(),
        "send": phases.send.as_dict(),
        "reresolved": phases.reresolved,
        "smtp_peer_cpu_seconds": round(peer_cpu, 2),
        "smtp_peer_data_seconds": round(peer_data, 2),
        "seconds_without_peer_parsing": round(seconds - peer_data, 2),
        "profiled": bool(args.profile),
    }
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": django_machine(),
        "settings": {
            "cases": len(world.cases),
            "providers": len(world.providers),
            "zipf": args.zipf,
            "route_mix": route_mix(world),
            "processes": args.processes,
            "chunk": args.chunk,
            "send_limit": args.send_limit,
            "max_urls": settings.SCART_NOTICE_MAX_URLS,
            "reresolve": args.reresolve,
            "reresolution": reresolution,
            "warm_up": warm,
            "lookups_timed": lookups,
            "seed": args.seed,
        },
        "figures": figures,
        "database": database,
        "mail": mail,
        "check": check,
        "targets": [
            (
                f"route + batch + render + send < {TARGET_SECONDS:.0f} s",
                seconds < TARGET_SECONDS,
                f"{seconds:.1f} s for {len(world.cases):,} cases, {database['notices']:,} notices"
                + (", re-resolution included" if args.reresolve else ", without re-resolution")
                + (" (under cProfile)" if args.profile else ""),
            )
        ],
    }
    print_results(results, print_summary, as_json=args.json)
    return 0


if __name__ == "__main__":
    bench_main(main)
