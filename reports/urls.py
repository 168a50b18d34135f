"""Validate reported URLs and reduce them to one canonical form.

A hotline receives the same location spelt in many ways (``EXAMPLE.com``,
``http://example.com:80/a/./b#top``, ``bücher.de``...). :func:`normalise_url`
turns any accepted spelling into one canonical string, so that reports can be
de-duplicated by :attr:`NormalisedUrl.sha256`, and rejects everything that is
not a publicly reachable ``http``/``https`` location with a :class:`UrlRejected`
carrying a machine code and a sentence for the analyst.

This module only parses text. It never resolves names, never fetches anything
and never touches content.

The canonical form is ``scheme "://" host [":" port] path ["?" query]``:

* **scheme** is ``http`` or ``https``, lower-case. Input without a scheme
  (``example.com/a``, ``//example.com/a``, ``1.2.3.4/x``) is taken as ``http``.
* **host** is lower-case ASCII: domain names are mapped with UTS #46
  (non-transitional, as browsers do) and each non-ASCII label is converted to
  its Punycode A-label; a trailing dot is removed. IPv4 literals are dotted
  quads (the legacy forms ``3232235777``, ``0x7f.1`` and ``0177.0.0.1`` that
  browsers accept are converted first, so they cannot dodge the address
  check). IPv6 literals are in brackets, in compressed lower-case hex form
  (``[2606:4700:4700::1111]``, ``[::ffff:808:808]``).
* **port** appears only when it was given and is not the scheme default.
* **path** always starts with ``/``; dot-segments are removed (RFC 3986
  section 5.2.4), backslashes count as slashes (as browsers treat them in
  http URLs).
* **path and query** are otherwise kept as given (query parameters are not
  re-ordered), except that percent-escapes of unreserved characters are
  decoded (``%7E`` -> ``~``), the hex digits of all other escapes are
  upper-case (``%2f`` -> ``%2F``), and every character that may not appear
  literally (space, ``"<>\\^`{|}[]``, non-ASCII...) is percent-encoded as
  UTF-8; a ``%`` that does not start an escape becomes ``%25``. The canonical
  form is therefore always ASCII and idempotent: normalising it again returns
  it unchanged.
* an empty query (a bare trailing ``?``) is dropped, as are the fragment and
  any credentials (``user:pass@``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Final

import idna
from publicsuffixlist import PublicSuffixList

__all__ = [
    "MAX_URL_LENGTH",
    "REJECTION_CODES",
    "NormalisedUrl",
    "UrlRejected",
    "normalise_url",
]

MAX_URL_LENGTH: Final = 4096

REJECTION_CODES: Final = frozenset(
    {
        "empty",
        "too_long",
        "control_characters",
        "unsupported_scheme",
        "invalid_host",
        "invalid_port",
        "label_too_long",
        "name_too_long",
        "non_global_ip",
    }
)

# The bundled list (including the PRIVATE section, so that ``user.github.io``
# is its own registrable domain: that user, not GitHub, is the responsible
# party). Loaded once at import; never fetched at run time.
_PSL: Final = PublicSuffixList()

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.DOTALL)
# After ``name:`` this means ``name`` was a host followed by a port.
_PORT_AFTER_COLON_RE: Final = re.compile(r"[0-9]+(?:[/\\?#]|\Z)")
_PORT_RE: Final = re.compile(r"[0-9]+")
_HEX_ESCAPE_RE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_HEX_ESCAPE_BYTES_RE: Final = re.compile(rb"%([0-9A-Fa-f]{2})")
_ASCII_LABEL_CHAR_RE: Final = re.compile(r"[a-z0-9_\-]")
_BASE32_RE: Final = re.compile(r"[a-z2-7]+")

# Schemes that are never a bare ``host:port``, so ``tel:0612345678`` or
# ``javascript:1`` are reported as unsupported schemes rather than odd hosts.
_KNOWN_OTHER_SCHEMES: Final = frozenset(
    {
        "about", "blob", "chrome", "chrome-extension", "data", "dns", "feed",
        "file", "filesystem", "ftp", "ftps", "git", "gopher", "hxxp", "hxxps",
        "imap", "intent", "irc", "ircs", "jar", "javascript", "ldap", "ldaps",
        "magnet", "mailto", "market", "moz-extension", "news", "nntp", "pop",
        "resource", "rtsp", "sftp", "sip", "sips", "sms", "smb", "snmp", "ssh",
        "steam", "tel", "telnet", "tg", "view-source", "vbscript", "webcal",
        "ws", "wss", "xmpp",
    }
)  # fmt: skip

# Characters that may stay literal in a canonical path: RFC 3986 pchar + "/".
# Everything else is percent-encoded; "%" is handled separately.
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE: Final = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE: Final = _PATH_SAFE | {"?"}

# Special-use names (RFC 6761, 6762, 8375 and ICANN's .internal) that can never
# name a public web site.
_RESERVED_TLDS: Final = frozenset({"local", "localdomain", "internal", "test", "invalid", "example", "arpa"})
# Names outside the DNS (RFC 7686, I2P, RFC 9476) that still reach real sites.
_UNRESOLVABLE_TLDS: Final = frozenset({"onion", "i2p", "alt"})

_MAX_LABEL_LENGTH: Final = 63
_MAX_NAME_LENGTH: Final = 253

_NAT64_PREFIX: Final = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_TRANSLATED_PREFIX: Final = ipaddress.IPv6Network("::ffff:0:0:0/96")


@dataclass(frozen=True, slots=True)
class NormalisedUrl:
    """An accepted URL in canonical form (see the module docstring).

    ``host`` is lower-case ASCII without a trailing dot; an IPv6 host is given
    without brackets. ``port`` is ``None`` unless a non-default port was given.
    ``registrable_domain`` is the eTLD+1 by the public suffix list including
    private suffixes, or the host itself for IP literals and for hosts that are
    themselves a public suffix. ``unresolvable`` marks names outside the DNS
    (``.onion``, ``.i2p``, ``.alt``). ``sha256`` is the hex SHA-256 of the UTF-8
    encoded ``canonical``.
    """

    original: str
    canonical: str
    scheme: str
    host: str
    port: int | None
    registrable_domain: str
    had_credentials: bool
    is_ip: bool
    unresolvable: bool
    sha256: str


class UrlRejected(ValueError):
    """The input is not an acceptable URL.

    ``code`` is one of :data:`REJECTION_CODES`, stable for programs; ``reason``
    is a sentence for people and is also the ``str()`` of the exception.
    """

    def __init__(self, code: str, reason: str) -> None:
        # Both go to ValueError.args so that the exception survives pickling.
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


def normalise_url(raw: str) -> NormalisedUrl:
    """Return the canonical form of ``raw`` or raise :class:`UrlRejected`.

    Surrounding whitespace is trimmed first; ``too_long`` applies to the
    trimmed input and to the canonical form (which grows when characters are
    percent-encoded), so a canonical URL is never longer than
    :data:`MAX_URL_LENGTH`. No other exception is raised for any ``str``.
    """
    text = raw.strip()
    if not text:
        raise UrlRejected("empty", "the URL is empty")
    if len(text) > MAX_URL_LENGTH:
        raise UrlRejected(
            "too_long",
            f"the URL is {len(text)} characters long; at most {MAX_URL_LENGTH} are allowed",
        )
    _reject_control_characters(text)

    scheme, rest = _split_scheme(text)
    # Browsers skip any run of slashes and backslashes before the authority of
    # an http(s) URL ("http:/\\host", "http:host"); do the same so the host we
    # record is the host a browser would contact.
    rest = rest.lstrip("/\\")
    authority_end = _find_first(rest, "/\\?#")
    authority, rest = rest[:authority_end], rest[authority_end:]

    # The last "@" ends the userinfo, as in browsers: "http://a@b@host/".
    had_credentials = "@" in authority
    hostport = authority.rpartition("@")[2]
    raw_host, raw_port = _split_host_port(hostport)

    host, is_ip, canonical_host = _normalise_host(raw_host)
    port = _normalise_port(raw_port, scheme)

    rest = rest.partition("#")[0]
    raw_path, _, raw_query = rest.partition("?")
    path = _remove_dot_segments(_normalise_component(raw_path.replace("\\", "/"), _PATH_SAFE))
    query = _normalise_component(raw_query, _QUERY_SAFE)

    canonical = f"{scheme}://{canonical_host}"
    if port is not None:
        canonical += f":{port}"
    canonical += path
    # An empty query ("/a?") is dropped: servers treat it like no query, and
    # keeping it would split one location into two records.
    if query:
        canonical += f"?{query}"
    if len(canonical) > MAX_URL_LENGTH:
        raise UrlRejected(
            "too_long",
            f"the canonical URL is {len(canonical)} characters long; at most {MAX_URL_LENGTH} are allowed",
        )

    return NormalisedUrl(
        original=raw,
        canonical=canonical,
        scheme=scheme,
        host=host,
        port=port,
        registrable_domain=host if is_ip else _registrable_domain(host),
        had_credentials=had_credentials,
        is_ip=is_ip,
        unresolvable=not is_ip and host.rpartition(".")[2] in _UNRESOLVABLE_TLDS,
        sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )


def _reject_control_characters(text: str) -> None:
    """Raise ``control_characters`` if ``text`` has a C0 or C1 control or DEL.

    Browsers silently drop tabs and newlines inside URLs; we refuse them,
    since they are how header (CRLF) and log injection get in.
    """
    for index, char in enumerate(text):
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            raise UrlRejected(
                "control_characters",
                f"the URL contains the control character U+{code:04X} at position {index}",
            )


def _split_scheme(text: str) -> tuple[str, str]:
    """Return ``(scheme, rest)`` where ``rest`` follows ``scheme:``.

    Input without an http(s) scheme is taken as ``http``, unless it starts
    with some other scheme, which is rejected. ``example.com:8080/x`` and
    ``user:pw@example.com`` look like a scheme but are a host with a port or
    with credentials, so they are taken as ``http`` too.
    """
    match = _SCHEME_RE.fullmatch(text)
    if match is None:
        return "http", text
    candidate, after = match.group(1), match.group(2)
    scheme = candidate.lower()
    if scheme in _DEFAULT_PORTS:
        return scheme, after
    if scheme not in _KNOWN_OTHER_SCHEMES and (
        _PORT_AFTER_COLON_RE.match(after) or "@" in after[: _find_first(after, "/\\?#")]
    ):
        return "http", text
    shown = scheme if len(scheme) <= 40 else scheme[:40] + "..."
    raise UrlRejected(
        "unsupported_scheme",
        f"scheme {shown!r} is not allowed; only http and https",
    )


def _find_first(text: str, chars: str) -> int:
    """Index of the first of ``chars`` in ``text``, or ``len(text)``."""
    positions = [i for i in (text.find(c) for c in chars) if i >= 0]
    return min(positions, default=len(text))


def _split_host_port(hostport: str) -> tuple[str, str | None]:
    """Split ``host[:port]`` or ``[v6][:port]``; an IPv6 host keeps its brackets."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise UrlRejected("invalid_host", "the IPv6 address has no closing ']'")
        host, after = hostport[: close + 1], hostport[close + 1 :]
        if not after:
            return host, None
        if not after.startswith(":"):
            raise UrlRejected("invalid_host", "only a port may follow the IPv6 address")
        return host, after[1:]
    if hostport.count(":") > 1:
        raise UrlRejected("invalid_host", "an IPv6 address must be written in brackets")
    host, colon, port = hostport.partition(":")
    return host, port if colon else None


