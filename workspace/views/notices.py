"""Staff pages of the notice stage.

- ``/notices/`` and ``/notices/<pk>/`` (analysts): every notice, its cases, attempts and the
  replies and bounces that came back; seniors send ``unknown`` or ``failed`` notices again, or
  confirm that an ``unknown`` one left.
- ``/disputes/`` (seniors): open disputes, oldest first, each upheld or accepted with a note.
- ``/cases/<pk>/release/`` (seniors): release a police-first case's held notices.

The provider's own page, ``/n/<token>/``, is public and stays with the stage (`routing.notices.views`).
Reported URLs are shown as text, never as links: nothing here makes a browser fetch them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import Role, has_role, require_role
from accounts.services import AuditContext
from reports.models import Case
from routing.models import DisputeState, Notice, NoticeCase, NoticeState
from routing.notices.render import language_name
from routing.notices.responses import (
    REASON_MAX,
    RESENDABLE,
    DisputeClosed,
    DisputeInvalid,
    NoticeNotHandled,
    ReleaseInvalid,
    dispute_decide,
    notice_mark_sent,
    notice_resend,
    police_hold_release,
)
from scart.sorting import ordering

NOTICES_PER_PAGE = 50
# The notice list's sortable columns and the fields each sorts by (`?sort=-sent`).
NOTICE_SORTS = {
    "reference": ("reference",),
    "kind": ("kind", "step"),
    "recipient": ("recipient_name",),
    "urls": ("urls",),
    "state": ("state",),
    "created": ("created_at",),
    "due": ("due_at",),
    "sent": ("sent_at",),
    "attempts": ("attempts",),
}
DISPUTES_PER_PAGE = 50


# Notices (analysts; seniors act on them) ---------------------------------------------------------


def notices_list(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    state = request.GET.get("state", "")
    if state not in NoticeState.values:
        state = ""
    sort, order = ordering(request.GET.get("sort"), NOTICE_SORTS)
    notices = (
        Notice.objects.select_related("provider", "hotline")
        .annotate(urls=Count("items", filter=Q(items__dropped_at__isnull=True)))
        .order_by(*(order or ("-created_at", "-id")))
    )
    if state:
        notices = notices.filter(state=state)
    counts = dict(Notice.objects.order_by().values_list("state").annotate(n=Count("id")))
    tabs = [(value, label.split(":")[0], counts.get(value, 0)) for value, label in NoticeState.choices]
    page = Paginator(notices, NOTICES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "workspace/notices/list.html",
        {
            "page": page,
            "state": state,
            "sort": sort,
            "query": urlencode({name: value for name, value in (("state", state), ("sort", sort)) if value}),
            "tabs": tabs,
            "total": sum(counts.values()),
        },
    )


def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.ANALYST)
    notice = get_object_or_404(Notice.objects.select_related("provider", "hotline", "handled_by"), pk=pk)
    senior = has_role(request.user, Role.SENIOR)
    context: dict[str, Any] = {
        "notice": notice,
        "language": language_name(notice.language),
        "items": notice.items.select_related("case", "dispute_handled_by").order_by("pk"),
        "replies": notice.messages.all(),
        "can_resend": senior and notice.state in RESENDABLE,
        "can_mark_sent": senior and notice.state == NoticeState.UNKNOWN,
    }
    return render(request, "workspace/notices/detail.html", context)


@require_POST
def notice_resend_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _senior_notice_action(
        request, pk, notice_resend, "{reference} is queued and goes out with the next run of the sender."
    )


@require_POST
def notice_mark_sent_view(request: HttpRequest, pk: int) -> HttpResponse:
    return _senior_notice_action(
        request, pk, notice_mark_sent, "{reference} is recorded as sent; its cases are notified."
    )


def _senior_notice_action(request: HttpRequest, pk: int, action: Callable[..., Any], done: str) -> HttpResponse:
    """A senior analyst's decision about a notice a sender could not finish, then back to it."""
    require_role(request, Role.SENIOR)
    notice = get_object_or_404(Notice, pk=pk)
    try:
        action(notice=notice, user=request.user, audit=AuditContext.from_request(request))
    except NoticeNotHandled as exc:
        messages.error(request, f"{notice.reference}: {exc}.")
    else:
        messages.success(request, done.format(reference=notice.reference))
    return redirect("notices-detail", pk=notice.pk)


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
        messages.error(request, f"Case {item.case_id}: {exc}.")
        return redirect("disputes-queue")
    except DisputeInvalid as exc:
        return _disputes_page(request, failed=item, note=note, error=f"{str(exc).capitalize()}.", status=400)
    outcome = "the verdict stands and reminders go on" if decision == "uphold" else "no more reminders or escalation"
    messages.success(request, f"Case {item.case_id}: {outcome}.")
    return redirect("disputes-queue")


# Police first (seniors) --------------------------------------------------------------------------


@require_POST
def police_hold_release_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.SENIOR)
    case = get_object_or_404(Case, pk=pk)
    try:
        police_hold_release(case=case, user=request.user, audit=AuditContext.from_request(request))
    except ReleaseInvalid as exc:
        messages.error(request, f"Case {case.pk}: {exc}.")
    else:
        messages.success(request, f"Case {case.pk} is released: its held notices are being planned.")
    return redirect("workspace-case", pk=case.pk)
