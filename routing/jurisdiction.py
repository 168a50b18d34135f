"""Who must act on an illegal URL: the routing decision by jurisdiction.

- hosted in the hotline's own country (``SCART_HOTLINE_COUNTRY``): a notice to the hosting provider;
- hosted where an active partner hotline works: a referral to that hotline, and, if the hotline
  asks for it (``direct_notice_after``), a notice to the provider after that delay;
- hosted elsewhere, nowhere known, or on a host that does not resolve: a notice to the provider
  where one is known, and a report to the police contact (``SCART_POLICE_EMAIL``);
- police first (a verdict flag): the police report at once, every other notice held until a
  senior analyst releases it;
- behind a CDN or reverse proxy: the notice goes to the CDN's abuse contact, asking for the origin,
  and to the origin's provider too when the origin is known;
- a domain rule may say "do not notify" (handled by hand); a rule's provider already decided the
  case's provider at resolution (a forced recipient).

A recipient without an address, an abuse contact still in the contact-check queue, and a blocking
second opinion hold notices: each hold names its reason. Each decision names the rule that made it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports.cases.services import Actor, event_new, events_append
from reports.models import Assessment, Case, Event, EventKind
from reports.reviews import cases_held_for_review
from routing.models import DomainRule, PartnerHotline, Provider

# Defined beside Notice, whose recipient_kind it gives its choices; routing's name for it.
from routing.models import RecipientKind as RecipientKind
from routing.rules import rules_by_host
from scart.db import commit_without_waiting_for_disk


class Hold(models.TextChoices):
    """Why a recipient's notice waits; the labels are the words the pages show."""

    POLICE_FIRST = "police_first", _("held until a senior analyst releases it (police first)")
    CONTACT_CHECK = "contact_check", _("held until a senior analyst checks the abuse contact")
    REVIEW = "review", _("held for a second opinion")
    NO_ADDRESS = "no_address", _("held: no abuse address known")


class RouteRule(models.TextChoices):
    """The rule a routing decision names (``Route.rule``: rules joined by ``;``, a rule's
    argument after ``:``). The labels are the words the pages show; ``{}`` takes the argument."""

    OWN_COUNTRY = "own_country", _("hosted in the hotline's own country: notice to the hosting provider")
    POLICE_FIRST = "police_first", _("police first: the police report at once, other notices after release")
    PARTNER_HOTLINE = "partner_hotline", _("hosted in {}: referral to the partner hotline there")
    NO_PARTNER_HOTLINE = (
        "no_partner_hotline",
        _("hosted abroad where no partner hotline works: the provider and the police"),
    )
    UNRESOLVABLE = "unresolvable", _("the host cannot be resolved: the police")
    UNKNOWN_HOST = "unknown_host", _("where it is hosted is unknown: the police")
    DOMAIN = "domain", _("provider set by the domain rule for {}")


# A domain rule that stops notices: ``domain:<suffix>:do_not_notify``.
DO_NOT_NOTIFY = "do_not_notify"


@dataclass(frozen=True)
class Recipient:
    kind: str
    name: str
    emails: tuple[str, ...]
    language: str = "en"
    provider_id: int | None = None
    hotline_id: int | None = None
    ask_origin: bool = False  # a CDN: the notice asks for the origin server
    delay: timedelta | None = None  # not before this long after the verdict
    holds: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["emails"] = list(self.emails)
        data["holds"] = list(self.holds)
        data["delay"] = self.delay.total_seconds() if self.delay is not None else None
        return {k: v for k, v in data.items() if v not in (None, False, [], "")}


@dataclass(frozen=True)
class Route:
    rule: str
    recipients: tuple[Recipient, ...] = field(default_factory=tuple)

    @property
    def held(self) -> bool:
        return any(r.holds for r in self.recipients)

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "recipients": [r.as_dict() for r in self.recipients]}


