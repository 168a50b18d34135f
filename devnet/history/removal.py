"""How illegal content goes: when (as fast as its provider usually is, or never), the
availability checks that saw it, the case closing as removed, and the checks after that which
may see it come back (`routing.checks.tracking`)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from devnet.history.notices import batch_notice, notice_plan
from devnet.history.records import CaseInfo, ProviderInfo, SentData
from devnet.history.state import SeedState
from devnet.history.tables import CHECKS, NOTICE_CASES
from devnet.history.timeline import event, transition_data
from reports.models import ActorType, CaseState, EventKind, RemovalKind
from routing.models import CheckOutcome, NoticeKind
from scart.times import iso


def interval(state: SeedState, at: datetime, start: datetime) -> timedelta:
    """The time between two checks of a case online: short at first, longer after some days."""
    return state.check_fast if at - start <= state.slow_after else state.check_slow


def goes(
    state: SeedState, p: ProviderInfo, start: datetime, notice_at: datetime, *, first: bool
) -> tuple[str, datetime | None]:
    """How and when the content goes: ``gone`` (or ``unreachable``, 1 in 20) some time after the
    first notice, as fast as its provider usually is (a long tail, slower abroad, faster the
    second time), already before any notice (1 in 20 first cycles), or never (None)."""
    rng = state.rng
    style = "unreachable" if rng.random() < 0.05 else "gone"
    never = p.never * (2 if p.route == "elsewhere" else 1) if first else 0.1
    if first and rng.random() < 0.05:
        return style, start + timedelta(seconds=rng.uniform(0, 240))
    if rng.random() < never:
        return style, None
    hours = p.speed_hours * rng.lognormvariate(0, 0.7)
    if p.route == "partner":
        hours += rng.lognormvariate(math.log(12), 0.6)  # the partner hotline passes it on
    elif p.route == "elsewhere":
        hours *= 1.6
    return style, notice_at + timedelta(hours=hours * (1 if first else 0.5))


def close_removed(
    state: SeedState,
    case: CaseInfo,
    p: ProviderInfo,
    *,
    runs: list[datetime],
    style: str,
    last_online: datetime,
    sent: bool,
    notified: bool,
    checks: list[tuple[datetime, str]],
    first: bool,
) -> datetime | None:
    """The case closes as removed at the last check of ``runs`` (`case_close_removed`); then
    the checks that look for the content's return. Returns when it came back, or None."""
    rng = state.rng
    closed = runs[-1]
    kind = RemovalKind.UNREACHABLE if style == "unreachable" else RemovalKind.GONE
    if style == "gone" and not sent:
        kind = RemovalKind.BEFORE_NOTICE  # no notice of this cycle went out (`_gone_kind`)
    closing = {"from": "notified" if notified else "illegal", "to": "removed", "removal_kind": kind}
    transition_data(state, case, closed, CaseState.REMOVED, closing)
    removed = {
        "removal_kind": kind,
        "removed_at": iso(runs[0]),
        "last_seen_online_at": iso(last_online),
    }
    event(state, case, closed, EventKind.REMOVED, ActorType.SYSTEM, None, None, removed)
    case.removed_at, case.removal_kind, case.last_seen_online_at = runs[0], kind, last_online
    case.gone_since = case.last_gone_at = case.unreachable_since = None
    case.gone_count = 0
    if case.referred and p.hotline is not None:
        # The partner hotline hears that the content is gone (`_tell_referral_hotline`).
        update = notice_plan(NoticeKind.UPDATE, f"update:hotline:{p.hotline.id}", closed, who=p.country)
        if update.sent_at <= state.anchor:
            notice = batch_notice(state, update, p)
            state.rows[NOTICE_CASES].append((notice.id, case.id, closed, "", "", "", None, "", ""))
            event(state, case, update.sent_at, EventKind.NOTICE_SENT, ActorType.SYSTEM, None, None, SentData(notice))
    # Checks after closing, to see whether it comes back (`_closed_case_checked`).
    left = len(state.reappearance_days)
    back: datetime | None = None
    for n, days in enumerate(state.reappearance_days):
        at = closed + timedelta(days=days, seconds=rng.uniform(5, 90))
        if at > state.anchor:
            break
        if first and rng.random() < (0.015, 0.01, 0.005)[min(n, 2)]:
            back = at
            checks.append((at, CheckOutcome.ONLINE))
            break
        checks.append((at, CheckOutcome.GONE))
        left -= 1
    case.reappearance_checks = left
    check_rows(state, case, checks)
    if back is None:
        return None
    transition_data(state, case, back, CaseState.ILLEGAL, {"from": "removed", "to": "illegal", "reason": "reappeared"})
    event(state, case, back, EventKind.REAPPEARED, ActorType.SYSTEM, None, None, {"removed_at": iso(runs[0])})
    case.cycle_started_at = case.last_seen_online_at = back
    case.removed_at, case.removal_kind, case.reappearance_checks, case.urgent = None, "", 0, True
    return back


def check_rows(state: SeedState, case: CaseInfo, checks: list[tuple[datetime, str]]) -> None:
    """The rows of the checks that decided something, with a plausible status and duration."""
    rng = state.rng
    rows = state.rows[CHECKS]
    for at, outcome in checks:
        if outcome == CheckOutcome.ONLINE:
            rows.append((case.id, at, outcome, 200, case.site.ip, rng.randrange(80, 900), "", ""))
        elif outcome == CheckOutcome.GONE:
            status = 404 if rng.random() < 0.8 else 410
            rows.append((case.id, at, outcome, status, case.site.ip, rng.randrange(60, 600), "", ""))
        else:
            rows.append((case.id, at, outcome, None, case.site.ip, 15_000, "", "connection timed out"))
