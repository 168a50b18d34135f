"""A person's right of access and erasure: everything tied to one e-mail address, found, exported
as JSON and erased, on the page (senior analysts) and with ``manage.py reporter_data``; the audit
trail records that it was done, with a keyed hash of the address and never the address."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import AuditAction, AuditEntry
from privacy.reporters import reporter_data, reporter_hash
from reports.models import Channel, Event, EventKind, Report
from routing.models import NoticeMessage
from tests.conftest import staff_client
from tests.privacy.conftest import PRIVATE_URL, TIPSTER
from tests.privacy.snapshots import changes, rows

pytestmark = pytest.mark.django_db


def _audit_text(action: str) -> str:
    return json.dumps(list(AuditEntry.objects.filter(action=action).values("summary", "data", "object_id")))


def test_a_senior_finds_exports_and_erases_a_reporters_data(privacy_world):
    client = staff_client("dpo", "senior")
    url = reverse("privacy-reporter")
    found = client.post(url, {"email": TIPSTER.upper(), "action": "find"})
    assert found.status_code == 200
    page = found.content.decode()
    assert page.count('class="reference"') == 2  # the web-form report and the mailbox one
    assert "my neighbour showed me this" in page

    exported = client.post(url, {"email": TIPSTER, "action": "export"})
    assert exported["Content-Type"].startswith("application/json")
    body = json.loads(exported.content)
    assert {r["channel"] for r in body["reports"]} == {Channel.WEB_FORM, Channel.MAILBOX}
    assert PRIVATE_URL in [u for r in body["reports"] for u in r["urls"]]
    assert body["email_hmac"] == reporter_hash(TIPSTER)

    refused = client.post(url, {"email": TIPSTER, "action": "erase"})
    assert "Tick the box" in refused.content.decode()
    assert reporter_data(email=TIPSTER).reports

    before = rows()
    erased = client.post(url, {"email": TIPSTER, "action": "erase", "confirm": "yes"})
    assert "Erased: 2 reports" in erased.content.decode()
    assert reporter_data(email=TIPSTER).empty
    assert changes(before, rows()) == {
        "accounts_auditentry.(added)",  # the record that it was done
        "reports_report.reporter_email",
        "reports_report.source",
        "reports_report.description",
        "reports_report.external_ref",
    }
    mailbox = Report.objects.get(channel=Channel.MAILBOX, external_ref__startswith="sha256:")
    assert mailbox.source == mailbox.reporter_email == mailbox.description == ""

    for action in (AuditAction.REPORTER_DATA_EXPORTED, AuditAction.REPORTER_DATA_ERASED):
        text = _audit_text(action)
        assert reporter_hash(TIPSTER) in text
        assert "tipster" not in text.lower()
    # Asked again, the page says what was done for this address before.
    again = client.post(url, {"email": TIPSTER, "action": "find"}).content.decode()
    assert "Nothing is tied to this address." in again and "A reporter&#x27;s data erased" in again


def test_the_command_exports_and_erases_a_providers_replies(privacy_world, capsys):
    sender = "jane@hosting.example"
    assert NoticeMessage.objects.filter(sender=sender).exists()
    call_command("reporter_data", "--email", sender, "--erase")
    out = capsys.readouterr()
    body = json.loads(out.out)
    assert body["notice_messages"][0]["excerpt"].startswith("Hello")
    replies = list(Event.objects.filter(kind=EventKind.NOTICE_REPLY))  # one per case of the notice
    assert f"erased: 0 reports, 1 messages, {len(replies)} timeline entries" in out.err
    assert not NoticeMessage.objects.filter(sender=sender).exists()
    assert all(e.data["sender"] == e.data["subject"] == "" and e.data["notice"] for e in replies)
    assert sender not in _audit_text(AuditAction.REPORTER_DATA_ERASED)


def test_an_analyst_may_not_see_a_reporters_data(privacy_world):
    client = staff_client("plain", "analyst")
    assert client.post(reverse("privacy-reporter"), {"email": TIPSTER, "action": "find"}).status_code == 403
