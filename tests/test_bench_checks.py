"""The availability-check benchmark (bench/checks.py) runs: a small run, as a script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_it_checks_a_few_hundred_urls_without_exceeding_the_per_host_limit() -> None:
    completed = subprocess.run(
        [
            sys.executable, "bench/checks.py", "--checks", "300", "--hosts", "60", "--hot-hosts", "2",
            "--hot-share", "0.3", "--latency", "0.05", "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = json.loads(completed.stdout.strip().splitlines()[-1])
    assert figures["checks"] == 300
    assert figures["mismatches"] == 0
    per_host = figures["per_host"]
    assert per_host["limit"] == 4
    assert 1 <= per_host["peak"] <= per_host["limit"]
    assert all(peak <= per_host["limit"] for peak in per_host["hot"].values())
    assert per_host["pass"] is True
    assert figures["concurrency"]["peak"] <= figures["concurrency"]["limit"]
    assert "per-host peak       " in completed.stdout
    assert "(limit 4): PASS" in completed.stdout
    assert "checks/s" in completed.stdout
