"""Replies and bounces to notices: real notices sent through the mail backend, then the delivery
reports and answers a provider's mail system sends back, filed by `notice_message_file` and, end
to end, by the mailbox poll against a local IMAP server."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from django.core import mail

from devnet.dkim import dkim_key, dkim_publish, dkim_sign
from devnet.imap import FakeImap
from reports.assessment import Classification, case_assess
from reports.mailbox import PollSummary, mailbox_poll
from reports.models import Case, Channel, Event, EventKind, Report
from routing.models import Notice, NoticeMessage, NoticeState, Provider
from routing.notices.planning import cases_plan_notices
from routing.notices.replies import notice_message_file
from routing.notices.sending import notices_send_due
from tests import factories

pytestmark = pytest.mark.django_db

ABUSE = "abuse@provider.example"
MTA = "mx.provider.example"
DONE = "scart-processed"
REJECTED = "scart-rejected"
ANALYST = "analyst@partner.example"
HOTLINE_MX = "mx.hotline.example"
ILLEGAL = Classification(verdict="illegal", legal_basis="baseline", category="A1", media_type="image")


@pytest.fixture(autouse=True)
def _outbox(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.DEFAULT_FROM_EMAIL = "scart@hotline.example"
    settings.SCART_NOTICE_REPLY_TO = "notices@hotline.example"


@dataclass
class Sent:
    notice: Notice
    case: Case
    provider: Provider
    raw: bytes  # the notice as it left

    @property
    def message(self) -> EmailMessage:
        return parse(self.raw)


def send_notice(url: str = "https://files.example.com/a/1.jpg", **provider_fields: Any) -> Sent:
    """A provider notice about one illegal case, sent; the message is taken from the outbox."""
    fields = {"name": "Provider BV", "abuse_emails": [ABUSE], **provider_fields}
    provider = Provider.objects.create(**fields)
    case = factories.awaiting_case(url, hosting_country="NL", provider=provider)
    case_assess(case=case, user=None, classification=ILLEGAL)
    cases_plan_notices(case_ids=[case.pk])
    before = len(mail.outbox)
    assert notices_send_due(flush=True, reresolve=False).sent == 1
    assert len(mail.outbox) == before + 1
    notice = Notice.objects.get(items__case=case, state=NoticeState.SENT)
    return Sent(notice=notice, case=case, provider=provider, raw=mail.outbox[-1].message().as_bytes())


def parse(raw: bytes) -> EmailMessage:
    message = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def headers_of(raw: bytes) -> str:
    return raw.split(b"\n\n", 1)[0].decode()


def status_block(recipient: str, action: str, status: str, diagnostic: str = "") -> str:
    lines = [
        f"Final-Recipient: rfc822; {recipient}",
        f"Original-Recipient: rfc822;{recipient}",
        f"Action: {action}",
        f"Status: {status}",
        f"Remote-MTA: dns; {MTA}",
    ]
    if diagnostic:
        lines.append(f"Diagnostic-Code: smtp; {diagnostic}")
    return "\n".join(lines)


def postfix_bounce(
    original: bytes,
    *,
    recipients: tuple[str, ...] = (),
    headers_only: bool = False,
    message_id: str = "<20261121101500.4F1A2B3C4D@mx.provider.example>",
    subject: str = "Undelivered Mail Returned to Sender",
) -> bytes:
    """A Postfix non-delivery report (RFC 3464): notification, delivery status, and the original
    in full (message/rfc822) or its headers only (text/rfc822-headers)."""
    blocks = recipients or (
        status_block(
            ABUSE,
            "failed",
            "5.1.1",
            f"550 5.1.1 <{ABUSE}>: Recipient address rejected: User unknown in virtual mailbox table",
        ),
    )
    boundary = "4F1A2B3C4D.1763720100/mx.provider.example"
    if headers_only:
        returned = f"Content-Description: Undelivered Message Headers\nContent-Type: text/rfc822-headers\n\n{headers_of(original)}\n"
    else:
        returned = "Content-Description: Undelivered Message\nContent-Type: message/rfc822\n\n" + original.decode()
    text = f"""Return-Path: <>
Received: by {MTA} (Postfix) id 4F1A2B3C4D; Fri, 21 Nov 2026 10:15:00 +0100 (CET)
Date: Fri, 21 Nov 2026 10:15:00 +0100 (CET)
From: MAILER-DAEMON@{MTA} (Mail Delivery System)
Subject: {subject}
To: scart@hotline.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="{boundary}"
Content-Transfer-Encoding: 8bit
Message-Id: {message_id}

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=utf-8

