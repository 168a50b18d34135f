"""What every local peer shares: being a context manager that starts and stops it, and serving a
``socketserver`` server from a daemon thread (`ServedPeer`: one server, started and stopped)."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Self


class Peer:
    """``with SomePeer() as peer:`` starts the peer and stops it however the block ends."""

    host: str
    port: int

    @property
    def authority(self) -> str:
        """``host:port``, an IPv6 host in brackets."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve_in_thread(server: socketserver.TCPServer, peer: Peer, *, name: str, poll_seconds: float) -> threading.Thread:
    """Serve ``server`` for ``peer`` from a daemon thread until `server_stop`; the thread is started.
    Its handlers find the peer as ``server.fake``, and ``peer.port`` becomes the port it listens on
    (the one picked when it was 0)."""
    server.fake = peer  # type: ignore[attr-defined]
    peer.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": poll_seconds}, name=name, daemon=True
    )
    thread.start()
    return thread


def server_stop(server: socketserver.BaseServer | None, thread: threading.Thread | None) -> None:
    """Stop serving, close the listening socket and wait (briefly) for the thread to end."""
    if server is not None:
        server.shutdown()
        server.server_close()
    if thread is not None:
        thread.join(timeout=5)


class ServedPeer(Peer):
    """A peer served by one ``socketserver`` server from a daemon thread. A subclass calls
    `_served_init` in its ``__init__`` and makes its server in `_server_new`; its handlers wait on
    ``_stopping`` when they hold a request on purpose, and stopping releases them."""

    thread_name = "peer"
    poll_seconds = 0.05

    def _served_init(self) -> None:
        self._stopping = threading.Event()
        self._server: socketserver.TCPServer | None = None
        self._thread: threading.Thread | None = None

    def _server_new(self) -> socketserver.TCPServer:
        raise NotImplementedError

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopping.clear()
        self._server = self._server_new()
        self._thread = serve_in_thread(self._server, self, name=self.thread_name, poll_seconds=self.poll_seconds)

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # releases held and delayed requests
        server_stop(self._server, self._thread)
        self._server = None
        self._thread = None
