"""OpenPGP for notices: a built message signed with the hotline's key and, where the recipient
has a public key on file, encrypted to it (PGP/MIME, RFC 3156).

`message_seal` takes a Django `EmailMessage` as the sender built it and returns one that sends
the same headers over a new body:

- signed: ``multipart/signed; protocol="application/pgp-signature"; micalg=pgp-<hash>`` whose
  first part is the original body (text, CSV, X-ARF reports) and whose second is a detached
  signature over that part's bytes in canonical form (CRLF line ends);
- signed and encrypted: ``multipart/encrypted; protocol="application/pgp-encrypted"`` whose
  ciphertext is the signed message above (sign, then encrypt: RFC 3156 section 6.1), so the
  recipient checks the same signature after decrypting.

Every part under the signature is made safe for transport first (RFC 3156 section 3): text in
quoted-printable (trailing blanks and lines that begin with "From " encoded), other parts 7-bit
when they are plain short ASCII lines and base64 otherwise, so no mail server on the way changes
a byte the signature covers. The message's own headers (Subject, From, To, Message-ID,
X-Scart-Reference) stay outside: mail servers and the provider's ticket system read them.

The OpenPGP work is Sequoia's (``pysequoia``, a binary wheel from PyPI: nothing to install on
the machine). Its keys are Ed25519/Curve25519 by default, and it chooses the hash of a signature
(SHA-512 today); ``micalg`` names the one it used.
"""

from __future__ import annotations

import base64
import quopri
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.generator import BytesGenerator
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from io import BytesIO
from typing import Any

import pysequoia
from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT, SafeMIMEMultipart
from pysequoia.packet import PacketPile, Tag

SIGNED_PREAMBLE = "This is an OpenPGP/MIME signed message (RFC 4880 and 3156)"
ENCRYPTED_PREAMBLE = "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)"
# The names RFC 3156 and the IANA hash registry give the hashes OpenPGP signs with.
_MICALG = {
    "SHA1": "pgp-sha1",
    "SHA224": "pgp-sha224",
    "SHA256": "pgp-sha256",
    "SHA384": "pgp-sha384",
    "SHA512": "pgp-sha512",
}
_FROM_LINE = re.compile(r"^From ", flags=re.MULTILINE)


class KeyInvalid(ValueError):
    """A key that cannot be used: not OpenPGP, the wrong kind, expired, revoked, or locked."""


@dataclass(frozen=True)
class KeyFacts:
    """What a person checks of a key: its fingerprint (upper-case hex, as gpg prints it), its user
    ids, when it expires, and whether it is revoked."""

    fingerprint: str
    user_ids: tuple[str, ...]
    expires_at: datetime | None
    revoked: bool

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    def usable(self, now: datetime | None = None) -> bool:
        return not self.revoked and not self.expired(now)

    @property
    def spaced(self) -> str:
        """The fingerprint in groups of four, as people read it out."""
        return " ".join(self.fingerprint[i : i + 4] for i in range(0, len(self.fingerprint), 4))

    def describe(self, now: datetime | None = None) -> str:
        state = "revoked" if self.revoked else "expired" if self.expired(now) else "valid"
        until = f" until {self.expires_at:%Y-%m-%d}" if self.expires_at and state == "valid" else ""
        names = ", ".join(self.user_ids) or "no user id"
        return f"{self.spaced} ({names}): {state}{until}"


def _reason(exc: Exception) -> str:
    # Sequoia's errors carry a Rust backtrace after the first line when RUST_BACKTRACE is set.
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _facts(cert: Any) -> KeyFacts:
    return KeyFacts(
        fingerprint=str(cert.fingerprint).upper(),
        user_ids=tuple(str(u) for u in cert.user_ids),
        expires_at=cert.expiration,
        revoked=bool(cert.is_revoked),
    )


def _has_secrets(data: bytes) -> bool:
    tags = (Tag.SecretKey, Tag.SecretSubkey)
    return any(packet.tag in tags for packet in PacketPile.from_bytes(data))


def certs_read(text: str) -> list[pysequoia.Cert]:
    """The public keys in ``text`` (ASCII armour, one or more blocks). Raises `KeyInvalid` for
    text that holds no key or holds a private key (which must never be pasted where a public
    key belongs: it would be stored unsealed)."""
    data = text.strip().encode()
    if not data:
        return []
    try:
        if _has_secrets(data):
            raise KeyInvalid("This is a private key: paste the public key only.")
        certs = pysequoia.Cert.split_bytes(data)
    except RuntimeError as exc:
        raise KeyInvalid(f"Not an OpenPGP public key: {_reason(exc)}") from None
    if not certs:
        raise KeyInvalid("No OpenPGP public key found.")
    return certs


def key_facts(text: str) -> list[KeyFacts]:
    """The facts of each public key in ``text``; [] for blank text or text that is no key."""
    try:
        return [_facts(c) for c in certs_read(text)]
    except KeyInvalid:
        return []


