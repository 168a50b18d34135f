"""Time-based one-time passwords (RFC 6238) through django-otp's TOTP devices."""

from __future__ import annotations

from base64 import b32encode
from typing import Any
from urllib.parse import quote

import segno
from django.conf import settings
from django.utils.translation import gettext_noop
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "authenticator app"


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enrolment_device(user: Any) -> TOTPDevice:
    """The user's device being enrolled: made once, so reloading the page keeps the same secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def enrolment_uri(device: TOTPDevice) -> str:
    """The ``otpauth://`` URI authenticator apps read, with the hotline as issuer."""
    issuer = quote(f"scart {settings.SCART_HOTLINE_NAME}")
    account = quote(device.user.get_username())
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return (
        f"otpauth://totp/{issuer}:{account}?secret={secret}&algorithm=SHA1"
        f"&digits={device.digits}&period={device.step}&issuer={issuer}"
    )


def secret_text(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32 in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as an SVG ``data:`` URI (the page's CSP allows images from data:)."""
    data_uri: str = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return data_uri


THROTTLED = gettext_noop("Too many wrong codes in a row: wait a few seconds, then enter the newest code.")


def verify(device: TOTPDevice, token: Any) -> str:
    """Check a code: "" when accepted, else why not. django-otp refuses a code used before and,
    after each wrong code, every code for a doubling number of seconds."""
    allowed, _info = device.verify_is_allowed()
    if not allowed:
        return THROTTLED
    if device.verify_token(str(token).replace(" ", "")):
        return ""
    return "wrong"
