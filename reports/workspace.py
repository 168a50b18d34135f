"""Views of the analyst workspace. URLs are shown as text with a copy button, never as a link,
preview or image: nothing on these pages makes the browser fetch anything from a reported URL."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import Role, has_role
from reports import queue as triage
from reports.assessment import AssessmentInvalid, CaseLocked, Classification, case_assess, case_open
from reports.models import (
    AgeGroup,
    AiGenerated,
    Case,
    Category,
    LegalBasis,
    MediaType,
    NotIllegalReason,
    PoliceReason,
    Verdict,
)
from reports.services import StateConflict


def _require(request: HttpRequest, role: Role) -> None:
    if not has_role(request.user, role):
        raise PermissionDenied(f"this needs the {role.label.lower()} role")


def queue(request: HttpRequest) -> HttpResponse:
    _require(request, Role.ANALYST)
    filters = triage.QueueFilters.from_query(request.GET)
    cases = triage.queue_cases(filters=filters)
    page = Paginator(cases, 50).get_page(request.GET.get("page"))
    counts = triage.queue_counts()
    return render(
        request,
        "reports/workspace/queue.html",
        {
            "page": page,
            "filters": filters,
            "tabs": [(state, label, counts[str(state)]) for state, label in triage.QUEUE_STATES],
            "outcomes": triage.OUTCOMES,
            "now": timezone.now(),
            "query": filters.as_query(),
            "hotline_country": settings.SCART_HOTLINE_COUNTRY,
        },
    )


def _choices() -> dict[str, Any]:
    return {
        "verdicts": Verdict.choices,
        "legal_bases": LegalBasis.choices,
        "categories": Category.choices,
        "age_groups": AgeGroup.choices,
        "media_types": MediaType.choices,
        "ai_choices": AiGenerated.choices,
        "police_reasons": PoliceReason.choices,
        "not_illegal_reasons": NotIllegalReason.choices,
    }


def case_page(
    request: HttpRequest, pk: int, *, errors: dict[str, str] | None = None, status: int = 200
) -> HttpResponse:
    _require(request, Role.ANALYST)
    case = get_object_or_404(Case.objects.select_related("provider", "cdn", "locked_by"), pk=pk)
    holder = case_open(case=case, user=request.user, request=request)
    context = {
        "case": case,
        "holder": holder,
        "events": case.events.select_related("actor_user", "actor_partner").order_by("at", "id"),
        "assessments": case.assessments.select_related("analyst").order_by("-at", "-id"),
        "reports": case.reported_urls.select_related("report", "report__partner").order_by("report__received_at"),
        "see_reporters": has_role(request.user, Role.SENIOR),
        "query": request.GET.urlencode(),
        "errors": errors or {},
        "posted": request.POST if errors else {},
        **_choices(),
    }
    return render(request, "reports/workspace/case.html", context, status=status)


@require_POST
def case_assess_view(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request, Role.ANALYST)
    case = get_object_or_404(Case, pk=pk)
    post = request.POST
    drawn = post.get("drawn")
    classification = Classification(
        verdict=post.get("verdict", ""),
        legal_basis=post.get("legal_basis", ""),
        category=post.get("category", ""),
        age_group=post.get("age_group", ""),
        media_type=post.get("media_type", ""),
        ai_generated=post.get("ai_generated", ""),
        drawn=None if drawn in (None, "") else drawn in ("1", "yes", "true", "on"),
        police_first=post.get("police_first") in ("1", "yes", "true", "on"),
        police_reason=post.get("police_reason", ""),
        not_illegal_reason=post.get("not_illegal_reason", ""),
        notes=post.get("notes", "").strip(),
    )
    if classification.verdict != Verdict.ILLEGAL:
        # The form keeps the illegal fields filled in (they are sticky between cases): they only
        # count for a verdict of illegal.
        classification.legal_basis = classification.category = classification.age_group = ""
        classification.media_type = classification.ai_generated = classification.police_reason = ""
        classification.police_first = False
        if classification.verdict != Verdict.NOT_ILLEGAL:
            classification.drawn = None
    if classification.verdict != Verdict.NOT_ILLEGAL:
        classification.not_illegal_reason = ""
    try:
        case_assess(case=case, user=request.user, classification=classification, request=request)
    except AssessmentInvalid as exc:
        return case_page(request, pk, errors=exc.errors, status=400)
    except CaseLocked as exc:
        return case_page(request, pk, errors={"case": f"{exc.holder} has this case open"}, status=409)
    except StateConflict as exc:
        return case_page(request, pk, errors={"case": str(exc)}, status=409)
    query = post.get("query", "")
    return redirect(f"{reverse('workspace-next')}?{query}" if query else reverse("workspace-next"))


def next_case(request: HttpRequest) -> HttpResponse:
    """The first case of the queue (with its filters) that nobody else has open."""
    _require(request, Role.ANALYST)
    filters = triage.QueueFilters.from_query(request.GET)
    case = triage.next_case(filters=filters, user=request.user)
    query = filters.as_query()
    if case is None:
        return redirect(f"{reverse('workspace-queue')}?{urlencode({**dict(request.GET.items()), 'done': 1})}")
    return redirect(f"{reverse('workspace-case', args=[case.pk])}{'?' + query if query else ''}")
