"""The provider's confirmation link: signed, expiring, scoped to one notice.

A link is ``/n/<token>/`` where the token carries the notice's id and a random key, timestamped
and signed with ``SECRET_KEY`` (Django's `TimestampSigner`, which compares signatures in constant
time). Only the SHA-256 of the key is stored with the notice, and it is compared in constant time
too: a leaked database does not give working links, a link for one notice opens no other, and a
link older than ``SCART_NOTICE_LINK_DAYS`` no longer works.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils.crypto import constant_time_compare

from routing.models import Notice

SALT = "scart.notice-link"


class LinkInvalid(Exception):
    """The link is tampered with, for another notice, or unknown."""


class LinkExpired(LinkInvalid):
    """The link was genuine but is older than ``SCART_NOTICE_LINK_DAYS``."""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_link(notice: Notice) -> tuple[str, str]:
    """A new token for ``notice`` and the hash to store with it; stores nothing (the sender
    writes the hash in the same conditional update that marks the notice ``sending``)."""
    key = secrets.token_urlsafe(24)
    return signing.TimestampSigner(salt=SALT).sign(f"{notice.pk}.{key}"), _hash(key)


def link_url(token: str) -> str:
    return f"{settings.SITE_URL}{reverse('notice-link', args=[token])}"


def notice_for_token(token: str) -> Notice:
    """The notice a token belongs to. Raises `LinkExpired` or `LinkInvalid`."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        value = signer.unsign(token, max_age=timedelta(days=settings.SCART_NOTICE_LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise LinkExpired("this link has expired") from exc
    except signing.BadSignature as exc:
        raise LinkInvalid("this link is not valid") from exc
    pk, _, key = value.partition(".")
    notice = Notice.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
    if notice is None or not notice.link_key_hash or not constant_time_compare(_hash(key), notice.link_key_hash):
        raise LinkInvalid("this link is not valid")
    return notice
