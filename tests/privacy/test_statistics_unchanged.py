"""The retention rules leave every statistic exactly as it was, and a URL whose text they erased is
still recognised when it is reported again (through the intake, end to end)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from privacy.retention import retention_run
from reports.models import Case, CaseState, Report, ReportedUrl
from reports.urls import ERASED_URL_PREFIX, normalise_url
from tests import factories
from tests.conftest import staff_client
from tests.privacy.conftest import PRIVATE_URL
from tests.privacy.snapshots import changes, rows, statistics

pytestmark = pytest.mark.django_db


def test_every_statistic_is_the_same_before_and_after_a_run_that_erased_everything_due(privacy_world):
    # Four years on, every rule's time is up for everything the world holds.
    with time_machine.travel(timezone.now() + timedelta(days=4 * 365), tick=False):
        before = statistics()
        rows_before = rows()
        result = retention_run()
        after = statistics()
    assert result.rows > 0
    erased = {s.kind for s in result.steps if s.rows}
    assert erased >= {"reporter_contact", "report_text", "staff_text", "notice_messages", "closed_case_urls"}
    assert "reports_case.canonical_url" in changes(rows_before, rows())
    assert before.keys() == after.keys()
    for name in before:
        assert after[name] == before[name], name


def test_a_url_reported_again_after_its_text_was_erased_is_the_same_case(privacy_world):
    case = privacy_world.closed
    assert case.state == CaseState.NOT_ILLEGAL
    with time_machine.travel(timezone.now() + timedelta(days=400)):
        retention_run()
    case.refresh_from_db()
    sha = normalise_url(PRIVATE_URL).sha256
    assert case.canonical_url == case.original_url == ERASED_URL_PREFIX + sha
    assert not Case.objects.filter(canonical_url__contains="private/1").exists()
    assert not ReportedUrl.objects.filter(original_url__contains="private/1").exists()

    # A senior searching for the URL still finds its case.
    found = staff_client("sen2", "senior").get(reverse("workspace-search"), {"q": PRIVATE_URL})
    assert found.status_code == 200 and f'href="{reverse("workspace-case", args=[case.pk])}"' in found.content.decode()

    # The same URL, spelled differently, through the API: the intake finds the case by its hash.
    _, key = factories.partner_with_key("Another partner")
    partner = APIClient()
    partner.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    with time_machine.travel(timezone.now() + timedelta(days=401)):
        response = partner.post(
            "/api/v1/reports/", {"urls": ["HTTPS://WWW.EXAMPLE.COM:443/private/1?q=a#frag"]}, format="json"
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["duplicates"] == 1 and body["urls"][0]["case"] == case.pk
    again = Case.objects.get(pk=case.pk)
    assert again.report_count == case.report_count + 1 and again.state == CaseState.NOT_ILLEGAL
    # The new report brings the URL text back; the old report's link keeps its hash.
    assert again.canonical_url == normalise_url(PRIVATE_URL).canonical
    links = dict(ReportedUrl.objects.filter(case=case).values_list("report__channel", "original_url"))
    assert links["web_form"] == ERASED_URL_PREFIX + sha
    assert "private/1" in links["api"]
    assert Report.objects.filter(urls__case=case).count() == 2
