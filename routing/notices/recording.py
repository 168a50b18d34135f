"""Recording a notice's outcome: ``sent`` (events, illegal cases become notified, the reminder
ladder starts) or ``failed`` (events, and the provider's contact flagged when the address is bad)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from reports.cases.services import Actor, cases_transition, event_new, events_append
from reports.models import Case, CaseState, EventKind
from routing.models import Notice, NoticeCase, NoticeKind, NoticeState, Provider
from routing.notices.ladder import reminder_interval
from routing.notices.planning import HOSTING_KINDS, NOTICE_STATES, cases_request_planning
from routing.notices.states import notice_transition
from scart.db import commit_without_waiting_for_disk


def notice_cases_event(notice: Notice, *, kind: str, at: datetime, data: dict[str, Any], actor: Actor) -> list[int]:
    """Append an event of ``kind`` to every case still in ``notice``; returns their ids."""
    case_ids = list(NoticeCase.objects.filter(notice=notice, dropped_at__isnull=True).values_list("case_id", flat=True))
    events_append(event_new(case=pk, kind=kind, actor=actor, at=at, data=data) for pk in case_ids)
    return case_ids


def notice_record_failed(
    notice: Notice, token: str, error: str, *, now: datetime, flag: bool, from_state: str = NoticeState.QUEUED
) -> None:
    # Before the attempt the notice is failed only while this sender still holds it.
    with transaction.atomic():
        if not notice_transition(
            notice=notice,
            to=NoticeState.FAILED,
            expected_from=[from_state],
            claim_token=token if from_state == NoticeState.QUEUED else None,
            reason=error,
            claimed_until=None,
        ):
            return
        notice_cases_event(
            notice,
            kind=EventKind.NOTICE_FAILED,
            at=now,
            data={
                "notice": notice.reference,
                "kind": notice.kind,
                "recipient": notice.recipient_name,
                "error": error[:500],
            },
            actor=Actor.system(),
        )
        if flag:
            contact_flag(notice=notice, reason=error, now=now)


def contact_flag(*, notice: Notice, reason: str, now: datetime) -> None:
    """A notice to this address failed for good or bounced: flag the provider's contact. Its open
    cases then go to its fallback address, or wait in the contact-check queue."""
    if notice.provider_id is None or notice.kind not in (NoticeKind.PROVIDER, NoticeKind.REMINDER):
        # Hotlines, the police and registrars are set up by hand: the failed notice shows on the cases.
        return
    provider = Provider.objects.get(pk=notice.provider_id)
    using_fallback = bool(provider.fallback_email) and provider.fallback_email in (notice.emails or [])
    changes: dict[str, Any] = {"contact_flagged_at": now, "contact_flag_reason": reason[:500]}
    if using_fallback:
        # The fallback failed too: forget it (the reason says which it was), so that nothing
        # goes to it again and the provider waits for a senior analyst.
        changes["fallback_email"] = ""
        changes["contact_flag_reason"] = f"the fallback {provider.fallback_email} failed too: {reason}"[:500]
    Provider.objects.filter(pk=provider.pk).update(**changes)
    case_ids = list(
        NoticeCase.objects.filter(notice=notice, dropped_at__isnull=True, case__state__in=NOTICE_STATES).values_list(
            "case_id", flat=True
        )
    )
    if using_fallback or not provider.fallback_email:
        # Nothing left to try by itself: a senior analyst confirms an address (the contact-check queue).
        Case.objects.filter(pk__in=case_ids).update(contact_check=True)
    cases_request_planning(case_ids=case_ids)


def notice_record_sent(
    notice: Notice, rows: list[NoticeCase], emails: list[str], *, sent_at: datetime, providers: dict[int, Provider]
) -> None:
    """The notice went out: its state, an event on each case, illegal cases become notified
    (`cases_transition`), and the reminder ladder starts. One transaction."""
    case_ids = [r.case_id for r in rows]
    system = Actor.system()
    sent = {
        "notice": notice.reference,
        "kind": notice.kind,
        "step": notice.step,
        "recipient": notice.recipient_name,
        "recipient_kind": notice.recipient_kind,
        "emails": emails,
    }
    ladder = notice.kind == NoticeKind.PROVIDER and notice.recipient_kind in HOSTING_KINDS
    with transaction.atomic():
        # Lost in a database crash, the notice would stay "sending" and become "unknown": a person
        # looks, nothing resends it. So this commit need not wait for the disk ("sending" did).
        commit_without_waiting_for_disk()
        # From "sending", or "unknown" if the sweeper judged this sender dead before it got here.
        notice_transition(notice=notice, to=NoticeState.SENT, reason="", sent_at=sent_at, claimed_until=None)
        # The cases were illegal when this sender loaded them; the move is conditional on it (a case
        # another worker moved meanwhile stays as it is), and writes the events with this notice's.
        illegal = [r.case_id for r in rows if r.case.state == CaseState.ILLEGAL]
        # The first notice to the hosting side starts the reminder ladder (routing loaded the
        # providers of every case in this run): with the move for the cases it moves, apart for the
        # others that have none yet.
        due = sent_at + reminder_interval([providers.get(notice.provider_id or 0)]) if ladder else None
        moving = cases_transition(
            case_ids=illegal,
            source=CaseState.ILLEGAL,
            to=CaseState.NOTIFIED,
            actor=system,
            at=sent_at,
            data={"notice": notice.reference},
            changes={"ladder_due_at": due} if due is not None else None,
            events=[
                event_new(case=pk, kind=EventKind.NOTICE_SENT, actor=system, at=sent_at, data=sent) for pk in case_ids
            ],
        )
        others = set(case_ids) - moving
        if due is not None and others:
            Case.objects.filter(pk__in=others, ladder_due_at__isnull=True).update(ladder_due_at=due)
        for row in rows:
            if row.case_id in moving:
                row.case.state = CaseState.NOTIFIED  # the same case may be in another notice of this run
