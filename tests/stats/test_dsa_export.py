"""The DSA export: notices and case outcomes in the vocabulary of the Transparency Database's
statements of reasons, for senior analysts (download) and staff tokens (API), never for partners."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_auth import staff_token_create
from accounts.models import AuditEntry
from reports.assessment import Classification, case_assess
from reports.models import Case
from routing.checks.tracking import case_mark_removed
from routing.models import Notice, Provider
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import notices_send_due
from stats.dsa import FIELDS
from tests import factories
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(settings) -> dict[str, Any]:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_HOTLINE_NAME = "Test Hotline"
    provider = Provider.objects.create(name="Provider BV", abuse_emails=["abuse@provider.example"])
    made = factories.awaiting_case("https://files.example.com/ai.jpg", hosting_country="NL", provider=provider)
    real = factories.awaiting_case("https://files.example.com/real.mp4", hosting_country="NL", provider=provider)
    case_assess(
        case=made,
        user=None,
        classification=Classification(
            verdict="illegal", legal_basis="baseline", category="A1", media_type="image", ai_generated="yes"
        ),
    )
    case_assess(
        case=real,
        user=None,
        classification=Classification(
            verdict="illegal", legal_basis="national", category="B1", media_type="video", ai_generated="no"
        ),
    )
    cases_plan_notices(case_ids=[made.pk, real.pk])
    assert notices_send_due(flush=True, reresolve=False).sent == 1
    sent_at = Notice.objects.get().sent_at
    assert sent_at is not None
    with time_machine.travel(sent_at + timedelta(hours=6)):
        case_mark_removed(case=Case.objects.get(pk=made.pk), user=None, removed_at=sent_at + timedelta(hours=2))
    return {"made": made, "real": real, "sent_at": sent_at}


def senior_client(client: Any) -> Any:
    staff_login(client, factories.staff_user("sen", "senior"))
    return client


def rows(body: dict[str, Any], record_type: str) -> dict[str, dict[str, Any]]:
    return {r["url"]: r for r in body["statements"] if r["record_type"] == record_type}


def test_each_notice_and_each_outcome_speaks_the_transparency_databases_vocabulary(world, client):
    response = senior_client(client).get("/stats/export/dsa.json")

    assert response.status_code == 200
    body = json.loads(response.content)
    notices = rows(body, "notice")
    made = notices["https://files.example.com/ai.jpg"]
    assert made["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert made["category_specification"] == [
        "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
        "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE",
    ]
    assert made["content_type"] == ["CONTENT_TYPE_IMAGE", "CONTENT_TYPE_SYNTHETIC_MEDIA"]
    assert made["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert made["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    removed_on = timezone.localtime(world["sent_at"] + timedelta(hours=2)).date().isoformat()
    assert made["application_date"] == removed_on
    assert made["notice_date"] == timezone.localtime(world["sent_at"]).date().isoformat()
    assert made["ai_generated"] == "yes" and made["source_type"] == "SOURCE_ARTICLE_16"
    assert made["notice_reference"] == Notice.objects.get().reference
    real = notices["https://files.example.com/real.mp4"]
    assert real["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
    assert real["content_type"] == ["CONTENT_TYPE_VIDEO"]
    assert real["decision_visibility"] == [] and real["application_date"] is None
    assert "NL" in real["illegal_content_legal_ground"]
    outcomes = rows(body, "case")
    assert set(outcomes) == {"https://files.example.com/ai.jpg", "https://files.example.com/real.mp4"}
    assert outcomes["https://files.example.com/ai.jpg"]["notice_date"] == made["notice_date"]
    # URLs and metadata only: exactly the documented fields.
    assert all(list(r) == list(FIELDS) for r in body["statements"])
    assert AuditEntry.objects.filter(action="exported", object_type="dsa_statements").count() == 1


def test_it_filters_by_date_range_and_by_case(world, client):
    senior = senior_client(client)
    day = timezone.localtime(world["sent_at"]).date()

    later = json.loads(senior.get(f"/stats/export/dsa.json?from={day + timedelta(days=1)}").content)
    assert later["count"] == 0
    that_day = json.loads(senior.get(f"/stats/export/dsa.json?from={day}&to={day + timedelta(days=1)}").content)
    assert that_day["count"] == 4
    one = json.loads(senior.get(f"/stats/export/dsa.json?case={world['real'].pk}").content)
    assert {r["case_id"] for r in one["statements"]} == {world["real"].pk}
    assert senior.get("/stats/export/dsa.json?from=yesterday").status_code == 400
    # A number no id column holds, or a digit that is not ASCII: a 400, not a database error.
    for case in (str(2**63), "\u00b2"):
        assert senior.get("/stats/export/dsa.json", {"case": case}).status_code == 400


def test_the_csv_has_the_fields_and_lists_as_json_arrays(world, client):
    response = senior_client(client).get("/stats/export/dsa.csv")

    text = b"".join(response.streaming_content).decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert tuple(table[0]) == FIELDS
    made = next(r for r in table if r["url"].endswith("ai.jpg") and r["record_type"] == "notice")
    assert json.loads(made["category_specification"])[-1] == "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE"


def test_staff_tokens_get_it_through_the_api_and_partners_do_not(world):
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token_create(user=factories.staff_user('ann'))[1]}")
    body = staff.get("/api/v1/stats/dsa/").json()
    assert body["count"] == 4
    streamed: Any = staff.get("/api/v1/stats/dsa/?output=csv")
    csv_text = b"".join(streamed.streaming_content).decode()
    assert csv_text.startswith("record_type,url,")
    assert staff.get("/api/v1/stats/dsa/?to=2026-13-01").status_code == 400

    partner = APIClient()
    _, key = factories.partner_with_key("Partner")
    partner.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert partner.get("/api/v1/stats/dsa/").status_code == 403
    assert partner.get("/stats/export/dsa.json").status_code == 302  # no staff login


def test_the_notices_list_and_the_case_page_link_it_for_seniors_only(world, client):
    senior = senior_client(client)
    assert "/stats/export/dsa.csv" in senior.get("/notices/").content.decode()
    assert (
        f"/stats/export/dsa.json?case={world['made'].pk}" in senior.get(f"/cases/{world['made'].pk}/").content.decode()
    )
    analyst = type(client)()
    staff_login(analyst, factories.staff_user("ana", "analyst"))
    assert "/stats/export/dsa" not in analyst.get("/notices/").content.decode()
    assert mail.outbox  # the notice went out through the mail backend


def test_the_ai_generated_flag_travels_in_the_notice_text_and_csv_not_in_x_arf(world):
    (message,) = mail.outbox
    body = message.body
    made_at = body.index("https://files.example.com/ai.jpg")
    real_at = body.index("https://files.example.com/real.mp4")
    assert "AI-generated: yes" in body[made_at:] and "AI-generated" not in body[real_at : real_at + 300]
    parsed = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(message.message().as_bytes())
    assert isinstance(parsed, EmailMessage)
    files = {}
    for part in parsed.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        files[str(part.get_filename())] = payload.decode()
    table = list(csv.DictReader(io.StringIO(files[f"{Notice.objects.get().reference}.csv"])))
    assert {r["url"]: r["ai_generated"] for r in table} == {
        "https://files.example.com/ai.jpg": "yes",
        "https://files.example.com/real.mp4": "no",
    }
    reports = [json.loads(content) for name, content in files.items() if name.endswith(".xarf.json")]
    assert reports and not any(word in json.dumps(r) for r in reports for word in ("ai_generated", "synthetic"))
