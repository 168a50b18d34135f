"""Celery tasks of the intake: thin wrappers that load by id and call one service."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from reports.mailbox import mailbox_poll as poll
from reports.models import Report
from reports.services import report_acknowledge as send_acknowledgement
from reports.services import sweep_abandoned as sweep_claims
from reports.services import sweep_overdue as sweep


# The service raises only what can succeed later (SMTP 4xx, connection errors and timeouts are all
# OSErrors); a permanent refusal is recorded on the report and not raised.
@shared_task(acks_late=True, autoretry_for=(OSError,), retry_backoff=30, retry_backoff_max=1800, max_retries=8)
def report_acknowledge(report_id: int) -> None:
    """Send the reporter the acknowledgement of a report (once, however often this runs)."""
    report = Report.objects.filter(pk=report_id).first()
    if report is not None:
        send_acknowledgement(report=report)


@shared_task
def sweep_overdue() -> int:
    """Enqueue again the work that should have started by now (see `reports.services.sweep_overdue`)."""
    return sweep()


@shared_task
def sweep_abandoned() -> int:
    """Enqueue again the cases whose resolving worker died (see `reports.services.sweep_abandoned`)."""
    return sweep_claims()


@shared_task
def mailbox_poll() -> int:
    """Read the intake mailbox, if one is configured; returns the number of reports filed."""
    if not settings.SCART_INTAKE_IMAP_URL:
        return 0

    return poll().reports
