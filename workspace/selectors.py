"""Page models of the workspace: the contact-check queue and the routing facts of a case page in
words (templates read these dataclasses, never the stored JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from reports.models import Case, Verdict
from routing.jurisdiction import DO_NOT_NOTIFY, Hold, RecipientKind, Route, RouteRule, RoutingContext, route
from routing.models import AbuseRule, AbuseSource, ContactStats, Provider


def contact_check_queue() -> QuerySet[Case]:
    """Cases whose abuse contact a senior analyst must check before any notice, oldest first."""
    return Case.objects.filter(contact_check=True).select_related("provider", "cdn").order_by("first_reported_at")


def providers_to_check() -> QuerySet[Provider]:
    """The providers behind the contact-check queue, with how many cases wait on each: those with
    cases held for the check, and those with an address retired after hard bounces that no senior
    analyst has looked at yet (their notices go to the next contact meanwhile)."""
    waiting = (
        Case.objects.filter(provider=OuterRef("pk"), contact_check=True)
        .order_by()
        .values("provider")
        .annotate(n=Count("pk"))
        .values("n")
    )
    retired = ContactStats.objects.filter(retired_at__isnull=False, checked_at__isnull=True)
    return (
        Provider.objects.filter(
            Q(pk__in=Case.objects.filter(contact_check=True).values("provider_id"))
            | Q(pk__in=retired.values("provider_id"))
        )
        .annotate(waiting=Coalesce(Subquery(waiting), 0))
        .order_by("-contact_flagged_at", "-waiting", "name")
    )


def retired_contacts(provider_ids: list[int]) -> dict[int, list[ContactStats]]:
    """The addresses of these providers retired after hard bounces and not checked yet."""
    found: dict[int, list[ContactStats]] = {}
    for row in ContactStats.objects.filter(
        provider_id__in=provider_ids, retired_at__isnull=False, checked_at__isnull=True
    ).order_by("retired_at"):
        found.setdefault(row.provider_id, []).append(row)
    return found


@dataclass(frozen=True)
class ProviderFacts:
    """What the contact-check page says of a provider, in words: each RDAP handle and ASN once
    (an organisation is often its own abuse contact), and why its addresses were chosen without
    the rule's code."""

    pk: int
    name: str
    country: str
    rdap_handles: tuple[str, ...]
    asns: tuple[int, ...]
    abuse_emails: tuple[str, ...]
    found_as: str
    chosen_because: str  # "" when not recorded
    confidence: str
    verified: bool


def provider_facts(provider: Provider) -> ProviderFacts:
    return ProviderFacts(
        pk=provider.pk,
        name=provider.name,
        country=provider.country,
        rdap_handles=tuple(dict.fromkeys(str(h) for h in provider.rdap_handles or [])),
        asns=tuple(dict.fromkeys(int(a) for a in provider.asns or [])),
        abuse_emails=tuple(dict.fromkeys(provider.abuse_emails or [])),
        found_as=provider.get_abuse_source_display(),
        chosen_because=provider.chosen_because,
        confidence=provider.get_confidence_display(),
        verified=provider.verified,
    )


# Page models of the case page ----------------------------------------------------------------------
# The stored resolution is JSON written by `HostResolution.as_dict`; pages read it only through
# these dataclasses, so a change of its shape fails `tests/workspace/test_selectors.py`, not a page.

_OUTCOMES = {
    "resolved": _("resolved"),
    "partial": _("resolved in part (a registry lookup failed)"),
    "nxdomain": _("the name does not exist (NXDOMAIN)"),
    "no_data": _("the name has no address"),
    "ip_literal": _("an IP address"),
    "unresolvable": _("not resolvable (e.g. an onion or internal name)"),
    "servfail": _("the nameserver failed (SERVFAIL)"),
    "timeout": _("the nameservers did not answer"),
}


@dataclass(frozen=True)
class AddressRow:
    """One address of a host and what the registries say of it."""

    ip: str
    asn: int | None
    asn_name: str
    network: str
    cidr: str
    country: str
    registry: str
    abuse_emails: tuple[str, ...]
    abuse_source: str  # how the address was found, in words
    abuse_rule: str  # which rule chose it, when the resolution recorded one
    confidence: str
    problem: str  # an error or a note (a private address)


@dataclass(frozen=True)
class RegistrarRow:
    domain: str
    name: str
    abuse_emails: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class ProviderRow:
    name: str
    abuse_emails: tuple[str, ...]
    abuse_source: str
    abuse_rule: str
    confidence: str
    chosen_by: str  # the rule that matched, e.g. "asn:2856" or "domain:example.org"


@dataclass(frozen=True)
class ResolutionPage:
    host: str
    outcome: str  # in words
    cnames: tuple[str, ...]
    addresses: tuple[AddressRow, ...]
    provider: ProviderRow | None
    cdn: str
    origin_host: str
    origin: ResolutionPage | None
    country: str
    registrar: RegistrarRow | None
    errors: tuple[str, ...]


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _abuse_rule(data: Mapping[str, Any]) -> str:
    """Why the abuse addresses were chosen, in words (`AbuseRule`'s label); an unknown code as it is."""
    code = _text(data, "abuse_rule")
    return str(AbuseRule(code).label) if code in AbuseRule.values else code


def _texts(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if v not in (None, ""))
    return ()


def _number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, dict):  # an older shape kept the ASN lookup as an object
        return _number(value.get("asn"))
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _abuse_source(code: str) -> str:
    return str(dict(AbuseSource.choices).get(code, code.replace("-", " ").replace("_", " ")))


