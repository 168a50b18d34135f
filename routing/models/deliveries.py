"""Delivery channels, and the record of each part of a notice handed to one.

A recipient (a provider or a partner hotline) has a delivery channel, chosen by a senior analyst:
how its notices go out. One notice is delivered in one or more parts (one message for batched
mail, one message per URL for X-ARF per message, one report for a provider's API); each part has
a `NoticeDelivery` row, claimed and written ``sending`` before its attempt and ``sent`` after it,
so a sender that dies after k of N parts never sends those k again.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DeliveryChannel(models.TextChoices):
    """How notices reach a recipient. The labels are the words the pages show."""

    BATCHED_MAIL = "batched_mail", _("Batched e-mail (one message, CSV and X-ARF reports attached)")
    XARF_PER_MESSAGE = "xarf_per_message", _("One X-ARF report per e-mail message")
    PROVIDER_API = "provider_api", _("The provider's abuse reporting API")
    MANUAL = "manual", _("By hand (prepared here, sent and marked sent by a senior analyst)")


# A provider's API takes at most this many URLs in one report, all on one hostname.
PROVIDER_API_MAX_URLS = 250


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Not attempted yet")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown: the sender stopped mid-attempt")
    BY_HAND = "by_hand", _("To send by hand")


# Every part state and where it may go next (`routing.notices.channels.parts.delivery_transition`
# refuses any other move). A pending part is written ``sending`` right before its attempt; a
# temporary failure puts it back to ``pending``; a sender that died leaves it ``sending`` and the
# sweep makes it ``unknown`` for a person (who sends it again: ``pending``, or confirms it left:
# ``sent``). A manual channel's part waits ``by_hand`` until a senior marks it sent. A failed part
# goes back to ``pending`` when a senior sends its notice again.
DELIVERY_TRANSITIONS: dict[DeliveryState, frozenset[DeliveryState]] = {
    DeliveryState.PENDING: frozenset({DeliveryState.SENDING, DeliveryState.BY_HAND, DeliveryState.FAILED}),
    DeliveryState.SENDING: frozenset(
        {DeliveryState.SENT, DeliveryState.PENDING, DeliveryState.FAILED, DeliveryState.UNKNOWN, DeliveryState.BY_HAND}
    ),
    DeliveryState.SENT: frozenset({DeliveryState.FAILED}),
    DeliveryState.UNKNOWN: frozenset({DeliveryState.SENT, DeliveryState.PENDING, DeliveryState.FAILED}),
    DeliveryState.FAILED: frozenset({DeliveryState.PENDING}),
    DeliveryState.BY_HAND: frozenset({DeliveryState.SENT, DeliveryState.PENDING, DeliveryState.FAILED}),
}


class NoticeDelivery(models.Model):
    """One part of a notice on its channel: a message, or a report to a provider's API."""

    notice = models.ForeignKey("routing.Notice", on_delete=models.CASCADE, related_name="deliveries")
    # The case this part is about, for a channel with one part per case (X-ARF per message).
    case = models.ForeignKey("reports.Case", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(max_length=24, choices=DeliveryChannel.choices)
    # Stable within the notice: ``message``, ``case:<id>``, ``report``.
    part_key = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0, help_text="Order of the parts within the notice.")
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    # Given when the part is created and kept through every retry (mail).
    message_id = models.CharField(max_length=255, blank=True)
    # What the recipient's system calls it (a provider API's report id).
    external_id = models.CharField(max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The recipient's own word on it (a provider API's report status), polled after sending.
    status = models.CharField(max_length=100, blank=True)
    status_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["notice", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["notice", "part_key"], name="noticedelivery_once")]
        indexes = [
            models.Index(fields=["message_id"], name="noticedelivery_message_id_idx"),
            models.Index(
                fields=["status_checked_at"],
                name="noticedelivery_poll_idx",
                condition=models.Q(state="sent") & ~models.Q(external_id=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.notice_id}/{self.part_key}"
