"""Notices: when a case is due to be in one (batch windows, urgent ones at once, reminders and
the escalation ladder), the batch notice it joins, and the notices' numbers and rows."""

from __future__ import annotations

import hashlib
import json
import secrets
import zlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from devnet.history.constants import MESSAGE_ID_SUFFIX
from devnet.history.records import NoticeInfo, NoticePlan, ProviderInfo
from devnet.history.state import SeedState
from devnet.history.tables import NOTICES
from routing.jurisdiction import RecipientKind
from routing.models import NoticeCounter, NoticeKind, NoticeState
from routing.notices.calendar import next_working_moment
from routing.notices.render import notice_language


def _ceil(moment: datetime, minutes: int) -> datetime:
    seconds = minutes * 60
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(-(-stamp // seconds) * seconds, tz=moment.tzinfo)


def _phase(who: str, when: datetime) -> timedelta:
    """The seconds past the minute a sender picks a batch up: a function of the batch alone (of
    its recipient's name, not its id, so that it does not depend on what the database holds)."""
    return timedelta(seconds=3 + zlib.crc32(f"{who}@{when.timestamp():.0f}".encode()) % 40)


def notice_plan(
    kind: str,
    key: str,
    at: datetime,
    *,
    who: str,
    step: int = 0,
    hosting: bool = False,
    urgent: bool = False,
) -> NoticePlan:
    """A notice due at ``at``: the sender (every minute) takes the batch of that minute."""
    when = _ceil(at, 1)
    return NoticePlan(kind, key, step, when, at, when + _phase(f"{kind}:{step}:{who}", when), hosting, urgent)


def windowed_plan(
    state: SeedState, kind: str, key: str, at: datetime, *, who: str, at_once: bool, urgent: bool
) -> NoticePlan:
    """A first notice: due at once (urgent, or released by a senior), or when its batch window
    ends (windows of ``SCART_NOTICE_WINDOW_MINUTES``, moved to working hours when those are set)."""
    if at_once:
        return notice_plan(kind, key, at, who=who, hosting=kind == NoticeKind.PROVIDER, urgent=urgent)
    window = state.window.total_seconds() or 60
    end = datetime.fromtimestamp((at.timestamp() // window + 1) * window, tz=UTC)
    due = next_working_moment(end).astimezone(UTC)
    return NoticePlan(kind, key, 0, due, at, due + _phase(f"{kind}:0:{who}", due), kind == NoticeKind.PROVIDER)


def ladder_plans(state: SeedState, p: ProviderInfo, notice: NoticePlan, cutoff: datetime | None) -> list[NoticePlan]:
    """Reminders while the content stays online, then the escalation ladder (`cases_plan_ladder`).
    The registrar (none for reserved domains) and the provider's escalation address (none
    set) are skipped, as the live ladder skips a rung without an address."""
    plans: list[NoticePlan] = []
    planned = notice.sent_at
    for step in range(1, state.reminder_max + 1):
        planned = _ceil(planned + state.reminder_every, 5)
        plan = notice_plan(NoticeKind.REMINDER, f"reminder:{step}:provider:{p.id}", planned, who=p.name, step=step)
        if (cutoff is not None and plan.sent_at >= cutoff) or plan.sent_at > state.anchor:
            return plans
        plans.append(plan)
    for index, rung in enumerate(state.ladder, start=1):
        if rung != "police":
            continue
        planned = _ceil(planned + state.reminder_every, 5)
        plan = notice_plan(NoticeKind.ESCALATION, f"escalation:{index}:police", planned, who="police", step=index)
        if (cutoff is not None and plan.sent_at >= cutoff) or plan.sent_at > state.anchor:
            return plans
        plans.append(plan)
    return plans


def batch_notice(state: SeedState, plan: NoticePlan, p: ProviderInfo) -> NoticeInfo:
    """The notice of this batch, made when the first of its cases joins it."""
    identity = (plan.key, plan.when)
    notice = state.notices.get(identity)
    if notice is not None:
        return notice
    recipient: tuple[str, str, list[str], str, int | None, int | None]
    if plan.kind in (NoticeKind.POLICE, NoticeKind.ESCALATION):
        recipient = ("police", state.police_name, state.police_emails, state.police_language, None, None)
    elif plan.kind in (NoticeKind.REFERRAL, NoticeKind.UPDATE) and p.hotline is not None:
        h = p.hotline
        recipient = (RecipientKind.HOTLINE, h.name, [h.email], h.language, None, h.id)
    else:
        recipient = (RecipientKind.PROVIDER, p.name, p.emails, notice_language(p.language), p.id, None)
    kind_name, name, emails, language, provider_id, hotline_id = recipient
    if plan.kind in (NoticeKind.REMINDER, NoticeKind.ESCALATION):
        created = plan.when - timedelta(minutes=5)
    elif plan.when - plan.added_at > timedelta(minutes=1):
        created = plan.when - state.window  # a batch window
    else:
        created = plan.when - timedelta(minutes=1)
    created = min(created, plan.added_at)
    notice = NoticeInfo(
        id=state.ids.take(NOTICES),
        kind=plan.kind,
        recipient_kind=kind_name,
        recipient_name=name,
        batch_key=plan.key,
        emails=list(emails),
        language=language,
        provider_id=provider_id,
        hotline_id=hotline_id,
        step=plan.step,
        urgent=plan.urgent,
        created_at=created,
        due_at=plan.when,
        sent_at=plan.sent_at,
    )
    state.notices[identity] = notice
    state.new_notices.append(notice)
    return notice


def notice_rows(notices: list[NoticeInfo]) -> list[tuple[Any, ...]]:
    """The rows of a chunk's new notices, numbered first (their references are in the rows)."""
    number_notices(notices)
    return [
        (
            n.id,
            n.reference,
            n.kind,
            n.recipient_kind,
            n.recipient_name,
            n.batch_key,
            json.dumps(n.emails),
            n.language,
            n.provider_id,
            n.hotline_id,
            False,
            n.step,
            n.urgent,
            NoticeState.SENT,
            False,
            n.created_at,
            n.due_at,
            "",
            n.sent_at - timedelta(milliseconds=400),
            1,
            n.sent_at,
            f"<{n.reference}{MESSAGE_ID_SUFFIX}",
            "",
            hashlib.sha256(secrets.token_bytes(32)).hexdigest()
            if n.kind in (NoticeKind.PROVIDER, NoticeKind.REMINDER)
            else "",
        )
        for n in notices
    ]


def number_notices(notices: list[NoticeInfo]) -> None:
    """Give the notices their references, ``SCART-YYYYMMDD-NNNNNN`` numbered per day of creation
    from the day's `NoticeCounter`, as `routing.notices.batches.new_references` does, for all the
    days at once: one statement that adds each day's count to its counter and returns the new last
    number (the counter rows stay locked until the chunk commits, so a live planner numbering the
    same day waits for it instead of taking the same numbers)."""
    by_day: dict[date, list[NoticeInfo]] = {}
    for notice in notices:
        by_day.setdefault(timezone.localdate(notice.created_at), []).append(notice)
    days = sorted(by_day)
    table = NoticeCounter._meta.db_table
    for start in range(0, len(days), 400):
        part = days[start : start + 400]
        values = ", ".join(["(%s, %s)"] * len(part))
        params: list[Any] = [v for day in part for v in (day, len(by_day[day]))]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (day, last) VALUES {values} "  # noqa: S608 - a table name from model metadata
                f"ON CONFLICT (day) DO UPDATE SET last = {table}.last + excluded.last RETURNING day, last",
                params,
            )
            lasts = dict(cursor.fetchall())
        for day in part:
            numbered = by_day[day]
            last = lasts[day] if isinstance(next(iter(lasts)), date) else lasts[day.isoformat()]
            for n, notice in enumerate(numbered, start=last - len(numbered) + 1):
                notice.reference = f"SCART-{day:%Y%m%d}-{n:06d}"
