"""Whether an intake message comes from the address in its ``From:`` header.

Anyone can write any ``From:``. A message counts as sent by its From address only when:

- the receiving mail server says so: among the ``Authentication-Results`` headers (RFC 8601) that
  carry the trusted ``authserv-id`` (``SCART_MAIL_AUTHSERV_ID``), the topmost
  ``SCART_MAIL_AUTHSERV_HEADERS`` (1 by default) show ``dmarc=pass`` with ``header.from`` equal
  to the From domain, or ``dkim=pass`` with a ``header.d`` aligned with it. Headers of any other
  authserv-id are ignored, and so are ours below the topmost: the server prepends its own, so a
  header with our authserv-id that the sender wrote into the message stands below them. This
  holds only if the server stamps every message it accepts (and, as RFC 8601 section 5 asks,
  removes or renames headers with its authserv-id that arrive from outside); or
- scart verifies a DKIM signature itself (``SCART_MAIL_DKIM_VERIFY``, on by default), with
  ``dkimpy``, looking the key up through the project's resolver (``SCART_DNS_NAMESERVERS``):
  a signature whose ``d=`` is aligned with the From domain, that signs the From header, and that
  covers the whole body (a signature with ``l=`` lets anyone append text, so it does not count).

Aligned means relaxed DMARC alignment (RFC 7489 3.1.1): ``d=`` is the From domain or a parent
of it, within the same registrable domain (``partner.example`` signs for
``mail.partner.example``; ``example`` or ``co.uk`` sign for nobody).

A message with no From address, several From headers or several addresses in one is never
verified. A DNS failure while looking up a key (a timeout, no server answering) raises
`MailAuthUnavailable`, so that the poll leaves the message for the next run rather than
refusing a message that may be genuine.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses

import authres
import dkim
import dkim.util
import dns.exception
import dns.rdatatype
import dns.resolver
from django.conf import settings

from reports.urls.hosts import registrable_domain
from scart.resolver import make_resolver

log = logging.getLogger("reports.mailbox")

# At most this many DKIM signatures of one message are verified (each may cost a DNS lookup).
MAX_SIGNATURES = 5
_COMMENT = re.compile(r"\([^()]*\)")


class MailAuthUnavailable(Exception):
    """A DKIM key could not be looked up for a reason that may pass (timeout, no answer)."""


@dataclass(frozen=True, slots=True)
class SenderCheck:
    """Whether a message's From address is authenticated, how, and if not, why not."""

    domain: str
    verified: bool
    # "dmarc" or "dkim" (the trusted server's Authentication-Results), "dkim-local" (verified here).
    method: str = ""
    reason: str = ""


def sender_authenticate(*, raw: bytes, message: EmailMessage) -> SenderCheck:
    """Whether ``message`` (whose bytes are ``raw``) comes from its From address (module docstring)."""
    domain, problem = from_domain(message)
    if problem:
        return SenderCheck(domain="", verified=False, reason=problem)
    method = _authentication_results(message, domain)
    if method:
        return SenderCheck(domain=domain, verified=True, method=method)
    if settings.SCART_MAIL_DKIM_VERIFY:
        problem = _dkim_verify(raw, domain)
        if not problem:
            return SenderCheck(domain=domain, verified=True, method="dkim-local")
    else:
        problem = "no local DKIM verification (SCART_MAIL_DKIM_VERIFY is off)"
    trusted = settings.SCART_MAIL_AUTHSERV_ID.strip()
    server = f"no pass from {trusted}" if trusted else "no trusted authserv-id set"
    return SenderCheck(domain=domain, verified=False, reason=f"{server}; {problem}")


def from_domain(message: EmailMessage) -> tuple[str, str]:
    """The domain of the message's one From address, lower case, or ``""`` and why there is none."""
    values = [str(value) for value in message.get_all("From", [])]
    if len(values) != 1:
        return "", f"{len(values)} From headers"
    addresses = [address for _name, address in getaddresses(values) if address]
    if len(addresses) != 1 or addresses[0].count("@") != 1:
        return "", "no single From address"
    domain = addresses[0].rsplit("@", 1)[1].strip().lower().rstrip(".")
    return (domain, "") if domain else ("", "no From domain")


def aligned(signer: str, domain: str) -> bool:
    """Whether ``signer`` (a DKIM ``d=``) is ``domain`` or a parent of it in the same registrable domain."""
    signer = signer.strip().lower().rstrip(".")
    if not signer or not (domain == signer or domain.endswith("." + signer)):
        return False
    # A public suffix is its own "registrable domain"; it must not sign for the names under it.
    return registrable_domain(signer) == registrable_domain(domain) and "." in registrable_domain(signer)


# -- the receiving server's word -----------------------------------------------------------------


