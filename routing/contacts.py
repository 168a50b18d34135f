"""Choosing a network's abuse address from the entities of its RDAP record.

The rules, in order (docs/resolution.md has them with examples from real records):

1. **abuse-role** (high): the addresses of entities with the ``abuse`` role, at any depth, except
   addresses of a registry itself (RIR/NIR mailboxes such as ``hostmaster@nic.or.kr``, which
   APNIC lists as the abuse contact of whole national ranges).
2. **abuse-like-address** (high): an ``abuse@``-style address listed under any other role (or
   under no role). It is preferred over a registry's own abuse role: it is the operator's mailbox.
3. A registry's own abuse role, when nothing better exists: source **abuse-role**, confidence
   low.
4. **technical-or-administrative** (low): the addresses of ``technical``, ``noc`` and
   ``administrative`` entities, in that order of preference, registry mailboxes last.
5. **no-roles** (low), for records whose entities carry no roles at all (AFRINIC): the addresses of
   ``group`` entities (role mailboxes such as maintainers), else of ``org`` entities, else of
   individuals; registry mailboxes last.
6. **none**: no address at all.

Low and none never lead to a notice silently: the case goes to the contact-check queue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from routing.models import AbuseSource, Confidence

# Mail domains of the regional and national internet registries. Their mailboxes appear as
# contacts of ranges they administer, but they do not host anything.
REGISTRY_MAIL_DOMAINS = (
    "afrinic.net",
    "apnic.net",
    "arin.net",
    "lacnic.net",
    "ripe.net",
    "nic.ad.jp",
    "jpnic.net",
    "nic.or.kr",
    "krnic.net",
    "kisa.or.kr",
    "cnnic.cn",
    "cnnic.net.cn",
    "twnic.net.tw",
    "twnic.tw",
    "idnic.net",
    "vnnic.vn",
    "vnnic.net.vn",
    "irinn.in",
    "nic.br",
    "registro.br",
    "nic.mx",
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ABUSE_LIKE = re.compile(r"abuse", re.IGNORECASE)
_TECH_ROLES = ("technical", "noc", "administrative")


@dataclass(frozen=True)
class Entity:
    """An RDAP entity, flattened: nesting is kept as ``parent``."""

    handle: str
    roles: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    name: str = ""
    kind: str = ""
    parent: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "roles": list(self.roles),
            "emails": list(self.emails),
            "name": self.name,
            "kind": self.kind,
            "parent": self.parent,
        }


@dataclass(frozen=True)
class AbuseContact:
    emails: tuple[str, ...]
    source: str
    confidence: str
    handle: str = ""  # the entity the addresses came from (the first, when several)
    notes: tuple[str, ...] = field(default=())


def is_registry_address(email: str) -> bool:
    domain = email.rpartition("@")[2].lower()
    return any(domain == d or domain.endswith("." + d) for d in REGISTRY_MAIL_DOMAINS)


def is_abuse_like(email: str) -> bool:
    return bool(_ABUSE_LIKE.search(email.partition("@")[0]))


def clean_emails(values: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased, valid-looking, without duplicates, in the order given."""
    seen: dict[str, None] = {}
    for value in values:
        email = value.strip().strip("<>").lower()
        if email.startswith("mailto:"):
            email = email[len("mailto:") :]
        if _EMAIL.match(email):
            seen.setdefault(email)
    return tuple(seen)


def choose_abuse_contact(entities: Sequence[Entity]) -> AbuseContact:
    """Apply the rules of the module docstring to a network's entities."""
    abuse_entities = [e for e in entities if "abuse" in e.roles and e.emails]
    abuse_emails = clean_emails(email for e in abuse_entities for email in e.emails)
    operator_abuse = tuple(e for e in abuse_emails if not is_registry_address(e))
    if operator_abuse:
        return AbuseContact(
            operator_abuse, AbuseSource.ABUSE_ROLE, Confidence.HIGH, _first_handle(abuse_entities, operator_abuse)
        )

    all_emails = clean_emails(email for e in entities for email in e.emails)
    abuse_like = tuple(e for e in all_emails if is_abuse_like(e) and not is_registry_address(e))
    if abuse_like:
        notes = ("the abuse role names the registry; the operator's abuse mailbox is used",) if abuse_emails else ()
        return AbuseContact(
            abuse_like, AbuseSource.ABUSE_LIKE, Confidence.HIGH, _first_handle(entities, abuse_like), notes
        )

    if abuse_emails:
        return AbuseContact(
            abuse_emails,
            AbuseSource.ABUSE_ROLE,
            Confidence.LOW,
            _first_handle(abuse_entities, abuse_emails),
            ("the only abuse contact is the registry's own",),
        )

    if any(e.roles for e in entities):
        for role in _TECH_ROLES:
            holders = [e for e in entities if role in e.roles and e.emails]
            emails = _registry_last(clean_emails(email for e in holders for email in e.emails))
            if emails:
                return AbuseContact(emails, AbuseSource.TECH_ADMIN, Confidence.LOW, _first_handle(holders, emails))
    elif entities:
        for kind in ("group", "org", "individual", ""):
            holders = [e for e in entities if (e.kind or "") == kind and e.emails]
            emails = _registry_last(clean_emails(email for e in holders for email in e.emails))
            if emails:
                return AbuseContact(emails, AbuseSource.NO_ROLES, Confidence.LOW, _first_handle(holders, emails))

    return AbuseContact((), AbuseSource.NONE, Confidence.NONE)


def organisation(entities: Sequence[Entity], contact: AbuseContact | None = None) -> Entity | None:
    """The entity that stands for the network's holder: a named registrant (top level first), else
    an ``org`` entity, else the entity whose address was chosen as the abuse contact, unless that
    is a registry's. None when only the network itself can name the holder."""
    named_registrants = [e for e in entities if "registrant" in e.roles and e.name]
    for entity in sorted(named_registrants, key=lambda e: bool(e.parent)):
        return entity
    for entity in entities:
        if entity.kind == "org" or entity.handle.upper().startswith("ORG-"):
            return entity
    if contact is not None and contact.handle:
        for entity in entities:
            if entity.handle == contact.handle and not all(is_registry_address(e) for e in entity.emails):
                return entity
    return None


def _registry_last(emails: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(sorted(emails, key=is_registry_address))


def _first_handle(entities: Sequence[Entity], emails: Sequence[str]) -> str:
    wanted = set(emails)
    for entity in entities:
        if wanted.intersection(clean_emails(entity.emails)):
            return entity.handle
    return ""
