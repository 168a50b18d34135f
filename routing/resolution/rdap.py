"""Registry lookups for one address or domain: ASN (Team Cymru DNS), RDAP network, domain RDAP.

Like `routing.resolution.dns`, this module holds no Django models: the lookups
(`routing.resolution.lookups`) decide what to look up and cache the answers. Parsing is ipwhois's
(network objects, Cymru answers) and whoisit's (domain objects); HTTP goes through the one
`RdapClient` (`routing.resolution.rdap_client`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import dns.resolver
from ipwhois.asn import IPASN
from ipwhois.exceptions import ASNLookupError, IPDefinedError
from ipwhois.net import Net
from ipwhois.rdap import RDAP

from routing.resolution.addresses import parse_networks, range_networks
from routing.resolution.contacts import Entity, choose_abuse_contact, clean_emails, organisation
from routing.resolution.rdap_client import REGISTRY_BASES, RdapClient, RdapError

log = logging.getLogger(__name__)


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
    # The rung of `routing.resolution.contacts` that chose ``abuse_emails`` (`routing.models.AbuseRule`);
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


__all__ = [
    "AsnInfo",
    "LookupTransient",
    "NetworkInfo",
    "NotGlobal",
    "lookup_asn",
    "lookup_asn_name",
    "lookup_network",
]
