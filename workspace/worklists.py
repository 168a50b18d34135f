"""Page models of the worklists a hotline runs on: the cases waiting on their provider, the held
cases and what releases each, and one analyst's own work.

- Waiting on the provider: notified cases still online after a first notice to the hosting side,
  most overdue first. The provider had its reminder interval (``Provider.reminder_interval``,
  else ``SCART_REMINDER_HOURS``) from the first notice; a case is overdue by the time since that
  ran out. The next step and its time are the notice ladder's own (`ladder_next_steps`).
- Held: illegal cases with a recipient whose notice waits on a `Hold`, as routing decides it
  now (`routing.jurisdiction.route`, read only), each hold in words with what lifts it.
- My work: the cases I have open (locked), my verdicts waiting for a second opinion, the reviews
  waiting for me (senior analysts), and how many cases I classified today in the hotline's zone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce, Least
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Role, has_role
from reports.models import Assessment, Case, CaseState, Review, ReviewState, Verdict
from reports.reviews import REVIEWABLE_SOURCES, open_reviews
from routing.jurisdiction import Hold, Recipient, RecipientKind, RoutingContext, route
from routing.models import NoticeCase, NoticeKind, NoticeState
from routing.notices.ladder import ladder_next_steps
from routing.notices.planning import delivered_keys, recipient_key
from workspace.selectors import hold_text

# Cases routing looks at for the held list at most (oldest verdict first); the page says so.
HELD_LIMIT = 1_000


def _hours(delta: timedelta) -> str:
    hours = abs(delta.total_seconds()) / 3600
    if hours >= 48:
        return f"{hours / 24:.1f} d"
    if hours >= 1:
        return f"{hours:.0f} h"
    return f"{hours * 60:.0f} min"


# Waiting on the provider ------------------------------------------------------------------------


def waiting_cases(*, provider: int | None = None) -> QuerySet[Case]:
    """Notified cases with a first notice to the hosting side sent in this notice cycle, annotated
    with ``first_notice_at``, ``grace`` (the hosting side's reminder interval, the shortest of those
    set, as `reminder_interval` takes it) and ``expected_by``; the most overdue first. ``provider``:
    only the cases it hosts (as provider, CDN or origin)."""
    first = (
        NoticeCase.objects.filter(
            case=OuterRef("pk"),
            dropped_at__isnull=True,
            notice__kind=NoticeKind.PROVIDER,
            notice__state=NoticeState.SENT,
            # This notice cycle only: since the content (re)appeared, else since the first report.
            added_at__gte=Coalesce(OuterRef("cycle_started_at"), OuterRef("first_reported_at")),
        )
        .order_by("notice__sent_at")
        .values("notice__sent_at")[:1]
    )
    default = Value(timedelta(hours=settings.SCART_REMINDER_HOURS), output_field=DurationField())
    p, c, o = (F(f"{name}__reminder_interval") for name in ("provider", "cdn", "origin_provider"))
    # The smallest interval among those set, the default only when none is.
    grace = Least(Coalesce(p, c, o, default), Coalesce(c, p, o, default), Coalesce(o, p, c, default))
    cases = Case.objects.filter(state=CaseState.NOTIFIED)
    if provider is not None:
        cases = cases.filter(Q(provider=provider) | Q(cdn=provider) | Q(origin_provider=provider))
    return (
        cases.annotate(first_notice_at=Subquery(first, output_field=DateTimeField()))
        .filter(first_notice_at__isnull=False)
        .annotate(grace=ExpressionWrapper(grace, output_field=DurationField()))
        .annotate(expected_by=ExpressionWrapper(F("first_notice_at") + F("grace"), output_field=DateTimeField()))
        .select_related("provider", "cdn", "origin_provider")
        .order_by("expected_by", "pk")
    )


@dataclass(frozen=True)
class WaitingRow:
    case_id: int
    url: str
    provider_id: int | None
    provider: str
    first_notice_at: datetime
    waited: str  # since the first notice
    expected_by: datetime
    overdue: bool
    overdue_text: str  # "overdue by 3 d" or "due in 5 h"
    reminders_sent: int
    escalations_sent: int
    next_step: str
    next_step_at: datetime | None
    gone_once: bool  # the last check found it gone: removal waits for the next checks
    disputed: bool


def waiting_rows(cases: list[Any], *, now: datetime | None = None) -> list[WaitingRow]:
    """The rows of a page of `waiting_cases`."""
    now = now or timezone.now()
    steps = ladder_next_steps(cases)
    rows = []
    for case in cases:
        step = steps[case.pk]
        hosting = case.cdn or case.provider
        late = now - case.expected_by
        rows.append(
            WaitingRow(
                case_id=case.pk,
                url=case.canonical_url,
                provider_id=hosting.pk if hosting else None,
                provider=hosting.name if hosting else "",
                first_notice_at=case.first_notice_at,
                waited=_hours(now - case.first_notice_at),
                expected_by=case.expected_by,
                overdue=late > timedelta(0),
                overdue_text=(_("overdue by %(time)s") if late > timedelta(0) else _("due in %(time)s"))
                % {"time": _hours(late)},
                reminders_sent=step.reminders_sent,
                escalations_sent=step.escalations_sent,
                next_step=step.text,
                next_step_at=step.at,
                gone_once=bool(case.gone_count),
                disputed=step.disputed,
            )
        )
    return rows


# Held --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    """What lifts a hold: a button (``post``) or a link to the page where it is resolved; ``url`` is
    empty when the user may not do it (``text`` then says who does)."""

    text: str
    url: str = ""
    post: bool = False


@dataclass(frozen=True)
class HeldReason:
    code: str
    text: str  # the hold in words
    recipients: tuple[str, ...]  # who gets nothing until it lifts
    release: Release


@dataclass(frozen=True)
class HeldRow:
    case_id: int
    url: str
    state: str
    verdict_at: datetime | None
    reasons: tuple[HeldReason, ...]


@dataclass(frozen=True)
class HeldPage:
    rows: tuple[HeldRow, ...]
    counts: tuple[tuple[str, str, int], ...]  # (code, words, cases) of every hold found
    reason: str  # the hold the rows are narrowed to, "" for all
    truncated: bool  # more candidates than `HELD_LIMIT`


def _release(code: str, case: Case, recipient: Recipient, user: Any, reviews: dict[int, int]) -> Release:
    senior = has_role(user, Role.SENIOR)
    if code == Hold.POLICE_FIRST:
        if senior:
            return Release(_("Release the held notices"), reverse("cases-release", args=[case.pk]), post=True)
        return Release(_("a senior analyst releases it"))
    if code == Hold.CONTACT_CHECK:
        if senior:
            return Release(_("Check the abuse contact"), reverse("contacts-queue"))
        return Release(_("a senior analyst checks the abuse contact"))
    if code == Hold.REVIEW:
        if senior and case.pk in reviews:
            return Release(_("Give the second opinion"), reverse("reviews-page", args=[reviews[case.pk]]))
        return Release(_("a senior analyst gives a second opinion"))
    if code == Hold.NO_ADDRESS:
        if recipient.provider_id is not None:
            return Release(
                _("Add an abuse address to the provider"), reverse("providers-detail", args=[recipient.provider_id])
            )
        if recipient.hotline_id is not None and has_role(user, Role.ADMIN):
            return Release(
                _("Add the partner hotline's address"),
                reverse("admin:routing_partnerhotline_change", args=[recipient.hotline_id]),
            )
        if recipient.hotline_id is not None:
            return Release(_("an administrator sets the partner hotline's address"))
        return Release(_("an administrator sets the police address (SCART_POLICE_EMAIL)"))
    return Release("")


def _held_candidates() -> QuerySet[Case]:
    # Illegal cases not notified yet, and notified ones that planning still looks at again.
    return (
        Case.objects.filter(verdict=Verdict.ILLEGAL)
        .filter(Q(state=CaseState.ILLEGAL) | Q(state=CaseState.NOTIFIED, notice_plan_at__isnull=False))
        .order_by("assessed_at", "pk")
    )


def held_page(*, user: Any, reason: str = "") -> HeldPage:
    """Every held case (of the `HELD_LIMIT` oldest verdicts) with its holds in words and what
    releases each; ``reason`` narrows the rows to one `Hold`."""
    cases = list(_held_candidates()[: HELD_LIMIT + 1])
    truncated = len(cases) > HELD_LIMIT
    cases = cases[:HELD_LIMIT]
    context = RoutingContext.load(cases)
    initial = (NoticeKind.PROVIDER, NoticeKind.REFERRAL, NoticeKind.POLICE)
    have = delivered_keys(cases, initial)
    reviews = dict(
        Review.objects.filter(case_id__in=[c.pk for c in cases], state=ReviewState.OPEN, blocking=True).values_list(
            "case_id", "pk"
        )
    )
    rows = []
    counts: Counter[str] = Counter()
    for case in cases:
        by_code: dict[str, list[str]] = {}
        first: dict[str, Recipient] = {}
        for recipient in route(case, context).recipients:
            if not recipient.holds or (case.pk, recipient_key(recipient)) in have:
                continue
            kind = RecipientKind(recipient.kind).label if recipient.kind in RecipientKind.values else recipient.kind
            for code in recipient.holds:
                by_code.setdefault(code, []).append(f"{recipient.name or kind} ({kind})")
                first.setdefault(code, recipient)
        if not by_code:
            continue
        counts.update(by_code.keys())
        if reason and reason not in by_code:
            continue
        rows.append(
            HeldRow(
                case_id=case.pk,
                url=case.canonical_url,
                state=case.get_state_display(),
                verdict_at=case.assessed_at,
                reasons=tuple(
                    HeldReason(code, hold_text(code), tuple(names), _release(code, case, first[code], user, reviews))
                    for code, names in by_code.items()
                ),
            )
        )
    return HeldPage(
        rows=tuple(rows),
        counts=tuple((code, hold_text(code), counts[code]) for code in Hold.values if counts[code]),
        reason=reason,
        truncated=truncated,
    )


# My work -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MineCase:
    case_id: int
    url: str
    state: str
    at: datetime | None  # locked until, or asked for
    note: str = ""
    review_id: int | None = None


@dataclass(frozen=True)
class MinePage:
    locked: tuple[MineCase, ...]
    my_reviews: tuple[MineCase, ...]  # my verdicts waiting for a second opinion
    to_review: tuple[MineCase, ...]  # senior analysts: the reviews waiting for me
    to_review_count: int
    classified_today: int
    reviewed_today: int
    day_started: datetime  # the start of today in the hotline's zone


def start_of_today(now: datetime | None = None) -> datetime:
    """Midnight of today in the hotline's zone (``TIME_ZONE``)."""
    local = timezone.localtime(now or timezone.now())
    return datetime.combine(local.date(), time.min, tzinfo=local.tzinfo)


