"""POST /api/v1/reports/: batches, partial rejects, duplicates, idempotency, auth, throttling."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from reports.models import Case, CaseState, Channel, Event, EventKind, IdempotencyKey, Report, ReportedUrl
from tests import factories

URL = "/api/v1/reports/"
pytestmark = pytest.mark.django_db


def test_it_files_a_report_with_a_case_per_url(api, partner_key):
    response = api.post(
        URL,
        {
            "urls": ["https://example.com/a", "EXAMPLE.net/b?x=1"],
            "description": "found by crawler",
            "external_ref": "p-1",
            "reporter_email": "analyst@partner.example",
            "hashes": [{"type": "sha256", "value": "A" * 64}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["accepted"] == 2 and body["new"] == 2 and body["duplicates"] == 0 and body["rejected"] == 0
    assert [u["canonical"] for u in body["urls"]] == ["https://example.com/a", "http://example.net/b?x=1"]
    report = Report.objects.get(pk=body["report"]["id"])
    assert report.reference == body["report"]["reference"]
    assert report.channel == Channel.API and report.partner == partner_key[0]
    assert report.external_ref == "p-1" and report.description == "found by crawler"
    assert report.hashes == [{"type": "sha256", "value": "a" * 64}]
    assert report.url_count == 2
    case = Case.objects.get(pk=body["urls"][1]["case"])
    assert case.host == "example.net" and case.registrable_domain == "example.net"
    assert case.state == CaseState.NEW and case.report_count == 1 and case.resolve_due_at is not None
    assert case.original_url == "EXAMPLE.net/b?x=1"
    event = Event.objects.get(case=case)
    assert event.kind == EventKind.REPORTED and event.actor_partner == partner_key[0]
    assert event.data == {"report": report.reference, "channel": "api", "new": True}


def test_it_keeps_valid_urls_and_says_why_others_were_rejected(api):
    response = api.post(
        URL, {"urls": ["javascript:alert(1)", "https://example.com/ok", "http://10.0.0.1/x", 42, ""]}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["accepted"] == 1 and body["rejected"] == 4
    rejected = {r["index"]: r for r in body["rejected_urls"]}
    assert rejected[0]["code"] == "unsupported_scheme" and "javascript" in rejected[0]["reason"]
    assert rejected[2]["code"] == "non_global_ip"
    assert rejected[3]["code"] == "not_a_string"
    assert rejected[4]["code"] == "empty"
    assert body["urls"][0]["index"] == 1
    assert Report.objects.get().rejected_count == 4


def test_it_answers_400_and_keeps_nothing_when_no_url_is_acceptable(api):
    response = api.post(URL, {"urls": ["ftp://example.com/x", "file:///etc/passwd"]}, format="json")
    assert response.status_code == 400
    assert [r["code"] for r in response.json()["rejected_urls"]] == ["unsupported_scheme", "unsupported_scheme"]
    assert not Report.objects.exists() and not Case.objects.exists()


def test_it_marks_duplicates_and_links_the_report_to_every_case(api):
    first = api.post(URL, {"urls": ["https://example.com/a"]}, format="json").json()
    second = api.post(
        URL,
        {"urls": ["https://EXAMPLE.com:443/a#frag", "https://example.com/b", "https://example.com/b"]},
        format="json",
    ).json()
    assert [u["duplicate"] for u in second["urls"]] == [True, False, True]
    assert second["urls"][0]["case"] == first["urls"][0]["case"]
    assert second["new"] == 1 and second["duplicates"] == 2
    case = Case.objects.get(pk=first["urls"][0]["case"])
    assert case.report_count == 2
    assert case.last_reported_at > case.first_reported_at
    report = Report.objects.get(pk=second["report"]["id"])
    assert set(report.cases.values_list("pk", flat=True)) == {second["urls"][0]["case"], second["urls"][1]["case"]}
    assert ReportedUrl.objects.get(report=report, case=case).duplicate is True
    assert Case.objects.count() == 2


def test_it_accepts_ten_thousand_urls_with_a_bounded_number_of_queries(api):
    urls = [f"https://example.com/item/{i}" for i in range(10_000)]
    with CaptureQueriesContext(connection) as queries:
        response = api.post(URL, {"urls": urls}, format="json")
    assert response.status_code == 201
    assert response.json()["new"] == 10_000
    assert Case.objects.count() == 10_000
    # Bulk statements, not a query per URL (SQLite caps rows per statement; PostgreSQL needs fewer).
    assert len(queries) < 200


def test_it_refuses_more_than_ten_thousand_urls(api):
    response = api.post(URL, {"urls": ["https://example.com/"] * 10_001}, format="json")
    assert response.status_code == 400
    assert "urls" in response.json()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "urls"),
        ({"urls": []}, "urls"),
        ({"urls": "https://example.com/"}, "urls"),
        ({"urls": ["https://example.com/"], "reporter_email": "not-an-address"}, "reporter_email"),
        ({"urls": ["https://example.com/"], "hashes": [{"type": "sha256", "value": "xyz"}]}, "hashes"),
        ({"urls": ["https://example.com/"], "hashes": [{"type": "crc32", "value": "abcd"}]}, "hashes"),
    ],
)
def test_it_explains_malformed_requests(api, payload, field):
    response = api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_it_rejects_a_body_that_is_not_json(api):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_it_replays_the_first_response_for_a_retried_idempotency_key(api):
    payload = {"urls": ["https://example.com/a", "https://example.com/b"]}
    first = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    again = api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Report.objects.count() == 1
    assert Case.objects.get(canonical_url="https://example.com/a").report_count == 1


def test_it_refuses_an_idempotency_key_reused_for_another_request(api):
    api.post(URL, {"urls": ["https://example.com/a"]}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = api.post(URL, {"urls": ["https://example.com/b"]}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 409
    assert Report.objects.count() == 1


def test_it_scopes_idempotency_keys_to_the_partner(api):
    api.post(URL, {"urls": ["https://example.com/a"]}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    _, other_key = factories.partner_with_key()
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}")
    response = other.post(URL, {"urls": ["https://example.com/a"]}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201 and response.json()["duplicates"] == 1
    assert IdempotencyKey.objects.count() == 2


def test_it_requires_an_api_key():
    response = APIClient().post(URL, {"urls": ["https://example.com/"]}, format="json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Api-Key")


@pytest.mark.parametrize("header", ["Api-Key scart_wrong", "Bearer scart_wrong", "Api-Key "])
def test_it_refuses_unknown_keys(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.post(URL, {"urls": ["https://example.com/"]}, format="json").status_code == 401


def test_it_refuses_revoked_keys_and_inactive_partners(partner_key):
    from django.utils import timezone

    partner, key = partner_key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.post(URL, {"urls": ["https://example.com/1"]}, format="json").status_code == 201
    partner.api_keys.update(revoked_at=timezone.now())
    assert client.post(URL, {"urls": ["https://example.com/2"]}, format="json").status_code == 401


def test_it_stores_only_a_hash_of_the_key(partner_key):
    partner, key = partner_key
    stored = partner.api_keys.get()
    assert key not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64
    assert key.startswith(stored.prefix)


def test_it_throttles_per_key(settings):
    _, key = factories.partner_with_key(rate_limit="3/min")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    codes = [client.post(URL, {"urls": [f"https://example.com/{i}"]}, format="json").status_code for i in range(4)]
    assert codes == [201, 201, 201, 429]
    # Another partner is not affected by the first one's limit.
    _, other_key = factories.partner_with_key(rate_limit="3/min")
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}")
    response = other.post(URL, {"urls": ["https://example.com/x"]}, format="json")
    assert response.status_code == 201


def test_it_says_when_to_retry_after_throttling():
    _, key = factories.partner_with_key(rate_limit="1/min")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    client.post(URL, {"urls": ["https://example.com/1"]}, format="json")
    response = client.post(URL, {"urls": ["https://example.com/2"]}, format="json")
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60


def test_it_enqueues_resolution_of_new_cases_after_commit(api, django_capture_on_commit_callbacks, monkeypatch):
    sent: list[list[int]] = []
    monkeypatch.setattr("routing.tasks.resolve_cases.delay", lambda ids: sent.append(ids))
    api.post(URL, {"urls": ["https://example.com/a"]}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        body = api.post(URL, {"urls": ["https://example.com/a", "https://example.com/b"]}, format="json").json()
    # Only the new case is queued; the duplicate was queued when it was new.
    assert sent == [[body["urls"][1]["case"]]]
