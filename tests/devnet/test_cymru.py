"""The DNS side of the fake network: Team Cymru's zones (devnet/cymru.py) as ipwhois reads
them, FakeDNS's latency, and the demo zone (devnet/demo.py).

Every query goes to 127.0.0.1; no database is needed.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import dns.message
import dns.nameserver
import dns.query
import dns.rdatatype
import dns.resolver
import pytest
from ipwhois.asn import IPASN
from ipwhois.net import Net

from devnet.cymru import (
    RECORDED_AS_NAMES,
    add_asn_name,
    add_origin,
    cymru_origin_name,
    load_recorded_cymru,
)
from devnet.demo import NL_ADDRESS, NXDOMAIN_HOST, demo_zone
from devnet.dns import FakeDNS
from devnet.rdap import recorded_networks
from routing.resolution.dns import DnsOutcome, make_resolver, resolve_host

RECORDED = recorded_networks()


@pytest.fixture
def resolver(fake_dns: FakeDNS) -> dns.resolver.Resolver:
    """A dnspython resolver asking only the session's FakeDNS, whose zone is emptied after each test."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(fake_dns.host, fake_dns.port)]
    resolver.timeout = 1.0
    resolver.lifetime = 2.0
    return resolver


@pytest.fixture(scope="module")
def slow_dns_server() -> Iterator[FakeDNS]:
    with FakeDNS(latency=0.2) as server:
        yield server


@pytest.fixture
def slow_dns(slow_dns_server: FakeDNS) -> FakeDNS:
    """A FakeDNS that waits 0.2 s before every answer, with an empty zone."""
    slow_dns_server.clear()
    return slow_dns_server


def txt(resolver: dns.resolver.Resolver, name: str) -> list[str]:
    return sorted(b"".join(r.strings).decode() for r in resolver.resolve(name, "TXT"))


def ipwhois_net(ip: str, resolver: dns.resolver.Resolver) -> Net:
    net = Net(ip)
    net.dns_resolver = resolver
    return net


# -- query names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "name"),
    [
        ("74.125.225.229", "229.225.125.74.origin.asn.cymru.com."),
        ("2801:10:c000::", "0.0.0.c.0.1.0.0.1.0.8.2.origin6.asn.cymru.com."),
        (
            "2001:4860:4860::8888",
            "8.8.8.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.8.4.0.6.8.4.1.0.0.2.origin6.asn.cymru.com.",
        ),
    ],
)
def test_it_names_the_origin_zone(ip: str, name: str) -> None:
    assert cymru_origin_name(ip) == name


@pytest.mark.parametrize("ip", [*sorted(RECORDED), "8.8.8.8", "2a00:1450:4001:80b::200e", "2a00:1450::", "2a00::1:0"])
def test_it_names_the_origin_zone_exactly_as_ipwhois_queries_it(ip: str) -> None:
    assert cymru_origin_name(ip) == Net(ip).dns_zone


# -- records ------------------------------------------------------------------------------------


