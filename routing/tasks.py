"""Celery tasks of the routing stage: thin wrappers that load by id and call one service."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from celery import Task, shared_task
from django.db import DatabaseError
from django.utils import timezone

from reports.models import Case
from reports.suggestions import cases_auto_assess
from routing.checks.tracking import cases_check, cases_due_for_check
from routing.deadlines.escalation import deadlines_sweep
from routing.models import Notice
from routing.notices.channels.polling import deliveries_poll
from routing.notices.ladder import cases_plan_ladder
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import notices_send_due
from routing.notices.sweep import notices_mark_unknown
from routing.resolution.cases import cases_release, cases_resolve, open_cases_due_for_reresolution
from routing.resolution.lookups import caches_purge

log = logging.getLogger(__name__)

# Cases per resolution task message.
ENQUEUE_CHUNK = 100


@shared_task(bind=True, acks_late=True)
def resolve_cases(self: Task[[list[int]], None], case_ids: list[int]) -> None:
    """Resolve the cases whose resolution is due, sharing lookups between cases on one host.

    The claim on the cases carries this task's id: delivered again after its worker died, the
    message takes them over at once. A failure leaves the cases due: the sweep enqueues them
    again. Cases whose lookups failed transiently are sent again when their retry is due."""
    try:
        attempts = cases_resolve(case_ids=case_ids, claim=self.request.id or "")
    except Exception:
        log.exception("resolving cases %s failed; the sweep will retry them", case_ids)
        with contextlib.suppress(DatabaseError):
            cases_release(claim=self.request.id or "")
        return
    retries: dict[datetime, list[int]] = {}
    for case_id, attempt in attempts.items():
        if attempt.retry_at is not None:
            retries.setdefault(attempt.retry_at, []).append(case_id)
    # Cases under a domain rule a senior set to auto-accept get its verdict now, marked automatic.
    try:
        cases_auto_assess(case_ids=[pk for pk, attempt in attempts.items() if attempt.retry_at is None])
    except Exception:
        log.exception("auto-accepting domain rule verdicts on cases %s failed; they stay in the queue", case_ids)
    for retry_at, ids in retries.items():
        resolve_cases.apply_async((ids,), eta=retry_at)


def cases_enqueue_resolution(*, case_ids: Sequence[int]) -> None:
    """Send resolution tasks for these cases, a message per `ENQUEUE_CHUNK` cases."""
    for start in range(0, len(case_ids), ENQUEUE_CHUNK):
        resolve_cases.delay(list(case_ids[start : start + ENQUEUE_CHUNK]))


@shared_task(acks_late=True)
def resolve_open_cases() -> int:
    """Twice a day: resolve open cases again, so that a move to another provider is noticed."""
    ids = open_cases_due_for_reresolution()
    cases_enqueue_resolution(case_ids=ids)
    return len(ids)


@shared_task(acks_late=True)
def resolve_purge_caches() -> int:
    """Daily: drop lookup cache rows that expired more than a day ago."""
    return caches_purge()


@shared_task(acks_late=True)
def notify_plan_cases(case_ids: list[int]) -> int:
    """Plan the notices of these cases (right after a verdict, a release, a bounce...). Notices
    that are due at once (police, urgent) are sent straight after."""

    summary = cases_plan_notices(case_ids=case_ids)
    if summary.notices and Notice.objects.filter(pk__in=summary.notices, due_at__lte=timezone.now()).exists():
        notify_send_due.delay()
    return summary.planned


@shared_task(acks_late=True)
def notify_plan_due() -> int:
    """Every few minutes: plan cases whose planning is due (delayed recipients, holds to look at
    again), the reminders and escalation steps that are due, and mark notices a dead sender left
    in ``sending`` as unknown."""

    notices_mark_unknown()
    planned = 0
    now = timezone.now()
    ids = list(
        Case.objects.filter(notice_plan_at__lte=now).order_by("notice_plan_at").values_list("id", flat=True)[:5000]
    )
    for start in range(0, len(ids), 500):
        planned += cases_plan_notices(case_ids=ids[start : start + 500], now=now).planned
    planned += cases_plan_ladder(now=now).planned
    return planned


@shared_task(acks_late=True)
def notify_send_due() -> int:
    """Every minute: send the notices that are due, a chunk at a time, until none is left."""

    notices_mark_unknown()
    sent = 0
    for _ in range(50):
        summary = notices_send_due()
        sent += summary.sent
        if not summary.claimed:
            break
    return sent


@shared_task(acks_late=True)
def notify_poll_deliveries() -> int:
    """Every few minutes: ask recipients' systems about the reports they took (provider APIs)."""
    return deliveries_poll().asked


@shared_task(acks_late=True)
def check_due() -> int:
    """Every minute: check the cases whose availability check is due, a chunk at a time."""

    checked = 0
    deadline = timezone.now() + timedelta(seconds=50)
    while timezone.now() < deadline:
        ids = cases_due_for_check(limit=500)
        if not ids:
            break
        checked += cases_check(case_ids=ids).checked
    return checked


@shared_task(acks_late=True)
def deadlines_sweep_task() -> dict[str, int]:
    """Deadlines: met and closed ones recorded, passed ones marked breached once, seniors told."""
    summary = deadlines_sweep()
    return {"met": summary.met, "closed": summary.closed, "breached": summary.breached, "alerted": summary.alerted}
