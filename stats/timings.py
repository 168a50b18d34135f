"""Deriving `CaseTiming` rows from the case timelines.

`timings_refresh` recomputes the rows of some cases from the truth: the case, its reports, its
assessments, the notices it went out in and its ``removed`` and ``reappeared`` events. Every change
that matters to a statistic writes an event, so `timings_refresh_due` (every minute, on the beat)
refreshes the cases with events newer than the last ones it read; `timings_refresh_all` rebuilds
everything (nightly, and after the working calendar changes).

What each moment means (docs/statistics.md):

- first report: ``Case.first_reported_at``; first verdict: the earliest assessment;
- first notice: the earliest sent notice of kind provider, referral or police that still has the
  case (reminders and escalations are follow-ups, not first notices);
- removal: the first ``removed`` event's ``removed_at`` (the first of the gone checks) and the
  last check that found the content online before it. A case that reappeared keeps its first
  removal; ``reappeared`` counts how often it came back. Removals before any notice count in
  "first report to removal" only; removals after ``SCART_UNREACHABLE_CLOSE_HOURS`` unreachable count in neither (apart).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reports.models import (
    Assessment,
    Case,
    CaseState,
    Event,
    EventKind,
    RemovalKind,
    ReportedUrl,
    Verdict,
)
from routing.models import NoticeCase, NoticeKind, NoticeState
from stats.models import CaseTiming, RefreshMark, Route, week_of
from stats.workhours import Calendar, hotline_calendar

CHUNK = 2_000
# Events committed out of id order (a long transaction) are still seen: each run reads back this
# many ids before its mark. The nightly rebuild catches anything older.
LOOKBACK = 5_000
FIRST_NOTICE_KINDS = (NoticeKind.PROVIDER, NoticeKind.REFERRAL, NoticeKind.POLICE)
# Removals that count in "first notice to removal" (unreachable and before-notice count apart).
REMOVALS_AFTER_NOTICE = (RemovalKind.GONE, RemovalKind.MANUAL)
UPDATE_FIELDS = [f.name for f in CaseTiming._meta.concrete_fields if not f.primary_key]  # every column but the case


def timings_refresh(*, case_ids: Iterable[int], now: datetime | None = None) -> int:
    """Recompute the `CaseTiming` rows of these cases; returns how many were written."""
    now = now or timezone.now()
    ids = sorted(set(case_ids))
    calendar = hotline_calendar()
    written = 0
    for start in range(0, len(ids), CHUNK):
        rows = _rows(ids[start : start + CHUNK], calendar=calendar, now=now)
        CaseTiming.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["case"], update_fields=UPDATE_FIELDS, batch_size=1_000
        )
        written += len(rows)
    return written


def timings_refresh_all(*, now: datetime | None = None) -> int:
    """Rebuild every row (rows of deleted cases go with their case)."""
    ids = list(Case.objects.order_by("pk").values_list("pk", flat=True))
    mark = Event.objects.aggregate(last=Max("pk"))["last"] or 0
    written = timings_refresh(case_ids=ids, now=now)
    _mark_set(mark)
    return written


def timings_refresh_due(*, limit: int = 50_000) -> int:
    """Refresh the cases with events since the last run (at most ``limit`` cases a run)."""
    mark = RefreshMark.objects.first()
    last = mark.last_event_id if mark else 0
    if not Event.objects.filter(pk__gt=last).exists():
        return 0  # nothing new: the look-back is for events that come in late, not a rerun
    since = max(last - LOOKBACK, 0)
    events = Event.objects.filter(pk__gt=since).order_by("pk").values_list("pk", "case_id")
    cases: dict[int, None] = {}
    for pk, case_id in events.iterator(chunk_size=10_000):
        if case_id not in cases and len(cases) >= limit:
            break
        cases[case_id] = None
        last = max(last, pk)
    if not cases:
        return 0
    written = timings_refresh(case_ids=list(cases))
    _mark_set(last)
    return written


def _mark_set(last_event_id: int) -> None:
    with transaction.atomic():
        mark, _ = RefreshMark.objects.select_for_update().get_or_create(pk=1)
        mark.last_event_id = max(mark.last_event_id, last_event_id)
        mark.updated_at = timezone.now()
        mark.save()


def _rows(ids: Sequence[int], *, calendar: Calendar, now: datetime) -> list[CaseTiming]:
    cases = Case.objects.filter(pk__in=ids).values(
        "pk",
        "url_sha256",
        "first_reported_at",
        "state",
        "verdict",
        "provider_id",
        "asn",
        "hosting_country",
        "removed_at",
        "removal_kind",
        "last_seen_online_at",
    )
    verdicts = _assessments(ids)
    notices = _notices(ids)
    removals = _removals(ids)
    channels = _channels(ids)
    rows = []
    for case in cases:
        pk = case["pk"]
        first_verdict, latest = verdicts.get(pk, (None, {}))
        first_notice, route = notices.get(pk, (None, Route.NONE))
        removal = removals.get(pk) or _removal_from_case(case)
        illegal = case["verdict"] == Verdict.ILLEGAL
        removed_at, last_online, kind, reappeared = removal
        reported = case["first_reported_at"]
        timing = CaseTiming(
            case_id=pk,
            url_sha256=case["url_sha256"],
            first_reported_at=reported,
            reported_week=week_of(reported),
            first_verdict_at=first_verdict,
            illegal=illegal,
            first_notice_at=first_notice if illegal else None,
            removed_at=removed_at if illegal else None,
            last_online_at=last_online if illegal else None,
            removal_kind=kind if illegal else "",
            still_online=illegal and case["state"] in CaseState.TRACKED,
            reappeared=reappeared,
            route=route,
            channel=channels.get(pk, ""),
            provider_id=case["provider_id"],
            asn=case["asn"],
            hosting_country=case["hosting_country"] or "",
            legal_basis=latest.get("legal_basis", ""),
            category=latest.get("category", ""),
            ai_generated=latest.get("ai_generated", ""),
            refreshed_at=now,
        )
        _durations(timing, calendar)
        rows.append(timing)
    return rows


def _durations(t: CaseTiming, calendar: Calendar) -> None:
    """The five durations, in calendar and in working seconds (None where a moment is missing)."""
    after_notice = t.removal_kind in REMOVALS_AFTER_NOTICE and t.first_notice_at is not None
    pairs: dict[str, tuple[datetime | None, datetime | None]] = {
        "assess": (t.first_reported_at, t.first_verdict_at),
        "notice": (t.first_verdict_at, t.first_notice_at) if t.illegal else (None, None),
        "report_notice": (t.first_reported_at, t.first_notice_at),
        "removal": (t.first_notice_at, t.removed_at) if after_notice else (None, None),
        "report_removal": (t.first_reported_at, t.removed_at)
        if t.removal_kind != RemovalKind.UNREACHABLE
        else (None, None),
    }
    for name, (start, end) in pairs.items():
        if start is None or end is None:
            continue
        # A moment before its start (a clock step, a notice sent as the checks found it gone)
        # counts as no time at all, not as negative time.
        end = max(end, start)
        setattr(t, f"{name}_s", int((end - start).total_seconds()))
        setattr(t, f"{name}_wh", calendar.working_seconds(start, end))


def _assessments(ids: Sequence[int]) -> dict[int, tuple[datetime, dict[str, str]]]:
    """Per case: the first verdict's time, and the latest assessment's classification."""
    found: dict[int, tuple[datetime, dict[str, str]]] = {}
    rows = (
        Assessment.objects.filter(case_id__in=ids)
        .order_by("case_id", "at", "pk")
        .values_list("case_id", "at", "legal_basis", "category", "ai_generated")
    )
    for case_id, at, legal_basis, category, ai_generated in rows:
        first = found[case_id][0] if case_id in found else at
        found[case_id] = (first, {"legal_basis": legal_basis, "category": category, "ai_generated": ai_generated})
    return found


def _notices(ids: Sequence[int]) -> dict[int, tuple[datetime, str]]:
    """Per case: when its first notice went out, and the route its first notices took."""
    sent: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    rows = NoticeCase.objects.filter(
        case_id__in=ids,
        dropped_at__isnull=True,
        notice__state=NoticeState.SENT,
        notice__kind__in=FIRST_NOTICE_KINDS,
        notice__sent_at__isnull=False,
    ).values_list("case_id", "notice__sent_at", "notice__kind")
    for case_id, sent_at, kind in rows:
        if sent_at is not None:
            sent[case_id].append((sent_at, kind))
    found: dict[int, tuple[datetime, str]] = {}
    for case_id, notices in sent.items():
        kinds = {kind for _at, kind in notices}
        route: str
        if NoticeKind.REFERRAL in kinds:
            route = Route.PARTNER_HOTLINE
        elif NoticeKind.POLICE in kinds:
            route = Route.POLICE
        else:
            route = Route.OWN_COUNTRY
        found[case_id] = (min(at for at, _kind in notices), route)
    return found


def _removals(ids: Sequence[int]) -> dict[int, tuple[datetime | None, datetime | None, str, int]]:
    """Per case with a ``removed`` event: (first removal, last online before it, its kind,
    how often the content came back)."""
    found: dict[int, tuple[datetime | None, datetime | None, str, int]] = {}
    back: dict[int, int] = defaultdict(int)
    rows = (
        Event.objects.filter(case_id__in=ids, kind__in=(EventKind.REMOVED, EventKind.REAPPEARED))
        .order_by("case_id", "at", "pk")
        .values_list("case_id", "kind", "at", "data")
    )
    for case_id, kind, at, data in rows:
        if kind == EventKind.REAPPEARED:
            back[case_id] += 1
        elif case_id not in found:
            data = data or {}
            removed = _parse(data.get("removed_at")) or at
            found[case_id] = (removed, _parse(data.get("last_seen_online_at")), str(data.get("removal_kind", "")), 0)
    return {pk: (*values[:3], back.get(pk, 0)) for pk, values in found.items()}


def _removal_from_case(case: Mapping[str, Any]) -> tuple[datetime | None, datetime | None, str, int]:
    """A case closed as removed without a ``removed`` event (data imported from elsewhere)."""
    if case["removed_at"] is None:
        return None, None, "", 0
    return case["removed_at"], case["last_seen_online_at"], case["removal_kind"], 0


def _channels(ids: Sequence[int]) -> dict[int, str]:
    """Per case: the intake channel of the first report that named it."""
    found: dict[int, str] = {}
    rows = (
        ReportedUrl.objects.filter(case_id__in=ids)
        .order_by("case_id", "report__received_at", "pk")
        .values_list("case_id", "report__channel")
    )
    for case_id, channel in rows:
        found.setdefault(case_id, channel)
    return found


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_datetime(str(value))
    except ValueError:
        return None
