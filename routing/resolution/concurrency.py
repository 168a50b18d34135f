"""Thread primitives of a batch of lookups: one lookup per key at a time in a process
(`SingleFlight`), and at most so many queries on the wire at once (`InFlight`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class SingleFlight:
    """One lookup per key at a time in this process, and its answer reused for a short while:
    worker threads that meet the same new domain at once (they all read the database cache before
    any of them stored an answer) ask its registry once. Answers are kept by the wall clock, the
    clock the caches' expiry times are on."""

    def __init__(self, *, keep: float = 60.0) -> None:
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[Any]] = {}
        self._recent: dict[str, tuple[float, Any]] = {}
        self._keep = keep

    def run(self, key: str, fn: Callable[[], R]) -> R:
        with self._lock:
            recent = self._recent.get(key)
            if recent is not None and time.time() - recent[0] < self._keep:
                return recent[1]  # type: ignore[no-any-return]
            future = self._inflight.get(key)
            owner = future is None
            if future is None:
                future = self._inflight[key] = Future()
        if not owner:
            return future.result()  # type: ignore[no-any-return]
        try:
            result = fn()
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(result)
            with self._lock:
                self._recent[key] = (time.time(), result)
                if len(self._recent) > 10_000:
                    self._recent.clear()
            return result
        finally:
            with self._lock:
                self._inflight.pop(key, None)


class InFlight:
    """At most ``size`` queries on the wire at once, and the address registries' lookups (ASN,
    network, AS name) go before the others: each waits for the one before it, and a registry
    answers slowly (its rate limit), so they are better started early, while the many host
    questions (and the registrar lookups, which nothing waits for) fill the slots left. ``with
    limit.host:`` and ``with limit.registry:`` hold one slot (each may be entered again and again,
    from any thread). A freed slot wakes one waiter that may take it, not every waiting thread."""

    def __init__(self, size: int) -> None:
        self._free = max(1, size)
        self._registry_waiting = 0
        lock = threading.Lock()
        self._registry_turn = threading.Condition(lock)
        self._host_turn = threading.Condition(lock)
        self.host = _Slot(self, registry=False)
        self.registry = _Slot(self, registry=True)

    def acquire(self, *, registry: bool) -> None:
        with self._registry_turn:
            if registry:
                self._registry_waiting += 1
                try:
                    while self._free == 0:
                        self._registry_turn.wait()
                finally:
                    self._registry_waiting -= 1
            else:
                while self._free == 0 or self._registry_waiting:
                    self._host_turn.wait()
            self._free -= 1
            self._wake()

    def release(self) -> None:
        with self._registry_turn:
            self._free += 1
            self._wake()

    def _wake(self) -> None:
        if self._free:
            (self._registry_turn if self._registry_waiting else self._host_turn).notify(self._free)


class _Slot:
    def __init__(self, limit: InFlight, *, registry: bool) -> None:
        self._limit = limit
        self._registry = registry

    def __enter__(self) -> None:
        self._limit.acquire(registry=self._registry)

    def __exit__(self, *exc: object) -> None:
        self._limit.release()


def threads_map(fn: Callable[[T], R], items: Sequence[T], *, threads: int) -> list[R]:
    """``[fn(item) for item in items]``, on up to ``threads`` threads (none for a single item)."""
    if not items:
        return []
    if len(items) == 1:
        return [fn(items[0])]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(fn, items))


__all__ = ["InFlight", "SingleFlight", "threads_map"]
