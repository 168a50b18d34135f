"""The registry HTTP client and the pieces of resolution that need no database: address blocks,
the abuse-contact rules, the IANA bootstrap and the per-registry limits."""

from __future__ import annotations

import ipaddress
import threading
import time

import pytest

from devnet import rdap_objects
from devnet.rdap import FakeRDAP
from routing.resolution.addresses import candidate_keys, parse_address, parse_networks, range_networks
from routing.resolution.contacts import Entity, choose_abuse_contact, organisation
from routing.resolution.rdap_client import RdapClient, RdapError, RdapNotFound, RdapRateLimited
from routing.resolution.rdap_domains import lookup_registrar


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("074.125.000.000", "74.125.0.0"),
        ("2a00:2381:ffff::/128", "2a00:2381:ffff::"),
        ("2001:4860:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF", "2001:4860:ffff:ffff:ffff:ffff:ffff:ffff"),
        (" 196.11.239.0 ", "196.11.239.0"),
    ],
)
def test_it_reads_addresses_the_way_registries_write_them(text, expected):
    assert str(parse_address(text)) == expected


def test_a_range_that_is_no_cidr_becomes_the_blocks_covering_it():
    assert [str(n) for n in range_networks("196.11.239.0", "196.11.246.255")] == [
        "196.11.239.0/24",
        "196.11.240.0/22",
        "196.11.244.0/23",
        "196.11.246.0/24",
    ]
    assert [str(n) for n in parse_networks("2001:0240::/32")] == ["2001:240::/32"]


def test_the_candidate_blocks_of_an_address_are_its_prefixes_most_specific_first():
    keys = candidate_keys(ipaddress.ip_address("74.125.225.229"))
    assert len(keys) == 33
    assert keys[0] == (4, "4a7de1e5", 32)
    assert (4, "4a7d0000", 16) in keys and keys[-1] == (4, "00000000", 0)
    assert len(candidate_keys(ipaddress.ip_address("2001:db8::1"))) == 129


def test_an_abuse_role_of_the_operator_wins_over_everything():
    entities = [
        Entity("TECH", ("technical",), ("abuse@other.example",)),
        Entity("ABUSE", ("abuse",), ("noc@isp.example",)),
    ]
    contact = choose_abuse_contact(entities)
    assert contact.emails == ("noc@isp.example",) and contact.source == "abuse-role" and contact.confidence == "high"


def test_a_registry_abuse_role_gives_way_to_the_operators_abuse_mailbox():
    entities = [
        Entity("IRT-APNIC", ("abuse",), ("helpdesk@apnic.net",)),
        Entity("OPS", ("administrative",), ("ops@isp.example", "abuse-desk@isp.example")),
    ]
    contact = choose_abuse_contact(entities)
    assert contact.emails == ("abuse-desk@isp.example",) and contact.source == "abuse-like-address"
    assert contact.handle == "OPS" and contact.notes


def test_a_registry_abuse_role_alone_is_kept_with_low_confidence():
    contact = choose_abuse_contact([Entity("IRT", ("abuse",), ("hostmaster@nic.or.kr",))])
    assert contact.emails == ("hostmaster@nic.or.kr",) and contact.confidence == "low"


def test_no_address_at_all_means_no_confidence():
    contact = choose_abuse_contact([Entity("X", ("registrant",), (), "Some Org", "org")])
    assert contact.emails == () and contact.source == "none" and contact.confidence == "none"


def test_the_holder_of_a_network_is_never_a_registry():
    entities = [Entity("IRT-KRNIC-KR", ("abuse",), ("hostmaster@nic.or.kr",), "IRT-KRNIC-KR")]
    contact = choose_abuse_contact(entities)
    assert organisation(entities, contact) is None


@pytest.fixture
def peer():
    with FakeRDAP() as server:
        yield server


