"""The keys of sealed fields, as the settings read them (no Django here: the settings import it)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet


def key_from_secret(secret: str) -> str:
    """A key derived from a workstation's signing key, for development and tests only: a
    deployment sets ``SCART_FIELD_KEY`` (the settings refuse to start without one)."""
    digest = hashlib.sha256(b"scart sealed fields\x00" + secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def key_new() -> str:
    """A new random key, as ``SCART_FIELD_KEY`` takes it."""
    return Fernet.generate_key().decode()


def keys_parse(text: str) -> list[str]:
    """The keys in a ``SCART_FIELD_KEY`` value: separated by commas, spaces or new lines."""
    return [key for key in text.replace(",", " ").split() if key]
