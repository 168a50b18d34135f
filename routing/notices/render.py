"""Rendering a notice: the message text in the recipient's language, a CSV of the URLs and one
X-ARF v4 report per URL, each validated against the X-ARF schema before anything is sent.

Notices name URLs and metadata only: no content, no thumbnails, no hashes of anything scart
fetched (scart never fetches content). The X-ARF reports carry category ``content`` and type
``csam``, the classification, how it was detected, and the media type.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.encoders import encode_7or8bit, encode_quopri
from email.mime.application import MIMEApplication
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.message import RFC5322_EMAIL_LINE_LENGTH_LIMIT
from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string
from django.utils import timezone, translation

from reports.models import Assessment, AssessmentSource, Case, Category, LegalBasis, MediaType
from routing.models import Notice, NoticeKind
from routing.notices.signing_keys import notice_seal
from scart.spreadsheets import SafeWriter

XARF_VERSION = "4.2.0"
# uuid5 namespace for X-ARF report ids: the same notice and case always give the same id, so a
# retried message carries the same reports.
XARF_NAMESPACE = uuid.UUID("6f1c5f0e-52a9-4c55-9d6e-2b3c8f3f7a10")
TEMPLATE_DIR = "notices"
DEFAULT_LANGUAGE = "en"

_CATEGORIES = frozenset(Category.values)
_MEDIA = {MediaType.IMAGE: "image", MediaType.VIDEO: "video", MediaType.PAGE: "mixed", MediaType.OTHER: "mixed"}
# The X-ARF schema's pattern for the optional ``domain`` field (IP hosts and IDNs in A-labels with
# digits-only labels do not fit it; the URL carries the host anyway).
_DOMAIN = re.compile(r"([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}")
_DETECTION: dict[str, str] = {
    AssessmentSource.AUTOMATIC: "automated_scan",
}


class NoticeInvalid(Exception):
    """The rendered notice failed a check (an X-ARF report not valid against the schema)."""


@dataclass(frozen=True)
class Item:
    """One URL in a notice, with what the message says about it."""

    case: Case
    assessment: Assessment | None
    xarf_id: str

    @property
    def url(self) -> str:
        return self.case.canonical_url

    @property
    def last_seen_online(self) -> datetime | None:
        return self.case.last_seen_online_at or self.case.assessed_at

    @property
    def first_reported_utc(self) -> str:
        """``2026-11-21 10:00`` (UTC), as the message lists it."""
        return _utc_text(self.case.first_reported_at)

    @property
    def last_seen_online_utc(self) -> str:
        return _utc_text(self.last_seen_online) if self.last_seen_online else ""

    @property
    def classification(self) -> str:
        category = self.assessment.category if self.assessment else ""
        return category if category in _CATEGORIES else "baseline"

    @property
    def legal_basis(self) -> str:
        return self.assessment.legal_basis if self.assessment else LegalBasis.BASELINE


@lru_cache(maxsize=8)
def language_available(language: str) -> bool:
    try:
        get_template(f"{TEMPLATE_DIR}/{language}/body.txt")
    except TemplateDoesNotExist:
        return False
    return True


def notice_language(language: str) -> str:
    """The recipient's language where notices exist in it, else English."""
    language = (language or "").lower().split("-")[0]
    return language if language and language_available(language) else DEFAULT_LANGUAGE


def language_name(language: str) -> str:
    """A notice's language for people, in the reader's language (``English``, ``Dutch``; ``Engels``,
    ``Nederlands``); an unknown code as it is."""
    try:
        return str(translation.get_language_info(language)["name_translated"])
    except KeyError:
        return language


def sender_identity() -> dict[str, str]:
    email = settings.SCART_NOTICE_REPLY_TO or settings.DEFAULT_FROM_EMAIL
    return {
        "org": settings.SCART_HOTLINE_NAME,
        "contact": email,
        "domain": email.rsplit("@", 1)[-1],
    }


