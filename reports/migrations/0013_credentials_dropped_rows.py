"""Strip the credentials of the URLs stored before intake dropped them (see 0010).

Not atomic, and apart from 0010's schema change: inside one transaction, ``ALTER TABLE`` would
hold its exclusive lock on the report links while the whole table is scanned and rewritten, and on
a large table intake and every case page would wait for all of it. Here the scan only reads, and
each batch commits by itself; a run that stops half-way is simply run again (a stripped URL has
nothing left to strip).
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from reports.urls import url_without_credentials

BATCH = 2000


def credentials_drop(apps: Any, schema_editor: Any) -> None:
    """Strip the credentials of the URLs stored before intake dropped them. Only rows with an "@"
    can hold any; each is rewritten once, in batches."""
    for name in ("Case", "ReportedUrl"):
        model = apps.get_model("reports", name)
        # The ids first: rows are not rewritten under an open read of the same table.
        ids = list(model.objects.filter(original_url__contains="@").order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), BATCH):
            changed = []
            for row in model.objects.filter(pk__in=ids[start : start + BATCH]).only("pk", "original_url"):
                kept = url_without_credentials(row.original_url)
                if kept != row.original_url:
                    row.original_url, row.had_credentials = kept, True
                    changed.append(row)
            model.objects.bulk_update(changed, ["original_url", "had_credentials"])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("reports", "0012_case_resolve_claim_and_moved_since"),
    ]

    operations = [
        # Nothing to restore: the credentials are gone on purpose.
        migrations.RunPython(credentials_drop, migrations.RunPython.noop, elidable=True),
    ]
