"""The HTTP client of a provider's abuse-reports API, shaped like Cloudflare's (``act=abuse_children``).

One report names at most `MAX_URLS` URLs, all on one hostname (`batches_by_host` cuts a notice's
URLs so). `AbuseApiClient.submit` sends it with the recipient's account and token and returns the
report id; `AbuseApiClient.report` reads a report's status back; `AbuseApiClient.find` lists the
account's reports on a hostname since a moment (what a sender uses after a timeout to learn
whether its report landed: the API has no idempotency key).

Failures are sorted like SMTP's (`ApiFailure`):

- ``transient``: nothing was stored and trying later can succeed: the connection could not be
  made (refused, no route, connect timeout), 429 (its ``Retry-After`` kept in ``retry_after``),
  500 and 503.
- ``uncertain``: the request went out and no usable answer came back (a read timeout, the
  connection closed mid-answer, a gateway's 502 or 504, a 2xx that is not the API's envelope):
  the report may have landed. Never resent blindly.
- ``permanent``: the API refused the report or the credentials (400, 401, 403, 404, other 4xx, a
  redirect, which is never followed): resending the same request cannot help.

Connections go only to the configured base URL: the request URL is that base plus fixed paths,
redirects are refused, a plain-http base is accepted only on a loopback address and only where
``SCART_PROVIDER_API_ALLOW_LOOPBACK`` allows it (the tests and the demo, against
``devnet.abuseapi``). The token travels only in the ``Authorization`` header: it is in no URL,
no exception text and no log line.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import urllib3

MAX_URLS = 250
MAX_BODY = 1024 * 1024  # an API answer is a few hundred bytes
REPORT_TYPE = "abuse_children"
NOTIFY_CHOICES = ("send", "send-anon", "none")
# The submitter-facing statuses; the last two are final: polling stops.
STATUSES = ("submitted", "accepted", "denied")
FINAL_STATUSES = frozenset({"accepted", "denied"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class ApiFailure(Exception):
    """A request that did not give what was asked. ``kind`` is ``transient``, ``uncertain`` or
    ``permanent`` (module docstring); ``retry_after`` is the seconds a 429 asked to wait."""

    def __init__(self, message: str, *, kind: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.kind == "transient"

    @property
    def uncertain(self) -> bool:
        return self.kind == "uncertain"

    @property
    def permanent(self) -> bool:
        return self.kind == "permanent"

    @property
    def credentials(self) -> bool:
        """The API refused the account or its token: a senior must fix the provider's settings."""
        return self.status in (401, 403)


@dataclass(frozen=True)
class Credentials:
    """Where and as whom to report. The token never appears in ``repr``."""

    base_url: str
    account: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class Submission:
    """One report: URLs on one hostname, who reports, and whom the API tells."""

    urls: tuple[str, ...]
    email: str
    name: str
    justification: str
    host_notification: str = "send"
    owner_notification: str = "send"
    report_type: str = REPORT_TYPE

    def problems(self) -> list[str]:
        """Why the API would refuse this (``[]``: nothing known), checked before any request."""
        found = []
        if not self.urls:
            found.append("no URLs")
        if len(self.urls) > MAX_URLS:
            found.append(f"{len(self.urls)} URLs: a report takes at most {MAX_URLS}")
        if len({hostname(u) for u in self.urls}) > 1:
            found.append("the URLs are on more than one hostname")
        if len(set(self.urls)) != len(self.urls):
            found.append("a URL is listed twice")
        if not self.email or not self.name:
            found.append("the reporter's name and address are required")
        for choice in (self.host_notification, self.owner_notification):
            if choice not in NOTIFY_CHOICES:
                found.append(f"{choice!r} is not one of {', '.join(NOTIFY_CHOICES)}")
        return found

    def body(self) -> dict[str, Any]:
        return {
            "act": self.report_type,
            "email": self.email,
            "email2": self.email,
            "name": self.name,
            "urls": "\n".join(self.urls),
            "justification": self.justification[:5000],
            "host_notification": self.host_notification,
            "owner_notification": self.owner_notification,
        }


@dataclass(frozen=True)
class ReportStatus:
    id: str
    status: str
    denial_reason: str
    domain: str
    created: datetime | None
    url_count: int | None = None  # where the API says (the local peer does)

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES


