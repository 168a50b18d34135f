"""Mailbox intake: reports read from an IMAP folder, against a local IMAP server."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from io import StringIO
from typing import Literal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from devnet.imap import FakeImap
from devnet.tls import Certificates, make_certificates
from reports.imap import MailboxError, parse_imap_url
from reports.mailbox import PollSummary, mailbox_poll
from reports.mailfiling import sender_allowed
from reports.mailtext import extract_urls
from reports.models import Channel, Report, ReportedUrl
from reports.services import report_create

DONE = "scart-processed"
REJECTED = "scart-rejected"
ANALYST = "analyst@partner.example"
# The receiving mail server's authserv-id, and its word that a message from the partner passed
# DMARC (how a sender is authenticated is tests/reports/test_mailauth.py's subject).
MX = "mx.hotline.example"
STAMP = f"Authentication-Results: {MX}; dmarc=pass header.from=partner.example\r\n".encode()


@pytest.fixture(autouse=True)
def _trusted_mx(settings) -> None:
    settings.SCART_MAIL_AUTHSERV_ID = MX


@pytest.fixture
def imap(settings) -> Iterator[FakeImap]:
    # A password with characters that must be percent-encoded in the URL.
    with FakeImap("intake@hotline.example", "s3cret:/@%pw") as server:
        settings.SCART_INTAKE_IMAP_URL = server.url
        settings.SCART_INTAKE_IMAP_FOLDER = "INBOX"
        settings.SCART_INTAKE_IMAP_DONE_FOLDER = DONE
        settings.SCART_INTAKE_IMAP_REJECTED_FOLDER = REJECTED
        settings.SCART_INTAKE_ALLOWED_SENDERS = [ANALYST]
        yield server


def mail(
    *,
    sender: str = ANALYST,
    subject: str = "Reported URLs",
    text: str | None = None,
    html: str | None = None,
    message_id: str | None = "",
    attachments: Sequence[tuple[bytes, str, str, str]] = (),
    forwarded: bytes | None = None,
    stamped: bool = True,
) -> bytes:
    """A message as a partner's mail client would send it; message_id None leaves the header out.
    ``stamped``: as the hotline's mail server received it, with its DMARC pass for the partner."""
    message = EmailMessage()
    message["From"] = f"Partner Analyst <{sender}>"
    message["To"] = "intake@hotline.example"
    message["Subject"] = subject
    if message_id is not None:
        message["Message-ID"] = message_id or make_msgid(domain="partner.example")
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    elif html is not None:
        message.set_content(html, subtype="html")
    for data, maintype, subtype, filename in attachments:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    if forwarded is not None:
        message.add_attachment(forwarded, maintype="message", subtype="rfc822")
    return (STAMP if stamped else b"") + message.as_bytes()


def reported_urls(report: Report) -> set[str]:
    return set(ReportedUrl.objects.filter(report=report).values_list("original_url", flat=True))


def database_text() -> str:
    """Every value of every row of every table, as one string."""
    chunks: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


# -- filing ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_files_one_report_with_every_url_of_an_allowed_senders_message(imap):
    message_id = "<abc.123@partner.example>"
    imap.deliver(
        "INBOX",
        mail(
            message_id=message_id,
            subject="Two URLs for you",
            text="Hello,\n\nplease look at https://www.example.com/a/1.html and\nhttp://example.net/gallery?id=7.\n\nRegards",
        ),
    )

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, reports=1)
    report = Report.objects.get()
    assert report.channel == Channel.MAILBOX
    assert report.external_ref == message_id
    assert report.source == ANALYST
    assert report.reporter_email == ANALYST
    assert report.description == f"Two URLs for you\nMessage-ID: {message_id}"
    assert reported_urls(report) == {"https://www.example.com/a/1.html", "http://example.net/gallery?id=7"}
    assert report.cases.count() == 2
    assert imap.folder("INBOX") == []
    assert len(imap.folder(DONE)) == 1
    assert imap.folder(REJECTED) == []


@pytest.mark.django_db
def test_it_does_not_copy_the_message_body_into_the_report(imap):
    imap.deliver("INBOX", mail(text="Found on https://example.com/x while looking for PRIVATE-NOTE-7731"))

    mailbox_poll()

    assert "PRIVATE-NOTE-7731" not in database_text()


