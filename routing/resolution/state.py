"""What the threads of one worker process share: the RDAP client (its per-registry limits), the
block rows kept in memory, the lookups in flight, and one client of the shared cache.

All of it is in one object, `PROCESS`, which `reset` makes anew (the tests do so between tests).
`Lookups` takes this process's own; tests give two of them separate ones (`ProcessState.new`), as
two worker processes have.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache

from routing.resolution.concurrency import SingleFlight
from routing.resolution.memo import BlockMemo
from routing.resolution.rdap_client import RdapClient


def _block_flights() -> SingleFlight:
    # Worker threads of one process that meet the same new network at once (or within half a
    # minute: until the answer is in the block memo) ask its registry once.
    return SingleFlight(keep=30.0)


@dataclass
class ProcessState:
    asn_blocks: BlockMemo = field(default_factory=BlockMemo)
    network_blocks: BlockMemo = field(default_factory=BlockMemo)
    block_flights: SingleFlight = field(default_factory=_block_flights)
    registrar_flights: SingleFlight = field(default_factory=SingleFlight)
    _client: RdapClient | None = None
    _client_key: tuple[Any, ...] = ()
    _shared_cache: BaseCache | None = None

    @classmethod
    def current(cls) -> ProcessState:
        """This process's own."""
        return PROCESS

    @classmethod
    def new(cls) -> ProcessState:
        """A state of its own, as another worker process has."""
        return cls()

    def reset(self) -> None:
        """Forget everything: a new RDAP client (its rate-limit state) on next use, no lookups in
        flight or remembered, no block rows in memory."""
        self._client = None
        self._client_key = ()
        self.registrar_flights = SingleFlight()
        self.block_flights = _block_flights()
        self.memos_clear()

    def memos_clear(self) -> None:
        """Drop the block rows kept in memory (they are read again from the database)."""
        self.asn_blocks.clear()
        self.network_blocks.clear()

    def rdap_client(self) -> RdapClient:
        """The process's RDAP client (its per-registry limits must be shared by all its threads),
        made anew when the settings it was made from changed."""
        key = (
            settings.SCART_RDAP_BASE_URL,
            settings.SCART_RDAP_TIMEOUT,
            settings.SCART_RDAP_CONCURRENCY,
            settings.SCART_RDAP_RATE,
            settings.SCART_RDAP_DNS_BOOTSTRAP_URL,
        )
        if self._client is None or key != self._client_key:
            self._client = RdapClient(
                base_url=settings.SCART_RDAP_BASE_URL,
                timeout=settings.SCART_RDAP_TIMEOUT,
                concurrency=settings.SCART_RDAP_CONCURRENCY,
                rate=settings.SCART_RDAP_RATE,
                user_agent=f"scart ({settings.SCART_HOTLINE_NAME})",
                dns_bootstrap_url=settings.SCART_RDAP_DNS_BOOTSTRAP_URL,
                cooldowns=self.cooldown_get,
                set_cooldown=self.cooldown_set,
            )
            self._client_key = key
        return self._client

    def cache(self) -> BaseCache:
        """One cache client for every thread of the process (Django's ``cache`` is one per thread,
        and the lookup threads are short-lived: each would open a connection of its own)."""
        if self._shared_cache is None:
            self._shared_cache = caches.create_connection(DEFAULT_CACHE_ALIAS)
        return self._shared_cache

    def cooldown_get(self, registry: str) -> float:
        value = self.cache().get(f"rdap-cooldown:{registry}")
        return float(value) if value else 0.0

    def cooldown_set(self, registry: str, until: float) -> None:
        self.cache().set(f"rdap-cooldown:{registry}", until, timeout=max(1, int(until - time.time()) + 1))


# The state of this process (each Celery worker process has its own).
PROCESS = ProcessState()


__all__ = ["PROCESS", "ProcessState"]
