"""A senior analyst's actions on a notice, end to end: cases reported, resolved against the local
DNS and RDAP peers, assessed and planned; the notice sent to the local SMTP peer. Each action is
confirmed on its own page, goes through the transition table, is written to the audit trail, and a
move the table refuses is answered with a message. The preview on the notice's page is the message
the SMTP peer received."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, TestCase
from django.urls import reverse

from accounts.models import AuditAction, AuditEntry
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from reports.models import Case, CaseState, Channel, Event, EventKind
from reports.services import report_create
from routing.models import Notice, NoticeKind, NoticeState
from routing.notices.planning import cases_plan_notices
from routing.notices.preview import LINK_PLACEHOLDER, message_preview, notice_preview
from routing.notices.sending import notices_send_due
from routing.resolution.cases import cases_resolve
from routing.tasks import notify_send_notice
from tests.conftest import staff_client
from tests.world import ILLEGAL, world_settings

pytestmark = pytest.mark.django_db

BT = "62.239.237.1"  # an address of the recorded registry answers, at home in the world's country
_hosts = itertools.count(1)


@pytest.fixture
def smtp(settings, recorded_registry) -> Iterator[FakeSMTP]:
    with FakeSMTP() as peer:
        world_settings(settings, smtp=peer)
        settings.SCART_NOTICE_WORKING_HOURS = ""
        yield peer


def queued(fake_dns: Any, *paths: str) -> Notice:
    """A provider notice, queued in its batch window, about new illegal cases on a fresh host."""
    host = f"host{next(_hosts)}.actions.example.net"
    fake_dns.add(host, "A", BT)
    result = report_create(channel=Channel.API, urls=[f"http://{host}{p}" for p in paths or ("/a",)])
    ids = [a.case_id for a in result.accepted]
    cases_resolve(case_ids=ids, force=True)
    for pk in ids:
        case_assess(case=Case.objects.get(pk=pk), user=None, classification=Classification(**dict[str, Any](ILLEGAL)))
    cases_plan_notices(case_ids=ids)
    notice = Notice.objects.get(items__case_id=ids[0], kind=NoticeKind.PROVIDER)
    assert notice.state == NoticeState.QUEUED and notice.due_at is not None
    return notice


@pytest.fixture(autouse=True)
def sender_here(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The task "send now" queues runs in this process when it is queued (a worker's part)."""
    queued: list[int] = []

    def run_here(notice_id: int) -> None:
        queued.append(notice_id)
        notify_send_notice.run(notice_id)

    monkeypatch.setattr(notify_send_notice, "delay", run_here)
    return queued


def act(client: Client, notice: Notice, action: str, **form: str) -> Any:
    """Open the action's confirmation page, then post its form; what it queued after the commit
    runs then."""
    url = reverse("notices-action", args=[notice.pk, action])
    page = client.get(url)
    assert page.status_code == 200, action
    assert 'name="csrfmiddlewaretoken"' in page.content.decode() and f'action="{url}"' in page.content.decode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(url, form)
    return client.get(response["Location"]) if response.status_code == 302 else response


def audited(action: str, notice: Notice) -> AuditEntry:
    return AuditEntry.objects.get(action=action, object_type="routing.notice", object_id=str(notice.pk))


def test_send_now_sends_a_queued_notice_and_the_preview_is_what_went_out(smtp, client, senior, fake_dns):
    notice = queued(fake_dns, "/one", "/two")
    page = client.get(reverse("notices-detail", args=[notice.pk])).content.decode()
    before = notice_preview(notice)
    assert before.headers and dict(before.headers)["X-Scart-Reference"] == notice.reference
    assert LINK_PLACEHOLDER in before.body and before.csv is not None and len(before.xarf) == 2
    assert reverse("notices-action", args=[notice.pk, "send-now"]) in page

    response = act(client, notice, "send-now")
    assert f"{notice.reference} is queued to go out now" in response.content.decode()
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT and notice.handled_by is not None
    (received,) = smtp.messages
    assert received.message["X-Scart-Reference"] == notice.reference
    assert audited(AuditAction.NOTICE_SENT_NOW, notice).actor_name == "sen"

    # The preview of the sent notice is the message the mail server received, but for the
    # provider's link (a credential made for each message) and the Date header.
    preview = notice_preview(notice)
    got = message_preview(received.message)
    link = next(w for w in got.body.split() if "/n/" in w)
    assert got.body.replace(link, LINK_PLACEHOLDER) == preview.body
    assert got.headers == preview.headers
    assert got.attachments == preview.attachments
    page = client.get(reverse("notices-detail", args=[notice.pk])).content.decode()
    assert notice.message_id.replace("<", "&lt;").replace(">", "&gt;") in page
    assert preview.xarf[0].filename in page and "xarf_version" in page


