"""Create the first administrator account, once; print its name and a generated password."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from accounts.otp import enrolment_link_issue
from accounts.services import AuditContext


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
        user = User.objects.create_superuser(username=options["username"], email="", password=password)
        link = enrolment_link_issue(user, audit=AuditContext(), base_url=options["url"].rstrip("/"))
        bar = "=" * 64
        self.stdout.write(
            f"\n{bar}\n  First run: an administrator account was created.\n"
            f"  user name: {options['username']}\n  password:  {password}\n"
            f"  This password is shown only now. First open this one-time link to set up your\n"
            f"  second factor, then log in with the password:\n    {link}\n"
            f"  Scan the QR code (or type the key) into any authenticator app for time-based codes\n"
            f"  (TOTP), then enter its code. Other staff get their own link: `manage.py\n"
            f'  enrolment_link NAME`, or the admin\'s user list, action "Issue a second-factor enrolment link".\n'
            f"  Give staff their role in the admin: Analyst, Senior analyst or Administrator.\n{bar}\n"
        )
