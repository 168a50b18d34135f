"""Faults of the parts scart depends on (database, broker, cache) and hostile input get a clean
answer: a 503 with Retry-After, or a 400/413 with a reason; never a 500 or an HTML traceback."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection
from rest_framework.test import APIClient

from accounts.api_auth import staff_token_create
from reports.models import Case, IdempotencyKey, Report
from scart.celery import app as celery_app
from tests import factories

URL = "/api/v1/reports/"
CLOSED_PORT = "redis://127.0.0.1:1/0"


def failing_queries(match: str = "") -> Callable[..., Any]:
    """A `connection.execute_wrapper` that fails every query (containing ``match``) the way a
    database that went away does."""

    def wrapper(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if match.lower() in sql.lower():
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


@pytest.fixture
def broker_down(monkeypatch) -> None:
    """Celery's broker on a closed loopback port: publishing fails as with a broker that is down."""
    monkeypatch.setattr(celery_app.conf, "broker_write_url", CLOSED_PORT)
    # The connection pools were made for the configured broker: without them, Celery makes new ones
    # for the closed port (and the teardown puts the old ones back).
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)


@pytest.fixture
def cache_down(settings) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CLOSED_PORT}}


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content[:500]
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    assert "temporarily unavailable" in response.json()["detail"]


