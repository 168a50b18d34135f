"""(b) of the resolution bench: the naive baseline, what a script without caches does per URL."""

from __future__ import annotations

import time
import urllib.request
from typing import Any
from urllib.error import URLError
from urllib.parse import urlsplit

from bench._harness import LOOPBACK, BenchError
from bench._resolve.world import World


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
