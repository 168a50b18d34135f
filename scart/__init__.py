"""scart: notice-and-takedown for hotlines. Loads the Celery app with Django."""

from __future__ import annotations

from scart.celery import app as celery_app

__all__ = ["celery_app"]
