"""Resolution of many hosts at once, with the database as the shared cache.

`Lookups` answers "what does DNS say of these hosts" and "what do the registries say of these
addresses" for a whole batch, so that a hundred cases on one host, or a thousand hosts in one
network, cost one lookup:

- Hosts: a cached answer is used until its DNS TTL (clamped) runs out. A host nobody has asked
  for is claimed in the database first, so when workers get cases on the same new host at the same
  time one asks and the others wait for its answer.
- Addresses: the ASN (Team Cymru) and the RDAP network are cached per CIDR block; an address inside
  a cached block costs nothing. Uncached addresses are looked up in rounds: one address per
  probable network (the announced prefix, else the /24 or /48) first, then only those the answers
  did not cover. The lookups of an address start as soon as DNS has named it, while the batch's
  other hosts are still being asked.
- Registries once across workers: the threads of a process ask a probable network (or a
  registrable domain) once (`_SingleFlight`), and the processes claim it in the shared cache
  first (`_claimed`), so one of them asks and the others take its answer.
- Network I/O runs on thread pools, with at most ``SCART_RESOLVE_CONCURRENCY`` queries of a batch
  on the wire at once (waiting for a registry's turn does not count); database reads and writes
  stay on the calling thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import logging
import queue
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import dns.name
import dns.rdatatype
import dns.resolver
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.db.models import Q
from django.utils import timezone

from routing.models import AsnLookup, AsnName, CidrRow, DomainLookup, HostLookup, NetworkLookup
from routing.resolution.addresses import (
    BlockKey,
    IPAddress,
    IPNetwork,
    block_key,
    candidate_keys,
    group_key,
    most_specific,
    parse_networks,
)
from routing.resolution.dns import DnsResult, chase_type, host_question, host_result, make_resolver, resolve_host
from routing.resolution.rdap import (
    AsnInfo,
    LookupTransient,
    NetworkInfo,
    NotGlobal,
    lookup_asn,
    lookup_asn_name,
    lookup_network,
)
from routing.resolution.rdap_client import RdapClient, RdapError
from routing.resolution.rdap_domains import RegistrarInfo, lookup_registrar
from scart.db import rows_update

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# How long another worker's claim on a host lookup is honoured before we ask ourselves: longer
# than the slowest lookup (A then AAAA, each up to the resolver's lifetime, per CNAME hop).
HOST_CLAIM = timedelta(seconds=90)
# How long a worker's claim on a registry lookup (an ASN block, a network, a registrable domain)
# is honoured by the others: longer than such a lookup takes, its turn at a busy registry
# included. The answer stays under the claim's key as long, for workers that look for it before
# its owner has stored it in the database.
LOOKUP_CLAIM_SECONDS = 60
_WAIT_STEP = 0.05
_CLAIM_POLL_MAX = 0.1
# Blocks wider than this are never cached as one network.
_WIDEST = {4: 8, 6: 19}


def _narrow(block: IPNetwork, address: IPAddress) -> IPNetwork:
    """``block``, or the /24 (/48) of ``address`` inside it when ``block`` is wider."""
    neighbourhood = 24 if address.version == 4 else 48
    if block.prefixlen >= neighbourhood:
        return block
    return ipaddress.ip_network((address, neighbourhood), strict=False)


@dataclass
class IpInfo:
    """Everything registries say of one address."""

    ip: str
    asn: AsnInfo | None = None
    asn_name: str = ""
    network: NetworkInfo | None = None
    error: str = ""
    transient: bool = False
    retry_after: float | None = None
    note: str = ""  # why nothing was looked up, when that is expected (a private address)

    @property
    def country(self) -> str:
        if self.network is not None and self.network.country:
            return self.network.country
        return self.asn.country if self.asn else ""

    @property
    def registry(self) -> str:
        if self.asn is not None and self.asn.registry:
            return self.asn.registry
        return self.network.registry if self.network else ""

    def as_dict(self) -> dict[str, Any]:
        network = self.network
        return {
            "ip": self.ip,
            "asn": self.asn.asn if self.asn else None,
            "asn_name": self.asn_name,
            "asn_prefix": self.asn.prefix if self.asn else "",
            "cidr": network.cidr if network else "",
            "network_name": network.name if network else "",
            "network_handle": network.handle if network else "",
            "org_handle": network.org_handle if network else "",
            "org_name": network.org_name if network else "",
            "country": self.country,
            "registry": self.registry,
            "abuse_emails": list(network.abuse_emails) if network else [],
            "abuse_source": network.abuse_source if network else "none",
            # The rung of `routing.resolution.contacts` that chose abuse_emails (`routing.models.AbuseRule`).
            "abuse_rule": network.abuse_rule if network else "none",
            "confidence": network.confidence if network else "none",
            "error": self.error,
            "note": self.note,
        }


@dataclass
class Settings:
    """What a batch of lookups needs from the project settings (read once per batch)."""

    nameservers: Sequence[str]
    dns_timeout: float
    dns_lifetime: float
    concurrency: int
    host_ttl_min: int
    host_ttl_max: int
    host_failure_ttl: int
    network_ttl: int
    failure_ttl: int

    @classmethod
    def from_django(cls) -> Settings:
        return cls(
            nameservers=settings.SCART_DNS_NAMESERVERS,
            dns_timeout=settings.SCART_DNS_TIMEOUT,
            dns_lifetime=settings.SCART_DNS_LIFETIME,
            concurrency=settings.SCART_RESOLVE_CONCURRENCY,
            host_ttl_min=settings.SCART_HOST_CACHE_MIN_SECONDS,
            host_ttl_max=settings.SCART_HOST_CACHE_MAX_SECONDS,
            host_failure_ttl=settings.SCART_HOST_FAILURE_CACHE_SECONDS,
            network_ttl=settings.SCART_NETWORK_CACHE_SECONDS,
            failure_ttl=settings.SCART_REGISTRY_FAILURE_CACHE_SECONDS,
        )


_client: RdapClient | None = None
_client_key: tuple[Any, ...] = ()


def rdap_client() -> RdapClient:
    """The process's RDAP client (its per-registry limits must be shared by all its threads)."""
    global _client, _client_key
    key = (
        settings.SCART_RDAP_BASE_URL,
        settings.SCART_RDAP_TIMEOUT,
        settings.SCART_RDAP_CONCURRENCY,
        settings.SCART_RDAP_RATE,
        settings.SCART_RDAP_DNS_BOOTSTRAP_URL,
    )
    if _client is None or key != _client_key:
        _client = RdapClient(
            base_url=settings.SCART_RDAP_BASE_URL,
            timeout=settings.SCART_RDAP_TIMEOUT,
            concurrency=settings.SCART_RDAP_CONCURRENCY,
            rate=settings.SCART_RDAP_RATE,
            user_agent=f"scart ({settings.SCART_HOTLINE_NAME})",
            dns_bootstrap_url=settings.SCART_RDAP_DNS_BOOTSTRAP_URL,
            cooldowns=_cooldown_get,
            set_cooldown=_cooldown_set,
        )
        _client_key = key
    return _client


