"""`FakeAbuseAPI`: the local abuse-reports API, its faults and its control paths (the contract is
in ``devnet/abuseapi/__init__.py``; what a submission must hold is in ``reports.py``)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from devnet.abuseapi import reports as r
from devnet.serving import ServedPeer

API_PREFIX = "/client/v4"
CONTROL_PREFIX = "/_devnet"
FAULTS = frozenset({"400", "401", "403", "404", "429", "500", "502", "503", "slow", "hang", "drop", "normal"})
MAX_BODY = 1024 * 1024

# A request held by "hang" is released at the latest after this long, so that a forgotten fault
# cannot keep a thread forever in a long-lived demo server.
_HOLD_SECONDS = 600.0
_POLL_SECONDS = 0.05


@dataclass(slots=True)
class Fault:
    kind: str
    remaining: int | None
    retry_after: int | None
    seconds: float


@dataclass(frozen=True, slots=True)
class Logged:
    method: str
    path: str
    status: int | None  # None: no answer (hang, drop)


class FakeAbuseAPI(ServedPeer):
    """An abuse-reports API on localhost, running in background threads."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        accounts: dict[str, str] | None = None,
        latency: float = 0.0,
        accept_after: float | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        # Account id -> its API token; a token opens only its own account.
        self.accounts: dict[str, str] = dict(accounts or {})
        self.accept_after = accept_after
        self.reports: dict[str, r.StoredReport] = {}
        self.requests: list[Logged] = []
        self._faults: dict[str | None, Fault] = {}
        self._lock = threading.Lock()
        self._served_init()

    # -- lifecycle ---------------------------------------------------------

    thread_name = "fakeabuseapi"
    poll_seconds = _POLL_SECONDS

    def _server_new(self) -> _Server:
        return _Server((self.host, self.port), _Handler)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/client/v4``: what a provider's API base URL is set to."""
        return f"http://{self.authority}{API_PREFIX}"

    @property
    def control_url(self) -> str:
        return f"http://{self.authority}{CONTROL_PREFIX}"

    # -- scenario ----------------------------------------------------------

    def add_account(self, account: str, token: str) -> None:
        with self._lock:
            self.accounts[account] = token

    def set_fault(
        self,
        kind: str,
        *,
        path_prefix: str | None = None,
        times: int | None = None,
        retry_after: int | None = None,
        seconds: float = 5.0,
    ) -> None:
        """Make requests under ``path_prefix`` (a path below ``/client/v4``, e.g.
        ``/accounts/acct-1/abuse-reports/abuse_children``; every API request if None) misbehave.

        Kinds: a status ("400", "401", "403", "404", "429", "500", "502", "503": nothing is stored;
        ``retry_after`` seconds go into a ``Retry-After`` header, a 429 gets 1 if none is given),
        "slow" (the request is handled, a report stored, and the answer sent ``seconds`` later),
        "hang" (nothing is stored and nothing answered until the peer stops), "drop" (the
        connection is closed without an answer, nothing stored), "normal" (removes the fault).
        ``times`` limits it to the next N matching requests. The longest matching prefix wins.
        """
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            if kind == "normal":
                self._faults.pop(path_prefix, None)
            else:
                self._faults[path_prefix] = Fault(kind, times, retry_after, seconds)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_status(self, report_id: str, status: str, *, denial_reason: str | None = None) -> None:
        """What the submitter reads back about a report from now on."""
        if status not in r.STATUSES:
            raise ValueError(f"unknown status {status!r}")
        with self._lock:
            report = self.reports[report_id]
            report.status, report.denial_reason = status, denial_reason

    def clear(self) -> None:
        """Forget every report, fault and logged request (the accounts stay)."""
        with self._lock:
            self.reports.clear()
            self.requests.clear()
            self._faults.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": len(self.requests),
                "submissions": sum(1 for q in self.requests if q.method == "POST"),
                "reports": len(self.reports),
                "urls": sum(len(rep.urls) for rep in self.reports.values()),
                "statuses": dict(Counter(str(q.status) for q in self.requests)),
            }

    def wait_for_reports(self, count: int, timeout: float = 10.0) -> list[r.StoredReport]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.reports) >= count:
                    return list(self.reports.values())
            time.sleep(0.01)
        raise AssertionError(f"{len(self.reports)} reports stored, expected {count}")

    # -- answering ---------------------------------------------------------

    def _fault_for(self, path: str) -> Fault | None:
        """The fault a request to ``path`` (below the API prefix) gets, using up one of its ``times``."""
        with self._lock:
            matching = [p for p in self._faults if p is None or path.startswith(p)]
            if not matching:
                return None
            prefix = max(matching, key=lambda p: -1 if p is None else len(p))
            fault = self._faults[prefix]
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[prefix]
            return fault

    def _log(self, method: str, path: str, status: int | None) -> None:
        with self._lock:
            self.requests.append(Logged(method, path, status))

    def _authorised(self, account: str, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        with self._lock:
            expected = self.accounts.get(account)
        return scheme.lower() == "bearer" and expected is not None and bool(token) and token == expected

    def _submit(self, account: str, report_type: str, body: Any) -> tuple[int, dict[str, Any]]:
        if report_type not in r.REPORT_TYPES:
            return HTTPStatus.NOT_FOUND, _envelope(errors=[_no_route()])
        errors = r.submission_errors(report_type, body)
        if errors:
            return HTTPStatus.BAD_REQUEST, _envelope(errors=errors)
        report = r.report_from(r.new_report_id(), account, report_type, body)
        with self._lock:
            self.reports[report.id] = report
        answer = _envelope(result="success")
        answer.update({"abuse_rand": report.id, "request": {"act": report_type}})
        return HTTPStatus.OK, answer

    def _read(self, account: str, report_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            report = self.reports.get(report_id)
            if report is None or report.account != account:
                return HTTPStatus.NOT_FOUND, _envelope(errors=[_no_route()])
            self._progress(report)
            return HTTPStatus.OK, _envelope(result=report.as_json())

    def _list(self, account: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        domains = {d.lower() for d in query.get("domain", [])}
        after = _parse_time(query.get("created_after", [""])[0])
        with self._lock:
            found = [
                rep
                for rep in self.reports.values()
                if rep.account == account
                and (not domains or rep.domain in domains)
                and (after is None or rep.cdate > after)
            ]
            for rep in found:
                self._progress(rep)
            reports = [rep.as_json() for rep in sorted(found, key=lambda x: x.cdate)]
        answer = _envelope(result={"reports": reports})
        answer["result_info"] = {
            "page": 1,
            "per_page": len(reports),
            "count": len(reports),
            "total_count": len(reports),
        }
        return HTTPStatus.OK, answer

    def _progress(self, report: r.StoredReport) -> None:
        """A submitted report reads as accepted once ``accept_after`` seconds have passed (the demo)."""
        if report.status == "submitted" and self.accept_after is not None:
            age = (datetime.now(report.cdate.tzinfo) - report.cdate).total_seconds()
            if age >= self.accept_after:
                report.status = "accepted"

    def _answer_api(
        self, method: str, path: str, query: dict[str, list[str]], headers: Any, body: Any
    ) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if len(parts) < 3 or parts[0] != "accounts" or parts[2] != "abuse-reports":
            return HTTPStatus.NOT_FOUND, _envelope(errors=[_no_route()])
        account = parts[1]
        if not self._authorised(account, headers.get("Authorization", "")):
            return HTTPStatus.FORBIDDEN, _envelope(errors=[{"code": r.AUTH_ERROR, "message": "Authentication error"}])
        rest = parts[3:]
        if method == "POST" and len(rest) == 1:
            return self._submit(account, rest[0], body)
        if method == "GET" and rest == ["submitted"]:
            return self._list(account, query)
        if method == "GET" and len(rest) == 2 and rest[0] == "submitted":
            return self._read(account, rest[1])
        return HTTPStatus.NOT_FOUND, _envelope(errors=[_no_route()])

    def _answer_control(self, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        """Scenario controls for peers in another process (benchmarks, the demo)."""
        try:
            if method == "POST" and path == "/faults":
                self.set_fault(
                    str(body["kind"]),
                    path_prefix=body.get("path_prefix"),
                    times=body.get("times"),
                    retry_after=body.get("retry_after"),
                    seconds=float(body.get("seconds", 5.0)),
                )
                return HTTPStatus.OK, _envelope(result="ok")
            if method == "DELETE" and path == "/faults":
                self.clear_faults()
                return HTTPStatus.OK, _envelope(result="ok")
            if method == "GET" and path == "/stats":
                return HTTPStatus.OK, _envelope(result=self.stats())
            if method == "GET" and path == "/reports":
                with self._lock:
                    found = [
                        {**rep.as_json(), "account": rep.account, "urls": rep.urls} for rep in self.reports.values()
                    ]
                return HTTPStatus.OK, _envelope(result=found)
            if method == "POST" and path.startswith("/reports/"):
                self.set_status(path.rsplit("/", 1)[1], str(body["status"]), denial_reason=body.get("denial_reason"))
                return HTTPStatus.OK, _envelope(result="ok")
            if method == "DELETE" and path == "/reports":
                self.clear()
                return HTTPStatus.OK, _envelope(result="ok")
        except (KeyError, TypeError, ValueError) as exc:
            return HTTPStatus.BAD_REQUEST, _envelope(errors=[{"code": r.BAD_JSON, "message": str(exc)}])
        return HTTPStatus.NOT_FOUND, _envelope(errors=[_no_route()])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    fake: FakeAbuseAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and went away is one of the scenarios


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "FakeAbuseAPI/1.0"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        target = urlsplit(self.path)
        path = unquote(target.path)
        body = self._body()
        if path.startswith(CONTROL_PREFIX + "/"):
            status, answer = fake._answer_control(method, path[len(CONTROL_PREFIX) :], body)
            self._send(status, answer, {})
            return
        if not path.startswith(API_PREFIX + "/"):
            self._send(HTTPStatus.NOT_FOUND, _envelope(errors=[_no_route()]), {})
            return
        path = path[len(API_PREFIX) :]
        fault = fake._fault_for(path)
        if fault is not None and fault.kind in ("hang", "drop"):
            fake._log(method, path, None)
            if fault.kind == "hang":
                fake._stopping.wait(_HOLD_SECONDS)
            self.close_connection = True
            return
        if fake.latency > 0 and fake._stopping.wait(fake.latency):
            return
        headers: dict[str, str] = {}
        if fault is not None and fault.kind.isdigit():
            status = int(fault.kind)
            answer = _envelope(errors=[_fault_error(status)])
            retry_after = fault.retry_after if fault.retry_after is not None else (1 if status == 429 else None)
            if retry_after is not None:
                headers["Retry-After"] = str(retry_after)
        else:
            status, answer = fake._answer_api(method, path, parse_qs(target.query), self.headers, body)
        # Logged when handled: a slow answer's request counts although its answer comes later.
        fake._log(method, path, status)
        if fault is not None and fault.kind == "slow" and fake._stopping.wait(fault.seconds):
            return
        self._send(status, answer, headers)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0:
            return None
        raw = self.rfile.read(min(length, MAX_BODY))
        try:
            return json.loads(raw)
        except ValueError:
            return raw  # not JSON: the validation says so

    def _send(self, status: int, answer: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the client gave up waiting

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged in ``FakeAbuseAPI.requests``, not on stderr."""


def _envelope(*, result: Any = None, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"success": not errors, "errors": errors or [], "messages": [], "result": result}


def _no_route() -> dict[str, Any]:
    return {"code": r.NO_ROUTE, "message": "Could not route to this path, perhaps your object identifier is invalid?"}


def _fault_error(status: int) -> dict[str, Any]:
    if status == 429:
        return {"code": r.RATE_LIMITED, "message": "Please wait and consider throttling your request speed"}
    if status in (401, 403):
        return {"code": r.AUTH_ERROR, "message": "Authentication error"}
    if status == 404:
        return _no_route()
    if status >= 500:
        return {"code": r.SERVER_ERROR, "message": HTTPStatus(status).phrase}
    return {"code": r.BAD_JSON, "message": HTTPStatus(status).phrase}


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
