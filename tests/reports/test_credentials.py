"""Credentials in a reported URL (``https://user:password@host/``) are dropped at intake, through
every channel: only the fact that there were some is kept, and the URL as typed, less them."""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps
from django.db import migrations

from reports.models import Case, Channel, IdempotencyKey, ReportedUrl
from reports.services import report_create

pytestmark = pytest.mark.django_db

PASSWORD = "secretpw"


def test_the_api_keeps_no_credentials_and_says_there_were_some(api):
    response = api.post(
        "/api/v1/reports/",
        {"urls": [f"https://alice:{PASSWORD}@files.example.com/a?x=1", f"ftp://bob:{PASSWORD}@files.example.com/b"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="once",
    )
    assert response.status_code == 201
    body = response.json()
    assert PASSWORD not in json.dumps(body)
    assert body["urls"][0]["url"] == "https://files.example.com/a?x=1"
    assert body["rejected_urls"][0]["url"] == "ftp://files.example.com/b"
    link = ReportedUrl.objects.get()
    assert (link.original_url, link.had_credentials) == ("https://files.example.com/a?x=1", True)
    case = Case.objects.get()
    assert (case.original_url, case.had_credentials) == ("https://files.example.com/a?x=1", True)
    # The response kept for a retry with the same Idempotency-Key holds none either.
    assert PASSWORD not in json.dumps(IdempotencyKey.objects.get().response_json)


def test_every_channel_drops_them():
    for channel in (Channel.WEB_FORM, Channel.BULK_IMPORT, Channel.MAILBOX):
        report_create(channel=channel, urls=[f"user:{PASSWORD}@{channel.replace('_', '-')}.example.com/x"])
    assert ReportedUrl.objects.count() == 3
    assert not ReportedUrl.objects.filter(original_url__contains=PASSWORD).exists()
    assert not Case.objects.filter(original_url__contains=PASSWORD).exists()
    assert set(ReportedUrl.objects.values_list("original_url", flat=True)) == {
        "web-form.example.com/x",
        "bulk-import.example.com/x",
        "mailbox.example.com/x",
    }
    assert all(ReportedUrl.objects.values_list("had_credentials", flat=True))


def test_a_url_without_credentials_is_kept_as_typed():
    report_create(channel=Channel.WEB_FORM, urls=["HTTP://Example.com/@alice/photos#top"])
    link = ReportedUrl.objects.get()
    assert (link.original_url, link.had_credentials) == ("HTTP://Example.com/@alice/photos#top", False)


def test_the_migration_strips_the_credentials_stored_before():
    migration = importlib.import_module("reports.migrations.0013_credentials_dropped_rows")
    report_create(channel=Channel.WEB_FORM, urls=["https://files.example.com/a", "https://example.com/@alice"])
    # Rows as intake wrote them before it dropped credentials (no service writes them any more).
    ReportedUrl.objects.filter(case__canonical_url="https://files.example.com/a").update(
        original_url=f"https://u:{PASSWORD}@files.example.com/a", had_credentials=False
    )
    Case.objects.filter(canonical_url="https://files.example.com/a").update(
        original_url=f"https://u:{PASSWORD}@files.example.com/a"
    )
    migration.credentials_drop(apps, None)
    assert sorted(ReportedUrl.objects.values_list("original_url", "had_credentials")) == [
        ("https://example.com/@alice", False),
        ("https://files.example.com/a", True),
    ]
    assert sorted(Case.objects.values_list("original_url", "had_credentials")) == [
        ("https://example.com/@alice", False),
        ("https://files.example.com/a", True),
    ]


def test_the_rewrite_runs_apart_from_the_schema_change_one_batch_per_transaction():
    # In the schema change's transaction, ALTER TABLE's exclusive lock on the links would last
    # through the scan and rewrite of the whole table, stopping intake and the case pages.
    schema = importlib.import_module("reports.migrations.0010_reportedurl_credentials_dropped").Migration
    rewrite = importlib.import_module("reports.migrations.0013_credentials_dropped_rows").Migration
    assert not any(isinstance(op, migrations.RunPython) for op in schema.operations)
    assert rewrite.atomic is False
    assert all(isinstance(op, migrations.RunPython) for op in rewrite.operations)
