"""Analyst keyboard benchmark: what the workspace adds to each verdict, measured in a real browser.

    .venv/bin/python bench/workspace.py                    # 60 cases, Chromium against gunicorn
    .venv/bin/python bench/workspace.py --server-only      # no browser: Django's test Client in-process
    .venv/bin/python bench/workspace.py --cases 20 --json  # a quick run, also as one JSON object

The issue asks that "an analyst can assess at least 10 cases a minute without the mouse". How long
an analyst looks before deciding is theirs; the software's share is the time from the key press
until the next case is on the screen. At 4 s of decision per case that share must stay under 2 s.

What it does, in order (bench/README.md has the details):

1. makes a temporary directory (``SCART_VAR_DIR``) with a fresh SQLite database, migrates it, and
   creates an analyst with a confirmed TOTP device and ``--cases`` cases awaiting assessment, as
   ``devnet.seed.awaiting_case`` makes them (URLs on example.com/net/org), and ``--backlog``
   more queued behind them, which the run does not touch but the queue's queries must step over;
2. browser mode (the default): starts ``gunicorn scart.wsgi`` as the ``Procfile`` does, with
   ``DEBUG=1`` (static files served by WhiteNoise), and drives Debian's Chromium with Playwright:
   the login form, the code at ``/login/verify/``, Enter on the queue, then one verdict key per case
   (``1``-``4``, ``q w e r t``, ``g``, ``x`` in a realistic mix), timing each from the key press
   until the next case's page has loaded and shows its URL in ``#case-url``;
   ``--server-only``: the same requests through ``django.test.Client`` in this process (POST the
   verdict, GET ``/cases/next/``, GET the case page), timing each cycle;
3. checks in the database that every case has exactly one assessment, by the analyst, with the
   verdict of the key pressed on its page, that each case was shown once and in the queue's order;
4. prints the figures and PASS/MISS for the target, stops the server and deletes the directory.

Nothing leaves 127.0.0.1: the server listens on the loopback interface, the URLs are on reserved
example domains and are never opened (scart shows them as text), and no Celery worker runs.
"""

from __future__ import annotations

import argparse
import html
import logging
import os
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Run as a script (`python bench/workspace.py`): the project root is not on the path yet.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._harness import (
    BenchError,
    bench_main,
    gunicorn,
    host_facts,
    manage,
    percentile,
    print_results,
    print_targets,
    say,
    unwind_on_sigterm,
    var_dir,
)
from devnet.chromium import CHROMIUM, launch_options

USERNAME = "bench-analyst"
PASSWORD = "a long enough bench password 1"  # a throwaway account in a throwaway database
SECRET_KEY = "scart-bench-workspace-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"  # signs sessions of the temporary database only
DOMAINS = ("example.com", "example.net", "example.org")
TARGET_CASES_PER_MINUTE = 10.0
BACKLOG_REPORT = 5_000  # URLs per report filing the backlog
CASE_PATH = re.compile(r"^/cases/(\d+)/$")
# Variables of the caller's environment that would point the bench at another database, broker or
# cache, or change the settings' test mode: the bench runs on its own temporary SQLite database.
FOREIGN = ("DATABASE_URL", "CELERY_BROKER_URL", "SCART_CACHE_URL", "SCART_CACHE_PREFIX", "SCART_DEMO")


@dataclass(frozen=True, slots=True)
class Key:
    key: str
    verdict: str
    category: str = ""
    reason: str = ""  # not_illegal_reason
    weight: int = 1  # share of the mix, in percent


# The verdict keys of the case page (workspace/static/scart/workspace.js) and how often an analyst
# at a hotline might press each: about half of what reaches assessment is illegal, a quarter is
# not (mostly adults), the rest is gone by the time someone looks or cannot be judged. An
# assumption, not a statistic; the software's latency does not depend on the verdict much.
KEYS = (
    Key("1", "illegal", category="A1", weight=12),
    Key("2", "illegal", category="A2", weight=16),
    Key("3", "illegal", category="B1", weight=12),
    Key("4", "illegal", category="B2", weight=15),
    Key("q", "not_illegal", reason="adult", weight=12),
    Key("w", "not_illegal", reason="nudity", weight=4),
    Key("e", "not_illegal", reason="child_non_sexual", weight=4),
    Key("r", "not_illegal", reason="virtual_legal", weight=2),
    Key("t", "not_illegal", reason="other", weight=3),
    Key("g", "gone", weight=15),
    Key("x", "cannot_assess", weight=5),
)


