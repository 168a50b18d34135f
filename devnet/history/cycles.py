"""After a verdict of illegal: routing, then one notice cycle (two when the content comes back)
that ties the notices, the checks and the removal of `devnet.history.removal` together."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from devnet.history.assessment import verdict_time
from devnet.history.notices import batch_notice, ladder_plans, notice_plan, windowed_plan
from devnet.history.records import CaseInfo, NoticeInfo, NoticePlan, SentData
from devnet.history.removal import check_rows, close_removed, goes, interval
from devnet.history.state import SeedState
from devnet.history.tables import NOTICE_CASES
from devnet.history.timeline import event, transition_data
from reports.models import ActorType, CaseState, EventKind
from routing.models import CheckOutcome, NoticeKind


def illegal(state: SeedState, case: CaseInfo, verdict_at: datetime) -> None:
    """Routing, notices, checks, removal, and perhaps reappearance with a second cycle."""
    p = case.site.provider
    case.cycle_started_at = case.last_seen_online_at = verdict_at
    event(
        state,
        case,
        verdict_at,
        EventKind.ROUTED,
        ActorType.SYSTEM,
        None,
        None,
        p.routed_police_first if case.police_first else p.routed,
    )
    start, urgent, cycles = verdict_at, False, 0
    while start <= state.anchor and cycles < 2:
        cycles += 1
        back = _cycle(state, case, start, urgent=urgent or case.urgent, first=cycles == 1)
        if back is None:
            return
        start, urgent = back, True


def _cycle(state: SeedState, case: CaseInfo, start: datetime, *, urgent: bool, first: bool) -> datetime | None:
    """One notice cycle from ``start`` (the verdict, or the content's return). Returns when the
    content came back, or None."""
    rng = state.rng
    p = case.site.provider
    plans: list[NoticePlan] = []
    if p.route == "elsewhere" or case.police_first:
        plans.append(notice_plan(NoticeKind.POLICE, "police:police", start, who="police", urgent=urgent))
    hosting_at = start
    if case.police_first and first:
        # A senior analyst releases the notices police first held back (`police_hold_release`).
        hosting_at = verdict_time(state, start)
    at_once = urgent or hosting_at != start
    if p.route == "partner" and p.hotline is not None and not case.police_first:
        key = f"referral:hotline:{p.hotline.id}"
        plans.append(
            windowed_plan(state, NoticeKind.REFERRAL, key, hosting_at, who=p.country, at_once=at_once, urgent=urgent)
        )
    else:
        key = f"provider:provider:{p.id}"
        plans.append(
            windowed_plan(state, NoticeKind.PROVIDER, key, hosting_at, who=p.name, at_once=at_once, urgent=urgent)
        )
    first_sent = plans[-1].sent_at
    style, gone_at = goes(state, p, start, first_sent, first=first)
    first_check = start + (timedelta(seconds=rng.uniform(40, 240)) if first else state.check_fast)
    if plans[0].kind == NoticeKind.POLICE:
        # The police report goes out at once; the demo checks after it, so that content found
        # gone at the first check counts as removed after notice, not before a notice that
        # left in the same minute.
        first_check = max(first_check, plans[0].sent_at + timedelta(seconds=rng.uniform(5, 60)))
    checks: list[tuple[datetime, str]] = []
    responded: datetime | None = None
    runs: list[datetime] = []  # the gone or unreachable checks, the last of which closes the case
    last_online = start
    if gone_at is not None:
        g1 = max(first_check, gone_at + rng.uniform(0, 1) * interval(state, gone_at, start))
        if style == "gone" and p.responds and p.route != "partner" and gone_at >= first_sent:
            responded = gone_at + timedelta(minutes=rng.lognormvariate(math.log(20), 1.0))
            g1 = max(gone_at, min(g1, responded + timedelta(seconds=rng.uniform(20, 90))))
        if g1 > first_check:
            last_online = max(first_check, g1 - interval(state, g1, start) * rng.uniform(0.9, 1.1))
        runs.append(g1)
        if style == "gone":
            for _ in range(state.removal_checks - 1):
                runs.append(runs[-1] + state.spacing + timedelta(seconds=rng.uniform(5, 60)))
        else:
            close = g1 + state.unreachable_close
            runs.append(close + rng.uniform(0, 1) * interval(state, close, start))
    closed = runs[-1] if runs else None
    if hosting_at != start and (closed is None or hosting_at < closed):
        data = f'{{"assessment": {case.assessment}, "hold": "police_first"}}'
        event(state, case, hosting_at, EventKind.RELEASED, ActorType.USER, rng.choice(state.seniors), None, data)
        event(state, case, hosting_at, EventKind.ROUTED, ActorType.SYSTEM, None, None, p.routed_released)
    # Which planned notices the case is in: none the sender takes after a gone check (but
    # the police hear all the same), none after the case closed.
    cutoff_hosting = runs[0] if runs and style == "gone" else closed
    sent: list[NoticePlan] = [
        plan
        for plan in plans
        if (closed is None or plan.sent_at < closed)
        and (plan.kind == NoticeKind.POLICE or cutoff_hosting is None or plan.sent_at < cutoff_hosting)
    ]
    ladder = [plan for plan in sent if plan.hosting]
    if ladder:
        sent.extend(ladder_plans(state, p, ladder[0], cutoff_hosting))
    sent = [plan for plan in sent if plan.sent_at <= state.anchor]
    sent.sort(key=lambda plan: plan.sent_at)
    notified = False
    provider_notice: NoticeInfo | None = None
    for plan in sent:
        notice = batch_notice(state, plan, p)
        if plan.kind == NoticeKind.PROVIDER and provider_notice is None:
            provider_notice = notice
        response = responded if notice is provider_notice and responded and responded <= state.anchor else None
        state.rows[NOTICE_CASES].append(
            (notice.id, case.id, plan.added_at, "", "removed" if response else "", "", response, "", "")
        )
        event(state, case, plan.sent_at, EventKind.NOTICE_SENT, ActorType.SYSTEM, None, None, SentData(notice))
        if plan.kind in (NoticeKind.PROVIDER, NoticeKind.REFERRAL, NoticeKind.POLICE):
            case.referred = case.referred or plan.kind == NoticeKind.REFERRAL
        if not notified and plan.kind != NoticeKind.UPDATE:
            notified = True
            moved = {"from": "illegal", "to": "notified", "notice": notice}
            transition_data(state, case, plan.sent_at, CaseState.NOTIFIED, moved)
    if responded is not None and provider_notice is not None and responded <= state.anchor:
        response_data = {
            "notice": provider_notice,
            "recipient": provider_notice.recipient_name,
            "response": "removed",
            "reason": "",
            "previous": "",
            "via": "notice link",
        }
        event(state, case, responded, EventKind.PROVIDER_RESPONDED, ActorType.SYSTEM, None, None, response_data)
    # The checks, up to the anchor: the last online one, and the run of gone or unreachable ones.
    seen = [at for at in runs if at <= state.anchor]
    if not seen and state.anchor > first_check:
        # Online at the anchor: its latest check.
        every = interval(state, state.anchor, start)
        last_online = max(first_check, state.anchor - every * rng.uniform(0, 1))
    elif not seen:
        last_online = start
    if last_online > start:
        checks.append((last_online, CheckOutcome.ONLINE))
    outcome = CheckOutcome.GONE if style == "gone" else CheckOutcome.UNREACHABLE
    checks.extend((at, outcome) for at in seen)
    if closed is None or closed > state.anchor:
        if seen and style == "gone":
            case.gone_since, case.gone_count, case.last_gone_at = seen[0], len(seen), seen[-1]
        elif seen:
            case.unreachable_since = seen[0]
        case.last_seen_online_at = last_online
        check_rows(state, case, checks)
        return None
    return close_removed(
        state,
        case,
        p,
        runs=runs,
        style=style,
        last_online=last_online,
        sent=bool(sent),
        notified=notified,
        checks=checks,
        first=first,
    )