def recipient_certs(text: str, *, now: datetime | None = None) -> list[pysequoia.Cert]:
    """The keys in ``text`` that can be encrypted to now (neither expired nor revoked)."""
    try:
        certs = certs_read(text)
    except KeyInvalid:
        return []
    return [c for c in certs if _facts(c).usable(now)]


def recipient_key_check(text: str, *, now: datetime | None = None) -> list[KeyFacts]:
    """Check a recipient's public key as a person enters it: every key in it readable, valid now,
    and able to take encrypted mail. Raises `KeyInvalid` saying what is wrong."""
    facts = []
    for cert in certs_read(text):
        fact = _facts(cert)
        if not fact.usable(now):
            raise KeyInvalid(f"The key {fact.spaced} is {'revoked' if fact.revoked else 'expired'}.")
        try:
            pysequoia.encrypt(b"check", recipients=[cert])
        except RuntimeError as exc:
            raise KeyInvalid(f"The key {fact.spaced} cannot take encrypted mail: {_reason(exc)}") from None
        facts.append(fact)
    return facts


def signing_key_read(text: str, *, now: datetime | None = None) -> pysequoia.Tsk:
    """The hotline's private key from ``text`` (ASCII armour), checked: it holds secret material
    without a passphrase (it is sealed at rest instead), is neither expired nor revoked, and can
    sign. Raises `KeyInvalid` saying what is wrong."""
    data = text.strip().encode()
    try:
        if not _has_secrets(data):
            raise KeyInvalid("This is a public key: the hotline's signing key must include its private part.")
        tsk = pysequoia.Tsk.from_bytes(data)
    except RuntimeError as exc:
        raise KeyInvalid(f"Not an OpenPGP private key: {_reason(exc)}") from None
    fact = signing_key_facts(tsk)
    if not fact.usable(now):
        raise KeyInvalid(f"The key {fact.spaced} is {'revoked' if fact.revoked else 'expired'}.")
    try:
        pysequoia.sign(tsk.signer(), b"check", mode=pysequoia.SignatureMode.DETACHED)
    except (RuntimeError, ValueError) as exc:
        raise KeyInvalid(
            f"The key cannot sign without a passphrase ({_reason(exc)}): remove the passphrase before importing "
            "it (it is sealed at rest under SCART_FIELD_KEY), or use a key with a signing subkey."
        ) from None
    return tsk


def signing_key_generate(user_id: str, *, valid_for: timedelta | None) -> pysequoia.Tsk:
    """A new key for the hotline: an Ed25519 primary key with a signing and an encryption subkey."""
    seconds = int(valid_for.total_seconds()) if valid_for else None
    return pysequoia.Tsk.generate(user_id, validity_seconds=seconds)


def signing_key_facts(tsk: pysequoia.Tsk) -> KeyFacts:
    return _facts(tsk.extract_certificate())


def public_key_text(tsk: pysequoia.Tsk) -> str:
    """The public half of ``tsk`` in ASCII armour, as it is published."""
    return str(tsk.extract_certificate())


def message_seal(
    message: EmailMessage,
    *,
    sign_key: pysequoia.Tsk,
    recipient_keys: Sequence[pysequoia.Cert] = (),
) -> EmailMessage:
    """``message`` signed with ``sign_key`` and, when ``recipient_keys`` are given, encrypted to
    each of them (any one of them decrypts). The returned message keeps the headers, recipients and
    connection of ``message``; only what `message()` builds below the headers differs."""
    parts, params = _signed(_content_entity(message), sign_key)
    if not recipient_keys:
        return SealedEmailMessage(message, parts, ("signed", params), SIGNED_PREAMBLE)
    signed = MIMEMultipart("signed")
    for name, value in params.items():
        signed.set_param(name, value)
    del signed["MIME-Version"]
    signed.preamble = SIGNED_PREAMBLE
    for part in parts:
        signed.attach(part)
    ciphertext = pysequoia.encrypt(_canonical(signed), recipients=list(recipient_keys), armor=True)
    control = _part("application", "pgp-encrypted", "Version: 1\r\n", description="PGP/MIME version identification")
    data = _part(
        "application",
        "octet-stream",
        ciphertext.decode("ascii"),
        description="OpenPGP encrypted message",
        filename="encrypted.asc",
        disposition="inline",
    )
    encrypted = ("encrypted", {"protocol": "application/pgp-encrypted"})
    return SealedEmailMessage(message, [control, data], encrypted, ENCRYPTED_PREAMBLE)


