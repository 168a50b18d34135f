"""The local abuse-reports API (devnet/abuseapi/): what it accepts and refuses, its faults, the
controls another process uses, and ``python -m devnet.abuseapi``. Every request goes to 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from devnet.abuseapi import FakeAbuseAPI

REPO = Path(__file__).resolve().parents[2]
PATH = "/client/v4/accounts/acct/abuse-reports/abuse_children"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAbuseAPI]:
    with FakeAbuseAPI(accounts={"acct": "tok"}) as fake:
        yield fake


@pytest.fixture
def api(server: FakeAbuseAPI) -> Iterator[FakeAbuseAPI]:
    server.clear()
    yield server
    server.clear()


def call(
    api: FakeAbuseAPI, method: str, path: str, body: Any = None, token: str = "tok"
) -> tuple[int, dict[str, str], Any]:
    conn = http.client.HTTPConnection(urlsplit(api.base_url).netloc, timeout=5)
    try:
        payload = None if body is None else json.dumps(body)
        conn.request(method, path, body=payload, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        conn.close()


def report(**changes: Any) -> dict[str, Any]:
    body = {
        "act": "abuse_children",
        "email": "n@hotline.example",
        "email2": "n@hotline.example",
        "name": "Hotline",
        "urls": "http://bad.example/1\nhttp://bad.example/2",
        "justification": "assessed as illegal",
    }
    body.update(changes)
    return body


def codes(answer: dict[str, Any]) -> set[int]:
    return {e["code"] for e in answer["errors"]}


def test_it_stores_a_valid_report_in_cloudflares_envelope(api: FakeAbuseAPI) -> None:
    status, _, answer = call(api, "POST", PATH, report())
    assert status == 200
    assert answer["success"] is True and answer["errors"] == [] and answer["result"] == "success"
    assert answer["request"] == {"act": "abuse_children"}
    status, _, read = call(api, "GET", f"/client/v4/accounts/acct/abuse-reports/submitted/{answer['abuse_rand']}")
    assert (status, read["result"]["status"], read["result"]["domain"]) == (200, "submitted", "bad.example")


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"urls": "\n".join(f"http://bad.example/{i}" for i in range(251))}, 1004),
        ({"urls": "http://a.example/1\nhttp://b.example/1"}, 1005),
        ({"urls": "http://a.example/1\nhttp://a.example/1"}, 1007),
        ({"urls": "not a url"}, 1006),
        ({"email": ""}, 1002),
        ({"justification": ""}, 1002),
        ({"email2": "other@hotline.example"}, 1003),
        ({"act": "abuse_general"}, 1008),
        ({"host_notification": "loudly"}, 1009),
        ({"justification": "x" * 5001}, 1010),
    ],
)
def test_it_refuses_an_invalid_report(api: FakeAbuseAPI, changes: dict[str, Any], code: int) -> None:
    status, _, answer = call(api, "POST", PATH, report(**changes))
    assert (status, answer["success"]) == (400, False)
    assert code in codes(answer)
    assert api.reports == {}


def test_250_urls_on_one_host_are_accepted(api: FakeAbuseAPI) -> None:
    status, _, _ = call(api, "POST", PATH, report(urls="\n".join(f"http://bad.example/{i}" for i in range(250))))
    assert status == 200


def test_a_token_opens_only_its_account(api: FakeAbuseAPI) -> None:
    api.add_account("other", "tok2")
    status, _, answer = call(api, "POST", PATH, report(), token="tok2")
    assert (status, codes(answer)) == (403, {10000})


def test_a_429_says_when_to_come_back(api: FakeAbuseAPI) -> None:
    api.set_fault("429", path_prefix="/accounts/acct", times=1)
    status, headers, answer = call(api, "POST", PATH, report())
    assert (status, headers["Retry-After"], codes(answer)) == (429, "1", {971})
    assert call(api, "POST", PATH, report())[0] == 200


def test_another_process_sets_faults_and_reads_stats(api: FakeAbuseAPI) -> None:
    assert call(api, "POST", "/_devnet/faults", {"kind": "503", "times": 1})[0] == 200
    assert call(api, "POST", PATH, report())[0] == 503
    assert call(api, "POST", PATH, report())[0] == 200
    _, _, stats = call(api, "GET", "/_devnet/stats")
    assert stats["result"]["reports"] == 1 and stats["result"]["submissions"] == 2
    _, _, listed = call(api, "GET", "/_devnet/reports")
    report_id = listed["result"][0]["id"]
    assert call(api, "POST", f"/_devnet/reports/{report_id}", {"status": "accepted"})[0] == 200
    assert api.reports[report_id].status == "accepted"


def test_reports_are_accepted_after_a_while_when_asked(api: FakeAbuseAPI) -> None:
    api.accept_after = 0.0
    try:
        _, _, answer = call(api, "POST", PATH, report())
        _, _, read = call(api, "GET", f"/client/v4/accounts/acct/abuse-reports/submitted/{answer['abuse_rand']}")
        assert read["result"]["status"] == "accepted"
    finally:
        api.accept_after = None


def test_python_m_devnet_abuseapi_serves_until_stopped() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "devnet.abuseapi", "--account", "a:t"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base = process.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/client/v4")
        conn = http.client.HTTPConnection(urlsplit(base).netloc, timeout=5)
        conn.request("GET", "/client/v4/accounts/a/abuse-reports/submitted", headers={"Authorization": "Bearer t"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        process.terminate()
        started = time.monotonic()
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
