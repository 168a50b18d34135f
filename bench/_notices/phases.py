"""The notice bench's two timed phases, route + batch (``cases_plan_notices``) and render + send
(``notices_send_due``), in the bench process or in worker processes started before the clock,
with their clocks (wall, CPU, machine load, SQL); the untimed warm-up of ``--reresolve``; and the
check of the database afterwards."""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from bench._harness import BenchError, SqlTally, cpu_ticks
from bench._notices.world import World


@contextmanager
def profiled(profile: cProfile.Profile | None) -> Iterator[None]:
    if profile is None:
        yield
        return
    profile.enable()
    try:
        yield
    finally:
        profile.disable()


@dataclass
class Clock:
    """One phase's wall time, this process's CPU time, how busy the machine was, and the SQL
    statements run (and the time spent waiting for them)."""

    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of every process that ran the phase
    machine_busy: float | None = None
    processes: int = 1
    sql: SqlTally = field(default_factory=lambda: SqlTally(shapes=True))

    @contextmanager
    def running(self, profile: cProfile.Profile | None) -> Iterator[None]:
        from django.db import connection  # Django is set up after the bench has started

        ticks = cpu_ticks()
        cpu = time.process_time()
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(self.sql), profiled(profile):
                yield
        finally:
            self.seconds = time.perf_counter() - started
            self.cpu_seconds = time.process_time() - cpu
            busy, total = (after - before for after, before in zip(cpu_ticks(), ticks, strict=True))
            self.machine_busy = busy / total if total else None

    def add(self, other: Clock) -> None:
        """Another process's share of the same phase (its wall time is not this one's)."""
        self.cpu_seconds += other.cpu_seconds
        self.sql.add(other.sql)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 2),
            "processes": self.processes,
            "cpu_seconds": round(self.cpu_seconds, 2),
            "machine_busy": round(self.machine_busy, 3) if self.machine_busy is not None else None,
            "statements": self.sql.statements,
            "db_seconds": round(self.sql.seconds, 2),
            "sql": {
                shape: {"statements": int(n), "seconds": round(spent, 2)}
                for shape, (n, spent) in sorted(self.sql.by_shape.items(), key=lambda item: -item[1][1])
            },
        }


