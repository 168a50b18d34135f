"""The resolution bench's figures: the lookups by kind, (c) the lower bound, and the summary."""

from __future__ import annotations

from collections import Counter
from typing import Any

from bench._harness import print_report
from bench._resolve.world import World


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
    head = [
        f"world     {cfg['urls']:,} URLs on {cfg['hosts']:,} hosts ({cfg['domains']} registrable domains), "
        f"{cfg['networks']} networks, {cfg['asns']} ASes, 5 registries; peers answer after {cfg['latency'] * 1000:.0f} ms",
        f"scart     {cfg['processes']} worker processes x {cfg['threads']} thread{'s' if cfg['threads'] > 1 else ''}"
        f" x cases_resolve on chunks of {cfg['chunk']}; "
        f"SCART_RESOLVE_CONCURRENCY={cfg['resolve_concurrency']}, SCART_RDAP_CONCURRENCY={cfg['rdap_concurrency']}, "
        f"SCART_RDAP_RATE={cfg['rdap_rate']:g}/s per registry",
    ]
    table = [f"{'':<22}{'URLs/s':>12}{'time':>14}{'DNS queries':>14}{'RDAP requests':>16}   note"]
    lines = [
        ("(a) scart pipeline", a["urls_per_second"], a["seconds"], a["dns_queries"], a["rdap_requests"], "measured")
    ]
    if b["sample"]:
        lines.append(
            (
                "(b) naive baseline",
                b["urls_per_second"],
                b["seconds"],
                b["dns_queries"],
                b["rdap_requests"],
                f"extrapolated linearly from {b['sample']} URLs looked up one after the other",
            )
        )
    lines.append(
        (
            "(c) lower bound",
            c["urls_per_second"],
            c["seconds"],
            c["dns_queries"],
            c["rdap_requests"],
            f"{c['queries']:,} distinct queries x {cfg['latency'] * 1000:.0f} ms / {c['in_flight']} in flight",
        )
    )
    table += [
        f"{name:<22}{rate:>12,.1f}{seconds:>12,.1f} s{dns:>14,.0f}{rdap:>16,.0f}   {note}"
        for name, rate, seconds, dns, rdap, note in lines
    ]
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
    print_report(m, m["database"], head, table, details, targets=results["targets"], name_width=22)
