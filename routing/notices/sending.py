"""Sending notices: claim, re-resolve, render, write ``sending``, hand to SMTP, record.

The steps have their own modules: `claims` (the lease), `channels` (the notice rendered once and
delivered part by part on its recipient's channel: batched mail, one X-ARF report per message, a
provider's API, or prepared for a person), `delivery` (SMTP and its failures), `recording`
(``sent`` / ``failed``), `sweep` (``unknown``). This one runs them in order.

`notices_send_due` claims due notices (a conditional update with a lease, so two senders never
hold one notice), re-resolves their cases (a case whose provider changed, or that closed, is
taken out of this message and planned again), renders each message, writes ``sending`` right
before the SMTP attempt and ``sent`` right after it. A temporary failure (the server cannot be
reached, a 4xx answer) puts the notice back in the queue with a growing delay; a permanent one (a
5xx answer to the message) marks it failed and flags the provider's abuse contact. Our own mail
server refusing the connection (its login, say) is an operator's fault: the notices wait, as for a
temporary failure. A notice found in ``sending`` longer than
``SCART_NOTICE_SENDING_TIMEOUT`` belongs to a sender that died mid-attempt: it becomes ``unknown``
and waits for a person, because the message may or may not have left.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from reports.cases.services import Actor, event_append
from reports.models import Case, CaseState, EventKind
from routing.jurisdiction import RoutingContext, police_recipient, route
from routing.models import DeliveryState, Notice, NoticeCase, NoticeDelivery, NoticeKind, NoticeState
from routing.notices.channels import Transports, deliver
from routing.notices.claims import notices_claim, notices_claim_due
from routing.notices.planning import NOTICE_STATES, cases_request_planning, recipient_key
from routing.notices.states import notice_transition
from routing.resolution.cases import cases_resolve
from routing.resolution.dns import DnsOutcome
from routing.resolution.lookups import Lookups

log = logging.getLogger(__name__)

# Cases whose resolution is younger than this are not resolved again right before sending.
RERESOLVE_AFTER = timedelta(minutes=5)


@dataclass
class SendSummary:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    by_hand: int = 0  # prepared for a person to send (the manual channel)
    dropped_cases: int = 0


def notices_send_due(
    *,
    now: datetime | None = None,
    limit: int = 200,
    flush: bool = False,
    reresolve: bool = True,
    notice_ids: Sequence[int] | None = None,
) -> SendSummary:
    """Send the due notices (every queued one with ``flush``), up to ``limit`` of them; with
    ``notice_ids``, only those (a senior's "send now")."""
    now = now or timezone.now()
    summary = SendSummary()
    if notice_ids is not None:
        token, notices = notices_claim(notice_ids, now=now, flush=flush)
    else:
        token, notices = notices_claim_due(now=now, limit=limit, flush=flush)
    summary.claimed = len(notices)
    if not notices:
        return summary
    items: dict[int, list[NoticeCase]] = {n.pk: [] for n in notices}
    # In the order the cases joined: the message lists them so, as the notice page's preview does.
    for row in NoticeCase.objects.filter(notice__in=notices, dropped_at__isnull=True).order_by("pk"):
        items[row.notice_id].append(row)
    case_ids = sorted({i.case_id for rows in items.values() for i in rows})
    elsewhere = _in_other_notices(notices, items)
    if reresolve:
        _reresolve(case_ids, now=now)
    cases = {c.pk: c for c in Case.objects.filter(pk__in=case_ids)}
    context = RoutingContext.load(list(cases.values()))
    routes = {pk: route(case, context) for pk, case in cases.items()}
    replan: set[int] = set()
    told = _told_already(notices)
    with Transports() as transports:
        for notice in notices:
            keep: list[NoticeCase] = []
            for row in items[notice.pk]:
                case = cases.get(row.case_id)
                # A case whose own part went out in an earlier run stays: it was told.
                told_here = (notice.pk, row.case_id) in told
                reason = "" if told_here else _drop_reason(notice, case, routes.get(row.case_id))
                if not reason and row.case_id in elsewhere.get(notice.pk, ()):
                    reason = "already in another notice to this recipient"
                if reason:
                    if _drop(row, notice, reason, token=token, now=now):
                        summary.dropped_cases += 1
                        replan.add(row.case_id)
                else:
                    row.case = case  # type: ignore[assignment]
                    keep.append(row)
            if not keep:
                notice_transition(
                    notice=notice,
                    to=NoticeState.CANCELLED,
                    expected_from=[NoticeState.QUEUED],
                    claim_token=token,
                    reason="no cases left",
                    claimed_until=None,
                )
                summary.cancelled += 1
                continue
            emails = _current_emails(notice, [routes[r.case_id] for r in keep])
            outcome = deliver.notice_deliver(
                notice,
                keep,
                emails,
                token=token,
                transports=transports,
                now=now,
                latest=context.latest,
                providers=context.providers,
            )
            setattr(summary, outcome, getattr(summary, outcome) + 1)
    if replan:
        cases_request_planning(case_ids=sorted(replan))
    return summary


def _told_already(notices: Sequence[Notice]) -> set[tuple[int, int]]:
    """(notice, case) pairs a part that went out in an earlier run told: its own part (one
    message per URL), or a part of the whole notice (a sender that died before recording it)."""
    sent = NoticeDelivery.objects.filter(notice__in=notices, state=DeliveryState.SENT)
    told = set(sent.filter(case__isnull=False).values_list("notice_id", "case_id"))
    whole = set(sent.filter(case__isnull=True).values_list("notice_id", flat=True))
    if whole:
        told |= set(
            NoticeCase.objects.filter(notice_id__in=whole, dropped_at__isnull=True).values_list("notice_id", "case_id")
        )
    return told


def _in_other_notices(notices: Sequence[Notice], items: dict[int, list[NoticeCase]]) -> dict[int, set[int]]:
    """Per notice, its cases that another live notice with the same key already has (a failed
    notice sent again after its cases went to a new address, say): never tell anyone twice.
    One query for the other notices; the ones claimed here are in ``items`` already."""
    by_key: dict[str, list[Notice]] = defaultdict(list)
    for notice in notices:
        by_key[notice.batch_key].append(notice)
    found: dict[int, set[int]] = {n.pk: set() for n in notices}
    ours = {(n.pk, row.case_id) for n in notices for row in items[n.pk]}
    rows = list(
        NoticeCase.objects.filter(
            case_id__in={case_id for _pk, case_id in ours}, dropped_at__isnull=True, notice__batch_key__in=list(by_key)
        )
        .exclude(notice__in=notices)
        .exclude(notice__state__in=(NoticeState.FAILED, NoticeState.CANCELLED))
        .values_list("notice_id", "notice__batch_key", "case_id", "added_at")
    )
    rows += [(n.pk, n.batch_key, row.case_id, row.added_at) for n in notices for row in items[n.pk]]
    for other_id, key, case_id, added_at in rows:
        for notice in by_key[key]:
            if other_id != notice.pk and (notice.pk, case_id) in ours and added_at >= notice.created_at:
                found[notice.pk].add(case_id)
    return found


def _reresolve(case_ids: list[int], *, now: datetime) -> None:
    stale = list(
        Case.objects.filter(pk__in=case_ids, state__in=NOTICE_STATES, unresolvable=False)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__lt=now - RERESOLVE_AFTER))
        .values_list("id", flat=True)
    )
    for start in range(0, len(stale), 500):
        try:
            # force: claim even when not due; cached lookups within their TTL are current answers.
            cases_resolve(case_ids=stale[start : start + 500], force=True, lookups=Lookups(refresh=False))
        except Exception:
            log.exception("re-resolving cases before sending failed; sending on the last resolution")


