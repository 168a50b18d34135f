"""Reading a message that came back about a notice: whether it is a delivery report (a bounce)
and what it says, whether it is an auto-reply, and which notice it is about. Nothing is written
here; `routing.notices.replies` files what this module reads (see its docstring for the rules)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from reports.mailtext import message_text
from routing.models import Notice, NoticeDelivery

REFERENCE = re.compile(r"SCART-\d{8}-\d{6}")
_BRACKETED_REFERENCE = re.compile(r"\[(SCART-\d{8}-\d{6})\]")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# A Message-ID header line in an original quoted inline in a bounce's text.
_INLINE_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
# Subjects of reports of a failed delivery, as common mail systems word them.
_FAILURE_SUBJECT = re.compile(
    r"undeliver|non-?deliver|not (be )?delivered|delivery (status|fail|failure|problem|report|notification)"
    r"|failure notice|returned (mail|to sender)|returning message|mail delivery failed",
    re.IGNORECASE,
)
_ORIGINAL_TYPES = frozenset({"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers"})
_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_REPORT_TYPES = frozenset({"delivery-status", "global-delivery-status"})
# Subjects of non-standard reports that warn of a delay rather than report a failure.
DELAY_SUBJECT = re.compile(r"\b(delay(ed)?|deferred|warning|not yet been delivered|still trying)\b", re.IGNORECASE)
_AUTO_SUBJECT = re.compile(r"^\s*(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|abwesend)\b", re.I)


@dataclass
class DeliveryReport:
    """What a bounce says: the recipients and their actions, and where the original is."""

    standard: bool  # it has a delivery-status part
    actions: dict[str, str] = field(default_factory=dict)  # recipient address -> action
    diagnostics: dict[str, str] = field(default_factory=dict)  # recipient -> status and diagnostic
    original: Message | None = None
    status_fields: list[Message] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [address for address, action in self.actions.items() if action == "failed"]


def delivery_report(message: EmailMessage) -> DeliveryReport | None:
    """The delivery report ``message`` is, or None when it is not one (an auto-reply is not)."""
    status_parts = [p for p in _parts(message) if p.get_content_type() in _STATUS_TYPES]
    originals = [p for p in _parts(message) if p.get_content_type() in _ORIGINAL_TYPES]
    is_report = message.get_content_type() == "multipart/report" and (
        str(message.get_param("report-type", "")).lower() in _REPORT_TYPES
    )
    if not is_report and not (_from_daemon(message) and (status_parts or originals or _inline_message_ids(message))):
        return None
    report = DeliveryReport(standard=bool(status_parts))
    for part in status_parts:
        _read_status(part, report)
    if originals:
        report.original = _original_headers(originals[0])
    if not report.standard:
        for address in _failed_header(message):
            report.actions[address] = "failed"
    return report


def is_auto_reply(message: EmailMessage) -> bool:
    """Whether ``message`` says it was sent by a machine (RFC 3834 and common vendor markers)."""
    auto = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond") or message.get("X-Autoresponder"):
        return True
    if str(message.get("Precedence", "")).strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_SUBJECT.match(message_subject(message)))


def bounced_notice(message: EmailMessage, report: DeliveryReport) -> tuple[Notice | None, bool]:
    """The notice the report is about: by the original's Message-ID (True), else by its
    reference (False)."""
    ids: list[str] = []
    original = report.original
    if original is not None:
        ids += _ids(original.get("Message-ID"))
    for header in ("Original-Message-ID", "X-Original-Message-ID"):
        ids += _ids(message.get(header))
        for block in report.status_fields:
            ids += _ids(block.get(header))
    ids += _ids(message.get("In-Reply-To")) + _ids(message.get("References"))
    if not report.standard and original is None:
        ids += _inline_message_ids(message)
    notice = _notice_by_message_id(ids)
    if notice is not None:
        return notice, True

    references: list[str] = []
    if original is not None:
        references += REFERENCE.findall(str(original.get("X-Scart-Reference", "")))
        references += REFERENCE.findall(message_subject(original))
    references += _BRACKETED_REFERENCE.findall(message_subject(message))
    named = set(report.actions)
    for reference in dict.fromkeys(references):
        notice = Notice.objects.filter(reference=reference).exclude(message_id="").first()
        # A reference is easy to guess: it counts only for a report about the notice's addresses.
        if notice is not None and named & {e.lower() for e in notice.emails or []}:
            return notice, False
    return None, False


def _read_status(part: Message, report: DeliveryReport) -> None:
    """The per-recipient blocks of a delivery-status part (the first block is per message)."""
    blocks = part.get_payload()
    if not isinstance(blocks, list):
        # A status the parser did not split (sent with a transfer encoding): read it as header blocks.
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
        blocks = [HeaderParser(policy=policy.default).parsestr(chunk) for chunk in re.split(r"\r?\n\s*\r?\n", text)]
    for block in blocks:
        if not isinstance(block, Message):
            continue
        report.status_fields.append(block)
        recipient = _status_address(block.get("Final-Recipient")) or _status_address(block.get("Original-Recipient"))
        action = str(block.get("Action", "")).strip().lower()
        if not recipient or not action:
            continue
        # A recipient listed twice keeps its worst news.
        if report.actions.get(recipient) != "failed":
            report.actions[recipient] = action
        detail = " ".join(
            " ".join(str(block.get(name, "")).split()) for name in ("Status", "Diagnostic-Code") if block.get(name)
        )
        if detail:
            report.diagnostics[recipient] = detail[:500]


def _status_address(value: object) -> str:
    """The address of a ``Final-Recipient: rfc822; a@b`` field, lower case."""
    text = " ".join(str(value or "").split())
    if ";" in text:
        text = text.split(";", 1)[1]
    address = parseaddr(text.strip())[1] or text.strip().strip("<>")
    return address.lower() if "@" in address else ""


def _failed_header(message: EmailMessage) -> list[str]:
    """Exim's ``X-Failed-Recipients`` header."""
    values = [str(v) for v in message.get_all("X-Failed-Recipients", [])]
    return [address.lower() for _name, address in getaddresses(values) if "@" in address]


