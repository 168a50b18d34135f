"""The senior's audit view merges the audit trail with what staff wrote on the cases' timelines
(verdicts, removals marked by hand...): one list newest first, filtered by person, action or kind
of event, case and dates, paginated in the database, each event in words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEntry
from reports.assessment import Classification, case_assess
from reports.models import Case, Event, EventKind
from routing.checks.tracking import case_mark_removed
from tests import factories
from tests.world import ILLEGAL
from workspace.views import audit as audit_view

pytestmark = pytest.mark.django_db


def _world() -> dict[str, Any]:
    ana = factories.staff_user("ana", "analyst")
    old = factories.awaiting_case("https://img.example.com/old")
    with time_machine.travel(timezone.now() - timedelta(days=10)):
        case_assess(case=old, user=ana, classification=Classification(**dict[str, Any](ILLEGAL)))
    fresh = factories.awaiting_case("https://img.example.com/fresh")
    case_assess(case=fresh, user=ana, classification=Classification(**dict[str, Any](ILLEGAL)))
    sue = factories.staff_user("sue", "senior")
    case_mark_removed(case=Case.objects.get(pk=fresh.pk), user=sue)
    return {"old": old, "fresh": fresh}


def listed(client: Any, **query: str) -> list[tuple[str, str, int | None]]:
    page = client.get(reverse("audit-list"), query)
    assert page.status_code == 200
    return [(r.who, r.action, r.case_id) for r in page.context["rows"]]


def test_staff_events_join_the_audit_trail_newest_first(client, senior):
    world = _world()
    rows = client.get(reverse("audit-list")).context["rows"]
    fresh = world["fresh"].pk
    # The events ana and sue wrote are there beside the audit entries; the system's are not.
    kinds = {(r.who, r.action) for r in rows if r.case_id == fresh}
    assert ("ana", "Assessed") in kinds and ("ana", "Case assessed") in kinds
    assert ("sue", "Content removed") in kinds and ("sue", "Case marked removed by hand") in kinds
    assert all(r.who for r in rows)
    assert [r.at for r in rows] == sorted((r.at for r in rows), reverse=True)
    assessed = next(r for r in rows if r.action == "Assessed" and r.case_id == fresh)
    assert assessed.summary.startswith("Verdict: illegal")  # the timeline's sentence
    staff_events = Event.objects.filter(actor_user__isnull=False).count()
    assert staff_events >= 4
    page = client.get(reverse("audit-list"))
    assert page.context["page"].paginator.count == AuditEntry.objects.count() + staff_events
    assert reverse("workspace-case", args=[fresh]) in page.content.decode()


def test_the_filters_apply_to_both(client, senior):
    world = _world()
    old, fresh = world["old"].pk, world["fresh"].pk
    by_sue = listed(client, user="sue")
    assert by_sue and all(who == "sue" for who, _a, _c in by_sue)
    assert ("sue", "Content removed", fresh) in by_sue
    assessed = listed(client, action=f"event:{EventKind.ASSESSED}")
    assert sorted(assessed) == sorted([("ana", "Assessed", old), ("ana", "Assessed", fresh)])
    audit_only = listed(client, action=AuditAction.CASE_ASSESSED)
    assert {a for _w, a, _c in audit_only} == {"Case assessed"}
    assert {c for _w, _a, c in listed(client, case=str(old))} == {old}
    today = timezone.localdate().isoformat()
    recent = listed(client, since=today, until=today, user="ana")
    assert recent and {c for _w, _a, c in recent} == {fresh}
    assert listed(client, action="event:nonsense") == listed(client)  # not a kind: ignored


def test_pages_are_cut_in_the_database_and_cost_the_same(client, senior, monkeypatch, django_assert_max_num_queries):
    _world()
    everything = listed(client)
    monkeypatch.setattr(audit_view, "AUDIT_PER_PAGE", 3)
    pages: list[tuple[str, str, int | None]] = []
    number = 1
    while True:
        with django_assert_max_num_queries(16):  # the same few queries on every page
            response = client.get(reverse("audit-list"), {"page": str(number)})
        assert len(response.context["rows"]) <= 3
        pages += [(r.who, r.action, r.case_id) for r in response.context["rows"]]
        if not response.context["page"].has_next():
            break
        number += 1
    assert number > 2 and pages == everything
