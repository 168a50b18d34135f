"""Writes of the routing stage. For now: resolving a case's host to its addresses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from reports.models import Case, CaseState, Event, EventKind
from reports.services import Actor, StateConflict, case_transition
from routing.dns import DnsResult, make_resolver, resolve_host

log = logging.getLogger(__name__)

# While a worker resolves a case, the case is not due; if the worker dies, the sweep sees it due
# again once this lease has passed.
RESOLVE_LEASE = timedelta(minutes=5)
# Transient DNS failures (SERVFAIL, timeout) are retried this many times, further apart each time;
# after that the case goes to the analysts with the failure recorded rather than waiting forever.
MAX_RESOLVE_ATTEMPTS = 5


def resolve_backoff(attempt: int) -> timedelta:
    return timedelta(minutes=min(2**attempt, 60))


@dataclass(frozen=True, slots=True)
class ResolveAttempt:
    result: DnsResult
    retry_at: datetime | None  # set when a transient failure will be retried


def case_resolve(*, case_id: int) -> ResolveAttempt | None:
    """Resolve one case's host if its resolution is due; safe to call twice or concurrently.

    Claims the case by moving ``resolve_due_at`` forward (a conditional update), so only one
    worker resolves it at a time. Returns what happened, or None if there was nothing to do.
    """
    now = timezone.now()
    claimed = Case.objects.filter(pk=case_id, resolve_due_at__isnull=False, resolve_due_at__lte=now).update(
        resolve_due_at=now + RESOLVE_LEASE, resolve_attempts=F("resolve_attempts") + 1
    )
    if not claimed:
        return None
    case = Case.objects.get(pk=case_id)
    resolver = make_resolver(
        settings.SCART_DNS_NAMESERVERS, timeout=settings.SCART_DNS_TIMEOUT, lifetime=settings.SCART_DNS_LIFETIME
    )
    result = resolve_host(case.host, resolver=resolver, is_ip=case.is_ip, unresolvable=case.unresolvable)
    if result.outcome.is_transient and case.resolve_attempts < MAX_RESOLVE_ATTEMPTS:
        retry_at = timezone.now() + resolve_backoff(case.resolve_attempts)
        with transaction.atomic():
            Case.objects.filter(pk=case_id).update(resolve_due_at=retry_at)
            Event.objects.create(
                case=case,
                kind=EventKind.RESOLUTION_FAILED,
                data={**result.as_dict(), "attempt": case.resolve_attempts, "retry_at": retry_at.isoformat()},
                **Actor.system().event_fields(),
            )
        return ResolveAttempt(result, retry_at)
    with transaction.atomic():
        Case.objects.filter(pk=case_id).update(resolve_due_at=None, resolution=result.as_dict())
        Event.objects.create(case=case, kind=EventKind.RESOLVED, data=result.as_dict(), **Actor.system().event_fields())
        if case.state == CaseState.NEW:
            try:
                case_transition(case=case, to=CaseState.AWAITING_ASSESSMENT, actor=Actor.system())
            except StateConflict:
                log.info("case %s left state new while it was being resolved", case_id)
    return ResolveAttempt(result, None)
