"""Writes of the routing stage: resolving cases to their hosting provider, network and contact."""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.dispatch import Signal
from django.utils import timezone

from accounts.models import AuditAction
from accounts.services import audit_record
from reports.models import Case, CaseState, Event, EventKind
from reports.services import Actor, StateConflict, case_transition
from reports.urls import UrlRejected, normalise_url
from reports.urls.hosts import registered_domain
from routing.models import Confidence, Provider
from routing.resolution.dns import DnsOutcome, DnsResult
from routing.resolution.lookups import IpInfo, Lookups
from routing.resolution.providers import Match, RuleIndex, contact_confidence
from scart.db import rows_update
from scart.times import iso, iso_or_none

log = logging.getLogger(__name__)

# Transient failures (DNS SERVFAIL or timeout, registry 5xx, 429 or timeout) are retried this many
# times, further apart each time; after that the case goes on with what is known, and the
# failure is recorded.
MAX_RESOLVE_ATTEMPTS = 5
# Open cases are resolved again this often, so a move to another provider is noticed.
RERESOLVE_EVERY = timedelta(hours=12)
OPEN_STATES = (CaseState.AWAITING_ASSESSMENT, CaseState.ILLEGAL, CaseState.NOTIFIED)

# Sent after a case's hosting provider changed (on commit), with ``case_id``, ``old_provider_id``
# and ``new_provider_id``. Routing of notices listens to re-route the case.
provider_changed = Signal()


def resolve_backoff(attempt: int) -> timedelta:
    return timedelta(minutes=min(2**attempt, 60))


@dataclass
class HostResolution:
    """Everything resolution concluded about one host."""

    host: str
    registered_domain: str
    dns: DnsResult
    ips: list[IpInfo]
    match: Match
    cdn: Provider | None = None
    origin: HostResolution | None = None
    origin_host: str = ""
    registrar: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def provider(self) -> Provider | None:
        return self.match.provider

    @property
    def transient(self) -> bool:
        return self.dns.outcome.is_transient or any(ip.transient for ip in self.ips)

    @property
    def retry_after(self) -> float | None:
        waits = [ip.retry_after for ip in self.ips if ip.retry_after]
        return max(waits) if waits else None

    @property
    def outcome(self) -> str:
        if self.dns.outcome not in (DnsOutcome.RESOLVED, DnsOutcome.IP_LITERAL):
            return self.dns.outcome.value
        if any(ip.error for ip in self.ips):
            return "partial"
        return "resolved"

    @property
    def primary(self) -> IpInfo | None:
        """The address the provider was chosen on, else the first one."""
        for ip in self.ips:
            if ip.ip == self.match.address:
                return ip
        return self.ips[0] if self.ips else None

    @property
    def country(self) -> str:
        """Where the content is hosted: the origin's country when a CDN's origin is known."""
        if self.origin is not None and self.origin.country:
            return self.origin.country
        if self.provider is not None and self.match.rule.startswith("domain:") and self.provider.country:
            return self.provider.country
        primary = self.primary
        return primary.country if primary else ""

    @property
    def asn(self) -> int | None:
        primary = self.primary
        return primary.asn.asn if primary and primary.asn else None

    @property
    def confidence(self) -> str:
        return contact_confidence(self.provider)

    @property
    def contact_check(self) -> bool:
        """Low or no confidence in the contact of a host that is online somewhere: a senior analyst
        looks before any notice goes out."""
        if not self.ips:
            return False
        provider = self.provider
        # A provider whose abuse address bounced, with no fallback left, waits for a senior too.
        if provider is not None and provider.contact_flagged_at is not None and not provider.fallback_email:
            return True
        return self.confidence != Confidence.HIGH

    def as_dict(self) -> dict[str, Any]:
        provider = self.provider
        return {
            "host": self.host,
            "registered_domain": self.registered_domain,
            "outcome": self.outcome,
            "cnames": list(self.dns.cname_chain),
            "addresses": list(self.dns.addresses),
            "dns": self.dns.as_dict(),
            "ips": [ip.as_dict() for ip in self.ips],
            "provider": _provider_dict(provider, self.match.rule) if provider else None,
            "country": self.country,
            "asn": self.asn,
            "cdn": _provider_dict(self.cdn, "") if self.cdn else None,
            "origin": self.origin.as_dict()
            if self.origin
            else ({"host": self.origin_host} if self.origin_host else None),
            "registrar": self.registrar,
            "confidence": self.confidence,
            "contact_check": self.contact_check,
            "errors": self.errors + [f"{ip.ip}: {ip.error}" for ip in self.ips if ip.error],
        }