# --- configuration ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the analyst's keyboard flow: software latency per verdict, in Chromium or in-process.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--cases", type=int, default=60, help="cases awaiting assessment, one verdict key each")
    parser.add_argument(
        "--server-only", action="store_true", help="no browser: the same requests through django.test.Client"
    )
    parser.add_argument(
        "--backlog", type=int, default=0, help="more cases awaiting assessment, queued behind those of the run"
    )
    parser.add_argument("--decision", type=float, default=4.0, help="seconds an analyst takes to decide, for the rate")
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn sync workers (the Procfile's default)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for any one page")
    parser.add_argument("--seed", type=int, default=4711, help="seed of the key sequence")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON object")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.web_workers < 1 or args.backlog < 0:
        parser.error("--cases and --web-workers must be positive, --backlog must not be negative")
    if args.decision < 0 or args.timeout <= 0:
        parser.error("--decision must not be negative and --timeout must be positive")
    return args


def environment(var_dir: Path) -> dict[str, str]:
    """The environment of manage.py, gunicorn and this process: `make run`'s defaults (SQLite and
    the filesystem broker, both under ``var_dir``) with DEBUG on, over plain HTTP."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update(
        DJANGO_SETTINGS_MODULE="scart.settings",
        SCART_VAR_DIR=str(var_dir),
        SCART_TESTING="0",
        DEBUG="1",
        SECRET_KEY=SECRET_KEY,
        SCART_HTTPS="0",
        ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        # Playwright's sync API runs an asyncio loop in this thread, and Django then refuses ORM
        # calls from it (see tests/browser/conftest.py); the bench's ORM never meets async code.
        DJANGO_ALLOW_ASYNC_UNSAFE="true",
    )
    return env


def key_sequence(count: int, seed: int) -> list[Key]:
    """``count`` keys in the weighted mix, every key at least once when there are enough cases."""
    rng = random.Random(seed)
    keys = rng.sample(KEYS, min(count, len(KEYS)))
    keys += rng.choices(KEYS, weights=[k.weight for k in KEYS], k=count - len(keys))
    rng.shuffle(keys)
    return keys


# --- the database -----------------------------------------------------------------------------


@dataclass
class Seeded:
    user_id: int
    device_id: int
    urls: dict[int, str]  # case id: URL
    order: list[int]  # case ids in the queue's order
    backlog: int  # cases awaiting assessment behind them


def seed(count: int, backlog: int) -> Seeded:
    """An analyst with a confirmed authenticator, ``count`` cases awaiting assessment and, queued
    behind them (reported later), ``backlog`` more that nobody assesses in the run."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from devnet import seed as world
    from workspace import triage

    user = world.staff_user(USERNAME, "analyst", password=PASSWORD)
    device = TOTPDevice.objects.create(user=user, name="bench", confirmed=True)
    urls = {}
    for i in range(count):
        case = world.awaiting_case(f"https://h{i % 7}.{DOMAINS[i % len(DOMAINS)]}/bench/{i}/page.html")
        urls[case.pk] = case.canonical_url
    for start in range(0, backlog, BACKLOG_REPORT):
        size = min(BACKLOG_REPORT, backlog - start)
        world.awaiting_cases(
            [f"https://b{i % 997}.{DOMAINS[i % len(DOMAINS)]}/backlog/{i}.html" for i in range(start, start + size)]
        )
    order = list(triage.queue_cases(filters=triage.QueueFilters()).values_list("pk", flat=True)[:count])
    if set(order) != set(urls):
        raise BenchError("the backlog sorts before the cases of the run")
    return Seeded(user_id=user.pk, device_id=device.pk, urls=urls, order=order, backlog=backlog)


def totp_code(device_id: int) -> str:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(pk=device_id)
    return f"{TOTP(device.bin_key, step=device.step, digits=device.digits).token():0{device.digits}d}"


def database_check(seeded: Seeded, shown: list[tuple[int, Key]]) -> str:
    """Raises BenchError unless every case has exactly one assessment with the verdict of the key
    pressed on its page, by the analyst, and the case's state follows it; returns the check line."""
    from reports.assessment import STATE_OF_VERDICT
    from reports.models import Assessment, AssessmentSource, Case, Verdict

    problems = []
    ids = [case_id for case_id, _ in shown]
    if ids != seeded.order:
        problems.append(f"cases shown {ids[:10]}... are not the queue's order {seeded.order[:10]}...")
    expected = dict(shown)
    rows = Assessment.objects.values_list(
        "case_id", "analyst_id", "source", "verdict", "category", "not_illegal_reason"
    )
    per_case: dict[int, list[tuple[Any, ...]]] = {}
    for case_id, *rest in rows:
        per_case.setdefault(case_id, []).append(tuple(rest))
    states = dict(Case.objects.values_list("pk", "state"))
    for case_id in seeded.urls:
        key = expected.get(case_id)
        got = per_case.get(case_id, [])
        if key is None:
            problems.append(f"case {case_id} was never shown")
        elif len(got) != 1:
            problems.append(f"case {case_id} has {len(got)} assessments")
        elif got[0] != (seeded.user_id, AssessmentSource.ANALYST, key.verdict, key.category, key.reason):
            problems.append(f"case {case_id}: key {key.key!r} but assessment {got[0]}")
        elif states[case_id] != STATE_OF_VERDICT[Verdict(key.verdict)]:
            problems.append(f"case {case_id} is {states[case_id]} after {key.verdict}")
    if set(per_case) - set(seeded.urls):
        problems.append(f"assessments of unknown cases {sorted(set(per_case) - set(seeded.urls))}")
    if problems:
        raise BenchError(f"database check failed ({len(problems)} problems): " + "; ".join(problems[:5]))
    verdicts = Counter(key.verdict for _, key in shown)
    mix = ", ".join(f"{verdicts[v]} {v}" for v in Verdict.values if verdicts[v])
    return (
        f"OK: {len(seeded.urls)} cases, each with exactly one assessment by the analyst with the verdict "
        f"of its key ({mix}; {len({k.key for _, k in shown})} different keys), shown once each in queue order"
    )


# --- browser mode -----------------------------------------------------------------------------


@dataclass
class Run:
    """What one run measured: per case, seconds from the key press to the next page."""

    latencies: list[float] = field(default_factory=list)
    shown: list[tuple[int, Key]] = field(default_factory=list)  # (case id, key pressed on its page)
    seconds: float = 0.0  # wall time from the first key press to the last page
    first_case: float = 0.0  # seconds from Enter on the queue to the first case
    parts: dict[str, list[float]] = field(default_factory=dict)  # a breakdown of each latency
    requests: int = 0  # HTTP requests made during the verdicts
    request_kinds: dict[str, int] = field(default_factory=dict)  # by kind: document, stylesheet...
    browser: str = ""


def _case_id(url: str) -> int | None:
    match = CASE_PATH.match(urlsplit(url).path)
    return int(match.group(1)) if match else None


def _other_case(old: int) -> Callable[[str], bool]:
    """Whether a URL is the page of a case other than ``old``."""
    return lambda url: _case_id(url) not in (None, old)


def _queue_done(url: str) -> bool:
    """Whether a URL is the queue saying that no case is left."""
    return urlsplit(url).path == "/" and "done=1" in urlsplit(url).query


# Per page, from the browser's Navigation Timing entry: the redirects (the POST of the verdict and
# /cases/next/), the case page's response, and parsing up to DOMContentLoaded (the key handlers
# are wired then: workspace.js is a synchronous script at the end of the body).
NAVIGATION = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return n ? {
    redirects: n.redirectEnd - n.redirectStart,
    response: n.responseEnd - (n.redirectEnd || n.fetchStart),
    dom: n.domContentLoadedEventEnd - n.responseEnd,
    navigation: n.domContentLoadedEventEnd,
  } : null;
}"""
SHOWN = """() => [document.querySelector("section.case")?.dataset.case ?? null,
  document.getElementById("case-url")?.textContent ?? null, document.querySelector("p.notice")?.textContent ?? ""]"""


def run_browser(base: str, seeded: Seeded, keys: list[Key], *, timeout: float, say: Callable[[str], None]) -> Run:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        raise BenchError(f"{CHROMIUM} is missing: run tests/browser/ensure_chromium.sh (as root), or use --server-only")
    run = Run(parts={"redirects": [], "response": [], "dom": [], "rest": []})
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
                timing = page.evaluate(NAVIGATION)
                if timing:
                    for name in ("redirects", "response", "dom"):
                        run.parts[name].append(timing[name] / 1000)
                    run.parts["rest"].append(max(0.0, run.latencies[-1] - timing["navigation"] / 1000))
            run.seconds = time.perf_counter() - started
            run.requests = requests.total()
            run.request_kinds = dict(requests)
            if errors:
                raise BenchError(f"{len(errors)} errors in the browser, first: {errors[0]}")
            context.close()
        finally:
            browser.close()
    return run


# --- server-only mode -------------------------------------------------------------------------


def assess_fields(key: Key) -> dict[str, str]:
    """What the case page's form posts for ``key``: the sticky fields at their first choice, as in
    a fresh browser, the verdict's own fields set by workspace.js, unticked boxes left out."""
    from reports.models import LegalBasis, MediaType

    return {
        "query": "",
        "verdict": key.verdict,
        "suggestion": "",
        "legal_basis": LegalBasis.values[0],
        "category": key.category,
        "age_group": "",
        "media_type": MediaType.values[0],
        "ai_generated": "unknown",
        "police_reason": "",
        "not_illegal_reason": key.reason,
        "notes": "",
    }


