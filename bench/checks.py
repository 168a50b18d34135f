"""Availability-check benchmark: many checks at the default limits against a slow local HTTP host.

    .venv/bin/python bench/checks.py                     # 10,000 checks, 100 ms per answer
    .venv/bin/python bench/checks.py --checks 500 --hosts 100 --hot-hosts 2
    .venv/bin/python bench/checks.py --json              # also one JSON object with every figure
    .venv/bin/python bench/checks.py --processes 3       # three checking processes share the per-host limit

What it does:

1. builds ``--checks`` URLs on ``--hosts`` distinct host names, plus ``--hot-hosts`` names that get
   ``--hot-share`` of all URLs between them (to show the per-host cap holding under pressure);
   the paths are a fixed mix for the same ``--seed``: mostly 200, some 404, 410 and 503, some
   same-host redirects and some HEAD-refusing URLs (two answers each);
2. serves every name from the local DNS peer (all pointing at 127.0.0.1) and the paths from the
   local HTTP peer (``devnet/http.py``), which waits ``--latency`` seconds before every
   answer; each peer runs in a process of its own so that its Python work does not compete with
   the checker's threads for the GIL;
3. runs ``routing.checks.runner.checks_run`` on all URLs at the default limits
   (``SCART_CHECK_CONCURRENCY``, ``SCART_CHECK_PER_HOST``; ``--concurrency`` and ``--per-host``
   override them), with ``SCART_CHECK_ALLOW_NETWORKS=127.0.0.1/32`` so the guard lets the peer in.
   With ``--processes N`` the URLs are dealt out to N checking processes, each running
   ``checks_run`` with those limits at the same time: the per-host limit is shared between them
   (lock files under the bench's own var directory, or the Redis of ``--limit-url``), the overall
   one is not (N x concurrency in all);
4. prints checks/s against the target (``--target``, 300), the peak number of requests in progress
   at once per Host header as the peer saw it (over all processes) against the per-host limit, the
   outcomes (each must be the one its path gives) and the lower bound: answers x latency / overall
   concurrency, or the busiest host's answers x latency / per-host limit if that is longer.

The exit status is 1 when the per-host limit was exceeded or an outcome was wrong, 0 otherwise (a
rate below the target is printed as FAIL but is a measurement, not an error). Nothing leaves
127.0.0.1: names resolve only through the local DNS peer and every address is the peer's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

# Run as a script (`python bench/checks.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import bench_arguments, bench_main, django_start, say, var_dir
from bench._world import Peer, Peers, serve

# Path, expected outcome, answers the check needs, weight in the mix.
PATHS: list[tuple[str, str, int, int]] = [
    ("/status/200", "online", 1, 70),
    ("/status/404", "gone", 1, 8),
    ("/status/410", "gone", 1, 4),
    ("/status/503", "unreachable", 1, 4),
    ("/redirect/1", "online", 2, 7),
    ("/no-head", "online", 2, 7),
]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = bench_arguments(
        "Benchmark availability checks against the local HTTP peer.",
        [
            ("--checks", int, 10_000, "URLs checked"),
            ("--hosts", int, 2_000, "distinct host names for the cold URLs"),
            ("--hot-hosts", int, 4, "host names that get many URLs each"),
            ("--hot-share", float, 0.08, "share of all URLs on the hot hosts"),
            ("--latency", float, 0.1, "seconds the HTTP peer waits before every answer"),
            ("--concurrency", int, None, "checks at once (default SCART_CHECK_CONCURRENCY)"),
            ("--per-host", int, None, "checks at once per host (default SCART_CHECK_PER_HOST)"),
            ("--processes", int, 1, "checking processes sharing the per-host limit (1: this one)"),
            (
                "--limit-url",
                str,
                "",
                "SCART_CHECK_LIMIT_URL for the shared per-host limit "
                "(default: lock files in the bench's var directory)",
            ),
            ("--target", float, 300.0, "checks/s to reach"),
        ],
        seed=1,
        seed_help=None,
    )
    return parser.parse_args(argv)


def build_urls(args: argparse.Namespace, port: int) -> tuple[list[str], list[str], list[str], list[str]]:
    """The URLs (shuffled), their expected outcomes, the cold and the hot host names."""
    rng = random.Random(args.seed)
    cold = [f"h{n}.bench-checks.example.com" for n in range(args.hosts)]
    hot = [f"hot{n}.bench-checks.example.net" for n in range(args.hot_hosts)]
    hot_count = round(args.checks * args.hot_share) if hot else 0
    hosts = [hot[n % len(hot)] for n in range(hot_count)] + [
        cold[n % len(cold)] for n in range(args.checks - hot_count)
    ]
    rng.shuffle(hosts)
    weights = [weight for *_, weight in PATHS]
    urls, expected = [], []
    for host in hosts:
        path, outcome, _, _ = rng.choices(PATHS, weights=weights)[0]
        urls.append(f"http://{host}:{port}{path}")
        expected.append(outcome)
    return urls, expected, cold, hot


def serve_peer(conn: Connection, kind: str, names: list[str], latency: float) -> None:
    """Body of a peer process: the DNS peer with every name at 127.0.0.1 ("dns"), or the HTTP peer
    ("http"), whose "stats" command answers its observations."""
    from devnet.dns import FakeDNS
    from devnet.http import FakeHTTP

    if kind == "dns":
        dns = FakeDNS()
        for name in names:
            dns.add(name, "A", "127.0.0.1")
        with dns:
            serve(conn, dns.address, {})
        return
    http = FakeHTTP(latency=latency, body_size=64 * 1024)
    with http:
        serve(conn, f"127.0.0.1:{http.port}", {"stats": http.stats})


def lower_bound(urls: list[str], *, latency: float, concurrency: int, per_host: int) -> float:
    """Seconds the checks need at least: every answer waits ``latency``; at most ``concurrency``
    wait at once overall and ``per_host`` per host."""
    answers = {path: count for path, _, count, _ in PATHS}
    per_name: Counter[str] = Counter()
    total = 0
    for url in urls:
        host, _, path = url.removeprefix("http://").partition("/")
        count = answers["/" + path]
        per_name[host] += count
        total += count
    busiest = max(per_name.values(), default=0)
    return max(total * latency / concurrency, busiest * latency / per_host)


def check_share(job: tuple[list[str], int | None, int | None]) -> tuple[list[str], list[str], float]:
    """Body of a checking process (``--processes``): check ``urls`` as one process would; their
    outcomes and reasons, and the CPU seconds spent."""
    from routing.checks.runner import checks_run

    urls, concurrency, per_host = job
    cpu_started = time.process_time()
    results = checks_run(urls, concurrency=concurrency, per_host=per_host)
    return (*outcomes_and_reasons(results), time.process_time() - cpu_started)


def outcomes_and_reasons(results: Sequence[Any]) -> tuple[list[str], list[str]]:
    """Each check's outcome and reason ("failed" where the check itself failed: never expected)."""
    return [r.outcome.value if r else "failed" for r in results], [r.reason if r else "" for r in results]


