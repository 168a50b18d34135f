"""The unknown sweep: a notice found in ``sending`` longer than ``SCART_NOTICE_SENDING_TIMEOUT``
belongs to a sender that died. What happens next depends on where it died (its parts say):

- mid-attempt (a part is ``sending``): that part and the notice become ``unknown`` and wait for a
  person, because the message may or may not have left;
- between two parts (every part ``sent`` or ``pending``: one message per URL, k of N gone), or
  after its last part went but before the notice was recorded: nothing is in doubt, so the notice
  is queued again at once and the next run sends the parts still pending (none, in the second
  case: it only records the notice sent), never the k that went.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from routing.models import DeliveryState, Notice, NoticeDelivery, NoticeState
from routing.notices.channels.parts import deliveries_transition
from routing.notices.states import notices_transition

log = logging.getLogger(__name__)

UNKNOWN_REASON = "the sender stopped during the attempt; the message may or may not have left"


def notices_mark_unknown(*, now: datetime | None = None) -> int:
    """Notices left in ``sending`` by a sender that died: ``unknown``, for a person to decide, or
    queued again when it died between parts (see the module). Returns how many were found."""
    now = now or timezone.now()
    stuck = list(
        Notice.objects.filter(
            state=NoticeState.SENDING, sending_since__lt=now - settings.SCART_NOTICE_SENDING_TIMEOUT
        ).values_list("id", "reference")
    )
    for pk, reference in stuck:
        with transaction.atomic():
            parts = set(NoticeDelivery.objects.filter(notice_id=pk).values_list("state", flat=True))
            between = bool(parts) and parts <= {DeliveryState.SENT, DeliveryState.PENDING}
            if between:
                if notices_transition(
                    notices=Notice.objects.filter(pk=pk),
                    to=NoticeState.QUEUED,
                    expected_from=[NoticeState.SENDING],
                    reason="the sender stopped between two parts; the parts that went are not sent again",
                    sending_since=None,
                    claimed_until=None,
                    due_at=now,
                ):
                    log.warning("notice %s: the sender stopped between parts; the rest is queued", reference)
                continue
            if notices_transition(
                notices=Notice.objects.filter(pk=pk),
                to=NoticeState.UNKNOWN,
                expected_from=[NoticeState.SENDING],
                reason=UNKNOWN_REASON,
            ):
                deliveries_transition(
                    deliveries=NoticeDelivery.objects.filter(notice_id=pk),
                    to=DeliveryState.UNKNOWN,
                    expected_from=[DeliveryState.SENDING],
                    reason=UNKNOWN_REASON,
                )
                log.error("notice %s: found in sending after a crash; marked unknown for a person to check", reference)
    return len(stuck)
