"""Legal and agreed deadlines: which rule wins, deadlines set through the real flow (a verdict, a
notice sent to the local SMTP peer), met on removal, breached once when the time passes (with an
event and one alert to the seniors, retried when the mail failed), and the evidence packs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from pypdf import PdfReader

from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from reports.models import Case, Event, EventKind
from routing.checks.tracking import case_mark_removed
from routing.deadlines.escalation import deadlines_alert, deadlines_mark_breached, deadlines_sweep
from routing.deadlines.evidence import CASE_SCHEMA, PROVIDER_SCHEMA, case_evidence, provider_evidence
from routing.deadlines.pdf import evidence_pdf
from routing.deadlines.rules import DeadlineContext, rule_pick
from routing.models import Deadline, DeadlineRule, DeadlineStart, Notice, NoticeKind, NoticeState, Provider
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import notices_send_due
from tests import factories
from workspace.deadlines import TimerState, case_deadline_page, duration_text

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


@pytest.fixture
def smtp(settings) -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.SCART_HOTLINE_COUNTRY = "NL"
        settings.SCART_HOTLINE_NAME = "Test Hotline"
        settings.SCART_NOTICE_WORKING_HOURS = ""
        settings.SCART_NOTICE_WINDOW_MINUTES = 0
        settings.SCART_DEADLINE_ALERT_EMAILS = ["seniors@hotline.example"]
        yield server


def rule(
    name: str, hours: int = 0, minutes: int = 0, starts_at: str = DeadlineStart.NOTICE, **scope: Any
) -> DeadlineRule:
    return DeadlineRule.objects.create(name=name, hours=hours, minutes=minutes, starts_at=starts_at, **scope)


def hosting(name: str = "Dutch Hosting") -> Provider:
    return Provider.objects.create(name=name, abuse_emails=[f"abuse@{name.split()[0].lower()}.example"], country="NL")


def illegal(url: str, provider: Provider) -> Case:
    case = factories.awaiting_case(url, hosting_country="NL", provider=provider)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    case.refresh_from_db()
    return case


def notify(case: Case, smtp: FakeSMTP) -> Notice:
    cases_plan_notices(case_ids=[case.pk])
    assert notices_send_due(flush=True, reresolve=False).sent >= 1
    smtp.wait_for(1)
    notice = Notice.objects.get(items__case=case, kind=NoticeKind.PROVIDER, state=NoticeState.SENT)
    return notice


def test_the_most_specific_rule_wins_provider_then_notice_kind_then_country_then_default():
    provider = hosting()
    default = rule("Default", hours=72)
    country = rule("NL agreed", hours=24, country="NL")
    kind = rule("ACM removal order", hours=12, notice_kind=NoticeKind.PROVIDER)
    urgent_kind = rule("ACM urgent order", hours=1, notice_kind=NoticeKind.PROVIDER)
    own = rule("Agreed with Dutch Hosting", hours=48, provider=provider)
    rule("Switched off", minutes=5, provider=provider, active=False)
    rules = list(DeadlineRule.objects.all())
    everything = DeadlineContext(country="NL", provider_ids=frozenset({provider.pk}), notice_kind=NoticeKind.PROVIDER)
    assert rule_pick(rules, everything) == own  # the provider's rule, though longer than the others
    assert (
        rule_pick(rules, DeadlineContext("NL", frozenset(), NoticeKind.PROVIDER)) == urgent_kind
    )  # shortest of a kind
    own.delete()
    urgent_kind.delete()
    rules = list(DeadlineRule.objects.all())
    assert rule_pick(rules, everything) == kind
    # At the verdict no notice kind is known: the country's rule applies.
    assert rule_pick(rules, DeadlineContext("NL", frozenset({provider.pk}))) == country
    assert rule_pick(rules, DeadlineContext("DE", frozenset())) == default
    assert rule_pick(rules, DeadlineContext("DE", frozenset(), NoticeKind.POLICE)) == default
    default.delete()
    assert rule_pick(list(DeadlineRule.objects.all()), DeadlineContext("DE", frozenset())) is None


def test_a_notice_rule_sets_the_deadline_when_the_first_notice_goes_out(smtp):
    provider = hosting()
    rule("Agreed removal", hours=24, provider=provider)
    case = illegal("https://a.example.com/1", provider)
    assert not Deadline.objects.exists()  # measured from the notice, which has not gone yet
    notice = notify(case, smtp)
    deadline = Deadline.objects.get(case=case)
    assert notice.sent_at is not None
    assert deadline.due_at == notice.sent_at + timedelta(hours=24)
    assert deadline.notice_reference == notice.reference and deadline.name == "Agreed removal"
    event = Event.objects.get(case=case, kind=EventKind.DEADLINE_SET)
    assert event.data["notice"] == notice.reference and event.data["name"] == "Agreed removal"
    # A reminder later is not a first notice: the deadline stays.
    cases_plan_notices(case_ids=[case.pk])
    assert Deadline.objects.get(case=case).due_at == deadline.due_at


def test_a_verdict_rule_starts_at_the_verdict_and_a_more_specific_notice_rule_replaces_it(smtp):
    provider = hosting()
    rule("NL agreed", hours=12, starts_at=DeadlineStart.VERDICT, country="NL")
    rule("ACM removal order (1 h)", hours=1, notice_kind=NoticeKind.PROVIDER)
    case = illegal("https://b.example.com/1", provider)
    set_at_verdict = Deadline.objects.get(case=case)
    assert case.assessed_at is not None
    assert set_at_verdict.name == "NL agreed" and set_at_verdict.due_at == case.assessed_at + timedelta(hours=12)
    notice = notify(case, smtp)
    replaced = Deadline.objects.get(case=case)
    assert notice.sent_at is not None
    assert replaced.name == "ACM removal order (1 h)" and replaced.due_at == notice.sent_at + timedelta(hours=1)
    assert Event.objects.filter(case=case, kind=EventKind.DEADLINE_SET).count() == 2


def test_a_passed_deadline_is_breached_once_with_one_event_and_one_alert(smtp):
    provider = hosting()
    rule("ACM removal order (1 h)", hours=1, notice_kind=NoticeKind.PROVIDER)
    case = illegal("https://c.example.com/1", provider)
    notice = notify(case, smtp)
    before = len(smtp.messages)
    assert deadlines_sweep().breached == 0
    page = case_deadline_page(case, see_evidence=False)
    assert page.timer is not None and page.timer.state == TimerState.SOON and page.timer.text.endswith("left")
    with time_machine.travel(timezone.now() + timedelta(minutes=125)):
        first = deadlines_sweep()
        again = deadlines_sweep()
        assert deadlines_mark_breached(now=timezone.now()) == 0  # a second worker finds nothing to claim
        page = case_deadline_page(Case.objects.get(pk=case.pk), see_evidence=True)
    assert (first.breached, first.alerted) == (1, 1)
    assert (again.breached, again.alerted) == (0, 0)
    deadline = Deadline.objects.get(case=case)
    assert deadline.breached_at is not None and deadline.alerted_at is not None and deadline.met_at is None
    breached = Event.objects.get(case=case, kind=EventKind.DEADLINE_BREACHED)
    assert breached.data["notice"] == notice.reference
    [alert] = smtp.wait_for(before + 1)[before:]
    assert alert.rcpt_tos == ["seniors@hotline.example"]
    assert f"case {case.pk}" in alert.text and notice.reference in alert.text
    assert case.canonical_url not in alert.text  # the URL stays on the case page
    assert page.timer is not None and page.timer.state == TimerState.OVERDUE
    assert page.timer.text.startswith("overdue by 1 h") and page.timer.breached
    assert page.evidence_pdf.endswith("evidence.pdf")


def test_an_alert_that_could_not_be_sent_is_tried_again(smtp, settings):
    provider = hosting()
    rule("Agreed", minutes=30, provider=provider)
    case = illegal("https://d.example.com/1", provider)
    notify(case, smtp)
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        settings.EMAIL_PORT = 9  # nothing listens: the connection is refused (a temporary failure)
        summary = deadlines_sweep()
        assert (summary.breached, summary.alerted) == (1, 0)
        settings.EMAIL_PORT = smtp.port
        assert deadlines_alert(now=timezone.now()) == 1
        assert deadlines_alert(now=timezone.now()) == 0
    assert Event.objects.filter(case=case, kind=EventKind.DEADLINE_BREACHED).count() == 1


def test_removal_in_time_meets_the_deadline(smtp):
    provider = hosting()
    rule("Agreed", hours=24, provider=provider)
    case = illegal("https://e.example.com/1", provider)
    notify(case, smtp)
    case_mark_removed(case=Case.objects.get(pk=case.pk), user=factories.staff_user("ana"))
    page = case_deadline_page(Case.objects.get(pk=case.pk), see_evidence=False)
    assert page.timer is not None and page.timer.state == TimerState.MET  # before the sweep saw it
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        summary = deadlines_sweep()
    assert (summary.met, summary.closed, summary.breached) == (1, 1, 0)
    deadline = Deadline.objects.get(case=case)
    assert deadline.met_at is not None and deadline.breached_at is None
    assert not Event.objects.filter(case=case, kind=EventKind.DEADLINE_BREACHED).exists()


def test_the_evidence_pack_holds_the_timeline_notices_and_checks_as_metadata(smtp):
    provider = hosting()
    rule("ACM removal order (1 h)", hours=1, notice_kind=NoticeKind.PROVIDER)
    case = illegal("https://f.example.com/evidence", provider)
    notice = notify(case, smtp)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        deadlines_sweep()
    pack = case_evidence(Case.objects.get(pk=case.pk))
    assert pack["schema"] == CASE_SCHEMA and pack["hotline"]["country"] == "NL"
    body = pack["case"]
    assert body["url"] == "https://f.example.com/evidence" and body["provider"]["name"] == "Dutch Hosting"
    [sent] = body["notices"]
    assert sent["reference"] == notice.reference and sent["message_id"] == notice.message_id
    assert sent["message_id"].startswith("<") and sent["sent_at"] and sent["emails"] == ["abuse@dutch.example"]
    kinds = [e["kind"] for e in body["timeline"]]
    assert kinds.index("assessed") < kinds.index("notice_sent") < kinds.index("deadline_breached")
    assert body["deadlines"][0]["breached_at"] and body["deadlines"][0]["notice"] == notice.reference
    assert isinstance(body["checks"], list)
    assert all(set(e) == {"at", "kind", "label", "actor", "details"} for e in body["timeline"])
    pdf = evidence_pdf(pack)
    assert pdf.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert notice.reference in text and "Evidence pack: case" in text

    provider_pack = provider_evidence(provider)
    assert provider_pack["schema"] == PROVIDER_SCHEMA and provider_pack["case_count"] == 1
    assert provider_pack["cases"][0]["notices"][0]["reference"] == notice.reference
    provider_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(evidence_pdf(provider_pack))).pages)
    assert "Dutch Hosting" in provider_text and notice.reference in provider_text


def test_durations_read_in_the_two_largest_units():
    assert duration_text(timedelta(hours=4, minutes=12, seconds=30)) == "4 h 12 min"
    assert duration_text(timedelta(hours=2)) == "2 h"
    assert duration_text(timedelta(days=3, hours=1)) == "3 d 1 h"
    assert duration_text(timedelta(minutes=7)) == "7 min"
    assert duration_text(timedelta(seconds=20)) == "under a minute"