@pytest.mark.django_db
def test_it_records_when_the_server_received_the_message(imap):
    received = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    imap.deliver("INBOX", mail(text="https://example.com/late"), received_at=received)

    mailbox_poll()

    assert Report.objects.get().received_at == received


@pytest.mark.django_db
def test_it_leaves_processed_messages_unread(imap):
    imap.deliver("INBOX", mail(text="https://example.com/a"))

    mailbox_poll()

    assert imap.flags(DONE) == [set()]


@pytest.mark.django_db
def test_it_reads_urls_from_html_when_there_is_no_plain_text(imap):
    html = """<html><head><title>t</title><style>a { background: url(https://style.example.org/bg.png) }</style></head>
    <body><p>See <a href="https://www.example.com/linked">this page</a> and also http://example.net/visible.</p>
    <script>var u = "https://script.example.org/hidden";</script></body></html>"""
    imap.deliver("INBOX", mail(html=html))

    mailbox_poll()

    report = Report.objects.get()
    assert reported_urls(report) == {"https://www.example.com/linked", "http://example.net/visible"}
    assert report.rejected_count == 0


@pytest.mark.django_db
def test_it_prefers_the_plain_text_over_the_html_alternative(imap):
    imap.deliver(
        "INBOX",
        mail(
            text="https://example.com/plain",
            html='<a href="https://example.com/plain">x</a> https://example.com/html-only',
        ),
    )

    mailbox_poll()

    assert reported_urls(Report.objects.get()) == {"https://example.com/plain"}


@pytest.mark.django_db
def test_it_refangs_defanged_urls(imap):
    text = "hxxp://bad[.]example[.]com/a\nhxxps://www[.]example[.]net/b?c=d\nhttps[://]example.com/c\nhttp://example(.)org/d"
    imap.deliver("INBOX", mail(text=text))

    mailbox_poll()

    assert reported_urls(Report.objects.get()) == {
        "http://bad.example.com/a",
        "https://www.example.net/b?c=d",
        "https://example.com/c",
        "http://example.org/d",
    }


@pytest.mark.django_db
def test_it_leaves_typographic_quotes_out_of_the_urls(imap):
    # As Outlook sends it: the plain text part with the quotes Word put in.
    text = "Please check \u201chttp://example.com/x\u201d, \u2018https://example.net/y\u2019 and \u00abhttp://example.org/z\u00bb."
    imap.deliver("INBOX", mail(text=text, html=f"<p>{text}</p>"))

    mailbox_poll()

    report = Report.objects.get()
    assert reported_urls(report) == {"http://example.com/x", "https://example.net/y", "http://example.org/z"}
    assert sorted(report.cases.values_list("canonical_url", flat=True)) == [
        "http://example.com/x",
        "http://example.org/z",
        "https://example.net/y",
    ]


@pytest.mark.django_db
def test_it_reads_the_folder_named_in_the_url(imap, settings):
    settings.SCART_INTAKE_IMAP_URL = imap.url.removesuffix("/INBOX") + "/partner%20reports"
    imap.deliver("partner reports", mail(text="https://example.com/a"))
    imap.deliver("INBOX", mail(text="https://example.com/b"))

    summary = mailbox_poll()

    assert summary.reports == 1
    assert reported_urls(Report.objects.get()) == {"https://example.com/a"}
    assert imap.folder("partner reports") == []
    assert len(imap.folder("INBOX")) == 1


