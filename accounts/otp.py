"""Time-based one-time passwords (RFC 6238): a staff member's authenticator (`StaffDevice`, its
secret sealed at rest), enrolled only through a one-time link an administrator issues.

Without a link there is no trust on first use: a password alone never enrols a second factor, so
a stolen password cannot be turned into a full login by enrolling the thief's phone first.
"""

from __future__ import annotations

import hashlib
import secrets
from base64 import b32encode
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import segno
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.devices import EnrolmentLink, StaffDevice
from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record

DEVICE_NAME = "authenticator app"


def confirmed_device(user: Any) -> StaffDevice | None:
    device: StaffDevice | None = StaffDevice.objects.filter(user=user, confirmed=True).first()
    return device


def enrolment_device(user: Any) -> StaffDevice:
    """The user's device being enrolled: made once, so reloading the page keeps the same secret."""
    device: StaffDevice | None = StaffDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = StaffDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def enrolment_confirm(device: StaffDevice) -> None:
    """The code matched: this device is the user's second factor, replacing any earlier one (a
    lost phone), and the link that allowed it is spent."""
    with transaction.atomic():
        StaffDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        EnrolmentLink.objects.filter(user=device.user, used_at__isnull=True).update(used_at=timezone.now())


def enrolment_uri(device: StaffDevice) -> str:
    """The ``otpauth://`` URI authenticator apps read, with the hotline as issuer."""
    issuer = quote(f"scart {settings.SCART_HOTLINE_NAME}")
    account = quote(device.user.get_username())
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return (
        f"otpauth://totp/{issuer}:{account}?secret={secret}&algorithm=SHA1"
        f"&digits={device.digits}&period={device.step}&issuer={issuer}"
    )


def secret_text(device: StaffDevice) -> str:
    """The secret as authenticator apps take it typed in: base32 in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI (the page's CSP allows images from data:)."""
    data_uri: str = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return data_uri


THROTTLED = gettext_noop("Too many wrong codes in a row: wait a few seconds, then enter the newest code.")


def verify(device: StaffDevice, token: Any) -> str:
    """Check a code: "" when accepted, else why not. django-otp refuses a code used before and,
    after each wrong code, every code for a doubling number of seconds."""
    allowed, _info = device.verify_is_allowed()
    if not allowed:
        return THROTTLED
    if device.verify_token(str(token).replace(" ", "")):
        return ""
    return "wrong"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def enrolment_link_issue(user: Any, *, audit: AuditContext, base_url: str = "") -> str:
    """A new one-time enrolment link for ``user``, valid for ``SCART_ENROLMENT_LINK_HOURS``; earlier
    unused links of the user stop working. Only its hash is stored: the link is returned once."""
    key = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        EnrolmentLink.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
        EnrolmentLink.objects.create(
            user=user,
            key_hash=_key_hash(key),
            issued_by=audit.user,
            issued_at=now,
            expires_at=now + timedelta(hours=settings.SCART_ENROLMENT_LINK_HOURS),
        )
        audit_record(
            action=AuditAction.ENROLMENT_LINK_ISSUED,
            audit=audit,
            obj=user,
            summary=f"second-factor enrolment link for {user.get_username()}",
        )
    return f"{base_url or settings.SITE_URL}{reverse('login-enrol-link', args=[key])}"


def enrolment_link_find(key: str) -> EnrolmentLink | None:
    """The usable link with this secret part, if any."""
    link = EnrolmentLink.objects.select_related("user").filter(key_hash=_key_hash(key)).first()
    return link if link is not None and link.usable else None


def enrolment_allowed(user: Any, link_id: Any) -> bool:
    """Whether the link kept in the session (``link_id``) lets ``user`` enrol now."""
    if not link_id:
        return False
    link = EnrolmentLink.objects.filter(pk=link_id, user=user).first()
    return link is not None and link.usable
