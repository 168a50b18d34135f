"""Partner API keys: ``Authorization: Api-Key <key>`` (``Bearer <key>`` is accepted too)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from reports.models import ApiKey, Partner

KEY_PREFIX = "scart_"
# Writing last_used_at on every request would make every API call a write; once a minute is
# enough to see which keys are in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class PartnerPrincipal:
    """What `request.user` is for a request authenticated with a partner's API key."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, partner: Partner, api_key: ApiKey) -> None:
        self.partner = partner
        self.api_key = api_key
        self.pk = f"partner:{partner.pk}"

    def __str__(self) -> str:
        return f"partner {self.partner.name}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keywords = ("api-key", "bearer")

    def authenticate(self, request: Request) -> tuple[PartnerPrincipal, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, key = header.partition(" ")
        if keyword.lower() not in self.keywords:
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed("The Authorization header names no key.")
        api_key = (
            ApiKey.objects.select_related("partner")
            .filter(key_hash=hash_key(key), revoked_at__isnull=True, partner__is_active=True)
            .first()
        )
        if api_key is None:
            raise exceptions.AuthenticationFailed("Unknown, revoked or inactive API key.")
        now = timezone.now()
        if api_key.last_used_at is None or api_key.last_used_at < now - LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return PartnerPrincipal(api_key.partner, api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Api-Key realm="scart"'


class ApiKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`, a key made with `python manage.py create_api_key NAME`.",
        }


def api_key_create(*, partner_name: str, key_name: str = "") -> tuple[ApiKey, str]:
    """Create (or reuse) the partner and give it a new key; returns the row and the key, shown once."""
    partner, _ = Partner.objects.get_or_create(name=partner_name)
    key = generate_key()
    api_key = ApiKey.objects.create(partner=partner, name=key_name, prefix=key[:12], key_hash=hash_key(key))
    return api_key, key