def test_it_percent_decodes_user_password_and_folder():
    target = parse_imap_url(
        "imaps://intake%40hotline.example:p%3Aw%2Fd@mail.example:1993/a%2Fb", default_folder="INBOX"
    )

    assert (target.host, target.port, target.ssl) == ("mail.example", 1993, True)
    assert (target.user, target.password, target.folder) == ("intake@hotline.example", "p:w/d", "a/b")
    assert "p:w/d" not in repr(target)
    assert parse_imap_url("imap://u:p@mail.example", default_folder="Intake").folder == "Intake"
    assert parse_imap_url("imap://u:p@mail.example/", default_folder="Intake").port == 143


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("(see https://example.com/a).", ["https://example.com/a"]),
        ("https://en.example.org/wiki/Foo_(bar), next", ["https://en.example.org/wiki/Foo_(bar)"]),
        (
            "<https://example.net/x>, 'https://example.net/y'; \"https://example.net/z\"",
            ["https://example.net/x", "https://example.net/y", "https://example.net/z"],
        ),
        ("[https://example.com/q?a=1&b=2]!", ["https://example.com/q?a=1&b=2"]),
        ("HXXPS://EXAMPLE[.]COM/Up hxxp://example[dot]net/", ["httpS://EXAMPLE.COM/Up", "http://example.net/"]),
        ("https://example.com/a https://example.com/a", ["https://example.com/a"]),
        ("no urls here, not even ftp://example.com/ or https://", []),
        # Outlook and Word: typographic quotes, guillemets, German quotes.
        (
            "\u201chttp://example.com/x\u201d \u2018https://example.com/y\u2019 \u00abhttp://example.com/z\u00bb \u201ehttps://example.de/a\u201c",
            ["http://example.com/x", "https://example.com/y", "http://example.com/z", "https://example.de/a"],
        ),
        (
            "\u201chttps://example.com/q\u201dand \u2018https://example.com/r\u2019, \u2039https://example.com/s\u203a\u2026",
            [
                "https://example.com/q",
                "https://example.com/r",
                "https://example.com/s",
            ],
        ),
        # Text in Chinese puts no space before a URL; zero-width spaces are not part of one.
        ("\u8bf7\u770bhttps://example.com/a\u3002 xhttps://example.com/no", ["https://example.com/a"]),
        ("see\u200bhttps://example.com/c\u200b\ufeff next", ["https://example.com/c"]),
        # An apostrophe inside a path stays; full-width brackets close like ASCII ones.
        (
            "https://example.fr/l\u2019\u00e9t\u00e9. \uff08https://zh.example.org/wiki/X\uff08Y\uff09\uff09\u3002",
            [
                "https://example.fr/l\u2019\u00e9t\u00e9",
                "https://zh.example.org/wiki/X\uff08Y\uff09",
            ],
        ),
    ],
)
def test_it_extracts_urls_from_text(text, urls):
    assert extract_urls(text) == urls


# -- who may report ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_rejects_a_sender_not_on_the_allow_list(imap):
    imap.deliver("INBOX", mail(sender="someone@elsewhere.example", text="https://example.com/a"))

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, rejected_senders=1)
    assert not Report.objects.exists()
    assert imap.folder("INBOX") == []
    assert len(imap.folder(REJECTED)) == 1
    assert imap.folder(DONE) == []


@pytest.mark.django_db
def test_it_accepts_every_address_of_an_allow_listed_domain(imap, settings):
    settings.SCART_INTAKE_ALLOWED_SENDERS = ["@partner.example"]
    imap.deliver("INBOX", mail(sender="desk@partner.example", text="https://example.com/a"))
    imap.deliver("INBOX", mail(sender="Other@Partner.Example", text="https://example.com/b"))
    imap.deliver("INBOX", mail(sender="desk@sub.partner.example", text="https://example.com/c"))
    imap.deliver("INBOX", mail(sender="desk@notpartner.example", text="https://example.com/d"))

    summary = mailbox_poll()

    assert (summary.reports, summary.rejected_senders) == (2, 2)
    assert set(Report.objects.values_list("source", flat=True)) == {"desk@partner.example", "other@partner.example"}
    assert len(imap.folder(DONE)) == 2
    assert len(imap.folder(REJECTED)) == 2


@pytest.mark.django_db
def test_it_accepts_nobody_when_the_allow_list_is_empty(imap, settings, caplog):
    settings.SCART_INTAKE_ALLOWED_SENDERS = []
    imap.deliver("INBOX", mail(text="https://example.com/a"))

    with caplog.at_level(logging.WARNING, logger="reports.mailbox"):
        summary = mailbox_poll()

    assert summary.rejected_senders == 1
    assert not Report.objects.exists()
    assert "SCART_INTAKE_ALLOWED_SENDERS is empty" in caplog.text


def test_it_matches_senders_exactly_or_by_whole_domain():
    allowed = ["analyst@partner.example", "@hotline.example"]

    assert sender_allowed("ANALYST@partner.example", allowed)
    assert sender_allowed("anyone@hotline.example", allowed)
    assert not sender_allowed("analyst@partner.example.net", allowed)
    assert not sender_allowed("x@evilhotline.example", allowed)
    assert not sender_allowed("", allowed)
    assert not sender_allowed("analyst@partner.example", [])