def _authentication_results(message: EmailMessage, domain: str) -> str:
    """``dmarc`` or ``dkim`` when the trusted server's topmost headers pass the From domain, else ``""``."""
    trusted = settings.SCART_MAIL_AUTHSERV_ID.strip().lower()
    if not trusted:
        return ""
    ours = [value for value in _header_values(message) if authserv_id(value) == trusted]
    for value in ours[: max(settings.SCART_MAIL_AUTHSERV_HEADERS, 1)]:
        try:
            header = authres.AuthenticationResultsHeader.parse(f"Authentication-Results: {value}")
        except authres.AuthResError:
            log.info("mailbox: an Authentication-Results header of %s cannot be parsed: %r", trusted, value[:200])
            continue
        for result in header.results:
            method, outcome = str(result.method).lower(), str(result.result).lower()
            if outcome != "pass":
                continue
            if method == "dmarc" and _property(result, "header", "from").lower().rstrip(".") == domain:
                return "dmarc"
            if method == "dkim" and aligned(_property(result, "header", "d"), domain):
                return "dkim"
    return ""


def _header_values(message: EmailMessage) -> list[str]:
    """The Authentication-Results headers, topmost first, each unfolded."""
    return [" ".join(str(value).split()) for value in message.get_all("Authentication-Results", [])]


def authserv_id(value: str) -> str:
    """The authserv-id of an Authentication-Results header value, lower case."""
    head = _COMMENT.sub(" ", value.split(";", 1)[0]).split()
    return head[0].lower() if head else ""


def _property(result: object, ptype: str, name: str) -> str:
    for prop in getattr(result, "properties", []):
        if str(prop.type).lower() == ptype and str(prop.name).lower() == name:
            return str(prop.value)
    return ""


# -- local DKIM verification ---------------------------------------------------------------------


def _dkim_verify(raw: bytes, domain: str) -> str:
    """``""`` when a signature aligned with ``domain`` verifies, else why none does."""
    try:
        verifier = dkim.DKIM(raw, minkey=1024, timeout=max(int(settings.SCART_DNS_LIFETIME), 1))
    except dkim.DKIMException as exc:
        return f"DKIM: unreadable message ({exc})"
    signatures = [value for name, value in verifier.headers if name.lower() == b"dkim-signature"]
    if not signatures:
        return "no DKIM signature"
    failures: list[str] = []
    lookup = _TxtLookup()
    for index, value in enumerate(signatures[:MAX_SIGNATURES]):
        problem = _signature_problem(value, domain)
        if problem:
            failures.append(problem)
            continue
        try:
            verified = verifier.verify(idx=index, dnsfunc=lookup)
        except dkim.DKIMException as exc:
            failures.append(f"DKIM signature {index + 1}: {exc}")
            continue
        if verified:
            return ""
        failures.append(f"DKIM signature {index + 1} of {_tag(value, b'd')} does not verify")
    if lookup.errors:
        raise MailAuthUnavailable(f"DKIM key lookup failed: {'; '.join(lookup.errors)}")
    return "; ".join(failures)


def _signature_problem(value: bytes, domain: str) -> str:
    """Why a DKIM-Signature header cannot vouch for ``domain`` whatever the key says, or ``""``."""
    try:
        tags = dkim.util.parse_tag_value(value)
    except dkim.util.InvalidTagValueList:
        return "unreadable DKIM-Signature"
    signer = tags.get(b"d", b"").decode("ascii", "replace")
    if not aligned(signer, domain):
        return f"DKIM signature of {signer or '?'} is not aligned with {domain}"
    if b"l" in tags:
        return f"DKIM signature of {signer} covers only part of the body (l=)"
    signed = [name.strip().lower() for name in tags.get(b"h", b"").split(b":")]
    if b"from" not in signed:
        return f"DKIM signature of {signer} does not sign the From header"
    return ""


def _tag(value: bytes, name: bytes) -> str:
    try:
        tag: bytes = dkim.util.parse_tag_value(value).get(name, b"?")
    except dkim.util.InvalidTagValueList:
        return "?"
    return tag.decode("ascii", "replace")


class _TxtLookup:
    """dkimpy's DNS function: the TXT record of a key, through the project's resolver.

    A name that does not exist, or has no TXT record, is no key (the signature fails); a timeout
    or servers that fail are recorded in ``errors`` (the caller decides to try again later).
    """

    def __init__(self) -> None:
        self.resolver = make_resolver(
            settings.SCART_DNS_NAMESERVERS, timeout=settings.SCART_DNS_TIMEOUT, lifetime=settings.SCART_DNS_LIFETIME
        )
        self.errors: list[str] = []

    def __call__(self, name: bytes, timeout: int = 5) -> bytes | None:
        try:
            qname = name.decode("ascii")
        except UnicodeDecodeError:
            return None
        try:
            answer = self.resolver.resolve(qname, dns.rdatatype.TXT, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            return None
        except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
            self.errors.append(f"{qname}: {type(exc).__name__}")
            return None
        except dns.exception.DNSException:
            return None
        for rrset in answer.response.answer:
            if rrset.rdtype == dns.rdatatype.TXT:
                for rdata in rrset:
                    return b"".join(rdata.strings)
        return None
