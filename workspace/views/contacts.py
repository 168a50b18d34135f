"""The senior analysts' contact-check queue: providers whose abuse addresses wait for a person to
confirm them, with their oldest waiting cases and the addresses retired after hard bounces.

Reported URLs are shown as text, never as links: nothing on these pages makes the browser fetch
anything from a reported host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.roles import Role, require_role
from reports.cases.services import Actor
from reports.models import Case
from routing.models import ContactStats, Provider
from routing.resolution.confirmation import contact_confirm
from routing.resolution.contacts import clean_emails, is_registry_address
from workspace.selectors import (
    ProviderFacts,
    contact_check_queue,
    provider_facts,
    providers_to_check,
    retired_contacts,
)

PROVIDERS_PER_PAGE = 25
# The oldest waiting cases shown under each provider; the count says how many wait in all.
CASES_PER_PROVIDER = 20
UNASSIGNED_SHOWN = 100


@dataclass
class ProviderRow:
    """One provider of the contact-check queue with its oldest waiting cases and its form."""

    provider: Provider
    waiting: int
    cases: list[Case] = field(default_factory=list)
    # Its addresses retired after hard bounces that no senior has checked (`ContactStats`).
    retired: list[ContactStats] = field(default_factory=list)
    facts: ProviderFacts = field(init=False)
    emails_text: str = ""
    error: str = ""

    def __post_init__(self) -> None:
        self.facts = provider_facts(self.provider)


def contacts_queue(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    return _contacts_page(request)


def _contacts_page(
    request: HttpRequest, *, failed: Provider | None = None, posted: str = "", error: str = "", status: int = 200
) -> HttpResponse:
    """The queue; after a refused confirmation, ``failed`` is shown first with what was typed."""
    page = Paginator(providers_to_check(), PROVIDERS_PER_PAGE).get_page(request.GET.get("page"))
    # The form offers the addresses still in use: confirming as it stands brings back no address
    # retired after hard bounces while another is left (with none left, it offers them all: the
    # senior corrects them, or confirms them after checking, as before addresses were retired).
    rows = [ProviderRow(p, p.waiting, emails_text="\n".join(_not_retired(p))) for p in page]  # type: ignore[attr-defined]
    if failed is not None:
        row = next((r for r in rows if r.provider.pk == failed.pk), None)
        if row is None:
            waiting = Case.objects.filter(provider=failed, contact_check=True).count()
            row = ProviderRow(failed, waiting)
        rows = [row, *(r for r in rows if r is not row)]
        row.emails_text, row.error = posted, error
    by_provider = {r.provider.pk: r for r in rows}
    for case in _oldest_cases(list(by_provider)):
        by_provider[case.provider_id].cases.append(case)  # type: ignore[index]
    for provider_id, retired in retired_contacts(list(by_provider)).items():
        by_provider[provider_id].retired = retired

    unassigned = contact_check_queue().filter(provider__isnull=True)
    context = {
        "page": page,
        "rows": rows,
        "unassigned": list(unassigned[:UNASSIGNED_SHOWN]),
        "unassigned_count": unassigned.count(),
        "total": contact_check_queue().count(),
    }
    return render(request, "workspace/contacts.html", context, status=status)


def _not_retired(provider: Provider) -> list[str]:
    retired = {e.lower() for e in provider.retired_emails or ()}
    return [e for e in provider.abuse_emails or () if e.lower() not in retired] or list(provider.abuse_emails or ())


def _oldest_cases(provider_ids: list[int]) -> list[Case]:
    """The `CASES_PER_PROVIDER` oldest waiting cases of each provider, in one query."""
    if not provider_ids:
        return []
    ranked = contact_check_queue().filter(provider_id__in=provider_ids)
    ranked = ranked.annotate(
        rank=Window(
            RowNumber(), partition_by=[F("provider_id")], order_by=[F("first_reported_at").asc(), F("pk").asc()]
        )
    )
    return list(ranked.filter(rank__lte=CASES_PER_PROVIDER))


_EMAIL_SEPARATORS = re.compile(r"[\s,;]+")


def _parse_emails(text: str) -> tuple[list[str], list[str]]:
    """The addresses typed (one per line, or separated by commas or semicolons) and the parts that
    are not addresses."""
    valid: list[str] = []
    invalid: list[str] = []
    for token in _EMAIL_SEPARATORS.split(text):
        if not token:
            continue
        cleaned = clean_emails([token])
        if cleaned:
            valid.extend(cleaned)
        else:
            invalid.append(token)
    return list(dict.fromkeys(valid)), invalid


@require_POST
def contact_confirm_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm (or correct) a provider's abuse addresses and release its waiting cases.

    Every part of the text must be an address: a typo is refused rather than silently dropped,
    since the confirmed list is where notices go."""
    require_role(request, Role.SENIOR)
    provider = get_object_or_404(Provider, pk=pk)
    text = request.POST.get("emails", "")
    emails, invalid = _parse_emails(text)
    if invalid:
        shown = ", ".join(invalid[:5]) + (" …" if len(invalid) > 5 else "")
        error = _("Not an email address: %(shown)s. Give one address per line.") % {"shown": shown}
    elif not emails:
        error = _("Give at least one valid abuse address: notices go there.")
    else:
        try:
            released = contact_confirm(provider=provider, emails=emails, actor=Actor.staff(request.user))
        except ValueError as exc:  # the service's own check, should it refuse what passed ours
            error = str(exc)
        else:
            messages.success(
                request,
                ngettext(
                    "Confirmed the abuse contact of %(name)s: %(count)d case released from the contact check.",
                    "Confirmed the abuse contact of %(name)s: %(count)d cases released from the contact check.",
                    released,
                )
                % {"name": provider.name, "count": released},
            )
            registry = [e for e in emails if is_registry_address(e)]
            if registry:
                messages.warning(
                    request,
                    _("%(addresses)s belongs to an internet registry, which hosts nothing: is that right?")
                    % {"addresses": ", ".join(registry)},
                )
            return redirect("contacts-queue")
    return _contacts_page(request, failed=provider, posted=text, error=error, status=400)
