"""Routing's subscriptions to what intake and assessment announce, and its audited models
(connected in `routing.apps.RoutingConfig.ready`): neither `reports` nor `accounts` imports
`routing`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from django.utils import timezone

from accounts.models import AuditAction
from accounts.signals import audited_register
from reports.cases.hooks import cases_created, cases_resolution_due, verdict_recorded
from reports.mailfiling import mail_handler_register
from reports.suggestions import rule_source_register
from routing.deadlines.rules import deadlines_start_quietly
from routing.models import DeadlineRule, DeadlineStart, DomainRule, Notice, PartnerHotline, Provider
from routing.notices.hooks import notice_sent
from routing.notices.planning import cases_planning_due, cases_request_planning
from routing.notices.replies import notice_message_file
from routing.rules import rule_suggestions
from routing.tasks import cases_enqueue_resolution, notify_plan_cases


def resolve_cases_when_due(sender: Any, *, case_ids: Sequence[int], **kwargs: Any) -> None:
    cases_enqueue_resolution(case_ids=case_ids)


def plan_notices_after_verdict(sender: Any, *, case_ids: Sequence[int], **kwargs: Any) -> None:
    cases_request_planning(case_ids=case_ids)


def plan_cases_when_due(sender: Any, *, case_ids: Sequence[int], **kwargs: Any) -> None:
    notify_plan_cases.delay(list(case_ids))


def deadlines_after_verdict(sender: Any, *, case_ids: Sequence[int], **kwargs: Any) -> None:
    deadlines_start_quietly(case_ids=case_ids, event=DeadlineStart.VERDICT, at=timezone.now())


def deadlines_after_notice(
    sender: Any, *, notice: Notice, case_ids: Sequence[int], sent_at: datetime, **kwargs: Any
) -> None:
    deadlines_start_quietly(
        case_ids=case_ids,
        event=DeadlineStart.NOTICE,
        at=sent_at,
        notice_kind=notice.kind,
        notice_provider_id=notice.provider_id,
        notice_reference=notice.reference,
    )


def notice_mail_file(message: EmailMessage, *, received_at: datetime | None, message_id: str) -> str | None:
    """A reply or bounce to a notice, filed on it; None for any other message."""
    filed = notice_message_file(message, received_at=received_at, message_id=message_id)
    return None if filed is None else f"{filed.kind} to notice {filed.notice.reference}"


def hooks_connect() -> None:
    cases_created.connect(resolve_cases_when_due, dispatch_uid="routing.resolve_created")
    cases_resolution_due.connect(resolve_cases_when_due, dispatch_uid="routing.resolve_due")
    verdict_recorded.connect(plan_notices_after_verdict, dispatch_uid="routing.plan_after_verdict")
    cases_planning_due.connect(plan_cases_when_due, dispatch_uid="routing.plan_due")
    verdict_recorded.connect(deadlines_after_verdict, dispatch_uid="routing.deadlines_after_verdict")
    notice_sent.connect(deadlines_after_notice, dispatch_uid="routing.deadlines_after_notice")
    rule_source_register(rule_suggestions)
    mail_handler_register(notice_mail_file)
    audited_register(Provider, AuditAction.CONTACT_CHANGED)
    audited_register(PartnerHotline, AuditAction.CONTACT_CHANGED)
    audited_register(DomainRule, AuditAction.RULE_CHANGED)
    audited_register(DeadlineRule, AuditAction.RULE_CHANGED)
