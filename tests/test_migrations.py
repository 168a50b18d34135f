"""Migrations apply on a database that holds data: a database at the head before the restructuring
(commit 68b7d09), filled through the models of that time, migrates to today's head with its cases,
events, reports, notices and providers readable through today's models, the credentials of
stored URLs stripped (reports 0010 and 0013), and the resolved addresses as rows (routing 0011)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import StateApps
from django.utils import timezone

from reports.models import Case, Event, EventKind, Report, ReportedUrl
from routing.models import CaseAddress, Notice, NoticeState, Provider
from workspace.search import cases_matching, query_parse

# The last migration of each app at 68b7d09 (git ls-tree 68b7d09 <app>/migrations).
OLD_HEAD = [
    ("accounts", "0005_case_marked_removed_audit"),
    ("reports", "0009_leaner_case_and_event_indexes"),
    ("routing", "0008_leaner_notice_indexes"),
    ("stats", "0003_reported_week"),
]
OURS = {app for app, _ in OLD_HEAD}


def migrate_to(targets: list[tuple[str, str]]) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection)


def head() -> list[tuple[str, str]]:
    return [node for node in MigrationExecutor(connection).loader.graph.leaf_nodes() if node[0] in OURS]


def old_world(apps: StateApps) -> dict[str, int]:
    """A case reported with credentials in its URL, its events, a provider and a sent notice,
    written through the models of the old head."""
    now = timezone.now()
    provider = apps.get_model("routing", "Provider").objects.create(
        name="Old Hosting", key="old-hosting", abuse_emails=["abuse@old-hosting.example"], country="NL"
    )
    case = apps.get_model("reports", "Case").objects.create(
        url_sha256="a" * 64,
        canonical_url="https://files.example/album/1",
        original_url="https://alice:secret@files.example/album/1",
        scheme="https",
        host="files.example",
        registrable_domain="files.example",
        had_credentials=True,
        state="notified",
        first_reported_at=now - timedelta(days=2),
        last_reported_at=now - timedelta(days=2),
        provider=provider,
        verdict="illegal",
        hosting_country="NL",
        resolution={"outcome": "resolved", "addresses": ["192.0.2.10"], "origin": {"addresses": ["2001:db8::1"]}},
        resolved_at=now - timedelta(days=2),
    )
    report = apps.get_model("reports", "Report").objects.create(reference="R-OLD-1", channel="api")
    link = apps.get_model("reports", "ReportedUrl").objects.create(
        report=report, case=case, original_url="https://alice:secret@files.example/album/1", duplicate=False
    )
    event_model = apps.get_model("reports", "Event")
    for kind, data in (("reported", {"report": report.pk}), ("assessed", {"verdict": "illegal"})):
        event_model.objects.create(case=case, kind=kind, actor_type="system", data=data)
    notice = apps.get_model("routing", "Notice").objects.create(
        reference="SCART-20261121-000001",
        kind="provider",
        recipient_kind="provider",
        recipient_name="Old Hosting",
        batch_key="provider:old-hosting",
        emails=["abuse@old-hosting.example"],
        provider=provider,
        state="sent",
        open=False,
        due_at=now - timedelta(days=1),
        sent_at=now - timedelta(days=1),
        message_id="<old-1@hotline.example>",
    )
    apps.get_model("routing", "NoticeCase").objects.create(notice=notice, case=case)
    return {"case": case.pk, "report": report.pk, "link": link.pk, "notice": notice.pk, "provider": provider.pk}


@pytest.mark.django_db(transaction=True)
def test_a_database_filled_at_the_old_head_migrates_to_the_new_head_with_its_data():
    try:
        executor = migrate_to(OLD_HEAD)
        ids = old_world(executor.loader.project_state(OLD_HEAD).apps)
        migrate_to(head())

        case = Case.objects.get(pk=ids["case"])
        assert case.original_url == "https://files.example/album/1"  # stripped by reports 0013
        assert case.had_credentials and case.state == "notified" and case.verdict == "illegal"
        assert case.provider_id == ids["provider"]
        assert list(Event.objects.filter(case=case).values_list("kind", flat=True)) == [
            EventKind.REPORTED,
            EventKind.ASSESSED,
        ]
        link = ReportedUrl.objects.get(pk=ids["link"])
        assert (link.original_url, link.had_credentials) == ("https://files.example/album/1", True)
        assert Report.objects.get(pk=ids["report"]).urls.get().case_id == case.pk
        notice = Notice.objects.get(pk=ids["notice"])
        assert (
            notice.state == NoticeState.SENT and notice.get_recipient_kind_display() == "hosting provider"
        )  # routing 0010
        assert list(notice.cases.values_list("pk", flat=True)) == [case.pk]
        assert Provider.objects.get(pk=ids["provider"]).abuse_emails == ["abuse@old-hosting.example"]
        # routing 0011: the addresses of the stored resolution (the host's and its origin's) as rows
        # the search by address reads.
        assert set(CaseAddress.objects.filter(case=case).values_list("ip", flat=True)) == {"192.0.2.10", "2001:db8::1"}
        network = query_parse("192.0.2.0/24")
        assert network is not None
        assert list(cases_matching(network).values_list("pk", flat=True)) == [case.pk]
    finally:
        migrate_to(head())  # the next tests need today's schema whatever happened here
