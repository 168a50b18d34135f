"""Claiming due notices: a conditional update with a lease, so two senders never hold one notice."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet

from routing.models import Notice, NoticeState

CLAIM_LEASE = timedelta(minutes=30)


def _claimable(now: datetime, *, flush: bool) -> QuerySet[Notice]:
    """Queued notices that are due (all queued ones with ``flush``), not claimed by a live sender.
    Flushing skips batch windows, not the backoff of a notice that failed for now."""
    rows = Notice.objects.filter(state=NoticeState.QUEUED).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    return rows.filter(due_at__lte=now) if not flush else rows.filter(Q(attempts=0) | Q(due_at__lte=now))


def notices_claim(notice_ids: Sequence[int], *, now: datetime, flush: bool = False) -> tuple[str, list[Notice]]:
    """Claim these notices for this sender: a lease, and no more cases may join them."""
    token = secrets.token_hex(16)
    ids = list(notice_ids)
    _claimable(now, flush=flush).filter(pk__in=ids).update(
        claimed_until=now + CLAIM_LEASE, claim_token=token, open=False
    )
    claimed = Notice.objects.filter(pk__in=ids, claim_token=token, state=NoticeState.QUEUED)
    return token, list(claimed.order_by("-urgent", "due_at"))


def notices_claim_due(*, now: datetime, limit: int, flush: bool = False) -> tuple[str, list[Notice]]:
    """Claim up to ``limit`` due notices. Senders running at once take disjoint sets: rows another
    sender is claiming right now are skipped (``SKIP LOCKED``), not waited for, and the claim
    itself is conditional, so a notice is never held by two senders."""
    with transaction.atomic():
        ids = list(
            _claimable(now, flush=flush)
            .order_by("-urgent", "due_at", "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        return notices_claim(ids, now=now, flush=flush)
