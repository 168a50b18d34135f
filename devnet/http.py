"""A local HTTP(S) host, CONNECT proxy and canary listener for the availability checker's tests.

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

Every answer waits ``latency`` seconds first. What the peer observes:

- ``connections``: TCP connections accepted.
- ``requests``: one `Request` per request (method, Host without port, path, Range, User-Agent,
  status, body bytes the kernel accepted, whether the client went away during the body), in order
  of completion.
- ``peak_total``: the most requests in progress at once over all hosts, counted the same way.
- ``peak_per_host``: the most requests in progress at once per Host header, counted from the moment
  the request head is read until just before the answer is written. Not until the connection
  closes: a client starts its next request only once it has the answer, so counted this way the
  figure can never exceed what the client really had open at once (the close itself reaches the
  server a little after the client has moved on).
- ``tls_names``: the server names (SNI) of TLS handshakes; ``tls_failures``: failed handshakes.

With ``tls=True`` the peer speaks HTTPS with a self-signed certificate for ``tls_names`` and
127.0.0.1, made with the ``openssl`` command (`have_openssl`); `FakeHTTP.client_context` trusts it.
``cert_dir`` keeps that certificate in a directory and uses it again while it is valid for these
names (the demo's checker trusts the file). With ``also_plain=True`` as well, a connection whose
first byte does not start a TLS handshake is answered in plain HTTP: one port for both schemes.

``FakeProxy`` is an HTTP proxy that only tunnels (CONNECT); it logs every CONNECT target and refuses
names: a checker must hand it the address it vetted. ``Canary`` is a TCP listener that must never be
connected to: it counts connections on one port of every local address, IPv4 and IPv6.

Run ``python -m devnet.http --port 8080 --latency 0.1`` to serve the paths; the base URL is
printed on the first line of output.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import select
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from devnet import serve_until_signalled
from devnet.serving import Peer, serve_in_thread, server_stop

_CHUNK = 64 * 1024
_POLL_SECONDS = 0.05


def have_openssl() -> bool:
    return shutil.which("openssl") is not None


def self_signed_certificate(directory: Path, names: tuple[str, ...], *, days: int = 2) -> tuple[Path, Path]:
    """A certificate and key for ``names`` and 127.0.0.1, valid for ``days`` (``openssl`` command)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    san = ",".join([*(f"DNS:{name}" for name in names), "IP:127.0.0.1"])
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", str(days), "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    key.chmod(0o600)
    return cert, key


