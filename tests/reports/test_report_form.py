"""The public report form: anonymous reports, partial rejects, honeypot, rate limit, CSRF."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from reports.models import Case, Channel, Report

pytestmark = pytest.mark.django_db


def post(client: Client, forwarded_for: str | None = None, **data: str):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    return client.post("/report/", {"urls": "", "description": "", "email": "", "website": "", **data}, headers=headers)


def test_it_shows_the_form_without_login(client):
    response = client.get("/report/")
    assert response.status_code == 200
    assert b'name="urls"' in response.content and b"csrfmiddlewaretoken" in response.content


def test_it_files_an_anonymous_report_and_shows_its_reference(client):
    response = post(client, urls="https://example.com/a\n\n  example.net/b  \n", description="seen on a forum")
    assert response.status_code == 200
    report = Report.objects.get()
    assert report.channel == Channel.WEB_FORM and report.partner is None
    assert report.description == "seen on a forum" and report.reporter_email == ""
    assert report.reference in response.content.decode()
    assert set(Case.objects.values_list("canonical_url", flat=True)) == {
        "https://example.com/a",
        "http://example.net/b",
    }


def test_it_keeps_good_lines_and_lists_the_bad_ones(client):
    response = post(client, urls="https://example.com/a\njavascript:alert(1)\nhttp://127.0.0.1/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "javascript:alert(1)" in page and "127.0.0.1" in page
    assert Case.objects.count() == 1 and Report.objects.get().rejected_count == 2


def test_it_files_nothing_when_no_line_is_a_url(client):
    response = post(client, urls="hello\nfile:///etc/passwd")
    assert response.status_code == 400
    assert not Report.objects.exists()
    assert "None of these addresses can be accepted" in response.content.decode()


def test_it_requires_at_least_one_line(client):
    response = post(client, urls="   \n ")
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_it_validates_the_email(client):
    response = post(client, urls="https://example.com/a", email="nope")
    assert response.status_code == 400
    assert not Report.objects.exists()


def test_it_queues_an_acknowledgement_when_an_email_is_given(client, django_capture_on_commit_callbacks, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr("reports.tasks.report_acknowledge.delay", lambda report_id: queued.append(report_id))
    with django_capture_on_commit_callbacks(execute=True):
        post(client, urls="https://example.com/a", email="someone@example.org")
    assert queued == [Report.objects.get().pk]


def test_it_files_nothing_when_the_honeypot_is_filled(client):
    response = post(client, urls="https://example.com/a", website="http://spam.example/")
    assert response.status_code == 200
    assert not Report.objects.exists()


def test_it_rate_limits_per_client_address(client, settings):
    rates = {"client": "100/min", "report_form": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    codes = [post(client, urls=f"https://example.com/{i}").status_code for i in range(3)]
    assert codes == [200, 200, 429]
    other = Client(REMOTE_ADDR="192.0.2.55")
    assert post(other, urls="https://example.com/x").status_code == 200
    assert Report.objects.count() == 3


def test_a_made_up_forwarded_for_header_does_not_escape_the_rate_limit(client, settings):
    # No proxy in front (SCART_NUM_PROXIES=0, the default): the header is the client's own words.
    rates = {"client": "100/min", "report_form": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    codes = [
        post(client, urls=f"https://example.com/{i}", forwarded_for=f"198.51.100.{i}").status_code for i in range(3)
    ]
    assert codes == [200, 200, 429]
    assert Report.objects.count() == 2


def test_behind_one_proxy_the_address_it_adds_is_the_client(client, settings):
    # The proxy appends the address it saw; whatever the client wrote before it is ignored.
    rates = {"client": "100/min", "report_form": "2/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates, "NUM_PROXIES": 1}
    codes = [
        post(client, urls=f"https://example.com/{i}", forwarded_for=f"198.51.100.{i}, 203.0.113.9").status_code
        for i in range(3)
    ]
    assert codes == [200, 200, 429]
    other = post(client, urls="https://example.com/x", forwarded_for="198.51.100.1, 203.0.113.10")
    assert other.status_code == 200


def test_it_requires_the_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert post(client, urls="https://example.com/a").status_code == 403
    page = client.get("/report/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    ok = client.post("/report/", {"urls": "https://example.com/a", "csrfmiddlewaretoken": token.group(1)})
    assert ok.status_code == 200
