"""Reads of the routing stage."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from reports.models import Case
from routing.models import Provider


def contact_check_queue() -> QuerySet[Case]:
    """Cases whose abuse contact a senior analyst must check before any notice, oldest first."""
    return Case.objects.filter(contact_check=True).select_related("provider", "cdn").order_by("first_reported_at")


def providers_to_check() -> QuerySet[Provider]:
    """The providers behind the contact-check queue, with how many cases wait on each."""
    return (
        Provider.objects.filter(cases__contact_check=True)
        .annotate(waiting=Count("cases"))
        .order_by("-contact_flagged_at", "-waiting", "name")
    )