# --- the database ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_api_answers_503_json_when_the_database_is_down(api):
    with connection.execute_wrapper(failing_queries()):
        response = api.post(URL, {"urls": ["https://example.com/a"]}, format="json")
    assert_unavailable(response)
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_the_api_stores_nothing_and_answers_503_when_the_database_fails_mid_intake(api):
    with connection.execute_wrapper(failing_queries("reports_reportedurl")):
        response = api.post(URL, {"urls": ["https://example.com/a"]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert_unavailable(response)
    assert not Report.objects.exists() and not Case.objects.exists() and not IdempotencyKey.objects.exists()
    # The partner retries with the same key once the database is back and gets its report.
    response = api.post(URL, {"urls": ["https://example.com/a"]}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201 and Report.objects.count() == 1


@pytest.mark.django_db
def test_case_reads_answer_503_json_when_the_database_is_down(partner_key):
    user = factories.staff_user("ann")
    token_client = APIClient()
    _, token = staff_token_create(user=user)
    token_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    with connection.execute_wrapper(failing_queries()):
        for path in ("/api/v1/cases/", "/api/v1/cases/1/", "/api/v1/stats/takedown/"):
            assert_unavailable(token_client.get(path))


@pytest.mark.django_db
def test_a_staff_page_answers_a_503_page_when_the_database_is_down(client, analyst):
    client.raise_request_exception = False
    with connection.execute_wrapper(failing_queries()):
        response = client.get("/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    body = response.content.decode()
    assert "Traceback" not in body and "OperationalError" not in body
    assert "temporarily unavailable" in body


@pytest.mark.django_db
def test_the_public_form_answers_a_503_page_when_the_database_is_down(client):
    client.raise_request_exception = False
    with connection.execute_wrapper(failing_queries()):
        response = client.post("/report/", {"urls": "https://example.com/a"})
    assert response.status_code == 503
    assert "temporarily unavailable" in response.content.decode()


@pytest.mark.django_db
def test_a_bug_under_the_api_answers_json_500(api, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("reports.api.views.cases_filter", broken)
    api.raise_request_exception = False
    response = api.get("/api/v1/cases/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}


def sqlite_error(tmp_path: Any, kind: str) -> sqlite3.Error:
    """A real error of SQLite's driver: a lock timeout ("busy") or a query naming no table ("bug")."""
    path = str(tmp_path / "db.sqlite3")
    holder = sqlite3.connect(path)
    holder.execute("CREATE TABLE t (x)")
    holder.commit()
    if kind == "busy":
        holder.execute("BEGIN EXCLUSIVE")
    try:
        sqlite3.connect(path, timeout=0).execute("SELECT x FROM t" if kind == "busy" else "SELECT x FROM missing")
    except sqlite3.Error as exc:
        return exc
    finally:
        holder.close()
    raise AssertionError("no error")


def failing_with(cause: BaseException) -> Callable[..., Any]:
    """A `connection.execute_wrapper` that fails every query as Django does on ``cause``, a
    driver's error: Django's OperationalError chained to it."""

    def wrapper(*args: Any) -> Any:
        raise OperationalError(str(cause)) from cause

    return wrapper


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cause",
    [
        pytest.param(lambda tmp: sqlite_error(tmp, "bug"), id="sqlite-no-such-table"),
        pytest.param(lambda tmp: psycopg.errors.StatementTooComplex("statement is too complex"), id="pg-54001"),
    ],
)
def test_a_programming_error_of_the_database_stays_a_500_not_a_503(api, caplog, tmp_path, cause):
    # SQLite reports a missing table or column as an OperationalError, as it does a lock timeout:
    # a missing migration must not look like a database that will be back soon.
    api.raise_request_exception = False
    with caplog.at_level(logging.ERROR), connection.execute_wrapper(failing_with(cause(tmp_path))):
        response = api.get("/api/v1/cases/")
    assert response.status_code == 500, response.content[:300]
    assert response.json() == {"detail": "Internal server error."} and "Retry-After" not in response
    assert any(record.exc_info for record in caplog.records), "the traceback is logged"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "cause",
    [
        pytest.param(lambda tmp: sqlite_error(tmp, "busy"), id="sqlite-locked"),
        pytest.param(lambda tmp: psycopg.errors.AdminShutdown("terminating connection"), id="pg-57P01"),
        pytest.param(lambda tmp: psycopg.OperationalError("connection refused"), id="pg-no-server"),
    ],
)
def test_a_database_that_cannot_answer_now_is_a_503(api, tmp_path, cause):
    with connection.execute_wrapper(failing_with(cause(tmp_path))):
        assert_unavailable(api.get("/api/v1/cases/"))


@pytest.mark.django_db
def test_a_programming_error_of_the_database_on_a_staff_page_is_not_a_503(client, analyst, tmp_path):
    client.raise_request_exception = False
    with connection.execute_wrapper(failing_with(sqlite_error(tmp_path, "bug"))):
        response = client.get("/")
    assert response.status_code == 500


def test_an_unknown_api_path_answers_json_404(client):
    response = client.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- the broker and the cache -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", ["", "k-2"])
def test_a_stored_report_gets_its_normal_answer_when_the_broker_is_down(api, broker_down, caplog, key):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    with caplog.at_level(logging.ERROR):
        response = api.post(URL, {"urls": ["https://example.com/a"]}, format="json", **headers)
    assert response.status_code == 201, response.content
    reference = response.json()["report"]["reference"]
    case = Case.objects.get()
    assert Report.objects.get().reference == reference
    # The failed enqueue is logged; the sweep queues the case once it is overdue.
    assert any("cases_enqueue_resolution" in r.getMessage() for r in caplog.records)
    assert case.resolve_due_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_public_form_thanks_the_reporter_when_the_broker_is_down(client, broker_down):
    response = client.post("/report/", {"urls": "https://example.com/a", "email": "me@example.org"})
    assert response.status_code == 200
    assert Report.objects.get().reference in response.content.decode()


@pytest.mark.django_db
def test_the_rate_limit_fails_open_when_the_cache_is_down(api, cache_down, caplog):
    with caplog.at_level(logging.WARNING):
        response = api.post(URL, {"urls": ["https://example.com/a"]}, format="json")
    assert response.status_code == 201
    assert any("rate limit" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_the_public_form_fails_open_when_the_cache_is_down(client, cache_down):
    response = client.post("/report/", {"urls": "https://example.com/a"})
    assert response.status_code == 200 and Report.objects.count() == 1


# --- hostile input --------------------------------------------------------------------------


def post_raw(api: APIClient, body: str | bytes, **headers: Any) -> Any:
    return api.post(URL, body, content_type="application/json", **headers)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"urls": ["https://example.com/\\ud800"]}', "surrogate"),
        ('{"urls": ["https://example.com/\\udc00x", "https://example.com/ok"]}', "surrogate"),
        ('{"urls": ["https://example.com/a\\u0000b"]}', "NUL"),
        ('{"urls": ["https://example.com/ok"], "description": "x\\u0000"}', "NUL"),
        ('{"urls": ["https://example.com/ok"], "classification": {"\\ud83d": 1}}', "surrogate"),
    ],
)
@pytest.mark.parametrize("key", ["", "k-3"])
def test_it_refuses_strings_a_database_cannot_store(api, body, reason, key):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    response = post_raw(api, body, **headers)
    assert response.status_code == 400, response.content[:300]
    assert reason in response.json()["detail"]
    assert not Report.objects.exists() and not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_rejected_url_with_nul_sent_with_an_idempotency_key(api):
    body = json.dumps({"urls": ["javascript:\x00", "ftp://\ud800"]})
    response = post_raw(api, body, HTTP_IDEMPOTENCY_KEY="k-4")
    assert response.status_code == 400
    assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["a\x00b", "tab\there", "caf\xe9"])
def test_it_refuses_an_idempotency_key_with_characters_outside_printable_ascii(api, key):
    response = post_raw(api, json.dumps({"urls": ["https://example.com/a"]}), HTTP_IDEMPOTENCY_KEY=key)
    assert response.status_code == 400
    assert "printable ASCII" in response.json()["Idempotency-Key"]
    assert not Report.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [33, 5000, 100_000])
