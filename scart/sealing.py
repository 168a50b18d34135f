"""Secrets sealed at rest: a model field whose value is encrypted in the database.

Recoverable secrets (second-factor keys, a provider API's credentials, the hotline's OpenPGP key)
are stored as Fernet tokens (AES-128-CBC with HMAC-SHA256, from the ``cryptography`` package)
under the keys in ``SCART_FIELD_KEY`` (or ``SCART_FIELD_KEY_FILE``). The first key seals; every
key listed unseals, which is how a key is rotated (``manage.py seal_rotate``, see
docs/data-protection.md, "Secrets sealed at rest"). A database dump alone gives none of the secrets away.

The field is not editable by default, so no model form (the admin's included) ever shows it: a
page that takes a secret has a form field of its own that never renders the value back.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from scart.sealing_keys import key_new, keys_parse

__all__ = ["PREFIX", "SealedTextField", "key_new", "keys_parse", "seal", "sealed_fields", "unseal"]

# A stored value starts with this, so a sealed value is told apart from one written before the
# field was sealed (a data migration seals those).
PREFIX = "sealed:"


@cache
def _sealer(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("SCART_FIELD_KEY holds no key: secrets cannot be sealed.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "SCART_FIELD_KEY holds a key that is not a Fernet key (32 bytes, URL-safe base64): "
            "`manage.py seal_rotate --new-key` prints one."
        ) from exc


def sealer() -> MultiFernet:
    return _sealer(tuple(settings.SCART_FIELD_KEYS))


def seal(text: str) -> str:
    """``text`` sealed under the first key, as stored."""
    return PREFIX + sealer().encrypt(text.encode()).decode()


def unseal(stored: str) -> str:
    """The text of a stored value. A value written before sealing (no prefix) is returned as it is."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return sealer().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A sealed value cannot be opened with any key in SCART_FIELD_KEY: was a key removed before "
            "`manage.py seal_rotate` had run?"
        ) from exc


def sealed_by_first_key(stored: str) -> bool:
    """Whether ``stored`` is sealed under the current (first) key, so rotation can leave it."""
    if not stored.startswith(PREFIX):
        return False
    try:
        Fernet(settings.SCART_FIELD_KEYS[0].encode()).decrypt(stored[len(PREFIX) :].encode())
    except InvalidToken:
        return False
    return True


class SealedTextField(models.TextField):  # type: ignore[type-arg]
    """Text encrypted at rest. It cannot be searched or compared in SQL (each seal is different)."""

    description = "Text sealed at rest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        if kwargs.get("editable") is False:
            del kwargs["editable"]
        else:
            kwargs["editable"] = True
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return unseal(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "" or str(value).startswith(PREFIX):
            return value
        return seal(str(value))

    def value_to_string(self, obj: Any) -> str:
        # A serialised dump (dumpdata) carries the sealed form, never the secret.
        value = self.value_from_object(obj)
        return "" if not value else self.get_prep_value(value)


def sealed_fields() -> list[tuple[type[models.Model], SealedTextField]]:
    """Every sealed field of every installed model."""
    found = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if isinstance(field, SealedTextField):
                found.append((model, field))
    return found
