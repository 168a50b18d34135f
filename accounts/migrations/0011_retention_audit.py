"""New audit actions of the retention rules and of reporters' data, and the two changes the
append-only audit trail allows them (`accounts.retention`): on PostgreSQL, deleting an entry and
clearing its address, only in a transaction that set ``scart.audit_retention``; on SQLite (which
refuses updates only), clearing the address and nothing else."""

from typing import Any

from django.db import migrations, models

PG_ALLOWING = """
CREATE OR REPLACE FUNCTION accounts_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('scart.audit_retention', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        IF NEW.ip_address IS NULL AND (to_jsonb(NEW) - 'ip_address') = (to_jsonb(OLD) - 'ip_address') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$ LANGUAGE plpgsql;
"""
PG_STRICT = """
CREATE OR REPLACE FUNCTION accounts_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only';
END;
$$ LANGUAGE plpgsql;
"""
SQLITE_STRICT = """
CREATE TRIGGER accounts_audit_no_update BEFORE UPDATE ON accounts_auditentry
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""
SQLITE_ALLOWING = """
CREATE TRIGGER accounts_audit_no_update BEFORE UPDATE ON accounts_auditentry
WHEN NOT (NEW.ip_address IS NULL AND NEW.id IS OLD.id AND NEW.at IS OLD.at AND NEW.actor_id IS OLD.actor_id
          AND NEW.actor_name IS OLD.actor_name AND NEW.action IS OLD.action AND NEW.object_type IS OLD.object_type
          AND NEW.object_id IS OLD.object_id AND NEW.summary IS OLD.summary AND NEW.data IS OLD.data)
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"""


def _trigger(sql_pg: str, sql_sqlite: str) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        vendor = schema_editor.connection.vendor
        if vendor == "postgresql":
            schema_editor.execute(sql_pg)
        elif vendor == "sqlite":
            schema_editor.execute("DROP TRIGGER IF EXISTS accounts_audit_no_update;")
            schema_editor.execute(sql_sqlite)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0010_audit_channel_changed"),
    ]

    operations = [
        migrations.RunPython(_trigger(PG_ALLOWING, SQLITE_ALLOWING), _trigger(PG_STRICT, SQLITE_STRICT)),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("login", "Logged in"),
                    ("login_failed", "Login failed"),
                    ("locked_out", "Locked out"),
                    ("otp_failed", "Second factor failed"),
                    ("otp_enrolled", "Authenticator enrolled"),
                    ("logout", "Logged out"),
                    ("case_viewed", "Case viewed"),
                    ("case_assessed", "Case assessed"),
                    ("review_decided", "Second opinion decided"),
                    ("exported", "Data exported"),
                    ("rule_changed", "Rule changed"),
                    ("contact_changed", "Contact changed"),
                    ("user_changed", "User changed"),
                    ("role_changed", "Role changed"),
                    ("setting_changed", "Setting changed"),
                    ("token_created", "API token created"),
                    ("token_revoked", "API token revoked"),
                    ("notice_resent", "Notice sent again"),
                    ("notice_marked_sent", "Notice confirmed as sent"),
                    ("dispute_decided", "Dispute decided"),
                    ("case_released", "Police-first case released"),
                    ("case_marked_removed", "Case marked removed by hand"),
                    ("cases_assigned", "Cases assigned"),
                    ("cases_reresolved", "Cases resolved again on request"),
                    ("notice_sent_now", "Notice sent at once"),
                    ("notice_cancelled", "Notice cancelled"),
                    ("notice_escalated", "Escalated at once"),
                    ("notice_recipient_changed", "Notice recipient changed"),
                    ("retention_run", "Retention rules applied"),
                    ("retention_changed", "Retention rule changed"),
                    ("reporter_data_exported", "A reporter's data exported"),
                    ("reporter_data_erased", "A reporter's data erased"),
                ],
                db_index=True,
                max_length=32,
            ),
        ),
    ]
