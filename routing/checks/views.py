"""Marking removal by hand: for hosts under a "do not check" rule, or removal seen another way."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import Role, require_role
from reports.models import Case
from reports.services import StateConflict
from routing.checks.tracking import case_mark_removed


@require_POST
def case_mark_removed_view(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.ANALYST)
    case = get_object_or_404(Case, pk=pk)
    when: datetime | None = None
    raw = request.POST.get("removed_at", "").strip()
    if raw and raw.lower() != "now":  # empty or "now": the moment of the click
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            messages.error(request, f"{raw!r} is not a date and time such as 2026-11-21 14:30.")
            return redirect("workspace-case", pk=case.pk)
        when = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
    try:
        case_mark_removed(case=case, user=request.user, removed_at=when, request=request)
    except (StateConflict, ValueError) as exc:
        messages.error(request, f"Case {case.pk}: {exc}.")
    else:
        messages.success(request, f"Case {case.pk} is closed as removed.")
    return redirect("workspace-case", pk=case.pk)
