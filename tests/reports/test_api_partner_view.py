"""A partner sees its own reports and the case's progress through the API, never the hotline's
internal work; staff keep the full view, and who reported a case stays with senior analysts.

The world is built as production builds it: two partners report the same URL through the API (one
with credentials in it), an analyst gives a police-first verdict with notes, the police report and,
after a senior's release, the provider notice go out through the mail backend, the provider replies
by mail and disputes the verdict through the notice's link."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.api_auth import staff_token_create
from reports.assessment import Classification, case_assess
from reports.models import Case, CaseState, Partner
from routing.checks.tracking import case_mark_removed
from routing.models import Notice, NoticeCase, NoticeKind, Provider
from routing.notices.planning import cases_plan_notices
from routing.notices.replies import notice_message_file
from routing.notices.responses import notice_respond, police_hold_release
from routing.notices.sending import notices_send_due
from tests import factories

pytestmark = pytest.mark.django_db

URL = "https://files.example.com/a/1.jpg"
PASSWORD = "secretpw"
NOTE = "Frame 3 shows a school badge, tell the police liaison"
ABUSE = "abuse-desk@secret-hosting.example"
DISPUTE = "This is a page from a medical textbook"
REPLY_SENDER = "jane.doe@secret-hosting.example"
REPLY_SUBJECT = "Ticket 88123 opened by our legal team"
BRAVO_REF = "BRAVO-CRAWL-0042"
BRAVO_EMAIL = "analyst@bravo.example"


@pytest.fixture(autouse=True)
def _mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_POLICE_EMAIL = "reports@police.example"
    settings.SCART_NOTICE_WORKING_HOURS = ""
    settings.DEFAULT_FROM_EMAIL = "scart@hotline.example"
    settings.SCART_NOTICE_REPLY_TO = "notices@hotline.example"


@dataclass
class World:
    case: Case
    alpha: Partner
    alpha_client: APIClient
    alpha_report: dict[str, Any]
    bravo: Partner
    bravo_client: APIClient
    bravo_report: dict[str, Any]
    analyst: Any
    senior: Any


def partner_client(name: str) -> tuple[Partner, APIClient]:
    partner, key = factories.partner_with_key(name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return partner, client


def staff_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token_create(user=user, name='test')[1]}")
    return client


def post_report(client: APIClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/reports/", body, format="json")
    assert response.status_code == 201, response.content
    data: dict[str, Any] = response.json()
    return data


def send_due() -> None:
    notices_send_due(flush=True, reresolve=False)


@pytest.fixture
def world() -> World:
    alpha, alpha_client = partner_client("Alpha Hotline")
    bravo, bravo_client = partner_client("Bravo Crawler")
    alpha_report = post_report(
        alpha_client, urls=[f"https://user:{PASSWORD}@files.example.com/a/1.jpg"], external_ref="ALPHA-4711"
    )
    bravo_report = post_report(
        bravo_client,
        urls=["https://FILES.example.com/a/1.jpg#top"],
        external_ref=BRAVO_REF,
        reporter_email=BRAVO_EMAIL,
        description="found by the Bravo crawler",
    )
    case = Case.objects.get(pk=alpha_report["urls"][0]["case"])
    # Resolution is another stage's work (tests/routing/test_resolution.py): as tests/factories.py
    # does, the case is taken as resolved to a provider in the hotline's country.
    provider = Provider.objects.create(name="Secret Hosting BV", abuse_emails=[ABUSE])
    Case.objects.filter(pk=case.pk).update(
        state=CaseState.AWAITING_ASSESSMENT, resolve_due_at=None, hosting_country="NL", provider=provider
    )
    case.refresh_from_db()
    analyst = factories.staff_user("ann", role="analyst")
    senior = factories.staff_user("sam", role="senior")
    case_assess(
        case=case,
        user=analyst,
        classification=Classification(
            verdict="illegal",
            legal_basis="baseline",
            category="A1",
            media_type="image",
            police_first=True,
            police_reason="immediate_danger",
            notes=NOTE,
        ),
    )
    cases_plan_notices(case_ids=[case.pk])
    send_due()  # the police first
    police_hold_release(case=case, user=senior)
    cases_plan_notices(case_ids=[case.pk])
    send_due()  # then the provider
    assert [m.to for m in mail.outbox] == [["reports@police.example"], [ABUSE]]
    notice = Notice.objects.get(kind=NoticeKind.PROVIDER, items__case=case)
    reply = EmailMessage()
    reply["From"] = f"Jane Doe <{REPLY_SENDER}>"
    reply["To"] = "notices@hotline.example"
    reply["Subject"] = f"RE: [{notice.reference}] {REPLY_SUBJECT}"
    reply["Message-ID"] = "<reply.1@secret-hosting.example>"
    reply["In-Reply-To"] = notice.message_id
    reply.set_content("We are looking into it.")
    assert notice_message_file(reply, authenticated=True) is not None
    item = NoticeCase.objects.get(notice=notice, case=case)
    assert notice_respond(notice=notice, answers={item.pk: ("disputed", DISPUTE)})
    case.refresh_from_db()
    return World(
        case=case,
        alpha=alpha,
        alpha_client=alpha_client,
        alpha_report=alpha_report,
        bravo=bravo,
        bravo_client=bravo_client,
        bravo_report=bravo_report,
        analyst=analyst,
        senior=senior,
    )


def internal_values(w: World) -> list[str]:
    """What only the hotline's staff may read about the case."""
    return [
        NOTE,
        "police",
        "immediate_danger",
        ABUSE,
        "Secret Hosting",
        DISPUTE,
        REPLY_SENDER,
        REPLY_SUBJECT,
        f"user:{w.analyst.pk}",
        f"user:{w.senior.pk}",
    ]