MINE_SHOWN = 50


def mine_page(*, user: Any, now: datetime | None = None) -> MinePage:
    now = now or timezone.now()
    since = start_of_today(now)
    locked = Case.objects.filter(locked_by=user, locked_until__gt=now).order_by("locked_until")[:MINE_SHOWN]
    mine = (
        Review.objects.filter(analyst=user, state=ReviewState.OPEN)
        .select_related("case")
        .order_by("requested_at")[:MINE_SHOWN]
    )
    waiting = open_reviews(user=user) if has_role(user, Role.SENIOR) else Review.objects.none()
    shown = list(waiting[:MINE_SHOWN])
    return MinePage(
        locked=tuple(MineCase(c.pk, c.canonical_url, c.get_state_display(), c.locked_until) for c in locked),
        my_reviews=tuple(
            MineCase(
                r.case_id,
                r.case.canonical_url,
                r.case.get_state_display(),
                r.requested_at,
                f"{r.get_reason_display()}{'; holds notices' if r.blocking else ''}",
            )
            for r in mine
        ),
        to_review=tuple(
            MineCase(
                r.case_id,
                r.case.canonical_url,
                r.case.get_state_display(),
                r.requested_at,
                f"{r.get_reason_display()}{'; holds notices' if r.blocking else ''}",
                r.pk,
            )
            for r in shown
        ),
        to_review_count=waiting.count() if shown else 0,
        classified_today=Assessment.objects.filter(analyst=user, at__gte=since, source__in=REVIEWABLE_SOURCES)
        .values("case_id")
        .distinct()
        .count(),
        reviewed_today=Review.objects.filter(reviewer=user, decided_at__gte=since).count(),
        day_started=since,
    )