def xarf_report(item: Item, notice: Notice) -> dict[str, Any]:
    """The X-ARF v4 report of one URL (category ``content``, type ``csam``)."""
    case, assessment = item.case, item.assessment
    identity = sender_identity()
    addresses = (case.resolution or {}).get("addresses") or []
    source = case.host if not addresses else str(addresses[0])
    report: dict[str, Any] = {
        "xarf_version": XARF_VERSION,
        "report_id": item.xarf_id,
        "timestamp": _iso(case.first_reported_at),
        "reporter": identity,
        "sender": identity,
        "source_identifier": source,
        "category": "content",
        "type": "csam",
        "url": item.url,
        "classification": item.classification,
        "detection_method": _DETECTION.get(assessment.source, "manual_review") if assessment else "manual_review",
        "content_removed": notice.kind == NoticeKind.UPDATE,
        "description": f"{notice.reference}: URL classified as child sexual abuse material by {settings.SCART_HOTLINE_NAME}",
        "tags": [f"legal-basis:{item.legal_basis or 'baseline'}"],
    }
    if assessment and assessment.media_type in _MEDIA:
        report["media_type"] = _MEDIA[MediaType(assessment.media_type)]
    if _is_domain(case.host):
        report["domain"] = case.host
    return report


def _is_domain(host: str) -> bool:
    return bool(_DOMAIN.fullmatch(host))


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _iso(moment: datetime | None) -> str:
    moment = moment or timezone.now()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=1)