def test_a_partner_sees_the_progress_and_its_own_report_and_nothing_internal(world):
    w = world
    response = w.alpha_client.get(f"/api/v1/cases/{w.case.pk}/")
    assert response.status_code == 200
    body = response.json()
    text = json.dumps(body)
    for secret in [
        *internal_values(w),
        PASSWORD,
        BRAVO_REF,
        BRAVO_EMAIL,
        "Bravo",
        w.bravo_report["report"]["reference"],
        f"partner:{w.bravo.pk}",
        "FILES.example.com",  # Bravo's spelling of the URL
    ]:
        assert secret not in text, secret
    assert body["canonical_url"] == URL
    assert body["status"] == "notified"
    assert body["assessed_at"] is not None and body["notified_at"] is not None and body["removed_at"] is None
    (own,) = body["reports"]
    assert own == {
        "reference": w.alpha_report["report"]["reference"],
        "external_ref": "ALPHA-4711",
        "received_at": own["received_at"],
        "url": URL,
        "had_credentials": True,
    }
    # The list shows each case the same way.
    (listed,) = w.alpha_client.get("/api/v1/cases/").json()["results"]
    assert listed == body


def test_the_other_partner_sees_its_own_spelling_and_not_the_credentials_of_the_first(world):
    w = world
    body = w.bravo_client.get(f"/api/v1/cases/{w.case.pk}/").json()
    text = json.dumps(body)
    for secret in [*internal_values(w), PASSWORD, "ALPHA-4711", w.alpha_report["report"]["reference"], "user:"]:
        assert secret not in text, secret
    assert [(r["external_ref"], r["url"], r["had_credentials"]) for r in body["reports"]] == [
        (BRAVO_REF, "https://FILES.example.com/a/1.jpg#top", False)
    ]


def test_a_partner_learns_of_the_removal(world):
    w = world
    case_mark_removed(case=w.case, user=w.senior)
    body = w.alpha_client.get(f"/api/v1/cases/{w.case.pk}/").json()
    assert body["status"] == "removed" and body["removed_at"] is not None


def test_a_partner_filters_by_the_time_of_its_own_reports(world):
    w = world
    received = w.bravo_report["report"]["received_at"]
    # Alpha reported first: a bound after its own report but before Bravo's finds nothing for Alpha.
    assert w.alpha_client.get("/api/v1/cases/", {"received_after": received}).json()["results"] == []
    assert [c["id"] for c in w.bravo_client.get("/api/v1/cases/", {"received_after": received}).json()["results"]] == [
        w.case.pk
    ]


def test_a_partner_filters_by_the_status_it_sees(world):
    w = world
    posted = w.alpha_client.post("/api/v1/reports/", {"urls": ["https://other.example.com/x"]}, format="json")
    fresh = posted.json()["urls"][0]["case"]

    def listed(state: str) -> list[int]:
        response = w.alpha_client.get("/api/v1/cases/", {"state": state})
        assert response.status_code == 200, response.json()
        return [c["id"] for c in response.json()["results"]]

    assert listed("received") == [fresh]
    assert listed("notified") == [w.case.pk]
    # The states behind "received" are the hotline's own words, not the partner's.
    for internal in ("new", "awaiting_assessment"):
        response = w.alpha_client.get("/api/v1/cases/", {"state": internal})
        assert response.status_code == 400 and "state" in response.json()


