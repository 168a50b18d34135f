"""``python manage.py reporter_data --email X [--erase]``: a person's right of access (prints the
JSON of everything tied to the address) and erasure (``--erase``). Both are audited, with a
keyed hash of the address."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from privacy.reporters import reporter_erase, reporter_export


class Command(BaseCommand):
    help = "Export (JSON) or erase everything tied to one reporter's e-mail address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--erase", action="store_true", help="erase it (after printing the export)")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip()
        if "@" not in email:
            raise CommandError("--email must be an e-mail address")
        self.stdout.write(json.dumps(reporter_export(email=email), indent=2, ensure_ascii=False))
        if options["erase"]:
            counts = reporter_erase(email=email)
            self.stderr.write(
                f"erased: {counts['reports']} reports, {counts['messages']} messages, {counts['events']} timeline entries"
            )
