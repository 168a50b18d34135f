"""The message of a notice as it goes (or went) out, for the notice's page.

It is made by the sender's own code (`notice_render` and `notice_message`, with the items, the
addresses and the history the sender takes), then read back from the MIME message, so the page
shows what the mail server is handed: headers, the text, the CSV and each X-ARF report. Two things
differ by nature: the provider's link, a credential made afresh for each message and never stored
(the preview shows `LINK_PLACEHOLDER`), and the ``Date`` header. A notice that went out is
rendered again from today's data: a verdict changed since would show here.
"""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage as ParsedMessage
from email.message import MIMEPart

from reports.models import Case
from routing.jurisdiction import RoutingContext, route
from routing.models import Notice, NoticeKind, NoticeState
from routing.notices.render import Item, NoticeInvalid, notice_message, notice_render, xarf_id
from routing.notices.sending import notice_current_emails, notice_history

LINK_PLACEHOLDER = "(the provider's own link, made afresh for each message)"
MESSAGE_ID_PLACEHOLDER = "(given when it is first sent)"
# The headers a person reads, in this order (the MIME plumbing is left out).
SHOWN_HEADERS = (
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Message-ID",
    "X-Scart-Reference",
    "Auto-Submitted",
    "Content-Language",
)
# States in which the addresses are the ones the last attempt used.
ATTEMPTED = (NoticeState.SENDING, NoticeState.SENT, NoticeState.FAILED, NoticeState.UNKNOWN)


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    text: str


@dataclass(frozen=True)
class Preview:
    headers: tuple[tuple[str, str], ...]
    body: str
    attachments: tuple[Attachment, ...]
    error: str = ""  # why it cannot be rendered (then the rest is empty)

    @property
    def csv(self) -> Attachment | None:
        return next((a for a in self.attachments if a.mimetype == "text/csv"), None)

    @property
    def xarf(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.mimetype == "application/json")


def notice_preview(notice: Notice) -> Preview:
    """The notice's message as the sender would hand it to the mail server now (see the module)."""
    rows = list(notice.items.filter(dropped_at__isnull=True).order_by("pk"))
    cases = {c.pk: c for c in Case.objects.filter(pk__in=[r.case_id for r in rows])}
    if not rows:
        return Preview((), "", (), error="The notice has no cases left: there is no message to show.")
    context = RoutingContext.load(list(cases.values()))
    if notice.state in ATTEMPTED and notice.emails:
        emails = list(notice.emails)
    else:
        emails = notice_current_emails(notice, [route(c, context) for c in cases.values()])
    if not emails:
        return Preview((), "", (), error="The notice has no address to go to.")
    items = [
        Item(case=cases[r.case_id], assessment=context.latest.get(r.case_id), xarf_id=xarf_id(notice, cases[r.case_id]))
        for r in rows
    ]
    wants_link = notice.kind in (NoticeKind.PROVIDER, NoticeKind.REMINDER)
    try:
        rendered = notice_render(
            notice=notice,
            items=items,
            link=LINK_PLACEHOLDER if wants_link else "",
            emails=emails,
            history=notice_history(notice, [r.case_id for r in rows]),
        )
    except NoticeInvalid as exc:
        return Preview((), "", (), error=f"The notice cannot be rendered: {exc}")
    message = notice_message(
        notice=notice,
        rendered=rendered,
        emails=emails,
        message_id=notice.message_id or MESSAGE_ID_PLACEHOLDER,
        seal=False,  # what is signed (and encrypted), as the recipient reads it
    )
    return message_preview(message_from_bytes(message.message().as_bytes(), policy=policy.default))


def message_preview(parsed: ParsedMessage) -> Preview:
    """A parsed message as the preview shows it (also used on what the mail server received)."""
    headers = tuple((name, str(parsed[name])) for name in SHOWN_HEADERS if parsed[name] is not None)
    shown: MIMEPart = parsed
    if parsed.get_content_type() == "multipart/signed":
        # A signed notice (docs/notices.md): what was signed, as a mail client shows it.
        shown = next(parsed.iter_parts(), parsed)
    body_part = shown.get_body(preferencelist=("plain",))
    # Line ends as a person reads them: the mail server receives CRLF, the rendering makes LF.
    body = _lines(body_part.get_content()) if body_part is not None else ""
    attachments = []
    for part in shown.iter_attachments():
        content = part.get_content()
        text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
        attachments.append(Attachment(part.get_filename() or "", part.get_content_type(), _lines(text)))
    return Preview(headers=headers, body=body, attachments=tuple(attachments))


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")
