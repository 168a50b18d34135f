"""Celery tasks of the routing stage: thin wrappers that load by id and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from routing.services import case_resolve

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def resolve_cases(case_ids: list[int]) -> None:
    """Resolve each case whose resolution is due. A failure on one case does not stop the others:
    that case stays due and the sweep enqueues it again."""
    for case_id in case_ids:
        try:
            attempt = case_resolve(case_id=case_id)
        except Exception:
            log.exception("resolving case %s failed; the sweep will retry it", case_id)
            continue
        if attempt is not None and attempt.retry_at is not None:
            resolve_cases.apply_async(([case_id],), eta=attempt.retry_at)
