"""``/audit/`` (senior analysts): who did what to which case or notice, from the audit trail,
filtered by person, action, case or notice and date range, newest first."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import AuditAction
from accounts.roles import Role, require_role
from workspace.notices import AuditFilters, audit_entries, audit_rows, audit_users

AUDIT_PER_PAGE = 100


def audit_list(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    filters = AuditFilters.from_query(request.GET)
    page = Paginator(audit_entries(filters), AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": audit_rows(list(page)),
        "filters": filters,
        "query": filters.as_query(),
        "actions": AuditAction.choices,
        "users": audit_users(),
    }
    return render(request, "workspace/audit.html", context)
