"""Slots per host shared by every checking process: the per-host limit holds across workers.

`host_slots` gives this process's view of the shared slots, chosen by ``SCART_CHECK_LIMIT_URL``:

- ``redis://`` (or ``rediss://``; by default the Redis broker when there is one): a lease per
  slot in a sorted set per host (member: a random token, score: when the lease expires, in Redis's
  own clock, so the checkers' clocks do not matter). A Lua script drops the expired leases and adds
  one if fewer than ``limit`` remain, in one atomic step. A holder that dies without releasing its
  slot holds it until the lease expires; a lease outlives the check it covers (the check's whole
  timeout, twice, plus a margin), so a live holder never loses it.
- ``file:///path`` (by default ``var/check-slots`` when there is no Redis): ``limit`` lock files
  per host, held with ``flock``. The kernel releases a lock when its holder's file is closed,
  including when the process dies, so nothing ever has to expire. Processes of one machine only;
  the files stay (empty, one per host and slot), and may be deleted only while no checker runs: a
  lock on a deleted file excludes no one.

Never per process: there is no setting that turns the shared limit off. `HostSlots.try_acquire`
does not wait; `routing.checks.runner` tries other hosts meanwhile and comes back. Nothing about
a check is stored: the keys and file names carry the host name (a hash of it, for files), and the
Redis keys expire with their last lease.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

REDIS_PREFIX = "scart:check-slots:"

# KEYS[1]: the host's leases. ARGV: the limit, the lease in milliseconds, this lease's token.
# Returns 1 when the lease was taken, 0 when ``limit`` unexpired leases are held already.
_ACQUIRE = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.floor(tonumber(last[2]) - now) + 1)
return 1
"""


class Lease(Protocol):
    host: str

    def release(self) -> None:
        """Give the slot back (at most once; a second call does nothing)."""


class HostSlots(Protocol):
    def try_acquire(self, host: str, *, limit: int, lease_seconds: float) -> Lease | None:
        """A slot of ``host`` if fewer than ``limit`` are held by all processes together, at once;
        None otherwise. ``lease_seconds`` is how long the slot stays taken if it is never released."""


class RedisSlots:
    """Leases in Redis, shared by every process that uses the same Redis (see the module docstring)."""

    def __init__(self, url: str, *, prefix: str = REDIS_PREFIX) -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._acquire = self.client.register_script(_ACQUIRE)

    def try_acquire(self, host: str, *, limit: int, lease_seconds: float) -> Lease | None:
        key = self.prefix + host
        token = secrets.token_hex(12)
        taken = self._acquire(keys=[key], args=[limit, max(1, round(lease_seconds * 1000)), token])
        return _RedisLease(self, host, key, token) if taken else None

    def held(self, host: str) -> int:
        """Leases of ``host`` held now (expired ones included until the next acquisition drops them)."""
        return int(self.client.zcard(self.prefix + host))


class _RedisLease:
    def __init__(self, slots: RedisSlots, host: str, key: str, token: str) -> None:
        self.host = host
        self._slots, self._key, self._token = slots, key, token
        self._released = False

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            self._slots.client.zrem(self._key, self._token)
        except redis.RedisError:
            # Not lost: the lease expires by itself, the slot is only taken a little longer.
            log.warning("could not release a check slot of %s; it frees itself when its lease expires", self.host)


class FileSlots:
    """``flock``-ed lock files under ``directory``: shared by the processes of one machine."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def try_acquire(self, host: str, *, limit: int, lease_seconds: float) -> Lease | None:
        # A hash: any host name (an IDN, an IPv6 literal) makes a plain file name.
        stem = hashlib.sha256(host.encode("utf-8")).hexdigest()[:32]
        for n in range(limit):
            # A new open file for each attempt: flock locks belong to the open file, so two threads
            # of one process exclude each other as two processes do.
            fd = self._open(self.directory / f"{stem}.{n}")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            except BaseException:
                os.close(fd)
                raise
            return _FileLease(host, fd)
        return None

    def _open(self, path: Path) -> int:
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        try:
            return os.open(path, flags, 0o600)
        except FileNotFoundError:  # the directory was cleaned away while this process ran
            self.directory.mkdir(parents=True, exist_ok=True)
            return os.open(path, flags, 0o600)


class _FileLease:
    def __init__(self, host: str, fd: int) -> None:
        self.host = host
        self._fd: int | None = fd
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def slots_for(url: str) -> HostSlots:
    """The shared slots that ``url`` names: ``redis://``, ``rediss://``, ``unix://`` or ``file:///path``."""
    parts = urlsplit(url)
    if parts.scheme in {"redis", "rediss", "unix"}:
        return RedisSlots(url)
    if parts.scheme == "file" and parts.path and parts.netloc in {"", "localhost"}:
        return FileSlots(Path(unquote(parts.path)))
    raise ImproperlyConfigured(f"SCART_CHECK_LIMIT_URL must be a redis:// URL or a file:///directory URL, not {url!r}")


_slots: dict[str, HostSlots] = {}
_slots_lock = threading.Lock()


def host_slots() -> HostSlots:
    """This process's handle on the slots of ``SCART_CHECK_LIMIT_URL`` (one Redis connection pool
    per process; thread-safe)."""
    url = settings.SCART_CHECK_LIMIT_URL
    with _slots_lock:
        if url not in _slots:
            _slots[url] = slots_for(url)
        return _slots[url]
