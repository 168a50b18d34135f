"""The daily retention run (`CELERY_BEAT_SCHEDULE`: ``retention-daily``)."""

from __future__ import annotations

from celery import shared_task

from privacy.retention import retention_run


@shared_task(acks_late=True)
def retention_daily() -> int:
    """Apply the retention rules; safe to run twice (what is erased is not selected again)."""
    return retention_run().rows
