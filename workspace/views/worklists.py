"""The worklists: cases waiting on their provider, held cases and what releases them, and my own
work. Every member of staff sees them; the actions on them are the roles' own (a held case's
release is a senior analyst's)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import Role, has_role, require_role
from routing.jurisdiction import Hold
from routing.models import Provider
from workspace.worklists import HELD_LIMIT, held_page, mine_page, waiting_cases, waiting_rows

PER_PAGE = 50


def waiting(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    wanted = request.GET.get("provider", "")
    provider = Provider.objects.filter(pk=int(wanted)).first() if wanted.isascii() and wanted.isdigit() else None
    cases = waiting_cases(provider=provider.pk if provider else None)
    page = Paginator(cases, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "workspace/worklists/waiting.html",
        {
            "page": page,
            "rows": waiting_rows(list(page.object_list)),
            "provider": provider,
            "extra": f"provider={provider.pk}" if provider else "",
        },
    )


def held(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    reason = request.GET.get("reason", "")
    found = held_page(user=request.user, reason=reason if reason in Hold.values else "")
    page = Paginator(found.rows, PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "workspace/worklists/held.html",
        {"held": found, "page": page, "limit": HELD_LIMIT, "senior": has_role(request.user, Role.SENIOR)},
    )


def mine(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    return render(
        request,
        "workspace/worklists/mine.html",
        {"mine": mine_page(user=request.user), "senior": has_role(request.user, Role.SENIOR)},
    )
