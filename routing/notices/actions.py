"""A senior analyst's actions on one notice: send it now, cancel it, escalate its cases now, or
give it another recipient. (Sending a failed or unknown notice again and confirming that one left
are in `routing.notices.responses`.)

Each action checks the notice's state against the transition table (`routing.notices.states`) in
the same conditional statement that changes it, so a notice a sender took meanwhile is left alone
and the person is told (`NoticeNotHandled`); each writes an audit entry in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from reports.cases.services import Actor
from reports.models import CaseState, EventKind
from routing.models import Notice, NoticeCase, NoticeKind, NoticeState, PartnerHotline, Provider
from routing.notices.ladder import cases_plan_ladder
from routing.notices.recording import notice_cases_event
from routing.notices.responses import RESENDABLE, NoticeNotHandled, notice_requeue
from routing.notices.sending import SendSummary, notices_send_due
from routing.notices.states import notice_sources, notices_transition
from scart.times import iso_or_none

# The states in which a notice may be given another recipient: before it went out, or after it
# failed or stopped (it is then queued again for the new address).
RECIPIENT_CHANGEABLE = (NoticeState.QUEUED, *RESENDABLE, NoticeState.BY_HAND)
# Notices whose cases a senior may escalate at once: the ones to the hosting side that went out.
ESCALATABLE_KINDS = (NoticeKind.PROVIDER, NoticeKind.REMINDER)
REASON_MAX = 500


class ActionInvalid(ValueError):
    """What the senior gave is not enough: no reason to cancel, no recipient, or not an address."""


@dataclass(frozen=True)
class KnownContact:
    """An address scart already knows, offered when a senior changes a notice's recipient."""

    key: str  # what the form posts
    name: str  # who it is
    email: str
    source: str  # in words: where scart has it from


def _unclaimed(now: Any) -> Q:
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def notice_send_now(*, notice: Notice, user: Any, audit: AuditContext | None = None) -> SendSummary:
    """Send a queued notice at once, without waiting for its batch window or its next retry:
    no more cases join it, and this process sends it (re-resolving its cases first, as for any
    notice). Raises `NoticeNotHandled` unless it is queued and no sender holds it."""
    now = timezone.now()
    sources = notice_sources(to=NoticeState.SENDING, expected_from=[NoticeState.QUEUED])
    with transaction.atomic():
        rows = Notice.objects.filter(_unclaimed(now), pk=notice.pk, state__in=sources)
        if not rows.filter(items__dropped_at__isnull=True).update(due_at=now, open=False, handled_by=user):
            raise NoticeNotHandled("only a queued notice with cases, that no sender holds, can be sent now")
        audit_record(
            action=AuditAction.NOTICE_SENT_NOW,
            actor=user,
            audit=audit,
            obj=notice,
            summary=f"sent notice {notice.reference} at once",
            data={"due_at": iso_or_none(notice.due_at)},
        )
    summary = notices_send_due(now=now, flush=True, notice_ids=[notice.pk])
    notice.refresh_from_db()
    return summary


