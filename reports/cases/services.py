"""Writes of the core: a case's state changes (one case, or a batch) and its timeline.

Every state change of a case goes through `case_transition` or `cases_transition`: both check
`ALLOWED_TRANSITIONS`, make the change conditional on the state the caller expects, and write
the ``state_changed`` events. Every event, one (`event_append`) or a batch (`event_new`, then
`events_append`), is written by `events_append`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports.cases.models import ActorType, Case, CaseState, Event, EventKind
from scart.db import rows_insert
from scart.shown import ShownError, lower_lazy

if TYPE_CHECKING:
    from reports.models import Partner

# The transitions a case may make: the one place to read a case's life from.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    CaseState.NEW: {CaseState.AWAITING_ASSESSMENT},
    CaseState.AWAITING_ASSESSMENT: {CaseState.ILLEGAL, CaseState.NOT_ILLEGAL, CaseState.CANNOT_ASSESS},
    CaseState.ILLEGAL: {CaseState.NOTIFIED, CaseState.REMOVED, CaseState.NOT_ILLEGAL, CaseState.CANNOT_ASSESS},
    CaseState.NOTIFIED: {CaseState.REMOVED},
    # Content back online: the notice cycle starts again.
    CaseState.REMOVED: {CaseState.NOTIFIED, CaseState.ILLEGAL},
    # A later verdict (a second opinion, a correction) moves a closed case to its own state.
    CaseState.NOT_ILLEGAL: {CaseState.AWAITING_ASSESSMENT, CaseState.ILLEGAL, CaseState.CANNOT_ASSESS},
    CaseState.CANNOT_ASSESS: {CaseState.AWAITING_ASSESSMENT, CaseState.ILLEGAL, CaseState.NOT_ILLEGAL},
}


class StateConflict(ShownError):
    """The case was not in the state the caller expected (someone else moved it first)."""

    code = "state_conflict"


class InvalidTransition(ValueError):
    """The requested state change is not part of a case's life."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did something: the system, a staff user, a partner or an anonymous reporter."""

    type: str
    user: AbstractBaseUser | None = None
    partner: Partner | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorType.SYSTEM)

    @classmethod
    def staff(cls, user: Any) -> Actor:
        return cls(ActorType.USER, user=user)

    def event_fields(self) -> dict[str, Any]:
        return {"actor_type": self.type, "actor_user": self.user, "actor_partner": self.partner}


def _transition_check(from_state: str, to: str) -> None:
    if to not in ALLOWED_TRANSITIONS.get(from_state, set()):
        raise InvalidTransition(f"a case cannot go from {from_state} to {to}")


def case_transition(*, case: Case, to: CaseState | str, actor: Actor, data: dict[str, Any] | None = None) -> Case:
    """Move a case from its current state to ``to`` and write the event, in one transaction.

    The update is conditional on the state the caller loaded, so two workers or analysts acting on
    the same case cannot both succeed: the second gets `StateConflict`.
    """
    from_state = case.state
    _transition_check(from_state, to)
    now = timezone.now()
    with transaction.atomic():
        changed = Case.objects.filter(pk=case.pk, state=from_state).update(state=to, state_changed_at=now)
        if not changed:
            raise StateConflict(
                _("case %(pk)s is no longer %(state)s"), pk=case.pk, state=lower_lazy(CaseState(from_state).label)
            )
        event_append(
            case=case,
            kind=EventKind.STATE_CHANGED,
            actor=actor,
            at=now,
            data={"from": str(from_state), "to": str(to), **(data or {})},
        )
    case.state = to
    case.state_changed_at = now
    return case


