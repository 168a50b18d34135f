"""The provider pages: every provider with its open cases and time to removal, sortable, and one
provider's contacts, replies, cases, notices and performance (`workspace.providers`). Staff only;
analysts in training do not read the providers' replies (`ProviderPage.messages_readable`)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import Role, require_role
from accounts.services import AuditContext
from routing.models import Provider
from routing.notices.channels.choice import ChannelInvalid, recipient_channel_set
from workspace.providers import SORTS, provider_page, providers_list

PER_PAGE = 100


def providers(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    query = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "open")
    sort = sort if sort in SORTS else "open"
    # Names read A to Z by default; figures largest first.
    descending = request.GET.get("dir", "asc" if sort in ("name", "country") else "desc") == "desc"
    rows = providers_list(query=query, sort=sort, descending=descending)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    columns = [
        {
            "key": key,
            "label": label,
            "active": key == sort,
            "descending": descending,
            "dir": ("asc" if descending else "desc")
            if key == sort
            else ("asc" if key in ("name", "country") else "desc"),
        }
        for key, label in SORTS.items()
    ]
    return render(
        request,
        "workspace/providers/list.html",
        {"page": page, "columns": columns, "query": query, "sort": sort, "dir": "desc" if descending else "asc"},
    )


def provider_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.ANALYST)
    provider = get_object_or_404(Provider, pk=pk)
    return render(request, "workspace/providers/detail.html", {"p": provider_page(provider, user=request.user)})


@require_POST
def provider_channel(request: HttpRequest, pk: int) -> HttpResponse:
    """A senior analyst chooses how this provider's notices go out (audited)."""
    require_role(request, Role.SENIOR)
    provider = get_object_or_404(Provider, pk=pk)
    try:
        changed = recipient_channel_set(
            recipient=provider,
            channel=request.POST.get("channel", ""),
            user=request.user,
            audit=AuditContext.from_request(request),
        )
    except ChannelInvalid:
        messages.error(request, _("Choose one of the delivery channels."))
        return redirect("providers-detail", pk=provider.pk)
    if changed:
        messages.success(
            request,
            _("Notices to %(name)s now go by: %(channel)s. Notices planned already keep their channel.")
            % {"name": provider.name, "channel": provider.get_delivery_channel_display()},
        )
    return redirect("providers-detail", pk=provider.pk)