def checks_in_processes(
    urls: list[str], *, processes: int, concurrency: int | None, per_host: int | None
) -> tuple[list[str], list[str], float, float]:
    """Check ``urls`` dealt out to ``processes`` checking processes at once (they inherit the
    environment, so they share the per-host limit); the outcomes and reasons in order, the seconds
    the checks took (the processes' start not counted) and the CPU seconds of all of them."""
    shares = [urls[n::processes] for n in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_django_setup) as pool:
        # Every process is up before any checks: the timed run is the checks alone.
        pool.map(_ready, range(processes), chunksize=1)
        started = time.monotonic()
        parts = pool.map(check_share, [(share, concurrency, per_host) for share in shares], chunksize=1)
        seconds = time.monotonic() - started
    outcomes, reasons = [""] * len(urls), [""] * len(urls)
    for n, (share_outcomes, share_reasons, _) in enumerate(parts):
        outcomes[n::processes] = share_outcomes
        reasons[n::processes] = share_reasons
    return outcomes, reasons, seconds, sum(cpu for *_, cpu in parts)


def _django_setup() -> None:
    import django

    django.setup()


def _ready(_: int) -> None:
    time.sleep(0.5)  # long enough that each process of the pool takes one


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.processes < 1:
        raise SystemExit("--processes must be at least 1")

    with var_dir("checks") as var, Peers() as running:
        http_peer = running.start("http", serve_peer, "http", [], args.latency)
        urls, expected, cold, hot = build_urls(args, int(http_peer.address.rpartition(":")[2]))
        dns_peer = running.start("dns", serve_peer, "dns", cold + hot, 0.0)
        django_start(
            var,
            {
                "CELERY_BROKER_URL": "memory://localhost/",
                "SCART_DNS_NAMESERVERS": dns_peer.address,
                "SCART_CHECK_ALLOW_NETWORKS": "127.0.0.1/32",
                **({"SCART_CHECK_LIMIT_URL": args.limit_url} if args.limit_url else {}),
            },
            unset=[name for name in os.environ if name.startswith("SCART_CHECK_")],
        )
        return run(args, urls=urls, expected=expected, hot=hot, http_peer=http_peer, say=say)


