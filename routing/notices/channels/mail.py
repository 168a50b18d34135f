"""The mail channels: batched mail (one message per notice: the text, a CSV and one X-ARF
report per URL attached) and one X-ARF report per message (one message per URL, RFC 5965
style). Both build their messages with `routing.notices.render.notice_message`, sign them where
the hotline signs (`routing.notices.signing_keys.notice_seal`) and hand them to the mail backend through `routing.notices.delivery.message_deliver`, which sorts SMTP's answers
into temporary and permanent failures."""

from __future__ import annotations

import logging
from email.utils import format_datetime
from typing import Any, ClassVar

from django.core.mail import get_connection

from routing.models import DeliveryChannel, NoticeDelivery
from routing.notices import delivery as smtp
from routing.notices.arf import ReportPart
from routing.notices.channels.base import Outgoing, Part, PartResult, PartStatus
from routing.notices.channels.registry import transport_register
from routing.notices.channels.shown import PartPreview, mail_preview
from routing.notices.render import Item, notice_message
from routing.notices.signing_keys import notice_seal

log = logging.getLogger(__name__)


class _MailTransport:
    """What both mail channels share: one SMTP connection per sending run."""

    channel: ClassVar[str]

    def __init__(self) -> None:
        self._connection: Any = None

    def _open(self) -> Any:
        if self._connection is None:
            self._connection = get_connection(fail_silently=False)
        return self._connection

    def message(self, outgoing: Outgoing, part: Part, *, message_id: str) -> Any:
        raise NotImplementedError

    def deliver(self, outgoing: Outgoing, part: Part, delivery: NoticeDelivery) -> PartResult:
        # Signed (and encrypted to the recipient's key) where SCART_NOTICE_SIGN says so, right
        # before it goes: the preview shows what is signed, as the recipient reads it.
        message = notice_seal(self.message(outgoing, part, message_id=delivery.message_id), notice=outgoing.notice)
        # Looked up on the module at each call: the tests put a slow or failing one in its place.
        smtp.message_deliver(self._open(), message)
        return PartResult()

    def preview(self, outgoing: Outgoing, part: Part, *, message_id: str) -> PartPreview:
        return mail_preview(self.message(outgoing, part, message_id=message_id), title=self.title(outgoing, part))

    def title(self, outgoing: Outgoing, part: Part) -> str:
        return ""

    def poll(self, delivery: NoticeDelivery) -> PartStatus | None:
        return None  # bounces and replies come back by mail (`routing.notices.replies`)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:
                log.debug("closing the SMTP connection failed", exc_info=True)
            self._connection = None


@transport_register(DeliveryChannel.BATCHED_MAIL)
class BatchedMail(_MailTransport):
    """One message per notice, as scart has always sent them."""

    channel = DeliveryChannel.BATCHED_MAIL

    def parts(self, outgoing: Outgoing) -> list[Part]:
        return [Part(key="message", items=outgoing.items)]

    def message(self, outgoing: Outgoing, part: Part, *, message_id: str) -> Any:
        return notice_message(
            notice=outgoing.notice, rendered=outgoing.rendered, emails=outgoing.emails, message_id=message_id
        )


@transport_register(DeliveryChannel.XARF_PER_MESSAGE)
class XarfPerMessage(_MailTransport):
    """One message per URL (``case:<id>``), each with its own Message-ID, sent one after the other
    in the same run so that the recipient gets a notice's reports together."""

    channel = DeliveryChannel.XARF_PER_MESSAGE

    def parts(self, outgoing: Outgoing) -> list[Part]:
        return [
            Part(key=f"case:{item.case.pk}", items=(item,), case_id=item.case.pk, position=n)
            for n, item in enumerate(outgoing.items)
        ]

    def message(self, outgoing: Outgoing, part: Part, *, message_id: str) -> Any:
        (item,) = part.items
        return notice_message(
            notice=outgoing.notice,
            rendered=outgoing.rendered,
            emails=outgoing.emails,
            message_id=message_id,
            report=report_part(outgoing, item),
        )

    def title(self, outgoing: Outgoing, part: Part) -> str:
        (item,) = part.items
        return f"{outgoing.items.index(item) + 1}/{len(outgoing.items)}: {item.url}"


def report_part(outgoing: Outgoing, item: Item) -> ReportPart:
    position = outgoing.items.index(item) + 1
    addresses = (item.case.resolution or {}).get("addresses") or []
    return ReportPart(
        position=position,
        total=len(outgoing.items),
        url=item.url,
        report_filename=f"{outgoing.notice.reference}-{position:03d}.xarf.json",
        report_json=outgoing.xarf_text(item),
        arrival=format_datetime(item.case.first_reported_at) if item.case.first_reported_at else "",
        source_ip=str(addresses[0]) if addresses else "",
    )