def _provider_dict(provider: Provider, rule: str) -> dict[str, Any]:
    return {
        "id": provider.pk,
        "name": provider.name,
        "abuse_emails": list(provider.abuse_emails or []),
        "abuse_source": provider.abuse_source,
        "abuse_rule": provider.chosen_by,
        "confidence": contact_confidence(provider),
        "country": provider.country,
        "is_cdn": provider.is_cdn,
        "verified": provider.verified,
        "rule": rule,
    }


@dataclass(frozen=True)
class HostQuery:
    host: str
    is_ip: bool = False
    unresolvable: bool = False
    registered_domain: str = ""


def hosts_resolve(
    queries: Sequence[HostQuery],
    *,
    lookups: Lookups | None = None,
    on_resolved: Callable[[dict[str, HostResolution]], None] | None = None,
) -> dict[str, HostResolution]:
    """Resolve a batch of hosts: DNS, registries, provider, CDN origin and registrar.

    ``on_resolved``, when given, is called once, early, with the resolutions of the hosts that
    cached answers settle completely, while DNS and the registries are still being asked about
    the others: the caller can write those meanwhile. The result holds every host all the same.
    """
    lookups = lookups or Lookups()
    rules = RuleIndex()
    wanted = {q.host: q for q in queries}
    origins: dict[str, str] = {}
    for query in queries:
        rule = rules.domain_rule(query.host)
        if rule is not None and rule.origin_host and rule.origin_host.lower() != query.host:
            origins[query.host] = rule.origin_host.lower().rstrip(".")
    origin_queries = {}
    for origin_name in set(origins.values()) - set(wanted):
        origin_queries[origin_name] = _host_query(origin_name)
    all_queries = {**wanted, **origin_queries}
    asks_registrar = {q.host: bool(q.registered_domain and not q.is_ip and not q.unresolvable) for q in queries}
    registrars_pending = lookups.registrars_start(q.registered_domain for q in queries if asks_registrar[q.host])
    early: dict[str, HostResolution] = {}
    first_answers = True

    def build(
        query: HostQuery, result: DnsResult, infos: dict[str, IpInfo], registrars: dict[str, Any]
    ) -> HostResolution:
        ips = [infos[a] for a in result.addresses]
        match = rules.match(query.host, [(i.ip, i.asn.asn if i.asn else None, i.network) for i in ips])
        return HostResolution(
            host=query.host,
            registered_domain=query.registered_domain,
            dns=result,
            ips=ips,
            match=match,
            cdn=match.provider if match.provider is not None and match.provider.is_cdn else None,
            registrar=registrars.get(query.registered_domain),
        )

    def settle_early(results: list[DnsResult]) -> None:
        """The hosts whose answers are all at hand (cached DNS, addresses in this process's
        memory, a cached registrar) and that no origin rule ties to another host."""
        settled = [
            r
            for r in results
            if r.host in wanted
            and r.host not in origins
            and r.host not in origins.values()
            and not r.outcome.is_transient
            and (not asks_registrar[r.host] or wanted[r.host].registered_domain in registrars_pending.cached)
            and lookups.addresses_known(r.addresses)
        ]
        if not settled:
            return
        infos = lookups.addresses([a for r in settled for a in r.addresses])
        rules.prefetch(info.network for info in infos.values() if info.network is not None)
        for result in settled:
            early[result.host] = build(wanted[result.host], result, infos, registrars_pending.cached)
        if on_resolved is not None:
            on_resolved(dict(early))

    def answered(results: list[DnsResult]) -> None:
        nonlocal first_answers
        # Each host's registry lookups start as soon as DNS has named its addresses.
        lookups.addresses_start(a for r in results for a in r.addresses)
        if first_answers and on_resolved is not None and len(results) < len(all_queries):
            settle_early(results)  # while the others are asked
        first_answers = False

    try:
        dns_results = lookups.hosts(
            ((q.host, q.is_ip, q.unresolvable) for q in all_queries.values()), on_answers=answered
        )
        addresses = [a for host, r in dns_results.items() if host not in early for a in r.addresses]
        infos = lookups.addresses(addresses)
    finally:
        lookups.close()
        registrars = registrars_pending()

    rules.prefetch(info.network for info in infos.values() if info.network is not None)
    built = {host: early.get(host) or build(q, dns_results[host], infos, registrars) for host, q in all_queries.items()}
    resolutions = {}
    for host in wanted:
        resolution = built[host]
        if host in origins:
            resolution.origin_host = origins[host]
            origin: HostResolution = built[origins[host]]
            # An origin that is itself a CDN address tells us nothing new.
            if origin.provider is not None and not origin.provider.is_cdn:
                resolution.origin = origin
        resolutions[host] = resolution
    return resolutions


