"""The one HTTP client for registry queries (RDAP): timeouts, per-registry concurrency and rate
limits, HTTP 429 handling, redirects only to registries, and the IANA bootstrap for domains.

``SCART_RDAP_BASE_URL``, when set, replaces every registry's RDAP service: every query goes to
that base with the RFC 9082 paths (``/ip/{addr}``, ``/entity/{handle}``, ``/autnum/{n}``,
``/domain/{name}``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import urllib3

# Each registry's RDAP service; addresses whose registry is unknown go to ARIN's, which redirects
# to the right one (what ipwhois calls bootstrap).
REGISTRY_BASES = {
    "arin": "https://rdap.arin.net/registry",
    "ripencc": "https://rdap.db.ripe.net",
    "apnic": "https://rdap.apnic.net",
    "lacnic": "https://rdap.lacnic.net/rdap",
    "afrinic": "https://rdap.afrinic.net/rdap",
}
BOOTSTRAP_BASE = "https://rdap.arin.net/registry"
IANA_DNS_BOOTSTRAP = "https://data.iana.org/rdap/dns.json"
MAX_REDIRECTS = 3
BOOTSTRAP_TTL = 24 * 3600  # IANA's file changes rarely; read it again daily
MAX_BODY = 2 * 1024 * 1024  # RDAP objects are kilobytes; a registry answer is never this large


class RdapError(Exception):
    """A lookup failed. ``transient`` failures (timeouts, 5xx, 429: the default) may succeed
    later; a permanent one (a refusal, a redirect we do not follow) is given as ``transient=False``."""

    def __init__(self, message: str, *, transient: bool = True, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.transient = transient
        self.retry_after = retry_after


class RdapNotFound(RdapError):
    def __init__(self, message: str) -> None:
        super().__init__(message, transient=False)


class RdapRateLimited(RdapError):
    pass


@dataclass
class _Gate:
    """Per-registry limits within this process: at most ``concurrency`` requests at once, at most
    ``rate`` per second, and none while a 429's Retry-After runs."""

    concurrency: int
    rate: float
    semaphore: threading.Semaphore = field(init=False)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_slot: float = 0.0
    blocked_until: float = 0.0

    def __post_init__(self) -> None:
        self.semaphore = threading.BoundedSemaphore(max(1, self.concurrency))

    def wait_turn(self) -> None:
        if self.rate <= 0:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot)
            self.next_slot = slot + 1.0 / self.rate
        if slot > now:
            time.sleep(slot - now)


