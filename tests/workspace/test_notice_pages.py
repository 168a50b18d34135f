"""The staff pages of the notice stage: the notices list and a notice's page (analysts), sending
an unknown or failed notice again or confirming it left, the disputes queue and releasing a
police-first case (senior analysts)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction, AuditEntry
from reports.assessment import Classification, case_assess
from reports.models import Case, CaseState, Event, EventKind
from routing.jurisdiction import Hold, cases_route
from routing.models import DisputeState, Notice, NoticeCase, NoticeMessage, NoticeState, Provider
from routing.notices.planning import cases_plan_notices
from routing.notices.replies import notice_message_file
from routing.notices.responses import notice_respond
from routing.notices.sending import notices_send_due
from routing.notices.sweep import notices_mark_unknown
from tests import factories
from tests.conftest import staff_client

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_NOTICE_WORKING_HOURS = ""
    settings.SCART_POLICE_EMAIL = "reports@police.example"


def host(name: str = "Hosting") -> Provider:
    return Provider.objects.create(name=name, abuse_emails=[f"abuse@{name.lower()}.example"])


def illegal(url: str, provider: Provider, **classification: Any) -> Case:
    case = factories.awaiting_case(url, hosting_country="NL", provider=provider)
    case_assess(case=case, user=None, classification=Classification(**{**ILLEGAL, **classification}))
    case.refresh_from_db()
    return case


def planned(*urls: str, provider: Provider | None = None) -> Notice:
    provider = provider or host()
    cases = [illegal(url, provider) for url in urls]
    cases_plan_notices(case_ids=[c.pk for c in cases])
    return Notice.objects.get(provider=provider)


def sent(*urls: str, provider: Provider | None = None) -> Notice:
    notice = planned(*urls, provider=provider)
    notices_send_due(flush=True, reresolve=False)
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT
    return notice


def unknown(*urls: str) -> Notice:
    """A notice whose sender stopped mid-attempt (it was written ``sending`` and never finished)."""
    notice = planned(*urls)
    started = timezone.now() - timedelta(hours=1)
    Notice.objects.filter(pk=notice.pk).update(
        state=NoticeState.SENDING, sending_since=started, attempts=1, message_id="<notice.1@scart.example>", open=False
    )
    notices_mark_unknown()
    notice.refresh_from_db()
    assert notice.state == NoticeState.UNKNOWN
    return notice


def disputed(url: str, reason: str = "An adult.", provider: Provider | None = None) -> NoticeCase:
    notice = sent(url, provider=provider)
    item = notice.items.get()
    notice_respond(notice=notice, answers={item.pk: ("disputed", reason)})
    item.refresh_from_db()
    return item


# The notices list and a notice's page ------------------------------------------------------------


def test_analysts_see_every_notice_newest_first_and_filter_by_state(client, analyst):
    old = sent("https://old.example.com/1", provider=host("Old"))
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        new = planned("https://new.example.com/1", provider=host("New"))
    page = client.get(reverse("notices-list")).content.decode()
    assert page.index(new.reference) < page.index(old.reference)
    assert "Old" in page and "New" in page
    assert re.search(r"Queued <span[^>]*>1</span>", page) and re.search(r"Sent <span[^>]*>1</span>", page)

    queued = client.get(reverse("notices-list"), {"state": "queued"}).content.decode()
    assert new.reference in queued and old.reference not in queued
    sent_only = client.get(reverse("notices-list"), {"state": "sent"}).content.decode()
    assert old.reference in sent_only and new.reference not in sent_only
    everything = client.get(reverse("notices-list"), {"state": "bogus"}).content.decode()
    assert old.reference in everything and new.reference in everything


def test_the_list_sorts_by_a_column_and_keeps_the_state_filter(client, analyst):
    old = sent("https://old.example.com/1", provider=host("Old"))
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        new = planned("https://new.example.com/1", provider=host("New"))
    oldest_first = client.get(reverse("notices-list"), {"sort": "created"}).content.decode()
    assert oldest_first.index(old.reference) < oldest_first.index(new.reference)
    assert 'aria-sort="ascending"' in oldest_first and "sort=-created" in oldest_first
    by_recipient = client.get(reverse("notices-list"), {"sort": "-recipient"}).content.decode()
    assert by_recipient.index(old.reference) < by_recipient.index(new.reference)  # "Old" after "New", reversed
    ignored = client.get(reverse("notices-list"), {"sort": "message_id"}).content.decode()
    assert ignored.index(new.reference) < ignored.index(old.reference)  # not a column: newest first
    filtered = client.get(reverse("notices-list"), {"state": "sent", "sort": "created"}).content.decode()
    assert old.reference in filtered and new.reference not in filtered
    assert "state=sent&amp;sort=-created" in filtered  # the column head keeps the filter


def test_the_list_is_paginated(client, analyst, settings):
    from workspace.views import notices as views

    provider = host()
    for n in range(3):
        Notice.objects.create(
            reference=f"SCART-20260101-{n:06d}",
            kind="provider",
            recipient_kind="provider",
            recipient_name="Hosting",
            batch_key=f"k{n}",
            open=False,
            provider=provider,
            due_at=timezone.now(),
        )
    views.NOTICES_PER_PAGE, before = 2, views.NOTICES_PER_PAGE
    try:
        first = client.get(reverse("notices-list")).content.decode()
        second = client.get(reverse("notices-list"), {"page": 2}).content.decode()
    finally:
        views.NOTICES_PER_PAGE = before
    assert "page 1 of 2" in first and "page 2 of 2" in second
    assert first.count("SCART-20260101-") + second.count("SCART-20260101-") == 3


def test_a_notice_page_shows_its_cases_attempts_and_what_came_back(client, analyst):
    notice = sent("https://a.example.com/one", "https://b.example.com/two")
    Notice.objects.filter(pk=notice.pk).update(last_error="421 try again later")
    NoticeMessage.objects.create(
        notice=notice,
        kind=NoticeMessage.Kind.REPLY,
        sender="abuse@hosting.example",
        subject=f"Re: {notice.reference}",
        message_id="<reply.1@hosting.example>",
        excerpt="We took both down.",
    )
    NoticeMessage.objects.create(
        notice=notice,
        kind=NoticeMessage.Kind.BOUNCE,
        message_id="<bounce.1@mx.example>",
        failed_recipients=["old@hosting.example"],
    )
    page = client.get(reverse("notices-detail", args=[notice.pk])).content.decode()
    for text in [
        notice.reference,
        "Sent",
        "Hosting",
        "abuse@hosting.example",
        notice.message_id.replace("<", "&lt;").replace(">", "&gt;"),
        "421 try again later",
        "We took both down.",
        "Delivery failure",
        "old@hosting.example",
        '<dd class="col-8 language">English</dd>',
    ]:
        assert text in page, text
    for item in notice.items.select_related("case"):
        assert f'<span class="url-mid" title="{item.case.canonical_url}">' in page
        assert f'href="{item.case.canonical_url}' not in page
        assert reverse("workspace-case", args=[item.case_id]) in page
    assert reverse("notices-action", args=[notice.pk, "resend"]) not in page  # nothing to do for a sent notice


def test_an_analyst_sees_no_senior_buttons_and_may_not_use_them(client, analyst):
    notice = unknown("https://a.example.com/one")
    page = client.get(reverse("notices-detail", args=[notice.pk])).content.decode()
    assert reverse("notices-action", args=[notice.pk, "resend"]) not in page
    assert client.post(reverse("notices-resend", args=[notice.pk])).status_code == 403
    assert client.post(reverse("notices-mark-sent", args=[notice.pk])).status_code == 403
    assert client.get(reverse("disputes-queue")).status_code == 403
    notice.refresh_from_db()
    assert notice.state == NoticeState.UNKNOWN


def test_the_nav_shows_notices_to_analysts_and_disputes_to_seniors(client, analyst):
    page = client.get(reverse("workspace-queue")).content.decode()
    assert reverse("notices-list") in page and reverse("disputes-queue") not in page
    page = staff_client("sen", "senior").get(reverse("workspace-queue")).content.decode()
    assert reverse("notices-list") in page and reverse("disputes-queue") in page


# Sending again, or confirming it left ------------------------------------------------------------


def test_a_senior_sends_an_unknown_notice_again_with_the_same_message_id(client, senior):
    notice = unknown("https://a.example.com/one")
    page = client.get(reverse("notices-detail", args=[notice.pk])).content.decode()
    assert reverse("notices-action", args=[notice.pk, "resend"]) in page
    assert reverse("notices-action", args=[notice.pk, "mark-sent"]) in page
    with time_machine.travel(timezone.now(), tick=False):
        response = client.post(reverse("notices-resend", args=[notice.pk]))
        now = timezone.now()
    assert response.status_code == 302 and response["Location"] == reverse("notices-detail", args=[notice.pk])
    notice.refresh_from_db()
    assert notice.state == NoticeState.QUEUED and notice.due_at == now
    assert notice.open is False and notice.claimed_until is None
    assert notice.handled_by is not None and notice.handled_by.get_username() == "sen"
    entry = AuditEntry.objects.get(action=AuditAction.NOTICE_RESENT)
    assert entry.object_id == str(notice.pk) and entry.actor_name == "sen" and entry.data["before"] == "unknown"
    assert entry.ip_address == "127.0.0.1", "the page passes where the request came from"

    assert notices_send_due(reresolve=False).sent == 1
    (message,) = mail.outbox
    assert message.extra_headers["Message-ID"] == "<notice.1@scart.example>"
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT and notice.attempts == 2


def test_a_failed_notice_can_be_sent_again_but_not_a_sent_or_queued_one(client, senior):
    failed = planned("https://a.example.com/one")
    Notice.objects.filter(pk=failed.pk).update(state=NoticeState.FAILED, last_error="550 no such user", open=False)
    client.post(reverse("notices-resend", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.state == NoticeState.QUEUED

    done = sent("https://b.example.com/two", provider=host("Other"))
    response = client.post(reverse("notices-resend", args=[done.pk]), follow=True)
    assert "can be sent again" in response.content.decode()
    done.refresh_from_db()
    assert done.state == NoticeState.SENT and done.handled_by is None
    assert client.post(reverse("notices-resend", args=[failed.pk])).status_code == 302
    assert AuditEntry.objects.filter(action=AuditAction.NOTICE_RESENT).count() == 1  # queued: refused
    assert client.post(reverse("notices-resend", args=[99999])).status_code == 404
    assert client.get(reverse("notices-resend", args=[failed.pk])).status_code == 405


def test_a_senior_confirms_an_unknown_notice_left(client, senior):
    notice = unknown("https://a.example.com/one", "https://b.example.com/two")
    case_ids = list(notice.items.values_list("case_id", flat=True))
    assert set(Case.objects.filter(pk__in=case_ids).values_list("state", flat=True)) == {CaseState.ILLEGAL}
    response = client.post(reverse("notices-mark-sent", args=[notice.pk]))
    assert response.status_code == 302
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT and notice.sent_at is not None
    assert notice.sent_at == notice.sending_since
    assert notice.handled_by is not None and notice.last_error == ""
    for case in Case.objects.filter(pk__in=case_ids):
        assert case.state == CaseState.NOTIFIED
        assert case.ladder_due_at is not None and case.ladder_due_at > notice.sent_at
        event = Event.objects.get(case=case, kind=EventKind.NOTICE_SENT)
        assert event.data["notice"] == notice.reference and event.actor_user is not None
        assert event.at == notice.sent_at
    entry = AuditEntry.objects.get(action=AuditAction.NOTICE_MARKED_SENT)
    assert (entry.object_id, entry.actor_name, entry.ip_address) == (str(notice.pk), "sen", "127.0.0.1")
    assert mail.outbox == []  # nothing was sent again

    again = client.post(reverse("notices-mark-sent", args=[notice.pk]), follow=True)
    assert "can be confirmed as sent" in again.content.decode()
    assert Event.objects.filter(kind=EventKind.NOTICE_SENT).count() == 2


def test_only_an_unknown_notice_can_be_confirmed_as_sent(client, senior):
    failed = planned("https://a.example.com/one")
    Notice.objects.filter(pk=failed.pk).update(state=NoticeState.FAILED, open=False)
    client.post(reverse("notices-mark-sent", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.state == NoticeState.FAILED
    assert not AuditEntry.objects.filter(action=AuditAction.NOTICE_MARKED_SENT).exists()


# Disputes ----------------------------------------------------------------------------------------


def test_the_disputes_queue_lists_open_disputes_oldest_first(client, senior):
    first = disputed("https://a.example.com/one", "It is a cartoon.", provider=host("Alpha"))
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        second = disputed("https://b.example.com/two", "The person is 25.", provider=host("Beta"))
    page = client.get(reverse("disputes-queue")).content.decode()
    assert page.index("https://a.example.com/one") < page.index("https://b.example.com/two")
    for text in ["It is a cartoon.", "The person is 25.", "Alpha", "Beta", first.notice.reference]:
        assert text in page
    assert '<code class="url">https://a.example.com/one</code>' in page
    assert 'href="https://a.example.com' not in page
    assert reverse("disputes-decide", args=[second.pk]) in page
    assert "2 open" in page


def test_upholding_a_dispute_resumes_the_ladder(client, senior):
    item = disputed("https://a.example.com/one")
    assert Case.objects.get(pk=item.case_id).ladder_due_at is None
    with time_machine.travel(timezone.now(), tick=False):
        response = client.post(
            reverse("disputes-decide", args=[item.pk]), {"decision": "uphold", "note": "A child, clearly."}
        )
        now = timezone.now()
    assert response.status_code == 302 and response["Location"] == reverse("disputes-queue")
    item.refresh_from_db()
    assert item.dispute_state == DisputeState.UPHELD and item.dispute_note == "A child, clearly."
    assert item.dispute_handled_by is not None and item.dispute_handled_at == now
    assert Case.objects.get(pk=item.case_id).ladder_due_at == now
    event = Event.objects.get(case_id=item.case_id, kind=EventKind.DISPUTE_HANDLED)
    assert event.data["decision"] == "upheld" and event.actor_user == item.dispute_handled_by
    entry = AuditEntry.objects.get(action=AuditAction.DISPUTE_DECIDED)
    assert entry.object_id == str(item.case_id) and entry.data["decision"] == "upheld"
    assert "No dispute waits" in client.get(reverse("disputes-queue")).content.decode()


def test_accepting_a_dispute_stops_the_ladder(client, senior):
    item = disputed("https://a.example.com/one")
    Case.objects.filter(pk=item.case_id).update(ladder_due_at=timezone.now())  # as if something set it
    client.post(reverse("disputes-decide", args=[item.pk]), {"decision": "accept", "note": "An adult indeed."})
    item.refresh_from_db()
    assert item.dispute_state == DisputeState.ACCEPTED
    case = Case.objects.get(pk=item.case_id)
    assert case.ladder_due_at is None and case.state == CaseState.NOTIFIED  # the verdict itself stays
    assert Event.objects.get(case=case, kind=EventKind.DISPUTE_HANDLED).data["decision"] == "accepted"


def test_a_decision_needs_a_note_and_a_choice_and_is_made_once(client, senior):
    item = disputed("https://a.example.com/one")
    response = client.post(reverse("disputes-decide", args=[item.pk]), {"decision": "uphold", "note": "  "})
    assert response.status_code == 400 and "Write a note" in response.content.decode()
    response = client.post(reverse("disputes-decide", args=[item.pk]), {"note": "Typed, but no button."})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Uphold the verdict or accept the dispute" in page and "Typed, but no button." in page
    item.refresh_from_db()
    assert item.dispute_state == DisputeState.OPEN

    client.post(reverse("disputes-decide", args=[item.pk]), {"decision": "uphold", "note": "A child."})
    again = client.post(
        reverse("disputes-decide", args=[item.pk]), {"decision": "accept", "note": "Oops."}, follow=True
    )
    assert "not open any more" in again.content.decode()
    item.refresh_from_db()
    assert item.dispute_state == DisputeState.UPHELD
    assert AuditEntry.objects.filter(action=AuditAction.DISPUTE_DECIDED).count() == 1


# Police first ------------------------------------------------------------------------------------


def police_first_case(url: str = "https://a.example.com/pf") -> Case:
    return illegal(url, host(), police_first=True, police_reason="immediate_danger")


def test_a_senior_releases_a_police_first_case(client, senior, django_capture_on_commit_callbacks):
    from scart.celery import app

    case = police_first_case()
    cases_plan_notices(case_ids=[case.pk])
    assert list(Notice.objects.values_list("kind", flat=True)) == ["police"]  # the provider is held
    page = client.get(reverse("workspace-case", args=[case.pk])).content.decode()
    assert reverse("cases-release", args=[case.pk]) in page

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("cases-release", args=[case.pk]))
    finally:
        app.conf.task_always_eager = False
    assert response.status_code == 302 and response["Location"] == reverse("workspace-case", args=[case.pk])
    released = Event.objects.get(case=case, kind=EventKind.RELEASED)
    assert released.at >= case.assessments.get().at and released.actor_user is not None
    assert AuditEntry.objects.get(action=AuditAction.CASE_RELEASED).object_id == str(case.pk)
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert not any(Hold.POLICE_FIRST in r.holds for r in route.recipients)
    assert sorted(Notice.objects.values_list("kind", flat=True)) == ["police", "provider"]  # planned after commit
    page = client.get(reverse("workspace-case", args=[case.pk])).content.decode()
    assert reverse("cases-release", args=[case.pk]) not in page

    again = client.post(reverse("cases-release", args=[case.pk]), follow=True)
    assert "released already" in again.content.decode()
    assert Event.objects.filter(case=case, kind=EventKind.RELEASED).count() == 1


def test_a_new_verdict_needs_a_new_release(client, senior):
    case = police_first_case()
    client.post(reverse("cases-release", args=[case.pk]))
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        case_assess(
            case=case,
            user=None,
            classification=Classification(**ILLEGAL, police_first=True, police_reason="victim_identifiable"),
        )
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert any(Hold.POLICE_FIRST in r.holds for r in route.recipients)
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        client.post(reverse("cases-release", args=[case.pk]))
    assert Event.objects.filter(case=case, kind=EventKind.RELEASED).count() == 2


def test_only_police_first_cases_are_released_and_only_by_seniors(client, analyst):
    ordinary = illegal("https://a.example.com/ordinary", host())
    response = staff_client("sen", "senior").post(reverse("cases-release", args=[ordinary.pk]), follow=True)
    assert "not police first" in response.content.decode()
    assert not Event.objects.filter(kind=EventKind.RELEASED).exists()

    case = police_first_case("https://b.example.com/pf")
    page = client.get(reverse("workspace-case", args=[case.pk])).content.decode()
    assert reverse("cases-release", args=[case.pk]) not in page
    assert client.post(reverse("cases-release", args=[case.pk])).status_code == 403
    assert not Event.objects.filter(kind=EventKind.RELEASED).exists()


def test_the_case_page_lists_the_cases_notices(client, analyst):
    notice = sent("https://a.example.com/one")
    item = notice.items.get()
    page = client.get(reverse("workspace-case", args=[item.case_id])).content.decode()
    assert "<h2>Notices</h2>" in page
    assert reverse("notices-detail", args=[notice.pk]) in page and notice.reference in page
    assert "Notice to the hosting provider" in page and "Hosting" in page
    assert timezone.localtime(notice.sent_at).strftime("%Y-%m-%d %H:%M") in page


def test_the_list_filters_searches_and_sorts(client, analyst):
    alpha = sent("https://a.example.com/one", provider=host("Alpha"))
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        beta = sent("https://b.example.com/two", "https://b.example.com/three", provider=host("Beta"))
    gamma = planned("https://c.example.com/four", provider=host("Gamma"))
    url = reverse("notices-list")

    def refs(**query: str) -> list[str]:
        page = client.get(url, query).content.decode()
        return [n.reference for n in (alpha, beta, gamma) if n.reference in page]

    assert refs() == [alpha.reference, beta.reference, gamma.reference]
    assert refs(state="queued") == [gamma.reference]
    assert refs(provider=str(alpha.provider_id)) == [alpha.reference]
    assert refs(kind="provider", recipient_kind="provider", language="en") == [
        alpha.reference,
        beta.reference,
        gamma.reference,
    ]
    assert refs(kind="police") == []
    today = timezone.localdate()
    assert refs(sent_from=today.isoformat(), sent_to=today.isoformat()) == [alpha.reference]
    assert refs(sent_from=(today + timedelta(days=1)).isoformat()) == [beta.reference]
    assert refs(q=beta.reference) == [beta.reference]
    assert refs(q="abuse@gamma.example") == [gamma.reference]
    assert refs(q="alph") == [alpha.reference]
    bad = client.get(url, {"sent_from": "yesterday", "sort": "password", "provider": "x"})
    assert bad.status_code == 200 and "yesterday is not a date" in bad.content.decode()

    def order(sort: str) -> list[str]:
        page = client.get(url, {"sort": sort}).content.decode()
        return sorted((alpha.reference, beta.reference, gamma.reference), key=page.index)

    assert order("urls")[-1] == beta.reference and order("-urls")[0] == beta.reference
    assert order("-sent") == [beta.reference, alpha.reference, gamma.reference]
    assert order("recipient") == [alpha.reference, beta.reference, gamma.reference]
    # Filters survive pagination and sorting links.
    page = client.get(url, {"q": "example", "kind": "provider"}).content.decode()
    assert "q=example" in page and "kind=provider" in page


def test_a_notice_page_marks_a_reply_whose_sender_is_not_authenticated(client, analyst):
    notice = sent("https://a.example.com/one")
    forged = EmailMessage()
    forged["From"] = "abuse@hosting.example"
    forged["Subject"] = f"Re: [{notice.reference}]"
    forged["Message-ID"] = "<forged.1@elsewhere.example>"
    forged["In-Reply-To"] = notice.message_id
    forged.set_content("Removed, trust me.")
    assert notice_message_file(forged, authenticated=False) is not None

    page = client.get(reverse("notices-detail", args=[notice.pk])).content.decode()

    assert "Removed, trust me." in page
    assert "unverified sender" in page
