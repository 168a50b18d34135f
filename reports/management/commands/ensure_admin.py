"""Create the first administrator account, once; print its name and a generated password."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create an administrator account if there is no user yet (used by `make run`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="where the site will be served")

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        if User.objects.exists():
            return
        password = secrets.token_urlsafe(15)
        User.objects.create_superuser(username=options["username"], email="", password=password)
        bar = "=" * 64
        self.stdout.write(
            f"\n{bar}\n  First run: an administrator account was created.\n"
            f"  user name: {options['username']}\n  password:  {password}\n"
            f"  Log in at {options['url']}/login/ . This password is shown only now.\n"
            f"  On the first login you set up a second factor: scan the QR code (or type the key)\n"
            f"  into any authenticator app for time-based codes (TOTP), then enter its code.\n"
            f"  Give staff their role in the admin: Analyst, Senior analyst or Administrator.\n{bar}\n"
        )