This is the mail system at host {MTA}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<{ABUSE}>: host mail.provider.example[192.0.2.25] said: 550 5.1.1
    <{ABUSE}>: Recipient address rejected: User unknown (in reply to RCPT TO command)

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; {MTA}
X-Postfix-Queue-ID: 4F1A2B3C4D
X-Postfix-Sender: rfc822; scart@hotline.example
Arrival-Date: Fri, 21 Nov 2026 10:14:58 +0100 (CET)

{chr(10).join(block + chr(10) for block in blocks)}
--{boundary}
{returned}
--{boundary}--
"""
    return text.encode()


def reply(
    *,
    sender: str = f"Abuse Desk <{ABUSE}>",
    subject: str = "Re: notice",
    text: str = "Hello,\n\nwe have removed the file.\n\nKind regards,\nThe abuse desk",
    in_reply_to: str | None = None,
    message_id: str = "<reply.1@provider.example>",
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "notices@hotline.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(text)
    return message


def events(case: Case, kind: str) -> list[Event]:
    return list(Event.objects.filter(case=case, kind=kind))


def file_message(message: EmailMessage, *, authenticated: bool = True, **kwargs: Any) -> NoticeMessage | None:
    """File as the mailbox would a message whose sender it authenticated (unless told otherwise)."""
    return notice_message_file(message, authenticated=authenticated, **kwargs)


# -- bounces -----------------------------------------------------------------------------------


def test_it_files_an_rfc3464_bounce_with_the_original_attached():
    sent = send_notice()

    record = file_message(parse(postfix_bounce(sent.raw)))

    assert record is not None
    assert record.notice == sent.notice
    assert record.kind == NoticeMessage.Kind.BOUNCE
    assert record.failed_recipients == [ABUSE]
    assert record.sender == f"mailer-daemon@{MTA}"
    assert record.message_id == "<20261121101500.4F1A2B3C4D@mx.provider.example>"
    notice = Notice.objects.get(pk=sent.notice.pk)
    assert notice.state == NoticeState.FAILED
    assert "5.1.1" in notice.last_error and ABUSE in notice.last_error
    (event,) = events(sent.case, EventKind.NOTICE_BOUNCED)
    assert event.data["notice"] == notice.reference
    assert event.data["failed_recipients"] == [ABUSE]


def test_a_bounce_flags_the_contact_and_holds_the_cases_without_a_fallback_address():
    sent = send_notice()

    file_message(parse(postfix_bounce(sent.raw)))

    sent.provider.refresh_from_db()
    sent.case.refresh_from_db()
    assert sent.provider.contact_flagged_at is not None
    assert "5.1.1" in sent.provider.contact_flag_reason
    assert sent.case.contact_check is True
    # Held for the contact check: planning again sends nothing.
    cases_plan_notices(case_ids=[sent.case.pk])
    assert notices_send_due(flush=True, reresolve=False).claimed == 0


def test_after_a_bounce_the_next_notice_goes_to_the_fallback_address():
    sent = send_notice(fallback_email="noc@provider.example")

    file_message(parse(postfix_bounce(sent.raw)))

    sent.case.refresh_from_db()
    assert sent.case.contact_check is False
    cases_plan_notices(case_ids=[sent.case.pk])
    assert notices_send_due(flush=True, reresolve=False).sent == 1
    assert mail.outbox[-1].to == ["noc@provider.example"]
    renewed = Notice.objects.exclude(pk=sent.notice.pk).get(items__case=sent.case)
    assert renewed.emails == ["noc@provider.example"]


def test_a_bounce_from_the_fallback_address_sends_the_cases_to_the_contact_check():
    sent = send_notice(fallback_email="noc@provider.example")
    file_message(parse(postfix_bounce(sent.raw)))
    cases_plan_notices(case_ids=[sent.case.pk])
    notices_send_due(flush=True, reresolve=False)
    second = mail.outbox[-1].message().as_bytes()
    failed = status_block("noc@provider.example", "failed", "5.2.1", "550 5.2.1 mailbox disabled")

    record = file_message(
        parse(postfix_bounce(second, recipients=(failed,), message_id="<second.bounce@mx.provider.example>"))
    )

    assert record is not None and record.notice.emails == ["noc@provider.example"]
    sent.case.refresh_from_db()
    assert sent.case.contact_check is True


def test_a_bounce_settles_a_notice_whose_sender_stopped_mid_attempt():
    # "unknown": nobody knew whether it left; the bounce shows it did, and failed.
    sent = send_notice()
    Notice.objects.filter(pk=sent.notice.pk).update(state=NoticeState.UNKNOWN)

    file_message(parse(postfix_bounce(sent.raw)))

    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.FAILED
    sent.provider.refresh_from_db()
    assert sent.provider.contact_flagged_at is not None


def test_it_files_a_postfix_bounce_that_returns_only_the_headers():
    sent = send_notice()

    record = file_message(parse(postfix_bounce(sent.raw, headers_only=True)))

    assert record is not None and record.kind == NoticeMessage.Kind.BOUNCE
    assert record.notice == sent.notice
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.FAILED


def test_it_matches_a_bounce_by_the_reference_when_the_original_lost_its_message_id():
    sent = send_notice()
    headers = "\n".join(line for line in headers_of(sent.raw).splitlines() if not line.startswith("Message-ID"))
    stripped = headers.encode() + b"\n\n"

    record = file_message(parse(postfix_bounce(stripped, headers_only=True)))

    assert record is not None and record.notice == sent.notice
    assert record.kind == NoticeMessage.Kind.BOUNCE
    # A reference is guessable: such a report is kept for the analysts and fails nothing.
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT
    sent.provider.refresh_from_db()
    assert sent.provider.contact_flagged_at is None
    (event,) = events(sent.case, EventKind.NOTICE_BOUNCED)
    assert event.data["information_only"] is True


def test_a_reference_alone_does_not_match_a_bounce_about_someone_elses_address():
    # References are easy to guess: a forged report naming another address fails nothing.
    sent = send_notice()
    forged = f"Subject: [{sent.notice.reference}] Notice\nX-Scart-Reference: {sent.notice.reference}\n\n".encode()
    other = status_block("victim@elsewhere.example", "failed", "5.1.1", "550 unknown user")

    assert file_message(parse(postfix_bounce(forged, recipients=(other,), headers_only=True))) is None
    assert NoticeMessage.objects.count() == 0
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT


def test_a_delay_report_is_recorded_without_failing_the_notice():
    sent = send_notice()
    delayed = status_block(ABUSE, "delayed", "4.4.1", "connect to mail.provider.example: Connection timed out")

    record = file_message(
        parse(postfix_bounce(sent.raw, recipients=(delayed,), subject="Delayed Mail (still being retried)"))
    )

    assert record is not None
    assert record.kind == NoticeMessage.Kind.REPLY
    assert record.failed_recipients == []
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT
    sent.provider.refresh_from_db()
    assert sent.provider.contact_flagged_at is None
    assert events(sent.case, EventKind.NOTICE_BOUNCED) == []
    (event,) = events(sent.case, EventKind.NOTICE_REPLY)
    assert event.data["delivery_status"] == "delayed"


def test_only_the_failed_recipients_of_a_mixed_report_are_failed():
    sent = send_notice(abuse_emails=[ABUSE, "noc@provider.example"])
    blocks = (
        status_block(ABUSE, "delivered", "2.0.0"),
        status_block("noc@provider.example", "failed", "5.7.1", "550 5.7.1 relaying denied"),
    )

    record = file_message(parse(postfix_bounce(sent.raw, recipients=blocks)))

    assert record is not None and record.kind == NoticeMessage.Kind.BOUNCE
    assert record.failed_recipients == ["noc@provider.example"]
    # One address of two still got it: the notice stands, and the bounce is information.
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT
    sent.provider.refresh_from_db()
    assert sent.provider.contact_flagged_at is None


def test_it_files_a_non_standard_bounce_from_postmaster_with_the_original_attached():
    sent = send_notice()
    bounce = EmailMessage()
    bounce["From"] = "postmaster@provider.example"
    bounce["To"] = "scart@hotline.example"
    bounce["Subject"] = "Mail delivery failed: returning message to sender"
    bounce["Message-ID"] = "<E1vXyZ-000123-AB@mx.provider.example>"
    bounce["X-Failed-Recipients"] = ABUSE
    bounce["Auto-Submitted"] = "auto-replied"
    bounce.set_content(
        "This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its recipients.\n\n"
        f"  {ABUSE}\n    mailbox is full: retry timeout exceeded\n"
    )
    bounce.add_attachment(sent.message)

    record = file_message(bounce)

    assert record is not None and record.kind == NoticeMessage.Kind.BOUNCE
    assert record.failed_recipients == [ABUSE]
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.FAILED


def test_it_files_a_qmail_bounce_that_quotes_the_original_in_its_text():
    sent = send_notice()
    bounce = EmailMessage()
    bounce["From"] = "MAILER-DAEMON@mx.provider.example"
    bounce["To"] = "scart@hotline.example"
    bounce["Subject"] = "failure notice"
    bounce["Message-ID"] = "<qmail.1763720100@mx.provider.example>"
    bounce.set_content(
        "Hi. This is the qmail-send program at mx.provider.example.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{ABUSE}>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n"
        "--- Below this line is a copy of the message.\n\n" + headers_of(sent.raw) + "\n\n(body omitted)\n"
    )

    record = file_message(bounce)

    assert record is not None and record.kind == NoticeMessage.Kind.BOUNCE
    assert record.notice == sent.notice
    assert record.failed_recipients == [ABUSE]


def test_a_postmaster_answering_with_the_notice_attached_is_a_reply_not_a_bounce():
    sent = send_notice()
    message = reply(
        sender="Postmaster <postmaster@provider.example>",
        subject=f"Re: [{sent.notice.reference}] Notice",
        text="This is not our network; please contact the customer's upstream.",
        in_reply_to=sent.notice.message_id,
    )
    message.add_attachment(sent.message)

    record = file_message(message)

    assert record is not None and record.kind == NoticeMessage.Kind.REPLY
    assert record.excerpt == "This is not our network; please contact the customer's upstream."
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT


def test_a_bounce_of_an_unknown_message_is_not_filed():
    sent = send_notice()
    other = sent.raw.replace(sent.notice.message_id.encode(), b"<someone.else@elsewhere.example>")
    other = other.replace(sent.notice.reference.encode(), b"SOMETHING-ELSE")

    assert file_message(parse(postfix_bounce(other))) is None
    assert NoticeMessage.objects.count() == 0


def test_a_second_bounce_of_a_failed_notice_is_recorded_but_flags_nothing_again():
    sent = send_notice()
    file_message(parse(postfix_bounce(sent.raw)))
    sent.provider.refresh_from_db()
    flagged = sent.provider.contact_flagged_at

    record = file_message(parse(postfix_bounce(sent.raw, message_id="<retry.bounce@mx.provider.example>")))

    assert record is not None and record.kind == NoticeMessage.Kind.BOUNCE
    sent.provider.refresh_from_db()
    assert sent.provider.contact_flagged_at == flagged
    assert len(events(sent.case, EventKind.NOTICE_BOUNCED)) == 2


# -- replies -----------------------------------------------------------------------------------


def test_it_files_a_reply_to_the_notices_message_id():
    sent = send_notice()
    message = reply(
        sender="Jane at Hosting <jane@hosting-support.example>",
        subject=f"RE: [{sent.notice.reference}] Notice",
        in_reply_to=sent.notice.message_id,
    )

    record = file_message(message)

    assert record is not None
    assert record.kind == NoticeMessage.Kind.REPLY
    assert record.notice == sent.notice
    assert record.sender == "jane@hosting-support.example"
    assert record.subject == f"RE: [{sent.notice.reference}] Notice"
    assert record.excerpt.startswith("Hello,\n\nwe have removed the file.")
    assert record.failed_recipients == []
    (event,) = events(sent.case, EventKind.NOTICE_REPLY)
    assert event.data == {
        "notice": sent.notice.reference,
        "sender": "jane@hosting-support.example",
        "subject": f"RE: [{sent.notice.reference}] Notice",
    }
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT
    sent.provider.refresh_from_db()
    assert sent.provider.contact_flagged_at is None


def test_a_reply_keeps_the_start_of_its_text_and_never_an_attachment():
    sent = send_notice()
    message = reply(text="Removed. " + "x" * 5000, in_reply_to=sent.notice.message_id)
    message.add_attachment(b"ATTACHED-SECRET-7731", maintype="application", subtype="octet-stream", filename="a.bin")
    message.add_attachment("ATTACHED-TEXT-7731", filename="notes.txt")

    record = file_message(message)

    assert record is not None
    assert record.excerpt.startswith("Removed. xxx")
    assert len(record.excerpt) == 2000
    assert "7731" not in record.excerpt


def test_it_files_a_reply_by_the_reference_in_the_subject_from_the_recipients_domain():
    sent = send_notice()
    message = reply(sender="Support <support@noc.provider.example>", subject=f"Your [{sent.notice.reference}]")

    record = file_message(message)

    assert record is not None and record.notice == sent.notice
    assert record.kind == NoticeMessage.Kind.REPLY
    assert len(events(sent.case, EventKind.NOTICE_REPLY)) == 1


def test_a_reference_in_the_subject_from_another_domain_is_not_a_reply():
    sent = send_notice()
    message = reply(sender="someone@provider.example.net", subject=f"Re: [{sent.notice.reference}] Notice")

    assert file_message(message) is None
    assert NoticeMessage.objects.count() == 0
    assert events(sent.case, EventKind.NOTICE_REPLY) == []


def test_an_out_of_office_reply_is_a_reply_not_a_bounce():
    sent = send_notice()
    message = reply(
        subject=f"Automatic reply: [{sent.notice.reference}] Notice",
        text="I am out of the office until Monday. For urgent matters call the NOC.",
        in_reply_to=sent.notice.message_id,
        headers={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"},
    )

    record = file_message(message)

    assert record is not None and record.kind == NoticeMessage.Kind.REPLY
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT
    sent.provider.refresh_from_db()
    assert sent.provider.contact_flagged_at is None
    (event,) = events(sent.case, EventKind.NOTICE_REPLY)
    assert event.data["automatic"] is True
    assert events(sent.case, EventKind.NOTICE_BOUNCED) == []


def test_a_message_is_filed_once():
    sent = send_notice()
    message = reply(in_reply_to=sent.notice.message_id)

    first = file_message(message)
    again = file_message(message)

    assert first is not None and again is not None and again.pk == first.pk
    assert len(events(sent.case, EventKind.NOTICE_REPLY)) == 1


def test_a_message_without_a_message_id_is_filed_under_the_digest_given():
    sent = send_notice()
    message = reply(in_reply_to=sent.notice.message_id)
    del message["Message-ID"]
    key = f"sha256:{hashlib.sha256(message.as_bytes()).hexdigest()}"

    record = file_message(message, message_id=key)

    assert record is not None and record.message_id == key
    assert file_message(message, message_id=key) == record


def test_a_message_about_no_notice_is_left_alone():
    send_notice()

    assert file_message(reply(subject="Question about your hotline")) is None
    assert file_message(reply(in_reply_to="<unknown@elsewhere.example>")) is None
    assert NoticeMessage.objects.count() == 0


# -- through the mailbox -----------------------------------------------------------------------


@pytest.fixture
def imap(settings) -> Iterator[FakeImap]:
    with FakeImap("intake@hotline.example", "secret") as server:
        settings.SCART_INTAKE_IMAP_URL = server.url
        settings.SCART_INTAKE_IMAP_FOLDER = "INBOX"
        settings.SCART_INTAKE_IMAP_DONE_FOLDER = DONE
        settings.SCART_INTAKE_IMAP_REJECTED_FOLDER = REJECTED
        settings.SCART_INTAKE_ALLOWED_SENDERS = [ANALYST, "@other.example"]
        settings.SCART_MAIL_AUTHSERV_ID = HOTLINE_MX
        yield server


def stamped(raw: bytes, *results: str, authserv_id: str = "") -> bytes:
    """``raw`` as the hotline's mail server delivers it: its Authentication-Results on top."""
    lines = [f"Authentication-Results: {authserv_id or HOTLINE_MX}; {result}\r\n".encode() for result in results]
    return b"".join(lines) + raw


