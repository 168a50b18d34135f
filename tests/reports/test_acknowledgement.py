"""The reporter's acknowledgement email: sent once, a temporary failure retried, a permanent
refusal recorded and never retried."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from devnet.smtp import FakeSMTP
from reports.models import Channel, Report
from reports.services import report_acknowledge, report_create
from reports.tasks import report_acknowledge as report_acknowledge_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings) -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        yield server


def report_through_the_form(client: Client, email: str, monkeypatch) -> Report:
    """File a report as the public form does; its acknowledgement task runs here, with Celery's
    own retries (eagerly, without the waits)."""
    monkeypatch.setattr(
        "reports.views.report_acknowledge.delay", lambda report_id: report_acknowledge_task.apply(args=(report_id,))
    )
    data = {"urls": "https://example.com/a", "description": "", "email": email, "website": ""}
    response = client.post("/report/", data)
    assert response.status_code == 200
    return Report.objects.get()


def filed(email: str) -> Report:
    return report_create(channel=Channel.WEB_FORM, urls=["https://example.com/a"], reporter_email=email).report


def test_it_sends_the_acknowledgement_once(client, smtp, monkeypatch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        report = report_through_the_form(client, "someone@example.org", monkeypatch)
    assert [m.rcpt_tos for m in smtp.wait_for(1)] == [["someone@example.org"]]
    report.refresh_from_db()
    assert report.acknowledged_at is not None and report.acknowledgement_error == ""
    assert report_acknowledge(report=report) is False
    assert len(smtp.messages) == 1


def test_its_message_id_is_on_the_hotlines_domain_as_the_notices_are(smtp, settings):
    settings.DEFAULT_FROM_EMAIL = "Test Hotline <notices@hotline.example>"
    assert report_acknowledge(report=filed("someone@example.org")) is True
    [message] = smtp.wait_for(1)
    assert str(message.message["Message-ID"]).endswith("@hotline.example>")


def test_a_permanent_refusal_is_recorded_and_not_retried(client, smtp, monkeypatch, django_capture_on_commit_callbacks):
    smtp.reject_permanently.add("nobody@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        report = report_through_the_form(client, "nobody@example.org", monkeypatch)
    assert smtp.refused == ["nobody@example.org"]  # asked once: a 5xx stays a 5xx
    report.refresh_from_db()
    assert report.acknowledged_at is None
    assert report.acknowledgement_error.startswith("nobody@example.org: 550 5.1.1")
    assert report_acknowledge(report=report) is False  # recorded: not tried again later either
    assert smtp.refused == ["nobody@example.org"] and smtp.messages == []


def test_a_temporary_refusal_is_retried_and_the_message_goes_out_later(smtp):
    smtp.reject_temporarily.add("later@example.org")
    report = filed("later@example.org")
    with pytest.raises(OSError):
        report_acknowledge(report=report)
    report.refresh_from_db()
    assert report.acknowledged_at is None and report.acknowledgement_error == ""
    smtp.reject_temporarily.clear()
    assert report_acknowledge(report=report) is True
    assert [m.rcpt_tos for m in smtp.wait_for(1)] == [["later@example.org"]]


def test_an_unreachable_mail_server_is_retried(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 1  # nothing listens there
    report = filed("someone@example.org")
    with pytest.raises(OSError):
        report_acknowledge(report=report)
    report.refresh_from_db()
    assert report.acknowledged_at is None and report.acknowledgement_error == ""


def test_a_refused_login_to_the_relay_is_recorded_and_not_retried(settings):
    with FakeSMTP(password="current") as relay:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = relay.host, relay.port
        settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "scart", "outdated"
        report = filed("someone@example.org")
        assert report_acknowledge_task.apply(args=(report.pk,)).successful()
        report.refresh_from_db()
        assert report.acknowledgement_error.startswith("535")
        settings.EMAIL_HOST_PASSWORD = "current"
        assert report_acknowledge(report=report) is False
        assert relay.messages == []