def test_it_answers_the_origin_in_cymru_format(fake_dns: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    add_origin(
        fake_dns,
        "74.125.225.229",
        asn="15169",
        cidr="74.125.225.0/24",
        country="US",
        registry="arin",
        date="2007-03-13",
    )

    assert txt(resolver, "229.225.125.74.origin.asn.cymru.com") == ["15169 | 74.125.225.0/24 | US | arin | 2007-03-13"]


def test_it_answers_an_unannounced_address_with_na(fake_dns: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    load_recorded_cymru(fake_dns)

    assert txt(resolver, cymru_origin_name("2801:10:c000::")) == ["NA | NA | CO | lacnic | 2013-10-29"]
    with pytest.raises(dns.resolver.NXDOMAIN):
        resolver.resolve("ASNA.asn.cymru.com", "TXT")


@pytest.mark.parametrize("asn", ["15169", "AS15169"])
def test_it_answers_the_name_of_an_as(fake_dns: FakeDNS, resolver: dns.resolver.Resolver, asn: str) -> None:
    add_asn_name(fake_dns, asn, country="US", registry="arin", name="GOOGLE - Google Inc., US", date="2000-03-30")

    assert txt(resolver, "AS15169.asn.cymru.com") == ["15169 | US | arin | 2000-03-30 | GOOGLE - Google Inc., US"]


def test_it_names_every_recorded_as(fake_dns: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    load_recorded_cymru(fake_dns)
    asns = {data["asn_data"]["asn"] for data in RECORDED.values()} - {"NA"}

    assert set(RECORDED_AS_NAMES) == asns
    for asn in asns:
        [record] = txt(resolver, f"AS{asn}.asn.cymru.com")
        assert record.startswith(f"{asn} | ")


# -- ipwhois as a client ------------------------------------------------------------------------


@pytest.mark.parametrize("ip", sorted(RECORDED))
def test_ipwhois_looks_up_every_recorded_address_over_dns(
    fake_dns: FakeDNS, resolver: dns.resolver.Resolver, ip: str
) -> None:
    load_recorded_cymru(fake_dns)
    recorded = RECORDED[ip]["asn_data"]

    result = IPASN(ipwhois_net(ip, resolver)).lookup(asn_methods=["dns"])

    expected_description = RECORDED_AS_NAMES[recorded["asn"]][3] if recorded["asn"] != "NA" else None
    assert result == {**recorded, "asn_description": expected_description}


def test_ipwhois_picks_the_longest_announced_prefix(fake_dns: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    add_origin(fake_dns, "74.125.225.229", asn="15169", cidr="74.125.0.0/16", country="US", registry="arin")
    add_origin(fake_dns, "74.125.225.229", asn="36040", cidr="74.125.225.0/24", country="US", registry="arin")
    add_asn_name(fake_dns, "36040", country="US", registry="arin", name="YOUTUBE - Google LLC, US")

    result = IPASN(ipwhois_net("74.125.225.229", resolver)).lookup(asn_methods=["dns"])

    assert (result["asn"], result["asn_cidr"], result["asn_description"]) == (
        "36040",
        "74.125.225.0/24",
        "YOUTUBE - Google LLC, US",
    )


# -- latency ------------------------------------------------------------------------------------


def test_dns_delays_udp_answers_without_serialising_them(slow_dns: FakeDNS) -> None:
    slow_dns.add("www.example.com", "A", "192.0.2.1")

    def timed(n: int) -> tuple[str, float]:
        query = dns.message.make_query("www.example.com", "A", id=n)
        started = time.monotonic()
        response = dns.query.udp(query, slow_dns.host, port=slow_dns.port, timeout=2.0)
        return response.answer[0][0].to_text(), time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(timed, range(10)))
    elapsed = time.monotonic() - started

    assert [address for address, _ in results] == ["192.0.2.1"] * 10
    assert min(took for _, took in results) >= 0.2
    assert elapsed < 1.0  # one after the other would take 2 s
    assert len(slow_dns.queries) == 10


def test_dns_delays_tcp_answers_without_serialising_connections(slow_dns: FakeDNS) -> None:
    slow_dns.add("www.example.com", "A", "192.0.2.1")

    def timed(n: int) -> float:
        query = dns.message.make_query("www.example.com", "A")
        started = time.monotonic()
        dns.query.tcp(query, slow_dns.host, port=slow_dns.port, timeout=2.0)
        return time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=5) as pool:
        took = list(pool.map(timed, range(5)))
    elapsed = time.monotonic() - started

    assert min(took) >= 0.2
    assert elapsed < 0.8


def test_dns_latency_applies_to_a_full_resolution(slow_dns: FakeDNS) -> None:
    slow_dns.load(demo_zone())
    resolver = make_resolver([slow_dns.address], timeout=1.0, lifetime=2.0)

    started = time.monotonic()
    result = resolve_host("example.com", resolver=resolver)

    assert result.addresses == ("74.125.225.229", "2001:4860:4860::8888")
    assert time.monotonic() - started >= 0.4  # A, then AAAA


# -- demo zone ----------------------------------------------------------------------------------


def test_the_demo_zone_uses_each_recorded_address() -> None:
    addresses = {
        str(ipaddress.ip_address(value))
        for types in demo_zone().values()
        for rtype, values in types.items()
        if rtype in ("A", "AAAA")
        for value in values
    }

    # And the edited RIPE answer's address, for the demo's network in the Netherlands.
    assert addresses == set(RECORDED) | {NL_ADDRESS}


def test_the_demo_zone_has_only_reserved_example_names() -> None:
    for name in demo_zone():
        assert name.rsplit(".", 2)[-2:] in (["example", "com"], ["example", "net"], ["example", "org"])


@pytest.mark.parametrize(
    ("host", "cname_chain", "addresses"),
    [
        ("example.com", (), ("74.125.225.229", "2001:4860:4860::8888")),
        ("www.example.com", ("example.com",), ("74.125.225.229", "2001:4860:4860::8888")),
        ("www.example.org", ("cdn.example.net", "edge.cdn.example.net"), ("62.239.237.1", "2a00:2381:ffff::1")),
        ("v6only.example.org", (), ("2001:240:10c:1::ca20:9d1d",)),
        ("unrouted.example.org", (), ("2801:10:c000::",)),
        ("mail.example.net", (), ("210.107.73.73",)),
    ],
)
def test_the_demo_zone_resolves(
    fake_dns: FakeDNS, host: str, cname_chain: tuple[str, ...], addresses: tuple[str, ...]
) -> None:
    fake_dns.load(demo_zone())

    result = resolve_host(host, resolver=make_resolver([fake_dns.address], timeout=1.0, lifetime=2.0))

    assert result.outcome == DnsOutcome.RESOLVED
    assert result.cname_chain == cname_chain
    assert result.addresses == addresses


def test_the_demo_zone_leaves_one_name_out(fake_dns: FakeDNS) -> None:
    fake_dns.load(demo_zone())

    result = resolve_host(NXDOMAIN_HOST, resolver=make_resolver([fake_dns.address], timeout=1.0, lifetime=2.0))

    assert result.outcome == DnsOutcome.NXDOMAIN
