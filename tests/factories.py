"""Builders for test data. URLs use reserved example domains only."""

from __future__ import annotations

import itertools

from reports.api.auth import api_key_create
from reports.models import Partner

__all__ = ["Partner", "partner_with_key"]

_counter = itertools.count(1)


def partner_with_key(name: str | None = None, rate_limit: str = "") -> tuple[Partner, str]:
    api_key, key = api_key_create(partner_name=name or f"Partner {next(_counter)}")
    if rate_limit:
        api_key.partner.rate_limit = rate_limit
        api_key.partner.save(update_fields=["rate_limit"])
    return api_key.partner, key