def _expect(response: Any, status: int, what: str) -> Any:
    if response.status_code != status:
        raise BenchError(f"{what}: {response.status_code} instead of {status}")
    return response


def _shown(response: Any) -> tuple[int, str]:
    body = response.content.decode()
    case = re.search(r'data-case="(\d+)"', body)
    url = re.search(r'<code id="case-url"[^>]*>(.*?)</code>', body, re.S)
    if not case or not url:
        raise BenchError("the case page has no case number or no #case-url")
    return int(case.group(1)), html.unescape(url.group(1))


def run_client(seeded: Seeded, keys: list[Key], *, say: Callable[[str], None]) -> Run:
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    say("logging in (password, then the TOTP code)")
    response = _expect(client.post("/login/", {"username": USERNAME, "password": PASSWORD}), 302, "login")
    if "/login/verify/" not in response["Location"]:
        raise BenchError(f"login redirects to {response['Location']}, not the code")
    _expect(client.post("/login/verify/", {"code": totp_code(seeded.device_id), "next": "/"}), 302, "login code")
    if 'id="start"' not in _expect(client.get("/"), 200, "the queue").content.decode():
        raise BenchError("the queue has no start button after logging in")

    say(f"classifying {len(keys)} cases")
    run = Run(parts={"assess": [], "next": [], "page": []}, browser="none")
    started = time.perf_counter()
    next_ = _expect(client.get("/cases/next/"), 302, "/cases/next/")
    case_id, text = _shown(_expect(client.get(next_["Location"]), 200, "the first case"))
    run.first_case = time.perf_counter() - started
    started = time.perf_counter()
    for index, key in enumerate(keys):
        if text != seeded.urls.get(case_id):
            raise BenchError(f"case {case_id} shows {text!r}, not its URL")
        run.shown.append((case_id, key))
        t0 = time.perf_counter()
        assessed = _expect(client.post(f"/cases/{case_id}/assess/", assess_fields(key)), 302, f"verdict on {case_id}")
        t1 = time.perf_counter()
        next_ = _expect(client.get(assessed["Location"]), 302, "/cases/next/")
        t2 = time.perf_counter()
        shown = _expect(client.get(next_["Location"]), 200, next_["Location"])
        t3 = time.perf_counter()
        run.latencies.append(t3 - t0)
        run.parts["assess"].append(t1 - t0)
        run.parts["next"].append(t2 - t1)
        run.parts["page"].append(t3 - t2)
        if index == len(keys) - 1 and not seeded.backlog:
            if "No more cases" not in shown.content.decode():
                raise BenchError(f"after the last case {next_['Location']} does not say 'No more cases'")
        else:
            old = case_id
            case_id, text = _shown(shown)
            if case_id == old:
                raise BenchError(f"after {key.key!r} on case {old} the same case opened again")
        run.requests += 3
    run.request_kinds = {"document": run.requests}
    run.seconds = time.perf_counter() - started
    return run