def hostname(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def batches_by_host(urls: Iterable[str], *, limit: int = MAX_URLS) -> list[tuple[str, list[str]]]:
    """``urls`` in reports the API takes: per hostname (in order of first appearance), at most
    ``limit`` each, duplicates left out."""
    per_host: dict[str, list[str]] = {}
    seen: set[str] = set()
    for url in urls:
        if url in seen:
            continue
        seen.add(url)
        per_host.setdefault(hostname(url), []).append(url)
    return [(host, rows[i : i + limit]) for host, rows in per_host.items() for i in range(0, len(rows), limit)]


def base_url_problem(url: str, *, allow_loopback: bool) -> str:
    """Why ``url`` cannot be an API base URL ("" if it can): https, no user or query; plain http
    and loopback addresses only with ``allow_loopback`` (the local peer); never a private address."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- raises on a port that does not parse
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("https", "http") or not host:
        return "the base URL must be an https:// URL"
    if parts.username or parts.password or parts.query or parts.fragment:
        return "the base URL takes no user, query or fragment"
    loopback = host in _LOOPBACK_NAMES
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        loopback = address.is_loopback
        if not loopback and not address.is_global:
            return "the base URL is a private or reserved address"
    if loopback and not allow_loopback:
        return "a loopback base URL is allowed only in tests and the demo"
    if parts.scheme == "http" and not loopback:
        return "the base URL must be an https:// URL"
    return ""


class AbuseApiClient:
    """Talks to one account of one API. Thread-safe; ``requests`` counts what was sent."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout: float = 20.0,
        connect_timeout: float = 5.0,
        allow_loopback: bool = False,
        user_agent: str = "scart",
    ) -> None:
        problem = base_url_problem(credentials.base_url, allow_loopback=allow_loopback)
        if problem:
            raise ApiFailure(problem, kind="permanent")
        self._credentials = credentials
        self._base = credentials.base_url.rstrip("/")
        self._pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=4,
            timeout=urllib3.Timeout(connect=min(connect_timeout, timeout), read=timeout),
            retries=False,
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )
        self.requests = 0
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pool.clear()

    # -- operations ------------------------------------------------------------------------

    def submit(self, submission: Submission) -> str:
        """Submit one report; its id. Raises `ApiFailure`."""
        problems = submission.problems()
        if problems:
            raise ApiFailure("; ".join(problems), kind="permanent")
        path = f"/abuse-reports/{quote(submission.report_type, safe='')}"
        answer = self._request("POST", path, body=submission.body())
        report_id = answer.get("abuse_rand")
        result = answer.get("result")
        if not report_id and isinstance(result, dict):
            report_id = result.get("id")
        if not isinstance(report_id, str) or not report_id:
            # Accepted, but without an id the report cannot be followed.
            raise ApiFailure("the API accepted the report but gave no report id", kind="uncertain", status=200)
        return report_id

    def report(self, report_id: str) -> ReportStatus:
        """The status of one submitted report. Raises `ApiFailure`."""
        answer = self._request("GET", f"/abuse-reports/submitted/{quote(report_id, safe='')}")
        result = answer.get("result")
        if not isinstance(result, dict):
            raise ApiFailure("the API's answer holds no report", kind="transient", status=200)
        return _status(result)

    def find(self, domain: str, *, since: datetime) -> list[ReportStatus]:
        """The account's reports on ``domain`` submitted after ``since``. Raises `ApiFailure`."""
        query = urlencode({"domain": domain, "created_after": since.astimezone(UTC).isoformat(), "per_page": 200})
        answer = self._request("GET", f"/abuse-reports/submitted?{query}")
        result = answer.get("result")
        rows = result.get("reports") if isinstance(result, dict) else result
        if not isinstance(rows, list):
            raise ApiFailure("the API's answer holds no list of reports", kind="transient", status=200)
        return [_status(row) for row in rows if isinstance(row, dict)]

    # -- one request ----------------------------------------------------------------------

    def _request(self, method: str, path: str, *, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self._base}/accounts/{quote(self._credentials.account, safe='')}{path}"
        headers = {"Authorization": f"Bearer {self._credentials.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        with self._lock:
            self.requests += 1
        try:
            response = self._pool.request(
                method, url, body=payload, headers=headers, redirect=False, preload_content=False
            )
        except (urllib3.exceptions.ConnectTimeoutError, urllib3.exceptions.NewConnectionError) as exc:
            # Never connected: nothing was sent.
            raise ApiFailure(f"cannot reach the API: {_reason(exc)}", kind="transient") from None
        except urllib3.exceptions.MaxRetryError as exc:
            if isinstance(exc.reason, urllib3.exceptions.ConnectTimeoutError | urllib3.exceptions.NewConnectionError):
                raise ApiFailure(f"cannot reach the API: {_reason(exc.reason)}", kind="transient") from None
            raise ApiFailure(f"no answer from the API: {_reason(exc.reason or exc)}", kind="uncertain") from None
        except urllib3.exceptions.HTTPError as exc:
            # A read timeout, a reset or a closed connection after the request went out.
            raise ApiFailure(f"no answer from the API: {_reason(exc)}", kind="uncertain") from None
        try:
            try:
                raw = response.read(MAX_BODY + 1, decode_content=True)
            except urllib3.exceptions.HTTPError as exc:
                raise ApiFailure(f"the API's answer broke off: {_reason(exc)}", kind="uncertain") from None
        finally:
            response.release_conn()
        return _classify(response.status, response.headers, raw)


def _classify(status: int, headers: Any, raw: bytes) -> dict[str, Any]:
    answer = _json(raw) if len(raw) <= MAX_BODY else None
    text = _errors_text(answer) or f"HTTP {status}"
    if 200 <= status < 300:
        if answer is None or answer.get("success") is False:
            raise ApiFailure(f"the API answered {status} without its envelope", kind="uncertain", status=status)
        return answer
    if status == 429:
        retry_after = _retry_after(headers.get("Retry-After"))
        raise ApiFailure(f"rate limited: {text}", kind="transient", status=status, retry_after=retry_after)
    if status in (500, 503):
        raise ApiFailure(
            f"the API failed for now: {text}",
            kind="transient",
            status=status,
            retry_after=_retry_after(headers.get("Retry-After")),
        )
    if status >= 500:
        # A gateway's 502 or 504 (or any other 5xx): the API behind it may have taken the report.
        raise ApiFailure(f"the API's gateway answered {status}: {text}", kind="uncertain", status=status)
    if 300 <= status < 400:
        raise ApiFailure(
            f"the API redirected ({status}); only the configured base URL is used", kind="permanent", status=status
        )
    if status in (401, 403):
        raise ApiFailure(f"the API refused the account or token: {text}", kind="permanent", status=status)
    raise ApiFailure(f"the API refused the request: {text}", kind="permanent", status=status)


def _json(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _errors_text(answer: dict[str, Any] | None) -> str:
    if not answer or not isinstance(answer.get("errors"), list):
        return ""
    parts = []
    for error in answer["errors"][:5]:
        if isinstance(error, dict):
            parts.append(f"{error.get('code', '?')} {str(error.get('message', ''))[:200]}".strip())
    return "; ".join(parts)


def _retry_after(value: str | None, *, cap: float = 3600.0) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), at most ``cap``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - datetime.now(UTC)).total_seconds(), cap))


def _reason(exc: BaseException) -> str:
    """What went wrong, without the URL (which names the account) or anything from the request."""
    name = type(exc).__name__
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return "read timeout"
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError):
        return "connect timeout"
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "connection refused or no route"
    if isinstance(exc, urllib3.exceptions.ProtocolError):
        return "connection closed"
    return name


def _status(row: dict[str, Any]) -> ReportStatus:
    created = None
    if isinstance(row.get("cdate"), str):
        try:
            created = datetime.fromisoformat(row["cdate"].replace("Z", "+00:00"))
        except ValueError:
            created = None
    return ReportStatus(
        id=str(row.get("id") or ""),
        status=str(row.get("status") or ""),
        denial_reason=str(row.get("denial_reason") or ""),
        domain=str(row.get("domain") or ""),
        created=created,
        url_count=row["url_count"] if isinstance(row.get("url_count"), int) else None,
    )
