"""``python manage.py seed_demo --cases N --seed S``: a synthetic takedown history on reserved
example domains, for the statistics dashboard and its benchmark (see `devnet.history`).

The history covers the ``--days`` before ``--now`` (default: the start of today in ``TIME_ZONE``),
so the same ``--seed``, ``--cases``, ``--days`` and ``--now`` give the same cases and timestamps.
Demo data that exist already are refused (``--replace`` deletes them first, ``--if-absent`` leaves
them and does nothing); ``--delete`` only deletes them. Real data are never touched. Each chunk
of cases is one transaction: a run that stops half-way leaves the chunks it wrote, which count as
demo data (``--replace`` removes them).
"""

from __future__ import annotations

import time
from datetime import datetime
from datetime import time as clock
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from devnet.history import MAX_CASES, default_anchor, demo_counts, demo_delete, demo_seed
from stats.timings import timings_refresh_all


def _anchor(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise ValueError(value)
        moment = datetime.combine(day, clock())
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


class Command(BaseCommand):
    help = "Create a synthetic takedown history on reserved example domains (statistics demo and benchmark)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--cases", type=int, default=5_000, help="Cases to create (default 5,000).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument("--days", type=int, default=730, help="Days of history before --now (default 730).")
        parser.add_argument(
            "--now",
            help="The anchor the history ends at: a date or an ISO date and time (default: the start of today).",
        )
        what = parser.add_mutually_exclusive_group()
        what.add_argument("--replace", action="store_true", help="Delete earlier demo data first.")
        what.add_argument("--if-absent", action="store_true", help="Do nothing when demo data exist.")
        what.add_argument("--delete", action="store_true", help="Delete the demo data and stop.")
        parser.add_argument(
            "--no-copy", action="store_true", help="Write with bulk_create on PostgreSQL too (slower; for comparison)."
        )
        parser.add_argument("--no-refresh", action="store_true", help="Do not rebuild the statistics table afterwards.")

    def handle(self, *args: Any, **options: Any) -> None:
        cases, days = options["cases"], options["days"]
        if not options["delete"] and not 1 <= cases <= MAX_CASES:
            raise CommandError(f"--cases must be between 1 and {MAX_CASES:,}, not {cases:,}")
        if not 1 <= days <= 3_650:
            raise CommandError(f"--days must be between 1 and 3,650, not {days:,}")
        try:
            anchor = _anchor(options["now"]) if options["now"] else default_anchor()
        except ValueError as exc:
            raise CommandError(f"--now must be a date or an ISO date and time, not {options['now']!r}") from exc
        if anchor > timezone.now():
            raise CommandError(f"--now must not be in the future ({anchor.isoformat()})")
        if connection.vendor not in ("postgresql", "sqlite"):
            raise CommandError(f"seed_demo supports PostgreSQL and SQLite, not {connection.vendor}")

        present = {name: n for name, n in demo_counts().items() if n}
        if present and options["if_absent"]:
            self.stdout.write(f"demo data exist already ({_counts(present)}): nothing done")
            return
        if present and not (options["replace"] or options["delete"]):
            raise CommandError(
                f"demo data exist already ({_counts(present)}): use --replace to delete them first, "
                "or --if-absent to leave them"
            )
        if present:
            started = time.monotonic()
            deleted = demo_delete(progress=self._deleting)
            total = sum(deleted.values())
            self.stdout.write(f"deleted {total:,} demo rows in {time.monotonic() - started:.1f} s")
        if options["delete"]:
            if not present:
                self.stdout.write("no demo data")
            return

        self.stdout.write(
            f"seeding {cases:,} cases over the {days} days before {timezone.localtime(anchor):%Y-%m-%d %H:%M %Z} "
            f"(seed {options['seed']}, {connection.vendor})"
        )
        summary = demo_seed(
            cases=cases,
            seed=options["seed"],
            now=anchor,
            days=days,
            use_copy=not options["no_copy"],
            progress=self._progress,
        )
        self.stdout.write(
            f"created {summary.cases:,} cases in {summary.seconds:.1f} s "
            f"({summary.cases / max(summary.seconds, 1e-9):,.0f} cases/s)"
        )
        self.stdout.write("  rows: " + ", ".join(f"{name} {count:,}" for name, count in summary.rows.items()))
        self.stdout.write(
            "  states: " + ", ".join(f"{name} {count:,}" for name, count in sorted(summary.states.items()))
        )
        if not options["no_refresh"]:
            self._refresh()

    def _progress(self, done: int, total: int, seconds: float) -> None:
        self.stdout.write(f"  {done:>12,} / {total:,} cases  {seconds:8.1f} s")

    def _deleting(self, label: str, done: int) -> None:
        self.stdout.write(f"  deleting {label}: {done:,}")

    def _refresh(self) -> None:
        """Fill the statistics table."""

        started = time.monotonic()
        written = timings_refresh_all()
        self.stdout.write(f"statistics table rebuilt: {written:,} cases in {time.monotonic() - started:.1f} s")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in counts.items())
