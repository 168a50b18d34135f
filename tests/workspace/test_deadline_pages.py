"""The deadline pages: rules for seniors only (each change audited), the worklist for every
analyst with its filters, the timer on the case page, evidence packs for seniors only (audited)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEntry
from reports.assessment import Classification, case_assess
from reports.models import Case
from routing.deadlines.escalation import deadlines_sweep
from routing.models import DeadlineRule, Provider
from tests import factories
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


def login(role: str) -> Client:
    return staff_login(Client(), factories.staff_user(f"user-{role}", role))


def breached_case() -> Case:
    """A case under a one-hour rule from the verdict, two hours later (the sweep has run)."""
    provider = Provider.objects.create(name="Slow Hosting", abuse_emails=["abuse@slow.example"], country="NL")
    DeadlineRule.objects.create(name="Removal order (1 h)", hours=1, starts_at="verdict", country="NL")
    case = factories.awaiting_case("https://slow.example.com/x", hosting_country="NL", provider=provider)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    deadlines_sweep(now=timezone.now() + timedelta(hours=2))
    return Case.objects.get(pk=case.pk)


def test_only_seniors_manage_rules_and_every_change_is_audited():
    analyst = login("analyst")
    assert analyst.get(reverse("deadline-rules")).status_code == 403
    assert (
        analyst.post(reverse("deadline-rules-new"), {"name": "x", "hours": 1, "starts_at": "notice"}).status_code == 403
    )
    senior = login("senior")
    form = {
        "name": "ACM removal order (1 h)",
        "notice_kind": "provider",
        "hours": 1,
        "minutes": 0,
        "starts_at": "notice",
        "active": "on",
    }
    assert senior.post(reverse("deadline-rules-new"), form).status_code == 302
    saved = DeadlineRule.objects.get()
    assert saved.notice_kind == "provider" and saved.created_by is not None
    assert AuditEntry.objects.filter(action=AuditAction.RULE_CHANGED, object_id=str(saved.pk)).exists()
    page = senior.get(reverse("deadline-rules")).content.decode()
    assert "ACM removal order (1 h)" in page
    # Two scopes at once, or no duration, are refused.
    both = {**form, "country": "NL"}
    assert senior.post(reverse("deadline-rules-new"), both).status_code == 400
    assert senior.post(reverse("deadline-rules-new"), {**form, "hours": 0}).status_code == 400
    assert senior.post(reverse("deadline-rules-delete", args=[saved.pk])).status_code == 302
    assert not DeadlineRule.objects.exists()


def test_the_worklist_shows_breached_and_open_deadlines_and_the_case_page_shows_the_timer():
    case = breached_case()
    analyst = login("analyst")
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        breached = analyst.get(reverse("worklist-deadlines") + "?show=breached").content.decode()
    assert f'href="/cases/{case.pk}/"' in breached and "overdue by" in breached and "text-bg-danger" in breached
    assert "evidence.pdf" not in breached  # evidence packs are for seniors
    assert f'href="/cases/{case.pk}/"' not in analyst.get(reverse("worklist-deadlines") + "?show=open").content.decode()
    assert analyst.get(reverse("worklist-deadlines") + "?show=nonsense").status_code == 200
    page = analyst.get(reverse("workspace-case", args=[case.pk])).content.decode()
    assert 'id="deadline"' in page and "Removal order (1 h)" in page and "breach recorded" in page
    fresh = factories.awaiting_case("https://slow.example.com/fresh", hosting_country="NL")
    case_assess(case=fresh, user=None, classification=Classification(**ILLEGAL))
    open_list = analyst.get(reverse("worklist-deadlines")).content.decode()
    assert f'href="/cases/{fresh.pk}/"' in open_list and "min left" in open_list


def test_evidence_packs_are_for_seniors_and_audited():
    case = breached_case()
    analyst = login("analyst")
    url = reverse("cases-evidence", args=[case.pk, "json"])
    assert analyst.get(url).status_code == 403
    assert analyst.get(reverse("providers-evidence", args=[case.provider_id, "pdf"])).status_code == 403
    senior = login("senior")
    answer = senior.get(url)
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/json")
    pack = json.loads(answer.content)
    assert pack["case"]["id"] == case.pk and pack["case"]["deadlines"][0]["breached_at"]
    pdf = senior.get(reverse("cases-evidence", args=[case.pk, "pdf"]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    provider_pdf = senior.get(reverse("providers-evidence", args=[case.provider_id, "pdf"]))
    assert provider_pdf.status_code == 200 and provider_pdf.content.startswith(b"%PDF")
    assert senior.get(reverse("cases-evidence", args=[case.pk, "xml"])).status_code == 404
    assert AuditEntry.objects.filter(action=AuditAction.EXPORTED).count() == 3
    page = senior.get(reverse("workspace-case", args=[case.pk])).content.decode()
    assert reverse("cases-evidence", args=[case.pk, "pdf"]) in page