# -- attachments ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_ignores_attachments(imap, caplog):
    marker = "ATTACHMENT-MARKER-5d41402a"
    forwarded = mail(subject="fwd", text=f"https://forwarded.example.org/{marker}")
    raw = mail(
        text="The URL is https://example.com/in-body",
        attachments=[
            (f"https://attached.example.org/{marker}\n".encode(), "text", "plain", "urls.txt"),
            (f"<a href='https://attached.example.org/{marker}'>x</a>".encode(), "text", "html", "page.html"),
            (b"\x89PNG\r\n\x1a\n" + marker.encode() + b"https://image.example.org/x", "image", "png", "shot.png"),
        ],
        forwarded=forwarded,
    )
    imap.deliver("INBOX", raw)

    with caplog.at_level(logging.DEBUG):
        summary = mailbox_poll()

    assert summary.reports == 1
    report = Report.objects.get()
    assert reported_urls(report) == {"https://example.com/in-body"}
    assert (report.url_count, report.rejected_count) == (1, 0)
    assert marker not in database_text()
    assert "attached.example.org" not in database_text()
    assert "forwarded.example.org" not in database_text()
    assert marker not in caplog.text


@pytest.mark.django_db
def test_it_rejects_a_message_whose_only_urls_are_in_attachments(imap):
    raw = mail(
        text="See the attached file.",
        attachments=[(b"https://attached.example.org/a\n", "text", "plain", "urls.txt")],
    )
    imap.deliver("INBOX", raw)

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, no_urls=1)
    assert not Report.objects.exists()
    assert len(imap.folder(REJECTED)) == 1


# -- idempotency and rejection --------------------------------------------------------------------


@pytest.mark.django_db
def test_it_files_a_message_id_only_once(imap):
    raw = mail(message_id="<same@partner.example>", text="https://example.com/a")
    imap.deliver("INBOX", raw)
    imap.deliver("INBOX", raw)

    first = mailbox_poll()
    imap.deliver("INBOX", raw)
    second = mailbox_poll()

    assert (first.reports, first.already_filed) == (1, 1)
    assert (second.reports, second.already_filed) == (0, 1)
    assert Report.objects.count() == 1
    assert len(imap.folder(DONE)) == 3


@pytest.mark.django_db
def test_it_files_a_redelivery_quietly_once_even_if_its_text_changed(imap, caplog):
    # The same report sent again by a mail client that rewrote the text around the URLs.
    imap.deliver("INBOX", mail(message_id="<same@partner.example>", text="https://example.com/a http://example.net/b"))
    imap.deliver(
        "INBOX",
        mail(message_id="<same@partner.example>", text="Resent:\n> HTTPS://EXAMPLE.COM/a\n> http://example.net/b."),
    )

    with caplog.at_level(logging.INFO, logger="reports.mailbox"):
        summary = mailbox_poll()

    assert summary == PollSummary(messages=2, reports=1, already_filed=1)
    assert Report.objects.count() == 1
    assert "Message-ID clash" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.django_db
def test_it_files_the_first_of_two_different_messages_with_one_message_id_and_flags_the_second(imap, caplog):
    first = mail(message_id="<reused@partner.example>", subject="first", text="https://example.com/first")
    second = mail(message_id="<reused@partner.example>", subject="second", text="https://example.com/second")
    imap.deliver("INBOX", first)
    imap.deliver("INBOX", second)

    with caplog.at_level(logging.INFO, logger="reports.mailbox"):
        summary = mailbox_poll()

    assert summary == PollSummary(messages=2, reports=2, clashes=1)
    original = Report.objects.get(external_ref="<reused@partner.example>")
    assert reported_urls(original) == {"https://example.com/first"}
    assert original.description == "first\nMessage-ID: <reused@partner.example>"
    clash = Report.objects.exclude(pk=original.pk).get()
    assert reported_urls(clash) == {"https://example.com/second"}
    assert clash.external_ref.startswith("<reused@partner.example> clash:")
    assert clash.description.splitlines() == [
        f"Message-ID clash: {original.reference} was filed first under this Message-ID, "
        "from a message naming other URLs.",
        "second",
        "Message-ID: <reused@partner.example>",
    ]
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1
    assert "Message-ID clash" in warning[0]
    assert original.reference in warning[0] and clash.reference in warning[0]
    assert len(imap.folder(DONE)) == 2

    # Both are redelivered: each is recognised as filed, nothing is filed again.
    imap.deliver("INBOX", second)
    imap.deliver("INBOX", first)
    again = mailbox_poll()

    assert again == PollSummary(messages=2, already_filed=2)
    assert Report.objects.count() == 2


