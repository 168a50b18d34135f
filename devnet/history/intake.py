"""Intake: reports through the four channels, spread over the span as the live intake is (API
crawlers day and night, the web form in the evening, bulk files and mail in office hours), each
naming cases that are resolved, queued for a verdict, and sometimes reported again."""

from __future__ import annotations

import bisect
import math
from datetime import datetime, timedelta

from django.utils import timezone

from devnet.history.assessment import assess, illegal_classification, verdict_time, working_day
from devnet.history.constants import (
    B36,
    CHANNELS,
    ILLEGAL_SHARE,
    MEDIA,
    MEDIA_WEIGHTS,
    NOT_ILLEGAL_REASONS,
    REPORT_ALPHABET,
    REPORT_REF_PREFIX,
)
from devnet.history.cycles import illegal
from devnet.history.names import b36
from devnet.history.records import CaseInfo, ReportInfo, SiteInfo
from devnet.history.state import SeedState, pick
from devnet.history.tables import CASES, REPORTED_URLS, REPORTS
from devnet.history.timeline import case_row, event, transition
from reports.assessment import Classification
from reports.models import ActorType, CaseState, Channel, EventKind, Verdict


def plan_intensity(state: SeedState) -> None:
    """Reports per hour over the span, per channel: API crawlers day and night, the web form
    mostly in the evening, bulk files and the mailbox in office hours; 70% more at the end."""
    hours = int((state.end - state.start).total_seconds() // 3600) + 1
    profiles: dict[str, list[float]] = {c: [] for c in CHANNELS}
    for b in range(hours):
        local = (state.start + timedelta(hours=b)).astimezone(state.zone)
        working = working_day(state, local.date())
        office = working and 8 <= local.hour < 18
        profiles[Channel.API].append(1.15 if office else 0.9)
        profiles[Channel.WEB_FORM].append(
            (0.35 if local.hour < 7 else 1.0 if local.hour < 18 else 1.5) * (1.0 if working else 1.2)
        )
        profiles[Channel.BULK_IMPORT].append(1.0 if office else 0.02)
        profiles[Channel.MAILBOX].append(1.0 if office else 0.35)
    state.channels = list(CHANNELS)
    cumulative: list[float] = []
    running = 0.0
    means = {c: sum(v) / len(v) for c, v in profiles.items()}
    for b in range(hours):
        trend = 0.7 + 0.6 * b / hours
        per_channel = [CHANNELS[c][0] * profiles[c][b] / means[c] * trend for c in state.channels]
        state.hourly.append(per_channel)
        running += sum(per_channel)
        cumulative.append(running)
    state.cumulative = cumulative


def make_report(state: SeedState, index: int) -> int:
    """One report naming the next cases; returns how many."""
    rng = state.rng
    x = (index + rng.random()) / state.total * state.cumulative[-1]
    b = min(bisect.bisect_left(state.cumulative, x), len(state.cumulative) - 1)
    rates = state.hourly[b]
    before = state.cumulative[b] - sum(rates)
    seconds = int((b + (x - before) / max(sum(rates), 1e-9)) * 3600)
    at = min(state.start + timedelta(seconds=seconds), state.end)
    state.latest_report = at
    weights = [rate / CHANNELS[c][1] for c, rate in zip(state.channels, rates, strict=True)]
    channel = rng.choices(state.channels, weights)[0]
    count = min(_size(state, channel), state.total - index)
    partner_id, classification, urgent = None, "{}", False
    if channel == Channel.API:
        partner_id, _, classifies = rng.choices(state.partners, [s for _, s, _ in state.partners])[0]
        urgent = rng.random() < 0.03
        if classifies:
            classification = '{"verdict": "illegal"}'
    report_id = state.ids.take(REPORTS)
    reference = _report_reference(state, at)
    report = ReportInfo(report_id, reference, channel, partner_id, at, urgent)
    focus = _site(state)
    same = CHANNELS[channel][2]
    for n in range(count):
        site = focus if n == 0 or rng.random() < same else _site(state)
        _make_case(state, index + n, site, report)
    source = ""
    if channel == Channel.BULK_IMPORT:
        source = f"crawler-export-{timezone.localtime(at, state.zone):%Y-%m-%d}.csv"
    elif channel == Channel.MAILBOX:
        source = f"tips{rng.randrange(1, 400)}@mail.example"
    email = ""
    if channel == Channel.WEB_FORM and rng.random() < 0.3:
        email = f"reporter{rng.randrange(1, 100_000)}@mail.example"
    state.rows[REPORTS].append(
        (
            report_id,
            reference,
            channel,
            partner_id,
            source,
            email,
            "",
            f"{REPORT_REF_PREFIX}{report_id}",
            "[]",
            classification,
            urgent,
            at,
            count,
            0,
            at + timedelta(seconds=rng.randrange(5, 120)) if email else None,
        )
    )
    return count


def _size(state: SeedState, channel: str) -> int:
    """How many URLs a report names: mostly one on the web form, dozens in a bulk file."""
    rng = state.rng
    if channel == Channel.WEB_FORM:
        return 1 if rng.random() < 0.85 else rng.randint(2, 3)
    if channel == Channel.MAILBOX:
        return 1 + int(rng.expovariate(1 / 1.5))
    if channel == Channel.BULK_IMPORT:
        return max(2, min(1_000, int(rng.lognormvariate(math.log(20), 0.8))))
    return max(1, min(200, int(rng.lognormvariate(math.log(2.5), 0.9))))


def _site(state: SeedState) -> SiteInfo:
    provider = pick(state.rng, state.providers, state.provider_weights)
    return pick(state.rng, provider.sites, provider.site_weights)


def _report_reference(state: SeedState, at: datetime) -> str:
    day = timezone.localtime(at, state.zone)
    while True:
        reference = f"R-{day:%Y%m%d}-" + "".join(state.rng.choices(REPORT_ALPHABET, k=8))
        if reference not in state.report_refs:
            state.report_refs.add(reference)
            return reference


def _make_case(state: SeedState, index: int, site: SiteInfo, report: ReportInfo) -> None:
    """One case, from its report to its verdict and, when illegal, all that follows."""
    rng = state.rng
    case = CaseInfo(state.ids.take(CASES), site, report.at, urgent=report.urgent)
    media = pick(rng, MEDIA, MEDIA_WEIGHTS)
    token = b36(index).rjust(5, "0") + "".join(rng.choices(B36, k=4))
    path = {
        "image": f"/i/{token}.{rng.choice(['jpg', 'png', 'webp'])}",
        "video": f"/v/{token}",
        "page": f"/gallery/{token}/",
        "other": f"/f/{token}.zip",
    }[media]
    case.url = f"https://{site.host}{path}"
    while case.url in state.kept:
        case.url += "x"  # a demo URL that real data still names (see `demo_delete`)
    state.rows[REPORTED_URLS].append((report.id, case.id, case.url, False))
    event(state, case, report.at, EventKind.REPORTED, *_reporter(report), _reported(report, new=True))
    resolved = report.at + timedelta(seconds=rng.randrange(2, 45))
    case.resolved_at = resolved
    event(state, case, resolved, EventKind.RESOLVED, ActorType.SYSTEM, None, None, site.resolved)
    transition(state, case, resolved, CaseState.NEW, CaseState.AWAITING_ASSESSMENT, ActorType.SYSTEM, None)
    if rng.random() < 0.06:
        _reported_again(state, case)
    verdict_at = verdict_time(state, resolved, fast=report.urgent)
    if verdict_at > state.anchor:
        case_row(state, case)
        return
    illegal_share = 0.95 if site.dedicated else ILLEGAL_SHARE[report.channel]
    roll = rng.random()
    if roll < illegal_share:
        assess(state, case, verdict_at, illegal_classification(state, verdict_at), media)
        illegal(state, case, verdict_at)
    elif roll < illegal_share + 0.03:
        assess(state, case, verdict_at, Classification(verdict=Verdict.GONE), media)
    elif roll < illegal_share + 0.05:
        assess(state, case, verdict_at, Classification(verdict=Verdict.CANNOT_ASSESS), media)
    else:
        reason = rng.choices(*zip(*NOT_ILLEGAL_REASONS, strict=True))[0]
        drawn = True if reason == "virtual_legal" else None
        assess(
            state,
            case,
            verdict_at,
            Classification(verdict=Verdict.NOT_ILLEGAL, not_illegal_reason=reason, drawn=drawn),
            media,
        )
    case_row(state, case)


def _reporter(report: ReportInfo) -> tuple[str, int | None, int | None]:
    if report.partner_id:
        return ActorType.PARTNER, None, report.partner_id
    if report.channel == Channel.BULK_IMPORT:
        return ActorType.SYSTEM, None, None
    return ActorType.REPORTER, None, None


def _reported_again(state: SeedState, case: CaseInfo) -> None:
    """Another report names the URL later: a duplicate (`reports.services.report_add_urls`)."""
    rng = state.rng
    for _ in range(rng.choice([1, 1, 1, 2])):
        at = case.last_reported_at + timedelta(hours=rng.lognormvariate(math.log(48), 1.2))
        if at > state.end:
            return
        channel = Channel.API if rng.random() < 0.6 else Channel.WEB_FORM
        partner_id = (
            rng.choices(state.partners, [s for _, s, _ in state.partners])[0][0] if channel == Channel.API else None
        )
        report = ReportInfo(state.ids.take(REPORTS), _report_reference(state, at), channel, partner_id, at, False)
        state.rows[REPORTS].append(
            (
                report.id,
                report.reference,
                channel,
                partner_id,
                "",
                "",
                "",
                f"{REPORT_REF_PREFIX}{report.id}",
                "[]",
                "{}",
                False,
                at,
                1,
                0,
                None,
            )
        )
        state.rows[REPORTED_URLS].append((report.id, case.id, case.url, True))
        event(state, case, at, EventKind.REPORTED, *_reporter(report), _reported(report, new=False))
        case.report_count += 1
        case.last_reported_at = at


def _reported(report: ReportInfo, *, new: bool) -> str:
    """The ``reported`` event's data (`reports.services.report_add_urls`)."""
    return f'{{"report": "{report.reference}", "channel": "{report.channel}", "new": {"true" if new else "false"}}}'
