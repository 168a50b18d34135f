"""The provider's confirmation link: public, signed, expiring, scoped to one notice. It lists the
notice's URLs as text and records "removed" (an availability check, not a closed case) or
"disputed" (with a reason, for a senior analyst)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail, signing
from django.test import Client
from django.utils import timezone

from reports.assessment import Classification, case_assess
from reports.models import Case, CaseState, Event, EventKind
from routing.models import DisputeState, Notice, NoticeCase, NoticeResponse, Provider
from routing.notices.links import SALT
from routing.notices.planning import cases_plan_notices
from routing.notices.responses import ResponseInvalid, dispute_decide, notice_respond
from routing.notices.sending import notices_send_due
from tests import factories

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_NOTICE_WORKING_HOURS = ""
    settings.SCART_NOTICE_LINK_DAYS = 30


def sent_notice(name: str, *urls: str) -> tuple[Notice, str]:
    """A provider notice about ``urls``, sent; returns it with the path of its link (taken from
    the message, as the provider gets it)."""
    host = Provider.objects.create(name=name, abuse_emails=[f"abuse@{name.lower()}.example"])
    cases = [factories.awaiting_case(url, hosting_country="NL", provider=host) for url in urls]
    for case in cases:
        case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    cases_plan_notices(case_ids=[c.pk for c in cases])
    assert notices_send_due(flush=True, reresolve=False).sent >= 1
    notice = Notice.objects.get(provider=host)
    message = next(m for m in mail.outbox if m.extra_headers["X-Scart-Reference"] == notice.reference)
    match = re.search(r"https?://[^/\s]+(/n/[^/\s]+/)", str(message.body))
    assert match, "the notice carries its link"
    return notice, match.group(1)


def items(notice: Notice) -> list[NoticeCase]:
    return list(notice.items.select_related("case").order_by("pk"))


@pytest.fixture
def provider_client() -> Client:
    return Client()  # nobody logged in: the link is the credential


def test_it_lists_the_notice_urls_as_text_never_as_links(provider_client):
    urls = ["https://a.example.com/one", "https://b.example.com/two?x=1"]
    notice, link = sent_notice("Hosting", *urls)
    response = provider_client.get(link)
    page = response.content.decode()
    assert response.status_code == 200
    assert notice.reference in page
    for url in urls:
        shown = url.replace("&", "&amp;")
        assert f'<code class="url">{shown}</code>' in page
        assert f'href="{shown}' not in page and f'src="{shown}' not in page
    assert 'value="removed"' in page and 'value="disputed"' in page
    assert response["Cache-Control"] == "no-store"
    assert response["X-Robots-Tag"] == "noindex"


def test_removed_asks_for_an_availability_check_and_does_not_close_the_case(provider_client):
    notice, link = sent_notice("Hosting", "https://a.example.com/one", "https://b.example.com/two")
    first, second = items(notice)
    second_check = Case.objects.get(pk=second.case_id).check_due_at
    with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
        response = provider_client.post(link, {f"answer-{first.pk}": "removed", f"reason-{first.pk}": ""})
        answered_at = timezone.now()
    assert response.status_code == 302 and response["Location"].startswith(link)
    assert response["Cache-Control"] == "no-store"
    assert "Thank you" in provider_client.get(response["Location"]).content.decode()

    first.refresh_from_db()
    assert first.response == NoticeResponse.REMOVED and first.responded_at == answered_at
    case = Case.objects.get(pk=first.case_id)
    assert case.check_due_at == answered_at
    assert case.state == CaseState.NOTIFIED  # the provider's word alone closes nothing
    event = Event.objects.get(case=case, kind=EventKind.PROVIDER_RESPONDED)
    assert event.data["response"] == "removed" and event.data["notice"] == notice.reference
    untouched = Case.objects.get(pk=second.case_id)
    assert untouched.check_due_at == second_check and not NoticeCase.objects.get(pk=second.pk).response


def test_a_dispute_pauses_the_ladder_and_waits_for_a_senior(provider_client):
    notice, link = sent_notice("Hosting", "https://a.example.com/one")
    (item,) = items(notice)
    assert Case.objects.get(pk=item.case_id).ladder_due_at is not None  # the first notice started it
    check_before = Case.objects.get(pk=item.case_id).check_due_at
    response = provider_client.post(
        link, {f"answer-{item.pk}": "disputed", f"reason-{item.pk}": "This is a drawing of an adult."}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.response == NoticeResponse.DISPUTED and item.dispute_state == DisputeState.OPEN
    assert item.response_reason == "This is a drawing of an adult."
    case = Case.objects.get(pk=item.case_id)
    assert case.ladder_due_at is None and case.check_due_at == check_before and case.state == CaseState.NOTIFIED
    assert Event.objects.get(case=case, kind=EventKind.PROVIDER_RESPONDED).data["response"] == "disputed"
    page = provider_client.get(link).content.decode()
    assert "This is a drawing of an adult." in page and 'value="disputed" checked' in page


def test_a_dispute_needs_a_reason(provider_client):
    notice, link = sent_notice("Hosting", "https://a.example.com/one", "https://b.example.com/two")
    first, second = items(notice)
    response = provider_client.post(
        link,
        {f"answer-{first.pk}": "removed", f"answer-{second.pk}": "disputed", f"reason-{second.pk}": "   "},
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Say why you dispute our assessment" in page
    assert response["Cache-Control"] == "no-store"
    # Nothing is recorded, not even the valid answer next to the bad one.
    assert not NoticeCase.objects.exclude(response="").exists()
    assert not Event.objects.filter(kind=EventKind.PROVIDER_RESPONDED).exists()


def test_posting_no_answer_at_all_is_refused(provider_client):
    _notice, link = sent_notice("Hosting", "https://a.example.com/one")
    response = provider_client.post(link, {})
    assert response.status_code == 400
    assert "at least one URL" in response.content.decode()


def test_a_reason_too_long_and_an_unknown_answer_are_refused(provider_client):
    notice, link = sent_notice("Hosting", "https://a.example.com/one", "https://b.example.com/two")
    first, second = items(notice)
    response = provider_client.post(
        link,
        {
            f"answer-{first.pk}": "disputed",
            f"reason-{first.pk}": "x" * 2001,
            f"answer-{second.pk}": "ignored",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Keep the reason under 2000 characters" in page and "Choose removed or disputed" in page


def test_the_provider_may_change_an_answer_until_the_dispute_is_decided(provider_client):
    notice, link = sent_notice("Hosting", "https://a.example.com/one")
    (item,) = items(notice)
    provider_client.post(link, {f"answer-{item.pk}": "disputed", f"reason-{item.pk}": "Not a child."})
    provider_client.post(link, {f"answer-{item.pk}": "removed", f"reason-{item.pk}": "Removed anyway."})
    item.refresh_from_db()
    assert item.response == NoticeResponse.REMOVED and item.dispute_state == ""  # the dispute is withdrawn
    case = Case.objects.get(pk=item.case_id)
    assert case.check_due_at is not None and case.ladder_due_at is not None  # the ladder goes on

    provider_client.post(link, {f"answer-{item.pk}": "disputed", f"reason-{item.pk}": "Not a child."})
    dispute_decide(item=item, user=factories.staff_user("sam", "senior"), uphold=True, note="Clearly a child.")
    response = provider_client.post(link, {f"answer-{item.pk}": "removed", f"reason-{item.pk}": ""})
    assert response.status_code == 400  # decided: no more changes through the link
    item.refresh_from_db()
    assert item.response == NoticeResponse.DISPUTED and item.dispute_state == DisputeState.UPHELD
    assert "reply to the notice email" in provider_client.get(link).content.decode()


def test_the_same_answer_twice_is_recorded_once(provider_client):
    notice, link = sent_notice("Hosting", "https://a.example.com/one")
    (item,) = items(notice)
    for _ in range(2):
        provider_client.post(link, {f"answer-{item.pk}": "removed", f"reason-{item.pk}": ""})
    assert Event.objects.filter(case_id=item.case_id, kind=EventKind.PROVIDER_RESPONDED).count() == 1


def test_a_case_taken_out_of_the_notice_is_not_listed_and_cannot_be_answered(provider_client):
    notice, link = sent_notice("Hosting", "https://a.example.com/one", "https://b.example.com/two")
    _first, second = items(notice)
    NoticeCase.objects.filter(pk=second.pk).update(dropped_at=timezone.now(), drop_reason="re-routed")
    page = provider_client.get(link).content.decode()
    assert "https://a.example.com/one" in page and "https://b.example.com/two" not in page
    with pytest.raises(ResponseInvalid) as raised:
        notice_respond(notice=notice, answers={second.pk: ("removed", "")})
    assert second.pk in raised.value.errors


def test_an_expired_link_says_to_reply_to_the_notice_email(provider_client, settings):
    notice, link = sent_notice("Hosting", "https://a.example.com/one")
    (item,) = items(notice)
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        response = provider_client.get(link)
        posted = provider_client.post(link, {f"answer-{item.pk}": "removed", f"reason-{item.pk}": ""})
    assert response.status_code == 410 and posted.status_code == 410
    page = response.content.decode()
    assert "expired" in page and "reply to the notice email" in page
    assert "https://a.example.com/one" not in page
    assert response["Cache-Control"] == "no-store" and response["X-Robots-Tag"] == "noindex"
    item.refresh_from_db()
    assert item.response == ""

    settings.SCART_NOTICE_LINK_DAYS = 60  # a longer validity counts for links already sent
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        assert provider_client.get(link).status_code == 200


def test_a_tampered_token_is_not_found(provider_client):
    _notice, link = sent_notice("Hosting", "https://a.example.com/one")
    token = link.split("/")[2]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for path in (f"/n/{flipped}/", f"/n/{token[:-3]}/", "/n/nonsense/"):
        response = provider_client.get(path)
        assert response.status_code == 404, path
        assert "This link is not valid" in response.content.decode()
        assert "https://a.example.com/one" not in response.content.decode()
        assert response["Cache-Control"] == "no-store"


def test_a_genuine_signature_with_the_wrong_key_is_not_found(provider_client):
    """The signature is right (made with the secret key), but the random key is not the notice's:
    the stored hash is compared (in constant time) and refuses it."""
    notice, _link = sent_notice("Hosting", "https://a.example.com/one")
    signer = signing.TimestampSigner(salt=SALT)
    for value in (f"{notice.pk}.not-the-key", f"{notice.pk}.", f"{notice.pk + 100}.anything", "x.anything"):
        response = provider_client.get(f"/n/{signer.sign(value)}/")
        assert response.status_code == 404, value


def test_a_link_opens_only_its_own_notice(provider_client):
    notice_a, link_a = sent_notice("First", "https://a.example.com/one")
    notice_b, link_b = sent_notice("Second", "https://b.example.com/two")
    (item_a,) = items(notice_a)
    (item_b,) = items(notice_b)
    check_b = Case.objects.get(pk=item_b.case_id).check_due_at
    page = provider_client.get(link_a).content.decode()
    assert "https://a.example.com/one" in page and "https://b.example.com/two" not in page

    response = provider_client.post(link_a, {f"answer-{item_b.pk}": "removed", f"reason-{item_b.pk}": ""})
    assert response.status_code == 400
    with pytest.raises(ResponseInvalid) as raised:
        notice_respond(notice=notice_a, answers={item_b.pk: ("removed", ""), item_a.pk: ("removed", "")})
    assert set(raised.value.errors) == {item_b.pk}
    item_a.refresh_from_db()
    item_b.refresh_from_db()
    assert item_a.response == "" and item_b.response == ""
    assert Case.objects.get(pk=item_b.case_id).check_due_at == check_b
    assert provider_client.get(link_b).status_code == 200
