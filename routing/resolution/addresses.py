"""CIDR blocks as cache keys, and the address forms registries actually write.

A block is stored as (version, start as fixed-width hex, prefix length). The blocks that can
contain an address are that address masked to each possible prefix length, so finding the most
specific cached block for an address is one ``IN`` query over at most 33 (IPv4) or 129 (IPv6)
keys, on an index, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import NamedTuple

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_WIDTH = {4: 8, 6: 32}


class BlockKey(NamedTuple):
    version: int
    start: str
    prefixlen: int


def hex_start(network: IPNetwork) -> str:
    return format(int(network.network_address), f"0{_WIDTH[network.version]}x")


def block_key(network: IPNetwork) -> BlockKey:
    return BlockKey(network.version, hex_start(network), network.prefixlen)


def candidate_keys(address: IPAddress) -> list[BlockKey]:
    """Every block that contains ``address``, most specific first."""
    bits = address.max_prefixlen
    value = int(address)
    width = _WIDTH[address.version]
    keys = []
    for prefixlen in range(bits, -1, -1):
        mask = ((1 << bits) - 1) ^ ((1 << (bits - prefixlen)) - 1)
        keys.append(BlockKey(address.version, format(value & mask, f"0{width}x"), prefixlen))
    return keys


def parse_address(text: str) -> IPAddress:
    """An address as registries write it: ARIN pads IPv4 octets with zeros (``074.125.000.000``),
    RIPE appends a prefix length to range ends (``2a00:2381:ffff::/128``)."""
    text = text.strip().split("/", 1)[0]
    if "." in text and ":" not in text:
        octets = text.split(".")
        if len(octets) == 4 and all(o.isdigit() for o in octets):
            text = ".".join(str(int(o)) for o in octets)
    return ipaddress.ip_address(text)


def range_networks(start: str, end: str) -> list[IPNetwork]:
    """The CIDR blocks that exactly cover ``start``..``end``."""
    first, last = parse_address(start), parse_address(end)
    if first.version != last.version or int(last) < int(first):
        raise ValueError(f"bad address range {start} - {end}")
    return list(ipaddress.summarize_address_range(first, last))


def parse_networks(text: str) -> list[IPNetwork]:
    """``"196.11.239.0/24, 196.11.240.0/22"`` or ``"2001:0240::/32"`` -> networks (host bits dropped)."""
    networks = []
    for part in re.split(r"[,\s]+", text.strip()):
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return networks


def most_specific(networks: Iterable[IPNetwork], address: IPAddress) -> IPNetwork | None:
    """The longest-prefix network of ``networks`` that contains ``address``, if any."""
    best = None
    for network in networks:
        contains = network.version == address.version and address in network
        if contains and (best is None or network.prefixlen > best.prefixlen):
            best = network
    return best


def group_key(address: IPAddress) -> str:
    """A guess at "probably the same network": the /24 of an IPv4 address, the /48 of an IPv6 one.

    Used to send one lookup first and let its answer cover its neighbours."""
    prefixlen = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network((address, prefixlen), strict=False))
