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
   records from `devnet.registries`, as for the resolution bench) and the registrable domains;
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
import cProfile
import pstats
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script (`python bench/notices.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    BenchError,
    bench_arguments,
    bench_database,
    bench_main,
    database_migrate,
    django_machine,
    django_start,
    free_port,
    print_report,
    print_results,
    say,
    var_dir,
)
from bench._notices.api import api_check, api_configure, api_environment, api_peers, api_text
from bench._notices.mail import check_messages, serve_smtp
from bench._notices.phases import check_database, run_phases, warm_up
from bench._notices.world import HOME, POLICE_EMAIL, build_world, channel_mix, lookups, route_mix, seed
from bench._world import Peer, Peers, serve_lookups

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scart_bench_notices"
TARGET_SECONDS = 120.0
# Mail settings of the caller's environment that would change how the bench's mail is sent.
MAIL = ("EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = bench_arguments(
        "Benchmark notices: route, batch, render and send those of many illegal cases to a local SMTP peer.",
        [
            ("--cases", int, 100_000, "illegal cases, one assessment each"),
            ("--providers", int, 5_000, "hosting providers (each gets at least one case)"),
            ("--home-share", float, 0.8, "share of providers hosting in NL"),
            ("--partner-share", float, 0.12, "share of providers in partner countries"),
            ("--zipf", float, 1.0, "exponent of the cases-per-provider law (0: even)"),
            ("--urgent-share", float, 0.01, "share of cases marked urgent"),
            ("--chunk", int, 500, "case ids per cases_plan_notices call (notify_sweep's)"),
            ("--send-limit", int, 200, "notices per notices_send_due call (its default)"),
            (
                "--processes",
                int,
                2,
                "planners, then senders, running at once (as the notify queue's worker runs with "
                "WORKER_CONCURRENCY=2); 1: both phases in the bench process",
            ),
            (
                "--reresolve",
                bool,
                False,
                "resolve every case against local DNS and RDAP peers first (not timed), then let the sender "
                "re-resolve each before it goes out, from the warm caches",
            ),
            ("--latency", float, 0.005, "seconds the DNS and RDAP peers wait before answering (--reresolve)"),
            (
                "--channels",
                str,
                "batched_mail=100",
                "the providers' delivery channels and their weights, e.g. "
                "batched_mail=60,xarf_per_message=30,manual=10 (partner hotlines and the police stay on mail)",
            ),
            ("--sqlite", bool, False, "a temporary SQLite database instead of PostgreSQL"),
            ("--profile", str, "", "cProfile both timed phases into this file (slows them down)"),
        ],
    )
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
    try:
        mix = channel_mix(args.channels)
    except ValueError as exc:
        parser.error(str(exc))
    known = {"batched_mail", "xarf_per_message", "provider_api", "manual"}
    if unknown := sorted({name for name, _w in mix} - known):
        parser.error(f"unknown channel(s): {', '.join(unknown)}")
    return args


def print_summary(results: dict[str, Any]) -> None:
    m, cfg, f, db, mail = (results[k] for k in ("machine", "settings", "figures", "database", "mail"))
    mix = cfg["route_mix"]
    head = [
        f"world     {cfg['cases']:,} illegal cases over {cfg['providers']:,} providers (Zipf {cfg['zipf']:g}); routes: "
        f"{mix['own_country']:,} own country, {mix['partner_hotline']:,} partner hotline, "
        f"{mix['provider_and_police']:,} provider + police",
        f"settings  {cfg['processes']} planner(s), then {cfg['processes']} sender(s); chunks of {cfg['chunk']} for "
        f"planning, {cfg['send_limit']} notices per notices_send_due call, "
        f"SCART_NOTICE_MAX_URLS={cfg['max_urls']}",
        f"re-resolution {cfg['reresolution']}",
    ]
    figures = [
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
        ("channels", f"as given: {cfg['channels']} (partner hotlines and the police on batched mail)"),
        *(
            (
                f"  {name}",
                f"{c['notices']:,} notices ("
                + ", ".join(f"{n:,} {state}" for state, n in sorted(c["states"].items()))
                + f"), {c['urls']:,} URLs, {c['parts']:,} parts delivered"
                + (f" in {c['deliver_seconds']:.1f} s ({c.get('ms_per_part', 0):.1f} ms a part)" if c["parts"] else "")
                + (
                    f", {c.get('messages', 0):,} messages received, {c.get('mbytes', 0):.1f} MB"
                    if c.get("messages")
                    else ""
                )
                + api_text(c),
            )
            for name, c in sorted(db["channels"].items())
        ),
        ("check", results["check"]),
    ]
    print_report(m, m["database"], head, figures, targets=results["targets"])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    database_url = bench_database(DEFAULT_DATABASE_URL, sqlite=args.sqlite)

    with var_dir("notices") as var, Peers() as running:  # the var dir: the SQLite file, the file cache
        peers = {"smtp": running.start("smtp", serve_smtp), **api_peers(running, args.channels)}
        smtp_host, _, smtp_port = peers["smtp"].address.rpartition(":")
        if args.reresolve:
            peers["dns"] = running.start("dns", serve_lookups, "dns", lookups, args, args.latency)
            peers["rdap"] = running.start("rdap", serve_lookups, "rdap", lookups, args, args.latency)
            dns_address, rdap_base = peers["dns"].address, peers["rdap"].address
        else:
            dead = free_port()  # nothing is resolved; should anything try, it goes nowhere
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
            **api_environment(peers),
        }
        django_start(var, environment, database_url=database_url, unset=MAIL)
        return run(args, database_url=database_url, peers=peers, say=say)


def run(args: argparse.Namespace, *, database_url: str, peers: dict[str, Peer], say: Callable[[str], None]) -> int:
    from django.conf import settings
    from django.db import connection, connections

    import routing.notices.sending
    import routing.resolution.cases  # noqa: F401  (imports before the clock starts)
    from routing.models import Notice

    database_migrate(database_url)
    say("peers: " + ", ".join(f"{name} on {peer.address}" for name, peer in peers.items()))

    world = build_world(args)
    say(f"writing {len(world.providers):,} providers and {len(world.cases):,} illegal cases with their assessments")
    case_ids = seed(world, now=datetime.now(UTC), resolved=not args.reresolve)
    api_configure(peers)  # the providers on the provider API channel: the peer's URL, account, token
    warm: dict[str, Any] = {}
    timed_lookups: dict[str, int] = {}
    if args.reresolve:
        warm = warm_up(world, case_ids, say)
        warm.update(dns_queries=len(peers["dns"].ask("log")), rdap_requests=len(peers["rdap"].ask("log")))
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
        timed_lookups = {"dns_queries": len(peers["dns"].ask("log")), "rdap_requests": len(peers["rdap"].ask("log"))}
    if profile is not None:
        profile.dump_stats(args.profile)
        say(f"profile written to {args.profile} (the timings above include cProfile's overhead)")
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(25)
    if phases.errors:
        raise BenchError(f"{len(phases.errors)} send errors, first: {phases.errors[0]}")

    say("checking the database and the messages received")
    database = check_database(world, case_ids, phases)
    if (api := api_check(world, peers)) is not None:
        database["channels"].setdefault("provider_api", {})["api"] = api
    digests, peer_data, peer_cpu = peers["smtp"].ask("digest")
    mail = check_messages(world, digests, notices=database["mail_parts"])
    by_reference = dict(Notice.objects.values_list("reference", "channel"))
    for d in digests:
        entry = database["channels"][by_reference.get(d["reference"], "?")]
        entry["messages"] = entry.get("messages", 0) + 1
        entry["mbytes"] = round(entry.get("mbytes", 0.0) + d["bytes"] / 1e6, 3)
    check = (
        f"OK: {database['notices']:,} notices ({database['notices_by_state'].get('by_hand', 0):,} to send by hand) "
        f"delivered as {mail['messages']:,} messages; every one of the "
        f"{mail['pairs']:,} (recipient, URL) pairs the routing calls for in exactly one message; "
        f"all {database['cases_notified']:,} cases notified"
    )
    if args.reresolve:
        if phases.reresolved != len(world.cases):
            raise BenchError(f"{phases.reresolved:,} of {len(world.cases):,} cases were resolved again before sending")
        reresolution = (
            f"on: all {phases.reresolved:,} cases resolved again before sending, from the caches the warm-up filled "
            f"({warm['seconds']:.0f} s, not timed: {warm['dns_queries']:,} DNS queries, {warm['rdap_requests']:,} "
            f"RDAP requests); while timed: {timed_lookups['dns_queries']:,} DNS queries, {timed_lookups['rdap_requests']:,} "
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
            "channels": args.channels,
            "reresolution": reresolution,
            "warm_up": warm,
            "lookups_timed": timed_lookups,
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
