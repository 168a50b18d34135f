"""Indexes for the dashboard's time to removal at a million cases (bench/stats.py, bench/README.md).

Per grouping the group, then ``removal_s``: PostgreSQL reads each group's values in order from a
narrow partial index (an index-only scan) and its percentiles sort nothing. The week and month
groupings are expressions, ``date_trunc(..., first_reported_at AT TIME ZONE <TIME_ZONE>)``, indexed
on PostgreSQL only and with the ``TIME_ZONE`` of the day this migration runs: after changing
``TIME_ZONE``, migrate ``stats`` back to 0001 and forward again to make them match. Statistics on
the same two expressions over every row tell the planner that a week or month holds thousands of
cases (without them it expects a group per case and sorts a million rows to count them per week).
"""

from django.db import migrations, models
from django.db.models.functions import TruncMonth, TruncWeek
from django.db.models.sql import Query

TIMED = models.Q(("removal_s__isnull", False))


def _period_indexes():
    return [
        models.Index(
            trunc("first_reported_at"),
            models.F("removal_s"),
            models.F("first_reported_at"),
            condition=TIMED,
            name=name,
        )
        for trunc, name in ((TruncWeek, "timing_removal_week_idx"), (TruncMonth, "timing_removal_month_idx"))
    ]


PERIOD_STATISTICS = ((TruncWeek, "timing_week_stx"), (TruncMonth, "timing_month_stx"))


def _expression_sql(schema_editor, model, expression):
    """The SQL of ``expression`` on ``model``'s table as Django writes it in queries (columns
    unqualified, the parameters inlined), so that PostgreSQL matches the statistics to them."""
    query = Query(model, alias_cols=False)
    compiler = query.get_compiler(connection=schema_editor.connection)
    sql, params = compiler.compile(expression.resolve_expression(query, allow_joins=False))
    return sql % tuple(schema_editor.quote_value(p) for p in params)


def period_indexes_add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("stats", "CaseTiming")
    for index in _period_indexes():
        schema_editor.add_index(model, index)
    table = schema_editor.quote_name(model._meta.db_table)
    for trunc, name in PERIOD_STATISTICS:
        expression = _expression_sql(schema_editor, model, trunc("first_reported_at"))
        schema_editor.execute(f"CREATE STATISTICS {schema_editor.quote_name(name)} ON ({expression}) FROM {table}")


def period_indexes_remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    model = apps.get_model("stats", "CaseTiming")
    for _trunc, name in PERIOD_STATISTICS:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {schema_editor.quote_name(name)}")
    for index in _period_indexes():
        schema_editor.remove_index(model, index)


class Migration(migrations.Migration):
    dependencies = [
        ("stats", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="casetiming",
            index=models.Index(condition=TIMED, fields=["removal_s", "first_reported_at"], name="timing_removal_idx"),
        ),
        migrations.AddIndex(
            model_name="casetiming",
            index=models.Index(
                condition=TIMED,
                fields=["provider", "removal_s", "first_reported_at"],
                name="timing_removal_provider_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="casetiming",
            index=models.Index(
                condition=TIMED,
                fields=["hosting_country", "removal_s", "first_reported_at"],
                name="timing_removal_country_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="casetiming",
            index=models.Index(
                condition=TIMED, fields=["route", "removal_s", "first_reported_at"], name="timing_removal_route_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="casetiming",
            index=models.Index(
                condition=TIMED, fields=["channel", "removal_s", "first_reported_at"], name="timing_removal_channel_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="casetiming",
            index=models.Index(
                condition=TIMED, fields=["ai_generated", "removal_s", "first_reported_at"], name="timing_removal_ai_idx"
            ),
        ),
        migrations.RunPython(period_indexes_add, period_indexes_remove, elidable=False),
    ]
