"""Credentials never stay in a stored URL: the URL as typed keeps everything but its user name and
password, and the rows say that there were some (`Case.had_credentials` already did)."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

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

    dependencies = [
        ('reports', '0009_leaner_case_and_event_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='reportedurl',
            name='had_credentials',
            field=models.BooleanField(db_default=False, default=False, help_text='The URL as reported carried a user name or password (dropped).'),
        ),
        migrations.AlterField(
            model_name='case',
            name='original_url',
            field=models.TextField(help_text='The URL as first reported, without credentials.'),
        ),
        migrations.AlterField(
            model_name='reportedurl',
            name='original_url',
            field=models.TextField(help_text='The URL as reported, without credentials.'),
        ),
        # Nothing to restore: the credentials are gone on purpose.
        migrations.RunPython(credentials_drop, migrations.RunPython.noop, elidable=True),
    ]
