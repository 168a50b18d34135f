"""One X-ARF report per message: the shape of a notice on the ``xarf_per_message`` channel.

Machine intake at large providers files each message as one ticket, so this channel sends one
message per URL, shaped as an RFC 5965 feedback report (``multipart/report;
report-type=feedback-report``): the notice's text for people, a ``message/feedback-report`` part
with ``Feedback-Type: xarf`` (X-ARF's convention for its reports in the ARF envelope) and the
URL it is about, and the URL's X-ARF v4 report as ``application/json``, the same report the
batched message attaches. There is no original message to quote (the third part of an ARF report
about e-mail abuse): what is reported is a URL.

Nothing here is rendered again: the text and the report are the notice's own, rendered once
(`routing.notices.render.notice_render`); this module only puts them in the envelope, through
`routing.notices.render.notice_message` (the one builder of every outgoing message).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.encoders import encode_7or8bit, encode_quopri
from email.mime.application import MIMEApplication
from email.mime.nonmultipart import MIMENonMultipart
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT

USER_AGENT = "scart/1"


@dataclass(frozen=True)
class ReportPart:
    """The one URL a message of the per-report channel is about."""

    position: int  # 1-based, within the notice
    total: int  # the notice's number of URLs
    url: str
    report_filename: str
    report_json: str
    arrival: str = ""  # when it was first reported (RFC 5322 date), for ``Arrival-Date``
    source_ip: str = ""


class FeedbackReportMessage(EmailMessage):
    """A Django message whose top part is ``multipart/report; report-type=feedback-report``."""

    mixed_subtype = "report"

    def message(self, *args: Any, **kwargs: Any) -> Any:
        built = super().message(*args, **kwargs)
        built.set_param("report-type", "feedback-report")
        return built


def subject_for(subject: str, part: ReportPart) -> str:
    """The notice's subject, naming which of its reports this message is."""
    return f"{subject} [{part.position}/{part.total}]"


def body_for(body: str, part: ReportPart, *, reference: str) -> str:
    """The notice's text, headed by the one URL this message reports."""
    head = f"{reference} ({part.position}/{part.total}): {part.url}\n\n"
    return head + body


def feedback_part(part: ReportPart) -> MIMENonMultipart:
    """The machine-readable ``message/feedback-report`` part (RFC 5965 §3)."""
    fields = [("Feedback-Type", "xarf"), ("User-Agent", USER_AGENT), ("Version", "1")]
    if part.arrival:
        fields.append(("Arrival-Date", part.arrival))
    if part.source_ip:
        fields.append(("Source-IP", part.source_ip))
    fields.append(("Reported-URI", part.url))
    mime = MIMENonMultipart("message", "feedback-report")
    mime.set_payload("".join(f"{name}: {value}\r\n" for name, value in fields), charset=None)
    del mime["MIME-Version"]
    return mime


def report_attachment(part: ReportPart) -> MIMEApplication:
    """The X-ARF report itself, as the batched message attaches it."""
    data = part.report_json.encode("utf-8")
    fits = max(len(line) for line in data.split(b"\n")) <= RFC5322_EMAIL_LINE_LENGTH_LIMIT
    mime = MIMEApplication(data, "json", _encoder=encode_7or8bit if fits else encode_quopri)
    del mime["MIME-Version"]
    mime.add_header("Content-Disposition", "attachment", filename=part.report_filename)
    return mime
