"""When deadlines end: met (the case was removed in time), closed (it left tracking another way),
or breached (its time passed with the content online). `deadlines_sweep` runs every minute
(``deadlines-sweep`` in the beat schedule); every step claims its rows with a conditional
``UPDATE``, so two workers running it at once mark each breach once and write one event for it.
The seniors hear of each breach once: the alert is written down only after the mail went out, and a
mail that failed is tried again by the next sweep."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.roles import GROUP_NAMES, Role
from reports.cases.services import Actor, event_append
from reports.models import Case, CaseState, EventKind
from routing.models import Deadline
from scart.mail import mail_failure_is_permanent, mail_failure_text
from scart.times import iso, shown

log = logging.getLogger(__name__)

# Deadlines handled per step of one sweep; the next sweep takes the rest.
SWEEP_LIMIT = 1_000

# The case is still in the notice cycle the deadline belongs to (content that came back opens a new one).
IN_CYCLE = Q(case__cycle_started_at__isnull=True) | Q(case__cycle_started_at=F("cycle_started_at"))


@dataclass
class SweepSummary:
    met: int = 0
    closed: int = 0
    breached: int = 0
    alerted: int = 0


def deadlines_sweep(*, now: datetime | None = None) -> SweepSummary:
    """Close the deadlines of cases that left tracking, mark the passed ones breached (once, with a
    ``deadline_breached`` event), then tell the seniors of breaches not yet told."""
    now = now or timezone.now()
    summary = SweepSummary()
    summary.met, summary.closed = deadlines_close(now=now)
    summary.breached = deadlines_mark_breached(now=now)
    summary.alerted = deadlines_alert(now=now)
    return summary


def deadlines_close(*, now: datetime) -> tuple[int, int]:
    """Deadlines whose case is no longer tracked in their cycle: met when the content was removed
    by the deadline, closed either way. Returns (met, closed)."""
    rows = list(
        Deadline.objects.filter(closed_at__isnull=True)
        .filter(~Q(case__state__in=CaseState.TRACKED) | ~IN_CYCLE)
        .values_list("pk", "due_at", "breached_at", "case__removed_at", "case__state")[:SWEEP_LIMIT]
    )
    met = closed = 0
    for pk, due_at, breached_at, removed_at, state in rows:
        removed = removed_at if state == CaseState.REMOVED and removed_at is not None else None
        in_time = removed is not None and breached_at is None and removed <= due_at
        changed = Deadline.objects.filter(pk=pk, closed_at__isnull=True).update(
            closed_at=removed or now, met_at=removed if in_time else None
        )
        closed += changed
        met += changed if in_time else 0
    return met, closed


def deadlines_mark_breached(*, now: datetime) -> int:
    """Mark each passed deadline of a case still online breached, once, with an event on the case."""
    due = list(
        Deadline.objects.filter(
            closed_at__isnull=True,
            breached_at__isnull=True,
            due_at__lte=now,
            case__state__in=CaseState.TRACKED,
        )
        .filter(IN_CYCLE)
        .order_by("due_at")
        .values_list("pk", "case_id", "name", "due_at", "notice_reference")[:SWEEP_LIMIT]
    )
    marked = 0
    for pk, case_id, name, due_at, reference in due:
        with transaction.atomic():
            # The claim: of two sweeps at once, one changes the row and writes the event.
            if not Deadline.objects.filter(pk=pk, breached_at__isnull=True, closed_at__isnull=True).update(
                breached_at=now
            ):
                continue
            data = {"deadline": pk, "name": name, "due_at": iso(due_at), **({"notice": reference} if reference else {})}
            event_append(case=case_id, kind=EventKind.DEADLINE_BREACHED, actor=Actor.system(), at=now, data=data)
            marked += 1
    return marked


def alert_recipients() -> list[str]:
    """``SCART_DEADLINE_ALERT_EMAILS``, or the addresses of the active seniors and administrators."""
    configured = [a.strip() for a in settings.SCART_DEADLINE_ALERT_EMAILS if a.strip()]
    if configured:
        return configured
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    seniors = users.filter(
        Q(is_superuser=True) | Q(groups__name__in=[GROUP_NAMES[Role.SENIOR], GROUP_NAMES[Role.ADMIN]])
    )
    return sorted(set(seniors.values_list("email", flat=True)))


def deadlines_alert(*, now: datetime) -> int:
    """One mail to the seniors listing the breaches nobody was told of yet. The rows stay locked
    (PostgreSQL: skipped by another sweep) while the mail goes out, and are marked after it did; a
    mail that fails leaves them for the next sweep."""
    recipients = alert_recipients()
    with transaction.atomic():
        pending = Deadline.objects.filter(breached_at__isnull=False, alerted_at__isnull=True).order_by("breached_at")
        if connection.vendor == "postgresql":
            pending = pending.select_for_update(skip_locked=True, of=("self",))
        rows = list(pending.select_related("case")[:SWEEP_LIMIT])
        if not rows:
            return 0
        if recipients:
            try:
                send_mail(
                    subject=f"[{settings.SCART_HOTLINE_NAME}] {len(rows)} deadline(s) passed with the content online",
                    message=_alert_text(rows),
                    from_email=None,
                    recipient_list=recipients,
                )
            except OSError as exc:
                # Either way the breach stays on the pages; a temporary failure is tried again.
                level = logging.ERROR if mail_failure_is_permanent(exc) else logging.WARNING
                log.log(level, "the deadline alert could not be sent: %s", mail_failure_text(exc))
                if not mail_failure_is_permanent(exc):
                    return 0
        else:
            log.warning("%d deadline(s) passed and nobody has an address to hear of it", len(rows))
        return Deadline.objects.filter(pk__in=[d.pk for d in rows], alerted_at__isnull=True).update(alerted_at=now)


def _alert_text(rows: list[Deadline]) -> str:
    """Metadata only: the case, its deadline and the notice; the URL stays on the case page."""
    lines = ["These deadlines passed while the content was still online:", ""]
    for d in rows:
        case: Case = d.case
        link = f"{settings.SITE_URL}{reverse('workspace-case', args=[case.pk])}"
        notice = f", notice {d.notice_reference}" if d.notice_reference else ""
        lines.append(f"- case {case.pk} on {case.host}: {d.name}, due {shown(d.due_at)}{notice}\n  {link}")
    lines += ["", f"All open and passed deadlines: {settings.SITE_URL}{reverse('worklist-deadlines')}"]
    return "\n".join(lines)
