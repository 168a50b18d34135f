"""Legal and agreed deadlines: the senior analysts' rules, the worklist sorted by time left, and
the evidence packs of a case or a provider (JSON and PDF, senior analysts only, audited)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods

from accounts.models import AuditAction
from accounts.roles import Role, has_role, require_role
from accounts.services import AuditContext, audit_record
from reports.models import Case
from routing.deadlines.evidence import case_evidence, provider_evidence
from routing.deadlines.forms import DeadlineRuleForm
from routing.deadlines.pdf import evidence_pdf
from routing.deadlines.rules import SCOPE_ORDER
from routing.models import DeadlineRule, Provider
from routing.tasks import deadlines_backfill_task
from scart.db import enqueue_on_commit
from scart.times import file_stamp
from workspace.deadlines import WorklistFilter, deadline_rows, worklist_deadlines

ROWS_PER_PAGE = 100
FORMATS = ("json", "pdf")


def deadlines_worklist(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    show = request.GET.get("show", WorklistFilter.OPEN)
    if show not in dict(WorklistFilter.CHOICES):
        show = WorklistFilter.OPEN
    page = Paginator(worklist_deadlines(show), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    senior = has_role(request.user, Role.SENIOR)
    return render(
        request,
        "workspace/deadlines/worklist.html",
        {
            "page": page,
            "rows": deadline_rows(list(page), see_evidence=senior),
            "show": show,
            "filters": WorklistFilter.CHOICES,
            "senior": senior,
        },
    )


def deadline_rules(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    rules = sorted(
        DeadlineRule.objects.select_related("provider", "created_by"),
        key=lambda r: (SCOPE_ORDER.index(r.scope), not r.active, r.duration, r.name),
    )
    return render(request, "workspace/deadlines/rules.html", {"rules": rules})


@require_http_methods(["GET", "POST"])
def deadline_rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (``pk`` None) or change a rule; `accounts.signals` audits every save. A change
    applies to deadlines set from then on; deadlines already set keep their terms. After the
    commit a backfill is queued for the tracked cases the rules now give a deadline."""
    require_role(request, Role.SENIOR)
    rule = get_object_or_404(DeadlineRule, pk=pk) if pk else None
    form = DeadlineRuleForm(request.POST or None, instance=rule)
    if request.method == "POST":
        if form.is_valid():
            saved = form.save(commit=False)
            if rule is None:
                saved.created_by_id = request.user.pk
            with transaction.atomic():
                saved.save()
                # Cases whose verdict or first notice came before the rule get their deadline too.
                enqueue_on_commit(deadlines_backfill_task.delay, what="deadlines_backfill_task")
            messages.success(
                request,
                _("Saved the deadline rule “%(name)s”. Cases already under it get their deadlines in a moment.")
                % {"name": saved.name},
            )
            return redirect("deadline-rules")
        return render(request, "workspace/deadlines/rule_form.html", {"form": form, "rule": rule}, status=400)
    return render(request, "workspace/deadlines/rule_form.html", {"form": form, "rule": rule})


@require_http_methods(["GET", "POST"])
def deadline_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page (GET); the rule goes on POST (deadlines it set keep its name and terms)."""
    require_role(request, Role.SENIOR)
    rule = get_object_or_404(DeadlineRule, pk=pk)
    if request.method != "POST":
        return render(request, "workspace/deadlines/rule_delete.html", {"rule": rule})
    name = rule.name
    rule.delete()
    messages.success(request, _("Deleted the deadline rule “%(name)s”.") % {"name": name})
    return redirect("deadline-rules")


def _pack_response(request: HttpRequest, pack: dict[str, Any], fmt: str, *, stem: str, obj: object) -> HttpResponse:
    audit_record(
        action=AuditAction.EXPORTED,
        audit=AuditContext.from_request(request),
        obj=obj,
        summary=gettext_noop("evidence pack (%(format)s)"),
        summary_params={"format": fmt},
        data={"schema": pack["schema"], "format": fmt},
    )
    name = f"{stem}-evidence-{file_stamp()}.{fmt}"
    if fmt == "json":
        response = HttpResponse(
            json.dumps(pack, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
        )
    else:
        response = HttpResponse(evidence_pdf(pack), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def case_evidence_view(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    require_role(request, Role.SENIOR)
    if fmt not in FORMATS:
        raise Http404("no such format")
    case = get_object_or_404(Case.objects.select_related("provider"), pk=pk)
    return _pack_response(request, case_evidence(case), fmt, stem=f"case-{case.pk}", obj=case)


def provider_evidence_view(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    require_role(request, Role.SENIOR)
    if fmt not in FORMATS:
        raise Http404("no such format")
    provider = get_object_or_404(Provider, pk=pk)
    return _pack_response(request, provider_evidence(provider), fmt, stem=f"provider-{provider.pk}", obj=provider)
