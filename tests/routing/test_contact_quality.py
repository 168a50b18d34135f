"""Contact quality: per abuse address, the notices sent, bounces, replies, time to first reaction
and to removal (`ContactStats`), and the move to the next contact after the configured number of
hard bounces. End to end: notices go out through the local SMTP peer and their bounces come back
through the local IMAP peer, read by the mailbox poll."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
import time_machine
from django.utils import timezone

from devnet.imap import FakeImap
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from reports.cases.services import Actor
from reports.mailbox import mailbox_poll
from reports.models import Case
from routing.checks.tracking import case_mark_removed
from routing.models import ContactStats, Notice, NoticeCase, NoticeState, Provider
from routing.notices.planning import cases_plan_notices
from routing.notices.replies import notice_message_file
from routing.notices.responses import notice_respond
from routing.notices.sending import notices_send_due
from routing.resolution.confirmation import contact_confirm
from tests import factories
from tests.conftest import staff_login
from tests.routing.test_notice_replies import ABUSE, postfix_bounce, reply, status_block
from workspace.selectors import providers_to_check

pytestmark = pytest.mark.django_db

FALLBACK = "noc@provider.example"
ILLEGAL = Classification(verdict="illegal", legal_basis="baseline", category="A1", media_type="image")


@pytest.fixture
def peers(settings) -> Iterator[tuple[FakeSMTP, FakeImap]]:
    with FakeSMTP() as smtp, FakeImap("intake@hotline.example", "secret") as imap:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = smtp.host, smtp.port
        settings.SCART_HOTLINE_COUNTRY = "NL"
        settings.SCART_NOTICE_WORKING_HOURS = ""
        settings.DEFAULT_FROM_EMAIL = "scart@hotline.example"
        settings.SCART_NOTICE_REPLY_TO = "notices@hotline.example"
        settings.SCART_INTAKE_IMAP_URL = imap.url
        settings.SCART_INTAKE_IMAP_FOLDER = "INBOX"
        settings.SCART_INTAKE_IMAP_DONE_FOLDER = "scart-processed"
        settings.SCART_INTAKE_IMAP_REJECTED_FOLDER = "scart-rejected"
        settings.SCART_INTAKE_ALLOWED_SENDERS = []
        yield smtp, imap


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def illegal_case(provider: Provider, url: str = "https://files.example.com/a/1.jpg") -> Case:
    case = factories.awaiting_case(url, hosting_country="NL", provider=provider)
    case_assess(case=case, user=None, classification=ILLEGAL)
    return case


def send(case: Case) -> None:
    cases_plan_notices(case_ids=[case.pk])
    assert notices_send_due(flush=True, reresolve=False).sent == 1


def stats(provider: Provider, address: str) -> ContactStats:
    return ContactStats.objects.get(provider=provider, address=address)


def test_after_the_configured_hard_bounces_notices_go_to_the_fallback_and_the_contact_waits_for_a_check(
    peers, settings, client
):
    settings.SCART_CONTACT_HARD_BOUNCES = 2
    smtp, imap = peers
    provider = Provider.objects.create(name="Provider BV", abuse_emails=[ABUSE], fallback_email=FALLBACK)
    case = illegal_case(provider)

    send(case)
    assert smtp.messages[-1].rcpt_tos == [ABUSE]
    imap.deliver("INBOX", postfix_bounce(smtp.messages[-1].raw, message_id="<bounce.1@mx.provider.example>"))
    assert mailbox_poll().notice_messages == 1

    # One hard bounce of two: the notice failed, the address gets another notice.
    assert stats(provider, ABUSE).hard_bounces == 1 and stats(provider, ABUSE).retired_at is None
    provider.refresh_from_db()
    assert provider.contact_flagged_at is None and provider.retired_emails == []
    send(case)
    assert smtp.messages[-1].rcpt_tos == [ABUSE]
    imap.deliver("INBOX", postfix_bounce(smtp.messages[-1].raw, message_id="<bounce.2@mx.provider.example>"))
    assert mailbox_poll().notice_messages == 1

    retired = stats(provider, ABUSE)
    assert retired.hard_bounces == 2 and retired.notices_sent == 2
    assert retired.retired_at is not None and retired.awaiting_check
    provider.refresh_from_db()
    assert provider.retired_emails == [ABUSE] and provider.contact_flagged_at is not None

    # The next notice goes to the next contact of the order; the case is not held.
    send(case)
    assert smtp.messages[-1].rcpt_tos == [FALLBACK]
    case.refresh_from_db()
    assert case.contact_check is False
    assert stats(provider, FALLBACK).notices_sent == 1

    # The senior's check queue has the contact, and the provider page shows the state.
    assert provider in providers_to_check()
    staff_login(client, factories.staff_user("senior", "senior"))
    queue = client.get("/contacts/").content.decode()
    assert f"retired-{provider.pk}" in queue and ABUSE in queue
    page = client.get(f"/providers/{provider.pk}/").content.decode()
    assert 'id="contact-quality"' in page and f"<code>{FALLBACK}</code>" in page.split('id="contact-state"')[1][:400]
    assert "waiting for a senior analyst" in page

    # Confirming a new address checks the retired one and takes the provider off the queue.
    contact_confirm(provider=provider, emails=["abuse-desk@provider.example"], actor=Actor.staff(None))
    assert stats(provider, ABUSE).checked_at is not None
    assert provider not in providers_to_check()


def test_with_the_default_one_hard_bounce_retires_the_address_and_holds_without_a_fallback(peers):
    smtp, imap = peers
    provider = Provider.objects.create(name="Provider BV", abuse_emails=[ABUSE])
    case = illegal_case(provider)
    send(case)
    imap.deliver("INBOX", postfix_bounce(smtp.messages[-1].raw))
    mailbox_poll()

    case.refresh_from_db()
    provider.refresh_from_db()
    assert provider.retired_emails == [ABUSE] and case.contact_check is True
    assert list(providers_to_check()) == [provider]


def test_a_soft_bounce_is_counted_and_retires_nothing(peers, settings):
    settings.SCART_CONTACT_HARD_BOUNCES = 2
    smtp, _imap = peers
    provider = Provider.objects.create(name="Provider BV", abuse_emails=[ABUSE])
    send(illegal_case(provider))
    full = status_block(ABUSE, "failed", "4.2.2", "452 4.2.2 mailbox full")

    notice_message_file(parse(postfix_bounce(smtp.messages[-1].raw, recipients=(full,))), authenticated=False)

    row = stats(provider, ABUSE)
    assert (row.soft_bounces, row.hard_bounces, row.retired_at) == (1, 0, None)


def test_a_reply_from_the_address_starts_a_new_run_of_hard_bounces(peers, settings):
    settings.SCART_CONTACT_HARD_BOUNCES = 2
    smtp, _imap = peers
    provider = Provider.objects.create(name="Provider BV", abuse_emails=[ABUSE])
    case = illegal_case(provider)
    send(case)
    notice_message_file(parse(postfix_bounce(smtp.messages[-1].raw, message_id="<b1@mx>")), authenticated=False)
    send(case)
    second = Notice.objects.filter(state=NoticeState.SENT).get()
    # A forged reply (sender not authenticated) resets nothing; the provider's own one does.
    notice_message_file(reply(in_reply_to=second.message_id, message_id="<forged@x.example>"), authenticated=False)
    assert (stats(provider, ABUSE).hard_bounces_in_row, stats(provider, ABUSE).replies) == (1, 0)
    notice_message_file(reply(in_reply_to=second.message_id, message_id="<r1@provider.example>"), authenticated=True)
    send(illegal_case(provider, "https://files.example.com/a/2.jpg"))
    notice_message_file(parse(postfix_bounce(smtp.messages[-1].raw, message_id="<b2@mx>")), authenticated=False)

    row = stats(provider, ABUSE)
    assert row.hard_bounces == 2 and row.hard_bounces_in_row == 1 and row.retired_at is None


def test_it_counts_replies_first_reactions_and_removals_per_address(peers):
    _smtp, _imap = peers
    provider = Provider.objects.create(name="Provider BV", abuse_emails=[ABUSE])
    case = illegal_case(provider)
    send(case)
    notice = Notice.objects.get(state=NoticeState.SENT)
    sent_at = notice.sent_at
    assert sent_at is not None

    # An auto-reply is no reaction; a person's reply is, once; a later answer through the link is not a second.
    notice_message_file(
        reply(in_reply_to=notice.message_id, message_id="<ooo@p>", headers={"Auto-Submitted": "auto-replied"}),
        authenticated=True,
    )
    assert stats(provider, ABUSE).reactions == 0
    notice_message_file(reply(in_reply_to=notice.message_id, message_id="<forged@p>"), authenticated=False)
    assert stats(provider, ABUSE).reactions == 0  # a forged reply is no reaction
    notice_message_file(reply(in_reply_to=notice.message_id, message_id="<r1@p>"), authenticated=True)
    row = NoticeCase.objects.get(notice=notice)
    notice_respond(notice=notice, answers={row.pk: ("removed", "")}, now=sent_at + timedelta(hours=5))
    with time_machine.travel(sent_at + timedelta(hours=6)):
        case_mark_removed(case=Case.objects.get(pk=case.pk), user=None, removed_at=sent_at + timedelta(hours=3))

    figures = stats(provider, ABUSE)
    assert (figures.notices_sent, figures.replies, figures.reactions, figures.removals) == (1, 1, 1, 1)
    assert figures.mean_reaction_hours is not None and figures.mean_reaction_hours < 1
    assert figures.mean_removal_hours == pytest.approx(3, abs=0.01)
    assert Notice.objects.get(pk=notice.pk).first_reaction_at is not None


def test_a_refusal_at_sending_counts_as_a_hard_bounce(peers, settings):
    settings.SCART_CONTACT_HARD_BOUNCES = 2
    smtp, _imap = peers
    smtp.reject_permanently.add(ABUSE)
    provider = Provider.objects.create(name="Provider BV", abuse_emails=[ABUSE], fallback_email=FALLBACK)
    case = illegal_case(provider)
    cases_plan_notices(case_ids=[case.pk])
    notices_send_due(flush=True, reresolve=False)

    assert (stats(provider, ABUSE).hard_bounces_in_row, stats(provider, ABUSE).replies) == (1, 0)
    provider.refresh_from_db()
    assert provider.contact_flagged_at is None  # one of two: the address gets another notice
    cases_plan_notices(case_ids=[case.pk])
    notices_send_due(flush=True, reresolve=False)
    provider.refresh_from_db()
    assert provider.retired_emails == [ABUSE]
    send(case)
    assert smtp.messages[-1].rcpt_tos == [FALLBACK]
    assert timezone.now() >= stats(provider, ABUSE).retired_at  # type: ignore[operator]


def test_one_bouncing_address_of_several_is_retired_and_the_others_keep_getting_notices(peers, client):
    smtp, _imap = peers
    other = "abuse@other-desk.example"
    provider = Provider.objects.create(name="Provider BV", abuse_emails=[ABUSE, other])
    case = illegal_case(provider)
    send(case)
    one = status_block(ABUSE, "failed", "5.1.1", "550 5.1.1 user unknown")

    notice_message_file(parse(postfix_bounce(smtp.messages[-1].raw, recipients=(one,))), authenticated=False)

    # The notice reached the other address: it stays sent, nothing is held, the contact waits for a check.
    assert Notice.objects.get().state == NoticeState.SENT
    provider.refresh_from_db()
    assert provider.retired_emails == [ABUSE] and provider.contact_flagged_at is None
    assert provider in providers_to_check()
    send(illegal_case(provider, "https://files.example.com/a/2.jpg"))
    assert smtp.messages[-1].rcpt_tos == [other]
    # The check's form offers the address left: confirming it as it stands does not bring back the other.
    staff_login(client, factories.staff_user("senior", "senior"))
    queue = client.get("/contacts/").content.decode()
    form = queue.split(f'id="emails-{provider.pk}"')[1].split("</textarea>")[0]
    assert other in form and ABUSE not in form
