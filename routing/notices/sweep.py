"""The unknown sweep: a notice found in ``sending`` longer than ``SCART_NOTICE_SENDING_TIMEOUT``
belongs to a sender that died mid-attempt. It becomes ``unknown`` and waits for a person, because
the message may or may not have left."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from routing.models import Notice, NoticeState
from routing.notices.states import notices_transition

log = logging.getLogger(__name__)


def notices_mark_unknown(*, now: datetime | None = None) -> int:
    """Notices left in ``sending`` by a sender that died: ``unknown``, for a person to decide."""
    now = now or timezone.now()
    stuck = list(
        Notice.objects.filter(
            state=NoticeState.SENDING, sending_since__lt=now - settings.SCART_NOTICE_SENDING_TIMEOUT
        ).values_list("id", "reference")
    )
    for pk, reference in stuck:
        if notices_transition(
            notices=Notice.objects.filter(pk=pk),
            to=NoticeState.UNKNOWN,
            expected_from=[NoticeState.SENDING],
            reason="the sender stopped during the attempt; the message may or may not have left",
        ):
            log.error("notice %s: found in sending after a crash; marked unknown for a person to check", reference)
    return len(stuck)