# --- figures ----------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def figures(run: Run, *, decision: float) -> dict[str, Any]:
    lat = run.latencies
    mean = sum(lat) / len(lat)
    p95 = percentile(lat, 95)
    return {
        "cases": len(lat),
        "seconds": round(run.seconds, 2),
        "first_case_ms": ms(run.first_case),
        "mean_ms": ms(mean),
        "p50_ms": ms(percentile(lat, 50)),
        "p95_ms": ms(p95),
        "max_ms": ms(max(lat)),
        "requests_per_case": round(run.requests / len(lat), 1),
        "requests_by_kind": run.request_kinds,
        "per_minute_no_decision": round(60 / mean, 1),
        "per_minute_with_decision": round(60 / (decision + mean), 2),
        "per_minute_with_decision_p95": round(60 / (decision + p95), 2),
        "parts_p50_ms": {name: ms(percentile(values, 50)) for name, values in run.parts.items() if values},
        "parts_p95_ms": {name: ms(percentile(values, 95)) for name, values in run.parts.items() if values},
    }


def print_summary(results: dict[str, Any]) -> None:
    m, f, cfg = results["machine"], results["figures"], results["settings"]
    line = "-" * 78
    print()
    print(line)
    print(f"machine   {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Django {m['django']}, load {m['load']}")
    print(
        f"settings  mode: {cfg['mode']}, browser: {cfg['browser']}, server: {cfg['server']}, "
        f"SQLite, DEBUG=1, backlog: {cfg['backlog']:,} cases, seed: {cfg['seed']}"
    )
    print(line)
    parts = "  ".join(
        f"{name} {f['parts_p50_ms'][name]:.0f}/{f['parts_p95_ms'][name]:.0f}" for name in f["parts_p50_ms"]
    )
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(f["requests_by_kind"].items()))
    rows = [
        ("cases", f"{f['cases']} verdicts by key in {f['seconds']:.1f} s"),
        ("requests", f"{f['requests_per_case']:g} per verdict ({kinds} in all)"),
        ("first case", f"{f['first_case_ms']:.0f} ms from Enter on the queue"),
        (
            "per verdict",
            "p50 {p50_ms:.0f} ms  p95 {p95_ms:.0f} ms  max {max_ms:.0f} ms  mean {mean_ms:.0f} ms".format(**f),
        ),
        ("  of which p50/p95", f"{parts} (ms)"),
        ("0 s decision", f"{f['per_minute_no_decision']:.1f} cases/min (60 s / mean latency): the software's ceiling"),
        (
            f"{cfg['decision']:g} s decision",
            f"{f['per_minute_with_decision']:.2f} cases/min with the mean latency, "
            f"{f['per_minute_with_decision_p95']:.2f} with the p95",
        ),
        ("database check", results["check"]),
    ]
    for name, value in rows:
        print(f"{name:<20}{value}")
    print(line)
    print_targets(results["targets"], line)


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    unwind_on_sigterm()
    with var_dir("workspace") as var:
        return run(args, var_dir=var)


