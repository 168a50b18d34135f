"""Page models of the provider pages: the list of providers with their open cases and time to
removal, and one provider with its contacts (where each came from and how far to trust it, and
how each address is doing: `workspace.contact_quality`), the bounces and replies to its notices, its open cases, its notice history and its performance.

The performance figures are the statistics' own (`stats.takedown_times.takedown_stats` on the
`CaseTiming` rows, filtered on the provider): the provider page and the dashboard it links to
cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from accounts.models import StaffProfile
from accounts.roles import Role, has_role
from reports.models import Case, CaseState
from routing.models import DeliveryChannel, Notice, NoticeMessage, NoticeState, Provider
from routing.notices.channels.choice import recipient_channels
from routing.templatetags.notices import country_name
from stats.measures import Filters
from stats.takedown_times import Row, takedown_stats
from workspace.contact_quality import ContactQuality, contact_quality
from workspace.selectors import ProviderFacts, provider_facts
from workspace.worklists import waiting_cases

SHOWN = 50  # open cases, notices, messages shown on a provider's page (the counts give the rest)


def in_training(user: Any) -> bool:
    return StaffProfile.objects.filter(user=user, in_training=True).exists()


def stats_link(provider: Provider) -> str:
    """The statistics dashboard filtered on this provider: by name, unless another has the same."""
    same = Provider.objects.filter(name__iexact=provider.name).count()
    ref = provider.name if same == 1 else str(provider.pk)
    return f"{reverse('stats-dashboard')}?{urlencode({'provider': ref})}"


# The list ---------------------------------------------------------------------------------------

SORTS = {
    "name": _lazy("name"),
    "country": _lazy("country"),
    "open": _lazy("open cases"),
    "notices": _lazy("notices sent"),
    "removed": _lazy("removals timed"),
    "median": _lazy("median time to removal"),
    "p90": _lazy("90th percentile"),
    "within_24h": _lazy("share within 24 h"),
}


@dataclass(frozen=True)
class ProviderListRow:
    pk: int
    name: str
    country: str
    is_cdn: bool
    open_cases: int
    notices_sent: int
    removals: int
    median_hours: float | None
    p90_hours: float | None
    within_24h: float | None
    contact_flagged: bool


def _sort_key(sort: str) -> Any:
    def key(row: ProviderListRow) -> Any:
        value = {
            "name": row.name.lower(),
            "country": row.country,
            "open": row.open_cases,
            "notices": row.notices_sent,
            "removed": row.removals,
            "median": row.median_hours,
            "p90": row.p90_hours,
            "within_24h": row.within_24h,
        }[sort]
        # Providers without a figure go last whichever the direction.
        return (value is None, value if value is not None else 0, row.name.lower())

    return key


def providers_list(*, query: str = "", sort: str = "open", descending: bool = True) -> list[ProviderListRow]:
    """Every provider (whose name contains ``query``) with its open cases, notices sent and time to
    removal (one statistics query for all of them), sorted by ``sort`` (a key of `SORTS`)."""
    providers: QuerySet[Provider] = Provider.objects.all()
    if query:
        providers = providers.filter(name__icontains=query)
    # Counted apart, one grouped query each: one join of both would multiply the rows.
    open_cases = dict(
        Case.objects.filter(state__in=CaseState.OPEN, provider__isnull=False)
        .values("provider")
        .annotate(n=Count("pk"))
        .values_list("provider", "n")
    )
    sent = dict(
        Notice.objects.filter(state=NoticeState.SENT, provider__isnull=False)
        .values("provider")
        .annotate(n=Count("pk"))
        .values_list("provider", "n")
    )
    figures = {r.group: r for r in takedown_stats(measure="removal", group_by="provider").rows if r.group}
    rows = []
    for p in providers.only("pk", "name", "country", "is_cdn", "contact_flagged_at"):
        found: Row | None = figures.get(p.pk)
        rows.append(
            ProviderListRow(
                pk=p.pk,
                name=p.name,
                country=p.country,
                is_cdn=p.is_cdn,
                open_cases=open_cases.get(p.pk, 0),
                notices_sent=sent.get(p.pk, 0),
                removals=found.count if found else 0,
                median_hours=found.median_hours if found else None,
                p90_hours=found.p90_hours if found else None,
                within_24h=found.within_24h if found else None,
                contact_flagged=p.contact_flagged_at is not None,
            )
        )
    sort = sort if sort in SORTS else "open"
    with_values = [r for r in rows if _sort_key(sort)(r)[0] is False]
    without = [r for r in rows if _sort_key(sort)(r)[0] is True]
    with_values.sort(key=_sort_key(sort), reverse=descending)
    without.sort(key=lambda r: r.name.lower())
    return with_values + without


# One provider -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactRow:
    address: str
    use: str  # what notices go there
    came_from: str
    trust: str
    flagged: str  # why it is not used now, "" when it is


@dataclass(frozen=True)
class MessageRow:
    kind: str  # Reply / Delivery failure
    received_at: datetime
    notice_id: int
    notice_reference: str
    sender: str  # "" for analysts in training
    subject: str
    excerpt: str  # "" for analysts in training
    failed_recipients: tuple[str, ...]


@dataclass(frozen=True)
class NoticeRow:
    pk: int
    reference: str
    kind: str
    state: str
    step: int
    cases: int
    created_at: datetime
    sent_at: datetime | None
    emails: tuple[str, ...]


@dataclass(frozen=True)
class CaseRow:
    pk: int
    url: str
    state: str
    role: str  # hosting provider, CDN or origin's provider
    first_reported_at: datetime


@dataclass(frozen=True)
class MonthRow:
    month: date
    label: str
    count: int
    median_hours: float | None
    p90_hours: float | None
    within_24h: float | None


@dataclass(frozen=True)
class Performance:
    count: int
    median_hours: float | None
    p90_hours: float | None
    within_24h: float | None
    months: tuple[MonthRow, ...]
    stats_url: str


@dataclass(frozen=True)
class ProviderPage:
    facts: ProviderFacts
    country_name: str
    is_cdn: bool
    contacts: tuple[ContactRow, ...]
    quality: ContactQuality  # each address in the contact order, its figures, where notices go now
    replies: int
    bounces: int
    messages: tuple[MessageRow, ...]
    messages_readable: bool  # analysts in training see the messages' kind and time only
    open_cases: tuple[CaseRow, ...]
    open_count: int
    waiting_count: int  # notified and still online after a first notice (`waiting_cases`)
    notices: tuple[NoticeRow, ...]
    notice_count: int
    performance: Performance
    admin_url: str  # where an administrator changes the provider, "" for others
    channel: str  # how its notices go out (`DeliveryChannel`)
    channel_label: str
    channel_choices: tuple[tuple[str, str], ...]  # what a senior may choose
    channel_changeable: bool  # the reader is a senior analyst
    # Its abuse API (never the token): the settings page for a senior, "" for others.
    api_url: str = ""
    api_summary: str = ""


def _contacts(provider: Provider) -> tuple[ContactRow, ...]:
    facts = provider_facts(provider)
    trust = {"high": _("high"), "low": _("low: a senior analyst should check it"), "none": _("none")}.get(
        provider.contact_confidence, provider.contact_confidence
    )
    if provider.verified:
        trust = _("confirmed by a senior analyst")
    came_from = _("%(source)s; found as %(found)s") % {"source": provider.get_source_display(), "found": facts.found_as}
    if facts.chosen_because:
        came_from += "; " + _("chosen because %(why)s") % {"why": facts.chosen_because}
    flagged = ""
    if provider.contact_flagged_at is not None:
        flagged = _("bounced or refused: %(reason)s") % {
            "reason": provider.contact_flag_reason or _("no reason recorded")
        }
    rows = [ContactRow(email, _("notices and reminders"), came_from, trust, flagged) for email in facts.abuse_emails]
    if provider.fallback_email:
        rows.append(
            ContactRow(
                provider.fallback_email,
                _("notices while the abuse address bounces"),
                _("set by an administrator"),
                _("set by hand"),
                "",
            )
        )
    if provider.escalation_email:
        rows.append(
            ContactRow(
                provider.escalation_email,
                _("escalation after the reminders"),
                _("set by an administrator"),
                _("set by hand"),
                "",
            )
        )
    return tuple(rows)


def _performance(provider: Provider) -> Performance:
    filters = Filters(provider=provider.pk)
    overall = takedown_stats(measure="removal", filters=filters).rows
    months = takedown_stats(measure="removal", group_by="month", filters=filters).rows
    first = overall[0] if overall else None
    return Performance(
        count=first.count if first else 0,
        median_hours=first.median_hours if first else None,
        p90_hours=first.p90_hours if first else None,
        within_24h=first.within_24h if first else None,
        months=tuple(
            MonthRow(r.group, r.label, r.count, r.median_hours, r.p90_hours, r.within_24h)
            for r in reversed(months)  # the newest month first
        ),
        stats_url=stats_link(provider),
    )


def _role(case: Case, provider: Provider) -> str:
    if case.cdn_id == provider.pk:
        return "CDN"
    if case.origin_provider_id == provider.pk:
        return _("origin's provider")
    return _("hosting provider")


def provider_page(provider: Provider, *, user: Any) -> ProviderPage:
    readable = not in_training(user)
    messages = NoticeMessage.objects.filter(notice__provider=provider)
    kinds = dict(messages.values("kind").annotate(n=Count("id")).values_list("kind", "n"))
    hosted = Q(provider=provider) | Q(cdn=provider) | Q(origin_provider=provider)
    open_cases = Case.objects.filter(hosted, state__in=CaseState.OPEN)
    notices = Notice.objects.filter(provider=provider)
    return ProviderPage(
        facts=provider_facts(provider),
        country_name=country_name(provider.country) if provider.country else "",
        is_cdn=provider.is_cdn,
        contacts=_contacts(provider),
        quality=contact_quality(provider, threshold=settings.SCART_CONTACT_HARD_BOUNCES),
        replies=kinds.get(NoticeMessage.Kind.REPLY, 0),
        bounces=kinds.get(NoticeMessage.Kind.BOUNCE, 0),
        messages=tuple(
            MessageRow(
                kind=m.get_kind_display(),
                received_at=m.received_at,
                notice_id=m.notice_id,
                notice_reference=m.notice.reference,
                sender=m.sender if readable else "",
                subject=m.subject if readable else "",
                excerpt=m.excerpt if readable else "",
                failed_recipients=tuple(m.failed_recipients or ()),
            )
            for m in messages.select_related("notice").order_by("-received_at", "-id")[:SHOWN]
        ),
        messages_readable=readable,
        open_cases=tuple(
            CaseRow(c.pk, c.canonical_url, c.get_state_display(), _role(c, provider), c.first_reported_at)
            for c in open_cases.order_by("first_reported_at", "pk")[:SHOWN]
        ),
        open_count=open_cases.count(),
        waiting_count=waiting_cases(provider=provider.pk).count(),
        notices=tuple(
            NoticeRow(
                pk=n.pk,
                reference=n.reference,
                kind=n.get_kind_display(),
                state=n.get_state_display(),
                step=n.step,
                cases=n.n_cases,
                created_at=n.created_at,
                sent_at=n.sent_at,
                emails=tuple(n.emails or ()),
            )
            for n in notices.annotate(n_cases=Count("items")).order_by("-created_at", "-pk")[:SHOWN]
        ),
        notice_count=notices.count(),
        performance=_performance(provider),
        admin_url=reverse("admin:routing_provider_change", args=[provider.pk]) if has_role(user, Role.ADMIN) else "",
        api_url=reverse("providers-api", args=[provider.pk]) if has_role(user, Role.SENIOR) else "",
        api_summary=_api_summary(provider),
        channel=provider.delivery_channel,
        channel_label=str(provider.get_delivery_channel_display()),
        channel_choices=tuple(recipient_channels(provider)),
        channel_changeable=has_role(user, Role.SENIOR),
    )


def _api_summary(provider: Provider) -> str:
    """Its abuse API in words: where and as which account, whether a token is stored; a warning
    when its notices go by the API and the settings are incomplete."""
    if provider.delivery_channel == DeliveryChannel.PROVIDER_API and not provider.api_configured:
        return _(
            "Notices go to this provider's abuse API, but its API settings are incomplete: they fail until a senior analyst completes them."
        )
    if not provider.api_base_url:
        return ""
    token = _("a token is stored") if provider.api_token else _("no token is stored")
    return _("abuse API %(url)s, account %(account)s; %(token)s") % {
        "url": provider.api_base_url,
        "account": provider.api_account or "-",
        "token": token,
    }
