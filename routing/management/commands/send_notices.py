"""`python manage.py send_notices [--now]`: send the notices that are due, or (``--now``) every
queued batch at once, without waiting for its window; prints what happened."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from reports.models import Case
from routing.notices.ladder import cases_plan_ladder
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import SendSummary, notices_send_due
from routing.notices.sweep import notices_mark_unknown


class Command(BaseCommand):
    help = "Send due takedown notices; --now flushes every queued batch without waiting for its window."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", action="store_true", help="Send every queued batch now.")
        parser.add_argument(
            "--no-reresolve", action="store_true", help="Do not resolve the cases again before sending."
        )

    def handle(self, *args: Any, **options: Any) -> None:

        unknown = notices_mark_unknown()
        now = timezone.now()
        due = list(Case.objects.filter(notice_plan_at__lte=now).values_list("id", flat=True))
        for start in range(0, len(due), 500):
            cases_plan_notices(case_ids=due[start : start + 500], now=now)
        cases_plan_ladder(now=now)
        total = SendSummary()
        while True:
            summary = notices_send_due(flush=options["now"], reresolve=not options["no_reresolve"])
            for name in ("claimed", "sent", "retried", "failed", "cancelled", "dropped_cases"):
                setattr(total, name, getattr(total, name) + getattr(summary, name))
            if not summary.claimed or (not summary.sent and not summary.cancelled and not summary.failed):
                break
        self.stdout.write(
            f"sent {total.sent} notice(s); {total.retried} to retry, {total.failed} failed, "
            f"{total.cancelled} cancelled, {total.dropped_cases} case(s) re-routed"
            + (f"; {unknown} left in sending by a dead sender marked unknown" if unknown else "")
        )