@dataclass
class Phases:
    plan: Clock = field(default_factory=Clock)
    send: Clock = field(default_factory=Clock)
    plan_calls: int = 0
    planned: int = 0  # case-recipient pairs that joined a notice
    held: int = 0
    send_calls: int = 0
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    dropped_cases: int = 0
    reresolved: int = 0  # cases resolved again while the notices were sent
    errors: list[str] = field(default_factory=list)

    def absorb(self, other: Phases, phase: str) -> None:
        """A worker's counts and its clock for ``phase``."""
        getattr(self, phase).add(getattr(other, phase))
        for name in (
            "plan_calls",
            "planned",
            "held",
            "send_calls",
            "claimed",
            "sent",
            "retried",
            "failed",
            "cancelled",
            "dropped_cases",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors


def warm_up(world: World, case_ids: list[int], say: Callable[[str], None]) -> dict[str, Any]:
    """``--reresolve``: resolve every case against the local peers (filling the lookup caches),
    check that each has the provider and country of its host, then date the resolutions an hour
    back so that the sender resolves every case again before it goes out."""
    from reports.models import Case
    from routing.models import Provider
    from routing.resolution.cases import cases_resolve

    say(f"warm-up (not timed): resolving {len(case_ids):,} cases on {len(world.hosts):,} hosts")
    started = time.perf_counter()
    for start in range(0, len(case_ids), 500):
        cases_resolve(case_ids=case_ids[start : start + 500])
    seconds = time.perf_counter() - started
    keys = dict(Provider.objects.values_list("pk", "key"))
    cases = dict(zip(case_ids, world.cases, strict=True))
    problems = []
    rows = Case.objects.filter(pk__in=case_ids).values_list("pk", "provider_id", "hosting_country", "resolved_at")
    for pk, provider_id, country, resolved_at in rows.iterator(chunk_size=5_000):
        expected = world.providers[cases[pk].provider]
        if resolved_at is None or keys.get(provider_id) != expected.key or country != expected.country:
            problems.append(f"case {pk}: provider {keys.get(provider_id)} in {country!r}, expected {expected.key}")
    if problems:
        raise BenchError(f"warm-up: {len(problems)} cases not resolved as expected, first: " + "; ".join(problems[:3]))
    Case.objects.filter(pk__in=case_ids).update(resolved_at=datetime.now(UTC) - timedelta(hours=1))
    return {"seconds": round(seconds, 1)}


def run_phases(
    case_ids: list[int], args: argparse.Namespace, profile: cProfile.Profile | None, say: Callable[[str], None]
) -> Phases:
    from reports.models import Case

    phases = Phases()
    chunks = [case_ids[i : i + args.chunk] for i in range(0, len(case_ids), args.chunk)]
    say(f"route + batch: cases_plan_notices on {len(chunks)} chunks of {args.chunk} in {args.processes} process(es)")
    if args.processes == 1:
        with phases.plan.running(profile):
            plan_chunks(chunks, phases)
    else:
        in_workers("plan", [chunks[k :: args.processes] for k in range(args.processes)], args, phases)

    say(
        f"render + send: notices_send_due(flush=True, limit={args.send_limit}, reresolve={args.reresolve})"
        f" until nothing is claimed, in {args.processes} process(es)"
    )
    started = datetime.now(UTC)
    if args.processes == 1:
        with phases.send.running(profile):
            send_until_done(args, phases)
    else:
        in_workers("send", [None] * args.processes, args, phases)
    phases.reresolved = Case.objects.filter(pk__in=case_ids, resolved_at__gte=started).count()
    return phases


def plan_chunks(chunks: list[list[int]], phases: Phases) -> None:
    from routing.notices.planning import cases_plan_notices

    for chunk in chunks:
        plan = cases_plan_notices(case_ids=chunk)
        phases.plan_calls += 1
        phases.planned += plan.planned
        phases.held += plan.held


def send_until_done(args: argparse.Namespace, phases: Phases) -> None:
    """``send_notices --now`` (``--no-reresolve`` unless ``--reresolve``): until a call claims
    nothing or gets nothing out. Senders running at once claim disjoint notices."""
    from routing.notices.sending import notices_send_due

    while True:
        summary = notices_send_due(flush=True, limit=args.send_limit, reresolve=args.reresolve)
        phases.send_calls += 1
        for name in ("claimed", "sent", "retried", "failed", "cancelled", "dropped_cases"):
            setattr(phases, name, getattr(phases, name) + getattr(summary, name))
        if not summary.claimed or not (summary.sent or summary.cancelled or summary.failed):
            break


def phase_worker(conn: Connection, phase: str, work: list[list[int]] | None, args: argparse.Namespace) -> None:
    """Body of a planner or sender process (the environment is the bench's). It sets Django up,
    says "ready", waits for "go" (so that start-up is not timed), runs its share and sends back
    its `Phases` (its clock in ``plan`` or ``send``)."""
    import django

    django.setup()
    import routing.notices.sending  # noqa: F401  (imports before the clock starts)

    phases = Phases()
    conn.send("ready")
    if conn.recv() != "go":
        return
    try:
        with getattr(phases, phase).running(None):
            if phase == "plan":
                plan_chunks(work or [], phases)
            else:
                send_until_done(args, phases)
    except Exception as exc:  # reported, and the bench fails
        phases.errors.append(f"{phase} worker: {exc!r}")
    conn.send(phases)


def in_workers(phase: str, shares: list[Any], args: argparse.Namespace, phases: Phases) -> None:
    """Run ``phase`` in one process per share, all started (and set up) before the clock starts;
    the phase's wall time and the machine's load are this process's view, the rest adds up."""
    context = multiprocessing.get_context("spawn")
    workers = []
    for share in shares:
        conn, child = context.Pipe()
        process = context.Process(target=phase_worker, args=(child, phase, share, args), daemon=True)
        process.start()
        child.close()
        workers.append((conn, process))
    try:
        for conn, process in workers:
            if not conn.poll(120) or conn.recv() != "ready":
                raise BenchError(f"a {phase} worker did not start (exit code {process.exitcode})")
        ticks = cpu_ticks()
        started = time.perf_counter()
        for conn, _process in workers:
            conn.send("go")
        results: list[Phases] = []
        for conn, process in workers:
            try:
                results.append(conn.recv())
            except EOFError:
                raise BenchError(f"a {phase} worker died (exit code {process.exitcode})") from None
        clock = getattr(phases, phase)
        clock.seconds = time.perf_counter() - started
        busy, total = (after - before for after, before in zip(cpu_ticks(), ticks, strict=True))
        clock.machine_busy = busy / total if total else None
        clock.processes = len(workers)
        for result in results:
            phases.absorb(result, phase)
    finally:
        for conn, process in workers:
            conn.close()
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def check_database(world: World, case_ids: list[int], phases: Phases) -> dict[str, Any]:
    """Counts from the database; raises `BenchError` where they are not what the routing calls for."""
    from django.db.models import Count

    from reports.models import Case, CaseState
    from routing.models import DeliveryState, Notice, NoticeCase, NoticeDelivery, NoticeState

    expected_pairs = sum(len(world.recipients(c)) for c in world.cases)
    expected_notified = sum(1 for c in world.cases if world.delivered(c))
    notices = dict(Notice.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    kinds = dict(Notice.objects.values_list("kind").annotate(n=Count("id")).values_list("kind", "n"))
    items = NoticeCase.objects.filter(dropped_at__isnull=True).count()
    dropped = NoticeCase.objects.filter(dropped_at__isnull=False).count()
    notified = Case.objects.filter(pk__in=case_ids, state=CaseState.NOTIFIED).count()
    biggest = (
        NoticeCase.objects.values("notice").annotate(n=Count("id")).order_by("-n").values_list("n", flat=True).first()
    )
    figures = {
        "channels": channel_figures(),
        "mail_parts": NoticeDelivery.objects.filter(
            state=DeliveryState.SENT, channel__in=("batched_mail", "xarf_per_message")
        ).count(),
        "notices": sum(notices.values()),
        "notices_by_state": notices,
        "notices_by_kind": kinds,
        "notice_cases": items,
        "largest_notice": biggest or 0,
        "cases_notified": notified,
    }
    problems = []
    if phases.planned != expected_pairs or items != expected_pairs:
        problems.append(
            f"{phases.planned} pairs planned, {items} NoticeCase rows; the routing calls for {expected_pairs}"
        )
    if dropped or phases.dropped_cases:
        problems.append(f"{dropped} cases dropped from their notice")
    if notices.get(NoticeState.SENT, 0) + notices.get(NoticeState.BY_HAND, 0) != figures["notices"]:
        problems.append(f"notices not all sent (or prepared to send by hand): {notices}")
    if notified != expected_notified:
        problems.append(
            f"{notified} of {len(world.cases)} cases notified; {expected_notified} are sent by mail or an API"
        )
    if phases.held:
        problems.append(f"{phases.held} recipients held")
    if problems:
        raise BenchError("database check failed: " + "; ".join(problems))
    return figures


def channel_figures() -> dict[str, dict[str, Any]]:
    """Per channel: notices (by state), their URLs, the parts delivered, and the time the
    transport took for them (from each part's ``sending`` to its ``sent``)."""
    from django.db.models import Count, F, Sum

    from routing.models import Notice, NoticeCase, NoticeDelivery

    out: dict[str, dict[str, Any]] = {}
    for channel, state, n in Notice.objects.values_list("channel", "state").annotate(n=Count("id")):
        entry = out.setdefault(channel, {"notices": 0, "states": {}, "urls": 0, "parts": 0, "deliver_seconds": 0.0})
        entry["notices"] += n
        entry["states"][state] = n
    for channel, n in (
        NoticeCase.objects.filter(dropped_at__isnull=True)
        .values_list("notice__channel")
        .annotate(n=Count("id"))
        .values_list("notice__channel", "n")
    ):
        out[channel]["urls"] = n
    parts = (
        NoticeDelivery.objects.filter(sent_at__isnull=False, sending_since__isnull=False)
        .values_list("channel")
        .annotate(n=Count("id"), spent=Sum(F("sent_at") - F("sending_since")))
        .values_list("channel", "n", "spent")
    )
    for channel, n, spent in parts:
        out[channel]["parts"] = n
        out[channel]["deliver_seconds"] = round(spent.total_seconds(), 2) if spent else 0.0
        out[channel]["ms_per_part"] = round(1000 * spent.total_seconds() / n, 1) if spent and n else 0.0
    return out
