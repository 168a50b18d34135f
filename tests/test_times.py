"""One time zone for every time a person reads (TIME_ZONE, named on every page), ISO 8601 with
its offset in the API and the exports: a moment reads the same wherever it appears."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from accounts.models import AuditAction, AuditEntry
from reports.assessment import Classification, case_assess
from reports.models import Case, Event, EventKind
from routing.checks.tracking import case_mark_removed
from stats.timings import timings_refresh
from tests import factories
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

# 14:53 UTC on a winter day is 15:53 in Amsterdam (+01:00).
MOMENT = datetime(2026, 11, 21, 14, 53, tzinfo=UTC)
LOCAL_ISO = "2026-11-21T15:53:00+01:00"
ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


@pytest.fixture(autouse=True)
def _amsterdam(settings) -> None:
    settings.TIME_ZONE = "Europe/Amsterdam"


def illegal(url: str) -> Case:
    case = factories.awaiting_case(url, hosting_country="NL")
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    case.refresh_from_db()
    return case


def test_every_page_names_the_time_zone_of_its_times(client):
    assert "Times in Europe/Amsterdam." in client.get("/report/").content.decode()


def test_a_removal_reads_the_same_on_the_case_page_in_its_event_and_in_the_audit_trail(client):
    senior = factories.staff_user("sen", "senior")
    with time_machine.travel(MOMENT + timedelta(hours=1), tick=False):
        case = illegal("https://example.com/removed")
        case_mark_removed(case=case, user=senior, removed_at=MOMENT)
    assert Event.objects.get(case=case, kind=EventKind.REMOVED).data["removed_at"] == LOCAL_ISO
    entry = AuditEntry.objects.get(action=AuditAction.CASE_MARKED_REMOVED)
    assert entry.summary == f"marked removed at {LOCAL_ISO}" and entry.data["removed_at"] == LOCAL_ISO
    assert str(entry).startswith("2026-11-21 16:53:00 ")  # written an hour later, as the admin lists it
    page = staff_login(client, senior).get(f"/cases/{case.pk}/").content.decode()
    assert "2026-11-21 15:53" in page and "14:53" not in page


def test_the_api_writes_every_time_with_the_offset_of_the_time_zone(api):
    with time_machine.travel(MOMENT, tick=False):
        posted = api.post("/api/v1/reports/", {"urls": ["https://example.com/api"]}, format="json")
    assert posted.status_code in (200, 201)
    assert posted.json()["report"]["received_at"] == LOCAL_ISO
    case = api.get("/api/v1/cases/").json()["results"][0]
    assert case["reports"][0]["received_at"] == LOCAL_ISO  # the same moment, as the serializer writes it


def test_the_queue_export_names_its_file_and_its_times_in_the_time_zone(client):
    with time_machine.travel(MOMENT, tick=False):
        factories.awaiting_case("https://example.com/export")
        staff_login(client, factories.staff_user("sen", "senior"))
        response = client.get("/export/queue.csv")
    assert response["Content-Disposition"] == 'attachment; filename="scart-queue-20261121-1553.csv"'
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["first_reported_at"] == LOCAL_ISO


def test_the_statistics_export_names_its_file_and_its_times_in_the_time_zone(client):
    with time_machine.travel(MOMENT, tick=False):
        case = illegal("https://example.com/stats")
        timings_refresh(case_ids=[case.pk])
        staff_login(client, factories.staff_user("sen", "senior"))
        response = client.get("/stats/export/cases.csv")
        table = client.get("/stats/export/overview.csv")
    assert response["Content-Disposition"] == 'attachment; filename="scart-case-timings-20261121-1553.csv"'
    assert table["Content-Disposition"] == 'attachment; filename="scart-stats-overview-20261121-1553.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["first_reported_at"] == LOCAL_ISO and rows[0]["first_verdict_at"] == LOCAL_ISO


def test_a_partners_classification_suggested_on_a_case_gives_its_time_in_the_time_zone(partner_key):
    from reports.models import Channel
    from reports.services import report_create
    from reports.suggestions import suggestions_for

    with time_machine.travel(MOMENT, tick=False):
        result = report_create(
            channel=Channel.API, partner=partner_key[0], urls=["https://example.com/partner"], classification=ILLEGAL
        )
    case = Case.objects.get(pk=result.accepted[0].case_id)
    [suggestion] = suggestions_for([case])[case.pk]
    assert suggestion.provenance.endswith("of 2026-11-21 15:53")


def test_the_admin_lists_times_as_the_pages_show_them(admin_client):
    senior = factories.staff_user("sen", "senior")
    with time_machine.travel(MOMENT, tick=False):
        case = illegal("https://example.com/admin-listed")
        case_mark_removed(case=case, user=senior, removed_at=MOMENT)
    page = admin_client.get("/admin/accounts/auditentry/").content.decode()
    assert "2026-11-21 15:53:00" in page
    assert "p.m." not in page and "Nov. 21" not in page
