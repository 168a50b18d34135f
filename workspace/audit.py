"""The senior's audit view (`/audit/`): the audit trail and the events staff wrote on the cases'
timelines (verdicts, releases, notices taken out, assignments...), merged into one list, newest
first, filtered the same way (person, action or kind of event, case, notice, dates).

The two tables are read as one `UNION ALL` of (id, time, source), ordered and paginated in the
database (`AuditTrail`): each side is read newest first through its index, the audit trail's on
`at` and the events' partial index on (`at`, `id`) for events with a staff author
(`event_staff_at_idx`), only as far as the page's end. Only the page's rows are then loaded and
put in words; an event reads as its timeline sentence, in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import CharField, QuerySet, Value
from django.db.models.query import EmptyQuerySet

from accounts.models import AuditAction, AuditEntry
from reports.models import Event, EventKind
from routing.models import Notice
from workspace.notices import (
    EVENT_ACTION_PREFIX,
    AuditFilters,
    AuditRow,
    audit_entries,
    audit_rows,
    day_start,
)
from workspace.sentences import SENTENCES, Facts, unknown_sentence

AUDIT = "audit"
EVENT = "event"


def audit_action_choices() -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """The action filter's choices: the audit trail's actions, and the kinds of case events."""
    return list(AuditAction.choices), [(f"{EVENT_ACTION_PREFIX}{v}", label) for v, label in EventKind.choices]


def staff_events(filters: AuditFilters) -> QuerySet[Event]:
    """The case events a staff member wrote that the filters select (none for an action of the
    audit trail)."""
    if filters.action and not filters.action.startswith(EVENT_ACTION_PREFIX):
        return Event.objects.none()
    rows = Event.objects.filter(actor_user__isnull=False)
    if filters.user:
        rows = rows.filter(actor_user__username__iexact=filters.user)
    if filters.action:
        rows = rows.filter(kind=filters.action.removeprefix(EVENT_ACTION_PREFIX))
    if filters.case:
        rows = rows.filter(case_id=int(filters.case))
    if filters.notice:
        rows = rows.filter(data__notice=filters.notice.upper())
    if filters.since:
        rows = rows.filter(at__gte=day_start(filters.since))
    if filters.until:
        rows = rows.filter(at__lt=day_start(filters.until + timedelta(days=1)))
    return rows


class AuditTrail:
    """(id, at, source) of every audit entry and staff event the filters select, newest first, as
    a sequence `Paginator` reads: ``count()`` adds the two counts, and a slice asks each table for
    its newest rows up to the slice's end (a backward scan of its index on ``at`` that stops there)
    and merges them. PostgreSQL cannot stop the scans of a plain ``UNION ALL`` ordered outside (it
    sorts every staff event first), so each side carries its own ``ORDER BY ... LIMIT``."""

    def __init__(self, filters: AuditFilters) -> None:
        self.entries = audit_entries(filters).order_by("-at", "-id")
        self.events = staff_events(filters).order_by("-at", "-id")

    def count(self) -> int:
        return self.entries.count() + self.events.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, window: slice) -> list[tuple[int, Any, str]]:
        start, stop = window.start or 0, window.stop
        if stop is None or stop <= start:
            return []
        parts = [
            rows.annotate(source=Value(source, output_field=CharField())).values_list("id", "at", "source")
            for rows, source in ((self.entries, AUDIT), (self.events, EVENT))
            if not isinstance(rows, EmptyQuerySet)
        ]
        if len(parts) == 1:  # the action filter names one side only
            return list(parts[0][start:stop])
        entries, events = parts
        if connection.features.supports_slicing_ordering_in_compound:
            entries, events = entries[:stop], events[:stop]
        else:  # SQLite: no ORDER BY or LIMIT inside a compound statement; the merge reads both sides
            entries, events = entries.order_by(), events.order_by()
        merged = entries.union(events, all=True).order_by("-at", "-source", "-id")
        return list(merged[start:stop])


def audit_trail(filters: AuditFilters) -> AuditTrail:
    """The audit entries and staff events the filters select, newest first (`AuditTrail`)."""
    return AuditTrail(filters)


def audit_trail_rows(page: list[tuple[int, Any, str]]) -> list[AuditRow]:
    """The rows of one page of `audit_trail`, in its order, in words."""
    entry_ids = [pk for pk, _at, source in page if source == AUDIT]
    event_ids = [pk for pk, _at, source in page if source == EVENT]
    entries = {r_id: row for r_id, row in zip(entry_ids, _entry_rows(entry_ids), strict=True)}
    events = _event_rows(event_ids)
    return [entries[pk] if source == AUDIT else events[pk] for pk, _at, source in page]


def _entry_rows(ids: list[int]) -> list[AuditRow]:
    found = {e.pk: e for e in AuditEntry.objects.filter(pk__in=ids)}
    return audit_rows([found[pk] for pk in ids])


def _event_rows(ids: list[int]) -> dict[int, AuditRow]:
    events = list(Event.objects.filter(pk__in=ids).select_related("actor_user"))
    references = {
        str(ref)
        for e in events
        if isinstance(e.data, Mapping)
        for ref in [e.data.get("notice"), *(e.data.get("notices") or [])]
        if ref
    }
    notices = {n.reference: n for n in Notice.objects.filter(reference__in=references)}
    facts = Facts(notices=notices)
    rows = {}
    for event in events:
        data = event.data if isinstance(event.data, Mapping) else {}
        sentence, _details = SENTENCES.get(event.kind, unknown_sentence)(data, facts)
        notice = notices.get(str(data.get("notice") or ""))
        rows[event.pk] = AuditRow(
            at=event.at,
            who=event.actor_user.get_username() if event.actor_user else "",
            action=str(event.get_kind_display()),
            summary=sentence,
            case_id=event.case_id,
            notice_id=None if notice is None else notice.pk,
            notice_reference="" if notice is None else notice.reference,
            ip_address="",
        )
    return rows
