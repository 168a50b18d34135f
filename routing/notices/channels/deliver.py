"""Delivering one claimed notice on its channel, part by part (the contract is in `base`).

The notice is rendered once; its channel's transport splits it into parts; each part has its
`NoticeDelivery` row (made once, with its Message-ID). The notice is written ``sending``, then
each part that has not gone yet is written ``sending`` right before its attempt and ``sent`` right
after it, so a sender that dies between parts leaves the parts that went ``sent`` (never sent
again) and the rest ``pending`` (sent by the next run: `routing.notices.sweep`), and one that dies
mid-attempt leaves that one part ``sending`` (it becomes ``unknown``, for a person). The first
failure ends the run for the notice: a temporary one queues it again with a growing delay (or the
delay the other side asked for, if longer), a permanent one fails it. The notice is ``sent`` once
every part is, ``by_hand`` when its channel sends nothing (manual).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from reports.models import Assessment
from routing.models import (
    DeliveryChannel,
    DeliveryState,
    Notice,
    NoticeCase,
    NoticeKind,
    NoticeState,
    PartnerHotline,
    Provider,
)
from routing.notices.channels.base import Outgoing, PermanentFailure, TemporaryFailure, UncertainFailure
from routing.notices.channels.parts import delivery_transition, notice_parts
from routing.notices.channels.registry import Transports
from routing.notices.delivery import retry_delay
from routing.notices.links import link_url, new_link
from routing.notices.recording import notice_record_failed, notice_record_sent
from routing.notices.render import Item, NoticeInvalid, notice_render, xarf_id
from routing.notices.signing_keys import signing_tsk
from routing.notices.states import notice_transition

log = logging.getLogger(__name__)

# Channels that need an address to send to.
MAIL_CHANNELS = (DeliveryChannel.BATCHED_MAIL, DeliveryChannel.XARF_PER_MESSAGE, DeliveryChannel.MANUAL)


def notice_history(notice: Notice, case_ids: list[int]) -> dict[str, Any]:
    """What a reminder or an escalation says about the notices before it."""
    if notice.kind not in (NoticeKind.REMINDER, NoticeKind.ESCALATION):
        return {}
    earlier = Notice.objects.filter(items__case_id__in=case_ids, state=NoticeState.SENT).exclude(pk=notice.pk)
    first = earlier.filter(kind=NoticeKind.PROVIDER).aggregate(first=Min("sent_at"))["first"]
    names = sorted(set(earlier.filter(kind=NoticeKind.PROVIDER).values_list("recipient_name", flat=True)))
    reminders = earlier.filter(kind=NoticeKind.REMINDER).values("step").distinct().count()
    return {"first_sent": first, "providers": names, "reminders": reminders}


def notice_outgoing(
    notice: Notice,
    rows: list[NoticeCase],
    emails: list[str],
    *,
    latest: dict[int, Assessment],
    providers: dict[int, Provider],
    link: str,
) -> Outgoing:
    """The notice rendered once, as its channel's transport delivers (and previews) it. Raises
    `NoticeInvalid` when it cannot be rendered (an X-ARF report the schema refuses)."""
    items = tuple(Item(case=r.case, assessment=latest.get(r.case_id), xarf_id=xarf_id(notice, r.case)) for r in rows)
    rendered = notice_render(
        notice=notice, items=items, link=link, emails=emails, history=notice_history(notice, [r.case_id for r in rows])
    )
    provider = providers.get(notice.provider_id) if notice.provider_id else None
    if provider is None and notice.provider_id:
        provider = Provider.objects.filter(pk=notice.provider_id).first()
    hotline = PartnerHotline.objects.filter(pk=notice.hotline_id).first() if notice.hotline_id else None
    return Outgoing(
        notice=notice,
        rendered=rendered,
        items=items,
        emails=tuple(emails),
        provider=provider,
        hotline=hotline,
        link=link,
    )


def notice_deliver(
    notice: Notice,
    rows: list[NoticeCase],
    emails: list[str],
    *,
    token: str,
    transports: Transports,
    now: datetime,
    latest: dict[int, Assessment],
    providers: dict[int, Provider],
) -> str:
    """Deliver a notice this sender claimed; returns ``sent``, ``by_hand``, ``retried``,
    ``failed`` or ``cancelled`` (it moved meanwhile)."""
    channel = notice.channel or DeliveryChannel.BATCHED_MAIL
    if not emails and channel in MAIL_CHANNELS:
        notice_record_failed(notice, token, "no address to send to", now=now, flag=False)
        return "failed"
    wants_link = notice.kind in (NoticeKind.PROVIDER, NoticeKind.REMINDER)
    token_and_hash = new_link(notice) if wants_link else ("", notice.link_key_hash)
    try:
        link = link_url(token_and_hash[0]) if wants_link else ""
        outgoing = notice_outgoing(notice, rows, emails, latest=latest, providers=providers, link=link)
    except NoticeInvalid as exc:
        log.error("notice %s not sent: %s", notice.reference, exc)
        notice_record_failed(notice, token, str(exc), now=now, flag=False)
        return "failed"
    try:
        transport = transports.get(channel)
        parts = transport.parts(outgoing)
    except PermanentFailure as exc:
        notice_record_failed(notice, token, str(exc), now=now, flag=False)
        return "failed"
    if channel in MAIL_CHANNELS:
        # Signing on without a usable key stops the run here, before "sending": nothing unsigned goes.
        signing_tsk()
    deliveries = notice_parts(notice, parts, channel=channel)
    # "sending" is written before the first attempt: a sender that dies now leaves it for the sweeper.
    claimed = notice_transition(
        notice=notice,
        to=NoticeState.SENDING,
        expected_from=[NoticeState.QUEUED],
        claim_token=token,
        sending_since=timezone.now(),
        attempts=notice.attempts + 1,
        message_id=deliveries[0].message_id if deliveries else notice.message_id,
        emails=emails,
        language=outgoing.rendered.language,
        link_key_hash=token_and_hash[1],
    )
    if not claimed:
        return "cancelled"
    by_hand = False
    for part, row in zip(parts, deliveries, strict=True):
        if row.state == DeliveryState.SENT:
            continue  # went out in an earlier run: never again
        if row.state == DeliveryState.BY_HAND:
            by_hand = True
            continue
        # The sweep judges a sender dead by the notice's ``sending_since``: this sender is alive.
        Notice.objects.filter(pk=notice.pk, state=NoticeState.SENDING).update(sending_since=timezone.now())
        if not delivery_transition(
            delivery=row,
            to=DeliveryState.SENDING,
            expected_from=[DeliveryState.PENDING],
            attempts=row.attempts + 1,
            sending_since=timezone.now(),
        ):
            # Unknown (a person decides) or failed: the notice cannot be finished by this run.
            return _stopped(notice, row.state)
        try:
            result = transport.deliver(outgoing, part, row)
        except TemporaryFailure as exc:
            delivery_transition(delivery=row, to=DeliveryState.PENDING, reason=str(exc), sending_since=None)
            return _retry(notice, exc, token=token, now=now)
        except PermanentFailure as exc:
            delivery_transition(delivery=row, to=DeliveryState.FAILED, reason=str(exc), sending_since=None)
            notice_record_failed(notice, token, str(exc), now=now, flag=exc.flag, from_state=NoticeState.SENDING)
            return "failed"
        except UncertainFailure as exc:
            delivery_transition(delivery=row, to=DeliveryState.UNKNOWN, reason=str(exc))
            notice_transition(
                notice=notice, to=NoticeState.UNKNOWN, expected_from=[NoticeState.SENDING], reason=str(exc)
            )
            log.error("notice %s: %s", notice.reference, exc)
            return "failed"
        if result.by_hand:
            delivery_transition(delivery=row, to=DeliveryState.BY_HAND, sending_since=None)
            by_hand = True
            continue
        at = timezone.now()
        delivery_transition(
            delivery=row,
            to=DeliveryState.SENT,
            reason="",
            sent_at=at,
            external_id=result.external_id[:255],
            status=result.status[:100],
            status_checked_at=at if result.status else None,
        )
    if by_hand:
        notice_transition(
            notice=notice, to=NoticeState.BY_HAND, expected_from=[NoticeState.SENDING], reason="", claimed_until=None
        )
        return "by_hand"
    notice_record_sent(notice, rows, list(emails), sent_at=timezone.now(), providers=providers)
    return "sent"


def _retry(notice: Notice, exc: TemporaryFailure, *, token: str, now: datetime) -> str:
    attempts = notice.attempts + 1
    if attempts >= settings.SCART_NOTICE_MAX_ATTEMPTS:
        notice_record_failed(
            notice,
            token,
            f"gave up after {attempts} attempts: {exc}",
            now=now,
            flag=False,
            from_state=NoticeState.SENDING,
        )
        return "failed"
    delay = retry_delay(attempts)
    if exc.retry_after is not None:
        delay = max(delay, exc.retry_after)
    notice_transition(
        notice=notice,
        to=NoticeState.QUEUED,
        expected_from=[NoticeState.SENDING],
        reason=str(exc),
        sending_since=None,
        claimed_until=None,
        due_at=timezone.now() + delay,
    )
    log.warning("notice %s: temporary failure (%s); retrying", notice.reference, exc)
    return "retried"


def _stopped(notice: Notice, part_state: str) -> str:
    """A part this run may not attempt: the notice waits for a person, as after a crash."""
    notice_transition(
        notice=notice,
        to=NoticeState.UNKNOWN,
        expected_from=[NoticeState.SENDING],
        reason=f"a part of this notice is {part_state}: a person decides before the rest goes",
        claimed_until=None,
    )
    return "failed"
