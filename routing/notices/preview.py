"""What a notice sends (or sent), for the notice's page, on its channel.

It is made by the sender's own code: the notice is rendered once (`notice_outgoing`, with the
items, the addresses and the history the sender takes), split into parts by its channel's
transport, and each part shown by that transport (`Transport.preview`): a message is read back
from the MIME message the mail server is handed (headers, the text, the CSV and each X-ARF
report), one per URL on the per-report channel; a provider API's request as it would go, without
its credentials. Two things differ by nature: the provider's link, a credential made afresh for
each message and never stored (the preview shows `LINK_PLACEHOLDER`), and the ``Date`` header. A
notice that went out is rendered again from today's data: a verdict changed since would show here.
"""

from __future__ import annotations

from dataclasses import dataclass

from reports.models import Case
from routing.jurisdiction import RoutingContext, route
from routing.models import DeliveryChannel, Notice, NoticeDelivery, NoticeKind, NoticeState
from routing.notices.channels import PermanentFailure, Transports
from routing.notices.channels.deliver import notice_outgoing
from routing.notices.channels.shown import SHOWN_HEADERS, Attachment, PartPreview
from routing.notices.channels.shown import message_preview as part_message_preview
from routing.notices.render import NoticeInvalid
from routing.notices.sending import notice_current_emails

__all__ = ["LINK_PLACEHOLDER", "SHOWN_HEADERS", "Attachment", "Preview", "message_preview", "notice_preview"]

LINK_PLACEHOLDER = "(the provider's own link, made afresh for each message)"
MESSAGE_ID_PLACEHOLDER = "(given when it is first sent)"
# States in which the addresses are the ones the last attempt used.
ATTEMPTED = (NoticeState.SENDING, NoticeState.SENT, NoticeState.FAILED, NoticeState.UNKNOWN, NoticeState.BY_HAND)


@dataclass(frozen=True)
class Preview:
    """The first part's headers, text and attachments (the whole of a batched message), and
    every part (one message per URL on the per-report channel)."""

    headers: tuple[tuple[str, str], ...]
    body: str
    attachments: tuple[Attachment, ...]
    error: str = ""  # why it cannot be rendered (then the rest is empty)
    parts: tuple[PartPreview, ...] = ()
    channel: str = DeliveryChannel.BATCHED_MAIL

    @property
    def csv(self) -> Attachment | None:
        return next((a for a in self.attachments if a.mimetype == "text/csv"), None)

    @property
    def xarf(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.mimetype == "application/json")

    @property
    def more(self) -> tuple[PartPreview, ...]:
        """The parts after the first."""
        return self.parts[1:]


def notice_preview(notice: Notice) -> Preview:
    """What the notice's channel would send now (see the module)."""
    rows = list(notice.items.filter(dropped_at__isnull=True).order_by("pk"))
    cases = {c.pk: c for c in Case.objects.filter(pk__in=[r.case_id for r in rows])}
    channel = notice.channel or DeliveryChannel.BATCHED_MAIL
    if not rows:
        return Preview((), "", (), error="The notice has no cases left: there is no message to show.", channel=channel)
    context = RoutingContext.load(list(cases.values()))
    if notice.state in ATTEMPTED and notice.emails:
        emails = list(notice.emails)
    else:
        emails = notice_current_emails(notice, [route(c, context) for c in cases.values()])
    if not emails and channel != DeliveryChannel.PROVIDER_API:
        return Preview((), "", (), error="The notice has no address to go to.", channel=channel)
    for row in rows:
        row.case = cases[row.case_id]
    wants_link = notice.kind in (NoticeKind.PROVIDER, NoticeKind.REMINDER)
    try:
        outgoing = notice_outgoing(
            notice,
            rows,
            emails,
            latest=context.latest,
            providers=context.providers,
            link=LINK_PLACEHOLDER if wants_link else "",
        )
    except NoticeInvalid as exc:
        return Preview((), "", (), error=f"The notice cannot be rendered: {exc}", channel=channel)
    message_ids = dict(NoticeDelivery.objects.filter(notice=notice).values_list("part_key", "message_id"))
    with Transports() as transports:
        try:
            transport = transports.get(channel)
        except PermanentFailure as exc:
            return Preview((), "", (), error=f"The notice cannot be shown: {exc}", channel=channel)
        parts = [
            transport.preview(
                outgoing,
                part,
                message_id=message_ids.get(part.key)
                or (notice.message_id if n == 0 and notice.message_id else MESSAGE_ID_PLACEHOLDER),
            )
            for n, part in enumerate(transport.parts(outgoing))
        ]
    first = parts[0]
    return Preview(first.headers, first.body, first.attachments, parts=tuple(parts), channel=channel)


def message_preview(parsed: object) -> Preview:
    """A parsed message as the preview shows it (also used on what the mail server received)."""
    part = part_message_preview(parsed)  # type: ignore[arg-type]
    return Preview(headers=part.headers, body=part.body, attachments=part.attachments, parts=(part,))