def _csam_validator() -> Any:
    """A validator for the X-ARF ``content``/``csam`` type schema as the ``xarf`` package ships it
    (it refers to the content base and the core schema, so the whole report is checked), with
    formats (URI, e-mail, UUID, date-time) checked too. ``jsonschema-rs`` compiles the schema:
    a report takes microseconds, where the pure-Python ``jsonschema`` took 0.2 ms, a fifth of the
    time to send a notice of 200 URLs. (The ``xarf`` package's own validator goes through the
    master schema of every type for the same answer.)"""
    # Imported here, on the first notice: importing xarf builds its models and takes over a
    # second, which every other process (web, mailbox, checks) would pay for nothing.
    import jsonschema_rs
    import xarf

    schemas = Path(xarf.__file__).parent / "schemas"
    resources = []
    for path in sorted(schemas.rglob("*.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], contents))
    schema = json.loads((schemas / "types" / "content-csam.json").read_text(encoding="utf-8"))
    return jsonschema_rs.validator_for(schema, registry=jsonschema_rs.Registry(resources), validate_formats=True)


def xarf_validate(report: dict[str, Any]) -> None:
    """Raise `NoticeInvalid` unless ``report`` is a valid X-ARF v4 ``content``/``csam`` report."""
    validator = _csam_validator()
    if validator.is_valid(report):
        return
    errors = sorted(validator.iter_errors(report), key=lambda e: [str(p) for p in e.instance_path])
    details = "; ".join(f"{'.'.join(map(str, e.instance_path)) or '(report)'}: {e.message}" for e in errors[:5])
    raise NoticeInvalid(f"X-ARF report {report.get('report_id')} is not valid: {details}")


def urls_csv(items: Sequence[Item], notice: Notice) -> str:
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\r\n")
    writer.writerow(
        [
            "reference",
            "url",
            "first_reported_utc",
            "last_seen_online_utc",
            "classification",
            "legal_basis",
            "xarf_report_id",
        ]
    )
    for item in items:
        writer.writerow(
            [
                notice.reference,
                item.url,
                _iso(item.case.first_reported_at),
                _iso(item.last_seen_online) if item.last_seen_online else "",
                item.classification,
                item.legal_basis,
                item.xarf_id,
            ]
        )
    return out.getvalue()


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    attachments: list[tuple[str, str, str]]  # (filename, content, mimetype)
    language: str


def notice_render(
    *,
    notice: Notice,
    items: Sequence[Item],
    link: str,
    emails: Sequence[str],
    language: str | None = None,
    history: dict[str, Any] | None = None,
) -> Rendered:
    language = notice_language(language or notice.language)
    context = {
        "notice": notice,
        "items": items,
        "link": link,
        "emails": list(emails),
        "hotline": {
            "name": settings.SCART_HOTLINE_NAME,
            "country": settings.SCART_HOTLINE_COUNTRY,
            "website": settings.SCART_HOTLINE_WEBSITE,
            "address": settings.SCART_HOTLINE_ADDRESS,
            "email": settings.SCART_NOTICE_REPLY_TO or settings.DEFAULT_FROM_EMAIL,
        },
        "police_name": settings.SCART_POLICE_NAME,
        "link_days": settings.SCART_NOTICE_LINK_DAYS,
        "count": len(items),
        "history": history or {},
    }
    with translation.override(language), timezone.override(UTC):
        subject = " ".join(render_to_string(f"{TEMPLATE_DIR}/{language}/subject.txt", context).split())
        body = render_to_string(f"{TEMPLATE_DIR}/{language}/body.txt", context)
    reports = []
    for item in items:
        report = xarf_report(item, notice)
        xarf_validate(report)
        reports.append(report)
    attachments = [(f"{notice.reference}.csv", urls_csv(items, notice), "text/csv")]
    attachments += [
        # One field per line, not indented: the C encoder (an indented dump takes the pure-Python
        # one, ten times slower for 200 reports a message) and lines short enough for mail.
        (
            f"{notice.reference}-{n:03d}.xarf.json",
            json.dumps(r, ensure_ascii=False, separators=(",\n", ": ")),
            "application/json",
        )
        for n, r in enumerate(reports, start=1)
    ]
    return Rendered(subject=subject, body=body, attachments=attachments, language=language)


def notice_message(
    *, notice: Notice, rendered: Rendered, emails: Sequence[str], message_id: str, seal: bool = True
) -> EmailMessage:
    """The notice's message; signed and encrypted as `notice_seal` decides unless ``seal`` is
    False (the preview shows what is signed, not the signature)."""
    reply_to = settings.SCART_NOTICE_REPLY_TO or settings.DEFAULT_FROM_EMAIL
    message = EmailMessage(
        subject=rendered.subject,
        body=rendered.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(emails),
        reply_to=[reply_to],
        headers={
            "Message-ID": message_id,
            "X-Scart-Reference": notice.reference,
            "Auto-Submitted": "auto-generated",
            "Content-Language": rendered.language,
        },
    )
    for filename, content, mimetype in rendered.attachments:
        if mimetype == "application/json":
            # JSON is text: sent as it is (7 or 8 bit) rather than base64, a quarter smaller and
            # readable in any mail client; quoted-printable where a line (a very long URL) would
            # break mail's limit of 998 characters.
            data = content.encode("utf-8")
            fits = max(len(line) for line in data.split(b"\n")) <= RFC5322_EMAIL_LINE_LENGTH_LIMIT
            part = MIMEApplication(data, "json", _encoder=encode_7or8bit if fits else encode_quopri)
            del part["MIME-Version"]  # belongs on the message only (RFC 2045 §4), not on each of 200 parts
            part.add_header("Content-Disposition", "attachment", filename=filename)
            message.attach(part)
        else:
            message.attach(filename, content, mimetype)
    return notice_seal(message, notice=notice) if seal else message


def xarf_id(notice: Notice, case: Case) -> str:
    return str(uuid.uuid5(XARF_NAMESPACE, f"{notice.reference}:{case.pk}"))


def template_languages() -> list[str]:
    """The languages notices exist in (folders under templates/notices/)."""
    base = Path(settings.BASE_DIR) / "templates" / TEMPLATE_DIR
    return sorted(p.name for p in base.iterdir() if (p / "body.txt").exists()) if base.exists() else []
