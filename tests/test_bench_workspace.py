"""The analyst keyboard benchmark (bench/workspace.py) runs: a short in-process run, as a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_it_classifies_five_cases_and_checks_them_in_the_database(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "bench/workspace.py", "--server-only", "--cases", "5", "--json"],
        cwd=ROOT,
        # Its temporary directory goes under tmp_path, so that the test sees it removed.
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert results["figures"]["cases"] == 5
    assert len(results["settings"]["keys"]) == 5
    assert results["check"].startswith("OK: 5 cases, each with exactly one assessment")
    assert "database check      OK: 5 cases" in completed.stdout
    assert "target    PASS" in completed.stdout or "target    MISS" in completed.stdout
    assert list(tmp_path.iterdir()) == []
