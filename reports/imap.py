"""The intake mailbox's server: where it is, the connection (TLS, STARTTLS), the login, and what
its FETCH answers say besides the message (`fetched_uid`, `internal_date`).

`reports.mailbox` reads the mailbox through `imap_login`. The server's certificate and host name
are always verified, against ``SCART_INTAKE_IMAP_CA_FILE`` when set; ``imap://`` is upgraded with
STARTTLS when the server offers it, and otherwise the password goes in clear only as
``SCART_INTAKE_IMAP_PLAIN_LOGIN`` allows (see `imap_login`). Nothing here logs the password.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from django.utils import timezone

# Seconds any one IMAP operation may take before the poll gives up.
IMAP_TIMEOUT = 60


class MailboxError(Exception):
    """The mailbox cannot be read at all: not configured, unreachable, login refused, no folder.

    Messages never contain the password.
    """


@dataclass(frozen=True, slots=True)
class ImapTarget:
    """Where the intake mailbox is, parsed from ``imap[s]://user:password@host[:port][/folder]``."""

    host: str
    port: int
    ssl: bool
    user: str
    password: str = field(repr=False)
    folder: str


ClientFactory = Callable[[ImapTarget, ssl.SSLContext], imaplib.IMAP4]

# When the password may go to the server in clear (``imap://`` to a server that offers no STARTTLS).
PLAIN_LOGIN_CHOICES = ("never", "loopback", "always")


def parse_imap_url(url: str, *, default_folder: str) -> ImapTarget:
    """Parse the mailbox URL; user, password and folder are percent-decoded.

    ``imaps://`` is IMAP over TLS (port 993); ``imap://`` is IMAP (port 143), upgraded to TLS
    with STARTTLS when the server offers it (see `imap_login` for when it may stay in clear).
    Certificates are verified either way. The folder is the URL's path, or ``default_folder``
    when the path is empty.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"imap", "imaps"}:
        raise MailboxError("the mailbox URL must start with imap:// or imaps://")
    try:
        port = parts.port
    except ValueError:
        raise MailboxError("the mailbox URL has an invalid port") from None
    if not parts.hostname or not parts.username:
        raise MailboxError("the mailbox URL must name a user and a host: imap[s]://user:password@host/")
    tls = parts.scheme == "imaps"
    return ImapTarget(
        host=parts.hostname,
        port=port or (993 if tls else 143),
        ssl=tls,
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or default_folder,
    )


def imap_tls_context(*, ca_file: str = "") -> ssl.SSLContext:
    """The TLS context for the mailbox server: certificate and host name verified.

    With ``ca_file`` (PEM) only the CAs in it are trusted, as for a server whose certificate the
    hotline's own CA signed; without it, the system's trusted CAs.
    """
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise MailboxError(f"SCART_INTAKE_IMAP_CA_FILE {ca_file!r} cannot be read as PEM certificates: {exc}") from exc


def imap_connect(target: ImapTarget, context: ssl.SSLContext) -> imaplib.IMAP4:
    """Open a connection (not yet logged in) to the mailbox server; TLS from the start for imaps."""
    if target.ssl:
        return imaplib.IMAP4_SSL(target.host, target.port, ssl_context=context, timeout=IMAP_TIMEOUT)
    return imaplib.IMAP4(target.host, target.port, timeout=IMAP_TIMEOUT)


def imap_login(
    target: ImapTarget, factory: ClientFactory, *, context: ssl.SSLContext, plain_login: str
) -> imaplib.IMAP4:
    """Connect through ``factory`` and log in; raises `MailboxError` with the reason.

    The server's certificate is checked with ``context`` (`imap_tls_context`). Over ``imap://``
    the connection is upgraded with STARTTLS whenever the server offers it, and a failed upgrade
    is an error, never a reason to go on in clear. When the server does not offer it, the
    password is sent in clear only as ``plain_login`` (`PLAIN_LOGIN_CHOICES`) allows: ``loopback``
    only to a server on this machine, whose traffic never leaves it (as Dovecot itself allows
    plaintext logins from localhost), ``always``, or ``never``.
    """
    where = f"{target.host}:{target.port}"
    try:
        client = factory(target, context)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"cannot connect to the mailbox at {where}: {error_text(exc)}{_tls_hint(exc)}") from exc
    try:
        _secure(client, target, context=context, plain_login=plain_login, where=where)
    except BaseException:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.shutdown()
        raise
    try:
        client.login(imap_quote(target.user), target.password)
    except (OSError, imaplib.IMAP4.error, UnicodeError) as exc:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
        raise MailboxError(f"login as {target.user!r} at {where} failed: {error_text(exc)}") from exc
    return client


def _secure(
    client: imaplib.IMAP4, target: ImapTarget, *, context: ssl.SSLContext, plain_login: str, where: str
) -> None:
    """Upgrade an ``imap://`` connection with STARTTLS, or make sure the login may go in clear."""
    if target.ssl:
        return
    if "STARTTLS" in client.capabilities:
        try:
            client.starttls(ssl_context=context)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(
                f"STARTTLS with the mailbox at {where} failed: {error_text(exc)}{_tls_hint(exc)}"
            ) from exc
        return
    if plain_login == "always" or (plain_login == "loopback" and _peer_is_loopback(client)):
        return
    raise MailboxError(
        f"the mailbox server at {where} does not offer STARTTLS: the password is not sent in clear. "
        "Use imaps://, enable STARTTLS on the server, or set SCART_INTAKE_IMAP_PLAIN_LOGIN=always "
        "for a server on a network you trust"
    )


def _peer_is_loopback(client: imaplib.IMAP4) -> bool:
    try:
        return ipaddress.ip_address(client.sock.getpeername()[0]).is_loopback
    except (OSError, ValueError, IndexError):
        return False


def _tls_hint(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            "; if a private CA signed the server's certificate, set SCART_INTAKE_IMAP_CA_FILE to the CA's "
            "certificate (PEM)"
        )
    return ""


def imap_quote(value: str) -> str:
    """An IMAP quoted string; imaplib sends command arguments as they are."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def error_text(error: object) -> str:
    """Readable text of an imaplib error or response data (which arrive as bytes)."""
    if isinstance(error, BaseException):
        args = error.args
        error = args[0] if len(args) == 1 else (str(error) or type(error).__name__)
    if isinstance(error, list):
        error = b" ".join(item for item in error if isinstance(item, bytes))
    if isinstance(error, bytes):
        return error.decode("utf-8", "replace")
    return str(error)


_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_UID = re.compile(rb"\bUID (\d+)")


def fetched_uid(head: bytes) -> int | None:
    match = _UID.search(head)
    return int(match.group(1)) if match else None


def internal_date(head: bytes) -> datetime | None:
    """The INTERNALDATE of a FETCH response, never later than now; None if absent or unreadable."""
    match = _INTERNALDATE.search(head)
    if match is None:
        return None
    try:
        value = datetime.strptime(match.group(1).decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
    except (ValueError, UnicodeError):
        return None
    return min(value.astimezone(UTC), timezone.now())
