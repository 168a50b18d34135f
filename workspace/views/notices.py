"""Staff pages of the notice stage.

- ``/notices/`` (analysts): every notice, filtered, searched, sorted and paginated.
- ``/notices/<pk>/`` (analysts): a notice, its cases, attempts, the replies and bounces that came
  back, and the preview of its message; seniors act on it (`workspace.views.notice_actions`).
- ``/disputes/`` (seniors): open disputes, oldest first, each upheld or accepted with a note.
- ``/cases/<pk>/release/`` (seniors): release a police-first case's held notices.

The provider's own page, ``/n/<token>/``, is public and stays with the stage (`routing.notices.views`).
Reported URLs are shown as text, never as links: nothing here makes a browser fetch them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import Role, has_role, require_role
from accounts.services import AuditContext
from reports.models import Case
from routing.models import DisputeState, Notice, NoticeCase, NoticeState
from routing.notices.preview import LINK_PLACEHOLDER, notice_preview
from routing.notices.render import language_name
from routing.notices.responses import (
    REASON_MAX,
    DisputeClosed,
    DisputeInvalid,
    ReleaseInvalid,
    dispute_decide,
    police_hold_release,
)
from workspace.notices import (
    NOTICE_SORTS,
    NoticeFilters,
    notice_filter_choices,
    notice_state_counts,
    notices_filtered,
)
from workspace.views.notice_actions import notice_actions_available

NOTICES_PER_PAGE = 50
DISPUTES_PER_PAGE = 50


# Notices (analysts; seniors act on them) ---------------------------------------------------------


def notices_list(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    filters = NoticeFilters.from_query(request.GET)
    counts = notice_state_counts()
    tabs = [
        (value, label.split(":")[0], counts.get(value, 0), filters.as_query(state=value))
        for value, label in NoticeState.choices
    ]
    page = Paginator(notices_filtered(filters), NOTICES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "filters": filters,
        "state": filters.state,
        "tabs": tabs,
        "total": sum(counts.values()),
        "query": filters.as_query(),
        "all_link": filters.as_query(state=""),
        "sort_links": {
            key: filters.as_query(sort=key if filters.sort == f"-{key}" else f"-{key}") for key in NOTICE_SORTS
        },
        **notice_filter_choices(),
    }
    return render(request, "workspace/notices/list.html", context)


def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.ANALYST)
    notice = get_object_or_404(Notice.objects.select_related("provider", "hotline", "handled_by"), pk=pk)
    senior = has_role(request.user, Role.SENIOR)
    context: dict[str, Any] = {
        "notice": notice,
        "language": language_name(notice.language),
        "items": notice.items.select_related("case", "dispute_handled_by").order_by("pk"),
        "replies": notice.messages.all(),
        "parts": list(notice.deliveries.order_by("position", "pk")),
        "actions": notice_actions_available(notice) if senior else [],
        "senior": senior,
        "preview": notice_preview(notice),
        "link_placeholder": LINK_PLACEHOLDER,
    }
    return render(request, "workspace/notices/detail.html", context)


# Disputes (seniors) ------------------------------------------------------------------------------


def disputes_queue(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    return _disputes_page(request)


def _disputes_page(
    request: HttpRequest, *, failed: NoticeCase | None = None, note: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    """Open disputes, oldest answer first; after a refused decision, ``failed`` shows its error
    and the note typed."""
    rows = (
        NoticeCase.objects.filter(dispute_state=DisputeState.OPEN)
        .select_related("case", "notice", "notice__provider")
        .order_by("responded_at", "pk")
    )
    page = Paginator(rows, DISPUTES_PER_PAGE).get_page(request.GET.get("page"))
    shown = list(page)
    if failed is not None and all(item.pk != failed.pk for item in shown):
        shown = [failed, *shown]
    context = {
        "page": page,
        "rows": shown,
        "failed": failed.pk if failed is not None else None,
        "note": note,
        "error": error,
        "note_max": REASON_MAX,
    }
    return render(request, "workspace/notices/disputes.html", context, status=status)


@require_POST
def dispute_decide_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.SENIOR)
    item = get_object_or_404(NoticeCase.objects.select_related("case", "notice", "notice__provider"), pk=pk)
    decision = request.POST.get("decision", "")
    note = request.POST.get("note", "")
    try:
        if item.dispute_state != DisputeState.OPEN:
            raise DisputeClosed("this dispute is not open any more")
        if decision not in ("uphold", "accept"):
            raise DisputeInvalid("uphold the verdict or accept the dispute")
        dispute_decide(
            item=item,
            user=request.user,
            uphold=decision == "uphold",
            note=note,
            audit=AuditContext.from_request(request),
        )
    except DisputeClosed as exc:
        messages.error(request, _("Case %(pk)s: %(error)s.") % {"pk": item.case_id, "error": exc})
        return redirect("disputes-queue")
    except DisputeInvalid as exc:
        return _disputes_page(request, failed=item, note=note, error=f"{str(exc).capitalize()}.", status=400)
    outcome = (
        _("Case %(pk)s: the verdict stands and reminders go on.")
        if decision == "uphold"
        else _("Case %(pk)s: no more reminders or escalation.")
    )
    messages.success(request, outcome % {"pk": item.case_id})
    return redirect("disputes-queue")


# Police first (seniors) --------------------------------------------------------------------------


@require_POST
def police_hold_release_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.SENIOR)
    case = get_object_or_404(Case, pk=pk)
    try:
        police_hold_release(case=case, user=request.user, audit=AuditContext.from_request(request))
    except ReleaseInvalid as exc:
        messages.error(request, _("Case %(pk)s: %(error)s.") % {"pk": case.pk, "error": exc})
    else:
        messages.success(request, _("Case %(pk)s is released: its held notices are being planned.") % {"pk": case.pk})
    return redirect("workspace-case", pk=case.pk)
