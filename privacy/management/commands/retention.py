"""``python manage.py retention [--dry-run] [--json]``: apply the retention rules now (the daily
task does the same), or with ``--dry-run`` list what would go, by rule and count."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from privacy.retention import retention_run
from privacy.rules import rules_current


class Command(BaseCommand):
    help = "Apply the retention rules (docs/data-protection.md); --dry-run only counts what would go."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count what would go; change nothing")
        parser.add_argument("--batch", type=int, default=None, help="rows per statement (SCART_RETENTION_BATCH)")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        result = retention_run(dry_run=options["dry_run"], batch=options["batch"])
        if options["json"]:
            body = {"dry_run": result.dry_run, "rows": result.rows, "rules": result.by_rule(), "off": result.skipped}
            self.stdout.write(json.dumps(body, indent=2))
            return
        days = {r.kind: r.days for r in rules_current()}
        verb = "would go" if result.dry_run else "erased or deleted"
        kind = ""
        for step in result.steps:
            if step.kind != kind:
                kind = step.kind
                self.stdout.write(f"{kind} ({days[kind]} days)")
            self.stdout.write(f"  {step.step:<48} {step.rows:>10,}")
        for off in result.skipped:
            self.stdout.write(f"{off}: off")
        self.stdout.write(f"{result.rows:,} rows {verb}")
