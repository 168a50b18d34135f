"""Specification of URL normalisation: what is accepted, how it is written, what is refused."""

from __future__ import annotations

import hashlib
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains

from reports.urls import (
    MAX_URL_LENGTH,
    REJECTION_CODES,
    NormalisedUrl,
    UrlRejected,
    normalise_url,
    url_without_credentials,
)

DDG_ONION = "duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad"
TOR_ONION = "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid"
I2P_B32 = "ukeu3k5oycgaauneqgtnvselmt4yemvoilkln7jpvamvfx7dnkdq"


def case(raw: str, canonical: str, id: str, **fields: Any) -> Any:
    """One row: ``raw`` normalises to ``canonical`` and to the given ``fields``."""
    return pytest.param(raw, canonical, fields, id=id)


NORMALISED = [
    # Schemes and bare input
    case("http://example.com/", "http://example.com/", "plain-http"),
    case("https://example.com/", "https://example.com/", "plain-https", scheme="https"),
    case(
        "HTTPS://Example.COM/Path",
        "https://example.com/Path",
        "case-of-scheme-and-host-not-path",
    ),
    case("hTtP://example.com", "http://example.com/", "mixed-case-scheme"),
    case("example.com/a", "http://example.com/a", "bare-host-path", scheme="http"),
    case("www.example.com", "http://www.example.com/", "bare-host"),
    case("//example.com/x", "http://example.com/x", "scheme-relative"),
    case("1.2.3.4/x", "http://1.2.3.4/x", "bare-ipv4", is_ip=True, host="1.2.3.4"),
    case("[2606:4700:4700::1111]/x", "http://[2606:4700:4700::1111]/x", "bare-ipv6"),
    case(
        "example.com:8080/x",
        "http://example.com:8080/x",
        "bare-host-port-is-not-a-scheme",
        port=8080,
    ),
    case("example.com:8080", "http://example.com:8080/", "bare-host-port-only", port=8080),
    case(
        "user:pw@example.com/a",
        "http://example.com/a",
        "bare-credentials",
        had_credentials=True,
    ),
    case(
        "  http://example.com/a \n",
        "http://example.com/a",
        "surrounding-whitespace-trimmed",
    ),
    case("\u3000example.com\u00a0", "http://example.com/", "unicode-whitespace-trimmed"),
    case("https:example.com/a", "https://example.com/a", "no-slashes-after-scheme"),
    case("http:///example.com/a", "http://example.com/a", "three-slashes"),
    # Host spelling
    case(
        "http://example.com./",
        "http://example.com/",
        "trailing-dot",
        host="example.com",
    ),
    case(
        "http://EXAMPLE.com.:80/",
        "http://example.com/",
        "trailing-dot-and-default-port",
    ),
    case("http://ex%61mple.com/", "http://example.com/", "percent-encoded-host"),
    case("http://example\u3002com/", "http://example.com/", "ideographic-full-stop"),
    case("http://example\uff0ecom/", "http://example.com/", "fullwidth-full-stop"),
    case(
        "http://example\uff61com/",
        "http://example.com/",
        "halfwidth-ideographic-full-stop",
    ),
    case(
        "http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com/",
        "http://example.com/",
        "fullwidth-letters",
    ),
    case("http://ex\u00adample.com/", "http://example.com/", "soft-hyphen-ignored"),
    case(
        "http://my_site.example.com/",
        "http://my_site.example.com/",
        "underscore-allowed",
    ),
    case("http://-x-.blogspot.com/", "http://-x-.blogspot.com/", "edge-hyphens-allowed"),
    # IDN
    case(
        "http://bücher.de/",
        "http://xn--bcher-kva.de/",
        "idn-umlaut",
        host="xn--bcher-kva.de",
    ),
    case("http://BÜCHER.de/", "http://xn--bcher-kva.de/", "idn-upper-case"),
    case("http://xn--bcher-kva.de/", "http://xn--bcher-kva.de/", "idn-already-punycode"),
    case(
        "http://XN--BCHER-KVA.DE/",
        "http://xn--bcher-kva.de/",
        "idn-upper-case-punycode",
    ),
    case(
        "例え.jp",
        "http://xn--r8jz45g.jp/",
        "idn-japanese",
        registrable_domain="xn--r8jz45g.jp",
    ),
    case("http://faß.de/", "http://xn--fa-hia.de/", "idn-sharp-s-non-transitional"),
    case(
        "http://παράδειγμα.δοκιμή/",
        "http://xn--hxajbheg2az3al.xn--jxalpdlp/",
        "idn-greek-tld",
    ),
    case(
        "https://💩.la/",
        "https://xn--ls8h.la/",
        "emoji-domain-as-browsers",
        host="xn--ls8h.la",
    ),
    case("http://xn--ls8h.la/", "http://xn--ls8h.la/", "emoji-domain-punycode"),
    case("http://i❤.ws/", "http://xn--i-7iq.ws/", "emoji-in-ascii-label"),
    # Ports
    case(
        "http://example.com:80/",
        "http://example.com/",
        "default-http-port-dropped",
        port=None,
    ),
    case(
        "https://example.com:443/",
        "https://example.com/",
        "default-https-port-dropped",
        port=None,
    ),
    case(
        "https://example.com:80/",
        "https://example.com:80/",
        "http-port-on-https-kept",
        port=80,
    ),
    case(
        "http://example.com:443/",
        "http://example.com:443/",
        "https-port-on-http-kept",
        port=443,
    ),
    case("http://example.com:0080/", "http://example.com/", "port-leading-zeros"),
    case(
        "http://example.com:65535/",
        "http://example.com:65535/",
        "highest-port",
        port=65535,
    ),
    case("http://example.com:/a", "http://example.com/a", "empty-port", port=None),
    # IP literals
    case(
        "http://8.8.8.8/",
        "http://8.8.8.8/",
        "ipv4",
        is_ip=True,
        registrable_domain="8.8.8.8",
    ),
    case("http://134744072/", "http://8.8.8.8/", "ipv4-decimal", host="8.8.8.8"),
    case("http://0x08080808/", "http://8.8.8.8/", "ipv4-hex"),
    case("http://0x8.0x8.0x8.0x8/", "http://8.8.8.8/", "ipv4-hex-parts"),
    case("http://010.010.010.010/", "http://8.8.8.8/", "ipv4-octal-parts"),
    case("http://8.8.2056/", "http://8.8.8.8/", "ipv4-three-parts"),
    case("http://8.8.8.8./", "http://8.8.8.8/", "ipv4-trailing-dot"),
    case("http://\uff18.\uff18.\uff18.\uff18/", "http://8.8.8.8/", "ipv4-fullwidth-digits"),
    case(
        "http://[2606:4700:4700:0:0:0:0:1111]/",
        "http://[2606:4700:4700::1111]/",
        "ipv6-compressed",
        host="2606:4700:4700::1111",
        registrable_domain="2606:4700:4700::1111",
        is_ip=True,
    ),
    case(
        "http://[2001:4860:4860::8888]:8080/",
        "http://[2001:4860:4860::8888]:8080/",
        "ipv6-port",
        port=8080,
    ),
    case(
        "http://[2606:4700:0:0:1:0:0:1]/",
        "http://[2606:4700::1:0:0:1]/",
        "ipv6-first-longest-zero-run",
    ),
    case(
        "http://[2606:4700:4700::ABCD]/",
        "http://[2606:4700:4700::abcd]/",
        "ipv6-lower-case",
    ),
    case(
        "http://[::ffff:8.8.8.8]/",
        "http://[::ffff:808:808]/",
        "ipv6-mapped-global-ipv4",
        host="::ffff:808:808",
    ),
    case("http://[2002:808:808::1]/", "http://[2002:808:808::1]/", "ipv6-6to4-global"),
    # Credentials and fragments
    case(
        "http://user:pass@example.com/",
        "http://example.com/",
        "credentials-stripped",
        had_credentials=True,
    ),
    case(
        "http://user@example.com/",
        "http://example.com/",
        "user-only-stripped",
        had_credentials=True,
    ),
    case(
        "http://a@b@example.com/",
        "http://example.com/",
        "last-at-ends-userinfo",
        had_credentials=True,
    ),
    case(
        "http://good.com@evil.com/",
        "http://evil.com/",
        "credentials-spoof-host",
        host="evil.com",
    ),
    case(
        "http://example.com/",
        "http://example.com/",
        "no-credentials",
        had_credentials=False,
    ),
    case("http://example.com/a#frag", "http://example.com/a", "fragment-dropped"),
    case(
        "http://example.com/a?b=1#x?y",
        "http://example.com/a?b=1",
        "fragment-with-question-mark-dropped",
    ),
    case(
        "http://example.com#a@evil.com",
        "http://example.com/",
        "at-in-fragment-is-not-userinfo",
    ),
    # Paths and dot-segments
    case("http://example.com", "http://example.com/", "empty-path-becomes-slash"),
    case("http://example.com/a/./b/../c", "http://example.com/a/c", "dot-segments"),
    case("http://example.com/a/b/..", "http://example.com/a/", "trailing-double-dot"),
    case("http://example.com/a/.", "http://example.com/a/", "trailing-single-dot"),
    case("http://example.com/../../a", "http://example.com/a", "dot-segments-above-root"),
    case("http://example.com/a/%2e%2E/b", "http://example.com/b", "encoded-dot-segments"),
    case("http://example.com/a//b/", "http://example.com/a//b/", "double-slash-kept"),
    case(
        "http://example.com/a\\b\\..\\c",
        "http://example.com/a/c",
        "backslashes-in-path",
    ),
    case(
        "http://example.com/a/..?x=../y",
        "http://example.com/?x=../y",
        "dots-in-query-kept",
    ),
    # Percent-encoding
    case(
        "http://example.com/%7Euser/%41%62",
        "http://example.com/~user/Ab",
        "unreserved-decoded",
    ),
    case(
        "http://example.com/a%2fb?c=%2f%3d",
        "http://example.com/a%2Fb?c=%2F%3D",
        "reserved-escapes-upper-cased",
    ),
    case(
        "http://example.com/a%2Fb",
        "http://example.com/a%2Fb",
        "encoded-slash-not-decoded",
    ),
    case("http://example.com/a b", "http://example.com/a%20b", "space-in-path"),
    case(
        "http://example.com/?q=a b+c",
        "http://example.com/?q=a%20b+c",
        "space-in-query-plus-kept",
    ),
    case(
        "http://example.com/ä?q=ü",
        "http://example.com/%C3%A4?q=%C3%BC",
        "non-ascii-path-and-query",
    ),
    case("http://example.com/%e4", "http://example.com/%E4", "latin1-escape-kept"),
    case("http://example.com/100%", "http://example.com/100%25", "lone-percent"),
    case("http://example.com/%zz", "http://example.com/%25zz", "invalid-escape"),
    case(
        'http://example.com/"<>`{|}^',
        "http://example.com/%22%3C%3E%60%7B%7C%7D%5E",
        "unsafe-ascii",
    ),
    case("http://example.com/[x]", "http://example.com/%5Bx%5D", "brackets-in-path"),
    case("http://example.com/?a=\\", "http://example.com/?a=%5C", "backslash-in-query"),
    case("http://example.com/a?", "http://example.com/a", "empty-query-dropped"),
    case(
        "http://example.com/a?#f",
        "http://example.com/a",
        "empty-query-and-fragment-dropped",
    ),
    case(
        "http://example.com/?b=2&a=1&a=",
        "http://example.com/?b=2&a=1&a=",
        "query-order-kept",
    ),
    case(
        "http://example.com/?a?b/c:d@e",
        "http://example.com/?a?b/c:d@e",
        "query-delimiters-kept",
    ),
    case(
        "http://example.com/!$&'()*+,;=:@",
        "http://example.com/!$&'()*+,;=:@",
        "sub-delims-kept",
    ),
    case(
        "http://example.com/a%00b",
        "http://example.com/a%00b",
        "encoded-nul-kept-encoded",
    ),
    # Hostile but well-formed: record the host a browser would contact
    case(
        "http://evil.com\\@good.com/",
        "http://evil.com/@good.com/",
        "backslash-ends-authority",
        host="evil.com",
    ),
    case("http:/\\\\example.com/", "http://example.com/", "slash-backslash-mix"),
    case("http:\\\\example.com\\a", "http://example.com/a", "backslashes-only"),
    case(
        "http://example.com?@evil.com/",
        "http://example.com/?@evil.com/",
        "at-in-query-is-not-userinfo",
    ),
    # Registrable domains
    case(
        "http://a.b.example.co.uk/",
        "http://a.b.example.co.uk/",
        "etld-plus-one",
        registrable_domain="example.co.uk",
    ),
    case(
        "http://foo.github.io/",
        "http://foo.github.io/",
        "private-suffix",
        registrable_domain="foo.github.io",
    ),
    case(
        "http://github.io/",
        "http://github.io/",
        "host-is-a-suffix",
        registrable_domain="github.io",
    ),
    case(
        "http://x.y.blogspot.com/",
        "http://x.y.blogspot.com/",
        "blogspot",
        registrable_domain="y.blogspot.com",
    ),
    case(
        "http://www.bücher.de/",
        "http://www.xn--bcher-kva.de/",
        "idn-registrable",
        registrable_domain="xn--bcher-kva.de",
    ),
    case(
        "http://a.example.unknowntld/",
        "http://a.example.unknowntld/",
        "unknown-tld",
        registrable_domain="example.unknowntld",
    ),
    # Names outside the DNS
    case(
        f"http://{DDG_ONION}.onion/",
        f"http://{DDG_ONION}.onion/",
        "onion-v3",
        unresolvable=True,
        registrable_domain=f"{DDG_ONION}.onion",
    ),
    case(
        f"http://www.{TOR_ONION.upper()}.ONION/a",
        f"http://www.{TOR_ONION}.onion/a",
        "onion-v3-subdomain",
        unresolvable=True,
        registrable_domain=f"{TOR_ONION}.onion",
    ),
    case(
        "http://facebookcorewwwi.onion/",
        "http://facebookcorewwwi.onion/",
        "onion-v2",
        unresolvable=True,
    ),
    case("http://forum.i2p/", "http://forum.i2p/", "i2p", unresolvable=True),
    case(
        f"http://{I2P_B32}.b32.i2p/",
        f"http://{I2P_B32}.b32.i2p/",
        "i2p-b32",
        unresolvable=True,
        registrable_domain=f"{I2P_B32}.b32.i2p",
    ),
    case(
        "http://example.com/",
        "http://example.com/",
        "dns-name-resolvable",
        unresolvable=False,
    ),
    # Length limits are inclusive
    case("http://" + "a" * 63 + ".com/", "http://" + "a" * 63 + ".com/", "label-of-63"),
    case(
        "http://" + ".".join(["a" * 63] * 3 + ["b" * 57]) + ".com/",
        "http://" + ".".join(["a" * 63] * 3 + ["b" * 57]) + ".com/",
        "name-of-253",
    ),
    case(
        "http://example.com/" + "a" * (MAX_URL_LENGTH - 19),
        "http://example.com/" + "a" * (MAX_URL_LENGTH - 19),
        "url-of-4096",
    ),
]


