"""Writes of the assessment stage: opening (locking) a case, and classifying it.

A verdict is an `Assessment` row plus an ``assessed`` event carrying every field; a later change
is a new row and a new event. The case's ``verdict`` column and its state follow the latest one.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from reports.cases.classification import VERDICT_FIELDS as VERDICT_FIELDS
from reports.cases.classification import AssessmentInvalid as AssessmentInvalid
from reports.cases.classification import Classification as Classification
from reports.cases.hooks import verdict_recorded
from reports.cases.services import Actor, StateConflict, case_transition, event_append
from reports.models import (
    Assessment,
    AssessmentSource,
    Case,
    CaseState,
    EventKind,
    Review,
    Verdict,
)
from scart.shown import ShownError, lower_lazy

# How long opening a case keeps it for the analyst who opened it.
LOCK = timedelta(minutes=5)

STATE_OF_VERDICT = {
    Verdict.ILLEGAL: CaseState.ILLEGAL,
    Verdict.NOT_ILLEGAL: CaseState.NOT_ILLEGAL,
    Verdict.GONE: CaseState.CANNOT_ASSESS,
    Verdict.CANNOT_ASSESS: CaseState.CANNOT_ASSESS,
}


class CaseLocked(ShownError):
    """Another analyst has the case open."""

    code = "case_locked"

    def __init__(self, holder: Any, until: datetime | None) -> None:
        super().__init__(_("%(holder)s has this case open"), holder=holder or _("another analyst"))
        self.holder = holder
        self.until = until


def case_open(*, case: Case, user: Any, audit: AuditContext | None = None) -> Any:
    """Open ``case`` for ``user``: lock it to them for `LOCK` unless another analyst holds it.
    Returns the holder when someone else has it (the case is shown read-only), else None. The
    view is written to the audit trail either way."""
    now = timezone.now()
    until = now + LOCK
    free = Q(locked_by__isnull=True) | Q(locked_until__lt=now) | Q(locked_by=user)
    taken = Case.objects.filter(free, pk=case.pk, state__in=CaseState.ASSESSABLE).update(
        locked_by=user, locked_until=until
    )
    audit_record(action=AuditAction.CASE_VIEWED, actor=user, audit=audit, obj=case, summary=case.canonical_url[:300])
    if taken:  # the lock is what the UPDATE wrote: no need to read it back
        case.locked_by, case.locked_until = user, until
        return None
    case.refresh_from_db(fields=["locked_by", "locked_until"])
    if case.locked_by_id is None or case.locked_until is None or case.locked_until < now:
        return None
    return case.locked_by


def case_unlock(*, case: Case, user: Any) -> None:
    """Give up ``user``'s hold on ``case`` (opened with `case_open`); another analyst's stays."""
    Case.objects.filter(pk=case.pk, locked_by=user).update(locked_by=None, locked_until=None)


def case_assess(
    *,
    case: Case,
    user: Any,
    classification: Classification,
    source: str = AssessmentSource.ANALYST,
    audit: AuditContext | None = None,
    review: Review | None = None,
) -> Assessment:
    """Record a verdict on ``case`` and move the case to the verdict's state.

    Raises `AssessmentInvalid` for an incomplete or contradictory classification, `CaseLocked`
    when another analyst has the case open, and `StateConflict` when the case is past assessment
    (notified or removed) or someone else changed it first. The verdict may get a second opinion
    (`reports.reviews`); ``review`` is the review a senior analyst's verdict decides.
    """
    # reports.reviews records its decisions through `case_assess`, so it imports this module.
    from reports.reviews import review_request

    cleaned = classification.cleaned()
    now = timezone.now()
    actor = Actor.staff(user) if user is not None else Actor.system()
    with transaction.atomic():
        locked = Case.objects.select_for_update().filter(pk=case.pk).first()
        if locked is None:
            raise StateConflict(_("case %(pk)s does not exist"), pk=case.pk, code="case_missing")
        case = locked
        if case.locked_by_id not in (None, getattr(user, "pk", None)) and case.locked_until and case.locked_until > now:
            raise CaseLocked(case.locked_by, case.locked_until)
        if case.state not in CaseState.ASSESSABLE:
            raise StateConflict(
                _("case %(pk)s is %(state)s: it cannot be assessed now"),
                pk=case.pk,
                state=lower_lazy(CaseState(case.state).label),
                code="not_assessable",
            )
        before = {"verdict": case.verdict, "state": case.state}
        assessment = Assessment.objects.create(
            case=case,
            at=now,
            analyst=user,
            source=source,
            **{k: v for k, v in asdict(cleaned).items() if k != "suggestion"},
            suggestion=cleaned.suggestion,
        )
        event_append(
            case=case,
            kind=EventKind.ASSESSED,
            actor=actor,
            at=now,
            data={
                "assessment": assessment.pk,
                "source": source,
                **cleaned.as_event_data(),
                **({"review": review.pk} if review is not None else {}),
            },
        )
        if review is None:
            review_request(case=case, assessment=assessment, user=user)
        target = STATE_OF_VERDICT[Verdict(cleaned.verdict)]
        if case.state != target:
            case_transition(case=case, to=target, actor=actor, data={"assessment": assessment.pk})
        Case.objects.filter(pk=case.pk).update(
            verdict=cleaned.verdict, assessed_at=now, locked_by=None, locked_until=None
        )
        if target == CaseState.ILLEGAL:
            # The analyst saw the content online; the notices for it are planned after the commit.
            # A first availability check at once: content already gone gets no notice.
            Case.objects.filter(pk=case.pk).update(
                last_seen_online_at=now, check_due_at=now, cycle_started_at=Coalesce(F("cycle_started_at"), now)
            )
            verdict_recorded.send(sender=Case, case_ids=[case.pk])
        audit_record(
            action=AuditAction.CASE_ASSESSED,
            actor=user,
            audit=audit,
            obj=case,
            summary=gettext_noop("verdict %(verdict)s (%(source)s)"),
            summary_params={
                "verdict": {"field": "reports.assessment.verdict", "value": cleaned.verdict},
                "source": {"field": "reports.assessment.source", "value": str(source)},
            },
            data={"before": before, "after": {"verdict": cleaned.verdict, "state": str(target)}},
        )
    case.verdict, case.assessed_at, case.state = cleaned.verdict, now, target
    return assessment