def run(
    args: argparse.Namespace,
    *,
    urls: list[str],
    expected: list[str],
    hot: list[str],
    http_peer: Peer,
    say: Any,
) -> int:
    from django.conf import settings

    from routing.checks.runner import checks_run

    processes = args.processes
    concurrency = (args.concurrency or settings.SCART_CHECK_CONCURRENCY) * processes
    per_host = args.per_host or settings.SCART_CHECK_PER_HOST
    say(
        f"{len(urls):,} checks on {len(set(u.split('/')[2] for u in urls)):,} hosts, {args.latency * 1000:.0f} ms per "
        f"answer, {concurrency} at once, {per_host} per host"
        + (
            f", {processes} processes sharing the per-host limit ({settings.SCART_CHECK_LIMIT_URL})"
            if processes > 1
            else ""
        )
    )
    started, cpu_started = time.monotonic(), time.process_time()
    if processes == 1:
        results = checks_run(urls, concurrency=args.concurrency, per_host=args.per_host)
        outcome_values, reasons = outcomes_and_reasons(results)
        seconds, cpu = time.monotonic() - started, time.process_time() - cpu_started
    else:
        outcome_values, reasons, seconds, cpu = checks_in_processes(
            urls, processes=processes, concurrency=args.concurrency, per_host=args.per_host
        )
    stats = http_peer.ask("stats")

    rate = len(urls) / seconds if seconds else 0.0
    peaks: dict[str, int] = stats["peak_per_host"]
    peak = max(peaks.values(), default=0)
    hot_peaks = {name: peaks.get(name, 0) for name in hot}
    cold_peak = max((n for name, n in peaks.items() if name not in hot_peaks), default=0)
    outcomes = Counter(outcome_values)
    mismatches = [
        f"{url}: {outcome} ({reason}), expected {want}"
        for url, outcome, reason, want in zip(urls, outcome_values, reasons, expected, strict=True)
        if outcome != want
    ]
    bound = lower_bound(urls, latency=args.latency, concurrency=concurrency, per_host=per_host)
    rate_pass = rate >= args.target
    per_host_pass = peak <= per_host
    figures = {
        "checks": len(urls),
        "seconds": round(seconds, 2),
        "rate": round(rate, 1),
        "target": args.target,
        "rate_pass": rate_pass,
        "processes": processes,
        "per_host": {
            "limit": per_host,
            "peak": peak,
            "hot": hot_peaks,
            "cold_peak": cold_peak,
            "pass": per_host_pass,
        },
        "concurrency": {"limit": concurrency, "peak": stats["peak_total"]},
        "requests": stats["requests"],
        "connections": stats["connections"],
        "outcomes": dict(outcomes),
        "mismatches": len(mismatches),
        "lower_bound_seconds": round(bound, 2),
        "cpu_ms_per_check": round(cpu * 1000 / len(urls), 2) if urls else 0.0,
        "settings": {"latency": args.latency, "hosts": args.hosts, "hot_hosts": args.hot_hosts, "seed": args.seed},
    }
    print(
        f"checks              {len(urls):,} in {seconds:.1f} s: {rate:,.0f} checks/s  "
        f"(target >= {args.target:,.0f}: {'PASS' if rate_pass else 'FAIL'})"
    )
    over = f" over {processes} processes" if processes > 1 else ""
    print(
        f"per-host peak       {peak}{over} (limit {per_host}): {'PASS' if per_host_pass else 'FAIL'}   "
        f"hot hosts {', '.join(str(n) for n in hot_peaks.values()) or '-'}; other hosts at most {cold_peak}"
    )
    print(
        f"checker CPU         {cpu:.1f} s, {cpu * 1000 / max(len(urls), 1):.2f} ms per check{over} (the peers run in processes of their own)"
    )
    print(f"all hosts peak      {stats['peak_total']} requests in progress (limit {concurrency})")
    print(f"requests            {stats['requests']:,} on {stats['connections']:,} connections")
    print(
        f"outcomes            {', '.join(f'{k} {v:,}' for k, v in sorted(outcomes.items()))}; "
        + ("all as expected" if not mismatches else f"{len(mismatches)} WRONG")
    )
    for line in mismatches[:10]:
        print(f"  {line}")
    print(
        f"lower bound         {bound:.1f} s ({len(urls) / bound if bound else 0:,.0f} checks/s); measured {seconds / bound if bound else 0:.2f}x"
    )
    if args.json:
        print(json.dumps(figures))
    return 0 if per_host_pass and not mismatches else 1


if __name__ == "__main__":
    bench_main(main)
