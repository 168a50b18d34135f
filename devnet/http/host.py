"""`FakeHTTP`: a local HTTP(S) host on an ephemeral port of 127.0.0.1, one request per connection (it
closes after every answer, as the checker asks it to); its paths are in ``answers.py``.

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
"""

from __future__ import annotations

import ssl
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from devnet.http.answers import HostServer, HostServer6, PathHandler, Request
from devnet.serving import Peer, serve_in_thread, server_stop
from devnet.tls import kept_certificate, self_signed_certificate

_POLL_SECONDS = 0.05


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
        self._server: HostServer | None = None
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
        server_class = HostServer6 if ":" in self.host else HostServer
        server = server_class((self.host, self.port), PathHandler)
        self._server = server
        self._thread = serve_in_thread(server, self, name="fakehttp", poll_seconds=_POLL_SECONDS)

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
        return f"{self.scheme}://{self.authority}"

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
