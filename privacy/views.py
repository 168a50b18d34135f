"""``/privacy/`` (senior analysts read it, administrators change it): the retention rules on one
page; ``/privacy/reporter/`` (senior analysts): a reporter's data, exported or erased."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import Role, has_role, require_role
from accounts.services import AuditContext
from privacy.forms import ReporterForm, RetentionForm
from privacy.reporters import reporter_data, reporter_erase, reporter_export
from privacy.rules import rules_current
from privacy.selectors import retention_page
from privacy.services import retention_setting_change
from scart.times import file_stamp


@require_http_methods(["GET", "POST"])
def retention(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    can_change = has_role(request.user, Role.ADMIN)
    rules = rules_current()
    form = RetentionForm(request.POST or None, rules=rules)
    if request.method == "POST":
        require_role(request, Role.ADMIN)
        if form.is_valid():
            audit = AuditContext.from_request(request)
            changed = sum(
                retention_setting_change(
                    kind=r.kind,
                    days=form.cleaned_data[f"{r.kind}-days"],
                    enabled=form.cleaned_data[f"{r.kind}-enabled"],
                    audit=audit,
                )
                for r in rules
            )
            messages.success(request, _("%(n)d rules changed.") % {"n": changed})
            return redirect("privacy-retention")
    page = retention_page()
    rows = [(row, form[f"{row.kind}-days"], form[f"{row.kind}-enabled"]) for row in page.rules]
    return render(
        request, "privacy/retention.html", {"page": page, "rows": rows, "form": form, "can_change": can_change}
    )


@require_http_methods(["GET", "POST"])
def reporter(request: HttpRequest) -> HttpResponse:
    """The address travels in a POST body only: it never lands in a URL, a log or the history."""
    require_role(request, Role.SENIOR)
    form = ReporterForm(request.POST or None)
    context: dict[str, object] = {"form": form}
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        audit = AuditContext.from_request(request)
        action = request.POST.get("action", "")
        if action == "export":
            body = json.dumps(reporter_export(email=email, audit=audit), indent=2, ensure_ascii=False)
            response = HttpResponse(body, content_type="application/json; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="scart-reporter-data-{file_stamp()}.json"'
            return response
        if action == "erase":
            if request.POST.get("confirm") != "yes":
                form.add_error(None, _("Tick the box to confirm the erasure."))
            else:
                context["erased"] = reporter_erase(email=email, audit=audit)
        context["data"] = reporter_data(email=email)
    return render(request, "privacy/reporter.html", context)
