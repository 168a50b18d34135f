"""The hotline's signing key and the recipients' public keys, as the sender uses them.

`notice_seal` is the one call the sender makes: with ``SCART_NOTICE_SIGN`` on, a built notice
message comes back signed with the active `SigningKey`, and encrypted where its recipient (the
provider or partner hotline of the notice) has a usable public key on file. Keys are added by
`signing_key_activate` (the admin's form and ``manage.py pgp_key``), audited.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import pysequoia
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from routing.models import Notice, SigningKey
from routing.notices.openpgp import (
    message_seal,
    public_key_text,
    recipient_certs,
    signing_key_facts,
    signing_key_read,
)

log = logging.getLogger(__name__)


class SigningKeyMissing(ImproperlyConfigured):
    """Signing is on but the hotline has no usable key: no notice leaves unsigned."""


def signing_key_build(tsk: pysequoia.Tsk) -> SigningKey:
    """A `SigningKey` row for ``tsk`` (not saved)."""
    facts = signing_key_facts(tsk)
    return SigningKey(
        fingerprint=facts.fingerprint,
        user_id=", ".join(facts.user_ids)[:300],
        public_key=public_key_text(tsk),
        secret_key=str(tsk),
        expires_at=facts.expires_at,
    )


def signing_key_activate(*, key: SigningKey, audit: AuditContext | None = None) -> SigningKey:
    """Make ``key`` the one that signs notices (saving it first if it is new); the key that
    signed before stays published."""
    with transaction.atomic():
        SigningKey.objects.filter(active=True).exclude(pk=key.pk).update(active=False)
        key.active = True
        key.save()
        audit_record(
            action=AuditAction.SETTING_CHANGED,
            audit=audit,
            obj=key,
            summary=f"OpenPGP signing key {key.fingerprint} now signs notices",
            data={"fingerprint": key.fingerprint, "expires_at": key.expires_at.isoformat() if key.expires_at else None},
        )
    return key


def signing_key_active() -> SigningKey | None:
    return SigningKey.objects.filter(active=True).first()


def published_keys() -> str:
    """Every public key of the hotline, the signing one first, in ASCII armour: what
    ``/openpgp-key.asc`` serves. "" when the hotline has none."""
    return "".join(k.public_key.strip() + "\n" for k in SigningKey.objects.order_by("-active", "-created_at"))


@lru_cache(maxsize=4)
def _tsk(secret: str) -> pysequoia.Tsk:
    return signing_key_read(secret)


def notice_recipient_keys(notice: Notice) -> list[pysequoia.Cert]:
    """The usable public keys of the notice's recipient: its provider's or partner hotline's
    (police and registrars have none on file). An expired or revoked key is left out, with a
    warning: the notice then goes signed but not encrypted."""
    owner = notice.hotline if notice.hotline_id else notice.provider if notice.provider_id else None
    text = getattr(owner, "openpgp_key", "") if owner is not None else ""
    if not text:
        return []
    certs = recipient_certs(text)
    if not certs:
        log.warning("notice %s: the OpenPGP key of %s is expired, revoked or unreadable; not encrypted", notice, owner)
    return certs


def signing_tsk() -> pysequoia.Tsk | None:
    """The key notices are signed with, None when ``SCART_NOTICE_SIGN`` is off. Raises
    `SigningKeyMissing` when signing is on without a usable key: the sender asks before a notice
    is written ``sending``, so the notice waits for a key rather than going out unsigned."""
    if not settings.SCART_NOTICE_SIGN:
        return None
    key = signing_key_active()
    if key is None:
        raise SigningKeyMissing(
            "SCART_NOTICE_SIGN is on but the hotline has no signing key: `manage.py pgp_key --generate` makes one."
        )
    if key.expires_at is not None and key.expires_at <= timezone.now():
        raise SigningKeyMissing(f"The hotline's signing key {key.fingerprint} expired: make or import a new one.")
    try:
        return _tsk(key.secret_key)
    except ValueError as exc:
        raise SigningKeyMissing(f"The hotline's signing key {key.fingerprint} cannot sign: {exc}") from None


def notice_seal(message: EmailMessage, *, notice: Notice) -> EmailMessage:
    """``message`` signed (and encrypted where the recipient has a key) when ``SCART_NOTICE_SIGN``
    is on; as it is otherwise (see `signing_tsk`)."""
    tsk = signing_tsk()
    if tsk is None:
        return message
    return message_seal(message, sign_key=tsk, recipient_keys=notice_recipient_keys(notice))
