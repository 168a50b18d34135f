"""Keeping the statistics table in step with the case timelines."""

from __future__ import annotations

from celery import shared_task

from stats.timings import timings_refresh_all, timings_refresh_due


@shared_task
def stats_refresh() -> int:
    """Every minute: the cases with new events."""

    return timings_refresh_due()


@shared_task
def stats_rebuild() -> int:
    """Nightly: every case again (after the working calendar changed, or an event was missed)."""

    return timings_refresh_all()