def test_the_mailbox_files_bounces_and_replies_before_the_allow_list(imap):
    bounced = send_notice()
    answered = send_notice(
        "https://other.example.net/b/2.jpg", name="Other Hosting", abuse_emails=["abuse@other.example"]
    )
    imap.deliver("INBOX", postfix_bounce(bounced.raw))
    # A reply quoting the notice's URL, from a domain on the allow-list: filed on the notice, not as a report.
    imap.deliver(
        "INBOX",
        stamped(
            reply(
                sender="abuse@other.example",
                text="> 1. https://other.example.net/b/2.jpg\n\nDone, the file is gone.",
                in_reply_to=answered.notice.message_id,
            ).as_bytes(),
            "dkim=pass header.d=other.example",
        ),
    )
    partner = reply(sender=ANALYST, subject="New URLs", text="https://new.example.org/x", message_id="<p.1@partner>")
    imap.deliver("INBOX", stamped(partner.as_bytes(), "dmarc=pass header.from=partner.example"))

    summary = mailbox_poll()

    assert summary == PollSummary(messages=3, reports=1, notice_messages=2)
    assert len(imap.folder(DONE)) == 3
    assert imap.folder("INBOX") == [] and imap.folder(REJECTED) == []
    assert Notice.objects.get(pk=bounced.notice.pk).state == NoticeState.FAILED
    assert events(bounced.case, EventKind.NOTICE_BOUNCED)
    assert [m.kind for m in NoticeMessage.objects.filter(notice=answered.notice)] == [NoticeMessage.Kind.REPLY]
    assert events(answered.case, EventKind.NOTICE_REPLY)
    assert list(Report.objects.filter(channel=Channel.MAILBOX).values_list("external_ref", flat=True)) == [
        "<p.1@partner>"
    ]

    # Delivered again (a poll that stopped before moving it): counted, filed nothing twice.
    imap.deliver("INBOX", postfix_bounce(bounced.raw))
    assert mailbox_poll() == PollSummary(messages=1, notice_messages=1)
    assert NoticeMessage.objects.count() == 2
    assert len(events(bounced.case, EventKind.NOTICE_BOUNCED)) == 1