@pytest.mark.django_db
def test_it_flags_a_clash_with_a_message_filed_by_an_earlier_poll(imap):
    imap.deliver("INBOX", mail(message_id="<fixed-id@script.example>", text="https://example.com/monday"))
    mailbox_poll()
    imap.deliver("INBOX", mail(message_id="<fixed-id@script.example>", text="https://example.com/tuesday"))

    summary = mailbox_poll()

    assert (summary.reports, summary.clashes, summary.already_filed) == (1, 1, 0)
    assert {url for report in Report.objects.all() for url in reported_urls(report)} == {
        "https://example.com/monday",
        "https://example.com/tuesday",
    }


@pytest.mark.django_db
def test_it_rejects_a_message_without_urls_that_reuses_a_message_id(imap):
    imap.deliver("INBOX", mail(message_id="<reused@partner.example>", text="https://example.com/a"))
    imap.deliver("INBOX", mail(message_id="<reused@partner.example>", text="thanks!"))
    imap.deliver("INBOX", mail(message_id="<reused@partner.example>", text="http://localhost/x"))

    summary = mailbox_poll()

    assert summary == PollSummary(messages=3, reports=1, no_urls=2)
    assert Report.objects.count() == 1
    assert len(imap.folder(REJECTED)) == 2


@pytest.mark.django_db
def test_it_prints_clashes_from_the_command(imap):
    imap.deliver("INBOX", mail(message_id="<reused@partner.example>", text="https://example.com/a"))
    imap.deliver("INBOX", mail(message_id="<reused@partner.example>", text="https://example.com/b"))
    out, err = StringIO(), StringIO()

    call_command("poll_mailbox", stdout=out, stderr=err)

    assert out.getvalue().strip() == (
        "2 messages read: 2 reports filed (1 with a Message-ID filed before for other URLs), 0 filed before, "
        "0 from senders not allowed, 0 not authenticated, 0 without URLs, 0 malformed, 0 errors."
    )
    assert "Message-ID clashes" in err.getvalue()


@pytest.mark.django_db
def test_it_files_a_message_without_message_id_only_once(imap):
    raw = mail(message_id=None, text="https://example.com/a")
    imap.deliver("INBOX", raw)
    imap.deliver("INBOX", raw)

    summary = mailbox_poll()

    assert (summary.reports, summary.already_filed) == (1, 1)
    report = Report.objects.get()
    assert report.external_ref.startswith("sha256:")
    assert report.description == "Reported URLs"


@pytest.mark.django_db
def test_it_moves_a_message_without_urls_to_the_rejected_folder(imap):
    imap.deliver("INBOX", mail(text="Hello, I saw something bad on a website yesterday."))

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, no_urls=1)
    assert not Report.objects.exists()
    assert len(imap.folder(REJECTED)) == 1
    assert imap.folder(DONE) == []


