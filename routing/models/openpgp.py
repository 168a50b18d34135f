"""The hotline's OpenPGP key, which signs notices (docs/notices.md, "Signed and encrypted notices").

The private key is sealed at rest (`scart.sealing.SealedTextField`): a database dump alone does not
give it away, and no page or admin form ever shows it. The public key is published at
``/openpgp-key.asc`` for recipients to check signatures with.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from scart.sealing import SealedTextField


class SigningKey(models.Model):
    """One key of the hotline. The active one signs; earlier ones stay published, so signatures
    made before a change of key can still be checked."""

    fingerprint = models.CharField(max_length=64, unique=True)
    user_id = models.CharField(max_length=300, blank=True)
    public_key = models.TextField(help_text="The public key in ASCII armour, as published.")
    secret_key = SealedTextField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=False, help_text="This key signs notices.")

    class Meta:
        ordering = ["-active", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["active"], condition=models.Q(active=True), name="signingkey_one_active")
        ]

    def __str__(self) -> str:
        return f"{self.user_id or 'OpenPGP key'} ({self.fingerprint})"
