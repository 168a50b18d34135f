"""An evidence pack (`routing.deadlines.evidence`) as a PDF a person can file or print: the same
metadata as the JSON, in tables. Times are written as the JSON has them (the hotline's zone, with
its offset)."""

from __future__ import annotations

from io import BytesIO
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

_STYLES = getSampleStyleSheet()
_CELL = _STYLES["BodyText"].clone("cell", fontSize=7.5, leading=9)
_HEAD = _STYLES["BodyText"].clone("head", fontSize=7.5, leading=9, fontName="Helvetica-Bold")


def _p(text: Any, style: Any = _CELL) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)), style)


def _table(header: list[str], rows: list[list[Any]], widths: list[float]) -> Table:
    data = [[_p(h, _HEAD) for h in header]] + [[_p(v) for v in row] for row in rows]
    table = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _case_flowables(case: dict[str, Any]) -> list[Flowable]:
    provider = case["provider"] or {}
    out: list[Flowable] = [
        Paragraph(escape(f"Case {case['id']}"), _STYLES["Heading2"]),
        _table(
            ["URL", "State", "Verdict", "Provider", "Country", "ASN", "Reported", "Removed"],
            [
                [
                    case["url"],
                    case["state"],
                    case["verdict"],
                    provider.get("name", ""),
                    case["hosting_country"],
                    case["asn"] or "",
                    case["first_reported_at"],
                    case["removed_at"] or "",
                ]
            ],
            [80, 20, 18, 35, 14, 16, 45, 45],
        ),
    ]
    if case["deadlines"]:
        out += [Paragraph("Deadlines", _STYLES["Heading3"])]
        out.append(
            _table(
                ["Deadline", "From", "Started", "Due", "Notice", "Met", "Breached"],
                [
                    [
                        d["name"],
                        d["starts_at"],
                        d["started_at"],
                        d["due_at"],
                        d["notice"],
                        d["met_at"] or "",
                        d["breached_at"] or "",
                    ]
                    for d in case["deadlines"]
                ],
                [50, 18, 40, 40, 40, 40, 40],
            )
        )
    out += [Paragraph("Notices", _STYLES["Heading3"])]
    out.append(
        _table(
            ["Reference", "Kind", "Recipient", "Addresses", "State", "Sent", "Message-ID", "Response"],
            [
                [
                    n["reference"],
                    n["kind"],
                    f"{n['recipient']} ({n['recipient_kind']})",
                    ", ".join(n["emails"]),
                    n["state"],
                    n["sent_at"] or "",
                    n["message_id"],
                    f"{n['response']} {n['responded_at'] or ''}".strip(),
                ]
                for n in case["notices"]
            ],
            [34, 16, 38, 40, 14, 38, 60, 32],
        )
    )
    out += [Paragraph("Availability checks", _STYLES["Heading3"])]
    out.append(
        _table(
            ["At", "Outcome", "Status", "Address", "Redirected to"],
            [[c["at"], c["outcome"], c["status_code"] or "", c["address"], c["redirect_to"]] for c in case["checks"]],
            [45, 25, 18, 40, 145],
        )
    )
    out += [Paragraph("Timeline", _STYLES["Heading3"])]
    out.append(
        _table(
            ["At", "Event", "By", "Details"],
            [
                [e["at"], e["label"], e["actor"], "; ".join(f"{k}: {v}" for k, v in e["details"].items())]
                for e in case["timeline"]
            ],
            [45, 55, 18, 155],
        )
    )
    return out


def evidence_pdf(pack: dict[str, Any]) -> bytes:
    """The PDF of a case pack or a provider pack."""
    buffer = BytesIO()
    hotline = pack["hotline"]
    if "case" in pack:
        title = f"Evidence pack: case {pack['case']['id']}"
        cases = [pack["case"]]
    else:
        title = f"Evidence pack: provider {pack['provider']['name']}"
        cases = pack["cases"]
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=title,
        author=hotline["name"],
    )
    story: list[Flowable] = [
        Paragraph(escape(title), _STYLES["Title"]),
        Paragraph(
            escape(
                f"{hotline['name']} ({hotline['country']}), made {hotline['generated_at']}. "
                "Metadata only: the system never stores the content behind a URL."
            ),
            _STYLES["BodyText"],
        ),
        Spacer(0, 4 * mm),
    ]
    if "case" not in pack:
        story.append(_p(f"{pack['case_count']} case(s) judged illegal; the {len(cases)} most recent follow."))
    for case in cases:
        story += _case_flowables(case)
    doc.build(story)
    return buffer.getvalue()
