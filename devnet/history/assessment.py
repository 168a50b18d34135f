"""Verdicts: when an analyst gets to a case (office hours, someone on call at night), what they
decide, and the assessment row, event and state change that follow (`reports.assessment`)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

from devnet.history.constants import ANALYST_HOURS, CATEGORIES, CATEGORY_WEIGHTS
from devnet.history.records import CaseInfo
from devnet.history.state import SeedState, pick
from devnet.history.tables import ASSESSMENTS
from devnet.history.timeline import event, transition
from reports.assessment import VERDICT_FIELDS, Classification
from reports.models import ActorType, CaseState, EventKind, Verdict
from routing.notices.calendar import is_working_day


def working_day(state: SeedState, day: date) -> bool:
    known = state.working_days.get(day)
    if known is None:
        known = state.working_days[day] = is_working_day(day)
    return known


def _office(state: SeedState, moment: datetime) -> bool:
    local = moment.astimezone(state.zone)
    return working_day(state, local.date()) and ANALYST_HOURS[0] <= local.hour < ANALYST_HOURS[1]


def _next_office(state: SeedState, moment: datetime) -> datetime:
    local = moment.astimezone(state.zone)
    day = local.date()
    if not (working_day(state, day) and local.hour < ANALYST_HOURS[0]):
        day += timedelta(days=1)
        while not working_day(state, day):
            day += timedelta(days=1)
    return datetime.combine(day, clock(ANALYST_HOURS[0]), tzinfo=state.zone).astimezone(UTC)


def verdict_time(state: SeedState, queued: datetime, *, fast: bool = False) -> datetime:
    """Analysts work office hours; at night and at weekends one on call takes a few cases, the
    rest wait for the next working morning."""
    rng = state.rng
    if fast:
        return queued + timedelta(minutes=3 + rng.lognormvariate(math.log(20), 0.7))
    candidate = queued + timedelta(minutes=3) + timedelta(hours=rng.lognormvariate(math.log(2.0), 0.9))
    if _office(state, candidate) or rng.random() < 0.2:
        return candidate
    return _next_office(state, candidate) + timedelta(hours=rng.expovariate(1 / 1.5))


def illegal_classification(state: SeedState, at: datetime) -> Classification:
    """An illegal verdict's details, AI-made material growing more common over the span."""
    rng = state.rng
    progress = (at - state.start) / (state.end - state.start)
    category = pick(rng, CATEGORIES, CATEGORY_WEIGHTS)
    national = rng.random() < 0.18
    ai = rng.choices(
        ["yes", "suspected", "unknown", "no"],
        [0.02 + 0.08 * progress, 0.03 + 0.05 * progress, 0.08, 0.87 - 0.13 * progress],
    )[0]
    police_first = rng.random() < 0.01
    return Classification(
        verdict=Verdict.ILLEGAL,
        legal_basis="national" if national else "baseline",
        category=category,
        age_group="infant_toddler" if category in ("A1", "A2") and rng.random() < 0.08 else "",
        media_type="",
        ai_generated=ai,
        drawn=national and rng.random() < 0.4,
        police_first=police_first,
        police_reason=rng.choice(["victim_identifiable", "immediate_danger", "offender_identifiable"])
        if police_first
        else "",
    )


def assess(state: SeedState, case: CaseInfo, at: datetime, classification: Classification, media: str) -> None:
    """An analyst's verdict (`reports.assessment.case_assess`): the row, its event, the state."""
    rng = state.rng
    if classification.verdict == Verdict.ILLEGAL:
        classification.media_type = media if rng.random() < 0.95 else "other"
    key = tuple(getattr(classification, name) for name in VERDICT_FIELDS)
    known = state.classifications.get(key)
    if known is None:
        cleaned = classification.cleaned()
        known = state.classifications[key] = (cleaned, json.dumps(cleaned.as_event_data())[1:-1])
    c, tail = known
    analyst = rng.choice(state.analysts)
    assessment = state.ids.take(ASSESSMENTS)
    state.rows[ASSESSMENTS].append(
        (
            assessment,
            case.id,
            at,
            analyst,
            "analyst",
            c.verdict,
            c.legal_basis,
            c.category,
            c.age_group,
            c.media_type,
            c.ai_generated,
            c.drawn,
            c.police_first,
            c.police_reason,
            c.not_illegal_reason,
            "",
            "{}",
        )
    )
    data = f'{{"assessment": {assessment}, "source": "analyst", {tail}}}'
    event(state, case, at, EventKind.ASSESSED, ActorType.USER, analyst, None, data)
    target = {
        Verdict.ILLEGAL: CaseState.ILLEGAL,
        Verdict.NOT_ILLEGAL: CaseState.NOT_ILLEGAL,
    }.get(Verdict(c.verdict), CaseState.CANNOT_ASSESS)
    transition(state, case, at, CaseState.AWAITING_ASSESSMENT, target, ActorType.USER, analyst, assessment=assessment)
    case.verdict, case.assessed_at, case.assessment = c.verdict, at, assessment
    case.police_first = c.police_first