def test_it_refuses_json_nested_deeper_than_the_limit(api, depth):
    response = post_raw(api, '{"urls": ["https://example.com/"], "classification": ' + "[" * depth + "]" * depth + "}")
    assert response.status_code == 400
    assert "nested deeper than 32" in response.json()["detail"]


@pytest.mark.django_db
def test_the_assessment_refuses_deep_nesting_and_nul_too(client):
    _, token = staff_token_create(user=factories.staff_user("ann"))
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    case = factories.awaiting_case("https://example.com/a")
    url = f"/api/v1/cases/{case.pk}/assessment"
    response = staff.post(
        url, '{"verdict": "illegal", "notes": ' + "[" * 5000 + "]" * 5000 + "}", content_type="application/json"
    )
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]
    response = staff.post(
        url,
        '{"verdict": "not_illegal", "not_illegal_reason": "adult", "notes": "a\\u0000"}',
        content_type="application/json",
    )
    assert response.status_code == 400 and "NUL" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("body", ['{"urls": ["' + '\\"' * 20_000, '{"urls": [' + '"\\' * 20_000])
def test_a_string_that_never_closes_is_refused_in_linear_time(api, body):
    # Looking for strings with one pattern tried at every quote took 17 s for these 40 KB.
    started = time.monotonic()
    response = post_raw(api, body)
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]
    assert time.monotonic() - started < 3


@pytest.mark.django_db
@pytest.mark.parametrize("tail", ['"', "\\", '\\"', "\\\\"])
def test_escaped_quotes_and_backslashes_inside_strings_do_not_end_them(api, tail):
    # json.dumps writes these as \", \\, \\\" and \\\\: the brackets after them are still text.
    url = "https://example.com/a" + tail + "[" * 40 + "]" * 40
    response = post_raw(api, json.dumps({"urls": [url]}))
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
def test_it_accepts_json_nested_to_the_limit(api):
    # The body object is level 1, so 31 levels below it make 32.
    nested = "[" * 30 + "]" * 30
    response = post_raw(api, '{"urls": ["https://example.com/"], "classification": {"x": ' + nested + "}}")
    # Accepted by the parser; the classification itself is not a valid one.
    assert response.status_code == 400
    assert "classification" in response.json()


@pytest.mark.django_db
def test_brackets_inside_strings_do_not_count_as_nesting(api):
    url = "https://example.com/" + "[{" * 100 + '\\"' + "}]" * 100
    response = post_raw(api, json.dumps({"urls": [url]}))
    assert response.status_code == 201


@pytest.mark.django_db
def test_it_refuses_a_body_over_the_limit_with_413(api, settings):
    settings.SCART_API_MAX_BODY_BYTES = 1000
    response = post_raw(api, json.dumps({"urls": ["https://example.com/" + "a" * 1000]}))
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]


@pytest.mark.django_db
def test_the_api_limit_is_its_own_not_the_forms(api, settings):
    # 10,000 long URLs are far more than a form may send.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post_raw(api, json.dumps({"urls": [f"https://example.com/{i}/" + "a" * 100 for i in range(50)]}))
    assert response.status_code == 201, response.content[:300]


@pytest.mark.django_db
def test_it_accepts_json_only(api):
    response = api.post(URL, {"urls": "https://example.com/"})  # multipart form data
    assert response.status_code == 415
    assert "detail" in response.json()


@pytest.mark.django_db
def test_the_public_form_refuses_an_oversized_body_without_echoing_it(client, settings):
    filler = "https://example.com/" + "x" * 1000
    urls = "\n".join([filler] * 5000)
    response = client.post("/report/", {"urls": urls})
    assert response.status_code == 413
    assert filler not in response.content.decode()
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_the_public_form_does_not_echo_a_too_long_field(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
    long_url = "https://example.com/" + "y" * 1_000_100
    response = client.post("/report/", {"urls": long_url})
    assert response.status_code == 400
    assert "y" * 1000 not in response.content.decode()
