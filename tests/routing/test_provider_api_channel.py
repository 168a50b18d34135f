"""The provider API channel end to end against the local abuse-reports API (devnet/abuseapi/):
a verdict becomes one report per hostname batch, its id is stored on the part and its status read
back; faults (4xx, 5xx, 429, slow answers, dropped connections, a sender that died) neither lose
nor duplicate a report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from devnet.abuseapi import FakeAbuseAPI
from reports.assessment import Classification, case_assess
from reports.models import Case, CaseState
from routing.models import DeliveryChannel, DeliveryState, Notice, NoticeDelivery, NoticeState, Provider
from routing.notices.abuseapi import AbuseApiClient, Credentials, Submission
from routing.notices.api_settings import provider_api_configure
from routing.notices.channels.base import PartStatus
from routing.notices.channels.parts import delivery_transition
from routing.notices.channels.polling import deliveries_poll
from routing.notices.channels.provider_api import ProviderApiTransport
from routing.notices.planning import cases_plan_notices
from routing.notices.responses import notice_resend
from routing.notices.sending import notices_send_due
from routing.notices.states import notice_transition
from routing.notices.sweep import notices_mark_unknown
from tests import factories
from tests.conftest import staff_client

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}
ACCOUNT, TOKEN = "hotline-acct", "cf-secret-token"
CHILDREN = f"/accounts/{ACCOUNT}/abuse-reports/abuse_children"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAbuseAPI]:
    with FakeAbuseAPI(accounts={ACCOUNT: TOKEN}) as fake:
        yield fake


@pytest.fixture
def peer(server: FakeAbuseAPI, settings) -> Iterator[FakeAbuseAPI]:
    settings.SCART_PROVIDER_API_ALLOW_LOOPBACK = True
    settings.SCART_PROVIDER_API_TIMEOUT = 0.5
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_HOTLINE_NAME = "Test Hotline"
    settings.SCART_NOTICE_WORKING_HOURS = ""
    server.clear()
    yield server
    server.clear()


@pytest.fixture
def cdn(peer: FakeAbuseAPI) -> Provider:
    provider = Provider.objects.create(
        name="Edge CDN", abuse_emails=["abuse@edge.example"], delivery_channel=DeliveryChannel.PROVIDER_API
    )
    provider_api_configure(
        provider=provider,
        base_url=peer.base_url,
        account=ACCOUNT,
        token=TOKEN,
        host_notification="send",
        owner_notification="none",
    )
    return provider


def illegal(url: str, provider: Provider) -> Case:
    case = factories.awaiting_case(url, hosting_country="NL", provider=provider)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    case.refresh_from_db()
    return case


def plan(*cases: Case) -> None:
    cases_plan_notices(case_ids=[c.pk for c in cases])


def send() -> Any:
    return notices_send_due(flush=True, reresolve=False)


def part(notice: Notice) -> NoticeDelivery:
    return NoticeDelivery.objects.get(notice=notice)


def test_a_verdict_becomes_one_report_per_hostname_with_its_id_stored(
    peer: FakeAbuseAPI, cdn: Provider, settings
) -> None:
    a = [illegal(f"https://a.example.com/{i}.jpg", cdn) for i in range(3)]
    b = [illegal(f"https://b.example.net/{i}.jpg", cdn) for i in range(2)]
    plan(*a, *b)
    notices = list(Notice.objects.filter(provider=cdn))
    assert len(notices) == 2 and {n.channel for n in notices} == {DeliveryChannel.PROVIDER_API}
    assert send().sent == 2
    assert send().claimed == 0
    assert len(peer.reports) == 2
    by_domain = {r.domain: r for r in peer.reports.values()}
    assert sorted(by_domain["a.example.com"].urls) == sorted(c.canonical_url for c in a)
    assert sorted(by_domain["b.example.net"].urls) == sorted(c.canonical_url for c in b)
    report = by_domain["a.example.com"]
    assert (report.email, report.name, report.owner_notification) == (
        settings.SCART_NOTICE_REPLY_TO,
        "Test Hotline",
        "none",
    )
    assert "SCART-" in report.justification
    for notice in notices:
        notice.refresh_from_db()
        row = part(notice)
        assert notice.state == NoticeState.SENT
        assert (row.state, row.status) == (DeliveryState.SENT, "submitted")
        assert row.external_id in peer.reports and peer.reports[row.external_id].domain == notice.batch_part
    for case in (*a, *b):
        case.refresh_from_db()
        assert case.state == CaseState.NOTIFIED


def test_the_status_is_polled_and_shown_on_the_notice_page(peer: FakeAbuseAPI, cdn: Provider) -> None:
    plan(illegal("https://a.example.com/x.jpg", cdn))
    send()
    row = NoticeDelivery.objects.get()
    assert ProviderApiTransport().poll(row) == PartStatus(status="submitted", final=False)
    peer.set_status(row.external_id, "denied", denial_reason="content_removed")
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        summary = deliveries_poll()
    assert (summary.asked, summary.changed, summary.failed) == (1, 1, 0)
    row.refresh_from_db()
    assert row.status == "final:denied: content_removed"
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert deliveries_poll().asked == 0  # final: not asked again
    page = staff_client("ana").get(f"/notices/{row.notice_id}/").content.decode()
    assert row.external_id in page and "denied: content_removed" in page
    assert TOKEN not in page


def test_a_rate_limit_waits_as_long_as_asked_and_then_sends_once(peer: FakeAbuseAPI, cdn: Provider) -> None:
    plan(illegal("https://a.example.com/1.jpg", cdn))
    peer.set_fault("429", path_prefix=CHILDREN, times=1, retry_after=600)
    started = timezone.now()
    assert send().retried == 1
    notice = Notice.objects.get()
    assert notice.state == NoticeState.QUEUED and notice.due_at >= started + timedelta(seconds=600)
    assert part(notice).state == DeliveryState.PENDING and peer.reports == {}
    assert send().claimed == 0  # not before the API said
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert send().sent == 1
    assert len(peer.reports) == 1


@pytest.mark.parametrize("status", ["500", "503"])
def test_a_server_error_is_retried_and_sends_once(peer: FakeAbuseAPI, cdn: Provider, status: str) -> None:
    plan(illegal("https://a.example.com/1.jpg", cdn))
    peer.set_fault(status, path_prefix=CHILDREN, times=1)
    assert send().retried == 1
    with time_machine.travel(timezone.now() + timedelta(hours=3)):
        assert send().sent == 1
    assert len(peer.reports) == 1


def test_a_refused_report_fails_without_flagging_the_provider(peer: FakeAbuseAPI, cdn: Provider) -> None:
    plan(illegal("https://a.example.com/1.jpg", cdn))
    peer.set_fault("400", path_prefix=CHILDREN, times=1)
    assert send().failed == 1
    notice = Notice.objects.get()
    cdn.refresh_from_db()
    assert notice.state == NoticeState.FAILED and part(notice).state == DeliveryState.FAILED
    assert cdn.contact_flagged_at is None
    assert send().claimed == 0 and peer.reports == {}


def test_a_refused_token_fails_and_flags_the_provider(peer: FakeAbuseAPI, cdn: Provider) -> None:
    provider_api_configure(
        provider=cdn,
        base_url=peer.base_url,
        account=ACCOUNT,
        token="revoked-token",
        host_notification="send",
        owner_notification="none",
    )
    plan(illegal("https://a.example.com/1.jpg", cdn))
    assert send().failed == 1
    cdn.refresh_from_db()
    assert cdn.contact_flagged_at is not None
    assert "revoked-token" not in (Notice.objects.get().last_error + cdn.contact_flag_reason)


def test_a_timeout_whose_report_landed_records_that_report_and_sends_nothing_again(
    peer: FakeAbuseAPI, cdn: Provider
) -> None:
    plan(illegal("https://a.example.com/1.jpg", cdn))
    peer.set_fault("slow", path_prefix=CHILDREN, times=1, seconds=2)
    assert send().sent == 1
    (report,) = peer.wait_for_reports(1)
    notice = Notice.objects.get()
    assert notice.state == NoticeState.SENT and part(notice).external_id == report.id
    assert send().claimed == 0 and len(peer.reports) == 1


@pytest.mark.parametrize("fault", ["hang", "drop", "502"])
def test_no_answer_and_no_report_leaves_the_notice_unknown_for_a_senior(
    peer: FakeAbuseAPI, cdn: Provider, fault: str
) -> None:
    plan(illegal("https://a.example.com/1.jpg", cdn))
    peer.set_fault(fault, path_prefix=CHILDREN, times=1)
    assert send().failed == 1
    notice = Notice.objects.get()
    assert notice.state == NoticeState.UNKNOWN and part(notice).state == DeliveryState.UNKNOWN
    assert send().claimed == 0 and peer.reports == {}
    # A senior who checked sends it again: exactly one report.
    notice_resend(notice=notice, user=factories.staff_user("sen", "senior"))
    assert send().sent == 1
    assert len(peer.reports) == 1


def test_a_resent_notice_whose_report_landed_unseen_is_not_reported_twice(peer: FakeAbuseAPI, cdn: Provider) -> None:
    case = illegal("https://a.example.com/1.jpg", cdn)
    plan(case)
    peer.set_fault("hang", path_prefix=CHILDREN, times=1)
    send()
    notice = Notice.objects.get()
    assert notice.state == NoticeState.UNKNOWN
    # The API took the report after all (it was still processing when the sender looked).
    landed = _submit_directly(peer, case.canonical_url)
    notice_resend(notice=notice, user=factories.staff_user("sen", "senior"))
    assert send().sent == 1
    assert len(peer.reports) == 1 and part(notice).external_id == landed


def test_a_sender_that_died_mid_attempt_leaves_the_part_unknown_and_loses_nothing(
    peer: FakeAbuseAPI, cdn: Provider, settings
) -> None:
    case = illegal("https://a.example.com/1.jpg", cdn)
    plan(case)
    notice = Notice.objects.get()
    # What a worker killed mid-attempt leaves: the notice and its part written "sending", the
    # report submitted, nothing recorded after it.
    notice_transition(
        notice=notice, to=NoticeState.SENDING, expected_from=[NoticeState.QUEUED], sending_since=timezone.now()
    )
    row = NoticeDelivery.objects.create(notice=notice, channel=DeliveryChannel.PROVIDER_API, part_key="report")
    delivery_transition(delivery=row, to=DeliveryState.SENDING, attempts=1, sending_since=timezone.now())
    landed = _submit_directly(peer, case.canonical_url)
    with time_machine.travel(timezone.now() + settings.SCART_NOTICE_SENDING_TIMEOUT + timedelta(minutes=1)):
        assert notices_mark_unknown() == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.UNKNOWN and part(notice).state == DeliveryState.UNKNOWN
    assert send().claimed == 0  # nothing resends it by itself
    notice_resend(notice=notice, user=factories.staff_user("sen", "senior"))
    assert send().sent == 1
    assert len(peer.reports) == 1 and part(notice).external_id == landed


def test_a_provider_without_api_settings_fails_its_notice_with_a_reason(peer: FakeAbuseAPI) -> None:
    bare = Provider.objects.create(name="Bare", abuse_emails=["abuse@bare.example"], delivery_channel="provider_api")
    plan(illegal("https://a.example.com/1.jpg", bare))
    assert send().failed == 1
    assert "no abuse API settings" in Notice.objects.get().last_error


def _submit_directly(peer: FakeAbuseAPI, url: str) -> str:
    """A report the API holds that the sender never heard back about."""
    client = AbuseApiClient(Credentials(peer.base_url, ACCOUNT, TOKEN), allow_loopback=True)
    return client.submit(Submission(urls=(url,), email="n@hotline.example", name="Test Hotline", justification="x"))


def test_the_notice_page_previews_the_request_without_the_token(peer: FakeAbuseAPI, cdn: Provider) -> None:
    plan(illegal("https://a.example.com/preview.jpg", cdn))
    notice = Notice.objects.get()
    page = staff_client("ana").get(f"/notices/{notice.pk}/")
    text = page.content.decode()
    assert page.status_code == 200
    assert "abuse_children" in text and "https://a.example.com/preview.jpg" in text
    assert TOKEN not in text and peer.requests == []


def test_two_candidate_reports_leave_the_choice_to_a_person(peer: FakeAbuseAPI, cdn: Provider) -> None:
    case = illegal("https://a.example.com/1.jpg", cdn)
    plan(case)
    peer.set_fault("hang", path_prefix=CHILDREN, times=1)
    send()
    notice = Notice.objects.get()
    _submit_directly(peer, case.canonical_url)
    _submit_directly(peer, case.canonical_url)
    notice_resend(notice=notice, user=factories.staff_user("sen", "senior"))
    assert send().failed == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.UNKNOWN and "2 reports on a.example.com" in notice.last_error
    assert len(peer.reports) == 2  # nothing more was sent


def test_a_report_of_another_size_on_the_host_is_not_taken_for_this_one(peer: FakeAbuseAPI, cdn: Provider) -> None:
    case = illegal("https://a.example.com/1.jpg", cdn)
    plan(case)
    peer.set_fault("hang", path_prefix=CHILDREN, times=1)
    send()
    notice = Notice.objects.get()
    client = AbuseApiClient(Credentials(peer.base_url, ACCOUNT, TOKEN), allow_loopback=True)
    other = client.submit(
        Submission(
            urls=("https://a.example.com/x", "https://a.example.com/y"),
            email="n@h.example",
            name="H",
            justification="x",
        )
    )
    notice_resend(notice=notice, user=factories.staff_user("sen", "senior"))
    assert send().sent == 1
    assert len(peer.reports) == 2 and part(notice).external_id not in ("", other)
