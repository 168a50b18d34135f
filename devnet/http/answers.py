"""What each path of the local HTTP host (`devnet.http.FakeHTTP`) answers, and the `Request` it
records for each.

``FakeHTTP`` answers on an ephemeral port of 127.0.0.1, one request per connection (it closes after
every answer, as the checker asks it to). Its paths:

- ``/status/{code}``: that status, to HEAD and GET (GET gets a short body).
- ``/slow/{seconds}/{rest}``: waits, then answers as ``/{rest}``.
- ``/drip``: sends a status line a byte every 0.2 s, and never finishes it.
- ``/no-head`` (``/no-head/{code}``): HEAD answers 405 (or ``code``, e.g. 501); GET answers 200 and,
  ignoring any Range, a body of ``body_size`` bytes, sent after ``body_delay`` seconds in 64 KiB
  pieces until it is all sent or the client goes away.
- ``/head-close``: HEAD gets the connection closed without an answer; GET gets 206 and one byte.
- ``/big``: 200 to HEAD; GET as ``/no-head``.
- ``/redirect/{n}``: 302 to ``/redirect/{n-1}``, ``/redirect/0`` answers 200 (a same-host chain).
- ``/loop``: 302 to itself.
- ``/to?location=...&status=...``: that status (302 by default) with that Location, as given.
- ``/reset``: the connection is reset (RST) without an answer.
- anything else: ``default_status`` (404; the demo's web host answers 200).

``aliases`` maps a path to one of these (with its query, if any), and may change while the peer
runs (content that comes and goes, or moves, at one URL).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from devnet.http.host import FakeHTTP

_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    host: str
    path: str
    range: str
    user_agent: str
    status: int | None
    body_sent: int
    client_closed: bool


class HostServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Enough for a benchmark's 64 connections at once without SYN retries.
    request_queue_size = 512
    fake: FakeHTTP

    def get_request(self) -> tuple[Any, Any]:
        sock, address = super().get_request()
        self.fake._connected()
        context = self.fake._tls_context
        # With both schemes on one port, the handler looks at the first byte before it decides.
        if context is not None and not self.fake.also_plain:
            sock = context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that go away are the point of several paths


class HostServer6(HostServer):
    address_family = socket.AF_INET6


class PathHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HostServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        context = self.server.fake._tls_context
        if context is not None and self.server.fake.also_plain and _starts_tls(self.request):
            self.request = context.wrap_socket(self.request, server_side=True, do_handshake_on_connect=False)
        super().setup()

    def handle(self) -> None:
        fake = self.server.fake
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.settimeout(5)
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                with fake._lock:
                    fake.tls_failures += 1
                return
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.handle_one_request()

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        fake = self.server.fake
        self._host = _host_of(self.headers.get("Host", ""))
        self._answering = False
        self._status: int | None = None
        self._body_sent = 0
        self._client_closed = False
        fake._begin(self._host)
        try:
            if fake.latency:
                fake._stopping.wait(fake.latency)
            parts = urlsplit(self.path)
            # An alias may carry a query of its own (``/to?location=...``: content that moved).
            alias = urlsplit(fake.aliases.get(parts.path, parts.path))
            self._route(method, alias.path, parse_qs(alias.query or parts.query))
        finally:
            self._start_answer()
            fake._record(
                Request(
                    method=method,
                    host=self._host,
                    path=self.path,
                    range=self.headers.get("Range", ""),
                    user_agent=self.headers.get("User-Agent", ""),
                    status=self._status,
                    body_sent=self._body_sent,
                    client_closed=self._client_closed,
                )
            )

    def _start_answer(self) -> None:
        if not self._answering:
            self._answering = True
            self.server.fake._end(self._host)

    def _route(self, method: str, path: str, query: dict[str, list[str]]) -> None:
        fake = self.server.fake
        parts = path.strip("/").split("/")
        name, args = parts[0], parts[1:]
        if name == "slow" and args:
            fake._stopping.wait(float(args[0]))
            self._route(method, "/" + "/".join(args[1:]), query)
        elif name == "status" and args and args[0].isdigit():
            self._answer(int(args[0]), body=b"status\n" if method == "GET" else b"", length=7)
        elif name in {"no-head", "big"}:
            refusal = int(args[0]) if name == "no-head" and args and args[0].isdigit() else 405
            if method == "HEAD" and name == "no-head":
                self._answer(refusal, headers={"Allow": "GET"})
            elif method == "HEAD":
                self._answer(200, length=fake.body_size)
            else:
                self._answer(200, length=fake.body_size)
                self._stream_body(fake.body_size)
        elif name == "head-close":
            if method == "HEAD":
                self._start_answer()  # no answer at all: the connection just closes
            else:
                self._answer(206, body=b"x", headers={"Content-Range": "bytes 0-0/1000"})
        elif name == "redirect" and args and args[0].isdigit():
            left = int(args[0])
            if left == 0:
                self._answer(200, length=0)
            else:
                self._answer(302, headers={"Location": f"/redirect/{left - 1}"})
        elif name == "loop":
            self._answer(302, headers={"Location": "/loop"})
        elif name == "to":
            status = int(query.get("status", ["302"])[0])
            self._answer(status, headers={"Location": query.get("location", ["/"])[0]})
        elif name == "reset":
            self._reset()
        elif name == "drip":
            self._drip()
        elif fake.default_status == 404:
            self._answer(404, body=b"not found\n" if method == "GET" else b"", length=10)
        else:
            self._answer(fake.default_status, length=0)

    def _answer(self, status: int, *, body: bytes = b"", length: int | None = None, headers: Any = None) -> None:
        self._start_answer()
        self._status = status
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _stream_body(self, size: int) -> None:
        fake = self.server.fake
        if fake.body_delay:
            fake._stopping.wait(fake.body_delay)
        piece = b"\0" * _CHUNK
        try:
            while self._body_sent < size and not fake._stopping.is_set():
                data = piece[: min(_CHUNK, size - self._body_sent)]
                self.connection.sendall(data)
                self._body_sent += len(data)
        except (OSError, ssl.SSLError):
            self._client_closed = True

    def _reset(self) -> None:
        self._start_answer()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()
        self.connection.close()

    def _drip(self) -> None:
        self._start_answer()
        fake = self.server.fake
        with contextlib.suppress(OSError):
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"." * 10_000:
                if fake._stopping.wait(0.2):
                    return
                self.connection.sendall(bytes([byte]))


def _starts_tls(sock: socket.socket) -> bool:
    """Whether the client's first byte opens a TLS handshake (a record of type 22)."""
    sock.settimeout(5)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b"\x16"
    except OSError:
        return False


def _host_of(header: str) -> str:
    header = header.strip().lower()
    if header.startswith("["):
        return header.partition("]")[0] + "]"
    return header.rpartition(":")[0] if ":" in header else header