MALFORMED = {
    # multipart without a boundary parameter: the parser cannot find the parts.
    "no boundary": (
        STAMP + b"From: Partner Analyst <analyst@partner.example>\r\nMessage-ID: <m1@partner.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n"
        b"--xyz\r\nContent-Type: text/plain\r\n\r\nhttps://example.com/lost\r\n--xyz--\r\n",
        "NoBoundaryInMultipartDefect",
    ),
    # The boundary named in the header is not the one in the body.
    "wrong boundary": (
        STAMP + b"From: Partner Analyst <analyst@partner.example>\r\nMessage-ID: <m2@partner.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=abc\r\n\r\n"
        b"--xyz\r\nContent-Type: text/plain\r\n\r\nhttps://example.com/lost\r\n--xyz--\r\n",
        "StartBoundaryNotFoundDefect",
    ),
    # A Message-ID the standard library's header parser fails on (IndexError) rather than flags.
    "unreadable header": (
        STAMP + b"From: Partner Analyst <analyst@partner.example>\r\nMessage-ID: <<<\r\n"
        b"Content-Type: text/plain\r\n\r\nhttps://example.com/a\r\n",
        "unreadable header",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", MALFORMED)
def test_it_moves_a_malformed_message_to_the_rejected_folder_as_malformed(imap, caplog, case):
    raw, problem = MALFORMED[case]
    imap.deliver("INBOX", raw)

    with caplog.at_level(logging.INFO, logger="reports.mailbox"):
        summary = mailbox_poll()

    assert summary == PollSummary(messages=1, malformed=1)
    assert not Report.objects.exists()
    assert imap.folder(REJECTED) == [raw]
    assert imap.folder("INBOX") == []
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1
    assert "malformed message" in warning[0]
    assert problem in warning[0]
    assert REJECTED in warning[0]


@pytest.mark.django_db
def test_it_files_the_urls_of_a_malformed_message_it_can_read(imap):
    # The closing boundary is missing, a common truncation: the text part is still there.
    raw = (
        STAMP + b"From: Partner Analyst <analyst@partner.example>\r\nMessage-ID: <m3@partner.example>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=abc\r\n\r\n"
        b"--abc\r\nContent-Type: text/plain\r\n\r\nhttps://example.com/kept\r\n"
    )
    imap.deliver("INBOX", raw)

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, reports=1)
    assert reported_urls(Report.objects.get()) == {"https://example.com/kept"}


@pytest.mark.django_db
def test_it_prints_malformed_messages_from_the_command(imap):
    imap.deliver("INBOX", MALFORMED["no boundary"][0])
    imap.deliver("INBOX", mail(text="nothing to see"))
    out, err = StringIO(), StringIO()

    call_command("poll_mailbox", stdout=out, stderr=err)

    assert out.getvalue().strip() == (
        "2 messages read: 0 reports filed, 0 filed before, 0 from senders not allowed, 0 not authenticated, 1 without URLs, "
        "1 malformed, 0 errors."
    )
    assert f"Malformed messages are in the folder {REJECTED}" in err.getvalue()


@pytest.mark.django_db
def test_it_moves_a_message_without_acceptable_urls_to_the_rejected_folder(imap):
    imap.deliver("INBOX", mail(text="http://intranet.example/a and http://10.0.0.1/b"))

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, no_urls=1)
    assert not Report.objects.exists()
    assert len(imap.folder(REJECTED)) == 1


@pytest.mark.django_db
def test_it_files_the_acceptable_urls_and_counts_the_others(imap):
    imap.deliver("INBOX", mail(text="https://example.com/ok and http://localhost/admin"))

    mailbox_poll()

    report = Report.objects.get()
    assert reported_urls(report) == {"https://example.com/ok"}
    assert (report.url_count, report.rejected_count) == (1, 1)


@pytest.mark.django_db
def test_it_copies_and_expunges_when_the_server_cannot_move(settings):
    with FakeImap("intake", "pw", move=False) as server:
        settings.SCART_INTAKE_IMAP_URL = server.url
        settings.SCART_INTAKE_IMAP_DONE_FOLDER = DONE
        settings.SCART_INTAKE_IMAP_REJECTED_FOLDER = REJECTED
        settings.SCART_INTAKE_ALLOWED_SENDERS = [ANALYST]
        for n in range(3):
            server.deliver("INBOX", mail(text=f"https://example.com/{n}"))
        server.deliver("INBOX", mail(sender="x@elsewhere.example", text="https://example.com/x"))

        summary = mailbox_poll()

        assert (summary.reports, summary.rejected_senders) == (3, 1)
        assert server.folder("INBOX") == []
        assert len(server.folder(DONE)) == 3
        assert len(server.folder(REJECTED)) == 1
        assert not any("MOVE" in c for c in server.commands)
        assert any(c.startswith("UID COPY") for c in server.commands)
        assert "EXPUNGE" in server.commands


