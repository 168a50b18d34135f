"""``python manage.py check_url URL [--json]``: one availability check, stored nowhere."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from routing.checks.probe import check_url


class Command(BaseCommand):
    help = "Check whether a URL still answers (status line and headers only, never content) and print the outcome."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--timeout", type=float, help="seconds for the whole check (default SCART_CHECK_TIMEOUT)")

    def handle(self, *args: Any, **options: Any) -> None:
        result = check_url(options["url"], timeout=options["timeout"])
        out = {"url": options["url"], **result.as_dict()}
        if options["json"]:
            self.stdout.write(json.dumps(out, indent=2, ensure_ascii=False))
            return
        status = out["status"] if out["status"] is not None else "no answer"
        self.stdout.write(f"{out['url']}  ->  {out['outcome']} ({status}) in {out['duration_ms']} ms")
        self.stdout.write(f"  address: {out['address'] or '-'}")
        for hop in out["redirects"]:
            self.stdout.write(f"  redirected to {hop}")
        if out["reason"]:
            self.stdout.write(f"  reason: {out['reason']}")
