"""What the services say reaches a Dutch reader in Dutch: refusals (a case someone else has open,
a case past assessment, a notice action the notice's state refuses), the field errors of a verdict
(which code compares by their codes, never by their English text), the statistics filters' errors
(the API keeps them English, with a code), and the audit trail's summaries and the timeline's
stored reasons, put in words when shown. Entries written before summaries had codes are shown as
they were stored."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import AuditAction, AuditEntry, StaffProfile
from accounts.services import AuditContext, audit_record
from reports.assessment import Classification, case_assess, case_open
from reports.cases.classification import AssessmentInvalid
from reports.cases.handling import cases_assign
from reports.cases.services import StateConflict
from reports.models import Case, CaseState
from routing.checks.tracking import case_mark_removed
from routing.models import DomainRule
from routing.notices.actions import notice_cancel, notice_send_now
from routing.notices.responses import NoticeNotHandled
from tests import factories
from tests.conftest import staff_login
from tests.workspace.test_notice_actions import queued, smtp  # noqa: F401  # smtp: a fixture
from tests.world import ILLEGAL

pytestmark = pytest.mark.django_db


def dutch(username: str, role: str) -> tuple[Client, Any]:
    user = factories.staff_user(username, role)
    StaffProfile.objects.update_or_create(user=user, defaults={"language": "nl"})
    return staff_login(Client(), user), user


def verdict(case: Case, user: Any) -> None:
    case_assess(case=case, user=user, classification=Classification(**dict[str, Any](ILLEGAL)))


def test_refusals_of_the_services_are_read_in_dutch_and_in_english_for_programs():
    client, anke = dutch("anke", "analyst")
    other = factories.staff_user("bert", "analyst")
    held = factories.awaiting_case("https://a.example.com/held")
    case_open(case=held, user=other)
    page = client.post(reverse("workspace-assess", args=[held.pk]), ILLEGAL)
    assert page.status_code == 409 and "bert heeft deze zaak open" in page.content.decode()

    done = factories.awaiting_case("https://a.example.com/done")
    verdict(done, anke)
    case_mark_removed(case=Case.objects.get(pk=done.pk), user=anke)
    with pytest.raises(StateConflict) as caught:
        verdict(Case.objects.get(pk=done.pk), anke)
    refused = caught.value
    assert refused.code == "not_assessable"
    with translation.override("nl"):
        assert str(refused) == f"zaak {done.pk} is gesloten: verwijderd: die kan nu niet beoordeeld worden"
    assert refused.english() == f"case {done.pk} is closed: removed: it cannot be assessed now"


def test_a_notice_action_refused_is_said_in_dutch(smtp, fake_dns):  # noqa: F811
    client, sen = dutch("saskia", "senior")
    notice = queued(fake_dns)
    notice_cancel(notice=notice, user=sen, reason="verkeerde batch")
    response = client.post(reverse("notices-action", args=[notice.pk, "send-now"]), follow=True)
    page = response.content.decode()
    assert "alleen een notificatie in de wachtrij met zaken, die geen verzender vasthoudt" in page
    assert "only a queued notice" not in page
    with pytest.raises(NoticeNotHandled) as caught:
        notice_send_now(notice=notice, user=sen)
    assert caught.value.code == "notice_not_handled"


def test_field_errors_carry_codes_and_a_dutch_rule_form_still_refuses_a_contradiction():
    with translation.override("nl"):
        with pytest.raises(AssessmentInvalid) as caught:
            Classification(verdict="not_illegal", category="A1").cleaned()
        assert caught.value.codes() == {"category": "only_illegal", "not_illegal_reason": "required"}
        assert caught.value.messages()["category"] == "alleen bij het oordeel illegaal"
        assert caught.value.english_errors()["category"] == "only for a verdict of illegal"
        # The rule's check compares codes: in Dutch a contradiction is still refused...
        rule = DomainRule(suffix="example.com", suggest_verdict="not_illegal", suggest_category="A1")
        with pytest.raises(ValidationError) as refused:
            rule.clean()
        assert refused.value.message_dict == {"suggest_category": ["alleen bij het oordeel illegaal"]}
        # ...and a field left to the analyst is still allowed.
        DomainRule(suffix="example.org", suggest_verdict="illegal", suggest_category="A1").clean()


def test_statistics_filter_errors_are_dutch_on_the_page_and_stable_english_in_the_api():
    client, _sen = dutch("sanne", "senior")
    page = client.get(reverse("stats-dashboard"), {"country": "NLD"})
    assert page.status_code == 400
    assert "country: &#x27;NLD&#x27; is geen landcode van twee letters" in page.content.decode()
    api = client.get("/api/v1/stats/takedown/", {"group_by": "weekday"}, HTTP_ACCEPT_LANGUAGE="nl")
    assert api.status_code == 400
    assert api.json() == {
        "detail": "group_by: 'weekday' is not one of " + api.json()["detail"].split(" is not one of ")[1],
        "code": "not_a_choice",
        "field": "group_by",
    }


def test_the_audit_view_and_the_case_page_in_dutch_have_no_english_summary(smtp, fake_dns):  # noqa: F811
    client, sen = dutch("saskia", "senior")
    ana = factories.staff_user("ana", "analyst")
    case = factories.awaiting_case("https://a.example.com/one")
    verdict(case, ana)
    case_mark_removed(case=Case.objects.get(pk=case.pk), user=sen)
    cases_assign(case_ids=[case.pk], assignee=ana, audit=AuditContext(user=sen))
    cancelled = queued(fake_dns)
    notice_cancel(notice=cancelled, user=sen, reason="verkeerde batch")
    notice_send_now(notice=queued(fake_dns), user=sen)
    # An entry from before summaries had codes: shown as stored.
    audit_record(action=AuditAction.EXPORTED, actor=sen, object_type="queue", summary="queue export: 3 cases")

    page = client.get(reverse("audit-list"))
    html = page.content.decode()
    summaries = [r.summary for r in page.context["rows"]]
    for english in (
        "password accepted",
        "verdict illegal",
        "marked removed at",
        "cases assigned to",
        "cancelled notice",
        "asked for notice",
        "Taken out of notice",
        "cancelled by",
    ):
        assert english not in html, english
    assert f"notificatie {cancelled.reference} geannuleerd" in summaries
    assert "oordeel Illegaal (Analist)" in summaries
    assert "wachtwoord geaccepteerd" in summaries
    assert "queue export: 3 cases" in summaries  # the old row, readable as it was
    coded = AuditEntry.objects.exclude(data__summary_code=None)
    with translation.override("nl"):
        assert all(e.summary_text() != e.summary for e in coded)

    dropped_case = cancelled.items.get().case_id
    timeline = client.get(reverse("workspace-case", args=[dropped_case])).content.decode()
    assert f"Uit notificatie {cancelled.reference} gehaald: geannuleerd door saskia: verkeerde batch" in timeline
    assert "cancelled by" not in timeline
    assert Case.objects.get(pk=case.pk).state == CaseState.REMOVED
