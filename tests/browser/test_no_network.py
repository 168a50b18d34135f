"""The browser tests' Chromium stays on loopback: launched as the suite launches it, it makes no
connection to any other address while it loads a page and idles (its background services, DNS
prefetching and own DNS client would ask the machine's resolver about Google's hosts).

Seen from outside: the launch runs Chromium under ``strace -f`` (every process and thread of
it), which records each connect() and sendto() with its address. A Python audit hook would not see
a separate process.

The launch runs in a child Python process: Playwright's sync API refuses to start inside the
asyncio loop the session's shared browser (conftest.py) keeps running in this thread, so a second
`sync_playwright()` here would only work before any test had opened that browser."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devnet.chromium import CHROMIUM, LAUNCH_ARGS, launch_options

IDLE_SECONDS = 4
ADDRESS = re.compile(r'(?:inet_addr\(|inet_pton\(AF_INET6?, )"([0-9a-fA-F.:]+)"')
# Chromium's IPv6 reachability probe: a datagram socket connect()ed to a public address to learn
# which local address would be used. A UDP connect() sends no packet, so it is not traffic.
IPV6_PROBE = "2001:4860:4860::8888"
PROBE_CALL = re.compile(r"\d+\s+connect\(")  # strace -f: the process id, padded, then the call


# Run by a child Python (see the docstring): argv is the Chromium to launch, the page and the seconds
# to idle; it prints the page's HTTP status.
VISIT = """
import sys, time
from playwright.sync_api import sync_playwright
from devnet.chromium import launch_options
executable, url, idle = sys.argv[1], sys.argv[2], float(sys.argv[3])
with sync_playwright() as playwright:
    browser = playwright.chromium.launch(**launch_options(executable_path=executable))
    try:
        response = browser.new_page().goto(url)
        print(response.status if response is not None else 0)
        time.sleep(idle)  # background services start within seconds of launch
    finally:
        browser.close()
"""


def _strace_works() -> bool:
    strace = shutil.which("strace")
    if strace is None:
        return False
    return subprocess.run([strace, "-qq", "-o", "/dev/null", "true"], capture_output=True).returncode == 0


def test_the_launch_turns_off_background_traffic_and_resolves_only_loopback() -> None:
    args = launch_options()["args"]
    for flag in (
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--disable-default-apps",
        "--dns-prefetch-disable",
    ):
        assert flag in args
    assert "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost" in args


@pytest.mark.skipif(not _strace_works(), reason="needs strace allowed to trace its child")
def test_chromium_connects_to_nothing_but_loopback(live_server, tmp_path: Path) -> None:
    trace = tmp_path / "trace"
    wrapper = tmp_path / "chromium"
    wrapper.write_text(f'#!/bin/sh\nexec strace -f -qq -e trace=connect,sendto,sendmsg -o {trace} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    root = Path(__file__).resolve().parents[2]
    visit = subprocess.run(
        [sys.executable, "-c", VISIT, str(wrapper), live_server.url + "/report/", str(IDLE_SECONDS)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    assert visit.returncode == 0, visit.stderr
    assert visit.stdout.split() == ["200"]

    calls = [line for line in trace.read_text().splitlines() if "AF_INET" in line]
    assert any("127.0.0.1" in line for line in calls), "the trace saw no connection at all"
    elsewhere = []
    for line in calls:
        match = ADDRESS.search(line)
        address = match.group(1) if match else line
        if address.startswith("127.") or address == "::1":
            continue
        if address == IPV6_PROBE and PROBE_CALL.match(line):
            continue
        elsewhere.append(line)
    assert elsewhere == [], f"Chromium ({' '.join(LAUNCH_ARGS)}) reached beyond loopback"
