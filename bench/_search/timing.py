"""The search bench's clocks: queries of every form drawn from the database, each a GET of the
search page as a senior analyst who passed both factors; the case list's first page the same way."""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from bench._harness import BenchError, latency_figures, say
from bench._world import analyst_client

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


def drawn(model: Any, field: str, runs: int, rng: random.Random) -> list[str]:
    """``field`` of up to ``runs`` rows of ``model`` drawn by ``rng``: the same rows for a seed (the
    database's own random order would draw others on every run)."""
    ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
    picked = rng.sample(ids, min(runs, len(ids)))
    values = dict(model.objects.filter(pk__in=picked).values_list("pk", field))
    return [values[pk] for pk in picked]


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
    v4 = list(CaseAddress.objects.filter(ip__contains=".").order_by("pk").values_list("ip", flat=True)[: runs * 50])
    v6 = (
        list(CaseAddress.objects.filter(ip__contains=":").order_by("pk").values_list("ip", flat=True)[: runs * 50])
        or v4
    )
    addresses4 = [rng.choice(v4) for _ in range(runs)]
    addresses6 = [rng.choice(v6) for _ in range(runs)]
    reports = drawn(Report, "reference", runs, rng)
    notices = drawn(Notice, "reference", runs, rng)
    providers = drawn(Provider, "name", runs, rng)

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
    return analyst_client("bench-search-senior", role="senior")


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
    """`time_gets` of the search page for each form's queries, then of the case list's first page
    (no filter, and a country and a state), as many times as there are queries of a form."""
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
