"""How demo data is recognised, counted and deleted: by its marks (`devnet.history.constants`), and
only while nothing that is not demo data refers to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.deletion import ProtectedError

from devnet.history.constants import (
    HOST_SUFFIXES,
    MESSAGE_ID_SUFFIX,
    PARTNERS,
    PROVIDER_KEY_PREFIX,
    REPORT_REF_PREFIX,
    USER_PREFIX,
)
from reports.models import Case, Event, Partner, Report, ReportedUrl
from routing.models import DomainRule, Notice, NoticeCase, Provider


def demo_case_filter() -> Q:
    """Cases on the demo's reserved hosts."""
    q = Q()
    for suffix in HOST_SUFFIXES:
        q |= Q(host__endswith=suffix)
    return q


def demo_reports() -> models.QuerySet[Report]:
    """Reports the demo made: its ``external_ref`` prefix (which a partner could also send), from
    no partner or a demo one, naming demo cases only."""
    demo_partners = Partner.objects.filter(name__in=[name for name, _, _ in PARTNERS])
    elsewhere = ReportedUrl.objects.filter(report=OuterRef("pk")).exclude(
        case__in=Case.objects.filter(demo_case_filter())
    )
    return (
        Report.objects.filter(external_ref__startswith=REPORT_REF_PREFIX)
        .filter(Q(partner__isnull=True) | Q(partner__in=demo_partners))
        .exclude(Exists(elsewhere))
    )


def demo_counts() -> dict[str, int]:
    """How many demo rows of each kind exist (all zero: no demo data)."""
    return {
        "cases": Case.objects.filter(demo_case_filter()).count(),
        "reports": demo_reports().count(),
        "providers": Provider.objects.filter(key__startswith=PROVIDER_KEY_PREFIX).count(),
        "partners": Partner.objects.filter(name__in=[name for name, _, _ in PARTNERS]).count(),
        "users": get_user_model().objects.filter(username__startswith=USER_PREFIX).count(),
    }


def demo_delete(*, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Delete the demo data (see the `devnet.history` docstring for how it is recognised) and nothing
    else. Returns the number of rows deleted per model, the cascades included."""
    deleted: dict[str, int] = {}

    def delete(queryset: models.QuerySet[Any], label: str, chunk: int = 5_000) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for start in range(0, len(ids), chunk):
            with transaction.atomic():
                _, per_model = queryset.model._default_manager.filter(pk__in=ids[start : start + chunk]).delete()
            for name, count in per_model.items():
                deleted[name] = deleted.get(name, 0) + count
            if progress:
                progress(label, min(start + chunk, len(ids)))

    delete(demo_reports(), "reports")
    named = ReportedUrl.objects.filter(case=OuterRef("pk"))
    delete(Case.objects.filter(demo_case_filter()).exclude(Exists(named)), "cases")
    delete(
        Notice.objects.filter(message_id__endswith=MESSAGE_ID_SUFFIX).exclude(
            Exists(NoticeCase.objects.filter(notice=OuterRef("pk")))
        ),
        "notices",
    )
    used = (
        Q(Exists(Case.objects.filter(provider=OuterRef("pk"))))
        | Q(Exists(Case.objects.filter(cdn=OuterRef("pk"))))
        | Q(Exists(Case.objects.filter(origin_provider=OuterRef("pk"))))
        | Q(Exists(Notice.objects.filter(provider=OuterRef("pk"))))
        | Q(Exists(DomainRule.objects.filter(provider=OuterRef("pk"))))
    )
    delete(Provider.objects.filter(key__startswith=PROVIDER_KEY_PREFIX).exclude(used), "providers")
    partners = Partner.objects.filter(name__in=[name for name, _, _ in PARTNERS])
    delete(
        partners.exclude(Exists(Report.objects.filter(partner=OuterRef("pk")))).exclude(
            Exists(Event.objects.filter(actor_partner=OuterRef("pk")))
        ),
        "partners",
    )
    for user in get_user_model().objects.filter(username__startswith=USER_PREFIX):
        try:
            with transaction.atomic():
                _, per_model = user.delete()
        except ProtectedError:
            continue  # still named by something that is not demo data
        for name, count in per_model.items():
            deleted[name] = deleted.get(name, 0) + count
    return deleted