def test_send_now_answers_at_once_and_a_worker_claims_and_sends_after_the_commit(
    smtp, client, senior, fake_dns, sender_here, django_capture_on_commit_callbacks
):
    notice = queued(fake_dns)
    url = reverse("notices-action", args=[notice.pk, "send-now"])
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        response = client.post(url)
    # The request only made the notice due and queued its sending: nothing went out in it.
    assert response.status_code == 302 and smtp.messages == [] and sender_here == []
    notice.refresh_from_db()
    assert notice.state == NoticeState.QUEUED and not notice.open and notice.handled_by is not None
    assert audited(AuditAction.NOTICE_SENT_NOW, notice).actor_name == "sen"
    page = client.get(response["Location"]).content.decode()
    assert f"{notice.reference} is queued to go out now" in page

    (send,) = after_commit
    send()  # the worker: claims the notice and sends it
    assert sender_here == [notice.pk] and len(smtp.messages) == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT
    # Delivered twice, the message sends nothing more.
    assert notify_send_notice.run(notice.pk) == 0 and len(smtp.messages) == 1


def test_send_now_of_a_sent_notice_is_refused_with_a_message(smtp, client, senior, fake_dns):
    notice = queued(fake_dns)
    notices_send_due(flush=True, reresolve=False)
    response = client.post(reverse("notices-action", args=[notice.pk, "send-now"]), follow=True)
    assert response.status_code == 200
    assert "only a queued notice with cases, that no sender holds, can be sent now" in response.content.decode()
    assert len(smtp.messages) == 1
    assert not AuditEntry.objects.filter(action=AuditAction.NOTICE_SENT_NOW).exists()
    page = client.get(reverse("notices-action", args=[notice.pk, "send-now"])).content.decode()
    assert "This does not apply to a notice in this state" in page


def test_cancel_needs_a_reason_and_takes_the_cases_out(smtp, client, senior, fake_dns):
    notice = queued(fake_dns, "/one", "/two")
    url = reverse("notices-action", args=[notice.pk, "cancel"])
    refused = client.post(url, {"reason": "  "})
    assert refused.status_code == 400 and "Say why the notice is cancelled." in refused.content.decode()
    response = act(client, notice, "cancel", reason="the provider asked us to use its form")
    assert f"{notice.reference} is cancelled" in response.content.decode()
    notice.refresh_from_db()
    assert notice.state == NoticeState.CANCELLED and "the provider asked us" in notice.last_error
    assert not notice.items.filter(dropped_at__isnull=True).exists()
    events = Event.objects.filter(kind=EventKind.NOTICE_DROPPED, data__notice=notice.reference)
    assert events.count() == 2 and all(e.actor_user is not None for e in events)
    entry = audited(AuditAction.NOTICE_CANCELLED, notice)
    assert entry.data["reason"] == "the provider asked us to use its form" and len(entry.data["cases"]) == 2

    assert notices_send_due(flush=True, reresolve=False).sent == 0 and smtp.messages == []
    again = client.post(url, {"reason": "twice"}, follow=True)
    assert "only a queued notice that no sender holds can be cancelled" in again.content.decode()
    assert AuditEntry.objects.filter(action=AuditAction.NOTICE_CANCELLED).count() == 1


def test_a_changed_recipient_is_validated_and_kept_by_the_sender(smtp, client, senior, fake_dns):
    notice = queued(fake_dns)
    url = reverse("notices-action", args=[notice.pk, "recipient"])
    bad = client.post(url, {"email": "not an address"})
    assert bad.status_code == 400 and "“not an address” is not a valid e-mail address" in bad.content.decode()
    assert client.post(url, {"contact": "p999:x@example.net"}).status_code == 400
    response = act(client, notice, "recipient", email="abuse-desk@hosting.example", name="Hosting desk")
    assert f"{notice.reference} now goes to abuse-desk@hosting.example" in response.content.decode()
    notice.refresh_from_db()
    assert notice.emails == ["abuse-desk@hosting.example"] and notice.recipient_fixed and not notice.open
    entry = audited(AuditAction.NOTICE_RECIPIENT_CHANGED, notice)
    assert entry.data["after"]["emails"] == ["abuse-desk@hosting.example"] and entry.data["before"]["emails"]

    act(client, notice, "send-now")
    (received,) = smtp.messages
    assert received.rcpt_tos == ["abuse-desk@hosting.example"], "the sender kept the address chosen by hand"


def failed(smtp: FakeSMTP, client: Client, notice: Notice, settings: Any) -> None:
    """The mail server keeps answering "try later" until the sender gives up: the notice fails
    (without flagging the provider's contact, as a refused address would)."""
    settings.SCART_NOTICE_MAX_ATTEMPTS = 1
    smtp.reject_temporarily.update(a.lower() for a in notice.emails)
    act(client, notice, "send-now")
    notice.refresh_from_db()
    assert notice.state == NoticeState.FAILED and smtp.messages == []
    smtp.reject_temporarily.clear()


