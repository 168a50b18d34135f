"""Registry lookups for one address or domain: ASN (Team Cymru DNS), RDAP network, domain RDAP.

Like `routing.dns`, this module holds no Django models: the pipeline (`routing.pipeline`) decides
what to look up and caches the answers. Parsing is ipwhois's (network objects, Cymru answers) and
whoisit's (domain objects); HTTP is one `RdapClient` with timeouts, per-registry concurrency and
rate limits, and HTTP 429 handling.

``SCART_RDAP_BASE_URL``, when set, replaces every registry's RDAP service: every query goes to
that base with the RFC 9082 paths (``/ip/{addr}``, ``/entity/{handle}``, ``/autnum/{n}``,
``/domain/{name}``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import dns.resolver
import urllib3
from ipwhois.asn import IPASN
from ipwhois.exceptions import ASNLookupError, IPDefinedError
from ipwhois.net import Net
from ipwhois.rdap import RDAP

from routing.addresses import parse_networks, range_networks
from routing.contacts import Entity, choose_abuse_contact, clean_emails, organisation

# whoisit gives its loggers ("bootstrap", "parser", ...) handlers of their own, at DEBUG level when
# the environment says DEBUG=1, and logs while it is imported: keep that quiet, then hand its
# loggers back to scart's logging configuration.
_logging_disabled = logging.root.manager.disable
logging.disable(logging.DEBUG)
try:
    from whoisit.bootstrap import Bootstrap as WhoisitBootstrap
    from whoisit.parser import parse as whoisit_parse
finally:
    logging.disable(_logging_disabled)
for _name in ("bootstrap", "parser", "query", "utils"):
    logging.getLogger(_name).handlers.clear()
    logging.getLogger(_name).setLevel(logging.WARNING)

log = logging.getLogger(__name__)

# whoisit's parser consults a bootstrap only to name the registry of entity links; an empty one
# will do, and we never let whoisit fetch anything.
_WHOISIT_BOOTSTRAP = WhoisitBootstrap()

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
    """A lookup failed. ``transient`` failures (timeouts, 5xx, 429) may succeed later."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RdapNotFound(RdapError):
    transient = False


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
            error = RdapError(f"{url}: refused (HTTP {status})")
            error.transient = False
            raise error
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
                        error = RdapError(f"{url}: refusing to follow a redirect to {target}")
                        error.transient = False
                        raise error
                    url = target
                    continue
                body = response.read(MAX_BODY + 1)
            finally:
                response.release_conn()
            if len(body) > MAX_BODY:
                error = RdapError(f"{url}: answer larger than {MAX_BODY} bytes")
                error.transient = False
                raise error
            return response.status, response.headers, body
        error = RdapError(f"{url}: more than {MAX_REDIRECTS} redirects")
        error.transient = False
        raise error

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


# -- ASN (Team Cymru over DNS, through ipwhois) ---------------------------------------------


@dataclass(frozen=True)
class AsnInfo:
    """Origin of an address's announced prefix. ``asn`` is None for space nobody announces."""

    asn: int | None
    prefix: str  # the announced prefix; "" when not announced
    country: str
    registry: str
    date: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "asn": self.asn,
            "prefix": self.prefix,
            "country": self.country,
            "registry": self.registry,
            "date": self.date,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AsnInfo:
        return cls(data.get("asn"), data.get("prefix", ""), data.get("country", ""), data.get("registry", ""))


class LookupTransient(Exception):
    """A DNS lookup for registry data failed in a way that may pass (SERVFAIL, timeout)."""


class NotGlobal(Exception):
    """The address is private, reserved or otherwise not in any registry."""


def _net(address: str, resolver: dns.resolver.Resolver | None = None) -> Any:
    try:
        net = Net(address)
    except IPDefinedError as exc:
        raise NotGlobal(str(exc)) from exc
    if resolver is not None:
        net.dns_resolver = resolver
    return net


