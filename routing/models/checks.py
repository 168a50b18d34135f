"""Availability checks: what a check of a case's URL saw. A status line and where it was, never
content: no body, no headers but the redirect target."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scart.times import shown


class CheckOutcome(models.TextChoices):
    ONLINE = "online", _("Online")
    GONE = "gone", _("Gone")
    UNREACHABLE = "unreachable", _("Unreachable")
    BLOCKED = "blocked", _("Blocked by the address guard")
    MOVED = "moved", _("Moved to another host")


class AvailabilityCheck(models.Model):
    case = models.ForeignKey("reports.Case", on_delete=models.CASCADE, related_name="checks")
    at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, choices=CheckOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    address = models.CharField(max_length=45, blank=True, help_text="The address the check connected to.")
    duration_ms = models.PositiveIntegerField(default=0)
    redirect_to = models.TextField(blank=True)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["case", "at"], name="check_case_at_idx")]

    def __str__(self) -> str:
        return f"{self.outcome} at {shown(self.at)}"
