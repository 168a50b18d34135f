"""``/audit/`` (senior analysts): who did what to which case or notice, from the audit trail and
the events staff wrote on the cases' timelines (`workspace.audit`), filtered by person, action,
case or notice and date range, newest first."""

from __future__ import annotations

from typing import Any, cast

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import Role, require_role
from workspace.audit import audit_action_choices, audit_trail, audit_trail_rows
from workspace.notices import AuditFilters, audit_users

AUDIT_PER_PAGE = 100


def audit_list(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    filters = AuditFilters.from_query(request.GET)
    # The trail is counted and sliced, all a Paginator does with it (not a full sequence).
    trail = cast(Any, audit_trail(filters))
    page = Paginator(trail, AUDIT_PER_PAGE).get_page(request.GET.get("page"))
    actions, event_kinds = audit_action_choices()
    context = {
        "page": page,
        "rows": audit_trail_rows(list(page)),
        "filters": filters,
        "query": filters.as_query(),
        "actions": actions,
        "event_kinds": event_kinds,
        "users": audit_users(),
    }
    return render(request, "workspace/audit.html", context)
