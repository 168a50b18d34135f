"""The statistics bench's fill: synthetic timelines (a minimal case row and its `CaseTiming` row
each, drawn from `SHAPE`) written in bulk, or `devnet.history`'s full timelines (``--demo``)."""

from __future__ import annotations

import argparse
import bisect
import hashlib
import itertools
import math
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from bench._world import insert_rows

CHUNK = 100_000

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
