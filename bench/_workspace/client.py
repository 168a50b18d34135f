"""Server-only mode of the keyboard bench: the same requests through Django's test client, in-process."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any

from bench._harness import BenchError, SqlTally
from bench._workspace.world import PASSWORD, USERNAME, Key, Run, Seeded, totp_code


def assess_fields(key: Key) -> dict[str, str]:
    """What the case page's form posts for ``key``: the sticky fields at their first choice, as in
    a fresh browser, the verdict's own fields and ``show=next`` (the next case's page in the
    answer) set by workspace.js, unticked boxes left out."""
    from reports.models import LegalBasis, MediaType

    return {
        "query": "",
        "verdict": key.verdict,
        "suggestion": "",
        "show": "next",
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
    from django.db import connection
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
    run = Run(parts={"verdict": [], "queue": []}, browser="none")
    started = time.perf_counter()
    next_ = _expect(client.get("/cases/next/"), 302, "/cases/next/")
    case_id, text = _shown(_expect(client.get(next_["Location"]), 200, "the first case"))
    run.first_case = time.perf_counter() - started
    started = time.perf_counter()
    for index, key in enumerate(keys):
        if text != seeded.urls.get(case_id):
            raise BenchError(f"case {case_id} shows {text!r}, not its URL")
        run.shown.append((case_id, key))
        last = index == len(keys) - 1 and not seeded.backlog
        t0 = time.perf_counter()
        # The verdict's answer is the next case's page, or a redirect to the queue when none is left.
        tally = SqlTally()
        with connection.execute_wrapper(tally):
            answer = client.post(f"/cases/{case_id}/assess/", assess_fields(key))
        t1 = time.perf_counter()
        shown = _expect(answer, 302 if last else 200, f"verdict on {case_id}")
        run.received += len(shown.content)
        if not last:
            run.statements.append(tally.statements)
        run.parts["verdict"].append(t1 - t0)
        if last:
            location = shown["Location"]
            shown = _expect(client.get(location), 200, location)
            run.received += len(shown.content)
            run.parts["queue"].append(time.perf_counter() - t1)
            run.requests += 1
            if "No more cases" not in shown.content.decode():
                raise BenchError(f"after the last case {location} does not say 'No more cases'")
        else:
            old = case_id
            case_id, text = _shown(shown)
            if case_id == old:
                raise BenchError(f"after {key.key!r} on case {old} the same case opened again")
        run.latencies.append(time.perf_counter() - t0)
        run.requests += 1
    run.to_server = run.requests
    run.request_kinds = {"document": run.requests}
    run.seconds = time.perf_counter() - started
    return run
