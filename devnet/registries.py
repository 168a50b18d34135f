"""Synthetic registries for benchmarks: providers' networks answered as the five RIRs shape their
RDAP objects (a registrant organisation with its abuse and NOC contacts nested inside, full
vCards, as ARIN's recorded answer in ``devnet/fixtures/registry``) and domains as gTLD registries
answer them (a registrar with its abuse role). The resolution and notice benchmarks serve them
from the local RDAP peer; the same arguments give the same objects.
"""

from __future__ import annotations

import ipaddress
import zlib
from dataclasses import dataclass
from typing import Any

from devnet import rdap_objects


@dataclass(frozen=True, slots=True)
class Registry:
    name: str
    first_octet: int  # of its networks' addresses
    countries: tuple[str, ...]
    suffix: str  # of its contact handles
    whois: str


# Not JP or KR for APNIC: ipwhois's lookup_rdap would then also query JPNIC's or KRNIC's whois.
REGISTRIES = (
    Registry("arin", 45, ("US", "CA"), "ARIN", "whois.arin.net"),
    Registry("ripencc", 81, ("NL", "DE", "GB", "FR", "SE"), "RIPE", "whois.ripe.net"),
    Registry("apnic", 103, ("AU", "SG", "IN", "NZ"), "AP", "whois.apnic.net"),
    Registry("lacnic", 186, ("BR", "MX", "AR", "CL"), "LACNIC", "whois.lacnic.net"),
    Registry("afrinic", 41, ("ZA", "KE", "NG", "EG"), "AFRINIC", "whois.afrinic.net"),
)


@dataclass(frozen=True, slots=True)
class Asn:
    number: int
    registry: Registry
    country: str
    provider: int  # one provider (organisation) per AS

    @property
    def org_handle(self) -> str:
        return f"ORG-BENCH{self.provider}"

    @property
    def abuse_email(self) -> str:
        return f"abuse@prov{self.provider}.example"


@dataclass(frozen=True, slots=True)
class Network:
    index: int
    block: ipaddress.IPv4Network
    asn: Asn


def _contact(handle: str, roles: list[str], name: str, email: str, phone: str) -> dict[str, Any]:
    return rdap_objects.entity(
        handle=handle,
        roles=roles,
        properties=[
            ["fn", {}, "text", name],
            ["kind", {}, "text", "group"],
            ["email", {}, "text", email],
            ["tel", {"type": ["work", "voice"]}, "text", phone],
        ],
        events=[{"eventAction": "last changed", "eventDate": "2024-03-11T09:12:44Z"}],
    )


def network_object(network: Network) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The RDAP ip network object of ``network``, shaped like ARIN's (``devnet/fixtures/registry``):
    the holder as a registrant entity, its abuse and NOC contacts nested inside it with full vcards.
    Also returns the nested contacts as entity objects (ipwhois fetches them at depth 1)."""
    asn, block = network.asn, network.block
    registry = asn.registry
    dashed = str(block.network_address).replace(".", "-")
    abuse = _contact(
        f"ABUSE{asn.provider}-{registry.suffix}",
        ["abuse"],
        f"Abuse desk of provider {asn.provider}",
        asn.abuse_email,
        f"+1-555-01{asn.provider:04d}",
    )
    noc = _contact(
        f"NOC{asn.provider}-{registry.suffix}",
        ["technical", "administrative"],
        f"Network operations of provider {asn.provider}",
        f"noc@prov{asn.provider}.example",
        f"+1-555-02{asn.provider:04d}",
    )
    org = rdap_objects.entity(
        handle=asn.org_handle,
        roles=["registrant"],
        properties=[
            ["fn", {}, "text", f"Bench Provider {asn.provider}"],
            ["kind", {}, "text", "org"],
            ["adr", {"label": f"{asn.provider} Example Street\nExample City\n{asn.country}"}, "text", [""] * 7],
        ],
        entities=[abuse, noc],
        events=[{"eventAction": "registration", "eventDate": "2009-05-27T14:02:11Z"}],
    )
    obj = rdap_objects.ip_network(
        rdapConformance=["rdap_level_0", "nro_rdap_profile_0", "cidr0"],
        handle=f"NET-{dashed}-1",
        start=str(block.network_address),
        end=str(block.broadcast_address),
        ipVersion="v4",
        name=f"PROV{asn.provider}-NET{network.index}",
        type="ASSIGNED PA",
        country=asn.country,
        parentHandle=f"NET-{registry.first_octet}-0-0-0-0",
        cidr0_cidrs=[{"v4prefix": str(block.network_address), "length": block.prefixlen}],
        status=["active"],
        port43=registry.whois,
        entities=[org],
        events=[
            {"eventAction": "registration", "eventDate": "2011-02-08T10:30:00Z"},
            {"eventAction": "last changed", "eventDate": "2023-11-20T16:45:12Z"},
        ],
        notices=[
            {
                "title": "Terms of Service",
                "description": [f"Synthetic network of the resolution benchmark, in the shape of {registry.name}'s."],
            }
        ],
    )
    return obj, [abuse, noc]


def domain_object(domain: str, registrar: int) -> dict[str, Any]:
    """A domain object as gTLD registries answer (the shape of ``devnet/demo.py``)."""
    return rdap_objects.domain(
        domain.upper() if domain.endswith((".com", ".net")) else domain,
        handle=f"D{zlib.crc32(domain.encode())}-BENCH",
        conformance=["rdap_level_0", "icann_rdap_technical_implementation_guide_1"],
        status=["client transfer prohibited"],
        entities=[
            rdap_objects.registrar(
                registrar_name(registrar),
                handle=str(9000 + registrar),
                iana_id=str(9000 + registrar),
                abuse=rdap_objects.abuse_role(registrar_abuse(registrar), name="", tel="tel:+1.5550100"),
            )
        ],
        events=[
            {"eventAction": "registration", "eventDate": "2015-06-01T12:00:00Z"},
            {"eventAction": "expiration", "eventDate": "2030-06-01T12:00:00Z"},
        ],
        nameservers=rdap_objects.nameservers("NS1.EXAMPLE.NET"),
    )


def registrar_name(registrar: int) -> str:
    return f"Bench Registrar {registrar}"


def registrar_abuse(registrar: int) -> str:
    return f"abuse@registrar{registrar}.example"
