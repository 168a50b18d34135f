"""Contact confirmation: a senior analyst confirms (or corrects) a provider's abuse addresses."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import AuditAction
from accounts.services import audit_record
from reports.cases.services import Actor, event_new, events_append
from reports.models import Case, EventKind
from routing.models import AbuseRule, AbuseSource, Confidence, ContactStats, Provider
from routing.resolution.contacts import clean_emails
from routing.resolution.signals import contact_confirmed


def contact_confirm(*, provider: Provider, emails: Sequence[str], actor: Actor) -> int:
    """A senior analyst confirms (or corrects) a provider's abuse addresses: the provider becomes
    verified with source ``manual``, and its cases leave the contact-check queue. Addresses retired
    after hard bounces (`ContactStats`) are marked checked; those confirmed again are used again.
    Returns the number of cases released."""
    cleaned = list(clean_emails(emails))
    if not cleaned:
        raise ValueError("at least one valid address is needed")
    before = {"abuse_emails": list(provider.abuse_emails or []), "verified": provider.verified}
    with transaction.atomic():
        # A queryset update skips the model signals that audit other provider changes.
        audit_record(
            action=AuditAction.CONTACT_CHANGED,
            actor=actor.user,
            obj=provider,
            summary=gettext_noop("confirmed the abuse contact of %(provider)s"),
            summary_params={"provider": str(provider)},
            data={"before": before, "after": {"abuse_emails": cleaned, "verified": True}},
        )
        Provider.objects.filter(pk=provider.pk).update(
            abuse_emails=cleaned,
            abuse_source=AbuseSource.MANUAL,
            abuse_rule=AbuseRule.MANUAL,
            confidence=Confidence.HIGH,
            verified=True,
            contact_flagged_at=None,
            contact_flag_reason="",
            retired_emails=[e for e in provider.retired_emails or [] if e.lower() not in cleaned],
        )
        now = timezone.now()
        ContactStats.objects.filter(provider=provider, retired_at__isnull=False, checked_at__isnull=True).update(
            checked_at=now, checked_by=actor.user
        )
        ContactStats.objects.filter(provider=provider, address__in=cleaned).update(
            retired_at=None, retired_reason="", hard_bounces_in_row=0
        )
        cases = list(Case.objects.filter(Q(provider=provider) & Q(contact_check=True)))
        Case.objects.filter(pk__in=[c.pk for c in cases]).update(
            contact_check=False, contact_confidence=Confidence.HIGH
        )
        events_append(
            event_new(
                case=c,
                kind=EventKind.CONTACT_CHECKED,
                actor=actor,
                at=now,
                data={"provider_id": provider.pk, "abuse_emails": cleaned},
            )
            for c in cases
        )
        # Released cases, and those of this provider a bounce had sent back, get their notices now
        # (notices, a later stage, plan them: `routing.notices.signals`), in this transaction.
        contact_confirmed.send(sender=Provider, provider_id=provider.pk)
    provider.refresh_from_db()
    return len(cases)


__all__ = ["contact_confirm"]
