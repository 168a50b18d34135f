"""Deadlines for cases older than their rule: a senior's new or changed rule queues a backfill
that gives the tracked cases the deadline the rule would have set at their verdict and first
notice, in bounded batches (each task queues the next); `manage.py deadlines_backfill` does the
same from the command line. Time passes with time-machine."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from reports.models import Case, Event, EventKind
from routing.checks.tracking import case_mark_removed
from routing.deadlines import backfill
from routing.deadlines.escalation import deadlines_sweep
from routing.models import Deadline, DeadlineRule, NoticeKind, Provider
from routing.tasks import deadlines_backfill_task
from tests import factories
from tests.conftest import staff_client
from tests.routing.test_deadlines import hosting, illegal, notify, rule, smtp  # noqa: F401  # smtp: a fixture

pytestmark = pytest.mark.django_db


def silent_provider() -> Provider:
    """A provider whose abuse address is unknown: its case stays illegal, with no notice."""
    return Provider.objects.create(name="Silent Hosting", abuse_emails=[], country="NL")


def test_a_new_rule_reaches_cases_notified_before_it_in_batches(smtp, monkeypatch):  # noqa: F811
    monkeypatch.setattr(backfill, "BATCH_SIZE", 1)  # one case per task: the tasks chain
    ran: list[int] = []

    def run_here(after: int = 0) -> None:
        ran.append(after)
        deadlines_backfill_task.run(after)

    monkeypatch.setattr(deadlines_backfill_task, "delay", run_here)
    provider = hosting()
    start = timezone.now() - timedelta(days=3)
    with time_machine.travel(start, tick=False):
        notified = illegal("https://old.example.com/notified", provider)
        notice = notify(notified, smtp)
        waiting = illegal("https://old.example.com/waiting", silent_provider())
        gone = illegal("https://old.example.com/gone", provider)
        notify(gone, smtp)
        case_mark_removed(case=Case.objects.get(pk=gone.pk), user=factories.staff_user("ana"))
    assert not Deadline.objects.exists()  # no rule existed then

    senior = staff_client("sen", "senior")
    form = {"name": "ACM removal order (12 h)", "notice_kind": NoticeKind.PROVIDER, "hours": 12, "minutes": 0}
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert senior.post(reverse("deadline-rules-new"), {**form, "starts_at": "notice", "active": "on"}).status_code
        assert senior.post(
            reverse("deadline-rules-new"),
            {
                "name": "NL agreed (96 h)",
                "country": "NL",
                "hours": 96,
                "minutes": 0,
                "starts_at": "verdict",
                "active": "on",
            },
        ).status_code
    assert DeadlineRule.objects.count() == 2 and len(ran) > 2  # batches of one case, each queuing the next

    # Measured from the notice that went out three days ago: long passed, so the sweep breaches it.
    deadline = Deadline.objects.get(case=notified)
    assert notice.sent_at is not None
    assert deadline.name == "ACM removal order (12 h)" and deadline.due_at == notice.sent_at + timedelta(hours=12)
    assert deadline.notice_reference == notice.reference
    # No notice yet: the verdict rule, from the verdict three days ago (a day left).
    waiting.refresh_from_db()
    assert waiting.assessed_at is not None
    assert Deadline.objects.get(case=waiting).due_at == waiting.assessed_at + timedelta(hours=96)
    # A case no longer tracked gets no deadline.
    assert not Deadline.objects.filter(case=gone).exists()
    event = Event.objects.filter(case=notified, kind=EventKind.DEADLINE_SET).latest("at")
    assert event.data["backfill"] is True and event.at > start + timedelta(days=2)
    assert deadlines_sweep().breached == 1

    # Twice is once: the command finds nothing left to set.
    events = Event.objects.filter(kind=EventKind.DEADLINE_SET).count()
    out = io.StringIO()
    call_command("deadlines_backfill", "--batch-size", "1", stdout=out)
    assert out.getvalue().strip() == "looked at 2 tracked case(s); set 0 deadline(s)"
    assert Event.objects.filter(kind=EventKind.DEADLINE_SET).count() == events


def test_the_command_backfills_after_time_has_passed_and_a_rule_changed(smtp):  # noqa: F811
    provider = hosting()
    start = timezone.now() - timedelta(days=10)
    with time_machine.travel(start, tick=False):
        case = illegal("https://older.example.com/1", provider)
        notice = notify(case, smtp)
    # A rule that applied to nothing, changed (out of band) to reach the case's provider.
    other = rule("Agreed elsewhere", hours=24, provider=hosting("Other Hosting"))
    DeadlineRule.objects.filter(pk=other.pk).update(provider=provider)
    with time_machine.travel(start + timedelta(days=9), tick=False):
        out = io.StringIO()
        call_command("deadlines_backfill", stdout=out)
    assert "set 1 deadline(s)" in out.getvalue()
    deadline = Deadline.objects.get(case=case)
    assert notice.sent_at is not None and deadline.due_at == notice.sent_at + timedelta(hours=24)
    assert Event.objects.get(case=case, kind=EventKind.DEADLINE_SET).at == start + timedelta(days=9)
