"""python manage.py poll_mailbox: read the intake mailbox once and print what was done."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reports.imap import MailboxError
from reports.mailbox import mailbox_poll


class Command(BaseCommand):
    help = (
        "Read the intake mailbox (SCART_INTAKE_IMAP_URL) once: file a report for every message from an "
        "allowed, authenticated sender that names URLs, file replies and bounces on their notices, and move each message to the done or rejected folder."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SCART_INTAKE_IMAP_URL:
            raise CommandError("SCART_INTAKE_IMAP_URL is not set: there is no mailbox to read.")
        try:
            summary = mailbox_poll()
        except MailboxError as exc:
            raise CommandError(str(exc)) from exc
        clashes = f" ({summary.clashes} with a Message-ID filed before for other URLs)" if summary.clashes else ""
        self.stdout.write(
            f"{summary.messages} messages read: {summary.reports} reports filed{clashes}, "
            f"{summary.already_filed} filed before, {summary.rejected_senders} from senders not allowed, "
            f"{summary.unauthenticated} not authenticated, "
            f"{summary.no_urls} without URLs, {summary.malformed} malformed, {summary.errors} errors."
        )
        if summary.malformed:
            self.stderr.write(
                f"Malformed messages are in the folder {settings.SCART_INTAKE_IMAP_REJECTED_FOLDER}: "
                "no URL could be read from them, an analyst should look at them; the log says what is wrong."
            )
        if summary.unauthenticated:
            self.stderr.write(
                f"Messages from allowed senders that are not authenticated are in the folder "
                f"{settings.SCART_INTAKE_IMAP_REJECTED_FOLDER}: their From cannot be believed (no DMARC or DKIM "
                "pass), so they were not filed; the log says why for each."
            )
        if summary.clashes:
            self.stderr.write(
                "Message-ID clashes: a message reused the Message-ID of an earlier, different one; its URLs were "
                "filed as a report of their own (description and log say which)."
            )
        if summary.errors:
            self.stderr.write("Messages with errors stay in the intake folder; the log says why.")
