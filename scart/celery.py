"""The Celery application.

Queues are separate so that one kind of work cannot starve another: ``resolve`` (DNS and RDAP),
``notify`` (outgoing mail), ``check`` (availability checks) and ``default`` (everything else,
such as polling the intake mailbox and the sweeps).
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scart.settings")

app = Celery("scart")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
