"""A local SMTP server that captures every message it receives (aiosmtpd), for tests."""

from __future__ import annotations

import asyncio
import email
import email.policy
import functools
import socket
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class CapturedMessage:
    """One message as it arrived. Like a real MTA, the peer only keeps the bytes when it answers
    250; they are parsed the first time a test (or the notice benchmark's check) reads them."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @functools.cached_property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""


class _Handler:
    def __init__(self, sink: FakeSMTP) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.sink.reject_permanently:
            self.sink.refused.append(address)
            return "550 5.1.1 mailbox unavailable"
        if address.lower() in self.sink.reject_temporarily:
            self.sink.refused.append(address)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.sink.lock:
            if self.sink.stall_after is not None and len(self.sink.messages) >= self.sink.stall_after:
                self.sink.stall_data.set()
            scripted = self.sink.data_replies.pop(0) if self.sink.data_replies else ""
        if scripted and not scripted.startswith("250"):
            # A scripted refusal of this message (``451 ...`` for now, ``554 ...`` for good).
            self.sink.refused_data.append(scripted)
            return scripted
        # A stalled server holds its answer to DATA, as a slow or hung server would: the client
        # has sent the whole message and waits for the 250.
        while self.sink.stall_data.is_set():
            self.sink.data_waiting.set()
            await asyncio.sleep(0.05)
        with self.sink.lock:
            self.sink.messages.append(CapturedMessage(str(envelope.mail_from), list(envelope.rcpt_tos), content))
            self.sink.arrived.notify_all()
        return "250 Message accepted"


class FakeSMTP:
    """``with FakeSMTP() as smtp:`` then point EMAIL_HOST/EMAIL_PORT at ``smtp.host``/``smtp.port``.

    With ``password``, the peer offers AUTH (without TLS: loopback only) and answers any other
    password with 535, as a relay does when its credentials were changed."""

    def __init__(self, host: str = "127.0.0.1", password: str | None = None) -> None:
        self.host = host
        self.port = _free_port(host)
        self.messages: list[CapturedMessage] = []
        self.reject_permanently: set[str] = set()
        self.reject_temporarily: set[str] = set()
        self.refused: list[str] = []  # every RCPT the peer refused, in order
        self.stall_data = threading.Event()
        # Hold the answer to DATA from the message after this many were accepted (one message per
        # URL: the sender is held, and can be killed, between two of a notice's messages).
        self.stall_after: int | None = None
        # Answers to the next DATA commands, in order ("250" or "" accepts): a 4xx or 5xx to the
        # k-th message of a run.
        self.data_replies: list[str] = []
        self.refused_data: list[str] = []
        self.data_waiting = threading.Event()
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        auth: dict[str, Any] = {}
        if password is not None:
            auth = {"auth_require_tls": False, "authenticator": functools.partial(_authenticate, password)}
        self._controller = Controller(_Handler(self), hostname=host, port=self.port, **auth)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> FakeSMTP:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[CapturedMessage]:
        """Block until at least ``count`` messages arrived (or the timeout passed); return them all."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)


def _authenticate(
    password: str, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.password == password.encode()
    return AuthResult(success=ok, handled=False)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
