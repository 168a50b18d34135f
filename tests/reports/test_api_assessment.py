"""POST /api/v1/cases/{id}/assessment: who may assess, what is recorded, how refusals look."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_auth import staff_token_create
from accounts.models import AuditAction, AuditEntry
from reports.models import Assessment, Case, CaseState, Event, EventKind
from tests import factories
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

ILLEGAL = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


def url(case: Case) -> str:
    return f"/api/v1/cases/{case.pk}/assessment"


def token_client(user) -> APIClient:
    _, key = staff_token_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def case():
    return factories.awaiting_case("https://example.com/gallery/1")


def test_it_records_a_verdict_made_with_a_staff_token(analyst, case):
    response = token_client(analyst).post(url(case), {**ILLEGAL, "notes": "12 images"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assessment = Assessment.objects.get(case=case)
    assert body["id"] == assessment.pk and body["case"] == case.pk
    assert body["analyst"] == "ana" and body["source"] == "analyst"
    assert body["verdict"] == "illegal" and body["category"] == "A1" and body["notes"] == "12 images"
    assert body["age_group"] == "prepubescent"  # implied by the category
    assert body["ai_generated"] == "unknown" and body["drawn"] is False and body["police_first"] is False
    case.refresh_from_db()
    assert body["case_state"] == case.state == CaseState.ILLEGAL
    assert case.verdict == "illegal" and case.assessed_at is not None
    assert assessment.analyst == analyst

    event = Event.objects.get(case=case, kind=EventKind.ASSESSED)
    assert event.actor_user == analyst and event.data["assessment"] == assessment.pk
    entry = AuditEntry.objects.get(action=AuditAction.CASE_ASSESSED)
    assert entry.actor == analyst and entry.object_id == str(case.pk) and entry.ip_address == "127.0.0.1"


def test_it_records_a_not_illegal_verdict_and_closes_the_case(analyst, case):
    body = {"verdict": "not_illegal", "not_illegal_reason": "adult", "drawn": None}
    response = token_client(analyst).post(url(case), body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["case_state"] == CaseState.NOT_ILLEGAL


@pytest.mark.parametrize("role", ["senior", "admin"])
def test_it_lets_higher_roles_assess_too(role, case):
    response = token_client(factories.staff_user("sam", role=role)).post(url(case), ILLEGAL, format="json")
    assert response.status_code == 201


def test_it_accepts_a_staff_login_only_after_the_second_factor(analyst, case):
    client = APIClient()
    client.force_login(analyst)  # password only
    assert client.post(url(case), ILLEGAL, format="json").status_code == 403
    staff_login(client, analyst)
    response = client.post(url(case), ILLEGAL, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["analyst"] == "ana"


def test_it_refuses_partners_and_anonymous_requests(api, case):
    response = api.post(url(case), ILLEGAL, format="json")
    assert response.status_code == 403
    assert "staff" in response.json()["detail"]
    assert APIClient().post(url(case), ILLEGAL, format="json").status_code == 401
    assert not Assessment.objects.exists()


def test_it_refuses_tokens_that_no_longer_work(analyst, case):
    token, key = staff_token_create(user=analyst)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    token.revoked_at = timezone.now()
    token.save()
    assert client.post(url(case), ILLEGAL, format="json").status_code == 401
    assert not Assessment.objects.exists()


def test_it_explains_an_invalid_classification_per_field(analyst, case):
    client = token_client(analyst)
    response = client.post(url(case), {"verdict": "illegal"}, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert {"legal_basis", "category", "media_type"} <= set(errors)
    assert errors["category"] == ["required for this verdict"]

    response = client.post(url(case), {"verdict": "gone", "category": "A1", "police_first": True}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "category": ["only for a verdict of illegal"],
        "police_first": ["only for a verdict of illegal"],
    }
    assert not Assessment.objects.exists()
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_ASSESSMENT


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"verdict": "guilty"}, "verdict"),
        ({"verdict": 5}, "verdict"),
        ({}, "verdict"),
        ({**ILLEGAL, "category": "Z9"}, "category"),
        ({**ILLEGAL, "police_first": "maybe"}, "police_first"),
        ({**ILLEGAL, "drawn": [True]}, "drawn"),
        ({**ILLEGAL, "notes": {"a": 1}}, "notes"),
        ({**ILLEGAL, "notes": "x" * 5001}, "notes"),
        ({**ILLEGAL, "policeFirst": True}, "policeFirst"),
        ([ILLEGAL], "non_field_errors"),
        ("illegal", "non_field_errors"),
    ],
)
def test_it_refuses_malformed_fields(analyst, case, body, field):
    response = token_client(analyst).post(url(case), body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Assessment.objects.exists()


def test_it_refuses_bodies_that_are_not_json(analyst, case):
    client = token_client(analyst)
    broken = client.post(url(case), '{"verdict": "illegal",', content_type="application/json")
    assert broken.status_code == 400 and "JSON" in broken.json()["detail"]
    assert client.post(url(case), {"verdict": "gone"}).status_code == 415  # a form
    assert not Assessment.objects.exists()


def test_it_refuses_a_case_another_analyst_has_open(analyst, case):
    other = factories.staff_user("bob")
    until = timezone.now() + timedelta(minutes=5)
    Case.objects.filter(pk=case.pk).update(locked_by=other, locked_until=until)
    response = token_client(analyst).post(url(case), ILLEGAL, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["locked_by"] == "bob" and "bob" in body["detail"]
    assert body["locked_until"] == timezone.localtime(until).isoformat()  # in TIME_ZONE, with its offset
    assert not Assessment.objects.exists()
    # The analyst who holds the lock may assess.
    assert token_client(other).post(url(case), ILLEGAL, format="json").status_code == 201


def test_it_refuses_a_case_past_assessment(analyst):
    notified = factories.awaiting_case("https://example.com/notified")
    Case.objects.filter(pk=notified.pk).update(state=CaseState.NOTIFIED)
    response = token_client(analyst).post(url(notified), ILLEGAL, format="json")
    assert response.status_code == 409
    assert response.json()["state"] == "notified"
    assert not Assessment.objects.exists()


def test_it_answers_404_for_an_unknown_case(analyst):
    response = token_client(analyst).post("/api/v1/cases/999999/assessment", ILLEGAL, format="json")
    assert response.status_code == 404


def test_the_openapi_schema_documents_the_endpoint(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/cases/{id}/assessment"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/AssessmentCreate")
    assert {"201", "400", "401", "403", "404", "409"} <= set(operation["responses"])
    assert operation["security"] == [{"StaffToken": []}, {"cookieAuth": []}]