def test_a_senior_analyst_sees_everything_and_who_reported(world):
    w = world
    body = staff_client(w.senior).get(f"/api/v1/cases/{w.case.pk}/").json()
    text = json.dumps(body)
    for value in [*internal_values(w), BRAVO_REF, BRAVO_EMAIL, f"partner:{w.bravo.pk}", f"partner:{w.alpha.pk}"]:
        assert value in text, value
    assert PASSWORD not in text
    assert body["had_credentials"] is True and body["original_url"] == URL
    assert [(r["partner"], r["partner_name"], r["external_ref"], r["url"]) for r in body["reports"]] == [
        (w.alpha.pk, w.alpha.name, "ALPHA-4711", URL),
        (w.bravo.pk, w.bravo.name, BRAVO_REF, "https://FILES.example.com/a/1.jpg#top"),
    ]


def test_an_analyst_sees_the_internal_work_but_not_who_reported(world):
    w = world
    client = staff_client(w.analyst)
    body = client.get(f"/api/v1/cases/{w.case.pk}/").json()
    text = json.dumps(body)
    for value in internal_values(w):
        assert value in text, value
    for hidden in [BRAVO_REF, "ALPHA-4711", BRAVO_EMAIL, f"partner:{w.bravo.pk}", f"partner:{w.alpha.pk}"]:
        assert hidden not in text, hidden
    assert [(r["reference"], r["partner"], r["partner_name"], r["reporter_email"]) for r in body["reports"]] == [
        (w.alpha_report["report"]["reference"], None, None, None),
        (w.bravo_report["report"]["reference"], None, None, None),
    ]
    assert {e["actor"] for e in body["timeline"] if e["kind"] == "reported"} == {"partner"}
    (listed,) = client.get("/api/v1/cases/").json()["results"]
    assert listed["report_count"] == 2 and "timeline" not in listed


def test_the_schema_documents_the_partner_and_the_staff_views(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    partner_case = components["PartnerCase"]["properties"]
    assert set(partner_case) == {
        "id",
        "canonical_url",
        "url_sha256",
        "host",
        "registrable_domain",
        "status",
        "assessed_at",
        "notified_at",
        "removed_at",
        "reports",
    }
    assert set(components["PartnerReport"]["properties"]) == {
        "reference",
        "external_ref",
        "received_at",
        "url",
        "had_credentials",
    }
    assert {"timeline", "reports", "resolution"} <= set(components["StaffCaseDetail"]["properties"])
    detail = schema["paths"]["/api/v1/cases/{id}/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert components[detail["schema"]["$ref"].rsplit("/", 1)[1]]["oneOf"] == [
        {"$ref": "#/components/schemas/PartnerCase"},
        {"$ref": "#/components/schemas/StaffCaseDetail"},
    ]


def test_a_forged_removal_reply_stays_invisible_to_partners_and_changes_no_status(world):
    # A reply nobody authenticated (a forged From) is kept for the analysts only, marked unverified.
    w = world
    notice = Notice.objects.get(kind=NoticeKind.PROVIDER, items__case=w.case)
    before = w.alpha_client.get(f"/api/v1/cases/{w.case.pk}/").json()
    forged = EmailMessage()
    forged["From"] = f"Abuse Desk <{ABUSE}>"
    forged["Subject"] = f"RE: [{notice.reference}] FORGED-REMOVAL-7731"
    forged["Message-ID"] = "<forged.1@elsewhere.example>"
    forged["In-Reply-To"] = notice.message_id
    forged.set_content("All removed, FORGED-REMOVAL-7731, close the case.")

    record = notice_message_file(forged, authenticated=False)

    assert record is not None and record.unverified
    for client in (w.alpha_client, w.bravo_client):
        detail = client.get(f"/api/v1/cases/{w.case.pk}/")
        listed = client.get("/api/v1/cases/")
        assert "FORGED-REMOVAL-7731" not in detail.content.decode() + listed.content.decode()
    assert w.alpha_client.get(f"/api/v1/cases/{w.case.pk}/").json() == before
    w.case.refresh_from_db()
    assert w.case.state == CaseState.NOTIFIED
