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
import random
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script (`python bench/resolve.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    BenchError,
    bench_arguments,
    bench_database,
    bench_main,
    bench_redis,
    cpu_ticks,
    database_migrate,
    django_machine,
    django_start,
    percentile,
    print_results,
    say,
    var_dir,
)
from bench._resolve.figures import dns_kinds, lower_bound, print_summary, rdap_kinds
from bench._resolve.naive import run_naive
from bench._resolve.workers import REPORT_SIZE, check_cases, file_reports, resolve_all
from bench._resolve.world import World, build_world, lookups
from bench._world import Peer, Peers, serve_lookups

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_resolve"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/15"
CACHE_PREFIX = "scart-bench-resolve"
TARGET_SPEEDUP = 100.0  # (a) at least this many times the naive baseline's URLs/s
TARGET_BOUND_RATIO = 2.0  # (a) at most this many times the lower bound's time


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = bench_arguments(
        "Benchmark case resolution (DNS, ASN, RDAP, provider) against a naive baseline and the lower bound.",
        [
            ("--urls", int, 10_000, "URLs reported (one case each)"),
            ("--hosts", int, 2_000, "host names the URLs are on"),
            ("--networks", int, 200, "IPv4 /24 networks the hosts are in"),
            ("--asns", int, 50, "ASes announcing the networks (one provider each)"),
            ("--domains", int, 400, "registrable domains the hosts are under"),
            ("--registrars", int, 10, "registrars of the domains"),
            ("--latency", float, 0.05, "seconds both peers wait before every answer"),
            (
                "--processes",
                int,
                2,
                "worker processes running cases_resolve on chunks "
                "(the Procfile's worker: prefork, WORKER_CONCURRENCY=2)",
            ),
            ("--threads", int, 1, "threads per worker process (a prefork worker runs one task at a time)"),
            ("--chunk", int, 0, "case ids per cases_resolve call (0: routing.tasks.ENQUEUE_CHUNK)"),
            ("--resolve-concurrency", int, None, "SCART_RESOLVE_CONCURRENCY (default: the setting's default)"),
            ("--rdap-rate", float, None, "SCART_RDAP_RATE, per registry (default: the setting's default)"),
            ("--rdap-concurrency", int, None, "SCART_RDAP_CONCURRENCY, per registry (default: the setting's default)"),
            ("--naive-sample", int, 100, "URLs the naive baseline looks up"),
        ],
        seed_help="seed of the URL order and the naive sample",
    )
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


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = bench_database(DEFAULT_DATABASE_URL)
    cache_url = bench_redis("SCART_CACHE_URL", DEFAULT_CACHE_URL)

    world = build_world(args)
    with var_dir("resolve") as var, Peers() as running:
        dns_peer = running.start("dns", serve_lookups, "dns", lookups, args, args.latency)
        rdap_peer = running.start("rdap", serve_lookups, "rdap", lookups, args, args.latency)
        environment = {
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
        django_start(var, environment, database_url=database_url)
        say(f"DNS peer on {dns_peer.address}, RDAP peer on {rdap_peer.address}, {args.latency * 1000:.0f} ms latency")
        # Also at the start: a run that was killed left its keys (429 cool-downs, lookup claims
        # and the answers kept under them), which would spare this run lookups.
        say(f"redis: {cache_purge(cache_url)}")
        try:
            return run(args, world=world, database_url=database_url, dns_peer=dns_peer, rdap_peer=rdap_peer, say=say)
        finally:
            say(f"redis: {cache_purge(cache_url)}")


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

    import routing.resolution.cases  # noqa: F401  (imports ipwhois and whoisit before the clock starts)
    from routing.tasks import ENQUEUE_CHUNK

    database_migrate(database_url)

    say(f"filing {len(world.urls):,} URLs as reports of {REPORT_SIZE:,}")
    chunks, cases = file_reports(world.urls)
    if args.chunk:
        ids = [case_id for chunk in chunks for case_id in chunk]
        chunks = [ids[i : i + args.chunk] for i in range(0, len(ids), args.chunk)]
    if cases != len(world.urls):
        raise BenchError(f"{cases} new cases for {len(world.urls)} distinct URLs")
    dns_peer.ask("log")
    rdap_peer.ask("log")

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
    dns_log = dns_peer.ask("log")
    rdap_log = rdap_peer.ask("log")
    say("checking every case")
    check = check_cases(world)
    chunk_seconds = [s for st in stats for s in st.chunk_seconds]
    db_seconds = sum(s.sql.seconds for s in stats)
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
        "db_statements": sum(s.sql.statements for s in stats),
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
        naive_dns = dns_peer.ask("log")
        naive_rdap = rdap_peer.ask("log")
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
