"""`FakeProxy`: an HTTP proxy on localhost that only tunnels (CONNECT). It logs every CONNECT target
and refuses names: a checker must hand it the address it vetted."""

from __future__ import annotations

import ipaddress
import select
import socket
import threading
from typing import Self

_CHUNK = 64 * 1024
_POLL_SECONDS = 0.05


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
