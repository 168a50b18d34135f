"""The block-cache rows a process read or wrote lately, kept in memory in front of the database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from routing.models import CidrRow
from routing.resolution.addresses import IPAddress


class BlockMemo:
    """The block-cache rows this process read or wrote lately, kept in memory in front of the
    database: after the first chunks of a busy hour almost every address falls in a block one of
    them met, and finding it here costs no query. A row is used until it expires, and for at most
    ``keep`` seconds after it was read, so that rows another worker refreshed (or an operator
    purged) are read again soon."""

    def __init__(self, *, keep: float = 300.0, limit: int = 200_000) -> None:
        self._lock = threading.Lock()
        # (version, start as int, prefixlen) -> (read at, expires at, data, error)
        self._rows: dict[tuple[int, int, int], tuple[float, datetime, dict[str, Any], str]] = {}
        self._lengths: dict[int, list[int]] = {4: [], 6: []}  # prefix lengths held, longest first
        self._keep = keep
        self._limit = limit

    def put(self, rows: Iterable[CidrRow]) -> None:
        read_at = time.monotonic()
        with self._lock:
            if len(self._rows) > self._limit:
                self.clear_locked()
            for row in rows:
                key = (row.version, int(row.start, 16), row.prefixlen)
                self._rows[key] = (read_at, row.expires_at, row.data or {}, row.error)
                lengths = self._lengths.setdefault(row.version, [])
                if row.prefixlen not in lengths:
                    lengths.append(row.prefixlen)
                    lengths.sort(reverse=True)

    def get(self, address: IPAddress, now: datetime) -> tuple[dict[str, Any], str] | None:
        """The most specific live row containing ``address``, as (data, error)."""
        value, bits = int(address), address.max_prefixlen
        oldest = time.monotonic() - self._keep
        with self._lock:
            for prefixlen in self._lengths.get(address.version, ()):
                start = value >> (bits - prefixlen) << (bits - prefixlen)
                entry = self._rows.get((address.version, start, prefixlen))
                if entry is not None and entry[0] > oldest and entry[1] > now:
                    return entry[2], entry[3]
        return None

    def clear(self) -> None:
        with self._lock:
            self.clear_locked()

    def clear_locked(self) -> None:
        self._rows.clear()
        self._lengths = {4: [], 6: []}


__all__ = ["BlockMemo"]
