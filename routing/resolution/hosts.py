"""Host lookups of a batch: DNS answers cached in the database until their TTL (clamped) runs out,
and a host nobody has asked for claimed there first, so that when workers get cases on the same
new host at the same time one asks and the others wait for its answer."""

from __future__ import annotations

import contextlib
import itertools
import queue
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import dns.name
import dns.rdatatype
from django.db.models import Q
from django.utils import timezone

from routing.models import HostLookup
from routing.resolution.batch import Batch
from routing.resolution.claims import WAIT_STEP
from routing.resolution.dns import DnsResult, chase_type, host_question, host_result, resolve_host
from scart.db import rows_update

# How long another worker's claim on a host lookup is honoured before we ask ourselves: longer
# than the slowest lookup (A then AAAA, each up to the resolver's lifetime, per CNAME hop).
HOST_CLAIM = timedelta(seconds=90)


class HostLookups:
    """The DNS part of a batch (`Lookups.hosts`)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def answers(
        self,
        hosts: Iterable[tuple[str, bool, bool]],
        *,
        on_answers: Callable[[list[DnsResult]], None] | None = None,
    ) -> dict[str, DnsResult]:
        """DNS results for ``(host, is_ip, unresolvable)`` triples, from the cache or DNS.

        ``on_answers`` is called (on this thread) with the results as they become known: first
        those known without asking (cached, IP literals), once the questions about the others are
        on their way, then each group of DNS answers. So the next steps, and the caller's own
        work on the first group, run while DNS is asked about the other hosts.
        """
        wanted = {host: (is_ip, unresolvable) for host, is_ip, unresolvable in hosts}
        results: dict[str, DnsResult] = {}
        to_ask: list[str] = []
        for host, (is_ip, unresolvable) in wanted.items():
            if is_ip or unresolvable:
                results[host] = resolve_host(host, resolver=self.batch.resolver, is_ip=is_ip, unresolvable=unresolvable)
            else:
                to_ask.append(host)
        undelivered = list(results.values())

        def known(batch: list[DnsResult]) -> None:
            if batch and on_answers is not None:
                on_answers(batch)

        # A refresh accepts only answers fetched after it started (another worker's fresh ones).
        fresh_since = timezone.now() if self.batch.refresh else None
        if to_ask:
            # In key order, so that two workers inserting the same rows cannot deadlock.
            HostLookup.objects.bulk_create([HostLookup(host=h) for h in sorted(to_ask)], ignore_conflicts=True)
        wait = WAIT_STEP
        while to_ask:
            now = timezone.now()
            rows = HostLookup.objects.filter(host__in=to_ask, expires_at__gt=now)
            if fresh_since is not None:
                rows = rows.filter(fetched_at__gte=fresh_since)
            for row in rows:
                result = results[row.host] = DnsResult.from_dict(row.result)
                undelivered.append(result)
            missing = [h for h in to_ask if h not in results]
            claimed, until = self._claim(missing, now, fresh_since) if missing else ([], now)
            answers = self._ask(claimed)
            try:
                first = next(answers, [])  # the questions are on their way now
                known(undelivered)
                undelivered = []
                for batch in itertools.chain([first], answers):
                    self._store(batch)
                    for result in batch:
                        results[result.host] = result
                    known(batch)
            except BaseException:
                # Whatever went wrong, nobody should wait for answers we will not store.
                unanswered = [h for h in claimed if h not in results]
                with contextlib.suppress(Exception):
                    HostLookup.objects.filter(host__in=unanswered, claimed_until=until).update(claimed_until=None)
                raise
            finally:
                answers.close()
            to_ask = [h for h in missing if h not in results]
            if to_ask and not claimed:
                time.sleep(wait)  # another worker is asking: wait for its answer
                wait = min(wait * 2, 1.0)
        known(undelivered)
        return results

    def _claim(self, hosts: list[str], now: datetime, fresh_since: datetime | None) -> tuple[list[str], datetime]:
        """Claim the hosts nobody else is asking about (or whose asker's claim ran out) and that
        still have no usable answer (another worker may have stored one since we looked).
        Returns the hosts claimed and the claims' end."""
        unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        unanswered = Q(expires_at__isnull=True) | Q(expires_at__lte=now)
        if fresh_since is not None:
            unanswered |= Q(fetched_at__lt=fresh_since)
        # One conditional UPDATE; the claim's end, unique to this call down to the microsecond,
        # then tells which rows it took (as for cases in `routing.resolution.cases.cases_resolve`).
        until = now + HOST_CLAIM + timedelta(microseconds=secrets.randbelow(1_000_000))
        if not HostLookup.objects.filter(unclaimed, unanswered, host__in=hosts).update(claimed_until=until):
            return [], until
        claimed = HostLookup.objects.filter(host__in=hosts, claimed_until=until).values_list("host", flat=True)
        return sorted(claimed), until

    def _ask(self, hosts: list[str]) -> Generator[list[DnsResult], None, None]:
        """Ask A and AAAA of every host at once, on the pool; yields the results in groups as they
        come in, each host's as soon as both its answers are (so workers waiting for one host do
        not wait for the slowest host of this batch). The first group, of the hosts that need no
        question, comes once every question is on its way."""
        ready: list[DnsResult] = []
        questions: dict[str, dns.name.Name] = {}
        for host in hosts:
            start = host_question(host)
            if isinstance(start, DnsResult):
                ready.append(start)
            else:
                questions[host] = start
        if not questions:
            yield ready
            return
        answers: queue.SimpleQueue[tuple[str, dns.rdatatype.RdataType, Future[Any]]] = queue.SimpleQueue()

        def deliver(host: str, rdtype: dns.rdatatype.RdataType) -> Callable[[Future[Any]], None]:
            return lambda future: answers.put((host, rdtype, future))

        parts: dict[str, dict[dns.rdatatype.RdataType, Any]] = defaultdict(dict)
        with ThreadPoolExecutor(max_workers=min(self.batch.config.concurrency, 2 * len(questions))) as pool:
            for host, start in questions.items():
                for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    future = pool.submit(
                        self.batch.on_the_wire, chase_type, host, start, rdtype, resolver=self.batch.resolver
                    )
                    future.add_done_callback(deliver(host, rdtype))
            yield ready
            outstanding = 2 * len(questions)
            while outstanding:
                ready = []
                done = [answers.get()]  # then whatever else came in meanwhile
                with contextlib.suppress(queue.Empty):
                    while True:
                        done.append(answers.get_nowait())
                for host, rdtype, future in done:
                    outstanding -= 1
                    parts[host][rdtype] = future.result()
                    if len(parts[host]) == 2:
                        a, aaaa = parts[host][dns.rdatatype.A], parts[host][dns.rdatatype.AAAA]
                        ready.append(host_result(host, questions[host], a, aaaa))
                if ready:
                    yield ready

    def _store(self, results: list[DnsResult]) -> None:
        """Store answers and end their claims, in one round trip for the whole group. Transient
        failures are not stored; their claims end, so that the next worker asks again."""
        if not results:
            return
        now = timezone.now()
        answers: list[tuple[dict[str, Any], str]] = []
        failed: list[str] = []
        for result in results:
            self.batch.counters.dns_lookups += 1
            if result.outcome.is_transient:
                failed.append(result.host)
                continue
            if result.addresses:
                ttl = result.ttl if result.ttl is not None else self.batch.config.host_ttl_min
                seconds = min(max(ttl, self.batch.config.host_ttl_min), self.batch.config.host_ttl_max)
            else:
                seconds = self.batch.config.host_failure_ttl
            values = {
                "result": result.as_dict(),
                "fetched_at": now,
                "expires_at": now + timedelta(seconds=seconds),
                "claimed_until": None,
            }
            answers.append((values, result.host))
        if failed:
            HostLookup.objects.filter(host__in=failed).update(claimed_until=None)
        rows_update(HostLookup, "host", answers)


__all__ = ["HOST_CLAIM", "HostLookups"]
