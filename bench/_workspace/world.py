"""The keyboard bench's world: the verdict keys and their mix, an analyst with a confirmed
authenticator and the cases awaiting assessment (made through `devnet.seed`), what a run measured,
and the check of the database afterwards."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench._harness import BenchError
from bench._world import analyst

USERNAME = "bench-analyst"
PASSWORD = "a long enough bench password 1"  # a throwaway account in a throwaway database
DOMAINS = ("example.com", "example.net", "example.org")
BACKLOG_REPORT = 5_000  # URLs per report filing the backlog


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
    from devnet import seed as world
    from workspace import triage

    user, device = analyst(USERNAME, PASSWORD)
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

    from accounts.devices import StaffDevice

    device = StaffDevice.objects.get(pk=device_id)
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
    requests: int = 0  # HTTP requests made during the verdicts (the browser's cache hits included)
    to_server: int = 0  # of those, the ones that reached the server (the rest came from the cache)
    request_kinds: dict[str, int] = field(default_factory=dict)  # by kind: document, stylesheet...
    received: int = 0  # bytes from the server during the verdicts (browser: on the wire, headers included)
    statements: list[int] = field(default_factory=list)  # SQL statements per verdict (in-process only)
    browser: str = ""
