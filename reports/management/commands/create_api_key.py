"""python manage.py create_api_key NAME: create a partner (if new) and print a new API key once."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from reports.api.auth import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a partner (created if it does not exist) and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the partner's name")
        parser.add_argument("--label", default="", help="a name for this key, e.g. 'crawler 2026'")
        parser.add_argument("--rate", default="", help="the partner's rate limit, e.g. 600/min")

    def handle(self, *args: Any, **options: Any) -> None:
        api_key, key = api_key_create(partner_name=options["name"], key_name=options["label"])
        if options["rate"]:
            api_key.partner.rate_limit = options["rate"]
            api_key.partner.save(update_fields=["rate_limit"])
        self.stderr.write(f"API key for {api_key.partner.name} (shown once; only its hash is stored):")
        self.stdout.write(key)
