"""Which URLs and addresses the availability checker may contact.

A reported URL is chosen by whoever runs the site behind it: its host, the answers its DNS gives and
every redirect it sends. The checker must never become a way to reach the hotline's own network,
the machine it runs on or a cloud provider's metadata service. So:

- a URL is parsed by ``reports.urls`` (the same parser as intake), so an IP literal in any spelling
  browsers accept (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``[::ffff:127.0.0.1]``...) is judged
  as the address it stands for; names that can only be local (``localhost``, single labels,
  ``.local``, ``.internal``...) are refused before any lookup;
- an address is contacted only when it is globally routable unicast (`address_refusal`). IPv6 forms
  that carry an IPv4 address (mapped, translated, compatible, NAT64, 6to4) are judged by that IPv4
  address; Teredo is refused outright. The explicit lists below apply whatever Python's
  ``ipaddress`` tables say, since those changed between patch releases;
- ``SCART_CHECK_ALLOW_NETWORKS`` (CIDRs, empty by default) lets tests and the demo reach their
  peers on loopback. It matches the address exactly as resolved (an IPv4-mapped form of an allowed
  IPv4 address stays refused), and never opens a cloud metadata address.

The caller connects to the vetted address itself, never to the name again: see ``probe``.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import idna
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from reports.urls import UrlRejected, normalise_url
from reports.urls.addresses import embedded_ipv4, format_ipv6, parse_ipv6, parse_legacy_ipv4, require_global

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Instance metadata and platform services of cloud providers: refused even inside an allowed
# network. (AWS IMDS and its IPv6 form, ECS and EKS pod credentials, AWS DNS and time, Alibaba,
# Tencent, Oracle's legacy address, Azure's wire server, which sits in public address space.)
_METADATA: Final = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",
        "169.254.169.253",
        "169.254.169.123",
        "169.254.170.2",
        "169.254.170.23",
        "169.254.0.23",
        "100.100.100.200",
        "192.0.0.192",
        "168.63.129.16",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)

_REFUSED: Final[tuple[tuple[IPNetwork, str], ...]] = tuple(
    (ipaddress.ip_network(network), why)
    for network, why in (
        ("0.0.0.0/8", "in 'this network' (0.0.0.0/8), which reaches the local machine"),
        ("10.0.0.0/8", "private (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT, RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private (RFC 1918)"),
        ("192.0.0.0/24", "reserved for IETF protocol assignments"),
        ("192.0.2.0/24", "reserved for documentation"),
        ("192.88.99.0/24", "the deprecated 6to4 relay anycast block"),
        ("192.168.0.0/16", "private (RFC 1918)"),
        ("198.18.0.0/15", "reserved for benchmarking (RFC 2544)"),
        ("198.51.100.0/24", "reserved for documentation"),
        ("203.0.113.0/24", "reserved for documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (240.0.0.0/4, broadcast included)"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "local-use NAT64 (RFC 8215)"),
        ("100::/64", "discard-only (RFC 6666)"),
        ("2001::/32", "a Teredo tunnel address"),
        ("2001:2::/48", "reserved for benchmarking"),
        ("2001:10::/28", "ORCHID, not routable"),
        ("2001:20::/28", "ORCHIDv2, not routable"),
        ("2001:db8::/32", "reserved for documentation"),
        ("3fff::/20", "reserved for documentation (RFC 9637)"),
        ("5f00::/16", "reserved for SRv6 segment identifiers"),
        ("fc00::/7", "unique local (private)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_IPV4_COMPATIBLE: Final = ipaddress.IPv6Network("::/96")

# How the host ends a URL's authority, for the one case `normalise_url` cannot give us the address
# (an allowed IP literal outside global space).
_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_PLACEHOLDER_HOST: Final = "ip-literal.example.com"


class Refused(Exception):
    """The checker will not contact this URL or address; ``reason`` says why, for people."""

    def __init__(self, reason: str, *, address: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.address = address


@dataclass(frozen=True, slots=True)
class Target:
    """A URL the checker may try to contact, split the way the request needs it.

    ``host`` is what goes into the Host header and the TLS server name (lower-case ASCII, an IPv6
    literal without brackets); ``literal`` is set when the host is an IP address, which is then
    the only address to vet; ``request_target`` is the canonical path and query.
    """

    url: str
    scheme: str
    host: str
    port: int
    request_target: str
    literal: IPAddress | None
    unresolvable: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.literal, ipaddress.IPv6Address) else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def address_refusal(address: str | IPAddress) -> str:
    """``""`` when the checker may connect to ``address``, otherwise a sentence saying why not."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return f"{ip} carries a zone identifier, which only makes sense on a local network"
    embedded = _embedded(ip)
    if ip in _METADATA or embedded in _METADATA:
        return f"{_shown(ip)} is a cloud metadata address"
    if _allowed(ip):
        return ""
    for network, why in _REFUSED:
        if ip.version == network.version and ip in network:
            return f"{_shown(ip)} is {why}"
    if embedded is not None:
        inner = address_refusal(embedded)
        if inner:
            return f"{_shown(ip)} stands for {embedded}: {inner}"
    if isinstance(ip, ipaddress.IPv6Address) and ip in _IPV4_COMPATIBLE:
        return f"{_shown(ip)} is a deprecated IPv4-compatible address"
    try:
        require_global(ip)
    except UrlRejected as exc:
        return str(exc)
    return ""


