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

import hashlib
import re
from dataclasses import dataclass
from typing import Final

from django.utils.translation import gettext

from reports.urls.errors import REJECTION_CODES, UrlRejected
from reports.urls.hosts import is_unresolvable, normalise_host, registrable_domain

__all__ = [
    "ERASED_URL_PREFIX",
    "MAX_URL_LENGTH",
    "REJECTION_CODES",
    "NormalisedUrl",
    "UrlRejected",
    "normalise_url",
    "url_without_credentials",
]

MAX_URL_LENGTH: Final = 4096
# What the URL text of a case starts with once the retention rules erased it (docs/data-protection.md):
# the rest is the case's ``url_sha256``. No URL the intake accepts starts like this (it has no host).
ERASED_URL_PREFIX: Final = "sha256:"


_DEFAULT_PORTS: Final = {"http": 80, "https": 443}

_SCHEME_RE: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):(.*)", re.DOTALL)
# After ``name:`` this means ``name`` was a host followed by a port.
_PORT_AFTER_COLON_RE: Final = re.compile(r"[0-9]+(?:[/\\?#]|\Z)")
_PORT_RE: Final = re.compile(r"[0-9]+")
_HEX_ESCAPE_RE: Final = re.compile(r"%([0-9A-Fa-f]{2})")

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


def normalise_url(raw: str) -> NormalisedUrl:
    """Return the canonical form of ``raw`` or raise :class:`UrlRejected`.

    Surrounding whitespace is trimmed first; ``too_long`` applies to the
    trimmed input and to the canonical form (which grows when characters are
    percent-encoded), so a canonical URL is never longer than
    :data:`MAX_URL_LENGTH`. No other exception is raised for any ``str``.
    """
    text = raw.strip()
    if not text:
        raise UrlRejected("empty", gettext("the URL is empty"))
    if len(text) > MAX_URL_LENGTH:
        raise UrlRejected(
            "too_long",
            gettext("the URL is %(n)d characters long; at most %(most)d are allowed")
            % {"n": len(text), "most": MAX_URL_LENGTH},
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

    host, is_ip, canonical_host = normalise_host(raw_host)
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
            gettext("the canonical URL is %(n)d characters long; at most %(most)d are allowed")
            % {"n": len(canonical), "most": MAX_URL_LENGTH},
        )

    return NormalisedUrl(
        original=raw,
        canonical=canonical,
        scheme=scheme,
        host=host,
        port=port,
        registrable_domain=host if is_ip else registrable_domain(host),
        had_credentials=had_credentials,
        is_ip=is_ip,
        unresolvable=not is_ip and is_unresolvable(host),
        sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    )


def url_without_credentials(raw: str) -> str:
    """``raw`` as it was written, less any user name and password (``user:pass@``).

    scart keeps the URL as a reporter typed it (for that reporter) but never the credentials in it:
    they are someone's secret, not part of the location. The authority is found as
    :func:`normalise_url` finds it (a bare ``user:pw@host`` is a host with credentials, the last
    ``@`` ends them), so for every accepted URL the result normalises to the same canonical form,
    without ``had_credentials``. Any other text (a rejected URL, echoed back to its sender) loses
    the credentials of a ``scheme://user@host`` authority too; nothing else is changed and nothing
    is raised.
    """
    text = raw.lstrip()
    lead = raw[: len(raw) - len(text)]
    prefix, body = "", text
    match = _SCHEME_RE.fullmatch(text)
    if match is not None:
        scheme, after = match.group(1), match.group(2)
        if scheme.lower() in _DEFAULT_PORTS or after.startswith(("//", "\\\\")):
            prefix, body = f"{scheme}:", after
        elif scheme.lower() in _KNOWN_OTHER_SCHEMES:
            return raw  # mailto:user@host and the like: no authority to take credentials from
    rest = body.lstrip("/\\")
    slashes = body[: len(body) - len(rest)]
    authority_end = _find_first(rest, "/\\?#")
    authority = rest[:authority_end]
    if "@" not in authority:
        return raw
    kept = prefix + slashes + authority.rpartition("@")[2] + rest[authority_end:]
    if not prefix and not slashes and _SCHEME_RE.fullmatch(kept):
        # "user:pw@host:/x" was a host because of its "@"; without it, "host:" would read as a
        # scheme: "//" keeps it a host.
        kept = "//" + kept
    return lead + kept


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
                gettext("the URL contains the control character %(char)s at position %(index)d")
                % {"char": f"U+{code:04X}", "index": index},
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
        gettext("scheme %(scheme)s is not allowed; only http and https") % {"scheme": repr(shown)},
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
            raise UrlRejected("invalid_host", gettext("the IPv6 address has no closing ']'"))
        host, after = hostport[: close + 1], hostport[close + 1 :]
        if not after:
            return host, None
        if not after.startswith(":"):
            raise UrlRejected("invalid_host", gettext("only a port may follow the IPv6 address"))
        return host, after[1:]
    if hostport.count(":") > 1:
        raise UrlRejected("invalid_host", gettext("an IPv6 address must be written in brackets"))
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
        raise UrlRejected(
            "invalid_port", gettext("port %(port)s is not a decimal number") % {"port": repr(raw_port[:20])}
        )
    # Leading zeros are harmless ("080"), but do not int() a 4,000-digit port.
    digits = raw_port.lstrip("0") or "0"
    port = int(digits) if len(digits) <= 5 else 65536
    if not 1 <= port <= 65535:
        raise UrlRejected("invalid_port", gettext("port %(port)s is not between 1 and 65535") % {"port": digits[:20]})
    return None if port == _DEFAULT_PORTS[scheme] else port


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
