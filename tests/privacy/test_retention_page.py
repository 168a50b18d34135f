"""The retention page: every rule on one page for senior analysts, changed by administrators only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import AuditAction, AuditEntry
from privacy.models import RetentionSetting
from privacy.retention import retention_run
from privacy.rules import RULES
from tests.conftest import staff_client

pytestmark = pytest.mark.django_db


def _form(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {}
    for rule in RULES:
        data[f"{rule.kind}-days"] = rule.default_days
        data[f"{rule.kind}-enabled"] = "on"
    data.update(changes)
    return data


def test_a_senior_sees_every_rule_with_its_default_and_the_last_run():
    retention_run()
    client = staff_client("sen", "senior")
    page = client.get(reverse("privacy-retention")).content.decode()
    for rule in RULES:
        assert str(rule.kind.label).replace("'", "&#x27;") in page
    assert "Last run: 0 rows" in page
    assert 'type="number"' not in page and "An administrator changes the rules." in page
    assert client.post(reverse("privacy-retention"), _form()).status_code == 403
    assert reverse("privacy-retention") in client.get(reverse("workspace-queue")).content.decode()


def test_an_administrator_changes_days_and_switches_a_rule_off_audited():
    client = staff_client("adm", "admin")
    response = client.post(
        reverse("privacy-retention"), _form(**{"reporter_contact-days": 30, "audit_records-enabled": ""})
    )
    assert response.status_code == 302
    assert {(s.kind, s.days, s.enabled) for s in RetentionSetting.objects.all()} == {
        ("reporter_contact", 30, True),
        ("audit_records", 1095, False),
    }
    assert AuditEntry.objects.filter(action=AuditAction.RETENTION_CHANGED).count() == 2
    bad = client.post(reverse("privacy-retention"), _form(**{"reporter_contact-days": 0}))
    assert bad.status_code == 200 and "whole number from 1 to 36500" in bad.content.decode()
