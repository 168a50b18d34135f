"""Case states, the timeline, resolution through the local DNS peer, and the overdue sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from reports.cases.services import Actor, InvalidTransition, StateConflict, case_transition
from reports.models import Case, CaseState, Channel, Event, EventKind
from reports.services import report_create, sweep_overdue
from routing.resolution.cases import MAX_RESOLVE_ATTEMPTS, case_resolve

pytestmark = pytest.mark.django_db


def new_case(url: str = "https://www.example.com/a") -> Case:
    result = report_create(channel=Channel.API, urls=[url])
    return Case.objects.get(pk=result.accepted[0].case_id)


def test_it_changes_state_and_writes_the_event_together():
    case = new_case()
    case_transition(case=case, to=CaseState.AWAITING_ASSESSMENT, actor=Actor.system(), data={"why": "test"})
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_ASSESSMENT
    event = Event.objects.get(case=case, kind=EventKind.STATE_CHANGED)
    assert event.data == {"from": "new", "to": "awaiting_assessment", "why": "test"}
    assert event.actor_type == "system"


def test_it_refuses_a_transition_that_is_not_part_of_a_case_life():
    case = new_case()
    with pytest.raises(InvalidTransition):
        case_transition(case=case, to=CaseState.REMOVED, actor=Actor.system())
    assert not Event.objects.filter(kind=EventKind.STATE_CHANGED).exists()


def test_it_lets_only_one_of_two_concurrent_transitions_win():
    case = new_case()
    stale = Case.objects.get(pk=case.pk)
    case_transition(case=case, to=CaseState.AWAITING_ASSESSMENT, actor=Actor.system())
    with pytest.raises(StateConflict):
        case_transition(case=stale, to=CaseState.AWAITING_ASSESSMENT, actor=Actor.system())
    assert Event.objects.filter(kind=EventKind.STATE_CHANGED).count() == 1


def test_it_resolves_a_case_and_sends_it_to_assessment(fake_dns):
    fake_dns.add("www.example.com", "CNAME", "edge.example.net.")
    fake_dns.add("edge.example.net", "A", "192.0.2.10")
    fake_dns.add("edge.example.net", "AAAA", "2001:db8::10")
    case = new_case()
    attempt = case_resolve(case_id=case.pk)
    assert attempt is not None and attempt.retry_at is None
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_ASSESSMENT and case.resolve_due_at is None
    assert case.resolution["outcome"] == "resolved"
    assert case.resolution["addresses"] == ["192.0.2.10", "2001:db8::10"]
    assert case.resolution["cnames"] == ["edge.example.net"]
    assert list(case.events.values_list("kind", flat=True)) == ["reported", "resolved", "state_changed"]
    # Done is done: a second run (a duplicate message) changes nothing.
    assert case_resolve(case_id=case.pk) is None
    assert case.events.count() == 3


def test_it_records_nxdomain_as_a_fact_and_moves_on(fake_dns):
    case = new_case("https://gone.example.org/x")
    case_resolve(case_id=case.pk)
    case.refresh_from_db()
    assert case.resolution["outcome"] == "nxdomain" and case.state == CaseState.AWAITING_ASSESSMENT


def test_it_retries_transient_failures_with_backoff_then_gives_up(fake_dns):
    fake_dns.add("flaky.example.com", "A", "192.0.2.20")
    fake_dns.set_behaviour("flaky.example.com", "servfail")
    case = new_case("https://flaky.example.com/x")
    now = timezone.now()
    for attempt_number in range(1, MAX_RESOLVE_ATTEMPTS):
        with time_machine.travel(now + timedelta(hours=attempt_number * 2)):
            attempt = case_resolve(case_id=case.pk)
            assert attempt is not None and attempt.retry_at is not None
            assert attempt.retry_at > timezone.now()
    case.refresh_from_db()
    assert case.state == CaseState.NEW
    assert case.events.filter(kind=EventKind.RESOLUTION_FAILED).count() == MAX_RESOLVE_ATTEMPTS - 1
    with time_machine.travel(now + timedelta(days=2)):
        attempt = case_resolve(case_id=case.pk)
    assert attempt is not None and attempt.retry_at is None
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_ASSESSMENT and case.resolution["outcome"] == "servfail"


def test_it_does_not_query_dns_for_onion_or_ip_hosts(fake_dns):
    onion = new_case("http://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion/")
    literal = new_case("http://93.184.216.34/")
    case_resolve(case_id=onion.pk)
    case_resolve(case_id=literal.pk)
    # Only the registry zones are asked about the address; no host name is looked up.
    asked = {name for name, _type in fake_dns.queries}
    assert all(name.endswith("asn.cymru.com") for name in asked)
    onion.refresh_from_db()
    literal.refresh_from_db()
    assert onion.resolution["outcome"] == "unresolvable"
    assert literal.resolution["addresses"] == ["93.184.216.34"]


def test_the_sweep_enqueues_overdue_cases_only(monkeypatch, settings):
    sent: list[list[int]] = []
    monkeypatch.setattr("routing.tasks.resolve_cases.delay", lambda ids: sent.append(ids))
    overdue = new_case("https://a.example.com/")
    fresh = new_case("https://b.example.com/")
    done = new_case("https://c.example.com/")
    Case.objects.filter(pk=overdue.pk).update(
        resolve_due_at=timezone.now() - settings.SCART_SWEEP_GRACE - timedelta(minutes=1)
    )
    Case.objects.filter(pk=done.pk).update(resolve_due_at=None)
    assert sweep_overdue() == 1
    assert sent == [[overdue.pk]]
    assert fresh.pk not in sent[0]