def provider_contacts(provider: Provider) -> tuple[str, ...]:
    """The addresses a provider's notices go to now, the first that is left of its contact order
    (docs/notices.md, "Contact quality"):

    1. its abuse addresses (as the order of docs/resolution.md chose them, or as confirmed by a
       senior analyst), without those retired after hard bounces (``retired_emails``), while the
       contact is not flagged (``contact_flagged_at``: every address of a notice was retired);
    2. its fallback address (set by an administrator), unless retired too;
    3. none: the cases wait in the contact-check queue (`route` holds them).
    """
    retired = {e.lower() for e in provider.retired_emails or ()}
    abuse = tuple(e for e in provider.abuse_emails or () if e.lower() not in retired)
    fallback = provider.fallback_email if provider.fallback_email.lower() not in retired else ""
    flagged = provider.contact_flagged_at is not None
    if abuse and not flagged:
        return abuse
    if fallback:
        return (fallback,)
    if abuse and retired:
        # Flagged without a fallback: the abuse addresses that were not retired (a contact flagged
        # before addresses were retired one by one has none known to work, and waits).
        return abuse
    return ()


def provider_recipient(provider: Provider, kind: str, *, ask_origin: bool = False) -> Recipient:
    """A provider as a recipient, at the addresses of `provider_contacts` (none: the
    contact-check hold in `route` keeps the notices back)."""
    emails = provider_contacts(provider)
    return Recipient(
        kind=kind,
        name=provider.name,
        emails=emails,
        language=provider.language or "en",
        provider_id=provider.pk,
        ask_origin=ask_origin,
    )


def police_recipient() -> Recipient:
    email = settings.SCART_POLICE_EMAIL
    return Recipient(
        kind=RecipientKind.POLICE,
        name=settings.SCART_POLICE_NAME,
        emails=(email,) if email else (),
        language=settings.SCART_POLICE_LANGUAGE,
    )


def _hosting(case: Case, providers: dict[int, Provider]) -> list[Recipient]:
    """The hosting side: the CDN (asking for the origin) and the origin's provider, or the provider."""
    found = []
    if case.cdn_id and case.cdn_id in providers:
        found.append(provider_recipient(providers[case.cdn_id], RecipientKind.CDN, ask_origin=True))
        if case.origin_provider_id and case.origin_provider_id in providers:
            found.append(provider_recipient(providers[case.origin_provider_id], RecipientKind.ORIGIN))
    elif case.provider_id and case.provider_id in providers:
        found.append(provider_recipient(providers[case.provider_id], RecipientKind.PROVIDER))
    return found


@dataclass
class RoutingContext:
    """What routing a batch of cases reads, loaded once."""

    providers: dict[int, Provider]
    hotlines: dict[str, PartnerHotline]
    rules: dict[str, DomainRule]  # by host: the most specific rule
    latest: dict[int, Assessment]
    reviewed: set[int]
    released: set[int] = field(default_factory=set)  # police first, released by a senior analyst

    @classmethod
    def load(cls, cases: list[Case]) -> RoutingContext:

        ids = [c.pk for c in cases]
        provider_ids = {p for c in cases for p in (c.provider_id, c.cdn_id, c.origin_provider_id) if p}
        latest: dict[int, Assessment] = {}
        for a in Assessment.objects.filter(case_id__in=ids).order_by("case_id", "-at", "-id"):
            latest.setdefault(a.case_id, a)
        return cls(
            providers={p.pk: p for p in Provider.objects.filter(pk__in=provider_ids)},
            hotlines={h.country: h for h in PartnerHotline.objects.filter(active=True)},
            rules=rules_by_host(c.host for c in cases),
            latest=latest,
            reviewed=cases_held_for_review(ids),
            released={
                e.case_id
                for e in Event.objects.filter(case_id__in=ids, kind=EventKind.RELEASED).only("case_id", "at")
                if e.case_id in latest and e.at >= latest[e.case_id].at
            },
        )


