"""Choosing a network's abuse address from the entities of its RDAP record.

The rules, in order; each has a short code (`routing.models.AbuseRule`) stored with the network,
the case's resolution and the provider, so the pages can say why an address was chosen
(docs/resolution.md has them with examples from real records). "Abuse entities" are the entities
with the ``abuse`` role, at any depth; registry mailboxes (RIR/NIR addresses such as
``hostmaster@nic.or.kr``, which APNIC lists as the abuse contact of whole national ranges) never
count as the operator's in rules 1 to 4.

1. **marked_abuse** (high): the addresses the registry marks as the abuse mailbox on the abuse
   entities: a vCard ``email`` whose ``type`` is ``abuse`` (RIPE's ``abuse-mailbox``), or on
   APNIC the one marked ``pref: 1`` (its ``abuse-mailbox``). The entity's other addresses (RIPE's
   ``e-mail``, an IRT's ``hostmaster@``) are left out.
2. **abuse_local_part** (high): nothing marked: the abuse entities' addresses whose local part
   contains ``abuse``.
3. **abuse_role_all** (high): nothing marked and no such address: every address of the abuse
   entities (ARIN and LACNIC mark nothing; their abuse POC is one mailbox).
4. **abuse_elsewhere** (high): the abuse entities give no operator address: an address marked as
   an abuse mailbox under any other role, else one whose local part contains ``abuse``. It is
   preferred over a registry's own abuse role: it is the operator's mailbox.
5. **registry_abuse_role** (low): only a registry's own abuse mailbox exists (its marked
   addresses when it marks any).
6. **tech_admin** (low): the addresses of ``technical``, ``noc`` and ``administrative``
   entities, in that order of preference, registry mailboxes last.
7. **no_roles** (low), for records whose entities carry no roles at all (AFRINIC): the addresses of
   ``group`` entities (role mailboxes such as maintainers), else of ``org`` entities, else of
   individuals; registry mailboxes last.
8. **none**: no address at all.

Low and none never lead to a notice silently: the case goes to the contact-check queue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from routing.models import AbuseRule, AbuseSource, Confidence

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
    # The addresses among ``emails`` that the registry marks as the abuse mailbox.
    marked: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "roles": list(self.roles),
            "emails": list(self.emails),
            "name": self.name,
            "kind": self.kind,
            "parent": self.parent,
            "marked": list(self.marked),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Entity:
        return cls(
            handle=data["handle"],
            roles=tuple(data["roles"]),
            emails=tuple(data["emails"]),
            name=data["name"],
            kind=data["kind"],
            parent=data.get("parent", ""),
            marked=tuple(data.get("marked", ())),
        )

    @property
    def is_maintainer(self) -> bool:
        """A RIPE-style maintainer (``mnt-by``), which RDAP lists as a registrant named by its
        handle: it says who may edit the record, not who holds the network."""
        return self.handle.upper().endswith("-MNT") or (bool(self.name) and self.name.upper() == self.handle.upper())


@dataclass(frozen=True)
class AbuseContact:
    emails: tuple[str, ...]
    source: str
    confidence: str
    handle: str = ""  # the entity the addresses came from (the first, when several)
    notes: tuple[str, ...] = field(default=())
    rule: str = AbuseRule.NONE  # the rung of the module docstring that chose ``emails``


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
        marked = clean_emails(email for e in abuse_entities for email in e.marked)
        for rule, emails in (
            (AbuseRule.MARKED_ABUSE, tuple(e for e in marked if e in operator_abuse)),
            (AbuseRule.ABUSE_LOCAL_PART, tuple(e for e in operator_abuse if is_abuse_like(e))),
            (AbuseRule.ABUSE_ROLE_ALL, operator_abuse),
        ):
            if emails:
                handle = _first_handle(abuse_entities, emails)
                return AbuseContact(emails, AbuseSource.ABUSE_ROLE, Confidence.HIGH, handle, rule=rule)

    others = [e for e in entities if e not in abuse_entities]
    marked_elsewhere = clean_emails(email for e in others for email in e.marked)
    all_emails = clean_emails(email for e in others for email in e.emails)
    for emails in (marked_elsewhere, tuple(e for e in all_emails if is_abuse_like(e))):
        emails = tuple(e for e in emails if not is_registry_address(e))
        if emails:
            notes = ("the abuse role names the registry; the operator's abuse mailbox is used",) if abuse_emails else ()
            return AbuseContact(
                emails,
                AbuseSource.ABUSE_LIKE,
                Confidence.HIGH,
                _first_handle(others, emails),
                notes,
                AbuseRule.ABUSE_ELSEWHERE,
            )

    if abuse_emails:
        registry_marked = clean_emails(email for e in abuse_entities for email in e.marked)
        emails = registry_marked or abuse_emails
        return AbuseContact(
            emails,
            AbuseSource.ABUSE_ROLE,
            Confidence.LOW,
            _first_handle(abuse_entities, emails),
            ("the only abuse contact is the registry's own",),
            AbuseRule.REGISTRY_ABUSE_ROLE,
        )

    if any(e.roles for e in entities):
        for role in _TECH_ROLES:
            holders = [e for e in entities if role in e.roles and e.emails]
            emails = _registry_last(clean_emails(email for e in holders for email in e.emails))
            if emails:
                handle = _first_handle(holders, emails)
                return AbuseContact(emails, AbuseSource.TECH_ADMIN, Confidence.LOW, handle, rule=AbuseRule.TECH_ADMIN)
    elif entities:
        for kind in ("group", "org", "individual", ""):
            holders = [e for e in entities if (e.kind or "") == kind and e.emails]
            emails = _registry_last(clean_emails(email for e in holders for email in e.emails))
            if emails:
                handle = _first_handle(holders, emails)
                return AbuseContact(emails, AbuseSource.NO_ROLES, Confidence.LOW, handle, rule=AbuseRule.NO_ROLES)

    return AbuseContact((), AbuseSource.NONE, Confidence.NONE, rule=AbuseRule.NONE)


def organisation(entities: Sequence[Entity], contact: AbuseContact | None = None) -> Entity | None:
    """The entity that stands for the network's holder, whose name goes on notices:

    1. a named registrant of kind ``org`` (top level first): RIPE's organisation object, ARIN's
       and LACNIC's registrant;
    2. any other ``org`` entity, or one with an ``ORG-`` handle (AFRINIC's, which carry no roles);
    3. a named registrant that is not a maintainer: RIPE lists its ``mnt-by`` maintainers as
       registrants named by their handle ("coloclue-mnt"), and one maintainer (``RIPE-NCC-HM-MNT``,
       a LIR's) may stand on the networks of many holders;
    4. the entity whose address was chosen as the abuse contact, unless that is a registry's.

    None when only the network itself can name the holder."""
    top_first = sorted(entities, key=lambda e: bool(e.parent))
    for entity in top_first:
        if "registrant" in entity.roles and entity.kind == "org" and entity.name:
            return entity
    for entity in entities:
        if entity.kind == "org" or entity.handle.upper().startswith("ORG-"):
            return entity
    for entity in top_first:
        if "registrant" in entity.roles and entity.name and not entity.is_maintainer:
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
