"""Notices and case outcomes in the vocabulary of the DSA Transparency Database's statements of
reasons (docs/notices.md, "DSA statements of reasons"), so that a hotline can match the statements
providers publish against its own notices.

One row per URL of each sent notice (``record_type`` ``notice``) and one per case with an illegal
verdict (``record_type`` ``case``, its outcome). The fields the database defines keep its names
and values (``category``, ``category_specification``, ``content_type``, ``decision_ground``,
``illegal_content_legal_ground``, ``decision_visibility``, ``application_date``, ``source_type``,
``source_identity``); the others are scart's (the URL, the references, the dates of notice and
removal). URLs and metadata only: nothing here was ever fetched from a URL.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.conf import settings
from django.db.models import Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from reports.models import AiGenerated, Assessment, Case, LegalBasis, MediaType, Verdict
from routing.models import NoticeCase, NoticeKind, NoticeState
from scart.spreadsheets import SafeWriter
from scart.times import iso_or_none
from stats.params import MAX_ID

CATEGORY = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
KEYWORD_CSAM = "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"
KEYWORD_CSAM_DEEPFAKE = "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL_DEEPFAKE"
SYNTHETIC = "CONTENT_TYPE_SYNTHETIC_MEDIA"
CONTENT_TYPES = {
    MediaType.IMAGE: "CONTENT_TYPE_IMAGE",
    MediaType.VIDEO: "CONTENT_TYPE_VIDEO",
    MediaType.PAGE: "CONTENT_TYPE_OTHER",
    MediaType.OTHER: "CONTENT_TYPE_OTHER",
}
DECISION_GROUND = "DECISION_GROUND_ILLEGAL_CONTENT"
REMOVED = "DECISION_VISIBILITY_CONTENT_REMOVED"
LEGAL_GROUNDS = {
    LegalBasis.BASELINE: "Directive 2011/93/EU, Articles 2 to 7 (INTERPOL baseline: illegal in every country)",
    LegalBasis.NATIONAL: "Directive 2011/93/EU, Articles 2 to 7, as transposed in the law of {country}",
}

FIELDS = (
    "record_type",
    "url",
    "case_id",
    "notice_reference",
    "notice_kind",
    "recipient_kind",
    "recipient",
    "notice_date",
    "notice_sent_at",
    "removed_at",
    "ai_generated",
    # The Transparency Database's own fields.
    "decision_ground",
    "illegal_content_legal_ground",
    "category",
    "category_specification",
    "content_type",
    "content_type_other",
    "decision_visibility",
    "application_date",
    "source_type",
    "source_identity",
)


class DsaExportInvalid(ValueError):
    """A filter the export cannot use (a date that is not YYYY-MM-DD, a range the wrong way)."""


@dataclass(frozen=True)
class DsaFilters:
    start: date | None = None  # on or after this day
    end: date | None = None  # before this day
    case_id: int | None = None

    @classmethod
    def parse(cls, params: Any) -> DsaFilters:
        def day(name: str) -> date | None:
            text = (params.get(name) or "").strip()
            if not text:
                return None
            try:
                return date.fromisoformat(text)
            except ValueError as exc:
                raise DsaExportInvalid(f"{name}: give a date as YYYY-MM-DD") from exc

        start, end = day("from"), day("to")
        if start and end and end <= start:
            raise DsaExportInvalid("to: must be after from")
        case_text = (params.get("case") or "").strip()
        # ASCII digits only ("²" is a digit to str.isdigit), and no larger than an id column holds.
        if case_text and not (case_text.isascii() and case_text.isdigit() and int(case_text) <= MAX_ID):
            raise DsaExportInvalid("case: give a case number")
        return cls(start=start, end=end, case_id=int(case_text) if case_text else None)

    def range(self, field: str) -> Q:
        tz = timezone.get_current_timezone()
        q = Q()
        if self.start:
            q &= Q(**{f"{field}__gte": datetime.combine(self.start, time.min, tzinfo=tz)})
        if self.end:
            q &= Q(**{f"{field}__lt": datetime.combine(self.end, time.min, tzinfo=tz)})
        return q


def _latest(field: str, *, case: str) -> Subquery:
    """A field of the case's latest assessment (its current verdict); ``case`` names the case's id."""
    return Subquery(Assessment.objects.filter(case=OuterRef(case)).order_by("-at", "-id").values(field)[:1])


def _day(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).date().isoformat() if moment else None


def vocabulary(*, ai_generated: str, media_type: str, legal_basis: str, removed_at: datetime | None) -> dict[str, Any]:
    """The Transparency Database's fields for one illegal URL."""
    deepfake = ai_generated == AiGenerated.YES
    content_type = [CONTENT_TYPES[MediaType(media_type)]] if media_type in CONTENT_TYPES else []
    if deepfake:
        content_type.append(SYNTHETIC)
    ground = LEGAL_GROUNDS.get(LegalBasis(legal_basis) if legal_basis in LegalBasis.values else LegalBasis.NATIONAL)
    return {
        "decision_ground": DECISION_GROUND,
        "illegal_content_legal_ground": (ground or "").format(country=settings.SCART_HOTLINE_COUNTRY),
        "category": CATEGORY,
        "category_specification": [KEYWORD_CSAM, *([KEYWORD_CSAM_DEEPFAKE] if deepfake else [])],
        "content_type": content_type,
        "content_type_other": "web page or gallery" if media_type == MediaType.PAGE else "",
        "decision_visibility": [REMOVED] if removed_at else [],
        "application_date": _day(removed_at),
        "source_type": "SOURCE_TRUSTED_FLAGGER" if settings.SCART_DSA_TRUSTED_FLAGGER else "SOURCE_ARTICLE_16",
        "source_identity": settings.SCART_HOTLINE_NAME,
    }


