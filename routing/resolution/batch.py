"""What every part of a batch of lookups shares: the settings, the RDAP client, the process's
state, the counters, the resolver and the limit of queries on the wire."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import dns.resolver
from django.conf import settings

from routing.resolution.concurrency import InFlight, threads_map
from routing.resolution.dns import make_resolver
from routing.resolution.rdap_client import RdapClient
from routing.resolution.state import ProcessState

T = TypeVar("T")
R = TypeVar("R")


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


@dataclass
class Counters:
    """The lookups a batch made (answers from a cache are not counted)."""

    dns_lookups: int = 0
    asn_lookups: int = 0
    rdap_network_lookups: int = 0
    registrar_lookups: int = 0


@dataclass
class Batch:
    """One batch's view of DNS and the registries (`routing.resolution.lookups.Lookups` is one).
    Not thread-safe: use from one thread."""

    config: Settings = field(default_factory=Settings.from_django)
    client: RdapClient = field(default_factory=lambda: ProcessState.current().rdap_client())
    refresh: bool = False  # ignore cached answers (they are still written)
    counters: Counters = field(default_factory=Counters)
    process: ProcessState = field(default_factory=ProcessState.current)

    def __post_init__(self) -> None:
        self.resolver: dns.resolver.Resolver = make_resolver(
            self.config.nameservers, timeout=self.config.dns_timeout, lifetime=self.config.dns_lifetime
        )
        # The batch's queries on the wire at once (DNS, Team Cymru, RDAP): threads waiting for a
        # registry's turn, or for another worker's answer, hold none.
        self.in_flight = InFlight(self.config.concurrency)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` over ``items`` on the batch's threads."""
        return threads_map(fn, items, threads=self.config.concurrency)

    def on_the_wire(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(...)`` holding one of the batch's slots on the wire (a host question's)."""
        with self.in_flight.host:
            return fn(*args, **kwargs)


__all__ = ["Batch", "Counters", "Settings"]
