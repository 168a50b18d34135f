"""What an administrator changed of the retention rules (`privacy.rules`): a rule without a row
here keeps its documented default."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from privacy.rules import RetentionKind


class RetentionSetting(models.Model):
    kind = models.CharField(max_length=32, choices=RetentionKind.choices, primary_key=True)
    days = models.PositiveIntegerField()
    # Off: the rule erases nothing (kept until a person erases it, or the rule is switched on).
    enabled = models.BooleanField(default=True)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.kind}: {self.days} days"
