"""The notice benchmark (bench/notices.py) runs: a small run on SQLite, as a script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_it_routes_batches_and_sends_300_cases_and_checks_every_message(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "bench/notices.py", "--sqlite", "--cases", "300", "--providers", "20", "--json"],
        cwd=ROOT,
        # Its temporary directory goes under tmp_path, so that the test sees it removed.
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    figures, database, mail = results["figures"], results["database"], results["mail"]
    mix = results["settings"]["route_mix"]
    assert (figures["cases"], figures["providers"]) == (300, 20)
    assert sum(mix.values()) == 300
    # One recipient per case, two (provider and police) where no partner hotline works.
    assert database["notice_cases"] == mail["pairs"] == mail["xarf_reports"] == 300 + mix["provider_and_police"]
    assert figures["notices"] == figures["messages"] == database["notices_by_state"]["sent"] > 0
    assert database["cases_notified"] == 300
    assert results["check"].startswith("OK: ")
    assert figures["seconds"] == pytest.approx(figures["plan_seconds"] + figures["send_seconds"], abs=0.02)
    assert "check               OK: " in completed.stdout
    assert "target    PASS" in completed.stdout or "target    MISS" in completed.stdout
    assert list(tmp_path.iterdir()) == []


def test_it_sends_on_a_mix_of_channels_and_reports_each(tmp_path: Path) -> None:
    mix = "batched_mail=50,xarf_per_message=30,manual=20"
    completed = subprocess.run(
        [
            sys.executable,
            "bench/notices.py",
            "--sqlite",
            "--cases",
            "200",
            "--providers",
            "20",
            "--json",
            "--channels",
            mix,
        ],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    channels = results["database"]["channels"]
    assert set(channels) == {"batched_mail", "xarf_per_message", "manual"}
    # One message per URL on the per-report channel; nothing sent on the manual one.
    per_report = channels["xarf_per_message"]
    assert per_report["parts"] == per_report["urls"] == per_report["messages"] > 0
    assert channels["manual"]["states"] == {"by_hand": channels["manual"]["notices"]}
    assert channels["manual"]["parts"] == 0 and "messages" not in channels["manual"]
    assert results["check"].startswith("OK: ")
    assert "  xarf_per_message" in completed.stdout


def test_it_reports_to_the_local_abuse_api_and_counts_its_requests(tmp_path: Path) -> None:
    mix = "batched_mail=50,provider_api=50"
    completed = subprocess.run(
        [
            sys.executable,
            "bench/notices.py",
            "--sqlite",
            "--cases",
            "200",
            "--providers",
            "20",
            "--json",
            "--channels",
            mix,
        ],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert completed.returncode == 0, completed.stderr[-3000:]
    results = json.loads(completed.stdout.strip().splitlines()[-1])
    api_channel = results["database"]["channels"]["provider_api"]
    api = api_channel["api"]
    # One report per part (a hostname's URLs), every URL once, nothing retried against a healthy API.
    assert api["reports"] == api_channel["parts"] == api_channel["notices"] > 0
    assert api["urls"] == api_channel["urls"] and api["retries"] == 0
    assert api["requests"] == api["submissions"] == api["reports"]
    assert "abuse API: " in completed.stdout and results["check"].startswith("OK: ")
