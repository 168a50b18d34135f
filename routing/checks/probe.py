"""Check one URL: does it still answer, and how, from its status line alone.

Contract of `check_url`:

- The host is resolved once per check with scart's own resolver (``routing.dns.resolve_host``,
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
- Only the status line and headers are read, and of the headers only ``Location`` is looked at.
  Over plain TCP the head is peeked and then consumed exactly up to the blank line, so not one byte
  of a body is taken from the kernel; over TLS it is read a byte at a time up to the blank line
  (OpenSSL decrypts whole records, so the first body bytes of the last record may sit in its buffer;
  they are never handed to scart). Then the connection is closed: unread data makes the kernel
  reset it, which stops the server sending.
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
  direct check. Not an absolute-form request for http: a proxy must replace the Host header with
  the authority of an absolute URI (RFC 9112, 3.2.2), so ``GET http://<address>/...`` would ask the
  server for the wrong virtual host, and a wrong "gone" closes a case. The proxy's own address is
  configuration, not vetted, and is resolved by the system.

Nothing is stored or logged here; the result holds the outcome, the status code, the address used,
the redirect targets, a reason for people, the duration and the final target. No body, no other
header.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import ssl
import threading
import time
import unicodedata
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from routing.checks.guard import IPAddress, Refused, Target, addresses_vet, target_parse
from routing.dns import DnsOutcome, DnsResult, make_resolver, resolve_host

MAX_REDIRECTS: Final = 5
MAX_HEAD_BYTES: Final = 64 * 1024
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
    check = _Check(
        deadline=time.monotonic() + total,
        connect_timeout=settings.SCART_CHECK_CONNECT_TIMEOUT if connect_timeout is None else connect_timeout,
        proxy=_proxy(settings.SCART_CHECK_PROXY if proxy is None else proxy),
        tls_context=tls_context or _default_tls_context(),
        user_agent=_header_text(settings.SCART_CHECK_USER_AGENT),
        dns_cache=dns_cache,
    )
    started = time.monotonic()
    try:
        outcome, reason = check.run(url)
    except _Stop as stop:
        outcome, reason = stop.outcome, stop.reason
        if stop.address:
            check.address = stop.address
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


def read_head(sock: socket.socket, deadline: float) -> bytes:
    """Read one response head (status line and headers, up to and including the blank line) from
    ``sock`` and nothing after it.

    Raises `_Closed` when the peer closes or resets before sending a byte, `_Stop` (unreachable) on
    a timeout, a head cut short or one larger than `MAX_HEAD_BYTES`.
    """
    head = bytearray()
    tls = isinstance(sock, ssl.SSLSocket)
    while True:
        _set_timeout(sock, deadline)
        try:
            chunk = sock.recv(1) if tls else sock.recv(4096, socket.MSG_PEEK)
            if chunk and not tls:
                tail = bytes(head[-3:])
                joined = tail + chunk
                end = _head_end(joined)
                wanted = len(chunk) if end < 0 else end - len(tail)
                chunk = sock.recv(wanted)
        except TimeoutError:
            raise _Stop(CheckOutcome.UNREACHABLE, "no complete answer in time") from None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
            if not head:
                raise _Closed(f"connection reset: {exc}") from exc
            raise _Stop(CheckOutcome.UNREACHABLE, f"connection reset mid-answer: {exc}") from exc
        except ssl.SSLError as exc:
            if not head:
                raise _Closed(f"TLS connection closed: {exc}") from exc
            raise _Stop(CheckOutcome.UNREACHABLE, f"TLS error mid-answer: {exc}") from exc
        if not chunk:
            if not head:
                raise _Closed("connection closed without an answer")
            raise _Stop(CheckOutcome.UNREACHABLE, "the answer ended before its headers did")
        head += chunk
        if _head_end(bytes(head[-4:])) >= 0:
            return bytes(head)
        if len(head) > MAX_HEAD_BYTES:
            raise _Stop(CheckOutcome.UNREACHABLE, f"response headers longer than {MAX_HEAD_BYTES} bytes")


def _head_end(data: bytes) -> int:
    """Index just past the first blank line in ``data`` (CRLF CRLF, or a bare LF LF), or -1."""
    ends = [i + len(mark) for mark in (b"\r\n\r\n", b"\n\n") if (i := data.find(mark)) >= 0]
    return min(ends, default=-1)


class _Stop(Exception):
    """The check ends here with ``outcome``."""

    def __init__(self, outcome: CheckOutcome, reason: str, *, address: str = "") -> None:
        super().__init__(reason)
        self.outcome = outcome
        self.reason = reason
        self.address = address


class _Closed(Exception):
    """The server closed the connection before answering (some do that to HEAD)."""


@dataclass(frozen=True)
class _Proxy:
    host: str
    port: int
    authorization: str


@dataclass(frozen=True)
class _Answer:
    status: int
    location: str | None


@dataclass
class _Check:
    deadline: float
    connect_timeout: float
    proxy: _Proxy | None
    tls_context: ssl.SSLContext
    user_agent: str
    dns_cache: DnsCache | None = None
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

    def ask(self, target: Target) -> _Answer:
        """Ask ``target`` with HEAD, or GET of one byte where HEAD is refused."""
        if self.method == "HEAD":
            try:
                answer = self.exchange(target, "HEAD")
            except _Closed:
                answer = None
            if answer is not None and answer.status not in HEAD_REFUSED_STATUSES:
                return answer
            self.method = "GET"
        try:
            return self.exchange(target, "GET")
        except _Closed as exc:
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

    def exchange(self, target: Target, method: str) -> _Answer:
        """One request on a new connection to a vetted address of ``target``; its answer's head."""
        sock = self.connect(target)
        try:
            if target.scheme == "https":
                sock = self.tls(sock, target)
            request = [
                f"{method} {target.request_target} HTTP/1.1",
                f"Host: {target.host_header}",
                f"User-Agent: {self.user_agent}",
                "Accept: */*",
                "Accept-Encoding: identity",
                *(["Range: bytes=0-0"] if method == "GET" else []),
                "Connection: close",
            ]
            self.send(sock, ("\r\n".join(request) + "\r\n\r\n").encode("ascii"))
            while True:
                answer = _parse_head(read_head(sock, self.deadline))
                # Interim answers (100 Continue, 103 Early Hints) precede the real one.
                if not 100 <= answer.status < 200 or answer.status == 101:
                    return answer
        finally:
            sock.close()

    def connect(self, target: Target) -> socket.socket:
        """A connection to the first vetted address of ``target`` that accepts one."""
        failures = []
        for address in self.addresses(target):
            self.address = str(address)
            try:
                return self.open(address, target.port)
            except TimeoutError:
                failures.append(f"{address}: no connection in time")
            except OSError as exc:
                failures.append(f"{address}: {exc.strerror or exc}")
            if self.remaining() <= 0:
                break
        raise _Stop(CheckOutcome.UNREACHABLE, "; ".join(failures) or "no time left to connect")

    def open(self, address: IPAddress, port: int) -> socket.socket:
        if self.proxy is None:
            family = socket.AF_INET6 if isinstance(address, ipaddress.IPv6Address) else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.connect_budget())
                # A numeric address: nothing is looked up, the connection goes exactly here.
                sock.connect((str(address), port))
            except BaseException:
                sock.close()
                raise
            return sock
        return self.tunnel(self.proxy, address, port)

    def tunnel(self, proxy: _Proxy, address: IPAddress, port: int) -> socket.socket:
        """A CONNECT tunnel through ``proxy`` to ``address``:``port`` (the address, never a name)."""
        sock = socket.create_connection((proxy.host, proxy.port), timeout=self.connect_budget())
        try:
            authority = f"[{address}]:{port}" if isinstance(address, ipaddress.IPv6Address) else f"{address}:{port}"
            lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", f"User-Agent: {self.user_agent}"]
            if proxy.authorization:
                lines.append(f"Proxy-Authorization: {proxy.authorization}")
            self.send(sock, ("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
            try:
                answer = _parse_head(read_head(sock, self.deadline))
            except _Closed as exc:
                raise _Stop(CheckOutcome.UNREACHABLE, f"proxy: {exc}") from exc
            if not 200 <= answer.status < 300:
                raise _Stop(CheckOutcome.UNREACHABLE, f"the proxy answered {answer.status} to CONNECT {authority}")
        except BaseException:
            sock.close()
            raise
        return sock

    def tls(self, sock: socket.socket, target: Target) -> ssl.SSLSocket:
        _set_timeout(sock, self.deadline)
        try:
            return self.tls_context.wrap_socket(sock, server_hostname=target.host)
        except TimeoutError:
            sock.close()
            raise _Stop(CheckOutcome.UNREACHABLE, "TLS handshake not finished in time") from None
        except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
            sock.close()
            raise _Stop(CheckOutcome.UNREACHABLE, f"TLS failed: {exc}") from exc

    def send(self, sock: socket.socket, data: bytes) -> None:
        _set_timeout(sock, self.deadline)
        try:
            sock.sendall(data)
        except TimeoutError:
            raise _Stop(CheckOutcome.UNREACHABLE, "the request could not be sent in time") from None
        except OSError as exc:
            raise _Closed(f"connection closed while sending: {exc}") from exc

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def connect_budget(self) -> float:
        budget = min(self.connect_timeout, self.remaining())
        if budget <= 0:
            raise TimeoutError
        return budget


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


def _parse_head(head: bytes) -> _Answer:
    """The status and Location of a response head; every other header is ignored."""
    lines = head.split(b"\n")
    parts = lines[0].rstrip(b"\r").split(None, 2)
    if len(parts) < 2 or parts[0] not in {b"HTTP/1.1", b"HTTP/1.0"} or not (len(parts[1]) == 3 and parts[1].isdigit()):
        shown = lines[0][:60].decode("latin-1")
        raise _Stop(CheckOutcome.UNREACHABLE, f"not an HTTP/1.x answer: {shown!r}")
    location = None
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"location":
            location = _text(value.strip())
            break
    return _Answer(int(parts[1]), location or None)


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _header_text(text: str) -> str:
    """``text`` as a header value: one line of ASCII (accents dropped: "Ö" -> "O")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(ascii_text.split())


def _set_timeout(sock: socket.socket, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Stop(CheckOutcome.UNREACHABLE, "no complete answer in time")
    sock.settimeout(remaining)


def _proxy(url: str) -> _Proxy | None:
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ImproperlyConfigured(f"SCART_CHECK_PROXY must be an http://host:port URL, not {url!r}")
    authorization = ""
    if parts.username is not None:
        credentials = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    return _Proxy(parts.hostname, parts.port or 8080, authorization)


_tls_context: ssl.SSLContext | None = None


def _default_tls_context() -> ssl.SSLContext:
    """The system's trust store, certificates checked against the host name (one per process)."""
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


__all__ = ["MAX_REDIRECTS", "CheckOutcome", "CheckResult", "DnsCache", "check_url", "read_head"]