def _address(data: Mapping[str, Any]) -> AddressRow:
    return AddressRow(
        ip=_text(data, "ip"),
        asn=_number(data.get("asn")),
        asn_name=_text(data, "asn_name"),
        network=_text(data, "network_name") or _text(data, "org_name") or _text(data, "network_handle"),
        cidr=_text(data, "cidr") or _text(data, "asn_prefix"),
        country=_text(data, "country"),
        registry=_text(data, "registry").upper(),
        abuse_emails=_texts(data, "abuse_emails"),
        abuse_source=_abuse_source(_text(data, "abuse_source")) if data.get("abuse_source") else "",
        abuse_rule=_abuse_rule(data),
        confidence=_text(data, "confidence"),
        problem=_text(data, "error") or _text(data, "note"),
    )


def _provider(data: Mapping[str, Any]) -> ProviderRow | None:
    if not data.get("name"):
        return None
    return ProviderRow(
        name=_text(data, "name"),
        abuse_emails=_texts(data, "abuse_emails"),
        abuse_source=_abuse_source(_text(data, "abuse_source")) if data.get("abuse_source") else "",
        abuse_rule=_abuse_rule(data),
        confidence=_text(data, "confidence"),
        chosen_by=_text(data, "rule"),
    )


def _registrar(data: Mapping[str, Any]) -> RegistrarRow | None:
    if not data:
        return None
    return RegistrarRow(
        domain=_text(data, "domain"),
        name=_text(data, "name"),
        abuse_emails=_texts(data, "abuse_emails"),
        error=_text(data, "error"),
    )


def resolution_page(data: Mapping[str, Any] | None) -> ResolutionPage | None:
    """The page model of a case's stored resolution (None when the case was never resolved).
    Reads every field defensively: a missing or differently shaped field shows as empty."""
    if not data:
        return None
    origin = _mapping(data.get("origin"))
    outcome = _text(data, "outcome")
    return ResolutionPage(
        host=_text(data, "host"),
        outcome=str(_OUTCOMES.get(outcome, outcome.replace("_", " "))),
        cnames=_texts(data, "cnames"),
        addresses=tuple(_address(_mapping(ip)) for ip in data.get("ips") or () if isinstance(ip, Mapping)),
        provider=_provider(_mapping(data.get("provider"))),
        cdn=_text(_mapping(data.get("cdn")), "name"),
        origin_host=_text(origin, "host"),
        origin=resolution_page(origin) if origin.get("outcome") else None,
        country=_text(data, "country"),
        registrar=_registrar(_mapping(data.get("registrar"))),
        errors=_texts(data, "errors"),
    )


def recipient_kind_text(kind: str) -> str:
    return str(RecipientKind(kind).label) if kind in RecipientKind.values else kind.replace("_", " ")


def route_rule_text(rule: str) -> str:
    """A routing decision's rule (``partner_hotline:DE;domain:example.org``) in words."""
    parts = []
    for part in rule.split(";"):
        name, _sep, rest = part.partition(":")
        if name == RouteRule.DOMAIN and rest.endswith(f":{DO_NOT_NOTIFY}"):
            parts.append(
                gettext("domain rule for %(suffix)s: no notices, handled by hand")
                % {"suffix": rest.removesuffix(f":{DO_NOT_NOTIFY}")}
            )
        elif name in RouteRule.values:
            parts.append(RouteRule(name).label.format(rest))
        else:
            parts.append(part.replace("_", " "))
    return "; ".join(parts)


def hold_text(hold: str) -> str:
    return str(Hold(hold).label) if hold in Hold.values else hold.replace("_", " ")


@dataclass(frozen=True)
class RecipientRow:
    name: str
    kind: str
    emails: tuple[str, ...]
    asks_origin: bool
    delay: str
    holds: tuple[str, ...]  # in words


@dataclass(frozen=True)
class RoutePage:
    rule: str  # in words
    recipients: tuple[RecipientRow, ...]
    police_first_held: bool


def _delay_text(delay: timedelta | None) -> str:
    if not delay:
        return ""
    hours = delay.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:g} hours"


def route_page(decision: Route) -> RoutePage:
    return RoutePage(
        rule=route_rule_text(decision.rule),
        recipients=tuple(
            RecipientRow(
                name=r.name,
                kind=recipient_kind_text(r.kind),
                emails=r.emails,
                asks_origin=r.ask_origin,
                delay=_delay_text(r.delay),
                holds=tuple(hold_text(h) for h in r.holds),
            )
            for r in decision.recipients
        ),
        police_first_held=any(Hold.POLICE_FIRST in r.holds for r in decision.recipients),
    )


def case_route_page(case: Case) -> RoutePage | None:
    """Where notices for an illegal case go and what holds them (shown, not sent, on its page)."""
    if case.verdict != Verdict.ILLEGAL:
        return None
    return route_page(route(case, RoutingContext.load([case])))


def routed_event_text(data: Mapping[str, Any]) -> list[str]:
    """A ``routed`` event's data in words: the rule, then each recipient and its holds."""
    lines = [route_rule_text(_text(data, "rule"))]
    for r in data.get("recipients") or ():
        r = _mapping(r)
        kind = _text(r, "kind")
        text = f"{_text(r, 'name')} ({recipient_kind_text(kind)})"
        holds = [hold_text(h) for h in _texts(r, "holds")]
        lines.append(text + (": " + ", ".join(holds) if holds else ""))
    return lines
