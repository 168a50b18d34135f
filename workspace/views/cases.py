"""The search and the case list: finding a case by what a person has at hand (a URL, a host, an
address, a reference, a provider), and every case with filters, a sort, keyset pages, a CSV export
and bulk actions (assign, one verdict, resolve again, mark removed), each through the service that
audits it.

Who sees what: analysts (in training too) and senior analysts search and list every case; the
names of the partners who reported a case, the partner filter and the export are for senior
analysts (analysts read "a partner"); assigning is for senior analysts, a bulk verdict for analysts
not in training. Partners have no workspace account at all."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext
from django.views.decorators.http import require_POST

from accounts.models import AuditAction, StaffProfile
from accounts.roles import GROUP_NAMES, Role, has_role, require_role
from accounts.services import AuditContext, audit_record
from reports.assessment import AssessmentInvalid, CaseLocked, case_assess
from reports.cases.handling import cases_assign, cases_resolve_again
from reports.cases.services import StateConflict
from reports.models import (
    AiGenerated,
    AssessmentSource,
    Case,
    CaseState,
    Category,
    Channel,
    Partner,
    Verdict,
)
from routing.checks.tracking import case_mark_removed
from scart.spreadsheets import SafeWriter
from scart.times import file_stamp, iso
from workspace import caselist
from workspace.search import COUNT_CAP, query_parse, search
from workspace.views.case import BULK_LIMIT, classification_choices, posted_classification

EXPORT_LIMIT = 100_000
EXPORT_COLUMNS = (
    *("case", "url", "state", "verdict", "provider", "country", "asn"),
    *("first_reported_at", "state_changed_at", "report_count", "urgent", "assigned_to"),
)
BULK_ACTIONS = ("assign", "verdict", "reresolve", "removed")


def _trainee(user: Any) -> bool:
    return StaffProfile.objects.filter(user=user, in_training=True).exists()


def search_page(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    text = request.GET.get("q", "")
    query = query_parse(text)
    results = search(query, see_reporters=has_role(request.user, Role.SENIOR)) if query else None
    if results is not None and request.GET.get("stay") != "1" and (target := results.single_target):
        return redirect(target[0], pk=target[1])
    return render(
        request,
        "workspace/search.html",
        {"text": text, "query": query, "results": results, "count_cap": COUNT_CAP},
    )


# The case list -------------------------------------------------------------------------------------


def _staff_users() -> QuerySet[Any]:
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=list(GROUP_NAMES.values())))
        .distinct()
        .order_by("username")
    )


def cases_list(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    senior = has_role(request.user, Role.SENIOR)
    filters = caselist.CaseFilters.from_query(request.GET, see_partners=senior)
    cases = caselist.cases_filtered(filters, user=request.user)
    page = caselist.cases_page(
        cases,
        sort=filters.sort,
        cursor=request.GET.get("cursor", ""),
        before=request.GET.get("before", ""),
        size=caselist.PAGE_SIZE,
    )
    trainee = _trainee(request.user)
    return render(
        request,
        "workspace/cases.html",
        {
            "filters": filters,
            "search": filters.search,
            "page": page,
            "rows": caselist.case_rows(page.cases, see_partners=senior),
            "query": filters.as_query(),
            "next_query": filters.as_query(cursor=page.next_cursor) if page.next_cursor else "",
            "previous_query": filters.as_query(before=page.previous_cursor) if page.previous_cursor else "",
            "states": CaseState.choices,
            "verdicts": Verdict.choices,
            "categories": Category.choices,
            "ai_choices": AiGenerated.choices,
            "channels": Channel.choices,
            "partners": Partner.objects.order_by("name") if senior else None,
            "sorts": caselist.SORT_LABELS,
            "users": _staff_users(),
            "may_export": senior,
            "may_assign": senior,
            "may_assess": not trainee,
            "bulk_limit": BULK_LIMIT,
        },
    )


def cases_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as CSV (metadata only: no reporter's contact, no notes), for senior
    analysts; every export is audited."""
    require_role(request, Role.SENIOR)
    filters = caselist.CaseFilters.from_query(request.GET, see_partners=True)
    column, descending = caselist.SORTS[filters.sort]
    order = f"{'-' if descending else ''}{column}"
    cases = caselist.cases_filtered(filters, user=request.user).select_related("provider", "assigned_to")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scart-cases-{file_stamp()}.csv"'
    writer = SafeWriter(response)  # URLs and provider names are text others chose
    writer.writerow(EXPORT_COLUMNS)
    rows = 0
    for case in cases.order_by(order, "id")[:EXPORT_LIMIT].iterator(chunk_size=2000):
        writer.writerow(
            [
                case.pk,
                case.canonical_url,
                case.state,
                case.verdict,
                case.provider.name if case.provider else "",
                case.hosting_country,
                case.asn or "",
                iso(case.first_reported_at),
                iso(case.state_changed_at),
                case.report_count,
                case.urgent,
                case.assigned_to.get_username() if case.assigned_to else "",
            ]
        )
        rows += 1
    audit_record(
        action=AuditAction.EXPORTED,
        audit=AuditContext.from_request(request),
        object_type="cases",
        summary=gettext_noop("case list export: %(n)s cases"),
        summary_params={"n": rows},
        data={"filters": filters.as_query(), "rows": rows},
    )
    return response