def _notice_rows(filters: DsaFilters) -> QuerySet[NoticeCase]:
    rows = NoticeCase.objects.filter(
        filters.range("notice__sent_at"), dropped_at__isnull=True, notice__state=NoticeState.SENT
    )
    if filters.case_id is not None:
        rows = rows.filter(case_id=filters.case_id)
    return (
        rows.select_related("notice", "case")
        .annotate(
            ai=_latest("ai_generated", case="case_id"),
            media=_latest("media_type", case="case_id"),
            basis=_latest("legal_basis", case="case_id"),
        )
        .order_by("notice__sent_at", "notice_id", "case_id")
    )


def _case_rows(filters: DsaFilters) -> QuerySet[Case]:
    cases = Case.objects.filter(filters.range("assessed_at"), verdict=Verdict.ILLEGAL)
    if filters.case_id is not None:
        cases = cases.filter(pk=filters.case_id)
    first = Min(
        "notice_items__notice__sent_at",
        filter=Q(
            notice_items__notice__state=NoticeState.SENT,
            notice_items__notice__kind=NoticeKind.PROVIDER,
            notice_items__dropped_at__isnull=True,
        ),
    )
    return cases.annotate(
        ai=_latest("ai_generated", case="pk"),
        media=_latest("media_type", case="pk"),
        basis=_latest("legal_basis", case="pk"),
        first_notice=first,
    ).order_by("assessed_at", "pk")


def dsa_statements(filters: DsaFilters) -> Iterator[dict[str, Any]]:
    """The rows of the export, notices first (by the time they were sent), then case outcomes."""
    for row in _notice_rows(filters).iterator(chunk_size=500):
        notice, case = row.notice, row.case
        yield {
            "record_type": "notice",
            "url": case.canonical_url,
            "case_id": case.pk,
            "notice_reference": notice.reference,
            "notice_kind": notice.kind,
            "recipient_kind": notice.recipient_kind,
            "recipient": notice.recipient_name,
            "notice_date": _day(notice.sent_at),
            "notice_sent_at": iso_or_none(notice.sent_at),
            "removed_at": iso_or_none(case.removed_at),
            "ai_generated": row.ai or "",  # type: ignore[attr-defined]
            **vocabulary(
                ai_generated=row.ai or "",  # type: ignore[attr-defined]
                media_type=row.media or "",  # type: ignore[attr-defined]
                legal_basis=row.basis or "",  # type: ignore[attr-defined]
                removed_at=case.removed_at,
            ),
        }
    for case in _case_rows(filters).iterator(chunk_size=500):
        first: datetime | None = case.first_notice  # type: ignore[attr-defined]
        yield {
            "record_type": "case",
            "url": case.canonical_url,
            "case_id": case.pk,
            "notice_reference": "",
            "notice_kind": "",
            "recipient_kind": "",
            "recipient": "",
            "notice_date": _day(first),
            "notice_sent_at": iso_or_none(first),
            "removed_at": iso_or_none(case.removed_at),
            "ai_generated": case.ai or "",  # type: ignore[attr-defined]
            **vocabulary(
                ai_generated=case.ai or "",  # type: ignore[attr-defined]
                media_type=case.media or "",  # type: ignore[attr-defined]
                legal_basis=case.basis or "",  # type: ignore[attr-defined]
                removed_at=case.removed_at,
            ),
        }


def dsa_json(filters: DsaFilters) -> dict[str, Any]:
    statements = list(dsa_statements(filters))
    return {
        "from": filters.start.isoformat() if filters.start else None,
        "to": filters.end.isoformat() if filters.end else None,
        "case": filters.case_id,
        "count": len(statements),
        "statements": statements,
    }


def dsa_csv_lines(filters: DsaFilters) -> Iterator[str]:
    """The CSV, a line at a time; lists as JSON arrays, as the Transparency Database's own dumps
    write them."""
    out = io.StringIO()
    writer = SafeWriter(out, lineterminator="\r\n")
    writer.writerow(FIELDS)
    for row in dsa_statements(filters):
        values = (row[name] for name in FIELDS)
        writer.writerow([json.dumps(v) if isinstance(v, list) else ("" if v is None else v) for v in values])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()
