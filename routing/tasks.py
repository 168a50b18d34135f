"""Celery tasks of the routing stage: thin wrappers that load by id and call one service."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task

from reports.suggestions import cases_auto_assess
from routing.pipeline import caches_purge
from routing.services import cases_resolve, open_cases_due_for_reresolution

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def resolve_cases(case_ids: list[int]) -> None:
    """Resolve the cases whose resolution is due, sharing lookups between cases on one host.

    A failure leaves the cases due: the sweep enqueues them again. Cases whose lookups failed
    transiently are sent again when their retry is due."""
    try:
        attempts = cases_resolve(case_ids=case_ids)
    except Exception:
        log.exception("resolving cases %s failed; the sweep will retry them", case_ids)
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


@shared_task(acks_late=True)
def resolve_open_cases() -> int:
    """Twice a day: resolve open cases again, so that a move to another provider is noticed."""
    from reports.services import cases_enqueue_resolution

    ids = open_cases_due_for_reresolution()
    cases_enqueue_resolution(case_ids=ids)
    return len(ids)


@shared_task(acks_late=True)
def resolve_purge_caches() -> int:
    """Daily: drop lookup cache rows that expired more than a day ago."""
    return caches_purge()
