"""Senior analysts' pages of the routing stage: the contact-check queue and the domain rules.

Reported URLs are shown as text, never as links: nothing on these pages makes the browser fetch
anything from a reported host.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

import idna
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import Role, require_role
from reports.models import Case
from reports.services import Actor
from routing.contacts import clean_emails, is_registry_address
from routing.forms import DomainRuleForm, suffix_normalise
from routing.models import DomainRule, Provider
from routing.selectors import ProviderFacts, contact_check_queue, provider_facts, providers_to_check
from routing.services import contact_confirm

log = logging.getLogger(__name__)

PROVIDERS_PER_PAGE = 25
# The oldest waiting cases shown under each provider; the count says how many wait in all.
CASES_PER_PROVIDER = 20
UNASSIGNED_SHOWN = 100
RULES_PER_PAGE = 50

# Contact checks ----------------------------------------------------------------------------------


@dataclass
class ProviderRow:
    """One provider of the contact-check queue with its oldest waiting cases and its form."""

    provider: Provider
    waiting: int
    cases: list[Case] = field(default_factory=list)
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
    rows = [ProviderRow(p, p.waiting, emails_text="\n".join(p.abuse_emails or [])) for p in page]  # type: ignore[attr-defined]
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

    unassigned = contact_check_queue().filter(provider__isnull=True)
    context = {
        "page": page,
        "rows": rows,
        "unassigned": list(unassigned[:UNASSIGNED_SHOWN]),
        "unassigned_count": unassigned.count(),
        "total": contact_check_queue().count(),
    }
    return render(request, "routing/contacts.html", context, status=status)


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
        error = f"Not an email address: {shown}. Give one address per line."
    elif not emails:
        error = "Give at least one valid abuse address: notices go there."
    else:
        try:
            released = contact_confirm(provider=provider, emails=emails, actor=Actor.staff(request.user))
        except ValueError as exc:  # the service's own check, should it refuse what passed ours
            error = str(exc)
        else:
            messages.success(
                request,
                f"Confirmed the abuse contact of {provider.name}: {released} case{'' if released == 1 else 's'} "
                "released from the contact check.",
            )
            registry = [e for e in emails if is_registry_address(e)]
            if registry:
                messages.warning(
                    request,
                    f"{', '.join(registry)} belongs to an internet registry, which hosts nothing: is that right?",
                )
            return redirect("contacts-queue")
    return _contacts_page(request, failed=provider, posted=text, error=error, status=400)


# Domain rules ------------------------------------------------------------------------------------


def rules_list(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    q = request.GET.get("q", "").strip()
    rules = DomainRule.objects.select_related("provider", "created_by").order_by("suffix")
    if q:
        rules = rules.filter(_suffix_search(q))
    page = Paginator(rules, RULES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "routing/rules.html",
        {"page": page, "q": q, "rows": [(rule, _unicode_host(rule.suffix)) for rule in page]},
    )


def _suffix_search(q: str) -> Q:
    """Suffixes containing the text as typed or in its ASCII form (``bücher`` finds
    ``xn--bcher-kva.example``)."""
    match = Q(suffix__icontains=q.strip(".").lower())
    with contextlib.suppress(ValidationError):
        match |= Q(suffix__icontains=suffix_normalise(q))
    return match


def _unicode_host(host: str) -> str:
    """The Unicode form of an IDNA host, when it differs (shown beside it)."""
    if "xn--" not in host:
        return ""
    try:
        return idna.decode(host)
    except (idna.IDNAError, UnicodeError):
        return ""


@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Create (``pk`` None) or change a domain rule. Changes are audited by `accounts.signals`;
    resolution reads the rules afresh for every batch, so the next batch uses the change."""
    require_role(request, Role.SENIOR)
    rule = get_object_or_404(DomainRule.objects.select_related("provider", "created_by"), pk=pk) if pk else None
    if request.method == "POST":
        form = DomainRuleForm(request.POST, instance=rule)
        if form.is_valid():
            saved = form.save(commit=False)
            if rule is None:
                saved.created_by = request.user
            saved.save()
            messages.success(request, f"{'Saved' if rule else 'Created'} the rule for {saved.suffix}.")
            return redirect(f"{reverse('rules-list')}?{urlencode({'q': saved.suffix})}")
        return render(request, "routing/rule_form.html", {"form": form, "rule": rule}, status=400)
    initial = {}
    if rule is None and request.GET.get("suffix"):
        try:
            initial["suffix"] = suffix_normalise(request.GET["suffix"])
        except ValidationError:
            initial["suffix"] = request.GET["suffix"][:253]
    form = DomainRuleForm(instance=rule, initial=initial)
    return render(request, "routing/rule_form.html", {"form": form, "rule": rule})


@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page (GET); the rule goes on POST."""
    require_role(request, Role.SENIOR)
    rule = get_object_or_404(DomainRule.objects.select_related("provider"), pk=pk)
    if request.method != "POST":
        return render(request, "routing/rule_delete.html", {"rule": rule})
    suffix = rule.suffix
    try:
        with transaction.atomic():
            rule.delete()
    except IntegrityError:  # ProtectedError and RestrictedError too: something still refers to the rule
        log.warning("deleting the domain rule for %s failed", suffix, exc_info=True)
        messages.error(request, f"The rule for {suffix} could not be deleted: other records still refer to it.")
        return redirect("rules-edit", pk=pk)
    messages.success(request, f"Deleted the rule for {suffix}.")
    return redirect("rules-list")
