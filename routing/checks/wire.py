"""The availability checker's HTTP/1.1 exchange: one request on a new connection, one answer head.

What `routing.checks.probe` builds a check from, and nothing that decides what an answer means:

- `open_connection` connects to one numeric address (vetted by the caller: no name is handed to
  the operating system), directly or through a ``CONNECT <address>:<port>`` tunnel of the proxy
  (`proxy_parse`, ``SCART_CHECK_PROXY``). Not an absolute-form request for http: a proxy must
  replace the Host header with the authority of an absolute URI (RFC 9112, 3.2.2), so
  ``GET http://<address>/...`` would ask the server for the wrong virtual host, and a wrong "gone"
  closes a case. The proxy's own address is configuration, not vetted, and is resolved by the
  system.
  In demo mode it connects to the demo's web host instead (`ConnectTo`, ``SCART_CHECK_CONNECT_TO``,
  a loopback address: `connect_to_parse`), whatever address it is given; the request is the same.
- `tls_wrap` speaks TLS with the URL's host as server name (SNI), the certificate verified against
  it (`default_tls_context`: the system's trust store; `file_tls_context`: only the certificates of
  one file, the demo web host's).
- `exchange` sends one request (``Connection: close``) and returns the status and ``Location`` of
  the answer, skipping interim answers (1xx).
- `read_head` reads the status line and headers and nothing after them. Over plain TCP the head is
  peeked and then consumed exactly up to the blank line, so not one byte of a body is taken from
  the kernel; over TLS it is read a byte at a time up to the blank line (OpenSSL decrypts whole
  records, so the first body bytes of the last record may sit in its buffer; they are never handed
  to scart). The caller then closes the connection: unread data makes the kernel reset it, which
  stops the server sending.

Every wait is bounded by the ``deadline`` given (a `time.monotonic` value). Failures are `Closed`
(the server closed or reset the connection before answering; some do that to HEAD) or
`Unanswered` (no usable answer: a timeout, a reset mid-answer, a TLS failure, not HTTP/1.x).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
import ssl
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass
from typing import Final

from django.core.exceptions import ImproperlyConfigured

from routing.checks.guard import IPAddress, Target

MAX_HEAD_BYTES: Final = 64 * 1024


class Closed(Exception):
    """The server closed the connection before answering (some do that to HEAD)."""


class Unanswered(Exception):
    """No usable answer; the message says why (for people)."""


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str


@dataclass(frozen=True)
class ConnectTo:
    """Where every connection goes instead of the vetted address (the demo's web host)."""

    host: str
    port: int


@dataclass(frozen=True)
class Answer:
    status: int
    location: str | None


def open_connection(
    address: IPAddress,
    port: int,
    *,
    proxy: Proxy | None,
    connect_timeout: float,
    deadline: float,
    user_agent: str,
    connect_to: ConnectTo | None = None,
) -> socket.socket:
    """A connection to ``address``:``port``, through ``proxy``'s tunnel if there is one, or to
    ``connect_to`` instead when it is given. Raises `TimeoutError` or `OSError` when the connection
    fails (the caller may try another address)."""
    budget = min(connect_timeout, deadline - time.monotonic())
    if budget <= 0:
        raise TimeoutError
    if connect_to is not None:
        return socket.create_connection((connect_to.host, connect_to.port), timeout=budget)
    if proxy is not None:
        return _tunnel(proxy, address, port, budget=budget, deadline=deadline, user_agent=user_agent)
    family = socket.AF_INET6 if isinstance(address, ipaddress.IPv6Address) else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(budget)
        # A numeric address: nothing is looked up, the connection goes exactly here.
        sock.connect((str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


def _tunnel(
    proxy: Proxy, address: IPAddress, port: int, *, budget: float, deadline: float, user_agent: str
) -> socket.socket:
    """A CONNECT tunnel through ``proxy`` to ``address``:``port`` (the address, never a name)."""
    sock = socket.create_connection((proxy.host, proxy.port), timeout=budget)
    try:
        authority = f"[{address}]:{port}" if isinstance(address, ipaddress.IPv6Address) else f"{address}:{port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}", f"User-Agent: {user_agent}"]
        if proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        send(sock, ("\r\n".join(lines) + "\r\n\r\n").encode("ascii"), deadline)
        try:
            answer = parse_head(read_head(sock, deadline))
        except Closed as exc:
            raise Unanswered(f"proxy: {exc}") from exc
        if not 200 <= answer.status < 300:
            raise Unanswered(f"the proxy answered {answer.status} to CONNECT {authority}")
    except BaseException:
        sock.close()
        raise
    return sock


def tls_wrap(sock: socket.socket, target: Target, *, context: ssl.SSLContext, deadline: float) -> ssl.SSLSocket:
    """TLS on ``sock`` with ``target``'s host as server name; ``sock`` is closed if it fails."""
    set_timeout(sock, deadline)
    try:
        return context.wrap_socket(sock, server_hostname=target.host)
    except TimeoutError:
        sock.close()
        raise Unanswered("TLS handshake not finished in time") from None
    except (ssl.SSLError, ssl.CertificateError, OSError) as exc:
        sock.close()
        raise Unanswered(f"TLS failed: {exc}") from exc


def exchange(sock: socket.socket, target: Target, method: str, *, user_agent: str, deadline: float) -> Answer:
    """Send one ``method`` request for ``target`` on ``sock``; the final answer's status and Location.
    A GET asks for one byte (``Range: bytes=0-0``)."""
    request = [
        f"{method} {target.request_target} HTTP/1.1",
        f"Host: {target.host_header}",
        f"User-Agent: {user_agent}",
        "Accept: */*",
        "Accept-Encoding: identity",
        *(["Range: bytes=0-0"] if method == "GET" else []),
        "Connection: close",
    ]
    send(sock, ("\r\n".join(request) + "\r\n\r\n").encode("ascii"), deadline)
    while True:
        answer = parse_head(read_head(sock, deadline))
        # Interim answers (100 Continue, 103 Early Hints) precede the real one.
        if not 100 <= answer.status < 200 or answer.status == 101:
            return answer


def send(sock: socket.socket, data: bytes, deadline: float) -> None:
    set_timeout(sock, deadline)
    try:
        sock.sendall(data)
    except TimeoutError:
        raise Unanswered("the request could not be sent in time") from None
    except OSError as exc:
        raise Closed(f"connection closed while sending: {exc}") from exc


def read_head(sock: socket.socket, deadline: float) -> bytes:
    """Read one response head (status line and headers, up to and including the blank line) from
    ``sock`` and nothing after it.

    Raises `Closed` when the peer closes or resets before sending a byte, `Unanswered` on a
    timeout, a head cut short or one larger than `MAX_HEAD_BYTES`.
    """
    head = bytearray()
    tls = isinstance(sock, ssl.SSLSocket)
    while True:
        set_timeout(sock, deadline)
        try:
            chunk = sock.recv(1) if tls else sock.recv(4096, socket.MSG_PEEK)
            if chunk and not tls:
                tail = bytes(head[-3:])
                joined = tail + chunk
                end = _head_end(joined)
                wanted = len(chunk) if end < 0 else end - len(tail)
                chunk = sock.recv(wanted)
        except TimeoutError:
            raise Unanswered("no complete answer in time") from None
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError) as exc:
            if not head:
                raise Closed(f"connection reset: {exc}") from exc
            raise Unanswered(f"connection reset mid-answer: {exc}") from exc
        except ssl.SSLError as exc:
            if not head:
                raise Closed(f"TLS connection closed: {exc}") from exc
            raise Unanswered(f"TLS error mid-answer: {exc}") from exc
        if not chunk:
            if not head:
                raise Closed("connection closed without an answer")
            raise Unanswered("the answer ended before its headers did")
        head += chunk
        if _head_end(bytes(head[-4:])) >= 0:
            return bytes(head)
        if len(head) > MAX_HEAD_BYTES:
            raise Unanswered(f"response headers longer than {MAX_HEAD_BYTES} bytes")


def _head_end(data: bytes) -> int:
    """Index just past the first blank line in ``data`` (CRLF CRLF, or a bare LF LF), or -1."""
    ends = [i + len(mark) for mark in (b"\r\n\r\n", b"\n\n") if (i := data.find(mark)) >= 0]
    return min(ends, default=-1)


def parse_head(head: bytes) -> Answer:
    """The status and Location of a response head; every other header is ignored."""
    lines = head.split(b"\n")
    parts = lines[0].rstrip(b"\r").split(None, 2)
    if len(parts) < 2 or parts[0] not in {b"HTTP/1.1", b"HTTP/1.0"} or not (len(parts[1]) == 3 and parts[1].isdigit()):
        shown = lines[0][:60].decode("latin-1")
        raise Unanswered(f"not an HTTP/1.x answer: {shown!r}")
    location = None
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() == b"location":
            location = _text(value.strip())
            break
    return Answer(int(parts[1]), location or None)


def _text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def header_text(text: str) -> str:
    """``text`` as a header value: one line of ASCII (accents dropped: "Ö" -> "O")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join(ascii_text.split())


def set_timeout(sock: socket.socket, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise Unanswered("no complete answer in time")
    sock.settimeout(remaining)


def proxy_parse(url: str) -> Proxy | None:
    """The proxy of ``SCART_CHECK_PROXY`` (``http://[user:pass@]host:port``), None for ""."""
    if not url:
        return None
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ImproperlyConfigured(f"SCART_CHECK_PROXY must be an http://host:port URL, not {url!r}")
    authorization = ""
    if parts.username is not None:
        credentials = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode("utf-8")).decode("ascii")
    return Proxy(parts.hostname, parts.port or 8080, authorization)


def connect_to_parse(value: str) -> ConnectTo | None:
    """The `ConnectTo` of ``host:port`` (``[::1]:port`` for IPv6), None for "". Only a loopback
    address literal is accepted: every check connects there whatever address the guard vetted, so
    it must never be a place off the machine."""
    if not value:
        return None
    refusal = f"SCART_CHECK_CONNECT_TO must be a loopback address and port, not {value!r}"
    host, _, port = value.rpartition(":")
    try:
        address = ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
        number = int(port)
    except ValueError:
        raise ImproperlyConfigured(refusal) from None
    if not address.is_loopback or not 0 < number < 65536:
        raise ImproperlyConfigured(refusal)
    return ConnectTo(str(address), number)


_tls_context: ssl.SSLContext | None = None
_file_contexts: dict[tuple[str, int], ssl.SSLContext] = {}


def default_tls_context() -> ssl.SSLContext:
    """The system's trust store, certificates checked against the host name (one per process)."""
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


def file_tls_context(path: str) -> ssl.SSLContext:
    """A context that trusts the certificates in the file ``path`` and nothing else, host names
    checked as always. Made again when the file changes (the demo's web host may renew its
    certificate while a worker runs); while the file is missing nothing is trusted, so every TLS
    check fails rather than fall back to another trust store."""
    try:
        changed = os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = _file_contexts.get((path, changed))
    if context is None:
        context = ssl.create_default_context(cafile=path)
        _file_contexts.clear()
        _file_contexts[(path, changed)] = context
    return context
