"""`python manage.py deadlines_backfill`: give the tracked cases the deadlines the current rules
would have set at their verdict and first notice (cases older than a rule), in bounded batches."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from routing.deadlines.backfill import BATCH_SIZE, deadlines_backfill_batch


class Command(BaseCommand):
    help = "Set the deadlines the current rules give to tracked cases whose starting event came before the rule."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="Cases per transaction.")

    def handle(self, *args: Any, **options: Any) -> None:
        size = max(1, options["batch_size"])
        after: int | None = 0
        cases = written = 0
        while after is not None:
            batch = deadlines_backfill_batch(after=after, size=size)
            cases += batch.cases
            written += batch.set
            after = batch.next_after
        self.stdout.write(f"looked at {cases} tracked case(s); set {written} deadline(s)")