class _SingleFlight:
    """One lookup per key at a time in this process, and its answer reused for a short while:
    worker threads that meet the same new domain at once (they all read the database cache before
    any of them stored an answer) ask its registry once. Answers are kept by the wall clock, the
    clock the caches' expiry times are on."""

    def __init__(self, *, keep: float = 60.0) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[Any]] = {}
        self._recent: dict[str, tuple[float, Any]] = {}
        self._keep = keep

    def run(self, key: str, fn: Callable[[], R]) -> R:
        with self._lock:
            recent = self._recent.get(key)
            if recent is not None and time.time() - recent[0] < self._keep:
                return recent[1]  # type: ignore[no-any-return]
            future = self._inflight.get(key)
            owner = future is None
            if future is None:
                future = self._inflight[key] = Future()
        if not owner:
            return future.result()  # type: ignore[no-any-return]
        try:
            result = fn()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            with self._lock:
                self._recent[key] = (time.time(), result)
                if len(self._recent) > 10_000:
                    self._recent.clear()
            return result
        finally:
            with self._lock:
                self._inflight.pop(key, None)


_registrar_flights = _SingleFlight()


class _BlockMemo:
    """The block-cache rows this process read or wrote lately, kept in memory in front of the
    database: after the first chunks of a busy hour almost every address falls in a block one of
    them met, and finding it here costs no query. A row is used until it expires, and for at most
    ``keep`` seconds after it was read, so that rows another worker refreshed (or an operator
    purged) are read again soon."""

    def __init__(self, *, keep: float = 300.0, limit: int = 200_000) -> None:
        self._lock = threading.Lock()
        # (version, start as int, prefixlen) -> (read at, expires at, data, error)
        self._rows: dict[tuple[int, int, int], tuple[float, datetime, dict[str, Any], str]] = {}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}  # prefix lengths held, longest first
        self._keep = keep
        self._limit = limit

    def put(self, rows: Iterable[CidrRow]) -> None:
        read_at = time.monotonic()
        with self._lock:
            if len(self._rows) > self._limit:
                self.clear_locked()
            for row in rows:
                key = (row.version, int(row.start, 16), row.prefixlen)
                self._rows[key] = (read_at, row.expires_at, row.data or {}, row.error)
                lengths = self._lengths.setdefault(row.version, [])
                if row.prefixlen not in lengths:
                    lengths.append(row.prefixlen)
                    lengths.sort(reverse=True)

    def get(self, address: IPAddress, now: datetime) -> tuple[dict[str, Any], str] | None:
        """The most specific live row containing ``address``, as (data, error)."""
        value, bits = int(address), address.max_prefixlen
        oldest = time.monotonic() - self._keep
        with self._lock:
            for prefixlen in self._lengths.get(address.version, ()):
                start = value >> (bits - prefixlen) << (bits - prefixlen)
                entry = self._rows.get((address.version, start, prefixlen))
                if entry is not None and entry[0] > oldest and entry[1] > now:
                    return entry[2], entry[3]
        return None

    def clear(self) -> None:
        with self._lock:
            self.clear_locked()

    def clear_locked(self) -> None:
        self._rows.clear()
        self._lengths = {4: [], 6: []}


_block_memos: dict[str, _BlockMemo] = {"asn": _BlockMemo(), "network": _BlockMemo()}
# Worker threads of one process that meet the same new network at once (or within half a minute:
# until the answer is in the block memo) ask its registry once.
_block_flights = _SingleFlight(keep=30.0)
_shared_cache: BaseCache | None = None


