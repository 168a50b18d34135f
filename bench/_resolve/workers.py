"""(a) of the resolution bench: the URLs filed as API reports, then resolved by ``cases_resolve`` in
worker processes of threads sharing one queue of chunks, as Celery's prefork workers share the
broker's; and the check of every case afterwards."""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from bench._harness import BenchError, SqlTally
from bench._resolve.world import World
from devnet.registries import registrar_abuse, registrar_name

REPORT_SIZE = 1_000  # URLs per report filed, as a partner's batch
MAX_TRIES = 3  # calls of cases_resolve per chunk before a database error stops the run


class PoolDiscards(logging.Filter):
    """Counts (and keeps off the console) urllib3's "Connection pool is full" warnings: here every
    registry is one host, the local peer, so the RDAP client's per-host pool is too small."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Connection pool is full"):
            self.count += 1
            return False
        return True


def file_reports(urls: list[str]) -> tuple[list[list[int]], int]:
    """File ``urls`` as API reports of `REPORT_SIZE`; returns the chunks of new case ids exactly as
    ``cases_enqueue_resolution`` sends them to the resolution queue, and the number of cases."""
    from reports.models import Channel
    from reports.services import report_create
    from routing.tasks import ENQUEUE_CHUNK

    chunks: list[list[int]] = []
    cases = 0
    for start in range(0, len(urls), REPORT_SIZE):
        result = report_create(channel=Channel.API, urls=urls[start : start + REPORT_SIZE], external_ref="bench")
        if result.rejected:
            raise BenchError(f"{len(result.rejected)} URLs rejected, first: {result.rejected[0]}")
        new_ids = [a.case_id for a in result.accepted if not a.duplicate]
        cases += len(new_ids)
        chunks.extend(new_ids[i : i + ENQUEUE_CHUNK] for i in range(0, len(new_ids), ENQUEUE_CHUNK))
    return chunks, cases


@dataclass
class WorkerStats:
    chunks: int = 0
    claimed: int = 0
    chunk_seconds: list[float] = field(default_factory=list)
    busy_seconds: float = 0.0  # in cases_resolve, failed calls included
    sql: SqlTally = field(default_factory=SqlTally)
    failures: list[str] = field(default_factory=list)  # database errors of cases_resolve, retried
    errors: list[str] = field(default_factory=list)


def resolve_all(
    chunks: list[list[int]], *, processes: int, threads: int
) -> tuple[float, float, list[WorkerStats], int]:
    """Run ``cases_resolve`` on every chunk from ``processes`` worker processes of ``threads``
    threads each, all taking chunks from one queue, as Celery's prefork workers share the broker's
    queue. Returns (wall seconds, CPU seconds of the worker processes, stats per thread, urllib3
    pool discards).

    A call that fails with a database error (the task logs it and leaves the cases to the sweep)
    is counted, and its chunk goes back on the queue with the claim on its unresolved cases
    released, as if the lease had run out and the sweep had sent it again (in production that
    takes about ``SCART_RESOLVE_LEASE_SECONDS`` plus ``SCART_SWEEP_CLAIMS_SECONDS``). A chunk failing `MAX_TRIES` times stops the run.
    """
    from django.db import connections

    connections.close_all()  # the children connect on their own, as forked Celery workers do
    context = multiprocessing.get_context("fork")
    work: Any = context.Queue()
    for chunk in chunks:
        work.put((1, chunk))
    results: Any = context.Queue()
    ready = context.Barrier(processes * threads + 1)
    children = [
        context.Process(target=worker_process, args=(work, results, ready, threads), name=f"bench-worker-{i}")
        for i in range(processes)
    ]
    for child in children:
        child.start()
    with suppress(threading.BrokenBarrierError):
        ready.wait()  # broken when a worker could not start: its error is reported below
    started = time.perf_counter()
    stats: list[WorkerStats] = []
    cpu_seconds = 0.0
    discards = 0
    for _ in children:
        child_stats, child_cpu, child_discards = results.get()
        stats.extend(child_stats)
        cpu_seconds += child_cpu
        discards += child_discards
    seconds = time.perf_counter() - started
    for child in children:
        child.join()
    return seconds, cpu_seconds, stats, discards


def worker_process(work: Any, results: Any, ready: Any, threads: int) -> None:
    """Body of one worker process: ``threads`` threads calling ``cases_resolve`` on chunks from
    ``work`` until it is empty; puts (stats per thread, CPU seconds, pool discards) on ``results``."""
    from django.db import DatabaseError, connection, connections
    from django.utils import timezone

    from reports.models import Case
    from routing.resolution.cases import cases_resolve

    discards = PoolDiscards()
    logging.getLogger("urllib3.connectionpool").addFilter(discards)
    stats = [WorkerStats() for _ in range(threads)]

    def worker(mine: WorkerStats) -> None:
        try:
            connection.ensure_connection()  # connecting is not part of the measurement
            ready.wait()
            with connection.execute_wrapper(mine.sql):
                while True:
                    try:
                        tries, chunk = work.get(timeout=0.5)
                    except queue.Empty:
                        return
                    started = time.perf_counter()
                    try:
                        attempts = cases_resolve(case_ids=chunk)
                    except DatabaseError as exc:
                        mine.busy_seconds += time.perf_counter() - started
                        lines = str(exc).splitlines()
                        where = [line for line in lines[1:] if line.startswith("CONTEXT")]
                        mine.failures.append(" ".join([f"{type(exc).__name__}: {lines[0]}", *where[:1]]))
                        if tries >= MAX_TRIES:
                            raise
                        Case.objects.filter(pk__in=chunk, resolve_due_at__isnull=False).update(
                            resolve_due_at=timezone.now()
                        )
                        work.put((tries + 1, chunk))
                        continue
                    mine.chunk_seconds.append(time.perf_counter() - started)
                    mine.busy_seconds += mine.chunk_seconds[-1]
                    mine.chunks += 1
                    mine.claimed += len(attempts)
        except Exception as exc:
            mine.errors.append(f"{type(exc).__name__}: {exc}")
            with suppress(threading.BrokenBarrierError):
                ready.abort()
        finally:
            connections.close_all()

    cpu = time.process_time()
    pool = [threading.Thread(target=worker, args=(s,), name=f"bench-thread-{i}") for i, s in enumerate(stats)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put((stats, time.process_time() - cpu, discards.count))


def check_cases(world: World) -> str:
    """Every case resolved, on the provider, country, ASN, abuse address and registrar of its host."""
    from reports.models import Case

    problems: list[str] = []
    rows = Case.objects.select_related("provider").only(
        "original_url", "resolved_at", "resolve_due_at", "hosting_country", "asn", "resolution", "provider"
    )
    count = 0
    for case in rows.iterator(chunk_size=2000):
        count += 1
        host = world.host_of_url[case.original_url]
        asn = host.network.asn
        registrar = (case.resolution or {}).get("registrar") or {}
        if case.resolved_at is None:
            problems.append(f"{case.original_url}: not resolved (due {case.resolve_due_at})")
        elif case.provider is None:
            problems.append(f"{case.original_url}: no provider ({case.resolution.get('errors')})")
        elif case.provider.key != f"rdap:{asn.registry.name}:{asn.org_handle}":
            problems.append(f"{case.original_url}: provider {case.provider.key}, expected {asn.org_handle}")
        elif case.provider.abuse_emails != [asn.abuse_email]:
            problems.append(f"{case.original_url}: abuse {case.provider.abuse_emails}, expected {asn.abuse_email}")
        elif case.hosting_country != asn.country:
            problems.append(f"{case.original_url}: country {case.hosting_country!r}, expected {asn.country}")
        elif case.asn != asn.number:
            problems.append(f"{case.original_url}: ASN {case.asn}, expected {asn.number}")
        elif registrar.get("name") != registrar_name(host.registrar) or registrar.get("abuse_emails") != [
            registrar_abuse(host.registrar)
        ]:
            problems.append(f"{case.original_url}: registrar {registrar}, expected {registrar_name(host.registrar)}")
    if count != len(world.urls):
        problems.insert(0, f"{count} cases in the database for {len(world.urls)} URLs")
    if problems:
        raise BenchError(f"{len(problems)} cases wrong, first: " + "; ".join(problems[:3]))
    providers = len({a.provider for a in world.asns})
    return f"OK: all {count:,} cases resolved to the expected provider ({providers} in all), country, ASN, abuse address and registrar"
