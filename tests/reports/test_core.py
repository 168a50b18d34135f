"""The core every stage depends on: the bulk transition, the event writer, the named state sets,
the hooks intake and assessment announce."""

from __future__ import annotations

import pytest
from django.utils import timezone

from reports.cases.hooks import cases_created, verdict_recorded
from reports.cases.services import Actor, InvalidTransition, cases_transition, events_append
from reports.models import Case, CaseState, Channel, Event, EventKind
from reports.services import report_create


def new_cases(*urls: str) -> list[Case]:
    result = report_create(channel=Channel.API, urls=list(urls))
    return [Case.objects.get(pk=a.case_id) for a in result.accepted]


def test_the_named_state_sets_keep_their_two_meanings():
    assert set(CaseState.OPEN) == {"awaiting_assessment", "illegal", "notified"}
    assert set(CaseState.TRACKED) == {"illegal", "notified"}
    assert "new" not in CaseState.ASSESSABLE and "notified" not in CaseState.ASSESSABLE
    # Sets, not members: the choices stay the seven states.
    assert len(CaseState.choices) == 7


@pytest.mark.django_db
def test_the_bulk_transition_moves_only_cases_still_in_the_source_state_and_writes_their_events():
    first, second, moved_meanwhile = new_cases(
        "https://a.example.com/", "https://b.example.com/", "https://c.example.com/"
    )
    Case.objects.filter(pk=moved_meanwhile.pk).update(state=CaseState.AWAITING_ASSESSMENT)
    at = timezone.now()
    extra = Event(case_id=first.pk, kind=EventKind.RESOLVED, at=at, data={}, **Actor.system().event_fields())
    moved = cases_transition(
        case_ids=[first.pk, second.pk, moved_meanwhile.pk],
        source=CaseState.NEW,
        to=CaseState.AWAITING_ASSESSMENT,
        actor=Actor.system(),
        at=at,
        data={"why": "test"},
        events=[extra],
    )
    assert moved == {first.pk, second.pk}
    changed = Event.objects.filter(kind=EventKind.STATE_CHANGED)
    assert sorted(changed.values_list("case_id", flat=True)) == sorted(moved)
    assert changed.get(case_id=first.pk).data == {"from": "new", "to": "awaiting_assessment", "why": "test"}
    assert Event.objects.filter(kind=EventKind.RESOLVED, case_id=first.pk).count() == 1
    assert set(Case.objects.values_list("state", flat=True)) == {CaseState.AWAITING_ASSESSMENT}


@pytest.mark.django_db
def test_the_bulk_transition_refuses_a_move_that_is_not_part_of_a_case_life():
    (case,) = new_cases("https://a.example.com/")
    with pytest.raises(InvalidTransition):
        cases_transition(
            case_ids=[case.pk], source=CaseState.NEW, to=CaseState.NOTIFIED, actor=Actor.system(), at=timezone.now()
        )
    case.refresh_from_db()
    assert case.state == CaseState.NEW


@pytest.mark.django_db
def test_events_append_writes_mixed_and_shared_batches():
    a, b = new_cases("https://a.example.com/", "https://b.example.com/")
    at = timezone.now()
    system = Actor.system().event_fields()
    events_append([Event(case_id=pk, kind=EventKind.MOVED, at=at, data={"n": pk}, **system) for pk in (a.pk, b.pk)])
    events_append(
        [
            Event(case_id=a.pk, kind=EventKind.REMOVED, at=at, data={}, **system),
            Event(case_id=b.pk, kind=EventKind.REAPPEARED, at=at, data={}, **system),
        ]
    )
    assert Event.objects.get(case=b, kind=EventKind.MOVED).data == {"n": b.pk}
    assert Event.objects.filter(kind__in=[EventKind.REMOVED, EventKind.REAPPEARED]).count() == 2


@pytest.mark.django_db
def test_intake_announces_new_cases_once_the_report_commits(django_capture_on_commit_callbacks, monkeypatch):
    queued: list[list[int]] = []
    monkeypatch.setattr("routing.tasks.resolve_cases.delay", lambda ids: queued.append(ids))
    heard: list[list[int]] = []

    def listener(sender, *, case_ids, **kwargs):
        heard.append(list(case_ids))

    cases_created.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            (case,) = new_cases("https://a.example.com/")
            assert heard == []
        assert heard == [[case.pk]]
        # Routing subscribes: the case is queued for resolution.
        assert queued == [[case.pk]]
        with django_capture_on_commit_callbacks(execute=True):
            new_cases("https://a.example.com/")  # a repeat: no new case
        assert heard == [[case.pk]]
    finally:
        cases_created.disconnect(listener)


@pytest.mark.django_db
def test_routing_plans_notices_when_an_illegal_verdict_is_recorded():
    (case,) = new_cases("https://a.example.com/")
    Case.objects.filter(pk=case.pk).update(state=CaseState.AWAITING_ASSESSMENT)
    verdict_recorded.send(sender=Case, case_ids=[case.pk])
    case.refresh_from_db()
    assert case.notice_plan_at is not None
