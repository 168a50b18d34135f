"""The week of the first report, stored (the dashboard's weekly counts at a million cases).

Counting a million cases per ``date_trunc('week', first_reported_at AT TIME ZONE ...)`` spent
twice as long on the expression as on the counting; the refresh now stores the week (a Monday, in
``TIME_ZONE``). Existing rows get theirs here: in one UPDATE on PostgreSQL, in Python elsewhere.
After changing ``TIME_ZONE``, ``manage.py takedown_stats --rebuild`` (or the nightly rebuild)
stores every week again.

Deploying: run it with the code that writes the column (older code's refresh fails on the NOT
NULL column until then, and catches up after, as its mark does not move). The UPDATE rewrites
every row under the table's lock (about a minute at a million cases on the development machine)
and leaves the index-only scans of the dashboard reading the table until the next vacuum: run
``VACUUM ANALYZE stats_casetiming`` after it.
"""

from datetime import timedelta

from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

CHUNK = 2_000


def weeks_fill(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE stats_casetiming SET reported_week = date_trunc('week', first_reported_at AT TIME ZONE %s)::date",
                [settings.TIME_ZONE],
            )
        return
    timing = apps.get_model("stats", "CaseTiming")
    rows = timing.objects.filter(reported_week__isnull=True).only("first_reported_at")
    while batch := list(rows[:CHUNK]):
        for row in batch:
            day = timezone.localtime(row.first_reported_at).date()
            row.reported_week = day - timedelta(days=day.weekday())
        timing.objects.bulk_update(batch, ["reported_week"])


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0002_timing_dashboard_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="casetiming",
            name="reported_week",
            field=models.DateField(null=True),
        ),
        migrations.RunPython(weeks_fill, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="casetiming",
            name="reported_week",
            field=models.DateField(
                help_text="The Monday of the week of the first report, in TIME_ZONE (the weekly counts group by it)."
            ),
        ),
    ]
