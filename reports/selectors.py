"""Reads of the intake."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from accounts.roles import Role, has_role
from reports.models import Case, Partner, ReportedUrl


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


def cases_filter(
    cases: QuerySet[Case],
    *,
    state: str | None = None,
    host: str | None = None,
    domain: str | None = None,
    received_after: datetime | None = None,
    received_before: datetime | None = None,
) -> QuerySet[Case]:
    """Narrow a case list; ``received_*`` bound the first report's time (after is inclusive)."""
    if state:
        cases = cases.filter(state=state)
    if host:
        cases = cases.filter(host=host.lower().rstrip("."))
    if domain:
        cases = cases.filter(registrable_domain=domain.lower().rstrip("."))
    if received_after:
        cases = cases.filter(first_reported_at__gte=received_after)
    if received_before:
        cases = cases.filter(first_reported_at__lt=received_before)
    return cases
