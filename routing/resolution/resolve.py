"""Resolving a batch of hosts: DNS, registries, provider, CDN origin and registrar."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from reports.urls import UrlRejected, normalise_url
from reports.urls.hosts import registered_domain
from routing.resolution.cdns import cdn_of, origin_attach, origin_hosts
from routing.resolution.dns import DnsResult
from routing.resolution.lookups import IpInfo, Lookups
from routing.resolution.providers import RuleIndex
from routing.resolution.results import HostQuery, HostResolution


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
    return _Resolving(queries, lookups or Lookups(), on_resolved).run()


class _Resolving:
    """One call of `hosts_resolve`."""

    def __init__(
        self,
        queries: Sequence[HostQuery],
        lookups: Lookups,
        on_resolved: Callable[[dict[str, HostResolution]], None] | None,
    ) -> None:
        self.lookups = lookups
        self.on_resolved = on_resolved
        self.rules = RuleIndex()
        self.wanted = {q.host: q for q in queries}
        # host -> the origin host a domain rule names for it (a CDN's customer); origins that are
        # not among the queries are resolved too.
        self.origins = origin_hosts(queries, self.rules)
        origin_queries = {}
        for origin_name in set(self.origins.values()) - set(self.wanted):
            origin_queries[origin_name] = host_query(origin_name)
        self.all_queries = {**self.wanted, **origin_queries}
        self.asks_registrar = {
            q.host: bool(q.registered_domain and not q.is_ip and not q.unresolvable) for q in queries
        }
        self.registrars_pending = lookups.registrars_start(
            q.registered_domain for q in queries if self.asks_registrar[q.host]
        )
        self.early: dict[str, HostResolution] = {}
        self.first_answers = True

    def run(self) -> dict[str, HostResolution]:
        lookups = self.lookups
        try:
            dns_results = lookups.hosts(
                ((q.host, q.is_ip, q.unresolvable) for q in self.all_queries.values()), on_answers=self.answered
            )
            addresses = [a for host, r in dns_results.items() if host not in self.early for a in r.addresses]
            infos = lookups.addresses(addresses)
        finally:
            lookups.close()
            registrars = self.registrars_pending()

        self.rules.prefetch(info.network for info in infos.values() if info.network is not None)
        built = {
            host: self.early.get(host) or self.build(q, dns_results[host], infos, registrars)
            for host, q in self.all_queries.items()
        }
        resolutions = {}
        for host in self.wanted:
            resolution = built[host]
            if host in self.origins:
                origin_attach(resolution, self.origins[host], built[self.origins[host]])
            resolutions[host] = resolution
        return resolutions

    def build(
        self, query: HostQuery, result: DnsResult, infos: dict[str, IpInfo], registrars: dict[str, Any]
    ) -> HostResolution:
        ips = [infos[a] for a in result.addresses]
        match = self.rules.match(query.host, [(i.ip, i.asn.asn if i.asn else None, i.network) for i in ips])
        return HostResolution(
            host=query.host,
            registered_domain=query.registered_domain,
            dns=result,
            ips=ips,
            match=match,
            cdn=cdn_of(match),
            registrar=registrars.get(query.registered_domain),
        )

    def answered(self, results: list[DnsResult]) -> None:
        """DNS answers as they come in (`Lookups.hosts`)."""
        # Each host's registry lookups start as soon as DNS has named its addresses.
        self.lookups.addresses_start(a for r in results for a in r.addresses)
        if self.first_answers and self.on_resolved is not None and len(results) < len(self.all_queries):
            self.settle_early(results)  # while the others are asked
        self.first_answers = False

    def settle_early(self, results: list[DnsResult]) -> None:
        """The hosts whose answers are all at hand (cached DNS, addresses in this process's
        memory, a cached registrar) and that no origin rule ties to another host."""
        cached_registrars = self.registrars_pending.cached
        settled = [
            r
            for r in results
            if r.host in self.wanted
            and r.host not in self.origins
            and r.host not in self.origins.values()
            and not r.outcome.is_transient
            and (not self.asks_registrar[r.host] or self.wanted[r.host].registered_domain in cached_registrars)
            and self.lookups.addresses_known(r.addresses)
        ]
        if not settled:
            return
        infos = self.lookups.addresses([a for r in settled for a in r.addresses])
        self.rules.prefetch(info.network for info in infos.values() if info.network is not None)
        for result in settled:
            self.early[result.host] = self.build(self.wanted[result.host], result, infos, cached_registrars)
        if self.on_resolved is not None:
            self.on_resolved(dict(self.early))


def host_query(host: str) -> HostQuery:
    """The query for a host named by a rule rather than by a case (normalised as a URL's would be)."""
    try:
        normal = normalise_url(f"http://{host}/")
    except UrlRejected:
        return HostQuery(host, unresolvable=True)
    return HostQuery(normal.host, normal.is_ip, normal.unresolvable, registered_domain(normal.host))


__all__ = ["HostQuery", "HostResolution", "host_query", "hosts_resolve"]
