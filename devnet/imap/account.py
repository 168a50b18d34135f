"""The local IMAP peer's one account: its folders and messages, and what tests read of them."""

from __future__ import annotations

import ssl
import threading
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from devnet.imap.folder import Message
from devnet.imap.session import ImapServer, Session
from devnet.serving import Peer, serve_in_thread, server_stop


class FakeImap(Peer):
    """An IMAP4rev1 server on localhost with one account, running in background threads."""

    def __init__(
        self,
        user: str = "scart",
        password: str = "secret",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        move: bool = True,
        tls: Literal["implicit", "starttls"] | None = None,
        tls_context: ssl.SSLContext | None = None,
        login_disabled: bool = False,
    ) -> None:
        if (tls is None) != (tls_context is None):
            raise ValueError("tls and tls_context go together")
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.capabilities = ["IMAP4rev1", *(["MOVE"] if move else [])]
        self.tls = tls
        self.tls_context = tls_context
        self.login_disabled = login_disabled
        self.commands: list[str] = []
        self.logins: list[bool] = []
        self._folders: dict[str, list[Message]] = {"INBOX": []}
        self._uid_next: dict[str, int] = {}
        self._lock = threading.RLock()
        self._server: ImapServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            return
        server = ImapServer((self.host, self.port), Session)
        self._server = server
        self._thread = serve_in_thread(server, self, name="fake-imap", poll_seconds=0.05)

    def stop(self) -> None:
        server_stop(self._server, self._thread)
        self._server = None
        self._thread = None

    # -- test API ----------------------------------------------------------

    @property
    def url(self) -> str:
        """``imap[s]://user:pass@127.0.0.1:PORT/INBOX``, user and password percent-encoded."""
        scheme = "imaps" if self.tls == "implicit" else "imap"
        return f"{scheme}://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/INBOX"

    def deliver(self, folder: str, raw: bytes, *, received_at: datetime | None = None) -> None:
        """Append a message to ``folder`` (created if missing), unseen, received now or at ``received_at``."""
        message = Message(raw) if received_at is None else Message(raw, internal_date=received_at.timestamp())
        with self._lock:
            self._append(self._name(folder), message)

    def folder(self, name: str) -> list[bytes]:
        """The raw messages in a folder, in order; empty if the folder does not exist."""
        with self._lock:
            return [m.raw for m in self._folders.get(self._name(name), [])]

    def flags(self, name: str) -> list[set[str]]:
        """The flags of each message in a folder, in order."""
        with self._lock:
            return [set(m.flags) for m in self._folders.get(self._name(name), [])]

    def folders(self) -> list[str]:
        with self._lock:
            return sorted(self._folders)

    # -- internals ---------------------------------------------------------

    @staticmethod
    def _name(name: str) -> str:
        return "INBOX" if name.upper() == "INBOX" else name

    def _append(self, folder: str, message: Message) -> None:
        """Add a message to a folder (created if missing) under the folder's next UID."""
        message.uid = self._uid_next.get(folder, 1)
        self._uid_next[folder] = message.uid + 1
        self._folders.setdefault(folder, []).append(message)
