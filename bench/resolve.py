"""Resolution benchmark: scart's pipeline against a naive per-URL lookup and the latency lower bound.

    .venv/bin/python bench/resolve.py                      # full run: 10,000 URLs, 2,000 hosts, 200 networks
    .venv/bin/python bench/resolve.py --urls 2000 --hosts 400 --networks 40 --asns 10 --domains 80
    .venv/bin/python bench/resolve.py --rdap-rate 0        # without the per-registry rate limit

What it does, in order (bench/README.md has the details):

1. builds a synthetic world: ``--networks`` IPv4 /24s announced by ``--asns`` ASes spread over the
   five regional registries, ``--hosts`` host names on ``--domains`` registrable domains (one A
   record each), ``--urls`` URLs on those hosts; serves it from the local DNS and RDAP peers of
   ``devnet`` (Team Cymru's zones included), each in a process of its own and answering
   after ``--latency`` seconds;
2. drops and recreates the database of ``DATABASE_URL`` (default ``scart_bench_resolve``), migrates
   it and files the URLs as API reports (no Celery worker runs: the resolution messages go to an
   in-memory broker and are dropped);
3. (a) resolves every case with ``routing.resolution.cases.cases_resolve``, the way the ``resolve_cases``
   task does: ``--processes`` worker processes (forked, as Celery's prefork pool) of ``--threads``
   threads each take chunks of ``routing.tasks.ENQUEUE_CHUNK`` case ids from one queue; then checks every case (resolved, provider, hosting country, abuse address,
   registrar);
4. (b) runs the naive baseline on ``--naive-sample`` URLs, one after the other: dnspython A and
   AAAA for the host, then ``ipwhois.IPWhois(ip).lookup_rdap(asn_methods=["dns"], depth=1)``
   with its RDAP URLs rewritten to the local peer; extrapolated to every URL;
5. (c) computes the lower bound: distinct queries x latency / lookups in flight;
6. prints the figures as a table (``--json`` also as one JSON object) and purges the bench's keys
   from the Redis cache (also done at the start, in case a run was killed).

No traffic leaves 127.0.0.1: DNS goes only to the local peer (no system resolver is used), every
RDAP URL is the local peer's, the naive baseline's HTTP opener refuses anything it cannot send
there, and PostgreSQL and Redis must be on the loopback interface.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import multiprocessing
import os
import queue
import random
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

# Run as a script (`python bench/resolve.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    LOOPBACK,
    ROOT,
    BenchError,
    bench_database,
    bench_main,
    cpu_ticks,
    database_recreate,
    django_machine,
    django_start,
    percentile,
    print_results,
    print_targets,
    require_loopback,
    say,
    var_dir,
)
from devnet.registries import (
    REGISTRIES,
    Asn,
    Network,
    domain_object,
    network_object,
    registrar_abuse,
    registrar_name,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_resolve"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/15"
CACHE_PREFIX = "scart-bench-resolve"
REPORT_SIZE = 1_000  # URLs per report filed, as a partner's batch
TARGET_SPEEDUP = 100.0  # (a) at least this many times the naive baseline's URLs/s
TARGET_BOUND_RATIO = 2.0  # (a) at most this many times the lower bound's time
MAX_TRIES = 3  # calls of cases_resolve per chunk before a database error stops the run


# --- configuration ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark case resolution (DNS, ASN, RDAP, provider) against a naive baseline and the lower bound.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--urls", type=int, default=10_000, help="URLs reported (one case each)")
    parser.add_argument("--hosts", type=int, default=2_000, help="host names the URLs are on")
    parser.add_argument("--networks", type=int, default=200, help="IPv4 /24 networks the hosts are in")
    parser.add_argument("--asns", type=int, default=50, help="ASes announcing the networks (one provider each)")
    parser.add_argument("--domains", type=int, default=400, help="registrable domains the hosts are under")
    parser.add_argument("--registrars", type=int, default=10, help="registrars of the domains")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds both peers wait before every answer")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="worker processes running cases_resolve on chunks (the Procfile's worker: prefork, WORKER_CONCURRENCY=2)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per worker process (a prefork worker runs one task at a time)"
    )
    parser.add_argument(
        "--chunk", type=int, default=0, help="case ids per cases_resolve call (0: routing.tasks.ENQUEUE_CHUNK)"
    )
    parser.add_argument(
        "--resolve-concurrency",
        type=int,
        default=None,
        help="SCART_RESOLVE_CONCURRENCY (default: the setting's default)",
    )
    parser.add_argument(
        "--rdap-rate", type=float, default=None, help="SCART_RDAP_RATE, per registry (default: the setting's default)"
    )
    parser.add_argument(
        "--rdap-concurrency",
        type=int,
        default=None,
        help="SCART_RDAP_CONCURRENCY, per registry (default: the setting's default)",
    )
    parser.add_argument("--naive-sample", type=int, default=100, help="URLs the naive baseline looks up")
    parser.add_argument("--seed", type=int, default=4711, help="seed of the URL order and the naive sample")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = parser.parse_args(argv)
    for name in ("urls", "hosts", "networks", "asns", "domains", "registrars", "processes", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be positive")
    if args.hosts > args.urls:
        parser.error("--hosts must not exceed --urls (every host needs a URL)")
    if args.networks > args.hosts or args.domains > args.hosts:
        parser.error("--networks and --domains must not exceed --hosts")
    if args.asns > args.networks:
        parser.error("--asns must not exceed --networks (every AS announces a network)")
    if -(-args.hosts // args.networks) > 250:
        parser.error("at most 250 hosts per network (one address each in a /24)")
    if args.networks > 100 * 256:
        parser.error("at most 25,600 networks (the address plan numbers them x.20.0.0/24 to x.119.255.0/24)")
    if args.asns > 900:
        parser.error("at most 900 ASNs (they are taken from the private range 64600-65499)")
    if args.latency <= 0:
        parser.error("--latency must be positive (the lower bound is proportional to it); 0.0001 for nearly none")
    if args.naive_sample < 0 or args.chunk < 0:
        parser.error("--naive-sample and --chunk must not be negative")
    return args


# --- the synthetic world ----------------------------------------------------------------------


# Top-level domains of the registrable domains. scart refuses the reserved .example/.test TLDs,
# and example.com/net/org are one registrable domain each; so the domains are invented names
# under ordinary TLDs. They are only ever asked of the local peers.
TLDS = ("com", "net", "org", "nl", "de", "be", "eu", "info")


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    ip: str
    network: Network
    domain: str
    registrar: int


@dataclass
class World:
    asns: list[Asn]
    networks: list[Network]
    hosts: list[Host]
    domains: dict[str, int]  # registrable domain: registrar
    urls: list[str]  # in the order they are reported
    host_of_url: dict[str, Host] = field(repr=False)


def build_world(args: argparse.Namespace) -> World:
    """The same world for the same arguments, in the bench and in the peer processes."""
    asns = []
    for a in range(args.asns):
        registry = REGISTRIES[a % len(REGISTRIES)]
        country = registry.countries[(a // len(REGISTRIES)) % len(registry.countries)]
        asns.append(Asn(64600 + a, registry, country, provider=a))
    networks = []
    for n in range(args.networks):
        asn = asns[n % len(asns)]
        block = ipaddress.IPv4Network(f"{asn.registry.first_octet}.{20 + n // 256}.{n % 256}.0/24")
        if not block.network_address.is_global:
            raise BenchError(f"{block} is not global space")
        networks.append(Network(n, block, asn))
    hosts = []
    domains: dict[str, int] = {}
    for h in range(args.hosts):
        network = networks[h % len(networks)]
        ip = str(network.block.network_address + 1 + h // len(networks))
        d = h % args.domains
        domain = f"scart-bench-{d:04d}.{TLDS[d % len(TLDS)]}"
        registrar = d % args.registrars
        domains[domain] = registrar
        hosts.append(Host(f"h{h}.{domain}", ip, network, domain, registrar))
    urls = []
    host_of_url = {}
    for i in range(args.urls):
        host = hosts[i % len(hosts)]
        url = f"https://{host.name}/bench/{i // len(hosts)}/page-{i}.html"
        urls.append(url)
        host_of_url[url] = host
    random.Random(f"{args.seed}:urls").shuffle(urls)
    return World(asns, networks, hosts, domains, urls, host_of_url)


# --- the local peers, each in a process of its own --------------------------------------------


def serve_peer(kind: str, args: argparse.Namespace, conn: Connection) -> None:
    """Body of a peer process: serve the world over DNS ("dns") or RDAP ("rdap") until told to stop.

    Commands on ``conn``: "log" answers the log (DNS questions or RDAP paths) since the last "log";
    "stop" ends the process. Running the peers outside the bench process keeps their CPU work
    (parsing and rendering every query in Python) from competing with scart's threads for the GIL.
    """
    sys.path.insert(0, str(ROOT))
    from devnet.cymru import add_asn_name, add_origin
    from devnet.dns import FakeDNS
    from devnet.rdap import FakeRDAP

    world = build_world(args)
    server: FakeDNS | FakeRDAP
    if kind == "dns":
        dns = server = FakeDNS(latency=args.latency)
        for host in world.hosts:
            dns.add(host.name, "A", host.ip)
            asn = host.network.asn
            add_origin(
                dns,
                host.ip,
                asn=str(asn.number),
                cidr=str(host.network.block),
                country=asn.country,
                registry=asn.registry.name,
                date="2011-02-08",
            )
        for asn in world.asns:
            name = f"BENCH-AS{asn.provider} Bench Provider {asn.provider}, {asn.country}"
            add_asn_name(dns, str(asn.number), country=asn.country, registry=asn.registry.name, name=name)
        log: list[Any] = dns.queries
    else:
        rdap = server = FakeRDAP(latency=args.latency)
        for network in world.networks:
            obj, contacts = network_object(network)
            rdap.add_network(obj)
            for contact in contacts:
                rdap.add_entity(contact)
        for domain, registrar in world.domains.items():
            rdap.add_domain(domain_object(domain, registrar))
        log = rdap.requests
    with server:
        conn.send(server.address if isinstance(server, FakeDNS) else server.base_url)
        seen = 0
        while True:
            try:
                command = conn.recv()
            except EOFError:  # the bench went away
                break
            if command == "log":
                end = len(log)
                conn.send(list(log[seen:end]))
                seen = end
            elif command == "stop":
                break


class Peer:
    """A peer process and the pipe to it."""

    def __init__(self, kind: str, args: argparse.Namespace) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve_peer, args=(kind, args, child), name=f"bench-{kind}", daemon=True)
        self.process.start()
        child.close()
        deadline = time.monotonic() + 120
        while not self.conn.poll(0.2):
            if not self.process.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"the {kind} peer did not start (exit code {self.process.exitcode})")
        self.address: str = self.conn.recv()

    def log(self) -> list[Any]:
        """What the peer received since the last call."""
        self.conn.send("log")
        entries: list[Any] = self.conn.recv()
        return entries

    def stop(self) -> None:
        with suppress(OSError, BrokenPipeError):
            self.conn.send("stop")
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


def dns_kinds(queries: list[tuple[str, str]]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for name, rtype in queries:
        if rtype == "TXT" and name.endswith(".origin.asn.cymru.com"):
            kinds["cymru_origin"] += 1
        elif rtype == "TXT" and name.endswith(".asn.cymru.com"):
            kinds["cymru_as_name"] += 1
        elif rtype in ("A", "AAAA"):
            kinds[f"host_{rtype.lower()}"] += 1
        else:
            kinds["other"] += 1
    return {k: kinds[k] for k in ("host_a", "host_aaaa", "cymru_origin", "cymru_as_name", "other")}


def rdap_kinds(paths: list[str]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for path in paths:
        kind = path.lstrip("/").split("/", 1)[0]
        kinds[kind if kind in ("ip", "entity", "domain") else "other"] += 1
    return {k: kinds[k] for k in ("ip", "entity", "domain", "other")}


# --- PostgreSQL and Redis ---------------------------------------------------------------------


def cache_purge(url: str) -> str:
    """Delete the bench's keys (its own prefix) from the Redis cache; nothing else is touched."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{CACHE_PREFIX}:*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
    return f"deleted {len(keys)} keys with prefix {CACHE_PREFIX}"


