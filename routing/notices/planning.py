"""Planning notices: which cases go into which message, and when it falls due.

`cases_plan_notices` routes illegal cases (`routing.jurisdiction`) and puts each case into the open
batch of every recipient its route names and that has not had it yet: one message per recipient
and kind. A first notice waits for more cases for the provider's window (60 minutes by default)
from the verdict; police reports and urgent cases are due at once. A held recipient (a contact
check, a blocking second opinion, police first, no address) gets nothing until the hold lifts;
the case is looked at again then, or an hour later at the latest (``Case.notice_plan_at``).

`cases_plan_ladder` plans what follows while the content stays online: reminders to the hosting
side every ``SCART_REMINDER_HOURS`` (per provider), at most ``SCART_REMINDER_MAX`` of them, then
one escalation step per interval along ``SCART_ESCALATION_LADDER`` (``registrar``, ``police``,
``provider_escalation``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from reports.models import Case, CaseState
from routing.jurisdiction import (
    Hold,
    Recipient,
    RecipientKind,
    Route,
    cases_route,
    police_recipient,
    provider_recipient,
)
from routing.models import (
    DisputeState,
    Notice,
    NoticeCase,
    NoticeCounter,
    NoticeKind,
    NoticeState,
    Provider,
)
from routing.notices.calendar import next_working_moment
from scart.db import commit_without_waiting_for_disk, enqueue_on_commit

log = logging.getLogger(__name__)

# A held recipient is looked at again this long after, even if nothing tells planning it is free.
HOLD_RECHECK = timedelta(hours=1)
CONFIG_HOLD_RECHECK = timedelta(days=1)
# Cases in these states may still get notices.
NOTICE_STATES = (CaseState.ILLEGAL, CaseState.NOTIFIED)
HOSTING_KINDS = (RecipientKind.PROVIDER, RecipientKind.CDN, RecipientKind.ORIGIN)
# Notices that no longer count as telling the recipient, so planning may try again: a cancelled
# notice, and a failed one to a provider's abuse contact (the failure flags that contact; its cases
# go to the fallback address or wait until a senior confirms one). A failed notice to a recipient
# set up by hand (the police, a partner hotline, an escalation step) only shows on its cases: it
# is never planned again by itself, a senior sends it again once the address is fixed.
NOT_DELIVERED = Q(notice__state=NoticeState.CANCELLED) | Q(
    notice__state=NoticeState.FAILED, notice__kind__in=(NoticeKind.PROVIDER, NoticeKind.REMINDER)
)


class LadderStep:
    REGISTRAR = "registrar"
    POLICE = "police"
    PROVIDER_ESCALATION = "provider_escalation"


def recipient_key(recipient: Recipient) -> str:
    """Who a recipient is, whatever its addresses: the provider, the hotline, or the police."""
    if recipient.provider_id is not None:
        return f"{recipient.kind}:{recipient.provider_id}"
    if recipient.hotline_id is not None:
        return f"hotline:{recipient.hotline_id}"
    if recipient.kind == RecipientKind.POLICE:
        return "police"
    return f"{recipient.kind}:{','.join(sorted(recipient.emails))}"


def notice_kind(recipient: Recipient) -> str:
    if recipient.kind == RecipientKind.HOTLINE:
        return NoticeKind.REFERRAL
    if recipient.kind == RecipientKind.POLICE:
        return NoticeKind.POLICE
    return NoticeKind.PROVIDER


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

    @property
    def batch_key(self) -> str:
        return f"{self.kind}:{self.step}:{self.key}" if self.step else f"{self.kind}:{self.key}"

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


def _window(recipient: Recipient, providers: dict[int, Provider]) -> timedelta:
    provider = providers.get(recipient.provider_id) if recipient.provider_id else None
    if provider is not None and provider.notice_window is not None:
        return provider.notice_window
    return timedelta(minutes=settings.SCART_NOTICE_WINDOW_MINUTES)


def _due(moment: datetime, *, at_once: bool) -> datetime:
    return moment if at_once else next_working_moment(moment)


def delivered_keys(cases: Sequence[Case], kinds: Iterable[str]) -> set[tuple[int, str]]:
    """(case, batch key) pairs the cases are in, in notices of this notice cycle (since the verdict,
    or since the content reappeared) that still count (see `NOT_DELIVERED`)."""
    started = {c.pk: c.cycle_started_at for c in cases}
    return {
        (case_id, key)
        for case_id, key, added_at in NoticeCase.objects.filter(
            case_id__in=list(started), dropped_at__isnull=True, notice__kind__in=list(kinds)
        )
        .exclude(NOT_DELIVERED)
        .values_list("case_id", "notice__batch_key", "added_at")
        if _in_cycle(added_at, started[case_id])
    }


def _in_cycle(added_at: datetime, cycle_started_at: datetime | None) -> bool:
    return cycle_started_at is None or added_at >= cycle_started_at


def cases_plan_notices(*, case_ids: Iterable[int], now: datetime | None = None) -> PlanSummary:
    """Route these cases and put each into the notices its route calls for; idempotent."""
    now = now or timezone.now()
    case_ids = list(case_ids)
    cases = list(Case.objects.filter(pk__in=case_ids, state__in=NOTICE_STATES))
    summary = PlanSummary(cases=len(cases))
    # Cases that left the notice states (a new verdict, closed) need no more planning.
    Case.objects.filter(pk__in=set(case_ids) - {c.pk for c in cases}).update(notice_plan_at=None)
    if not cases:
        return summary
    routes: dict[int, Route] = cases_route(cases=cases)
    providers = {
        p.pk: p
        for p in Provider.objects.filter(
            pk__in={r.provider_id for route in routes.values() for r in route.recipients if r.provider_id}
        )
    }
    initial = (NoticeKind.PROVIDER, NoticeKind.REFERRAL, NoticeKind.POLICE)
    have = delivered_keys(cases, initial)
    batches: dict[str, Batch] = {}
    next_look: dict[int, datetime | None] = {}
    for case in cases:
        route = routes.get(case.pk)
        look: datetime | None = None
        verdict_at = case.assessed_at or now
        for recipient in route.recipients if route else ():
            kind = notice_kind(recipient)
            batch = Batch(kind=kind, recipient=recipient, key=recipient_key(recipient))
            if (case.pk, batch.batch_key) in have:
                continue
            if recipient.holds:
                summary.held += 1
                # No address: only an administrator's change lifts it, so look daily, not hourly.
                again = CONFIG_HOLD_RECHECK if set(recipient.holds) == {Hold.NO_ADDRESS} else HOLD_RECHECK
                look = min(filter(None, [look, now + again]))
                continue
            if case.gone_count and kind != NoticeKind.POLICE:
                # The last check found the content gone: wait for the checks to confirm it (the
                # case then closes) or to find it again. The police hear of it all the same.
                look = min(filter(None, [look, now + timedelta(minutes=settings.SCART_REMOVAL_SPACING_MINUTES)]))
                continue
            if recipient.delay is not None and verdict_at + recipient.delay > now:
                look = min(filter(None, [look, verdict_at + recipient.delay]))
                continue
            at_once = kind == NoticeKind.POLICE or case.urgent
            due = _due(
                max(now, verdict_at + (timedelta(0) if at_once else _window(recipient, providers))), at_once=at_once
            )
            batches.setdefault(batch.batch_key, batch).add(case.pk, due, case.urgent)
            summary.planned += 1
        next_look[case.pk] = look
    summary.notices.update(batches_join(list(batches.values()), now=now))
    _set_plan_times(next_look)
    return summary


def _set_plan_times(next_look: dict[int, datetime | None]) -> None:
    by_time: dict[datetime | None, list[int]] = defaultdict(list)
    for pk, at in next_look.items():
        by_time[at].append(pk)
    with transaction.atomic():
        commit_without_waiting_for_disk()
        for at, ids in by_time.items():
            Case.objects.filter(pk__in=ids).update(notice_plan_at=at)


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
    limit = max(1, settings.SCART_NOTICE_MAX_URLS)
    batches = [b for b in batches if b.case_ids]
    if not batches:
        return set()
    by_key = {b.batch_key: b for b in batches}
    used: set[int] = set()
    overflow: list[Batch] = []
    # References for the keys without an open notice, taken before the transaction: the day's
    # counter row is then locked for a moment, not for the whole transaction, and planners running
    # at once do not queue behind each other's. A reference not used after all (another planner
    # opened that notice meanwhile) leaves a gap in the day's numbers. (Called inside a caller's
    # transaction, as a removal that tells the partner hotline does, the row stays locked until the
    # caller commits: that path plans one notice at a time.)
    spare = new_references(len(set(by_key) - _open_keys(list(by_key))), now=now)
    with transaction.atomic():
        # Planning lost in a database crash is planned again by the sweep: no need to wait for the disk.
        commit_without_waiting_for_disk()
        notices = _open_notices(by_key, now=now, spare=spare)
        already = _live_in_cycle({pk for b in batches for pk in b.case_ids}, list(by_key))
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
            pending = [pk for pk in dict.fromkeys(batch.case_ids) if (pk, key) not in already]
            if not pending:
                continue
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


def _open_keys(batch_keys: list[str]) -> set[str]:
    return set(Notice.objects.filter(batch_key__in=batch_keys, open=True).values_list("batch_key", flat=True))


def _open_notices(by_key: dict[str, Batch], *, now: datetime, spare: list[str]) -> dict[str, Notice]:
    """The open notice of every key, locked; the missing ones created (another planner's win
    when two create one at once), numbered from ``spare`` first."""
    locked = Notice.objects.select_for_update().filter(batch_key__in=list(by_key), open=True).order_by("pk")
    notices = {n.batch_key: n for n in locked}
    # In key order: two planners creating the same notices wait for each other in the same order.
    missing = sorted((b for key, b in by_key.items() if key not in notices), key=lambda b: b.batch_key)
    if missing:
        references = spare[: len(missing)]
        references += new_references(len(missing) - len(references), now=now)
        Notice.objects.bulk_create(
            [_new_notice(b, reference, now=now) for b, reference in zip(missing, references, strict=True)],
            ignore_conflicts=True,
        )
        created = (
            Notice.objects.select_for_update()
            .filter(batch_key__in=[b.batch_key for b in missing], open=True)
            .order_by("pk")
        )
        notices.update({n.batch_key: n for n in created})
    return notices


def _new_notice(batch: Batch, reference: str, *, now: datetime) -> Notice:
    recipient = batch.recipient
    return Notice(
        reference=reference,
        kind=batch.kind,
        recipient_kind=recipient.kind,
        recipient_name=recipient.name[:200],
        batch_key=batch.batch_key,
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


def _live_in_cycle(case_ids: Iterable[int], batch_keys: Sequence[str]) -> set[tuple[int, str]]:
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
        if _in_cycle(added_at, started.get(case_id))
    }


# -- reminders and escalation --------------------------------------------------------------------


def reminder_interval(providers: Iterable[Provider | None]) -> timedelta:
    intervals = [p.reminder_interval for p in providers if p is not None and p.reminder_interval]
    return min(intervals, default=timedelta(hours=settings.SCART_REMINDER_HOURS))


def _reminder_max(providers: Iterable[Provider | None]) -> int:
    values = [p.reminder_max for p in providers if p is not None and p.reminder_max is not None]
    return min(values, default=settings.SCART_REMINDER_MAX)


def _ladder_recipient(step: str, case: Case, providers: dict[int, Provider]) -> Recipient | None:
    if step == LadderStep.POLICE:
        police = police_recipient()
        return police if police.emails else None
    if step == LadderStep.REGISTRAR:
        registrar = (case.resolution or {}).get("registrar") or {}
        emails = tuple(registrar.get("abuse_emails") or ())
        if not emails:
            return None
        return Recipient(
            kind=RecipientKind.REGISTRAR, name=str(registrar.get("registrar") or case.registrable_domain), emails=emails
        )
    if step == LadderStep.PROVIDER_ESCALATION:
        provider = providers.get(case.provider_id) if case.provider_id else None
        if provider is None or not provider.escalation_email:
            return None
        return Recipient(
            kind=RecipientKind.PROVIDER_ESCALATION,
            name=provider.name,
            emails=(provider.escalation_email,),
            language=provider.language or "en",
            provider_id=provider.pk,
        )
    log.warning("unknown escalation step %r in SCART_ESCALATION_LADDER", step)
    return None


def cases_plan_ladder(*, now: datetime | None = None, limit: int = 5_000) -> PlanSummary:
    """Plan the next reminder or escalation step for every notified case whose step is due."""
    now = now or timezone.now()
    cases = list(
        Case.objects.filter(ladder_due_at__lte=now, state=CaseState.NOTIFIED).order_by("ladder_due_at")[:limit]
    )
    summary = PlanSummary(cases=len(cases))
    if not cases:
        # Cases that left the notified state (removed) stop their ladder.
        Case.objects.filter(ladder_due_at__lte=now).exclude(state=CaseState.NOTIFIED).update(ladder_due_at=None)
        return summary
    ids = [c.pk for c in cases]
    sent: dict[int, list[tuple[str, str, int, int | None]]] = defaultdict(list)
    started = {c.pk: c.cycle_started_at for c in cases}
    for case_id, kind, batch_key, step, provider_id, added_at in (
        NoticeCase.objects.filter(case_id__in=ids, dropped_at__isnull=True)
        .exclude(NOT_DELIVERED)
        .values_list("case_id", "notice__kind", "notice__batch_key", "notice__step", "notice__provider_id", "added_at")
    ):
        if _in_cycle(added_at, started[case_id]):  # this notice cycle only
            sent[case_id].append((kind, batch_key, step, provider_id))
    disputed = set(
        NoticeCase.objects.filter(case_id__in=ids, dispute_state=DisputeState.OPEN).values_list("case_id", flat=True)
    )
    provider_ids = {p for c in cases for p in (c.provider_id, c.cdn_id, c.origin_provider_id) if p}
    providers = {p.pk: p for p in Provider.objects.filter(pk__in=provider_ids)}
    ladder = [s.strip() for s in settings.SCART_ESCALATION_LADDER if s.strip()]
    batches: dict[str, Batch] = {}
    next_due: dict[int, datetime | None] = {}
    for case in cases:
        if case.pk in disputed:
            next_due[case.pk] = None  # a senior analyst decides first (routing.notices.responses)
            continue
        if case.moved_since is not None:
            next_due[case.pk] = None  # moved to another host: paused until it is back (checks.tracking)
            continue
        own = [providers.get(p) for p in (case.provider_id, case.cdn_id, case.origin_provider_id) if p]
        interval = reminder_interval(own)
        notices = sent[case.pk]
        hosting = {
            (key.split(":", 1)[1], provider_id)
            for kind, key, _step, provider_id in notices
            if kind == NoticeKind.PROVIDER and provider_id
        }
        if not hosting:
            next_due[case.pk] = None  # referral or police only: the partner or the police follow up
            continue
        reminders = max((step for kind, _k, step, _p in notices if kind == NoticeKind.REMINDER), default=0)
        escalations = max((step for kind, _k, step, _p in notices if kind == NoticeKind.ESCALATION), default=0)
        due = next_working_moment(now)
        if reminders < _reminder_max(own):
            for key, provider_id in sorted(hosting):
                provider = providers.get(provider_id)
                if provider is None:
                    continue
                kind_name = key.split(":", 1)[0]
                recipient = provider_recipient(provider, kind_name, ask_origin=kind_name == RecipientKind.CDN)
                batch = Batch(kind=NoticeKind.REMINDER, recipient=recipient, key=key, step=reminders + 1)
                batches.setdefault(batch.batch_key, batch).add(case.pk, due, case.urgent)
                summary.planned += 1
            next_due[case.pk] = now + interval
            continue
        step_index = escalations
        ladder_recipient: Recipient | None = None
        while step_index < len(ladder) and ladder_recipient is None:
            ladder_recipient = _ladder_recipient(ladder[step_index], case, providers)
            step_index += 1
        if ladder_recipient is None:
            next_due[case.pk] = None  # the ladder is done; availability checks go on
            continue
        batch = Batch(
            kind=NoticeKind.ESCALATION, recipient=ladder_recipient, key=recipient_key(ladder_recipient), step=step_index
        )
        batches.setdefault(batch.batch_key, batch).add(case.pk, due, case.urgent)
        summary.planned += 1
        next_due[case.pk] = now + interval
    summary.notices.update(batches_join(list(batches.values()), now=now))
    by_time: dict[datetime | None, list[int]] = defaultdict(list)
    for pk, at in next_due.items():
        by_time[at].append(pk)
    for at, pks in by_time.items():
        Case.objects.filter(pk__in=pks).update(ladder_due_at=at)
    return summary


def cases_request_planning(*, case_ids: Sequence[int]) -> None:
    """Mark the cases for planning and plan them right after the transaction commits (the
    sweep plans them otherwise)."""
    from routing.tasks import notify_plan_cases

    ids = list(case_ids)
    if not ids:
        return
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        Case.objects.filter(pk__in=chunk).update(notice_plan_at=timezone.now())
        enqueue_on_commit(lambda chunk=chunk: notify_plan_cases.delay(chunk), what="notify_plan_cases")  # type: ignore[misc]
