"""How each abuse address of a provider is doing: what went to it and what came back.

One row per (provider, address), its counters changed in the transaction that records each fact
(a notice sent, a bounce or reply filed, a provider's answer, a removal), so the figures are exact
and the provider page reads one row per address instead of scanning every notice (``Notice.emails``
is a JSON list, which neither database can count per address with an index). Times are kept as a
count and a sum of seconds: the page shows their mean.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ContactStats(models.Model):
    provider = models.ForeignKey("routing.Provider", on_delete=models.CASCADE, related_name="contact_stats")
    address = models.CharField(max_length=254, help_text="Lower case.")
    notices_sent = models.PositiveIntegerField(default=0)
    first_sent_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    hard_bounces = models.PositiveIntegerField(default=0)
    soft_bounces = models.PositiveIntegerField(default=0)
    # Hard bounces since the address last showed it works (a reply from it, a provider's answer):
    # at SCART_CONTACT_HARD_BOUNCES the address is retired and the next contact is used.
    hard_bounces_in_row = models.PositiveSmallIntegerField(default=0)
    last_bounce_at = models.DateTimeField(null=True, blank=True)
    replies = models.PositiveIntegerField(default=0, help_text="Replies written by people (not auto-replies).")
    last_reply_at = models.DateTimeField(null=True, blank=True)
    # Notices that got a first reaction (a reply by a person, or an answer through the link), and
    # the sum of their times from sending to that reaction.
    reactions = models.PositiveIntegerField(default=0)
    reaction_seconds = models.PositiveBigIntegerField(default=0)
    # Cases removed after a first notice to this address, and the sum of their times to removal.
    removals = models.PositiveIntegerField(default=0)
    removal_seconds = models.PositiveBigIntegerField(default=0)
    # Retired: no notice goes here any more (`Provider.retired_emails`); a senior analyst checks the
    # provider's contact (the contact-check queue) and ``checked_at`` records that they did.
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=500, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["provider", "address"]
        constraints = [models.UniqueConstraint(fields=["provider", "address"], name="contactstats_once")]
        indexes = [
            # The contact-check queue: retired addresses no senior has looked at yet.
            models.Index(
                fields=["provider"],
                name="contactstats_to_check_idx",
                condition=models.Q(retired_at__isnull=False, checked_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.provider_id})"

    @property
    def awaiting_check(self) -> bool:
        return self.retired_at is not None and self.checked_at is None

    @property
    def mean_reaction_hours(self) -> float | None:
        return self.reaction_seconds / self.reactions / 3600 if self.reactions else None

    @property
    def mean_removal_hours(self) -> float | None:
        return self.removal_seconds / self.removals / 3600 if self.removals else None