def test_404_is_permanent_and_5xx_transient(peer):
    client = RdapClient(base_url=peer.base_url, rate=0)
    with pytest.raises(RdapNotFound) as missing:
        client.get_json(client.ip_url("81.0.0.1", "ripencc"), registry="ripencc")
    assert not missing.value.transient
    peer.set_behaviour("/ip/", "500")
    with pytest.raises(RdapError) as broken:
        client.get_json(client.ip_url("81.0.0.1", "ripencc"), registry="ripencc")
    assert broken.value.transient


def test_a_429_blocks_only_that_registry_for_retry_after(peer):
    client = RdapClient(base_url=peer.base_url, rate=0)
    peer.load_recorded()
    peer.set_behaviour("/ip/62.", "429", retry_after=30)
    with pytest.raises(RdapRateLimited) as limited:
        client.get_json(client.ip_url("62.239.237.1", "ripencc"), registry="ripencc")
    assert limited.value.retry_after == 30
    sent = len(peer.requests)
    with pytest.raises(RdapRateLimited):
        client.get_json(client.ip_url("2a00:2381:ffff::1", "ripencc"), registry="ripencc")
    assert len(peer.requests) == sent  # not even asked
    assert client.get_json(client.ip_url("200.57.141.161", "lacnic"), registry="lacnic")["country"] == "MX"


def test_requests_to_one_registry_are_spaced_by_its_rate_limit_and_others_run_alongside(peer):
    client = RdapClient(base_url=peer.base_url, rate=10, concurrency=4)
    peer.load_recorded()

    def burst(registry: str, n: int) -> None:
        for _ in range(n):
            client.get_json(client.ip_url("200.57.141.161", registry), registry=registry)

    started = time.monotonic()
    burst("lacnic", 6)
    one_registry = time.monotonic() - started
    assert one_registry >= 0.45  # six requests at ten a second: five gaps of 0.1 s

    started = time.monotonic()
    threads = [threading.Thread(target=burst, args=(r, 3)) for r in ("arin", "apnic", "afrinic", "ripencc")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started < 0.6  # twelve requests, but three per registry


def test_without_a_base_url_domains_are_sent_where_the_iana_bootstrap_says(peer):
    peer.add_domain(rdap_objects.domain("example.nl", entities=[rdap_objects.registrar("Registrar NL", handle="1")]))
    client = RdapClient(base_url="", dns_bootstrap_url=f"{peer.base_url}/dns.json", rate=0)
    assert client.domain_url("shop.example.nl").startswith(peer.base_url + "/")
    assert lookup_registrar("example.nl", client=client).registrar == "Registrar NL"
    with pytest.raises(RdapNotFound):
        client.domain_url("example.invalid-tld")


def test_a_redirect_away_from_the_registry_is_not_followed():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.2:9/latest/meta-data/")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        client = RdapClient(base_url=f"http://127.0.0.1:{server.server_port}", rate=0)
        with pytest.raises(RdapError, match="refusing to follow") as refused:
            client.get_json(client.ip_url("81.0.0.1", "ripencc"), registry="ripencc")
        assert not refused.value.transient and client.requests == 1
    finally:
        server.shutdown()
        server.server_close()


def test_threads_meeting_the_same_new_domain_ask_once():
    from routing.resolution.concurrency import SingleFlight

    flights = SingleFlight()
    calls: list[int] = []
    gate = threading.Event()

    def slow() -> str:
        calls.append(1)
        gate.wait(2)
        return "answer"

    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(flights.run("example.nl", slow))) for _ in range(5)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join()
    assert results == ["answer"] * 5 and len(calls) == 1
    assert flights.run("example.nl", slow) == "answer" and len(calls) == 1  # reused for a while


def test_an_error_says_at_construction_whether_it_may_succeed_later():
    assert RdapError("timed out").transient
    assert not RdapError("refused (HTTP 403)", transient=False).transient
    assert not RdapNotFound("not found (HTTP 404)").transient
    assert RdapRateLimited("rate limited", retry_after=2.0).transient
