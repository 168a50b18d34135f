"""The intake bench's physical reference: the distinct rows of the stream written with ``COPY``
into a copy of ``reports_case`` (same indexes)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from bench._harness import BenchError, pg_connect

COPY_TABLE = "bench_case_copy"


def count_rows(url: str, table: str) -> int:
    from psycopg import sql

    with pg_connect(url) as conn:
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
    return int(row[0])


def canonical_rows(urls: list[str]) -> list[tuple[Any, ...]]:
    """One row per distinct canonical URL, first reported form kept: what the intake stores."""
    from reports.bulk import url_values
    from reports.urls import UrlRejected, normalise_url

    at = datetime.now(UTC)
    rows: dict[str, tuple[Any, ...]] = {}
    for raw in urls:
        try:
            norm = normalise_url(raw)
        except UrlRejected:
            continue
        if norm.sha256 in rows:
            continue
        rows[norm.sha256] = (*url_values(raw, norm), "new", at, at, at, 1, at, 0, "{}")
    return list(rows.values())


def copy_reference(database_url: str, rows: list[tuple[Any, ...]]) -> float:
    """COPY ``rows`` into a fresh table shaped like reports_case (same indexes); returns seconds."""
    from psycopg import sql

    from reports.bulk import CASE_COLUMNS

    columns = sql.SQL(", ").join(sql.Identifier(c) for c in CASE_COLUMNS)
    with pg_connect(database_url) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(COPY_TABLE)))
        conn.execute(sql.SQL("CREATE TABLE {} (LIKE reports_case INCLUDING ALL)").format(sql.Identifier(COPY_TABLE)))
        conn.autocommit = False
        started = time.perf_counter()
        with conn.cursor() as cursor:
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(COPY_TABLE), columns)
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.autocommit = True
        copied = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(COPY_TABLE))).fetchone()
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(COPY_TABLE)))
    if copied is None or copied[0] != len(rows):
        raise BenchError(f"COPY wrote {copied} rows instead of {len(rows)}")
    return elapsed
