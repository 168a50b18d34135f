"""Replies and delivery-failure reports (bounces) to notices, as they arrive in the intake mailbox.

`notice_message_file` tells whether a message is about a notice and files it as a `NoticeMessage`:

- A **bounce** is a delivery-status report (RFC 3464 ``multipart/report;
  report-type=delivery-status``, or its RFC 6533 ``global-delivery-status`` form), or a message
  from ``MAILER-DAEMON`` (or from ``postmaster`` with a subject or header saying delivery failed:
  a postmaster may be a person answering) that carries the original message
  (``message/rfc822``, ``text/rfc822-headers``) or quotes it in its text (qmail, older Exim).
  It is matched to a notice
  by the original's Message-ID (from the original's headers, an ``Original-Message-ID`` header, or
  the bounce's own In-Reply-To/References), else by the notice reference in the original's
  ``X-Scart-Reference`` header or subject. References are numbered by day and easy to guess, so a
  match by reference alone counts only when the report names one of the notice's addresses as a
  recipient. The failed recipients are the ``Action: failed`` recipients of the delivery-status
  part; a mailer daemon's report without one fails the notice unless its subject warns of a
  delay, and names as failed the ``X-Failed-Recipients`` (Exim), else the notice's addresses its
  text mentions.
- A report with a failure is stored as a ``bounce``: a sent notice (or an ``unknown`` one, which
  the bounce shows did go out) becomes ``failed`` with the diagnostic as ``last_error``, the
  provider's contact is flagged (`contact_flag`, once: when the bounce fails the notice), and
  every case of the notice gets a ``notice_bounced`` event. A notice still queued or sending is
  left to its sender. Reports that fail nothing (``delayed``, ``delivered``, ``relayed``,
  ``expanded``) are stored as ``reply``-kind information with a ``notice_reply`` event saying
  ``delivery_status``: the analysts see that the mail is slow, and nothing about the notice
  changes. They are filed rather than ignored so that a report quoting a notice's URLs can
  never become a new report.
- A **reply** names a notice's Message-ID in In-Reply-To or References (Message-IDs are random and
  cannot be guessed), or has ``[SCART-YYYYMMDD-NNNNNN]`` of a sent notice in its subject and comes
  from one of the notice's addresses, or from an address in (a subdomain of) one of their domains.
  It is stored as a ``reply`` with the sender, the subject and the first
  `EXCERPT_LENGTH` characters of its text (`reports.mailtext.message_text`: attachments are never
  opened), and every case of the notice gets a ``notice_reply`` event naming the notice, the
  sender and the subject; the excerpt stays on the message. Auto-replies (``Auto-Submitted``
  other than ``no``, out-of-office markers) are replies marked ``automatic``, never bounces:
  only a delivery-status report or a mailer daemon's message carrying the original is a bounce.

Filing is idempotent per Message-ID (or ``sha256:`` of the message for one without): a message
filed before returns its first record and changes nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from reports.mailtext import message_text
from reports.models import Event, EventKind
from reports.services import Actor
from routing.models import Notice, NoticeCase, NoticeMessage, NoticeState
from routing.notices.recording import contact_flag
from routing.notices.states import notice_transition

log = logging.getLogger(__name__)

EXCERPT_LENGTH = 2000
MAX_KEY_LENGTH = 255
MAX_SUBJECT_LENGTH = 500
MAX_SENDER_LENGTH = 254

REFERENCE = re.compile(r"SCART-\d{8}-\d{6}")
_BRACKETED_REFERENCE = re.compile(r"\[(SCART-\d{8}-\d{6})\]")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# A Message-ID header line in an original quoted inline in a bounce's text.
_INLINE_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
# Subjects of reports of a failed delivery, as common mail systems word them.
_FAILURE_SUBJECT = re.compile(
    r"undeliver|non-?deliver|not (be )?delivered|delivery (status|fail|failure|problem|report|notification)"
    r"|failure notice|returned (mail|to sender)|returning message|mail delivery failed",
    re.IGNORECASE,
)
_ORIGINAL_TYPES = frozenset({"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers"})
_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_REPORT_TYPES = frozenset({"delivery-status", "global-delivery-status"})
# Subjects of non-standard reports that warn of a delay rather than report a failure.
_DELAY_SUBJECT = re.compile(r"\b(delay(ed)?|deferred|warning|not yet been delivered|still trying)\b", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesend)\b", re.I)
# Notices in these states went out: a bounce makes them failed.
_WENT_OUT = (NoticeState.SENT, NoticeState.UNKNOWN)


@dataclass
class DeliveryReport:
    """What a bounce says: the recipients and their actions, and where the original is."""

    standard: bool  # it has a delivery-status part
    actions: dict[str, str] = field(default_factory=dict)  # recipient address -> action
    diagnostics: dict[str, str] = field(default_factory=dict)  # recipient -> status and diagnostic
    original: Message | None = None
    status_fields: list[Message] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [address for address, action in self.actions.items() if action == "failed"]


def notice_message_file(
    message: EmailMessage, *, received_at: datetime | None = None, message_id: str = ""
) -> NoticeMessage | None:
    """File ``message`` as a reply or bounce to a notice, or return None when it is about none.

    ``message_id`` is the key it is filed under; by default the message's Message-ID, else the
    SHA-256 of its bytes. A message filed before returns the record filed then.
    """
    key = (message_id or _message_key(message))[:MAX_KEY_LENGTH]
    existing = NoticeMessage.objects.filter(message_id=key).select_related("notice").first()
    if existing is not None:
        return existing
    received_at = received_at or timezone.now()
    report = delivery_report(message)
    if report is not None:
        return _file_report(message, report, key=key, received_at=received_at)
    notice = _replied_notice(message)
    if notice is None:
        return None
    data: dict[str, Any] = {"automatic": True} if is_auto_reply(message) else {}
    return _store(message, notice, kind=NoticeMessage.Kind.REPLY, key=key, received_at=received_at, data=data)


def delivery_report(message: EmailMessage) -> DeliveryReport | None:
    """The delivery report ``message`` is, or None when it is not one (an auto-reply is not)."""
    status_parts = [p for p in _parts(message) if p.get_content_type() in _STATUS_TYPES]
    originals = [p for p in _parts(message) if p.get_content_type() in _ORIGINAL_TYPES]
    is_report = message.get_content_type() == "multipart/report" and (
        str(message.get_param("report-type", "")).lower() in _REPORT_TYPES
    )
    if not is_report and not (_from_daemon(message) and (status_parts or originals or _inline_message_ids(message))):
        return None
    report = DeliveryReport(standard=bool(status_parts))
    for part in status_parts:
        _read_status(part, report)
    if originals:
        report.original = _original_headers(originals[0])
    if not report.standard:
        for address in _failed_header(message):
            report.actions[address] = "failed"
    return report


def is_auto_reply(message: EmailMessage) -> bool:
    """Whether ``message`` says it was sent by a machine (RFC 3834 and common vendor markers)."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond") or message.get("X-Autoresponder"):
        return True
    if str(message.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(_subject(message)))


# -- bounces -----------------------------------------------------------------------------------


def _file_report(
    message: EmailMessage, report: DeliveryReport, *, key: str, received_at: datetime
) -> NoticeMessage | None:
    notice, by_message_id = _bounced_notice(message, report)
    if notice is None:
        return None
    if report.standard:
        failed, failure = report.failed, bool(report.failed)
    else:
        # A mailer daemon's own words: a failure unless it warns of a delay; the failed recipients
        # are those of X-Failed-Recipients, else the notice's addresses its text names.
        if not report.actions:
            text = message_text(message).lower()
            report.actions = {a.lower(): "failed" for a in notice.emails or [] if a.lower() in text}
        failure = not _DELAY_SUBJECT.search(_subject(message))
        failed = report.failed if failure else []
    if not failure:
        actions = sorted(set(report.actions.values())) if report.standard else ["delayed"]
        return _store(
            message,
            notice,
            kind=NoticeMessage.Kind.REPLY,
            key=key,
            received_at=received_at,
            data={"delivery_status": ",".join(actions) or "unknown"},
        )
    error = "bounced: " + (
        "; ".join(
            f"{address}: {report.diagnostics[address]}" if report.diagnostics.get(address) else address
            for address in failed
        )
        or "the delivery report names no recipient"
    )
    # Only a report that carries the notice's own Message-ID (random, unlike the reference) and
    # says every address of the notice failed fails it and flags the contact; the others are
    # kept as information for the analysts (a forged report, one address of several).
    every = {e.lower() for e in notice.emails or []} <= {f.lower() for f in failed}
    decisive = by_message_id and every
    return _store(
        message,
        notice,
        kind=NoticeMessage.Kind.BOUNCE,
        key=key,
        received_at=received_at,
        data={"failed_recipients": failed, **({} if decisive else {"information_only": True})},
        failed=failed,
        error=error if decisive else "",
    )


