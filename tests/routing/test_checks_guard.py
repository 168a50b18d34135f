"""The checker's guard: hostile URLs, names and redirects never reach a local address.

A canary listens on one port of every local address (IPv4 and IPv6); each hostile URL points at
it in some disguise. With ``SCART_CHECK_ALLOW_NETWORKS`` empty every check must end ``blocked`` and
the canary must never see a connection. Where a redirect needs the test peer, only 127.0.0.1 is
allowed and the redirects lead elsewhere into loopback and private space.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import dns.message
import dns.rdatatype
import pytest
from django.core.exceptions import ImproperlyConfigured

from devnet.dns import FakeDNS
from devnet.http import Canary, FakeHTTP
from routing.checks.guard import address_refusal, target_parse
from routing.checks.probe import CheckOutcome, check_url

# Names the local DNS peer points at local and private addresses.
HOSTILE_NAMES = {
    "loopback.example.com": ("A", "127.0.0.1"),
    "loopback2.example.com": ("A", "127.0.0.2"),
    "zero.example.com": ("A", "0.0.0.0"),
    "private.example.net": ("A", "10.1.2.3"),
    "home.example.net": ("A", "192.168.1.1"),
    "cgnat.example.net": ("A", "100.64.0.1"),
    "metadata.example.org": ("A", "169.254.169.254"),
    "v6loop.example.org": ("AAAA", "::1"),
    "mapped.example.org": ("AAAA", "::ffff:127.0.0.1"),
    "nat64.example.org": ("AAAA", "64:ff9b::7f00:1"),
    "ula.example.org": ("AAAA", "fd00::1"),
}

HOSTILE_URLS = [
    # IPv4 loopback in every spelling browsers accept
    "http://127.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://127.0.1:{port}/",
    "http://127.255.255.254:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f000001:{port}/",
    "http://0X7F000001:{port}/",
    "http://017700000001:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://0177.1:{port}/",
    "http://0x7f.0x0.0x0.0x1:{port}/",
    "http://0x7f.1:{port}/",
    "http://127.000.000.001:{port}/",
    "http://127.0.0.1.:{port}/",
    "http://%31%32%37.0.0.1:{port}/",
    "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11:{port}/",
    "http://user:pw@127.0.0.1:{port}/",
    "http://www.example.com@127.0.0.1:{port}/",
    "127.0.0.1:{port}/no-scheme",
    "//127.0.0.1:{port}/",
    "http:\\\\127.0.0.1:{port}/",
    "HTTP://127.0.0.1:{port}/",
    "https://127.0.0.1:{port}/",
    # the unspecified address reaches the local machine
    "http://0:{port}/",
    "http://0.0.0.0:{port}/",
    "http://[::]:{port}/",
    # IPv6 loopback, and IPv6 forms that carry IPv4 loopback
    "http://[::1]:{port}/",
    "http://[0:0:0:0:0:0:0:1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://[::ffff:7f00:1]:{port}/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/",
    "http://[::127.0.0.1]:{port}/",
    "http://[::ffff:0:127.0.0.1]:{port}/",
    "http://[64:ff9b::127.0.0.1]:{port}/",
    "http://[2002:7f00:1::]:{port}/",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}/",
    "http://[::ffff:0.0.0.0]:{port}/",
    # private, shared, link-local, reserved space and metadata services
    "http://10.0.0.1:{port}/",
    "http://172.16.0.1:{port}/",
    "http://192.168.0.1:{port}/",
    "http://100.64.0.1:{port}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/",
    "http://168.63.129.16/machine",
    "http://198.18.0.1:{port}/",
    "http://192.0.2.1:{port}/",
    "http://224.0.0.1:{port}/",
    "http://255.255.255.255:{port}/",
    "http://240.0.0.1:{port}/",
    "http://[fe80::1]:{port}/",
    "http://[fc00::1]:{port}/",
    "http://[ff02::1]:{port}/",
    "http://[fe80::1%25lo]:{port}/",
    # names that can only be local
    "http://localhost:{port}/",
    "http://LOCALHOST:{port}/",
    "http://localhost.:{port}/",
    "http://LocalHost.:{port}/",
    "http://www.localhost:{port}/",
    "http://localhost.localdomain:{port}/",
    "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:{port}/",
    "http://loc%61lhost:{port}/",
    "http://intranet:{port}/",
    "http://printer.local:{port}/",
    "http://metadata.google.internal/computeMetadata/v1/",
    # names the DNS peer points at local and private addresses
    *(f"http://{name}:{{port}}/" for name in HOSTILE_NAMES),
    "http://alias.example.com:{port}/",
]


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    with Canary() as listener:
        yield listener


@pytest.fixture
def hostile_dns(fake_dns: FakeDNS) -> FakeDNS:
    for name, (rtype, value) in HOSTILE_NAMES.items():
        fake_dns.add(name, rtype, value)
    fake_dns.add("alias.example.com", "CNAME", "loopback.example.com.")
    return fake_dns


@pytest.fixture
def nothing_allowed(settings) -> None:
    settings.SCART_CHECK_ALLOW_NETWORKS = []


def test_there_are_at_least_forty_hostile_urls():
    assert len(HOSTILE_URLS) >= 40


@pytest.mark.parametrize("url", HOSTILE_URLS)
@pytest.mark.usefixtures("nothing_allowed", "hostile_dns")
def test_a_hostile_url_is_blocked_and_nothing_is_contacted(canary, url):
    result = check_url(url.format(port=canary.port), timeout=3)

    assert result.outcome == CheckOutcome.BLOCKED, result
    assert result.status is None
    assert result.reason
    assert canary.connections == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "0.0.0.0",
        "10.255.255.255",
        "100.127.255.254",
        "169.254.169.254",
        "192.0.0.8",
        "198.19.255.255",
        "203.0.113.9",
        "233.252.0.1",
        "::",
        "::1",
        "::ffff:10.0.0.1",
        "::ffff:0:a00:1",
        "::10.0.0.1",
        "64:ff9b::a00:1",
        "64:ff9b:1::808:808",
        "2002:a00:1::1",
        "2001::1",
        "2001:db8::1",
        "3fff::1",
        "100::1",
        "fe80::1",
        "fec0::1",
        "fd12:3456::1",
        "ff0e::1",
        "5f00::1",
        "168.63.129.16",
        "::ffff:168.63.129.16",
    ],
)
def test_it_refuses_every_address_that_is_not_global_unicast(nothing_allowed, address):
    assert address_refusal(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
)
def test_it_lets_global_addresses_through(nothing_allowed, address):
    assert address_refusal(address) == ""


def test_an_allowed_network_opens_exactly_itself(settings):
    settings.SCART_CHECK_ALLOW_NETWORKS = ["127.0.0.1/32", "fd00:1234::/32"]

    assert address_refusal("127.0.0.1") == ""
    assert address_refusal(ipaddress.ip_address("fd00:1234::5")) == ""
    assert address_refusal("127.0.0.2")
    # The mapped form of an allowed address is still refused: the list matches addresses as given.
    assert address_refusal("::ffff:127.0.0.1")


def test_metadata_addresses_stay_refused_inside_an_allowed_network(settings):
    settings.SCART_CHECK_ALLOW_NETWORKS = ["169.254.0.0/16", "100.64.0.0/10", "fd00::/8", "168.63.0.0/16"]

    assert address_refusal("169.254.1.1") == ""
    for address in ("169.254.169.254", "100.100.100.200", "fd00:ec2::254", "168.63.129.16"):
        assert "metadata" in address_refusal(address)


def test_a_bad_allowed_network_is_a_configuration_error(settings):
    settings.SCART_CHECK_ALLOW_NETWORKS = ["not-a-network"]

    with pytest.raises(ImproperlyConfigured):
        address_refusal("8.8.8.8")


def test_ip_literals_are_vetted_as_the_address_they_spell(settings):
    settings.SCART_CHECK_ALLOW_NETWORKS = ["127.0.0.1/32"]

    for spelling in ("2130706433", "0x7f.1", "0177.0.0.1", "127.1", "%31%32%37.0.0.1"):
        target = target_parse(f"http://{spelling}:8080/a/../b?q")
        assert (target.literal, target.host, target.port) == (ipaddress.ip_address("127.0.0.1"), "127.0.0.1", 8080)
        assert (target.url, target.request_target, target.host_header) == (
            "http://127.0.0.1:8080/b?q",
            "/b?q",
            "127.0.0.1:8080",
        )


# --- redirects from the allowed peer into private space ---------------------------------------


@pytest.fixture(scope="module")
def peer() -> Iterator[FakeHTTP]:
    with FakeHTTP() as server:
        yield server


@pytest.fixture
def only_the_peer(settings, hostile_dns: FakeDNS, peer: FakeHTTP) -> FakeHTTP:
    settings.SCART_CHECK_ALLOW_NETWORKS = ["127.0.0.1/32"]
    hostile_dns.add("www.example.com", "A", "127.0.0.1")
    peer.clear()
    return peer


REDIRECTS_INTO_PRIVATE_SPACE = [
    "http://127.0.0.2:{port}/",
    "//127.0.0.2:{port}/",
    "http://2130706434:{port}/",
    "http://0x7f000002:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://0.0.0.0:{port}/",
    "http://localhost:{port}/",
    "http://loopback2.example.com:{port}/",
    "http://v6loop.example.org:{port}/",
    "http://private.example.net/",
    "http://169.254.169.254/latest/meta-data/",
    "https://[fd00:ec2::254]/",
]


@pytest.mark.parametrize("location", REDIRECTS_INTO_PRIVATE_SPACE)
@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_into_private_space_is_blocked(only_the_peer, canary, location, status):
    peer = only_the_peer
    target = location.format(port=canary.port)
    result = check_url(peer.url(f"/to?status={status}&location={target}"), timeout=3)

    assert result.outcome == CheckOutcome.BLOCKED, result
    assert result.status == status
    assert len(result.redirects) == 1
    assert canary.connections == []
    assert len(peer.wait_for_requests(1)) == 1


def test_a_same_host_redirect_chain_that_ends_in_private_space_is_blocked(only_the_peer, canary):
    peer = only_the_peer
    hop = f"/to?location=http://127.0.0.2:{canary.port}/"
    result = check_url(peer.url(f"/to?location={hop.replace('?', '%3F').replace('=', '%3D')}"), timeout=3)

    assert result.outcome == CheckOutcome.BLOCKED
    assert len(result.redirects) == 2
    assert canary.connections == []


# --- DNS rebinding --------------------------------------------------------------------------------


@pytest.fixture
def rebinding(monkeypatch, fake_dns: FakeDNS) -> list[str]:
    """``rebind.example.com`` answers 127.0.0.1 (the allowed peer) to its first A question and
    127.0.0.2 (where a canary waits) to every later one. Returns the log of A questions."""
    name = "rebind.example.com"
    fake_dns.add(name, "A", "127.0.0.1", ttl=0)
    asked: list[str] = []
    original = fake_dns.answer

    def answer(wire: bytes, *, max_size: int | None = None) -> bytes | None:
        reply = original(wire, max_size=max_size)
        question = dns.message.from_wire(wire).question[0]
        if question.name.to_text(omit_final_dot=True).lower() == name and question.rdtype == dns.rdatatype.A:
            asked.append(name)
            if len(asked) == 1:
                fake_dns.remove(name, "A")
                fake_dns.add(name, "A", "127.0.0.2", ttl=0)
        return reply

    monkeypatch.setattr(fake_dns, "answer", answer)
    return asked


def test_dns_rebinding_between_lookups_never_changes_where_a_check_connects(only_the_peer, rebinding):
    peer = only_the_peer
    with Canary("127.0.0.2", peer.port) as canary:
        # Three hops on the rebinding name: one lookup, every connection to the address vetted then.
        first = check_url(peer.url("/redirect/2", host="rebind.example.com"), timeout=3)
        # The next check asks again, gets 127.0.0.2, and refuses it.
        second = check_url(peer.url("/redirect/2", host="rebind.example.com"), timeout=3)

        assert (first.outcome, first.address, len(first.redirects)) == (CheckOutcome.ONLINE, "127.0.0.1", 2)
        assert len(peer.wait_for_requests(3)) == 3
        assert rebinding == ["rebind.example.com", "rebind.example.com"]
        assert (second.outcome, second.address) == (CheckOutcome.BLOCKED, "127.0.0.2")
        assert canary.connections == []


def test_refused_addresses_in_an_answer_are_skipped_and_never_tried(only_the_peer, fake_dns):
    peer = only_the_peer
    fake_dns.add("mixed.example.com", "A", "127.0.0.1", "127.0.0.2", "10.0.0.1")
    fake_dns.add("mixed.example.com", "AAAA", "::1")
    with Canary("127.0.0.2", peer.port) as canary:
        result = check_url(peer.url("/status/200", host="mixed.example.com"), timeout=3)

        assert (result.outcome, result.address) == (CheckOutcome.ONLINE, "127.0.0.1")
        assert "skipped 127.0.0.2" in result.reason and "skipped ::1" in result.reason
        assert canary.connections == []


def test_when_the_allowed_address_fails_the_refused_ones_are_not_tried_instead(only_the_peer, fake_dns):
    fake_dns.add("fallback.example.com", "A", "127.0.0.1", "127.0.0.2")
    with Canary("127.0.0.2") as canary:  # nothing listens on 127.0.0.1 at this port
        result = check_url(f"http://fallback.example.com:{canary.port}/", timeout=3)

        assert (result.outcome, result.address) == (CheckOutcome.UNREACHABLE, "127.0.0.1")
        assert canary.connections == []