def _normalise_port(raw_port: str | None, scheme: str) -> int | None:
    """Return the explicit non-default port, or ``None``.

    An empty port (``example.com:/``) counts as absent, as in browsers. Port 0
    cannot be connected to, so it is rejected with the out-of-range ones.
    """
    if not raw_port:
        return None
    if not _PORT_RE.fullmatch(raw_port):
        raise UrlRejected("invalid_port", f"port {raw_port[:20]!r} is not a decimal number")
    # Leading zeros are harmless ("080"), but do not int() a 4,000-digit port.
    digits = raw_port.lstrip("0") or "0"
    port = int(digits) if len(digits) <= 5 else 65536
    if not 1 <= port <= 65535:
        raise UrlRejected("invalid_port", f"port {digits[:20]} is not between 1 and 65535")
    return None if port == _DEFAULT_PORTS[scheme] else port


def _normalise_host(raw_host: str) -> tuple[str, bool, str]:
    """Return ``(host, is_ip, host as written in the canonical URL)``."""
    if not raw_host:
        raise UrlRejected("invalid_host", "the URL has no host")
    if raw_host.startswith("["):
        address = _parse_ipv6(raw_host[1:-1])
        _require_global(address)
        host = _format_ipv6(address)
        return host, True, f"[{host}]"

    # Browsers percent-decode the host before anything else ("ex%61mple.com").
    try:
        decoded = _percent_decode(raw_host).decode("utf-8")
    except UnicodeDecodeError:
        raise UrlRejected("invalid_host", "the host contains percent-escapes that are not UTF-8") from None
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
            "the host contains characters that are not allowed in domain names",
        ) from None
    mapped = mapped.removesuffix(".")
    if not mapped:
        raise UrlRejected("invalid_host", "the URL has no host")
    labels = mapped.split(".")
    if _ends_in_number(labels[-1]):
        ipv4 = _parse_legacy_ipv4(labels)
        _require_global(ipv4)
        return str(ipv4), True, str(ipv4)

    ascii_labels = [_label_to_ascii(label) for label in labels]
    for label in ascii_labels:
        if len(label) > _MAX_LABEL_LENGTH:
            raise UrlRejected(
                "label_too_long",
                f"the host label {label[:20]}... is {len(label)} characters long; "
                f"at most {_MAX_LABEL_LENGTH} are allowed",
            )
    host = ".".join(ascii_labels)
    if len(host) > _MAX_NAME_LENGTH:
        raise UrlRejected(
            "name_too_long",
            f"the host name is {len(host)} characters long; at most {_MAX_NAME_LENGTH} are allowed",
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
        raise UrlRejected("invalid_host", "the host has an empty label")
    bad = sorted({c for c in label if c.isascii() and not _ASCII_LABEL_CHAR_RE.fullmatch(c)})
    if bad:
        raise UrlRejected(
            "invalid_host",
            f"the host contains {''.join(bad)!r}, which is not allowed in domain names",
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
    invalid = UrlRejected("invalid_host", f"the host label {label[:70]!r} is not valid Punycode")
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


def _parse_legacy_ipv4(parts: list[str]) -> ipaddress.IPv4Address:
    """Parse dotted, decimal, hex and octal IPv4 forms the way browsers do.

    ``3232235777``, ``0xc0.0xa8.0x1.0x1`` and ``0300.0250.1.1`` are all
    ``192.168.1.1``, and ``192.168.257`` is too (the last part fills the
    remaining bytes), so every spelling gets the same global-address check.
    """
    invalid = UrlRejected("invalid_host", "the host looks like an IPv4 address but is not a valid one")
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


def _parse_ipv6(text: str) -> ipaddress.IPv6Address:
    """Parse the inside of ``[...]``; zone identifiers are refused."""
    if "%" in text:
        raise UrlRejected(
            "invalid_host",
            "IPv6 zone identifiers only make sense on the local network",
        )
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        raise UrlRejected("invalid_host", f"{text[:60]!r} is not an IPv6 address") from None


def _format_ipv6(address: ipaddress.IPv6Address) -> str:
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


def _require_global(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Raise ``non_global_ip`` unless ``address`` is publicly routable.

    ``is_global`` alone lets multicast through, and its tables differ between
    Python versions, so the other flags are checked too. IPv6 forms that embed
    an IPv4 address (mapped, translated, NAT64, 6to4) are judged by that
    address, so ``[::ffff:127.0.0.1]`` cannot reach loopback while
    ``[::ffff:8.8.8.8]`` is as acceptable as ``8.8.8.8``.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            _require_global(embedded)
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
    shown = _format_ipv6(address) if isinstance(address, ipaddress.IPv6Address) else address
    return UrlRejected("non_global_ip", f"{shown} is not a publicly routable address")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it is a known embedding."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _IPV4_TRANSLATED_PREFIX or address in _NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _check_domain(labels: list[str]) -> None:
    """Refuse names that cannot be a public site; validate onion addresses."""
    host = ".".join(labels)
    tld = labels[-1]
    if tld == "localhost":
        raise UrlRejected("invalid_host", f"{host!r} is the local machine, not a public host")
    if len(labels) == 1:
        raise UrlRejected(
            "invalid_host",
            f"the host {host!r} has no domain; it can only be a name on a local network",
        )
    if tld in _RESERVED_TLDS:
        raise UrlRejected(
            "invalid_host",
            f".{tld} is reserved for private or special use, not for public sites",
        )
    if tld == "exit":
        raise UrlRejected(
            "invalid_host",
            ".exit is Tor exit-node notation; report the host it names instead",
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
            f"{address[:70]!r} is not an onion address (56 base32 characters for v3, 16 for v2)",
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
            f"{address}.onion fails its v3 checksum; it is probably mistyped",
        )


def _registrable_domain(host: str) -> str:
    """eTLD+1 of ``host``, or ``host`` when it is itself a public suffix."""
    labels = host.split(".")
    # I2P base32 names are "<hash>.b32.i2p"; the hash is the site.
    if labels[-2:] == ["b32", "i2p"] and len(labels) >= 3:
        return ".".join(labels[-3:])
    return _PSL.privatesuffix(host) or host


def _normalise_component(text: str, safe: frozenset[str]) -> str:
    """Normalise percent-encoding in a path or query (see module docstring)."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            match = _HEX_ESCAPE_RE.match(text, index)
            if match is not None:
                decoded = chr(int(match.group(1), 16))
                out.append(decoded if decoded in _UNRESERVED else match.group(0).upper())
                index += 3
                continue
            out.append("%25")
        elif char in safe:
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        index += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for an absolute path; ``""`` becomes ``"/"``.

    Runs after percent-normalisation, so ``%2e%2E`` counts as ``..``, as in
    browsers. ``path`` is empty or starts with ``/``.
    """
    segments = path.split("/")[1:]
    output: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment in {".", ".."}:
            if segment == ".." and output:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)
