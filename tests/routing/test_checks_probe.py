"""The availability checker against the local HTTP peer: outcomes, HEAD refused, redirects,
timeouts, TLS, the proxy tunnel, the runner's limits, and that no body is ever read."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from devnet.dns import FakeDNS
from devnet.http import FakeHTTP, FakeProxy
from devnet.tls import have_openssl
from routing.checks.probe import CheckOutcome, CheckResult, check_url
from routing.checks.runner import checks_run
from routing.checks.wire import ConnectTo, connect_to_parse, read_head

HOST = "www.example.com"
BODY_SIZE = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def peer() -> Iterator[FakeHTTP]:
    # The body of GET answers waits a little, so a checker that waited for it would be seen to.
    with FakeHTTP(body_size=BODY_SIZE, body_delay=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def tls_peer() -> Iterator[FakeHTTP]:
    if not have_openssl():
        pytest.skip("the openssl command is needed for the peer's self-signed certificate")
    with FakeHTTP(tls=True, tls_names=(HOST,), body_size=BODY_SIZE, body_delay=0.2) as server:
        yield server


@pytest.fixture(autouse=True)
def peer_reachable(settings, fake_dns: FakeDNS, peer: FakeHTTP) -> None:
    """The peer is on loopback, which the guard refuses unless allowed; names point at it."""
    settings.SCART_CHECK_ALLOW_NETWORKS = ["127.0.0.1/32"]
    settings.SCART_HOTLINE_NAME = "Test Hotline"
    settings.SCART_CHECK_USER_AGENT = "scart availability check (Test Hotline; https://hotline.example.org)"
    for name in (HOST, "other.example.com", "h1.example.com", "h2.example.com", "h3.example.com"):
        fake_dns.add(name, "A", "127.0.0.1")
    peer.clear()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_it_reports_a_2xx_answer_to_head_as_online_and_records_nothing_else(peer):
    result = check_url(peer.url("/status/200"))

    assert result.outcome == CheckOutcome.ONLINE
    assert (result.status, result.address, result.redirects, result.reason, result.target) == (
        200,
        "127.0.0.1",
        [],
        "",
        "",
    )
    assert 0 <= result.duration_ms < 5000
    assert [f.name for f in dataclasses.fields(CheckResult)] == [
        "outcome",
        "status",
        "address",
        "redirects",
        "reason",
        "duration_ms",
        "target",
    ]
    [request] = peer.wait_for_requests(1)
    assert (request.method, request.host, request.path, request.range) == ("HEAD", HOST, "/status/200", "")
    assert request.user_agent == "scart availability check (Test Hotline; https://hotline.example.org)"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, CheckOutcome.ONLINE),
        (204, CheckOutcome.ONLINE),
        (304, CheckOutcome.ONLINE),
        (404, CheckOutcome.GONE),
        (410, CheckOutcome.GONE),
        (451, CheckOutcome.GONE),
        (500, CheckOutcome.UNREACHABLE),
        (503, CheckOutcome.UNREACHABLE),
        (403, CheckOutcome.UNREACHABLE),
        (429, CheckOutcome.UNREACHABLE),
    ],
)
def test_it_maps_each_status_to_its_outcome(peer, status, outcome):
    result = check_url(peer.url(f"/status/{status}"))

    assert (result.outcome, result.status) == (outcome, status)


def test_it_asks_again_with_a_one_byte_get_when_head_is_refused(peer):
    result = check_url(peer.url("/no-head"))

    assert (result.outcome, result.status) == (CheckOutcome.ONLINE, 200)
    head, get = peer.wait_for_requests(2)
    assert (head.method, head.status) == ("HEAD", 405)
    assert (get.method, get.range) == ("GET", "bytes=0-0")


def test_it_treats_501_to_head_as_head_refused(peer):
    result = check_url(peer.url("/no-head/501"))

    assert (result.outcome, result.status) == (CheckOutcome.ONLINE, 200)
    assert [r.method for r in peer.wait_for_requests(2)] == ["HEAD", "GET"]


def test_it_asks_with_get_when_the_server_closes_the_connection_on_head(peer):
    result = check_url(peer.url("/head-close"))

    assert (result.outcome, result.status) == (CheckOutcome.ONLINE, 206)
    assert [(r.method, r.range) for r in peer.wait_for_requests(2)] == [("HEAD", ""), ("GET", "bytes=0-0")]


def test_it_closes_the_connection_without_reading_the_body(peer):
    started = time.monotonic()
    result = check_url(peer.url("/no-head"))
    took = time.monotonic() - started

    assert (result.outcome, result.status) == (CheckOutcome.ONLINE, 200)
    # The peer only starts the 64 MiB body 0.2 s after the headers; the check was over before.
    get = peer.wait_for_requests(2)[1]
    assert get.client_closed
    assert get.body_sent < 1024 * 1024
    assert took < 5


def test_it_reads_the_head_and_not_one_byte_more():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX-A: b\r\n\r\n"
        theirs.sendall(head + b"BODYBYTES")

        assert read_head(ours, time.monotonic() + 2) == head
        assert ours.recv(100) == b"BODYBYTES"


def test_it_finds_the_end_of_a_head_split_across_packets_and_bare_newlines():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"HTTP/1.1 404 Not Found\r\nA: b\r\n\r")
        time.sleep(0.05)
        theirs.sendall(b"\nBODY")
        assert read_head(ours, time.monotonic() + 2).endswith(b"A: b\r\n\r\n")
        assert ours.recv(100) == b"BODY"

        theirs.sendall(b"HTTP/1.0 200 OK\nA: b\n\nBODY")
        assert read_head(ours, time.monotonic() + 2) == b"HTTP/1.0 200 OK\nA: b\n\n"
        assert ours.recv(100) == b"BODY"


def test_it_follows_redirects_on_the_same_host(peer):
    result = check_url(peer.url("/redirect/3"))

    base = f"http://{HOST}:{peer.port}"
    assert (result.outcome, result.status) == (CheckOutcome.ONLINE, 200)
    assert result.redirects == [f"{base}/redirect/2", f"{base}/redirect/1", f"{base}/redirect/0"]
    assert result.target == f"{base}/redirect/0"
    assert len(peer.wait_for_requests(4)) == 4


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_it_follows_every_redirect_status_and_relative_locations(peer, status):
    result = check_url(peer.url(f"/to?status={status}&location=status/410"))

    assert (result.outcome, result.status) == (CheckOutcome.GONE, 410)
    assert result.redirects == [f"http://{HOST}:{peer.port}/status/410"]


def test_it_keeps_using_get_on_later_hops_once_head_was_refused(peer):
    result = check_url(peer.url("/head-close"))
    assert result.outcome == CheckOutcome.ONLINE

    peer.clear()
    chained = check_url(peer.url("/to?location=/head-close"))
    assert chained.outcome == CheckOutcome.ONLINE
    assert [r.method for r in peer.wait_for_requests(3)] == ["HEAD", "HEAD", "GET"]


def test_it_gives_up_after_five_redirects(peer):
    result = check_url(peer.url("/loop"))

    assert result.outcome == CheckOutcome.UNREACHABLE
    assert result.reason == "more than 5 redirects"
    assert len(result.redirects) == 6
    time.sleep(0.1)
    assert len(peer.requests) == 6  # the first request and five redirects followed, not the sixth


def test_a_redirect_to_another_host_is_a_move_and_is_not_followed(peer):
    target = f"http://other.example.com:{peer.port}/elsewhere"
    result = check_url(peer.url(f"/to?status=301&location={target}"))

    assert (result.outcome, result.status, result.target) == (CheckOutcome.MOVED, 301, target)
    assert result.redirects == [target]
    time.sleep(0.1)
    assert [r.host for r in peer.requests] == [HOST]


def test_a_move_to_a_host_that_does_not_resolve_is_still_a_move(peer):
    result = check_url(peer.url("/to?location=https://gone.example.net/x"))

    assert (result.outcome, result.target) == (CheckOutcome.MOVED, "https://gone.example.net/x")
    assert "NXDOMAIN" in result.reason


def test_a_move_to_an_onion_address_is_a_move(peer):
    onion = "http://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion/x"
    result = check_url(peer.url(f"/to?location={onion}"))

    assert (result.outcome, result.target) == (CheckOutcome.MOVED, onion)


def test_dns_outcomes(peer, fake_dns):
    fake_dns.add("txt-only.example.com", "TXT", "no address here")
    fake_dns.add("broken.example.com", "A", "127.0.0.1")
    fake_dns.set_behaviour("broken.example.com", "servfail")
    fake_dns.add("silent.example.com", "A", "127.0.0.1")
    fake_dns.set_behaviour("silent.example.com", "timeout")

    nxdomain = check_url(peer.url("/status/200", host="missing.example.com"))
    nodata = check_url(peer.url("/status/200", host="txt-only.example.com"))
    servfail = check_url(peer.url("/status/200", host="broken.example.com"))
    timeout = check_url(peer.url("/status/200", host="silent.example.com"), timeout=2)

    assert (nxdomain.outcome, nxdomain.status, nxdomain.address) == (CheckOutcome.GONE, None, "")
    assert "NXDOMAIN" in nxdomain.reason
    assert nodata.outcome == CheckOutcome.GONE
    assert servfail.outcome == CheckOutcome.UNREACHABLE
    assert timeout.outcome == CheckOutcome.UNREACHABLE
    assert peer.requests == []


def test_refused_and_reset_connections_are_unreachable(peer):
    refused = check_url(f"http://{HOST}:{closed_port()}/")
    reset = check_url(peer.url("/reset"))

    assert (refused.outcome, refused.status, refused.address) == (CheckOutcome.UNREACHABLE, None, "127.0.0.1")
    assert "refused" in refused.reason.lower()
    assert (reset.outcome, reset.status) == (CheckOutcome.UNREACHABLE, None)


def test_the_total_timeout_bounds_a_slow_answer(peer):
    result = check_url(peer.url("/slow/1.5/status/200"), timeout=0.5)

    assert (result.outcome, result.status) == (CheckOutcome.UNREACHABLE, None)
    assert 400 <= result.duration_ms < 2000


def test_the_total_timeout_bounds_an_answer_that_drips_in(peer):
    result = check_url(peer.url("/drip"), timeout=0.8)

    assert result.outcome == CheckOutcome.UNREACHABLE
    assert result.duration_ms < 2500


def test_an_onion_address_is_never_contacted(peer):
    result = check_url("http://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion/")

    assert result.outcome == CheckOutcome.BLOCKED
    assert "outside the DNS" in result.reason


def test_https_with_the_host_as_server_name_and_a_checked_certificate(tls_peer):
    result = check_url(tls_peer.url("/status/200"), tls_context=tls_peer.client_context())

    assert (result.outcome, result.status) == (CheckOutcome.ONLINE, 200)
    assert tls_peer.tls_names_seen[-1] == HOST
    assert tls_peer.wait_for_requests(1)[-1].host == HOST


def test_https_head_refused_goes_to_get_without_reading_the_body(tls_peer):
    tls_peer.clear()
    result = check_url(tls_peer.url("/no-head"), tls_context=tls_peer.client_context())

    assert (result.outcome, result.status) == (CheckOutcome.ONLINE, 200)
    get = tls_peer.wait_for_requests(2)[1]
    assert get.method == "GET"
    assert get.client_closed
    assert get.body_sent < 1024 * 1024


def test_an_untrusted_certificate_is_unreachable(tls_peer):
    result = check_url(tls_peer.url("/status/200"))  # the system's trust store

    assert (result.outcome, result.status) == (CheckOutcome.UNREACHABLE, None)
    assert "certificate verify failed" in result.reason


def test_a_certificate_for_another_name_is_unreachable(tls_peer):
    result = check_url(tls_peer.url("/status/200", host="other.example.com"), tls_context=tls_peer.client_context())

    assert result.outcome == CheckOutcome.UNREACHABLE
    assert "other.example.com" in result.reason


def test_through_a_proxy_the_tunnel_goes_to_the_vetted_address(peer, fake_dns):
    with FakeProxy() as proxy:
        result = check_url(peer.url("/status/410"), proxy=proxy.url)
        blocked = check_url(f"http://10.0.0.1:{peer.port}/", proxy=proxy.url)

    assert (result.outcome, result.status, result.address) == (CheckOutcome.GONE, 410, "127.0.0.1")
    assert proxy.connects == [f"127.0.0.1:{peer.port}"]
    assert proxy.refused == []
    assert peer.wait_for_requests(1)[0].host == HOST
    assert blocked.outcome == CheckOutcome.BLOCKED


def test_https_through_a_proxy(tls_peer):
    with FakeProxy() as proxy:
        result = check_url(tls_peer.url("/status/200"), proxy=proxy.url, tls_context=tls_peer.client_context())

    assert (result.outcome, result.status) == (CheckOutcome.ONLINE, 200)
    assert proxy.connects == [f"127.0.0.1:{tls_peer.port}"]


def test_the_proxy_setting_is_used_by_default(peer, settings):
    with FakeProxy() as proxy:
        settings.SCART_CHECK_PROXY = proxy.url
        result = check_url(peer.url("/status/200"))

    assert result.outcome == CheckOutcome.ONLINE
    assert proxy.connects == [f"127.0.0.1:{peer.port}"]


def test_an_allowed_ip_literal_is_checked_as_that_address(peer):
    result = check_url(f"http://2130706433:{peer.port}/status/200")

    assert (result.outcome, result.address) == (CheckOutcome.ONLINE, "127.0.0.1")
    assert peer.wait_for_requests(1)[0].host == "127.0.0.1"


def test_the_user_agent_is_one_line_of_ascii_naming_the_hotline(peer, settings):
    settings.SCART_CHECK_USER_AGENT = "scart availability check (Meldpunt Kinderpornografie Ö;\r\nX-Injected: 1)"

    assert check_url(peer.url("/status/200")).outcome == CheckOutcome.ONLINE
    [request] = peer.wait_for_requests(1)
    assert request.user_agent == "scart availability check (Meldpunt Kinderpornografie O; X-Injected: 1)"


def test_an_allowed_ipv6_literal_is_checked_as_that_address(settings):
    settings.SCART_CHECK_ALLOW_NETWORKS = ["::1/128"]
    with FakeHTTP(host="::1") as ipv6:
        result = check_url(f"http://[::1]:{ipv6.port}/status/404")

        assert (result.outcome, result.address) == (CheckOutcome.GONE, "::1")
        assert ipv6.wait_for_requests(1)[0].host == "[::1]"


def test_the_command_prints_one_check_as_json(peer):
    out = StringIO()
    call_command("check_url", peer.url("/redirect/1"), "--json", stdout=out)

    data = json.loads(out.getvalue())
    assert data["outcome"] == "online"
    assert data["status"] == 200
    assert data["address"] == "127.0.0.1"
    assert data["redirects"] == [f"http://{HOST}:{peer.port}/redirect/0"]
    assert data["reason"] == ""


def test_the_command_prints_a_sentence_without_json(peer):
    out = StringIO()
    call_command("check_url", "http://10.1.2.3/", stdout=out)

    assert "blocked" in out.getvalue()
    assert "10.1.2.3" in out.getvalue()


def test_the_runner_returns_results_in_order_within_both_limits(fake_dns):
    with FakeHTTP(latency=0.05) as slow:
        urls = [slow.url(f"/status/{code}", host=f"h{n % 3 + 1}.example.com") for n, code in enumerate([200, 404] * 15)]
        urls.append("http://10.0.0.1/")
        results = checks_run(urls, concurrency=5, per_host=2)

        assert [r and r.outcome for r in results] == [CheckOutcome.ONLINE, CheckOutcome.GONE] * 15 + [
            CheckOutcome.BLOCKED
        ]
        assert max(slow.peak_per_host.values()) == 2
        assert slow.peak_total <= 5


def test_the_runner_never_lets_one_host_exceed_its_limit(fake_dns):
    with FakeHTTP(latency=0.05) as slow:
        hot = [slow.url("/status/200") for _ in range(40)]
        cold = [slow.url("/status/200", host=f"h{n}.example.com") for n in (1, 2, 3)]
        results = checks_run(hot + cold, concurrency=16, per_host=3)

        assert {r and r.outcome for r in results} == {CheckOutcome.ONLINE}
        assert slow.peak_per_host[HOST] == 3
        assert all(slow.peak_per_host[f"h{n}.example.com"] == 1 for n in (1, 2, 3))


def test_a_check_that_fails_inside_scart_leaves_the_other_results_standing(fake_dns, monkeypatch):
    from routing.checks import probe, runner

    real = probe.check_url

    def failing(url: str, **options: Any) -> Any:
        if "/broken" in url:
            raise RuntimeError("a bug in the checker")
        return real(url, **options)

    monkeypatch.setattr(runner, "check_url", failing)
    with FakeHTTP() as peer:
        results = checks_run([peer.url("/status/200"), peer.url("/broken"), peer.url("/status/404")])
    assert [r and r.outcome for r in results] == [CheckOutcome.ONLINE, None, CheckOutcome.GONE]


@pytest.fixture
def demo_mode(settings, peer: FakeHTTP, fake_dns: FakeDNS, monkeypatch) -> list[str]:
    """Demo mode with the peer as the demo's web host, loopback no longer allowed, names pointing at
    public addresses, and every connection of this process recorded (one that is not to loopback
    is refused: the test must not reach them either)."""
    settings.SCART_DEMO = True
    settings.SCART_CHECK_CONNECT_TO = f"127.0.0.1:{peer.port}"
    settings.SCART_CHECK_ALLOW_NETWORKS = []
    fake_dns.add("public.example.com", "A", "62.239.237.1")
    fake_dns.add("public.example.com", "AAAA", "2a00:2381:ffff::1")
    fake_dns.add("private.example.com", "A", "10.0.0.1")
    connects: list[str] = []
    original = socket.socket.connect

    def recorded(sock: socket.socket, address: Any) -> None:
        connects.append(address[0])
        if address[0] not in ("127.0.0.1", "::1"):
            raise PermissionError(f"not to {address[0]} from a test")
        original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", recorded)
    return connects


def test_in_demo_mode_every_check_connects_to_the_demo_host_keeping_the_host_name(peer, demo_mode):
    result = check_url(f"http://public.example.com:{peer.port}/status/410")

    assert (result.outcome, result.status, result.address) == (CheckOutcome.GONE, 410, "62.239.237.1")
    assert demo_mode == ["127.0.0.1"]
    assert peer.wait_for_requests(1)[0].host == "public.example.com"


def test_in_demo_mode_the_guard_still_refuses_what_it_refuses(peer, demo_mode):
    private = check_url("http://private.example.com/")
    loopback = check_url(f"http://127.0.0.1:{peer.port}/")

    assert (private.outcome, private.address) == (CheckOutcome.BLOCKED, "10.0.0.1")
    assert loopback.outcome == CheckOutcome.BLOCKED
    assert demo_mode == []
    assert peer.requests == []


def test_in_demo_mode_tls_trusts_the_demo_hosts_certificate_only(settings, tls_peer, demo_mode, fake_dns):
    fake_dns.remove(HOST)
    fake_dns.add(HOST, "A", "62.239.237.1")
    settings.SCART_CHECK_CONNECT_TO = f"127.0.0.1:{tls_peer.port}"
    tls_peer.clear()
    settings.SCART_CHECK_CA_FILE = str(tls_peer.cafile)
    trusted = check_url("https://www.example.com/status/200")
    settings.SCART_CHECK_CA_FILE = str(tls_peer.cafile) + ".missing"
    untrusted = check_url("https://www.example.com/status/200")

    assert (trusted.outcome, trusted.status) == (CheckOutcome.ONLINE, 200)
    assert tls_peer.tls_names_seen[0] == HOST
    assert untrusted.outcome == CheckOutcome.UNREACHABLE
    assert "certificate verify failed" in untrusted.reason


def test_the_demo_host_settings_are_refused_outside_demo_mode(peer, settings):
    settings.SCART_CHECK_CONNECT_TO = f"127.0.0.1:{peer.port}"
    with pytest.raises(ImproperlyConfigured, match="demo mode"):
        check_url(peer.url("/status/200"))
    settings.SCART_CHECK_CONNECT_TO = ""
    settings.SCART_CHECK_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"
    with pytest.raises(ImproperlyConfigured, match="demo mode"):
        check_url(peer.url("/status/200"))


@pytest.mark.parametrize("value", ["192.0.2.1:80", "localhost:80", "127.0.0.1", "127.0.0.1:0", "[::1]:x", "10.0.0.1:8"])
def test_the_demo_host_must_be_a_loopback_address(value):
    with pytest.raises(ImproperlyConfigured, match="loopback"):
        connect_to_parse(value)


def test_the_demo_host_may_be_ipv4_or_ipv6_loopback():
    assert connect_to_parse("127.0.0.1:18080") == ConnectTo("127.0.0.1", 18080)
    assert connect_to_parse("[::1]:18080") == ConnectTo("::1", 18080)
    assert connect_to_parse("") is None
