"""Mailbox intake: read reports of URLs from an IMAP folder and file them.

`mailbox_poll` logs in to ``SCART_INTAKE_IMAP_URL``, reads every message still in the intake
folder, and for each one:

- a reply to a notice, or a delivery report (bounce) about one, is filed on the notice
  (by the handler the notice stage registers, `mail_handler_register`) whatever its sender, because replies come from
  providers and bounces from mail servers, which are not on the allow-list; the message goes to
  the done folder. Filing it there also keeps a reply that quotes a notice's URLs from becoming a
  report of them. The handler is told whether the message is authenticated (`reports.mailauth`):
  one that is not is filed as unverified and changes nothing;
- any other message from a sender not on ``SCART_INTAKE_ALLOWED_SENDERS`` (an address, or
  ``@domain`` for a whole domain) gets no report; the message goes to the rejected folder;
- a message from a sender on the allow-list that is not authenticated (the receiving server's
  Authentication-Results of ``SCART_MAIL_AUTHSERV_ID``, or a DKIM signature scart verifies:
  `reports.mailauth`) gets no report either: anyone can write a partner's address into From.
  It is counted as ``unauthenticated``, logged as a warning, and goes to the rejected folder for
  an analyst to look at. It is not filed as a report of lesser trust, because a sender not on
  the list gets no report at all: a forger must not get more than a stranger. A DKIM key that
  cannot be looked up (DNS timeout) leaves the message in the intake folder for the next poll;
- otherwise the URLs in the message's text become one mailbox report (`report_create`), with the
  Message-ID as its ``external_ref``; the message goes to the done folder. A message without any
  acceptable URL gets no report and goes to the rejected folder; so does a malformed message
  (headers that cannot be read, or a MIME structure so broken that no URL could be found in
  it), counted and logged as malformed so that an analyst knows to look at it.

Only the text of the message is read: its ``text/plain`` parts, or its ``text/html`` parts when
there is no plain text. Attachments, forwarded messages and any other non-text part are never
decoded, searched or stored: scart handles URLs and metadata only, and a mailbox is the channel
through which content is most likely to arrive by mistake. Of the message itself only the sender,
the subject and the Message-ID are kept, and of a reply to a notice the start of its text. Of a
delivery report only the headers of the returned notice (scart's own message) are read.

Everything in the intake folder is work to do, because processed messages are moved out; that is
why the search is for undeleted messages rather than unseen ones (an analyst opening a message in
a mail client must not hide it from the intake). Messages are read oldest first, by UID.

A message is filed at most once per Message-ID, so a poll that stops between filing and moving
files nothing twice on the next run: a message whose Message-ID was filed before and that names
the same URLs (after normalisation) is a redelivery and goes quietly to the done folder. The first
message with a Message-ID keeps it. A *different* message with that Message-ID (a broken mail
client or script that reuses one) is a clash: its URLs are not dropped but filed as a report of
their own, under ``<Message-ID> clash:<digest of its URLs>`` (so that it too is filed only once),
with a first description line saying which report had the Message-ID first; the poll counts it
and logs a warning.
"""

from __future__ import annotations

import imaplib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from reports.imap import (
    PLAIN_LOGIN_CHOICES,
    ClientFactory,
    ImapTarget,
    MailboxError,
    error_text,
    fetched_uid,
    imap_connect,
    imap_login,
    imap_quote,
    imap_tls_context,
    internal_date,
    parse_imap_url,
)
from reports.mailauth import MailAuthUnavailable
from reports.mailfiling import mail_file

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PollSummary:
    """What one poll did.

    Every message read is counted in exactly one of the other fields but ``clashes``, which counts
    some of the ``reports``.
    """

    messages: int = 0
    # Reports filed, clashes included.
    reports: int = 0
    rejected_senders: int = 0
    # Senders on the allow-list whose message is not authenticated (moved to the rejected folder).
    unauthenticated: int = 0
    no_urls: int = 0
    # Messages moved to the rejected folder because they cannot be read (see `message_defects`).
    malformed: int = 0
    errors: int = 0
    # Redeliveries of a message filed before (moved to done, not filed again).
    already_filed: int = 0
    # Of the reports: messages with the Message-ID of an earlier, different message.
    clashes: int = 0
    # Replies and delivery reports filed on a notice (now, or by an earlier poll).
    notice_messages: int = 0


