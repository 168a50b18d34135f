"""The parts of a notice (`NoticeDelivery`): made once per part, and every change of a part's
state through `delivery_transition`, checked against `DELIVERY_TRANSITIONS`.

As for notices (`routing.notices.states`), a change is one conditional ``UPDATE ... WHERE state IN
(the states allowed to move to it)``: a sender that finds the part moved meanwhile changes nothing
and learns it from the count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import QuerySet

from routing.models import DELIVERY_TRANSITIONS, DeliveryState, Notice, NoticeDelivery
from routing.notices.channels.base import Part
from routing.notices.states import transition_sources
from scart.mail import new_message_id


class IllegalDeliveryTransition(ValueError):
    """A move the table does not allow: a programming error, never a race."""


def delivery_sources(*, to: str, expected_from: Iterable[str] | None = None) -> list[str]:
    """The states a part may be in to move to ``to`` (see `transition_sources`)."""
    return transition_sources(
        DELIVERY_TRANSITIONS,
        to=DeliveryState(to),
        expected_from=expected_from,
        illegal=lambda why: IllegalDeliveryTransition(f"a delivery part {why}"),
    )


def deliveries_transition(
    *,
    deliveries: QuerySet[NoticeDelivery],
    to: str,
    expected_from: Iterable[str] | None = None,
    reason: str | None = None,
    **changes: Any,
) -> int:
    """Move the parts of ``deliveries`` that are in an allowed state to ``to``, with ``changes``
    in the same statement; ``reason`` becomes ``last_error``. Returns how many moved."""
    sources = delivery_sources(to=to, expected_from=expected_from)
    if reason is not None:
        changes["last_error"] = reason[:2000]
    return deliveries.filter(state__in=sources).update(state=to, **changes)


def delivery_transition(
    *,
    delivery: NoticeDelivery,
    to: str,
    expected_from: Iterable[str] | None = None,
    reason: str | None = None,
    **changes: Any,
) -> bool:
    """Move one part to ``to`` if it is in an allowed state; returns whether it moved. The
    in-memory row is updated to match when it did."""
    moved = bool(
        deliveries_transition(
            deliveries=NoticeDelivery.objects.filter(pk=delivery.pk),
            to=to,
            expected_from=expected_from,
            reason=reason,
            **changes,
        )
    )
    if moved:
        delivery.state = to
        if reason is not None:
            delivery.last_error = reason[:2000]
        for name, value in changes.items():
            setattr(delivery, name, value)
    return moved


def notice_parts(notice: Notice, parts: Sequence[Part], *, channel: str) -> list[NoticeDelivery]:
    """The rows of ``parts``, made where missing (each with its Message-ID, given once: the first
    part keeps a Message-ID the notice was sent with before, so a resend is recognised), in the
    parts' order. Rows of parts the notice no longer has (a case dropped since) are left as they
    are and not returned."""
    existing = {d.part_key: d for d in NoticeDelivery.objects.filter(notice=notice)}
    missing = [
        NoticeDelivery(
            notice=notice,
            case_id=part.case_id,
            channel=channel,
            part_key=part.key,
            position=part.position,
            message_id=(notice.message_id if n == 0 and notice.message_id and not existing else "")
            or new_message_id(kind="notice"),
        )
        for n, part in enumerate(parts)
        if part.key not in existing
    ]
    if missing:
        NoticeDelivery.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {d.part_key: d for d in NoticeDelivery.objects.filter(notice=notice)}
    return [existing[part.key] for part in parts]


def notice_parts_reopen(notice: Notice) -> int:
    """A person sends the notice again: its parts that did not go (unknown, failed, waiting by
    hand) are to be tried again; the ones that went stay sent. Returns how many reopened."""
    return deliveries_transition(
        deliveries=NoticeDelivery.objects.filter(notice=notice),
        to=DeliveryState.PENDING,
        expected_from=[DeliveryState.UNKNOWN, DeliveryState.FAILED, DeliveryState.BY_HAND],
        sending_since=None,
    )


def notice_parts_confirm(notice: Notice, *, at: Any) -> bool:
    """A person confirms the notice went (after the mail log, or sending it by hand): its parts in
    doubt or waiting by hand are sent as of ``at``. Returns whether parts that were never tried
    remain (a sender died mid-part with others still to go: the notice is queued for them)."""
    deliveries_transition(
        deliveries=NoticeDelivery.objects.filter(notice=notice),
        to=DeliveryState.SENT,
        expected_from=[DeliveryState.UNKNOWN, DeliveryState.BY_HAND],
        reason="",
        sent_at=at,
        sending_since=None,
    )
    return NoticeDelivery.objects.filter(notice=notice, state=DeliveryState.PENDING).exists()