# -- who sent it: unauthenticated messages are kept as unverified and change nothing ---------------


def test_an_unauthenticated_reply_is_kept_as_unverified_and_writes_nothing_else():
    sent = send_notice()

    record = file_message(reply(in_reply_to=sent.notice.message_id), authenticated=False)

    assert record is not None and record.unverified is True
    assert record.notice == sent.notice and record.kind == NoticeMessage.Kind.REPLY
    assert events(sent.case, EventKind.NOTICE_REPLY) == []
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT


def test_an_unauthenticated_bounce_carrying_the_notices_message_id_fails_it():
    # Mailer daemons often sign nothing; the notice's random Message-ID shows the report is about
    # the message we sent, as a VERP address would.
    sent = send_notice()

    record = file_message(parse(postfix_bounce(sent.raw)), authenticated=False)

    assert record is not None and record.unverified is False
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.FAILED


def test_an_unauthenticated_bounce_matched_by_its_reference_alone_is_unverified():
    sent = send_notice()
    headers = "\n".join(line for line in headers_of(sent.raw).splitlines() if not line.startswith("Message-ID"))

    record = file_message(parse(postfix_bounce(headers.encode() + b"\n\n", headers_only=True)), authenticated=False)

    assert record is not None and record.unverified is True and record.kind == NoticeMessage.Kind.BOUNCE
    assert record.failed_recipients == [ABUSE]
    assert events(sent.case, EventKind.NOTICE_BOUNCED) == []
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT
    sent.provider.refresh_from_db()
    assert sent.provider.contact_flagged_at is None