def lookup_asn(address: str, *, resolver: dns.resolver.Resolver) -> AsnInfo:
    """Ask the Team Cymru origin zone about ``address`` (ipwhois, through our resolver)."""
    net = _net(address, resolver)
    try:
        answer = net.get_asn_dns()
    except ASNLookupError as exc:
        if isinstance(exc.__context__, dns.resolver.NXDOMAIN | dns.resolver.NoAnswer):
            return AsnInfo(None, "", "", "")
        raise LookupTransient(str(exc)) from exc
    # More than one origin (MOAS): like ipwhois, keep the most specific announced prefix.
    parsed = [IPASN(net).parse_fields_dns(str(entry)) for entry in answer]
    data = max(parsed, key=_prefix_length)
    asn_text = str(data.get("asn") or "").split()[0] if data.get("asn") else ""
    announced = asn_text.isdigit()
    cidr = data.get("asn_cidr") or ""
    return AsnInfo(
        asn=int(asn_text) if announced else None,
        prefix=cidr if announced and cidr != "NA" else "",
        country=(data.get("asn_country_code") or "").upper(),
        registry=(data.get("asn_registry") or "").lower(),
        date=data.get("asn_date") or "",
    )


def _prefix_length(data: Mapping[str, Any]) -> int:
    try:
        return int(str(data.get("asn_cidr") or "").split("/")[1])
    except (IndexError, ValueError):
        return -1


def lookup_asn_name(asn: int, *, resolver: dns.resolver.Resolver) -> str:
    """The description Team Cymru lists for an ASN ("GOOGLE - Google LLC, US"), or ""."""
    net = _net("8.8.8.8", resolver)  # any global address: only the resolver is used
    try:
        answer = net.get_asn_verbose_dns(asn=str(asn))
    except ASNLookupError as exc:
        if isinstance(exc.__context__, dns.resolver.NXDOMAIN | dns.resolver.NoAnswer):
            return ""
        raise LookupTransient(str(exc)) from exc
    fields = [part.strip() for part in answer.strip('"').split("|")]
    return fields[4] if len(fields) > 4 else ""


