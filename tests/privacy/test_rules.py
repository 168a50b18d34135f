"""Each retention rule fires on its day and touches nothing else: with every other rule off, a run
the day before changes no row of any table; a run the day after changes exactly the columns of that
rule's kind of data (tests/privacy/snapshots.py compares every row of every table concerned)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from accounts.models import AuditAction, AuditEntry
from accounts.services import AuditContext
from privacy.retention import retention_run
from privacy.rules import RULE_OF, RULES, RetentionKind
from privacy.services import retention_setting_change
from privacy.tasks import retention_daily
from tests.privacy.conftest import PRIVATE_URL, TIPSTER
from tests.privacy.snapshots import changes, rows

pytestmark = pytest.mark.django_db

K = RetentionKind
# What a rule must change in the world (at least) and may change (at most).
REQUIRED: dict[str, set[str]] = {
    K.REPORTER_CONTACT: {"reports_report.reporter_email", "reports_report.source"},
    K.REPORT_TEXT: {"reports_report.description", "reports_report.external_ref"},
    K.STAFF_TEXT: {"reports_assessment.notes"},
    K.NOTICE_MESSAGES: {
        "routing_noticemessage.sender",
        "routing_noticemessage.subject",
        "routing_noticemessage.excerpt",
        "routing_noticecase.response_reason",
        "reports_event.data",
    },
    K.CLOSED_CASE_URLS: {"reports_case.canonical_url", "reports_case.original_url", "reports_reportedurl.original_url"},
    K.LOGIN_RECORDS: {"accounts_auditentry.(deleted)", "accounts_auditentry.ip_address"},
    K.AUDIT_RECORDS: {"accounts_auditentry.(deleted)"},
    K.IDEMPOTENCY_KEYS: {"reports_idempotencykey.(deleted)"},
}
ALSO_ALLOWED: dict[str, set[str]] = {
    K.REPORTER_CONTACT: {"reports_report.acknowledgement_error"},
    K.STAFF_TEXT: {"routing_noticecase.dispute_note", "routing_noticecase.drop_reason", "reports_event.data"},
    K.NOTICE_MESSAGES: {"routing_noticemessage.failed_recipients"},
    K.CLOSED_CASE_URLS: {"routing_availabilitycheck.redirect_to", "reports_event.data"},
    K.LOGIN_RECORDS: {"axes_accesslog.(deleted)", "axes_accessattempt.(deleted)"},
}


def _only(kind: str) -> None:
    for rule in RULES:
        retention_setting_change(
            kind=rule.kind, days=rule.default_days, enabled=rule.kind == kind, audit=AuditContext()
        )


@pytest.mark.parametrize("kind", [rule.kind.value for rule in RULES])
def test_each_rule_fires_on_its_day_and_touches_nothing_else(privacy_world, kind):
    _only(kind)
    built = timezone.now()
    days = RULE_OF[kind].default_days
    before = rows()
    with time_machine.travel(built + timedelta(days=days - 1)):
        retention_run()
    assert changes(before, rows()) == set(), "the day before, nothing may change"
    with time_machine.travel(built + timedelta(days=days + 1)):
        result = retention_run()
    changed = changes(before, rows())
    assert REQUIRED[kind] <= changed
    assert changed <= REQUIRED[kind] | ALSO_ALLOWED.get(kind, set())
    assert result.rows > 0 and {s.kind for s in result.steps} == {kind}
    with time_machine.travel(built + timedelta(days=days + 2)):
        assert retention_run().rows == 0, "what is erased is not found again"


def test_a_rule_switched_off_erases_nothing_and_days_changed_by_an_administrator_apply(privacy_world):
    admin = privacy_world.world.users["admin"]
    _only(K.REPORTER_CONTACT)
    retention_setting_change(kind=K.REPORTER_CONTACT, days=10, enabled=True, audit=AuditContext(user=admin))
    built = timezone.now()
    with time_machine.travel(built + timedelta(days=9)):
        assert retention_run().rows == 0
    retention_setting_change(kind=K.REPORTER_CONTACT, days=10, enabled=False, audit=AuditContext(user=admin))
    with time_machine.travel(built + timedelta(days=11)):
        assert retention_run().rows == 0
    retention_setting_change(kind=K.REPORTER_CONTACT, days=10, enabled=True, audit=AuditContext(user=admin))
    with time_machine.travel(built + timedelta(days=11)):
        assert retention_run().rows > 0
    changed = AuditEntry.objects.filter(action=AuditAction.RETENTION_CHANGED, actor=admin).order_by("id")
    assert [e.data["after"] for e in changed] == [
        {"days": 10, "enabled": True},
        {"days": 10, "enabled": False},
        {"days": 10, "enabled": True},
    ]


def test_the_run_records_counts_in_the_audit_trail_never_the_values(privacy_world):
    with time_machine.travel(timezone.now() + timedelta(days=4000)):
        result = retention_run(batch=3)  # small batches: many statements, the same outcome
    entry = AuditEntry.objects.get(action=AuditAction.RETENTION_RUN)
    assert entry.data["rows"] == result.by_rule()
    assert sum(sum(steps.values()) for steps in entry.data["rows"].values()) == result.rows > 0
    text = json.dumps(entry.data) + entry.summary
    for secret in (TIPSTER, "tipster@mail.example", "my neighbour", PRIVATE_URL, "2257", "jane@hosting.example"):
        assert secret.lower() not in text.lower()


def test_a_dry_run_counts_what_a_run_then_changes_and_changes_nothing(privacy_world, capsys):
    later = timezone.now() + timedelta(days=4000)
    before = rows()
    with time_machine.travel(later, tick=False):
        dry = retention_run(dry_run=True)
        call_command("retention", "--dry-run")
    assert changes(before, rows()) == set()
    assert not AuditEntry.objects.filter(action=AuditAction.RETENTION_RUN).exists()
    out = capsys.readouterr().out
    assert "closed_case_urls (365 days)" in out and "reports_report.reporter_email" in out and "would go" in out
    with time_machine.travel(later, tick=False):
        real = retention_run()
    # Each step counts on its own; only the audit rule's count also holds the logins the login
    # rule, which runs first, deletes.
    counted, done = dry.by_rule(), real.by_rule()
    assert counted.pop("audit_records")["accounts_auditentry"] >= done.pop("audit_records")["accounts_auditentry"]
    assert counted == done


def test_the_daily_task_is_scheduled_and_runs_the_rules(privacy_world):
    entry = settings.CELERY_BEAT_SCHEDULE["retention-daily"]
    assert entry["task"] == "privacy.tasks.retention_daily"
    with time_machine.travel(timezone.now() + timedelta(days=400)):
        assert retention_daily() > 0
    assert AuditEntry.objects.filter(action=AuditAction.RETENTION_RUN).count() == 1
