"""GET /api/v1/cases/ and /api/v1/cases/{id}/: filters, timeline, who may see what."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from reports.models import Case, CaseState
from tests import factories

pytestmark = pytest.mark.django_db


def report(client: APIClient, *urls: str) -> dict:
    response = client.post("/api/v1/reports/", {"urls": list(urls)}, format="json")
    assert response.status_code == 201
    return response.json()


def test_it_lists_only_the_cases_a_partner_reported(api):
    mine = report(api, "https://example.com/a", "https://shop.example.net/b")
    _, other_key = factories.partner_with_key()
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}")
    report(other, "https://example.org/secret")
    listed = api.get("/api/v1/cases/").json()["results"]
    assert {c["id"] for c in listed} == {u["case"] for u in mine["urls"]}
    theirs = Case.objects.get(host="example.org")
    assert api.get(f"/api/v1/cases/{theirs.pk}/").status_code == 404


def test_it_filters_by_state_host_domain_and_time(api):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        report(api, "https://old.example.com/x")
    report(api, "https://www.example.com/a", "https://example.net/b")
    Case.objects.filter(host="example.net").update(state=CaseState.ILLEGAL)

    def hosts(**params: str) -> set[str]:
        response = api.get("/api/v1/cases/", params)
        assert response.status_code == 200, response.content
        return {c["host"] for c in response.json()["results"]}

    assert hosts(state="illegal") == {"example.net"}
    assert hosts(state="received") == {"www.example.com", "old.example.com"}
    assert hosts(host="WWW.example.com") == {"www.example.com"}
    assert hosts(domain="example.com") == {"www.example.com", "old.example.com"}
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert hosts(received_after=since) == {"www.example.com", "example.net"}
    assert hosts(received_before=since) == {"old.example.com"}


def test_it_explains_bad_filters(api):
    response = api.get("/api/v1/cases/", {"state": "nonsense", "received_after": "yesterday"})
    assert response.status_code == 400
    assert set(response.json()) == {"state", "received_after"}


def test_a_partner_sees_the_progress_and_its_own_reports(api):
    body = report(api, "https://example.com/a")
    again = report(api, "https://EXAMPLE.com/a#top")
    detail = api.get(f"/api/v1/cases/{body['urls'][0]['case']}/").json()
    assert detail["canonical_url"] == "https://example.com/a"
    assert detail["status"] == "received"
    assert detail["assessed_at"] is None and detail["notified_at"] is None and detail["removed_at"] is None
    assert [(r["reference"], r["url"]) for r in detail["reports"]] == [
        (body["report"]["reference"], "https://example.com/a"),
        (again["report"]["reference"], "https://EXAMPLE.com/a#top"),
    ]
    assert "timeline" not in detail and "report_count" not in detail and "original_url" not in detail


def test_it_lets_verified_staff_see_every_case_and_refuses_anonymous_readers(api):
    from tests import factories
    from tests.conftest import staff_login

    report(api, "https://example.com/a")
    staff = factories.staff_user("analyst")
    client = APIClient()
    client.force_login(staff)
    # Password only: the second factor is missing, so no cases.
    assert client.get("/api/v1/cases/").status_code == 403
    staff_login(client, staff)
    assert len(client.get("/api/v1/cases/").json()["results"]) == 1
    assert APIClient().get("/api/v1/cases/").status_code == 401
    nobody = get_user_model().objects.create_user("visitor", password="x")
    client.force_authenticate(nobody)
    assert client.get("/api/v1/cases/").status_code == 403


def test_it_paginates_with_a_cursor(api):
    report(api, *[f"https://example.com/{i}" for i in range(150)])
    first = api.get("/api/v1/cases/").json()
    assert len(first["results"]) == 100 and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 50
    assert not {c["id"] for c in first["results"]} & {c["id"] for c in second["results"]}


def test_it_publishes_an_openapi_schema_and_local_docs(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"/api/v1/reports/", "/api/v1/cases/", "/api/v1/cases/{id}/"} <= set(paths)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()
