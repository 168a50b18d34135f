"""A senior analyst chooses how notices reach a recipient (a provider or a partner hotline).

The channel is read when cases join a notice (`routing.notices.batches`): notices already
planned keep the channel they were planned for, and the next cases start a notice on the new
one. Each change is audited."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from routing.models import DeliveryChannel, PartnerHotline, Provider


class ChannelInvalid(ValueError):
    """Not a channel, or one this recipient cannot have (a partner hotline has no abuse API)."""


def recipient_channels(recipient: Provider | PartnerHotline) -> list[tuple[str, str]]:
    """The channels this recipient may be given, as (value, label)."""
    choices = [(str(value), str(label)) for value, label in DeliveryChannel.choices]
    if isinstance(recipient, PartnerHotline):
        choices = [c for c in choices if c[0] != DeliveryChannel.PROVIDER_API]
    return choices


def recipient_channel_set(
    *, recipient: Provider | PartnerHotline, channel: str, user: Any, audit: AuditContext | None = None
) -> bool:
    """Give ``recipient`` the delivery ``channel``; returns whether it changed. Raises
    `ChannelInvalid` for a channel it may not have."""
    if channel not in {value for value, _label in recipient_channels(recipient)}:
        raise ChannelInvalid(f"{channel!r} is not a delivery channel this recipient can have")
    model = type(recipient)
    with transaction.atomic():
        before = model.objects.select_for_update().filter(pk=recipient.pk).values_list("delivery_channel", flat=True)
        previous = before.first()
        if previous == channel:
            return False
        model.objects.filter(pk=recipient.pk).update(delivery_channel=channel)
        audit_record(
            action=AuditAction.CHANNEL_CHANGED,
            actor=user,
            audit=audit,
            obj=recipient,
            summary=f"notices to {recipient} go by {channel} (were {previous})",
            data={"before": previous, "after": channel},
        )
    recipient.delivery_channel = channel
    return True
