"""A case's life after the verdict, checked against the local HTTP peer: removal after a run of
"gone" results (and the bracket statistics need), removed before notice, unreachable for too long,
moves that open a linked case, reappearance that restarts the notice cycle, and manual removal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from devnet.http import FakeHTTP
from reports.assessment import Classification, case_assess
from reports.models import Case, CaseState, Channel, Event, EventKind, RemovalKind
from routing.checks.tracking import case_mark_removed, cases_check, cases_due_for_check
from routing.models import (
    AvailabilityCheck,
    DomainRule,
    Notice,
    NoticeCase,
    NoticeKind,
    NoticeState,
    PartnerHotline,
    Provider,
)
from routing.notices.ladder import cases_plan_ladder
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import notices_send_due
from tests import factories

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}
HOST = "site.example.com"


@pytest.fixture
def web(settings, fake_dns) -> Iterator[FakeHTTP]:
    settings.SCART_CHECK_ALLOW_NETWORKS = ["127.0.0.1/32"]
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_POLICE_EMAIL = "reports@police.example"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    fake_dns.add(HOST, "A", "127.0.0.1")
    fake_dns.add("elsewhere.example.net", "A", "127.0.0.1")
    with FakeHTTP() as server:
        server.aliases["/item"] = "/status/200"
        yield server
    fake_dns.remove(HOST)
    fake_dns.remove("elsewhere.example.net")


def illegal_case(web: FakeHTTP, path: str = "/item", **fields: Any) -> Case:
    host = fields.pop("provider", None) or Provider.objects.create(name="Host", abuse_emails=["abuse@host.example"])
    case = factories.awaiting_case(
        web.url(path, host=HOST), hosting_country=fields.pop("hosting_country", "NL"), provider=host, **fields
    )
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    case.refresh_from_db()
    return case


def check(case: Case) -> None:
    cases_check(case_ids=[case.pk], force=True)
    case.refresh_from_db()


def test_a_verdict_of_illegal_asks_for_a_check_at_once_and_online_is_recorded(web):
    case = illegal_case(web)
    assert case.pk in cases_due_for_check()
    check(case)
    recorded = AvailabilityCheck.objects.get(case=case)
    assert recorded.outcome == "online" and recorded.status_code == 200 and recorded.address == "127.0.0.1"
    assert case.last_seen_online_at == recorded.at
    assert case.check_due_at is not None
    interval = case.check_due_at - recorded.at
    assert timedelta(minutes=53) < interval < timedelta(minutes=67), "hourly, with jitter"
    assert [r.method for r in web.wait_for_requests(1)] == ["HEAD"]


def test_three_gone_results_fifteen_minutes_apart_close_the_case_with_the_bracket(web):
    case = illegal_case(web)
    cases_plan_notices(case_ids=[case.pk])
    notices_send_due(flush=True, reresolve=False)
    start = timezone.now()
    with time_machine.travel(start + timedelta(minutes=1)):
        check(case)
        last_online = case.last_seen_online_at
    web.aliases["/item"] = "/status/404"
    times = [start + timedelta(minutes=m) for m in (61, 70, 77, 95)]
    with time_machine.travel(times[0]):
        check(case)
        assert case.gone_count == 1 and case.state == CaseState.NOTIFIED
        assert case.check_due_at is not None
        next_check = case.check_due_at - AvailabilityCheck.objects.filter(case=case).latest("at").at
        assert next_check == timedelta(minutes=15), "the next gone check 15 minutes on"
    with time_machine.travel(times[1]):
        check(case)  # too soon after the first: recorded, not counted
        assert case.gone_count == 1
    with time_machine.travel(times[2]):
        check(case)
        assert case.gone_count == 2
    with time_machine.travel(times[3]):
        check(case)
    assert case.state == CaseState.REMOVED and case.removal_kind == RemovalKind.GONE
    assert case.removed_at is not None and abs(case.removed_at - times[0]) < timedelta(seconds=1)
    assert case.last_seen_online_at == last_online, "the last online check stays: the bracket"
    assert case.ladder_due_at is None
    event = Event.objects.get(case=case, kind=EventKind.REMOVED)
    assert event.data["removal_kind"] == "gone"
    # No more reminders for content that is gone.
    with time_machine.travel(start + timedelta(days=3)):
        assert cases_plan_ladder().planned == 0


def test_online_in_between_starts_the_run_again(web):
    case = illegal_case(web)
    web.aliases["/item"] = "/status/410"
    start = timezone.now()
    with time_machine.travel(start):
        check(case)
    with time_machine.travel(start + timedelta(minutes=20)):
        check(case)
        assert case.gone_count == 2
    web.aliases["/item"] = "/status/200"
    with time_machine.travel(start + timedelta(minutes=40)):
        check(case)
    assert case.gone_count == 0 and case.gone_since is None and case.state == CaseState.ILLEGAL


def test_content_gone_before_any_notice_closes_without_a_notice(web):
    case = illegal_case(web)
    cases_plan_notices(case_ids=[case.pk])  # waits in its 60-minute window
    web.aliases["/item"] = "/status/451"
    start = timezone.now()
    for minutes in (0, 16, 32):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            check(case)
    assert case.state == CaseState.REMOVED and case.removal_kind == RemovalKind.BEFORE_NOTICE
    with time_machine.travel(start + timedelta(minutes=61)):
        notices_send_due(reresolve=False)
    assert Notice.objects.get().state == NoticeState.CANCELLED
    assert NoticeCase.objects.get(case=case).drop_reason == "the content was removed"


def test_unreachable_for_72_hours_closes_as_removed_unreachable(web):
    case = illegal_case(web)
    web.aliases["/item"] = "/status/503"
    start = timezone.now()
    with time_machine.travel(start):
        check(case)
        assert case.unreachable_since is not None and case.state == CaseState.ILLEGAL
    with time_machine.travel(start + timedelta(hours=71)):
        check(case)
        assert case.state == CaseState.ILLEGAL
    with time_machine.travel(start + timedelta(hours=72, minutes=1)):
        check(case)
    assert case.state == CaseState.REMOVED and case.removal_kind == RemovalKind.UNREACHABLE
    assert case.removed_at is not None and abs(case.removed_at - start) < timedelta(seconds=1)


def test_a_redirect_to_another_host_opens_a_linked_case(web):
    case = illegal_case(web)
    target = web.url("/status/200", host="elsewhere.example.net")
    web.aliases["/item"] = "/to"
    # /to takes its Location from the query; an alias has none, so point the case at it directly.
    Case.objects.filter(pk=case.pk).update(canonical_url=web.url(f"/to?location={target}", host=HOST))
    check(case)
    recorded = AvailabilityCheck.objects.get(case=case)
    assert recorded.outcome == "moved" and recorded.redirect_to == target
    linked = Case.objects.get(moved_from=case)
    assert linked.canonical_url == target and linked.urgent
    assert linked.reports.get().channel == Channel.CHECK
    assert Event.objects.get(case=case, kind=EventKind.MOVED).data["case"] == linked.pk
    check(case)  # the same move again opens nothing new, and reports nothing again
    assert Case.objects.filter(moved_from=case).count() == 1
    assert linked.reports.count() == 1
    assert Event.objects.filter(case=case, kind=EventKind.MOVED).count() == 1


def test_content_back_online_reopens_the_case_and_restarts_the_notice_cycle(web, mailoutbox):
    case = illegal_case(web)
    cases_plan_notices(case_ids=[case.pk])
    notices_send_due(flush=True, reresolve=False)
    assert len(mailoutbox) == 1
    web.aliases["/item"] = "/status/404"
    start = timezone.now()
    for minutes in (0, 16, 32):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            check(case)
    assert case.state == CaseState.REMOVED and case.reappearance_checks == 3
    assert case.check_due_at is not None
    assert abs(case.check_due_at - case.state_changed_at - timedelta(days=1)) < timedelta(seconds=1)
    with time_machine.travel(start + timedelta(days=1, hours=1)):
        assert case.pk in cases_due_for_check()
        check(case)  # still gone: two more looks
        assert case.state == CaseState.REMOVED and case.reappearance_checks == 2
    web.aliases["/item"] = "/status/200"
    with time_machine.travel(start + timedelta(days=7, hours=1)):
        check(case)
        assert case.state == CaseState.ILLEGAL and case.removed_at is None and case.urgent
        assert Event.objects.filter(case=case, kind=EventKind.REAPPEARED).exists()
        cases_plan_notices(case_ids=[case.pk])
        notices_send_due(flush=True, reresolve=False)
    assert len(mailoutbox) == 2, "a new first notice for the new cycle"
    assert Notice.objects.filter(kind=NoticeKind.PROVIDER, state=NoticeState.SENT).count() == 2


def test_a_closed_case_is_not_checked_after_its_last_reappearance_check(web):
    case = illegal_case(web)
    web.aliases["/item"] = "/status/404"
    start = timezone.now()
    for minutes in (0, 16, 32):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            check(case)
    for days in (1, 7, 30):
        with time_machine.travel(start + timedelta(days=days, hours=1)):
            check(case)
    assert case.reappearance_checks == 0 and case.check_due_at is None
    with time_machine.travel(start + timedelta(days=60)):
        assert case.pk not in cases_due_for_check()


def test_removal_tells_the_partner_hotline_that_had_the_referral(web, mailoutbox):
    PartnerHotline.objects.filter(country="DE").update(email="referrals@eco.example")
    case = illegal_case(web, hosting_country="DE")
    cases_plan_notices(case_ids=[case.pk])
    notices_send_due(flush=True, reresolve=False)
    web.aliases["/item"] = "/status/404"
    start = timezone.now()
    for minutes in (0, 16, 32):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            check(case)
    notices_send_due(flush=True, reresolve=False)
    update = Notice.objects.get(kind=NoticeKind.UPDATE)
    assert update.state == NoticeState.SENT and update.emails == ["referrals@eco.example"]
    assert mailoutbox[-1].to == ["referrals@eco.example"] and "no longer online" in mailoutbox[-1].subject


def test_hosts_under_a_do_not_check_rule_are_never_contacted_and_marked_removed_by_hand(web):
    DomainRule.objects.create(suffix="example.com", do_not_check=True)
    case = illegal_case(web)
    summary = cases_check(case_ids=[case.pk], force=True)
    assert summary.skipped == 1 and web.requests == []
    case.refresh_from_db()
    assert case.check_due_at is None
    analyst = factories.staff_user("ana")
    earlier = timezone.now() - timedelta(hours=2)
    case_mark_removed(case=case, user=analyst, removed_at=earlier)
    case.refresh_from_db()
    assert case.state == CaseState.REMOVED and case.removal_kind == RemovalKind.MANUAL and case.removed_at == earlier
    with pytest.raises(ValueError):
        case_mark_removed(case=illegal_case(web, path="/other"), user=analyst, removed_at=timezone.now() + timedelta(1))


def test_the_case_page_shows_checks_and_marks_removal_by_hand(web, client, analyst):
    case = illegal_case(web)
    check(case)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "Availability" in page and "Mark removed by hand" in page and "127.0.0.1" in page
    response = client.post(f"/cases/{case.pk}/removed/", {"removed_at": "not a time"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == CaseState.ILLEGAL
    client.post(f"/cases/{case.pk}/removed/", {"removed_at": ""})
    case.refresh_from_db()
    assert case.state == CaseState.REMOVED and case.removal_kind == RemovalKind.MANUAL


def test_no_notice_goes_out_while_the_last_check_found_the_content_gone(web, mailoutbox):
    case = illegal_case(web)
    Case.objects.filter(pk=case.pk).update(urgent=True)  # due at once
    web.aliases["/item"] = "/status/404"
    check(case)  # the first check, right after the verdict: gone
    cases_plan_notices(case_ids=[case.pk])
    assert Notice.objects.count() == 0 and mailoutbox == []
    case.refresh_from_db()
    assert case.notice_plan_at is not None and case.notice_plan_at > timezone.now()
    # Back online before the checks confirmed removal: the notice goes.
    web.aliases["/item"] = "/status/200"
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        check(case)
        assert case.notice_plan_at is not None and case.notice_plan_at <= timezone.now()
        cases_plan_notices(case_ids=[case.pk])
        notices_send_due(reresolve=False)
    assert len(mailoutbox) == 1


def test_the_scheduled_task_checks_every_due_case(web):
    from routing.tasks import check_due

    cases = [illegal_case(web, path=f"/item{n}") for n in range(3)]
    for n in range(3):
        web.aliases[f"/item{n}"] = "/status/200"
    assert check_due() == 3
    assert AvailabilityCheck.objects.filter(case__in=cases, outcome="online").count() == 3
    assert check_due() == 0, "nothing is due again before its interval"


def test_a_check_that_failed_records_nothing_and_waits_for_the_next_interval(web):
    case = illegal_case(web)
    other = illegal_case(web, path="/other")
    summary = cases_check(case_ids=[case.pk, other.pk], force=True, runner=lambda urls: [None] * len(urls))
    assert (summary.failed, summary.checked) == (2, 0)
    assert not AvailabilityCheck.objects.filter(case__in=[case, other]).exists()
    case.refresh_from_db()
    assert case.check_due_at is not None
    # Its usual interval (60 minutes for a young case), give or take the tenth that spreads checks.
    assert timedelta(minutes=53) < case.check_due_at - timezone.now() <= timedelta(minutes=66)


def test_a_check_whose_recording_failed_is_checked_again_at_its_interval_not_after_the_claim(
    web, settings, monkeypatch, caplog
):
    settings.SCART_CHECK_INTERVAL_MINUTES = 1
    case = illegal_case(web)

    def broken(**fields: Any) -> AvailabilityCheck:
        raise RuntimeError("the database went away while recording")

    monkeypatch.setattr(AvailabilityCheck.objects, "create", broken)
    summary = cases_check(case_ids=[case.pk], force=True)
    assert (summary.failed, summary.checked) == (1, 0)
    assert [r.method for r in web.wait_for_requests(1)] == ["HEAD"], "the probe itself worked"
    assert "recording the check of case" in caplog.text
    case.refresh_from_db()
    assert case.check_due_at is not None
    assert case.check_due_at - timezone.now() <= timedelta(seconds=67), "its one-minute interval, not the claim"
    monkeypatch.undo()
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert case.pk in cases_due_for_check()
        cases_check(case_ids=[case.pk])
    assert AvailabilityCheck.objects.get(case=case).outcome == "online"


def test_a_move_pauses_the_old_cases_reminders_and_escalation_until_the_content_is_back(web, mailoutbox):
    case = illegal_case(web)
    cases_plan_notices(case_ids=[case.pk])
    notices_send_due(flush=True, reresolve=False)
    case.refresh_from_db()
    assert case.state == CaseState.NOTIFIED and case.ladder_due_at is not None
    start = timezone.now()
    with time_machine.travel(start + timedelta(days=1, hours=1)):
        assert cases_plan_ladder().planned == 1, "the first reminder is planned, and waits in its batch"
    reminder = NoticeCase.objects.get(case=case, notice__kind=NoticeKind.REMINDER)
    # The content moves: the old URL now redirects to another host.
    target = web.url("/status/200", host="elsewhere.example.net")
    web.aliases["/item"] = f"/to?location={target}"
    with time_machine.travel(start + timedelta(days=1, hours=2)):
        check(case)
    assert AvailabilityCheck.objects.filter(case=case).latest("at").outcome == "moved"
    assert case.state == CaseState.NOTIFIED and case.moved_since is not None and case.ladder_due_at is None
    linked = Case.objects.get(moved_from=case)
    assert linked.canonical_url == target
    reminder.refresh_from_db()
    assert reminder.dropped_at is not None and "moved" in reminder.drop_reason
    # Days of reminder intervals later, and more moved checks: no reminder, no escalation.
    for day in (2, 3, 4, 5, 6):
        with time_machine.travel(start + timedelta(days=day, hours=2)):
            check(case)
            assert cases_plan_ladder().planned == 0
            notices_send_due(flush=True, reresolve=False)
    assert len(mailoutbox) == 1, "only the first notice went out"
    assert not Notice.objects.filter(kind__in=[NoticeKind.REMINDER, NoticeKind.ESCALATION], state=NoticeState.SENT)
    # The content is back at the old URL: the ladder resumes where it was.
    web.aliases["/item"] = "/status/200"
    with time_machine.travel(start + timedelta(days=7, hours=2)):
        check(case)
        assert case.moved_since is None and case.ladder_due_at is not None
        assert cases_plan_ladder().planned == 1
        notices_send_due(flush=True, reresolve=False)
    sent = Notice.objects.get(kind=NoticeKind.REMINDER, state=NoticeState.SENT)
    assert sent.step == 1 and case.pk in set(sent.items.values_list("case_id", flat=True))
    assert len(mailoutbox) == 2