# -- RDAP network --------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkInfo:
    """An RDAP network object, reduced to what routing needs."""

    cidrs: tuple[str, ...]
    handle: str
    name: str
    country: str
    registry: str
    parent_handle: str
    org_handle: str
    org_name: str
    abuse_emails: tuple[str, ...]
    abuse_source: str
    confidence: str
    abuse_handle: str = ""
    notes: tuple[str, ...] = ()
    entities: tuple[Entity, ...] = ()
    # The rung of `routing.contacts` that chose ``abuse_emails`` (`routing.models.AbuseRule`);
    # "" in answers cached before it was recorded.
    abuse_rule: str = ""
    # An assignment (the end of the delegation chain) rather than an allocation that may hold
    # more specific reassignments to other operators.
    leaf: bool = True

    @property
    def cidr(self) -> str:
        return ", ".join(self.cidrs)

    def as_dict(self) -> dict[str, Any]:
        return {
            "cidrs": list(self.cidrs),
            "handle": self.handle,
            "name": self.name,
            "country": self.country,
            "registry": self.registry,
            "parent_handle": self.parent_handle,
            "org_handle": self.org_handle,
            "org_name": self.org_name,
            "abuse_emails": list(self.abuse_emails),
            "abuse_source": self.abuse_source,
            "abuse_rule": self.abuse_rule,
            "confidence": self.confidence,
            "abuse_handle": self.abuse_handle,
            "notes": list(self.notes),
            "entities": [e.as_dict() for e in self.entities],
            "leaf": self.leaf,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkInfo:
        return cls(
            cidrs=tuple(data.get("cidrs", ())),
            handle=data.get("handle", ""),
            name=data.get("name", ""),
            country=data.get("country", ""),
            registry=data.get("registry", ""),
            parent_handle=data.get("parent_handle", ""),
            org_handle=data.get("org_handle", ""),
            org_name=data.get("org_name", ""),
            abuse_emails=tuple(data.get("abuse_emails", ())),
            abuse_source=data.get("abuse_source", "none"),
            confidence=data.get("confidence", "none"),
            abuse_handle=data.get("abuse_handle", ""),
            notes=tuple(data.get("notes", ())),
            entities=tuple(Entity.from_dict(e) for e in data.get("entities", ())),
            leaf=data.get("leaf", True),
            abuse_rule=data.get("abuse_rule", ""),
        )


def lookup_network(
    address: str, *, registry: str, client: RdapClient, in_flight: AbstractContextManager[Any] | None = None
) -> NetworkInfo:
    """Fetch and read the RDAP network object covering ``address``.

    Entities come from the object itself, nested ones included; an entity that matters (an
    abuse role, or a root entity) but came without contact data is fetched from its registry, so
    that its addresses are present. ``in_flight`` is held while each request is on the wire
    (`RdapClient.get_json`).
    """
    net = _net(address)
    response = client.get_json(client.ip_url(address, registry), registry=registry, in_flight=in_flight)
    # ipwhois builds a URL from the registry name even when handed the response: give it one it knows.
    known_registry = registry if registry in REGISTRY_BASES else "arin"
    parsed = RDAP(net).lookup(
        response=response, asn_data={"asn_registry": known_registry}, depth=0, root_ent_check=False
    )
    network = parsed.get("network") or {}
    entities = _entities(response.get("entities") or [], parent="", registry=registry)
    entities = _complete(entities, registry=registry, client=client, in_flight=in_flight)
    contact = choose_abuse_contact(entities)
    org = organisation(entities, contact)
    return NetworkInfo(
        cidrs=tuple(str(n) for n in _network_blocks(network, response)),
        handle=str(network.get("handle") or ""),
        name=str(network.get("name") or ""),
        country=str(network.get("country") or "").upper()[:2],
        registry=registry,
        parent_handle=str(network.get("parent_handle") or ""),
        org_handle=org.handle if org else "",
        org_name=(org.name if org else "") or str(network.get("name") or ""),
        abuse_emails=contact.emails,
        abuse_source=contact.source,
        confidence=contact.confidence,
        abuse_handle=contact.handle,
        notes=contact.notes,
        entities=tuple(entities),
        leaf=_is_assignment(response),
        abuse_rule=contact.rule,
    )


def _is_assignment(response: Mapping[str, Any]) -> bool:
    """True for assignments and reassignments; allocations, and objects that do not say, may
    contain reassignments to other operators."""
    kind = str(response.get("type") or "").lower()
    return "assign" in kind


def _network_blocks(network: Mapping[str, Any], response: Mapping[str, Any]) -> list[Any]:
    """The CIDR blocks of a network object: its start and end addresses (in whatever form the
    registry wrote them), else ipwhois's cidr field."""
    start, end = response.get("startAddress"), response.get("endAddress")
    if start and end:
        try:
            return range_networks(str(start), str(end))
        except ValueError:
            pass
    try:
        return parse_networks(str(network.get("cidr") or ""))
    except ValueError:
        return []


def _entities(raw: list[Any], *, parent: str, registry: str) -> list[Entity]:
    found: list[Entity] = []
    for item in raw:
        if not isinstance(item, dict) or not item.get("handle"):
            continue
        roles = tuple(str(r).lower() for r in item.get("roles") or ())
        emails, name, kind, marked = _vcard(item.get("vcardArray"), pref_marks_abuse=_pref_marks_abuse(registry, roles))
        found.append(
            Entity(
                handle=str(item["handle"]),
                roles=roles,
                emails=emails,
                name=name,
                kind=kind,
                parent=parent,
                marked=marked,
            )
        )
        found.extend(_entities(item.get("entities") or [], parent=str(item["handle"]), registry=registry))
    return found


def _pref_marks_abuse(registry: str, roles: tuple[str, ...]) -> bool:
    """APNIC writes an IRT's ``abuse-mailbox`` as the email with ``pref: 1`` and its ``e-mail``
    (often a hostmaster@) without parameters; elsewhere ``pref`` is only a preference."""
    return registry == "apnic" and "abuse" in roles


def _vcard(vcard: Any, *, pref_marks_abuse: bool = False) -> tuple[tuple[str, ...], str, str, tuple[str, ...]]:
    """(emails, formatted name, kind, emails marked as the abuse mailbox) of a jCard (RFC 7095).

    An email is marked by a ``type`` parameter of ``abuse`` (RIPE's ``abuse-mailbox``; its
    ``e-mail`` has type ``email``) or, with ``pref_marks_abuse``, by ``pref: 1``."""
    if not isinstance(vcard, list) or len(vcard) < 2 or not isinstance(vcard[1], list):
        return (), "", "", ()
    emails, marked, name, kind = [], [], "", ""
    for prop in vcard[1]:
        if not isinstance(prop, list) or len(prop) < 4:
            continue
        key, params, value = str(prop[0]).lower(), prop[1], prop[3]
        if key == "email" and isinstance(value, str):
            emails.append(value)
            if _marks_abuse(params, pref_marks_abuse=pref_marks_abuse):
                marked.append(value)
        elif key == "fn" and isinstance(value, str) and not name:
            name = value.strip()
        elif key == "kind" and isinstance(value, str):
            kind = value.strip().lower()
    return clean_emails(emails), name, kind, clean_emails(marked)


def _marks_abuse(params: Any, *, pref_marks_abuse: bool) -> bool:
    if not isinstance(params, dict):
        return False
    types = params.get("type") or ()
    types = [types] if isinstance(types, str) else types
    if isinstance(types, list) and any(str(t).strip().lower() == "abuse" for t in types):
        return True
    return pref_marks_abuse and str(params.get("pref", "")).strip() == "1"


def _complete(
    entities: list[Entity], *, registry: str, client: RdapClient, in_flight: AbstractContextManager[Any] | None
) -> list[Entity]:
    """Fetch entities whose contact data the network object left out, where it matters."""
    has_abuse_address = any("abuse" in e.roles and e.emails for e in entities)
    done: list[Entity] = []
    for entity in entities:
        wanted = not entity.emails and (
            "abuse" in entity.roles
            or (not entity.parent and not entity.name)
            or (not has_abuse_address and any(r in entity.roles for r in ("technical", "noc", "administrative")))
        )
        if wanted:
            try:
                fetched = client.get_json(
                    client.entity_url(entity.handle, registry), registry=registry, in_flight=in_flight
                )
            except RdapError as exc:
                # The network object itself answered; a missing detail must not fail it.
                log.info("entity %s of %s could not be fetched: %s", entity.handle, registry, exc)
            else:
                emails, name, kind, marked = _vcard(
                    fetched.get("vcardArray"), pref_marks_abuse=_pref_marks_abuse(registry, entity.roles)
                )
                entity = Entity(
                    entity.handle,
                    entity.roles,
                    emails,
                    name or entity.name,
                    kind or entity.kind,
                    entity.parent,
                    marked,
                )
        done.append(entity)
    return done


# -- Domain RDAP (registrar) ---------------------------------------------------------------


@dataclass(frozen=True)
class RegistrarInfo:
    domain: str
    registrar: str
    abuse_emails: tuple[str, ...]
    iana_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "name": self.registrar,
            "abuse_emails": list(self.abuse_emails),
            "iana_id": self.iana_id,
        }