@pytest.mark.parametrize(("raw", "canonical", "fields"), NORMALISED)
def test_it_normalises(raw: str, canonical: str, fields: dict[str, Any]) -> None:
    result = normalise_url(raw)

    assert result.canonical == canonical
    assert result.original == raw
    assert result.sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    for name, expected in fields.items():
        assert getattr(result, name) == expected, name
    _assert_credentials_dropped(raw, result)


def reject(raw: str, code: str, id: str) -> Any:
    return pytest.param(raw, code, id=id)


REJECTED = [
    # empty
    reject("", "empty", "empty-string"),
    reject("   \t\r\n ", "empty", "only-whitespace"),
    # too_long
    reject("http://example.com/" + "a" * (MAX_URL_LENGTH - 18), "too_long", "url-of-4097"),
    reject(
        "http://example.com/" + "ä" * 700,
        "too_long",
        "canonical-over-limit-after-encoding",
    ),
    # control_characters
    reject("http://exa\x00mple.com/", "control_characters", "nul-in-host"),
    reject("http://example.com/a\x00", "control_characters", "nul-in-path"),
    reject(
        "http://example.com/a\r\nSet-Cookie: x=1",
        "control_characters",
        "crlf-injection",
    ),
    reject("http://example.com/a\tb", "control_characters", "tab-inside"),
    reject("http://exam\nple.com/", "control_characters", "newline-in-host"),
    reject("http://example.com/\x7f", "control_characters", "del"),
    reject("http://example.com/\x1b[31m", "control_characters", "escape-sequence"),
    reject("http://example.com/a\x85b", "control_characters", "c1-control"),
    reject("java\tscript:alert(1)", "control_characters", "tab-splitting-scheme"),
    # unsupported_scheme
    reject("javascript:alert(1)", "unsupported_scheme", "javascript"),
    reject("JaVaScRiPt:alert(1)", "unsupported_scheme", "javascript-mixed-case"),
    reject(
        "javascript://example.com/%0Aalert(1)",
        "unsupported_scheme",
        "javascript-looking-like-url",
    ),
    reject("javascript:1", "unsupported_scheme", "javascript-looking-like-port"),
    reject("data:text/html;base64,PHNjcmlwdD4=", "unsupported_scheme", "data"),
    reject("file:///etc/passwd", "unsupported_scheme", "file"),
    reject("ftp://example.com/", "unsupported_scheme", "ftp"),
    reject("mailto:abuse@example.com", "unsupported_scheme", "mailto"),
    reject("about:blank", "unsupported_scheme", "about"),
    reject("chrome://settings", "unsupported_scheme", "chrome"),
    reject("view-source:http://example.com/", "unsupported_scheme", "view-source"),
    reject("blob:https://example.com/1234", "unsupported_scheme", "blob"),
    reject("vbscript:msgbox(1)", "unsupported_scheme", "vbscript"),
    reject("ws://example.com/", "unsupported_scheme", "websocket"),
    reject("tel:0612345678", "unsupported_scheme", "tel"),
    reject("hxxp://example.com/", "unsupported_scheme", "defanged-http"),
    reject("gopher+x://example.com/", "unsupported_scheme", "unknown-scheme-with-slashes"),
    reject("foo:bar", "unsupported_scheme", "unknown-opaque-scheme"),
    # invalid_host
    reject("http://", "invalid_host", "no-host"),
    reject("http:///", "invalid_host", "no-host-slashes"),
    reject("http://:8080/", "invalid_host", "port-without-host"),
    reject("http://user@/", "invalid_host", "credentials-without-host"),
    reject("http://./", "invalid_host", "only-a-dot"),
    reject("http://exa mple.com/", "invalid_host", "space-in-host"),
    reject("http://exa<mple>.com/", "invalid_host", "angle-brackets-in-host"),
    reject("http://exa%20mple.com/", "invalid_host", "encoded-space-in-host"),
    reject("http://example%2Fcom/", "invalid_host", "encoded-slash-in-host"),
    reject("http://ex%FFample.com/", "invalid_host", "non-utf8-escape-in-host"),
    reject("http://*.example.com/", "invalid_host", "wildcard"),
    reject("http://a..b.com/", "invalid_host", "empty-label"),
    reject("http://.example.com/", "invalid_host", "leading-dot"),
    reject("http://example.com../", "invalid_host", "two-trailing-dots"),
    reject("http://ex\u202eample.com/", "invalid_host", "right-to-left-override"),
    reject("http://xn--.com/", "invalid_host", "empty-punycode"),
    reject("http://xn--abc-.com/", "invalid_host", "punycode-of-ascii"),
    reject("http://xn--zz-zz99999.com/", "invalid_host", "broken-punycode"),
    reject("http://localhost/", "invalid_host", "localhost"),
    reject("http://LOCALHOST:8000/", "invalid_host", "localhost-upper-case-port"),
    reject("http://localhost./", "invalid_host", "localhost-trailing-dot"),
    reject("http://admin.localhost/", "invalid_host", "localhost-subdomain"),
    reject("localhost:8080/admin", "invalid_host", "bare-localhost-with-port"),
    reject("http://printer.local/", "invalid_host", "mdns-local"),
    reject("http://db.internal/", "invalid_host", "internal"),
    reject("http://www.example/", "invalid_host", "example-tld"),
    reject("http://foo.test/", "invalid_host", "test-tld"),
    reject("http://foo.invalid/", "invalid_host", "invalid-tld"),
    reject("http://router.home.arpa/", "invalid_host", "home-arpa"),
    reject("http://intranet/", "invalid_host", "single-label"),
    reject("intranet/path", "invalid_host", "bare-single-label"),
    reject("http://com/", "invalid_host", "bare-tld"),
    reject("http://example.com.exitnode.exit/", "invalid_host", "tor-exit-notation"),
    reject("http://facebook.onion/", "invalid_host", "onion-wrong-length"),
    reject("http://" + "1" * 56 + ".onion/", "invalid_host", "onion-not-base32"),
    reject(f"http://e{DDG_ONION[1:]}.onion/", "invalid_host", "onion-v3-bad-checksum"),
    reject("http://1.2.3.256/", "invalid_host", "ipv4-octet-too-big"),
    reject("http://1.2.3.4.5/", "invalid_host", "ipv4-five-parts"),
    reject("http://1..2.3/", "invalid_host", "ipv4-empty-part"),
    reject("http://0x100000000/", "invalid_host", "ipv4-number-too-big"),
    reject("http://09.1.1.1/", "invalid_host", "ipv4-bad-octal"),
    reject("http://-1.0/", "invalid_host", "ipv4-negative-part"),
    reject("http://1_0.0/", "invalid_host", "ipv4-underscore-in-part"),
    reject("http://example.123/", "invalid_host", "numeric-tld"),
    reject("http://[::1/", "invalid_host", "ipv6-unclosed"),
    reject("http://[fe80::1%25eth0]/", "invalid_host", "ipv6-zone-id-encoded"),
    reject("http://[fe80::1%eth0]/", "invalid_host", "ipv6-zone-id"),
    reject("http://[2606:4700::1111]x/", "invalid_host", "ipv6-garbage-after-bracket"),
    reject("http://2606:4700::1111/", "invalid_host", "ipv6-without-brackets"),
    reject("http://[example.com]/", "invalid_host", "brackets-around-name"),
    reject("http://[v1.fe]/", "invalid_host", "ipvfuture"),
    reject("http://[1.2.3.4]/", "invalid_host", "ipv4-in-brackets"),
    # invalid_port
    reject("http://example.com:65536/", "invalid_port", "port-too-high"),
    reject("http://example.com:0/", "invalid_port", "port-zero"),
    reject("http://example.com:-1/", "invalid_port", "port-negative"),
    reject("http://example.com:80a/", "invalid_port", "port-not-numeric"),
    reject("http://example.com:\uff18\uff10/", "invalid_port", "port-fullwidth-digits"),
    reject("http://example.com:" + "9" * 500 + "/", "invalid_port", "port-huge"),
    reject("http://[2606:4700:4700::1111]:99999/", "invalid_port", "ipv6-port-too-high"),
    # label_too_long / name_too_long (on the Punycode form)
    reject("http://" + "a" * 64 + ".com/", "label_too_long", "label-of-64"),
    # 20 characters, but 64 in Punycode.
    reject(
        "http://가나다라마바사아자차카타파하거너더러머버서.kr/",
        "label_too_long",
        "idn-label-long-in-punycode",
    ),
    reject(
        "http://" + ".".join(["a" * 63] * 3 + ["b" * 58]) + ".com/",
        "name_too_long",
        "name-of-254",
    ),
    reject("http://" + "a." * 127 + "com/", "name_too_long", "many-short-labels"),
    # non_global_ip
    reject("http://127.0.0.1/", "non_global_ip", "loopback"),
    reject("http://127.0.0.1.:80/", "non_global_ip", "loopback-trailing-dot"),
    reject("http://10.0.0.1/", "non_global_ip", "private-10"),
    reject("http://172.16.5.4/", "non_global_ip", "private-172"),
    reject("http://192.168.1.1/", "non_global_ip", "private-192"),
    reject(
        "http://169.254.169.254/latest/meta-data/",
        "non_global_ip",
        "link-local-metadata",
    ),
    reject("http://100.64.0.1/", "non_global_ip", "cgnat"),
    reject("http://0.0.0.0/", "non_global_ip", "unspecified"),
    reject("http://224.0.0.1/", "non_global_ip", "multicast"),
    reject("http://240.0.0.1/", "non_global_ip", "reserved"),
    reject("http://255.255.255.255/", "non_global_ip", "broadcast"),
    reject("http://192.0.2.1/", "non_global_ip", "documentation"),
    reject("http://3232235777/", "non_global_ip", "decimal-private"),
    reject("http://2130706433/", "non_global_ip", "decimal-loopback"),
    reject("http://0x7f.1/", "non_global_ip", "hex-loopback"),
    reject("http://0177.0.0.1/", "non_global_ip", "octal-loopback"),
    reject("http://127.1/", "non_global_ip", "short-loopback"),
    reject("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "non_global_ip", "fullwidth-loopback"),
    reject("http://127\u30020\u30020\u30021/", "non_global_ip", "ideographic-dots-loopback"),
    reject("http://%31%32%37.0.0.1/", "non_global_ip", "percent-encoded-loopback"),
    reject("http://example.com@127.0.0.1/", "non_global_ip", "credentials-hiding-loopback"),
    reject("127.0.0.1:8080/admin", "non_global_ip", "bare-loopback-with-port"),
    reject("http://[::1]/", "non_global_ip", "ipv6-loopback"),
    reject("http://[::]/", "non_global_ip", "ipv6-unspecified"),
    reject("http://[fe80::1]/", "non_global_ip", "ipv6-link-local"),
    reject("http://[fc00::1]/", "non_global_ip", "ipv6-unique-local"),
    reject("http://[fec0::1]/", "non_global_ip", "ipv6-site-local"),
    reject("http://[ff02::1]/", "non_global_ip", "ipv6-multicast"),
    reject("http://[2001:db8::1]/", "non_global_ip", "ipv6-documentation"),
    reject("http://[::ffff:127.0.0.1]/", "non_global_ip", "ipv6-mapped-loopback"),
    reject("http://[::ffff:7f00:1]/", "non_global_ip", "ipv6-mapped-loopback-hex"),
    reject("http://[::ffff:10.0.0.1]/", "non_global_ip", "ipv6-mapped-private"),
    reject("http://[::ffff:0:127.0.0.1]/", "non_global_ip", "ipv6-translated-loopback"),
    reject("http://[64:ff9b::7f00:1]/", "non_global_ip", "nat64-loopback"),
    reject("http://[2002:7f00:1::1]/", "non_global_ip", "6to4-loopback"),
    reject("http://[::127.0.0.1]/", "non_global_ip", "ipv4-compatible"),
]


@pytest.mark.parametrize(("raw", "code"), REJECTED)
def test_it_rejects(raw: str, code: str) -> None:
    with pytest.raises(UrlRejected) as caught:
        normalise_url(raw)

    assert caught.value.code == code
    assert caught.value.reason
    assert str(caught.value) == caught.value.reason


def test_it_explains_a_rejected_scheme() -> None:
    with pytest.raises(UrlRejected) as caught:
        normalise_url("javascript:alert(1)")

    assert caught.value.reason == "scheme 'javascript' is not allowed; only http and https"


def test_it_explains_localhost() -> None:
    with pytest.raises(UrlRejected) as caught:
        normalise_url("http://localhost/")

    assert "local" in caught.value.reason


def test_it_only_uses_documented_codes() -> None:
    assert {code for _, code in (p.values for p in REJECTED)} == REJECTION_CODES


def test_it_survives_pickling_of_a_rejection() -> None:
    error = UrlRejected("invalid_host", "the URL has no host")

    copy = pickle.loads(pickle.dumps(error))

    assert (copy.code, copy.reason) == ("invalid_host", "the URL has no host")


def test_it_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        normalise_url("ftp://example.com/")


def test_it_gives_one_hash_to_every_spelling() -> None:
    spellings = [
        "HTTP://User:Pw@Bücher.DE:80/%7Ea/./b/../c?x=1#top",
        "bücher.de/~a/c?x=1",
        "http://xn--bcher-kva.de./%7ea/c?x=1",
    ]

    assert len({normalise_url(raw).sha256 for raw in spellings}) == 1


# Properties

_LABEL = st.text(alphabet="abcxyzXYZ019-_äöüßéαя例え💩", min_size=1, max_size=10)
_HOST = st.one_of(
    domains(),
    st.lists(_LABEL, min_size=1, max_size=3).map(lambda labels: ".".join([*labels, "com"])),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda address: f"[{address}]"),
    st.just(f"{DDG_ONION}.onion"),
)
_URL_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="#?"),
    max_size=30,
)
_URLS = st.builds(
    "{}{}{}{}{}{}{}".format,
    st.sampled_from(["http://", "https://", "HTTP://", "", "//"]),
    st.sampled_from(["", "user:pw@", "a@b@"]),
    _HOST,
    st.sampled_from(["", ":80", ":443", ":8080", ":"]),
    _URL_TEXT.map(lambda text: "/" + text),
    st.one_of(st.just(""), _URL_TEXT.map(lambda text: "?" + text)),
    st.one_of(st.just(""), _URL_TEXT.map(lambda text: "#" + text)),
)
_URLISH_TEXT = st.text(
    alphabet="htps:/\\@[]%.0123456789abcdefx?#-_ 。:Ü\t\x00",
    max_size=60,
)


