"""python manage.py create_staff_token USERNAME [--name N] [--days D]: print a new staff API token
once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts.api_auth import staff_token_create
from accounts.roles import role_of
from scart.times import shown


class Command(BaseCommand):
    help = "Create an API token acting as a staff member (with their role) and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="the staff member the token acts as")
        parser.add_argument("--name", default="", help="what the token is for, e.g. 'triage bot'")
        parser.add_argument("--days", type=int, default=None, help="days until it expires (default: never)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user {options['username']!r}.")
        # A token of such an account would be refused at every request: say so now instead.
        if not user.is_active:
            raise CommandError(f"{user.get_username()} is inactive.")
        if role_of(user) is None:
            raise CommandError(f"{user.get_username()} has no role: give them one in the admin first.")
        days = options["days"]
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=days) if days is not None else None
        _, key = staff_token_create(user=user, name=options["name"], expires_at=expires_at)
        until = f"until {shown(expires_at)} {settings.TIME_ZONE}" if expires_at else "without expiry"
        self.stderr.write(f"Staff token for {user.get_username()}, {until} (shown once; only its hash is stored):")
        self.stdout.write(key)