def run(args: argparse.Namespace, *, var_dir: Path) -> int:

    env = environment(var_dir)
    for name in FOREIGN:
        os.environ.pop(name, None)
    os.environ.update(env)
    import django

    django.setup()
    say(f"migrating a fresh SQLite database in {var_dir}")
    manage(env, "migrate", "--noinput")
    # Filing the cases enqueues their resolution on the filesystem broker, which warns each time
    # that it has no host name; nothing consumes those messages.
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)
    say(f"creating an analyst and {args.cases} cases awaiting assessment (and a backlog of {args.backlog:,})")
    seeded = seed(args.cases, args.backlog)
    keys = key_sequence(args.cases, args.seed)
    if args.server_only:
        result = run_client(seeded, keys, say=say)
        server = "in-process (django.test.Client)"
    else:
        say(f"starting gunicorn with {args.web_workers} workers")
        with gunicorn(env, workers=args.web_workers, log_path=var_dir / "gunicorn.log", timeout=args.timeout) as base:
            result = run_browser(base, seeded, keys, timeout=args.timeout, say=say)
        server = f"gunicorn, {args.web_workers} sync workers"
    check = database_check(seeded, result.shown)
    f = figures(result, decision=args.decision)
    budget = 60 / TARGET_CASES_PER_MINUTE - args.decision
    results: dict[str, Any] = {
        "machine": host_facts(),
        "settings": {
            "mode": "server-only" if args.server_only else "browser",
            "browser": result.browser,
            "server": server,
            "decision": args.decision,
            "seed": args.seed,
            "backlog": args.backlog,
            "keys": "".join(k.key for k in keys),
        },
        "figures": f,
        "check": check,
        "targets": [
            (
                f">= {TARGET_CASES_PER_MINUTE:g} cases/min with a {args.decision:g} s decision "
                f"(latency p95 <= {budget * 1000:.0f} ms)",
                f["per_minute_with_decision_p95"] >= TARGET_CASES_PER_MINUTE,
                f"p95 {f['p95_ms']:.0f} ms, so {f['per_minute_with_decision_p95']:.2f} cases/min",
            )
        ],
    }
    print_results(results, print_summary, as_json=args.json)
    return 0


if __name__ == "__main__":
    bench_main(main)
