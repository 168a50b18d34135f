"""Page models of the deadlines: the timer every page that shows a case includes
(templates/workspace/_deadline.html), and the rows of the deadlines worklist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from reports.models import Case, CaseState
from routing.models import Deadline

# A deadline with less than this share of its time left (or under an hour) is shown as close.
SOON_SHARE = 0.25
SOON = timedelta(hours=1)


class TimerState:
    OPEN = "open"
    SOON = "soon"
    OVERDUE = "overdue"
    MET = "met"
    CLOSED = "closed"


BADGES = {
    TimerState.OPEN: "text-bg-primary",
    TimerState.SOON: "text-bg-warning",
    TimerState.OVERDUE: "text-bg-danger",
    TimerState.MET: "text-bg-success",
    TimerState.CLOSED: "text-bg-secondary",
}


def duration_text(span: timedelta) -> str:
    """``2 d 3 h``, ``4 h 12 min``, ``12 min``: the largest two units, for a person at a glance."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours} if hours else _("%(d)d d") % {"d": days}
    if hours:
        return _("%(h)d h %(m)d min") % {"h": hours, "m": mins} if mins else _("%(h)d h") % {"h": hours}
    return _("%(m)d min") % {"m": mins} if mins else _("under a minute")


@dataclass(frozen=True)
class DeadlineTimer:
    case_id: int
    name: str
    state: str
    text: str
    badge: str
    due_at: datetime
    started_at: datetime
    starts_at_label: str
    notice_reference: str
    breached: bool
    alerted: bool
    evidence_json: str = ""
    evidence_pdf: str = ""

    @property
    def overdue(self) -> bool:
        return self.state == TimerState.OVERDUE


def timer_of(deadline: Deadline, case: Case, *, now: datetime) -> tuple[str, str]:
    """The timer's state and its words for ``deadline`` of ``case`` (read live: the sweep that
    closes and marks deadlines runs every minute, the page does not wait for it)."""
    removed = case.removed_at if case.state == CaseState.REMOVED else None
    if deadline.met_at is not None or (removed is not None and removed <= deadline.due_at and not deadline.breached_at):
        done = deadline.met_at or removed
        assert done is not None
        return TimerState.MET, _("met, removed %(span)s before") % {"span": duration_text(deadline.due_at - done)}
    if deadline.closed_at is not None or case.state not in CaseState.TRACKED:
        if removed is not None:
            return TimerState.CLOSED, _("removed %(span)s late") % {"span": duration_text(removed - deadline.due_at)}
        return TimerState.CLOSED, _("closed")
    if deadline.breached_at is not None:  # marked by the sweep: overdue at least since then
        now = max(now, deadline.breached_at)
    left = deadline.due_at - now
    if left <= timedelta(0):
        return TimerState.OVERDUE, _("overdue by %(span)s") % {"span": duration_text(-left)}
    total = deadline.due_at - deadline.started_at
    soon = left < SOON or (total > timedelta(0) and left / total < SOON_SHARE)
    return (TimerState.SOON if soon else TimerState.OPEN), _("%(span)s left") % {"span": duration_text(left)}


def deadline_timer(
    deadline: Deadline, case: Case, *, now: datetime | None = None, see_evidence: bool = False
) -> DeadlineTimer:
    state, text = timer_of(deadline, case, now=now or timezone.now())
    return DeadlineTimer(
        case_id=case.pk,
        name=deadline.name,
        state=state,
        text=text,
        badge=BADGES[state],
        due_at=deadline.due_at,
        started_at=deadline.started_at,
        starts_at_label=str(deadline.get_starts_at_display()),
        notice_reference=deadline.notice_reference,
        breached=deadline.breached_at is not None,
        alerted=deadline.alerted_at is not None,
        evidence_json=reverse("cases-evidence", args=[case.pk, "json"]) if see_evidence else "",
        evidence_pdf=reverse("cases-evidence", args=[case.pk, "pdf"]) if see_evidence else "",
    )


@dataclass(frozen=True)
class CaseDeadlinePage:
    """What the case page shows of deadlines: the current one's timer (if any) and, for seniors,
    the evidence pack's links."""

    timer: DeadlineTimer | None
    evidence_json: str
    evidence_pdf: str
    worklist: str


def case_deadline_page(case: Case, *, see_evidence: bool, now: datetime | None = None) -> CaseDeadlinePage:
    current = case.deadlines.order_by("-cycle_started_at", "-pk").first()
    return CaseDeadlinePage(
        timer=deadline_timer(current, case, now=now) if current is not None else None,
        evidence_json=reverse("cases-evidence", args=[case.pk, "json"]) if see_evidence else "",
        evidence_pdf=reverse("cases-evidence", args=[case.pk, "pdf"]) if see_evidence else "",
        worklist=reverse("worklist-deadlines"),
    )


class WorklistFilter:
    OPEN = "open"
    BREACHED = "breached"
    MET = "met"
    ALL = "all"
    CHOICES = ((OPEN, "Open"), (BREACHED, "Breached"), (MET, "Met"), (ALL, "All"))


@dataclass(frozen=True)
class DeadlineRow:
    case_id: int
    url: str
    host: str
    case_state: str
    provider_id: int | None
    provider_name: str
    provider_evidence_json: str
    provider_evidence_pdf: str
    timer: DeadlineTimer


def worklist_deadlines(show: str) -> QuerySet[Deadline]:
    """The deadlines of the worklist, least time left first (the most overdue at the top)."""
    rows = Deadline.objects.select_related("case", "case__provider")
    if show == WorklistFilter.OPEN:
        rows = rows.filter(closed_at__isnull=True, breached_at__isnull=True, case__state__in=CaseState.TRACKED)
    elif show == WorklistFilter.BREACHED:
        rows = rows.filter(breached_at__isnull=False)
    elif show == WorklistFilter.MET:
        rows = rows.filter(met_at__isnull=False)
    return rows.order_by("due_at", "pk")


def deadline_rows(deadlines: list[Deadline], *, see_evidence: bool, now: datetime | None = None) -> list[DeadlineRow]:
    now = now or timezone.now()
    rows = []
    for d in deadlines:
        case = d.case
        provider = case.provider
        rows.append(
            DeadlineRow(
                case_id=case.pk,
                url=case.canonical_url,
                host=case.host,
                case_state=str(case.get_state_display()),
                provider_id=provider.pk if provider else None,
                provider_name=provider.name if provider else "",
                provider_evidence_json=reverse("providers-evidence", args=[provider.pk, "json"])
                if provider and see_evidence
                else "",
                provider_evidence_pdf=reverse("providers-evidence", args=[provider.pk, "pdf"])
                if provider and see_evidence
                else "",
                timer=deadline_timer(d, case, now=now, see_evidence=see_evidence),
            )
        )
    return rows
