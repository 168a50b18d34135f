"""routing.resolution.dns against the local authoritative server in devnet/dns/.

No Django here: run with ``-p no:django``. Every query goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dns.resolver
import pytest

from devnet.dns import FakeDNS
from routing.resolution.dns import (
    DnsOutcome,
    DnsResult,
    make_resolver,
    parse_nameserver,
    resolve_host,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeDNS]:
    with FakeDNS() as fake:
        yield fake


@pytest.fixture(scope="module")
def hop_server() -> Iterator[FakeDNS]:
    """A server that answers one CNAME per query, never the whole chain."""
    with FakeDNS(follow_cnames=False) as fake:
        yield fake


@pytest.fixture(autouse=True)
def empty_zones(server: FakeDNS, hop_server: FakeDNS) -> None:
    server.clear()
    hop_server.clear()


@pytest.fixture
def resolver(server: FakeDNS) -> dns.resolver.Resolver:
    return make_resolver([server.address], timeout=1.0, lifetime=2.0)


@pytest.fixture
def hop_resolver(hop_server: FakeDNS) -> dns.resolver.Resolver:
    return make_resolver([hop_server.address], timeout=1.0, lifetime=2.0)


@pytest.fixture
def impatient_resolver(server: FakeDNS) -> dns.resolver.Resolver:
    return make_resolver([server.address], timeout=0.1, lifetime=0.2)


def test_it_resolves_a_host_with_only_ipv4(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.add("example.com", "A", "192.0.2.10")

    result = resolve_host("example.com", resolver=resolver)

    assert result == DnsResult("example.com", DnsOutcome.RESOLVED, (), ("192.0.2.10",), "", ttl=300)
    assert server.queries == [("example.com", "A"), ("example.com", "AAAA")]


def test_it_resolves_a_host_with_only_ipv6(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.add("example.com", "AAAA", "2001:db8:0:0::1")

    result = resolve_host("example.com", resolver=resolver)

    assert result.outcome == DnsOutcome.RESOLVED
    assert result.addresses == ("2001:db8::1",)
    assert result.error == ""


def test_it_lists_ipv4_before_ipv6_sorted_and_deduplicated(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.add("example.com", "AAAA", "2001:db8::2", "2001:db8::1")
    server.add("example.com", "A", "192.0.2.20", "192.0.2.3", "192.0.2.20")

    result = resolve_host("example.com", resolver=resolver)

    assert result.addresses == ("192.0.2.3", "192.0.2.20", "2001:db8::1", "2001:db8::2")


def test_it_follows_a_cname_chain_of_three_answered_in_one_response(
    server: FakeDNS, resolver: dns.resolver.Resolver
) -> None:
    server.add("www.example.com", "CNAME", "cdn.example.net.")
    server.add("cdn.example.net", "CNAME", "edge.example.org.")
    server.add("edge.example.org", "CNAME", "node7.example.org.")
    server.add("node7.example.org", "A", "192.0.2.7")
    server.add("node7.example.org", "AAAA", "2001:db8::7")

    result = resolve_host("www.example.com", resolver=resolver)

    assert result.outcome == DnsOutcome.RESOLVED
    assert result.cname_chain == (
        "cdn.example.net",
        "edge.example.org",
        "node7.example.org",
    )
    assert result.canonical_name == "node7.example.org"
    assert result.addresses == ("192.0.2.7", "2001:db8::7")
    assert server.queries == [("www.example.com", "A"), ("node7.example.org", "AAAA")]


def test_it_follows_a_cname_chain_of_three_one_hop_at_a_time(
    hop_server: FakeDNS, hop_resolver: dns.resolver.Resolver
) -> None:
    hop_server.add("www.example.com", "CNAME", "cdn.example.net.")
    hop_server.add("cdn.example.net", "CNAME", "edge.example.org.")
    hop_server.add("edge.example.org", "CNAME", "node7.example.org.")
    hop_server.add("node7.example.org", "A", "192.0.2.7")

    result = resolve_host("www.example.com", resolver=hop_resolver)

    assert result.outcome == DnsOutcome.RESOLVED
    assert result.cname_chain == (
        "cdn.example.net",
        "edge.example.org",
        "node7.example.org",
    )
    assert result.addresses == ("192.0.2.7",)
    assert [name for name, rtype in hop_server.queries if rtype == "A"] == [
        "www.example.com",
        "cdn.example.net",
        "edge.example.org",
        "node7.example.org",
    ]


@pytest.mark.parametrize("hop_by_hop", [False, True], ids=["one-response", "hop-by-hop"])
def test_it_reports_a_cname_loop_as_no_data(
    server: FakeDNS,
    hop_server: FakeDNS,
    resolver: dns.resolver.Resolver,
    hop_resolver: dns.resolver.Resolver,
    hop_by_hop: bool,
) -> None:
    fake, res = (hop_server, hop_resolver) if hop_by_hop else (server, resolver)
    fake.add("a.example.com", "CNAME", "b.example.com.")
    fake.add("b.example.com", "CNAME", "a.example.com.")

    result = resolve_host("a.example.com", resolver=res)

    assert result.outcome == DnsOutcome.NO_DATA
    assert not result.outcome.is_transient
    assert result.cname_chain == ("b.example.com", "a.example.com")
    assert result.error == "CNAME loop: a.example.com -> b.example.com -> a.example.com"
    assert ("a.example.com", "AAAA") not in fake.queries


def test_it_gives_up_on_a_cname_chain_longer_than_max_cnames(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    for hop in range(5):
        server.add(f"h{hop}.example.com", "CNAME", f"h{hop + 1}.example.com.")
    server.add("h5.example.com", "A", "192.0.2.5")

    assert resolve_host("h0.example.com", resolver=resolver, max_cnames=5).outcome == (DnsOutcome.RESOLVED)
    result = resolve_host("h0.example.com", resolver=resolver, max_cnames=4)

    assert result.outcome == DnsOutcome.NO_DATA
    assert result.error == "CNAME chain longer than 4"
    assert result.addresses == ()


def test_it_reports_nxdomain_for_an_unknown_host_without_asking_for_aaaa(
    server: FakeDNS, resolver: dns.resolver.Resolver
) -> None:
    result = resolve_host("gone.example.com", resolver=resolver)

    assert result.outcome == DnsOutcome.NXDOMAIN
    assert not result.outcome.is_transient
    assert result.error == "gone.example.com does not exist (NXDOMAIN)"
    assert server.queries == [("gone.example.com", "A")]


def test_it_reports_nxdomain_when_a_cname_target_does_not_exist(
    hop_server: FakeDNS, hop_resolver: dns.resolver.Resolver
) -> None:
    hop_server.add("www.example.com", "CNAME", "gone.example.net.")

    result = resolve_host("www.example.com", resolver=hop_resolver)

    assert result.outcome == DnsOutcome.NXDOMAIN
    assert result.cname_chain == ("gone.example.net",)
    assert result.error == "gone.example.net does not exist (NXDOMAIN)"


def test_it_reports_nxdomain_from_a_response_that_carries_the_cname(
    server: FakeDNS, resolver: dns.resolver.Resolver
) -> None:
    server.add("www.example.com", "CNAME", "gone.example.com.")
    server.set_behaviour("gone.example.com", "nxdomain")

    result = resolve_host("www.example.com", resolver=resolver)

    assert result.outcome == DnsOutcome.NXDOMAIN
    assert result.cname_chain == ("gone.example.com",)
    assert server.queries == [("www.example.com", "A")]


def test_it_reports_an_explicit_nxdomain_even_when_records_exist(
    server: FakeDNS, resolver: dns.resolver.Resolver
) -> None:
    server.add("example.com", "A", "192.0.2.1")
    server.set_behaviour("example.com", "nxdomain")

    assert resolve_host("example.com", resolver=resolver).outcome == DnsOutcome.NXDOMAIN


def test_it_reports_no_data_for_a_name_without_addresses(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.add("example.com", "TXT", "v=spf1 -all")

    result = resolve_host("example.com", resolver=resolver)

    assert result.outcome == DnsOutcome.NO_DATA
    assert not result.outcome.is_transient
    assert result.error == "example.com has no A or AAAA records"
    assert server.queries == [("example.com", "A"), ("example.com", "AAAA")]


def test_it_reports_servfail_as_transient(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.set_behaviour("broken.example.com", "servfail")

    result = resolve_host("broken.example.com", resolver=resolver)

    assert result.outcome == DnsOutcome.SERVFAIL
    assert result.outcome.is_transient
    assert "SERVFAIL" in result.error


def test_it_reports_refused_as_servfail(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.set_behaviour("example.com", "refused")

    result = resolve_host("example.com", resolver=resolver)

    assert result.outcome == DnsOutcome.SERVFAIL
    assert "REFUSED" in result.error


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_it_retries_transient_failures_before_giving_up(
    server: FakeDNS, resolver: dns.resolver.Resolver, retries: int
) -> None:
    server.set_behaviour("broken.example.com", "servfail")

    resolve_host("broken.example.com", resolver=resolver, retries=retries)

    assert server.queries == [("broken.example.com", "A")] * (1 + retries)


def test_it_succeeds_when_a_retry_gets_an_answer(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.add("example.com", "A", "192.0.2.1")
    # Two SERVFAILs, then the server is healed: the second retry finds the answer.
    server.set_behaviour("example.com", "servfail", rtype="A", times=2)
    result = resolve_host("example.com", resolver=resolver, retries=2)
    assert server.queries.count(("example.com", "A")) == 3
    assert result.outcome == DnsOutcome.RESOLVED
    assert result.addresses == ("192.0.2.1",)


def test_it_reports_a_timeout_quickly_with_small_timeouts(
    server: FakeDNS, impatient_resolver: dns.resolver.Resolver
) -> None:
    server.add("slow.example.com", "A", "192.0.2.1")
    server.set_behaviour("slow.example.com", "timeout")

    started = time.monotonic()
    result = resolve_host("slow.example.com", resolver=impatient_resolver, retries=2)
    elapsed = time.monotonic() - started

    assert result.outcome == DnsOutcome.TIMEOUT
    assert result.outcome.is_transient
    assert result.error.startswith("no answer for slow.example.com A in time")
    assert elapsed < 3
    # Each of the three attempts sent at least one query; AAAA was not asked.
    assert server.queries.count(("slow.example.com", "A")) >= 3
    assert ("slow.example.com", "AAAA") not in server.queries


def test_it_keeps_the_ipv4_addresses_when_aaaa_times_out(
    server: FakeDNS, impatient_resolver: dns.resolver.Resolver
) -> None:
    server.add("example.com", "A", "192.0.2.1")
    server.add("example.com", "AAAA", "2001:db8::1")
    server.set_behaviour("example.com", "timeout", rtype="AAAA")

    result = resolve_host("example.com", resolver=impatient_resolver, retries=1)

    assert result.outcome == DnsOutcome.RESOLVED
    assert result.addresses == ("192.0.2.1",)
    assert result.error.startswith("IPv6 addresses missing: no answer for example.com AAAA")


def test_it_reports_the_aaaa_failure_when_there_is_no_ipv4(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.add("example.com", "AAAA", "2001:db8::1")
    server.set_behaviour("example.com", "servfail", rtype="AAAA")

    result = resolve_host("example.com", resolver=resolver, retries=0)

    assert result.outcome == DnsOutcome.SERVFAIL


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
    ],
)
def test_it_skips_dns_for_ip_literals(
    server: FakeDNS, resolver: dns.resolver.Resolver, host: str, address: str
) -> None:
    result = resolve_host(host, resolver=resolver, is_ip=True)

    assert result == DnsResult(host, DnsOutcome.IP_LITERAL, (), (address,), "")
    assert server.queries == []


def test_it_skips_dns_for_onion_hosts(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    host = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion"

    result = resolve_host(host, resolver=resolver, unresolvable=True)

    assert result.outcome == DnsOutcome.UNRESOLVABLE
    assert not result.outcome.is_transient
    assert result.addresses == ()
    assert server.queries == []


@pytest.mark.parametrize("host", ["a..example.com", "", ".", "x" * 64 + ".example.com"])
def test_it_reports_a_name_dns_cannot_express_as_unresolvable(
    server: FakeDNS, resolver: dns.resolver.Resolver, host: str
) -> None:
    result = resolve_host(host, resolver=resolver)

    assert result.outcome == DnsOutcome.UNRESOLVABLE
    assert result.error.startswith("invalid DNS name")
    assert server.queries == []


def test_it_answers_from_the_resolver_cache_when_one_is_set(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.add("example.com", "A", "192.0.2.1")
    resolver.cache = dns.resolver.Cache()

    first = resolve_host("example.com", resolver=resolver)
    second = resolve_host("example.com", resolver=resolver)

    assert first == second
    assert server.queries == [("example.com", "A"), ("example.com", "AAAA")]


def test_it_serialises_a_result_to_json_and_back(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    server.add("www.example.com", "CNAME", "example.com.", ttl=600)
    server.add("example.com", "A", "192.0.2.1", ttl=120)

    result = resolve_host("www.example.com", resolver=resolver)
    data = json.loads(json.dumps(result.as_dict()))

    assert data == {
        "host": "www.example.com",
        "outcome": "resolved",
        "cname_chain": ["example.com"],
        "addresses": ["192.0.2.1"],
        "error": "",
        "ttl": 120,
    }
    assert DnsResult.from_dict(data) == result


@pytest.mark.parametrize(
    ("outcome", "transient"),
    [
        (DnsOutcome.RESOLVED, False),
        (DnsOutcome.NXDOMAIN, False),
        (DnsOutcome.NO_DATA, False),
        (DnsOutcome.SERVFAIL, True),
        (DnsOutcome.TIMEOUT, True),
        (DnsOutcome.UNRESOLVABLE, False),
        (DnsOutcome.IP_LITERAL, False),
    ],
)
def test_it_retries_later_only_servfail_and_timeout(outcome: DnsOutcome, transient: bool) -> None:
    assert outcome.is_transient is transient


def test_it_resolves_many_hosts_concurrently(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    for n in range(40):
        server.add(f"h{n}.example.com", "A", f"192.0.2.{n + 1}")

    with ThreadPoolExecutor(16) as pool:
        results = list(
            pool.map(
                lambda n: resolve_host(f"h{n}.example.com", resolver=resolver),
                range(40),
            )
        )

    assert [r.addresses for r in results] == [(f"192.0.2.{n + 1}",) for n in range(40)]
    assert len(server.queries) == 80


def test_it_falls_back_to_tcp_for_answers_too_big_for_udp(server: FakeDNS, resolver: dns.resolver.Resolver) -> None:
    # Team Cymru style TXT answers; enough of them not to fit in 512 bytes.
    values = [f"64496 | 192.0.2.{n}/32 | ZZ | ripencc | 2000-01-01" for n in range(20)]
    server.add("origin.example.com", "TXT", *values)

    answer = resolver.resolve("origin.example.com", "TXT")

    assert len(answer) == 20
    # Once over UDP (truncated), once over TCP.
    assert server.queries == [("origin.example.com", "TXT")] * 2


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:5353", ("127.0.0.1", 5353)),
        ("[::1]:53", ("::1", 53)),
        (" 192.0.2.53 ", ("192.0.2.53", 53)),
        ("2001:db8::53", ("2001:db8::53", 53)),
        ("[2001:db8::53]", ("2001:db8::53", 53)),
    ],
)
def test_it_parses_nameservers(text: str, parsed: tuple[str, int]) -> None:
    assert parse_nameserver(text) == parsed


@pytest.mark.parametrize(
    "text",
    ["ns1.example.com:53", "127.0.0.1:0", "127.0.0.1:99999", "[::1]x", "[::1:53", ""],
)
def test_it_rejects_nameservers_that_are_not_ip_and_port(text: str) -> None:
    with pytest.raises(ValueError, match="bad nameserver"):
        parse_nameserver(text)


def test_it_builds_a_resolver_for_the_given_nameservers() -> None:
    resolver = make_resolver(["127.0.0.1:5353", "[::1]:53", ""], timeout=0.5, lifetime=1.5)

    assert [(ns.address, ns.port) for ns in resolver.nameservers] == [  # type: ignore[union-attr]
        ("127.0.0.1", 5353),
        ("::1", 53),
    ]
    assert (resolver.timeout, resolver.lifetime) == (0.5, 1.5)
    assert resolver.search == []


@pytest.mark.skipif(not Path("/etc/resolv.conf").exists(), reason="no system resolver config")
def test_it_uses_the_system_configuration_without_nameservers() -> None:
    resolver = make_resolver(None, timeout=0.5)

    assert resolver.nameservers == dns.resolver.Resolver().nameservers
    assert resolver.timeout == 0.5


def test_it_serves_a_zone_file_from_the_command_line(tmp_path: Path) -> None:
    zone = tmp_path / "zone.json"
    zone.write_text(
        json.dumps(
            {
                "www.example.com": {"CNAME": ["example.com."]},
                "example.com": {"A": ["192.0.2.1"], "AAAA": ["2001:db8::1"]},
            }
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "devnet.dns", "--port", "0", "--zone", str(zone)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        resolver = make_resolver([address], timeout=1.0, lifetime=2.0)

        result = resolve_host("www.example.com", resolver=resolver)
    finally:
        process.terminate()
        process.wait(timeout=5)

    assert address.startswith("127.0.0.1:")
    assert result.cname_chain == ("example.com",)
    assert result.addresses == ("192.0.2.1", "2001:db8::1")
    assert process.returncode == 0


def test_it_reports_names_in_lower_case_whatever_case_was_asked(
    server: FakeDNS, resolver: dns.resolver.Resolver
) -> None:
    server.add("www.example.com", "CNAME", "cdn.example.net.")
    server.add("cdn.example.net", "MX", "10 mail.example.net.")

    result = resolve_host("WWW.Example.COM.", resolver=resolver)

    assert result.host == "WWW.Example.COM."
    assert result.cname_chain == ("cdn.example.net",)
    assert result.error == "cdn.example.net has no A or AAAA records"
