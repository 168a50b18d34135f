"""python manage.py poll_mailbox: read the intake mailbox once and print what was done."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.mailbox import MailboxError, mailbox_poll


class Command(BaseCommand):
    help = (
        "Read the intake mailbox (SCART_INTAKE_IMAP_URL) once: file a report for every message from an "
        "allowed sender that names URLs, and move each message to the done or rejected folder."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SCART_INTAKE_IMAP_URL:
            raise CommandError("SCART_INTAKE_IMAP_URL is not set: there is no mailbox to read.")
        try:
            summary = mailbox_poll()
        except MailboxError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{summary.messages} messages read: {summary.reports} reports filed, "
            f"{summary.already_filed} filed before, {summary.rejected_senders} from senders not allowed, "
            f"{summary.no_urls} without URLs, {summary.errors} errors."
        )
        if summary.errors:
            self.stderr.write("Messages with errors stay in the intake folder; the log says why.")
