"""Every change of a notice's state goes through here, checked against `NOTICE_TRANSITIONS`.

The change is one conditional ``UPDATE ... WHERE state IN (the states allowed to move to it)``, so
a sender that lost its claim, or a person acting on a notice that moved meanwhile, changes nothing
and learns it from the count (healthchecks' ``sendalerts``: claim, then go on only if one row
changed). The callers write the events and audit entries that belong with the move, in the same
transaction, and only when the move happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from django.db.models import QuerySet

from routing.models import Notice
from routing.models.notices import NOTICE_TRANSITIONS, NoticeState


class IllegalNoticeTransition(ValueError):
    """A move the transition table does not allow: a programming error, never a race."""


def transition_sources(
    table: Mapping[Any, frozenset[Any]],
    *,
    to: Any,
    expected_from: Iterable[str] | None,
    illegal: Callable[[str], Exception],
) -> list[str]:
    """The states that may move to ``to`` in the transition ``table``: all allowed ones, or those of
    ``expected_from``, each of which must be allowed (else ``illegal(message)`` is raised). Shared
    by notices and their delivery parts."""
    allowed = [state for state, targets in table.items() if to in targets]
    if expected_from is None:
        return [str(s) for s in allowed]
    expected = [type(to)(s) for s in expected_from]
    refused = [str(s) for s in expected if s not in allowed]
    if refused or not expected:
        raise illegal(f"cannot go from {refused or 'nowhere'} to {to}")
    return [str(s) for s in expected]


def notice_sources(*, to: str, expected_from: Iterable[str] | None = None) -> list[str]:
    """The states a notice may be in to move to ``to`` (see `transition_sources`)."""
    return transition_sources(
        NOTICE_TRANSITIONS,
        to=NoticeState(to),
        expected_from=expected_from,
        illegal=lambda why: IllegalNoticeTransition(f"a notice {why}"),
    )


def notices_transition(
    *,
    notices: QuerySet[Notice],
    to: str,
    expected_from: Iterable[str] | None = None,
    reason: str | None = None,
    **changes: Any,
) -> int:
    """Move the notices of ``notices`` that are in an allowed state to ``to``, with ``changes``
    written in the same statement (claim fields, timestamps); ``reason`` becomes ``last_error``.
    Returns how many moved."""
    sources = notice_sources(to=to, expected_from=expected_from)
    if reason is not None:
        changes["last_error"] = reason[:2000]
    rows = notices.filter(state=sources[0]) if len(sources) == 1 else notices.filter(state__in=sources)
    return rows.update(state=to, **changes)


def notice_transition(
    *,
    notice: Notice,
    to: str,
    expected_from: Iterable[str] | None = None,
    claim_token: str | None = None,
    actor: Any = None,
    reason: str | None = None,
    **changes: Any,
) -> bool:
    """Move one notice to ``to`` if it is in an allowed state (and, with ``claim_token``, still
    held by that sender). ``actor``, a staff user, is recorded as the person who handled it.
    Returns whether it moved; the in-memory ``notice`` is left as it was."""
    rows = Notice.objects.filter(pk=notice.pk)
    if claim_token is not None:
        rows = rows.filter(claim_token=claim_token)
    if actor is not None:
        changes["handled_by"] = actor
    return bool(notices_transition(notices=rows, to=to, expected_from=expected_from, reason=reason, **changes))