def notice_cancel(*, notice: Notice, user: Any, reason: str, audit: AuditContext | None = None) -> Notice:
    """Cancel a queued notice: it never goes out, and its cases are taken out of it with
    ``reason`` (each gets a ``notice_dropped`` event). They are not planned again here: a new
    verdict, a change of provider or contact, or the planner's next look at them does that.
    Raises `NoticeNotHandled` unless it is queued and no sender holds it, `ActionInvalid`
    without a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ActionInvalid("say why the notice is cancelled")
    now = timezone.now()
    words = f"cancelled by {user.get_username()}: {reason[:REASON_MAX]}"
    with transaction.atomic():
        changed = notices_transition(
            notices=Notice.objects.filter(_unclaimed(now), pk=notice.pk),
            to=NoticeState.CANCELLED,
            expected_from=[NoticeState.QUEUED],
            reason=words,
            handled_by=user,
            open=False,
            claimed_until=None,
        )
        if not changed:
            raise NoticeNotHandled("only a queued notice that no sender holds can be cancelled")
        case_ids = notice_cases_event(
            notice,
            kind=EventKind.NOTICE_DROPPED,
            at=now,
            data={"notice": notice.reference, "reason": words},
            actor=Actor.staff(user),
        )
        NoticeCase.objects.filter(notice=notice, dropped_at__isnull=True).update(
            dropped_at=now, drop_reason=words[:200]
        )
        audit_record(
            action=AuditAction.NOTICE_CANCELLED,
            actor=user,
            audit=audit,
            obj=notice,
            summary=f"cancelled notice {notice.reference}",
            data={"reason": reason[:REASON_MAX], "cases": case_ids},
        )
    notice.refresh_from_db()
    return notice


def notice_escalate_now(*, notice: Notice, user: Any, audit: AuditContext | None = None) -> list[Notice]:
    """Escalate the cases of a sent notice to the hosting side at once: the reminders left are
    skipped and the next step of the escalation ladder is planned, due now. Returns the notices
    the cases joined. Raises `NoticeNotHandled` when the notice is not a sent notice to the
    hosting side, or none of its cases is still notified with an escalation step left."""
    if notice.state != NoticeState.SENT or notice.kind not in ESCALATABLE_KINDS:
        raise NoticeNotHandled("only a sent notice or reminder to the hosting side can be escalated")
    case_ids = list(
        NoticeCase.objects.filter(notice=notice, dropped_at__isnull=True, case__state=CaseState.NOTIFIED).values_list(
            "case_id", flat=True
        )
    )
    with transaction.atomic():
        summary = cases_plan_ladder(case_ids=case_ids, escalate=True) if case_ids else None
        if summary is None or not summary.notices:
            raise NoticeNotHandled(
                "none of its cases is still online with an escalation step left (disputed, moved, or the ladder is done)"
            )
        planned = list(Notice.objects.filter(pk__in=summary.notices).order_by("pk"))
        audit_record(
            action=AuditAction.NOTICE_ESCALATED,
            actor=user,
            audit=audit,
            obj=notice,
            summary=f"escalated the cases of notice {notice.reference} at once",
            data={"cases": case_ids, "notices": [n.reference for n in planned]},
        )
    return planned


def known_contacts(notice: Notice) -> list[KnownContact]:
    """The addresses a senior may pick for a notice: its provider's (abuse, fallback, escalation),
    the active partner hotlines' and the police's."""
    found: list[KnownContact] = []
    provider = Provider.objects.filter(pk=notice.provider_id).first() if notice.provider_id else None
    if provider is not None:
        for email in provider.abuse_emails or ():
            found.append(KnownContact(f"p{provider.pk}:{email}", provider.name, email, "abuse contact"))
        if provider.fallback_email:
            found.append(
                KnownContact(
                    f"p{provider.pk}:{provider.fallback_email}",
                    provider.name,
                    provider.fallback_email,
                    "fallback address",
                )
            )
        if provider.escalation_email:
            found.append(
                KnownContact(
                    f"p{provider.pk}:{provider.escalation_email}",
                    provider.name,
                    provider.escalation_email,
                    "escalation contact",
                )
            )
    for hotline in PartnerHotline.objects.filter(active=True).exclude(email="").order_by("name"):
        found.append(
            KnownContact(
                f"h{hotline.pk}:{hotline.email}", hotline.name, hotline.email, f"partner hotline ({hotline.country})"
            )
        )
    if settings.SCART_POLICE_EMAIL:
        found.append(
            KnownContact(
                f"police:{settings.SCART_POLICE_EMAIL}",
                settings.SCART_POLICE_NAME,
                settings.SCART_POLICE_EMAIL,
                "police",
            )
        )
    unique: dict[str, KnownContact] = {}
    for contact in found:
        unique.setdefault(contact.key, contact)
    return list(unique.values())


def notice_change_recipient(
    *,
    notice: Notice,
    user: Any,
    contact: str = "",
    email: str = "",
    name: str = "",
    audit: AuditContext | None = None,
) -> Notice:
    """Give a notice another recipient: a known contact (``contact``, a `KnownContact.key`) or an
    address (``email``, validated, with an optional ``name``). The sender keeps this address
    whatever the route says later, and no more cases join the notice. A queued notice stays queued;
    a failed or unknown one is queued again, due now (through the transition table). Raises
    `ActionInvalid` for a bad or missing address, `NoticeNotHandled` in other states."""
    if contact:
        chosen = next((c for c in known_contacts(notice) if c.key == contact), None)
        if chosen is None:
            raise ActionInvalid("choose one of the known contacts, or type an address")
        new_email, new_name = chosen.email, chosen.name
    else:
        new_email, new_name = (email or "").strip(), (name or "").strip() or notice.recipient_name
        if not new_email:
            raise ActionInvalid("choose one of the known contacts, or type an address")
        try:
            validate_email(new_email)
        except ValidationError as exc:
            raise ActionInvalid(f"“{new_email}” is not a valid e-mail address") from exc
    before = {"name": notice.recipient_name, "emails": list(notice.emails or [])}
    now = timezone.now()
    changes: dict[str, Any] = {
        "emails": [new_email],
        "recipient_name": new_name[:200],
        "recipient_fixed": True,
        "open": False,
    }
    with transaction.atomic():
        state = Notice.objects.filter(pk=notice.pk).values_list("state", flat=True).first()
        if state == NoticeState.QUEUED:
            changed = bool(
                Notice.objects.filter(_unclaimed(now), pk=notice.pk, state=NoticeState.QUEUED).update(
                    handled_by=user, **changes
                )
            )
        else:
            changed = notice_requeue(notice, user=user, now=now, **changes)
        if not changed:
            raise NoticeNotHandled("only a queued, failed or unknown notice that no sender holds can change recipient")
        audit_record(
            action=AuditAction.NOTICE_RECIPIENT_CHANGED,
            actor=user,
            audit=audit,
            obj=notice,
            summary=f"sent notice {notice.reference} to {new_email} instead",
            data={"before": before, "after": {"name": new_name, "emails": [new_email]}, "state": state},
        )
    notice.refresh_from_db()
    return notice
