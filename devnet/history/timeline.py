"""A case's timeline rows: its events and state changes, kept on the case until it is complete
(nothing after the anchor), then its ``Case`` row and its events, in order of time."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from devnet.history.names import registrable_domain
from devnet.history.records import CaseInfo
from devnet.history.state import SeedState
from devnet.history.tables import CASES, EVENTS
from reports.models import ActorType, EventKind


def event(
    state: SeedState,
    case: CaseInfo,
    at: datetime,
    kind: str,
    actor_type: str,
    user: int | None,
    partner: int | None,
    data: Any,
) -> None:
    if at <= state.anchor:
        case.events.append((at, kind, actor_type, user, partner, data))


def transition(
    state: SeedState,
    case: CaseInfo,
    at: datetime,
    old: str,
    new: str,
    actor_type: str,
    user: int | None,
    assessment: int | None = None,
) -> None:
    """A state change and its event (`reports.cases.services.case_transition`)."""
    if at > state.anchor:
        return
    data = f'{{"from": "{old}", "to": "{new}"' + (f', "assessment": {assessment}}}' if assessment else "}")
    case.events.append((at, EventKind.STATE_CHANGED, actor_type, user, None, data))
    case.state, case.state_changed_at = new, at


def transition_data(state: SeedState, case: CaseInfo, at: datetime, new: str, data: dict[str, Any]) -> None:
    """A state change by the system whose event carries more than the two states."""
    if at > state.anchor:
        return
    case.events.append((at, EventKind.STATE_CHANGED, ActorType.SYSTEM, None, None, data))
    case.state, case.state_changed_at = new, at


def case_row(state: SeedState, case: CaseInfo) -> None:
    """The finished case: its events in order of time, its row as of the anchor, its state counted."""
    site = case.site
    events = state.rows[EVENTS]
    case.events.sort(key=lambda e: e[0])
    events.extend(
        (case.id, kind, at, actor, user, partner, data) for at, kind, actor, user, partner, data in case.events
    )
    state.rows[CASES].append(
        (
            case.id,
            hashlib.sha256(case.url.encode()).hexdigest(),
            case.url,
            case.url,
            "https",
            site.host,
            registrable_domain(site.host),
            False,
            False,
            False,
            case.state,
            case.state_changed_at,
            case.first_reported_at,
            case.last_reported_at,
            case.report_count,
            0,
            site.resolution,
            case.resolved_at,
            site.provider.id,
            site.provider.country,
            site.provider.asn,
            "high",
            False,
            case.verdict,
            case.assessed_at,
            case.urgent,
            case.last_seen_online_at,
            case.gone_since,
            case.gone_count,
            case.last_gone_at,
            case.unreachable_since,
            case.removed_at,
            case.removal_kind,
            case.reappearance_checks,
            case.cycle_started_at,
        )
    )
    state.summary.states[case.state] = state.summary.states.get(case.state, 0) + 1
