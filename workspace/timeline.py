"""The timeline of a case page: the case's events, oldest first, each in words (a page model the
templates read, never the raw event data)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.timezone import is_aware

from reports.models import (
    AgeGroup,
    AiGenerated,
    AssessmentSource,
    Case,
    CaseState,
    Category,
    Channel,
    LegalBasis,
    MediaType,
    NotIllegalReason,
    PoliceReason,
    RemovalKind,
    ReviewReason,
    Verdict,
)
from scart.times import shown

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
