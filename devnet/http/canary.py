"""`Canary`: a TCP listener that must never be connected to; it counts connections on one port of
every local address, IPv4 and IPv6."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Self

_POLL_SECONDS = 0.05


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
