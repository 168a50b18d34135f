"""Idempotency-Key handling: a retried request gets the first response and creates nothing new."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from reports.models import IdempotencyKey, Partner

MAX_KEY_LENGTH = 200
# Printable ASCII: a header decoded as Latin-1 may hold NUL or control characters, which the
# database cannot store (NUL) or a partner cannot have meant.
KEY_CHARACTERS = re.compile(r"[\x20-\x7e]+")


class IdempotencyKeyReused(Exception):
    """The key was used before for a different request body."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: dict[str, Any]
    replayed: bool


def request_fingerprint(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_once(
    *, partner: Partner, key: str, fingerprint: str, produce: Callable[[], tuple[int, dict[str, Any]]]
) -> StoredResponse:
    """Run ``produce`` at most once per (partner, key) and store what it returned.

    The key row is inserted *before* the work, in the same transaction: a concurrent request with the
    same key blocks on the unique index until the first commits, then fails the insert, rolls back
    everything it did and replays the stored response.
    """
    try:
        with transaction.atomic():
            row = IdempotencyKey.objects.create(
                partner=partner, key=key, request_sha256=fingerprint, response_status=0, response_json={}
            )
            status, body = produce()
            row.response_status, row.response_json = status, body
            row.save(update_fields=["response_status", "response_json"])
            return StoredResponse(status, body, replayed=False)
    except IntegrityError:
        existing = IdempotencyKey.objects.filter(partner=partner, key=key).first()
        if existing is None:
            raise
    if existing.request_sha256 != fingerprint:
        raise IdempotencyKeyReused(key)
    return StoredResponse(existing.response_status, existing.response_json, replayed=True)
