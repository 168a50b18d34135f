"""Deadlines for cases whose starting event happened before the rule existed (or before it
changed): a senior's new or changed rule is applied to the tracked cases, as if it had been there
at their verdict and first notice.

The cases are walked in bounded batches by id, so a backfill over a million cases never holds a
long transaction or a long task: `routing.tasks.deadlines_backfill_task` does one batch and queues
the next, and `manage.py deadlines_backfill` loops over them. Each batch replays the starting
events through `deadlines_start` (the verdict, then the first notice of the case's current cycle),
which is idempotent: a case keeps a deadline that already follows the right rule, and one breached
or closed is never changed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from reports.models import Case, CaseState
from routing.deadlines.rules import FIRST_NOTICE_KINDS, deadlines_start
from routing.models import DeadlineRule, DeadlineStart, NoticeCase, NoticeState

BATCH_SIZE = 500


@dataclass(frozen=True)
class BackfillBatch:
    """What one batch did: the cases it looked at, the deadlines it set, and where the next batch
    starts (None when the walk is done)."""

    cases: int
    set: int
    next_after: int | None


def _first_notices(case_ids: list[int]) -> dict[tuple[int, str, int | None, str, datetime], list[int]]:
    """The first notice sent about each case in its current cycle, grouped by notice: (id, kind,
    provider, reference, sent_at) -> its cases."""
    rows = (
        NoticeCase.objects.filter(
            case_id__in=case_ids,
            notice__kind__in=FIRST_NOTICE_KINDS,
            notice__state=NoticeState.SENT,
            notice__sent_at__isnull=False,
        )
        .values_list(
            "case_id",
            "case__cycle_started_at",
            "notice_id",
            "notice__kind",
            "notice__provider_id",
            "notice__reference",
            "notice__sent_at",
        )
        .order_by("case_id", "notice__sent_at", "notice_id")
    )
    first: dict[int, tuple[int, str, int | None, str, datetime]] = {}
    for case_id, cycle, notice_id, kind, provider_id, reference, sent_at in rows:
        if sent_at is None or case_id in first or (cycle is not None and sent_at < cycle):
            continue  # a notice of an earlier cycle (the content came back since)
        first[case_id] = (notice_id, kind, provider_id, reference, sent_at)
    grouped: dict[tuple[int, str, int | None, str, datetime], list[int]] = defaultdict(list)
    for case_id, notice in first.items():
        grouped[notice].append(case_id)
    return grouped


def deadlines_backfill_batch(*, after: int = 0, size: int | None = None) -> BackfillBatch:
    """Apply the active rules to the next ``size`` (`BATCH_SIZE`) tracked cases with an id above
    ``after``."""
    size = size or BATCH_SIZE
    if not DeadlineRule.objects.filter(active=True).exists():
        return BackfillBatch(cases=0, set=0, next_after=None)
    ids = list(
        Case.objects.filter(pk__gt=after, state__in=CaseState.TRACKED)
        .order_by("pk")
        .values_list("pk", flat=True)[:size]
    )
    if not ids:
        return BackfillBatch(cases=0, set=0, next_after=None)
    now = timezone.now()
    written = 0
    with transaction.atomic():
        # The verdict first (each case's own verdict time), then the first notice, as it happened.
        written += len(deadlines_start(case_ids=ids, event=DeadlineStart.VERDICT, at=now, recorded_at=now))
        for (_pk, kind, provider_id, reference, sent_at), case_ids in _first_notices(ids).items():
            written += len(
                deadlines_start(
                    case_ids=case_ids,
                    event=DeadlineStart.NOTICE,
                    at=sent_at,
                    notice_kind=kind,
                    notice_provider_id=provider_id,
                    notice_reference=reference,
                    recorded_at=now,
                )
            )
    return BackfillBatch(cases=len(ids), set=written, next_after=ids[-1] if len(ids) == size else None)
