"""python manage.py import_urls: text and CSV, streaming, summary, rejects file."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reports.importer import import_urls
from reports.models import Case, Channel, Report

pytestmark = pytest.mark.django_db


def run(path: Path, *args: str) -> str:
    out = io.StringIO()
    call_command("import_urls", str(path), "--no-progress", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_imports_a_text_file_into_one_report(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text(
        "# exported from a crawler\nhttps://example.com/a\n\nhttps://EXAMPLE.com/a\nhttps://example.net/b\njavascript:x\n"
    )
    output = run(path, "--source", "crawler-7")
    assert "lines: 4  accepted: 3 (new: 2, duplicates: 1)  rejected: 1" in output
    report = Report.objects.get()
    assert report.channel == Channel.BULK_IMPORT and report.source == "crawler-7"
    assert report.url_count == 3 and report.rejected_count == 1
    assert Case.objects.count() == 2
    rejects = list(csv.reader((tmp_path / "urls.txt.rejects.csv").open()))
    assert rejects[0] == ["line", "url", "code", "reason"]
    assert rejects[1][:3] == ["6", "javascript:x", "unsupported_scheme"]


def test_it_imports_csv_with_references_and_descriptions(tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text(
        "url,reference,description\n"
        "https://example.com/1,T-1,forum post\n"
        "https://example.com/2,T-1,forum post\n"
        "https://example.com/3,,\n"
        '"https://example.com/4?a=1,2",T-2,"with, comma"\n'
        'notaurl,T-2,"with, comma"\n'
    )
    output = run(path)
    assert "accepted: 4" in output and "rejected: 1" in output
    by_ref = {r.external_ref: r for r in Report.objects.all()}
    assert set(by_ref) == {"T-1", "", "T-2"}
    assert by_ref["T-1"].description == "forum post" and by_ref["T-1"].url_count == 2
    assert by_ref["T-2"].description == "with, comma"
    assert by_ref["T-2"].cases.get().canonical_url == "https://example.com/4?a=1,2"
    assert by_ref[""].source == "batch.csv"
    rejects = list(csv.reader((tmp_path / "batch.csv.rejects.csv").open()))
    assert rejects[1][0] == "6" and rejects[1][1] == "notaurl"


def test_rejected_lines_that_look_like_formulas_stay_text_in_the_rejects_file(tmp_path):
    path = tmp_path / "urls.txt"
    lines = ['=HYPERLINK("http://evil.example/","open")', "+1+1", "-2-3", "@SUM(A1:A9)", "https://example.com/ok"]
    path.write_text("\n".join(lines) + "\n")
    assert "rejected: 4" in run(path)
    rejects = list(csv.reader((tmp_path / "urls.txt.rejects.csv").open()))[1:]
    assert [row[1] for row in rejects] == [f"'{line}" for line in lines[:4]]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rejects for cell in row)


def test_it_removes_the_rejects_file_when_nothing_was_rejected(tmp_path):
    path = tmp_path / "clean.txt"
    path.write_text("https://example.com/a\n")
    run(path)
    assert not (tmp_path / "clean.txt.rejects.csv").exists()


def test_it_complains_about_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="not a readable file"):
        run(tmp_path / "missing.txt")


def test_it_survives_binary_garbage_and_overlong_lines(tmp_path):
    path = tmp_path / "junk.txt"
    path.write_bytes(b"\xff\xfe\x00garbage\nhttps://example.com/ok\n" + b"x" * 20_000 + b"\n")
    output = run(path)
    assert "accepted: 1" in output and "rejected: 2" in output


def import_peak_memory(path: Path, lines: int, namespace: str) -> tuple[int, int]:
    with path.open("w") as handle:
        for i in range(lines):
            handle.write(f"https://{namespace}{i % 500}.example.com/path/{i}\n")
    tracemalloc.start()
    with path.open() as stream:
        summary = import_urls(stream=stream, fmt="text", source=namespace, on_rejected=lambda *a: None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return summary.new, peak


def test_it_streams_large_files_in_flat_memory(tmp_path):
    """Five times the lines must not take five times the memory: the file is read a chunk at a time."""
    small_new, small_peak = import_peak_memory(tmp_path / "small.txt", 2_000, "small")
    big_new, big_peak = import_peak_memory(tmp_path / "big.txt", 10_000, "big")
    assert (small_new, big_new) == (2_000, 10_000)
    assert Case.objects.count() == 12_000
    assert big_peak < 1.5 * small_peak, (small_peak, big_peak)


def test_it_counts_a_url_repeated_far_apart_in_one_file_once(tmp_path):
    path = tmp_path / "repeats.txt"
    lines = ["https://example.com/again"] + [f"https://example.com/{i}" for i in range(2_500)]
    path.write_text("\n".join([*lines, "https://EXAMPLE.com/again"]) + "\n")
    output = run(path)
    assert "accepted: 2502 (new: 2501, duplicates: 1)" in output
    case = Case.objects.get(canonical_url="https://example.com/again")
    assert case.report_count == 1
    assert case.events.count() == 1