def mailbox_poll(*, imap_url: str | None = None, client_factory: ClientFactory | None = None) -> PollSummary:
    """Read every message in the intake folder once; file, move and count them.

    ``imap_url`` defaults to ``SCART_INTAKE_IMAP_URL``; ``client_factory`` opens the connection
    (default `imap_connect`). Raises `MailboxError` when the mailbox cannot be read at all, or
    when the connection is lost part way (what was done until then stays done). A problem with
    one message is logged and counted in ``errors``; the message stays in the intake folder and
    the others are processed.

    The connection and its TLS: `reports.imap.imap_login`.
    """
    url = imap_url or settings.SCART_INTAKE_IMAP_URL
    if not url:
        raise MailboxError("SCART_INTAKE_IMAP_URL is not set")
    target = parse_imap_url(url, default_folder=settings.SCART_INTAKE_IMAP_FOLDER)
    plain_login = settings.SCART_INTAKE_IMAP_PLAIN_LOGIN.strip().lower()
    if plain_login not in PLAIN_LOGIN_CHOICES:
        raise MailboxError(f"SCART_INTAKE_IMAP_PLAIN_LOGIN must be one of {', '.join(PLAIN_LOGIN_CHOICES)}")
    context = imap_tls_context(ca_file=settings.SCART_INTAKE_IMAP_CA_FILE)
    done_folder = settings.SCART_INTAKE_IMAP_DONE_FOLDER
    rejected_folder = settings.SCART_INTAKE_IMAP_REJECTED_FOLDER
    for name in (target.folder, done_folder, rejected_folder):
        if not name.isascii():
            raise MailboxError(f"IMAP folder names must be ASCII: {name!r}")
    if target.folder in {done_folder, rejected_folder}:
        raise MailboxError(f"the intake folder {target.folder!r} cannot also be the done or rejected folder")
    allowed = [entry.strip().lower() for entry in settings.SCART_INTAKE_ALLOWED_SENDERS if entry.strip()]
    if not allowed:
        log.warning("SCART_INTAKE_ALLOWED_SENDERS is empty: every message is moved to %s unfiled", rejected_folder)

    client = imap_login(target, client_factory or imap_connect, context=context, plain_login=plain_login)
    try:
        poll = _Poll(
            client=client,
            target=target,
            allowed=allowed,
            done_folder=done_folder,
            rejected_folder=rejected_folder,
        )
        return poll.run()
    finally:
        try:
            client.logout()
        except (imaplib.IMAP4.error, OSError):
            log.debug("mailbox: logout failed", exc_info=True)