def _assert_canonical(result: NormalisedUrl) -> None:
    """The invariants every accepted URL satisfies, including idempotency."""
    again = normalise_url(result.canonical)

    assert again.canonical == result.canonical
    assert (again.host, again.port, again.scheme) == (
        result.host,
        result.port,
        result.scheme,
    )
    assert again.registrable_domain == result.registrable_domain
    assert (again.is_ip, again.unresolvable) == (result.is_ip, result.unresolvable)
    assert not again.had_credentials
    assert result.canonical.isascii()
    assert result.canonical.startswith(f"{result.scheme}://")
    assert " " not in result.canonical
    assert len(result.canonical) <= MAX_URL_LENGTH
    assert result.sha256 == hashlib.sha256(result.canonical.encode()).hexdigest()


def _assert_accepted_or_rejected(raw: str) -> None:
    """Either a canonical URL with all its invariants, or a documented rejection."""
    try:
        result = normalise_url(raw)
    except UrlRejected as error:
        code = error.code
    else:
        _assert_canonical(result)
        _assert_credentials_dropped(raw, result)
        return
    assert code in REJECTION_CODES
    assert isinstance(url_without_credentials(raw), str)


def _assert_credentials_dropped(raw: str, result: NormalisedUrl) -> None:
    """The URL as typed, less its credentials, is the same location without any."""
    kept = url_without_credentials(raw)
    again = normalise_url(kept)
    assert again.canonical == result.canonical
    assert not again.had_credentials
    assert (kept != raw) == result.had_credentials


