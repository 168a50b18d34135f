"""The DNS resolver every part of scart asks: the nameservers of ``SCART_DNS_NAMESERVERS`` when
set (the local DNS peer in tests and the demo), else the system's.

Nothing here reads the settings: callers pass them in, so that resolution, the availability
checks and the mailbox's DKIM lookups share one way of building a resolver.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import dns.nameserver
import dns.resolver


def parse_nameserver(text: str) -> tuple[str, int]:
    """``"192.0.2.1:5353"`` -> ``("192.0.2.1", 5353)``.

    IPv6 takes brackets when a port is given (``"[::1]:53"``); without a port,
    53 is used. Only IP addresses are accepted: a resolver cannot look up the
    name of its own nameserver.
    """
    text = text.strip()
    port = 53
    if text.startswith("["):
        address, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"bad nameserver {text!r}: expected [IPv6]:port")
        if rest:
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        address, _, port_text = text.partition(":")
        port = _port(port_text, text)
    else:
        address = text  # bare IPv4, or bare IPv6 without a port
    try:
        return str(ipaddress.ip_address(address)), port
    except ValueError:
        raise ValueError(f"bad nameserver {text!r}: not an IP address") from None


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"bad nameserver {whole!r}: bad port")
    return int(text)


def make_resolver(
    nameservers: Sequence[str] | None, *, timeout: float = 2.0, lifetime: float = 5.0
) -> dns.resolver.Resolver:
    """A resolver asking ``nameservers`` (``host:port`` strings), or the system's.

    ``timeout`` bounds one query to one server, ``lifetime`` one whole lookup
    (all servers and resends). No cache is set; callers may add one.
    """
    wanted = [parse_nameserver(ns) for ns in nameservers or () if ns.strip()]
    if wanted:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(address, port) for address, port in wanted]
    else:
        resolver = dns.resolver.Resolver()
    resolver.timeout = timeout
    resolver.lifetime = lifetime
    return resolver