def _host_query(host: str) -> HostQuery:
    try:
        normal = normalise_url(f"http://{host}/")
    except UrlRejected:
        return HostQuery(host, unresolvable=True)
    return HostQuery(normal.host, normal.is_ip, normal.unresolvable, registered_domain(normal.host))


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
        Event.objects.create(
            case=case,
            kind=EventKind.RESOLUTION_FAILED,
            data={
                "outcome": "error",
                "errors": [error],
                "attempt": case.resolve_attempts,
                "retry_at": iso_or_none(retry_at),
            },
            **Actor.system().event_fields(),
        )
        if retry_at is None and case.state == CaseState.NEW:
            # Analysts can assess a URL whose host we failed to resolve; routing will see no provider.
            with contextlib.suppress(StateConflict):
                case_transition(case=case, to=CaseState.AWAITING_ASSESSMENT, actor=Actor.system())
    return ResolveAttempt(result, retry_at)


def _case_apply(case: Case, resolution: HostResolution) -> ResolveAttempt | None:
    """Handle a failed resolution of one case (retry later, or keep the last good answer);
    None when the resolution is to be written (see `_cases_apply_resolved`)."""
    system = Actor.system()
    give_up = case.resolve_attempts >= MAX_RESOLVE_ATTEMPTS
    if resolution.transient and give_up and case.resolved_at is not None:
        # A re-resolution that keeps failing says nothing new: the last good answer stands.
        with transaction.atomic():
            Case.objects.filter(pk=case.pk).update(resolve_due_at=None, resolve_claim="", resolve_attempts=0)
            Event.objects.create(
                case=case,
                kind=EventKind.RESOLUTION_FAILED,
                data={
                    "outcome": resolution.outcome,
                    "errors": resolution.as_dict()["errors"] or [resolution.dns.error],
                    "attempt": case.resolve_attempts,
                    "kept": "the previous resolution",
                },
                **system.event_fields(),
            )
        return ResolveAttempt(resolution.dns, None, resolution)
    if resolution.transient and not give_up:
        wait = resolve_backoff(case.resolve_attempts)
        if resolution.retry_after:
            wait = max(wait, timedelta(seconds=resolution.retry_after))
        retry_at = timezone.now() + wait
        with transaction.atomic():
            Case.objects.filter(pk=case.pk).update(resolve_due_at=retry_at, resolve_claim="")
            Event.objects.create(
                case=case,
                kind=EventKind.RESOLUTION_FAILED,
                data={
                    "outcome": resolution.outcome,
                    "errors": resolution.as_dict()["errors"] or [resolution.dns.error],
                    "attempt": case.resolve_attempts,
                    "retry_at": iso(retry_at),
                },
                **system.event_fields(),
            )
        return ResolveAttempt(resolution.dns, retry_at, resolution)

    return None


