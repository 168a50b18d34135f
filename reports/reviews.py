"""Second opinions: which verdicts a senior analyst reviews, and what the review decides.

A review is requested for every verdict of an analyst in training and every not-illegal verdict
against a partner hotline's illegal classification (both *blocking*: no notice goes out for the
case until a senior decides), and for a random share (``SCART_REVIEW_SHARE``) of all other
analysts' verdicts (not blocking: they measure agreement). A senior agrees, which closes the
review, or gives their own verdict, which becomes the case's verdict; both opinions stay in the
timeline as assessments and events.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from accounts.models import AuditAction, StaffProfile
from accounts.services import AuditContext, audit_record
from reports.assessment import case_assess
from reports.cases.classification import VERDICT_FIELDS, Classification
from reports.cases.hooks import verdict_recorded
from reports.cases.services import Actor, StateConflict, event_append
from reports.models import (
    Assessment,
    AssessmentSource,
    Case,
    CaseState,
    EventKind,
    Review,
    ReviewReason,
    ReviewState,
    Verdict,
)
from reports.suggestions import partner_says_illegal
from scart.shown import lower_lazy

# Sources whose verdicts are an analyst's own opinion, and so may be reviewed.
REVIEWABLE_SOURCES = {AssessmentSource.ANALYST, AssessmentSource.SUGGESTION, AssessmentSource.BULK}
# Fields that, when the senior's verdict differs in them, count as disagreement.
AGREEMENT_FIELDS = ("verdict", "category")


class ReviewClosed(StateConflict):
    """The review was decided (or superseded) by someone else first."""


class OwnVerdict(PermissionError):
    """Nobody reviews their own verdict."""


def _in_training(user: Any) -> bool:
    return StaffProfile.objects.filter(user=user, in_training=True).exists()


def review_reason(*, case: Case, assessment: Assessment, user: Any) -> tuple[str, bool] | None:
    """Why this verdict needs a second opinion and whether notices wait for it, or None."""
    if user is None or assessment.source not in REVIEWABLE_SOURCES:
        return None
    if _in_training(user):
        return ReviewReason.TRAINING, True
    if assessment.verdict == Verdict.NOT_ILLEGAL and partner_says_illegal(case) is not None:
        return ReviewReason.PARTNER_DISAGREES, True
    share = settings.SCART_REVIEW_SHARE
    if share > 0 and secrets.SystemRandom().random() < share:
        return ReviewReason.SAMPLE, False
    return None


def review_request(*, case: Case, assessment: Assessment, user: Any) -> Review | None:
    """Called inside `case_assess`'s transaction: supersede the case's open reviews (a newer
    verdict replaces the one they were about) and request a review of this verdict if it needs
    one."""
    now = timezone.now()
    Review.objects.filter(case=case, state=ReviewState.OPEN).exclude(assessment=assessment).update(
        state=ReviewState.SUPERSEDED, decided_at=now
    )
    reason = review_reason(case=case, assessment=assessment, user=user)
    if reason is None:
        return None
    review = Review.objects.create(
        case=case,
        assessment=assessment,
        analyst=user,
        reason=reason[0],
        blocking=reason[1],
        requested_at=now,
    )
    event_append(
        case=case,
        kind=EventKind.REVIEW_REQUESTED,
        actor=Actor.system(),
        at=now,
        data={"review": review.pk, "assessment": assessment.pk, "reason": reason[0], "blocking": reason[1]},
    )
    return review


@dataclass(frozen=True)
class Decision:
    review: Review
    agreed: bool
    assessment: Assessment | None  # the senior's own assessment, when it differs from the first


def review_decide(
    *, review: Review, user: Any, classification: Classification | None = None, audit: AuditContext | None = None
) -> Decision:
    """A senior analyst decides ``review``: with no ``classification`` they agree with the first
    verdict as it is; with one, it is their own verdict. Agreement is judged on the verdict and
    the category; any difference in other fields is still recorded as the senior's assessment."""
    with transaction.atomic():
        locked = Review.objects.select_for_update().select_related("assessment", "case").get(pk=review.pk)
        if locked.state != ReviewState.OPEN:
            raise ReviewClosed(_("this review is already %(state)s"), state=lower_lazy(ReviewState(locked.state).label))
        if locked.analyst_id is not None and locked.analyst_id == getattr(user, "pk", None):
            raise OwnVerdict(_("a second opinion must come from someone else"))
        first = locked.assessment
        own: Assessment | None = None
        agreed = True
        if classification is not None:
            cleaned = classification.cleaned()
            first_fields = {name: getattr(first, name) for name in AGREEMENT_FIELDS}
            agreed = all(getattr(cleaned, name) == first_fields[name] for name in AGREEMENT_FIELDS)
            same = all(getattr(cleaned, name) == getattr(first, name) for name in VERDICT_FIELDS)
            if not same:
                cleaned.suggestion = {"kind": "review", "ref": f"review:{locked.pk}"}
                own = case_assess(
                    case=locked.case,
                    user=user,
                    classification=cleaned,
                    source=AssessmentSource.REVIEW,
                    audit=audit,
                    review=locked,
                )
        now = timezone.now()
        locked.state = ReviewState.AGREED if agreed else ReviewState.OVERRULED
        locked.reviewer = user
        locked.decided_at = now
        locked.decision = own
        locked.save(update_fields=["state", "reviewer", "decided_at", "decision"])
        event_append(
            case=locked.case,
            kind=EventKind.REVIEW_DECIDED,
            actor=Actor.staff(user),
            at=now,
            data={
                "review": locked.pk,
                "agreed": agreed,
                "first": {"assessment": first.pk, "verdict": first.verdict, "category": first.category},
                "second": {
                    "assessment": own.pk if own else first.pk,
                    "verdict": own.verdict if own else first.verdict,
                    "category": own.category if own else first.category,
                },
            },
        )
        if locked.blocking and own is None and locked.case.state == CaseState.ILLEGAL:
            # The verdict stands: the notices it held back can go.
            verdict_recorded.send(sender=Case, case_ids=[locked.case_id])
        audit_record(
            action=AuditAction.REVIEW_DECIDED,
            actor=user,
            audit=audit,
            obj=locked.case,
            summary=gettext_noop("agreed with the verdict of review %(review)s")
            if agreed
            else gettext_noop("overruled the verdict of review %(review)s"),
            summary_params={"review": locked.pk},
            data={"review": locked.pk, "agreed": agreed, "decision": own.pk if own else None},
        )
    return Decision(locked, agreed, own)


