"""Evidence packs for a regulator or the police: what the hotline did about a case, or about a
provider's cases, and when. Metadata only: the URL, its timeline, the notices with their
Message-IDs and times, the availability checks with their status lines; never content, and never
who reported the URL.

The JSON shape is stable (``schema`` names its version; fields are only ever added): see
docs/deadlines.md. `routing.deadlines.pdf` writes the same pack as a PDF.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from reports.models import Case, Event, EventKind
from routing.models import AvailabilityCheck, Deadline, NoticeCase, NoticeState, Provider
from scart.times import iso, iso_or_none

CASE_SCHEMA = "scart.evidence.case/1"
PROVIDER_SCHEMA = "scart.evidence.provider/1"

# A provider's pack holds its most recent cases, at most this many (the count says how many there are).
PROVIDER_CASES_MAX = 500

# The event data a pack may carry: references, states and outcomes, never a reporter or free text.
EVENT_KEYS = (
    "notice",
    "from",
    "to",
    "kind",
    "recipient",
    "recipient_kind",
    "step",
    "outcome",
    "status_code",
    "verdict",
    "category",
    "name",
    "due_at",
    "removal_kind",
    "reason",
)
# Reasons are free text only for these kinds; elsewhere they are codes a hotline set.
FREE_TEXT_KINDS = frozenset({EventKind.NOTICE_REPLY, EventKind.PROVIDER_RESPONDED, EventKind.DISPUTE_HANDLED})


def _hotline(now: datetime) -> dict[str, Any]:
    return {"name": settings.SCART_HOTLINE_NAME, "country": settings.SCART_HOTLINE_COUNTRY, "generated_at": iso(now)}


def _provider(provider: Provider | None) -> dict[str, Any] | None:
    if provider is None:
        return None
    return {"id": provider.pk, "name": provider.name, "country": provider.country or ""}


def _event(event: Event) -> dict[str, Any]:
    data = event.data or {}
    details = {k: data[k] for k in EVENT_KEYS if k in data and isinstance(data[k], str | int | bool)}
    if event.kind in FREE_TEXT_KINDS:
        details.pop("reason", None)
    return {
        "at": iso(event.at),
        "kind": event.kind,
        "label": str(EventKind(event.kind).label) if event.kind in EventKind.values else event.kind,
        "actor": event.actor_type,
        "details": details,
    }


def _notice(row: NoticeCase) -> dict[str, Any]:
    notice = row.notice
    return {
        "reference": notice.reference,
        "kind": notice.kind,
        "recipient_kind": notice.recipient_kind,
        "recipient": notice.recipient_name,
        "emails": list(notice.emails or []),
        "state": notice.state,
        "message_id": notice.message_id,
        "created_at": iso(notice.created_at),
        "sent_at": iso_or_none(notice.sent_at),
        "response": row.response,
        "responded_at": iso_or_none(row.responded_at),
    }


def _check(check: AvailabilityCheck) -> dict[str, Any]:
    return {
        "at": iso(check.at),
        "outcome": check.outcome,
        "status_code": check.status_code,
        "address": check.address,
        "redirect_to": check.redirect_to,
    }


def _deadline(deadline: Deadline) -> dict[str, Any]:
    return {
        "name": deadline.name,
        "starts_at": deadline.starts_at,
        "started_at": iso(deadline.started_at),
        "due_at": iso(deadline.due_at),
        "notice": deadline.notice_reference,
        "met_at": iso_or_none(deadline.met_at),
        "closed_at": iso_or_none(deadline.closed_at),
        "breached_at": iso_or_none(deadline.breached_at),
    }


def _case(case: Case) -> dict[str, Any]:
    notices = (
        NoticeCase.objects.filter(case=case, dropped_at__isnull=True)
        .exclude(notice__state=NoticeState.CANCELLED)
        .select_related("notice")
        .order_by("notice__created_at", "notice_id")
    )
    return {
        "id": case.pk,
        "url": case.canonical_url,
        "host": case.host,
        "state": case.state,
        "verdict": case.verdict,
        "hosting_country": case.hosting_country,
        "asn": case.asn,
        "provider": _provider(case.provider),
        "first_reported_at": iso(case.first_reported_at),
        "assessed_at": iso_or_none(case.assessed_at),
        "removed_at": iso_or_none(case.removed_at),
        "removal_kind": case.removal_kind,
        "deadlines": [_deadline(d) for d in case.deadlines.order_by("cycle_started_at", "pk")],
        "timeline": [_event(e) for e in case.events.order_by("at", "pk")],
        "notices": [_notice(row) for row in notices],
        "checks": [_check(c) for c in case.checks.order_by("at", "pk")],
    }


def case_evidence(case: Case, *, now: datetime | None = None) -> dict[str, Any]:
    """The evidence pack of one case (``scart.evidence.case/1``)."""
    now = now or timezone.now()
    return {"schema": CASE_SCHEMA, "hotline": _hotline(now), "case": _case(case)}


def provider_evidence(provider: Provider, *, now: datetime | None = None) -> dict[str, Any]:
    """The evidence pack of a provider's cases (``scart.evidence.provider/1``): its most recent
    `PROVIDER_CASES_MAX` cases that were judged illegal, each as in a case pack."""
    now = now or timezone.now()
    cases = Case.objects.filter(provider=provider, verdict="illegal").select_related("provider")
    total = cases.count()
    chosen = list(cases.order_by("-first_reported_at", "-pk")[:PROVIDER_CASES_MAX])
    return {
        "schema": PROVIDER_SCHEMA,
        "hotline": _hotline(now),
        "provider": _provider(provider),
        "case_count": total,
        "cases": [_case(c) for c in chosen],
    }
