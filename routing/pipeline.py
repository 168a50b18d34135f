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
  did not cover.
- Network I/O runs on a thread pool; database reads and writes stay on the calling thread.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import dns.name
import dns.rdatatype
import dns.resolver
from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.db.models import Q
from django.utils import timezone

from routing.addresses import (
    BlockKey,
    IPAddress,
    IPNetwork,
    block_key,
    candidate_keys,
    group_key,
    most_specific,
    parse_networks,
)
from routing.dns import DnsResult, chase_type, host_question, host_result, make_resolver, resolve_host
from routing.models import AsnLookup, AsnName, CidrRow, DomainLookup, HostLookup, NetworkLookup
from routing.rdap import (
    AsnInfo,
    LookupTransient,
    NetworkInfo,
    NotGlobal,
    RdapClient,
    RdapError,
    RegistrarInfo,
    lookup_asn,
    lookup_asn_name,
    lookup_network,
    lookup_registrar,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

# How long another worker's claim on a host lookup is honoured before we ask ourselves: longer
# than the slowest lookup (A then AAAA, each up to the resolver's lifetime, per CNAME hop).
HOST_CLAIM = timedelta(seconds=90)
_WAIT_STEP = 0.05
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


@dataclass
class Counters:
    dns_lookups: int = 0
    asn_lookups: int = 0
    rdap_network_lookups: int = 0
    registrar_lookups: int = 0


@dataclass
class Lookups:
    """One batch's view of DNS and the registries. Not thread-safe: use from one thread."""

    config: Settings = field(default_factory=Settings.from_django)
    client: RdapClient = field(default_factory=rdap_client)
    refresh: bool = False  # ignore cached answers (they are still written)
    counters: Counters = field(default_factory=Counters)

    def __post_init__(self) -> None:
        self.resolver: dns.resolver.Resolver = make_resolver(
            self.config.nameservers, timeout=self.config.dns_timeout, lifetime=self.config.dns_lifetime
        )

    # -- helpers -----------------------------------------------------------------------------

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if not items:
            return []
        if len(items) == 1:
            return [fn(items[0])]
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, len(items))) as pool:
            return list(pool.map(fn, items))

    # -- hosts -------------------------------------------------------------------------------

    def hosts(self, hosts: Iterable[tuple[str, bool, bool]]) -> dict[str, DnsResult]:
        """DNS results for ``(host, is_ip, unresolvable)`` triples, from the cache or DNS."""
        wanted = {host: (is_ip, unresolvable) for host, is_ip, unresolvable in hosts}
        results: dict[str, DnsResult] = {}
        to_ask: list[str] = []
        for host, (is_ip, unresolvable) in wanted.items():
            if is_ip or unresolvable:
                results[host] = resolve_host(host, resolver=self.resolver, is_ip=is_ip, unresolvable=unresolvable)
            else:
                to_ask.append(host)
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
                results[row.host] = DnsResult.from_dict(row.result)
            missing = [h for h in to_ask if h not in results]
            if not missing:
                break
            claimed = self._claim_hosts(missing, now, fresh_since)
            if claimed:
                for result in self._ask_dns(claimed):
                    results[result.host] = result
                    self._store_hosts([result])
            to_ask = [h for h in missing if h not in results]
            if to_ask and not claimed:
                time.sleep(wait)  # another worker is asking: wait for its answer
                wait = min(wait * 2, 1.0)
        return results

    def _claim_hosts(self, hosts: list[str], now: datetime, fresh_since: datetime | None) -> list[str]:
        """Claim the hosts nobody else is asking about (or whose asker's claim ran out) and that
        still have no usable answer (another worker may have stored one since we looked)."""
        unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        unanswered = Q(expires_at__isnull=True) | Q(expires_at__lte=now)
        if fresh_since is not None:
            unanswered |= Q(fetched_at__lt=fresh_since)
        # One conditional UPDATE; the claim's end, unique to this call down to the microsecond,
        # then tells which rows it took (as for cases in `routing.services.cases_resolve`).
        until = now + HOST_CLAIM + timedelta(microseconds=secrets.randbelow(1_000_000))
        if not HostLookup.objects.filter(unclaimed, unanswered, host__in=hosts).update(claimed_until=until):
            return []
        return sorted(HostLookup.objects.filter(host__in=hosts, claimed_until=until).values_list("host", flat=True))

    def _ask_dns(self, hosts: list[str]) -> Iterator[DnsResult]:
        """Ask A and AAAA of every host at once, on the pool; yields each host's result as soon
        as both its answers are in (so workers waiting for one host do not wait for the slowest
        host of this batch)."""
        questions: dict[str, dns.name.Name] = {}
        for host in hosts:
            start = host_question(host)
            if isinstance(start, DnsResult):
                yield start
            else:
                questions[host] = start
        if not questions:
            return
        parts: dict[str, dict[int, Any]] = defaultdict(dict)
        with ThreadPoolExecutor(max_workers=min(self.config.concurrency, 2 * len(questions))) as pool:
            futures = {
                pool.submit(chase_type, host, start, rdtype, resolver=self.resolver): (host, rdtype)
                for host, start in questions.items()
                for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
            }
            for future in as_completed(futures):
                host, rdtype = futures[future]
                parts[host][rdtype] = future.result()
                if len(parts[host]) == 2:
                    yield host_result(
                        host, questions[host], parts[host][dns.rdatatype.A], parts[host][dns.rdatatype.AAAA]
                    )

    def _store_hosts(self, results: list[DnsResult]) -> None:
        now = timezone.now()
        for result in results:
            self.counters.dns_lookups += 1
            if result.outcome.is_transient:
                HostLookup.objects.filter(host=result.host).update(claimed_until=None)
                continue
            if result.addresses:
                ttl = result.ttl if result.ttl is not None else self.config.host_ttl_min
                seconds = min(max(ttl, self.config.host_ttl_min), self.config.host_ttl_max)
            else:
                seconds = self.config.host_failure_ttl
            HostLookup.objects.filter(host=result.host).update(
                result=result.as_dict(), fetched_at=now, expires_at=now + timedelta(seconds=seconds), claimed_until=None
            )

    # -- addresses ---------------------------------------------------------------------------

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
            memo=_block_memos["asn"],
        )
        for ip, (data, error, transient, retry_after) in asns.items():
            info = infos[ip]
            if data is not None:
                info.asn = AsnInfo.from_dict(data)
            elif error:
                info.error, info.transient, info.retry_after = error, transient, retry_after

        registries = {ip: infos[ip].registry for ip in parsed}

        def network_group(ip: str) -> str:
            asn = infos[ip].asn
            return asn.prefix if asn is not None and asn.prefix else group_key(parsed[ip])

        networks = self._blocks(
            NetworkLookup,
            {ip: a for ip, a in parsed.items() if not infos[ip].transient},
            group=network_group,
            fetch=lambda ip: self._fetch_network(ip, registries[ip]),
            ttl=self.config.network_ttl,
            counter="rdap_network_lookups",
            memo=_block_memos["network"],
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

    def _blocks(
        self,
        model: type[CidrRow],
        addresses: dict[str, IPAddress],
        *,
        group: Callable[[str], str],
        fetch: Callable[[str], tuple[list[Any], dict[str, Any] | None, str, bool, float | None]],
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
        kind = model.__name__

        def shared(ip: str) -> tuple[list[Any], dict[str, Any] | None, str, bool, float | None]:
            """``fetch(ip)``, unless another thread is already asking about the same probable
            network: then its answer, when that answer covers ``ip`` too (or failed transiently,
            as ours would)."""
            if self.refresh:
                return fetch(ip)
            asked, answer = _block_flights.run(f"{kind}:{group(ip)}", lambda: (ip, fetch(ip)))
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

    def _fetch_asn(self, ip: str) -> tuple[list[Any], dict[str, Any] | None, str, bool, float | None]:
        try:
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

    def _fetch_network(
        self, ip: str, registry: str
    ) -> tuple[list[Any], dict[str, Any] | None, str, bool, float | None]:
        try:
            network = lookup_network(ip, registry=registry, client=self.client)
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

        def ask(asn: int) -> tuple[int, str | None]:
            try:
                return asn, lookup_asn_name(asn, resolver=self.resolver)
            except LookupTransient:
                return asn, None

        for asn, name in self._map(ask, missing):
            if name is None:
                continue
            names[asn] = name
            AsnName.objects.update_or_create(
                asn=asn, defaults={"name": name, "expires_at": now + timedelta(seconds=self.config.network_ttl * 14)}
            )
        return names

    # -- registrars --------------------------------------------------------------------------

    def registrars(self, domains: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Registrar data per registered domain (``{"error": ...}`` when the lookup failed)."""
        return self.registrars_start(domains)()

    def registrars_start(self, domains: Iterable[str]) -> Callable[[], dict[str, dict[str, Any]]]:
        """Start the registrar lookups in the background (they need nothing from DNS, and a
        registry's rate limit makes them the slowest part of a batch); the returned function
        waits for them and stores the answers."""
        now = timezone.now()
        wanted = sorted(set(d for d in domains if d))
        found: dict[str, dict[str, Any]] = {}
        if not self.refresh:
            for row in DomainLookup.objects.filter(domain__in=wanted, expires_at__gt=now):
                found[row.domain] = row.data if not row.error else {"domain": row.domain, "error": row.error}
        missing = [d for d in wanted if d not in found]

        def ask(domain: str) -> tuple[str, RegistrarInfo | None, str, bool]:
            if self.refresh:
                return ask_registry(domain)
            return _registrar_flights.run(domain, lambda: ask_registry(domain))

        def ask_registry(domain: str) -> tuple[str, RegistrarInfo | None, str, bool]:
            try:
                return domain, lookup_registrar(domain, client=self.client), "", False
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

        return finish


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


__all__ = ["Counters", "IpInfo", "Lookups", "Settings", "caches_purge", "rdap_client"]
