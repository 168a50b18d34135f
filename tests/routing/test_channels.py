"""Delivery channels per recipient, through the local SMTP peer: batched mail as before, one X-ARF
report per message (N messages, each its own Message-ID, sent once whatever fails between them),
provider-API batches (one hostname, at most the API's limit), the manual channel (prepared, sent
by hand, recorded by a senior), the transport contract (report ids kept, Retry-After honoured,
permanent failures), and the senior's choice of a provider's channel."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any, ClassVar

import pytest
import time_machine
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEntry
from devnet.smtp import CapturedMessage, FakeSMTP
from reports.assessment import Classification, case_assess
from reports.models import Case, CaseState, EventKind
from routing.models import (
    DeliveryChannel,
    DeliveryState,
    Notice,
    NoticeDelivery,
    NoticeMessage,
    NoticeState,
    PartnerHotline,
    Provider,
)
from routing.notices import batches
from routing.notices.channels import Outgoing, Part, PartResult, PartStatus, TemporaryFailure
from routing.notices.channels.base import PermanentFailure
from routing.notices.channels.parts import delivery_transition
from routing.notices.channels.polling import FINAL_PREFIX, deliveries_poll
from routing.notices.channels.registry import _FACTORIES, transport_register
from routing.notices.channels.shown import PartPreview
from routing.notices.ladder import cases_plan_ladder
from routing.notices.planning import cases_plan_notices
from routing.notices.preview import notice_preview
from routing.notices.render import xarf_validate
from routing.notices.replies import notice_message_file
from routing.notices.responses import notice_mark_sent, notice_resend
from routing.notices.sending import notices_send_due
from routing.notices.states import notice_transition
from routing.notices.sweep import notices_mark_unknown
from tests import factories

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


@pytest.fixture
def smtp(settings) -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.EMAIL_TIMEOUT = 2
        settings.SCART_HOTLINE_COUNTRY = "NL"
        settings.SCART_HOTLINE_NAME = "Test Hotline"
        settings.SCART_POLICE_EMAIL = "reports@police.example"
        settings.SCART_NOTICE_WORKING_HOURS = ""
        yield server


def provider(name: str, *emails: str, channel: str = DeliveryChannel.BATCHED_MAIL, **fields: Any) -> Provider:
    return Provider.objects.create(name=name, abuse_emails=list(emails), delivery_channel=channel, **fields)


def illegal(url: str, **fields: Any) -> Case:
    case = factories.awaiting_case(url, **fields)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    case.refresh_from_db()
    return case


def send_all() -> Any:
    return notices_send_due(flush=True, reresolve=False)


def parsed(message: CapturedMessage) -> EmailMessage:
    got = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(message.raw)
    assert isinstance(got, EmailMessage)
    return got


def per_report_world(count: int = 3) -> tuple[Provider, list[Case], Notice]:
    host = provider("Ticket Hosting", "abuse@tickets.example", channel=DeliveryChannel.XARF_PER_MESSAGE)
    cases = [illegal(f"https://files.example.com/{n}.jpg", hosting_country="NL", provider=host) for n in range(count)]
    cases_plan_notices(case_ids=[c.pk for c in cases])
    return host, cases, Notice.objects.get(provider=host)


# Batched mail --------------------------------------------------------------------------------------


def test_batched_mail_is_still_one_message_with_one_part_record(smtp):
    host = provider("Hosting", "abuse@hosting.example")
    cases = [illegal(f"https://a.example.com/{n}", hosting_country="NL", provider=host) for n in range(2)]
    cases_plan_notices(case_ids=[c.pk for c in cases])
    notice = Notice.objects.get()
    assert notice.channel == DeliveryChannel.BATCHED_MAIL
    assert send_all().sent == 1
    (message,) = smtp.wait_for(1)
    (part,) = NoticeDelivery.objects.filter(notice=notice)
    notice.refresh_from_db()
    assert part.part_key == "message" and part.state == DeliveryState.SENT and part.attempts == 1
    assert part.message_id == notice.message_id == message.message["Message-ID"]


# One X-ARF report per message ----------------------------------------------------------------------


def test_one_report_per_message_sends_one_rfc5965_message_per_url_each_with_its_own_message_id(smtp):
    _host, cases, notice = per_report_world(3)
    assert notice.channel == DeliveryChannel.XARF_PER_MESSAGE
    assert send_all().sent == 1
    messages = smtp.wait_for(3)
    assert len(messages) == 3
    ids = [m.message["Message-ID"] for m in messages]
    assert len(set(ids)) == 3
    reports = []
    for n, message in enumerate(messages, start=1):
        got = parsed(message)
        assert got.get_content_type() == "multipart/report"
        assert got.get_param("report-type") == "feedback-report"
        assert got["X-Scart-Reference"] == notice.reference
        assert got["Subject"].endswith(f"[{n}/3]")
        kinds = [p.get_content_type() for p in got.iter_parts()]
        assert kinds == ["text/plain", "message/feedback-report", "application/json"]
        feedback: Any = list(got.iter_parts())[1].get_payload()[0]  # type: ignore[index]
        assert feedback["Feedback-Type"] == "xarf"
        report = json.loads(list(got.iter_parts())[2].get_content())
        xarf_validate(report)
        assert feedback["Reported-URI"] == report["url"]
        reports.append(report["url"])
    assert sorted(reports) == sorted(c.canonical_url for c in cases)
    parts = list(NoticeDelivery.objects.filter(notice=notice).order_by("position"))
    assert [p.state for p in parts] == [DeliveryState.SENT] * 3
    assert sorted(p.message_id for p in parts) == sorted(ids)
    assert {p.case_id for p in parts} == {c.pk for c in cases}
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT
    assert all(Case.objects.get(pk=c.pk).state == CaseState.NOTIFIED for c in cases)
    assert send_all().claimed == 0 and len(smtp.messages) == 3


def test_a_reply_to_any_of_the_messages_finds_the_notice(smtp):
    _host, _cases, notice = per_report_world(2)
    send_all()
    second = smtp.wait_for(2)[1].message["Message-ID"]
    reply = EmailMessage()
    reply["From"] = "abuse@tickets.example"
    reply["Subject"] = "Re: your report"
    reply["Message-ID"] = "<reply-1@tickets.example>"
    reply["In-Reply-To"] = second
    reply.set_content("Ticket 4711 opened.")
    filed = notice_message_file(reply, authenticated=True)
    assert filed is not None and filed.notice_id == notice.pk and filed.kind == NoticeMessage.Kind.REPLY


def test_a_temporary_failure_between_messages_sends_only_the_rest_later(smtp):
    _host, _cases, notice = per_report_world(3)
    smtp.data_replies = ["250", "451 4.3.0 try again later"]
    summary = send_all()
    assert summary.retried == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.QUEUED and "451" in notice.last_error
    states = list(NoticeDelivery.objects.filter(notice=notice).order_by("position").values_list("state", flat=True))
    assert states == [DeliveryState.SENT, DeliveryState.PENDING, DeliveryState.PENDING]
    assert len(smtp.messages) == 1
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert send_all().sent == 1
    assert len(smtp.messages) == 3
    assert len({m.message["Message-ID"] for m in smtp.messages}) == 3
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT


def test_a_permanent_failure_of_one_message_fails_the_notice_and_resends_nothing_that_went(smtp):
    _host, _cases, notice = per_report_world(3)
    smtp.data_replies = ["250", "554 5.7.1 message refused"]
    assert send_all().failed == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.FAILED and "554" in notice.last_error
    states = list(NoticeDelivery.objects.filter(notice=notice).order_by("position").values_list("state", flat=True))
    assert states == [DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.PENDING]
    # The refusal flagged the provider's contact: sent again, the message that went is not repeated,
    # and the cases it did not reach wait for a senior's check of the contact.
    notice_resend(notice=notice, user=factories.staff_user("sen", "senior"))
    send_all()
    assert len(smtp.messages) == 1
    assert Provider.objects.get(notices=notice).contact_flagged_at is not None


def test_a_timeout_waiting_for_the_server_loses_and_duplicates_nothing(smtp):
    per_report_world(2)
    smtp.stall_after = 1  # the answer to the second message never comes in time
    assert send_all().retried == 1
    smtp.stall_data.clear()
    smtp.stall_after = None
    assert len(smtp.messages) == 1
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert send_all().sent == 1
    assert len(smtp.wait_for(2)) == 2
    assert len({m.message["Message-ID"] for m in smtp.messages}) == 2


def test_a_sender_that_died_between_two_messages_is_queued_again_and_sends_only_the_rest(smtp):
    _host, _cases, notice = per_report_world(3)
    smtp.data_replies = ["250", "451 4.3.0 later"]
    send_all()
    # As a sender killed after its first message would leave it: the notice sending, one part sent.
    notice.refresh_from_db()
    notice_transition(notice=notice, to=NoticeState.SENDING, sending_since=timezone.now(), attempts=1)
    with time_machine.travel(timezone.now() + django_settings.SCART_NOTICE_SENDING_TIMEOUT + timedelta(minutes=1)):
        assert notices_mark_unknown() == 1
        notice.refresh_from_db()
        assert notice.state == NoticeState.QUEUED
        assert send_all().sent == 1
    assert len(smtp.messages) == 3
    assert len({m.message["Message-ID"] for m in smtp.messages}) == 3


def test_a_part_in_doubt_waits_for_a_person_and_marking_it_sent_queues_the_rest(smtp):
    _host, _cases, notice = per_report_world(3)
    smtp.data_replies = ["250", "451 4.3.0 later"]
    send_all()
    notice.refresh_from_db()
    # A sender killed mid-attempt on the second message: that part is "sending".
    second = NoticeDelivery.objects.get(notice=notice, position=1)
    notice_transition(notice=notice, to=NoticeState.SENDING, sending_since=timezone.now(), attempts=1)
    assert delivery_transition(delivery=second, to=DeliveryState.SENDING, sending_since=timezone.now())
    with time_machine.travel(timezone.now() + django_settings.SCART_NOTICE_SENDING_TIMEOUT + timedelta(minutes=1)):
        notices_mark_unknown()
    notice.refresh_from_db()
    second.refresh_from_db()
    assert notice.state == NoticeState.UNKNOWN and second.state == DeliveryState.UNKNOWN
    assert send_all().claimed == 0
    senior = factories.staff_user("sen", "senior")
    notice_mark_sent(notice=notice, user=senior)
    notice.refresh_from_db()
    assert notice.state == NoticeState.QUEUED
    assert send_all().sent == 1
    # The first went before, the second a person confirmed, the third goes now.
    assert len(smtp.messages) == 2
    states = set(NoticeDelivery.objects.filter(notice=notice).values_list("state", flat=True))
    assert states == {DeliveryState.SENT}


def test_the_preview_shows_every_message_of_the_channel(smtp):
    _host, _cases, notice = per_report_world(3)
    preview = notice_preview(notice)
    assert preview.channel == DeliveryChannel.XARF_PER_MESSAGE and len(preview.parts) == 3
    assert len(preview.more) == 2
    first = preview.parts[0]
    assert [a.mimetype for a in first.attachments] == ["message/feedback-report", "application/json"]
    assert "Feedback-Type: xarf" in first.attachments[0].text
    send_all()
    got = [PartPreview(p.headers, p.body, p.attachments) for p in preview.parts]
    sent = notice_preview(notice)
    assert [dict(p.headers)["Subject"] for p in sent.parts] == [dict(p.headers)["Subject"] for p in got]
    assert [dict(p.headers)["Message-ID"] for p in sent.parts] == [m.message["Message-ID"] for m in smtp.messages]


# The manual channel --------------------------------------------------------------------------------


def test_a_manual_notice_is_prepared_sent_by_hand_recorded_and_reminded(smtp, client, senior):
    host = provider("Form Only Hosting", "abuse@formonly.example", channel=DeliveryChannel.MANUAL)
    case = illegal("https://formonly.example.com/1", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    assert send_all().by_hand == 1
    notice = Notice.objects.get()
    assert notice.state == NoticeState.BY_HAND and not smtp.messages
    assert Case.objects.get(pk=case.pk).state == CaseState.ILLEGAL
    listing = client.get(reverse("notices-list")).content.decode()
    assert "to send by hand" in listing
    page = client.get(reverse("notices-detail", args=[notice.pk])).content.decode()
    assert "This notice is to be sent by hand" in page and "https://formonly.example.com/1" in page
    assert reverse("notices-action", args=[notice.pk, "mark-sent"]) in page
    assert send_all().claimed == 0

    client.post(reverse("notices-action", args=[notice.pk, "mark-sent"]), follow=True)
    notice.refresh_from_db()
    case.refresh_from_db()
    assert notice.state == NoticeState.SENT and case.state == CaseState.NOTIFIED
    assert case.ladder_due_at is not None
    assert NoticeDelivery.objects.get(notice=notice).state == DeliveryState.SENT
    assert AuditEntry.objects.filter(action=AuditAction.NOTICE_MARKED_SENT, object_id=str(notice.pk)).exists()
    assert case.events.filter(kind=EventKind.NOTICE_SENT).count() == 1
    # The reminder goes the same way: prepared for the senior.
    cases_plan_ladder(case_ids=[case.pk], now=case.ladder_due_at)
    reminder = Notice.objects.exclude(pk=notice.pk).get()
    assert reminder.channel == DeliveryChannel.MANUAL
    assert send_all().by_hand == 1 and not smtp.messages


# Channels at planning ------------------------------------------------------------------------------


def test_a_change_of_channel_starts_a_new_notice_and_the_police_stay_on_mail(smtp, client, senior):
    host = provider("Hosting", "abuse@hosting.example")
    first = illegal("https://a.example.com/1", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[first.pk])
    response = client.post(reverse("providers-channel", args=[host.pk]), {"channel": "xarf_per_message"}, follow=True)
    assert response.status_code == 200
    host.refresh_from_db()
    assert host.delivery_channel == DeliveryChannel.XARF_PER_MESSAGE
    entry = AuditEntry.objects.get(action=AuditAction.CHANNEL_CHANGED)
    assert entry.data == {"before": "batched_mail", "after": "xarf_per_message"}
    second = illegal("https://a.example.com/2", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[second.pk])
    channels = dict(Notice.objects.values_list("items__case_id", "channel"))
    assert channels == {first.pk: "batched_mail", second.pk: "xarf_per_message"}
    page = client.get(reverse("providers-detail", args=[host.pk])).content.decode()
    assert 'data-channel="xarf_per_message"' in page
    refused = client.post(reverse("providers-channel", args=[host.pk]), {"channel": "carrier_pigeon"}, follow=True)
    assert "Choose one of the delivery channels." in refused.content.decode()
    # Outside the hotline's country with no partner: provider and police; the police by mail.
    far = provider("Far Hosting", "abuse@far.example", channel=DeliveryChannel.MANUAL)
    case = illegal("https://far.example.com/1", hosting_country="ZZ", provider=far)
    cases_plan_notices(case_ids=[case.pk])
    police = Notice.objects.filter(items__case=case, recipient_kind="police")
    assert [n.channel for n in police] in ([], ["batched_mail"])


def test_provider_api_batches_hold_one_hostname_and_at_most_the_api_limit(smtp, monkeypatch):
    monkeypatch.setattr(batches, "PROVIDER_API_MAX_URLS", 2)
    cdn = provider("Edge CDN", "abuse@edge.example", channel=DeliveryChannel.PROVIDER_API)
    urls = [f"https://one.example.com/{n}" for n in range(3)] + ["https://two.example.com/1"]
    cases = [illegal(u, hosting_country="NL", provider=cdn) for u in urls]
    cases_plan_notices(case_ids=[c.pk for c in cases])
    notices = list(Notice.objects.filter(provider=cdn).order_by("pk"))
    shape = sorted((n.batch_part, n.items.count()) for n in notices)
    assert shape == [("one.example.com", 1), ("one.example.com", 2), ("two.example.com", 1)]
    assert {n.channel for n in notices} == {DeliveryChannel.PROVIDER_API}
    for notice in notices:
        hosts = {c.host for c in Case.objects.filter(notice_items__notice=notice)}
        assert hosts == {notice.batch_part}


# The transport contract, with a transport of the test's own -------------------------------------


class RecordingApi:
    """A transport that answers as the test says (the real provider-API client has its own peer)."""

    channel: ClassVar[str] = DeliveryChannel.PROVIDER_API
    answers: ClassVar[list[Any]] = []
    delivered: ClassVar[list[tuple[str, tuple[str, ...]]]] = []

    def parts(self, outgoing: Outgoing) -> list[Part]:
        return [Part(key="report", items=outgoing.items)]

    def deliver(self, outgoing: Outgoing, part: Part, delivery: NoticeDelivery) -> PartResult:
        answer = self.answers.pop(0) if self.answers else PartResult(external_id="r-1", status="received")
        if isinstance(answer, Exception):
            raise answer
        self.delivered.append((outgoing.notice.batch_part, tuple(outgoing.urls(part.items))))
        return answer

    def preview(self, outgoing: Outgoing, part: Part, *, message_id: str) -> PartPreview:
        return PartPreview((("POST", "/abuse-reports"),), "\n".join(outgoing.urls(part.items)), ())

    def poll(self, delivery: NoticeDelivery) -> PartStatus | None:
        return PartStatus(status="closed", final=True)

    def close(self) -> None:
        return None


@pytest.fixture
def api_transport() -> Iterator[type[RecordingApi]]:
    before = _FACTORIES.get(DeliveryChannel.PROVIDER_API)
    RecordingApi.answers, RecordingApi.delivered = [], []
    transport_register(DeliveryChannel.PROVIDER_API)(RecordingApi)
    yield RecordingApi
    if before is None:
        _FACTORIES.pop(DeliveryChannel.PROVIDER_API, None)
    else:
        _FACTORIES[DeliveryChannel.PROVIDER_API] = before


def test_a_transport_s_report_id_is_kept_and_its_status_polled(smtp, api_transport):
    cdn = provider("Edge CDN", "abuse@edge.example", channel=DeliveryChannel.PROVIDER_API)
    case = illegal("https://one.example.com/1", hosting_country="NL", provider=cdn)
    cases_plan_notices(case_ids=[case.pk])
    assert send_all().sent == 1
    assert api_transport.delivered == [("one.example.com", ("https://one.example.com/1",))]
    part = NoticeDelivery.objects.get()
    assert (part.external_id, part.status, part.state) == ("r-1", "received", DeliveryState.SENT)
    assert not smtp.messages
    assert notice_preview(Notice.objects.get()).headers == (("POST", "/abuse-reports"),)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert deliveries_poll().changed == 1
        assert deliveries_poll().asked == 0  # final: not asked again
    part.refresh_from_db()
    assert part.status == f"{FINAL_PREFIX}closed"


def test_retry_after_is_honoured_and_a_permanent_failure_without_flag_leaves_the_contact(smtp, api_transport):
    cdn = provider("Edge CDN", "abuse@edge.example", channel=DeliveryChannel.PROVIDER_API)
    case = illegal("https://one.example.com/1", hosting_country="NL", provider=cdn)
    cases_plan_notices(case_ids=[case.pk])
    api_transport.answers = [TemporaryFailure("429 slow down", retry_after=timedelta(minutes=30))]
    before = timezone.now()
    assert send_all().retried == 1
    notice = Notice.objects.get()
    assert notice.due_at >= before + timedelta(minutes=30)
    assert NoticeDelivery.objects.get().state == DeliveryState.PENDING
    api_transport.answers = [PermanentFailure("400 the report was refused", flag=False)]
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        assert send_all().failed == 1
    notice.refresh_from_db()
    cdn.refresh_from_db()
    assert notice.state == NoticeState.FAILED and cdn.contact_flagged_at is None
    assert api_transport.delivered == []


def test_a_sender_that_died_after_the_last_part_before_recording_it_only_records_the_notice(smtp):
    host = provider("Hosting", "abuse@hosting.example")
    case = illegal("https://a.example.com/1", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    notice = Notice.objects.get()
    # As a sender killed right after the mail server's 250 would leave it.
    notice_transition(notice=notice, to=NoticeState.FAILED)
    notice_transition(notice=notice, to=NoticeState.QUEUED)
    notice_transition(notice=notice, to=NoticeState.SENDING, sending_since=timezone.now())
    with time_machine.travel(timezone.now() + django_settings.SCART_NOTICE_SENDING_TIMEOUT + timedelta(minutes=1)):
        notices_mark_unknown()
        notice.refresh_from_db()
        assert notice.state == NoticeState.QUEUED
        assert send_all().sent == 1
    assert len(smtp.messages) == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT


def test_the_admin_offers_a_partner_hotline_no_abuse_api_channel(admin_client):
    hotline = PartnerHotline.objects.get(country="DE")  # seeded by a migration
    page = admin_client.get(reverse("admin:routing_partnerhotline_change", args=[hotline.pk])).content.decode()
    assert 'value="xarf_per_message"' in page and 'value="provider_api"' not in page
    provider = Provider.objects.create(name="Host", abuse_emails=["abuse@host.example"])
    page = admin_client.get(reverse("admin:routing_provider_change", args=[provider.pk])).content.decode()
    assert 'value="provider_api"' in page