class RdapClient:
    """The one HTTP client for registry queries. Thread-safe; share one per process."""

    def __init__(
        self,
        *,
        base_url: str = "",
        timeout: float = 10.0,
        concurrency: int = 4,
        rate: float = 10.0,
        user_agent: str = "scart",
        dns_bootstrap_url: str = IANA_DNS_BOOTSTRAP,
        cooldowns: Callable[[str], float] | None = None,
        set_cooldown: Callable[[str, float], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.dns_bootstrap_url = dns_bootstrap_url
        self.concurrency = concurrency
        self.rate = rate
        self._pool = urllib3.PoolManager(
            num_pools=32,
            # With a base URL every registry is one host: room for all their gates at once.
            maxsize=max(concurrency * 8, 16),
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=urllib3.Retry(total=1, connect=1, read=1, redirect=0, status=0, raise_on_status=False),
            headers={"Accept": "application/rdap+json, application/json", "User-Agent": user_agent},
        )
        self._gates: dict[str, _Gate] = {}
        self._gates_lock = threading.Lock()
        self._cooldowns = cooldowns
        self._set_cooldown = set_cooldown
        self._dns_services: list[tuple[list[str], str]] | None = None
        self._dns_services_at = 0.0
        self.requests = 0  # every HTTP request sent, for benchmarks and tests
        self._count_lock = threading.Lock()

    # -- URLs --------------------------------------------------------------------------------

    def ip_url(self, address: str, registry: str) -> str:
        return f"{self._base(registry)}/ip/{quote(address, safe=':.')}"

    def entity_url(self, handle: str, registry: str) -> str:
        return f"{self._base(registry)}/entity/{quote(handle, safe='')}"

    def domain_url(self, name: str) -> str:
        if self.base_url:
            return f"{self.base_url}/domain/{quote(name, safe='.')}"
        base = self._dns_base(name)
        if base is None:
            raise RdapNotFound(f"no RDAP service is known for the top-level domain of {name}")
        return f"{base}/domain/{quote(name, safe='.')}"

    def _trusted_bootstrap_origin(self, url: str) -> bool:
        """Plain-http services are accepted only from a bootstrap file served over plain http by
        the same origin (a local mirror, or the test peer)."""
        mine, theirs = urlsplit(self.dns_bootstrap_url), urlsplit(url)
        return mine.scheme == "http" and (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc)

    def _base(self, registry: str) -> str:
        return self.base_url or REGISTRY_BASES.get(registry, BOOTSTRAP_BASE)

    def _dns_base(self, name: str) -> str | None:
        """The RDAP service of the longest matching label suffix in IANA's bootstrap (RFC 9224)."""
        if self._dns_services is None or time.monotonic() - self._dns_services_at > BOOTSTRAP_TTL:
            data = self.get_json(self.dns_bootstrap_url, registry="iana")
            self._dns_services_at = time.monotonic()
            services = []
            for entry in data.get("services", []):
                if len(entry) >= 2 and entry[1]:
                    urls = [u for u in entry[1] if u.startswith("https://") or self._trusted_bootstrap_origin(u)]
                    if urls:
                        services.append(([label.lower() for label in entry[0]], urls[0].rstrip("/")))
            self._dns_services = services
        labels = name.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            suffix = ".".join(labels[start:])
            for suffixes, url in self._dns_services:
                if suffix in suffixes:
                    return url
        return None

    # -- HTTP --------------------------------------------------------------------------------

    def get_json(
        self, url: str, *, registry: str, in_flight: AbstractContextManager[Any] | None = None
    ) -> dict[str, Any]:
        """GET ``url`` and decode the RDAP object, counting against ``registry``'s limits.

        ``in_flight``, when given, is held while the request is on the wire (not while it waits
        for its turn at the registry): the caller's own limit on lookups in flight."""
        gate = self._gate(registry)
        now = time.time()
        blocked = max(gate.blocked_until, self._cooldowns(registry) if self._cooldowns else 0.0)
        if blocked > now:
            raise RdapRateLimited(f"{registry} asked us to wait", retry_after=blocked - now)
        with gate.semaphore:
            gate.wait_turn()
            # A 429 may have arrived while this request waited for its turn.
            blocked = max(gate.blocked_until, self._cooldowns(registry) if self._cooldowns else 0.0)
            if blocked > time.time():
                raise RdapRateLimited(f"{registry} asked us to wait", retry_after=blocked - time.time())
            with in_flight or nullcontext():
                status, headers, body = self._fetch(url)
        if status == 429:
            parsed_wait = _retry_after(headers.get("Retry-After"))
            retry_after = 60.0 if parsed_wait is None else parsed_wait
            gate.blocked_until = time.time() + retry_after
            if self._set_cooldown:
                self._set_cooldown(registry, time.time() + retry_after)
            raise RdapRateLimited(f"{url}: rate limited (HTTP 429)", retry_after=retry_after)
        if status == 404:
            raise RdapNotFound(f"{url}: not found (HTTP 404)")
        if status >= 500:
            raise RdapError(f"{url}: server error (HTTP {status})")
        if status >= 400:
            raise RdapError(f"{url}: refused (HTTP {status})", transient=False)
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise RdapError(f"{url}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise RdapError(f"{url}: the answer is not an RDAP object")
        return data

    def _fetch(self, url: str) -> tuple[int, Any, bytes]:
        """GET with redirects followed by hand: only to https (or the configured base's own
        origin), only to registry services, and at most `MAX_REDIRECTS` times; the body is capped."""
        for _hop in range(MAX_REDIRECTS + 1):
            with self._count_lock:
                self.requests += 1
            try:
                response = self._pool.request("GET", url, preload_content=False, redirect=False)
            except urllib3.exceptions.HTTPError as exc:
                raise RdapError(f"{url}: {type(exc).__name__}: {exc}") from exc
            try:
                if response.status in (301, 302, 303, 307, 308):
                    target = urljoin(url, response.headers.get("Location", ""))
                    if not self._may_follow(target):
                        raise RdapError(f"{url}: refusing to follow a redirect to {target}", transient=False)
                    url = target
                    continue
                body = response.read(MAX_BODY + 1)
            finally:
                response.release_conn()
            if len(body) > MAX_BODY:
                raise RdapError(f"{url}: answer larger than {MAX_BODY} bytes", transient=False)
            return response.status, response.headers, body
        raise RdapError(f"{url}: more than {MAX_REDIRECTS} redirects", transient=False)

    def _may_follow(self, url: str) -> bool:
        parts = urlsplit(url)
        if self.base_url:
            base = urlsplit(self.base_url)
            return (parts.scheme, parts.netloc) == (base.scheme, base.netloc)
        if parts.scheme != "https" or not parts.hostname:
            return False
        known = {urlsplit(u).hostname for u in REGISTRY_BASES.values()}
        known.update(urlsplit(u).hostname for _tlds, u in self._dns_services or ())
        return parts.hostname in known

    def _gate(self, registry: str) -> _Gate:
        with self._gates_lock:
            gate = self._gates.get(registry)
            if gate is None:
                gate = self._gates[registry] = _Gate(self.concurrency, self.rate)
            return gate


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


__all__ = ["BOOTSTRAP_BASE", "REGISTRY_BASES", "RdapClient", "RdapError", "RdapNotFound", "RdapRateLimited"]
