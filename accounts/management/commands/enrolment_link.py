"""Issue a staff member a one-time link to enrol (or replace) their second factor."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.otp import enrolment_link_issue
from accounts.services import AuditContext


class Command(BaseCommand):
    help = "Print a one-time link with which USERNAME enrols an authenticator app (replacing any earlier one)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--url", default="", help="where the site is served (default: SCART_SITE_URL)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        link = enrolment_link_issue(user, audit=AuditContext(), base_url=options["url"].rstrip("/"))
        self.stdout.write(link)
