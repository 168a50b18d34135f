"""What each retention rule changes: its steps, one per table (or per part of a table).

A step selects the rows whose time is up (``due``: a queryset given the rule's cutoff and the
current time) and changes one batch of them (``apply``: given the batch's ids, returns the rows
changed). ``apply`` runs ``UPDATE … WHERE id IN (batch) AND <still due>``, so a row that changed
meanwhile (a case reopened) is left alone, and a row already erased is never selected again: a
second run changes nothing. Nothing here touches a column the statistics read: states, times,
verdicts, channels, providers, countries and the events' kinds, times and other keys stay.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from axes.models import AccessAttempt, AccessLog
from django.contrib.sessions.models import Session
from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import SHA256, Concat

from accounts.models import AuditAction, AuditEntry
from accounts.retention import audit_addresses_clear, audit_entries_delete
from privacy.rules import RetentionKind
from reports.cases.services import events_redact
from reports.models import Assessment, Case, CaseState, Channel, Event, EventKind, IdempotencyKey, Report, ReportedUrl
from reports.urls import ERASED_URL_PREFIX
from routing.models import AvailabilityCheck, NoticeCase, NoticeMessage

# A closed case: neither new nor open. A reopened one (its content came back) is open again.
CLOSED = tuple(s for s in CaseState if s != CaseState.NEW and s not in CaseState.OPEN)
# What an erased reference starts with: the rest is the SHA-256 of what it was.
HASHED = ERASED_URL_PREFIX
LOGIN_ACTIONS = (
    AuditAction.LOGIN,
    AuditAction.LOGIN_FAILED,
    AuditAction.LOCKED_OUT,
    AuditAction.OTP_FAILED,
    AuditAction.LOGOUT,
)

Due = Callable[[datetime, datetime], QuerySet[Any]]


@dataclass(frozen=True)
class Step:
    kind: RetentionKind
    name: str  # what the page, the dry run and the audit entry call it: table and columns
    due: Due
    apply: Callable[[QuerySet[Any], Sequence[int]], int]


def _update(**values: Any) -> Callable[[QuerySet[Any], Sequence[int]], int]:
    def apply(due: QuerySet[Any], ids: Sequence[int]) -> int:
        return due.filter(pk__in=list(ids)).update(**values)

    return apply


def _delete(due: QuerySet[Any], ids: Sequence[int]) -> int:
    keys = list(due.filter(pk__in=list(ids)).values_list("pk", flat=True))
    deleted: int = due.model.objects.filter(pk__in=keys).delete()[0]
    return deleted


def _redact(**data: Any) -> Callable[[QuerySet[Any], Sequence[int]], int]:
    def apply(due: QuerySet[Any], ids: Sequence[int]) -> int:
        return events_redact(event_ids=list(ids), data=data)

    return apply


class Sha256(SHA256):
    """Django's SHA256 without pgcrypto: PostgreSQL 11 and later have ``sha256()`` built in."""

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="encode(sha256(convert_to(%(expressions)s, 'UTF8')), 'hex')", **extra
        )


def hashed(column: str) -> Any:
    """``sha256:`` and the SHA-256 of ``column`` (hex), computed in the database."""
    return Concat(Value(HASHED), Sha256(column))


def _case_marker() -> Any:
    return Concat(Value(ERASED_URL_PREFIX), F("url_sha256"))


def _link_marker() -> Any:
    sha = Subquery(Case.objects.filter(pk=OuterRef("case_id")).values("url_sha256")[:1])
    return Concat(Value(ERASED_URL_PREFIX), sha)


def _events(kinds: Sequence[str], key: str, cutoff: datetime, *, closed: bool = False) -> QuerySet[Any]:
    found = Event.objects.filter(kind__in=list(kinds), at__lt=cutoff, **{"data__has_key": key})
    found = found.exclude(**{f"data__{key}": ""})
    return found.filter(case__state__in=CLOSED) if closed else found


