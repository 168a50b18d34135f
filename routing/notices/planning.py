"""Planning notices: which cases go into which message, and when it falls due.

`cases_plan_notices` routes illegal cases (`routing.jurisdiction`) and puts each case into the open
batch of every recipient its route names and that has not had it yet: one message per recipient
and kind. A first notice waits for more cases for the provider's window (60 minutes by default)
from the verdict; police reports and urgent cases are due at once. A held recipient (a contact
check, a blocking second opinion, police first, no address) gets nothing until the hold lifts;
the case is looked at again then, or an hour later at the latest (``Case.notice_plan_at``).

The cases join their notices through `routing.notices.batches`; what follows a first notice while
the content stays online (reminders, escalation) is planned by `routing.notices.ladder`.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from reports.models import Case, CaseState
from routing.jurisdiction import Hold, Recipient, RecipientKind, Route, cases_route
from routing.models import NoticeCase, NoticeKind, Provider
from routing.notices.batches import NOT_DELIVERED, Batch, PlanSummary, batches_join, in_cycle
from routing.notices.calendar import next_working_moment
from scart.db import commit_without_waiting_for_disk, enqueue_on_commit

log = logging.getLogger(__name__)

# Sent once the transaction that marked cases for planning (`cases_request_planning`) commits, with
# ``case_ids``: routing's wiring (`routing.hooks`) queues the planning task, which planning cannot
# import (the tasks sit above the stages). A broker that is down fails nothing: the sweep plans
# the marked cases.
cases_planning_due = Signal()

# A held recipient is looked at again this long after, even if nothing tells planning it is free.
HOLD_RECHECK = timedelta(hours=1)
CONFIG_HOLD_RECHECK = timedelta(days=1)
# Cases in these states may still get notices.
NOTICE_STATES = (CaseState.ILLEGAL, CaseState.NOTIFIED)
HOSTING_KINDS = (RecipientKind.PROVIDER, RecipientKind.CDN, RecipientKind.ORIGIN)


def recipient_key(recipient: Recipient) -> str:
    """Who a recipient is, whatever its addresses: the provider, the hotline, or the police."""
    if recipient.provider_id is not None:
        return f"{recipient.kind}:{recipient.provider_id}"
    if recipient.hotline_id is not None:
        return f"hotline:{recipient.hotline_id}"
    if recipient.kind == RecipientKind.POLICE:
        return "police"
    return f"{recipient.kind}:{','.join(sorted(recipient.emails))}"


def notice_kind(recipient: Recipient) -> str:
    if recipient.kind == RecipientKind.HOTLINE:
        return NoticeKind.REFERRAL
    if recipient.kind == RecipientKind.POLICE:
        return NoticeKind.POLICE
    return NoticeKind.PROVIDER


def _window(recipient: Recipient, providers: dict[int, Provider]) -> timedelta:
    provider = providers.get(recipient.provider_id) if recipient.provider_id else None
    if provider is not None and provider.notice_window is not None:
        return provider.notice_window
    return timedelta(minutes=settings.SCART_NOTICE_WINDOW_MINUTES)


def _due(moment: datetime, *, at_once: bool) -> datetime:
    return moment if at_once else next_working_moment(moment)


def delivered_keys(cases: Sequence[Case], kinds: Iterable[str]) -> set[tuple[int, str]]:
    """(case, batch key) pairs the cases are in, in notices of this notice cycle (since the verdict,
    or since the content reappeared) that still count (see `NOT_DELIVERED`)."""
    started = {c.pk: c.cycle_started_at for c in cases}
    return {
        (case_id, key)
        for case_id, key, added_at in NoticeCase.objects.filter(
            case_id__in=list(started), dropped_at__isnull=True, notice__kind__in=list(kinds)
        )
        .exclude(NOT_DELIVERED)
        .values_list("case_id", "notice__batch_key", "added_at")
        if in_cycle(added_at, started[case_id])
    }


def cases_plan_notices(*, case_ids: Iterable[int], now: datetime | None = None) -> PlanSummary:
    """Route these cases and put each into the notices its route calls for; idempotent."""
    now = now or timezone.now()
    case_ids = list(case_ids)
    cases = list(Case.objects.filter(pk__in=case_ids, state__in=NOTICE_STATES))
    summary = PlanSummary(cases=len(cases))
    # Cases that left the notice states (a new verdict, closed) need no more planning.
    Case.objects.filter(pk__in=set(case_ids) - {c.pk for c in cases}).update(notice_plan_at=None)
    if not cases:
        return summary
    routes: dict[int, Route] = cases_route(cases=cases)
    providers = {
        p.pk: p
        for p in Provider.objects.filter(
            pk__in={r.provider_id for route in routes.values() for r in route.recipients if r.provider_id}
        )
    }
    initial = (NoticeKind.PROVIDER, NoticeKind.REFERRAL, NoticeKind.POLICE)
    have = delivered_keys(cases, initial)
    batches: dict[str, Batch] = {}
    next_look: dict[int, datetime | None] = {}
    for case in cases:
        route = routes.get(case.pk)
        look: datetime | None = None
        verdict_at = case.assessed_at or now
        for recipient in route.recipients if route else ():
            kind = notice_kind(recipient)
            batch = Batch(kind=kind, recipient=recipient, key=recipient_key(recipient))
            if (case.pk, batch.batch_key) in have:
                continue
            if recipient.holds:
                summary.held += 1
                # No address: only an administrator's change lifts it, so look daily, not hourly.
                again = CONFIG_HOLD_RECHECK if set(recipient.holds) == {Hold.NO_ADDRESS} else HOLD_RECHECK
                look = min(filter(None, [look, now + again]))
                continue
            if case.gone_count and kind != NoticeKind.POLICE:
                # The last check found the content gone: wait for the checks to confirm it (the
                # case then closes) or to find it again. The police hear of it all the same.
                look = min(filter(None, [look, now + timedelta(minutes=settings.SCART_REMOVAL_SPACING_MINUTES)]))
                continue
            if recipient.delay is not None and verdict_at + recipient.delay > now:
                look = min(filter(None, [look, verdict_at + recipient.delay]))
                continue
            at_once = kind == NoticeKind.POLICE or case.urgent
            due = _due(
                max(now, verdict_at + (timedelta(0) if at_once else _window(recipient, providers))), at_once=at_once
            )
            batches.setdefault(batch.batch_key, batch).add(case.pk, due, case.urgent)
            summary.planned += 1
        next_look[case.pk] = look
    summary.notices.update(batches_join(list(batches.values()), now=now))
    _set_plan_times(next_look)
    return summary


def _set_plan_times(next_look: dict[int, datetime | None]) -> None:
    by_time: dict[datetime | None, list[int]] = defaultdict(list)
    for pk, at in next_look.items():
        by_time[at].append(pk)
    with transaction.atomic():
        commit_without_waiting_for_disk()
        for at, ids in by_time.items():
            Case.objects.filter(pk__in=ids).update(notice_plan_at=at)


def cases_request_planning(*, case_ids: Sequence[int]) -> None:
    """Mark the cases for planning and plan them right after the transaction commits (the
    sweep plans them otherwise): `cases_planning_due` is sent then, and routing's wiring queues
    the planning task."""
    ids = list(case_ids)
    if not ids:
        return
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        Case.objects.filter(pk__in=chunk).update(notice_plan_at=timezone.now())
        enqueue_on_commit(partial(cases_planning_due.send, sender=Case, case_ids=chunk), what="notify_plan_cases")
