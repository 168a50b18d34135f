"""Asking a recipient's system what became of the parts it took (a provider API's report status).

Parts delivered with an ``external_id`` whose status is not final are asked again every
``SCART_DELIVERY_POLL_MINUTES`` by their channel's transport (`Transport.poll`); the answer is
kept on the part (``status``, ``status_checked_at``). A status the recipient calls final is kept
with `FINAL_PREFIX` and not asked about again."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from routing.models import DeliveryState, NoticeDelivery
from routing.notices.channels.base import PermanentFailure, TemporaryFailure
from routing.notices.channels.registry import Transports

log = logging.getLogger(__name__)

# A status the recipient's system calls final is kept with this prefix, so it is not asked again.
FINAL_PREFIX = "final:"


@dataclass
class PollSummary:
    asked: int = 0
    changed: int = 0
    failed: int = 0


def deliveries_due_for_poll(*, now: datetime, limit: int) -> list[NoticeDelivery]:
    every = timedelta(minutes=settings.SCART_DELIVERY_POLL_MINUTES)
    return list(
        NoticeDelivery.objects.filter(state=DeliveryState.SENT)
        .exclude(external_id="")
        .exclude(status__startswith=FINAL_PREFIX)
        .filter(Q(status_checked_at__isnull=True) | Q(status_checked_at__lt=now - every))
        .select_related("notice")
        .order_by("status_checked_at", "id")[:limit]
    )


def deliveries_poll(*, now: datetime | None = None, limit: int = 200) -> PollSummary:
    """Ask about the parts whose status is due (see the module)."""
    now = now or timezone.now()
    summary = PollSummary()
    with Transports() as transports:
        for delivery in deliveries_due_for_poll(now=now, limit=limit):
            summary.asked += 1
            try:
                answer = transports.get(delivery.channel).poll(delivery)
            except (TemporaryFailure, PermanentFailure) as exc:
                summary.failed += 1
                log.warning("status of %s/%s not known now: %s", delivery.notice_id, delivery.part_key, exc)
                NoticeDelivery.objects.filter(pk=delivery.pk).update(status_checked_at=now)
                continue
            status = delivery.status
            if answer is not None:
                status = (FINAL_PREFIX if answer.final else "") + answer.status
                status = status[:100]
            if status != delivery.status:
                summary.changed += 1
            NoticeDelivery.objects.filter(pk=delivery.pk).update(status=status, status_checked_at=now)
    return summary