# Resolution outcomes of a host that has no address any more.
_NO_ADDRESS = (DnsOutcome.NXDOMAIN.value, DnsOutcome.NO_DATA.value)


def _drop_reason(notice: Notice, case: Case | None, decision: Any) -> str:
    """Why this case leaves this notice ("" if it stays), in words for the notice and case pages."""
    reason = _why_dropped(notice, case, decision)
    # Found by the re-resolution just before sending, which re-routed the case: no check ran, so
    # "gone at the last check" or "re-routed: unknown_host" would mislead.
    no_address = case is not None and case.resolution.get("outcome") in _NO_ADDRESS
    if reason and no_address and case is not None and case.state in NOTICE_STATES and notice.kind != NoticeKind.UPDATE:
        return "the host no longer resolves: its name has no address now"
    return reason


def _why_dropped(notice: Notice, case: Case | None, decision: Any) -> str:
    if notice.kind == NoticeKind.UPDATE:
        # News of a removal to the hotline that had the referral: about closed cases by nature.
        return "" if case is not None and case.state == CaseState.REMOVED else "the content is back online"
    if case is None or case.state not in NOTICE_STATES:
        return "the case is closed"
    if case.gone_count and notice.kind != NoticeKind.POLICE:
        return "the content was gone at the last check"
    if notice.kind == NoticeKind.ESCALATION:
        return ""
    if decision is None:
        return "the case has no route"
    keys = {recipient_key(r) for r in decision.recipients if not r.holds}
    own = notice.batch_key.split(":", 2)[-1] if notice.step else notice.batch_key.split(":", 1)[-1]
    if own not in keys:
        held = {recipient_key(r) for r in decision.recipients if r.holds}
        if own in held:
            return "the recipient is on hold for this case"
        return f"re-routed: {decision.rule}"
    return ""


def _drop(row: NoticeCase, notice: Notice, reason: str, *, token: str, now: datetime) -> bool:
    """Take a case out of a notice this sender still holds (a sender whose lease ran out must not
    touch a notice another one has sent meanwhile)."""
    with transaction.atomic():
        held = Notice.objects.select_for_update().filter(pk=notice.pk, claim_token=token, state=NoticeState.QUEUED)
        if not held.exists():
            return False
        NoticeCase.objects.filter(pk=row.pk).update(dropped_at=now, drop_reason=reason[:200])
        event_append(
            case=row.case_id,
            kind=EventKind.NOTICE_DROPPED,
            actor=Actor.system(),
            at=now,
            data={"notice": notice.reference, "reason": reason},
        )
    return True


def _current_emails(notice: Notice, decisions: list[Any]) -> list[str]:
    """The recipient's addresses as they are now (a senior analyst may have corrected them, or
    chosen this notice's recipient by hand: then they stay)."""
    if notice.recipient_fixed:
        return list(notice.emails)
    if notice.kind == NoticeKind.POLICE or notice.recipient_kind == "police":
        return list(police_recipient().emails)
    if notice.kind != NoticeKind.ESCALATION:
        own = notice.batch_key.split(":", 2)[-1] if notice.step else notice.batch_key.split(":", 1)[-1]
        for decision in decisions:
            for r in decision.recipients:
                if recipient_key(r) == own and r.emails:
                    return list(r.emails)
    return list(notice.emails)


def notice_current_emails(notice: Notice, decisions: list[Any]) -> list[str]:
    """The addresses the sender would use now (the preview of a queued notice shows them)."""
    return _current_emails(notice, decisions)


def notice_history(notice: Notice, case_ids: list[int]) -> dict[str, Any]:
    """What a reminder or an escalation says about the notices before it."""
    return deliver.notice_history(notice, case_ids)
