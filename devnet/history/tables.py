"""The tables the seeder writes, how a chunk's rows reach them (``COPY`` on PostgreSQL,
`bulk_create` elsewhere), and where their primary keys come from before they are written."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models

from devnet.history.records import LazyJson, NoticeInfo
from reports.models import Assessment, Case, Event, Report, ReportedUrl
from routing.models import AvailabilityCheck, CaseAddress, Notice, NoticeCase


class Table:
    """A table the seeder writes: its columns in the order of its row tuples, and which hold JSON."""

    def __init__(self, model: type[models.Model], columns: str, *, json: tuple[str, ...] = ()) -> None:
        self.model = model
        self.name = str(model._meta.db_table)
        self.label = str(model._meta.verbose_name_plural)
        self.columns = tuple(columns.split())
        self.json = tuple(self.columns.index(name) for name in json)


Rows = dict[Table, list[tuple[Any, ...]]]

REPORTS = Table(
    Report,
    "id reference channel partner_id source reporter_email description external_ref hashes classification urgent "
    "received_at url_count rejected_count acknowledged_at",
    json=("hashes", "classification"),
)
CASES = Table(
    Case,
    "id url_sha256 canonical_url original_url scheme host registrable_domain is_ip unresolvable had_credentials "
    "state state_changed_at first_reported_at last_reported_at report_count resolve_attempts resolution resolved_at "
    "provider_id hosting_country asn contact_confidence contact_check verdict assessed_at urgent "
    "last_seen_online_at gone_since gone_count last_gone_at unreachable_since removed_at removal_kind "
    "reappearance_checks cycle_started_at",
    json=("resolution",),
)
# The addresses the resolution found, as live resolution writes them beside the case (the search by IP).
CASE_ADDRESSES = Table(CaseAddress, "case_id ip")
REPORTED_URLS = Table(ReportedUrl, "report_id case_id original_url duplicate")
ASSESSMENTS = Table(
    Assessment,
    "id case_id at analyst_id source verdict legal_basis category age_group media_type ai_generated drawn "
    "police_first police_reason not_illegal_reason notes suggestion",
    json=("suggestion",),
)
NOTICES = Table(
    Notice,
    "id reference kind recipient_kind recipient_name batch_key emails language provider_id hotline_id ask_origin "
    "step urgent state open created_at due_at claim_token sending_since attempts sent_at message_id last_error "
    "link_key_hash",
    json=("emails",),
)
NOTICE_CASES = Table(
    NoticeCase,
    "notice_id case_id added_at drop_reason response response_reason responded_at dispute_state dispute_note",
)
EVENTS = Table(Event, "case_id kind at actor_type actor_user_id actor_partner_id data", json=("data",))
CHECKS = Table(AvailabilityCheck, "case_id at outcome status_code address duration_ms redirect_to reason")
TABLE_ORDER = (REPORTS, CASES, CASE_ADDRESSES, REPORTED_URLS, ASSESSMENTS, NOTICES, NOTICE_CASES, EVENTS, CHECKS)


def _json_default(value: Any) -> Any:
    if isinstance(value, NoticeInfo):
        return value.reference
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def json_text(value: Any) -> str:
    """JSON columns hold text already serialised, a `LazyJson` value, or something to serialise."""
    if isinstance(value, str):
        return value
    if isinstance(value, LazyJson):
        return value.json()
    return json.dumps(value, default=_json_default)


class Writer:
    def __init__(self, *, use_copy: bool) -> None:
        self.copy = use_copy and connection.vendor == "postgresql"

    def write(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.copy:
            self._copy(table, rows)
        else:
            self._bulk(table, rows)

    def _copy(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        sql = f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN"
        positions = table.json
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            if not positions:
                for row in rows:
                    copy.write_row(row)
                return
            for row in rows:
                values = list(row)
                for p in positions:
                    values[p] = json_text(values[p])
                copy.write_row(values)

    def _bulk(self, table: Table, rows: list[tuple[Any, ...]]) -> None:
        objects = []
        for row in rows:
            values = dict(zip(table.columns, row, strict=True))
            for p in table.json:
                values[table.columns[p]] = json.loads(json_text(row[p]))
            objects.append(table.model(**values))
        table.model._default_manager.bulk_create(objects, batch_size=500)


class Ids:
    """Primary keys handed out before their rows are written. PostgreSQL: blocks taken from the
    table's sequence, which never hands them to anyone else. Elsewhere: the numbers after the
    largest in use, read inside the chunk's transaction (on SQLite it holds the write lock)."""

    BLOCK = 10_000

    def __init__(self) -> None:
        self.postgresql = connection.vendor == "postgresql"
        self.free: dict[str, list[int]] = {}
        self.next: dict[str, int] = {}

    def begin_chunk(self) -> None:
        if self.postgresql:
            return
        self.next.clear()

    def take(self, table: Table) -> int:
        name = table.name
        if self.postgresql:
            free = self.free.setdefault(name, [])
            if not free:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                        [name, self.BLOCK],
                    )
                    free.extend(sorted((row[0] for row in cursor.fetchall()), reverse=True))
            return free.pop()
        if name not in self.next:
            self.next[name] = self._largest(name) + 1
        value = self.next[name]
        self.next[name] = value + 1
        return value

    @staticmethod
    def _largest(name: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {name}")  # noqa: S608 - a table name from model metadata
            largest = cursor.fetchone()[0] or 0
            if connection.vendor == "sqlite":
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [name])
                row = cursor.fetchone()
                largest = max(largest, row[0] if row else 0)
        return int(largest)
