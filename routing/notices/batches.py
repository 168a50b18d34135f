"""Batches and their notices: cases gathered in memory for one recipient and kind, then joined
to the open notice for their key (created, with a fresh reference, when there is none).

A notice goes out on its recipient's delivery channel (`DeliveryChannel`), recorded on the notice
when its batch is joined: the open notice is the one with the same key, channel and part, so a
senior changing a recipient's channel starts a new notice. A provider's API takes the URLs of one
hostname per report, at most ``PROVIDER_API_MAX_URLS``: its batches are split by host.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from reports.models import Case
from routing.jurisdiction import Recipient, RecipientKind
from routing.models import (
    PROVIDER_API_MAX_URLS,
    DeliveryChannel,
    Notice,
    NoticeCase,
    NoticeCounter,
    NoticeKind,
    NoticeState,
    PartnerHotline,
    Provider,
)
from scart.db import commit_without_waiting_for_disk

# Notices that no longer count as telling the recipient, so planning may try again: a cancelled
# notice, and a failed one to a provider's abuse contact (the failure flags that contact; its cases
# go to the fallback address or wait until a senior confirms one). A failed notice to a recipient
# set up by hand (the police, a partner hotline, an escalation step) only shows on its cases: it
# is never planned again by itself, a senior sends it again once the address is fixed.
NOT_DELIVERED = Q(notice__state=NoticeState.CANCELLED) | Q(
    notice__state=NoticeState.FAILED, notice__kind__in=(NoticeKind.PROVIDER, NoticeKind.REMINDER)
)


@dataclass
class Batch:
    """Cases for one recipient and kind, gathered in memory before they join their notice."""

    kind: str
    recipient: Recipient
    key: str
    step: int = 0
    due_at: datetime | None = None
    urgent: bool = False
    case_ids: list[int] = field(default_factory=list)
    # Set by `batches_join` from the recipient (None: not looked up yet).
    channel: str | None = None
    part: str = ""  # a provider API's hostname

    @property
    def batch_key(self) -> str:
        return f"{self.kind}:{self.step}:{self.key}" if self.step else f"{self.kind}:{self.key}"

    @property
    def open_key(self) -> tuple[str, str, str]:
        """What an open notice is unique by: who, how, and (a provider's API) which host."""
        return (self.batch_key, self.channel or DeliveryChannel.BATCHED_MAIL, self.part)

    def add(self, case_id: int, due_at: datetime, urgent: bool) -> None:
        self.case_ids.append(case_id)
        self.due_at = due_at if self.due_at is None else min(self.due_at, due_at)
        self.urgent = self.urgent or urgent


@dataclass
class PlanSummary:
    cases: int = 0
    planned: int = 0  # case-recipient pairs that joined a notice
    held: int = 0
    notices: set[int] = field(default_factory=set)


def new_references(count: int, *, now: datetime | None = None) -> list[str]:
    """``count`` fresh references ``SCART-YYYYMMDD-NNNNNN``, numbered per day from 1."""
    if count <= 0:
        return []
    day = timezone.localdate(now or timezone.now())
    with transaction.atomic():
        NoticeCounter.objects.get_or_create(day=day)
        NoticeCounter.objects.filter(day=day).update(last=F("last") + count)
        last = NoticeCounter.objects.get(day=day).last
    return [f"SCART-{day:%Y%m%d}-{n:06d}" for n in range(last - count + 1, last + 1)]


def in_cycle(added_at: datetime, cycle_started_at: datetime | None) -> bool:
    return cycle_started_at is None or added_at >= cycle_started_at


def batch_join(batch: Batch, *, now: datetime) -> list[int]:
    """`batches_join` for one batch."""
    return sorted(batches_join([batch], now=now))


def batches_join(batches: Sequence[Batch], *, now: datetime) -> set[int]:
    """Put each batch's cases into the open notice for its key (creating the notices that are
    missing), at most ``SCART_NOTICE_MAX_URLS`` per notice; returns the notices used.

    One transaction for all the batches, with a fixed number of statements whatever their number:
    the open notices are locked (in id order), so a planner running at the same time waits, and
    cases that a notice with the same key already has in their notice cycle are left out.
    """
    batches = _on_channels([b for b in batches if b.case_ids])
    if not batches:
        return set()
    by_key = {b.open_key: b for b in batches}
    used: set[int] = set()
    overflow: list[Batch] = []
    # References for the keys without an open notice, taken before the transaction: the day's
    # counter row is then locked for a moment, not for the whole transaction, and planners running
    # at once do not queue behind each other's. A reference not used after all (another planner
    # opened that notice meanwhile) leaves a gap in the day's numbers. (Called inside a caller's
    # transaction, as a removal that tells the partner hotline does, the row stays locked until the
    # caller commits: that path plans one notice at a time.)
    spare = new_references(len(set(by_key) - _open_keys(list(by_key))), now=now)
    batch_keys = sorted({b.batch_key for b in batches})
    with transaction.atomic():
        # Planning lost in a database crash is planned again by the sweep: no need to wait for the disk.
        commit_without_waiting_for_disk()
        notices = _open_notices(by_key, now=now, spare=spare)
        already = _livein_cycle({pk for b in batches for pk in b.case_ids}, batch_keys)
        counts = dict(
            NoticeCase.objects.filter(notice__in=list(notices.values()), dropped_at__isnull=True)
            .values("notice")
            .annotate(n=Count("id"))
            .values_list("notice", "n")
        )
        rows: list[NoticeCase] = []
        closing: list[int] = []
        for key, batch in by_key.items():
            notice = notices[key]
            pending = [pk for pk in dict.fromkeys(batch.case_ids) if (pk, batch.batch_key) not in already]
            if not pending:
                continue
            limit = url_limit(batch.channel)
            room = max(0, limit - counts.get(notice.pk, 0))
            take, rest = pending[:room], pending[room:]
            rows.extend(NoticeCase(notice=notice, case_id=pk, added_at=now) for pk in take)
            if rest or counts.get(notice.pk, 0) + len(take) >= limit:
                closing.append(notice.pk)
            if rest:
                overflow.append(replace(batch, case_ids=rest))
            changes: dict[str, Any] = {}
            if batch.due_at is not None and batch.due_at < notice.due_at:
                changes["due_at"] = batch.due_at
            if batch.urgent and not notice.urgent:
                changes["urgent"] = True
            if changes:
                Notice.objects.filter(pk=notice.pk).update(**changes)
            if take:
                used.add(notice.pk)
        NoticeCase.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        # A case taken out of one of these notices earlier (closed, then back online) comes back.
        dropped = NoticeCase.objects.filter(
            notice__in=list(notices.values()), case_id__in=[r.case_id for r in rows], dropped_at__isnull=False
        ).values_list("id", "notice_id", "case_id")
        wanted = {(r.notice.pk, r.case_id) for r in rows}
        revive = [pk for pk, notice_id, case_id in dropped if (notice_id, case_id) in wanted]
        if revive:
            NoticeCase.objects.filter(pk__in=revive).update(dropped_at=None, drop_reason="", added_at=now)
        if closing:
            Notice.objects.filter(pk__in=closing).update(open=False)
    if overflow:
        used |= batches_join(overflow, now=now)
    return used


def url_limit(channel: str | None) -> int:
    """How many URLs one notice on ``channel`` carries at most."""
    limit = max(1, settings.SCART_NOTICE_MAX_URLS)
    return min(limit, PROVIDER_API_MAX_URLS) if channel == DeliveryChannel.PROVIDER_API else limit


def batch_channel(batch: Batch, providers: dict[int, str], hotlines: dict[int, str]) -> str:
    """The channel a batch goes on: its provider's or partner hotline's; mail for the police and
    the escalation ladder (set up by hand, by address), and for a hotline set to a provider API."""
    recipient = batch.recipient
    if batch.kind in (NoticeKind.POLICE, NoticeKind.ESCALATION) or recipient.kind == RecipientKind.POLICE:
        return DeliveryChannel.BATCHED_MAIL
    if recipient.provider_id is not None:
        return providers.get(recipient.provider_id, DeliveryChannel.BATCHED_MAIL)
    if recipient.hotline_id is not None:
        channel = hotlines.get(recipient.hotline_id, DeliveryChannel.BATCHED_MAIL)
        return DeliveryChannel.BATCHED_MAIL if channel == DeliveryChannel.PROVIDER_API else channel
    return DeliveryChannel.BATCHED_MAIL


def _on_channels(batches: list[Batch]) -> list[Batch]:
    """The batches with their recipients' channels; a provider API's split by hostname."""
    todo = [b for b in batches if b.channel is None]
    if not todo:
        return batches
    provider_ids = {b.recipient.provider_id for b in todo if b.recipient.provider_id is not None}
    hotline_ids = {b.recipient.hotline_id for b in todo if b.recipient.hotline_id is not None}
    providers = dict(Provider.objects.filter(pk__in=provider_ids).values_list("id", "delivery_channel"))
    hotlines = dict(PartnerHotline.objects.filter(pk__in=hotline_ids).values_list("id", "delivery_channel"))
    decided = [(b, batch_channel(b, providers, hotlines)) for b in todo]
    api_cases = {pk for b, channel in decided if channel == DeliveryChannel.PROVIDER_API for pk in b.case_ids}
    hosts = dict(Case.objects.filter(pk__in=api_cases).values_list("id", "host")) if api_cases else {}
    out = [b for b in batches if b.channel is not None]
    for batch, channel in decided:
        if channel != DeliveryChannel.PROVIDER_API:
            out.append(replace(batch, channel=channel))
            continue
        by_host: dict[str, list[int]] = {}
        for pk in batch.case_ids:
            by_host.setdefault(hosts.get(pk, ""), []).append(pk)
        out.extend(replace(batch, channel=channel, part=host[:253], case_ids=ids) for host, ids in by_host.items())
    return out


def _open_keys(open_keys: list[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
    rows = Notice.objects.filter(batch_key__in={k for k, _c, _p in open_keys}, open=True)
    return set(rows.values_list("batch_key", "channel", "batch_part")) & set(open_keys)


def _open_notices(
    by_key: dict[tuple[str, str, str], Batch], *, now: datetime, spare: list[str]
) -> dict[tuple[str, str, str], Notice]:
    """The open notice of every key, locked; the missing ones created (another planner's win
    when two create one at once), numbered from ``spare`` first."""
    batch_keys = sorted({key for key, _channel, _part in by_key})
    locked = Notice.objects.select_for_update().filter(batch_key__in=batch_keys, open=True).order_by("pk")
    notices = {(n.batch_key, n.channel, n.batch_part): n for n in locked}
    # In key order: two planners creating the same notices wait for each other in the same order.
    missing = sorted((b for key, b in by_key.items() if key not in notices), key=lambda b: b.open_key)
    if missing:
        references = spare[: len(missing)]
        references += new_references(len(missing) - len(references), now=now)
        Notice.objects.bulk_create(
            [_new_notice(b, reference, now=now) for b, reference in zip(missing, references, strict=True)],
            ignore_conflicts=True,
        )
        created = (
            Notice.objects.select_for_update()
            .filter(batch_key__in=sorted({b.batch_key for b in missing}), open=True)
            .order_by("pk")
        )
        notices.update({(n.batch_key, n.channel, n.batch_part): n for n in created})
    return {key: notices[key] for key in by_key}


def _new_notice(batch: Batch, reference: str, *, now: datetime) -> Notice:
    recipient = batch.recipient
    return Notice(
        reference=reference,
        kind=batch.kind,
        recipient_kind=recipient.kind,
        recipient_name=recipient.name[:200],
        batch_key=batch.batch_key,
        channel=batch.channel or DeliveryChannel.BATCHED_MAIL,
        batch_part=batch.part,
        emails=list(recipient.emails),
        language=recipient.language or "en",
        provider_id=recipient.provider_id,
        hotline_id=recipient.hotline_id,
        ask_origin=recipient.ask_origin,
        step=batch.step,
        urgent=batch.urgent,
        created_at=now,
        due_at=batch.due_at or now,
    )


def _livein_cycle(case_ids: Iterable[int], batch_keys: Sequence[str]) -> set[tuple[int, str]]:
    """(case, key) pairs where the case is already in a live notice with that key, in its
    current notice cycle."""
    case_ids = list(case_ids)
    started = dict(Case.objects.filter(pk__in=case_ids).values_list("id", "cycle_started_at"))
    return {
        (case_id, key)
        for case_id, key, added_at in NoticeCase.objects.filter(
            case_id__in=case_ids, dropped_at__isnull=True, notice__batch_key__in=list(batch_keys)
        )
        .exclude(NOT_DELIVERED)
        .values_list("case_id", "notice__batch_key", "added_at")
        if in_cycle(added_at, started.get(case_id))
    }
