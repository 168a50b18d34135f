"""Builders for test data. URLs use reserved example domains only."""

from __future__ import annotations

import itertools
from typing import Any

from reports.api.auth import api_key_create
from reports.models import Partner

__all__ = ["Partner", "awaiting_case", "partner_with_key", "staff_user"]

_counter = itertools.count(1)


def partner_with_key(name: str | None = None, rate_limit: str = "") -> tuple[Partner, str]:
    api_key, key = api_key_create(partner_name=name or f"Partner {next(_counter)}")
    if rate_limit:
        api_key.partner.rate_limit = rate_limit
        api_key.partner.save(update_fields=["rate_limit"])
    return api_key.partner, key


def staff_user(username: str, role: str | None = "analyst", password: str = "a long enough password 1") -> Any:
    """A user with the group of ``role`` ("analyst", "senior", "admin") or none."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from accounts.roles import GROUP_NAMES, Role

    user = get_user_model().objects.create_user(username, password=password)
    if role is not None:
        # get_or_create: tests on a live server flush the database, migration-made groups included.
        user.groups.add(Group.objects.get_or_create(name=GROUP_NAMES[Role(role)])[0])
    return user


def awaiting_case(url: str, **fields: Any) -> Any:
    """A case reported through the API and already resolved (awaiting assessment)."""
    from reports.models import Case, CaseState, Channel
    from reports.services import report_create

    result = report_create(channel=Channel.API, urls=[url])
    case_id = result.accepted[0].case_id
    Case.objects.filter(pk=case_id).update(state=CaseState.AWAITING_ASSESSMENT, resolve_due_at=None, **fields)
    return Case.objects.get(pk=case_id)
