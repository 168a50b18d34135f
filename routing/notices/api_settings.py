"""A provider's abuse-reports API settings, as a senior analyst sets them: where, as which
account, with which token (sealed at rest, never shown back), and whom the API tells.

The token is written only when a new one is given (a blank field keeps the one stored), or
removed on request. Providers are audited on every save (`accounts.signals`, before and after):
the trail shows a sealed field as ``[sealed]``, so it says that the token changed, never what it is.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from routing.models import Provider
from routing.models.hosting import ApiNotify
from routing.notices.abuseapi import base_url_problem


class ApiSettingsInvalid(ValueError):
    pass


def provider_api_configure(
    *,
    provider: Provider,
    base_url: str,
    account: str,
    token: str | None,
    remove_token: bool = False,
    host_notification: str,
    owner_notification: str,
) -> list[str]:
    """Store the settings; the names of those that changed. ``token`` None or "" keeps the
    stored token. Raises `ApiSettingsInvalid` for a base URL the client would refuse or an
    unknown notification choice."""
    base_url = base_url.strip()
    if base_url:
        problem = base_url_problem(base_url, allow_loopback=settings.SCART_PROVIDER_API_ALLOW_LOOPBACK)
        if problem:
            raise ApiSettingsInvalid(problem)
    for choice in (host_notification, owner_notification):
        if choice not in ApiNotify.values:
            raise ApiSettingsInvalid(f"{choice!r} is not a notification choice")
    with transaction.atomic():
        row = Provider.objects.select_for_update().get(pk=provider.pk)
        wanted = {
            "api_base_url": base_url,
            "api_account": account.strip(),
            "api_host_notification": host_notification,
            "api_owner_notification": owner_notification,
        }
        changed = [name for name, value in wanted.items() if getattr(row, name) != value]
        if remove_token and row.api_token:
            wanted["api_token"] = ""
        elif token:
            wanted["api_token"] = token.strip()
        if "api_token" in wanted:
            changed.append("api_token")
        if not changed:
            return []
        for name, value in wanted.items():
            setattr(row, name, value)
            setattr(provider, name, value)
        row.save(update_fields=[*wanted, "updated_at"])
    return changed
