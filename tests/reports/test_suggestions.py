"""Suggestions: earlier verdicts, partner classifications and domain rules, shown with provenance,
accepted with one key, and auto-accepted from rules a senior analyst marked so."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from reports.assessment import Classification, case_assess
from reports.models import Assessment, AssessmentSource, Case, CaseState, Channel, Event, EventKind
from reports.services import report_create
from reports.suggestions import cases_auto_assess, suggestions_for
from routing.models import DomainRule
from tests import factories

pytestmark = pytest.mark.django_db

ILLEGAL_A1: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


def partner_report(url: str, classification: dict, *, urgent: bool = False) -> Case:
    partner, _ = factories.partner_with_key("Hotline Abroad")
    result = report_create(
        channel=Channel.API, partner=partner, urls=[url], classification=classification, urgent=urgent
    )
    case_id = result.accepted[0].case_id
    Case.objects.filter(pk=case_id).update(state=CaseState.AWAITING_ASSESSMENT, resolve_due_at=None)
    return Case.objects.get(pk=case_id)


def test_the_three_sources_in_order_with_provenance(analyst):
    DomainRule.objects.create(suffix="example.com", suggest_verdict="not_illegal", suggest_not_illegal_reason="adult")
    case = partner_report("https://www.example.com/a", {"verdict": "illegal", "category": "A2"})
    # An earlier verdict on the same canonical URL (the case was assessed, then came back).
    case_assess(case=case, user=analyst, classification=Classification(**ILLEGAL_A1))
    Case.objects.filter(pk=case.pk).update(state=CaseState.AWAITING_ASSESSMENT)

    kinds = suggestions_for([case])[case.pk]
    assert [s.kind for s in kinds] == ["earlier_verdict", "partner", "domain_rule"]
    earlier, partner, rule = kinds
    assert earlier.fields["category"] == "A1" and "ana" in earlier.provenance
    assert partner.summary == "Illegal, A2" and "Hotline Abroad" in partner.provenance
    assert rule.summary == "Not illegal (adult)" and rule.provenance == "domain rule for example.com"


def test_the_most_specific_suggesting_rule_wins_and_other_hosts_get_none():
    DomainRule.objects.create(suffix="example.org", suggest_verdict="not_illegal", suggest_not_illegal_reason="adult")
    DomainRule.objects.create(suffix="cdn.example.org", suggest_verdict="illegal", suggest_category="B2")
    near = factories.awaiting_case("https://img.cdn.example.org/1")
    far = factories.awaiting_case("https://www.example.org/1")
    other = factories.awaiting_case("https://example.net/1")
    found = suggestions_for([near, far, other])
    assert found[near.pk][0].fields["category"] == "B2"
    assert found[far.pk][0].fields["not_illegal_reason"] == "adult"
    assert found[other.pk] == []


def test_the_queue_shows_suggestions_and_y_accepts_one(client, analyst):
    case = partner_report("https://example.com/p/1", {"verdict": "illegal", "category": "B1"})
    page = client.get("/")
    assert b"Illegal, B1" in page.content and b"Hotline Abroad" in page.content
    page = client.get(f"/cases/{case.pk}/")
    assert b"Accept (y)" in page.content
    [suggestion] = page.context["suggestions"]
    # What the page's script posts when the analyst presses y: the suggestion's fields over the
    # sticky ones, and its reference.
    response = client.post(
        f"/cases/{case.pk}/assess/",
        {
            "verdict": "illegal",
            "category": "B1",
            "legal_basis": "baseline",
            "media_type": "video",
            "suggestion": suggestion.ref,
        },
    )
    assert response.status_code == 302
    assessment = Assessment.objects.get(case=case)
    assert assessment.source == AssessmentSource.SUGGESTION
    assert assessment.suggestion["kind"] == "partner" and "Hotline Abroad" in assessment.suggestion["provenance"]
    assert Event.objects.get(case=case, kind=EventKind.ASSESSED).data["source"] == "suggestion"


def test_a_posted_verdict_that_differs_from_the_suggestion_is_the_analysts_own(client, analyst):
    case = partner_report("https://example.com/p/2", {"verdict": "illegal", "category": "B1"})
    ref = suggestions_for([case])[case.pk][0].ref
    client.post(
        f"/cases/{case.pk}/assess/",
        {"verdict": "illegal", "category": "A1", "legal_basis": "baseline", "media_type": "image", "suggestion": ref},
    )
    assessment = Assessment.objects.get(case=case)
    assert assessment.source == AssessmentSource.ANALYST and assessment.suggestion == {}


def test_partners_send_a_classification_and_urgency_with_a_report(client):
    _, key = factories.partner_with_key("Hotline Abroad")
    auth = {"HTTP_AUTHORIZATION": f"Api-Key {key}"}
    body = {
        "urls": ["https://example.com/u/1"],
        "classification": {"verdict": "illegal", "category": "A1"},
        "urgent": True,
    }
    response = client.post("/api/v1/reports/", body, content_type="application/json", **auth)
    assert response.status_code == 201, response.content
    case = Case.objects.get(pk=response.json()["urls"][0]["case"])
    assert case.urgent is True
    assert case.reports.get().classification == {"verdict": "illegal", "category": "A1"}

    for wrong, message in [
        ({"verdict": "awful"}, "verdict must be one of"),
        ({"verdict": "not_illegal", "category": "A1"}, "category only go with a verdict of illegal"),
        ({"verdict": "illegal", "colour": "red"}, "unknown field(s) colour"),
        ("illegal", "classification must be an object"),
    ]:
        body = {"urls": ["https://example.com/u/2"], "classification": wrong}
        response = client.post("/api/v1/reports/", body, content_type="application/json", **auth)
        assert response.status_code == 400
        assert message in response.json()["classification"][0]


def test_a_rule_cannot_auto_accept_an_incomplete_or_missing_verdict():
    with pytest.raises(ValidationError) as missing:
        DomainRule(suffix="example.com", auto_accept=True).clean()
    assert "auto_accept" in missing.value.message_dict
    with pytest.raises(ValidationError) as incomplete:
        DomainRule(suffix="example.com", suggest_verdict="illegal", suggest_category="A1", auto_accept=True).clean()
    assert "suggest_media_type" in incomplete.value.message_dict
    with pytest.raises(ValidationError) as contradictory:
        DomainRule(suffix="example.com", suggest_verdict="not_illegal", suggest_category="A1").clean()
    assert "suggest_category" in contradictory.value.message_dict
    # Incomplete is fine for a plain suggestion: the analyst completes it.
    DomainRule(suffix="example.com", suggest_verdict="illegal", suggest_category="A1").clean()
    DomainRule(suffix="example.com", auto_accept=True, **{f"suggest_{k}": v for k, v in ILLEGAL_A1.items()}).clean()


def test_auto_accepting_rules_record_automatic_verdicts_once():
    DomainRule.objects.create(
        suffix="auto.example.com", auto_accept=True, **{f"suggest_{k}": v for k, v in ILLEGAL_A1.items()}
    )
    DomainRule.objects.create(
        suffix="manual.example.com", suggest_verdict="not_illegal", suggest_not_illegal_reason="adult"
    )
    auto = factories.awaiting_case("https://x.auto.example.com/1")
    manual = factories.awaiting_case("https://manual.example.com/1")
    assert cases_auto_assess(case_ids=[auto.pk, manual.pk]) == 1
    assert cases_auto_assess(case_ids=[auto.pk, manual.pk]) == 0  # already assessed
    auto.refresh_from_db()
    manual.refresh_from_db()
    assert auto.state == CaseState.ILLEGAL and manual.state == CaseState.AWAITING_ASSESSMENT
    assessment = Assessment.objects.get(case=auto)
    assert assessment.source == AssessmentSource.AUTOMATIC and assessment.analyst is None
    assert assessment.suggestion["ref"].startswith("domain_rule:")
    event = Event.objects.get(case=auto, kind=EventKind.ASSESSED)
    assert event.actor_type == "system" and event.data["source"] == "automatic"


def test_the_resolve_task_auto_accepts_after_resolution(fake_dns, recorded_registry):
    """Through the task the worker runs: report, resolve, automatic verdict."""
    from routing.tasks import resolve_cases

    fake_dns.add("www.example.com", "A", "62.239.237.1")
    DomainRule.objects.create(
        suffix="example.com", auto_accept=True, **{f"suggest_{k}": v for k, v in ILLEGAL_A1.items()}
    )
    result = report_create(channel=Channel.API, urls=["https://www.example.com/auto"])
    case_id = result.accepted[0].case_id
    resolve_cases.run([case_id])
    case = Case.objects.get(pk=case_id)
    assert case.state == CaseState.ILLEGAL and case.verdict == "illegal"
    assert Assessment.objects.get(case=case).source == AssessmentSource.AUTOMATIC


def test_a_case_with_a_verdict_is_not_offered_that_verdict_again(client, analyst):
    DomainRule.objects.create(suffix="example.com", suggest_verdict="not_illegal", suggest_not_illegal_reason="adult")
    case = partner_report("https://www.example.com/same", dict(ILLEGAL_A1))
    case_assess(case=case, user=analyst, classification=Classification(**ILLEGAL_A1))
    case.refresh_from_db()
    assert case.state == CaseState.ILLEGAL

    # Neither its own latest assessment nor the partner's identical classification: only the rule,
    # which says something else.
    found = suggestions_for([case])[case.pk]
    assert [(s.kind, s.summary) for s in found] == [("domain_rule", "Not illegal (adult)")]
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "assessed before by ana" not in page

    # Awaiting a new assessment (the content came back), the earlier verdict is a suggestion again.
    Case.objects.filter(pk=case.pk).update(state=CaseState.AWAITING_ASSESSMENT)
    case.refresh_from_db()
    assert [s.kind for s in suggestions_for([case])[case.pk]] == ["earlier_verdict", "partner", "domain_rule"]