class SealedEmailMessage(EmailMessage):
    """An `EmailMessage` whose body is a prepared multipart (signed or encrypted). Its subject,
    body, recipients and attachments stay those of the original, for code that reads them; the
    MIME message it builds carries them only inside the signed (or encrypted) part."""

    def __init__(
        self, original: EmailMessage, parts: list[Message], params: tuple[str, dict[str, str]], preamble: str
    ) -> None:
        self.__dict__.update(vars(original))
        self._sealed_parts = parts
        self._sealed_subtype, self._sealed_params = params
        self._sealed_preamble = preamble

    def _create_message(self, msg: Any) -> Any:
        # A new outer multipart each time: `message()` writes the headers onto what this returns.
        # Its encoding is the one Django encodes non-ASCII headers (a subject, a name) in.
        encoding = self.encoding or settings.DEFAULT_CHARSET
        outer = SafeMIMEMultipart(_subtype=self._sealed_subtype, encoding=encoding, **self._sealed_params)
        outer.preamble = self._sealed_preamble
        for part in self._sealed_parts:
            outer.attach(part)
        return outer


def _content_entity(message: EmailMessage) -> Message:
    """The body of ``message`` as one MIME entity: its content headers only, every part made safe
    for transport."""
    built = message.message()
    for name in {k.lower() for k in built}:
        if not name.startswith("content-"):
            del built[name]
    for part in built.walk():
        if not part.is_multipart():
            _transport_safe(part)
    return built


def _transport_safe(part: Message) -> None:
    encoding = str(part.get("Content-Transfer-Encoding", "7bit")).lower()
    if encoding == "base64":
        return
    if part.get_content_maintype() == "message":
        # A ``message/feedback-report`` (the one-report-per-message channel) is 7-bit fields with
        # CRLF ends, and RFC 2045 allows no base64 or quoted-printable for message types. The
        # generator writes such a payload as it is, so re-encoding it would leave bare LFs that the
        # mail client turns into CRLF after signing: the signature would no longer hold.
        return
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return
    if part.get_content_maintype() == "text":
        payload, encoding = _quoted_printable(data), "quoted-printable"
    elif _plain_ascii_lines(data):
        payload, encoding = data.decode("ascii"), "7bit"
    else:
        payload = _base64(data)
        encoding = "base64"
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = encoding
    Message.set_payload(part, payload)


def _quoted_printable(data: bytes) -> str:
    # Text's line ends are CRLF on the wire whatever they are here; quopri wants LF.
    text = quopri.encodestring(data.replace(b"\r\n", b"\n"), quotetabs=False).decode("ascii")
    # A line beginning with "From " is changed to ">From " by some mail stores.
    return _FROM_LINE.sub("=46rom ", text)


def _plain_ascii_lines(data: bytes) -> bool:
    """Whether ``data`` passes any mail server unchanged as 7-bit: ASCII without control
    characters, lines within mail's limit, no blank at a line's end, none beginning "From "."""
    if not data.isascii() or b"\r" in data or b"\0" in data:
        return False
    lines = data.split(b"\n")
    return all(
        len(line) <= RFC5322_EMAIL_LINE_LENGTH_LIMIT and line == line.rstrip(b" \t") and not line.startswith(b"From ")
        for line in lines
    )


def _base64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii")


def _part(
    maintype: str, subtype: str, payload: str, *, description: str, filename: str = "", disposition: str = ""
) -> Message:
    part = MIMEBase(maintype, subtype)
    if filename:
        part.set_param("name", filename)
    del part["MIME-Version"]  # belongs on the message only (RFC 2045 section 4)
    part["Content-Transfer-Encoding"] = "7bit"
    part["Content-Description"] = description
    if disposition:
        part.add_header("Content-Disposition", disposition, filename=filename)
    part.set_payload(payload)
    return part


def _signed(content: Message, sign_key: pysequoia.Tsk) -> tuple[list[Message], dict[str, str]]:
    """The parts and parameters of ``multipart/signed``: ``content`` and a detached signature over
    its canonical bytes."""
    signature = pysequoia.sign(
        sign_key.signer(), _canonical(content, signed_part=True), mode=pysequoia.SignatureMode.DETACHED
    )
    algorithm = str(pysequoia.Sig.from_bytes(signature).hash_algorithm).rsplit(".", 1)[-1]
    micalg = _MICALG.get(algorithm, f"pgp-{algorithm.lower()}")
    signature_part = _part(
        "application",
        "pgp-signature",
        signature.decode("ascii"),
        description="OpenPGP digital signature",
        filename="signature.asc",
        disposition="attachment",
    )
    return [content, signature_part], {"micalg": micalg, "protocol": "application/pgp-signature"}


def _canonical(entity: Message, *, signed_part: bool = False) -> bytes:
    """``entity`` as it goes on the wire, CRLF line ends: the bytes a signature covers. The mail
    backends write the same object with the same generator, so the message carries these bytes.
    Inside ``multipart/signed`` that generator folds no header (a refolded header would break the
    signature), so the signed part is written unfolded here too."""
    policy = entity.policy.clone(linesep="\r\n")
    if signed_part:
        policy = policy.clone(max_line_length=0)
    buffer = BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=policy).flatten(entity)
    return buffer.getvalue()
