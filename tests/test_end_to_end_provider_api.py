"""The provider API channel with a real sender process killed mid-request: the API took the report
and the sender died before the answer. The sweep leaves the notice for a person (never resent by
itself); a senior's resend finds the report that landed and records it instead of reporting twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from devnet.abuseapi import FakeAbuseAPI
from reports.assessment import Classification, case_assess
from routing.models import DeliveryChannel, DeliveryState, Notice, NoticeDelivery, NoticeState, Provider
from routing.notices.api_settings import provider_api_configure
from routing.notices.planning import cases_plan_notices
from routing.notices.responses import notice_resend
from routing.notices.sweep import notices_mark_unknown
from tests import factories
from tests.test_end_to_end import database_url

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT, TOKEN = "e2e-account", "e2e-token"


@pytest.fixture
def api(settings) -> Iterator[FakeAbuseAPI]:
    settings.SCART_PROVIDER_API_ALLOW_LOOPBACK = True
    with FakeAbuseAPI(accounts={ACCOUNT: TOKEN}) as peer:
        yield peer


def test_a_sender_killed_while_the_api_answers_leaves_one_report_and_a_resend_records_it(api: FakeAbuseAPI) -> None:
    cdn = Provider.objects.create(
        name="Edge", abuse_emails=["abuse@edge.example"], delivery_channel=DeliveryChannel.PROVIDER_API
    )
    provider_api_configure(
        provider=cdn,
        base_url=api.base_url,
        account=ACCOUNT,
        token=TOKEN,
        host_notification="send",
        owner_notification="none",
    )
    case = factories.awaiting_case("https://cdn.example.org/killed.jpg", hosting_country="NL", provider=cdn)
    case_assess(
        case=case,
        user=None,
        classification=Classification(verdict="illegal", legal_basis="baseline", category="A1", media_type="image"),
    )
    cases_plan_notices(case_ids=[case.pk])
    env = {
        **os.environ,
        "SCART_TESTING": "1",
        "DATABASE_URL": database_url(),
        "SCART_PROVIDER_API_ALLOW_LOOPBACK": "1",
        "SCART_PROVIDER_API_TIMEOUT": "60",
    }
    command = [sys.executable, "manage.py", "send_notices", "--now", "--no-reresolve"]
    # The API stores the report at once and holds its answer: the sender is waiting when it dies.
    api.set_fault("slow", times=1, seconds=60)
    sender = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        (landed,) = api.wait_for_reports(1, timeout=60)
        notice = Notice.objects.get()
        assert notice.state == NoticeState.SENDING
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        if sender.poll() is None:
            sender.kill()
        api.clear_faults()
    row = NoticeDelivery.objects.get(notice=notice)
    assert (row.state, row.external_id) == (DeliveryState.SENDING, "")
    with time_machine.travel(timezone.now() + settings.SCART_NOTICE_SENDING_TIMEOUT + timedelta(minutes=1)):
        assert notices_mark_unknown() == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.UNKNOWN
    # Nothing resends it by itself.
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert len(api.reports) == 1 and Notice.objects.get().state == NoticeState.UNKNOWN
    # A senior sends it again: the report that landed is recorded, none is made twice.
    notice_resend(notice=notice, user=factories.staff_user("sen", "senior"))
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    notice.refresh_from_db()
    row.refresh_from_db()
    assert notice.state == NoticeState.SENT
    assert (row.state, row.external_id) == (DeliveryState.SENT, landed.id)
    assert len(api.reports) == 1
    assert [q.method for q in api.requests].count("POST") == 1
