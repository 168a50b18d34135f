"""What one part of a notice looks like as it goes out, for the notice's page (the preview).

A mail part is read back from the MIME message the transport would hand to the mail server; a
provider API's part is the request it would make (never its credentials)."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage as ParsedMessage
from typing import Any

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


@dataclass(frozen=True)
class Attachment:
    filename: str
    mimetype: str
    text: str


@dataclass(frozen=True)
class PartPreview:
    """One message or request: its headers (or request line and fields), text and attachments."""

    headers: tuple[tuple[str, str], ...]
    body: str
    attachments: tuple[Attachment, ...]
    title: str = ""  # which part it is, in words ("report 2 of 5: https://...")

    @property
    def csv(self) -> Attachment | None:
        return next((a for a in self.attachments if a.mimetype == "text/csv"), None)

    @property
    def xarf(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.mimetype == "application/json")

    @property
    def others(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.mimetype not in ("text/csv", "application/json"))


def mail_preview(message: Any, *, title: str = "") -> PartPreview:
    """A Django message as the mail server receives it, read back."""
    return message_preview(message_from_bytes(message.message().as_bytes(), policy=policy.default), title=title)


def message_preview(parsed: ParsedMessage, *, title: str = "") -> PartPreview:
    """A parsed message as the preview shows it (also used on what the mail server received)."""
    headers = tuple((name, str(parsed[name])) for name in SHOWN_HEADERS if parsed[name] is not None)
    if parsed.get_content_type() == "multipart/signed":
        # A signed notice (docs/notices.md): what was signed, as a mail client shows it.
        parsed = next(parsed.iter_parts(), parsed)  # type: ignore[assignment]
    body_part = parsed.get_body(preferencelist=("plain",))
    # Line ends as a person reads them: the mail server receives CRLF, the rendering makes LF.
    body = _lines(body_part.get_content()) if body_part is not None else ""
    attachments = []
    for part in parsed.walk():
        if part.get_content_type() == "message/feedback-report":
            attachments.append(Attachment("", "message/feedback-report", _feedback_text(part)))
    for part in parsed.iter_attachments():
        if part.get_content_type() == "message/feedback-report":
            continue
        content = part.get_content()
        text = content.decode("utf-8") if isinstance(content, bytes) else str(content)
        attachments.append(Attachment(part.get_filename() or "", part.get_content_type(), _lines(text)))
    return PartPreview(headers=headers, body=body, attachments=tuple(attachments), title=title)


def _feedback_text(part: Any) -> str:
    """The fields of a ``message/feedback-report`` part (the parser reads them as headers)."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if inner is not None:
        return "\n".join(f"{name}: {value}" for name, value in inner.items())
    return _lines(str(payload))


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n")
