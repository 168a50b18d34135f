"""The host part of a reported URL: domain names (IDNA, special-use and onion names), IP literals,
and the registrable domain from the public suffix list."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Final

import idna
from django.utils.translation import gettext
from publicsuffixlist import PublicSuffixList

from reports.urls.addresses import format_ipv6, parse_ipv6, parse_legacy_ipv4, require_global
from reports.urls.errors import UrlRejected

# The bundled list (including the PRIVATE section, so that ``user.github.io``
# is its own registrable domain: that user, not GitHub, is the responsible
# party). Loaded once at import; never fetched at run time.
_PSL: Final = PublicSuffixList()
_ICANN_PSL: Final = PublicSuffixList(only_icann=True)

_ASCII_LABEL_CHAR_RE: Final = re.compile(r"[a-z0-9_\-]")
_BASE32_RE: Final = re.compile(r"[a-z2-7]+")
_HEX_ESCAPE_BYTES_RE: Final = re.compile(rb"%([0-9A-Fa-f]{2})")

# Special-use names (RFC 6761, 6762, 8375 and ICANN's .internal) that can never
# name a public web site.
_RESERVED_TLDS: Final = frozenset({"local", "localdomain", "internal", "test", "invalid", "example", "arpa"})
# Names outside the DNS (RFC 7686, I2P, RFC 9476) that still reach real sites.
_UNRESOLVABLE_TLDS: Final = frozenset({"onion", "i2p", "alt"})

_MAX_LABEL_LENGTH: Final = 63
_MAX_NAME_LENGTH: Final = 253


def is_unresolvable(host: str) -> bool:
    """Whether a (normalised) domain name lies outside the DNS, such as an onion service."""
    return host.rpartition(".")[2] in _UNRESOLVABLE_TLDS


def normalise_host(raw_host: str) -> tuple[str, bool, str]:
    """Return ``(host, is_ip, host as written in the canonical URL)``."""
    if not raw_host:
        raise UrlRejected("invalid_host", gettext("the URL has no host"))
    if raw_host.startswith("["):
        address = parse_ipv6(raw_host[1:-1])
        require_global(address)
        host = format_ipv6(address)
        return host, True, f"[{host}]"

    # Browsers percent-decode the host before anything else ("ex%61mple.com").
    try:
        decoded = _percent_decode(raw_host).decode("utf-8")
    except UnicodeDecodeError:
        raise UrlRejected("invalid_host", gettext("the host contains percent-escapes that are not UTF-8")) from None
    try:
        # Non-transitional UTS #46 with STD3 rules off, as in the WHATWG URL
        # standard: lower-cases, folds width, maps "。" to "." and refuses
        # disallowed code points. Our own ASCII check in _label_to_ascii
        # replaces STD3 so that underscores (common in hosting subdomains)
        # are allowed.
        mapped = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
    except idna.IDNAError:
        raise UrlRejected(
            "invalid_host",
            gettext("the host contains characters that are not allowed in domain names"),
        ) from None
    mapped = mapped.removesuffix(".")
    if not mapped:
        raise UrlRejected("invalid_host", gettext("the URL has no host"))
    labels = mapped.split(".")
    if _ends_in_number(labels[-1]):
        ipv4 = parse_legacy_ipv4(labels)
        require_global(ipv4)
        return str(ipv4), True, str(ipv4)

    ascii_labels = [_label_to_ascii(label) for label in labels]
    for label in ascii_labels:
        if len(label) > _MAX_LABEL_LENGTH:
            raise UrlRejected(
                "label_too_long",
                gettext("the host label %(label)s... is %(n)d characters long; at most %(most)d are allowed")
                % {"label": label[:20], "n": len(label), "most": _MAX_LABEL_LENGTH},
            )
    host = ".".join(ascii_labels)
    if len(host) > _MAX_NAME_LENGTH:
        raise UrlRejected(
            "name_too_long",
            gettext("the host name is %(n)d characters long; at most %(most)d are allowed")
            % {"n": len(host), "most": _MAX_NAME_LENGTH},
        )
    _check_domain(ascii_labels)
    return host, False, host


def _percent_decode(text: str) -> bytes:
    """Decode ``%XX`` escapes; other characters are encoded as UTF-8."""
    return _HEX_ESCAPE_BYTES_RE.sub(
        lambda m: bytes([int(m.group(1), 16)]),
        text.encode("utf-8", "surrogatepass"),
    )


def _label_to_ascii(label: str) -> str:
    """Convert one UTS #46-mapped label to its ASCII (A-label) form.

    IDNA2008 (``idna.alabel``) is tried first. Labels it refuses only for its
    stricter repertoire (emoji, leading hyphens...) still go to Punycode, as
    browsers do, so that ``💩.la`` is ``xn--ls8h.la``. The ASCII characters of
    any label must be letters, digits, ``-`` or ``_``.
    """
    if not label:
        raise UrlRejected("invalid_host", gettext("the host has an empty label"))
    bad = sorted({c for c in label if c.isascii() and not _ASCII_LABEL_CHAR_RE.fullmatch(c)})
    if bad:
        raise UrlRejected(
            "invalid_host",
            gettext("the host contains %(chars)s, which is not allowed in domain names")
            % {"chars": repr("".join(bad))},
        )
    if label.isascii():
        if label.startswith("xn--"):
            _check_a_label(label)
        return label
    try:
        return idna.alabel(label).decode("ascii")
    except idna.IDNAError:
        return "xn--" + label.encode("punycode").decode("ascii")


def _check_a_label(label: str) -> None:
    """Refuse an ``xn--`` label unless it is what we would produce ourselves.

    That round trip keeps normalisation idempotent and refuses fake A-labels
    (broken Punycode, or a non-canonical spelling of another label).
    """
    invalid = UrlRejected(
        "invalid_host", gettext("the host label %(label)s is not valid Punycode") % {"label": repr(label[:70])}
    )
    try:
        decoded = label[4:].encode("ascii").decode("punycode")
    except (UnicodeError, ValueError, OverflowError):
        raise invalid from None
    if not decoded or decoded.isascii():
        raise invalid
    try:
        remapped = idna.uts46_remap(decoded, std3_rules=False, transitional=False)
    except idna.IDNAError:
        raise invalid from None
    if remapped != decoded or "." in decoded:
        raise invalid
    try:
        again = _label_to_ascii(decoded)
    except UrlRejected:
        raise invalid from None
    if again != label:
        raise invalid


def _ends_in_number(label: str) -> bool:
    """Whether the last label makes the host an IPv4 address (WHATWG URL)."""
    return label.isascii() and (
        label.isdigit() or (label.startswith("0x") and all(c in "0123456789abcdef" for c in label[2:]))
    )


def _check_domain(labels: list[str]) -> None:
    """Refuse names that cannot be a public site; validate onion addresses."""
    host = ".".join(labels)
    tld = labels[-1]
    if tld == "localhost":
        raise UrlRejected(
            "invalid_host", gettext("%(host)s is the local machine, not a public host") % {"host": repr(host)}
        )
    if len(labels) == 1:
        raise UrlRejected(
            "invalid_host",
            gettext("the host %(host)s has no domain; it can only be a name on a local network") % {"host": repr(host)},
        )
    if tld in _RESERVED_TLDS:
        raise UrlRejected(
            "invalid_host",
            gettext(".%(tld)s is reserved for private or special use, not for public sites") % {"tld": tld},
        )
    if tld == "exit":
        raise UrlRejected(
            "invalid_host",
            gettext(".exit is Tor exit-node notation; report the host it names instead"),
        )
    if tld == "onion":
        _check_onion(labels[-2])


def _check_onion(address: str) -> None:
    """Accept v3 (56 characters, checksum verified) and v2 (16) onion names."""
    if len(address) == 16 and _BASE32_RE.fullmatch(address):
        return
    if len(address) != 56 or not _BASE32_RE.fullmatch(address):
        raise UrlRejected(
            "invalid_host",
            gettext("%(address)s is not an onion address (56 base32 characters for v3, 16 for v2)")
            % {"address": repr(address[:70])},
        )
    try:
        decoded = base64.b32decode(address.upper())
    except binascii.Error:
        decoded = b""
    pubkey, checksum, version = decoded[:32], decoded[32:34], decoded[34:]
    expected = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()[:2]
    if version != b"\x03" or checksum != expected:
        raise UrlRejected(
            "invalid_host",
            gettext("%(address)s.onion fails its v3 checksum; it is probably mistyped") % {"address": address},
        )


def registrable_domain(host: str) -> str:
    """eTLD+1 of ``host``, or ``host`` when it is itself a public suffix."""
    labels = host.split(".")
    # I2P base32 names are "<hash>.b32.i2p"; the hash is the site.
    if labels[-2:] == ["b32", "i2p"] and len(labels) >= 3:
        return ".".join(labels[-3:])
    return _PSL.privatesuffix(host) or host


def registered_domain(host: str) -> str:
    """The name registered at a registry (ICANN section only): ``user.github.io`` -> ``github.io``.

    ``registrable_domain`` groups sites the way browsers do; a registrar only knows this one."""
    return _ICANN_PSL.privatesuffix(host) or host
