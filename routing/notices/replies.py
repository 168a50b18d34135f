"""Replies and delivery-failure reports (bounces) to notices, as they arrive in the intake mailbox.

`notice_message_file` tells whether a message is about a notice and files it as a `NoticeMessage`
(reading the message, and matching it to its notice, is `routing.notices.reply_parsing`):

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

Each bounce, delay report and reply also counts for the notice's addresses (`ContactStats`,
`routing.notices.contacts`): hard and soft bounces (only those carrying the notice's Message-ID),
replies by people and the notice's first reaction.

Filing is idempotent per Message-ID (or ``sha256:`` of the message for one without): a message
filed before returns its first record and changes nothing.

Who sent it (docs/mailbox.md#authenticated-senders): anyone can write a provider's address into
From, and a subject reference or a Message-ID in In-Reply-To proves nothing about the sender. So a
reply counts only when the mailbox says its sender is authenticated (``authenticated``: DMARC or
an aligned DKIM pass, `reports.mailauth`). A bounce counts when it is authenticated, or when it
carries the Message-ID of the notice (random: only the recipients and the mail servers on the way
saw it, as they would a VERP address), since mailer daemons often sign nothing. Anything else that
matches a notice is stored as ``unverified``: the analysts see it on the notice, marked; it writes
no event, changes no notice or case, flags no contact, and nobody outside the hotline sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from reports.cases.services import Actor
from reports.mailtext import message_text
from reports.models import EventKind
from routing.models import Notice, NoticeMessage, NoticeState
from routing.notices.contacts import contacts_bounce_record, contacts_reaction
from routing.notices.recording import contact_flag, notice_cases_event
from routing.notices.reply_parsing import (
    DELAY_SUBJECT,
    DeliveryReport,
    bounced_notice,
    delivery_report,
    is_auto_reply,
    message_key,
    message_sender,
    message_subject,
    replied_notice,
)
from routing.notices.states import notice_transition

log = logging.getLogger(__name__)

EXCERPT_LENGTH = 2000
MAX_KEY_LENGTH = 255
MAX_SUBJECT_LENGTH = 500
MAX_SENDER_LENGTH = 254

# Notices in these states went out: a bounce makes them failed.
_WENT_OUT = (NoticeState.SENT, NoticeState.UNKNOWN)


def notice_message_file(
    message: EmailMessage, *, authenticated: bool, received_at: datetime | None = None, message_id: str = ""
) -> NoticeMessage | None:
    """File ``message`` as a reply or bounce to a notice, or return None when it is about none.

    ``authenticated``: its From address is authenticated (see the module docstring for what an
    unauthenticated one may still do). ``message_id`` is the key it is filed under; by default the
    message's Message-ID, else the SHA-256 of its bytes. A message filed before returns the record
    filed then.
    """
    key = (message_id or message_key(message))[:MAX_KEY_LENGTH]
    existing = NoticeMessage.objects.filter(message_id=key).select_related("notice").first()
    if existing is not None:
        return existing
    received_at = received_at or timezone.now()
    report = delivery_report(message)
    if report is not None:
        return _file_report(message, report, key=key, received_at=received_at, authenticated=authenticated)
    notice = replied_notice(message)
    if notice is None:
        return None
    data: dict[str, Any] = {"automatic": True} if is_auto_reply(message) else {}
    return _store(
        message,
        notice,
        kind=NoticeMessage.Kind.REPLY,
        key=key,
        received_at=received_at,
        data=data,
        unverified=not authenticated,
    )


def _file_report(
    message: EmailMessage, report: DeliveryReport, *, key: str, received_at: datetime, authenticated: bool
) -> NoticeMessage | None:
    notice, by_message_id = bounced_notice(message, report)
    if notice is None:
        return None
    if not (authenticated or by_message_id):
        # Matched by its guessable reference alone, from a sender nobody vouches for.
        failure = bool(report.failed) if report.standard else not DELAY_SUBJECT.search(message_subject(message))
        kind = NoticeMessage.Kind.BOUNCE if failure else NoticeMessage.Kind.REPLY
        return _store(
            message, notice, kind=kind, key=key, received_at=received_at, data={}, failed=report.failed, unverified=True
        )
    if report.standard:
        failed, failure = report.failed, bool(report.failed)
    else:
        # A mailer daemon's own words: a failure unless it warns of a delay; the failed recipients
        # are those of X-Failed-Recipients, else the notice's addresses its text names.
        if not report.actions:
            text = message_text(message).lower()
            report.actions = {a.lower(): "failed" for a in notice.emails or [] if a.lower() in text}
        failure = not DELAY_SUBJECT.search(message_subject(message))
        failed = report.failed if failure else []
    if not failure:
        actions = sorted(set(report.actions.values())) if report.standard else ["delayed"]
        delayed = [a for a, action in report.actions.items() if action == "delayed"] if by_message_id else []
        return _store(
            message,
            notice,
            kind=NoticeMessage.Kind.REPLY,
            key=key,
            received_at=received_at,
            data={"delivery_status": ",".join(actions) or "unknown"},
            delayed=delayed,
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
        # Only a report with the notice's own Message-ID counts against its addresses.
        diagnostics={a: report.diagnostics.get(a, "") for a in failed} if by_message_id else None,
    )


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
    unverified: bool = False,
    diagnostics: dict[str, str] | None = None,
    delayed: Sequence[str] = (),
) -> NoticeMessage:
    sender = message_sender(message)[:MAX_SENDER_LENGTH]
    subject = message_subject(message)[:MAX_SUBJECT_LENGTH]
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
                unverified=unverified,
            )
            if unverified:
                # Kept for the analysts to read, and nothing more (no contact figure either): see
                # the module docstring.
                log.info("notice %s: unverified %s from %r filed; it changes nothing", notice.reference, kind, sender)
                return record
            if diagnostics is not None or delayed:
                contacts_bounce_record(
                    notice=notice, failures=diagnostics or {}, delayed=delayed, at=received_at, record=record
                )
            elif not bounce and "delivery_status" not in data:
                contacts_reaction(notice=notice, at=received_at, sender=sender, human=not data.get("automatic"))
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
                contact_flag(notice=notice, reason=error, now=timezone.now(), counted=diagnostics is not None)
            notice_cases_event(
                notice,
                kind=EventKind.NOTICE_BOUNCED if bounce else EventKind.NOTICE_REPLY,
                at=received_at,
                data={"notice": notice.reference, "sender": sender, "subject": subject, **data},
                actor=Actor.system(),
            )
    except IntegrityError:
        # Another poll filed the same message in the meantime.
        return NoticeMessage.objects.select_related("notice").get(message_id=key)
    log.info("notice %s: %s from %r filed", notice.reference, kind, sender)
    return record
