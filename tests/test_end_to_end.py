"""End to end with a real Celery worker process: the public form's acknowledgement email goes out
through the local SMTP peer, and reported cases are resolved through the local DNS and RDAP peers."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from devnet.dns import FakeDNS
from devnet.rdap import FakeRDAP
from devnet.smtp import FakeSMTP
from reports.models import Case, CaseState, Channel, Report
from scart.celery import app as celery_app
from scart.times import iso

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
QUEUES = settings.SCART_QUEUES


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


def purge_queues() -> None:
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in QUEUES:
            # A queue that was never declared has nothing to purge.
            with contextlib.suppress(Exception):
                channel.queue_purge(queue)  # type: ignore[attr-defined]


@pytest.fixture
def smtp() -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        yield server


@pytest.fixture
def worker_env() -> dict[str, str]:
    """More settings for the worker process; a test overrides them by parametrizing this name."""
    return {}


@pytest.fixture
def worker_pool() -> list[str]:
    """The worker's pool options; a test overrides them by parametrizing this name."""
    return ["--pool", "solo"]


@pytest.fixture
def worker(
    smtp: FakeSMTP,
    fake_dns: FakeDNS,
    fake_rdap: FakeRDAP,
    tmp_path: Path,
    worker_env: dict[str, str],
    worker_pool: list[str],
) -> Iterator[subprocess.Popen[bytes]]:
    purge_queues()
    env = {
        **os.environ,
        "SCART_TESTING": "1",
        "DATABASE_URL": database_url(),
        "EMAIL_HOST": smtp.host,
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "SCART_DNS_NAMESERVERS": fake_dns.address,
        "SCART_DNS_TIMEOUT": "0.5",
        "SCART_DNS_LIFETIME": "1",
        "SCART_RDAP_BASE_URL": fake_rdap.base_url,
        "SCART_RDAP_RATE": "0",
        **worker_env,
    }
    log = (tmp_path / "worker.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "scart",
            "worker",
            *worker_pool,
            "--queues",
            ",".join(QUEUES),
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        # Consuming before the test goes on, so that what a test times starts with the worker ready.
        wait_until(
            lambda: b" ready." in (tmp_path / "worker.log").read_bytes() or process.poll() is not None,
            what="the worker to start",
        )
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        if process.returncode not in (0, -15):
            print((tmp_path / "worker.log").read_text()[-4000:])


def wait_until(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_real_worker_sends_the_acknowledgement_email(client, worker, smtp):
    response = client.post(
        "/report/", {"urls": "https://example.com/seen\nhttps://example.net/also", "email": "reporter@example.org"}
    )
    assert response.status_code == 200
    report = Report.objects.get()
    messages = smtp.wait_for(1, timeout=60)
    assert len(messages) == 1, "the worker did not send the acknowledgement"
    message = messages[0]
    assert message.rcpt_tos == ["reporter@example.org"]
    assert report.reference in message.subject and report.reference in message.text
    assert "2 URLs" in message.text
    # The acknowledgement never repeats the reported addresses.
    assert "example.com/seen" not in message.raw.decode(errors="replace")
    report.refresh_from_db()
    assert report.acknowledged_at is not None


def test_a_real_worker_resolves_new_cases(worker, fake_dns, recorded_registry, partner_key):
    fake_dns.add("www.example.com", "A", "62.239.237.1")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {partner_key[1]}")
    body = api.post(
        "/api/v1/reports/", {"urls": ["https://www.example.com/x", "https://missing.example.com/"]}, format="json"
    ).json()
    ids = [u["case"] for u in body["urls"]]
    wait_until(
        lambda: Case.objects.filter(pk__in=ids, state=CaseState.AWAITING_ASSESSMENT).count() == 2,
        what="the worker to resolve both cases",
    )
    resolved = Case.objects.get(host="www.example.com")
    assert resolved.resolution["addresses"] == ["62.239.237.1"]
    assert resolved.provider is not None and resolved.provider.name == "BT Corporate Registry"
    assert resolved.hosting_country == "GB" and resolved.asn == 2856 and resolved.contact_confidence == "high"
    assert Case.objects.get(host="missing.example.com").resolution["outcome"] == "nxdomain"


def test_a_real_worker_sends_the_notice_of_an_urgent_illegal_verdict(worker, smtp):
    from django.utils import timezone

    from reports.assessment import Classification, case_assess
    from routing.models import Notice, NoticeState, Provider
    from tests import factories

    host = Provider.objects.create(name="Dutch Hosting", abuse_emails=["abuse@dutch.example"], language="nl")
    # Resolved a moment ago: the sender does not resolve it again (an older case would be, and the
    # local DNS peer does not know this host).
    case = factories.awaiting_case(
        "https://www.example.nl/urgent", hosting_country="NL", provider=host, urgent=True, resolved_at=timezone.now()
    )
    case_assess(
        case=case,
        user=None,
        classification=Classification(verdict="illegal", legal_basis="baseline", category="A1", media_type="image"),
    )
    messages = smtp.wait_for(1, timeout=60)
    assert [m.rcpt_tos for m in messages] == [["abuse@dutch.example"]]
    assert "https://www.example.nl/urgent" in messages[0].text
    wait_until(lambda: Notice.objects.filter(state=NoticeState.SENT).exists(), what="the notice to be recorded")
    wait_until(lambda: Case.objects.get(pk=case.pk).state == CaseState.NOTIFIED, what="the case to be notified")


def test_a_sender_killed_mid_send_leaves_the_notice_unknown_and_it_is_never_resent(smtp, tmp_path):
    import signal

    import time_machine
    from django.utils import timezone

    from reports.assessment import Classification, case_assess
    from routing.models import Notice, NoticeState, Provider
    from routing.notices.planning import cases_plan_notices
    from routing.notices.sweep import notices_mark_unknown
    from tests import factories

    host = Provider.objects.create(name="Hosting", abuse_emails=["abuse@hosting.example"])
    case = factories.awaiting_case("https://www.example.org/killed", hosting_country="NL", provider=host)
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
        "EMAIL_HOST": smtp.host,
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    }
    command = [sys.executable, "manage.py", "send_notices", "--now", "--no-reresolve"]
    smtp.stall_data.set()
    sender = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert smtp.data_waiting.wait(60), "the sender never reached DATA"
        assert Notice.objects.get().state == NoticeState.SENDING
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        if sender.poll() is None:
            sender.kill()
        smtp.stall_data.clear()
    # The server had the whole message: whether it delivers is not for scart to guess.
    with time_machine.travel(timezone.now() + settings.SCART_NOTICE_SENDING_TIMEOUT + timedelta(minutes=1)):
        assert notices_mark_unknown() == 1
    notice = Notice.objects.get()
    assert notice.state == NoticeState.UNKNOWN
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "sent 0 notice(s)" in again.stdout
    time.sleep(0.5)
    assert len(smtp.messages) <= 1
    assert Notice.objects.get().state == NoticeState.UNKNOWN


def test_a_sender_killed_between_reports_of_one_notice_never_resends_those_that_went(smtp, tmp_path):
    """One X-ARF report per message: killed while the second of three messages waits for its 250,
    the first stays sent, the second waits for a person, and sending the notice again sends the
    second and the third only."""
    import signal

    import time_machine
    from django.utils import timezone

    from reports.assessment import Classification, case_assess
    from routing.models import DeliveryChannel, DeliveryState, Notice, NoticeDelivery, NoticeState, Provider
    from routing.notices.planning import cases_plan_notices
    from routing.notices.responses import notice_resend
    from routing.notices.sweep import notices_mark_unknown
    from tests import factories

    host = Provider.objects.create(
        name="Tickets", abuse_emails=["abuse@tickets.example"], delivery_channel=DeliveryChannel.XARF_PER_MESSAGE
    )
    cases = [
        factories.awaiting_case(f"https://www.example.org/ticket/{n}", hosting_country="NL", provider=host)
        for n in range(3)
    ]
    for case in cases:
        case_assess(
            case=case,
            user=None,
            classification=Classification(verdict="illegal", legal_basis="baseline", category="A1", media_type="image"),
        )
    cases_plan_notices(case_ids=[c.pk for c in cases])
    env = {
        **os.environ,
        "SCART_TESTING": "1",
        "DATABASE_URL": database_url(),
        "EMAIL_HOST": smtp.host,
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    }
    command = [sys.executable, "manage.py", "send_notices", "--now", "--no-reresolve"]
    smtp.stall_after = 1
    sender = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert smtp.data_waiting.wait(60), "the sender never reached the second message"
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        if sender.poll() is None:
            sender.kill()
        smtp.stall_after = None
        smtp.stall_data.clear()
    notice = Notice.objects.get()
    states = list(NoticeDelivery.objects.filter(notice=notice).order_by("position").values_list("state", flat=True))
    assert states == [DeliveryState.SENT, DeliveryState.SENDING, DeliveryState.PENDING]
    with time_machine.travel(timezone.now() + settings.SCART_NOTICE_SENDING_TIMEOUT + timedelta(minutes=1)):
        assert notices_mark_unknown() == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.UNKNOWN
    first = smtp.messages[0].message["Message-ID"]
    # A person checked the mail log (the second never arrived) and sends the notice again.
    notice_resend(notice=notice, user=factories.staff_user("sen", "senior"))
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    messages = smtp.wait_for(3)
    time.sleep(0.5)
    assert len(smtp.messages) == 3
    ids = [m.message["Message-ID"] for m in smtp.messages]
    assert ids[0] == first and len(set(ids)) == 3
    assert sorted(ids) == sorted(NoticeDelivery.objects.filter(notice=notice).values_list("message_id", flat=True))
    assert {m.rcpt_tos[0] for m in messages} == {"abuse@tickets.example"}
    assert Notice.objects.get().state == NoticeState.SENT


@pytest.mark.parametrize("worker_pool", [["--pool", "prefork", "--concurrency", "1"]])
def test_cases_whose_worker_process_was_killed_mid_resolution_are_resolved_at_once(
    worker, fake_dns, fake_rdap, recorded_registry
):
    import signal

    from reports.services import report_create

    fake_dns.add("slow.example.com", "A", "62.239.237.1")
    fake_rdap.latency = 3  # the registry is slow: the worker is still asking when it is killed
    result = report_create(channel=Channel.API, urls=[f"https://slow.example.com/{n}" for n in range(5)])
    ids = [accepted.case_id for accepted in result.accepted]
    wait_until(lambda: len(fake_rdap.requests) > 0, what="the worker to ask the registry")
    assert Case.objects.filter(pk__in=ids).exclude(resolve_claim="").count() == len(ids)
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    assert len(children) == 1
    os.kill(int(children[0]), signal.SIGKILL)  # the pool process, mid-resolution
    killed = time.monotonic()
    fake_rdap.latency = 0
    assert Case.objects.filter(pk__in=ids, resolved_at__isnull=True).count() == len(ids)
    # The worker hands the message of the dead process back to the queue (after about 10 s); the
    # message, delivered again, takes over its own claim at once instead of finding the cases "not
    # due" until the lease runs out and the sweep sends them again.
    wait_until(
        lambda: not Case.objects.filter(pk__in=ids, resolved_at__isnull=True).exists(),
        timeout=40,
        what="the cases to be resolved after the kill",
    )
    assert time.monotonic() - killed < settings.SCART_RESOLVE_LEASE_SECONDS
    assert set(Case.objects.filter(pk__in=ids).values_list("hosting_country", flat=True)) == {"GB"}
    assert not Case.objects.filter(pk__in=ids).exclude(resolve_claim="").exists()


# A check cycle that runs in seconds: the local HTTP peer is on loopback (which the guard refuses
# unless allowed), and each gone result counts at once instead of 15 minutes after the last.
CHECK_CYCLE_ENV = {
    "SCART_CHECK_ALLOW_NETWORKS": "127.0.0.1/32",
    "SCART_REMOVAL_CHECKS": "3",
    "SCART_REMOVAL_SPACING_MINUTES": "0",
    "SCART_REAPPEARANCE_CHECK_DAYS": "1,7,30",
}


def run_until(task: Any, condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Enqueue ``task`` every second (as the beat would, every minute) until ``condition`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task.delay()
        with contextlib.suppress(AssertionError):
            wait_until(condition, timeout=min(1.0, max(deadline - time.monotonic(), 0.1)), what=what)
            return
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("worker_env", [CHECK_CYCLE_ENV])
def test_a_real_worker_checks_a_case_until_its_content_is_removed_and_reopens_it_when_it_is_back(
    worker, smtp, fake_dns
):
    from django.utils import timezone

    from devnet.http import FakeHTTP
    from reports.assessment import Classification, case_assess
    from reports.models import Event, EventKind, RemovalKind
    from routing.checks.tracking import cases_request_check
    from routing.models import AvailabilityCheck, Notice, NoticeKind, NoticeState, Provider
    from routing.notices.ladder import cases_plan_ladder
    from routing.tasks import check_due, notify_send_due
    from tests import factories

    host = "shop.example.nl"
    fake_dns.add(host, "A", "127.0.0.1")
    with FakeHTTP() as web:
        web.aliases["/item"] = "/status/200"
        # First notices to this provider wait 4 s for more cases: time for the first check.
        provider = Provider.objects.create(
            name="Dutch Hosting",
            abuse_emails=["abuse@dutch.example"],
            language="nl",
            notice_window=timedelta(seconds=4),
        )
        case = factories.awaiting_case(
            web.url("/item", host=host), hosting_country="NL", provider=provider, resolved_at=timezone.now()
        )
        case_assess(
            case=case,
            user=None,
            classification=Classification(verdict="illegal", legal_basis="baseline", category="A1", media_type="image"),
        )

        # The first check, right after the verdict: online. Then the notice goes out.
        run_until(check_due, lambda: AvailabilityCheck.objects.filter(case=case).exists(), "the first check")
        first = AvailabilityCheck.objects.get(case=case)
        assert (first.outcome, first.status_code, first.address) == ("online", 200, "127.0.0.1")
        assert [(r.method, r.host, r.path) for r in web.wait_for_requests(1)] == [("HEAD", host, "/item")]
        run_until(
            notify_send_due, lambda: Notice.objects.filter(state=NoticeState.SENT).exists(), "the notice to be sent"
        )
        [message] = smtp.wait_for(1, timeout=30)
        assert message.rcpt_tos == ["abuse@dutch.example"] and web.url("/item", host=host) in message.text
        notice = Notice.objects.get()
        assert notice.kind == NoticeKind.PROVIDER and notice.sent_at is not None and notice.sent_at > first.at
        wait_until(lambda: Case.objects.get(pk=case.pk).state == CaseState.NOTIFIED, what="the case to be notified")

        # The content goes; the provider says so, which asks for a check at once.
        web.aliases["/item"] = "/status/404"
        cases_request_check(case_ids=[case.pk])
        run_until(check_due, lambda: Case.objects.get(pk=case.pk).state == CaseState.REMOVED, "the removal")
        case.refresh_from_db()
        checks = list(AvailabilityCheck.objects.filter(case=case).order_by("at", "id"))
        assert [(c.outcome, c.status_code) for c in checks] == [("online", 200)] + [("gone", 404)] * 3
        assert case.removal_kind == RemovalKind.GONE
        assert case.removed_at == checks[1].at, "removed when the first of the gone checks saw it gone"
        assert case.last_seen_online_at == first.at, "the bracket: last seen online at the first check"
        removed = Event.objects.get(case=case, kind=EventKind.REMOVED)
        assert removed.data["removal_kind"] == "gone"
        assert removed.data["removed_at"] == iso(checks[1].at)
        states = [
            (e.data["from"], e.data["to"])
            for e in Event.objects.filter(case=case, kind=EventKind.STATE_CHANGED).order_by("at", "id")
        ]
        assert states[-2:] == [("illegal", "notified"), ("notified", "removed")]
        # No reminder is due for content that is gone, not even weeks on; the next look is in a day.
        assert case.ladder_due_at is None
        assert cases_plan_ladder(now=timezone.now() + timedelta(days=30)).planned == 0
        assert not Notice.objects.filter(kind=NoticeKind.REMINDER).exists()
        assert case.check_due_at is not None
        assert abs(case.check_due_at - case.state_changed_at - timedelta(days=1)) < timedelta(seconds=5)

        # A day on, the first look for reappearance finds it back: the case reopens, a new cycle.
        web.aliases["/item"] = "/status/200"
        Case.objects.filter(pk=case.pk).update(check_due_at=timezone.now())
        run_until(
            check_due, lambda: Event.objects.filter(case=case, kind=EventKind.REAPPEARED).exists(), "the reappearance"
        )
        case.refresh_from_db()
        assert case.removed_at is None and case.removal_kind == "" and case.urgent
        assert Event.objects.get(case=case, kind=EventKind.REAPPEARED).data["removed_at"] == iso(checks[1].at)
        assert AvailabilityCheck.objects.filter(case=case).latest("at").outcome == "online"
        # Urgent now: a new first notice goes at once, and the case is notified again.
        messages = smtp.wait_for(2, timeout=60)
        assert [m.rcpt_tos for m in messages] == [["abuse@dutch.example"]] * 2
        wait_until(
            lambda: Notice.objects.filter(kind=NoticeKind.PROVIDER, state=NoticeState.SENT).count() == 2,
            what="the second notice to be recorded",
        )
        wait_until(lambda: Case.objects.get(pk=case.pk).state == CaseState.NOTIFIED, what="the case to be notified")
        states = [
            (e.data["from"], e.data["to"])
            for e in Event.objects.filter(case=case, kind=EventKind.STATE_CHANGED).order_by("at", "id")
        ]
        assert states[-3:] == [("notified", "removed"), ("removed", "illegal"), ("illegal", "notified")]