class _Poll:
    """One pass over the intake folder, on a logged-in connection."""

    def __init__(
        self,
        *,
        client: imaplib.IMAP4,
        target: ImapTarget,
        allowed: Sequence[str],
        done_folder: str,
        rejected_folder: str,
    ) -> None:
        self.client = client
        self.target = target
        self.allowed = allowed
        self.done_folder = done_folder
        self.rejected_folder = rejected_folder
        self.summary = PollSummary()
        self.can_move = False
        self.needs_expunge = False
        self.ready_folders: set[str] = set()

    def run(self) -> PollSummary:
        try:
            self.can_move = "MOVE" in self._capabilities()
            typ, data = self.client.select(imap_quote(self.target.folder))
            if typ != "OK":
                raise MailboxError(f"cannot open the folder {self.target.folder!r}: {error_text(data)}")
            typ, data = self.client.uid("SEARCH", "UNDELETED")
            if typ != "OK":
                raise MailboxError(f"cannot search the folder {self.target.folder!r}: {error_text(data)}")
        except (OSError, imaplib.IMAP4.error) as exc:
            raise MailboxError(f"cannot read the folder {self.target.folder!r}: {error_text(exc)}") from exc
        # Oldest first (a folder's UIDs grow in the order messages arrive), so that of two messages
        # with one Message-ID the earlier one is filed under it. UIDs, unlike message numbers, stay
        # valid while messages are moved out, by this poll or by an analyst's mail client.
        for uid in sorted({int(n) for n in (data[0] or b"").split()}):
            self.summary.messages += 1
            try:
                self._process(uid)
            except (OSError, imaplib.IMAP4.abort) as exc:
                self.summary.errors += 1
                raise MailboxError(f"the connection to the mailbox was lost: {error_text(exc)}") from exc
            except MailAuthUnavailable as exc:
                self.summary.errors += 1
                log.warning("mailbox: message UID %d stays in the intake folder for the next poll: %s", uid, exc)
            except Exception:
                self.summary.errors += 1
                log.exception("mailbox: message UID %d could not be processed; it stays in the intake folder", uid)
        if self.needs_expunge:
            try:
                self.client.expunge()
            except (OSError, imaplib.IMAP4.error) as exc:
                raise MailboxError(f"cannot expunge the moved messages: {error_text(exc)}") from exc
        log.info("mailbox: %s", self.summary)
        return self.summary

    def _capabilities(self) -> set[str]:
        # Servers may advertise more once logged in, and imaplib keeps only the greeting's list.
        typ, data = self.client.capability()
        if typ == "OK" and data and isinstance(data[-1], bytes):
            return set(data[-1].decode("ascii", "replace").upper().split())
        return {c.upper() for c in self.client.capabilities}

    def _process(self, uid: int) -> None:
        raw, received_at = self._fetch(uid)
        filing = mail_file(raw=raw, received_at=received_at, allowed=self.allowed)
        if filing.counted_as == "malformed":
            self._reject_malformed(uid, ref=filing.ref, sender=filing.sender, problems=filing.problems)
            return
        setattr(self.summary, filing.counted_as, getattr(self.summary, filing.counted_as) + 1)
        if filing.clash:
            self.summary.clashes += 1
        self._move(uid, self.done_folder if filing.done else self.rejected_folder)

    def _reject_malformed(self, uid: int, *, ref: str, sender: str, problems: Sequence[str]) -> None:
        self.summary.malformed += 1
        log.warning(
            "mailbox: %s from %r: malformed message (%s); no acceptable URL could be read from it; moved to %s "
            "for an analyst to look at",
            ref,
            sender,
            "; ".join(problems),
            self.rejected_folder,
        )
        self._move(uid, self.rejected_folder)

    def _fetch(self, uid: int) -> tuple[bytes, datetime | None]:
        """The raw message (without setting \\Seen) and when the server received it."""
        typ, data = self.client.uid("FETCH", str(uid), "(UID INTERNALDATE BODY.PEEK[])")
        if typ != "OK":
            raise MailboxError(f"cannot fetch message UID {uid}: {error_text(data)}")
        for item in data:
            if isinstance(item, tuple) and fetched_uid(item[0]) == uid:
                return item[1], internal_date(item[0])
        raise MailboxError(f"the server sent no body for message UID {uid}")

    def _move(self, uid: int, folder: str) -> None:
        self._ensure_folder(folder)
        if self.can_move:
            self._check(self.client.uid("MOVE", str(uid), imap_quote(folder)), f"move message UID {uid} to {folder}")
            return
        self._check(self.client.uid("COPY", str(uid), imap_quote(folder)), f"copy message UID {uid} to {folder}")
        self._check(self.client.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)"), f"delete message UID {uid}")
        self.needs_expunge = True

    def _ensure_folder(self, folder: str) -> None:
        if folder in self.ready_folders:
            return
        if not self._folder_exists(folder):
            typ, data = self.client.create(imap_quote(folder))
            # Another poller may have created it in the meantime.
            if typ != "OK" and not self._folder_exists(folder):
                raise MailboxError(f"cannot create the folder {folder!r}: {error_text(data)}")
            log.info("mailbox: created folder %s", folder)
        self.ready_folders.add(folder)

    def _folder_exists(self, folder: str) -> bool:
        typ, data = self.client.list('""', imap_quote(folder))
        return typ == "OK" and any(item is not None for item in data)

    @staticmethod
    def _check(response: tuple[str, list[object]], what: str) -> None:
        typ, data = response
        if typ != "OK":
            raise MailboxError(f"cannot {what}: {error_text(data)}")
