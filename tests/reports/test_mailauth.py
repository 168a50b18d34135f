"""Mailbox intake believes a sender only when authenticated: end to end through the local IMAP
server, with DKIM keys published on the local DNS peer and the hotline's mail server's
Authentication-Results written as it writes them (on top of the message)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from io import StringIO

import pytest
from django.core.management import call_command

from devnet.dkim import DkimKey, dkim_key, dkim_publish, dkim_sign
from devnet.dns import FakeDNS
from devnet.imap import FakeImap
from reports.mailauth import aligned, authserv_id
from reports.mailbox import PollSummary, mailbox_poll
from reports.models import Channel, Report

DONE = "scart-processed"
REJECTED = "scart-rejected"
PARTNER = "partner.example"
ANALYST = f"analyst@{PARTNER}"
MX = "mx.hotline.example"


@pytest.fixture(scope="module")
def partner_key() -> DkimKey:
    return dkim_key(PARTNER, selector="mail2026")


@pytest.fixture(scope="module")
def forger_key() -> DkimKey:
    return dkim_key("forger.example")


@pytest.fixture
def imap(settings) -> Iterator[FakeImap]:
    with FakeImap("intake@hotline.example", "secret") as server:
        settings.SCART_INTAKE_IMAP_URL = server.url
        settings.SCART_INTAKE_IMAP_FOLDER = "INBOX"
        settings.SCART_INTAKE_IMAP_DONE_FOLDER = DONE
        settings.SCART_INTAKE_IMAP_REJECTED_FOLDER = REJECTED
        settings.SCART_INTAKE_ALLOWED_SENDERS = [ANALYST]
        settings.SCART_MAIL_AUTHSERV_ID = MX
        settings.SCART_MAIL_AUTHSERV_HEADERS = 1
        settings.SCART_MAIL_DKIM_VERIFY = True
        yield server


def report_mail(*, sender: str = ANALYST, text: str = "Please look at https://example.com/reported/1") -> bytes:
    message = EmailMessage()
    message["From"] = f"Partner Analyst <{sender}>"
    message["To"] = "intake@hotline.example"
    message["Subject"] = "Reported URLs"
    message["Message-ID"] = make_msgid(domain=PARTNER)
    message.set_content(text)
    return message.as_bytes()


def stamped(raw: bytes, *results: str, authserv_id: str = MX) -> bytes:
    """``raw`` with Authentication-Results headers on top, the first given topmost."""
    return b"".join(f"Authentication-Results: {authserv_id}; {r}\r\n".encode() for r in results) + raw


def filed() -> bool:
    return Report.objects.filter(channel=Channel.MAILBOX).exists()


def assert_refused(imap: FakeImap, summary: PollSummary) -> None:
    assert summary == PollSummary(messages=1, unauthenticated=1)
    assert not filed()
    assert len(imap.folder(REJECTED)) == 1
    assert imap.folder(DONE) == [] and imap.folder("INBOX") == []


# -- verified here with dkimpy, the key on the DNS peer ---------------------------------------------


@pytest.mark.django_db
def test_a_partners_dkim_signed_message_is_filed(imap, fake_dns: FakeDNS, partner_key):
    dkim_publish(fake_dns, partner_key)
    imap.deliver("INBOX", dkim_sign(report_mail(), partner_key))

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, reports=1)
    report = Report.objects.get()
    assert report.reporter_email == ANALYST
    # The key was looked up on the project's nameserver (the DNS peer), nowhere else.
    assert ("mail2026._domainkey.partner.example", "TXT") in fake_dns.queries


@pytest.mark.django_db
def test_a_signature_of_a_parent_domain_is_aligned(imap, settings, fake_dns: FakeDNS, partner_key):
    settings.SCART_INTAKE_ALLOWED_SENDERS = ["reports@mail.partner.example"]
    dkim_publish(fake_dns, partner_key)
    imap.deliver("INBOX", dkim_sign(report_mail(sender="reports@mail.partner.example"), partner_key))

    assert mailbox_poll() == PollSummary(messages=1, reports=1)


@pytest.mark.django_db
def test_a_forged_from_without_a_signature_is_not_filed(imap, caplog):
    imap.deliver("INBOX", report_mail())

    with caplog.at_level(logging.WARNING, logger="reports.mailbox"):
        summary = mailbox_poll()

    assert_refused(imap, summary)
    assert "not authenticated" in caplog.text and ANALYST in caplog.text


@pytest.mark.django_db
def test_a_message_changed_after_signing_is_not_filed(imap, fake_dns: FakeDNS, partner_key):
    dkim_publish(fake_dns, partner_key)
    signed = dkim_sign(report_mail(), partner_key)
    imap.deliver("INBOX", signed.replace(b"https://example.com/reported/1", b"https://example.com/reported/2"))

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_a_forgers_valid_signature_of_their_own_domain_does_not_vouch_for_the_partner(
    imap, fake_dns: FakeDNS, forger_key
):
    dkim_publish(fake_dns, forger_key)
    imap.deliver("INBOX", dkim_sign(report_mail(), forger_key))

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_a_signature_whose_key_is_not_published_is_not_filed(imap, partner_key):
    imap.deliver("INBOX", dkim_sign(report_mail(), partner_key))

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_a_signature_over_part_of_the_body_does_not_count(imap, fake_dns: FakeDNS, partner_key):
    # l= lets anyone append text, URLs included, below the signed part.
    dkim_publish(fake_dns, partner_key)
    signed = dkim_sign(report_mail(text="Nothing yet."), partner_key, length=True)
    imap.deliver("INBOX", signed + b"https://example.com/appended\r\n")

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_a_second_from_header_is_never_authenticated(imap, fake_dns: FakeDNS, partner_key):
    dkim_publish(fake_dns, partner_key)
    signed = dkim_sign(report_mail(), partner_key)
    imap.deliver("INBOX", b"From: analyst@partner.example\r\n" + signed)

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_a_dns_timeout_leaves_the_message_for_the_next_poll(imap, settings, fake_dns: FakeDNS, partner_key):
    settings.SCART_DNS_TIMEOUT, settings.SCART_DNS_LIFETIME = 0.2, 0.4
    dkim_publish(fake_dns, partner_key)
    fake_dns.set_behaviour(partner_key.record_name, "timeout")
    imap.deliver("INBOX", dkim_sign(report_mail(), partner_key))

    assert mailbox_poll() == PollSummary(messages=1, errors=1)
    assert len(imap.folder("INBOX")) == 1 and not filed()

    fake_dns.set_behaviour(partner_key.record_name, "normal")
    assert mailbox_poll() == PollSummary(messages=1, reports=1)


@pytest.mark.django_db
def test_local_verification_can_be_turned_off(imap, settings, fake_dns: FakeDNS, partner_key):
    settings.SCART_MAIL_DKIM_VERIFY = False
    dkim_publish(fake_dns, partner_key)
    imap.deliver("INBOX", dkim_sign(report_mail(), partner_key))

    assert_refused(imap, mailbox_poll())
    assert fake_dns.queries == []


# -- the receiving server's Authentication-Results ---------------------------------------------------


@pytest.mark.django_db
def test_dmarc_pass_from_the_trusted_server_is_filed(imap, fake_dns: FakeDNS):
    imap.deliver(
        "INBOX",
        stamped(
            report_mail(), "dkim=none; spf=pass smtp.mailfrom=partner.example; dmarc=pass header.from=partner.example"
        ),
    )

    assert mailbox_poll() == PollSummary(messages=1, reports=1)
    assert fake_dns.queries == []


@pytest.mark.django_db
def test_an_aligned_dkim_pass_from_the_trusted_server_is_filed(imap):
    imap.deliver("INBOX", stamped(report_mail(), "dkim=pass (2048-bit key) header.d=partner.example header.s=x"))

    assert mailbox_poll() == PollSummary(messages=1, reports=1)


@pytest.mark.parametrize(
    "result",
    [
        "dmarc=fail header.from=partner.example",
        "dmarc=pass header.from=forger.example",
        "dmarc=pass",
        "dkim=pass header.d=forger.example",
        "dkim=pass header.d=example",
        "dkim=fail header.d=partner.example",
        "spf=pass smtp.mailfrom=partner.example",
        "none",
    ],
)
@pytest.mark.django_db
def test_other_results_of_the_trusted_server_are_not_enough(imap, result):
    imap.deliver("INBOX", stamped(report_mail(), result))

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_authentication_results_of_another_authserv_id_are_ignored(imap):
    # Written by the forger, or by a server on the way: not ours to believe.
    imap.deliver(
        "INBOX", stamped(report_mail(), "dmarc=pass header.from=partner.example", authserv_id="mx.forger.example")
    )

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_a_spoofed_header_with_our_authserv_id_below_ours_is_ignored(imap):
    # The forger wrote a pass with our authserv-id into the message; our server put its own on top.
    forged = stamped(report_mail(), "dmarc=pass header.from=partner.example")
    imap.deliver("INBOX", stamped(forged, "dkim=none; dmarc=fail header.from=partner.example"))

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_a_server_that_writes_two_headers_is_read_as_configured(imap, settings):
    # One header from the DKIM milter, one from the DMARC milter, both on top.
    raw = stamped(report_mail(), "dkim=none", "dmarc=pass header.from=partner.example")
    imap.deliver("INBOX", raw)
    assert mailbox_poll() == PollSummary(messages=1, unauthenticated=1)

    settings.SCART_MAIL_AUTHSERV_HEADERS = 2
    imap.deliver("INBOX", raw.replace(b"Message-ID: <", b"Message-ID: <again."))
    assert mailbox_poll() == PollSummary(messages=1, reports=1)


@pytest.mark.django_db
def test_without_a_trusted_authserv_id_no_header_is_believed(imap, settings):
    settings.SCART_MAIL_AUTHSERV_ID = ""
    imap.deliver("INBOX", stamped(report_mail(), "dmarc=pass header.from=partner.example"))

    assert_refused(imap, mailbox_poll())


@pytest.mark.django_db
def test_a_stranger_is_still_refused_as_not_allowed_whatever_it_proves(imap):
    imap.deliver(
        "INBOX", stamped(report_mail(sender="x@elsewhere.example"), "dmarc=pass header.from=elsewhere.example")
    )

    assert mailbox_poll() == PollSummary(messages=1, rejected_senders=1)


# -- the rules on their own -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signer", "domain", "expected"),
    [
        ("partner.example", "partner.example", True),
        ("Partner.Example.", "partner.example", True),
        ("partner.example", "mail.partner.example", True),
        ("mail.partner.example", "partner.example", False),
        ("example", "partner.example", False),
        ("co.uk", "partner.co.uk", False),
        ("partner.co.uk", "mail.partner.co.uk", True),
        ("artner.example", "partner.example", False),
        ("", "partner.example", False),
    ],
)
def test_alignment_is_relaxed_within_one_registrable_domain(signer, domain, expected):
    assert aligned(signer, domain) is expected


def test_the_authserv_id_is_read_before_the_first_semicolon():
    assert authserv_id("MX.Hotline.Example 1; dkim=pass") == "mx.hotline.example"
    assert authserv_id("mx.hotline.example (our MX); none") == "mx.hotline.example"
    assert authserv_id("") == ""


@pytest.mark.django_db
def test_the_command_says_how_many_were_not_authenticated(imap):
    imap.deliver("INBOX", report_mail())
    out, err = StringIO(), StringIO()

    call_command("poll_mailbox", stdout=out, stderr=err)

    assert "1 not authenticated" in out.getvalue()
    assert f"not authenticated are in the folder {REJECTED}" in err.getvalue()