# --- (a) scart --------------------------------------------------------------------------------


class PoolDiscards(logging.Filter):
    """Counts (and keeps off the console) urllib3's "Connection pool is full" warnings: here every
    registry is one host, the local peer, so the RDAP client's per-host pool is too small."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Connection pool is full"):
            self.count += 1
            return False
        return True


def file_reports(urls: list[str]) -> tuple[list[list[int]], int]:
    """File ``urls`` as API reports of `REPORT_SIZE`; returns the chunks of new case ids exactly as
    ``cases_enqueue_resolution`` sends them to the resolution queue, and the number of cases."""
    from reports.models import Channel
    from reports.services import report_create
    from routing.tasks import ENQUEUE_CHUNK

    chunks: list[list[int]] = []
    cases = 0
    for start in range(0, len(urls), REPORT_SIZE):
        result = report_create(channel=Channel.API, urls=urls[start : start + REPORT_SIZE], external_ref="bench")
        if result.rejected:
            raise BenchError(f"{len(result.rejected)} URLs rejected, first: {result.rejected[0]}")
        new_ids = [a.case_id for a in result.accepted if not a.duplicate]
        cases += len(new_ids)
        chunks.extend(new_ids[i : i + ENQUEUE_CHUNK] for i in range(0, len(new_ids), ENQUEUE_CHUNK))
    return chunks, cases


@dataclass
class WorkerStats:
    chunks: int = 0
    claimed: int = 0
    chunk_seconds: list[float] = field(default_factory=list)
    busy_seconds: float = 0.0  # in cases_resolve, failed calls included
    db_statements: int = 0
    db_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)  # database errors of cases_resolve, retried
    errors: list[str] = field(default_factory=list)


def resolve_all(
    chunks: list[list[int]], *, processes: int, threads: int
) -> tuple[float, float, list[WorkerStats], int]:
    """Run ``cases_resolve`` on every chunk from ``processes`` worker processes of ``threads``
    threads each, all taking chunks from one queue, as Celery's prefork workers share the broker's
    queue. Returns (wall seconds, CPU seconds of the worker processes, stats per thread, urllib3
    pool discards).

    A call that fails with a database error (the task logs it and leaves the cases to the sweep)
    is counted, and its chunk goes back on the queue with the claim on its unresolved cases
    released, as if the lease had run out and the sweep had sent it again (in production that
    takes about ``SCART_RESOLVE_LEASE_SECONDS`` plus ``SCART_SWEEP_CLAIMS_SECONDS``). A chunk failing `MAX_TRIES` times stops the run.
    """
    from django.db import connections

    connections.close_all()  # the children connect on their own, as forked Celery workers do
    context = multiprocessing.get_context("fork")
    work: Any = context.Queue()
    for chunk in chunks:
        work.put((1, chunk))
    results: Any = context.Queue()
    ready = context.Barrier(processes * threads + 1)
    children = [
        context.Process(target=worker_process, args=(work, results, ready, threads), name=f"bench-worker-{i}")
        for i in range(processes)
    ]
    for child in children:
        child.start()
    with suppress(threading.BrokenBarrierError):
        ready.wait()  # broken when a worker could not start: its error is reported below
    started = time.perf_counter()
    stats: list[WorkerStats] = []
    cpu_seconds = 0.0
    discards = 0
    for _ in children:
        child_stats, child_cpu, child_discards = results.get()
        stats.extend(child_stats)
        cpu_seconds += child_cpu
        discards += child_discards
    seconds = time.perf_counter() - started
    for child in children:
        child.join()
    return seconds, cpu_seconds, stats, discards


def worker_process(work: Any, results: Any, ready: Any, threads: int) -> None:
    """Body of one worker process: ``threads`` threads calling ``cases_resolve`` on chunks from
    ``work`` until it is empty; puts (stats per thread, CPU seconds, pool discards) on ``results``."""
    from django.db import DatabaseError, connection, connections
    from django.utils import timezone

    from reports.models import Case
    from routing.resolution.cases import cases_resolve

    discards = PoolDiscards()
    logging.getLogger("urllib3.connectionpool").addFilter(discards)
    stats = [WorkerStats() for _ in range(threads)]

    def worker(mine: WorkerStats) -> None:
        def timed(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                mine.db_statements += 1
                mine.db_seconds += time.perf_counter() - started

        try:
            connection.ensure_connection()  # connecting is not part of the measurement
            ready.wait()
            with connection.execute_wrapper(timed):
                while True:
                    try:
                        tries, chunk = work.get(timeout=0.5)
                    except queue.Empty:
                        return
                    started = time.perf_counter()
                    try:
                        attempts = cases_resolve(case_ids=chunk)
                    except DatabaseError as exc:
                        mine.busy_seconds += time.perf_counter() - started
                        lines = str(exc).splitlines()
                        where = [line for line in lines[1:] if line.startswith("CONTEXT")]
                        mine.failures.append(" ".join([f"{type(exc).__name__}: {lines[0]}", *where[:1]]))
                        if tries >= MAX_TRIES:
                            raise
                        Case.objects.filter(pk__in=chunk, resolve_due_at__isnull=False).update(
                            resolve_due_at=timezone.now()
                        )
                        work.put((tries + 1, chunk))
                        continue
                    mine.chunk_seconds.append(time.perf_counter() - started)
                    mine.busy_seconds += mine.chunk_seconds[-1]
                    mine.chunks += 1
                    mine.claimed += len(attempts)
        except Exception as exc:
            mine.errors.append(f"{type(exc).__name__}: {exc}")
            with suppress(threading.BrokenBarrierError):
                ready.abort()
        finally:
            connections.close_all()

    cpu = time.process_time()
    pool = [threading.Thread(target=worker, args=(s,), name=f"bench-thread-{i}") for i, s in enumerate(stats)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put((stats, time.process_time() - cpu, discards.count))


def check_cases(world: World) -> str:
    """Every case resolved, on the provider, country, ASN, abuse address and registrar of its host."""
    from reports.models import Case

    problems: list[str] = []
    rows = Case.objects.select_related("provider").only(
        "original_url", "resolved_at", "resolve_due_at", "hosting_country", "asn", "resolution", "provider"
    )
    count = 0
    for case in rows.iterator(chunk_size=2000):
        count += 1
        host = world.host_of_url[case.original_url]
        asn = host.network.asn
        registrar = (case.resolution or {}).get("registrar") or {}
        if case.resolved_at is None:
            problems.append(f"{case.original_url}: not resolved (due {case.resolve_due_at})")
        elif case.provider is None:
            problems.append(f"{case.original_url}: no provider ({case.resolution.get('errors')})")
        elif case.provider.key != f"rdap:{asn.registry.name}:{asn.org_handle}":
            problems.append(f"{case.original_url}: provider {case.provider.key}, expected {asn.org_handle}")
        elif case.provider.abuse_emails != [asn.abuse_email]:
            problems.append(f"{case.original_url}: abuse {case.provider.abuse_emails}, expected {asn.abuse_email}")
        elif case.hosting_country != asn.country:
            problems.append(f"{case.original_url}: country {case.hosting_country!r}, expected {asn.country}")
        elif case.asn != asn.number:
            problems.append(f"{case.original_url}: ASN {case.asn}, expected {asn.number}")
        elif registrar.get("name") != registrar_name(host.registrar) or registrar.get("abuse_emails") != [
            registrar_abuse(host.registrar)
        ]:
            problems.append(f"{case.original_url}: registrar {registrar}, expected {registrar_name(host.registrar)}")
    if count != len(world.urls):
        problems.insert(0, f"{count} cases in the database for {len(world.urls)} URLs")
    if problems:
        raise BenchError(f"{len(problems)} cases wrong, first: " + "; ".join(problems[:3]))
    providers = len({a.provider for a in world.asns})
    return f"OK: all {count:,} cases resolved to the expected provider ({providers} in all), country, ASN, abuse address and registrar"


# --- (b) naive baseline -----------------------------------------------------------------------


class ToLocalRdap(urllib.request.BaseHandler):
    """Sends ipwhois's RDAP requests (``https://rdap.<registry>/.../ip/...``) to the local peer with
    the same RFC 9082 path, and refuses every other request that would leave 127.0.0.1."""

    handler_order = 100  # before urllib's own HTTP and HTTPS handlers
    LOOKUPS = ("/ip/", "/entity/", "/autnum/", "/domain/")

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def https_open(self, req: urllib.request.Request) -> Any:
        parts = urlsplit(req.full_url)
        starts = [parts.path.find(marker) for marker in self.LOOKUPS if marker in parts.path]
        if not (parts.hostname or "").startswith("rdap.") or not starts:
            raise URLError(f"the bench sends nothing to {req.full_url}")
        local = urllib.request.Request(f"{self.base_url}{parts.path[min(starts) :]}", headers=dict(req.header_items()))
        return self.parent.open(local, timeout=req.timeout)

    def http_open(self, req: urllib.request.Request) -> None:
        if (urlsplit(req.full_url).hostname or "") not in LOOPBACK:
            raise URLError(f"the bench sends nothing to {req.full_url}")
        return None  # urllib's HTTPHandler sends it


def naive_lookup(url: str, *, resolver: Any, opener: urllib.request.OpenerDirector) -> tuple[str, list[str]]:
    """What a script without caches does per URL: A and AAAA of the host, then ipwhois' RDAP lookup
    (Team Cymru origin and AS name over DNS, the network and its entities over RDAP).
    Returns (address, the e-mail addresses of the entities found)."""
    import dns.rdatatype
    from ipwhois import IPWhois

    host = urlsplit(url).hostname or ""
    addresses: list[str] = []
    for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        answer = resolver.resolve(host, rdtype, raise_on_no_answer=False, search=False)
        addresses.extend(r.address for r in answer.rrset or [])
    if not addresses:
        raise BenchError(f"naive baseline: {host} has no address")
    whois = IPWhois(addresses[0], timeout=5, proxy_opener=opener)
    whois.net.dns_resolver = resolver
    result = whois.lookup_rdap(asn_methods=["dns"], depth=1)
    emails = [
        email["value"]
        for obj in (result.get("objects") or {}).values()
        for email in ((obj.get("contact") or {}).get("email") or [])
    ]
    return addresses[0], emails


def run_naive(
    world: World, urls: list[str], *, dns_address: str, rdap_base: str, latency: float
) -> tuple[float, list[float]]:
    """Look ``urls`` up one after the other; returns (seconds, seconds per URL)."""
    sys.path.insert(0, str(ROOT))
    from routing.resolution.dns import make_resolver

    resolver = make_resolver([dns_address], timeout=max(2.0, latency * 10), lifetime=max(6.0, latency * 30))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), ToLocalRdap(rdap_base))
    per_url = []
    started = time.perf_counter()
    for url in urls:
        one = time.perf_counter()
        address, emails = naive_lookup(url, resolver=resolver, opener=opener)
        per_url.append(time.perf_counter() - one)
        host = world.host_of_url[url]
        if address != host.ip or host.network.asn.abuse_email not in emails:
            raise BenchError(f"naive baseline: {url} gave {address} {emails}, expected {host.ip}")
    return time.perf_counter() - started, per_url


# --- figures ----------------------------------------------------------------------------------


def lower_bound(world: World, *, latency: float, in_flight: int, rdap_rate: float) -> dict[str, Any]:
    """(c): the distinct queries the work needs, x latency / lookups in flight; and, for reference,
    the floor the per-registry rate limit sets on its own (queries of the busiest registry / rate)."""
    dns = {
        "host_a": len(world.hosts),
        "host_aaaa": len(world.hosts),
        "cymru_origin": len(world.networks),
        "cymru_as_name": len({n.asn.number for n in world.networks}),
    }
    rdap = {"ip": len(world.networks), "entity": 0, "domain": len(world.domains)}
    queries = sum(dns.values()) + sum(rdap.values())
    seconds = queries * latency / in_flight
    gates: Counter[str] = Counter(n.asn.registry.name for n in world.networks)
    gates.update(f"domain:{d.rpartition('.')[2]}" for d in world.domains)
    busiest, busiest_count = gates.most_common(1)[0]
    return {
        "dns": dns,
        "rdap": rdap,
        "dns_queries": sum(dns.values()),
        "rdap_requests": sum(rdap.values()),
        "queries": queries,
        "in_flight": in_flight,
        "seconds": round(seconds, 3),
        "urls_per_second": round(len(world.urls) / seconds, 1),
        "rate_floor_seconds": round(busiest_count / rdap_rate, 2) if rdap_rate > 0 else 0.0,
        "rate_floor_gate": f"{busiest} ({busiest_count} requests)",
    }


def print_summary(results: dict[str, Any]) -> None:
    m, cfg, a, b, c = (results[k] for k in ("machine", "settings", "scart", "naive", "lower_bound"))
    line = "-" * 100
    print()
    print(line)
    print(f"machine   {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Django {m['django']}, {m['database']}")
    print(
        f"world     {cfg['urls']:,} URLs on {cfg['hosts']:,} hosts ({cfg['domains']} registrable domains), "
        f"{cfg['networks']} networks, {cfg['asns']} ASes, 5 registries; peers answer after {cfg['latency'] * 1000:.0f} ms"
    )
    print(
        f"scart     {cfg['processes']} worker processes x {cfg['threads']} thread{'s' if cfg['threads'] > 1 else ''}"
        f" x cases_resolve on chunks of {cfg['chunk']}; "
        f"SCART_RESOLVE_CONCURRENCY={cfg['resolve_concurrency']}, SCART_RDAP_CONCURRENCY={cfg['rdap_concurrency']}, "
        f"SCART_RDAP_RATE={cfg['rdap_rate']:g}/s per registry"
    )
    print(line)
    print(f"{'':<22}{'URLs/s':>12}{'time':>14}{'DNS queries':>14}{'RDAP requests':>16}   note")
    rows = [
        ("(a) scart pipeline", a["urls_per_second"], a["seconds"], a["dns_queries"], a["rdap_requests"], "measured")
    ]
    if b["sample"]:
        rows.append(
            (
                "(b) naive baseline",
                b["urls_per_second"],
                b["seconds"],
                b["dns_queries"],
                b["rdap_requests"],
                f"extrapolated linearly from {b['sample']} URLs looked up one after the other",
            )
        )
    rows.append(
        (
            "(c) lower bound",
            c["urls_per_second"],
            c["seconds"],
            c["dns_queries"],
            c["rdap_requests"],
            f"{c['queries']:,} distinct queries x {cfg['latency'] * 1000:.0f} ms / {c['in_flight']} in flight",
        )
    )
    for name, rate, seconds, dns, rdap, note in rows:
        print(f"{name:<22}{rate:>12,.1f}{seconds:>12,.1f} s{dns:>14,.0f}{rdap:>16,.0f}   {note}")
    print(line)
    details = [
        (
            "(a) DNS by kind",
            "host A {host_a:,}, AAAA {host_aaaa:,}; Cymru origin {cymru_origin:,}, AS name {cymru_as_name:,}".format(
                **a["dns"]
            ),
        ),
        ("(a) RDAP by kind", "ip {ip:,}, entity {entity:,}, domain {domain:,}".format(**a["rdap"])),
        (
            "(a) distinct",
            f"{a['dns_distinct']:,} DNS questions, {a['rdap_distinct']:,} RDAP paths "
            f"(lower bound needs {c['dns_queries']:,} and {c['rdap_requests']:,})",
        ),
        (
            "(a) chunks",
            f"{a['chunks']} calls, p50 {a['chunk_p50_s']:.2f} s, p95 {a['chunk_p95_s']:.2f} s, max {a['chunk_max_s']:.2f} s",
        ),
        (
            "(a) database",
            f"{a['db_statements']:,} statements; {a['db_seconds']:.1f} s in them summed over the workers, "
            f"{a['db_share']:.0%} of their time in cases_resolve (waits for the GIL included)",
        ),
        (
            "(a) CPU",
            f"{a['cpu_seconds']:.1f} s in the worker processes ({a['cpu_seconds'] / a['seconds']:.0%} of one core)"
            + (f"; the machine was {a['machine_busy']:.0%} busy" if a["machine_busy"] is not None else ""),
        ),
        (
            "(a) failed calls",
            f"{len(a['failed_calls'])} (retried at once)"
            + (f", first: {a['failed_calls'][0]}" if a["failed_calls"] else ""),
        ),
        ("(a) RDAP pool", f"{a['pool_discards']:,} connections discarded by urllib3 (pool full)"),
        ("(a) check", a["check"]),
    ]
    if b["sample"]:
        details += [
            (
                "(b) per URL",
                "{dns_per_url:g} DNS queries, {rdap_per_url:g} RDAP requests; p50 {p50_ms:.0f} ms, max {max_ms:.0f} ms".format(
                    **b
                ),
            ),
            (
                "(b) sample",
                f"{b['sample']} URLs in {b['sample_seconds']:.1f} s; "
                + "DNS: host A {host_a}, AAAA {host_aaaa}, Cymru origin {cymru_origin}, AS name {cymru_as_name}; ".format(
                    **b["dns"]
                )
                + "RDAP: ip {ip}, entity {entity}, domain {domain}".format(**b["rdap"]),
            ),
        ]
    details.append(
        (
            "(c) rate floor",
            f"{c['rate_floor_seconds']:.1f} s: the busiest rate gate, {c['rate_floor_gate']}, at "
            f"{cfg['rdap_rate']:g}/s (not part of (c))"
            if cfg["rdap_rate"] > 0
            else "none: SCART_RDAP_RATE=0 (no rate limit)",
        )
    )
    for name, value in details:
        print(f"{name:<22}{value}")
    print(line)
    print_targets(results["targets"], line)


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = bench_database(DEFAULT_DATABASE_URL)
    cache_url = os.environ.get("SCART_CACHE_URL", DEFAULT_CACHE_URL)
    require_loopback("SCART_CACHE_URL", cache_url)
    if not cache_url.startswith("redis://"):
        raise BenchError("SCART_CACHE_URL must be a Redis URL")

    world = build_world(args)
    peers: list[Peer] = []
    with var_dir("resolve") as var:
        try:
            dns_peer = Peer("dns", args)
            peers.append(dns_peer)
            rdap_peer = Peer("rdap", args)
            peers.append(rdap_peer)
            require_loopback("the DNS peer", f"dns://{dns_peer.address}")
            require_loopback("the RDAP peer", rdap_peer.address)
            environment = {
                "DATABASE_URL": database_url,
                # The intake enqueues resolution tasks on commit; no worker runs, so they go nowhere.
                "CELERY_BROKER_URL": "memory://localhost/",
                "SCART_CACHE_URL": cache_url,
                "SCART_CACHE_PREFIX": CACHE_PREFIX,
                "SCART_DNS_NAMESERVERS": dns_peer.address,
                "SCART_RDAP_BASE_URL": rdap_peer.address,
                "SCART_RDAP_DNS_BOOTSTRAP_URL": f"{rdap_peer.address}/dns.json",
                "LOG_LEVEL": "WARNING",
            }
            for option, name in (
                ("resolve_concurrency", "SCART_RESOLVE_CONCURRENCY"),
                ("rdap_rate", "SCART_RDAP_RATE"),
                ("rdap_concurrency", "SCART_RDAP_CONCURRENCY"),
            ):
                if getattr(args, option) is not None:
                    environment[name] = str(getattr(args, option))
            django_start(var, environment)
            say(
                f"DNS peer on {dns_peer.address}, RDAP peer on {rdap_peer.address}, {args.latency * 1000:.0f} ms latency"
            )
            # Also at the start: a run that was killed left its keys (429 cool-downs, lookup claims
            # and the answers kept under them), which would spare this run lookups.
            say(f"redis: {cache_purge(cache_url)}")
            try:
                return run(
                    args, world=world, database_url=database_url, dns_peer=dns_peer, rdap_peer=rdap_peer, say=say
                )
            finally:
                say(f"redis: {cache_purge(cache_url)}")
        finally:
            for peer in peers:
                peer.stop()


def run(
    args: argparse.Namespace,
    *,
    world: World,
    database_url: str,
    dns_peer: Peer,
    rdap_peer: Peer,
    say: Callable[[str], None],
) -> int:
    from django.conf import settings
    from django.core.management import call_command

    import routing.resolution.cases  # noqa: F401  (imports ipwhois and whoisit before the clock starts)
    from routing.tasks import ENQUEUE_CHUNK

    say(f"recreating database {urlsplit(database_url).path.lstrip('/')} and migrating")
    database_recreate(database_url)
    call_command("migrate", "--noinput", verbosity=0)

    say(f"filing {len(world.urls):,} URLs as reports of {REPORT_SIZE:,}")
    chunks, cases = file_reports(world.urls)
    if args.chunk:
        ids = [case_id for chunk in chunks for case_id in chunk]
        chunks = [ids[i : i + args.chunk] for i in range(0, len(ids), args.chunk)]
    if cases != len(world.urls):
        raise BenchError(f"{cases} new cases for {len(world.urls)} distinct URLs")
    dns_peer.log()
    rdap_peer.log()

    say(
        f"(a) resolving {cases:,} cases in {len(chunks)} chunks from {args.processes} worker processes"
        f" of {args.threads} thread{'s' if args.threads > 1 else ''}"
    )
    ticks = cpu_ticks()
    seconds, cpu_seconds, stats, discards = resolve_all(chunks, processes=args.processes, threads=args.threads)
    busy, total = (after - before for after, before in zip(cpu_ticks(), ticks, strict=True))
    errors = [e for s in stats for e in s.errors]
    if errors:
        raise BenchError(f"{len(errors)} workers failed, first: {errors[0]}")
    dns_log = dns_peer.log()
    rdap_log = rdap_peer.log()
    say("checking every case")
    check = check_cases(world)
    chunk_seconds = [s for st in stats for s in st.chunk_seconds]
    db_seconds = sum(s.db_seconds for s in stats)
    busy_seconds = sum(s.busy_seconds for s in stats)
    scart = {
        "cases": cases,
        "claimed": sum(s.claimed for s in stats),
        "seconds": round(seconds, 2),
        "urls_per_second": round(len(world.urls) / seconds, 1),
        "dns_queries": len(dns_log),
        "dns": dns_kinds(dns_log),
        "dns_distinct": len(set(dns_log)),
        "rdap_requests": len(rdap_log),
        "rdap": rdap_kinds(rdap_log),
        "rdap_distinct": len(set(rdap_log)),
        "chunks": len(chunk_seconds),
        "chunk_p50_s": round(percentile(chunk_seconds, 50), 3),
        "chunk_p95_s": round(percentile(chunk_seconds, 95), 3),
        "chunk_max_s": round(max(chunk_seconds, default=0), 3),
        "db_statements": sum(s.db_statements for s in stats),
        "db_seconds": round(db_seconds, 2),
        "db_share": round(db_seconds / busy_seconds, 3) if busy_seconds else 0.0,
        "cpu_seconds": round(cpu_seconds, 2),
        "machine_busy": round(busy / total, 3) if total else None,
        "failed_calls": [f for s in stats for f in s.failures],
        "pool_discards": discards,
        "check": check,
    }
    if scart["claimed"] != cases:
        raise BenchError(f"{scart['claimed']} cases claimed of {cases}")

    sample = random.Random(f"{args.seed}:naive").sample(world.urls, min(args.naive_sample, len(world.urls)))
    naive: dict[str, Any] = {"sample": len(sample)}
    if sample:
        say(f"(b) naive baseline on {len(sample)} URLs, one after the other")
        naive_seconds, per_url = run_naive(
            world, sample, dns_address=dns_peer.address, rdap_base=rdap_peer.address, latency=args.latency
        )
        naive_dns = dns_peer.log()
        naive_rdap = rdap_peer.log()
        per_url_seconds = naive_seconds / len(sample)
        naive.update(
            seconds=round(per_url_seconds * len(world.urls), 1),
            sample_seconds=round(naive_seconds, 2),
            urls_per_second=round(1 / per_url_seconds, 2),
            dns_per_url=round(len(naive_dns) / len(sample), 2),
            rdap_per_url=round(len(naive_rdap) / len(sample), 2),
            dns_queries=round(len(naive_dns) / len(sample) * len(world.urls)),
            rdap_requests=round(len(naive_rdap) / len(sample) * len(world.urls)),
            dns=dns_kinds(naive_dns),
            rdap=rdap_kinds(naive_rdap),
            p50_ms=round(percentile(per_url, 50) * 1000, 1),
            max_ms=round(max(per_url) * 1000, 1),
        )

    in_flight = args.processes * args.threads * settings.SCART_RESOLVE_CONCURRENCY
    bound = lower_bound(world, latency=args.latency, in_flight=in_flight, rdap_rate=settings.SCART_RDAP_RATE)
    targets: list[tuple[str, bool, str]] = []
    if sample:
        speedup = scart["urls_per_second"] / naive["urls_per_second"]
        naive["speedup_of_scart"] = round(speedup, 1)
        targets.append(
            (
                f"(a)/(b) >= {TARGET_SPEEDUP:.0f}x",
                speedup >= TARGET_SPEEDUP,
                f"{speedup:,.0f}x ({scart['urls_per_second']:,.0f} vs {naive['urls_per_second']:,.2f} URLs/s)",
            )
        )
    over_bound = seconds / bound["seconds"]
    bound["scart_over_bound"] = round(over_bound, 2)
    targets.append(
        (
            f"time(a)/time(c) <= {TARGET_BOUND_RATIO:.0f}",
            over_bound <= TARGET_BOUND_RATIO,
            f"{over_bound:.2f} ({seconds:.1f} s vs {bound['seconds']:.1f} s)",
        )
    )
    results: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": django_machine(),
        "settings": {
            "urls": len(world.urls),
            "hosts": len(world.hosts),
            "networks": len(world.networks),
            "asns": len(world.asns),
            "domains": len(world.domains),
            "registrars": args.registrars,
            "latency": args.latency,
            "processes": args.processes,
            "threads": args.threads,
            "chunk": args.chunk or ENQUEUE_CHUNK,
            "resolve_concurrency": settings.SCART_RESOLVE_CONCURRENCY,
            "rdap_concurrency": settings.SCART_RDAP_CONCURRENCY,
            "rdap_rate": settings.SCART_RDAP_RATE,
            "seed": args.seed,
        },
        "scart": scart,
        "naive": naive,
        "lower_bound": bound,
        "targets": targets,
    }
    print_results(results, print_summary, as_json=args.json)
    return 0


if __name__ == "__main__":
    bench_main(main)
