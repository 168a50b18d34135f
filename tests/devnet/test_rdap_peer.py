"""The local RDAP peer (devnet/rdap/), and ``python -m devnet`` serving it with the DNS peer.

Every request goes to 127.0.0.1; no database is needed.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import ProxyHandler, build_opener

import pytest
from ipwhois.exceptions import HTTPRateLimitError
from ipwhois.net import Net

from devnet import rdap_objects
from devnet.rdap import REGISTRY_FIXTURES, FakeRDAP, recorded_networks
from routing.resolution.dns import DnsOutcome, make_resolver, resolve_host

REPO = Path(__file__).resolve().parents[2]
RECORDED = recorded_networks()


@dataclass
class Answer:
    status: int
    headers: Message
    body: Any


@pytest.fixture(scope="module")
def server() -> Iterator[FakeRDAP]:
    with FakeRDAP() as fake:
        yield fake


@pytest.fixture
def rdap(server: FakeRDAP) -> Iterator[FakeRDAP]:
    server.clear()
    yield server
    server.clear()


def get(base_url: str, path: str, *, timeout: float = 5.0) -> Answer:
    conn = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept": "application/rdap+json"})
        response = conn.getresponse()
        return Answer(response.status, response.msg, json.loads(response.read()))
    finally:
        conn.close()


def network(start: str, end: str, handle: str) -> dict[str, Any]:
    return rdap_objects.ip_network(handle=handle, start=start, end=end)


def handle_at(rdap: FakeRDAP, path: str) -> str:
    answer = get(rdap.base_url, path)
    assert answer.status == 200, answer.body
    return str(answer.body["handle"])


# -- lookups -----------------------------------------------------------------------------------


def test_it_answers_the_most_specific_network_containing_an_address(rdap: FakeRDAP) -> None:
    rdap.add_network(network("198.51.0.0", "198.51.255.255", "WIDE"))
    rdap.add_network(network("198.51.100.0", "198.51.100.255", "NARROW"))
    rdap.add_network(network("198.51.100.64", "198.51.100.127", "NARROWEST"))

    assert handle_at(rdap, "/ip/198.51.100.70") == "NARROWEST"
    assert handle_at(rdap, "/ip/198.51.100.200") == "NARROW"
    assert handle_at(rdap, "/ip/198.51.7.1") == "WIDE"
    assert get(rdap.base_url, "/ip/198.52.0.1").status == 404


def test_it_answers_the_most_specific_network_containing_a_whole_prefix(rdap: FakeRDAP) -> None:
    rdap.load_recorded()

    assert handle_at(rdap, "/ip/2001:240::/32") == "2001:0240::/32"
    assert handle_at(rdap, "/ip/2001:240:10c::/48") == "2001:0240::/32"
    assert handle_at(rdap, "/ip/74.125.225.0/24") == "NET-74-125-0-0-1"
    assert handle_at(rdap, "/ip/210.107.0.0/17") == "210.107.0.0 - 210.107.127.255"
    assert get(rdap.base_url, "/ip/2001:240::/31").status == 404
    assert get(rdap.base_url, "/ip/210.107.0.0/16").status == 404


def test_it_prefers_the_network_added_last_between_equal_ranges(rdap: FakeRDAP) -> None:
    rdap.add_network(network("192.0.2.0", "192.0.2.255", "OLD"))
    rdap.add_network(network("192.0.2.0", "192.0.2.255", "NEW"))

    assert handle_at(rdap, "/ip/192.0.2.1") == "NEW"


@pytest.mark.parametrize("ip", sorted(RECORDED))
def test_it_answers_every_recorded_address_with_its_recorded_network(rdap: FakeRDAP, ip: str) -> None:
    rdap.load_recorded()

    answer = get(rdap.base_url, f"/ip/{ip}")

    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/rdap+json"
    assert answer.body == RECORDED[ip]["response"]


def test_it_reads_arin_zero_padded_ipv4_ranges(rdap: FakeRDAP) -> None:
    rdap.load_recorded()  # 074.125.000.000 - 074.125.255.255

    assert handle_at(rdap, "/ip/74.125.0.0") == "NET-74-125-0-0-1"
    assert handle_at(rdap, "/ip/74.125.255.255") == "NET-74-125-0-0-1"
    assert get(rdap.base_url, "/ip/74.124.255.255").status == 404
    assert get(rdap.base_url, "/ip/74.126.0.0").status == 404


def test_it_reads_ripe_ipv6_ranges_written_with_a_prefix_length(rdap: FakeRDAP) -> None:
    rdap.load_recorded()  # 2a00:2381:ffff::/128 - 2a00:2381:ffff::ffff:ffff:ffff:ffff/128

    assert handle_at(rdap, "/ip/2a00:2381:ffff::") == "2a00:2381:ffff::/64"
    assert handle_at(rdap, "/ip/2a00:2381:ffff:0:ffff:ffff:ffff:ffff") == "2a00:2381:ffff::/64"
    assert get(rdap.base_url, "/ip/2a00:2381:ffff:1::").status == 404


def test_it_reads_ripe_ipv4_ranges_written_with_a_prefix_length(rdap: FakeRDAP) -> None:
    rdap.load_recorded()  # 62.239.237.0/32 - 62.239.237.255/32

    assert handle_at(rdap, "/ip/62.239.237.0") == "62.239.237.0 - 62.239.237.255"
    assert handle_at(rdap, "/ip/62.239.237.255") == "62.239.237.0 - 62.239.237.255"
    assert get(rdap.base_url, "/ip/62.239.238.0").status == 404


def test_it_reads_upper_case_uncompressed_ipv6_ranges(rdap: FakeRDAP) -> None:
    rdap.load_recorded()  # 2001:4860:0000:0000:0000:0000:0000:0000 - 2001:4860:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF

    assert handle_at(rdap, "/ip/2001:4860::") == "NET6-2001-4860-1"
    assert handle_at(rdap, "/ip/2001:4860:ffff:ffff:ffff:ffff:ffff:ffff") == "NET6-2001-4860-1"
    assert handle_at(rdap, "/ip/2001:4860:4860:0:0:0:0:8888") == "NET6-2001-4860-1"
    assert get(rdap.base_url, "/ip/2001:4861::").status == 404


def test_it_answers_a_network_of_one_address_for_that_address_only(rdap: FakeRDAP) -> None:
    rdap.load_recorded()  # LACNIC: 200.57.141.161 - 200.57.141.161

    assert handle_at(rdap, "/ip/200.57.141.161") == "200.57.141.161"
    assert get(rdap.base_url, "/ip/200.57.141.160").status == 404
    assert get(rdap.base_url, "/ip/200.57.141.162").status == 404


def test_it_reads_a_range_from_cidr0_cidrs(rdap: FakeRDAP) -> None:
    rdap.add_network(
        rdap_objects.ip_network(
            handle="NET-CIDR0",
            cidr0_cidrs=[{"v4prefix": "192.0.2.0", "length": 25}, {"v4prefix": "192.0.2.128", "length": 26}],
        )
    )

    assert handle_at(rdap, "/ip/192.0.2.1") == "NET-CIDR0"
    assert handle_at(rdap, "/ip/192.0.2.190") == "NET-CIDR0"
    assert get(rdap.base_url, "/ip/192.0.2.200").status == 404


def test_it_serves_the_recorded_entity_whatever_the_case_of_its_handle(rdap: FakeRDAP) -> None:
    rdap.load_recorded()
    recorded = json.loads((REGISTRY_FIXTURES / "entity.json").read_text())

    assert get(rdap.base_url, "/entity/ZG39-ARIN").body == recorded
    assert get(rdap.base_url, "/entity/zg39-arin").body == recorded


def test_it_serves_autnums_by_range_and_by_handle(rdap: FakeRDAP) -> None:
    rdap.add_autnum(rdap_objects.autnum(handle="AS64496-AS64511", start=64496, end=64511))
    rdap.add_autnum(rdap_objects.autnum(handle="AS64500"))
    rdap.add_autnum(rdap_objects.autnum(handle="15169"))

    assert handle_at(rdap, "/autnum/64497") == "AS64496-AS64511"
    assert handle_at(rdap, "/autnum/64500") == "AS64500"
    assert handle_at(rdap, "/autnum/15169") == "15169"
    assert get(rdap.base_url, "/autnum/64512").status == 404


def test_it_serves_domains_whatever_the_case_and_final_dot(rdap: FakeRDAP) -> None:
    rdap.add_domain(rdap_objects.domain("EXAMPLE.COM", handle="D1"))

    assert handle_at(rdap, "/domain/example.com") == "D1"
    assert handle_at(rdap, "/domain/Example.Com.") == "D1"
    assert get(rdap.base_url, "/domain/example.net").status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/ip/192.0.2.1",
        "/ip/2001:db8::1",
        "/ip/192.0.2.0/24",
        "/entity/NOBODY-ARIN",
        "/autnum/64496",
        "/domain/example.com",
    ],
)
def test_it_answers_404_with_an_rdap_error_for_unknown_objects(rdap: FakeRDAP, path: str) -> None:
    answer = get(rdap.base_url, path)

    assert answer.status == 404
    assert answer.headers["Content-Type"] == "application/rdap+json"
    assert answer.body == {"errorCode": 404, "title": "Not Found"}


@pytest.mark.parametrize(
    "path",
    [
        "/ip/300.1.1.1",
        "/ip/not-an-address",
        "/ip/192.0.2.0/33",
        "/ip/192.0.2.0/x",
        "/ip/2001:db8:::1",
        "/ip/",
        "/ip/192.0.2.0/24/1",
        "/autnum/AS",
        "/autnum/sixty",
        "/entity/",
        "/domain/",
        "/nameserver/ns1.example.com",
        "/",
    ],
)
def test_it_answers_400_for_malformed_requests(rdap: FakeRDAP, path: str) -> None:
    rdap.load_recorded()

    answer = get(rdap.base_url, path)

    assert answer.status == 400
    assert answer.headers["Content-Type"] == "application/rdap+json"
    assert answer.body["errorCode"] == 400


def test_it_serves_a_bootstrap_file_for_the_tlds_of_its_domains(rdap: FakeRDAP) -> None:
    assert get(rdap.base_url, "/dns.json").body["services"] == []

    rdap.add_domain(rdap_objects.domain("example.org"))
    rdap.add_domain(rdap_objects.domain("EXAMPLE.COM"))
    rdap.add_domain(rdap_objects.domain("www.example.com"))
    bootstrap = get(rdap.base_url, "/dns.json").body

    assert bootstrap["version"] == "1.0"
    assert datetime.fromisoformat(bootstrap["publication"])
    assert bootstrap["services"] == [[["com", "org"], [f"{rdap.base_url}/"]]]


def test_its_base_url_has_no_trailing_slash(rdap: FakeRDAP) -> None:
    assert rdap.base_url == f"http://127.0.0.1:{rdap.port}"


# -- behaviours ----------------------------------------------------------------------------------


def test_it_answers_429_with_retry_after_for_the_next_n_requests(rdap: FakeRDAP) -> None:
    rdap.load_recorded()
    rdap.set_behaviour("/ip/", "429", times=2, retry_after=7)

    first, second, third = (get(rdap.base_url, "/ip/74.125.225.229") for _ in range(3))

    assert (first.status, first.headers["Retry-After"], first.body) == (
        429,
        "7",
        {"errorCode": 429, "title": "Too Many Requests"},
    )
    assert (second.status, second.headers["Retry-After"]) == (429, "7")
    assert third.status == 200
    assert "Retry-After" not in third.headers


def test_it_answers_429_without_retry_after_unless_asked(rdap: FakeRDAP) -> None:
    rdap.set_behaviour(None, "429")

    answer = get(rdap.base_url, "/entity/ZG39-ARIN")

    assert answer.status == 429
    assert "Retry-After" not in answer.headers


@pytest.mark.parametrize(("behaviour", "title"), [("500", "Internal Server Error"), ("503", "Service Unavailable")])
def test_it_fails_every_matching_request_until_set_back_to_normal(rdap: FakeRDAP, behaviour: str, title: str) -> None:
    rdap.load_recorded()
    rdap.set_behaviour("/entity/ZG39-ARIN", behaviour)

    failures = [get(rdap.base_url, "/entity/ZG39-ARIN") for _ in range(3)]
    unaffected = get(rdap.base_url, "/ip/74.125.225.229")
    rdap.set_behaviour("/entity/ZG39-ARIN", "normal")

    assert [(a.status, a.body["title"]) for a in failures] == [(int(behaviour), title)] * 3
    assert unaffected.status == 200
    assert get(rdap.base_url, "/entity/ZG39-ARIN").status == 200


def test_the_longest_matching_prefix_decides(rdap: FakeRDAP) -> None:
    rdap.load_recorded()
    rdap.set_behaviour(None, "503")
    rdap.set_behaviour("/ip/", "500")
    rdap.set_behaviour("/ip/74.125.", "normal")  # removes nothing: no behaviour has that prefix
    rdap.set_behaviour("/ip/200.57.141.161", "429")

    assert get(rdap.base_url, "/entity/ZG39-ARIN").status == 503
    assert get(rdap.base_url, "/ip/74.125.225.229").status == 500
    assert get(rdap.base_url, "/ip/200.57.141.161").status == 429


def test_it_rejects_unknown_behaviours(rdap: FakeRDAP) -> None:
    with pytest.raises(ValueError, match="unknown behaviour"):
        rdap.set_behaviour(None, "418")


def test_it_holds_a_timed_out_request_without_answering(rdap: FakeRDAP) -> None:
    rdap.load_recorded()
    rdap.set_behaviour("/ip/", "timeout", times=1)

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        get(rdap.base_url, "/ip/74.125.225.229", timeout=0.3)
    waited = time.monotonic() - started

    assert waited >= 0.3
    assert get(rdap.base_url, "/ip/74.125.225.229").status == 200


def test_it_lets_go_of_held_requests_when_it_stops() -> None:
    outcome: list[BaseException | Answer] = []
    with FakeRDAP() as rdap:
        rdap.set_behaviour(None, "timeout")

        def ask() -> None:
            try:
                outcome.append(get(rdap.base_url, "/ip/192.0.2.1", timeout=10))
            except (OSError, http.client.HTTPException) as e:
                outcome.append(e)

        client = threading.Thread(target=ask)
        client.start()
        while not rdap.requests:
            time.sleep(0.01)
        started = time.monotonic()
    client.join(timeout=5)

    assert time.monotonic() - started < 2
    assert len(outcome) == 1
    assert isinstance(outcome[0], (ConnectionError, http.client.RemoteDisconnected))


# -- latency -------------------------------------------------------------------------------------


def test_it_delays_answers_without_serialising_concurrent_clients(rdap: FakeRDAP) -> None:
    rdap.load_recorded()
    rdap.latency = 0.2

    def timed(ip: str) -> tuple[int, float]:
        started = time.monotonic()
        status = get(rdap.base_url, f"/ip/{ip}").status
        return status, time.monotonic() - started

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(timed, sorted(RECORDED)))
    elapsed = time.monotonic() - started

    assert [status for status, _ in results] == [200] * 10
    assert min(took for _, took in results) >= 0.2
    assert elapsed < 1.0  # one after the other would take 2 s


def test_its_latency_comes_from_the_constructor_and_clear_restores_it() -> None:
    with FakeRDAP(latency=0.15) as rdap:
        rdap.latency = 0.0
        rdap.clear()
        started = time.monotonic()
        get(rdap.base_url, "/ip/192.0.2.1")

        assert rdap.latency == 0.15
        assert time.monotonic() - started >= 0.15


# -- log and reset -------------------------------------------------------------------------------


def test_it_logs_every_request_path_and_clear_forgets_everything(rdap: FakeRDAP) -> None:
    rdap.load_recorded()
    rdap.set_behaviour("/entity/", "500")
    get(rdap.base_url, "/ip/74.125.225.229")
    get(rdap.base_url, "/entity/ZG39-ARIN")
    get(rdap.base_url, "/nope")

    assert rdap.requests == ["/ip/74.125.225.229", "/entity/ZG39-ARIN", "/nope"]

    rdap.clear()

    assert rdap.requests == []
    assert get(rdap.base_url, "/ip/74.125.225.229").status == 404
    assert get(rdap.base_url, "/entity/ZG39-ARIN").status == 404  # not 500: the behaviour is gone too


def test_it_logs_requests_from_many_threads(rdap: FakeRDAP) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda n: get(rdap.base_url, f"/autnum/{n}"), range(40)))

    assert sorted(rdap.requests) == sorted(f"/autnum/{n}" for n in range(40))


# -- ipwhois as a client -------------------------------------------------------------------------


def test_ipwhois_fetches_a_recorded_network_from_it(rdap: FakeRDAP) -> None:
    rdap.load_recorded()
    net = Net("196.11.240.215", timeout=2, proxy_opener=build_opener(ProxyHandler({})))

    response = net.get_http_json(url=f"{rdap.base_url}/ip/196.11.240.215", retry_count=0)

    assert response == RECORDED["196.11.240.215"]["response"]


def test_ipwhois_reports_its_429_as_a_rate_limit(rdap: FakeRDAP) -> None:
    rdap.set_behaviour("/ip/", "429", retry_after=1)
    net = Net("196.11.240.215", timeout=2, proxy_opener=build_opener(ProxyHandler({})))

    with pytest.raises(HTTPRateLimitError):
        net.get_http_json(url=f"{rdap.base_url}/ip/196.11.240.215", retry_count=0)


# -- command line --------------------------------------------------------------------------------


def test_it_serves_the_recorded_answers_from_the_command_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devnet.rdap", "--port", "0", "--recorded"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()

        answer = get(base_url, "/ip/74.125.225.229")
    finally:
        process.terminate()
        process.wait(timeout=5)

    assert base_url.startswith("http://127.0.0.1:")
    assert answer.body == RECORDED["74.125.225.229"]["response"]
    assert process.returncode == 0


def test_python_m_devnet_serves_the_demo_over_dns_and_rdap() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devnet", "--dns-port", "0", "--rdap-port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        settings = {}
        for _ in range(2):
            name, _, value = process.stdout.readline().strip().partition("=")
            settings[name] = value
        resolver = make_resolver([settings["SCART_DNS_NAMESERVERS"]], timeout=1.0, lifetime=2.0)

        host = resolve_host("www.example.org", resolver=resolver)
        network = get(settings["SCART_RDAP_BASE_URL"], f"/ip/{host.addresses[0]}")
        domain = get(settings["SCART_RDAP_BASE_URL"], "/domain/example.com")
    finally:
        process.terminate()
        process.wait(timeout=5)

    assert settings["SCART_DNS_NAMESERVERS"].startswith("127.0.0.1:")
    assert settings["SCART_RDAP_BASE_URL"].startswith("http://127.0.0.1:")
    assert host.outcome == DnsOutcome.RESOLVED
    assert host.addresses == ("62.239.237.1", "2a00:2381:ffff::1")
    assert network.body["name"] == "BT-CORPORATE"
    [registrar] = domain.body["entities"]
    assert registrar["roles"] == ["registrar"]
    assert ["fn", {}, "text", "RESERVED-Internet Assigned Numbers Authority"] in registrar["vcardArray"][1]
    [abuse] = registrar["entities"]
    assert abuse["roles"] == ["abuse"]
    assert ["email", {}, "text", "abuse@iana.org"] in abuse["vcardArray"][1]
    assert process.returncode == 0
