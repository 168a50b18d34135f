"""Run many availability checks at once: a global limit, and a limit per host that is never exceeded,
not even by several checking processes together.

`checks_run` keeps one queue of URLs per host name and ``concurrency`` worker threads. A worker takes
the next URL from a host that has one waiting and fewer than ``per_host`` checks running in this
process, round robin over hosts, so a host with many URLs cannot hold more than ``per_host`` workers
and never makes the others wait behind it.

Before it connects, a check takes one of the host's ``per_host`` slots shared with every other
checking process (`routing.checks.slots`: Redis leases, or lock files on one machine), and gives it
back when it is over. When other processes hold them all, the URL goes back to the front of its
host's queue and the host rests a moment (`REST_FIRST`, doubling up to `REST_MAX` while its slots
stay full; over at once when a check of this process on that host ends), and the worker takes
another host's URL meanwhile. A check has at most one connection open at a time and follows
redirects only on its own host, so ``per_host`` slots mean at most ``per_host`` connections to a
host name at any moment, over all processes. URLs that are never contacted (refused by the guard,
``.onion``) take no slot.

The checks of one run share DNS answers for their TTL (`probe.DnsCache`): a host with many URLs is
asked about once, and every check still vets the addresses and connects only to those.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Sequence
from typing import Final

from django.conf import settings

from routing.checks.guard import Refused, target_parse
from routing.checks.probe import CheckResult, DnsCache, check_url
from routing.checks.slots import HostSlots, host_slots

log = logging.getLogger(__name__)

# How long a host whose shared slots are all taken rests before it is tried again (seconds).
REST_FIRST: Final = 0.01
REST_MAX: Final = 0.1
# A lease outlives the check it covers: twice the check's whole timeout, and this.
LEASE_MARGIN_SECONDS: Final = 5.0


def checks_run(
    urls: Sequence[str],
    *,
    concurrency: int | None = None,
    per_host: int | None = None,
    timeout: float | None = None,
    connect_timeout: float | None = None,
    proxy: str | None = None,
    tls_context: ssl.SSLContext | None = None,
    slots: HostSlots | None = None,
) -> list[CheckResult | None]:
    """Check every URL of ``urls``; the results in the same order. ``None`` limits take
    ``SCART_CHECK_CONCURRENCY`` and ``SCART_CHECK_PER_HOST``, ``slots`` the shared slots of
    ``SCART_CHECK_LIMIT_URL``; the other options go to `check_url`. A check that fails inside
    scart (a bug, not the host's answer) is logged and its result is None: the other URLs of the
    run still count. An exception in taking a shared slot (Redis down) stops the run and is
    raised once the running checks have finished."""
    concurrency = settings.SCART_CHECK_CONCURRENCY if concurrency is None else concurrency
    per_host = settings.SCART_CHECK_PER_HOST if per_host is None else per_host
    if concurrency < 1 or per_host < 1:
        raise ValueError("concurrency and per_host must be at least 1")
    shared = host_slots() if slots is None else slots
    lease_seconds = 2 * (settings.SCART_CHECK_TIMEOUT if timeout is None else timeout) + LEASE_MARGIN_SECONDS
    results: list[CheckResult | None] = [None] * len(urls)
    keys = [_host_key(url) for url in urls]
    queue = _HostQueue([host for host, _ in keys], per_host=per_host)
    dns_cache = DnsCache()

    def check_in_slot(index: int, host: str) -> bool:
        """Check ``urls[index]`` holding a shared slot of ``host``; False when none was free."""
        lease = None
        if keys[index][1]:
            lease = shared.try_acquire(host, limit=per_host, lease_seconds=lease_seconds)
            if lease is None:
                return False
        started = time.monotonic()
        try:
            results[index] = check_url(
                urls[index],
                timeout=timeout,
                connect_timeout=connect_timeout,
                proxy=proxy,
                tls_context=tls_context,
                dns_cache=dns_cache,
            )
        except Exception:
            log.exception("the check of %s failed inside scart; its result is left out", urls[index])
        finally:
            if lease is not None:
                lease.release()
        if lease is not None and time.monotonic() - started > lease_seconds:
            log.warning("a check of %s outlasted its slot's lease of %.0f s", host, lease_seconds)
        return True

    def work() -> None:
        while (taken := queue.take()) is not None:
            index, host = taken
            try:
                checked = check_in_slot(index, host)
            except Exception as exc:
                queue.fail(exc)
                checked = True
            if checked:
                queue.done(host)
            else:
                queue.defer(index, host)

    threads = [
        threading.Thread(target=work, name=f"scart-check-{n}", daemon=True) for n in range(min(concurrency, len(urls)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if queue.error is not None:
        raise queue.error
    return results


def _host_key(url: str) -> tuple[str, bool]:
    """The host name a URL's connections go to, and whether the check may connect at all (the URL
    itself and False when it cannot be contacted: such checks end before any connection)."""
    try:
        target = target_parse(url)
    except Refused:
        return url, False
    return target.host, not target.unresolvable


class _HostQueue:
    """The URLs waiting per host, and which hosts may start another check now.

    A host is in ``ready`` (in round-robin order) exactly when it has URLs waiting, fewer than
    ``per_host`` running in this process, and is not ``resting`` (every shared slot of it was taken
    a moment ago).
    """

    def __init__(self, hosts: Sequence[str], *, per_host: int) -> None:
        self.per_host = per_host
        self.waiting: dict[str, deque[int]] = {}
        for index, host in enumerate(hosts):
            self.waiting.setdefault(host, deque()).append(index)
        self.running: dict[str, int] = dict.fromkeys(self.waiting, 0)
        self.ready: OrderedDict[str, None] = OrderedDict.fromkeys(self.waiting)
        self.resting: dict[str, float] = {}  # host: when (time.monotonic) it may be tried again
        self.misses: dict[str, int] = {}  # host: times in a row its shared slots were all taken
        self.unstarted = len(hosts)
        self.error: Exception | None = None
        self.changed = threading.Condition()

    def take(self) -> tuple[int, str] | None:
        """The next (index, host) to check, waiting for a host to come free; None when all started."""
        with self.changed:
            while True:
                if self.error is not None:
                    return None
                self._wake()
                if self.ready:
                    break
                if self.unstarted == 0:
                    return None
                self.changed.wait(self._until_next_wake())
            host, _ = self.ready.popitem(last=False)
            index = self.waiting[host].popleft()
            self.running[host] += 1
            self.unstarted -= 1
            self._place(host)
            if self.ready:
                self.changed.notify()
            elif self.unstarted == 0:
                self.changed.notify_all()  # the idle workers may stop
            return index, host

    def done(self, host: str) -> None:
        with self.changed:
            self.running[host] -= 1
            # The slot this check held is free: the host need not rest any longer.
            self.resting.pop(host, None)
            self.misses.pop(host, None)
            self._place(host)
            if host in self.ready:
                self.changed.notify()

    def defer(self, index: int, host: str) -> None:
        """The check of ``index`` found every shared slot of ``host`` taken: back to the front of the
        host's queue; the host rests (longer each time in a row) while other hosts go first."""
        with self.changed:
            self.running[host] -= 1
            self.unstarted += 1
            self.waiting[host].appendleft(index)
            misses = self.misses[host] = self.misses.get(host, 0) + 1
            rest = min(REST_FIRST * 2 ** (misses - 1), REST_MAX) * random.uniform(0.5, 1.0)
            self.resting[host] = time.monotonic() + rest
            self._place(host)
            self.changed.notify_all()  # idle workers wait for the rest to end, not indefinitely

    def fail(self, error: Exception) -> None:
        with self.changed:
            if self.error is None:
                self.error = error
            self.changed.notify_all()

    def _place(self, host: str) -> None:
        """Put ``host`` at the end of ``ready`` if it may start a check now (where it is if it is
        there already), take it out otherwise."""
        if self.waiting[host] and self.running[host] < self.per_host and host not in self.resting:
            self.ready.setdefault(host)
        else:
            self.ready.pop(host, None)

    def _wake(self) -> None:
        now = time.monotonic()
        for host, until in list(self.resting.items()):
            if until <= now:
                del self.resting[host]
                self._place(host)

    def _until_next_wake(self) -> float | None:
        if not self.resting:
            return None
        return max(0.0, min(self.resting.values()) - time.monotonic())