def _bounced_notice(message: EmailMessage, report: DeliveryReport) -> tuple[Notice | None, bool]:
    """The notice the report is about: by the original's Message-ID (True), else by its
    reference (False)."""
    ids: list[str] = []
    original = report.original
    if original is not None:
        ids += _ids(original.get("Message-ID"))
    for header in ("Original-Message-ID", "X-Original-Message-ID"):
        ids += _ids(message.get(header))
        for block in report.status_fields:
            ids += _ids(block.get(header))
    ids += _ids(message.get("In-Reply-To")) + _ids(message.get("References"))
    if not report.standard and original is None:
        ids += _inline_message_ids(message)
    notice = _notice_by_message_id(ids)
    if notice is not None:
        return notice, True

    references: list[str] = []
    if original is not None:
        references += REFERENCE.findall(str(original.get("X-Scart-Reference", "")))
        references += REFERENCE.findall(_subject(original))
    references += _BRACKETED_REFERENCE.findall(_subject(message))
    named = set(report.actions)
    for reference in dict.fromkeys(references):
        notice = Notice.objects.filter(reference=reference).exclude(message_id="").first()
        # A reference is easy to guess: it counts only for a report about the notice's addresses.
        if notice is not None and named & {e.lower() for e in notice.emails or []}:
            return notice, False
    return None, False


def _read_status(part: Message, report: DeliveryReport) -> None:
    """The per-recipient blocks of a delivery-status part (the first block is per message)."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        # A status the parser did not split (sent with a transfer encoding): read it as header blocks.
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
        blocks = [HeaderParser(policy=policy.default).parsestr(chunk) for chunk in re.split(r"\r?\n\s*\r?\n", text)]
    for block in blocks:
        if not isinstance(block, Message):
            continue
        report.status_fields.append(block)
        recipient = _status_address(block.get("Final-Recipient")) or _status_address(block.get("Original-Recipient"))
        action = str(block.get("Action", "")).strip().lower()
        if not recipient or not action:
            continue
        # A recipient listed twice keeps its worst news.
        if report.actions.get(recipient) != "failed":
            report.actions[recipient] = action
        detail = " ".join(
            " ".join(str(block.get(name, "")).split()) for name in ("Status", "Diagnostic-Code") if block.get(name)
        )
        if detail:
            report.diagnostics[recipient] = detail[:500]


def _status_address(value: object) -> str:
    """The address of a ``Final-Recipient: rfc822; a@b`` field, lower case."""
    text = " ".join(str(value or "").split())
    if ";" in text:
        text = text.split(";", 1)[1]
    address = parseaddr(text.strip())[1] or text.strip().strip("<>")
    return address.lower() if "@" in address else ""


def _failed_header(message: EmailMessage) -> list[str]:
    """Exim's ``X-Failed-Recipients`` header."""
    values = [str(v) for v in message.get_all("X-Failed-Recipients", [])]
    return [address.lower() for _name, address in getaddresses(values) if "@" in address]


def _original_headers(part: Message) -> Message | None:
    if part.get_content_maintype() == "message":
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        return None
    # text/rfc822-headers: only the headers of the original, as text.
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())
    return HeaderParser(policy=policy.default).parsestr(text, headersonly=True)


def _inline_message_ids(message: EmailMessage) -> list[str]:
    """Message-IDs of an original a bounce quotes in its text (qmail, older Exim)."""
    return _INLINE_MESSAGE_ID.findall(message_text(message))


# -- replies -----------------------------------------------------------------------------------


def _replied_notice(message: EmailMessage) -> Notice | None:
    """The notice a reply answers: by In-Reply-To, then References (newest first), then subject."""
    ids = _ids(message.get("In-Reply-To")) + list(reversed(_ids(message.get("References"))))
    notice = _notice_by_message_id(ids)
    if notice is not None:
        return notice
    sender = _sender(message)
    if "@" not in sender:
        return None
    for reference in dict.fromkeys(_BRACKETED_REFERENCE.findall(_subject(message))):
        notice = Notice.objects.filter(reference=reference).exclude(message_id="").first()
        if notice is not None and sender_is_recipient(sender, notice.emails or []):
            return notice
    return None


