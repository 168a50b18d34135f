"""`FakeDNS`: a `Zone` served over UDP and TCP on one port of localhost, from background threads.

``latency`` (seconds) delays every answer without queueing the others behind
it: UDP answers wait on a timer queue while the server goes on receiving,
and each TCP connection has its own thread (queries pipelined on one
connection are answered in turn).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

from devnet.dns.zone import Zone
from devnet.serving import Peer

_POLL_SECONDS = 0.1


class FakeDNS(Zone, Peer):
    """An authoritative DNS server on localhost, running in background threads."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        follow_cnames: bool = True,
        latency: float = 0.0,
    ) -> None:
        super().__init__(follow_cnames=follow_cnames)
        self.host = host
        self.port = port
        self.latency = latency
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._udp: socket.socket | None = None
        self._tcp: socket.socket | None = None
        # Delayed UDP answers as (due time, sequence number, reply, client) in a heap, sent by one thread.
        self._due: list[tuple[float, int, bytes, Any]] = []
        self._due_changed = threading.Condition()
        self._sequence = itertools.count()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        if self._udp is not None:
            raise RuntimeError("FakeDNS is already running")
        self._stopping.clear()
        self._udp, self._tcp = self._bind()
        for target in (self._serve_udp, self._serve_tcp, self._send_due):
            thread = threading.Thread(target=target, name="fakedns", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stopping.set()
        with self._due_changed:
            self._due_changed.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        self._due.clear()  # answers still waiting are never sent, as from a server that went down
        for sock in (self._udp, self._tcp):
            if sock is not None:
                sock.close()
        self._udp = self._tcp = None

    @property
    def address(self) -> str:
        """``host:port`` (``[host]:port`` for IPv6), as SCART_DNS_NAMESERVERS takes."""
        if self._udp is None:
            raise RuntimeError("FakeDNS is not running")
        return self.authority

    # -- transports ----------------------------------------------------------

    def _bind(self) -> tuple[socket.socket, socket.socket]:
        """Bind UDP and TCP sockets to one port (any free one when port is 0)."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        for _ in range(50):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            try:
                udp.bind((self.host, self.port))
                port = udp.getsockname()[1]
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((self.host, port))
                tcp.listen(64)
            except OSError:
                udp.close()
                tcp.close()
                if self.port:
                    raise
                continue  # the TCP side of this ephemeral port is taken
            udp.settimeout(_POLL_SECONDS)
            tcp.settimeout(_POLL_SECONDS)
            self.port = port
            return udp, tcp
        raise OSError("no free port for both UDP and TCP")

    def _serve_udp(self) -> None:
        sock = self._udp
        assert sock is not None
        while not self._stopping.is_set():
            try:
                wire, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self.answer(wire)
            if reply is None:
                continue
            latency = self.latency
            if latency > 0:
                with self._due_changed:
                    heapq.heappush(self._due, (time.monotonic() + latency, next(self._sequence), reply, peer))
                    self._due_changed.notify()
            else:
                _send_quietly(sock, reply, peer)

    def _send_due(self) -> None:
        """Send delayed UDP answers when they are due, earliest first."""
        while not self._stopping.is_set():
            with self._due_changed:
                now = time.monotonic()
                if not self._due or self._due[0][0] > now:
                    wait = self._due[0][0] - now if self._due else _POLL_SECONDS
                    self._due_changed.wait(min(wait, _POLL_SECONDS))
                    continue
                _, _, reply, peer = heapq.heappop(self._due)
            sock = self._udp
            if sock is not None:
                _send_quietly(sock, reply, peer)

    def _serve_tcp(self) -> None:
        sock = self._tcp
        assert sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(
                target=self._serve_connection,
                args=(conn,),
                name="fakedns-tcp",
                daemon=True,
            )
            thread.start()

    def _serve_connection(self, conn: socket.socket) -> None:
        conn.settimeout(_POLL_SECONDS)
        with conn:
            while True:
                header = self._recv_exactly(conn, 2)
                if header is None:
                    return
                wire = self._recv_exactly(conn, int.from_bytes(header, "big"))
                if wire is None:
                    return
                reply = self.answer(wire, max_size=65535)
                if reply is None:
                    continue  # "timeout": keep the connection open, say nothing
                if self.latency > 0 and self._stopping.wait(self.latency):
                    return
                try:
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
                except OSError:
                    return

    def _recv_exactly(self, conn: socket.socket, size: int) -> bytes | None:
        data = b""
        while len(data) < size:
            if self._stopping.is_set():
                return None
            try:
                chunk = conn.recv(size - len(data))
            except TimeoutError:
                continue
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data


def _send_quietly(sock: socket.socket, reply: bytes, peer: Any) -> None:
    # A client that went away needs no answer.
    with contextlib.suppress(OSError):
        sock.sendto(reply, peer)