def _cooldown_cache() -> BaseCache:
    """One cache client for every thread of the process (Django's ``cache`` is one per thread, and
    the lookup threads are short-lived: each would open a connection of its own)."""
    global _shared_cache
    if _shared_cache is None:
        _shared_cache = caches.create_connection(DEFAULT_CACHE_ALIAS)
    return _shared_cache


def _cooldown_get(registry: str) -> float:
    value = _cooldown_cache().get(f"rdap-cooldown:{registry}")
    return float(value) if value else 0.0


def _cooldown_set(registry: str, until: float) -> None:
    _cooldown_cache().set(f"rdap-cooldown:{registry}", until, timeout=max(1, int(until - time.time()) + 1))


def claim_key(name: str) -> str:
    """The cache key of the claim on lookup ``name`` (``"NetworkLookup:192.0.2.0/24"``,
    ``"domain:example.com"``)."""
    return f"lookup-claim:{name}"


def _claimed(name: str, ask: Callable[[], R], *, shareable: Callable[[R], bool]) -> R:
    """``ask()``, once across every worker process that shares the cache (Redis in production;
    with a local-memory cache, once per process).

    The first caller claims ``name`` (an atomic add that expires after `LOOKUP_CLAIM_SECONDS`),
    asks, and leaves the answer under the claim when it is ``shareable`` (anything but a transient
    failure); the others wait for that answer. When the claim goes without an answer (its owner
    failed, or died and the claim ran out), a waiter claims and asks itself. No one waits longer
    than `LOOKUP_CLAIM_SECONDS`, and a cache that fails is no reason to fail a lookup: then the
    caller asks without a claim.
    """
    cache = _cooldown_cache()
    key = claim_key(name)
    token = secrets.token_hex(8)
    owned = False
    deadline = time.monotonic() + LOOKUP_CLAIM_SECONDS
    pause = _WAIT_STEP / 2
    try:
        while True:
            if cache.add(key, {"owner": token}, timeout=LOOKUP_CLAIM_SECONDS):
                owned = True
                break
            value = cache.get(key)
            if isinstance(value, dict) and "answer" in value:
                return cast(R, value["answer"])
            if time.monotonic() >= deadline:
                break  # a claim that outlived its time: ask without one
            if value is not None:  # (None: the claim went meanwhile; claim it at once)
                time.sleep(pause)
                pause = min(pause * 1.5, _CLAIM_POLL_MAX)
    except Exception:
        log.warning("lookup claims are unavailable; asking about %s without one", name, exc_info=True)
        return ask()
    try:
        answer = ask()
    except BaseException:
        if owned:
            _claim_release(cache, key, token)
        raise
    try:
        if shareable(answer):
            cache.set(key, {"answer": answer}, timeout=LOOKUP_CLAIM_SECONDS)
        elif owned:
            _claim_release(cache, key, token)  # a waiter asks itself, now
    except Exception:
        log.warning("could not share the answer about %s", name, exc_info=True)
    return answer


def _claim_release(cache: BaseCache, key: str, token: str) -> None:
    """Drop our claim, unless it ran out and is someone else's now. (Not atomic: in the rare race
    the other worker's claim goes too, and one more worker asks.)"""
    value = cache.get(key)
    if isinstance(value, dict) and value.get("owner") == token:
        cache.delete(key)


@dataclass
class ProcessState:
    """What the threads of one worker process share: the block rows in memory and the lookups in
    flight. `Lookups` takes this process's own; tests give two of them separate ones, as two
    worker processes have."""

    memos: dict[str, _BlockMemo]
    block_flights: _SingleFlight
    registrar_flights: _SingleFlight

    @classmethod
    def current(cls) -> ProcessState:
        return cls(_block_memos, _block_flights, _registrar_flights)

    @classmethod
    def new(cls) -> ProcessState:
        return cls({"asn": _BlockMemo(), "network": _BlockMemo()}, _SingleFlight(keep=30.0), _SingleFlight())


class _InFlight:
    """At most ``size`` queries on the wire at once, and the address registries' lookups (ASN,
    network, AS name) go before the others: each waits for the one before it, and a registry
    answers slowly (its rate limit), so they are better started early, while the many host
    questions (and the registrar lookups, which nothing waits for) fill the slots left. ``with
    limit.host:`` and ``with limit.registry:`` hold one slot (each may be entered again and again,
    from any thread). A freed slot wakes one waiter that may take it, not every waiting thread."""

    def __init__(self, size: int) -> None:
        self._free = max(1, size)
        self._registry_waiting = 0
        lock = threading.Lock()
        self._registry_turn = threading.Condition(lock)
        self._host_turn = threading.Condition(lock)
        self.host = _Slot(self, registry=False)
        self.registry = _Slot(self, registry=True)

    def acquire(self, *, registry: bool) -> None:
        with self._registry_turn:
            if registry:
                self._registry_waiting += 1
                try:
                    while self._free == 0:
                        self._registry_turn.wait()
                finally:
                    self._registry_waiting -= 1
            else:
                while self._free == 0 or self._registry_waiting:
                    self._host_turn.wait()
            self._free -= 1
            self._wake()

    def release(self) -> None:
        with self._registry_turn:
            self._free += 1
            self._wake()

    def _wake(self) -> None:
        if self._free:
            (self._registry_turn if self._registry_waiting else self._host_turn).notify(self._free)


