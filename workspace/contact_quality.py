"""The page model of a provider's contact quality: each address in the provider's contact order
(docs/notices.md, "Contact quality"), what went to it and came back (`ContactStats`), and which
of them notices go to now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from routing.jurisdiction import provider_contacts
from routing.models import ContactStats, Provider


@dataclass(frozen=True)
class QualityRow:
    address: str
    role: str  # abuse address, fallback address, earlier address
    state: str  # in use, standby, retired ...
    in_use: bool
    retired: bool
    awaiting_check: bool
    notices_sent: int
    hard_bounces: int
    soft_bounces: int
    replies: int
    mean_reaction_hours: float | None
    mean_removal_hours: float | None
    last_sent_at: datetime | None


@dataclass(frozen=True)
class ContactQuality:
    rows: tuple[QualityRow, ...]
    in_use: tuple[str, ...]  # where notices go now; empty: held for the contact check
    flagged: bool
    threshold: int


def contact_quality(provider: Provider, *, threshold: int) -> ContactQuality:
    stats = {s.address: s for s in ContactStats.objects.filter(provider=provider)}
    in_use = provider_contacts(provider)
    using = {e.lower() for e in in_use}
    retired = {e.lower() for e in provider.retired_emails or ()}
    order: list[tuple[str, str]] = [(e.lower(), _("abuse address")) for e in provider.abuse_emails or ()]
    if provider.fallback_email:
        order.append((provider.fallback_email.lower(), _("fallback address")))
    listed = {a for a, _role in order}
    order += [(a, _("earlier address")) for a in sorted(stats) if a not in listed]
    rows = []
    for address, role in dict(order).items():
        s = stats.get(address) or ContactStats(address=address)
        is_retired = address in retired or s.retired_at is not None
        if address in using:
            state = _("in use")
        elif is_retired:
            state = (
                _("retired after hard bounces: waiting for a senior analyst's check")
                if s.awaiting_check
                else _("retired after hard bounces")
            )
        elif role == _("earlier address"):
            state = _("no longer listed")
        else:
            state = _("standby: used when the addresses above are retired")
        rows.append(
            QualityRow(
                address=address,
                role=role,
                state=state,
                in_use=address in using,
                retired=is_retired,
                awaiting_check=s.awaiting_check,
                notices_sent=s.notices_sent,
                hard_bounces=s.hard_bounces,
                soft_bounces=s.soft_bounces,
                replies=s.replies,
                mean_reaction_hours=s.mean_reaction_hours,
                mean_removal_hours=s.mean_removal_hours,
                last_sent_at=s.last_sent_at,
            )
        )
    return ContactQuality(
        rows=tuple(rows), in_use=in_use, flagged=provider.contact_flagged_at is not None, threshold=threshold
    )