@settings(max_examples=500)
@given(_URLS)
def test_it_is_idempotent_on_generated_urls(raw: str) -> None:
    _assert_accepted_or_rejected(raw)


@settings(max_examples=300)
@given(st.one_of(st.text(), st.text().map("http://".__add__), _URLISH_TEXT))
def test_it_only_raises_url_rejected_on_arbitrary_text(raw: str) -> None:
    _assert_accepted_or_rejected(raw)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("https://user:secretpw@files.example.com/a?b=1#top", "https://files.example.com/a?b=1#top"),
        ("user:pw@example.com/a", "example.com/a"),
        ("user:pw@example.com:/a", "//example.com:/a"),
        ("user:pw@mailto:80/a", "//mailto:80/a"),
        ("http://a@b@example.com/", "http://example.com/"),
        ("HTTP:u:p@example.com/x", "HTTP:example.com/x"),
        ("//u:p@example.com/x", "//example.com/x"),
        ("  http://u:p@example.com/ ", "  http://example.com/ "),
        ("http://example.com/@user/photos", "http://example.com/@user/photos"),
        ("http://evil.example\\@good.example", "http://evil.example\\@good.example"),
        ("ftp://u:p@example.com/x", "ftp://example.com/x"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("http://example.com/", "http://example.com/"),
    ],
)
def test_it_drops_credentials_and_keeps_the_rest_as_typed(raw: str, kept: str) -> None:
    assert url_without_credentials(raw) == kept
