"""Check one URL: does it still answer, and how, from its status line alone.

Contract of `check_url`:

- The host is resolved once per check with scart's own resolver (``routing.resolution.dns.resolve_host``,
  ``SCART_DNS_NAMESERVERS``; the checks of one run may share answers for their TTL, `DnsCache`).
  Every address is judged by ``guard.address_refusal`` and only those it allows are connected to,
  in order, the next one only when a connection fails. The socket connects to that numeric
  address: no name is handed to the operating system, so a second DNS answer (rebinding) can never
  choose where a connection goes. Same-host redirects reuse the addresses vetted for that host in
  this check.
- The Host header names the URL's host; over TLS the server name (SNI) is that host and the
  certificate is verified against it with the system's trust store (or ``tls_context``). A TLS
  failure is ``unreachable``.
- HEAD first. When HEAD is refused (405, 501, or the connection closed without an answer), GET with
  ``Range: bytes=0-0``; later hops of the same check go straight to GET.
- Only the status line and headers are read, and of the headers only ``Location`` is looked at;
  not one byte of a body reaches scart, and the connection is closed after the head
  (`routing.checks.wire` says how).
- Redirects (301, 302, 303, 307, 308 with a Location) are followed by hand: at most
  `MAX_REDIRECTS` on the same host, each hop vetted and connected like the first. A redirect to
  another host is not followed: its host is resolved and vetted (no connection) and the outcome is
  ``moved`` with the target recorded (also when the target does not resolve, or is an onion
  address), or ``blocked`` if the guard refuses the target URL or every address of its host.
- Outcomes: ``online`` (2xx; a final 3xx that is not followed; 416 to the one-byte range),
  ``gone`` (404, 410, 451; NXDOMAIN; a name without A or AAAA records), ``unreachable`` (timeouts,
  refused or reset connections, TLS failures, 5xx, other 4xx such as 401, 403 and 429, more than
  `MAX_REDIRECTS` redirects, responses that are not HTTP), ``blocked`` (the guard refused the URL or
  every address, on the first hop or on a redirect; a checked URL outside the DNS such as
  ``.onion``), ``moved`` (redirect to another host).
- ``timeout`` bounds the whole check (DNS, every hop, every connection), ``connect_timeout`` each
  connection attempt.
- Optional proxy (``SCART_CHECK_PROXY``, ``http://[user:pass@]host:port``): every request, http and
  https alike, goes through a ``CONNECT <vetted address>:<port>`` tunnel and then the same bytes as a
  direct check (`routing.checks.wire`).
- Demo mode (``SCART_DEMO``) only: every connection goes to the demo's web host on a loopback
  address (``SCART_CHECK_CONNECT_TO``) instead of the vetted address, and TLS trusts only that
  host's certificate (``SCART_CHECK_CA_FILE``). Everything else is as above: DNS (the demo's
  peer), the guard, the Host header and the server name; the result names the address DNS gave.
  Both settings are refused outside demo mode.

Nothing is stored or logged here; the result holds the outcome, the status code, the address used,
the redirect targets, a reason for people, the duration and the final target. No body, no other
header.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from routing.checks import wire
from routing.checks.guard import IPAddress, Refused, Target, addresses_vet, target_parse
from routing.resolution.dns import DnsOutcome, DnsResult, make_resolver, resolve_host

MAX_REDIRECTS: Final = 5
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
GONE_STATUSES: Final = frozenset({404, 410, 451})
HEAD_REFUSED_STATUSES: Final = frozenset({405, 501})


class CheckOutcome(StrEnum):
    ONLINE = "online"
    GONE = "gone"
    UNREACHABLE = "unreachable"
    BLOCKED = "blocked"
    MOVED = "moved"


@dataclass(frozen=True)
class CheckResult:
    """What one check found. ``status`` is the last HTTP status received (None if none was),
    ``address`` the address connected to last (or the one refused), ``redirects`` every redirect
    target in order, ``target`` the last of them ("" without redirects), ``reason`` "" for a plain
    answer and a sentence otherwise."""

    outcome: CheckOutcome
    status: int | None
    address: str
    redirects: list[str]
    reason: str
    duration_ms: int
    target: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "status": self.status,
            "address": self.address,
            "redirects": list(self.redirects),
            "reason": self.reason,
            "duration_ms": self.duration_ms,
            "target": self.target,
        }


class DnsCache:
    """Answers of scart's resolver shared by the checks of one run, each kept for its TTL (at most
    ``max_seconds``). Only definite answers are kept (addresses, NXDOMAIN, no records); failures
    are asked again, and an answer with a TTL of 0 is never reused. Sharing answers changes nothing
    for the guard: every check vets the addresses it is given and connects only to those."""

    def __init__(self, max_seconds: float = 300.0) -> None:
        self.max_seconds = max_seconds
        self._answers: dict[str, tuple[float, DnsResult]] = {}
        self._lock = threading.Lock()

    def get(self, host: str) -> DnsResult | None:
        with self._lock:
            kept = self._answers.get(host)
        if kept is None or kept[0] <= time.monotonic():
            return None
        return kept[1]

    def put(self, host: str, result: DnsResult) -> None:
        if result.outcome in _DEFINITE and result.ttl:
            expires = time.monotonic() + min(result.ttl, self.max_seconds)
            with self._lock:
                self._answers[host] = (expires, result)


_DEFINITE: Final = frozenset({DnsOutcome.RESOLVED, DnsOutcome.NXDOMAIN, DnsOutcome.NO_DATA})


def check_url(
    url: str,
    *,
    timeout: float | None = None,
    connect_timeout: float | None = None,
    proxy: str | None = None,
    tls_context: ssl.SSLContext | None = None,
    dns_cache: DnsCache | None = None,
) -> CheckResult:
    """Check ``url`` (see the module docstring). ``None`` takes the ``SCART_CHECK_*`` setting;
    ``proxy=""`` goes direct whatever the setting says. ``dns_cache`` shares answers between the
    checks of one run (`routing.checks.runner`); without it every check asks DNS."""
    total = settings.SCART_CHECK_TIMEOUT if timeout is None else timeout
    connect_to, demo_cafile = _demo_host()
    check = _Check(
        deadline=time.monotonic() + total,
        connect_timeout=settings.SCART_CHECK_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
        proxy=None if connect_to else wire.proxy_parse(settings.SCART_CHECK_PROXY if proxy is None else proxy),
        tls_context=tls_context or (wire.file_tls_context(demo_cafile) if demo_cafile else wire.default_tls_context()),
        user_agent=wire.header_text(settings.SCART_CHECK_USER_AGENT),
        dns_cache=dns_cache,
        connect_to=connect_to,
    )
    started = time.monotonic()
    try:
        outcome, reason = check.run(url)
    except _Stop as stop:
        outcome, reason = stop.outcome, stop.reason
        if stop.address:
            check.address = stop.address
    except wire.Unanswered as exc:
        outcome, reason = CheckOutcome.UNREACHABLE, str(exc)
    if check.skipped:
        reason = "; ".join([*([reason] if reason else []), *check.skipped])
    return CheckResult(
        outcome=outcome,
        status=check.status,
        address=check.address,
        redirects=list(check.redirects),
        reason=reason,
        duration_ms=round((time.monotonic() - started) * 1000),
        target=check.redirects[-1] if check.redirects else "",
    )


def _demo_host() -> tuple[wire.ConnectTo | None, str]:
    """The demo's web host every check connects to, and the file of the one certificate trusted:
    ``(None, "")`` outside demo mode. Refused when set without ``SCART_DEMO``: they send every
    check to one place and distrust every real certificate, which only the demo may want."""
    connect_to, cafile = settings.SCART_CHECK_CONNECT_TO, settings.SCART_CHECK_CA_FILE
    if (connect_to or cafile) and not settings.SCART_DEMO:
        raise ImproperlyConfigured("SCART_CHECK_CONNECT_TO and SCART_CHECK_CA_FILE are for demo mode (SCART_DEMO) only")
    return wire.connect_to_parse(connect_to), cafile


class _Stop(Exception):
    """The check ends here with ``outcome``."""

    def __init__(self, outcome: CheckOutcome, reason: str, *, address: str = "") -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.address = address


@dataclass
class _Check:
    deadline: float
    connect_timeout: float
    proxy: wire.Proxy | None
    tls_context: ssl.SSLContext
    user_agent: str
    dns_cache: DnsCache | None = None
    connect_to: wire.ConnectTo | None = None
    status: int | None = None
    address: str = ""
    redirects: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    # The addresses vetted for each host in this check: later hops never ask DNS again.
    vetted: dict[str, list[IPAddress]] = field(default_factory=dict)
    method: str = "HEAD"
    moved_note: str = ""

    def run(self, url: str) -> tuple[CheckOutcome, str]:
        target = self.parse(url)
        while True:
            answer = self.ask(target)
            status = self.status = answer.status
            if status in REDIRECT_STATUSES and answer.location:
                following = self.redirect(target, answer.location)
                if following is None:  # another host, vetted: the content moved there
                    return CheckOutcome.MOVED, self.moved_note
                target = following
                continue
            return _classify(status, answer.location, self.method)

    def parse(self, url: str) -> Target:
        try:
            return target_parse(url)
        except Refused as exc:
            raise _Stop(CheckOutcome.BLOCKED, exc.reason, address=exc.address) from exc

    def redirect(self, current: Target, location: str) -> Target | None:
        """The next hop to ask, or None when ``location`` is on another host (vetted, not asked)."""
        joined = urllib.parse.urljoin(current.url, location)
        self.redirects.append(joined)
        target = self.parse(joined)
        self.redirects[-1] = target.url
        if target.host != current.host:
            if target.unresolvable:  # an onion mirror, say: where the content went, not checkable here
                return None
            try:
                self.addresses(target)
            except _Stop as stop:
                # Only the guard's refusal changes the outcome; a target that does not resolve
                # is still where the content went (its own case will find it gone).
                if stop.outcome == CheckOutcome.BLOCKED:
                    raise
                self.moved_note = f"the target's host: {stop.reason}"
            return None
        if len(self.redirects) > MAX_REDIRECTS:
            raise _Stop(CheckOutcome.UNREACHABLE, f"more than {MAX_REDIRECTS} redirects")
        return target

    def ask(self, target: Target) -> wire.Answer:
        """Ask ``target`` with HEAD, or GET of one byte where HEAD is refused."""
        if self.method == "HEAD":
            try:
                answer = self.exchange(target, "HEAD")
            except wire.Closed:
                answer = None
            if answer is not None and answer.status not in HEAD_REFUSED_STATUSES:
                return answer
            self.method = "GET"
        try:
            return self.exchange(target, "GET")
        except wire.Closed as exc:
            raise _Stop(CheckOutcome.UNREACHABLE, str(exc)) from exc

    def addresses(self, target: Target) -> list[IPAddress]:
        """The addresses of ``target``'s host the guard allows, resolved once per check."""
        if target.host in self.vetted:
            return self.vetted[target.host]
        if target.literal is not None:
            found: Sequence[str | IPAddress] = [target.literal]
        elif target.unresolvable:
            raise _Stop(CheckOutcome.BLOCKED, f"{target.host} is outside the DNS; it cannot be checked from here")
        else:
            found = self.resolve(target.host)
        allowed, refused = addresses_vet(found)
        if not allowed:
            address, reason = refused[0]
            raise _Stop(CheckOutcome.BLOCKED, f"{target.host}: {reason}", address=address)
        self.skipped.extend(f"skipped {address}: {reason}" for address, reason in refused)
        self.vetted[target.host] = allowed
        return allowed

    def resolve(self, host: str) -> tuple[str, ...]:
        result = self.dns_cache.get(host) if self.dns_cache is not None else None
        if result is None:
            # A and AAAA, each retried once: at most four lookups, sized to fit the time left.
            lifetime = max(min(settings.SCART_DNS_LIFETIME, self.remaining() / 4), 0.05)
            resolver = make_resolver(
                settings.SCART_DNS_NAMESERVERS, timeout=min(settings.SCART_DNS_TIMEOUT, lifetime), lifetime=lifetime
            )
            result = resolve_host(host, resolver=resolver, retries=1)
            if self.dns_cache is not None:
                self.dns_cache.put(host, result)
        if result.outcome in {DnsOutcome.NXDOMAIN, DnsOutcome.NO_DATA}:
            raise _Stop(CheckOutcome.GONE, result.error)
        if result.outcome == DnsOutcome.UNRESOLVABLE:
            raise _Stop(CheckOutcome.BLOCKED, result.error)
        if result.outcome != DnsOutcome.RESOLVED:
            raise _Stop(CheckOutcome.UNREACHABLE, f"DNS {result.outcome.value}: {result.error}")
        return result.addresses

    def exchange(self, target: Target, method: str) -> wire.Answer:
        """One request on a new connection to a vetted address of ``target``; its answer's head."""
        sock = self.connect(target)
        try:
            if target.scheme == "https":
                sock = wire.tls_wrap(sock, target, context=self.tls_context, deadline=self.deadline)
            return wire.exchange(sock, target, method, user_agent=self.user_agent, deadline=self.deadline)
        finally:
            sock.close()

    def connect(self, target: Target) -> socket.socket:
        """A connection to the first vetted address of ``target`` that accepts one."""
        failures = []
        for address in self.addresses(target):
            self.address = str(address)
            try:
                return wire.open_connection(
                    address,
                    target.port,
                    proxy=self.proxy,
                    connect_timeout=self.connect_timeout,
                    deadline=self.deadline,
                    user_agent=self.user_agent,
                    connect_to=self.connect_to,
                )
            except TimeoutError:
                failures.append(f"{address}: no connection in time")
            except OSError as exc:
                failures.append(f"{address}: {exc.strerror or exc}")
            if self.remaining() <= 0:
                break
        raise _Stop(CheckOutcome.UNREACHABLE, "; ".join(failures) or "no time left to connect")

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


def _classify(status: int, location: str | None, method: str) -> tuple[CheckOutcome, str]:
    if 200 <= status < 300:
        return CheckOutcome.ONLINE, ""
    if 300 <= status < 400:
        return CheckOutcome.ONLINE, "a redirect without a Location" if status in REDIRECT_STATUSES else ""
    if status in GONE_STATUSES:
        return CheckOutcome.GONE, ""
    if status == 416 and method == "GET":
        return CheckOutcome.ONLINE, "416 to a one-byte range: the resource exists and is empty"
    if status >= 500:
        return CheckOutcome.UNREACHABLE, f"server error {status}"
    return CheckOutcome.UNREACHABLE, f"answered {status}"


__all__ = ["MAX_REDIRECTS", "CheckOutcome", "CheckResult", "DnsCache", "check_url"]
