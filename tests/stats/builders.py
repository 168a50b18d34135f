"""Case timelines written the way the real code writes them, for the statistics tests."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta
from typing import Any

from reports.models import (
    Assessment,
    Case,
    CaseState,
    Event,
    EventKind,
    RemovalKind,
    Report,
    ReportedUrl,
    Verdict,
)
from routing.models import Notice, NoticeCase, NoticeKind, NoticeResponse, NoticeState, Provider
from scart.times import iso, iso_or_none

_numbers = itertools.count(1)


def provider(name: str, *, country: str = "NL", asn: int = 64500) -> Provider:
    return Provider.objects.create(
        name=name, key=f"test:{name}", country=country, asns=[asn], abuse_emails=[f"abuse@{name}.example"]
    )


def timeline(
    reported: datetime,
    *,
    verdict_after: float | None = None,
    notice_after: float | None = None,
    removed_after: float | None = None,
    removal_kind: str = RemovalKind.GONE,
    verdict: str = Verdict.ILLEGAL,
    notice_kind: str = NoticeKind.PROVIDER,
    country: str = "NL",
    host_provider: Provider | None = None,
    asn: int | None = 64500,
    channel: str = "api",
    category: str = "A1",
    legal_basis: str = "baseline",
    ai_generated: str = "no",
    reappeared: int = 0,
    dispute: str = "",
    analyst: Any = None,
    reporter_email: str = "",
    join_notice: Notice | None = None,
) -> Case:
    """A case first reported at ``reported``; verdict ``verdict_after`` hours after the report,
    its first notice ``notice_after`` hours after the verdict, removed ``removed_after`` hours
    after the notice (after the verdict when there was no notice).

    ``dispute``: the provider disputed the case through the notice (a `DisputeState`: open,
    upheld or accepted). ``analyst`` made the assessment; ``reporter_email`` sent the report.
    ``join_notice``: the case joins this sent notice instead of one of its own (give the same
    moments, so that its notice goes out when ``notice_after`` says)."""
    n = next(_numbers)
    url = f"https://host{n}.example.com/item/{n}"
    verdict_at = reported + timedelta(hours=verdict_after) if verdict_after is not None else None
    notice_at = verdict_at + timedelta(hours=notice_after) if verdict_at and notice_after is not None else None
    removed_at = None
    if removed_after is not None:
        base = notice_at or verdict_at
        assert base is not None
        removed_at = base + timedelta(hours=removed_after)
    state = CaseState.AWAITING_ASSESSMENT
    if verdict_at is not None:
        state = {Verdict.ILLEGAL: CaseState.ILLEGAL, Verdict.NOT_ILLEGAL: CaseState.NOT_ILLEGAL}.get(
            Verdict(verdict), CaseState.CANNOT_ASSESS
        )
    if state == CaseState.ILLEGAL and notice_at is not None:
        state = CaseState.NOTIFIED
    if removed_at is not None:
        state = CaseState.REMOVED
    last_online = (removed_at - timedelta(minutes=30)) if removed_at else None
    case = Case.objects.create(
        url_sha256=hashlib.sha256(url.encode()).hexdigest(),
        canonical_url=url,
        original_url=url,
        scheme="https",
        host=f"host{n}.example.com",
        registrable_domain="example.com",
        first_reported_at=reported,
        last_reported_at=reported,
        state=state,
        verdict=verdict if verdict_at else "",
        assessed_at=verdict_at,
        provider=host_provider,
        asn=asn,
        hosting_country=country,
        removed_at=removed_at,
        removal_kind=removal_kind if removed_at else "",
        last_seen_online_at=last_online,
    )
    report = Report.objects.create(
        reference=f"R-TEST-{n}", channel=channel, received_at=reported, url_count=1, reporter_email=reporter_email
    )
    ReportedUrl.objects.create(report=report, case=case, original_url=url, duplicate=False)
    Event.objects.create(case=case, kind=EventKind.REPORTED, at=reported, actor_type="system", data={})
    if verdict_at is not None:
        Assessment.objects.create(
            case=case,
            at=verdict_at,
            verdict=verdict,
            legal_basis=legal_basis if verdict == Verdict.ILLEGAL else "",
            category=category if verdict == Verdict.ILLEGAL else "",
            ai_generated=ai_generated,
            analyst=analyst,
        )
    if notice_at is not None:
        notice = join_notice or Notice.objects.create(
            reference=f"SCART-20260101-{n:06d}",
            kind=notice_kind,
            recipient_kind="provider",
            recipient_name="test",
            batch_key=f"{notice_kind}:test:{n}",
            due_at=notice_at,
            state=NoticeState.SENT,
            sent_at=notice_at,
            open=False,
            provider=host_provider,
        )
        NoticeCase.objects.create(
            notice=notice,
            case=case,
            added_at=verdict_at or reported,
            response=NoticeResponse.DISPUTED if dispute else "",
            responded_at=notice_at + timedelta(hours=1) if dispute else None,
            dispute_state=dispute,
        )
    if removed_at is not None:
        for _ in range(reappeared):
            # Came back once and went again: the first removal is the one that counts.
            _event(case, EventKind.REMOVED, removed_at, removal_kind, last_online)
            _event(case, EventKind.REAPPEARED, removed_at + timedelta(days=2), "", None)
            removed_at = removed_at + timedelta(days=5)
        _event(case, EventKind.REMOVED, removed_at, removal_kind, last_online)
    return case


def _event(case: Case, kind: str, removed_at: datetime, removal_kind: str, last_online: datetime | None) -> None:
    data: dict[str, Any] = {}
    if kind == EventKind.REMOVED:
        data = {
            "removal_kind": removal_kind,
            "removed_at": iso(removed_at),
            "last_seen_online_at": iso_or_none(last_online),
        }
    Event.objects.create(case=case, kind=kind, at=removed_at + timedelta(minutes=30), actor_type="system", data=data)
