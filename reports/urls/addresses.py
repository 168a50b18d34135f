"""IP literals in reported URLs: the forms browsers accept, and whether an address is public.

The availability checker needs the same judgement of "publicly routable" before it connects, so
`require_global` is the one place that decides it.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from django.utils.translation import gettext

from reports.urls.errors import UrlRejected

_NAT64_PREFIX: Final = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_TRANSLATED_PREFIX: Final = ipaddress.IPv6Network("::ffff:0:0:0/96")


def parse_legacy_ipv4(parts: list[str]) -> ipaddress.IPv4Address:
    """Parse dotted, decimal, hex and octal IPv4 forms the way browsers do.

    ``3232235777``, ``0xc0.0xa8.0x1.0x1`` and ``0300.0250.1.1`` are all
    ``192.168.1.1``, and ``192.168.257`` is too (the last part fills the
    remaining bytes), so every spelling gets the same global-address check.
    """
    invalid = UrlRejected("invalid_host", gettext("the host looks like an IPv4 address but is not a valid one"))
    if len(parts) > 4:
        raise invalid
    numbers: list[int] = []
    for part in parts:
        if not part:
            raise invalid
        if part.startswith("0x"):
            digits, base = part[2:] or "0", 16
        elif len(part) > 1 and part.startswith("0"):
            digits, base = part[1:], 8
        else:
            digits, base = part, 10
        # int() alone would also take "-1", "+1", "1_0" and " 1".
        if not all(c in "0123456789abcdef"[:base] for c in digits):
            raise invalid
        digits = digits.lstrip("0") or "0"
        # Anything this long overflows anyway; avoid int() on huge strings.
        if len(digits) > 12:
            raise invalid
        numbers.append(int(digits, base))
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise invalid
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def parse_ipv6(text: str) -> ipaddress.IPv6Address:
    """Parse the inside of ``[...]``; zone identifiers are refused."""
    if "%" in text:
        raise UrlRejected(
            "invalid_host",
            gettext("IPv6 zone identifiers only make sense on the local network"),
        )
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise UrlRejected(
            "invalid_host", gettext("%(text)s is not an IPv6 address") % {"text": repr(text[:60])}
        ) from None


def format_ipv6(address: ipaddress.IPv6Address) -> str:
    """RFC 5952 compressed lower-case hex, with no dotted IPv4 tail.

    Written out because ``str()`` of IPv4-mapped addresses changes between
    Python versions; this matches what browsers show (``::ffff:808:808``).
    """
    packed = address.packed
    hextets = [int.from_bytes(packed[i : i + 2], "big") for i in range(0, 16, 2)]
    # The longest run of two or more zero hextets, the first one on a tie.
    best_start, best_length = -1, 1
    start = -1
    for index, value in enumerate([*hextets, 1]):
        if value == 0 and start < 0:
            start = index
        elif value != 0 and start >= 0:
            if index - start > best_length:
                best_start, best_length = start, index - start
            start = -1
    parts = [f"{value:x}" for value in hextets]
    if best_start < 0:
        return ":".join(parts)
    head = ":".join(parts[:best_start])
    tail = ":".join(parts[best_start + best_length :])
    return f"{head}::{tail}"


def require_global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Raise ``non_global_ip`` unless ``address`` is publicly routable.

    ``is_global`` alone lets multicast through, and its tables differ between
    Python versions, so the other flags are checked too. IPv6 forms that embed
    an IPv4 address (mapped, translated, NAT64, 6to4) are judged by that
    address, so ``[::ffff:127.0.0.1]`` cannot reach loopback while
    ``[::ffff:8.8.8.8]`` is as acceptable as ``8.8.8.8``.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = embedded_ipv4(address)
        if embedded is not None:
            require_global(embedded)
            return
        if address.is_site_local:
            raise _non_global(address)
    if (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    ):
        raise _non_global(address)


def _non_global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> UrlRejected:
    shown = format_ipv6(address) if isinstance(address, ipaddress.IPv6Address) else address
    return UrlRejected("non_global_ip", gettext("%(address)s is not a publicly routable address") % {"address": shown})


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is a known embedding."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV4_TRANSLATED_PREFIX or address in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour
