"""The case page: what the workspace knows about one case, the analyst's verdict, the bulk action
on the same page or domain, and marking removal by hand. URLs are shown as text with a copy button,
never as a link, preview or image: nothing on these pages makes the browser fetch anything from a
reported URL."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.roles import Role, has_role, require_role
from accounts.services import AuditContext
from reports.assessment import (
    AssessmentInvalid,
    CaseLocked,
    Classification,
    case_assess,
    case_open,
    case_unlock,
)
from reports.cases.services import StateConflict
from reports.models import (
    AgeGroup,
    AiGenerated,
    AssessmentSource,
    Case,
    CaseState,
    Category,
    LegalBasis,
    MediaType,
    NotIllegalReason,
    PoliceReason,
    Verdict,
)
from reports.suggestions import suggestion_by_ref, suggestions_for
from routing.checks.tracking import case_mark_removed
from workspace.deadlines import case_deadline_page
from workspace.selectors import case_route_page, resolution_page
from workspace.timeline import case_timeline
from workspace.views.queue import next_location, next_target

# Cases a bulk action may touch at once; more means narrowing the scope first.
BULK_LIMIT = 500


def classification_choices(*, police: bool = True) -> dict[str, Any]:
    """The choices of the verdict form; a bulk verdict leaves out the police-first reasons."""
    return {
        "verdicts": Verdict.choices,
        "legal_bases": LegalBasis.choices,
        "categories": Category.choices,
        "age_groups": AgeGroup.choices,
        "media_types": MediaType.choices,
        "ai_choices": AiGenerated.choices,
        **({"police_reasons": PoliceReason.choices} if police else {}),
        "not_illegal_reasons": NotIllegalReason.choices,
    }


def case_context(request: HttpRequest, case: Case) -> dict[str, Any]:
    """What the case page and the review page both show about a case: page models built from the
    stored rows and JSON (the templates never walk the raw resolution or event data)."""
    route = case_route_page(case)
    see_reporters = has_role(request.user, Role.SENIOR)
    return {
        "case": case,
        "timeline": case_timeline(case, see_reporters=see_reporters),
        "assessments": case.assessments.select_related("analyst").order_by("-at", "-id"),
        "reports": case.reported_urls.select_related("report", "report__partner").order_by("report__received_at"),
        "see_reporters": see_reporters,
        "suggestions": suggestions_for([case]).get(case.pk, []),
        "route": route,
        "police_first_held": route is not None and route.police_first_held,
        "resolution": resolution_page(case.resolution),
        "notice_items": case.notice_items.select_related("notice").order_by("-notice__created_at", "-notice_id"),
        "checks": case.checks.order_by("-at", "-id")[:10],
        "can_mark_removed": case.state in (CaseState.ILLEGAL, CaseState.NOTIFIED),
        "deadline": case_deadline_page(case, see_evidence=see_reporters),
        **classification_choices(),
    }


def case_page(
    request: HttpRequest, pk: int, *, errors: dict[str, str] | None = None, status: int = 200
) -> HttpResponse:
    require_role(request, Role.ANALYST)
    case = get_object_or_404(Case.objects.select_related("provider", "cdn", "locked_by"), pk=pk)
    return case_response(request, case, errors=errors, status=status)


def case_response(
    request: HttpRequest,
    case: Case,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    location: str = "",
) -> HttpResponse:
    """The page of ``case`` (loaded with its provider, CDN and lock holder), which opens it: locks
    it and audits the view. ``location`` is the page's own address when it answers a request to
    another one (the verdict that opens the next case); the page's script puts it in the address bar."""
    details = case_context(request, case)  # built before the lock: a failure here takes none
    holder = case_open(case=case, user=request.user, audit=AuditContext.from_request(request))
    context = {
        **details,
        "holder": holder,
        "form_open": holder is None,
        "query": request.GET.urlencode() if request.method == "GET" else request.POST.get("query", ""),
        "errors": errors or {},
        "posted": request.POST if errors else {},
        "location": location,
    }
    try:
        return render(request, "workspace/case.html", context, status=status)
    except Exception:
        # A page that failed must not keep the case from the others for the lock's length.
        if holder is None:
            case_unlock(case=case, user=request.user)
        raise


def posted_classification(post: QueryDict, verdict: str | None = None) -> Classification:
    """The classification a form posted; fields that do not belong to the verdict are dropped
    (the form keeps the illegal fields filled in, as they are sticky between cases)."""
    drawn = post.get("drawn")
    classification = Classification(
        verdict=verdict if verdict is not None else post.get("verdict", ""),
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
        classification.legal_basis = classification.category = classification.age_group = ""
        classification.media_type = classification.ai_generated = classification.police_reason = ""
        classification.police_first = False
        if classification.verdict != Verdict.NOT_ILLEGAL:
            classification.drawn = None
    if classification.verdict != Verdict.NOT_ILLEGAL:
        classification.not_illegal_reason = ""
    return classification


@require_POST
def case_assess_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.ANALYST)
    case = get_object_or_404(Case, pk=pk)
    classification = posted_classification(request.POST)
    source = AssessmentSource.ANALYST
    ref = request.POST.get("suggestion", "")
    if ref:
        # Accepting a suggestion: it must still be one (looked up again, not taken from the
        # form), and the verdict posted must be its verdict.
        suggestion = suggestion_by_ref(case, ref)
        if suggestion is not None and all(
            getattr(classification, name) == value
            for name, value in suggestion.fields.items()
            if name in ("verdict", "category", "not_illegal_reason")
        ):
            source = AssessmentSource.SUGGESTION
            classification.suggestion = suggestion.as_provenance()
    try:
        case_assess(
            case=case,
            user=request.user,
            classification=classification,
            source=source,
            audit=AuditContext.from_request(request),
        )
    except AssessmentInvalid as exc:
        return case_page(request, pk, errors=exc.messages(), status=400)
    except CaseLocked as exc:
        return case_page(request, pk, errors={"case": str(exc)}, status=409)
    except StateConflict as exc:
        return case_page(request, pk, errors={"case": str(exc)}, status=409)
    following, location = next_target(QueryDict(request.POST.get("query", "")), request.user)
    if following is not None and request.POST.get("show") == "next":
        # The page's script asked for the next case's page in this answer, and puts its address in
        # the address bar: one round trip less per verdict than the redirect below.
        return case_response(request, following, location=location)
    # Straight to the next case, not through /cases/next/: one round trip less per verdict.
    return redirect(location)


