"""Second opinions: the senior analysts' queue of reviews, the review page and its decision."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST

from accounts.models import AuditAction
from accounts.roles import Role, require_role
from accounts.services import AuditContext, audit_record
from reports.assessment import AssessmentInvalid, CaseLocked
from reports.cases.services import StateConflict
from reports.models import Review
from reports.reviews import OwnVerdict, ReviewClosed, agreement_rates, open_reviews, review_decide
from workspace.views.case import case_context, posted_classification


def reviews_queue(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    reviews = open_reviews(user=request.user)
    return render(
        request,
        "workspace/reviews.html",
        {"reviews": Paginator(reviews, 100).get_page(request.GET.get("page")), "rates": agreement_rates()},
    )


def review_page(
    request: HttpRequest, pk: int, *, errors: dict[str, str] | None = None, status: int = 200
) -> HttpResponse:
    require_role(request, Role.SENIOR)
    review = get_object_or_404(Review.objects.select_related("case", "assessment", "analyst"), pk=pk)
    case = review.case
    audit_record(
        action=AuditAction.CASE_VIEWED,
        actor=request.user,
        audit=AuditContext.from_request(request),
        obj=case,
        summary=gettext_noop("opened to give a second opinion"),
        summary_params={},
    )
    return render(
        request,
        "workspace/review.html",
        {
            **case_context(request, case),
            "review": review,
            "first": review.assessment,
            "own": review.analyst_id == request.user.pk,
            "form_open": review.state == "open" and review.analyst_id != request.user.pk,
            "errors": errors or {},
            "posted": request.POST if errors else {},
        },
        status=status,
    )


@require_POST
def review_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.SENIOR)
    review = get_object_or_404(Review, pk=pk)
    agree = request.POST.get("agree") == "1"
    classification = None if agree else posted_classification(request.POST)
    try:
        decision = review_decide(
            review=review, user=request.user, classification=classification, audit=AuditContext.from_request(request)
        )
    except AssessmentInvalid as exc:
        return review_page(request, pk, errors=exc.messages(), status=400)
    except OwnVerdict as exc:
        raise PermissionDenied(str(exc)) from exc
    except (CaseLocked, ReviewClosed, StateConflict) as exc:
        return review_page(request, pk, errors={"review": str(exc)}, status=409)
    messages.success(
        request,
        (_("Case %(pk)s: agreed.") if decision.agreed else _("Case %(pk)s: your verdict now stands."))
        % {"pk": review.case_id},
    )
    following = open_reviews(user=request.user).first()
    return redirect(reverse("reviews-page", args=[following.pk]) if following else reverse("reviews-queue"))
