"""The world of the retention tests: tests/world.py (every shape of case, built through the
services and the local peers) plus what it lacks of personal data and free text, added through the
services too: a web-form report with its reporter's address and words on a case closed with an
analyst's note, a mailbox report, a partner's report through the API with an Idempotency-Key, and
a staff login from an address."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from reports.models import Case, Channel
from reports.services import report_create
from routing.resolution.cases import cases_resolve
from tests import factories
from tests.conftest import staff_login
from tests.world import World, build_world, world_settings

PRIVATE_URL = "https://www.example.com/private/1?q=a"
TIPSTER = "Tipster@Mail.example"


@dataclass
class PrivacyWorld:
    world: World
    closed: Case  # closed (not illegal) with an analyst's note, reported by TIPSTER on the web form


@pytest.fixture
def privacy_world(settings, fake_dns, fake_rdap, client) -> Iterator[PrivacyWorld]:
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        world = build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp)
        result = report_create(
            channel=Channel.WEB_FORM,
            urls=[PRIVATE_URL],
            reporter_email=TIPSTER,
            description="my neighbour showed me this",
        )
        case_id = result.accepted[0].case_id
        cases_resolve(case_ids=[case_id], force=True)
        case_assess(
            case=Case.objects.get(pk=case_id),
            user=world.users["analyst"],
            classification=Classification(
                verdict="not_illegal", not_illegal_reason="adult", notes="adult performer, see the site's 2257 page"
            ),
        )
        report_create(
            channel=Channel.MAILBOX,
            urls=["https://www.example.com/from-mail"],
            source="tipster@mail.example",
            reporter_email="tipster@mail.example",
            description="forwarded from a friend",
            external_ref="<abc.123@mail.example>",
        )
        _, key = factories.partner_with_key("Crawler")
        partner = APIClient()
        partner.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        response = partner.post(
            "/api/v1/reports/",
            {"urls": ["https://www.example.com/crawled"], "description": "crawler hit", "external_ref": "crawl-77"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="run-77",
        )
        assert response.status_code == 201, response.content
        staff_login(client, world.users["senior"])
        audit_record(action=AuditAction.LOGIN, audit=AuditContext(user=world.users["senior"], ip_address="192.0.2.7"))
        audit_record(
            action=AuditAction.CASE_VIEWED,
            audit=AuditContext(user=world.users["senior"], ip_address="192.0.2.7"),
            obj=Case.objects.get(pk=case_id),
        )
        yield PrivacyWorld(world, Case.objects.get(pk=case_id))