@pytest.mark.django_db
def test_it_keeps_going_when_one_message_fails(imap, monkeypatch):
    # The one place a fault is injected: a database failure cannot be caused from the outside.
    def failing_for_one(**kwargs):
        if "boom" in kwargs["description"]:
            raise RuntimeError("database unavailable")
        return report_create(**kwargs)

    monkeypatch.setattr("reports.mailfiling.report_create", failing_for_one)
    imap.deliver("INBOX", mail(subject="first", text="https://example.com/1"))
    imap.deliver("INBOX", mail(subject="boom", text="https://example.com/2"))
    imap.deliver("INBOX", mail(subject="third", text="https://example.com/3"))

    summary = mailbox_poll()

    assert summary == PollSummary(messages=3, reports=2, errors=1)
    assert len(imap.folder("INBOX")) == 1
    assert b"Subject: boom" in imap.folder("INBOX")[0]
    assert len(imap.folder(DONE)) == 2


# -- errors and the command ----------------------------------------------------------------------


@pytest.mark.django_db
def test_it_raises_a_clear_error_when_the_password_is_wrong(imap):
    url = imap.url.replace("s3cret", "wrong")

    with pytest.raises(MailboxError, match=r"login as 'intake@hotline.example' at 127\.0\.0\.1:\d+ failed") as error:
        mailbox_poll(imap_url=url)

    assert "wrong" not in str(error.value)


def test_it_raises_a_clear_error_when_the_server_is_unreachable():
    with FakeImap() as server:
        url = server.url
    with pytest.raises(MailboxError, match="cannot connect to the mailbox"):
        mailbox_poll(imap_url=url)


@pytest.mark.django_db
def test_it_prints_the_summary_from_the_command(imap):
    imap.deliver("INBOX", mail(text="https://example.com/a https://example.net/b"))
    imap.deliver("INBOX", mail(sender="x@elsewhere.example", text="https://example.com/c"))
    imap.deliver("INBOX", mail(text="nothing"))
    out = StringIO()

    call_command("poll_mailbox", stdout=out)

    assert out.getvalue().strip() == (
        "3 messages read: 1 reports filed, 0 filed before, 1 from senders not allowed, 0 not authenticated, 1 without URLs, "
        "0 malformed, 0 errors."
    )


@pytest.mark.django_db
def test_it_fails_the_command_clearly_when_login_fails(imap, settings):
    settings.SCART_INTAKE_IMAP_URL = imap.url.replace("s3cret", "wrong")

    with pytest.raises(CommandError, match=r"login as 'intake@hotline\.example' at .* failed"):
        call_command("poll_mailbox", stdout=StringIO())


def test_it_fails_the_command_clearly_when_no_mailbox_is_configured(settings):
    settings.SCART_INTAKE_IMAP_URL = ""

    with pytest.raises(CommandError, match="SCART_INTAKE_IMAP_URL is not set"):
        call_command("poll_mailbox", stdout=StringIO())


@pytest.mark.django_db
def test_it_returns_the_number_of_reports_from_the_task(imap):
    from reports.tasks import mailbox_poll as task

    imap.deliver("INBOX", mail(text="https://example.com/a"))

    assert task() == 1


@pytest.mark.django_db
def test_the_database_refuses_a_second_report_for_the_same_message():
    from django.db import IntegrityError, transaction

    report_create(channel=Channel.MAILBOX, urls=["https://example.com/a"], external_ref="<m1@example.org>")
    with pytest.raises(IntegrityError), transaction.atomic():
        report_create(channel=Channel.MAILBOX, urls=["https://example.com/b"], external_ref="<m1@example.org>")
    # Other channels may repeat a reference (a partner's own numbering, bulk files).
    report_create(channel=Channel.API, urls=["https://example.com/c"], external_ref="<m1@example.org>")


# -- TLS -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def certificates(tmp_path_factory) -> Certificates:
    """A private CA and a certificate it signed for 127.0.0.1, as a hotline's own mail server has."""
    return make_certificates(tmp_path_factory.mktemp("imap-tls"))


