"""The abuse-reports API client (routing/notices/abuseapi.py) against the local peer
(devnet/abuseapi/): what it sends, the report id it returns, and how it sorts every failure.

No mocks: each fault is the peer's, over a real socket on 127.0.0.1. No database is needed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from devnet.abuseapi import FakeAbuseAPI
from routing.notices.abuseapi import (
    AbuseApiClient,
    ApiFailure,
    Credentials,
    Submission,
    base_url_problem,
    batches_by_host,
)

ACCOUNT, TOKEN = "acct-1", "secret-token-1"
CHILDREN = f"/accounts/{ACCOUNT}/abuse-reports/abuse_children"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAbuseAPI]:
    with FakeAbuseAPI(accounts={ACCOUNT: TOKEN, "acct-2": "other-token"}) as fake:
        yield fake


@pytest.fixture
def api(server: FakeAbuseAPI) -> Iterator[FakeAbuseAPI]:
    server.clear()
    yield server
    server.clear()


def client(api: FakeAbuseAPI, *, token: str = TOKEN, account: str = ACCOUNT, timeout: float = 2.0) -> AbuseApiClient:
    return AbuseApiClient(Credentials(api.base_url, account, token), timeout=timeout, allow_loopback=True)


def submission(*urls: str) -> Submission:
    return Submission(
        urls=urls or ("http://bad.example/a.jpg", "http://bad.example/b.jpg"),
        email="notices@hotline.example",
        name="Hotline",
        justification="Child sexual abuse material, assessed by the hotline.",
        host_notification="send",
        owner_notification="none",
    )


def failure(call: object) -> ApiFailure:
    with pytest.raises(ApiFailure) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_it_submits_a_report_and_returns_its_id(api: FakeAbuseAPI) -> None:
    report_id = client(api).submit(submission())
    stored = api.reports[report_id]
    assert stored.urls == ["http://bad.example/a.jpg", "http://bad.example/b.jpg"]
    assert (stored.act, stored.domain, stored.account) == ("abuse_children", "bad.example", ACCOUNT)
    assert (stored.host_notification, stored.owner_notification) == ("send", "none")


def test_it_reads_a_reports_status_back(api: FakeAbuseAPI) -> None:
    c = client(api)
    report_id = c.submit(submission())
    first = c.report(report_id)
    assert (first.status, first.final, first.domain) == ("submitted", False, "bad.example")
    api.set_status(report_id, "denied", denial_reason="content_removed")
    later = c.report(report_id)
    assert (later.status, later.denial_reason, later.final) == ("denied", "content_removed", True)


def test_it_finds_the_reports_on_a_host_since_a_moment(api: FakeAbuseAPI) -> None:
    c = client(api)
    before = datetime.now(UTC) - timedelta(seconds=1)
    report_id = c.submit(submission())
    c.submit(submission("http://other.example/x"))
    assert [r.id for r in c.find("bad.example", since=before)] == [report_id]
    assert c.find("bad.example", since=datetime.now(UTC) + timedelta(minutes=1)) == []


def test_a_wrong_token_is_permanent_and_about_credentials(api: FakeAbuseAPI) -> None:
    error = failure(lambda: client(api, token="wrong").submit(submission()))
    assert (error.kind, error.status, error.credentials) == ("permanent", 403, True)
    assert "10000" in str(error)
    assert api.reports == {}


def test_another_accounts_token_opens_nothing(api: FakeAbuseAPI) -> None:
    error = failure(lambda: client(api, token="other-token").submit(submission()))
    assert error.permanent and error.credentials


def test_a_refused_report_is_permanent(api: FakeAbuseAPI) -> None:
    bad = Submission(urls=("http://bad.example/a",), email="n@hotline.example", name="Hotline", justification="")
    error = failure(lambda: client(api).submit(bad))
    assert (error.kind, error.status) == ("permanent", 400)
    assert "justification is required" in str(error)


def test_it_refuses_before_sending_what_the_api_would_refuse(api: FakeAbuseAPI) -> None:
    too_many = submission(*(f"http://bad.example/{i}" for i in range(251)))
    mixed = submission("http://a.example/1", "http://b.example/2")
    for bad in (too_many, mixed):
        assert failure(lambda bad=bad: client(api).submit(bad)).permanent
    assert api.requests == []


@pytest.mark.parametrize("status", ["429"])
def test_a_rate_limit_is_transient_with_its_retry_after(api: FakeAbuseAPI, status: str) -> None:
    api.set_fault(status, path_prefix=CHILDREN, times=1, retry_after=7)
    error = failure(lambda: client(api).submit(submission()))
    assert (error.kind, error.status, error.retry_after) == ("transient", 429, 7.0)
    assert api.reports == {}
    assert client(api).submit(submission()) in api.reports  # the fault was for one request


@pytest.mark.parametrize("status", ["500", "503"])
def test_a_server_error_is_transient(api: FakeAbuseAPI, status: str) -> None:
    api.set_fault(status, path_prefix=CHILDREN, times=1)
    error = failure(lambda: client(api).submit(submission()))
    assert (error.kind, error.status) == ("transient", int(status))


@pytest.mark.parametrize("status", ["502"])
def test_a_gateway_error_is_uncertain(api: FakeAbuseAPI, status: str) -> None:
    api.set_fault(status, path_prefix=CHILDREN, times=1)
    assert failure(lambda: client(api).submit(submission())).uncertain


@pytest.mark.parametrize("status", ["400", "404"])
def test_other_client_errors_are_permanent(api: FakeAbuseAPI, status: str) -> None:
    api.set_fault(status, path_prefix=CHILDREN, times=1)
    assert failure(lambda: client(api).submit(submission())).permanent


def test_a_slow_answer_is_uncertain_and_its_report_did_land(api: FakeAbuseAPI) -> None:
    api.set_fault("slow", path_prefix=CHILDREN, times=1, seconds=3)
    started = time.monotonic()
    error = failure(lambda: client(api, timeout=0.5).submit(submission()))
    assert error.uncertain and "read timeout" in str(error)
    assert time.monotonic() - started < 2
    assert len(api.reports) == 1  # what the sender must find out before it sends again


def test_a_dropped_connection_is_uncertain(api: FakeAbuseAPI) -> None:
    api.set_fault("drop", path_prefix=CHILDREN, times=1)
    assert failure(lambda: client(api).submit(submission())).uncertain
    assert api.reports == {}


def test_a_refused_connection_is_transient() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    c = AbuseApiClient(Credentials(f"http://127.0.0.1:{port}/client/v4", ACCOUNT, TOKEN), allow_loopback=True)
    error = failure(lambda: c.submit(submission()))
    assert (error.kind, error.status) == ("transient", None)


def test_the_token_is_in_no_error_and_no_repr(api: FakeAbuseAPI) -> None:
    api.set_fault("drop", path_prefix=CHILDREN, times=1)
    error = failure(lambda: client(api).submit(submission()))
    credentials = Credentials(api.base_url, ACCOUNT, TOKEN)
    assert TOKEN not in str(error) and TOKEN not in repr(credentials)


def test_it_sends_a_request_once_and_leaves_retrying_to_the_sender(api: FakeAbuseAPI) -> None:
    api.set_fault("503", path_prefix=CHILDREN, times=1)
    c = client(api)
    assert failure(lambda: c.submit(submission())).transient
    assert c.requests == 1 and len(api.requests) == 1


@pytest.mark.parametrize(
    ("url", "loopback", "ok"),
    [
        ("https://api.cloudflare.com/client/v4", False, True),
        ("http://api.cloudflare.com/client/v4", False, False),
        ("http://127.0.0.1:8107/client/v4", False, False),
        ("http://127.0.0.1:8107/client/v4", True, True),
        ("https://10.0.0.1/client/v4", True, False),
        ("https://user:pw@api.example/v4", False, False),
        ("https://api.example/v4?x=1", False, False),
        ("ftp://api.example/", False, False),
    ],
)
def test_base_urls(url: str, loopback: bool, ok: bool) -> None:
    assert (base_url_problem(url, allow_loopback=loopback) == "") is ok


def test_urls_are_cut_per_hostname_and_limit() -> None:
    urls = [f"http://a.example/{i}" for i in range(3)] + ["http://B.example/1", "http://a.example/0"]
    assert batches_by_host(urls, limit=2) == [
        ("a.example", ["http://a.example/0", "http://a.example/1"]),
        ("a.example", ["http://a.example/2"]),
        ("b.example", ["http://B.example/1"]),
    ]
