"""Reminders and the escalation ladder: what follows a first notice while the content stays online.

`cases_plan_ladder` plans reminders to the hosting side every ``SCART_REMINDER_HOURS`` (per
provider), at most ``SCART_REMINDER_MAX`` of them, then one escalation step per interval along
``SCART_ESCALATION_LADDER`` (``registrar``, ``police``, ``provider_escalation``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from reports.models import Case, CaseState
from routing.jurisdiction import Recipient, RecipientKind, police_recipient, provider_recipient
from routing.models import DisputeState, NoticeCase, NoticeKind, NoticeState, Provider
from routing.notices.batches import NOT_DELIVERED, Batch, PlanSummary, batches_join, in_cycle
from routing.notices.calendar import next_working_moment
from routing.notices.planning import recipient_key

log = logging.getLogger(__name__)


class LadderStep:
    REGISTRAR = "registrar"
    POLICE = "police"
    PROVIDER_ESCALATION = "provider_escalation"


def reminder_interval(providers: Iterable[Provider | None]) -> timedelta:
    intervals = [p.reminder_interval for p in providers if p is not None and p.reminder_interval]
    return min(intervals, default=timedelta(hours=settings.SCART_REMINDER_HOURS))


def _reminder_max(providers: Iterable[Provider | None]) -> int:
    values = [p.reminder_max for p in providers if p is not None and p.reminder_max is not None]
    return min(values, default=settings.SCART_REMINDER_MAX)


def _ladder_recipient(step: str, case: Case, providers: dict[int, Provider]) -> Recipient | None:
    if step == LadderStep.POLICE:
        police = police_recipient()
        return police if police.emails else None
    if step == LadderStep.REGISTRAR:
        registrar = (case.resolution or {}).get("registrar") or {}
        emails = tuple(registrar.get("abuse_emails") or ())
        if not emails:
            return None
        return Recipient(
            kind=RecipientKind.REGISTRAR, name=str(registrar.get("registrar") or case.registrable_domain), emails=emails
        )
    if step == LadderStep.PROVIDER_ESCALATION:
        provider = providers.get(case.provider_id) if case.provider_id else None
        if provider is None or not provider.escalation_email:
            return None
        return Recipient(
            kind=RecipientKind.PROVIDER_ESCALATION,
            name=provider.name,
            emails=(provider.escalation_email,),
            language=provider.language or "en",
            provider_id=provider.pk,
        )
    log.warning("unknown escalation step %r in SCART_ESCALATION_LADDER", step)
    return None


def cases_plan_ladder(
    *, now: datetime | None = None, limit: int = 5_000, case_ids: Iterable[int] | None = None, escalate: bool = False
) -> PlanSummary:
    """Plan the next reminder or escalation step for every notified case whose step is due.

    With ``case_ids`` (a senior's "escalate now"), those notified cases whether due or not; with
    ``escalate``, the reminders left are skipped for the next escalation step, due at once."""
    now = now or timezone.now()
    due_cases = Case.objects.filter(state=CaseState.NOTIFIED)
    due_cases = (
        due_cases.filter(pk__in=list(case_ids)) if case_ids is not None else due_cases.filter(ladder_due_at__lte=now)
    )
    cases = list(due_cases.order_by("ladder_due_at")[:limit])
    summary = PlanSummary(cases=len(cases))
    if not cases:
        if case_ids is None:
            # Cases that left the notified state (removed) stop their ladder.
            Case.objects.filter(ladder_due_at__lte=now).exclude(state=CaseState.NOTIFIED).update(ladder_due_at=None)
        return summary
    ids = [c.pk for c in cases]
    sent: dict[int, list[tuple[str, str, int, int | None]]] = defaultdict(list)
    started = {c.pk: c.cycle_started_at for c in cases}
    for case_id, kind, batch_key, step, provider_id, added_at in (
        NoticeCase.objects.filter(case_id__in=ids, dropped_at__isnull=True)
        .exclude(NOT_DELIVERED)
        .values_list("case_id", "notice__kind", "notice__batch_key", "notice__step", "notice__provider_id", "added_at")
    ):
        if in_cycle(added_at, started[case_id]):  # this notice cycle only
            sent[case_id].append((kind, batch_key, step, provider_id))
    disputed = set(
        NoticeCase.objects.filter(case_id__in=ids, dispute_state=DisputeState.OPEN).values_list("case_id", flat=True)
    )
    provider_ids = {p for c in cases for p in (c.provider_id, c.cdn_id, c.origin_provider_id) if p}
    providers = {p.pk: p for p in Provider.objects.filter(pk__in=provider_ids)}
    ladder = [s.strip() for s in settings.SCART_ESCALATION_LADDER if s.strip()]
    batches: dict[str, Batch] = {}
    next_due: dict[int, datetime | None] = {}
    for case in cases:
        if case.pk in disputed:
            next_due[case.pk] = None  # a senior analyst decides first (routing.notices.responses)
            continue
        if case.moved_since is not None:
            next_due[case.pk] = None  # moved to another host: paused until it is back (checks.tracking)
            continue
        own = [providers.get(p) for p in (case.provider_id, case.cdn_id, case.origin_provider_id) if p]
        interval = reminder_interval(own)
        notices = sent[case.pk]
        hosting = {
            (key.split(":", 1)[1], provider_id)
            for kind, key, _step, provider_id in notices
            if kind == NoticeKind.PROVIDER and provider_id
        }
        if not hosting:
            next_due[case.pk] = None  # referral or police only: the partner or the police follow up
            continue
        reminders = max((step for kind, _k, step, _p in notices if kind == NoticeKind.REMINDER), default=0)
        escalations = max((step for kind, _k, step, _p in notices if kind == NoticeKind.ESCALATION), default=0)
        due = now if escalate else next_working_moment(now)
        if reminders < _reminder_max(own) and not escalate:
            for key, provider_id in sorted(hosting):
                provider = providers.get(provider_id)
                if provider is None:
                    continue
                kind_name = key.split(":", 1)[0]
                recipient = provider_recipient(provider, kind_name, ask_origin=kind_name == RecipientKind.CDN)
                batch = Batch(kind=NoticeKind.REMINDER, recipient=recipient, key=key, step=reminders + 1)
                batches.setdefault(batch.batch_key, batch).add(case.pk, due, case.urgent)
                summary.planned += 1
            next_due[case.pk] = now + interval
            continue
        step_index = escalations
        ladder_recipient: Recipient | None = None
        while step_index < len(ladder) and ladder_recipient is None:
            ladder_recipient = _ladder_recipient(ladder[step_index], case, providers)
            step_index += 1
        if ladder_recipient is None:
            next_due[case.pk] = None  # the ladder is done; availability checks go on
            continue
        batch = Batch(
            kind=NoticeKind.ESCALATION, recipient=ladder_recipient, key=recipient_key(ladder_recipient), step=step_index
        )
        batches.setdefault(batch.batch_key, batch).add(case.pk, due, case.urgent)
        summary.planned += 1
        next_due[case.pk] = now + interval
    summary.notices.update(batches_join(list(batches.values()), now=now))
    by_time: dict[datetime | None, list[int]] = defaultdict(list)
    for pk, at in next_due.items():
        by_time[at].append(pk)
    for at, pks in by_time.items():
        Case.objects.filter(pk__in=pks).update(ladder_due_at=at)
    return summary


class LadderKind:
    REMINDER = "reminder"
    ESCALATION = "escalation"


@dataclass(frozen=True)
class NextStep:
    """What the ladder will do next for a notified case, as `cases_plan_ladder` would decide it
    when ``Case.ladder_due_at`` comes: ``kind`` is a `LadderKind` or ``""`` (nothing is planned:
    the ladder is done or paused, ``text`` says why), ``at`` when it falls due."""

    kind: str
    text: str
    at: datetime | None
    reminders_sent: int
    escalations_sent: int
    disputed: bool = False  # paused until a senior analyst decides the provider's dispute


def ladder_next_steps(cases: Iterable[Case]) -> dict[int, NextStep]:
    """The next reminder or escalation step of each of these cases (read only: nothing is planned),
    with the reminders and escalations of its notice cycle that went out."""
    cases = list(cases)
    ids = [c.pk for c in cases]
    started = {c.pk: c.cycle_started_at for c in cases}
    sent: dict[int, list[tuple[str, int, str]]] = defaultdict(list)
    for case_id, kind, number, state, added_at in (
        NoticeCase.objects.filter(case_id__in=ids, dropped_at__isnull=True)
        .exclude(NOT_DELIVERED)
        .values_list("case_id", "notice__kind", "notice__step", "notice__state", "added_at")
    ):
        if in_cycle(added_at, started[case_id]):
            sent[case_id].append((kind, number, state))
    disputed = set(
        NoticeCase.objects.filter(case_id__in=ids, dispute_state=DisputeState.OPEN).values_list("case_id", flat=True)
    )
    provider_ids = {p for c in cases for p in (c.provider_id, c.cdn_id, c.origin_provider_id) if p}
    providers = {p.pk: p for p in Provider.objects.filter(pk__in=provider_ids)}
    ladder = [s.strip() for s in settings.SCART_ESCALATION_LADDER if s.strip()]
    found = {}
    for case in cases:
        notices = sent[case.pk]
        # As the planner counts them: a planned step that has not gone out yet is taken.
        reminders = max((n for kind, n, _s in notices if kind == NoticeKind.REMINDER), default=0)
        escalations = max((n for kind, n, _s in notices if kind == NoticeKind.ESCALATION), default=0)
        most = _reminder_max([providers.get(p) for p in (case.provider_id, case.cdn_id, case.origin_provider_id) if p])
        kind, text = "", ""
        if case.state != CaseState.NOTIFIED:
            text = _("none: the case is not waiting on a notice")
        elif case.pk in disputed:
            text = _("paused: the provider disputes it, a senior analyst decides")
        elif case.moved_since is not None:
            text = _("paused: moved to another host")
        elif not any(k == NoticeKind.PROVIDER for k, _n, _s in notices):
            text = _("none: the partner hotline or the police follow up")
        elif reminders < most:
            kind, text = LadderKind.REMINDER, _("reminder %(n)d of %(most)d") % {"n": reminders + 1, "most": most}
        else:
            kind, text = _next_escalation(case, ladder, escalations, providers)
        found[case.pk] = NextStep(
            kind=kind,
            text=text,
            at=case.ladder_due_at if kind else None,
            reminders_sent=sum(1 for k, _n, s in notices if k == NoticeKind.REMINDER and s == NoticeState.SENT),
            escalations_sent=sum(1 for k, _n, s in notices if k == NoticeKind.ESCALATION and s == NoticeState.SENT),
            disputed=case.pk in disputed,
        )
    return found


def _next_escalation(case: Case, ladder: list[str], taken: int, providers: dict[int, Provider]) -> tuple[str, str]:
    """The first rung from ``taken`` on that has a recipient, as the planner looks for it."""
    for index in range(taken, len(ladder)):
        recipient = _ladder_recipient(ladder[index], case, providers)
        if recipient is not None:
            label = RecipientKind(recipient.kind).label
            text = _("escalation %(n)d of %(steps)d: %(who)s (%(name)s)") % {
                "n": index + 1,
                "steps": len(ladder),
                "who": label,
                "name": recipient.name,
            }
            return LadderKind.ESCALATION, text
    return "", _("none: the escalation ladder is done; availability checks go on")
