"""The notice bench's SMTP peer, in a process of its own, and the check of what it received."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

from bench._harness import BenchError
from bench._notices.world import World
from bench._world import serve


def serve_smtp(conn: Connection) -> None:
    """Body of the SMTP peer process: a ``FakeSMTP`` until told to stop.

    ``FakeSMTP`` keeps each message's bytes when it answers 250, as a real MTA queues a message
    rather than parsing it; `digest` parses them after the clock, for the checks. (Until
    2026-11-21 it parsed every message before answering: 41 s of this process's CPU during the
    timed sending, competing with scart for the two cores.) The peer keeps the time spent
    answering DATA, so that the bench can say how much of the sending time was the peer's.
    Running it outside the bench process keeps its work from competing with scart for the GIL.
    Commands on ``conn``: "digest" answers (one digest per message received, seconds spent
    answering DATA, CPU seconds of this process so far); "stop" ends the process.
    """
    from devnet import smtp as fakesmtp

    answering = [0.0]
    handle_data = fakesmtp._Handler.handle_DATA

    async def timed(self: Any, server: Any, session: Any, envelope: Any) -> str:
        started = time.perf_counter()
        try:
            return await handle_data(self, server, session, envelope)
        finally:
            answering[0] += time.perf_counter() - started

    fakesmtp._Handler.handle_DATA = timed  # type: ignore[method-assign]

    def digests() -> tuple[list[dict[str, Any]], float, float]:
        cpu = time.process_time()
        with smtp.lock:
            messages = list(smtp.messages)
        return [digest(m) for m in messages], answering[0], cpu

    with fakesmtp.FakeSMTP() as smtp:
        serve(conn, f"{smtp.host}:{smtp.port}", {"digest": digests})


def digest(captured: Any) -> dict[str, Any]:
    """What the checks need of one received message: its recipients, reference, language, size,
    the URLs of its CSV and those of its X-ARF reports."""
    message = captured.message
    csv_urls: list[str] = []
    xarf_urls: list[str] = []
    for part in message.iter_attachments():
        filename = part.get_filename() or ""
        if filename.endswith(".csv"):
            csv_urls += [row["url"] for row in csv.DictReader(io.StringIO(part.get_content()))]
        elif filename.endswith(".xarf.json"):
            xarf_urls.append(json.loads(part.get_content())["url"])
    if not csv_urls:
        csv_urls = list(xarf_urls)  # one X-ARF report per message: no CSV, the report names the URL
    return {
        "to": sorted(address.lower() for address in captured.rcpt_tos),
        "reference": str(message["X-Scart-Reference"] or ""),
        "message_id": str(message["Message-ID"] or ""),
        "language": str(message["Content-Language"] or ""),
        "bytes": len(captured.raw),
        "urls": csv_urls,
        "xarf_urls": xarf_urls,
    }


def check_messages(world: World, digests: list[dict[str, Any]], *, notices: int) -> dict[str, Any]:
    """Every (recipient, URL) pair the routing calls for in exactly one message: none twice, none
    missing, none unexpected. ``notices``: the messages the database says went (parts sent by mail)."""
    from reports.urls import normalise_url

    expected: Counter[tuple[str, str]] = Counter()
    for case in world.cases:
        url = normalise_url(case.url).canonical
        for address in world.mailed(case):
            expected[(address, url)] += 1
    received: Counter[tuple[str, str]] = Counter()
    problems = []
    for d in digests:
        if Counter(d["urls"]) != Counter(d["xarf_urls"]):
            problems.append(f"{d['reference']}: the CSV and the X-ARF reports name different URLs")
        for address in d["to"]:
            received.update((address, url) for url in d["urls"])
    twice = sum(1 for n in received.values() if n > 1)
    missing = sum(1 for pair in expected if pair not in received)
    unexpected = sum(1 for pair in received if pair not in expected)
    message_ids = Counter(d["message_id"] for d in digests)
    if len(digests) != notices:
        problems.append(f"{len(digests)} messages received for {notices} parts sent by mail")
    if len(message_ids) != len(digests):
        problems.append(f"{len(digests) - len(message_ids)} Message-IDs in more than one message")
    if twice or missing or unexpected:
        problems.append(f"(recipient, URL) pairs: {twice} received twice, {missing} missing, {unexpected} unexpected")
    if problems:
        raise BenchError("message check failed: " + "; ".join(problems[:5]))
    sizes = sorted(d["bytes"] for d in digests)
    return {
        "messages": len(digests),
        "pairs": sum(received.values()),
        "recipients": len({a for d in digests for a in d["to"]}),
        "languages": dict(Counter(d["language"] for d in digests)),
        "mbytes": round(sum(sizes) / 1e6, 1),
        "largest_kbytes": round(sizes[-1] / 1e3, 1) if sizes else 0.0,
        "xarf_reports": sum(len(d["xarf_urls"]) for d in digests),
    }