def addresses_vet(addresses: Iterable[str | IPAddress]) -> tuple[list[IPAddress], list[tuple[str, str]]]:
    """Split ``addresses`` into those that may be contacted (in order) and ``(address, reason)``
    for those that may not."""
    allowed: list[IPAddress] = []
    refused: list[tuple[str, str]] = []
    for address in addresses:
        refusal = address_refusal(address)
        if refusal:
            refused.append((str(address), refusal))
        else:
            allowed.append(ipaddress.ip_address(address) if isinstance(address, str) else address)
    return allowed, refused


def target_parse(url: str) -> Target:
    """The target of ``url`` (any spelling intake accepts), or `Refused`.

    Everything ``normalise_url`` rejects is refused with its reason, except a non-global IP literal
    inside ``SCART_CHECK_ALLOW_NETWORKS``, which intake would never accept but tests need.
    """
    try:
        normal = normalise_url(url)
    except UrlRejected as exc:
        if exc.code != "non_global_ip":
            raise Refused(f"{exc.code}: {exc}") from exc
        return _allowed_literal(url, exc)
    literal = ipaddress.ip_address(normal.host) if normal.is_ip else None
    return Target(
        url=normal.canonical,
        scheme=normal.scheme,
        host=normal.host,
        port=normal.port or (443 if normal.scheme == "https" else 80),
        request_target=_request_target(normal.canonical),
        literal=literal,
        unresolvable=normal.unresolvable,
    )


def _allowed_literal(url: str, rejection: UrlRejected) -> Target:
    """The target of a URL whose host is an IP literal outside global space, when that address is
    in an allowed network; otherwise `Refused` with the reason the guard gives.

    The host is cut out of the authority the way ``normalise_url`` does it and decoded the way
    browsers do; if this reading ever differed from the parser's, the address used would still be
    one the allow list permits, since it is the address connected to.
    """
    text = url.strip()
    start = 0
    scheme = _SCHEME_RE.match(text)
    if scheme is not None and scheme.group(1).lower() in {"http", "https"}:
        start = scheme.end()
    while start < len(text) and text[start] in "/\\":
        start += 1
    end = start
    while end < len(text) and text[end] not in "/\\?#":
        end += 1
    host_start = start + text[start:end].rfind("@") + 1
    hostport = text[host_start:end]
    if hostport.startswith("["):
        host_end = host_start + hostport.find("]") + 1
    else:
        host_end = host_start + (hostport.find(":") if ":" in hostport else len(hostport))
    raw_host = text[host_start:host_end]
    try:
        address: IPAddress = (
            parse_ipv6(raw_host[1:-1]) if raw_host.startswith("[") else parse_legacy_ipv4(_ipv4_labels(raw_host))
        )
        placeholder = normalise_url(text[:host_start] + _PLACEHOLDER_HOST + text[host_end:])
    except (UrlRejected, UnicodeError, idna.IDNAError):
        raise Refused(f"{rejection.code}: {rejection}") from rejection
    refusal = address_refusal(address)
    if refusal:
        raise Refused(refusal, address=_shown(address))
    shown = f"[{format_ipv6(address)}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    canonical = placeholder.canonical.replace(f"://{_PLACEHOLDER_HOST}", f"://{shown}", 1)
    return Target(
        url=canonical,
        scheme=placeholder.scheme,
        host=shown.strip("[]"),
        port=placeholder.port or (443 if placeholder.scheme == "https" else 80),
        request_target=_request_target(canonical),
        literal=address,
        unresolvable=False,
    )


def _ipv4_labels(raw_host: str) -> list[str]:
    decoded = urllib.parse.unquote_to_bytes(raw_host).decode("utf-8")
    mapped: str = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
    return mapped.removesuffix(".").split(".")


def _request_target(canonical: str) -> str:
    after_scheme = canonical.partition("://")[2]
    slash = after_scheme.find("/")
    return after_scheme[slash:] if slash >= 0 else "/"


def _embedded(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    embedded = embedded_ipv4(ip)
    if embedded is None and ip in _IPV4_COMPATIBLE and int(ip) > 1:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return embedded


def _shown(ip: IPAddress) -> str:
    return format_ipv6(ip) if isinstance(ip, ipaddress.IPv6Address) else str(ip)


def _allowed(ip: IPAddress) -> bool:
    return any(ip.version == network.version and ip in network for network in _allow_networks())


def _allow_networks() -> tuple[IPNetwork, ...]:
    return _parse_networks(tuple(settings.SCART_CHECK_ALLOW_NETWORKS))


@lru_cache(maxsize=8)
def _parse_networks(cidrs: Sequence[str]) -> tuple[IPNetwork, ...]:
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"SCART_CHECK_ALLOW_NETWORKS: {cidr!r} is not a network: {exc}") from exc
    return tuple(networks)
