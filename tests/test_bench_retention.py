"""The retention benchmark (bench/retention.py) runs: a small world on SQLite, as a script; the
statistics are identical before and after its run, and a second run finds nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_it_runs_the_rules_over_1500_cases_and_the_statistics_stay(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "bench/retention.py", "--sqlite", "--cases", "1500", "--json"],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert results["fill"]["cases"] == results["tables"]["cases"] == 1500
    assert results["statistics"]["identical"] and results["statistics"]["figures"] > 60
    assert results["run"]["rows"] > 0 and results["again"]["rows"] == 0
    steps = {(s["rule"], s["step"]): s["rows"] for s in results["run"]["steps"]}
    assert steps[("closed_case_urls", "reports_case.canonical_url, original_url")] > 0
    assert steps[("reporter_contact", "reports_report.source")] > 0
    assert "target    PASS  statistics identical" in completed.stdout
    assert list(tmp_path.iterdir()) == []
