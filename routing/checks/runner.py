"""Run many availability checks at once: a global limit, and a limit per host that is never exceeded.

`checks_run` keeps one queue of URLs per host name and ``concurrency`` worker threads. A worker takes
the next URL from a host that has one waiting and fewer than ``per_host`` checks running, round
robin over hosts, so a host with many URLs cannot hold more than ``per_host`` workers and never
makes the others wait behind it. A check has at most one connection open at a time and follows
redirects only on its own host, so ``per_host`` checks mean at most ``per_host`` connections to a
host name at any moment (per process: several worker processes each keep their own limit).
The checks of one run share DNS answers for their TTL (`probe.DnsCache`): a host with many URLs is
asked about once, and every check still vets the addresses and connects only to those.
"""

from __future__ import annotations

import ssl
import threading
from collections import deque
from collections.abc import Sequence

from django.conf import settings

from routing.checks.guard import Refused, target_parse
from routing.checks.probe import CheckResult, DnsCache, check_url


def checks_run(
    urls: Sequence[str],
    *,
    concurrency: int | None = None,
    per_host: int | None = None,
    timeout: float | None = None,
    connect_timeout: float | None = None,
    proxy: str | None = None,
    tls_context: ssl.SSLContext | None = None,
) -> list[CheckResult]:
    """Check every URL of ``urls``; the results in the same order. ``None`` limits take
    ``SCART_CHECK_CONCURRENCY`` and ``SCART_CHECK_PER_HOST``; the other options go to `check_url`.
    An exception in a check stops the run and is raised once the running checks have finished."""
    concurrency = settings.SCART_CHECK_CONCURRENCY if concurrency is None else concurrency
    per_host = settings.SCART_CHECK_PER_HOST if per_host is None else per_host
    if concurrency < 1 or per_host < 1:
        raise ValueError("concurrency and per_host must be at least 1")
    results: list[CheckResult | None] = [None] * len(urls)
    queue = _HostQueue([_host_key(url) for url in urls], per_host=per_host)
    dns_cache = DnsCache()

    def work() -> None:
        while (taken := queue.take()) is not None:
            index, host = taken
            try:
                results[index] = check_url(
                    urls[index],
                    timeout=timeout,
                    connect_timeout=connect_timeout,
                    proxy=proxy,
                    tls_context=tls_context,
                    dns_cache=dns_cache,
                )
            except Exception as exc:
                queue.fail(exc)
            finally:
                queue.done(host)

    threads = [
        threading.Thread(target=work, name=f"scart-check-{n}", daemon=True) for n in range(min(concurrency, len(urls)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if queue.error is not None:
        raise queue.error
    return [result for result in results if result is not None]


def _host_key(url: str) -> str:
    """The host name a URL's connections go to (the URL itself when it cannot be contacted at all:
    such checks end before any connection)."""
    try:
        return target_parse(url).host
    except Refused:
        return url


class _HostQueue:
    """The URLs waiting per host, and which hosts may start another check now.

    A host is in ``ready`` exactly when it has URLs waiting and fewer than ``per_host`` running.
    """

    def __init__(self, hosts: Sequence[str], *, per_host: int) -> None:
        self.per_host = per_host
        self.waiting: dict[str, deque[int]] = {}
        for index, host in enumerate(hosts):
            self.waiting.setdefault(host, deque()).append(index)
        self.running: dict[str, int] = dict.fromkeys(self.waiting, 0)
        self.ready: deque[str] = deque(self.waiting)
        self.unstarted = len(hosts)
        self.error: Exception | None = None
        self.changed = threading.Condition()

    def take(self) -> tuple[int, str] | None:
        """The next (index, host) to check, waiting for a host to come free; None when all started."""
        with self.changed:
            while not self.ready:
                if self.unstarted == 0 or self.error is not None:
                    return None
                self.changed.wait()
            if self.error is not None:
                return None
            host = self.ready.popleft()
            index = self.waiting[host].popleft()
            self.running[host] += 1
            self.unstarted -= 1
            if self.waiting[host] and self.running[host] < self.per_host:
                self.ready.append(host)
                self.changed.notify()
            elif self.unstarted == 0:
                self.changed.notify_all()  # the idle workers may stop
            return index, host

    def done(self, host: str) -> None:
        with self.changed:
            self.running[host] -= 1
            # At the limit until now, so not in ``ready``: it is again.
            if self.waiting[host] and self.running[host] == self.per_host - 1:
                self.ready.append(host)
                self.changed.notify()

    def fail(self, error: Exception) -> None:
        with self.changed:
            if self.error is None:
                self.error = error
            self.changed.notify_all()
