"""Cases claimed for resolution, and what happens when the worker holding them dies: a
redelivered message takes over its own claim at once, the sweep hands a dead task's claim on
within about a minute, and a live worker's claim (renewed while it works) is never taken."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from reports.models import Case, Channel
from reports.services import report_create, sweep_abandoned, sweep_overdue
from routing.resolution.cases import cases_resolve

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, no ``except Exception``."""


@pytest.fixture
def enqueued(monkeypatch) -> list[list[int]]:
    sent: list[list[int]] = []
    monkeypatch.setattr("routing.tasks.resolve_cases.delay", lambda ids: sent.append(ids))
    return sent


@pytest.fixture
def cases(fake_dns, recorded_registry) -> list[int]:
    fake_dns.add("claimed.example.com", "A", "62.239.237.1")
    result = report_create(channel=Channel.API, urls=[f"https://claimed.example.com/{n}" for n in range(3)])
    return sorted(accepted.case_id for accepted in result.accepted)


def killed_while_resolving(monkeypatch: pytest.MonkeyPatch, case_ids: list[int], task_id: str) -> None:
    """A task that claimed the cases and died before it wrote anything."""

    def die(*args: Any, **kwargs: Any) -> None:
        raise WorkerKilled

    with monkeypatch.context() as patched:
        patched.setattr("routing.resolution.cases.hosts_resolve", die)
        with pytest.raises(WorkerKilled):
            cases_resolve(case_ids=case_ids, claim=task_id)
    assert set(Case.objects.filter(pk__in=case_ids).values_list("resolve_claim", flat=True)) == {task_id}


def test_a_redelivered_task_takes_over_the_claim_its_killed_first_delivery_left(cases, monkeypatch):
    killed_while_resolving(monkeypatch, cases, "task-1")

    assert cases_resolve(case_ids=cases, claim="task-2") == {}, "another task waits for the lease"
    attempts = cases_resolve(case_ids=cases, claim="task-1")  # the same message, delivered again

    assert sorted(attempts) == cases
    for case in Case.objects.filter(pk__in=cases):
        assert case.resolved_at is not None and case.hosting_country == "GB"
        assert case.resolve_due_at is None and case.resolve_claim == "", "done: nobody holds it"
    assert cases_resolve(case_ids=cases, claim="task-1") == {}, "a third delivery finds the work done"


def test_the_sweep_hands_a_dead_tasks_claim_on_within_a_minute(cases, monkeypatch, enqueued, settings):
    assert settings.SCART_RESOLVE_LEASE_SECONDS <= 60
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        killed_while_resolving(monkeypatch, cases, "task-1")
    with time_machine.travel(start + timedelta(seconds=settings.SCART_RESOLVE_LEASE_SECONDS - 5), tick=False):
        assert sweep_abandoned() == 0, "the lease has not run out: its worker may be alive"
        assert cases_resolve(case_ids=cases, claim="task-2") == {}
    with time_machine.travel(start + timedelta(seconds=settings.SCART_RESOLVE_LEASE_SECONDS + 1), tick=False):
        assert sweep_overdue() == 0, "the sweep of overdue work would wait for its grace period"
        assert sweep_abandoned() == len(cases)
        assert enqueued == [cases]
        attempts = cases_resolve(case_ids=enqueued[0], claim="task-2")
    assert sorted(attempts) == cases
    assert not Case.objects.filter(pk__in=cases, resolved_at__isnull=True).exists()
    assert sweep_abandoned() == 0


@pytest.mark.django_db(transaction=True)
def test_a_live_workers_claim_is_renewed_and_never_taken(cases, fake_dns, enqueued, settings):
    settings.SCART_RESOLVE_LEASE_SECONDS = 0.45  # renewed every 0.15 s (plus up to 1 s that makes it unique)
    settings.SCART_DNS_TIMEOUT, settings.SCART_DNS_LIFETIME = 3.0, 5.0
    resolved: dict[int, Any] = {}

    def worker() -> None:
        try:
            resolved.update(cases_resolve(case_ids=cases, claim="live"))
        finally:
            connection.close()

    # A few rounds of DNS questions (the host, then Team Cymru), each answered a second late: the
    # resolution outlasts several leases.
    fake_dns.latency = 1.0
    try:
        running = threading.Thread(target=worker)
        running.start()
        time.sleep(2)
        assert running.is_alive(), "the resolution must still be going on"
        assert Case.objects.get(pk=cases[0]).resolve_claim == "live"
        assert sweep_abandoned() == 0 and enqueued == []
        assert cases_resolve(case_ids=cases, claim="another") == {}
        running.join(timeout=30)
    finally:
        fake_dns.latency = 0.0
    assert sorted(resolved) == cases
    assert set(Case.objects.filter(pk__in=cases).values_list("hosting_country", flat=True)) == {"GB"}
    assert not Case.objects.filter(pk__in=cases).exclude(resolve_claim="").exists()


def test_a_task_that_failed_gives_its_claim_up_to_the_slower_overdue_sweep(cases, monkeypatch, enqueued, settings):
    from django.db import DatabaseError

    from routing.tasks import resolve_cases

    def broken(groups: Any) -> None:
        raise DatabaseError("the database went away while writing")

    monkeypatch.setattr("routing.resolution.cases._cases_apply_resolved", broken)
    start = timezone.now()
    resolve_cases.apply(args=(cases,), task_id="failing")
    assert not Case.objects.filter(pk__in=cases).exclude(resolve_claim="").exists()
    # Not every minute (a batch that keeps failing), but after the overdue sweep's grace period.
    with time_machine.travel(start + timedelta(seconds=settings.SCART_RESOLVE_LEASE_SECONDS + 5), tick=False):
        assert sweep_abandoned() == 0
    with time_machine.travel(start + settings.SCART_SWEEP_GRACE + timedelta(minutes=2), tick=False):
        assert sweep_overdue() == len(cases)
