"""Cross-process claims: a registry lookup asked once across every worker process that shares the
cache (Redis in production), the others taking its answer."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import TypeVar, cast

from django.core.cache.backends.base import BaseCache

log = logging.getLogger(__name__)

R = TypeVar("R")

# How long a worker's claim on a registry lookup (an ASN block, a network, a registrable domain)
# is honoured by the others: longer than such a lookup takes, its turn at a busy registry
# included. The answer stays under the claim's key as long, for workers that look for it before
# its owner has stored it in the database.
LOOKUP_CLAIM_SECONDS = 60
WAIT_STEP = 0.05
_CLAIM_POLL_MAX = 0.1


def claim_key(name: str) -> str:
    """The cache key of the claim on lookup ``name`` (``"NetworkLookup:192.0.2.0/24"``,
    ``"domain:example.com"``).

    The answers left under the claims are frozen dataclasses since the lookups became a package;
    they were tuples before. The version in the key keeps the workers of the two releases apart
    while both run during a deploy (each would misread the other's answers)."""
    return f"lookup-claim:v2:{name}"


def claimed(name: str, ask: Callable[[], R], *, shareable: Callable[[R], bool], cache: BaseCache) -> R:
    """``ask()``, once across every worker process that shares the cache (Redis in production;
    with a local-memory cache, once per process).

    The first caller claims ``name`` (an atomic add that expires after `LOOKUP_CLAIM_SECONDS`),
    asks, and leaves the answer under the claim when it is ``shareable`` (anything but a transient
    failure); the others wait for that answer. When the claim goes without an answer (its owner
    failed, or died and the claim ran out), a waiter claims and asks itself. No one waits longer
    than `LOOKUP_CLAIM_SECONDS`, and a cache that fails is no reason to fail a lookup: then the
    caller asks without a claim.
    """
    key = claim_key(name)
    token = secrets.token_hex(8)
    owned = False
    deadline = time.monotonic() + LOOKUP_CLAIM_SECONDS
    pause = WAIT_STEP / 2
    try:
        while True:
            if cache.add(key, {"owner": token}, timeout=LOOKUP_CLAIM_SECONDS):
                owned = True
                break
            value = cache.get(key)
            if isinstance(value, dict) and "answer" in value:
                return cast(R, value["answer"])
            if time.monotonic() >= deadline:
                break  # a claim that outlived its time: ask without one
            if value is not None:  # (None: the claim went meanwhile; claim it at once)
                time.sleep(pause)
                pause = min(pause * 1.5, _CLAIM_POLL_MAX)
    except Exception:
        log.warning("lookup claims are unavailable; asking about %s without one", name, exc_info=True)
        return ask()
    try:
        answer = ask()
    except BaseException:
        if owned:
            _claim_release(cache, key, token)
        raise
    try:
        if shareable(answer):
            cache.set(key, {"answer": answer}, timeout=LOOKUP_CLAIM_SECONDS)
        elif owned:
            _claim_release(cache, key, token)  # a waiter asks itself, now
    except Exception:
        log.warning("could not share the answer about %s", name, exc_info=True)
    return answer


def _claim_release(cache: BaseCache, key: str, token: str) -> None:
    """Drop our claim, unless it ran out and is someone else's now. (Not atomic: in the rare race
    the other worker's claim goes too, and one more worker asks.)"""
    value = cache.get(key)
    if isinstance(value, dict) and value.get("owner") == token:
        cache.delete(key)


__all__ = ["LOOKUP_CLAIM_SECONDS", "claim_key", "claimed"]
