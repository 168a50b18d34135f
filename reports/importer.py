"""Bulk import of URLs from a file, streamed: a million-line file is never held in memory.

Plain text has one URL per line (blank lines and lines starting with ``#`` are skipped). CSV has
``url[,reference[,description]]`` per row, with an optional header row. URLs without a reference
go into one report for the file; consecutive rows with the same reference and description share a
report of their own, so a partner's references survive the import.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from django.db import transaction

from reports.models import Channel, Report
from reports.services import new_report_reference, report_add_urls

CHUNK = 1000
MAX_LINE = 10_000
SHOWN_REFERENCES = 5  # characters; a longer "line" is a binary file or a broken export


@dataclass(slots=True)
class ImportSummary:
    lines: int = 0
    accepted: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    reports: int = 0
    # The first few report references, to show; a file with a reference per row has a report per row.
    first_references: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    url: str
    reference: str = ""
    description: str = ""


def _text_rows(stream: IO[str]) -> Iterator[Row]:
    for number, line in enumerate(stream, start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield Row(number, text)


def _csv_rows(stream: IO[str]) -> Iterator[Row]:
    reader = csv.reader(stream)
    for row in reader:
        if not row or not row[0].strip():
            continue
        if reader.line_num == 1 and row[0].strip().lower() == "url":
            continue
        yield Row(
            reader.line_num,
            row[0].strip(),
            row[1].strip() if len(row) > 1 else "",
            row[2].strip() if len(row) > 2 else "",
        )


def detect_format(path: Path) -> str:
    return "csv" if path.suffix.lower() == ".csv" else "text"


def import_urls(
    *,
    stream: IO[str],
    fmt: str,
    source: str,
    on_rejected: Callable[[Row, str, str], None],
    on_progress: Callable[[int], None] = lambda lines: None,
) -> ImportSummary:
    """Read rows from ``stream`` and file them as bulk-import reports, a transaction per chunk.

    Each rejected row is passed to ``on_rejected(row, code, reason)``; ``on_progress`` gets the
    number of rows handled after each chunk. A crash part-way keeps every chunk already committed.
    """
    rows = _csv_rows(stream) if fmt == "csv" else _text_rows(stream)
    summary = ImportSummary()
    file_report: list[Report] = []  # the report for rows without a reference, made when first needed
    grouped: list[tuple[tuple[str, str], Report]] = []  # the latest referenced group and its report
    batch: list[Row] = []

    def new_report(reference: str = "", description: str = "") -> Report:
        report = _new_report(source=source, reference=reference, description=description)
        summary.reports += 1
        if len(summary.first_references) < SHOWN_REFERENCES:
            summary.first_references.append(report.reference)
        return report

    def report_for(key: tuple[str, str]) -> Report:
        if key == ("", ""):
            if not file_report:
                file_report.append(new_report())
            return file_report[0]
        if not grouped or grouped[0][0] != key:
            grouped[:] = [(key, new_report(*key))]
        return grouped[0][1]

    def flush() -> None:
        with transaction.atomic():
            start = 0
            while start < len(batch):
                key = (batch[start].reference, batch[start].description)
                end = start
                while end < len(batch) and (batch[end].reference, batch[end].description) == key:
                    end += 1
                group = batch[start:end]
                report = report_for(key)
                # URLs the report holds so far (kept current by report_add_urls) number the next ones.
                first_index = report.url_count + report.rejected_count
                result = report_add_urls(report=report, urls=[r.url for r in group], first_index=first_index)
                summary.accepted += len(result.accepted)
                summary.new += result.new_count
                summary.duplicates += result.duplicate_count
                summary.rejected += len(result.rejected)
                for rejected in result.rejected:
                    on_rejected(group[rejected.index - first_index], rejected.code, rejected.reason)
                start = end
        summary.lines += len(batch)
        on_progress(summary.lines)
        batch.clear()

    for row in rows:
        if len(row.url) > MAX_LINE:
            summary.lines += 1
            summary.rejected += 1
            on_rejected(Row(row.line, row.url[:200] + "…"), "too_long", f"line is over {MAX_LINE} characters")
            continue
        batch.append(row)
        if len(batch) >= CHUNK:
            flush()
    if batch:
        flush()
    return summary


def _new_report(*, source: str, reference: str = "", description: str = "") -> Report:
    return Report.objects.create(
        reference=new_report_reference(),
        channel=Channel.BULK_IMPORT,
        source=source,
        external_ref=reference[:200],
        description=description,
    )


def open_text(path: Path) -> IO[str]:
    """Open a file for streaming as UTF-8 (a BOM is dropped; undecodable bytes become U+FFFD)."""
    return open(path, encoding="utf-8-sig", errors="replace", newline="")
