"""What happens after a notice: the provider's answers, the seniors' decisions, and a person's
word on notices the sender could not finish.

- `notice_respond`: through the notice's link, a provider marks URLs ``removed`` or ``disputed``.
  Its word alone closes nothing: "removed" asks for an availability check at once
  (``Case.check_due_at``), which decides; "disputed" pauses the reminder ladder and waits in the
  senior analysts' queue.
- `dispute_decide`: a senior analyst upholds the verdict (the ladder goes on) or accepts the
  provider's view (no more reminders or escalation for that case).
- `police_hold_release`: a senior analyst releases a police-first case; its held notices are planned.
- `notice_resend` and `notice_mark_sent`: a person decides about a notice that ended ``unknown``
  (the sender stopped mid-attempt) or ``failed``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from reports.cases.services import Actor, StateConflict, case_transition, event_append
from reports.models import Assessment, Case, CaseState, Event, EventKind
from routing.jurisdiction import Hold
from routing.models import DisputeState, Notice, NoticeCase, NoticeKind, NoticeResponse, NoticeState, Provider
from routing.notices.channels.parts import notice_parts_confirm, notice_parts_reopen
from routing.notices.ladder import reminder_interval
from routing.notices.planning import HOSTING_KINDS, NOTICE_STATES, cases_request_planning
from routing.notices.recording import notice_cases_event
from routing.notices.states import notice_transition
from scart.times import iso

log = logging.getLogger(__name__)

# A provider's reason, and a senior analyst's note, are kept up to this many characters.
REASON_MAX = 2000
# States a person may send a notice on from again, and may confirm as sent.
RESENDABLE = (NoticeState.UNKNOWN, NoticeState.FAILED)
DECIDED = (DisputeState.UPHELD, DisputeState.ACCEPTED)


class ResponseInvalid(ValueError):
    """The provider's answers cannot be recorded; ``errors`` maps a `NoticeCase` id (0 for the
    answers as a whole) to what is wrong with it. Nothing was recorded."""

    def __init__(self, errors: dict[int, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class DisputeInvalid(ValueError):
    """The decision lacks its note (or the note is too long)."""


class DisputeClosed(DisputeInvalid):
    """The dispute is not open any more (decided already, or the provider changed its answer)."""


class ReleaseInvalid(ValueError):
    """The case is not held for police first (or was released already)."""


class NoticeNotHandled(ValueError):
    """The notice is not in a state this action applies to."""


# The provider's answers --------------------------------------------------------------------------


def notice_respond(
    *, notice: Notice, answers: dict[int, tuple[str, str]], now: datetime | None = None
) -> list[NoticeCase]:
    """Record the provider's answers about the URLs of ``notice``.

    ``answers`` maps a `NoticeCase` id (a row of this notice) to ``(response, reason)``, where
    response is ``removed`` or ``disputed`` and reason is required for ``disputed``. Rows must
    belong to this notice and not have been taken out of it; a row whose dispute a senior analyst
    has decided cannot change. Every answer is checked before anything is written: any bad one
    raises `ResponseInvalid` and none is recorded. An answer equal to the one recorded is left as
    it is. Returns the rows that changed.

    - ``removed``: the case's availability check is due now (its outcome, not the provider's word,
      closes the case); a dispute the provider had open on the row is withdrawn.
    - ``disputed``: the dispute waits for a senior analyst and the case's ladder pauses.
    Each change writes a ``provider_responded`` event.
    """
    now = now or timezone.now()
    cleaned = _answers_clean(answers)
    with transaction.atomic():
        rows = {
            row.pk: row
            for row in NoticeCase.objects.select_for_update()
            .select_related("case")
            .filter(pk__in=list(cleaned), notice=notice, dropped_at__isnull=True)
        }
        errors: dict[int, str] = {}
        for pk in cleaned:
            row = rows.get(pk)
            if row is None:
                errors[pk] = "this URL is not part of this notice"
            elif row.dispute_state in DECIDED:
                errors[pk] = "we have decided about this dispute already; reply to the notice email instead"
        if errors:
            raise ResponseInvalid(errors)
        changed = []
        for pk, (response, reason) in cleaned.items():
            row = rows[pk]
            if row.response == response and row.response_reason == reason:
                continue
            _respond_one(row, response, reason, notice=notice, now=now)
            changed.append(row)
    return changed


def _answers_clean(answers: dict[int, tuple[str, str]]) -> dict[int, tuple[str, str]]:
    cleaned: dict[int, tuple[str, str]] = {}
    errors: dict[int, str] = {}
    for pk, (response, reason) in answers.items():
        reason = (reason or "").strip()
        if response not in NoticeResponse.values:
            errors[pk] = "choose removed or disputed"
        elif response == NoticeResponse.DISPUTED and not reason:
            errors[pk] = "say why you dispute our assessment"
        elif len(reason) > REASON_MAX:
            errors[pk] = f"keep the reason under {REASON_MAX} characters"
        else:
            cleaned[pk] = (response, reason)
    if not answers:
        errors[0] = "choose removed or disputed for at least one URL"
    if errors:
        raise ResponseInvalid(errors)
    return cleaned


def _respond_one(row: NoticeCase, response: str, reason: str, *, notice: Notice, now: datetime) -> None:
    previous, was_open = row.response, row.dispute_state == DisputeState.OPEN
    row.response, row.response_reason, row.responded_at = response, reason, now
    case_changes: dict[str, Any] = {}
    if response == NoticeResponse.DISPUTED:
        row.dispute_state = DisputeState.OPEN
        case_changes["ladder_due_at"] = None  # a senior analyst decides first
    else:
        row.dispute_state = ""
        if row.case.state in NOTICE_STATES:
            case_changes["check_due_at"] = now
        if was_open and row.case.state == CaseState.NOTIFIED and not _other_open_disputes(row):
            # The dispute is withdrawn: the ladder goes on, after one interval (the check comes first).
            case_changes["ladder_due_at"] = now + reminder_interval(_hosting_providers(row.case))
    row.save(update_fields=["response", "response_reason", "responded_at", "dispute_state"])
    if case_changes:
        Case.objects.filter(pk=row.case_id).update(**case_changes)
    event_append(
        case=row.case_id,
        kind=EventKind.PROVIDER_RESPONDED,
        actor=Actor.system(),
        at=now,
        data={
            "notice": notice.reference,
            "recipient": notice.recipient_name,
            "response": response,
            "reason": reason[:500],
            "previous": previous,
            "via": "notice link",
        },
    )


def _other_open_disputes(row: NoticeCase) -> bool:
    return NoticeCase.objects.filter(case_id=row.case_id, dispute_state=DisputeState.OPEN).exclude(pk=row.pk).exists()


def _hosting_providers(case: Case) -> list[Provider | None]:
    ids = [p for p in (case.provider_id, case.cdn_id, case.origin_provider_id) if p]
    return list(Provider.objects.filter(pk__in=ids))


# Disputes ----------------------------------------------------------------------------------------


def dispute_decide(
    *, item: NoticeCase, user: Any, uphold: bool, note: str, audit: AuditContext | None = None
) -> NoticeCase:
    """A senior analyst decides an open dispute, with a note saying why.

    Upheld: the verdict stands and the case's ladder resumes now (if the case is still notified).
    Accepted: the provider's view is accepted and the case's ladder stops (the verdict itself is
    not changed; a new assessment does that). Other open disputes of the same case (the provider
    answered a reminder too) get the same decision. Writes a ``dispute_handled`` event and an
    audit entry; raises `DisputeClosed` when the dispute is not open, `DisputeInvalid` when the
    note is missing.
    """
    note = (note or "").strip()
    now = timezone.now()
    state = DisputeState.UPHELD if uphold else DisputeState.ACCEPTED
    with transaction.atomic():
        locked = NoticeCase.objects.select_for_update().select_related("notice", "case").get(pk=item.pk)
        if locked.dispute_state != DisputeState.OPEN:
            raise DisputeClosed("this dispute is not open any more")
        if not note:
            raise DisputeInvalid("write a note: the decision and why")
        if len(note) > REASON_MAX:
            raise DisputeInvalid(f"keep the note under {REASON_MAX} characters")
        rows = NoticeCase.objects.filter(case_id=locked.case_id, dispute_state=DisputeState.OPEN)
        references = sorted(set(rows.values_list("notice__reference", flat=True)))
        rows.update(dispute_state=state, dispute_handled_by=user, dispute_handled_at=now, dispute_note=note)
        case = locked.case
        if uphold:
            Case.objects.filter(pk=case.pk, state=CaseState.NOTIFIED).update(ladder_due_at=now)
        else:
            Case.objects.filter(pk=case.pk).update(ladder_due_at=None)
        event_append(
            case=case,
            kind=EventKind.DISPUTE_HANDLED,
            actor=Actor.staff(user),
            at=now,
            data={"notices": references, "decision": str(state), "reason": locked.response_reason[:500], "note": note},
        )
        audit_record(
            action=AuditAction.DISPUTE_DECIDED,
            actor=user,
            audit=audit,
            obj=case,
            summary=f"{'upheld the verdict against' if uphold else 'accepted'} the dispute of case {case.pk}",
            data={"notice_case": locked.pk, "notices": references, "decision": str(state), "note": note},
        )
    locked.refresh_from_db()
    return locked


# Police first ------------------------------------------------------------------------------------


def police_hold_release(*, case: Case, user: Any, audit: AuditContext | None = None) -> Event:
    """A senior analyst releases a police-first case: the notices police first held back are
    planned now. The release counts for the verdict it follows (a later verdict needs its own);
    raises `ReleaseInvalid` when the case's verdict is not police first, the case is closed, or
    it is released already."""
    with transaction.atomic():
        locked = Case.objects.select_for_update().get(pk=case.pk)
        latest = Assessment.objects.filter(case=locked).order_by("-at", "-id").first()
        if latest is None or not latest.police_first:
            raise ReleaseInvalid("the case's verdict is not police first")
        if locked.state not in NOTICE_STATES:
            raise ReleaseInvalid("the case is closed")
        if Event.objects.filter(case=locked, kind=EventKind.RELEASED, at__gte=latest.at).exists():
            raise ReleaseInvalid("the case was released already")
        # Routing counts a release only when it is not older than the verdict.
        at = max(timezone.now(), latest.at)
        event = event_append(
            case=locked,
            kind=EventKind.RELEASED,
            actor=Actor.staff(user),
            at=at,
            data={"assessment": latest.pk, "hold": Hold.POLICE_FIRST},
        )
        audit_record(
            action=AuditAction.CASE_RELEASED,
            actor=user,
            audit=audit,
            obj=locked,
            summary=f"released police-first case {locked.pk} for notices",
            data={"assessment": latest.pk},
        )
        cases_request_planning(case_ids=[locked.pk])
    return event


# Notices a sender could not finish ---------------------------------------------------------------


def notice_requeue(notice: Notice, *, user: Any, now: datetime, **changes: Any) -> bool:
    """Move a notice whose sending failed or stopped (or that waits to be sent by hand) back to
    ``queued``, due ``now`` and no longer open to more cases, with ``changes``; its parts that
    did not go are tried again, the ones that went never are. False when it is in no such state."""
    moved = notice_transition(
        notice=notice,
        to=NoticeState.QUEUED,
        expected_from=[*RESENDABLE, NoticeState.BY_HAND],
        actor=user,
        due_at=now,
        claimed_until=None,
        **{"open": False, **changes},
    )
    if moved:
        notice_parts_reopen(notice)
    return moved


def notice_resend(*, notice: Notice, user: Any, audit: AuditContext | None = None) -> Notice:
    """Queue an ``unknown`` or ``failed`` notice again, due now. It keeps its Message-ID, so a
    recipient whose server took the first attempt can tell the two apart; its cases are checked
    again before it goes (as for every notice). Raises `NoticeNotHandled` in other states."""
    now = timezone.now()
    with transaction.atomic():
        before = Notice.objects.filter(pk=notice.pk).values_list("state", flat=True).first()
        if before not in RESENDABLE or not notice_requeue(notice, user=user, now=now):
            raise NoticeNotHandled("only a notice whose sending failed or stopped can be sent again")
        audit_record(
            action=AuditAction.NOTICE_RESENT,
            actor=user,
            audit=audit,
            obj=notice,
            summary=f"queued notice {notice.reference} to be sent again",
            data={"before": before, "last_error": notice.last_error[:500]},
        )
    notice.refresh_from_db()
    return notice


def notice_mark_sent(*, notice: Notice, user: Any, audit: AuditContext | None = None) -> Notice:
    """A person confirmed that an ``unknown`` notice did leave (the mail server's log, the
    recipient's answer), or sent a notice of the manual channel (``by_hand``) themselves: it
    becomes ``sent`` (as of its attempt; a notice sent by hand as of now), its cases are
    notified, and the reminder ladder starts as it does after any first notice. When parts of it
    were never tried (a sender died mid-part with others to go), the part in doubt is confirmed
    and the notice is queued for the rest. Raises `NoticeNotHandled` in other states."""
    actor = Actor.staff(user)
    with transaction.atomic():
        locked = Notice.objects.select_for_update().get(pk=notice.pk)
        if locked.state not in (NoticeState.UNKNOWN, NoticeState.BY_HAND):
            raise NoticeNotHandled(
                "only a notice whose sending stopped mid-attempt, or one to send by hand, can be confirmed as sent"
            )
        by_hand = locked.state == NoticeState.BY_HAND
        sent_at = timezone.now() if by_hand else (locked.sending_since or timezone.now())
        if notice_parts_confirm(locked, at=sent_at):
            notice_requeue(locked, user=user, now=timezone.now(), reason="")
            audit_record(
                action=AuditAction.NOTICE_MARKED_SENT,
                actor=user,
                audit=audit,
                obj=locked,
                summary=f"confirmed that the part in doubt of notice {locked.reference} was sent; the rest is queued",
                data={"sent_at": iso(sent_at), "rest_queued": True},
            )
            notice.refresh_from_db()
            return notice
        notice_transition(
            notice=locked,
            to=NoticeState.SENT,
            expected_from=[locked.state],
            actor=user,
            reason="",
            sent_at=sent_at,
            claimed_until=None,
        )
        case_ids = notice_cases_event(
            locked,
            kind=EventKind.NOTICE_SENT,
            at=sent_at,
            data={
                "notice": locked.reference,
                "kind": locked.kind,
                "step": locked.step,
                "recipient": locked.recipient_name,
                "recipient_kind": locked.recipient_kind,
                "emails": list(locked.emails or []),
                "confirmed_by_hand": True,
                **({"sent_by_hand": True} if by_hand else {}),
            },
            actor=actor,
        )
        for case in Case.objects.filter(pk__in=case_ids, state=CaseState.ILLEGAL):
            try:
                case_transition(case=case, to=CaseState.NOTIFIED, actor=actor, data={"notice": locked.reference})
            except StateConflict:
                log.info("case %s changed state while notice %s was confirmed", case.pk, locked.reference)
        if locked.kind == NoticeKind.PROVIDER and locked.recipient_kind in HOSTING_KINDS:
            provider = Provider.objects.filter(pk=locked.provider_id).first() if locked.provider_id else None
            Case.objects.filter(pk__in=case_ids, ladder_due_at__isnull=True).update(
                ladder_due_at=sent_at + reminder_interval([provider])
            )
        audit_record(
            action=AuditAction.NOTICE_MARKED_SENT,
            actor=user,
            audit=audit,
            obj=locked,
            summary=f"confirmed that notice {locked.reference} was sent{' by hand' if by_hand else ''}",
            data={"sent_at": iso(sent_at), "cases": len(case_ids), "channel": locked.channel},
        )
    notice.refresh_from_db()
    return notice
