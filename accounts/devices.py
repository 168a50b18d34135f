"""Second factors at rest: a staff member's authenticator (TOTP) with its secret sealed, and the
one-time link an administrator issues to enrol one.

django-otp's own ``TOTPDevice`` keeps the shared secret in plain hex, and its admin shows it. A
``StaffDevice`` is the same device (the same verification, drift and replay rules, borrowed from
django-otp) with the secret in a sealed field (`scart.sealing`): a database dump does not give
away anyone's second factor, and no admin page shows it. Migration 0009 moved every existing
device here and emptied django-otp's table.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from scart.sealing import SealedTextField


class StaffDevice(TimestampMixin, ThrottlingMixin, Device):
    """An authenticator app (RFC 6238 time-based codes) whose secret is sealed at rest."""

    key = SealedTextField(default=default_key, help_text="The shared secret, hex, sealed at rest.")
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1, help_text="The time step of the last code accepted.")

    # django-otp's verification, drift correction, replay refusal and throttling, unchanged.
    bin_key = TOTPDevice.bin_key
    verify_token = TOTPDevice.verify_token
    get_throttle_factor = TOTPDevice.get_throttle_factor

    class Meta(Device.Meta):
        verbose_name = "authenticator"


class EnrolmentLink(models.Model):
    """A one-time link to enrol a second factor, issued by an administrator to one staff member.
    Only the SHA-256 of its secret part is stored; the link is shown once, to the administrator."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrolment_links")
    key_hash = models.CharField(max_length=64, unique=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("enrolment link")
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return f"enrolment link for {self.user}"

    @property
    def usable(self) -> bool:
        return self.used_at is None and self.expires_at > timezone.now()
