"""Filing one message of the intake mailbox: a reply or bounce to a notice (by the handlers a later
stage registers), a report of the URLs in its text, or nothing (a sender not allowed, a sender
on the allow-list whose message is not authenticated, no URL, a malformed message). The rules,
and the Message-ID clash, are in `reports.mailbox`'s docstring; the poll that reads and moves
the messages is there too; whether a sender is authenticated is `reports.mailauth`."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Literal, Protocol

from django.db import transaction

from reports.mailauth import SenderCheck, sender_authenticate
from reports.mailtext import HEADER_ERRORS, extract_urls, message_defects, message_headers_read, message_text
from reports.models import Channel, Report
from reports.services import report_create
from reports.urls import UrlRejected, normalise_url

# The intake keeps one logger name for everything it says about a message: operators filter on it.
log = logging.getLogger("reports.mailbox")

# Report.external_ref and Report.source are 200 characters; the subject is kept short too.
MAX_REF_LENGTH = 200
MAX_SUBJECT_LENGTH = 500


class MailHandler(Protocol):
    """Files a message that is not a report (a reply or bounce to a notice) and says what it filed
    it as (e.g. ``reply to notice N-1``), or returns None when the message is not its business.
    ``authenticated`` says whether the message comes from its From address (`reports.mailauth`):
    a handler must not let an unauthenticated message change anything but its own record."""

    def __call__(
        self, message: EmailMessage, *, received_at: datetime | None, message_id: str, authenticated: bool
    ) -> str | None: ...


# Later stages (routing's notices) register their handlers in their ``AppConfig.ready``: reports
# never imports them.
_mail_handlers: list[MailHandler] = []


def mail_handler_register(handler: MailHandler) -> None:
    """Offer each message of the intake mailbox to ``handler`` before it is read as a report."""
    if handler not in _mail_handlers:
        _mail_handlers.append(handler)


def _mail_handled(
    message: EmailMessage, *, received_at: datetime | None, message_id: str, authenticated: bool
) -> str | None:
    for handler in _mail_handlers:
        filed = handler(message, received_at=received_at, message_id=message_id, authenticated=authenticated)
        if filed is not None:
            return filed
    return None


@dataclass(frozen=True, slots=True)
class Filing:
    """What became of one message: ``counted_as`` names the `PollSummary` field that counts it
    (``notice_messages``, ``reports`` and ``already_filed`` go to the done folder, the others to
    the rejected one)."""

    counted_as: Literal[
        "notice_messages", "rejected_senders", "unauthenticated", "already_filed", "no_urls", "malformed", "reports"
    ]
    ref: str
    sender: str
    problems: tuple[str, ...] = ()
    clash: bool = False

    @property
    def done(self) -> bool:
        return self.counted_as in {"notice_messages", "reports", "already_filed"}


def mail_file(*, raw: bytes, received_at: datetime | None, allowed: Sequence[str]) -> Filing:
    """File one message of the intake folder (as a notice's reply or bounce, or as a report) and
    say what became of it; moving it to its folder is the poll's part."""
    message = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(raw)
    # Without a Message-ID, the digest of the message stands in for it, so that filing stays
    # idempotent. It is a fingerprint of the message, not a copy of anything in it.
    fingerprint = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    try:
        message_headers_read(message)
    except HEADER_ERRORS as exc:
        return Filing(
            "malformed", ref=fingerprint, sender="", problems=(f"unreadable header ({type(exc).__name__}: {exc})",)
        )
    sender = parseaddr(str(message.get("From", "")))[1].strip().lower()
    message_id = " ".join(str(message.get("Message-ID", "")).split())
    ref = (message_id or fingerprint)[:MAX_REF_LENGTH]

    check = sender_authenticate(raw=raw, message=message)
    # Before the allow-list: replies and bounces to notices come from providers and mail servers.
    filed = _mail_handled(message, received_at=received_at, message_id=ref, authenticated=check.verified)
    if filed is not None:
        log.info("mailbox: %s from %r (%s): %s", ref, sender, _how(check), filed)
        return Filing("notice_messages", ref=ref, sender=sender)
    if not sender_allowed(sender, allowed):
        log.info("mailbox: %s from %r: sender not allowed", ref, sender)
        return Filing("rejected_senders", ref=ref, sender=sender)
    if not check.verified:
        # Anyone can write an allowed address into From: such a message gains nothing from it.
        log.warning(
            "mailbox: %s from %r: the sender is on the allow-list but the message is not authenticated (%s); not filed",
            ref,
            sender,
            check.reason,
        )
        return Filing("unauthenticated", ref=ref, sender=sender)

    urls = extract_urls(message_text(message))
    subject = " ".join(str(message.get("Subject", "")).split())[:MAX_SUBJECT_LENGTH]
    description = [subject, f"Message-ID: {message_id}" if message_id else ""]
    # Mailbox reports have no partner; filtering on it lets the (partner, external_ref) index serve.
    mailbox_reports = Report.objects.filter(partner__isnull=True, channel=Channel.MAILBOX)
    first = mailbox_reports.filter(external_ref=ref).first()
    clash_with = None
    digests = _url_digests(urls) if first is not None else set()
    if first is not None and digests == set(first.cases.values_list("url_sha256", flat=True)):
        log.info("mailbox: %s from %r: filed before as %s", ref, sender, first.reference)
        return Filing("already_filed", ref=ref, sender=sender)
    if first is not None and digests:
        # Another message had this Message-ID first. Its URLs are filed under a key of their
        # own, derived from them, so that a redelivery of this message is recognised too.
        ref = _clash_ref(ref, digests)
        filed_before = mailbox_reports.filter(external_ref=ref).first()
        if filed_before is not None:
            log.info("mailbox: %s from %r: filed before as %s (Message-ID clash)", ref, sender, filed_before.reference)
            return Filing("already_filed", ref=ref, sender=sender)
        clash_with = first
        description.insert(
            0,
            f"Message-ID clash: {first.reference} was filed first under this Message-ID, "
            "from a message naming other URLs.",
        )

    report = None
    # A message without an acceptable URL whose Message-ID is taken needs no report either.
    if urls and (first is None or clash_with is not None):
        with transaction.atomic():
            result = report_create(
                channel=Channel.MAILBOX,
                urls=urls,
                source=sender[:MAX_REF_LENGTH],
                reporter_email=sender,
                description="\n".join(filter(None, description)),
                external_ref=ref,
                received_at=received_at,
            )
            if result.accepted:
                report = result.report
            else:
                # A report naming no acceptable URL is not a report: undo it.
                transaction.set_rollback(True)
    if report is None:
        defects = message_defects(message)
        if defects:
            return Filing("malformed", ref=ref, sender=sender, problems=tuple(defects))
        log.info("mailbox: %s from %r: no acceptable URL (%d candidates)", ref, sender, len(urls))
        return Filing("no_urls", ref=ref, sender=sender)
    if clash_with is not None:
        log.warning(
            "mailbox: %s from %r: Message-ID clash: %s was filed first under this Message-ID with other URLs; "
            "this message is filed as %s with %d URLs",
            message_id,
            sender,
            clash_with.reference,
            report.reference,
            report.url_count,
        )
    else:
        log.info("mailbox: %s from %r: filed as %s with %d URLs", ref, sender, report.reference, report.url_count)
    return Filing("reports", ref=ref, sender=sender, clash=clash_with is not None)


def _how(check: SenderCheck) -> str:
    return f"authenticated by {check.method}" if check.verified else f"not authenticated: {check.reason}"


def sender_allowed(address: str, allowed: Sequence[str]) -> bool:
    """Whether ``address`` is on the allow-list: equal to an entry, or in an ``@domain`` entry's domain.

    ``@partner.example`` allows ``a@partner.example`` but not ``a@sub.partner.example``. An empty
    list allows nobody.
    """
    address = address.strip().lower()
    if address.count("@") != 1 or len(address) > 254:
        return False
    return any(address.endswith(entry) if entry.startswith("@") else address == entry for entry in allowed)


def _url_digests(urls: Sequence[str]) -> set[str]:
    """The canonical-URL digests (`Case.url_sha256`) of the acceptable ``urls``."""
    digests = set()
    for url in urls:
        try:
            digests.add(normalise_url(url).sha256)
        except UrlRejected:
            continue
    return digests


def _clash_ref(ref: str, digests: set[str]) -> str:
    """The key of a message whose Message-ID ``ref`` an earlier message with other URLs has."""
    digest = hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()[:16]
    suffix = f" clash:{digest}"
    return ref[: MAX_REF_LENGTH - len(suffix)] + suffix
