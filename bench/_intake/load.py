"""The intake bench's load: a stream of URLs on reserved example domains with repeats, posted as
reports to the API from client threads, each response checked."""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import random
import secrets
import threading
import time
from dataclasses import dataclass, field

from bench._server import Client, http_request

REPORTS_PATH = "/api/v1/reports/"


@dataclass(slots=True)
class Stream:
    urls: list[str]
    repeats: int  # positions that repeat an earlier URL (exactly or in a variant with the same canonical form)


def generate_stream(*, count: int, dup_ratio: float, seed: int, namespace: str) -> Stream:
    """``count`` URLs on reserved example domains; ``dup_ratio`` of them repeat an earlier URL.

    Hosts are spread over example.com, example.net and example.org (thousands of host names, some
    with ports and plain http). A repeat is the same string two times in three, otherwise a variant
    that normalises to the same case (upper-case scheme and host, a fragment).
    """
    rng = random.Random(f"{seed}:{namespace}")
    repeats = set(rng.sample(range(1, count), round((count - 1) * dup_ratio))) if count > 1 else set()
    fresh: list[str] = []
    urls: list[str] = []
    for position in range(count):
        if position in repeats:
            url = rng.choice(fresh)
            if rng.random() < 1 / 3:
                scheme, rest = url.split("://", 1)
                host, _, path = rest.partition("/")
                url = f"{scheme.upper()}://{host.upper()}/{path}#frag{rng.randrange(100)}"
            urls.append(url)
            continue
        n = len(fresh)
        domain = rng.choices(("example.com", "example.net", "example.org"), weights=(6, 3, 1))[0]
        host = f"{namespace}{rng.randrange(20_000)}.{domain}"
        if rng.random() < 0.2:
            host = f"cdn{rng.randrange(50)}.{host}"
        scheme = "http" if rng.random() < 0.15 else "https"
        port = f":{rng.choice((8080, 8443, 81))}" if rng.random() < 0.03 else ""
        depth = "/".join(f"d{rng.randrange(1000)}" for _ in range(rng.randrange(1, 4)))
        url = f"{scheme}://{host}{port}/{depth}/item/{n}?q={rng.randrange(10**6)}&s={seed}"
        if rng.random() < 0.3:
            url += f"&page={rng.randrange(1, 50)}"
        fresh.append(url)
        urls.append(url)
    return Stream(urls=urls, repeats=len(repeats))


# --- load -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Totals:
    requests: int = 0
    accepted: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, other: Totals) -> None:
        self.requests += other.requests
        self.accepted += other.accepted
        self.new += other.new
        self.duplicates += other.duplicates
        self.rejected += other.rejected
        self.errors.extend(other.errors)
        self.latencies.extend(other.latencies)


def post_report(client: Client, urls: list[str], totals: Totals, *, idempotency_key: str = "") -> None:
    """Post one report, time it (request to last byte of the response) and check its counts."""
    body = json.dumps({"urls": urls, "external_ref": "bench"}).encode()
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    started = time.perf_counter()
    status, data = http_request(client, "POST", REPORTS_PATH, body, headers)
    totals.latencies.append(time.perf_counter() - started)
    totals.requests += 1
    if status != 201:
        totals.errors.append(f"HTTP {status}: {data[:300]!r}")
        return
    answer = json.loads(data)
    totals.accepted += answer["accepted"]
    totals.new += answer["new"]
    totals.duplicates += answer["duplicates"]
    totals.rejected += answer["rejected"]
    if answer["accepted"] != len(urls) or answer["new"] + answer["duplicates"] != answer["accepted"]:
        totals.errors.append(f"counts do not add up for {len(urls)} URLs: {answer['accepted']} accepted")


def run_batches(base: str, key: str, batches: list[list[str]], *, concurrency: int, args: argparse.Namespace) -> Totals:
    work: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(batches)):
        work.put(index)
    per_thread = [Totals() for _ in range(concurrency)]
    run_id = secrets.token_hex(4)

    def worker(totals: Totals) -> None:
        client = Client(base, timeout=args.timeout, key=key)
        try:
            while True:
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                idem = f"bench-{run_id}-{index}" if args.idempotency else ""
                try:
                    post_report(client, batches[index], totals, idempotency_key=idem)
                except (OSError, http.client.HTTPException) as exc:
                    totals.errors.append(f"batch {index}: {exc!r}")
                    client.close()
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals = Totals()
    for t in per_thread:
        totals.add(t)
    return totals


def run_singles(base: str, key: str, urls: list[str], *, args: argparse.Namespace) -> Totals:
    totals = Totals()
    client = Client(base, timeout=args.timeout, key=key)
    try:
        for index, url in enumerate(urls):
            idem = f"bench-single-{secrets.token_hex(4)}-{index}" if args.idempotency else ""
            post_report(client, [url], totals, idempotency_key=idem)
    finally:
        client.close()
    return totals
