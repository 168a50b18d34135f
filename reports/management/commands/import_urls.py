"""python manage.py import_urls FILE [--source NAME]: bulk import with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from reports.importer import Row, detect_format, import_urls, open_text
from scart.spreadsheets import SafeWriter


class Command(BaseCommand):
    help = (
        "Import reported URLs from a file: plain text (one URL a line) or CSV (url[,reference[,description]]). "
        "Rejected lines are written with their reasons to FILE.rejects.csv (or --rejects)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--source", default="", help="where the file came from (default: its name)")
        parser.add_argument("--format", choices=["text", "csv"], help="default: by extension (.csv or text)")
        parser.add_argument("--rejects", type=Path, help="where to write rejected lines")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a readable file")
        rejects_path: Path = options["rejects"] or path.with_name(path.name + ".rejects.csv")
        fmt = options["format"] or detect_format(path)
        size = path.stat().st_size
        with (
            open_text(path) as stream,
            rejects_path.open("w", newline="", encoding="utf-8") as rejects_file,
            tqdm(  # type: ignore[call-overload]
                total=size,
                unit="B",
                unit_scale=True,
                desc=path.name,
                disable=options["no_progress"],
                file=self.stderr._out,
            ) as bar,
        ):
            # Rejected lines are whatever the file held: a line "=HYPERLINK(...)" must stay text
            # when someone opens the rejects in a spreadsheet.
            rejects = SafeWriter(rejects_file)
            rejects.writerow(["line", "url", "code", "reason"])

            def on_rejected(row: Row, code: str, reason: str) -> None:
                rejects.writerow([row.line, row.url, code, reason])

            def on_progress(lines: int) -> None:
                position = stream.buffer.tell() if hasattr(stream, "buffer") else 0
                bar.update(max(0, min(position, size) - bar.n))

            summary = import_urls(
                stream=stream,
                fmt=fmt,
                source=options["source"] or path.name,
                on_rejected=on_rejected,
                on_progress=on_progress,
            )
            bar.update(size - bar.n)
        self.stdout.write(
            f"lines: {summary.lines}  accepted: {summary.accepted} (new: {summary.new}, "
            f"duplicates: {summary.duplicates})  rejected: {summary.rejected}"
        )
        more = " …" if summary.reports > len(summary.first_references) else ""
        self.stdout.write(f"reports: {summary.reports} ({', '.join(summary.first_references)}{more})")
        if summary.rejected:
            self.stdout.write(f"rejected lines and reasons: {rejects_path}")
        else:
            rejects_path.unlink()