def sender_is_recipient(sender: str, emails: Sequence[str]) -> bool:
    """Whether ``sender`` is one of ``emails``, or in the domain (or a subdomain) of one of them."""
    sender = sender.strip().lower()
    domain = sender.rsplit("@", 1)[-1]
    for email in emails:
        email = email.strip().lower()
        theirs = email.rsplit("@", 1)[-1]
        if sender == email or domain == theirs or domain.endswith("." + theirs):
            return True
    return False


# -- storing -----------------------------------------------------------------------------------


def _store(
    message: EmailMessage,
    notice: Notice,
    *,
    kind: str,
    key: str,
    received_at: datetime,
    data: dict[str, Any],
    failed: Sequence[str] = (),
    error: str = "",
) -> NoticeMessage:
    sender = _sender(message)[:MAX_SENDER_LENGTH]
    subject = _subject(message)[:MAX_SUBJECT_LENGTH]
    bounce = kind == NoticeMessage.Kind.BOUNCE
    try:
        with transaction.atomic():
            record = NoticeMessage.objects.create(
                notice=notice,
                kind=kind,
                received_at=received_at,
                sender=sender,
                subject=subject,
                message_id=key,
                excerpt=message_text(message).strip()[:EXCERPT_LENGTH],
                failed_recipients=list(failed),
            )
            if (
                bounce
                and error
                and notice_transition(
                    notice=notice,
                    to=NoticeState.FAILED,
                    expected_from=_WENT_OUT,
                    reason=error,
                    claimed_until=None,
                )
            ):
                # Flag once, when the bounce fails the notice; later bounces of it only add events.
                contact_flag(notice=notice, reason=error, now=timezone.now())
            case_ids = NoticeCase.objects.filter(notice=notice, dropped_at__isnull=True).values_list(
                "case_id", flat=True
            )
            Event.objects.bulk_create(
                Event(
                    case_id=pk,
                    kind=EventKind.NOTICE_BOUNCED if bounce else EventKind.NOTICE_REPLY,
                    at=received_at,
                    data={"notice": notice.reference, "sender": sender, "subject": subject, **data},
                    **Actor.system().event_fields(),
                )
                for pk in case_ids
            )
    except IntegrityError:
        # Another poll filed the same message in the meantime.
        return NoticeMessage.objects.select_related("notice").get(message_id=key)
    log.info("notice %s: %s from %r filed", notice.reference, kind, sender)
    return record


# -- reading messages --------------------------------------------------------------------------


def _message_key(message: EmailMessage) -> str:
    message_id = " ".join(str(message.get("Message-ID", "")).split())
    return message_id or f"sha256:{hashlib.sha256(message.as_bytes()).hexdigest()}"


def _parts(part: Message) -> Iterator[Message]:
    """The leaves of ``part``'s multipart tree; forwarded messages are not entered."""
    if part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else []:
            if isinstance(child, Message):
                yield from _parts(child)
    else:
        yield part


def _ids(value: object) -> list[str]:
    return _MESSAGE_ID.findall(str(value or ""))


def _notice_by_message_id(ids: Sequence[str]) -> Notice | None:
    """The notice with the first of ``ids`` that is a notice's Message-ID."""
    if not ids:
        return None
    found = {n.message_id: n for n in Notice.objects.filter(message_id__in=list(dict.fromkeys(ids)))}
    return next((found[i] for i in ids if i in found), None)


def _sender(message: Message) -> str:
    return parseaddr(str(message.get("From", "")))[1].strip().lower()


def _from_daemon(message: EmailMessage) -> bool:
    """Sent by a mail system: MAILER-DAEMON always is; a postmaster may be a person answering, so
    their message must also say it reports a failure."""
    local = _sender(message).split("@", 1)[0]
    if local == "mailer-daemon":
        return True
    return local == "postmaster" and bool(
        message.get("X-Failed-Recipients") or _FAILURE_SUBJECT.search(_subject(message))
    )


def _subject(message: Message) -> str:
    return " ".join(str(message.get("Subject", "")).split())
