"""Takedown notices: who was told what about which cases, when, and how it went.

A notice is one message to one recipient about one or more cases (a batch). It is planned
(``queued``, ``open`` while cases may still join it), claimed by one sender, written ``sending``
right before the SMTP attempt, and ends ``sent``, ``failed`` (permanently refused) or
``unknown`` (a sender died mid-attempt: a person decides, nothing resends it by itself).
``cancelled`` is a notice whose every case left it before it went out (re-routed or closed).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from routing.models.deliveries import DeliveryChannel


class NoticeKind(models.TextChoices):
    PROVIDER = "provider", _("Notice to the hosting provider")
    REMINDER = "reminder", _("Reminder")
    ESCALATION = "escalation", _("Escalation")
    REFERRAL = "referral", _("Referral to a partner hotline")
    POLICE = "police", _("Report to the police")
    UPDATE = "update", _("Update to a partner hotline: content removed")


class NoticeState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    UNKNOWN = "unknown", _("Unknown: the sender stopped mid-attempt; check before resending")
    CANCELLED = "cancelled", _("Cancelled: no cases left")
    BY_HAND = "by_hand", _("To send by hand")


# Every notice state and where it may go next; `routing.notices.states.notice_transition` refuses
# any other move. Queued notices are claimed and written ``sending`` right before the attempt (or
# fail before it: no address, a notice that cannot be rendered; or are cancelled: no cases left).
# A retry for now goes back to ``queued``; a bounce fails a notice that went out; a person resends
# a failed or unknown notice, or confirms that an unknown one did leave. A notice on the manual
# channel is prepared (rendered and checked) and waits ``by_hand`` until a senior marks it sent.
NOTICE_TRANSITIONS: dict[NoticeState, frozenset[NoticeState]] = {
    NoticeState.QUEUED: frozenset({NoticeState.SENDING, NoticeState.FAILED, NoticeState.CANCELLED}),
    NoticeState.SENDING: frozenset(
        {NoticeState.SENT, NoticeState.QUEUED, NoticeState.FAILED, NoticeState.UNKNOWN, NoticeState.BY_HAND}
    ),
    NoticeState.SENT: frozenset({NoticeState.FAILED}),
    NoticeState.UNKNOWN: frozenset({NoticeState.SENT, NoticeState.QUEUED, NoticeState.FAILED}),
    NoticeState.FAILED: frozenset({NoticeState.QUEUED}),
    NoticeState.CANCELLED: frozenset(),
    NoticeState.BY_HAND: frozenset({NoticeState.SENT, NoticeState.QUEUED, NoticeState.FAILED}),
}


class RecipientKind(models.TextChoices):
    """Who a notice goes to. Routing names the first five; the reminder ladder's escalation
    steps add the registrar and the provider's escalation contact. The labels are the words the
    pages show."""

    PROVIDER = "provider", _("hosting provider")
    CDN = "cdn", _("CDN")
    ORIGIN = "origin_provider", _("origin's hosting provider")
    HOTLINE = "hotline", _("partner hotline")
    POLICE = "police", _("police")
    REGISTRAR = "registrar", _("registrar")
    PROVIDER_ESCALATION = "provider_escalation", _("provider escalation")


class NoticeResponse(models.TextChoices):
    REMOVED = "removed", _("Removed")
    DISPUTED = "disputed", _("Disputed")


class DisputeState(models.TextChoices):
    OPEN = "open", _("Awaiting a senior analyst")
    UPHELD = "upheld", _("Verdict upheld: the notice cycle goes on")
    ACCEPTED = "accepted", _("Provider's view accepted: no more reminders or escalation")


class Notice(models.Model):
    reference = models.CharField(max_length=32, unique=True, help_text="SCART-YYYYMMDD-NNNNNN")
    kind = models.CharField(max_length=16, choices=NoticeKind.choices)
    recipient_kind = models.CharField(max_length=24, choices=RecipientKind.choices)
    recipient_name = models.CharField(max_length=200)
    # Who it goes to and why (recipient and kind): planning never gives a case twice to one key.
    batch_key = models.CharField(max_length=300)
    # How it goes (`DeliveryChannel`), chosen from the recipient's channel when planned; cases join
    # the open notice with the same key, channel and part (a provider API's hostname), so a change
    # of channel starts a new notice.
    channel = models.CharField(
        max_length=24,
        choices=DeliveryChannel.choices,
        default=DeliveryChannel.BATCHED_MAIL,
        db_default=DeliveryChannel.BATCHED_MAIL,
    )
    batch_part = models.CharField(max_length=253, blank=True, default="", db_default="")
    emails = models.JSONField(default=list, blank=True)
    language = models.CharField(max_length=8, default="en")
    # Indexed by notice_provider_idx (provider, kind, sent_at).
    provider = models.ForeignKey(
        "routing.Provider", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices", db_index=False
    )
    hotline = models.ForeignKey(
        "routing.PartnerHotline", null=True, blank=True, on_delete=models.SET_NULL, related_name="notices"
    )
    ask_origin = models.BooleanField(default=False, help_text="To a CDN: asks for the origin server.")
    step = models.PositiveSmallIntegerField(default=0, help_text="Reminder number or escalation rung.")
    urgent = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=NoticeState.choices, default=NoticeState.QUEUED)
    open = models.BooleanField(default=True, help_text="Cases may still join it.")
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(help_text="When it goes out (or is tried again).")
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    last_error = models.TextField(blank=True)
    # SHA-256 of the random part of the provider's confirmation link; the link itself is never stored.
    link_key_hash = models.CharField(max_length=64, blank=True)
    # A person set an unknown or failed notice aside or sent it on again.
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A senior analyst chose the recipient by hand: the sender keeps these addresses instead of
    # taking the route's current ones.
    recipient_fixed = models.BooleanField(default=False, db_default=False)
    cases = models.ManyToManyField("reports.Case", through="NoticeCase", related_name="notices")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["due_at"], name="notice_queued_due_idx", condition=models.Q(state="queued")),
            models.Index(fields=["sending_since"], name="notice_sending_idx", condition=models.Q(state="sending")),
            models.Index(fields=["provider", "kind", "sent_at"], name="notice_provider_idx"),
            models.Index(fields=["message_id"], name="notice_message_id_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["batch_key", "channel", "batch_part"],
                condition=models.Q(open=True),
                name="notice_one_open_batch",
            )
        ]

    def __str__(self) -> str:
        return self.reference


class NoticeCase(models.Model):
    """A case in a notice, and what the recipient said about it through the confirmation link."""

    # Indexed by noticecase_once (notice, case) and noticecase_case_idx (case, notice).
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="items", db_index=False)
    case = models.ForeignKey("reports.Case", on_delete=models.CASCADE, related_name="notice_items", db_index=False)
    added_at = models.DateTimeField(default=timezone.now)
    # Taken out before sending: the case moved to another provider, or closed.
    dropped_at = models.DateTimeField(null=True, blank=True)
    drop_reason = models.CharField(max_length=200, blank=True)
    response = models.CharField(max_length=16, choices=NoticeResponse.choices, blank=True)
    response_reason = models.TextField(blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    dispute_state = models.CharField(max_length=16, choices=DisputeState.choices, blank=True)
    dispute_handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispute_handled_at = models.DateTimeField(null=True, blank=True)
    dispute_note = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notice", "case"], name="noticecase_once")]
        indexes = [
            models.Index(fields=["case", "notice"], name="noticecase_case_idx"),
            models.Index(
                fields=["responded_at"], name="noticecase_dispute_idx", condition=models.Q(dispute_state="open")
            ),
        ]

    def __str__(self) -> str:
        return f"case {self.case_id} in {self.notice_id}"


class NoticeMessage(models.Model):
    """A message that came back about a notice: a reply or a delivery-failure report. Of a reply,
    the sender, the subject and the start of its text are kept (what the analysts must read);
    attachments are never opened."""

    class Kind(models.TextChoices):
        REPLY = "reply", "Reply"
        BOUNCE = "bounce", "Delivery failure"

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    received_at = models.DateTimeField(default=timezone.now)
    sender = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    message_id = models.CharField(max_length=255, unique=True)
    excerpt = models.TextField(blank=True)
    failed_recipients = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} to {self.notice_id}"


class NoticeCounter(models.Model):
    """The last number given to a notice reference on one day (``SCART-YYYYMMDD-NNNNNN``)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"
