"""Nothing scart answers may be stored by a browser or a proxy: staff pages, CSV exports and API
responses carry ``Cache-Control: no-store`` and vary on who asks (``Authorization``, ``Cookie``)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.api_auth import staff_token_create
from tests import factories
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db


def assert_not_stored(response) -> None:
    assert "no-store" in response["Cache-Control"], response["Cache-Control"]
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"authorization", "cookie"} <= vary, response["Vary"]


def test_staff_pages_and_csv_exports_are_not_stored(client):
    case = factories.awaiting_case("https://c.example.com/1")
    staff_login(client, factories.staff_user("sen", role="senior"))
    for path in [
        "/",
        f"/cases/{case.pk}/",
        "/export/queue.csv",
        "/stats/export/overview.csv",
        "/stats/export/cases.csv",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_not_stored(response)


def test_a_login_redirect_is_not_stored_either(client):
    response = client.get("/")
    assert response.status_code == 302
    assert_not_stored(response)


def test_api_responses_are_not_stored(api):
    case_id = api.post("/api/v1/reports/", {"urls": ["https://c.example.com/2"]}, format="json").json()["urls"][0][
        "case"
    ]
    for response in [
        api.get("/api/v1/cases/"),
        api.get(f"/api/v1/cases/{case_id}/"),
        APIClient().get("/api/v1/cases/"),
    ]:
        assert_not_stored(response)
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token_create(user=factories.staff_user('ann'))[1]}")
    for path in ["/api/v1/cases/", f"/api/v1/cases/{case_id}/", "/api/v1/stats/takedown/"]:
        response = staff.get(path)
        assert response.status_code == 200, path
        assert_not_stored(response)