@pytest.fixture
def tls_imap(settings, certificates) -> Iterator[Callable[..., FakeImap]]:
    """Start an IMAP server with TLS (``implicit`` or ``starttls``) configured as the intake mailbox."""
    servers: list[FakeImap] = []

    def start(tls: Literal["implicit", "starttls"], **options) -> FakeImap:
        server = FakeImap("intake", "pw", tls=tls, tls_context=certificates.server_context(), **options)
        server.start()
        servers.append(server)
        settings.SCART_INTAKE_IMAP_URL = server.url
        settings.SCART_INTAKE_IMAP_DONE_FOLDER = DONE
        settings.SCART_INTAKE_IMAP_REJECTED_FOLDER = REJECTED
        settings.SCART_INTAKE_ALLOWED_SENDERS = [ANALYST]
        server.deliver("INBOX", mail(text="https://example.com/over-tls"))
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.django_db
def test_imaps_to_a_server_of_a_private_ca_fails_without_the_ca_file_and_says_how_to_trust_it(tls_imap, settings):
    server = tls_imap("implicit")
    settings.SCART_INTAKE_IMAP_CA_FILE = ""

    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED") as error:
        mailbox_poll()

    assert "SCART_INTAKE_IMAP_CA_FILE" in str(error.value)
    assert server.logins == []
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_imaps_to_a_server_of_a_private_ca_works_with_the_ca_file(tls_imap, settings, certificates):
    server = tls_imap("implicit")
    settings.SCART_INTAKE_IMAP_CA_FILE = str(certificates.ca_file)

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, reports=1)
    assert server.url.startswith("imaps://")
    assert server.logins == [True]


@pytest.mark.django_db
def test_imap_is_upgraded_with_starttls_before_the_login(tls_imap, settings, certificates):
    # The server refuses LOGIN in clear (LOGINDISABLED), as Dovecot does by default.
    server = tls_imap("starttls", login_disabled=True)
    settings.SCART_INTAKE_IMAP_CA_FILE = str(certificates.ca_file)

    summary = mailbox_poll()

    assert summary == PollSummary(messages=1, reports=1)
    assert server.url.startswith("imap://")
    assert server.logins == [True]
    assert server.commands.index("STARTTLS") < server.commands.index("LOGIN")


@pytest.mark.django_db
def test_starttls_verifies_the_certificate_and_never_falls_back_to_clear(tls_imap, settings):
    server = tls_imap("starttls")
    settings.SCART_INTAKE_IMAP_CA_FILE = ""
    settings.SCART_INTAKE_IMAP_PLAIN_LOGIN = "always"

    with pytest.raises(MailboxError, match=r"STARTTLS with the mailbox at .* failed: .*CERTIFICATE_VERIFY_FAILED"):
        mailbox_poll()

    assert "LOGIN" not in server.commands
    assert server.logins == []


@pytest.mark.django_db
def test_it_does_not_send_the_password_in_clear_unless_allowed(imap, settings):
    settings.SCART_INTAKE_IMAP_PLAIN_LOGIN = "never"
    imap.deliver("INBOX", mail(text="https://example.com/a"))

    with pytest.raises(MailboxError, match="does not offer STARTTLS: the password is not sent in clear"):
        mailbox_poll()

    assert "LOGIN" not in imap.commands
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_it_logs_in_in_clear_to_a_server_on_this_machine_by_default(imap):
    imap.deliver("INBOX", mail(text="https://example.com/a"))

    assert mailbox_poll().reports == 1
    assert imap.logins == [False]


def test_it_refuses_an_unknown_plain_login_choice_or_an_unreadable_ca_file(settings, tmp_path):
    settings.SCART_INTAKE_IMAP_URL = "imap://u:p@127.0.0.1:1/"
    settings.SCART_INTAKE_IMAP_PLAIN_LOGIN = "sometimes"
    with pytest.raises(MailboxError, match="SCART_INTAKE_IMAP_PLAIN_LOGIN must be one of never, loopback, always"):
        mailbox_poll()

    settings.SCART_INTAKE_IMAP_PLAIN_LOGIN = "never"
    settings.SCART_INTAKE_IMAP_CA_FILE = str(tmp_path / "missing.pem")
    with pytest.raises(MailboxError, match=r"SCART_INTAKE_IMAP_CA_FILE .*missing\.pem.* cannot be read"):
        mailbox_poll()

    (tmp_path / "not.pem").write_text("not a certificate")
    settings.SCART_INTAKE_IMAP_CA_FILE = str(tmp_path / "not.pem")
    with pytest.raises(MailboxError, match=r"SCART_INTAKE_IMAP_CA_FILE .*not\.pem.* cannot be read"):
        mailbox_poll()
