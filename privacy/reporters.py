"""A person's right of access and erasure (GDPR Art. 15 and 17): everything scart holds that is
tied to one e-mail address, as a JSON document, and its erasure.

Tied to an address: the reports it sent (the web form's or the API's ``reporter_email``, a mailbox
report's sender) with what they said and the URLs as that person typed them, and the replies and
bounces to notices it sent (a provider's employee) with their events. Erasing clears the address,
the description, a refused acknowledgement's error and the mailbox Message-ID (replaced by its
SHA-256), and the replies' sender, subject and text. The URLs stay: once the address is gone they
name no one, and the cases, their timelines and the statistics need them. Every export and
erasure is recorded in the audit trail with a keyed hash of the address (`reporter_hash`), never
the address: the record shows that it was done, and for whom to anyone who is given the address.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.crypto import salted_hmac

from accounts.models import AuditAction, AuditEntry
from accounts.services import AuditContext, audit_record
from privacy.steps import HASHED, hashed
from reports.cases.services import events_redact
from reports.models import Channel, Event, EventKind, Report, ReportedUrl
from routing.models import NoticeMessage
from scart.times import iso, iso_or_none

MAILBOX_SENDERS = (Channel.MAILBOX, Channel.WEB_FORM)
MESSAGE_EVENTS = (EventKind.NOTICE_REPLY, EventKind.NOTICE_BOUNCED)


def reporter_hash(email: str) -> str:
    """A keyed hash (HMAC with ``SECRET_KEY``) of the address as typed, less case and spaces."""
    return salted_hmac("scart.privacy.reporter", email.strip().lower(), algorithm="sha256").hexdigest()


@dataclass(frozen=True)
class ReporterReport:
    reference: str
    channel: str
    received_at: str
    reporter_email: str
    sender: str
    description: str
    external_ref: str
    urls: list[str]
    cases: list[int]


@dataclass(frozen=True)
class ReporterMessage:
    notice: str
    kind: str
    received_at: str
    sender: str
    subject: str
    excerpt: str


@dataclass
class ReporterData:
    email_hash: str
    reports: list[ReporterReport] = field(default_factory=list)
    messages: list[ReporterMessage] = field(default_factory=list)
    events: int = 0
    # Earlier exports and erasures for this address (from the audit trail, by its hash).
    history: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.reports and not self.messages and not self.events

    def as_json(self) -> dict[str, Any]:
        return {
            "reports": [asdict(r) for r in self.reports],
            "notice_messages": [asdict(m) for m in self.messages],
            "timeline_entries_naming_the_address": self.events,
        }


def _reports(email: str) -> QuerySet[Report]:
    return Report.objects.filter(Q(reporter_email__iexact=email) | Q(channel__in=MAILBOX_SENDERS, source__iexact=email))


def _messages(email: str) -> QuerySet[NoticeMessage]:
    return NoticeMessage.objects.filter(sender__iexact=email)


def _events(email: str) -> QuerySet[Event]:
    return Event.objects.filter(kind__in=MESSAGE_EVENTS, data__sender__iexact=email)


def reporter_data(*, email: str) -> ReporterData:
    """Everything tied to ``email`` (a read: the export and the page record the access)."""
    email = email.strip()
    found = ReporterData(email_hash=reporter_hash(email))
    if not email:
        return found
    reports = list(_reports(email).order_by("received_at", "id"))
    links: dict[int, list[tuple[str, int]]] = {}
    for report_id, url, case_id in ReportedUrl.objects.filter(report__in=reports).values_list(
        "report_id", "original_url", "case_id"
    ):
        links.setdefault(report_id, []).append((url, case_id))
    for r in reports:
        found.reports.append(
            ReporterReport(
                reference=r.reference,
                channel=r.channel,
                received_at=iso(r.received_at),
                reporter_email=r.reporter_email,
                sender=r.source if r.channel in MAILBOX_SENDERS else "",
                description=r.description,
                external_ref=r.external_ref,
                urls=[u for u, _ in links.get(r.pk, [])],
                cases=sorted({c for _, c in links.get(r.pk, [])}),
            )
        )
    for m in _messages(email).select_related("notice").order_by("received_at", "id"):
        found.messages.append(
            ReporterMessage(m.notice.reference, m.kind, iso(m.received_at), m.sender, m.subject, m.excerpt)
        )
    found.events = _events(email).count()
    found.history = [
        (iso_or_none(at) or "", str(AuditAction(action).label))
        for at, action in AuditEntry.objects.filter(
            object_type="privacy.reporter", object_id=found.email_hash[:64]
        ).values_list("at", "action")
    ]
    return found


def reporter_export(*, email: str, audit: AuditContext | None = None) -> dict[str, Any]:
    """The JSON a person gets for their right of access; its export is recorded."""
    data = reporter_data(email=email)
    audit_record(
        action=AuditAction.REPORTER_DATA_EXPORTED,
        audit=audit,
        object_type="privacy.reporter",
        object_id=data.email_hash[:64],
        summary="a reporter's data exported",
        data={"email_hmac": data.email_hash, "reports": len(data.reports), "messages": len(data.messages)},
    )
    return {"email_hmac": data.email_hash, **data.as_json()}


def reporter_erase(*, email: str, audit: AuditContext | None = None) -> dict[str, int]:
    """Erase everything tied to ``email``; returns the counts (also in the audit entry)."""
    email = email.strip()
    if not email:
        return {"reports": 0, "messages": 0, "events": 0}
    with transaction.atomic():
        report_ids = list(_reports(email).values_list("pk", flat=True))
        reports = Report.objects.filter(pk__in=report_ids)
        reports.update(reporter_email="", description="", acknowledgement_error="")
        reports.filter(channel__in=MAILBOX_SENDERS).update(source="")
        # A mailbox report's reference is the message's Message-ID: hashed, it stays unique.
        reports.filter(channel=Channel.MAILBOX).exclude(external_ref="").exclude(
            external_ref__startswith=HASHED
        ).update(external_ref=hashed("external_ref"))
        messages = _messages(email).update(sender="", subject="", excerpt="", failed_recipients=[])
        events = events_redact(
            event_ids=list(_events(email).values_list("pk", flat=True)),
            data={"sender": "", "subject": "", "failed_recipients": []},
        )
        counts = {"reports": len(report_ids), "messages": messages, "events": events}
        key = reporter_hash(email)
        audit_record(
            action=AuditAction.REPORTER_DATA_ERASED,
            audit=audit,
            object_type="privacy.reporter",
            object_id=key[:64],
            summary=f"a reporter's data erased: {counts['reports']} reports, {counts['messages']} messages",
            data={"email_hmac": key, **counts},
        )
    return counts
