"""The three role groups, and triggers that make the audit trail append-only in the database.

PostgreSQL refuses every UPDATE and DELETE of a row; SQLite every UPDATE (a DELETE trigger there
would also stop the test runner from emptying the table between tests; the application refuses
deletes itself, see `accounts.models`). TRUNCATE stays possible for the database owner, which is
how a test database is emptied; production should run scart as a role that does not own tables.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

GROUPS = ["Analyst", "Senior analyst", "Administrator"]

TRIGGERS = {
    "postgresql": (
        [
            """
            CREATE FUNCTION accounts_audit_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'the audit trail is append-only';
            END;
            $$ LANGUAGE plpgsql;
            """,
            """
            CREATE TRIGGER accounts_audit_no_change BEFORE UPDATE OR DELETE ON accounts_auditentry
            FOR EACH ROW EXECUTE FUNCTION accounts_audit_append_only();
            """,
        ],
        [
            "DROP TRIGGER IF EXISTS accounts_audit_no_change ON accounts_auditentry;",
            "DROP FUNCTION IF EXISTS accounts_audit_append_only();",
        ],
    ),
    "sqlite": (
        [
            """
            CREATE TRIGGER accounts_audit_no_update BEFORE UPDATE ON accounts_auditentry
            BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
            """,
        ],
        [
            "DROP TRIGGER IF EXISTS accounts_audit_no_update;",
        ],
    ),
}


def groups_create(apps: Any, schema_editor: Any) -> None:
    Group = apps.get_model("auth", "Group")
    for name in GROUPS:
        Group.objects.get_or_create(name=name)


def triggers_create(apps: Any, schema_editor: Any) -> None:
    for sql in TRIGGERS.get(schema_editor.connection.vendor, ([], []))[0]:
        schema_editor.execute(sql)


def triggers_drop(apps: Any, schema_editor: Any) -> None:
    for sql in TRIGGERS.get(schema_editor.connection.vendor, ([], []))[1]:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunPython(groups_create, migrations.RunPython.noop),
        migrations.RunPython(triggers_create, triggers_drop),
    ]