def open_reviews(*, user: Any = None) -> QuerySet[Review]:
    """Open reviews, blocking ones first, then the oldest; without the user's own verdicts."""
    reviews = Review.objects.filter(state=ReviewState.OPEN)
    if user is not None:
        reviews = reviews.exclude(analyst=user)
    return reviews.select_related("case", "assessment", "analyst", "case__provider").order_by(
        "-blocking", "requested_at", "id"
    )


def agreement_rates() -> list[dict[str, Any]]:
    """Per analyst: reviews decided, agreed, the agreement rate, and reviews still open."""
    rows = (
        Review.objects.exclude(state=ReviewState.SUPERSEDED)
        .values("analyst", "analyst__username")
        .annotate(
            decided=Count("id", filter=Q(state__in=[ReviewState.AGREED, ReviewState.OVERRULED])),
            agreed=Count("id", filter=Q(state=ReviewState.AGREED)),
            open=Count("id", filter=Q(state=ReviewState.OPEN)),
        )
        .order_by("analyst__username")
    )
    return [
        {
            "analyst": row["analyst__username"] or "(deleted user)",
            "decided": row["decided"],
            "agreed": row["agreed"],
            "open": row["open"],
            "rate": row["agreed"] / row["decided"] if row["decided"] else None,
        }
        for row in rows
    ]


def cases_held_for_review(case_ids: list[int]) -> set[int]:
    """The cases among these whose notices wait for a blocking second opinion."""
    return set(
        Review.objects.filter(case_id__in=case_ids, state=ReviewState.OPEN, blocking=True).values_list(
            "case_id", flat=True
        )
    )
