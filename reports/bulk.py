"""The intake's hot path: set-based inserts of cases, report links and events.

A batch of 1,000 URLs must cost a handful of statements, not thousands. On PostgreSQL each column
travels as one array parameter and the server unnests it (building a statement with tens of
thousands of placeholders costs more Python time than the database spends on it); elsewhere
(SQLite) multi-row ``VALUES`` and Django's ``bulk_create`` do the same job within its parameter
limits. Both paths return the same answers and are tested on both databases.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Field

from reports.models import Case, CaseState, ReportedUrl
from reports.urls import ERASED_URL_PREFIX, NormalisedUrl

# Rows per INSERT statement on SQLite: keeps the bound parameters under its limit.
SQLITE_CHUNK = 500

# Columns of a new case: those of `url_values`, then the state and counters every new case starts with.
CASE_COLUMNS = (
    "url_sha256",
    "canonical_url",
    "original_url",
    "scheme",
    "host",
    "registrable_domain",
    "port",
    "is_ip",
    "unresolvable",
    "had_credentials",
    "state",
    "state_changed_at",
    "first_reported_at",
    "last_reported_at",
    "report_count",
    "resolve_due_at",
    "resolve_attempts",
    "resolution",
)
# What a case row that exists already gets from another report naming it.
_ON_CONFLICT = (
    "ON CONFLICT (url_sha256) DO UPDATE SET report_count = {t}.report_count + 1, "
    "last_reported_at = CASE WHEN excluded.last_reported_at > {t}.last_reported_at "
    "THEN excluded.last_reported_at ELSE {t}.last_reported_at END, "
    "had_credentials = {t}.had_credentials OR excluded.had_credentials, "
    # A URL whose text the retention rules erased (a closed case, `ERASED_URL_PREFIX` and its hash)
    # gets it back from the report that names it again.
    "canonical_url = CASE WHEN {t}.canonical_url LIKE '" + ERASED_URL_PREFIX + "%%' "
    "THEN excluded.canonical_url ELSE {t}.canonical_url END, "
    "original_url = CASE WHEN {t}.original_url LIKE '" + ERASED_URL_PREFIX + "%%' "
    "THEN excluded.original_url ELSE {t}.original_url END "
    "RETURNING id, url_sha256, report_count"
)


def cases_upsert(items: Sequence[tuple[str, NormalisedUrl]], *, at: datetime) -> dict[str, tuple[int, bool]]:
    """Insert missing cases and count a report on existing ones; returns ``{sha256: (id, created)}``.

    ``items`` are (URL as reported, normalised URL) pairs with distinct canonical forms. A row whose
    ``report_count`` comes back as 1 was created by this statement; an existing row has been
    incremented to at least 2. Rows are sorted by key so that concurrent batches take their row
    locks in the same order and cannot deadlock.
    """
    if not items:
        return {}
    ordered = sorted(items, key=lambda item: item[1].sha256)
    if connection.vendor == "postgresql":
        return _cases_upsert_postgresql(ordered, at=at)
    return _cases_upsert_values(ordered, at=at)


def url_values(raw: str, norm: NormalisedUrl) -> tuple[Any, ...]:
    """The first ten of `CASE_COLUMNS`: what a case takes from its URL."""
    return (
        norm.sha256,
        norm.canonical,
        raw,
        norm.scheme,
        norm.host,
        norm.registrable_domain,
        norm.port,
        norm.is_ip,
        norm.unresolvable,
        norm.had_credentials,
    )


def _cases_upsert_postgresql(items: list[tuple[str, NormalisedUrl]], *, at: datetime) -> dict[str, tuple[int, bool]]:
    table = Case._meta.db_table
    arrays: list[list[Any]] = [
        list(column) for column in zip(*(url_values(raw, norm) for raw, norm in items), strict=True)
    ]
    sql = (
        f"INSERT INTO {table} ({', '.join(CASE_COLUMNS)}) "  # noqa: S608 - identifiers from model metadata
        "SELECT u.*, %s, %s, %s, %s, 1, %s, 0, '{}'::jsonb FROM unnest("
        "%s::varchar[], %s::text[], %s::text[], %s::varchar[], %s::varchar[], %s::varchar[], "
        "%s::integer[], %s::boolean[], %s::boolean[], %s::boolean[]) AS u "
        "ORDER BY 1 " + _ON_CONFLICT.format(t=table)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [CaseState.NEW.value, at, at, at, at, *arrays])
        return {sha: (case_id, count == 1) for case_id, sha, count in cursor.fetchall()}


def _cases_upsert_values(items: list[tuple[str, NormalisedUrl]], *, at: datetime) -> dict[str, tuple[int, bool]]:
    table = Case._meta.db_table
    fields: list[Field[Any, Any]] = [Case._meta.get_field(name) for name in CASE_COLUMNS]  # type: ignore[misc]
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    out: dict[str, tuple[int, bool]] = {}
    for start in range(0, len(items), SQLITE_CHUNK):
        chunk = items[start : start + SQLITE_CHUNK]
        params: list[Any] = []
        for raw, norm in chunk:
            values = (*url_values(raw, norm), CaseState.NEW, at, at, at, 1, at, 0, {})
            params.extend(f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True))
        sql = (
            f"INSERT INTO {table} ({', '.join(CASE_COLUMNS)}) VALUES "  # noqa: S608 - identifiers from model metadata
            + ", ".join([placeholders] * len(chunk))
            + " "
            + _ON_CONFLICT.format(t=table)
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for case_id, sha, count in cursor.fetchall():
                out[sha] = (case_id, count == 1)
    return out


def links_insert(links: Sequence[ReportedUrl]) -> None:
    """Link a report to its cases; a link that exists already is left as it is."""
    if not links:
        return
    if connection.vendor != "postgresql":
        ReportedUrl.objects.bulk_create(links, ignore_conflicts=True)
        return
    report_ids = {link.report_id for link in links}
    assert len(report_ids) == 1, "links of one report at a time"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ReportedUrl._meta.db_table} (report_id, case_id, original_url, had_credentials, duplicate) "  # noqa: S608
            "SELECT %s, * FROM unnest(%s::bigint[], %s::text[], %s::boolean[], %s::boolean[]) ON CONFLICT DO NOTHING",
            [
                report_ids.pop(),
                [link.case_id for link in links],
                [link.original_url for link in links],
                [link.had_credentials for link in links],
                [link.duplicate for link in links],
            ],
        )
