"""The triage queue: the cases awaiting an analyst with their filters, the next free case, and the
queue as CSV for senior analysts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import AuditAction
from accounts.roles import Role, has_role, require_role
from accounts.services import AuditContext, audit_record
from reports.models import Case
from reports.suggestions import suggestions_for
from scart.spreadsheets import SafeWriter
from scart.times import file_stamp, iso
from workspace import triage


def queue(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    filters = triage.QueueFilters.from_query(request.GET)
    cases = triage.queue_cases(filters=filters)
    page = Paginator(cases, 50).get_page(request.GET.get("page"))
    suggestions = suggestions_for(page.object_list)
    counts = triage.queue_counts()
    return render(
        request,
        "workspace/queue.html",
        {
            "page": page,
            "rows": [(case, suggestions.get(case.pk, [])) for case in page.object_list],
            "filters": filters,
            "tabs": [(state, label, counts[str(state)]) for state, label in triage.QUEUE_STATES],
            "outcomes": triage.OUTCOMES,
            "now": timezone.now(),
            "query": filters.as_query(),
            "hotline_country": settings.SCART_HOTLINE_COUNTRY,
            "may_export": has_role(request.user, Role.SENIOR),
        },
    )


def next_target(query: QueryDict, user: Any) -> tuple[Case | None, str]:
    """The next case and where it is: the first case of the queue (with the filters of ``query``)
    that nobody else has open and its page, or None and the queue saying that none is left. Only
    a read: the case is locked when its page opens."""
    filters = triage.QueueFilters.from_query(query)
    case = triage.next_case(filters=filters, user=user)
    if case is None:
        return None, f"{reverse('workspace-queue')}?{urlencode({**dict(query.items()), 'done': 1})}"
    as_query = filters.as_query()
    return case, f"{reverse('workspace-case', args=[case.pk])}{'?' + as_query if as_query else ''}"


def next_location(query: QueryDict, user: Any) -> str:
    """Where the next case is (`next_target`'s address)."""
    return next_target(query, user)[1]


def next_case(request: HttpRequest) -> HttpResponse:
    """The first case of the queue (with its filters) that nobody else has open."""
    require_role(request, Role.ANALYST)
    return redirect(next_location(request.GET, request.user))


# Export ------------------------------------------------------------------------------------------


def queue_export(request: HttpRequest) -> HttpResponse:
    """The queue (with its filters) as CSV, for senior analysts; every export is audited."""
    require_role(request, Role.SENIOR)
    filters = triage.QueueFilters.from_query(request.GET)
    cases = triage.queue_cases(filters=filters)[:100_000]
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scart-queue-{file_stamp()}.csv"'
    writer = SafeWriter(response)  # URLs and provider names are text others chose
    writer.writerow(
        ["case", "url", "first_reported_at", "report_count", "urgent", "provider", "country", "asn", "state", "verdict"]
    )
    rows = 0
    for case in cases:
        writer.writerow(
            [
                case.pk,
                case.canonical_url,
                iso(case.first_reported_at),
                case.report_count,
                case.urgent,
                case.provider.name if case.provider else "",
                case.hosting_country,
                case.asn or "",
                case.state,
                case.verdict,
            ]
        )
        rows += 1
    audit_record(
        action=AuditAction.EXPORTED,
        actor=request.user,
        audit=AuditContext.from_request(request),
        object_type="queue",
        summary=gettext_noop("queue export: %(n)s cases"),
        summary_params={"n": rows},
        data={"filters": filters.as_query(), "rows": rows},
    )
    return response
