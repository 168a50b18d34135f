"""Re-seal every sealed secret under the first key of ``SCART_FIELD_KEY``.

Rotation (docs/data-protection.md): put a new key first and keep the old one after it
(``SCART_FIELD_KEY="new,old"``), restart, run this command, then remove the old key.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from scart.sealing import sealed_by_first_key, sealed_fields
from scart.sealing_keys import key_new


class Command(BaseCommand):
    help = "Seal every stored secret again under the first key of SCART_FIELD_KEY (key rotation)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be sealed again.")
        parser.add_argument("--new-key", action="store_true", help="Print a new random key and stop.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["new_key"]:
            self.stdout.write(key_new())
            return
        total = 0
        for model, field in sealed_fields():
            table = connection.ops.quote_name(model._meta.db_table)
            column = connection.ops.quote_name(field.column or field.name)
            pk = connection.ops.quote_name(model._meta.pk.column or "id")
            with connection.cursor() as cursor:
                # The stored (sealed) form, which the ORM would open: only rows under an older key go.
                cursor.execute(f"SELECT {pk}, {column} FROM {table} WHERE {column} <> ''")  # noqa: S608
                stale = [row_pk for row_pk, stored in cursor.fetchall() if not sealed_by_first_key(stored)]
            label = f"{model._meta.label}.{field.name}"
            self.stdout.write(f"{label}: {len(stale)} to seal again")
            total += len(stale)
            if options["dry_run"] or not stale:
                continue
            with transaction.atomic():
                for obj in model._base_manager.filter(pk__in=stale).only(model._meta.pk.name, field.attname):
                    # Read opens it with whichever key fits; the write seals it under the first key.
                    model._base_manager.filter(pk=obj.pk).update(**{field.attname: getattr(obj, field.attname)})
        verb = "would be sealed again" if options["dry_run"] else "sealed again"
        self.stdout.write(self.style.SUCCESS(f"{total} value(s) {verb}."))
