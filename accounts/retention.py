"""The two changes the append-only audit trail allows, for the retention rules only
(`privacy.retention`): entries older than their retention period are deleted, and the address
a staff member acted from is cleared from older entries. Nothing else may change an entry.

On PostgreSQL the trigger of migration 0002 (replaced in 0009) lets these through only inside a
transaction that set ``scart.audit_retention``, which only the functions below set; SQLite has no
such setting, and there its trigger lets the clearing of an address through on its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection, models, transaction

from accounts.models import AuditEntry


@contextmanager
def _retention_allowed() -> Iterator[None]:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('scart.audit_retention', 'on', true)")
        yield


def audit_entries_delete(*, ids: Sequence[int]) -> int:
    """Delete the audit entries ``ids`` (their retention period is over)."""
    if not ids:
        return 0
    with _retention_allowed():
        # The manager refuses deletes; the base queryset's own is the one allowed path.
        deleted, _ = models.QuerySet.delete(AuditEntry.objects.filter(pk__in=list(ids)))
    return deleted


def audit_addresses_clear(*, ids: Sequence[int]) -> int:
    """Clear the address of the audit entries ``ids``; nothing else of them changes."""
    if not ids:
        return 0
    with _retention_allowed():
        return models.QuerySet.update(AuditEntry.objects.filter(pk__in=list(ids)), ip_address=None)
