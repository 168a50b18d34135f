"""Which deadline rule a case falls under, and setting its deadline when the starting event happens.

The most specific active rule wins: a rule for the case's provider, then one for the kind of the
notice, then one for the hosting country, then the default (no scope). Among rules of one scope
the shortest duration wins (the strictest obligation). At the verdict the notice's kind is not
known yet, so rules for a kind of notice cannot apply; at the first notice they can, and a more
specific rule then replaces a deadline set at the verdict (unless it already passed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from reports.cases.services import Actor, event_new, events_append
from reports.models import Case, CaseState, EventKind
from routing.models import Deadline, DeadlineRule, DeadlineScope, DeadlineStart, NoticeKind
from scart.times import iso

log = logging.getLogger(__name__)

# Most specific first: the order in which rules win.
SCOPE_ORDER = (DeadlineScope.PROVIDER, DeadlineScope.NOTICE_KIND, DeadlineScope.COUNTRY, DeadlineScope.DEFAULT)

# The notices that open a case's notice cycle (a reminder or an escalation follows one of them).
FIRST_NOTICE_KINDS = frozenset({NoticeKind.PROVIDER, NoticeKind.REFERRAL, NoticeKind.POLICE})


@dataclass(frozen=True)
class DeadlineContext:
    """What a rule may match: the case's hosting country, its providers (hosting, CDN, origin, and
    the one the notice went to) and the kind of the notice ("" at the verdict)."""

    country: str
    provider_ids: frozenset[int]
    notice_kind: str = ""


def rule_matches(rule: DeadlineRule, context: DeadlineContext) -> bool:
    scope = rule.scope
    if scope == DeadlineScope.PROVIDER:
        return rule.provider_id in context.provider_ids
    if scope == DeadlineScope.NOTICE_KIND:
        return bool(context.notice_kind) and rule.notice_kind == context.notice_kind
    if scope == DeadlineScope.COUNTRY:
        return bool(context.country) and rule.country.upper() == context.country.upper()
    return True


def rule_rank(rule: DeadlineRule) -> int:
    return SCOPE_ORDER.index(rule.scope)


def rule_pick(rules: Iterable[DeadlineRule], context: DeadlineContext) -> DeadlineRule | None:
    """The rule that sets the deadline in ``context``, or None."""
    matching = [r for r in rules if r.active and rule_matches(r, context)]
    return min(matching, key=lambda r: (rule_rank(r), r.duration, r.pk), default=None)


def case_context(case: Case, *, notice_kind: str = "", notice_provider_id: int | None = None) -> DeadlineContext:
    providers = {p for p in (case.provider_id, case.cdn_id, case.origin_provider_id, notice_provider_id) if p}
    return DeadlineContext(country=case.hosting_country, provider_ids=frozenset(providers), notice_kind=notice_kind)


def deadlines_start(
    *,
    case_ids: Sequence[int],
    event: DeadlineStart,
    at: datetime,
    notice_kind: str = "",
    notice_provider_id: int | None = None,
    notice_reference: str = "",
    recorded_at: datetime | None = None,
) -> list[Deadline]:
    """Set the deadline of each tracked case whose rule starts with ``event`` (the verdict, or a
    first notice sent at ``at``). Idempotent: a case keeps the deadline it has in this notice
    cycle, unless a more specific rule applies now and the deadline has not passed yet. Writes a
    ``deadline_set`` event for each deadline set, at ``recorded_at`` when given (a backfill
    writes its events when it runs, marked ``backfill``, not when the starting event happened)."""
    if event == DeadlineStart.NOTICE and notice_kind not in FIRST_NOTICE_KINDS:
        return []
    rules = list(DeadlineRule.objects.filter(active=True))
    if not rules or not case_ids:
        return []
    cases = list(Case.objects.filter(pk__in=case_ids, state__in=CaseState.TRACKED))
    existing = {
        (d.case_id, d.cycle_started_at): d
        for d in Deadline.objects.filter(case_id__in=[c.pk for c in cases]).select_related("rule")
    }
    written: list[Deadline] = []
    for case in cases:
        context = case_context(case, notice_kind=notice_kind, notice_provider_id=notice_provider_id)
        rule = rule_pick(rules, context)
        if rule is None:
            continue
        if rule.starts_at == DeadlineStart.VERDICT:
            started = case.assessed_at or at
        elif event == DeadlineStart.NOTICE:
            started = at
        else:
            continue  # the rule counts from the first notice: set when it goes out
        cycle = case.cycle_started_at or started
        current = existing.get((case.pk, cycle))
        if current is not None:
            if current.breached_at is not None or current.closed_at is not None or current.rule_id == rule.pk:
                continue
            if current.rule is not None and rule_rank(rule) >= rule_rank(current.rule):
                continue  # the deadline's rule is as specific: the first starting event decided
            if current.starts_at == DeadlineStart.NOTICE and rule.starts_at == DeadlineStart.NOTICE:
                started = current.started_at  # measured from the first notice, not this one
        deadline = current or Deadline(case=case, cycle_started_at=cycle)
        deadline.rule = rule
        deadline.name = rule.name
        deadline.starts_at = rule.starts_at
        deadline.started_at = started
        deadline.due_at = started + rule.duration
        if event == DeadlineStart.NOTICE and not deadline.notice_reference:
            deadline.notice_reference = notice_reference
        written.append(deadline)
    if not written:
        return []
    with transaction.atomic():
        for deadline in written:
            deadline.save()
        events_append(
            event_new(
                case=d.case_id,
                kind=EventKind.DEADLINE_SET,
                actor=Actor.system(),
                at=recorded_at or at,
                data={
                    "deadline": d.pk,
                    "name": d.name,
                    "due_at": iso(d.due_at),
                    "starts_at": d.starts_at,
                    **({"notice": d.notice_reference} if d.notice_reference else {}),
                    **({"backfill": True} if recorded_at is not None else {}),
                },
            )
            for d in written
        )
    return written


def deadlines_start_quietly(**kwargs: object) -> None:
    """`deadlines_start` from a hook inside another stage's transaction: a failure here must not
    undo a verdict or the record of a notice that went out, so it works in a savepoint and logs."""
    try:
        with transaction.atomic():
            deadlines_start(**kwargs)  # type: ignore[arg-type]
    except Exception:
        log.exception("setting deadlines failed (%s)", kwargs)