def _moved_targets(due: QuerySet[Any], ids: Sequence[int]) -> int:
    """A move's target URL, replaced by its SHA-256 (each its own, so not one statement)."""
    changed = 0
    for pk, data in due.filter(pk__in=list(ids)).values_list("pk", "data"):
        target = str(data.get("target", ""))
        changed += events_redact(event_ids=[pk], data={"target": HASHED + hashlib.sha256(target.encode()).hexdigest()})
    return changed


def _closed_cases(cutoff: datetime, via: str = "") -> Q:
    """Cases (or, with ``via``, rows of theirs: ``case__``) whose URL text is due: closed before the
    cutoff, last reported before it (a report names a case no later than its last report), and
    with no check left to make (the checker needs the URL)."""
    return Q(
        **{
            f"{via}state__in": CLOSED,
            f"{via}state_changed_at__lt": cutoff,
            f"{via}last_reported_at__lt": cutoff,
            f"{via}reappearance_checks": 0,
            f"{via}check_due_at__isnull": True,
        }
    )


K = RetentionKind
REPORTER_CHANNELS = (Channel.WEB_FORM, Channel.MAILBOX)
STEPS: tuple[Step, ...] = (
    # --- reporter contact data
    Step(
        K.REPORTER_CONTACT,
        "reports_report.reporter_email",
        lambda cut, now: Report.objects.filter(received_at__lt=cut).exclude(reporter_email=""),
        _update(reporter_email=""),
    ),
    Step(
        K.REPORTER_CONTACT,
        "reports_report.source",
        lambda cut, now: Report.objects.filter(received_at__lt=cut, channel__in=REPORTER_CHANNELS).exclude(source=""),
        _update(source=""),
    ),
    Step(
        K.REPORTER_CONTACT,
        "reports_report.acknowledgement_error",
        lambda cut, now: Report.objects.filter(received_at__lt=cut).exclude(acknowledgement_error=""),
        _update(acknowledgement_error=""),
    ),
    # --- report descriptions and external references
    Step(
        K.REPORT_TEXT,
        "reports_report.description",
        lambda cut, now: Report.objects.filter(received_at__lt=cut).exclude(description=""),
        _update(description=""),
    ),
    Step(
        K.REPORT_TEXT,
        "reports_report.external_ref",
        lambda cut, now: (
            Report.objects.filter(received_at__lt=cut).exclude(external_ref="").exclude(external_ref__startswith=HASHED)
        ),
        _update(external_ref=hashed("external_ref")),
    ),
    # --- free text written by staff, on closed cases
    Step(
        K.STAFF_TEXT,
        "reports_assessment.notes",
        lambda cut, now: Assessment.objects.filter(at__lt=cut, case__state__in=CLOSED).exclude(notes=""),
        _update(notes=""),
    ),
    Step(
        K.STAFF_TEXT,
        "routing_noticecase.dispute_note",
        lambda cut, now: NoticeCase.objects.filter(dispute_handled_at__lt=cut, case__state__in=CLOSED).exclude(
            dispute_note=""
        ),
        _update(dispute_note=""),
    ),
    Step(
        K.STAFF_TEXT,
        "routing_noticecase.drop_reason",
        lambda cut, now: NoticeCase.objects.filter(dropped_at__lt=cut, case__state__in=CLOSED).exclude(drop_reason=""),
        _update(drop_reason=""),
    ),
    Step(
        K.STAFF_TEXT,
        "reports_event.data.note",
        lambda cut, now: _events([EventKind.DISPUTE_HANDLED], "note", cut, closed=True),
        _redact(note=""),
    ),
    Step(
        K.STAFF_TEXT,
        "reports_event.data.reason (dropped)",
        lambda cut, now: _events([EventKind.NOTICE_DROPPED], "reason", cut, closed=True),
        _redact(reason=""),
    ),
    # --- replies, bounces and responses to notices
    Step(
        K.NOTICE_MESSAGES,
        "routing_noticemessage",
        lambda cut, now: NoticeMessage.objects.filter(received_at__lt=cut).exclude(
            sender="", subject="", excerpt="", failed_recipients=[]
        ),
        _update(sender="", subject="", excerpt="", failed_recipients=[]),
    ),
    Step(
        K.NOTICE_MESSAGES,
        "routing_noticecase.response_reason",
        lambda cut, now: NoticeCase.objects.filter(responded_at__lt=cut).exclude(response_reason=""),
        _update(response_reason=""),
    ),
    Step(
        K.NOTICE_MESSAGES,
        "reports_event.data.sender",
        lambda cut, now: _events([EventKind.NOTICE_REPLY, EventKind.NOTICE_BOUNCED], "sender", cut),
        _redact(sender="", subject="", failed_recipients=[]),
    ),
    Step(
        K.NOTICE_MESSAGES,
        "reports_event.data.reason (responses)",
        lambda cut, now: _events([EventKind.PROVIDER_RESPONDED, EventKind.DISPUTE_HANDLED], "reason", cut),
        _redact(reason=""),
    ),
    # --- the URL text of closed cases
    Step(
        K.CLOSED_CASE_URLS,
        "reports_case.canonical_url, original_url",
        lambda cut, now: Case.objects.filter(_closed_cases(cut)).exclude(canonical_url__startswith=ERASED_URL_PREFIX),
        _update(canonical_url=_case_marker(), original_url=_case_marker()),
    ),
    Step(
        K.CLOSED_CASE_URLS,
        "reports_reportedurl.original_url",
        lambda cut, now: ReportedUrl.objects.filter(_closed_cases(cut, "case__")).exclude(
            original_url__startswith=ERASED_URL_PREFIX
        ),
        _update(original_url=_link_marker()),
    ),
    Step(
        K.CLOSED_CASE_URLS,
        "routing_availabilitycheck.redirect_to",
        lambda cut, now: AvailabilityCheck.objects.filter(_closed_cases(cut, "case__")).exclude(redirect_to=""),
        _update(redirect_to=""),
    ),
    Step(
        K.CLOSED_CASE_URLS,
        "reports_event.data.target",
        lambda cut, now: Event.objects.filter(_closed_cases(cut, "case__"), kind=EventKind.MOVED).exclude(
            data__target__startswith=HASHED
        ),
        _moved_targets,
    ),
    # --- logins and the audit trail
    Step(
        K.LOGIN_RECORDS,
        "accounts_auditentry (logins)",
        lambda cut, now: AuditEntry.objects.filter(at__lt=cut, action__in=LOGIN_ACTIONS),
        lambda due, ids: audit_entries_delete(ids=list(due.filter(pk__in=list(ids)).values_list("pk", flat=True))),
    ),
    Step(
        K.LOGIN_RECORDS,
        "accounts_auditentry.ip_address",
        lambda cut, now: AuditEntry.objects.filter(at__lt=cut, ip_address__isnull=False).exclude(
            action__in=LOGIN_ACTIONS
        ),
        lambda due, ids: audit_addresses_clear(ids=list(due.filter(pk__in=list(ids)).values_list("pk", flat=True))),
    ),
    Step(
        K.LOGIN_RECORDS,
        "axes_accesslog",
        lambda cut, now: AccessLog.objects.filter(attempt_time__lt=cut),
        _delete,
    ),
    Step(
        K.LOGIN_RECORDS,
        "axes_accessattempt",
        lambda cut, now: AccessAttempt.objects.filter(attempt_time__lt=cut),
        _delete,
    ),
    Step(
        K.LOGIN_RECORDS,
        "django_session (expired)",
        lambda cut, now: Session.objects.filter(expire_date__lt=now),
        _delete,
    ),
    Step(
        K.AUDIT_RECORDS,
        "accounts_auditentry",
        lambda cut, now: AuditEntry.objects.filter(at__lt=cut),
        lambda due, ids: audit_entries_delete(ids=list(due.filter(pk__in=list(ids)).values_list("pk", flat=True))),
    ),
    Step(
        K.IDEMPOTENCY_KEYS,
        "reports_idempotencykey",
        lambda cut, now: IdempotencyKey.objects.filter(created_at__lt=cut),
        _delete,
    ),
)


def steps_of(kind: str) -> list[Step]:
    return [step for step in STEPS if step.kind.value == kind]
