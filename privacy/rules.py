"""The retention rules: one per kind of data, each with its documented default (docs/data-protection.md).

A rule says how many days a kind of data is kept, counted from a moment of its own (a report's
arrival, a case's closing...). An administrator changes the days, or switches a rule off, on the
retention page (`RetentionSetting`); a rule nobody changed keeps its default. What each rule erases,
and how, is `privacy.retention`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class RetentionKind(models.TextChoices):
    REPORTER_CONTACT = "reporter_contact", _("Reporter contact data")
    REPORT_TEXT = "report_text", _("Report descriptions and external references")
    STAFF_TEXT = "staff_text", _("Free text written by staff")
    NOTICE_MESSAGES = "notice_messages", _("Replies and responses to notices")
    CLOSED_CASE_URLS = "closed_case_urls", _("URL text of closed cases")
    LOGIN_RECORDS = "login_records", _("Login records and staff addresses")
    AUDIT_RECORDS = "audit_records", _("Audit trail")
    IDEMPOTENCY_KEYS = "idempotency_keys", _("API idempotency keys")


@dataclass(frozen=True)
class Rule:
    kind: RetentionKind
    default_days: int
    # What is erased, where it lives, and from which moment the days count: the page shows them.
    what: Any
    where: str
    counted_from: Any


RULES: tuple[Rule, ...] = (
    Rule(
        RetentionKind.REPORTER_CONTACT,
        90,
        _("The reporter's e-mail address (web form, API), the mailbox sender, a refused acknowledgement's error."),
        "reports_report.reporter_email, source (web form, mailbox), acknowledgement_error",
        _("the report's arrival"),
    ),
    Rule(
        RetentionKind.REPORT_TEXT,
        365,
        _(
            "What a reporter or partner wrote about a report; external references (and mailbox "
            "Message-IDs) are replaced by their SHA-256."
        ),
        "reports_report.description, external_ref",
        _("the report's arrival"),
    ),
    Rule(
        RetentionKind.STAFF_TEXT,
        730,
        _("Analysts' notes on verdicts, notes on disputes, reasons for taking a case out of a notice."),
        "reports_assessment.notes, routing_noticecase.dispute_note and drop_reason, "
        "reports_event.data (note, reason of dropped cases)",
        _("when it was written, once the case is closed"),
    ),
    Rule(
        RetentionKind.NOTICE_MESSAGES,
        365,
        _(
            "Of replies and bounces to notices: sender, subject, excerpt, failed recipients; a "
            "provider's reason given through the notice link."
        ),
        "routing_noticemessage, routing_noticecase.response_reason, reports_event.data (sender, subject, reason)",
        _("the message's arrival, the provider's response"),
    ),
    Rule(
        RetentionKind.CLOSED_CASE_URLS,
        365,
        _(
            "The URL text of a closed case, replaced by the SHA-256 of its canonical form: a URL "
            "reported again is still found as the same case."
        ),
        "reports_case.canonical_url, original_url; reports_reportedurl.original_url; "
        "routing_availabilitycheck.redirect_to; reports_event.data (target of a move)",
        _("the case's closing and its last report, once no check is left to make"),
    ),
    Rule(
        RetentionKind.LOGIN_RECORDS,
        180,
        _(
            "Logins, logouts and failed attempts in the audit trail, the login log, expired "
            "sessions, and the staff member's address on every audit entry."
        ),
        "accounts_auditentry (login actions; ip_address), axes_accesslog, axes_accessattempt, django_session",
        _("the login or the entry"),
    ),
    Rule(
        RetentionKind.AUDIT_RECORDS,
        1095,
        _("Every audit entry (who did what, with its details)."),
        "accounts_auditentry",
        _("the entry"),
    ),
    Rule(
        RetentionKind.IDEMPOTENCY_KEYS,
        1,
        _("A partner's Idempotency-Key with the first response (URLs included), replayed on a retry."),
        "reports_idempotencykey",
        _("the first request"),
    ),
)
RULE_OF: dict[str, Rule] = {rule.kind.value: rule for rule in RULES}


@dataclass(frozen=True)
class CurrentRule:
    """A rule as it applies now: the administrator's days, or the default."""

    rule: Rule
    days: int
    enabled: bool
    changed_at: datetime | None = None
    changed_by: str = ""

    @property
    def kind(self) -> str:
        return self.rule.kind.value

    @property
    def label(self) -> Any:
        return self.rule.kind.label

    @property
    def is_default(self) -> bool:
        return self.days == self.rule.default_days and self.enabled


def rules_current() -> list[CurrentRule]:
    """Every rule, in the order of `RULES`, with what an administrator set."""
    # The model imports this module for its choices: loaded here, once the apps are ready.
    from privacy.models import RetentionSetting

    changed = {s.kind: s for s in RetentionSetting.objects.select_related("changed_by")}
    current = []
    for rule in RULES:
        setting = changed.get(rule.kind.value)
        if setting is None:
            current.append(CurrentRule(rule, rule.default_days, True))
        else:
            who = setting.changed_by.get_username() if setting.changed_by else ""
            current.append(CurrentRule(rule, setting.days, setting.enabled, setting.changed_at, who))
    return current