# Bulk actions ------------------------------------------------------------------------------------


def _back(request: HttpRequest) -> HttpResponse:
    query = request.POST.get("back", "")
    return redirect(f"{reverse('cases-list')}?{query}" if query else reverse("cases-list"))


@require_POST
def cases_bulk(request: HttpRequest) -> HttpResponse:
    """One action on the cases ticked in the list (at most `BULK_LIMIT`)."""
    require_role(request, Role.ANALYST)
    action = request.POST.get("action", "")
    ids = sorted({int(v) for v in request.POST.getlist("case") if v.isdigit()})
    if action not in BULK_ACTIONS or not ids:
        messages.error(request, _("Tick one or more cases and choose an action."))
        return _back(request)
    if len(ids) > BULK_LIMIT:
        messages.error(request, _("At most %(limit)d cases at once.") % {"limit": BULK_LIMIT})
        return _back(request)
    audit = AuditContext.from_request(request)
    if action == "assign":
        require_role(request, Role.SENIOR)
        raw = request.POST.get("assignee", "")
        assignee = _staff_users().filter(pk=int(raw)).first() if raw.isdigit() else None
        if raw and assignee is None:
            messages.error(request, _("Choose someone on the staff to assign the cases to."))
            return _back(request)
        done = cases_assign(case_ids=ids, assignee=assignee, audit=audit)
        messages.success(request, ngettext("%(n)d case assigned.", "%(n)d cases assigned.", done) % {"n": done})
        return _back(request)
    if action == "reresolve":
        done = cases_resolve_again(case_ids=ids, audit=audit)
        messages.success(
            request, ngettext("%(n)d case to resolve again.", "%(n)d cases to resolve again.", done) % {"n": done}
        )
        return _back(request)
    if action == "removed":
        return _bulk_mark_removed(request, ids, audit)
    return _bulk_verdict(request, ids)


def _bulk_mark_removed(request: HttpRequest, ids: list[int], audit: AuditContext) -> HttpResponse:
    done, skipped = 0, []
    for case in Case.objects.filter(pk__in=ids).order_by("pk"):
        try:
            case_mark_removed(case=case, user=request.user, audit=audit)
            done += 1
        except (StateConflict, ValueError) as exc:
            skipped.append(f"#{case.pk}: {exc}")
    messages.success(
        request, ngettext("%(n)d case closed as removed.", "%(n)d cases closed as removed.", done) % {"n": done}
    )
    if skipped:
        messages.warning(request, _("Skipped %(n)d: %(which)s") % {"n": len(skipped), "which": "; ".join(skipped[:10])})
    return _back(request)


def _bulk_verdict(request: HttpRequest, ids: list[int]) -> HttpResponse:
    """First a page listing the cases with the verdict's fields; then (``confirm``) one assessment
    per case through `case_assess`, marked as a bulk action."""
    if _trainee(request.user):
        messages.error(request, _("Analysts in training give their verdicts one case at a time."))
        return _back(request)
    targets = list(Case.objects.filter(pk__in=ids).select_related("provider").order_by("first_reported_at", "id"))
    classification = posted_classification(request.POST)
    errors: dict[str, str] = {}
    if request.POST.get("confirm") == "1":
        try:
            classification.cleaned()
        except AssessmentInvalid as exc:
            errors = exc.messages()
        else:
            return _bulk_verdict_record(request, targets, classification)
    return render(
        request,
        "workspace/cases_verdict.html",
        {
            "targets": targets,
            "ids": ids,
            "classification": classification,
            "errors": errors,
            "back": request.POST.get("back", ""),
            "assessable": [t.pk for t in targets if t.state in CaseState.ASSESSABLE],
            **classification_choices(police=False),
        },
        status=400 if errors else 200,
    )


def _bulk_verdict_record(request: HttpRequest, targets: list[Case], classification: Any) -> HttpResponse:
    done, skipped = 0, []
    for target in targets:
        try:
            case_assess(
                case=target,
                user=request.user,
                classification=type(classification)(**{**classification.__dict__, "suggestion": {}}),
                source=AssessmentSource.BULK,
                audit=AuditContext.from_request(request),
            )
            done += 1
        except (CaseLocked, StateConflict, AssessmentInvalid) as exc:
            skipped.append(f"#{target.pk}: {exc}")
    label = Verdict(classification.verdict).label
    messages.success(
        request,
        ngettext("%(verdict)s: recorded on %(n)d case.", "%(verdict)s: recorded on %(n)d cases.", done)
        % {"verdict": label, "n": done},
    )
    if skipped:
        messages.warning(request, _("Skipped %(n)d: %(which)s") % {"n": len(skipped), "which": "; ".join(skipped[:10])})
    return _back(request)
