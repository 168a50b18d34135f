"""Staff API tokens: ``Authorization: Bearer scartstaff_...`` (or ``Token scartstaff_...``).

An integration (a triage tool, a script) acts through the API as the staff member who owns the
token, with that member's role. Tokens are 256-bit random strings stored as SHA-256 only, like
partner keys (`reports.api.auth`), and start with `KEY_PREFIX`, which a partner key (``scart_...``)
never does: this class answers for staff tokens only and leaves every other key to
`ApiKeyAuthentication`, which comes after it in ``DEFAULT_AUTHENTICATION_CLASSES``.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import AuditAction, StaffToken
from accounts.roles import role_of
from accounts.services import AuditContext, audit_record
from scart.times import iso_or_none

KEY_PREFIX = "scartstaff_"
# Writing last_used_at on every request would make every API call a write; once a minute is
# enough to see which tokens are in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class StaffTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a staff token as its user; returns ``(user, token)``.

    Only tokens that are neither revoked nor expired, of an active user who holds a role, are
    accepted; any other token with the staff prefix is refused (401) with the reason. A header
    with another keyword or a key without the prefix is not this class's business (None).

    The user returned counts as having passed the second factor (``user.is_verified()`` is True,
    ``user.staff_token`` is the token): a token is issued deliberately by an operator, can be
    revoked and made to expire, and is to a machine what the authenticator app is to a person. Code
    that demands a verified staff member (`reports.selectors.cases_visible_to`, the assessment
    endpoint) therefore accepts token requests as it accepts a session that passed TOTP.
    """

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[Any, StaffToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _, key = header.partition(" ")
        key = key.strip()
        if keyword.lower() not in self.keywords or not key.startswith(KEY_PREFIX):
            return None
        token = StaffToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown staff token.")
        now = timezone.now()
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This staff token has been revoked.")
        if token.expires_at is not None and token.expires_at <= now:
            raise exceptions.AuthenticationFailed("This staff token has expired.")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("The account this staff token belongs to is inactive.")
        if role_of(user) is None:
            raise exceptions.AuthenticationFailed("The account this staff token belongs to has no role.")
        if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
            StaffToken.objects.filter(pk=token.pk).update(last_used_at=now)
        # The token stands in for the second factor (see the class docstring). django-otp's
        # middleware gives session users `otp_device` and `is_verified`; a token user gets both too.
        user.otp_device = None  # type: ignore[attr-defined]
        user.staff_token = token  # type: ignore[attr-defined]
        user.is_verified = lambda: True  # type: ignore[attr-defined]
        return user, token

    def authenticate_header(self, request: Request) -> str:
        # Being first in the list, this class names the challenges of a 401 for the whole API:
        # the partner scheme first, as it always was, then the staff token's.
        return 'Api-Key realm="scart", Bearer realm="scart"'


class StaffTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = StaffTokenAuthentication
    name = "StaffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "`Bearer scartstaff_...`: a staff member's token, made with "
                "`python manage.py create_staff_token USERNAME`; acts with that member's role."
            ),
        }


def staff_token_create(
    *,
    user: Any,
    name: str = "",
    expires_at: datetime | None = None,
    actor: Any = None,
    audit: AuditContext | None = None,
) -> tuple[StaffToken, str]:
    """Give ``user`` a new token; returns the row and the token, which is shown once. ``actor``
    is who issued it (None: an operator at the command line)."""
    key = generate_key()
    with transaction.atomic():
        token = StaffToken.objects.create(
            user=user, name=name, prefix=key[:16], key_hash=hash_key(key), expires_at=expires_at
        )
        audit_record(
            action=AuditAction.TOKEN_CREATED,
            actor=actor,
            audit=audit,
            obj=token,
            summary=gettext_noop("created staff token %(prefix)s… for %(user)s"),
            summary_params={"prefix": token.prefix, "user": user.get_username()},
            data={
                "user": user.get_username(),
                "name": name,
                "prefix": token.prefix,
                "expires_at": iso_or_none(expires_at),
            },
        )
    return token, key


def staff_token_revoke(*, token: StaffToken, actor: Any = None, audit: AuditContext | None = None) -> bool:
    """Revoke ``token`` at once; False (and nothing written) when it already was."""
    now = timezone.now()
    with transaction.atomic():
        if not StaffToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
            return False
        token.revoked_at = now
        audit_record(
            action=AuditAction.TOKEN_REVOKED,
            actor=actor,
            audit=audit,
            obj=token,
            summary=gettext_noop("revoked staff token %(prefix)s… of %(user)s"),
            summary_params={"prefix": token.prefix, "user": token.user.get_username()},
            data={"user": token.user.get_username(), "name": token.name, "prefix": token.prefix},
        )
    return True