def lookup_registrar(
    domain: str, *, client: RdapClient, in_flight: AbstractContextManager[Any] | None = None
) -> RegistrarInfo:
    """The registrar of a registrable domain and its abuse address, from domain RDAP (whoisit's
    parser reads the object). ``in_flight`` as for `lookup_network`."""
    url = client.domain_url(domain)
    raw = client.get_json(url, registry=f"domain:{domain.rpartition('.')[2]}", in_flight=in_flight)
    parsed = whoisit_parse(_WHOISIT_BOOTSTRAP, "domain", domain, raw)
    entities = parsed.get("entities") or {}
    registrars = entities.get("registrar") or []
    registrar = registrars[0] if registrars else {}
    abuse = [
        e.get("email", "")
        for e in entities.get("abuse") or []
        if not e.get("parent_handle") or e.get("parent_handle") == registrar.get("handle")
    ]
    iana_id = ""
    for public_id in registrar.get("public_ids") or []:
        if "iana" in str(public_id.get("type", "")).lower():
            iana_id = str(public_id.get("identifier", ""))
    return RegistrarInfo(
        domain=domain,
        registrar=str(registrar.get("name") or registrar.get("handle") or ""),
        abuse_emails=clean_emails(abuse or ([registrar["email"]] if registrar.get("email") else [])),
        iana_id=iana_id,
    )


__all__ = [
    "AsnInfo",
    "LookupTransient",
    "NetworkInfo",
    "NotGlobal",
    "RdapClient",
    "RdapError",
    "RdapNotFound",
    "RdapRateLimited",
    "RegistrarInfo",
    "lookup_asn",
    "lookup_asn_name",
    "lookup_network",
    "lookup_registrar",
]