# Bulk action -------------------------------------------------------------------------------------


def _page_of(url: str) -> str:
    """The page a URL is on: scheme, host, port and path, without query and fragment."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _same_page(case: Case) -> QuerySet[Case]:
    page = _page_of(case.canonical_url)
    candidates = Case.objects.filter(
        host=case.host, state=CaseState.AWAITING_ASSESSMENT, canonical_url__startswith=page
    ).values_list("pk", "canonical_url")
    # `startswith` also matches longer paths (/a and /ab): keep the cases whose page is this page.
    same = [pk for pk, url in candidates[: BULK_LIMIT * 4] if _page_of(url) == page]
    return Case.objects.filter(pk__in=same)


def _same_domain(case: Case) -> QuerySet[Case]:
    domain = case.registrable_domain or case.host
    return Case.objects.filter(registrable_domain=domain, state=CaseState.AWAITING_ASSESSMENT)


@require_POST
def bulk_assess(request: HttpRequest, pk: int) -> HttpResponse:
    """Apply one verdict to every open case of the same page or domain: first a confirmation
    page listing them, then (with ``confirm``) one assessment per case, source ``bulk``."""
    require_role(request, Role.ANALYST)
    case = get_object_or_404(Case, pk=pk)
    scope = request.POST.get("scope", "")
    if scope not in ("page", "domain"):
        return case_page(request, pk, errors={"scope": "choose the same page or the same domain"}, status=400)
    targets = (_same_page(case) if scope == "page" else _same_domain(case)).order_by("first_reported_at", "id")
    classification = posted_classification(request.POST, request.POST.get("bulk_verdict", ""))
    try:
        classification.cleaned()
    except AssessmentInvalid as exc:
        return case_page(request, pk, errors=exc.messages(), status=400)
    count = targets.count()
    if count > BULK_LIMIT:
        return case_page(
            request,
            pk,
            errors={"scope": f"{count} cases: more than {BULK_LIMIT} at once; filter them first"},
            status=400,
        )
    if request.POST.get("confirm") != "1":
        return render(
            request,
            "workspace/bulk_confirm.html",
            {
                "case": case,
                "scope": scope,
                "targets": targets,
                "count": count,
                "classification": classification,
                "verdict_label": Verdict(classification.verdict).label,
                "fields": [(k, v) for k, v in request.POST.items() if k not in ("csrfmiddlewaretoken", "confirm")],
            },
        )
    done, skipped = 0, []
    audit = AuditContext.from_request(request)
    for target in targets:
        try:
            case_assess(
                case=target,
                user=request.user,
                classification=Classification(**{**classification.__dict__, "suggestion": {}}),
                source=AssessmentSource.BULK,
                audit=audit,
            )
            done += 1
        except (CaseLocked, StateConflict) as exc:
            skipped.append(f"#{target.pk}: {exc}")
    messages.success(
        request,
        ngettext("%(verdict)s: recorded on %(n)d case.", "%(verdict)s: recorded on %(n)d cases.", done)
        % {"verdict": Verdict(classification.verdict).label, "n": done},
    )
    if skipped:
        messages.warning(request, _("Skipped %(n)d: %(which)s") % {"n": len(skipped), "which": "; ".join(skipped[:10])})
    # Straight to the next case, not through /cases/next/: one round trip less per verdict.
    return redirect(next_location(QueryDict(request.POST.get("query", "")), request.user))


# Removal marked by hand --------------------------------------------------------------------------


@require_POST
def case_mark_removed_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Marking removal by hand: for hosts under a "do not check" rule, or removal seen another way."""
    require_role(request, Role.ANALYST)
    case = get_object_or_404(Case, pk=pk)
    when: datetime | None = None
    raw = request.POST.get("removed_at", "").strip()
    if raw and raw.lower() != "now":  # empty or "now": the moment of the click
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            messages.error(request, _("%(raw)s is not a date and time such as 2026-11-21 14:30.") % {"raw": repr(raw)})
            return redirect("workspace-case", pk=case.pk)
        when = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    try:
        case_mark_removed(case=case, user=request.user, removed_at=when, audit=AuditContext.from_request(request))
    except (StateConflict, ValueError) as exc:
        messages.error(request, _("Case %(pk)s: %(error)s.") % {"pk": case.pk, "error": exc})
    else:
        messages.success(request, _("Case %(pk)s is closed as removed.") % {"pk": case.pk})
    return redirect("workspace-case", pk=case.pk)
