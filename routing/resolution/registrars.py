"""Registrar lookups of a batch: domain RDAP per registrable domain, cached in the database, asked
in the background (they need nothing from DNS, and a registry's rate limit makes them the slowest
part of a batch)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from routing.models import DomainLookup
from routing.resolution.batch import Batch
from routing.resolution.claims import claimed
from routing.resolution.rdap_client import RdapError
from routing.resolution.rdap_domains import RegistrarInfo, lookup_registrar

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistrarAnswer:
    """What the registry said of one domain: its registrar, or the error and whether it may pass."""

    domain: str
    info: RegistrarInfo | None = None
    error: str = ""
    transient: bool = False


@dataclass(frozen=True)
class PendingRegistrars:
    """A batch's registrar lookups under way (`registrars_start`)."""

    cached: dict[str, dict[str, Any]]  # the answers the database had
    finish: Callable[[], dict[str, dict[str, Any]]]

    def __call__(self) -> dict[str, dict[str, Any]]:
        """Wait for the lookups and store their answers; returns every domain's answer."""
        return self.finish()


def registrars_start(batch: Batch, domains: Iterable[str]) -> PendingRegistrars:
    """Start the registrar lookups of ``domains`` in the background; calling the result waits for
    them and stores the answers (``{"error": ...}`` for a domain whose lookup failed)."""
    now = timezone.now()
    wanted = sorted(set(d for d in domains if d))
    found: dict[str, dict[str, Any]] = {}
    if not batch.refresh:
        for row in DomainLookup.objects.filter(domain__in=wanted, expires_at__gt=now):
            found[row.domain] = row.data if not row.error else {"domain": row.domain, "error": row.error}
    missing = [d for d in wanted if d not in found]
    pool = ThreadPoolExecutor(max_workers=max(1, min(batch.config.concurrency, len(missing))))
    futures = [pool.submit(_ask, batch, domain) for domain in missing]

    def finish() -> dict[str, dict[str, Any]]:
        try:
            answers = [future.result() for future in futures]
        finally:
            pool.shutdown(wait=True)
        _store(batch, answers, found)
        return found

    return PendingRegistrars(cached=dict(found), finish=finish)


def _ask(batch: Batch, domain: str) -> RegistrarAnswer:
    """Asked once at a time by the threads of this process, and once by all workers (a claim in
    the shared cache); a transient failure is not passed on to other workers."""
    if batch.refresh:
        return _ask_registry(batch, domain)
    return batch.process.registrar_flights.run(
        domain,
        lambda: claimed(
            f"domain:{domain}",
            lambda: _ask_registry(batch, domain),
            shareable=lambda answer: not answer.transient,
            cache=batch.process.cache(),
        ),
    )


def _ask_registry(batch: Batch, domain: str) -> RegistrarAnswer:
    try:
        return RegistrarAnswer(domain, lookup_registrar(domain, client=batch.client, in_flight=batch.in_flight.host))
    except RdapError as exc:
        return RegistrarAnswer(domain, error=str(exc), transient=exc.transient)
    except Exception as exc:  # a malformed domain object must not stop the case
        log.warning("reading the RDAP object of %s failed: %s", domain, exc)
        return RegistrarAnswer(domain, error=f"unreadable RDAP answer: {exc}")


def _store(batch: Batch, answers: list[RegistrarAnswer], found: dict[str, dict[str, Any]]) -> None:
    """Put the answers into ``found`` and the database (transient failures only into ``found``)."""
    stored = timezone.now()
    rows = []
    for answer in answers:
        batch.counters.registrar_lookups += 1
        info = answer.info
        found[answer.domain] = info.as_dict() if info else {"domain": answer.domain, "error": answer.error}
        if answer.transient:
            continue
        seconds = batch.config.network_ttl * 2 if info else batch.config.failure_ttl
        rows.append(
            DomainLookup(
                domain=answer.domain,
                data=info.as_dict() if info else {},
                error=answer.error,
                fetched_at=stored,
                expires_at=stored + timedelta(seconds=seconds),
            )
        )
    DomainLookup.objects.bulk_create(
        sorted(rows, key=lambda row: row.domain),  # key order: concurrent upserts cannot deadlock
        update_conflicts=True,
        unique_fields=["domain"],
        update_fields=["data", "error", "fetched_at", "expires_at"],
    )


__all__ = ["PendingRegistrars", "RegistrarAnswer", "registrars_start"]
