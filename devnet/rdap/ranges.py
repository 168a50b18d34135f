"""How the local RDAP peer reads what it serves and what it is asked: address ranges in the forms
registries write them, ``/ip`` queries, AS numbers and domain names."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive range of integers: addresses of one IP version, or AS numbers."""

    version: int  # 4 or 6; 0 for AS numbers
    first: int
    last: int

    def covers(self, other: Range) -> bool:
        return self.version == other.version and self.first <= other.first and other.last <= self.last

    @property
    def size(self) -> int:
        return self.last - self.first


class BadRequest(Exception):
    """A request the server cannot make sense of: answered 400."""


def registry_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """Parse an address as registries write it: RIPE adds ``/128`` or ``/32``, ARIN zero-pads IPv4."""
    text = text.strip().split("/", 1)[0]
    if "." in text and ":" not in text:
        octets = text.split(".")
        if len(octets) == 4 and all(o.isdigit() and len(o) <= 3 for o in octets):
            # ipaddress refuses leading zeros (they read as octal to some parsers); ARIN means decimal.
            text = ".".join(str(int(o)) for o in octets)
    return ipaddress.ip_address(text)


def network_ranges(obj: dict[str, Any]) -> list[Range]:
    if "startAddress" in obj and "endAddress" in obj:
        first, last = registry_address(obj["startAddress"]), registry_address(obj["endAddress"])
        if first.version != last.version or int(first) > int(last):
            raise ValueError(f"bad range {obj['startAddress']} - {obj['endAddress']}")
        return [Range(first.version, int(first), int(last))]
    ranges = []
    for cidr in obj.get("cidr0_cidrs", []):
        prefix = cidr.get("v4prefix") or cidr.get("v6prefix")
        network = ipaddress.ip_network(f"{registry_address(prefix)}/{cidr['length']}", strict=False)
        ranges.append(Range(network.version, int(network.network_address), int(network.broadcast_address)))
    if not ranges:
        raise ValueError("an ip network object needs startAddress and endAddress, or cidr0_cidrs")
    return ranges


def query_range(address: str, length: str | None = None) -> Range:
    """The range asked for by ``/ip/{address}`` or ``/ip/{prefix}/{length}``."""
    try:
        if length is None:
            ip = registry_address(address)
            return Range(ip.version, int(ip), int(ip))
        if not length.isdigit():
            raise ValueError(length)
        network = ipaddress.ip_network(f"{registry_address(address)}/{int(length)}", strict=False)
    except ValueError as e:
        raise BadRequest(f"not an IP address or CIDR prefix: {address}") from e
    return Range(network.version, int(network.network_address), int(network.broadcast_address))


def as_number(text: str) -> int:
    digits = text[2:] if text[:2].upper() == "AS" else text
    if not digits.isdigit() or int(digits) >= 2**32:
        raise ValueError(f"not an AS number: {text}")
    return int(digits)


def domain_key(name: str) -> str:
    return name.strip().rstrip(".").lower()