def kept_certificate(directory: Path, names: tuple[str, ...]) -> tuple[Path, Path]:
    """The certificate and key for ``names`` kept in ``directory``: made once (valid for a year) and
    made again only when the names change or less than a day of validity is left, so that a
    client trusting the file need not learn a new one each time the peer starts."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key, listed = directory / "cert.pem", directory / "key.pem", directory / "names.txt"
    wanted = "\n".join(names) + "\n"
    if cert.exists() and key.exists() and listed.exists() and listed.read_text() == wanted:
        valid = subprocess.run(
            ["openssl", "x509", "-checkend", "86400", "-noout", "-in", str(cert)], capture_output=True, timeout=60
        )
        if valid.returncode == 0:
            return cert, key
    # Made beside the kept files and moved over them, so that a reader never sees half a file.
    with tempfile.TemporaryDirectory(dir=directory) as fresh:
        new_cert, new_key = self_signed_certificate(Path(fresh), names, days=365)
        new_key.replace(key)
        new_cert.replace(cert)
    listed.write_text(wanted)
    return cert, key


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


class FakeHTTP(Peer):
    """An HTTP(S) host on localhost, running in background threads."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency: float = 0.0,
        tls: bool = False,
        tls_names: tuple[str, ...] = ("www.example.com",),
        cert_dir: Path | None = None,
        also_plain: bool = False,
        default_status: int = 404,
        body_size: int = 64 * 1024 * 1024,
        body_delay: float = 0.0,
    ) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        self.tls = tls
        self.tls_names = tls_names
        self.cert_dir = cert_dir
        self.also_plain = also_plain
        self.default_status = default_status
        self.body_size = body_size
        self.body_delay = body_delay
        self.connections = 0
        # A path answered as another one, changeable while running: ``aliases["/item"] =
        # "/status/404"`` makes content at /item disappear.
        self.aliases: dict[str, str] = {}
        self.requests: list[Request] = []
        self.peak_per_host: Counter[str] = Counter()
        self.peak_total = 0
        self.tls_names_seen: list[str] = []
        self.tls_failures = 0
        self._in_flight: Counter[str] = Counter()
        self._serving = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls_context: ssl.SSLContext | None = None
        self._cert_dir: tempfile.TemporaryDirectory[str] | None = None
        self.cafile: Path | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FakeHTTP is already running")
        self._stopping.clear()
        if self.tls and self._tls_context is None:
            if self.cert_dir is not None:
                cert, key = kept_certificate(self.cert_dir, self.tls_names)
            else:
                self._cert_dir = tempfile.TemporaryDirectory(prefix="scart-fakehttp-")
                cert, key = self_signed_certificate(Path(self._cert_dir.name), self.tls_names)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            context.sni_callback = self._note_server_name
            self._tls_context, self.cafile = context, cert
        server_class = _Server6 if ":" in self.host else _Server
        server = server_class((self.host, self.port), _Handler)
        server.fake = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = serve_in_thread(server, name="fakehttp", poll_seconds=_POLL_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        server_stop(self._server, self._thread)
        self._server = self._thread = None
        if self._cert_dir is not None:
            self._cert_dir.cleanup()
            self._cert_dir = None
        self._tls_context = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    def url(self, path: str, host: str = "www.example.com") -> str:
        """``path`` on this peer under the name ``host`` (which DNS must point at 127.0.0.1)."""
        return f"{self.scheme}://{host}:{self.port}{path}"

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this peer's certificate (and nothing else)."""
        if self.cafile is None:
            raise RuntimeError("not a TLS peer, or not started")
        return ssl.create_default_context(cafile=str(self.cafile))

    # -- observations ----------------------------------------------------------

    def clear(self) -> None:
        """Forget every observation, once the requests still being served (a body being sent,
        an answer being recorded) are done."""
        deadline = time.monotonic() + 10
        while self._serving and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            self.connections = 0
            self.requests.clear()
            self.peak_per_host.clear()
            self.peak_total = 0
            self.tls_names_seen.clear()
            self.tls_failures = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "connections": self.connections,
                "requests": len(self.requests),
                "peak_per_host": dict(self.peak_per_host),
                "peak_total": self.peak_total,
                "statuses": dict(Counter(str(r.status) for r in self.requests)),
            }

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[Request]:
        """The requests once at least ``count`` have completed (answers and bodies finished)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.01)
        raise AssertionError(f"{len(self.requests)} requests completed, expected {count}")

    def _note_server_name(self, sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        with self._lock:
            self.tls_names_seen.append(name or "")

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1

    def _begin(self, host: str) -> None:
        with self._lock:
            self._serving += 1
            self._in_flight[host] += 1
            self.peak_per_host[host] = max(self.peak_per_host[host], self._in_flight[host])
            self.peak_total = max(self.peak_total, self._in_flight.total())

    def _end(self, host: str) -> None:
        with self._lock:
            self._in_flight[host] -= 1

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
            self._serving -= 1


class _Server(ThreadingHTTPServer):
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


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

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


class FakeProxy:
    """An HTTP proxy on localhost that only tunnels (CONNECT), to numeric addresses only."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.connects: list[str] = []
        self.refused: list[str] = []
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Self:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        listener.settimeout(_POLL_SECONDS)
        self.port = listener.getsockname()[1]
        self._listener = listener
        thread = threading.Thread(target=self._accept, name="fakeproxy", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), name="fakeproxy-tunnel", daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            client.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            authority = rest.partition(" ")[0]
            if method != "CONNECT":
                self.refused.append(f"{method} {authority}")
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            address, _, port = authority.rpartition(":")
            try:
                ip = ipaddress.ip_address(address.strip("[]"))
            except ValueError:
                self.refused.append(authority)
                client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                return
            self.connects.append(authority)
            try:
                upstream = socket.create_connection((str(ip), int(port)), timeout=5)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            with upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _splice(client, upstream, self._stopping)


def _splice(one: socket.socket, other: socket.socket, stopping: threading.Event) -> None:
    pair = {one: other, other: one}
    while not stopping.is_set():
        readable, _, _ = select.select(list(pair), [], [], _POLL_SECONDS)
        for sock in readable:
            try:
                data = sock.recv(_CHUNK)
                if not data:
                    return
                pair[sock].sendall(data)
            except OSError:
                return


class Canary:
    """A listener on one port of every local address (0.0.0.0 and ::) that must stay untouched.

    ``connections`` lists the peer address of every connection accepted. ``host`` narrows it to one
    address (``port`` then may be the port of another listener on another address).
    """

    def __init__(self, host: str | None = None, port: int = 0) -> None:
        self.host = host
        self.port = port
        self.connections: list[str] = []
        self.ipv6 = False
        self._sockets: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        hosts = [self.host] if self.host else ["0.0.0.0", "::"]
        for host in hosts:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind((host, self.port))
            except OSError:
                sock.close()
                if family == socket.AF_INET6 and self._sockets:
                    continue  # no IPv6 here: the IPv4 side still watches
                raise
            sock.listen(64)
            self.port = sock.getsockname()[1]
            self.ipv6 = self.ipv6 or family == socket.AF_INET6
            self._sockets.append(sock)
        self._thread = threading.Thread(target=self._watch, name="canary", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for sock in self._sockets:
            sock.close()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            readable, _, _ = select.select(self._sockets, [], [], _POLL_SECONDS)
            for sock in readable:
                with contextlib.suppress(OSError):
                    conn, peer = sock.accept()
                    self.connections.append(str(peer[0]))
                    conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the availability checker's test paths on localhost.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds to wait before every answer")
    parser.add_argument("--tls", action="store_true", help="HTTPS with a self-signed certificate")
    args = parser.parse_args(argv)

    server = FakeHTTP(args.host, args.port, latency=args.latency, tls=args.tls)
    return serve_until_signalled(server, announce=lambda: [server.base_url])


if __name__ == "__main__":
    sys.exit(main())
