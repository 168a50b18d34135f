"""Reads of the triage queue: which cases await an analyst, in which order, with which filters."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Case as SqlCase
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports.models import Case, CaseState, Channel, ReportedUrl
from scart.sorting import ordering

QUEUE_STATES = [
    (CaseState.AWAITING_ASSESSMENT, _("Awaiting assessment")),
    (CaseState.NEW, _("Being resolved")),
    (CaseState.ILLEGAL, _("Illegal, awaiting notice")),
]

# The queue's sortable columns and the fields each sorts by (`?sort=received`, `?sort=-reports`).
QUEUE_SORTS = {
    "received": ("first_reported_at",),
    "reports": ("report_count",),
    "provider": ("provider__name",),
    "country": ("hosting_country",),
    "asn": ("asn",),
}

# The resolution outcomes the queue filters by (`routing.resolution.dns` and the resolution's JSON), in words.
OUTCOMES = [
    ("resolved", _("resolved")),
    ("partial", _("resolved in part")),
    ("nxdomain", _("the name does not exist")),
    ("no_data", _("no address")),
    ("servfail", _("the nameserver failed")),
    ("timeout", _("no answer from the nameservers")),
    ("unresolvable", _("not resolvable (onion, internal name)")),
    ("ip_literal", _("an IP address")),
]


@dataclass
class QueueFilters:
    state: str = CaseState.AWAITING_ASSESSMENT
    source: str = ""  # an intake channel
    provider: str = ""  # a provider id
    country: str = ""
    domain: str = ""
    outcome: str = ""  # the resolution's outcome: resolved, nxdomain, partial...
    sort: str = ""  # a key of QUEUE_SORTS, "-" first for descending; empty for the queue's own order

    @classmethod
    def from_query(cls, query: Any) -> QueueFilters:
        values = {f.name: (query.get(f.name) or "").strip() for f in fields(cls)}
        values["state"] = values["state"] or CaseState.AWAITING_ASSESSMENT
        if values["state"] not in CaseState.values:
            values["state"] = CaseState.AWAITING_ASSESSMENT
        if values["source"] not in Channel.values:
            values["source"] = ""
        if not values["provider"].isdigit():
            values["provider"] = ""
        values["country"] = values["country"].upper()[:2]
        values["domain"] = values["domain"].lower().rstrip(".")
        values["sort"], _fields = ordering(values["sort"], QUEUE_SORTS)
        return cls(**values)

    def as_query(self) -> str:
        items = {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}
        if items.get("state") == CaseState.AWAITING_ASSESSMENT:
            del items["state"]
        return urlencode(items)


def queue_cases(*, filters: QueueFilters) -> QuerySet[Case]:
    """Cases in the queue's order: hosted in the hotline's country first, then re-reported or
    partner-flagged urgent, then the oldest; or in the order of the column the filters sort by
    (the next case then follows that order too)."""
    cases = Case.objects.filter(state=filters.state)
    if filters.source:
        named = ReportedUrl.objects.filter(case=OuterRef("pk"), report__channel=filters.source)
        cases = cases.filter(Exists(named))
    if filters.provider:
        cases = cases.filter(provider_id=int(filters.provider))
    if filters.country:
        cases = cases.filter(hosting_country=filters.country)
    if filters.domain:
        cases = cases.filter(Q(registrable_domain=filters.domain) | Q(host=filters.domain))
    if filters.outcome:
        cases = cases.filter(resolution__outcome=filters.outcome)
    return (
        cases.annotate(
            home=SqlCase(
                When(hosting_country=settings.SCART_HOTLINE_COUNTRY, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
            pressing=SqlCase(
                When(Q(urgent=True) | Q(report_count__gt=1), then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            ),
        )
        .select_related("provider", "cdn", "locked_by")
        .order_by(*(ordering(filters.sort, QUEUE_SORTS)[1] or ("home", "pressing", "first_reported_at", "id")))
    )


def queue_counts() -> dict[str, int]:
    """Cases per queue state (the tabs' counts), in one query."""
    rows = Case.objects.filter(state__in=[s for s, _label in QUEUE_STATES]).values("state").annotate(n=Count("id"))
    counts = {str(s): 0 for s, _label in QUEUE_STATES}
    counts.update({row["state"]: row["n"] for row in rows})
    return counts


def next_case(*, filters: QueueFilters, user: Any) -> Case | None:
    """The first case of the queue that nobody else has open."""
    now = timezone.now()
    free = Q(locked_by__isnull=True) | Q(locked_until__lt=now) | Q(locked_by=user)
    return queue_cases(filters=filters).filter(free).first()
