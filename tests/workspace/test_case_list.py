"""The case list: filters, the allow-listed sort, keyset pages that stay put while cases arrive, the
CSV export, and each bulk action end to end through the service that records and audits it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEntry, StaffProfile
from reports.assessment import Classification, case_assess
from reports.models import Assessment, AssessmentSource, Case, CaseState, Channel, EventKind
from routing.models import CaseAddress
from tests import factories
from tests.conftest import staff_login
from tests.workspace.conftest import BT, MX, reported
from workspace import caselist

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


def listed(client, **params: str) -> list[int]:
    page = client.get(reverse("cases-list"), params)
    assert page.status_code == 200
    return [row.pk for row in page.context["rows"]]


@pytest.fixture
def people(db):
    analyst = factories.staff_user("ana")
    senior = factories.staff_user("sen", "senior")
    trainee = factories.staff_user("tra")
    StaffProfile.objects.create(user=trainee, in_training=True)
    return {"analyst": analyst, "senior": senior, "trainee": trainee}


def test_the_filters_narrow_the_list_and_closed_cases_are_there_like_any_other(client, people, zone):
    partner, _key = factories.partner_with_key("Hotline Abroad")
    img, net = reported(["https://img.example.com/1", "https://example.net/2"], partner=partner)
    [form] = reported(["https://img.example.com/form"], Channel.WEB_FORM, reporter_email="a@example.org")
    case_assess(case=img, user=people["analyst"], classification=Classification(**ILLEGAL, ai_generated="suspected"))
    case_assess(
        case=form,
        user=people["analyst"],
        classification=Classification(verdict="not_illegal", not_illegal_reason="adult"),
    )
    staff_login(client, people["analyst"])

    assert set(listed(client)) == {img.pk, net.pk, form.pk}
    assert listed(client, state="not_illegal") == [form.pk]
    assert listed(client, verdict="illegal") == [img.pk]
    assert listed(client, category="A1") == [img.pk]
    assert listed(client, ai="suspected") == [img.pk] and listed(client, ai="yes") == []
    assert set(listed(client, country="gb")) == {img.pk, form.pk}
    assert listed(client, asn=f"AS{net.asn}") == [net.pk]
    assert img.provider is not None
    assert set(listed(client, provider=img.provider.name.upper())) == {img.pk, form.pk}
    assert listed(client, channel="web_form") == [form.pk]
    assert set(listed(client, q="img.example.com")) == {img.pk, form.pk}
    assert listed(client, q="200.57.141.0/24") == [net.pk]
    today = timezone.localdate().isoformat()
    assert len(listed(client, received_from=today, received_to=today)) == 3
    assert listed(client, received_to=(timezone.localdate() - timedelta(days=1)).isoformat()) == []
    assert listed(client, changed_from=today, state="illegal") == [img.pk]
    # Analysts see that a partner reported, not which; the partner filter is ignored for them.
    page = client.get(reverse("cases-list"))
    assert b"Hotline Abroad" not in page.content and b"a partner" in page.content
    assert set(listed(client, partner=str(partner.pk))) == {img.pk, net.pk, form.pk}
    staff_login(client, people["senior"])
    assert set(listed(client, partner=str(partner.pk))) == {img.pk, net.pk}
    assert b"Hotline Abroad" in client.get(reverse("cases-list")).content


def test_the_sort_is_allow_listed_and_pages_stay_put_while_cases_arrive(client, people, zone, monkeypatch):
    monkeypatch.setattr(caselist, "PAGE_SIZE", 2)
    start = timezone.now() - timedelta(days=1)
    ids = []
    for n in range(5):
        with time_machine.travel(start + timedelta(minutes=n), tick=False):
            ids += [c.pk for c in reported([f"https://img.example.com/{n}"])]
    staff_login(client, people["analyst"])

    first = client.get(reverse("cases-list"))
    assert [r.pk for r in first.context["rows"]] == [ids[4], ids[3]]
    # A new case arrives between two pages: the next page goes on where the first ended.
    reported(["https://img.example.com/late"])
    second = client.get(f"{reverse('cases-list')}?{first.context['next_query']}")
    assert [r.pk for r in second.context["rows"]] == [ids[2], ids[1]]
    third = client.get(f"{reverse('cases-list')}?{second.context['next_query']}")
    assert [r.pk for r in third.context["rows"]] == [ids[0]] and third.context["next_query"] == ""

    oldest = client.get(reverse("cases-list"), {"sort": "received"})
    assert [r.pk for r in oldest.context["rows"]] == ids[:2]
    following = client.get(f"{reverse('cases-list')}?{oldest.context['next_query']}")
    assert [r.pk for r in following.context["rows"]] == ids[2:4]
    # A sort outside the list, or a cursor that is not one, falls back instead of failing.
    assert listed(client, sort="canonical_url") == listed(client)
    assert listed(client, cursor="not-a-cursor") == listed(client)


def test_the_previous_page_goes_back_by_keyset_keeping_filters_and_sort(client, people, zone, monkeypatch):
    monkeypatch.setattr(caselist, "PAGE_SIZE", 2)
    start = timezone.now() - timedelta(days=1)
    ids = []
    for n in range(5):
        with time_machine.travel(start + timedelta(minutes=n), tick=False):
            ids += [c.pk for c in reported([f"https://img.example.com/{n}"])]
    reported(["https://example.net/other"])  # filtered out by the host below
    staff_login(client, people["analyst"])
    url = reverse("cases-list")

    first = client.get(url, {"sort": "received", "q": "img.example.com"})
    assert [r.pk for r in first.context["rows"]] == ids[:2] and first.context["previous_query"] == ""
    assert b'id="previous-page"' not in first.content
    second = client.get(f"{url}?{first.context['next_query']}")
    third = client.get(f"{url}?{second.context['next_query']}")
    assert [r.pk for r in third.context["rows"]] == [ids[4]]
    # Back from the last page: the page before it, with the filter and the sort kept.
    back = client.get(f"{url}?{third.context['previous_query']}")
    assert "sort=received" in third.context["previous_query"] and "q=img.example.com" in third.context["previous_query"]
    assert [r.pk for r in back.context["rows"]] == ids[2:4]
    assert b'id="previous-page"' in back.content and b'id="next-page"' in back.content
    # And again: the first page, which has no page before it, and its next page is the second.
    front = client.get(f"{url}?{back.context['previous_query']}")
    assert [r.pk for r in front.context["rows"]] == ids[:2] and front.context["previous_query"] == ""
    assert [r.pk for r in client.get(f"{url}?{front.context['next_query']}").context["rows"]] == ids[2:4]
    # Newest first, backwards from the second page.
    newest = client.get(url, {"q": "img.example.com"})
    following = client.get(f"{url}?{newest.context['next_query']}")
    assert [r.pk for r in following.context["rows"]] == [ids[2], ids[1]]
    assert [r.pk for r in client.get(f"{url}?{following.context['previous_query']}").context["rows"]] == [
        ids[4],
        ids[3],
    ]
    assert listed(client, before="not-a-cursor") == listed(client)


def test_the_export_is_the_filtered_list_for_seniors_and_is_audited(client, people, zone):
    img, _net = reported(["https://img.example.com/1", "https://example.net/2"], reporter_email="who@example.org")
    staff_login(client, people["analyst"])
    assert client.get(reverse("cases-export")).status_code == 403
    staff_login(client, people["senior"])
    response = client.get(reverse("cases-export"), {"country": "GB"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [int(r["case"]) for r in rows] == [img.pk]
    assert rows[0]["url"] == "https://img.example.com/1" and rows[0]["country"] == "GB"
    assert "who@example.org" not in response.content.decode()  # metadata of the cases only
    entry = AuditEntry.objects.get(action=AuditAction.EXPORTED, object_type="cases")
    assert entry.actor == people["senior"] and entry.data["rows"] == 1 and "country=GB" in entry.data["filters"]


def test_a_senior_assigns_ticked_cases_and_each_timeline_says_so(client, people, zone):
    one, two = reported(["https://img.example.com/1", "https://img.example.com/2"])
    bulk = {"action": "assign", "case": [one.pk, two.pk], "assignee": people["analyst"].pk, "back": "state=x"}
    staff_login(client, people["analyst"])
    assert client.post(reverse("cases-bulk"), bulk).status_code == 403
    staff_login(client, people["senior"])
    response = client.post(reverse("cases-bulk"), bulk)
    assert response.status_code == 302 and response["Location"] == "/cases/?state=x"
    assert set(Case.objects.filter(assigned_to=people["analyst"]).values_list("pk", flat=True)) == {one.pk, two.pk}
    assert one.events.filter(kind=EventKind.ASSIGNED, actor_user=people["senior"], data__to="ana").exists()
    entry = AuditEntry.objects.get(action=AuditAction.CASES_ASSIGNED)
    assert entry.actor == people["senior"] and sorted(entry.data["cases"]) == sorted([one.pk, two.pk])
    staff_login(client, people["analyst"])
    assert set(listed(client, assigned="me")) == {one.pk, two.pk}
    assert listed(client, assigned="nobody") == []


def test_one_verdict_for_ticked_cases_lists_them_first_then_assesses_each(client, people, zone):
    one, two, done = reported(["https://img.example.com/1", "https://img.example.com/2", "https://example.net/3"])
    case_assess(case=done, user=people["analyst"], classification=Classification(**ILLEGAL))
    staff_login(client, people["trainee"])
    client.post(reverse("cases-bulk"), {"action": "verdict", "case": [one.pk]})
    assert not Assessment.objects.filter(case=one).exists()

    staff_login(client, people["analyst"])
    ticked = {"action": "verdict", "case": [one.pk, two.pk]}
    confirm = client.post(reverse("cases-bulk"), ticked)
    assert confirm.status_code == 200 and {t.pk for t in confirm.context["targets"]} == {one.pk, two.pk}
    assert b"https://img.example.com/2" in confirm.content and not Assessment.objects.filter(case=one).exists()
    # An incomplete classification comes back with its errors, nothing recorded.
    incomplete = client.post(reverse("cases-bulk"), {**ticked, "confirm": "1", "verdict": "illegal"})
    assert incomplete.status_code == 400 and incomplete.context["errors"]
    response = client.post(reverse("cases-bulk"), {**ticked, "confirm": "1", **ILLEGAL})
    assert response.status_code == 302
    for case in (one, two):
        case.refresh_from_db()
        assert case.state == CaseState.ILLEGAL
        assert case.assessments.get().source == AssessmentSource.BULK
    assert AuditEntry.objects.filter(action=AuditAction.CASE_ASSESSED, actor=people["analyst"]).count() == 3


def test_resolving_ticked_cases_again_goes_through_the_resolution_stage(
    client, people, zone, monkeypatch, django_capture_on_commit_callbacks
):
    from routing.tasks import resolve_cases

    [case] = reported(["https://img.example.com/moving"])
    assert set(CaseAddress.objects.filter(case=case).values_list("ip", flat=True)) == {BT}
    zone.remove("img.example.com", "A")
    zone.add("img.example.com", "A", MX)
    sent: list[list[int]] = []
    monkeypatch.setattr("routing.tasks.resolve_cases.delay", lambda ids: sent.append(ids))
    staff_login(client, people["analyst"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("cases-bulk"), {"action": "reresolve", "case": [case.pk]})
    assert response.status_code == 302 and sent == [[case.pk]]
    assert AuditEntry.objects.get(action=AuditAction.CASES_RERESOLVED).data["cases"] == [case.pk]
    # The resolution stage looks the host up again once its DNS answer's time to live has passed.
    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        resolve_cases.apply(args=(sent[0],))
    assert set(CaseAddress.objects.filter(case=case).values_list("ip", flat=True)) == {MX}
    assert case.events.filter(kind=EventKind.RESOLVED).count() == 2


def test_marking_ticked_cases_removed_closes_the_tracked_ones_and_names_the_rest(client, people, zone):
    tracked, waiting = reported(["https://img.example.com/1", "https://img.example.com/2"])
    case_assess(case=tracked, user=people["analyst"], classification=Classification(**ILLEGAL))
    staff_login(client, people["analyst"])
    response = client.post(reverse("cases-bulk"), {"action": "removed", "case": [tracked.pk, waiting.pk]}, follow=True)
    tracked.refresh_from_db()
    waiting.refresh_from_db()
    assert tracked.state == CaseState.REMOVED and tracked.removal_kind == "manual"
    assert waiting.state == CaseState.AWAITING_ASSESSMENT
    assert f"#{waiting.pk}".encode() in response.content  # named among the skipped
    assert AuditEntry.objects.filter(action=AuditAction.CASE_MARKED_REMOVED, object_id=str(tracked.pk)).exists()


def test_a_bulk_action_needs_ticked_cases_and_a_known_action(client, people, zone):
    staff_login(client, people["analyst"])
    assert client.post(reverse("cases-bulk"), {"action": "reresolve"}, follow=True).status_code == 200
    assert not AuditEntry.objects.filter(action=AuditAction.CASES_RERESOLVED).exists()
    [case] = reported(["https://img.example.com/1"])
    client.post(reverse("cases-bulk"), {"action": "delete", "case": [case.pk]})
    assert Case.objects.filter(pk=case.pk).exists()
    assert client.get(reverse("cases-bulk")).status_code == 405
