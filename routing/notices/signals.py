"""A case that moved to another provider after its verdict is planned again at once, so that the
new provider hears of it (the old one's queued messages drop it when they are sent)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from reports.models import Case
from routing.services import provider_changed


@receiver(provider_changed)
def plan_after_provider_change(sender: Any, *, case_id: int, **kwargs: Any) -> None:
    from routing.notices.planning import NOTICE_STATES, cases_request_planning

    if Case.objects.filter(pk=case_id, state__in=NOTICE_STATES).exists():
        cases_request_planning(case_ids=[case_id])
