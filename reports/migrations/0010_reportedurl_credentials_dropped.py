"""Credentials never stay in a stored URL: the URL as typed keeps everything but its user name and
password, and the rows say that there were some (`Case.had_credentials` already did). The rows
stored before are rewritten by 0012, outside this migration's transaction."""

from __future__ import annotations

from django.db import migrations, models


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
    ]
