"""A checking process of its own for tests/routing/test_checks_slots.py (settings from the environment).

``python -m tests.routing.slots_child check``: reads one JSON line (``urls``, ``concurrency``,
``per_host``), prints ``ready``, waits for a line on stdin (so that every process starts at once),
runs `checks_run` and prints one JSON line: wall-clock start and end, and the outcomes in order.

``python -m tests.routing.slots_child hold HOST LIMIT LEASE_SECONDS``: takes every slot of HOST it
can, prints ``{"held": n}`` and sleeps until it is killed (a holder that dies without releasing).
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scart.settings")
    import django

    django.setup()
    from routing.checks.runner import checks_run
    from routing.checks.slots import host_slots

    if argv[0] == "check":
        job = json.loads(sys.stdin.readline())
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.time()
        results = checks_run(job["urls"], concurrency=job["concurrency"], per_host=job["per_host"])
        ended = time.time()
        print(
            json.dumps(
                {"started": started, "ended": ended, "outcomes": [r.outcome.value if r else "failed" for r in results]}
            )
        )
        return 0
    if argv[0] == "hold":
        host, limit, lease_seconds = argv[1], int(argv[2]), float(argv[3])
        slots = host_slots()
        leases = [slots.try_acquire(host, limit=limit, lease_seconds=lease_seconds) for _ in range(limit)]
        print(json.dumps({"held": sum(lease is not None for lease in leases)}), flush=True)
        time.sleep(600)
        return 0
    raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
