"""The senior analysts' domain rules: which provider hosts a domain, when resolution cannot tell."""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import urlencode

import idna
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import Role, require_role
from routing.forms import DomainRuleForm, suffix_normalise
from routing.models import DomainRule

log = logging.getLogger(__name__)

RULES_PER_PAGE = 50


def rules_list(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.SENIOR)
    q = request.GET.get("q", "").strip()
    rules = DomainRule.objects.select_related("provider", "created_by").order_by("suffix")
    if q:
        rules = rules.filter(_suffix_search(q))
    page = Paginator(rules, RULES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "workspace/rules.html",
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
            messages.success(
                request,
                (_("Saved the rule for %(suffix)s.") if rule else _("Created the rule for %(suffix)s."))
                % {"suffix": saved.suffix},
            )
            return redirect(f"{reverse('rules-list')}?{urlencode({'q': saved.suffix})}")
        return render(request, "workspace/rule_form.html", {"form": form, "rule": rule}, status=400)
    initial = {}
    if rule is None and request.GET.get("suffix"):
        try:
            initial["suffix"] = suffix_normalise(request.GET["suffix"])
        except ValidationError:
            initial["suffix"] = request.GET["suffix"][:253]
    form = DomainRuleForm(instance=rule, initial=initial)
    return render(request, "workspace/rule_form.html", {"form": form, "rule": rule})


@require_http_methods(["GET", "POST"])
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page (GET); the rule goes on POST."""
    require_role(request, Role.SENIOR)
    rule = get_object_or_404(DomainRule.objects.select_related("provider"), pk=pk)
    if request.method != "POST":
        return render(request, "workspace/rule_delete.html", {"rule": rule})
    suffix = rule.suffix
    try:
        with transaction.atomic():
            rule.delete()
    except IntegrityError:  # ProtectedError and RestrictedError too: something still refers to the rule
        log.warning("deleting the domain rule for %s failed", suffix, exc_info=True)
        messages.error(
            request,
            _("The rule for %(suffix)s could not be deleted: other records still refer to it.") % {"suffix": suffix},
        )
        return redirect("rules-edit", pk=pk)
    messages.success(request, _("Deleted the rule for %(suffix)s.") % {"suffix": suffix})
    return redirect("rules-list")
