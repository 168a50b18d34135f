"""Resolving cases: claiming the due ones, resolving their hosts together, writing what was found
(or retrying what may pass), and marking open cases for re-resolution."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from reports.cases.services import Actor, StateConflict, case_transition, cases_transition, event_append, event_new
from reports.models import Case, CaseState, Event, EventKind
from reports.urls.hosts import registered_domain
from routing.resolution.dns import DnsOutcome, DnsResult
from routing.resolution.lookups import Lookups
from routing.resolution.resolve import HostQuery, HostResolution, hosts_resolve
from routing.resolution.signals import provider_changed
from scart.db import rows_update
from scart.times import iso, iso_or_none

log = logging.getLogger(__name__)

# Transient failures (DNS SERVFAIL or timeout, registry 5xx, 429 or timeout) are retried this many
# times, further apart each time; after that the case goes on with what is known, and the
# failure is recorded.
MAX_RESOLVE_ATTEMPTS = 5
# Open cases are resolved again this often, so a move to another provider is noticed.
RERESOLVE_EVERY = timedelta(hours=12)


def resolve_backoff(attempt: int) -> timedelta:
    return timedelta(minutes=min(2**attempt, 60))


@dataclass(frozen=True, slots=True)
class ResolveAttempt:
    result: DnsResult
    retry_at: datetime | None  # set when a transient failure will be retried
    resolution: HostResolution | None = None


def case_resolve(*, case_id: int, force: bool = False) -> ResolveAttempt | None:
    """Resolve one case if its resolution is due (or ``force``); see `cases_resolve`."""
    return cases_resolve(case_ids=[case_id], force=force).get(case_id)


def cases_resolve(
    *, case_ids: Iterable[int], force: bool = False, lookups: Lookups | None = None, claim: str = ""
) -> dict[int, ResolveAttempt]:
    """Resolve the cases whose resolution is due; safe to call twice or concurrently.

    Each case is claimed by moving ``resolve_due_at`` forward by a short lease (a conditional
    update) and naming the claim's owner in ``resolve_claim``, so only one worker resolves it at a
    time; the lease is renewed while the work goes on. ``claim`` is the calling task's id: a
    redelivered message (its first delivery's worker died) keeps it, and takes over the cases its
    first delivery claimed at once instead of finding them "not due". ``force`` claims the cases
    even when not due (re-resolution right before a notice) and reads no cached lookups. Cases on
    the same host share their lookups. Returns what happened per case that was claimed.
    """
    now = timezone.now()
    lease = resolve_lease()
    # One conditional UPDATE claims the whole chunk; the lease's end, unique to this call down to
    # the microsecond, then tells which rows this call claimed.
    lease_end = now + lease + timedelta(microseconds=secrets.randbelow(1_000_000))
    owner = claim or f"call-{secrets.token_hex(8)}"
    rows = Case.objects.filter(pk__in=list(dict.fromkeys(case_ids)))
    if not force:
        due = Q(resolve_due_at__isnull=False, resolve_due_at__lte=now)
        if claim:
            due |= Q(resolve_due_at__isnull=False, resolve_claim=claim)
        rows = rows.filter(due)
    if not rows.update(resolve_due_at=lease_end, resolve_claim=owner, resolve_attempts=F("resolve_attempts") + 1):
        return {}
    cases = list(Case.objects.filter(pk__in=list(case_ids), resolve_due_at=lease_end))
    with _lease_kept(owner, [case.pk for case in cases], lease):
        return _cases_resolve_claimed(cases, force=force, lookups=lookups)


def cases_release(*, claim: str) -> int:
    """A task that failed gives up its claim on the cases it did not finish: they wait for the sweep
    of overdue work (after its grace period) rather than the sweep of abandoned claims, so a batch
    that keeps failing is not tried again every minute. Returns the number of cases released."""
    return Case.objects.filter(resolve_claim=claim).update(resolve_claim="") if claim else 0


def resolve_lease() -> timedelta:
    """How long a claim on cases to resolve lasts unless its worker renews it (every third of it)."""
    return timedelta(seconds=settings.SCART_RESOLVE_LEASE_SECONDS)


@contextlib.contextmanager
def _lease_kept(owner: str, case_ids: list[int], lease: timedelta) -> Iterator[None]:
    """Renew ``owner``'s claim on these cases every third of the lease while the block runs: a live
    worker keeps its cases however long the registries take, and a dead one's claim runs out
    within one lease (then the sweep of abandoned claims hands the cases on). Cases already
    written have no owner any more and are left alone."""
    if transaction.get_connection().in_atomic_block:
        # Inside a caller's transaction nobody else sees the claim before it commits, and another
        # connection would wait for the caller's row locks: nothing to renew.
        yield
        return
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(lease.total_seconds() / 3):
                try:
                    Case.objects.filter(pk__in=case_ids, resolve_claim=owner).update(
                        resolve_due_at=timezone.now() + lease
                    )
                except DatabaseError:
                    log.warning("renewing the claim %s failed; trying again", owner, exc_info=True)
        finally:
            connection.close()  # this thread's own connection

    renewer = threading.Thread(target=renew, name=f"lease-{owner}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()


def _cases_resolve_claimed(cases: list[Case], *, force: bool, lookups: Lookups | None) -> dict[int, ResolveAttempt]:
    """Resolve the cases this call claimed, and write what was found."""
    if lookups is None:
        lookups = Lookups(refresh=force)
    queries = {c.host: HostQuery(c.host, c.is_ip, c.unresolvable, registered_domain(c.host)) for c in cases}
    cases_of: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        cases_of[case.host].append(case)
    attempts: dict[int, ResolveAttempt] = {}
    written: set[str] = set()

    def write_early(resolutions: dict[str, HostResolution]) -> None:
        """Write the cases of hosts that cached answers settled, while the other hosts are being
        looked up. One transaction: if it fails, these cases are written with the others."""
        groups = [(r, cases_of[host]) for host, r in resolutions.items() if host in cases_of and not r.transient]
        try:
            _cases_apply_resolved(groups)
        except DatabaseError:
            log.warning("writing the first resolutions of a batch failed; they go with the others", exc_info=True)
            return
        for resolution, group in groups:
            written.add(resolution.host)
            for case in group:
                attempts[case.pk] = ResolveAttempt(resolution.dns, None, resolution)

    try:
        resolutions: dict[str, HostResolution | str] = dict(
            hosts_resolve(list(queries.values()), lookups=lookups, on_resolved=write_early)
        )
    except Exception:
        # Something no lookup should raise: find the host it belongs to, so that one bad host does
        # not hold up the cases of every other host in the batch.
        log.exception("resolving %d hosts together failed; resolving them one by one", len(queries))
        resolutions = {}
        for host, query in queries.items():
            if host in written:
                continue
            try:
                resolutions[host] = hosts_resolve([query], lookups=lookups)[host]
            except Exception as exc:
                log.exception("resolving %s failed", host)
                resolutions[host] = f"resolution failed: {type(exc).__name__}: {exc}"
    finished: list[tuple[HostResolution, list[Case]]] = []
    for host, resolution in resolutions.items():
        if host in written or host not in cases_of:
            continue
        if isinstance(resolution, str):
            for case in cases_of[host]:
                attempts[case.pk] = _case_failed(case, resolution)
            continue
        group: list[Case] = []
        for case in cases_of[host]:
            attempt = _case_apply(case, resolution)
            if attempt is not None:
                attempts[case.pk] = attempt
            else:
                group.append(case)
                attempts[case.pk] = ResolveAttempt(resolution.dns, None, resolution)
        if group:
            finished.append((resolution, group))
    _cases_apply_resolved(finished)
    return attempts


def _case_failed(case: Case, error: str) -> ResolveAttempt:
    """An unexpected error: retried like a transient failure, then recorded and left behind."""
    result = DnsResult(case.host, DnsOutcome.SERVFAIL, error=error)
    retry_at = (
        timezone.now() + resolve_backoff(case.resolve_attempts)
        if case.resolve_attempts < MAX_RESOLVE_ATTEMPTS
        else None
    )
    with transaction.atomic():
        Case.objects.filter(pk=case.pk).update(resolve_due_at=retry_at, resolve_claim="")
        event_append(
            case=case,
            kind=EventKind.RESOLUTION_FAILED,
            actor=Actor.system(),
            data={
                "outcome": "error",
                "errors": [error],
                "attempt": case.resolve_attempts,
                "retry_at": iso_or_none(retry_at),
            },
        )
        if retry_at is None and case.state == CaseState.NEW:
            # Analysts can assess a URL whose host we failed to resolve; routing will see no provider.
            with contextlib.suppress(StateConflict):
                case_transition(case=case, to=CaseState.AWAITING_ASSESSMENT, actor=Actor.system())
    return ResolveAttempt(result, retry_at)


def _case_apply(case: Case, resolution: HostResolution) -> ResolveAttempt | None:
    """Handle a failed resolution of one case (retry later, or keep the last good answer);
    None when the resolution is to be written (see `_cases_apply_resolved`)."""
    give_up = case.resolve_attempts >= MAX_RESOLVE_ATTEMPTS
    if resolution.transient and give_up and case.resolved_at is not None:
        # A re-resolution that keeps failing says nothing new: the last good answer stands.
        _case_resolution_failed(
            case, resolution, {"resolve_due_at": None, "resolve_attempts": 0}, kept="the previous resolution"
        )
        return ResolveAttempt(resolution.dns, None, resolution)
    if resolution.transient and not give_up:
        wait = resolve_backoff(case.resolve_attempts)
        if resolution.retry_after:
            wait = max(wait, timedelta(seconds=resolution.retry_after))
        retry_at = timezone.now() + wait
        _case_resolution_failed(case, resolution, {"resolve_due_at": retry_at}, retry_at=iso(retry_at))
        return ResolveAttempt(resolution.dns, retry_at, resolution)

    return None


def _case_resolution_failed(case: Case, resolution: HostResolution, changes: dict[str, Any], **data: str) -> None:
    """Release the case's claim with ``changes`` and record the failed attempt, ``data`` saying
    what happens next."""
    with transaction.atomic():
        Case.objects.filter(pk=case.pk).update(resolve_claim="", **changes)
        event_append(
            case=case,
            kind=EventKind.RESOLUTION_FAILED,
            actor=Actor.system(),
            data={
                "outcome": resolution.outcome,
                "errors": resolution.as_dict()["errors"] or [resolution.dns.error],
                "attempt": case.resolve_attempts,
                **data,
            },
        )


def _cases_apply_resolved(groups: Sequence[tuple[HostResolution, Sequence[Case]]]) -> None:
    """Write finished resolutions: the cases' rows in one batch, the events of the whole batch at once,
    and one state change for every case still new."""
    if not groups:
        return
    system = Actor.system()
    now = timezone.now()
    events: list[Event] = []
    changes: list[tuple[int, int, int | None]] = []
    new_ids: list[int] = []
    updates: list[tuple[dict[str, Any], int]] = []
    with transaction.atomic():
        for resolution, cases in groups:
            data = resolution.as_dict()
            provider = resolution.provider
            new_provider_id = provider.pk if provider else None
            values = {
                "resolve_due_at": None,
                "resolve_claim": "",
                "resolve_attempts": 0,
                "resolution": data,
                "resolved_at": now,
                "provider": new_provider_id,
                "cdn": resolution.cdn.pk if resolution.cdn else None,
                "origin_provider": resolution.origin.provider.pk
                if resolution.origin and resolution.origin.provider
                else None,
                "hosting_country": resolution.country,
                "asn": resolution.asn,
                "contact_confidence": resolution.confidence,
                "contact_check": resolution.contact_check,
            }
            updates.extend((values, case.pk) for case in cases)
            summary = _event_summary(data)
            for case in cases:
                events.append(event_new(case=case, kind=EventKind.RESOLVED, actor=system, at=now, data=summary))
                if case.provider_id is not None and case.provider_id != new_provider_id:
                    events.append(
                        event_new(
                            case=case,
                            kind=EventKind.PROVIDER_CHANGED,
                            actor=system,
                            at=now,
                            data={
                                "from": case.provider_id,
                                "to": new_provider_id,
                                "to_name": provider.name if provider else "",
                                "rule": resolution.match.rule,
                            },
                        )
                    )
                    changes.append((case.pk, case.provider_id, new_provider_id))
                if case.state == CaseState.NEW:
                    new_ids.append(case.pk)
        _cases_update(updates)
        # Only cases that are still new move (an analyst may have acted meanwhile); each gets its
        # event, written with the batch's others.
        cases_transition(
            case_ids=new_ids,
            source=CaseState.NEW,
            to=CaseState.AWAITING_ASSESSMENT,
            actor=system,
            at=now,
            events=events,
        )
        for case_id, old, new in changes:
            transaction.on_commit(
                partial(provider_changed.send, sender=Case, case_id=case_id, old_provider_id=old, new_provider_id=new)
            )


def _cases_update(updates: Sequence[tuple[dict[str, Any], int]]) -> None:
    """``UPDATE ... WHERE id = %s`` once per ``(values, case id)``, sent as one batch: a chunk's
    hundred cases on a hundred hosts cost one round trip instead of a hundred ORM updates."""
    rows_update(Case, "id", updates)


def _event_summary(data: dict[str, Any]) -> dict[str, Any]:
    """What a resolution event keeps: enough to read the case's history, not the whole lookup."""
    provider = data.get("provider") or {}
    return {
        "outcome": data["outcome"],
        "addresses": data["addresses"],
        "cnames": data["cnames"],
        "provider": provider.get("name", ""),
        "provider_id": provider.get("id"),
        "rule": provider.get("rule", ""),
        "country": data["country"],
        "asn": data["asn"],
        "confidence": data["confidence"],
        "cdn": (data.get("cdn") or {}).get("name", ""),
        "errors": data["errors"],
    }


def open_cases_due_for_reresolution(*, now: datetime | None = None, limit: int = 10_000) -> list[int]:
    """Mark open cases last resolved longer than `RERESOLVE_EVERY` ago as due; returns their ids."""
    now = now or timezone.now()
    ids = list(
        Case.objects.filter(state__in=CaseState.OPEN, resolve_due_at__isnull=True)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__lt=now - RERESOLVE_EVERY))
        .order_by("resolved_at")
        .values_list("id", flat=True)[:limit]
    )
    if ids:
        Case.objects.filter(pk__in=ids, resolve_due_at__isnull=True).update(resolve_due_at=now)
    return ids


__all__ = [
    "MAX_RESOLVE_ATTEMPTS",
    "RERESOLVE_EVERY",
    "ResolveAttempt",
    "case_resolve",
    "cases_release",
    "cases_resolve",
    "open_cases_due_for_reresolution",
    "resolve_backoff",
    "resolve_lease",
]
