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
  registrable domain) once (`SingleFlight`), and the processes claim it in the shared cache
  first (`claims.claimed`), so one of them asks and the others take its answer.
- Network I/O runs on thread pools, with at most ``SCART_RESOLVE_CONCURRENCY`` queries of a batch
  on the wire at once (waiting for a registry's turn does not count); database reads and writes
  stay on the calling thread.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import queue
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from routing.models import AsnLookup, AsnName, DomainLookup, HostLookup, NetworkLookup
from routing.resolution.addresses import IPAddress, group_key
from routing.resolution.batch import Batch
from routing.resolution.blocks import BlockLookups, network_group
from routing.resolution.claims import claimed
from routing.resolution.dns import DnsResult
from routing.resolution.hosts import HostLookups
from routing.resolution.rdap import AsnInfo, LookupTransient, NetworkInfo, lookup_asn_name
from routing.resolution.registrars import PendingRegistrars, registrars_start
from routing.resolution.state import PROCESS

log = logging.getLogger(__name__)


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
class Lookups(Batch):
    """One batch's view of DNS and the registries. Not thread-safe: use from one thread."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._hosts = HostLookups(self)
        self._block_cache = BlockLookups(self)
        self._pools_ahead: dict[str, ThreadPoolExecutor] = {}
        self._addresses_started: set[str] = set()
        self._asns_learnt: queue.SimpleQueue[int] = queue.SimpleQueue()  # by the ASN lookups ahead
        self._names_started: set[int] = set()

    def close(self) -> None:
        """The batch is done: let go of the lookups started ahead that nobody waits for any more
        (those already running finish on their own)."""
        pools, self._pools_ahead = self._pools_ahead, {}
        for pool in pools.values():
            pool.shutdown(wait=False, cancel_futures=True)

    def hosts(
        self,
        hosts: Iterable[tuple[str, bool, bool]],
        *,
        on_answers: Callable[[list[DnsResult]], None] | None = None,
    ) -> dict[str, DnsResult]:
        """DNS results for ``(host, is_ip, unresolvable)`` triples, from the cache or DNS (see
        `HostLookups.answers`)."""
        return self._hosts.answers(hosts, on_answers=on_answers)

    def registrars(self, domains: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Registrar data per registered domain (``{"error": ...}`` when the lookup failed)."""
        return self.registrars_start(domains)()

    def registrars_start(self, domains: Iterable[str]) -> PendingRegistrars:
        """Start the registrar lookups in the background; calling the result waits for them and
        stores the answers."""
        return registrars_start(self, domains)

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
        asns = self._block_cache.known(AsnLookup, self.process.asn_blocks, parsed)
        networks = self._block_cache.known(NetworkLookup, self.process.network_blocks, parsed)
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

    def _asn_ahead(self, ip: str, address: IPAddress, *, need_network: bool) -> None:
        """The ASN lookup `addresses` will want, asked ahead (see `addresses_start`); then the
        network's, when that is needed too."""
        try:
            answer = self._block_cache.ask(AsnLookup, group_key(address), ip, self._block_cache.fetch_asn)
        except Exception:  # only a head start: `addresses` asks again and handles what happens
            log.exception("looking up the ASN of %s ahead failed", ip)
            return
        if answer.transient or (answer.asked != ip and not answer.covers(address)):
            return  # `addresses` decides what to ask next
        data = answer.data
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
            self._block_cache.ask(
                NetworkLookup, network_group(asn, address), ip, lambda i: self._block_cache.fetch_network(i, registry)
            )
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
            if address.is_global and any(
                memo.get(address, now) is None for memo in (self.process.asn_blocks, self.process.network_blocks)
            ):
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

        asns, asked = self._block_cache.answers(
            AsnLookup,
            parsed,
            group=lambda ip: group_key(parsed[ip]),
            fetch=self._block_cache.fetch_asn,
            ttl=self.config.network_ttl,
            memo=self.process.asn_blocks,
        )
        self.counters.asn_lookups += asked
        for ip, found in asns.items():
            info = infos[ip]
            if found.data is not None:
                info.asn = AsnInfo.from_dict(found.data)
            elif found.error:
                info.error, info.transient, info.retry_after = found.error, found.transient, found.retry_after

        registries = {ip: infos[ip].registry for ip in parsed}
        networks, asked = self._block_cache.answers(
            NetworkLookup,
            {ip: a for ip, a in parsed.items() if not infos[ip].transient},
            group=lambda ip: network_group(infos[ip].asn, parsed[ip]),
            fetch=lambda ip: self._block_cache.fetch_network(ip, registries[ip]),
            ttl=self.config.network_ttl,
            memo=self.process.network_blocks,
        )
        self.counters.rdap_network_lookups += asked
        for ip, found in networks.items():
            info = infos[ip]
            if found.data is not None:
                info.network = NetworkInfo.from_dict(found.data)
            elif found.error:
                info.error = f"{info.error}; {found.error}" if info.error else found.error
                info.transient, info.retry_after = found.transient, found.retry_after

        names = self.asn_names({i.asn.asn for i in infos.values() if i.asn and i.asn.asn is not None})
        for info in infos.values():
            if info.asn and info.asn.asn is not None:
                info.asn_name = names.get(info.asn.asn, "")
        return infos

    def asn_names(self, asns: set[int]) -> dict[int, str]:
        now = timezone.now()
        names: dict[int, str] = {}
        if not self.refresh:
            for row in AsnName.objects.filter(asn__in=asns, expires_at__gt=now):
                names[row.asn] = row.name
        missing = sorted(asns - set(names))

        for asn, name in self.map(self._ask_name, missing):
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
            name,
            lambda: claimed(name, ask, shareable=lambda answer: answer[1] is not None, cache=self.process.cache()),
        )


def caches_purge(*, now: datetime | None = None) -> int:
    """Delete cache rows that expired more than a day ago; returns how many went."""
    PROCESS.memos_clear()
    cutoff = (now or timezone.now()) - timedelta(days=1)
    deleted = 0
    for model in (AsnLookup, NetworkLookup, DomainLookup, AsnName):
        deleted += model._default_manager.filter(expires_at__lt=cutoff).delete()[0]
    deleted += HostLookup.objects.filter(expires_at__lt=cutoff, claimed_until__isnull=True).delete()[0]
    return deleted


__all__ = ["IpInfo", "Lookups", "caches_purge"]
