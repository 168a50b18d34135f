"""What the local abuse-reports API (`devnet.abuseapi.FakeAbuseAPI`) checks in a submission, and
the reports it keeps.

The shape follows Cloudflare's abuse reports API (``/client/v4``): a report is submitted with
``POST /accounts/{account_id}/abuse-reports/{report_type}`` whose JSON body repeats the type as
``act``; ``urls`` is a newline-separated list of at most 250 unique URLs, all on one hostname;
``email`` (with ``email2`` equal to it) and ``name`` are required; ``justification`` is at most 5000
characters; ``host_notification``, ``owner_notification`` and ``ncmec_notification`` are each one
of ``send``, ``send-anon`` or ``none``. Cloudflare does not publish the error codes of its
validation, so the codes below are this peer's own (the ones of authentication, routing and rate
limiting are Cloudflare's).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

MAX_URLS = 250
MAX_JUSTIFICATION = 5000
MAX_NAME = 255
REPORT_TYPES = frozenset(
    {
        "abuse_dmca",
        "abuse_trademark",
        "abuse_general",
        "abuse_phishing",
        "abuse_children",
        "abuse_threat",
        "abuse_registrar_whois",
        "abuse_ncsei",
    }
)
NOTIFICATION_CHOICES = frozenset({"send", "send-anon", "none"})
# The submitter-facing statuses of a submitted report.
STATUSES = frozenset({"submitted", "accepted", "denied"})

# Cloudflare's own codes.
AUTH_ERROR = 10000  # "Authentication error": a missing or wrong token, or another account's
NO_ROUTE = 7003  # "Could not route to ...": an unknown path or report id
RATE_LIMITED = 971  # "Please wait and consider throttling your request speed"
SERVER_ERROR = 10001  # an internal error, retried by the client
# This peer's validation codes.
BAD_JSON = 1001
MISSING_FIELD = 1002
EMAIL_MISMATCH = 1003
TOO_MANY_URLS = 1004
MIXED_HOSTNAMES = 1005
BAD_URL = 1006
DUPLICATE_URL = 1007
WRONG_ACT = 1008
BAD_CHOICE = 1009
TOO_LONG = 1010


@dataclass
class StoredReport:
    """One report as the API keeps it: what the submitter may read back."""

    id: str
    account: str
    act: str
    domain: str
    urls: list[str]
    email: str
    name: str
    justification: str
    host_notification: str
    owner_notification: str
    cdate: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: str = "submitted"
    denial_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "cdate": self.cdate.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "domain": self.domain,
            "status": self.status,
            "denial_reason": self.denial_reason,
            "type": self.act,
            "url_count": len(self.urls),
            "host_notification": self.host_notification,
            "owner_notification": self.owner_notification,
        }


def new_report_id() -> str:
    """A public report code, random as Cloudflare's ``abuse_rand``."""
    return secrets.token_hex(16)


def submission_errors(report_type: str, body: Any) -> list[dict[str, Any]]:
    """The errors of a submission (``[]`` if it is acceptable), Cloudflare style ``{code, message}``."""
    if not isinstance(body, dict):
        return [{"code": BAD_JSON, "message": "the request body is not a JSON object"}]
    errors: list[dict[str, Any]] = []
    if body.get("act") != report_type:
        errors.append({"code": WRONG_ACT, "message": f"act must be {report_type!r}, the report type of the path"})
    for name in ("email", "email2", "name", "urls"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            errors.append({"code": MISSING_FIELD, "message": f"{name} is required"})
    if report_type == "abuse_children" and not str(body.get("justification") or "").strip():
        errors.append({"code": MISSING_FIELD, "message": "justification is required"})
    if isinstance(body.get("email"), str) and body.get("email2") not in (None, "", body["email"]):
        errors.append({"code": EMAIL_MISMATCH, "message": "email2 must match email"})
    if len(str(body.get("justification") or "")) > MAX_JUSTIFICATION:
        errors.append({"code": TOO_LONG, "message": f"justification exceeds {MAX_JUSTIFICATION} characters"})
    if len(str(body.get("name") or "")) > MAX_NAME:
        errors.append({"code": TOO_LONG, "message": f"name exceeds {MAX_NAME} characters"})
    for choice in ("host_notification", "owner_notification", "ncmec_notification"):
        if choice in body and body[choice] not in NOTIFICATION_CHOICES:
            errors.append({"code": BAD_CHOICE, "message": f"{choice} must be one of send, send-anon, none"})
    if isinstance(body.get("urls"), str) and body["urls"].strip():
        errors.extend(_url_errors(body["urls"]))
    return errors


def _url_errors(text: str) -> list[dict[str, Any]]:
    urls = [line.strip() for line in text.split("\n") if line.strip()]
    errors: list[dict[str, Any]] = []
    if len(urls) > MAX_URLS:
        errors.append({"code": TOO_MANY_URLS, "message": f"{len(urls)} URLs: a report takes at most {MAX_URLS}"})
    hosts = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.append({"code": BAD_URL, "message": f"not a valid URL: {url[:200]}"})
            continue
        hosts.add(parts.hostname.lower())
    if len(hosts) > 1:
        errors.append({"code": MIXED_HOSTNAMES, "message": "all URLs must have the same hostname"})
    if len(set(urls)) != len(urls):
        errors.append({"code": DUPLICATE_URL, "message": "each URL must be unique"})
    return errors


def report_from(report_id: str, account: str, report_type: str, body: dict[str, Any]) -> StoredReport:
    """The report a valid submission becomes."""
    urls = [line.strip() for line in body["urls"].split("\n") if line.strip()]
    return StoredReport(
        id=report_id,
        account=account,
        act=report_type,
        domain=(urlsplit(urls[0]).hostname or "").lower(),
        urls=urls,
        email=body["email"],
        name=body["name"],
        justification=str(body.get("justification") or ""),
        host_notification=str(body.get("host_notification") or "send"),
        owner_notification=str(body.get("owner_notification") or "send"),
    )