def test_the_mailbox_files_a_forged_removed_reply_as_unverified_and_nothing_changes(imap):
    sent = send_notice()
    case_state = Case.objects.get(pk=sent.case.pk).state
    forged = reply(
        text="We have removed all the files, please close the case.",
        subject=f"Re: [{sent.notice.reference}] removed",
        in_reply_to=sent.notice.message_id,
    )
    # A pass from a server that is not ours, and one with our authserv-id the forger wrote below ours.
    raw = stamped(forged.as_bytes(), "dmarc=pass header.from=provider.example", authserv_id="mx.forger.example")
    imap.deliver("INBOX", stamped(stamped(raw, "dmarc=pass header.from=provider.example"), "dmarc=fail"))

    assert mailbox_poll() == PollSummary(messages=1, notice_messages=1)

    record = NoticeMessage.objects.get()
    assert record.unverified is True and record.notice == sent.notice
    assert Notice.objects.get(pk=sent.notice.pk).state == NoticeState.SENT
    assert Case.objects.get(pk=sent.case.pk).state == case_state
    assert not sent.notice.items.exclude(response="").exists()
    assert events(sent.case, EventKind.NOTICE_REPLY) == [] and events(sent.case, EventKind.PROVIDER_RESPONDED) == []
    assert len(imap.folder(DONE)) == 1


def test_the_mailbox_files_a_dkim_signed_reply_as_verified(imap, fake_dns):
    key = dkim_key("provider.example")
    dkim_publish(fake_dns, key)
    sent = send_notice()
    imap.deliver("INBOX", dkim_sign(reply(in_reply_to=sent.notice.message_id).as_bytes(), key))

    assert mailbox_poll() == PollSummary(messages=1, notice_messages=1)

    assert NoticeMessage.objects.get().unverified is False
    (event,) = events(sent.case, EventKind.NOTICE_REPLY)
    assert event.data["sender"] == ABUSE