def test_a_failed_notice_goes_to_a_known_contact_and_is_sent_again(smtp, client, senior, fake_dns, settings):
    notice = queued(fake_dns)
    failed(smtp, client, notice, settings)
    page = client.get(reverse("notices-action", args=[notice.pk, "recipient"])).content.decode()
    assert "abuse contact" in page and notice.emails[0] in page and settings.SCART_POLICE_EMAIL in page
    act(client, notice, "recipient", contact=f"police:{settings.SCART_POLICE_EMAIL}")
    notice.refresh_from_db()
    assert notice.state == NoticeState.QUEUED and notice.emails == [settings.SCART_POLICE_EMAIL]
    assert notices_send_due(reresolve=False).sent == 1
    assert smtp.messages[-1].rcpt_tos == [settings.SCART_POLICE_EMAIL]


def test_resend_after_a_failure_reaches_the_peer(smtp, client, senior, fake_dns, settings):
    notice = queued(fake_dns)
    failed(smtp, client, notice, settings)
    settings.SCART_NOTICE_MAX_ATTEMPTS = 5
    response = act(client, notice, "resend")
    assert "is queued and goes out with the next run of the sender" in response.content.decode()
    assert audited(AuditAction.NOTICE_RESENT, notice).actor_name == "sen"
    assert notices_send_due(reresolve=False).sent == 1
    assert smtp.messages[-1].message["X-Scart-Reference"] == notice.reference


def test_escalate_now_plans_the_next_escalation_at_once(smtp, client, senior, fake_dns, settings):
    settings.SCART_ESCALATION_LADDER = ["police"]
    notice = queued(fake_dns)
    refused = client.post(reverse("notices-action", args=[notice.pk, "escalate"]), follow=True)
    assert "only a sent notice or reminder to the hosting side can be escalated" in refused.content.decode()
    act(client, notice, "send-now")
    case = Case.objects.get(pk=notice.items.get().case_id)
    assert case.state == CaseState.NOTIFIED

    response = act(client, notice, "escalate")
    escalation = Notice.objects.get(kind=NoticeKind.ESCALATION)
    assert f"{escalation.reference}, due now" in response.content.decode()
    assert escalation.recipient_kind == "police" and escalation.state == NoticeState.QUEUED
    entry = audited(AuditAction.NOTICE_ESCALATED, notice)
    assert entry.data["notices"] == [escalation.reference]
    assert notices_send_due(reresolve=False).sent == 1, "due at once, no reminders before it"
    assert smtp.messages[-1].rcpt_tos == [settings.SCART_POLICE_EMAIL]

    again = client.post(reverse("notices-action", args=[notice.pk, "escalate"]), follow=True)
    assert "escalation step left" in again.content.decode()


def test_analysts_may_not_act_or_see_the_audit_trail(smtp, client, analyst, fake_dns):
    senior = staff_client("sen", "senior")
    notice = queued(fake_dns)
    page = client.get(reverse("notices-detail", args=[notice.pk])).content.decode()
    assert reverse("notices-action", args=[notice.pk, "send-now"]) not in page
    assert reverse("audit-list") not in page
    for action in ("send-now", "cancel", "recipient", "escalate", "resend", "mark-sent"):
        url = reverse("notices-action", args=[notice.pk, action])
        assert client.get(url).status_code == 403
        assert client.post(url, {"reason": "x", "email": "a@b.example"}).status_code == 403
    assert client.get(reverse("audit-list")).status_code == 403
    assert senior.get(reverse("notices-action", args=[notice.pk, "bogus"])).status_code == 404
    notice.refresh_from_db()
    assert notice.state == NoticeState.QUEUED and smtp.messages == []
    assert not AuditEntry.objects.filter(object_type="routing.notice").exists()


def test_the_audit_view_filters_who_did_what_to_which_case(smtp, client, senior, fake_dns):
    first = queued(fake_dns)
    act(client, first, "cancel", reason="wrong batch")
    second = queued(fake_dns)
    other = staff_client("sue", "senior")
    act(other, second, "recipient", email="desk@hosting.example")
    url = reverse("audit-list")
    page = client.get(url).content.decode()
    assert "Notice cancelled" in page and "Notice recipient changed" in page
    assert f"cancelled notice {first.reference}" in page
    assert reverse("notices-detail", args=[first.pk]) in page

    by_user = client.get(url, {"user": "sue"}).content.decode()
    assert "to desk@hosting.example instead" in by_user and "wrong batch" not in by_user
    by_action = client.get(url, {"action": "notice_cancelled"}).content.decode()
    assert first.reference in by_action and second.reference not in by_action
    case_id = first.items.get().case_id
    by_case = client.get(url, {"case": str(case_id)}).content.decode()
    assert first.reference in by_case and second.reference not in by_case
    by_notice = client.get(url, {"notice": second.reference}).content.decode()
    assert second.reference in by_notice and f"cancelled notice {first.reference}" not in by_notice
    empty = client.get(url, {"since": "2001-01-01", "until": "2001-01-02"}).content.decode()
    assert "No entries match." in empty
