"""A case that moved to another provider after its verdict is planned again at once, so that the
new provider hears of it (the old one's queued messages drop it when they are sent). When a senior
analyst confirms a provider's abuse contact, the provider's cases that wait for a notice are
planned (those released from the contact check, and those a bounce had sent back)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from reports.models import Case
from routing.notices.planning import NOTICE_STATES, cases_request_planning
from routing.resolution.signals import contact_confirmed, provider_changed


@receiver(provider_changed)
def plan_after_provider_change(sender: Any, *, case_id: int, **kwargs: Any) -> None:
    if Case.objects.filter(pk=case_id, state__in=NOTICE_STATES).exists():
        cases_request_planning(case_ids=[case_id])


@receiver(contact_confirmed)
def plan_after_contact_confirmed(sender: Any, *, provider_id: int, **kwargs: Any) -> None:
    cases_request_planning(
        case_ids=list(
            Case.objects.filter(provider_id=provider_id, state__in=NOTICE_STATES).values_list("id", flat=True)
        )
    )
