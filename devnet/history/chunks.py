"""Running the seeder: the world first, then the cases chunk by chunk, each chunk one
transaction; on PostgreSQL a thread writes one chunk while the next is made."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction

from devnet.history.intake import make_report, plan_intensity
from devnet.history.notices import notice_rows
from devnet.history.state import SeedState, SeedSummary
from devnet.history.tables import NOTICES, TABLE_ORDER, Rows, Writer
from devnet.history.world import make_actors, make_world


def seed_history(
    state: SeedState,
    *,
    chunk_cases: int,
    progress: Callable[[int, int, float], None] | None,
    started: float,
) -> None:
    """Make and write the whole history, ``chunk_cases`` cases per transaction."""
    with transaction.atomic():
        make_actors(state)
        make_world(state)
    plan_intensity(state)
    done = 0

    def written(count: int) -> None:
        if progress:
            progress(count, state.total, time.monotonic() - started)

    if state.writer.copy and not connection.in_atomic_block:
        # PostgreSQL: the next chunk is made while a thread (with a connection of its own)
        # writes the last one, so that Python and the database work at the same time.
        with _Background(state.writer, state.summary, written) as background:
            while done < state.total:
                done = _chunk(state, done, chunk_cases)
                background.put(_take(state), done)
    else:
        while done < state.total:
            with transaction.atomic():
                state.ids.begin_chunk()
                done = _chunk(state, done, chunk_cases)
                _write(state.writer, _take(state), state.summary)
            written(done)
    state.summary.cases = done
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Fresh planner statistics: queries right after a bulk load (the statistics refresh,
        # a benchmark, `demo_delete`) would otherwise plan for the tables' old sizes.
        with connection.cursor() as cursor:
            for table in TABLE_ORDER:
                cursor.execute(f"ANALYZE {table.name}")


def _chunk(state: SeedState, done: int, chunk_cases: int) -> int:
    """Make the next chunk's reports and cases; returns the cases made so far."""
    target = min(state.total, done + chunk_cases)
    while done < target:
        done += make_report(state, done)
    return done


def _take(state: SeedState) -> Rows:
    """The chunk's rows, its new notices numbered; the buffers start again."""
    state.rows[NOTICES] = notice_rows(state.new_notices)
    rows, state.rows = state.rows, {t: [] for t in TABLE_ORDER}
    state.new_notices = []
    # Batches sent before the latest report cannot take more cases: forget them.
    state.notices = {k: n for k, n in state.notices.items() if n.sent_at >= state.latest_report}
    return rows


def _write(writer: Writer, rows: Rows, summary: SeedSummary) -> None:
    for table in TABLE_ORDER:
        writer.write(table, rows[table])
        summary.add(table.label, len(rows[table]))


class _Background:
    """Writes chunks in a thread, one transaction each, in the order they come; the queue holds
    one chunk, so that making them never runs far ahead of writing them."""

    def __init__(self, writer: Writer, summary: SeedSummary, written: Callable[[int], None]) -> None:
        self.writer, self.summary, self.written = writer, summary, written
        self.queue: queue.Queue[tuple[Rows, int] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="seed_demo writer", daemon=True)

    def __enter__(self) -> _Background:
        self.thread.start()
        return self

    def put(self, rows: Rows, done: int) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((rows, done))

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and kind is None:
            raise self.error

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                if self.error is not None:
                    continue  # keep taking chunks, so that the maker is never stuck on a full queue
                rows, done = item
                try:
                    with transaction.atomic():
                        _write(self.writer, rows, self.summary)
                    self.written(done)
                except BaseException as exc:
                    self.error = exc
        finally:
            connection.close()