class _Slot:
    def __init__(self, limit: _InFlight, *, registry: bool) -> None:
        self._limit = limit
        self._registry = registry

    def __enter__(self) -> None:
        self._limit.acquire(registry=self._registry)

    def __exit__(self, *exc: object) -> None:
        self._limit.release()


@dataclass
class Counters:
    dns_lookups: int = 0
    asn_lookups: int = 0
    rdap_network_lookups: int = 0
    registrar_lookups: int = 0


# What a lookup for a block cache returns: (the blocks the answer covers, data, error, transient,
# retry_after).
BlockAnswer = tuple[list[Any], dict[str, Any] | None, str, bool, float | None]


def _network_group(asn: AsnInfo | None, address: IPAddress) -> str:
    """An address's probable network, to ask its registry once for: the announced prefix, else
    the /24 (or /48)."""
    return asn.prefix if asn is not None and asn.prefix else group_key(address)


@dataclass
class Lookups:
    """One batch's view of DNS and the registries. Not thread-safe: use from one thread."""

    config: Settings = field(default_factory=Settings.from_django)
    client: RdapClient = field(default_factory=rdap_client)
    refresh: bool = False  # ignore cached answers (they are still written)
    counters: Counters = field(default_factory=Counters)
    process: ProcessState = field(default_factory=ProcessState.current)

    def __post_init__(self) -> None:
        self.resolver: dns.resolver.Resolver = make_resolver(
            self.config.nameservers, timeout=self.config.dns_timeout, lifetime=self.config.dns_lifetime
        )
        # The batch's queries on the wire at once (DNS, Team Cymru, RDAP): threads waiting for a
        # registry's turn, or for another worker's answer, hold none.
        self.in_flight = _InFlight(self.config.concurrency)
        self._pools_ahead: dict[str, ThreadPoolExecutor] = {}
        self._addresses_started: set[str] = set()
        self._asns_learnt: queue.SimpleQueue[int] = queue.SimpleQueue()  # by the ASN lookups ahead
        self._names_started: set[int] = set()

    # -- helpers -----------------------------------------------------------------------------

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        if len(items) == 1:
            return [fn(items[0])]
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    def _on_the_wire(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        with self.in_flight.host:
            return fn(*args, **kwargs)

    def close(self) -> None:
        """The batch is done: let go of the lookups started ahead that nobody waits for any more
        (those already running finish on their own)."""
        pools, self._pools_ahead = self._pools_ahead, {}
        for pool in pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    # -- hosts -------------------------------------------------------------------------------

    def hosts(
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
                results[host] = resolve_host(host, resolver=self.resolver, is_ip=is_ip, unresolvable=unresolvable)
            else:
                to_ask.append(host)
        undelivered = list(results.values())

        def known(batch: list[DnsResult]) -> None:
            if batch and on_answers is not None:
                on_answers(batch)

        # A refresh accepts only answers fetched after it started (another worker's fresh ones).
        fresh_since = timezone.now() if self.refresh else None
        if to_ask:
            # In key order, so that two workers inserting the same rows cannot deadlock.
            HostLookup.objects.bulk_create([HostLookup(host=h) for h in sorted(to_ask)], ignore_conflicts=True)
        wait = _WAIT_STEP
        while to_ask:
            now = timezone.now()
            rows = HostLookup.objects.filter(host__in=to_ask, expires_at__gt=now)
            if fresh_since is not None:
                rows = rows.filter(fetched_at__gte=fresh_since)
            for row in rows:
                result = results[row.host] = DnsResult.from_dict(row.result)
                undelivered.append(result)
            missing = [h for h in to_ask if h not in results]
            claimed, until = self._claim_hosts(missing, now, fresh_since) if missing else ([], now)
            answers = self._ask_dns(claimed)
            try:
                first = next(answers, [])  # the questions are on their way now
                known(undelivered)
                undelivered = []
                for batch in itertools.chain([first], answers):
                    self._store_hosts(batch)
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

    def _claim_hosts(self, hosts: list[str], now: datetime, fresh_since: datetime | None) -> tuple[list[str], datetime]:
        """Claim the hosts nobody else is asking about (or whose asker's claim ran out) and that
        still have no usable answer (another worker may have stored one since we looked).
        Returns the hosts claimed and the claims' end."""
        unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        unanswered = Q(expires_at__isnull=True) | Q(expires_at__lte=now)
        if fresh_since is not None:
            unanswered |= Q(fetched_at__lt=fresh_since)
        # One conditional UPDATE; the claim's end, unique to this call down to the microsecond,
        # then tells which rows it took (as for cases in `routing.services.cases_resolve`).
        until = now + HOST_CLAIM + timedelta(microseconds=secrets.randbelow(1_000_000))
        if not HostLookup.objects.filter(unclaimed, unanswered, host__in=hosts).update(claimed_until=until):
            return [], until
        claimed = HostLookup.objects.filter(host__in=hosts, claimed_until=until).values_list("host", flat=True)
        return sorted(claimed), until

    def _ask_dns(self, hosts: list[str]) -> Generator[list[DnsResult], None, None]:
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
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, 2 * len(questions))) as pool:
            for host, start in questions.items():
                for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    future = pool.submit(self._on_the_wire, chase_type, host, start, rdtype, resolver=self.resolver)
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

    def _store_hosts(self, results: list[DnsResult]) -> None:
        """Store answers and end their claims, in one round trip for the whole group. Transient
        failures are not stored; their claims end, so that the next worker asks again."""
        if not results:
            return
        now = timezone.now()
        answers: list[tuple[dict[str, Any], str]] = []
        failed: list[str] = []
        for result in results:
            self.counters.dns_lookups += 1
            if result.outcome.is_transient:
                failed.append(result.host)
                continue
            if result.addresses:
                ttl = result.ttl if result.ttl is not None else self.config.host_ttl_min
                seconds = min(max(ttl, self.config.host_ttl_min), self.config.host_ttl_max)
            else:
                seconds = self.config.host_failure_ttl
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

    # -- addresses ---------------------------------------------------------------------------

    def addresses_start(self, ips: Iterable[str]) -> None:
        """Start the registry lookups of these addresses (ASN, then network) in the background,
        where neither this process's memory nor the database has an answer. `addresses` then
        finds the answers in the process's flights, or waits for them there: called as DNS names
        addresses, this lets the registries work while DNS is asked about the batch's other hosts.
        """
        if self.refresh:
            return
        self._names_start()
        parsed: dict[str, IPAddress] = {}
        for ip in ips:
            if ip in self._addresses_started:
                continue
            self._addresses_started.add(ip)
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                continue
            if address.is_global:
                parsed[ip] = address
        if not parsed:
            return
        asns = self._known(AsnLookup, self.process.memos["asn"], parsed)
        networks = self._known(NetworkLookup, self.process.memos["network"], parsed)
        if not self._pools_ahead:
            # One pool per kind, so that network lookups waiting for their registry's turn do not
            # hold up the ASN lookups (threads start only as work comes).
            self._pools_ahead = {
                kind: ThreadPoolExecutor(
                    max_workers=max(1, self.config.concurrency), thread_name_prefix=f"scart-{kind}"
                )
                for kind in ("asn", "network")
            }
        for ip, address in parsed.items():
            if ip not in asns:
                self._ahead("asn", self._asn_ahead, ip, address, need_network=ip not in networks)
            elif ip not in networks:
                self._ahead("network", self._network_ahead, ip, address, asns[ip])

    def _ahead(self, kind: str, fn: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Run ``fn`` on the pool of lookups ahead of this kind, unless `close` came first (then
        nobody waits for the answer any more)."""
        pool = self._pools_ahead.get(kind)
        if pool is not None:
            with contextlib.suppress(RuntimeError):  # shut down meanwhile
                pool.submit(fn, *args, **kwargs)

    def _known(
        self, model: type[CidrRow], memo: _BlockMemo, addresses: dict[str, IPAddress]
    ) -> dict[str, dict[str, Any] | None]:
        """The cached data (None for a cached failure) of the addresses that have a live row, in
        this process's memory or else the database (and then kept in memory)."""
        now = timezone.now()
        known: dict[str, dict[str, Any] | None] = {}
        missing: dict[str, IPAddress] = {}
        for ip, address in addresses.items():
            hit = memo.get(address, now)
            if hit is None:
                missing[ip] = address
            else:
                known[ip] = hit[0] or None
        cached = self._cached(model, missing)
        memo.put(cached.values())
        for ip, row in cached.items():
            known[ip] = row.data or None
        return known

    def _asn_ahead(self, ip: str, address: IPAddress, *, need_network: bool) -> None:
        """The ASN lookup `addresses` will want, asked ahead (see `addresses_start`); then the
        network's, when that is needed too."""
        try:
            asked, (blocks, data, _error, transient, _retry) = self._ask_block(
                AsnLookup, group_key(address), ip, self._fetch_asn
            )
        except Exception:  # only a head start: `addresses` asks again and handles what happens
            log.exception("looking up the ASN of %s ahead failed", ip)
            return
        if transient or (asked != ip and not any(address in block for block in blocks)):
            return  # `addresses` decides what to ask next
        if data and data.get("asn") is not None:
            self._asns_learnt.put(int(data["asn"]))
        if need_network:
            self._ahead("network", self._network_ahead, ip, address, data)

    def _network_ahead(self, ip: str, address: IPAddress, asn_data: dict[str, Any] | None) -> None:
        """The network lookup `addresses` will want, asked ahead: the same probable network, of
        the same registry."""
        asn = AsnInfo.from_dict(asn_data) if asn_data else None
        registry = asn.registry if asn is not None and asn.registry else ""
        try:
            self._ask_block(NetworkLookup, _network_group(asn, address), ip, lambda i: self._fetch_network(i, registry))
        except Exception:
            log.exception("looking up the network of %s ahead failed", ip)

    def _names_start(self) -> None:
        """Start looking up the names of the ASNs the lookups ahead came upon, where the database
        has none (`asn_names` then finds the answers in the process's flights)."""
        learnt: set[int] = set()
        with contextlib.suppress(queue.Empty):
            while True:
                learnt.add(self._asns_learnt.get_nowait())
        learnt -= self._names_started
        if not learnt:
            return
        self._names_started |= learnt
        named = set(AsnName.objects.filter(asn__in=learnt, expires_at__gt=timezone.now()).values_list("asn", flat=True))
        for asn in sorted(learnt - named):
            self._ahead("asn", self._ask_name, asn)

    def addresses_known(self, ips: Iterable[str]) -> bool:
        """Whether `addresses` can answer for every one of these addresses without asking a
        registry: this process holds their rows in memory (`addresses_start` put the database's
        there)."""
        if self.refresh:
            return False
        now = timezone.now()
        for ip in ips:
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                continue
            if address.is_global and any(memo.get(address, now) is None for memo in self.process.memos.values()):
                return False
        return True

    def addresses(self, ips: Iterable[str]) -> dict[str, IpInfo]:
        """ASN and RDAP network of each address."""
        infos: dict[str, IpInfo] = {}
        parsed: dict[str, IPAddress] = {}
        for ip in dict.fromkeys(ips):
            info = infos[ip] = IpInfo(ip)
            try:
                address = ipaddress.ip_address(ip)
            except ValueError:
                info.error = "not an IP address"
                continue
            if not address.is_global:
                info.note = "not a globally routable address: no registry holds it"
                continue
            parsed[ip] = address

        asns = self._blocks(
            AsnLookup,
            parsed,
            group=lambda ip: group_key(parsed[ip]),
            fetch=self._fetch_asn,
            ttl=self.config.network_ttl,
            counter="asn_lookups",
            memo=self.process.memos["asn"],
        )
        for ip, (data, error, transient, retry_after) in asns.items():
            info = infos[ip]
            if data is not None:
                info.asn = AsnInfo.from_dict(data)
            elif error:
                info.error, info.transient, info.retry_after = error, transient, retry_after

        registries = {ip: infos[ip].registry for ip in parsed}
        networks = self._blocks(
            NetworkLookup,
            {ip: a for ip, a in parsed.items() if not infos[ip].transient},
            group=lambda ip: _network_group(infos[ip].asn, parsed[ip]),
            fetch=lambda ip: self._fetch_network(ip, registries[ip]),
            ttl=self.config.network_ttl,
            counter="rdap_network_lookups",
            memo=self.process.memos["network"],
        )
        for ip, (data, error, transient, retry_after) in networks.items():
            info = infos[ip]
            if data is not None:
                info.network = NetworkInfo.from_dict(data)
            elif error:
                info.error = f"{info.error}; {error}" if info.error else error
                info.transient, info.retry_after = transient, retry_after

        names = self.asn_names({i.asn.asn for i in infos.values() if i.asn and i.asn.asn is not None})
        for info in infos.values():
            if info.asn and info.asn.asn is not None:
                info.asn_name = names.get(info.asn.asn, "")
        return infos

    def _ask_block(
        self, model: type[CidrRow], group: str, ip: str, fetch: Callable[[str], BlockAnswer]
    ) -> tuple[str, BlockAnswer]:
        """(the address asked about, the answer) for ``ip``'s probable network ``group``: asked
        once at a time by the threads of this process, and once by all workers (a claim in the
        shared cache). The answer may be about another address of the group (see `_blocks`)."""
        if self.refresh:
            return ip, fetch(ip)
        name = f"{model.__name__}:{group}"

        def ask() -> tuple[str, BlockAnswer]:
            return ip, fetch(ip)

        return self.process.block_flights.run(
            name, lambda: _claimed(name, ask, shareable=lambda asked: not asked[1][3])
        )

    def _blocks(
        self,
        model: type[CidrRow],
        addresses: dict[str, IPAddress],
        *,
        group: Callable[[str], str],
        fetch: Callable[[str], BlockAnswer],
        ttl: int,
        counter: str,
        memo: _BlockMemo,
    ) -> dict[str, tuple[dict[str, Any] | None, str, bool, float | None]]:
        """Answers per address for one kind of block cache (ASN or network): from this process's
        memory, else the database, else the registry.

        ``fetch(ip)`` returns (blocks the answer covers, data, error, transient, retry_after).
        """
        found: dict[str, tuple[dict[str, Any] | None, str, bool, float | None]] = {}
        todo = dict(addresses)

        def shared(ip: str) -> BlockAnswer:
            """``fetch(ip)``, unless another thread or worker is already asking about the same
            probable network (or asked lately): then its answer, when that answer covers ``ip``
            too (or failed transiently, as ours would)."""
            asked, answer = self._ask_block(model, group(ip), ip, fetch)
            blocks, _data, _error, transient, _retry = answer
            if asked == ip or transient or any(addresses[ip] in block for block in blocks):
                return answer
            return fetch(ip)

        if not self.refresh:
            now = timezone.now()
            for ip, address in list(todo.items()):
                hit = memo.get(address, now)
                if hit is not None:
                    found[ip] = (hit[0] or None, hit[1], False, None)
                    del todo[ip]
            cached = self._cached(model, todo)
            memo.put(cached.values())
            for ip, row in cached.items():
                found[ip] = (row.data or None, row.error, False, None)
                del todo[ip]
        fresh: dict[IPNetwork, tuple[dict[str, Any] | None, str]] = {}  # block -> (data, error)
        failed_groups: dict[str, tuple[dict[str, Any] | None, str, bool, float | None]] = {}
        first_round = True
        while todo:
            representatives: dict[str, str] = {}
            for ip in todo:
                # First one address per probable network; then every address left, at once.
                key = group(ip) if first_round else ip
                if group(ip) not in failed_groups:
                    representatives.setdefault(key, ip)
            first_round = False
            if not representatives:
                break
            answers = self._map(shared, list(representatives.values()))
            setattr(self.counters, counter, getattr(self.counters, counter) + len(answers))
            new_rows: list[Any] = []
            for (_key, ip), (blocks, data, error, transient, retry_after) in zip(
                representatives.items(), answers, strict=True
            ):
                if transient:
                    found[ip] = (None, error, True, retry_after)
                    failed_groups[group(ip)] = found[ip]  # its neighbours would fail the same way
                    continue
                if not any(addresses[ip] in block for block in blocks):
                    # A failure that names no block, or an answer about other addresses: it holds
                    # for this address only (and so every representative leaves `todo`).
                    blocks = [*blocks, ipaddress.ip_network(ip)]
                expires = timezone.now() + timedelta(seconds=ttl if data else self.config.failure_ttl)
                for block in blocks:
                    fresh[block] = (data, error)
                    new_rows.append(
                        model(
                            version=block.version,
                            start=block_key(block).start,
                            prefixlen=block.prefixlen,
                            cidr=str(block),
                            data=data or {},
                            error=error,
                            expires_at=expires,
                        )
                    )
            self._store_blocks(model, new_rows)
            memo.put(new_rows)
            for ip in list(todo):
                best = most_specific(fresh, todo[ip])
                if best is not None:
                    found[ip] = (*fresh[best], False, None)
                    del todo[ip]
                elif ip in found:  # a representative that failed transiently
                    del todo[ip]
        for ip in todo:  # neighbours of a transient failure: try again later with it
            found[ip] = failed_groups.get(group(ip), (None, "lookup deferred", True, None))
        return found

    def _cached(self, model: type[CidrRow], addresses: dict[str, IPAddress]) -> dict[str, CidrRow]:
        now = timezone.now()
        wanted: dict[str, list[BlockKey]] = {ip: candidate_keys(a) for ip, a in addresses.items()}
        hits: dict[str, CidrRow] = {}
        ips = list(wanted)
        for start in range(0, len(ips), 16):
            chunk = ips[start : start + 16]
            by_version: dict[int, set[str]] = defaultdict(set)
            for ip in chunk:
                for key in wanted[ip]:
                    by_version[key.version].add(key.start)
            rows: dict[BlockKey, CidrRow] = {}
            for version, starts in by_version.items():
                for row in model._default_manager.filter(version=version, start__in=starts, expires_at__gt=now):
                    rows[BlockKey(row.version, row.start, row.prefixlen)] = row
            for ip in chunk:
                for key in wanted[ip]:  # most specific first
                    if key in rows:
                        hits[ip] = rows[key]
                        break
        return hits

    def _store_blocks(self, model: type[CidrRow], rows: list[Any]) -> None:
        if not rows:
            return
        unique = {(r.version, r.start, r.prefixlen): r for r in rows}
        model._default_manager.bulk_create(
            [unique[key] for key in sorted(unique)],  # key order: concurrent upserts cannot deadlock
            update_conflicts=True,
            unique_fields=["version", "start", "prefixlen"],
            update_fields=["cidr", "data", "error", "fetched_at", "expires_at"],
        )

    def _fetch_asn(self, ip: str) -> BlockAnswer:
        try:
            with self.in_flight.registry:
                info = lookup_asn(ip, resolver=self.resolver)
        except LookupTransient as exc:
            return [], None, str(exc), True, None
        except NotGlobal as exc:
            return [], None, str(exc), False, None
        except Exception as exc:  # an answer ipwhois cannot read: a fact about this address
            log.warning("reading the ASN of %s failed: %s", ip, exc)
            return [], None, f"unreadable ASN answer: {exc}", False, None
        address = ipaddress.ip_address(ip)
        try:
            announced = [b for b in parse_networks(info.prefix) if address in b] if info.prefix else []
        except ValueError:
            announced = []
        # A more specific prefix inside a wide announcement may have another origin: one answer
        # covers at most the address's /24 (or /48). Unannounced space: this address only.
        blocks = [_narrow(announced[0], address)] if announced else [ipaddress.ip_network(ip)]
        return blocks, info.as_dict(), "", False, None

    def _fetch_network(self, ip: str, registry: str) -> BlockAnswer:
        try:
            network = lookup_network(ip, registry=registry, client=self.client, in_flight=self.in_flight.registry)
        except RdapError as exc:
            return [], None, str(exc), exc.transient, exc.retry_after
        except NotGlobal as exc:
            return [], None, str(exc), False, None
        except Exception as exc:  # a malformed network object: a fact about this address
            log.warning("reading the RDAP network of %s failed: %s", ip, exc)
            return [], None, f"unreadable RDAP answer: {exc}", False, None
        address = ipaddress.ip_address(ip)
        blocks = [ipaddress.ip_network(c) for c in network.cidrs]
        containing = [b for b in blocks if address in b]
        if not containing:
            # A registry answering with a network that does not contain the address: trust it
            # for this address only.
            return [ipaddress.ip_network(ip)], network.as_dict(), "", False, None
        if not network.leaf or any(b.prefixlen < _WIDEST[b.version] for b in blocks):
            # An allocation may hold reassignments to other operators, and a huge range is not a
            # network: let the answer cover only the neighbourhood of this address.
            return [_narrow(containing[0], address)], network.as_dict(), "", False, None
        return blocks, network.as_dict(), "", False, None

    def asn_names(self, asns: set[int]) -> dict[int, str]:
        now = timezone.now()
        names: dict[int, str] = {}
        if not self.refresh:
            for row in AsnName.objects.filter(asn__in=asns, expires_at__gt=now):
                names[row.asn] = row.name
        missing = sorted(asns - set(names))

        for asn, name in self._map(self._ask_name, missing):
            if name is None:
                continue
            names[asn] = name
            AsnName.objects.update_or_create(
                asn=asn, defaults={"name": name, "expires_at": now + timedelta(seconds=self.config.network_ttl * 14)}
            )
        return names

    def _ask_name(self, asn: int) -> tuple[int, str | None]:
        """(asn, its name; None after a transient failure): asked once at a time by the threads
        of this process, and once by all workers."""

        def ask() -> tuple[int, str | None]:
            try:
                with self.in_flight.registry:
                    return asn, lookup_asn_name(asn, resolver=self.resolver)
            except LookupTransient:
                return asn, None

        if self.refresh:
            return ask()
        name = f"AsnName:{asn}"
        return self.process.block_flights.run(
            name, lambda: _claimed(name, ask, shareable=lambda answer: answer[1] is not None)
        )

    # -- registrars --------------------------------------------------------------------------

    def registrars(self, domains: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Registrar data per registered domain (``{"error": ...}`` when the lookup failed)."""
        return self.registrars_start(domains)()

    def registrars_start(self, domains: Iterable[str]) -> PendingRegistrars:
        """Start the registrar lookups in the background (they need nothing from DNS, and a
        registry's rate limit makes them the slowest part of a batch); calling the result waits
        for them and stores the answers."""
        now = timezone.now()
        wanted = sorted(set(d for d in domains if d))
        found: dict[str, dict[str, Any]] = {}
        if not self.refresh:
            for row in DomainLookup.objects.filter(domain__in=wanted, expires_at__gt=now):
                found[row.domain] = row.data if not row.error else {"domain": row.domain, "error": row.error}
        missing = [d for d in wanted if d not in found]

        def ask(domain: str) -> tuple[str, RegistrarInfo | None, str, bool]:
            """Asked once at a time by the threads of this process, and once by all workers (a
            claim in the shared cache); a transient failure is not passed on to other workers."""
            if self.refresh:
                return ask_registry(domain)
            return self.process.registrar_flights.run(
                domain,
                lambda: _claimed(
                    f"domain:{domain}", lambda: ask_registry(domain), shareable=lambda answer: not answer[3]
                ),
            )

        def ask_registry(domain: str) -> tuple[str, RegistrarInfo | None, str, bool]:
            try:
                return (
                    domain,
                    lookup_registrar(domain, client=self.client, in_flight=self.in_flight.host),
                    "",
                    False,
                )
            except RdapError as exc:
                return domain, None, str(exc), exc.transient
            except Exception as exc:  # a malformed domain object must not stop the case
                log.warning("reading the RDAP object of %s failed: %s", domain, exc)
                return domain, None, f"unreadable RDAP answer: {exc}", False

        pool = ThreadPoolExecutor(max_workers=max(1, min(self.config.concurrency, len(missing))))
        futures = [pool.submit(ask, domain) for domain in missing]

        def finish() -> dict[str, dict[str, Any]]:
            try:
                answers = [future.result() for future in futures]
            finally:
                pool.shutdown(wait=True)
            stored = timezone.now()
            rows = []
            for domain, info, error, transient in answers:
                self.counters.registrar_lookups += 1
                found[domain] = info.as_dict() if info else {"domain": domain, "error": error}
                if transient:
                    continue
                seconds = self.config.network_ttl * 2 if info else self.config.failure_ttl
                rows.append(
                    DomainLookup(
                        domain=domain,
                        data=info.as_dict() if info else {},
                        error=error,
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
            return found

        return PendingRegistrars(cached=dict(found), finish=finish)


@dataclass(frozen=True)
class PendingRegistrars:
    """A batch's registrar lookups under way (`Lookups.registrars_start`)."""

    cached: dict[str, dict[str, Any]]  # the answers the database had
    finish: Callable[[], dict[str, dict[str, Any]]]

    def __call__(self) -> dict[str, dict[str, Any]]:
        """Wait for the lookups and store their answers; returns every domain's answer."""
        return self.finish()


def caches_purge(*, now: datetime | None = None) -> int:
    """Delete cache rows that expired more than a day ago; returns how many went."""
    for memo in _block_memos.values():
        memo.clear()
    cutoff = (now or timezone.now()) - timedelta(days=1)
    deleted = 0
    for model in (AsnLookup, NetworkLookup, DomainLookup, AsnName):
        deleted += model._default_manager.filter(expires_at__lt=cutoff).delete()[0]
    deleted += HostLookup.objects.filter(expires_at__lt=cutoff, claimed_until__isnull=True).delete()[0]
    return deleted


__all__ = [
    "LOOKUP_CLAIM_SECONDS",
    "Counters",
    "IpInfo",
    "Lookups",
    "PendingRegistrars",
    "ProcessState",
    "Settings",
    "caches_purge",
    "claim_key",
    "rdap_client",
]
