"""The Django admin: reports, cases with their read-only timeline, partners and keys."""

from __future__ import annotations

import pytest

from reports.models import Case, Channel
from reports.services import report_create

pytestmark = pytest.mark.django_db


def test_it_finds_cases_by_url_and_host(admin_client):
    report_create(channel=Channel.API, urls=["https://files.example.com/x/1", "https://example.net/other"])
    by_host = admin_client.get("/admin/reports/case/", {"q": "files.example.com"}).content.decode()
    assert "https://files.example.com/x/1" in by_host and "example.net/other" not in by_host
    by_url = admin_client.get("/admin/reports/case/", {"q": "example.net/other"}).content.decode()
    assert "example.net/other" in by_url and "files.example.com" not in by_url


def test_it_shows_a_case_with_its_timeline_read_only(admin_client):
    result = report_create(channel=Channel.API, urls=["https://example.com/a"])
    case = Case.objects.get(pk=result.accepted[0].case_id)
    page = admin_client.get(f"/admin/reports/case/{case.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert result.report.reference in html  # the "reported" event's data
    assert 'name="events-0-kind"' not in html  # inline is read-only: no form inputs
    assert admin_client.get("/admin/reports/case/add/").status_code == 403


def test_it_finds_reports_by_reference_and_url(admin_client):
    result = report_create(channel=Channel.WEB_FORM, urls=["https://example.com/seen-here"])
    assert result.report.reference in admin_client.get("/admin/reports/report/", {"q": "seen-here"}).content.decode()
    listing = admin_client.get("/admin/reports/report/", {"q": result.report.reference}).content.decode()
    assert result.report.reference in listing


def test_it_requires_a_staff_login(client):
    response = client.get("/admin/reports/case/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")
