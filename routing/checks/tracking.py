"""A case's life after the verdict: availability checks on a schedule, and what their results mean.

- The first check comes right after a verdict of illegal. Content that is already gone closes the
  case as removed before notice, and the notices waiting in their batch window leave without it.
- While the case is open: a check every ``SCART_CHECK_INTERVAL_MINUTES`` (with jitter), every
  ``SCART_CHECK_SLOW_INTERVAL_HOURS`` once the case is older than ``SCART_CHECK_SLOW_AFTER_DAYS``.
- **Removed**: ``SCART_REMOVAL_CHECKS`` consecutive ``gone`` results at least
  ``SCART_REMOVAL_SPACING_MINUTES`` apart. ``removed_at`` is the first of them; the last ``online``
  check before it stays in ``last_seen_online_at``, so statistics can state the bracket.
  Unreachable for ``SCART_UNREACHABLE_CLOSE_HOURS`` closes as removed-unreachable (counted apart).
- Removal stops reminders and escalation, takes the case out of queued notices, tells the partner
  hotline when the case was referred, and writes the events.
- **Moved**: the target is recorded, and a linked case is opened for the target URL, which
  resolves and goes to the analysts like any new case (marked urgent). The old case stays open and
  checked, but its reminders and escalation pause (``moved_since``) until a check finds the
  content online at the old URL again; gone results still close it as removed.
- **Reappearance**: a closed case is checked ``SCART_REAPPEARANCE_CHECK_DAYS`` after it closed;
  content back online reopens it (``reappeared``) and starts a new notice cycle.
- Hosts under a "do not check" domain rule are never contacted: an analyst marks removal by hand.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from reports.cases.services import Actor, StateConflict, case_transition, event_append
from reports.models import Case, CaseState, Channel, Event, EventKind, RemovalKind
from reports.services import report_create
from routing.checks.runner import checks_run
from routing.jurisdiction import Recipient, RecipientKind
from routing.models import AvailabilityCheck, CheckOutcome, Notice, NoticeCase, NoticeKind, NoticeState
from routing.notices.batches import Batch, batch_join
from routing.notices.contacts import contacts_removal
from routing.notices.planning import cases_request_planning
from routing.rules import rules_by_host
from scart.shown import lower_lazy
from scart.times import iso, iso_or_none

log = logging.getLogger(__name__)

# What the checks counted towards a removal: cleared when the content is online again, when the
# case is closed as removed and when removed content reappears.
_ABSENCE_CLEARED: dict[str, Any] = {
    "gone_since": None,
    "gone_count": 0,
    "last_gone_at": None,
    "unreachable_since": None,
    "moved_since": None,
}


@dataclass
class CheckSummary:
    checked: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    removed: int = 0
    reappeared: int = 0
    moved: int = 0
    skipped: int = 0
    failed: int = 0  # the check, or recording it, failed (logged): checked again at the next interval


def _interval(case: Case, now: datetime) -> timedelta:
    started = case.cycle_started_at or case.assessed_at or now
    if now - started > timedelta(days=settings.SCART_CHECK_SLOW_AFTER_DAYS):
        base = timedelta(hours=settings.SCART_CHECK_SLOW_INTERVAL_HOURS)
    else:
        base = timedelta(minutes=settings.SCART_CHECK_INTERVAL_MINUTES)
    # Up to a tenth either way, so that checks of cases classified together spread out.
    return base * (1 + random.uniform(-0.1, 0.1))


def _reappearance_days() -> list[int]:
    return sorted(int(d) for d in settings.SCART_REAPPEARANCE_CHECK_DAYS if str(d).strip())


def hosts_not_checked(hosts: Iterable[str]) -> set[str]:
    """The hosts a "do not check" domain rule covers (the most specific rule decides)."""

    return {host for host, rule in rules_by_host(hosts).items() if rule.do_not_check}


def cases_request_check(*, case_ids: Sequence[int], now: datetime | None = None) -> None:
    """Check these cases as soon as a checker is free (a verdict, a provider saying "removed")."""
    Case.objects.filter(pk__in=list(case_ids)).update(check_due_at=now or timezone.now())


def cases_due_for_check(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    now = now or timezone.now()
    return list(
        Case.objects.filter(check_due_at__lte=now)
        .filter(Q(state__in=CaseState.TRACKED) | Q(state=CaseState.REMOVED, reappearance_checks__gt=0))
        .order_by("check_due_at")
        .values_list("id", flat=True)[:limit]
    )


def cases_check(
    *, case_ids: Sequence[int], now: datetime | None = None, runner: Any = None, force: bool = False
) -> CheckSummary:
    """Check these cases' URLs (many at once, a few per host) and apply what the checks found:
    those whose check is due, or every one of them with ``force``."""

    now = now or timezone.now()
    summary = CheckSummary()
    cases = list(
        Case.objects.filter(pk__in=list(case_ids)).filter(
            Q(state__in=CaseState.TRACKED) | Q(state=CaseState.REMOVED, reappearance_checks__gt=0)
        )
    )
    manual = hosts_not_checked(c.host for c in cases)
    skipped = [c.pk for c in cases if c.host in manual or c.unresolvable]
    if skipped:
        # Never contacted: an analyst marks removal by hand (`case_mark_removed`).
        Case.objects.filter(pk__in=skipped).update(check_due_at=None)
        summary.skipped = len(skipped)
    cases = [c for c in cases if c.pk not in set(skipped)]
    # Claim: move the due time forward (only where it is still due), so that a second checker
    # does not take the same cases; the lease covers a long run of slow hosts.
    claimed_until = now + timedelta(minutes=30) + timedelta(microseconds=random.randrange(1_000_000))
    due = Q() if force else Q(check_due_at__lte=now)
    Case.objects.filter(due, pk__in=[c.pk for c in cases]).update(check_due_at=claimed_until)
    mine = set(
        Case.objects.filter(pk__in=[c.pk for c in cases], check_due_at=claimed_until).values_list("id", flat=True)
    )
    cases = [c for c in cases if c.pk in mine]
    results = (runner or checks_run)([c.canonical_url for c in cases])
    for case, result in zip(cases, results, strict=True):
        if result is None:
            # Not the host's answer but a failure of the check: nothing is recorded, and the case
            # waits for its next interval rather than holding up the cases checked with it.
            retry = now + _interval(case, now)
            Case.objects.filter(pk=case.pk, check_due_at=claimed_until).update(check_due_at=retry)
            summary.failed += 1
            continue
        try:
            case_apply_check(case=case, result=result, now=timezone.now())
        except Exception:
            # Nothing of it was recorded (one transaction); the claim goes too, or the case would
            # wait for the claim's 30 minutes instead of its own interval.
            retry = now + _interval(case, now)
            log.exception("recording the check of case %s failed; it is checked again at %s", case.pk, retry)
            Case.objects.filter(pk=case.pk, check_due_at=claimed_until).update(check_due_at=retry)
            summary.failed += 1
            continue
        summary.checked += 1
        outcome = str(getattr(result.outcome, "value", result.outcome))
        summary.outcomes[outcome] = summary.outcomes.get(outcome, 0) + 1
    return summary


def case_apply_check(*, case: Case, result: Any, now: datetime) -> None:
    """Record one check of ``case`` and move the case on: removal streaks, reappearance, moves."""
    outcome = str(getattr(result.outcome, "value", result.outcome))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        AvailabilityCheck.objects.create(
            case=case,
            at=now,
            outcome=outcome,
            status_code=result.status,
            address=(result.address or "")[:45],
            duration_ms=max(0, int(result.duration_ms)),
            redirect_to=result.target if outcome == CheckOutcome.MOVED else "",
            reason=(result.reason or "")[:300],
        )
        if case.state == CaseState.REMOVED:
            _closed_case_checked(case, outcome, now)
            return
        changes: dict[str, Any] = {"check_due_at": now + _interval(case, now)}
        if outcome == CheckOutcome.ONLINE:
            changes.update(last_seen_online_at=now, **_ABSENCE_CLEARED)
            if case.gone_count:
                changes["notice_plan_at"] = now  # back before the run completed: notices resume
            if case.moved_since is not None and case.state == CaseState.NOTIFIED:
                changes["ladder_due_at"] = now  # back at this URL: its reminders resume
        elif outcome == CheckOutcome.GONE:
            changes.update(unreachable_since=None)
            spacing = timedelta(minutes=settings.SCART_REMOVAL_SPACING_MINUTES)
            if case.gone_count == 0 or case.last_gone_at is None:
                changes.update(gone_since=now, gone_count=1, last_gone_at=now)
            elif now - case.last_gone_at >= spacing:
                changes.update(gone_count=case.gone_count + 1, last_gone_at=now)
            # A gone result too soon after the last one neither counts nor breaks the run.
            count = changes.get("gone_count", case.gone_count)
            if count >= settings.SCART_REMOVAL_CHECKS:
                removed_at = changes.get("gone_since") or case.gone_since or now
                Case.objects.filter(pk=case.pk).update(**changes)
                case_close_removed(case=case, removed_at=removed_at, now=now, kind=_gone_kind(case))
                return
            changes["check_due_at"] = now + spacing
        elif outcome == CheckOutcome.UNREACHABLE:
            since = case.unreachable_since or now
            changes["unreachable_since"] = since
            if now - since >= timedelta(hours=settings.SCART_UNREACHABLE_CLOSE_HOURS):
                Case.objects.filter(pk=case.pk).update(**changes)
                case_close_removed(case=case, removed_at=since, now=now, kind=RemovalKind.UNREACHABLE)
                return
        elif outcome == CheckOutcome.MOVED:
            _moved(case, result.target, now)
            changes.update(moved_since=case.moved_since or now, ladder_due_at=None)
        Case.objects.filter(pk=case.pk).update(**changes)


def _gone_kind(case: Case) -> str:
    sent = NoticeCase.objects.filter(case=case, dropped_at__isnull=True, notice__state=NoticeState.SENT)
    if case.cycle_started_at is not None:
        sent = sent.filter(notice__sent_at__gte=case.cycle_started_at)
    return RemovalKind.GONE if sent.exists() else RemovalKind.BEFORE_NOTICE


def case_close_removed(
    *, case: Case, removed_at: datetime, now: datetime, kind: str, actor: Actor | None = None
) -> None:
    """Close ``case`` as removed: stop its notices and ladder, tell a partner hotline it had it."""
    actor = actor or Actor.system()
    try:
        case_transition(case=case, to=CaseState.REMOVED, actor=actor, data={"removal_kind": kind})
    except StateConflict:
        log.info("case %s changed state before its removal was recorded", case.pk)
        return
    Case.objects.filter(pk=case.pk).update(
        removed_at=removed_at,
        removal_kind=kind,
        ladder_due_at=None,
        notice_plan_at=None,
        **_ABSENCE_CLEARED,
        reappearance_checks=len(_reappearance_days()),
        check_due_at=now + timedelta(days=_reappearance_days()[0]) if _reappearance_days() else None,
    )
    event_append(
        case=case,
        kind=EventKind.REMOVED,
        actor=actor,
        at=now,
        data={
            "removal_kind": kind,
            "removed_at": iso(removed_at),
            "last_seen_online_at": iso_or_none(case.last_seen_online_at),
        },
    )
    contacts_removal(case_id=case.pk, removed_at=removed_at, cycle_started_at=case.cycle_started_at)
    # Queued notices go without the case (a reminder about content that is gone helps no one).
    queued = NoticeCase.objects.filter(case=case, dropped_at__isnull=True, notice__state=NoticeState.QUEUED)
    queued.update(dropped_at=now, drop_reason="the content was removed")
    _tell_referral_hotline(case, now)


def _tell_referral_hotline(case: Case, now: datetime) -> None:
    """A partner hotline that had the case referred hears that the content is gone."""

    referrals = (
        Notice.objects.filter(items__case=case, items__dropped_at__isnull=True, kind=NoticeKind.REFERRAL)
        .filter(state=NoticeState.SENT)
        .exclude(hotline__isnull=True)
        .select_related("hotline")
    )
    for referral in referrals:
        hotline = referral.hotline
        if hotline is None or not hotline.email:
            continue
        recipient = Recipient(
            kind=RecipientKind.HOTLINE,
            name=hotline.name,
            emails=(hotline.email,),
            language=hotline.language or "en",
            hotline_id=hotline.pk,
        )
        batch = Batch(kind=NoticeKind.UPDATE, recipient=recipient, key=f"hotline:{hotline.pk}")
        batch.add(case.pk, now, False)
        batch_join(batch, now=now)


def _closed_case_checked(case: Case, outcome: str, now: datetime) -> None:
    days = _reappearance_days()
    left = max(0, case.reappearance_checks - 1)
    if outcome == CheckOutcome.ONLINE:
        _reappeared(case, now)
        return
    done = len(days) - left
    # Counted from when the case closed.
    next_due = case.state_changed_at + timedelta(days=days[done]) if left and done < len(days) else None
    Case.objects.filter(pk=case.pk).update(reappearance_checks=left, check_due_at=next_due)


def _reappeared(case: Case, now: datetime) -> None:

    actor = Actor.system()
    case_transition(case=case, to=CaseState.ILLEGAL, actor=actor, data={"reason": "reappeared"})
    event_append(
        case=case, kind=EventKind.REAPPEARED, actor=actor, at=now, data={"removed_at": iso_or_none(case.removed_at)}
    )
    Case.objects.filter(pk=case.pk).update(
        last_seen_online_at=now,
        cycle_started_at=now,
        removed_at=None,
        removal_kind="",
        reappearance_checks=0,
        **_ABSENCE_CLEARED,
        check_due_at=now + timedelta(minutes=settings.SCART_CHECK_INTERVAL_MINUTES),
        urgent=True,
    )
    cases_request_planning(case_ids=[case.pk])


def _moved(case: Case, target: str, now: datetime) -> None:
    """Open a linked case for the URL the content moved to (once per target), and pause this
    case's reminders and escalation: the content is no longer on this provider's servers, and the
    linked case carries the notices to where it went. Reminders and escalation steps queued for
    this case leave without it."""

    NoticeCase.objects.filter(
        case=case,
        dropped_at__isnull=True,
        notice__state=NoticeState.QUEUED,
        notice__kind__in=(NoticeKind.REMINDER, NoticeKind.ESCALATION),
    ).update(dropped_at=now, drop_reason="the content moved to another host")
    if not target or Event.objects.filter(case=case, kind=EventKind.MOVED, data__target=target).exists():
        return  # every later check sees the same redirect: reported once
    result = report_create(
        channel=Channel.CHECK,
        urls=[target],
        source=f"moved from case {case.pk}",
        description=f"A check of {case.canonical_url} was redirected to another host.",
        urgent=True,
    )
    for accepted in result.accepted:
        if accepted.case_id == case.pk:
            continue
        Case.objects.filter(pk=accepted.case_id, moved_from__isnull=True).update(moved_from=case)
        event_append(
            case=case,
            kind=EventKind.MOVED,
            actor=Actor.system(),
            at=now,
            data={"target": target, "case": accepted.case_id, "new": not accepted.duplicate},
        )


def case_mark_removed(
    *, case: Case, user: Any, removed_at: datetime | None = None, audit: AuditContext | None = None
) -> None:
    """An analyst records removal by hand (hosts under a "do not check" rule, or seen elsewhere)."""
    now = timezone.now()
    if case.state not in CaseState.TRACKED:
        raise StateConflict(
            _("case %(pk)s is %(state)s: it cannot be marked removed"),
            pk=case.pk,
            state=lower_lazy(CaseState(case.state).label),
            code="not_tracked",
        )
    when = removed_at or now
    if when > now:
        raise ValueError("the removal time cannot be in the future")
    with transaction.atomic():
        case_close_removed(case=case, removed_at=when, now=now, kind=RemovalKind.MANUAL, actor=Actor.staff(user))
        audit_record(
            action=AuditAction.CASE_MARKED_REMOVED,
            actor=user,
            audit=audit,
            obj=case,
            summary=gettext_noop("marked removed at %(at)s"),
            summary_params={"at": iso(when)},
            data={"removed_at": iso(when)},
        )
