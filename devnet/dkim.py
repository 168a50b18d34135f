"""DKIM for the local peers: a signing key for a domain, its public key published as the
``<selector>._domainkey.<domain>`` TXT record of a local DNS peer, and messages signed with it, as
a partner's or a provider's outgoing mail server signs them (RFC 6376, with ``dkimpy``)."""

from __future__ import annotations

import base64
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devnet.dns.zone import Zone

# The headers a mail server usually signs; From must be among them.
SIGNED_HEADERS = (b"from", b"to", b"subject", b"date", b"message-id", b"in-reply-to", b"references")


@dataclass(frozen=True)
class DkimKey:
    domain: str
    selector: str
    private_pem: bytes = field(repr=False)
    public_der: bytes = field(repr=False)

    @property
    def record_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def record(self) -> str:
        """The TXT record's value in zone file syntax: strings of at most 255 characters."""
        text = f"v=DKIM1; k=rsa; p={base64.b64encode(self.public_der).decode()}"
        return " ".join(f'"{chunk}"' for chunk in textwrap.wrap(text, 250, break_on_hyphens=False))


def dkim_key(domain: str, *, selector: str = "scart", bits: int = 2048) -> DkimKey:
    """A new RSA key for ``domain``."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return DkimKey(
        domain=domain,
        selector=selector,
        private_pem=private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        ),
        public_der=private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )


def dkim_publish(zone: Zone, key: DkimKey) -> None:
    """Publish ``key``'s public half in ``zone``, where verifiers look for it."""
    zone.add(key.record_name, "TXT", key.record)


def dkim_sign(
    raw: bytes, key: DkimKey, *, headers: Sequence[bytes] = SIGNED_HEADERS, length: bool = False, domain: str = ""
) -> bytes:
    """``raw`` with a DKIM-Signature of ``key`` on top (relaxed/relaxed). ``length`` adds ``l=``
    (the body length: text appended later is not covered); ``domain`` signs as another ``d=``
    than the key's (a forger's mismatch)."""
    # As it goes over SMTP: every line ends in CRLF, the signature's folds too.
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    present = [name for name in headers if _has_header(raw, name)]
    signature: bytes = dkim.sign(
        raw,
        key.selector.encode(),
        (domain or key.domain).encode(),
        key.private_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=present,
        length=length,
    )
    return signature + raw


def _has_header(raw: bytes, name: bytes) -> bool:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return any(line.split(b":", 1)[0].strip().lower() == name for line in head.split(b"\r\n") if b":" in line)
