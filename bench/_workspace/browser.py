"""Browser mode of the keyboard bench: Debian's Chromium, driven by Playwright against gunicorn."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

from bench._harness import BenchError
from bench._workspace.world import PASSWORD, USERNAME, Key, Run, Seeded, totp_code
from devnet.chromium import CHROMIUM, launch_options

CASE_PATH = re.compile(r"^/cases/(\d+)/$")


def _case_id(url: str) -> int | None:
    match = CASE_PATH.match(urlsplit(url).path)
    return int(match.group(1)) if match else None


def _other_case(old: int) -> Callable[[str], bool]:
    """Whether a URL is the page of a case other than ``old``."""
    return lambda url: _case_id(url) not in (None, old)


def _queue_done(url: str) -> bool:
    """Whether a URL is the queue saying that no case is left."""
    return urlsplit(url).path == "/" and "done=1" in urlsplit(url).query


# Per verdict, from the browser's timings: the request (the verdict's POST, whose answer is the
# next case's page, from the Resource Timing entry of workspace.js's fetch), the swap (parsing that
# answer and putting its body in place of the old one, up to the mark workspace.js sets when the
# case is shown) and, in the bench, the rest. After the last case the queue opens as a page load,
# which has no such parts.
SWAP = """() => {
  const shown = performance.getEntriesByName("scart:case-shown", "mark").pop();
  const fetched = performance.getEntriesByType("resource").filter(e => e.initiatorType === "fetch").pop();
  performance.clearMarks("scart:case-shown");
  performance.clearResourceTimings();
  return shown && fetched ? {
    request: fetched.responseEnd - fetched.startTime,
    swap: shown.startTime - fetched.responseEnd,
    shown: shown.startTime - fetched.startTime,
  } : null;
}"""
SHOWN = """() => [document.querySelector("section.case")?.dataset.case ?? null,
  document.getElementById("case-url")?.textContent ?? null, document.querySelector("p.notice")?.textContent ?? ""]"""


def run_browser(base: str, seeded: Seeded, keys: list[Key], *, timeout: float, say: Callable[[str], None]) -> Run:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise BenchError(f"{CHROMIUM} is missing: run tests/browser/ensure_chromium.sh (as root), or use --server-only")
    run = Run(parts={"request": [], "swap": [], "rest": []})
    with sync_playwright() as playwright:
        # Launched as the browser tests launch it, with the flags that keep it off the network.
        browser = playwright.chromium.launch(**launch_options())
        try:
            run.browser = f"Chromium {browser.version}"
            context = browser.new_context()
            context.set_default_timeout(timeout * 1000)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

            say("logging in (password, then the TOTP code)")
            page.goto(base + "/login/")
            page.fill("input[name='username']", USERNAME)
            page.fill("input[name='password']", PASSWORD)
            page.keyboard.press("Enter")
            page.wait_for_url("**/login/verify/**")
            page.fill("input[name='code']", totp_code(seeded.device_id))
            page.keyboard.press("Enter")
            page.wait_for_url(base + "/")
            if page.locator("#start").count() != 1:
                raise BenchError("the queue has no start button after logging in")

            say(f"classifying {len(keys)} cases by keyboard")
            started = time.perf_counter()
            page.keyboard.press("Enter")
            page.wait_for_url(lambda url: _case_id(url) is not None, wait_until="domcontentloaded")
            run.first_case = time.perf_counter() - started
            current, text, _ = page.evaluate(SHOWN)
            requests: Counter[str] = Counter()
            page.on("request", lambda request: requests.update([request.resource_type]))
            # Playwright reports requests the cache answered too; the DevTools protocol tells them
            # apart: each hop of a redirect is a request sent, a cache hit is one the server never saw.
            sent: list[str] = []
            from_cache: set[str] = set()
            devtools = context.new_cdp_session(page)
            devtools.on("Network.requestWillBeSent", lambda event: sent.append(event["requestId"]))
            devtools.on("Network.requestServedFromCache", lambda event: from_cache.add(event["requestId"]))
            devtools.on(
                "Network.responseReceived",
                lambda event: from_cache.add(event["requestId"]) if event["response"].get("fromDiskCache") else None,
            )
            received: list[int] = []
            devtools.on("Network.loadingFinished", lambda event: received.append(int(event["encodedDataLength"])))
            devtools.send("Network.enable")
            started = time.perf_counter()
            for index, key in enumerate(keys):
                case_id = int(current)
                if text != seeded.urls.get(case_id):
                    raise BenchError(f"case {case_id} shows {text!r}, not its URL")
                run.shown.append((case_id, key))
                # After the last case the queue is empty, unless a backlog waits behind it.
                last = index == len(keys) - 1 and not seeded.backlog
                pressed = time.perf_counter()
                page.keyboard.press(key.key)
                try:
                    page.wait_for_url(_queue_done if last else _other_case(case_id), wait_until="domcontentloaded")
                except PlaywrightError as exc:
                    raise BenchError(f"after {key.key!r} on case {case_id}, no next page ({page.url}): {exc}") from exc
                current, text, notice = page.evaluate(SHOWN)
                run.latencies.append(time.perf_counter() - pressed)
                if last and "No more cases" not in notice:
                    raise BenchError(f"after the last case the queue says {notice!r}, not 'No more cases'")
                if not last and (current is None or int(current) == case_id or not text):
                    raise BenchError(f"after {key.key!r} on case {case_id} the page shows {text!r}")
                timing = page.evaluate(SWAP)
                if timing:
                    for name in ("request", "swap"):
                        run.parts[name].append(timing[name] / 1000)
                    run.parts["rest"].append(max(0.0, run.latencies[-1] - timing["shown"] / 1000))
            run.seconds = time.perf_counter() - started
            run.requests = requests.total()
            run.to_server = sum(1 for request_id in sent if request_id not in from_cache)
            run.request_kinds = dict(requests)
            run.received = sum(received)
            if errors:
                raise BenchError(f"{len(errors)} errors in the browser, first: {errors[0]}")
            context.close()
        finally:
            browser.close()
    return run
