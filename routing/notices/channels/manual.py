"""The manual channel: nothing is sent. The notice is rendered and checked like any other, then
waits ``by_hand`` in the notices list for a senior analyst, who sends it by their own means
(a web form, a phone call, a letter) as the preview shows it, and records that with "mark sent";
the reminders and the escalation ladder then follow as for mail."""

from __future__ import annotations

from typing import Any, ClassVar

from routing.models import DeliveryChannel, NoticeDelivery
from routing.notices.channels.base import Outgoing, Part, PartResult, PartStatus
from routing.notices.channels.registry import transport_register
from routing.notices.channels.shown import PartPreview, mail_preview
from routing.notices.render import notice_message


@transport_register(DeliveryChannel.MANUAL)
class ByHand:
    channel: ClassVar[str] = DeliveryChannel.MANUAL

    def parts(self, outgoing: Outgoing) -> list[Part]:
        return [Part(key="message", items=outgoing.items)]

    def deliver(self, outgoing: Outgoing, part: Part, delivery: NoticeDelivery) -> PartResult:
        return PartResult(by_hand=True)

    def preview(self, outgoing: Outgoing, part: Part, *, message_id: str) -> PartPreview:
        # What to send: the batched message, its text and attachments.
        message: Any = notice_message(
            notice=outgoing.notice, rendered=outgoing.rendered, emails=outgoing.emails, message_id=message_id
        )
        return mail_preview(message)

    def poll(self, delivery: NoticeDelivery) -> PartStatus | None:
        return None

    def close(self) -> None:
        return None
