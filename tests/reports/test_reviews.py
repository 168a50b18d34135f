"""Second opinions (which verdicts get one, what a senior's decision does), the bulk action and
the audited queue export."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import AuditAction, AuditEntry, StaffProfile
from reports.assessment import Classification, case_assess
from reports.models import (
    Assessment,
    AssessmentSource,
    Case,
    CaseState,
    Channel,
    Event,
    EventKind,
    Review,
    ReviewReason,
    ReviewState,
)
from reports.reviews import agreement_rates, cases_held_for_review
from reports.services import report_create
from tests import factories
from tests.conftest import staff_client, staff_login

pytestmark = pytest.mark.django_db

ILLEGAL = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


def assess(case: Any, user: Any, **fields: Any) -> Any:
    return case_assess(case=case, user=user, classification=Classification(**(fields or ILLEGAL)))


def test_every_verdict_of_an_analyst_in_training_is_reviewed_before_notices():
    trainee = factories.staff_user("trainee")
    StaffProfile.objects.create(user=trainee, in_training=True)
    case = factories.awaiting_case("https://example.com/t/1")
    assess(case, trainee)
    review = Review.objects.get(case=case)
    assert (review.reason, review.blocking, review.state) == (ReviewReason.TRAINING, True, ReviewState.OPEN)
    assert cases_held_for_review([case.pk]) == {case.pk}
    assert Event.objects.get(case=case, kind=EventKind.REVIEW_REQUESTED).data["reason"] == "training"


def test_not_illegal_against_a_partners_illegal_classification_is_reviewed():
    analyst = factories.staff_user("ana")
    partner, _ = factories.partner_with_key("Hotline Abroad")
    result = report_create(
        channel=Channel.API,
        partner=partner,
        urls=["https://example.com/p/1", "https://example.com/p/2"],
        classification={"verdict": "illegal", "category": "A1"},
    )
    first, second = (Case.objects.get(pk=a.case_id) for a in result.accepted)
    Case.objects.filter(pk__in=[first.pk, second.pk]).update(state=CaseState.AWAITING_ASSESSMENT)
    first.refresh_from_db()
    second.refresh_from_db()
    assess(first, analyst, verdict="not_illegal", not_illegal_reason="adult")
    assess(second, analyst)  # agrees with the partner: nothing to review
    assert list(Review.objects.values_list("case_id", "reason", "blocking")) == [
        (first.pk, ReviewReason.PARTNER_DISAGREES, True)
    ]


def test_a_share_of_verdicts_is_sampled_without_holding_notices(settings):
    analyst = factories.staff_user("ana")
    settings.SCART_REVIEW_SHARE = 0
    assess(factories.awaiting_case("https://example.com/s/1"), analyst)
    assert not Review.objects.exists()
    settings.SCART_REVIEW_SHARE = 1
    case = factories.awaiting_case("https://example.com/s/2")
    assess(case, analyst)
    review = Review.objects.get()
    assert review.reason == ReviewReason.SAMPLE and review.blocking is False
    assert cases_held_for_review([case.pk]) == set()


@pytest.fixture
def trainee_verdict():
    trainee = factories.staff_user("trainee")
    StaffProfile.objects.create(user=trainee, in_training=True)
    case = factories.awaiting_case("https://example.com/r/1")
    assess(case, trainee)
    return Review.objects.get(case=case)


def test_a_senior_agrees_with_one_key(client, senior, trainee_verdict):
    queue = client.get("/reviews/")
    assert queue.status_code == 200 and b"https://example.com/r/1" in queue.content
    page = client.get(f"/reviews/{trainee_verdict.pk}/")
    assert b"Agree with illegal, A1 (a)" in page.content
    response = client.post(f"/reviews/{trainee_verdict.pk}/decide/", {"agree": "1"})
    assert response.status_code == 302 and response["Location"] == "/reviews/"
    trainee_verdict.refresh_from_db()
    assert trainee_verdict.state == ReviewState.AGREED and trainee_verdict.reviewer == senior
    assert trainee_verdict.decision is None
    decided = Event.objects.get(kind=EventKind.REVIEW_DECIDED)
    assert decided.data["agreed"] is True and decided.actor_user == senior
    assert AuditEntry.objects.filter(action=AuditAction.REVIEW_DECIDED).count() == 1
    assert cases_held_for_review([trainee_verdict.case_id]) == set()
    # Decided once: a second decision is a conflict, not a second row.
    again = client.post(f"/reviews/{trainee_verdict.pk}/decide/", {"agree": "1"})
    assert again.status_code == 409


def test_a_disagreeing_senior_decides_and_both_opinions_stay(client, senior, trainee_verdict):
    response = client.post(
        f"/reviews/{trainee_verdict.pk}/decide/", {"verdict": "not_illegal", "not_illegal_reason": "adult"}
    )
    assert response.status_code == 302
    trainee_verdict.refresh_from_db()
    case = Case.objects.get(pk=trainee_verdict.case_id)
    assert trainee_verdict.state == ReviewState.OVERRULED
    assert case.state == CaseState.NOT_ILLEGAL and case.verdict == "not_illegal"
    verdicts = list(Assessment.objects.filter(case=case).values_list("verdict", "source"))
    assert verdicts == [("illegal", AssessmentSource.ANALYST), ("not_illegal", AssessmentSource.REVIEW)]
    kinds = list(Event.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds.count("assessed") == 2 and "review_decided" in kinds
    # The senior's own verdict asks for no review of itself.
    assert Review.objects.count() == 1
    [row] = [r for r in agreement_rates() if r["analyst"] == "trainee"]
    assert (row["decided"], row["agreed"], row["rate"]) == (1, 0, 0.0)


def test_agreement_is_on_verdict_and_category(client, senior, trainee_verdict):
    # Same verdict and category, another media type: agreed, and the correction recorded.
    client.post(f"/reviews/{trainee_verdict.pk}/decide/", {**ILLEGAL, "media_type": "video"})
    trainee_verdict.refresh_from_db()
    assert trainee_verdict.state == ReviewState.AGREED
    assert trainee_verdict.decision is not None and trainee_verdict.decision.media_type == "video"
    page = client.get("/reviews/")
    assert page.context["rates"][0]["rate"] == 1.0


def test_nobody_reviews_their_own_verdict(client, senior):
    StaffProfile.objects.create(user=senior, in_training=True)
    case = factories.awaiting_case("https://example.com/o/1")
    assess(case, senior)
    review = Review.objects.get()
    assert list(client.get("/reviews/").context["reviews"]) == []
    assert client.post(f"/reviews/{review.pk}/decide/", {"agree": "1"}).status_code == 403


def test_an_invalid_decision_is_a_400_with_reasons(client, senior, trainee_verdict):
    response = client.post(f"/reviews/{trainee_verdict.pk}/decide/", {"verdict": "illegal"})
    assert response.status_code == 400
    assert "category" in response.context["errors"]
    trainee_verdict.refresh_from_db()
    assert trainee_verdict.state == ReviewState.OPEN


def test_analysts_cannot_open_reviews(client, analyst, trainee_verdict):
    assert client.get("/reviews/").status_code == 403
    assert client.get(f"/reviews/{trainee_verdict.pk}/").status_code == 403
    assert client.post(f"/reviews/{trainee_verdict.pk}/decide/", {"agree": "1"}).status_code == 403


def test_a_newer_verdict_supersedes_an_open_review(trainee_verdict):
    other = factories.staff_user("other")
    case = Case.objects.get(pk=trainee_verdict.case_id)
    assess(case, other, verdict="not_illegal", not_illegal_reason="adult")
    trainee_verdict.refresh_from_db()
    assert trainee_verdict.state == ReviewState.SUPERSEDED


# Bulk action -------------------------------------------------------------------------------------


def test_bulk_applies_one_verdict_to_the_domain_after_confirmation(client):
    analyst = factories.staff_user("ana")
    staff_login(client, analyst)
    cases = [factories.awaiting_case(f"https://{h}.example.com/{n}") for h, n in [("a", 1), ("b", 2), ("c", 3)]]
    elsewhere = factories.awaiting_case("https://example.net/1")
    held = factories.awaiting_case("https://d.example.com/4")
    holder = Client()
    staff_login(holder, factories.staff_user("holder"))
    holder.get(f"/cases/{held.pk}/")  # someone else has it open

    form = {**ILLEGAL, "bulk_verdict": "illegal", "scope": "domain"}
    confirm = client.post(f"/cases/{cases[0].pk}/bulk/", form)
    assert confirm.status_code == 200 and confirm.context["count"] == 4
    assert b"https://b.example.com/2" in confirm.content and b"example.net" not in confirm.content
    assert not Assessment.objects.exists()  # nothing recorded before the confirmation

    done = client.post(f"/cases/{cases[0].pk}/bulk/", {**form, "confirm": "1"})
    assert done.status_code == 302
    assessed = Assessment.objects.filter(source=AssessmentSource.BULK)
    assert sorted(assessed.values_list("case_id", flat=True)) == [c.pk for c in cases]
    assert Case.objects.get(pk=elsewhere.pk).state == CaseState.AWAITING_ASSESSMENT
    assert Case.objects.get(pk=held.pk).state == CaseState.AWAITING_ASSESSMENT
    messages = [str(m) for m in done.wsgi_request._messages]
    assert "recorded on 3 cases" in messages[0] and "Skipped 1" in messages[1]


def test_bulk_on_the_same_page_ignores_other_paths_and_checks_the_verdict(client, analyst):
    base = factories.awaiting_case("https://example.com/gallery?id=1")
    same = factories.awaiting_case("https://example.com/gallery?id=2")
    factories.awaiting_case("https://example.com/gallery2?id=3")
    confirm = client.post(
        f"/cases/{base.pk}/bulk/", {"bulk_verdict": "not_illegal", "not_illegal_reason": "adult", "scope": "page"}
    )
    assert sorted(c.pk for c in confirm.context["targets"]) == [base.pk, same.pk]
    bad = client.post(f"/cases/{base.pk}/bulk/", {"bulk_verdict": "illegal", "scope": "page"})
    assert bad.status_code == 400 and "category" in bad.context["errors"]
    assert client.post(f"/cases/{base.pk}/bulk/", {"bulk_verdict": "illegal"}).status_code == 400


# Export ------------------------------------------------------------------------------------------


def test_the_queue_export_is_for_seniors_and_audited(client, analyst):
    factories.awaiting_case("https://example.com/e/1")
    assert client.get("/export/queue.csv").status_code == 403
    response = staff_client("sen", "senior").get("/export/queue.csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "https://example.com/e/1" in response.content.decode()
    entry = AuditEntry.objects.get(action=AuditAction.EXPORTED)
    assert entry.actor_name == "sen" and entry.data["rows"] == 1


def test_the_queue_export_cannot_smuggle_spreadsheet_formulas(client, senior):
    from routing.models import Provider

    provider = Provider.objects.create(name="=HYPERLINK(1)", key="test:formula", abuse_emails=["a@x.example"])
    factories.awaiting_case("https://example.com/e/2", provider=provider)
    text = client.get("/export/queue.csv").content.decode()
    assert "'=HYPERLINK(1)" in text
    assert ",=HYPERLINK(1)" not in text