def route(case: Case, context: RoutingContext) -> Route:
    """The routing decision for one illegal case."""
    rule = context.rules.get(case.host)
    if rule is not None and rule.do_not_notify:
        return Route(f"{RouteRule.DOMAIN}:{rule.suffix}:{DO_NOT_NOTIFY}")
    home = settings.SCART_HOTLINE_COUNTRY
    country = case.hosting_country
    hosting = _hosting(case, context.providers)
    assessment = context.latest.get(case.pk)
    police_first = bool(assessment and assessment.police_first)
    hotline = context.hotlines.get(country) if country and country != home else None

    name: str
    if police_first:
        name, recipients = RouteRule.POLICE_FIRST, [police_recipient(), *hosting]
    elif country and country == home:
        name, recipients = RouteRule.OWN_COUNTRY, hosting
    elif hotline is not None:
        referral = Recipient(
            kind=RecipientKind.HOTLINE,
            name=hotline.name,
            emails=(hotline.email,) if hotline.email else (),
            language=hotline.language or "en",
            hotline_id=hotline.pk,
        )
        later = [replace(r, delay=hotline.direct_notice_after) for r in hosting] if hotline.direct_notice_after else []
        name, recipients = f"{RouteRule.PARTNER_HOTLINE}:{country}", [referral, *later]
    else:
        name = (
            RouteRule.NO_PARTNER_HOTLINE
            if country
            else (RouteRule.UNRESOLVABLE if case.unresolvable else RouteRule.UNKNOWN_HOST)
        )
        recipients = [*hosting, police_recipient()]
    if rule is not None and rule.provider_id:
        name = f"{name};{RouteRule.DOMAIN}:{rule.suffix}"

    held = []
    for r in recipients:
        holds = []
        if police_first and r.kind != RecipientKind.POLICE and case.pk not in context.released:
            holds.append(Hold.POLICE_FIRST)
        if r.kind in (RecipientKind.PROVIDER, RecipientKind.CDN, RecipientKind.ORIGIN) and (
            case.contact_check or _bounced_without_fallback(context.providers.get(r.provider_id or 0))
        ):
            holds.append(Hold.CONTACT_CHECK)
        if case.pk in context.reviewed:
            holds.append(Hold.REVIEW)
        if not r.emails:
            holds.append(Hold.NO_ADDRESS)
        held.append(replace(r, holds=tuple(holds)))
    return Route(name, tuple(held))


def _bounced_without_fallback(provider: Provider | None) -> bool:
    return provider is not None and provider.contact_flagged_at is not None and not provider_contacts(provider)


def cases_route(
    *, case_ids: Iterable[int] = (), cases: Sequence[Case] | None = None, actor: Actor | None = None
) -> dict[int, Route]:
    """Route these cases (``cases`` already loaded, or by ``case_ids``) and write a ``routed``
    event for each whose decision differs from its last one (so a case re-routed after its
    provider changed gets a new event, and routing twice writes nothing twice)."""
    cases = list(cases) if cases is not None else list(Case.objects.filter(pk__in=list(case_ids)))
    if not cases:
        return {}
    context = RoutingContext.load(cases)
    routes = {case.pk: route(case, context) for case in cases}
    # Many cases share a decision (one provider's cases): each distinct one is written out once.
    as_dicts: dict[Route, dict[str, Any]] = {}
    for decision in routes.values():
        if decision not in as_dicts:
            as_dicts[decision] = decision.as_dict()
    now = timezone.now()
    actor = actor or Actor.system()
    with transaction.atomic():
        commit_without_waiting_for_disk()  # lost in a crash, the next routing writes them again
        # Two planners routing the same case would both read "no such event yet" and both write
        # it: the case rows are locked (in id order, so two batches cannot deadlock) before the
        # last events are read, and the second planner reads the first one's event. On SQLite the
        # write transaction is the lock.
        list(Case.objects.select_for_update().filter(pk__in=list(routes)).order_by("pk").values_list("pk"))
        last: dict[int, dict[str, Any]] = {}
        for case_id, data in (
            Event.objects.filter(case_id__in=list(routes), kind=EventKind.ROUTED)
            .order_by("case_id", "-at", "-id")
            .values_list("case_id", "data")
        ):
            last.setdefault(case_id, data)
        events_append(
            (
                event_new(case=pk, kind=EventKind.ROUTED, actor=actor, at=now, data=as_dicts[decision])
                for pk, decision in routes.items()
                if last.get(pk) != as_dicts[decision]
            ),
            copy=True,
        )
    return routes
