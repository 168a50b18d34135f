"""The search benchmark (bench/search.py) runs: a small run on SQLite, as a script, timing every
form of query on cases seeded in the shapes intake makes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_it_times_every_form_of_search_over_600_cases(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "bench/search.py", "--sqlite", "--cases", "600", "--runs", "2", "--json"],
        cwd=ROOT,
        # Its temporary directory goes under tmp_path, so that the test sees it removed.
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    assert results["fill"]["cases"] == 600 and results["fill"]["addresses"] >= 600
    assert results["fill"]["reports"] > 0 and results["fill"]["notices"] > 0
    forms = results["forms"]
    for form in ("url exact", "host", "domain", "ip", "network /24", "asn", "report reference", "notice reference"):
        assert forms[form]["p50_ms"] > 0 and forms[form]["p95_ms"] >= forms[form]["p50_ms"], form
        assert forms[form]["found_median"] >= 1, form  # each query names something that is there
        assert f"\n{form:<24}" in completed.stdout
    assert {name for name, _, _ in results["targets"]} == {f"search {form}" for form in forms if "list" not in form}
    assert list(tmp_path.iterdir()) == []
