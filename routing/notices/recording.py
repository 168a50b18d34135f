"""Recording a notice's outcome: ``sent`` (events, illegal cases become notified, the reminder
ladder starts) or ``failed`` (events, and the provider's contact counted a hard bounce, flagged
once its addresses are retired)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction

from reports.cases.services import Actor, cases_transition, event_new, events_append
from reports.models import Case, CaseState, EventKind
from routing.jurisdiction import provider_contacts
from routing.models import Notice, NoticeCase, NoticeKind, NoticeState, Provider
from routing.notices.contacts import CONTACT_KINDS, contacts_all_retired, contacts_refused
from routing.notices.hooks import notice_sent
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


def contact_flag(*, notice: Notice, reason: str, now: datetime, counted: bool = False) -> None:
    """A notice to the provider's contact failed for good or bounced. Its addresses get a hard
    bounce (unless filing the bounce counted them: ``counted``, `routing.notices.contacts`). While
    an address has fewer than SCART_CONTACT_HARD_BOUNCES in a row, the open cases are planned again
    for the same contact. Once every address of the notice is retired, the provider's contact is
    flagged: its open cases go to the next contact of its order (`provider_contacts`: the abuse
    addresses left, the fallback address), or wait in the contact-check queue."""
    if notice.provider_id is None or notice.kind not in CONTACT_KINDS:
        # Hotlines, the police and registrars are set up by hand: the failed notice shows on the cases.
        return
    if not counted:
        contacts_refused(notice=notice, reason=reason, at=now)
    case_ids = list(
        NoticeCase.objects.filter(notice=notice, dropped_at__isnull=True, case__state__in=NOTICE_STATES).values_list(
            "case_id", flat=True
        )
    )
    if not contacts_all_retired(notice):
        cases_request_planning(case_ids=case_ids)
        return
    provider = Provider.objects.get(pk=notice.provider_id)
    if provider.fallback_email and provider.fallback_email.lower() in {e.lower() for e in notice.emails or []}:
        reason = f"the fallback {provider.fallback_email} failed too: {reason}"
    Provider.objects.filter(pk=provider.pk).update(contact_flagged_at=now, contact_flag_reason=reason[:500])
    provider.contact_flagged_at = now
    if not provider_contacts(provider):
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
        notice_sent.send(sender=Notice, notice=notice, case_ids=case_ids, sent_at=sent_at)
