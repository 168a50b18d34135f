"""The statistics benchmark (bench/stats.py) runs: a small run on SQLite, as a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from stats.dashboard import QUERIES

ROOT = Path(__file__).resolve().parent.parent


def test_it_times_every_dashboard_query_and_the_page_over_2000_cases(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "bench/stats.py", "--sqlite", "--cases", "2000", "--runs", "1", "--json"],
        cwd=ROOT,
        # Its temporary directory goes under tmp_path, so that the test sees it removed.
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert results["fill"]["cases"] == results["database"]["timings"] == 2000
    assert set(results["queries"]) == set(QUERIES)
    for name, figures in results["queries"].items():
        assert figures["median_ms"] > 0 and figures["statements"] >= 1, name
        assert f"\n{name:<20}" in completed.stdout
    assert results["pages"]["dashboard"]["median_ms"] > 0
    assert {name for name, _, _ in results["targets"]} == {*(f"query {q}" for q in QUERIES), "whole dashboard"}
    assert (
        "target    PASS  whole dashboard" in completed.stdout or "target    MISS  whole dashboard" in completed.stdout
    )
    assert list(tmp_path.iterdir()) == []