def _cases_apply_resolved(groups: Sequence[tuple[HostResolution, Sequence[Case]]]) -> None:
    """Write finished resolutions: the cases' rows in one batch, the events of the whole batch at once,
    and one state change for every case still new."""
    if not groups:
        return
    system = Actor.system().event_fields()
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
                events.append(Event(case=case, kind=EventKind.RESOLVED, at=now, data=summary, **system))
                if case.provider_id is not None and case.provider_id != new_provider_id:
                    events.append(
                        Event(
                            case=case,
                            kind=EventKind.PROVIDER_CHANGED,
                            at=now,
                            data={
                                "from": case.provider_id,
                                "to": new_provider_id,
                                "to_name": provider.name if provider else "",
                                "rule": resolution.match.rule,
                            },
                            **system,
                        )
                    )
                    changes.append((case.pk, case.provider_id, new_provider_id))
                if case.state == CaseState.NEW:
                    new_ids.append(case.pk)
        _cases_update(updates)
        # The same transition `case_transition` makes, for the whole batch: only cases that are
        # still new move (an analyst may have acted meanwhile), and each gets its event.
        moved = list(Case.objects.filter(pk__in=new_ids, state=CaseState.NEW).values_list("pk", flat=True))
        if moved:
            Case.objects.filter(pk__in=moved, state=CaseState.NEW).update(
                state=CaseState.AWAITING_ASSESSMENT, state_changed_at=now
            )
            events.extend(
                Event(
                    case_id=pk,
                    kind=EventKind.STATE_CHANGED,
                    at=now,
                    data={"from": str(CaseState.NEW), "to": str(CaseState.AWAITING_ASSESSMENT)},
                    **system,
                )
                for pk in moved
            )
        Event.objects.bulk_create(events)
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
        Case.objects.filter(state__in=OPEN_STATES, resolve_due_at__isnull=True)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__lt=now - RERESOLVE_EVERY))
        .order_by("resolved_at")
        .values_list("id", flat=True)[:limit]
    )
    if ids:
        Case.objects.filter(pk__in=ids, resolve_due_at__isnull=True).update(resolve_due_at=now)
    return ids


def contact_confirm(*, provider: Provider, emails: Sequence[str], actor: Actor) -> int:
    """A senior analyst confirms (or corrects) a provider's abuse addresses: the provider becomes
    verified with source ``manual``, and its cases leave the contact-check queue. Returns the
    number of cases released."""
    from routing.models import AbuseRule, AbuseSource
    from routing.resolution.contacts import clean_emails

    cleaned = list(clean_emails(emails))
    if not cleaned:
        raise ValueError("at least one valid address is needed")
    before = {"abuse_emails": list(provider.abuse_emails or []), "verified": provider.verified}
    with transaction.atomic():
        # A queryset update skips the model signals that audit other provider changes.
        audit_record(
            action=AuditAction.CONTACT_CHANGED,
            actor=actor.user,
            obj=provider,
            summary=f"confirmed the abuse contact of {provider}",
            data={"before": before, "after": {"abuse_emails": cleaned, "verified": True}},
        )
        Provider.objects.filter(pk=provider.pk).update(
            abuse_emails=cleaned,
            abuse_source=AbuseSource.MANUAL,
            abuse_rule=AbuseRule.MANUAL,
            confidence=Confidence.HIGH,
            verified=True,
            contact_flagged_at=None,
            contact_flag_reason="",
        )
        cases = list(Case.objects.filter(Q(provider=provider) & Q(contact_check=True)))
        Case.objects.filter(pk__in=[c.pk for c in cases]).update(
            contact_check=False, contact_confidence=Confidence.HIGH
        )
        Event.objects.bulk_create(
            [
                Event(
                    case=c,
                    kind=EventKind.CONTACT_CHECKED,
                    data={"provider_id": provider.pk, "abuse_emails": cleaned},
                    **actor.event_fields(),
                )
                for c in cases
            ]
        )
        from routing.notices.planning import NOTICE_STATES, cases_request_planning

        # Released cases, and those of this provider a bounce had sent back, get their notices now.
        cases_request_planning(
            case_ids=list(Case.objects.filter(provider=provider, state__in=NOTICE_STATES).values_list("id", flat=True))
        )
    provider.refresh_from_db()
    return len(cases)
