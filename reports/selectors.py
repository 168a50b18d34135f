"""Reads of the intake."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role, has_role
from reports.models import (
    Case,
    CaseState,
    Event,
    EventKind,
    Partner,
    ReportedUrl,
)


class PartnerStatus(models.TextChoices):
    """A case's state as a partner sees it: where its report stands, not how the hotline works."""

    RECEIVED = "received", _("Received: not assessed yet")
    ILLEGAL = "illegal", _("Assessed illegal: action under way")
    NOTIFIED = "notified", _("Notified: the hotline has sent the notices the case called for")
    REMOVED = "removed", _("Removed: the content is gone")
    NOT_ILLEGAL = "not_illegal", _("Closed: not illegal here")
    CANNOT_ASSESS = "cannot_assess", _("Closed: could not be assessed")


PARTNER_STATUS: dict[str, PartnerStatus] = {
    CaseState.NEW: PartnerStatus.RECEIVED,
    CaseState.AWAITING_ASSESSMENT: PartnerStatus.RECEIVED,
    CaseState.ILLEGAL: PartnerStatus.ILLEGAL,
    CaseState.NOTIFIED: PartnerStatus.NOTIFIED,
    CaseState.REMOVED: PartnerStatus.REMOVED,
    CaseState.NOT_ILLEGAL: PartnerStatus.NOT_ILLEGAL,
    CaseState.CANNOT_ASSESS: PartnerStatus.CANNOT_ASSESS,
}

# The case states behind each status a partner sees.
STATES_OF_STATUS: dict[str, list[str]] = {
    status: [state for state, shown_as in PARTNER_STATUS.items() if shown_as == status] for status in PartnerStatus
}


def cases_visible_to(*, user: Any) -> QuerySet[Case]:
    """Cases a requester may read: staff with a role who passed the second factor see all; a
    partner sees the cases its own reports named."""
    partner: Partner | None = getattr(user, "partner", None)
    if partner is not None:
        named = ReportedUrl.objects.filter(case=OuterRef("pk"), report__partner=partner)
        return Case.objects.filter(Exists(named))
    verified = getattr(user, "is_verified", None)
    if has_role(user, Role.ANALYST) and verified is not None and verified():
        return Case.objects.all()
    return Case.objects.none()


def partner_cases(*, partner: Partner) -> QuerySet[Case]:
    """The cases ``partner``'s reports named, loaded for the partner view: each with
    ``notified_at`` (when it first became notified) and ``own_reports``, the partner's own
    `ReportedUrl` rows of it (with their reports), oldest first. Nothing of other reporters."""
    own = ReportedUrl.objects.filter(report__partner=partner)
    first_notified = (
        Event.objects.filter(case=OuterRef("pk"), kind=EventKind.STATE_CHANGED, data__to=CaseState.NOTIFIED.value)
        .order_by("at", "id")
        .values("at")[:1]
    )
    return (
        Case.objects.filter(Exists(own.filter(case=OuterRef("pk"))))
        .annotate(notified_at=Subquery(first_notified))
        .prefetch_related(
            Prefetch(
                "reported_urls",
                queryset=own.select_related("report").order_by("report__received_at", "id"),
                to_attr="own_reports",
            )
        )
    )


def cases_filter(
    cases: QuerySet[Case],
    *,
    partner: Partner | None = None,
    state: str | None = None,
    host: str | None = None,
    domain: str | None = None,
    received_after: datetime | None = None,
    received_before: datetime | None = None,
) -> QuerySet[Case]:
    """Narrow a case list; ``received_*`` bound the first report's time (after is inclusive), or,
    for a ``partner``, the time of one of its own reports (the first report may be another's)."""
    if state:
        # A partner's `received` is every state before an assessment; the other names are shared.
        cases = cases.filter(state__in=STATES_OF_STATUS.get(state, [state]))
    if host:
        cases = cases.filter(host=host.lower().rstrip("."))
    if domain:
        cases = cases.filter(registrable_domain=domain.lower().rstrip("."))
    if partner is not None and (received_after or received_before):
        own = ReportedUrl.objects.filter(case=OuterRef("pk"), report__partner=partner)
        if received_after:
            own = own.filter(report__received_at__gte=received_after)
        if received_before:
            own = own.filter(report__received_at__lt=received_before)
        return cases.filter(Exists(own))
    if received_after:
        cases = cases.filter(first_reported_at__gte=received_after)
    if received_before:
        cases = cases.filter(first_reported_at__lt=received_before)
    return cases
