"""The provider API channel in the notice bench: the local abuse-reports API (`devnet.abuseapi`) in
a process of its own, the API settings of the providers on that channel (not timed), and the
check of what it received: every URL the routing sends to such a provider in exactly one report,
each report on one hostname with at most 250 URLs, one report per part sent."""

from __future__ import annotations

from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from bench._harness import BenchError
from bench._notices.world import World
from bench._world import Peer, Peers, serve

ACCOUNT, TOKEN = "bench-account", "bench-token"  # the local peer's made-up account and token


def serve_abuse_api(conn: Connection) -> None:
    """Body of the API peer process: a ``FakeAbuseAPI`` until told to stop. "figures" answers
    its counts and each report's hostname and URLs."""
    from devnet.abuseapi import FakeAbuseAPI

    with FakeAbuseAPI(accounts={ACCOUNT: TOKEN}) as api:

        def figures() -> dict[str, Any]:
            with api._lock:
                reports = [(r.domain, list(r.urls)) for r in api.reports.values()]
            return {**api.stats(), "reports_urls": reports}

        serve(conn, api.base_url, {"figures": figures})


def api_peers(running: Peers, channels: str) -> dict[str, Peer]:
    """The API peer, when the mix has the provider API channel."""
    return {"abuseapi": running.start("abuseapi", serve_abuse_api)} if "provider_api" in channels else {}


def api_environment(peers: dict[str, Peer]) -> dict[str, str]:
    return {"SCART_PROVIDER_API_ALLOW_LOOPBACK": "1"} if "abuseapi" in peers else {}


def api_configure(peers: dict[str, Peer]) -> int:
    """The peer's base URL, account and token (sealed) on every provider on the channel (not timed)."""
    from routing.models import DeliveryChannel, Provider

    if "abuseapi" not in peers:
        return 0
    return Provider.objects.filter(delivery_channel=DeliveryChannel.PROVIDER_API).update(
        api_base_url=peers["abuseapi"].address, api_account=ACCOUNT, api_token=TOKEN
    )


def api_check(world: World, peers: dict[str, Peer]) -> dict[str, Any] | None:
    """What the API received, checked against the routing (see the module); None without the peer."""
    from reports.urls import normalise_url
    from routing.models import DeliveryChannel, DeliveryState, NoticeDelivery

    if "abuseapi" not in peers:
        return None
    got = peers["abuseapi"].ask("figures")
    expected = Counter(normalise_url(c.url).canonical for c in world.cases if world.reported(c))
    received = Counter(url for _host, urls in got["reports_urls"] for url in urls)
    parts = NoticeDelivery.objects.filter(channel=DeliveryChannel.PROVIDER_API, state=DeliveryState.SENT)
    problems = []
    if received != expected:
        twice = sum(1 for n in received.values() if n > 1)
        missing = sum(1 for url in expected if url not in received)
        problems.append(f"URLs: {twice} reported twice, {missing} missing, {len(received - expected)} unexpected")
    if any(len(urls) > 250 or {u.split("/")[2].lower() for u in urls} != {host} for host, urls in got["reports_urls"]):
        problems.append("a report with more than 250 URLs or more than one hostname")
    if parts.count() != got["reports"] or parts.filter(external_id="").exists():
        problems.append(f"{parts.count()} parts sent for {got['reports']} reports received")
    if problems:
        raise BenchError("abuse API check failed: " + "; ".join(problems))
    return {
        "requests": got["requests"],
        "submissions": got["submissions"],
        "reports": got["reports"],
        "urls": got["urls"],
        "retries": got["submissions"] - got["reports"],
        "statuses": got["statuses"],
    }


def api_text(entry: dict[str, Any]) -> str:
    """The API's figures for the summary's channel line ("" on other channels)."""
    api = entry.get("api")
    if not api:
        return ""
    return (
        f"; abuse API: {api['requests']:,} requests, {api['reports']:,} reports of {api['urls']:,} URLs, "
        f"{api['retries']:,} retries, statuses {api['statuses']}"
    )
