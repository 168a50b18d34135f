"""Reads of the intake."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery
from django.utils.timezone import is_aware

from accounts.roles import Role, has_role
from reports.models import (
    AgeGroup,
    AiGenerated,
    AssessmentSource,
    Case,
    CaseState,
    Category,
    Channel,
    Event,
    EventKind,
    LegalBasis,
    MediaType,
    NotIllegalReason,
    Partner,
    PoliceReason,
    RemovalKind,
    ReportedUrl,
    ReviewReason,
    Verdict,
)
from scart.times import shown


class PartnerStatus(models.TextChoices):
    """A case's state as a partner sees it: where its report stands, not how the hotline works."""

    RECEIVED = "received", "Received: not assessed yet"
    ILLEGAL = "illegal", "Assessed illegal: action under way"
    NOTIFIED = "notified", "Notified: the hotline has sent the notices the case called for"
    REMOVED = "removed", "Removed: the content is gone"
    NOT_ILLEGAL = "not_illegal", "Closed: not illegal here"
    CANNOT_ASSESS = "cannot_assess", "Closed: could not be assessed"


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


# The timeline of a case page -------------------------------------------------------------------

Describe = Callable[[Mapping[str, Any]], list[str]]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # in words
    actor: str
    details: tuple[str, ...]  # what the event's data says, in words


# The words for the codes an event's data holds, by key; ids only the database needs are left out.
_CODES: dict[str, dict[str, str]] = {
    key: {str(v): str(label) for v, label in choices.choices}
    for key, choices in (
        ("from", CaseState),
        ("to", CaseState),
        ("state", CaseState),
        ("removal_kind", RemovalKind),
        ("verdict", Verdict),
        ("legal_basis", LegalBasis),
        ("category", Category),
        ("age_group", AgeGroup),
        ("media_type", MediaType),
        ("ai_generated", AiGenerated),
        ("police_reason", PoliceReason),
        ("not_illegal_reason", NotIllegalReason),
        ("source", AssessmentSource),
        ("channel", Channel),
        ("reason", ReviewReason),
    )
}
_LABELS = {
    "removal_kind": "how",
    "asn": "AS",
    "cnames": "CNAMEs",
    "new": "new case",
    "rule": "provider matched by",
    "ai_generated": "AI-generated",
    "case": "opened case",
}
_HIDDEN = frozenset({"assessment", "provider_id", "review", "report_id", "notice_id", "suggestion"})


def _when(value: str) -> str | None:
    """An ISO timestamp as the page prints times, or None when ``value`` is not one."""
    if len(value) < 19 or value[4] != "-" or value[10] != "T":
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # A naive time has no zone to show it in; it is printed as it was written.
    return shown(moment, seconds=True) if is_aware(moment) else None


def _value_text(key: str, value: Any) -> str:
    if isinstance(value, str) and key in _CODES:
        return _CODES[key].get(value, value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return "; ".join(f"{_label(k)}: {_value_text(k, v)}" for k, v in value.items() if _shown(k, v))
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(key, v) for v in value)
    if isinstance(value, str):
        return _when(value) or value
    return str(value)


def _label(key: str) -> str:
    return _LABELS.get(key, key.replace("_", " "))


def _shown(key: str, value: Any) -> bool:
    return key not in _HIDDEN and value not in (None, "", [], {})


def event_details(data: Mapping[str, Any]) -> list[str]:
    """Any event's data as ``label: value`` lines, codes in words where they are known."""
    if set(data) >= {"from", "to"} and len(data) <= 3:
        line = f"{_value_text('from', data['from'])} → {_value_text('to', data['to'])}"
        rest = {k: v for k, v in data.items() if k not in ("from", "to") and _shown(k, v)}
        return [line, *(f"{_label(k)}: {_value_text(k, v)}" for k, v in rest.items())]
    return [f"{_label(key)}: {_value_text(key, value)}" for key, value in data.items() if _shown(key, value)]


def case_timeline(
    case: Case, *, see_reporters: bool, describe: Mapping[str, Describe] | None = None
) -> list[TimelineEntry]:
    """The case's events, oldest first, each in words; ``describe`` gives the words for the data of
    kinds a later stage writes (e.g. ``routed``), others get `event_details`. Which partner
    reported is shown only to those who may see reporters (``see_reporters``): others read "a partner"."""
    describe = describe or {}
    entries = []
    for event in case.events.select_related("actor_user", "actor_partner").order_by("at", "id"):
        if event.actor_user is not None:
            actor = event.actor_user.get_username()
        elif event.actor_partner is not None:
            actor = event.actor_partner.name if see_reporters else "a partner"
        else:
            actor = event.get_actor_type_display().lower()
        data = event.data if isinstance(event.data, Mapping) else {"data": event.data}
        details = describe.get(event.kind, event_details)(data)
        entries.append(TimelineEntry(at=event.at, kind=event.get_kind_display(), actor=actor, details=tuple(details)))
    return entries