def cases_transition(
    *,
    case_ids: Sequence[int],
    source: CaseState,
    to: CaseState,
    actor: Actor,
    at: datetime,
    data: dict[str, Any] | None = None,
    changes: dict[str, Any] | None = None,
    events: Sequence[Event] = (),
) -> set[int]:
    """Move the cases among ``case_ids`` that are still in ``source`` to ``to``, and write their
    ``state_changed`` events; returns the ids of the cases moved. For batches: one conditional
    ``UPDATE`` (the cases another worker or an analyst moved meanwhile stay as they are, without a
    `StateConflict`), one look-up only when some did not move, and the events in one insert.

    ``changes`` are more columns to set on the moved cases in the same ``UPDATE``; ``events`` are
    more events the caller writes with the state changes (in the same insert, before them).
    The caller holds the transaction.
    """
    _transition_check(source, to)
    ids = list(case_ids)
    moving: set[int] = set()
    if ids:
        count = Case.objects.filter(pk__in=ids, state=source).update(state=to, state_changed_at=at, **(changes or {}))
        moving = set(ids)
        if count != len(moving):
            # Some were not in ``source``: the moved ones are those this update just stamped.
            moving = set(Case.objects.filter(pk__in=ids, state=to, state_changed_at=at).values_list("id", flat=True))
    moved = {"from": str(source), "to": str(to), **(data or {})}
    events_append(
        [
            *events,
            *(
                event_new(case=pk, kind=EventKind.STATE_CHANGED, actor=actor, at=at, data=moved)
                for pk in sorted(moving)
            ),
        ]
    )
    return moving


def event_new(
    *, case: Case | int, kind: str, actor: Actor, at: datetime | None = None, data: dict[str, Any] | None = None
) -> Event:
    """An event of ``case`` (a case or its id) by ``actor``, at ``at`` (now when not given), not
    written yet: for `events_append`, which writes a batch of them."""
    event = Event(kind=kind, at=at if at is not None else timezone.now(), data=data or {}, **actor.event_fields())
    if isinstance(case, Case):
        event.case = case
    else:
        event.case_id = case
    return event


def event_append(
    *, case: Case | int, kind: str, actor: Actor, at: datetime | None = None, data: dict[str, Any] | None = None
) -> Event:
    """Append one event to a case's timeline (`event_new`, written by `events_append`); returns
    it, without its id (nobody reads it back in the same transaction)."""
    event = event_new(case=case, kind=kind, actor=actor, at=at, data=data)
    events_append([event])
    return event


def events_append(events: Iterable[Event], *, copy: bool = False) -> None:
    """Append events (`event_new`) to cases' timelines in one statement, in the order given,
    without reading their ids back. Every event of a case is written here.

    Events that share their kind, time and actor (one report's ``reported`` events) go in one
    ``INSERT ... SELECT FROM unnest(...)`` on PostgreSQL; others, or all with ``copy``, with
    ``COPY`` (`rows_insert`: quicker for hundreds of events that each carry their own data, as
    routing's do). Elsewhere both are one ``bulk_create``.
    """
    events = list(events)
    if not events:
        return
    first = events[0]
    shared = (first.kind, first.at, first.actor_type, first.actor_user_id, first.actor_partner_id)
    if (
        copy
        or connection.vendor != "postgresql"
        or any((e.kind, e.at, e.actor_type, e.actor_user_id, e.actor_partner_id) != shared for e in events)
    ):
        rows_insert(events)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} (case_id, kind, at, actor_type, actor_user_id, actor_partner_id, data) "  # noqa: S608
            "SELECT c, %s, %s, %s, %s, %s, d::jsonb FROM unnest(%s::bigint[], %s::text[]) AS t(c, d)",
            [*shared, [e.case_id for e in events], [json.dumps(e.data) for e in events]],
        )


def events_redact(*, event_ids: Sequence[int], data: dict[str, Any]) -> int:
    """Overwrite keys of the ``data`` of some events with the values given (a JSON merge): the one
    change an event may undergo, made by the retention rules (`privacy.retention`) to erase
    personal data and free text from a timeline. The kind, the time and the actor stay, and so
    do the keys not named, which the statistics read. Returns how many events changed."""
    if not event_ids:
        return 0
    patch = json.dumps(data)
    table = Event._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET data = data || %s::jsonb WHERE id = ANY(%s)",  # noqa: S608 - model metadata
                [patch, list(event_ids)],
            )
        else:
            marks = ", ".join(["%s"] * len(event_ids))
            cursor.execute(
                f"UPDATE {table} SET data = json_patch(data, %s) WHERE id IN ({marks})",  # noqa: S608
                [patch, *event_ids],
            )
        changed: int = cursor.rowcount
        return changed