def _original_headers(part: Message) -> Message | None:
    if part.get_content_maintype() == "message":
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return payload[0]
        return None
    # text/rfc822-headers: only the headers of the original, as text.
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())
    return HeaderParser(policy=policy.default).parsestr(text, headersonly=True)


def _inline_message_ids(message: EmailMessage) -> list[str]:
    """Message-IDs of an original a bounce quotes in its text (qmail, older Exim)."""
    return _INLINE_MESSAGE_ID.findall(message_text(message))


# -- replies -----------------------------------------------------------------------------------


def replied_notice(message: EmailMessage) -> Notice | None:
    """The notice a reply answers: by In-Reply-To, then References (newest first), then subject."""
    ids = _ids(message.get("In-Reply-To")) + list(reversed(_ids(message.get("References"))))
    notice = _notice_by_message_id(ids)
    if notice is not None:
        return notice
    sender = message_sender(message)
    if "@" not in sender:
        return None
    for reference in dict.fromkeys(_BRACKETED_REFERENCE.findall(message_subject(message))):
        notice = Notice.objects.filter(reference=reference).exclude(message_id="").first()
        if notice is not None and sender_is_recipient(sender, notice.emails or []):
            return notice
    return None


def sender_is_recipient(sender: str, emails: Sequence[str]) -> bool:
    """Whether ``sender`` is one of ``emails``, or in the domain (or a subdomain) of one of them."""
    sender = sender.strip().lower()
    domain = sender.rsplit("@", 1)[-1]
    for email in emails:
        email = email.strip().lower()
        theirs = email.rsplit("@", 1)[-1]
        if sender == email or domain == theirs or domain.endswith("." + theirs):
            return True
    return False


# -- reading messages --------------------------------------------------------------------------


def message_key(message: EmailMessage) -> str:
    message_id = " ".join(str(message.get("Message-ID", "")).split())
    return message_id or f"sha256:{hashlib.sha256(message.as_bytes()).hexdigest()}"


def _parts(part: Message) -> Iterator[Message]:
    """The leaves of ``part``'s multipart tree; forwarded messages are not entered."""
    if part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else []:
            if isinstance(child, Message):
                yield from _parts(child)
    else:
        yield part


def _ids(value: object) -> list[str]:
    return _MESSAGE_ID.findall(str(value or ""))


def _notice_by_message_id(ids: Sequence[str]) -> Notice | None:
    """The notice with the first of ``ids`` that is a notice's Message-ID, or the Message-ID of any
    part of one (one message per URL: each has its own)."""
    if not ids:
        return None
    wanted = list(dict.fromkeys(ids))
    found = {n.message_id: n for n in Notice.objects.filter(message_id__in=wanted)}
    missing = [i for i in wanted if i not in found]
    if missing:
        for message_id, notice in (
            (d.message_id, d.notice)
            for d in NoticeDelivery.objects.filter(message_id__in=missing).select_related("notice")
        ):
            found.setdefault(message_id, notice)
    return next((found[i] for i in ids if i in found), None)


def message_sender(message: Message) -> str:
    return parseaddr(str(message.get("From", "")))[1].strip().lower()


def _from_daemon(message: EmailMessage) -> bool:
    """Sent by a mail system: MAILER-DAEMON always is; a postmaster may be a person answering, so
    their message must also say it reports a failure."""
    local = message_sender(message).split("@", 1)[0]
    if local == "mailer-daemon":
        return True
    return local == "postmaster" and bool(
        message.get("X-Failed-Recipients") or _FAILURE_SUBJECT.search(message_subject(message))
    )


def message_subject(message: Message) -> str:
    return " ".join(str(message.get("Subject", "")).split())
