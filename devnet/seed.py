"""Builders of a small world through the services, as production makes it: partners with API keys,
staff users with a role, and cases reported through the API. URLs use reserved example domains only.

Used by the tests (through `tests.factories`) and the benchmarks; the synthetic history of the
statistics demo (`devnet.history`) writes its millions of rows in bulk instead.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.roles import GROUP_NAMES, Role
from reports.api.auth import api_key_create
from reports.models import Case, CaseState, Channel, Partner
from reports.services import report_create

_counter = itertools.count(1)


def partner_with_key(name: str | None = None, rate_limit: str = "") -> tuple[Partner, str]:
    """A partner and its API key (the key in clear, as shown once)."""
    api_key, key = api_key_create(partner_name=name or f"Partner {next(_counter)}")
    if rate_limit:
        api_key.partner.rate_limit = rate_limit
        api_key.partner.save(update_fields=["rate_limit"])
    return api_key.partner, key


def staff_user(username: str, role: str | None = "analyst", password: str = "a long enough password 1") -> Any:  # noqa: S107
    """A user with the group of ``role`` ("analyst", "senior", "admin") or none."""
    user = get_user_model().objects.create_user(username, password=password)
    if role is not None:
        # get_or_create: tests on a live server flush the database, migration-made groups included.
        user.groups.add(Group.objects.get_or_create(name=GROUP_NAMES[Role(role)])[0])
    return user


def awaiting_cases(urls: Sequence[str], **fields: Any) -> list[int]:
    """The ids of cases reported through the API in one report, one per URL, and already resolved
    (awaiting assessment)."""
    result = report_create(channel=Channel.API, urls=list(urls))
    case_ids = [accepted.case_id for accepted in result.accepted]
    Case.objects.filter(pk__in=case_ids).update(state=CaseState.AWAITING_ASSESSMENT, resolve_due_at=None, **fields)
    return case_ids


def awaiting_case(url: str, **fields: Any) -> Case:
    """A case reported through the API and already resolved (awaiting assessment)."""
    [case_id] = awaiting_cases([url], **fields)
    return Case.objects.get(pk=case_id)
