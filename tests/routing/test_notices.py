"""Notices end to end through a local SMTP peer: batching per recipient, windows and the working
calendar, language, the message's contents and its X-ARF and CSV attachments, re-routing on a
changed provider, retries without duplicates, permanent failures, reminders and escalation."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from devnet.smtp import CapturedMessage, FakeSMTP
from reports.assessment import Classification, case_assess
from reports.cases.services import Actor
from reports.models import Case, CaseState, Event, EventKind
from routing.models import Notice, NoticeCase, NoticeKind, NoticeState, PartnerHotline, Provider
from routing.notices import delivery
from routing.notices.batches import new_references
from routing.notices.calendar import next_working_moment
from routing.notices.delivery import retry_delay
from routing.notices.ladder import cases_plan_ladder
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import notices_send_due
from routing.notices.sweep import notices_mark_unknown
from routing.resolution.confirmation import contact_confirm
from tests import factories

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}
AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def smtp(settings) -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.SCART_HOTLINE_COUNTRY = "NL"
        settings.SCART_HOTLINE_NAME = "Test Hotline"
        settings.SCART_POLICE_EMAIL = "reports@police.example"
        settings.SCART_NOTICE_WORKING_HOURS = ""
        yield server


def provider(name: str, *emails: str, **fields: Any) -> Provider:
    return Provider.objects.create(name=name, abuse_emails=list(emails), **fields)


def illegal(url: str, **fields: Any) -> Case:
    classification = fields.pop("classification", ILLEGAL)
    case = factories.awaiting_case(url, **fields)
    case_assess(case=case, user=None, classification=Classification(**classification))
    case.refresh_from_db()
    return case


def send_all(**kwargs: Any) -> Any:
    return notices_send_due(flush=True, reresolve=kwargs.pop("reresolve", False), **kwargs)


def urls_in(message: CapturedMessage) -> list[str]:
    return [m.group(1) for line in message.text.splitlines() if (m := re.fullmatch(r"\d+\. (\S+)", line))]


def attachments(message: CapturedMessage) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for part in message.message.iter_attachments():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        files[str(part.get_filename())] = payload
    return files


def test_cases_for_one_provider_go_in_one_message_and_other_providers_get_their_own(smtp):
    first = provider("First Hosting", "abuse@first.example")
    second = provider("Second Hosting", "abuse@second.example")
    a = illegal("https://a.example.com/1", hosting_country="NL", provider=first)
    b = illegal("https://b.example.com/2", hosting_country="NL", provider=first)
    c = illegal("https://c.example.com/3", hosting_country="NL", provider=second)
    cases_plan_notices(case_ids=[a.pk, b.pk, c.pk])
    cases_plan_notices(case_ids=[a.pk, b.pk, c.pk])  # planning twice changes nothing
    assert Notice.objects.count() == 2 and NoticeCase.objects.count() == 3
    assert send_all().sent == 2
    assert send_all().claimed == 0
    messages = {m.rcpt_tos[0]: m for m in smtp.wait_for(2)}
    assert len(smtp.messages) == 2
    assert sorted(urls_in(messages["abuse@first.example"])) == ["https://a.example.com/1", "https://b.example.com/2"]
    assert urls_in(messages["abuse@second.example"]) == ["https://c.example.com/3"]
    for case in (a, b, c):
        case.refresh_from_db()
        assert case.state == CaseState.NOTIFIED
        sent = Event.objects.get(case=case, kind=EventKind.NOTICE_SENT)
        assert sent.data["kind"] == NoticeKind.PROVIDER and sent.data["notice"].startswith("SCART-")
    notice = Notice.objects.get(provider=first)
    assert notice.state == NoticeState.SENT and notice.sent_at is not None
    assert notice.message_id == messages["abuse@first.example"].message["Message-ID"]


def test_references_are_dated_and_numbered_per_day():
    day = datetime(2026, 11, 21, 12, tzinfo=AMSTERDAM)
    assert new_references(2, now=day) == ["SCART-20261121-000001", "SCART-20261121-000002"]
    assert new_references(1, now=day) == ["SCART-20261121-000003"]
    assert new_references(1, now=day + timedelta(days=1)) == ["SCART-20261122-000001"]


def test_first_notices_wait_for_the_window_police_and_urgent_cases_go_at_once(smtp, settings):
    settings.SCART_NOTICE_WINDOW_MINUTES = 60
    patient = provider("Patient Hosting", "abuse@patient.example", notice_window=timedelta(minutes=15))
    normal = provider("Normal Hosting", "abuse@normal.example")
    start = timezone.now()
    windowed = illegal("https://w.example.com/1", hosting_country="NL", provider=normal)
    quick = illegal("https://q.example.com/1", hosting_country="NL", provider=patient)
    urgent = illegal("https://u.example.com/1", hosting_country="NL", provider=provider("U", "abuse@u.example"))
    Case.objects.filter(pk=urgent.pk).update(urgent=True)
    elsewhere = illegal("https://ru.example.com/1", hosting_country="RU", provider=provider("RU", "abuse@ru.example"))
    cases_plan_notices(case_ids=[windowed.pk, quick.pk, urgent.pk, elsewhere.pk])
    due = {n.batch_key: n.due_at - start for n in Notice.objects.all()}
    assert timedelta(minutes=59) < due[f"provider:provider:{normal.pk}"] <= timedelta(minutes=61)
    assert timedelta(minutes=14) < due[f"provider:provider:{patient.pk}"] <= timedelta(minutes=16)
    assert due[f"provider:provider:{urgent.provider_id}"] < timedelta(seconds=30)
    assert due["police:police"] < timedelta(seconds=30)
    # Only what is due goes now; the rest waits for its window.
    summary = notices_send_due(reresolve=False)
    assert summary.sent == 2
    assert sorted(m.rcpt_tos[0] for m in smtp.wait_for(2)) == ["abuse@u.example", "reports@police.example"]
    with time_machine.travel(timezone.now() + timedelta(minutes=61)):
        assert notices_send_due(reresolve=False).sent == 3
    assert len(smtp.wait_for(5)) == 5


def test_send_notices_now_flushes_every_queued_batch(smtp):
    host = provider("Host", "abuse@host.example")
    case = illegal("https://example.com/flush", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    out = io.StringIO()
    call_command("send_notices", stdout=out)
    assert "sent 0 notice(s)" in out.getvalue()
    call_command("send_notices", "--now", "--no-reresolve", stdout=out)
    assert "sent 1 notice(s)" in out.getvalue()
    assert len(smtp.wait_for(1)) == 1


def test_the_working_calendar_skips_nights_weekends_and_public_holidays(settings):
    settings.SCART_NOTICE_WORKING_HOURS = "09:00-17:00"
    settings.SCART_HOTLINE_COUNTRY = "NL"
    friday_late = datetime(2026, 11, 20, 17, 30, tzinfo=AMSTERDAM)
    assert next_working_moment(friday_late) == datetime(2026, 11, 23, 9, 0, tzinfo=AMSTERDAM)
    tuesday_early = datetime(2026, 11, 24, 7, 0, tzinfo=AMSTERDAM)
    assert next_working_moment(tuesday_early) == datetime(2026, 11, 24, 9, 0, tzinfo=AMSTERDAM)
    during = datetime(2026, 11, 24, 11, 0, tzinfo=AMSTERDAM)
    assert next_working_moment(during) == during
    # Christmas Eve after hours: Christmas and Boxing Day are holidays, then a weekend.
    assert next_working_moment(datetime(2026, 12, 24, 18, 0, tzinfo=AMSTERDAM)) == datetime(
        2026, 12, 28, 9, 0, tzinfo=AMSTERDAM
    )
    # King's Day 2026 is a Monday.
    assert next_working_moment(datetime(2026, 4, 27, 10, 0, tzinfo=AMSTERDAM)) == datetime(
        2026, 4, 28, 9, 0, tzinfo=AMSTERDAM
    )


def test_a_batch_planned_after_hours_falls_due_at_the_next_working_moment(smtp, settings):
    settings.SCART_NOTICE_WORKING_HOURS = "09:00-17:00"
    host = provider("Host", "abuse@host.example")
    with time_machine.travel(datetime(2026, 11, 20, 17, 30, tzinfo=AMSTERDAM), tick=False):
        case = illegal("https://example.com/late", hosting_country="NL", provider=host)
        cases_plan_notices(case_ids=[case.pk])
    assert Notice.objects.get().due_at == datetime(2026, 11, 23, 9, 0, tzinfo=AMSTERDAM)


def test_the_message_is_in_the_recipients_language_with_english_as_fallback(smtp):
    dutch = provider("Nederlandse Hosting", "abuse@nl.example", language="nl")
    german = provider("Deutsches Hosting", "abuse@de.example", language="de")
    illegal("https://nl.example.com/1", hosting_country="NL", provider=dutch)
    illegal("https://de.example.com/1", hosting_country="NL", provider=german)
    cases_plan_notices(case_ids=list(Case.objects.values_list("id", flat=True)))
    send_all()
    messages = {m.rcpt_tos[0]: m for m in smtp.wait_for(2)}
    nl, de = messages["abuse@nl.example"], messages["abuse@de.example"]
    assert nl.message["Content-Language"] == "nl" and "Geachte Nederlandse Hosting" in nl.text
    assert "seksueel kindermisbruikmateriaal" in nl.subject
    assert de.message["Content-Language"] == "en" and "Dear Deutsches Hosting" in de.text
    assert Notice.objects.get(provider=german).language == "en"


def test_the_message_has_every_element_of_a_dsa_notice_and_names_urls_only(smtp, settings):
    settings.SCART_HOTLINE_WEBSITE = "https://hotline.example"
    settings.SCART_NOTICE_REPLY_TO = "notices@hotline.example"
    host = provider("Host", "abuse@host.example")
    case = illegal("https://example.com/path?a=1&b=2", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    message = smtp.wait_for(1)[0]
    notice = Notice.objects.get()
    text = message.text
    assert message.subject.startswith(f"[{notice.reference}]")
    assert message.message["Reply-To"] == "notices@hotline.example"
    assert message.message["X-Scart-Reference"] == notice.reference
    # The exact URL as plain text (no HTML escaping), when it was first reported and last seen.
    assert "1. https://example.com/path?a=1&b=2" in text
    assert f"first reported: {case.first_reported_at.astimezone(ZoneInfo('UTC')):%Y-%m-%d %H:%M} UTC" in text
    assert "last seen online: " in text and "A1: prepubescent child, sexual activity" in text
    for element in (
        "(a) Why the content is illegal",
        "(b) The exact electronic location",
        "(c) Who sends",
        "(d) We confirm",
    ):
        assert element in text
    assert "Test Hotline" in text and "notices@hotline.example" in text and "https://hotline.example" in text
    assert "Remove the material" in text
    # English puts "the" before the Netherlands, as before the United Kingdom.
    assert "Test Hotline, the hotline in the Netherlands" in text and "the law of the Netherlands" in text
    link = re.search(r"^(http://\S+/n/\S+/)\r?$", text, flags=re.MULTILINE)
    assert link is not None, "the message carries the provider's confirmation link"
    assert message.message.get_body(preferencelist=("html",)) is None


def test_each_url_gets_a_valid_x_arf_report_and_a_csv_row(smtp):
    from xarf import schema_validator

    host = provider("Host", "abuse@host.example")
    video = dict(ILLEGAL, category="B2", media_type="video")
    a = illegal("https://example.com/one", hosting_country="NL", provider=host)
    b = illegal("https://example.com/two", hosting_country="NL", provider=host, classification=video)
    Case.objects.filter(pk=b.pk).update(resolution={"addresses": ["192.0.2.7"]})
    cases_plan_notices(case_ids=[a.pk, b.pk])
    send_all()
    message = smtp.wait_for(1)[0]
    notice = Notice.objects.get()
    files = attachments(message)
    reports = [json.loads(files[name]) for name in sorted(files) if name.endswith(".xarf.json")]
    assert len(reports) == 2
    for report in reports:
        assert schema_validator.validate(report) == []
        assert report["category"] == "content" and report["type"] == "csam"
        assert report["reporter"]["org"] == "Test Hotline"
        assert not {"evidence", "hash_values"} & set(report), "no content, and no hashes of content"
    by_url = {r["url"]: r for r in reports}
    assert by_url["https://example.com/one"]["classification"] == "A1"
    assert by_url["https://example.com/one"]["media_type"] == "image"
    assert by_url["https://example.com/two"]["classification"] == "B2"
    assert by_url["https://example.com/two"]["media_type"] == "video"
    assert by_url["https://example.com/two"]["source_identifier"] == "192.0.2.7"
    assert {r["detection_method"] for r in reports} == {"manual_review"}
    rows = list(csv.DictReader(io.StringIO(files[f"{notice.reference}.csv"].decode())))
    assert [r["url"] for r in rows] == [r["url"] for r in reports]
    assert {r["xarf_report_id"] for r in rows} == {r["report_id"] for r in reports}


def test_a_changed_provider_takes_the_case_out_of_the_message_and_routes_it_again(
    smtp, settings, fake_dns, recorded_registry
):
    from routing.resolution.cases import cases_resolve

    settings.SCART_HOTLINE_COUNTRY = "GB"  # BT's network is then the hotline's own country
    fake_dns.add("moves.example.com", "A", "62.239.237.1", ttl=60)
    case = factories.awaiting_case("https://moves.example.com/x")
    cases_resolve(case_ids=[case.pk], force=True)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    case.refresh_from_db()
    assert case.provider is not None and case.provider.name == "BT Corporate Registry"
    cases_plan_notices(case_ids=[case.pk])
    first = Notice.objects.get()
    assert first.provider_id == case.provider_id
    # The site moves to a network in a country without a partner hotline.
    PartnerHotline.objects.filter(country="US").update(active=False)
    fake_dns.remove("moves.example.com")
    fake_dns.add("moves.example.com", "A", "74.125.225.1", ttl=60)
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        notices_send_due(flush=True, reresolve=True)
        first.refresh_from_db()
        assert first.state == NoticeState.CANCELLED
        dropped = NoticeCase.objects.get(notice=first)
        assert dropped.dropped_at is not None and dropped.drop_reason.startswith("re-routed")
        assert Event.objects.filter(case=case, kind=EventKind.NOTICE_DROPPED).exists()
        case.refresh_from_db()
        assert case.provider is not None and case.provider.name != "BT Corporate Registry"
        cases_plan_notices(case_ids=[case.pk])
        assert send_all().sent == 2
    recipients = sorted(r for m in smtp.wait_for(2) for r in m.rcpt_tos)
    assert "reports@police.example" in recipients
    assert not any("bt.com" in r for r in recipients), "the old provider got nothing"
    assert len(smtp.messages) == 2


def test_a_host_that_stopped_resolving_before_sending_says_so_and_goes_to_the_police(
    smtp, settings, fake_dns, recorded_registry
):
    from routing.resolution.cases import cases_resolve

    settings.SCART_HOTLINE_COUNTRY = "GB"
    fake_dns.add("vanishes.example.com", "A", "62.239.237.1", ttl=60)
    case = factories.awaiting_case("https://vanishes.example.com/x")
    cases_resolve(case_ids=[case.pk], force=True)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    cases_plan_notices(case_ids=[case.pk])
    first = Notice.objects.get()
    fake_dns.remove("vanishes.example.com")  # NXDOMAIN from now on; no availability check runs
    with time_machine.travel(timezone.now() + timedelta(minutes=20)):
        notices_send_due(flush=True, reresolve=True)
    first.refresh_from_db()
    assert first.state == NoticeState.CANCELLED
    dropped = NoticeCase.objects.get(notice=first)
    assert dropped.drop_reason == "the host no longer resolves: its name has no address now"
    assert not case.checks.exists()


def test_a_temporary_failure_is_retried_later_and_sent_exactly_once(smtp):
    host = provider("Busy Hosting", "abuse@busy.example")
    case = illegal("https://busy.example.com/1", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    smtp.reject_temporarily.add("abuse@busy.example")
    summary = send_all()
    assert summary.retried == 1 and summary.sent == 0
    notice = Notice.objects.get()
    assert notice.state == NoticeState.QUEUED and notice.attempts == 1 and "451" in notice.last_error
    assert notice.due_at > timezone.now() + retry_delay(1) - timedelta(seconds=5)
    assert notices_send_due(reresolve=False).claimed == 0, "not before its retry time"
    smtp.reject_temporarily.clear()
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert notices_send_due(reresolve=False).sent == 1
        assert notices_send_due(reresolve=False).claimed == 0
    assert len(smtp.wait_for(1)) == 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT and notice.attempts == 2


def test_an_unreachable_mail_server_is_a_temporary_failure(smtp, settings):
    host = provider("Host", "abuse@host.example")
    case = illegal("https://example.com/down", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    settings.EMAIL_PORT = 1  # nothing listens there
    assert send_all().retried == 1
    assert Notice.objects.get().state == NoticeState.QUEUED


def test_a_permanent_refusal_fails_the_notice_and_flags_the_contact(smtp):
    host = provider("Gone Hosting", "abuse@gone.example")
    case = illegal("https://gone.example.com/1", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    smtp.reject_permanently.add("abuse@gone.example")
    assert send_all().failed == 1
    notice = Notice.objects.get()
    assert notice.state == NoticeState.FAILED and "550" in notice.last_error
    host.refresh_from_db()
    case.refresh_from_db()
    assert host.contact_flagged_at is not None and "550" in host.contact_flag_reason
    assert case.contact_check is True and case.state == CaseState.ILLEGAL
    assert Event.objects.filter(case=case, kind=EventKind.NOTICE_FAILED).exists()
    # Planning again holds the case for the contact check instead of sending to the dead address.
    cases_plan_notices(case_ids=[case.pk])
    assert Notice.objects.count() == 1


def test_confirming_a_flagged_contact_plans_the_held_cases_notices_at_once(smtp, django_capture_on_commit_callbacks):
    host = provider("Gone Hosting", "abuse@gone.example")
    case = illegal("https://gone.example.com/1", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    smtp.reject_permanently.add("abuse@gone.example")
    assert send_all().failed == 1
    Case.objects.filter(pk=case.pk).update(notice_plan_at=None)  # the failure's planning is done
    host.refresh_from_db()

    with django_capture_on_commit_callbacks() as planned:
        contact_confirm(provider=host, emails=["abuse@new.example"], actor=Actor.system())

    case.refresh_from_db()
    assert case.notice_plan_at is not None and not case.contact_check
    assert len(planned) == 1  # the planning task, queued after the commit


def test_a_relay_refusing_the_login_keeps_the_notices_waiting_without_blaming_their_recipients(smtp, settings, caplog):
    first = provider("First Hosting", "abuse@first.example")
    second = provider("Second Hosting", "abuse@second.example")
    cases = [
        illegal("https://first.example.com/1", hosting_country="NL", provider=first),
        illegal("https://second.example.com/1", hosting_country="NL", provider=second),
    ]
    cases_plan_notices(case_ids=[c.pk for c in cases])
    with FakeSMTP(password="current") as relay:
        settings.EMAIL_HOST, settings.EMAIL_PORT = relay.host, relay.port
        settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "scart", "outdated"
        summary = send_all()
    # Our relay's 535 is ours to fix: the notices wait (not failed for a senior to resend each),
    # the reason is on each notice and the log says so as an error.
    assert (summary.failed, summary.retried, summary.sent) == (0, 2, 0)
    assert relay.messages == []
    for notice in Notice.objects.all():
        assert notice.state == NoticeState.QUEUED and notice.attempts == 1
        assert "refused the connection: 535" in notice.last_error
    assert any(r.levelname == "ERROR" and "535" in r.getMessage() for r in caplog.records)
    for host in (first, second):
        host.refresh_from_db()
        assert host.contact_flagged_at is None, "our relay's refusal is not the provider's fault"


def test_a_failed_police_report_stays_on_the_case_and_is_not_planned_again(smtp):
    host = provider("Far Hosting", "abuse@far.example")
    first = illegal("https://far.example.com/1", hosting_country="RU", provider=host)
    smtp.reject_permanently.add("reports@police.example")
    cases_plan_notices(case_ids=[first.pk])
    assert send_all().failed == 1
    police = Notice.objects.get(kind=NoticeKind.POLICE)
    assert police.state == NoticeState.FAILED and "550" in police.last_error
    assert Event.objects.filter(case=first, kind=EventKind.NOTICE_FAILED, data__notice=police.reference).exists()
    # The case is planned again (another case for the same recipients, a confirmed contact, the
    # hourly look at held recipients): the police are not told about it a second time.
    second = illegal("https://far.example.com/2", hosting_country="RU", provider=host)
    cases_plan_notices(case_ids=[first.pk, second.pk])
    send_all()
    reports = Notice.objects.filter(kind=NoticeKind.POLICE).order_by("id")
    assert [list(n.items.values_list("case_id", flat=True)) for n in reports] == [[first.pk], [second.pk]]
    assert smtp.refused == ["reports@police.example"] * 2
    # A senior sends the failed one again by hand, once the address is fixed.
    from routing.notices.responses import notice_resend

    smtp.reject_permanently.clear()
    notice_resend(notice=police, user=factories.staff_user("senior", role="senior"))
    assert send_all().sent == 1
    assert urls_in(smtp.messages[-1]) == ["https://far.example.com/1"]


def test_a_failed_police_step_of_the_ladder_is_not_planned_again(smtp, settings):
    settings.SCART_REMINDER_MAX = 0
    settings.SCART_ESCALATION_LADDER = ["police"]
    host = provider("Slow Hosting", "abuse@slow.example", reminder_interval=timedelta(hours=12))
    case = illegal("https://slow.example.com/police", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    smtp.reject_permanently.add("reports@police.example")
    start = timezone.now()
    for hours in (13, 26, 39):
        with time_machine.travel(start + timedelta(hours=hours)):
            cases_plan_ladder()
            send_all()
    steps = list(Notice.objects.filter(kind=NoticeKind.ESCALATION).values_list("recipient_kind", "state"))
    assert steps == [("police", NoticeState.FAILED)]
    assert smtp.refused == ["reports@police.example"]
    case.refresh_from_db()
    assert case.ladder_due_at is None


def test_a_fallback_address_takes_over_after_a_permanent_refusal(smtp):
    host = provider("Host", "abuse@old.example", fallback_email="noc@host.example")
    case = illegal("https://example.com/fallback", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    smtp.reject_permanently.add("abuse@old.example")
    send_all()
    cases_plan_notices(case_ids=[case.pk])
    assert send_all().sent == 1
    assert smtp.wait_for(1)[-1].rcpt_tos == ["noc@host.example"]


def test_a_notice_left_in_sending_becomes_unknown_and_is_never_resent(smtp, settings):
    host = provider("Host", "abuse@host.example")
    case = illegal("https://example.com/crash", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    # As a sender that died between writing "sending" and hearing back would leave it.
    Notice.objects.update(state=NoticeState.SENDING, sending_since=timezone.now(), open=False)
    assert notices_mark_unknown() == 0, "not while the attempt may still be running"
    with time_machine.travel(timezone.now() + settings.SCART_NOTICE_SENDING_TIMEOUT + timedelta(minutes=1)):
        assert notices_mark_unknown() == 1
        assert send_all().claimed == 0
    notice = Notice.objects.get()
    assert notice.state == NoticeState.UNKNOWN and "may or may not" in notice.last_error
    assert smtp.messages == []


def test_reminders_every_interval_then_the_escalation_ladder_then_nothing(smtp, settings):
    settings.SCART_REMINDER_MAX = 2
    settings.SCART_ESCALATION_LADDER = ["registrar", "police"]
    host = provider("Slow Hosting", "abuse@slow.example", reminder_interval=timedelta(hours=12))
    case = illegal("https://slow.example.com/1", hosting_country="NL", provider=host)
    Case.objects.filter(pk=case.pk).update(
        resolution={"registrar": {"registrar": "Example Registrar", "abuse_emails": ["abuse@registrar.example"]}}
    )
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    start = timezone.now()
    seen: list[tuple[str, list[str]]] = []
    for hours in (1, 13, 26, 39, 52, 65):
        with time_machine.travel(start + timedelta(hours=hours)):
            cases_plan_ladder()
            send_all()
    for message in smtp.wait_for(5):
        seen.append((message.subject, message.rcpt_tos))
    kinds = list(Notice.objects.order_by("id").values_list("kind", "step", "recipient_kind"))
    assert kinds == [
        (NoticeKind.PROVIDER, 0, "provider"),
        (NoticeKind.REMINDER, 1, "provider"),
        (NoticeKind.REMINDER, 2, "provider"),
        (NoticeKind.ESCALATION, 1, "registrar"),
        (NoticeKind.ESCALATION, 2, "police"),
    ]
    assert [r for _s, r in seen] == [
        ["abuse@slow.example"],
        ["abuse@slow.example"],
        ["abuse@slow.example"],
        ["abuse@registrar.example"],
        ["reports@police.example"],
    ]
    assert "Reminder 1" in seen[1][0] and "Reminder 2" in seen[2][0] and "Escalation" in seen[3][0]
    escalation = smtp.messages[3].text
    assert "registrar" in escalation and "Slow Hosting" in escalation and "2 reminders" in escalation
    case.refresh_from_db()
    assert case.ladder_due_at is None


def test_removal_stops_the_ladder(smtp):
    host = provider("Host", "abuse@host.example")
    case = illegal("https://example.com/removed", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    Case.objects.filter(pk=case.pk).update(state=CaseState.REMOVED)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert cases_plan_ladder().planned == 0
        send_all()
    assert len(smtp.wait_for(1)) == 1
    case.refresh_from_db()
    assert case.ladder_due_at is None


def test_a_case_closed_before_its_batch_leaves_it(smtp):
    host = provider("Host", "abuse@host.example")
    keep = illegal("https://example.com/keep", hosting_country="NL", provider=host)
    gone = illegal("https://example.com/gone", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[keep.pk, gone.pk])
    Case.objects.filter(pk=gone.pk).update(state=CaseState.REMOVED)
    send_all()
    assert urls_in(smtp.wait_for(1)[0]) == ["https://example.com/keep"]
    assert NoticeCase.objects.get(case=gone).drop_reason == "the case is closed"


def test_a_partner_hotline_gets_a_referral_and_the_provider_a_direct_notice_after_the_delay(smtp):
    PartnerHotline.objects.filter(country="DE").update(
        email="referrals@eco.example", direct_notice_after=timedelta(hours=48)
    )
    host = provider("German Hosting", "abuse@de.example")
    case = illegal("https://de.example.com/1", hosting_country="DE", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    assert [m.rcpt_tos for m in smtp.wait_for(1)] == [["referrals@eco.example"]]
    assert "Referral" in smtp.messages[0].subject and "/n/" not in smtp.messages[0].text
    case.refresh_from_db()
    assert case.state == CaseState.NOTIFIED and case.notice_plan_at is not None
    with time_machine.travel(timezone.now() + timedelta(hours=49)):
        cases_plan_notices(case_ids=[case.pk])
        send_all()
    assert [m.rcpt_tos for m in smtp.wait_for(2)][1] == ["abuse@de.example"]


def test_police_first_reports_to_the_police_and_holds_the_provider_until_released(smtp):
    from routing.notices.responses import police_hold_release

    host = provider("Host", "abuse@host.example")
    case = illegal(
        "https://example.com/pf",
        hosting_country="NL",
        provider=host,
        classification=dict(ILLEGAL, police_first=True, police_reason="immediate_danger"),
    )
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    assert [m.rcpt_tos for m in smtp.wait_for(1)] == [["reports@police.example"]]
    senior = factories.staff_user("senior", role="senior")
    police_hold_release(case=case, user=senior)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    assert [m.rcpt_tos for m in smtp.wait_for(2)][1] == ["abuse@host.example"]


def test_a_verdict_of_illegal_plans_the_notices_after_the_commit(smtp, django_capture_on_commit_callbacks):
    from scart.celery import app

    host = provider("Host", "abuse@host.example")
    case = factories.awaiting_case("https://example.com/eager", hosting_country="NL", provider=host)
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    finally:
        app.conf.task_always_eager = False
    assert NoticeCase.objects.filter(case=case).exists()
    case.refresh_from_db()
    assert case.last_seen_online_at is not None and case.notice_plan_at is None


def test_behind_a_cdn_the_cdn_is_asked_for_the_origin_and_the_origin_host_is_told(smtp):
    cdn = provider("Big CDN", "abuse@cdn.example", is_cdn=True)
    origin = provider("Origin Hosting", "abuse@origin.example")
    case = illegal("https://cdn.example.com/1", hosting_country="NL", provider=cdn, cdn=cdn, origin_provider=origin)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    messages = {m.rcpt_tos[0]: m for m in smtp.wait_for(2)}
    assert set(messages) == {"abuse@cdn.example", "abuse@origin.example"}
    assert "origin server" in messages["abuse@cdn.example"].subject
    assert "tell us the origin server" in messages["abuse@cdn.example"].text
    assert "origin server" not in messages["abuse@origin.example"].subject


def test_a_do_not_notify_rule_sends_nothing(smtp):
    from routing.models import DomainRule

    DomainRule.objects.create(suffix="manual.example.com", do_not_notify=True)
    case = illegal("https://manual.example.com/1", hosting_country="NL", provider=provider("H", "abuse@h.example"))
    assert cases_plan_notices(case_ids=[case.pk]).planned == 0
    assert Notice.objects.count() == 0


def test_a_blocking_second_opinion_holds_the_notice_until_a_senior_agrees(smtp, django_capture_on_commit_callbacks):
    from accounts.models import StaffProfile
    from reports.models import Review
    from reports.reviews import review_decide

    host = provider("Host", "abuse@host.example")
    trainee = factories.staff_user("trainee")
    StaffProfile.objects.create(user=trainee, in_training=True)
    case = factories.awaiting_case("https://example.com/review", hosting_country="NL", provider=host)
    case_assess(case=case, user=trainee, classification=Classification(**ILLEGAL))
    summary = cases_plan_notices(case_ids=[case.pk])
    assert summary.held == 1 and Notice.objects.count() == 0
    case.refresh_from_db()
    assert case.notice_plan_at is not None, "looked at again later"
    senior = factories.staff_user("senior", role="senior")
    with django_capture_on_commit_callbacks(execute=False):
        review_decide(review=Review.objects.get(case=case), user=senior)
    case.refresh_from_db()
    assert case.notice_plan_at is not None and case.notice_plan_at <= timezone.now()
    cases_plan_notices(case_ids=[case.pk])
    assert send_all().sent == 1


def test_a_police_step_without_an_address_is_skipped_and_the_ladder_ends(smtp, settings):
    settings.SCART_REMINDER_MAX = 0
    settings.SCART_ESCALATION_LADDER = ["police"]
    settings.SCART_POLICE_EMAIL = ""
    host = provider("Host", "abuse@host.example")
    case = illegal("https://example.com/nopolice", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert cases_plan_ladder().planned == 0
    case.refresh_from_db()
    assert case.ladder_due_at is None and Notice.objects.count() == 1


def test_a_sender_whose_lease_ran_out_cannot_touch_a_notice_another_sender_sent(smtp):
    from routing.notices.claims import CLAIM_LEASE, notices_claim
    from routing.notices.links import notice_for_token
    from routing.notices.sending import _drop

    host = provider("Host", "abuse@host.example")
    case = illegal("https://example.com/lease", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    stale_token, (notice,) = notices_claim([Notice.objects.get().pk], now=timezone.now(), flush=True)
    with time_machine.travel(timezone.now() + CLAIM_LEASE + timedelta(minutes=1)):
        assert send_all().sent == 1  # a second sender takes the expired claim and sends
    message = smtp.wait_for(1)[0]
    link = re.search(r"/n/(\S+)/", message.text)
    assert link is not None
    row = NoticeCase.objects.get(case=case)
    assert _drop(row, notice, "re-routed", token=stale_token, now=timezone.now()) is False
    row.refresh_from_db()
    assert row.dropped_at is None
    assert notice_for_token(link.group(1)).pk == notice.pk, "the delivered link still works"


def test_a_case_back_in_an_open_notice_it_was_taken_out_of_is_sent(smtp):
    from routing.checks.tracking import case_close_removed

    host = provider("Host", "abuse@host.example")
    case = illegal("https://example.com/back", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    case_close_removed(case=case, removed_at=timezone.now(), now=timezone.now(), kind="gone")
    assert NoticeCase.objects.get(case=case).dropped_at is not None
    Case.objects.filter(pk=case.pk).update(state=CaseState.ILLEGAL, cycle_started_at=timezone.now())
    cases_plan_notices(case_ids=[case.pk])
    assert NoticeCase.objects.get(case=case).dropped_at is None
    assert send_all().sent == 1
    assert urls_in(smtp.wait_for(1)[0]) == ["https://example.com/back"]


def test_a_failed_notice_sent_again_leaves_out_cases_its_replacement_has(smtp):
    host = provider("Host", "abuse@old.example", fallback_email="noc@host.example")
    case = illegal("https://example.com/twice", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    smtp.reject_permanently.add("abuse@old.example")
    send_all()
    cases_plan_notices(case_ids=[case.pk])
    send_all()  # the replacement, to the fallback
    failed = Notice.objects.get(state=NoticeState.FAILED)
    Notice.objects.filter(pk=failed.pk).update(state=NoticeState.QUEUED, due_at=timezone.now(), claimed_until=None)
    summary = send_all()
    assert summary.sent == 0 and summary.cancelled == 1
    assert len(smtp.messages) == 1


def test_the_x_arf_check_refuses_a_report_the_schema_refuses():
    from routing.notices.render import NoticeInvalid, xarf_validate

    report = {
        "xarf_version": "4.2.0",
        "report_id": "6f1c5f0e-52a9-4c55-9d6e-2b3c8f3f7a10",
        "timestamp": "2026-11-21T10:00:00Z",
        "reporter": {"org": "Hotline", "contact": "notices@hotline.example", "domain": "hotline.example"},
        "sender": {"org": "Hotline", "contact": "notices@hotline.example", "domain": "hotline.example"},
        "source_identifier": "192.0.2.1",
        "category": "content",
        "type": "csam",
        "url": "https://example.com/x",
        "classification": "A1",
        "detection_method": "manual_review",
    }
    xarf_validate(report)
    for field, value in [
        ("classification", "C9"),
        ("detection_method", "guess"),
        ("report_id", "not-a-uuid"),
        ("timestamp", "yesterday"),
        ("url", "not a url"),
        ("type", "phishing"),
    ]:
        with pytest.raises(NoticeInvalid, match=field):
            xarf_validate({**report, field: value})
    with pytest.raises(NoticeInvalid, match="url"):
        xarf_validate({k: v for k, v in report.items() if k != "url"})
    with pytest.raises(NoticeInvalid, match="reporter"):
        xarf_validate({**report, "reporter": {"org": "Hotline", "contact": "not an address", "domain": "x.example"}})


def test_no_line_of_the_message_breaks_the_mail_line_limit_even_for_a_very_long_url(smtp):
    host = provider("Host", "abuse@host.example")
    long_url = "https://example.com/" + "a" * 1500
    case = illegal(long_url, hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    send_all()
    message = smtp.wait_for(1)[0]
    assert max(len(line) for line in message.raw.split(b"\r\n")) <= 998
    (report,) = [json.loads(v) for k, v in attachments(message).items() if k.endswith(".xarf.json")]
    assert report["url"] == Case.objects.get(pk=case.pk).canonical_url


def test_a_case_another_worker_notified_meanwhile_still_starts_the_ladder(smtp, monkeypatch):
    """Illegal when the sender loaded it, notified by another worker's notice before this one was
    recorded: the case is not moved twice, and the first notice to its host starts its ladder."""
    host = provider("Busy Hosting", "abuse@busy.example")
    case = illegal("https://busy.example.com/1", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    deliver = delivery.message_deliver

    def meanwhile(connection: Any, message: Any) -> None:
        Case.objects.filter(pk=case.pk).update(state=CaseState.NOTIFIED, ladder_due_at=None)
        deliver(connection, message)

    monkeypatch.setattr(delivery, "message_deliver", meanwhile)
    assert send_all().sent == 1
    case.refresh_from_db()
    assert case.state == CaseState.NOTIFIED
    assert case.ladder_due_at is not None
    assert not Event.objects.filter(case=case, kind=EventKind.STATE_CHANGED, data__notice__isnull=False).exists()
