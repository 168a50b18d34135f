"""Contact quality: what each abuse address of a provider received and what came back, and the
move to the next contact after hard bounces (docs/notices.md, "Contact quality").

Every counter of `ContactStats` changes in the transaction that records its fact:

- a notice sent (the ``notice_sent`` hook, connected in `routing.hooks`): ``notices_sent``;
- a bounce filed (`routing.notices.replies`) or a permanent refusal at sending
  (`routing.notices.recording.contact_flag`): ``hard_bounces`` / ``soft_bounces``, once per notice
  and address. A failure whose status is ``4.x.x``, or a delay report, is soft; any other failure
  (``5.x.x``, a mailer daemon's own words) is hard. Only reports that carry the notice's own
  Message-ID count: a reference is easy to guess, a Message-ID is not;
- a reply written by a person, or a provider's answer through the link: ``replies`` and the
  notice's first reaction (``Notice.first_reaction_at``, set once by a conditional update);
- a case removed after a first notice: ``removals`` and the time from that notice.

After ``SCART_CONTACT_HARD_BOUNCES`` hard bounces in a row (a reply from the address, or an answer
to one of its notices, resets the run) the address is *retired*: it goes on
``Provider.retired_emails``, notices skip it and use the next contact of the provider's order
(`routing.jurisdiction.provider_contacts`), and the provider waits in the contact-check queue for
a senior analyst (`routing.resolution.confirmation.contact_confirm` marks it checked, and puts
back in use the addresses it confirms).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Coalesce

from routing.models import ContactStats, Notice, NoticeCase, NoticeKind, NoticeMessage, NoticeState, Provider

log = logging.getLogger(__name__)

# Notices whose addresses are a provider's own contacts (the hosting side): not the police, a
# partner hotline or a registrar, which are set up by hand.
CONTACT_KINDS = (NoticeKind.PROVIDER, NoticeKind.REMINDER)


def _addresses(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v.strip().lower() for v in values if v and v.strip()))


def _counted(notice: Notice) -> bool:
    return notice.provider_id is not None and notice.kind in CONTACT_KINDS and bool(notice.emails)


def _bump(provider_id: int, addresses: list[str], **changes: Any) -> None:
    """Apply ``changes`` (expressions on the row) to the rows of these addresses, made first if missing."""
    if not addresses:
        return
    ContactStats.objects.bulk_create(
        [ContactStats(provider_id=provider_id, address=a) for a in addresses], ignore_conflicts=True
    )
    ContactStats.objects.filter(provider_id=provider_id, address__in=addresses).update(**changes)


def contacts_notice_sent(sender: Any, *, notice: Notice, sent_at: datetime, **kwargs: Any) -> None:
    """The ``notice_sent`` receiver: one more notice for each of its addresses. In a savepoint,
    so that a failure here never undoes the record of the notice (it is logged)."""
    if not _counted(notice):
        return
    try:
        with transaction.atomic():
            _bump(
                notice.provider_id or 0,
                _addresses(notice.emails),
                notices_sent=F("notices_sent") + 1,
                first_sent_at=Coalesce(F("first_sent_at"), Value(sent_at)),
                last_sent_at=Value(sent_at),
            )
    except Exception:
        log.exception("notice %s: its contact figures were not counted", notice.reference)


def contacts_bounce_record(
    *, notice: Notice, failures: dict[str, str], delayed: Iterable[str] = (), at: datetime, record: NoticeMessage
) -> list[str]:
    """Count a bounce of ``notice``: ``failures`` maps each failed address to its status and
    diagnostic (hard unless the status is 4.x.x), ``delayed`` names addresses a delay report is
    about (soft). An address is counted once per notice whatever the number of reports. Returns
    the addresses retired by it."""
    if not _counted(notice):
        return []
    mine = set(_addresses(notice.emails))
    earlier = {
        a.lower()
        for m in NoticeMessage.objects.filter(notice=notice, kind=NoticeMessage.Kind.BOUNCE).exclude(pk=record.pk)
        for a in m.failed_recipients or ()
    }
    hard = [a for a, d in failures.items() if a in mine and a not in earlier and not _soft(d)]
    soft = [a for a, d in failures.items() if a in mine and a not in earlier and _soft(d)]
    soft += [a for a in _addresses(delayed) if a in mine and a not in failures]
    _bump(notice.provider_id or 0, soft, soft_bounces=F("soft_bounces") + 1, last_bounce_at=Value(at))
    return _hard_bounces(notice, hard, at=at, reason=next(iter(failures.values()), "") or "bounced")


def contacts_refused(*, notice: Notice, reason: str, at: datetime) -> list[str]:
    """A permanent refusal while sending (SMTP 5xx for the recipients): a hard bounce of each of
    the notice's addresses. Returns the addresses retired by it."""
    if not _counted(notice):
        return []
    return _hard_bounces(notice, _addresses(notice.emails), at=at, reason=reason)


def _soft(diagnostic: str) -> bool:
    return diagnostic.strip().startswith("4.")


def _hard_bounces(notice: Notice, addresses: list[str], *, at: datetime, reason: str) -> list[str]:
    if not addresses:
        return []
    provider_id = notice.provider_id or 0
    _bump(
        provider_id,
        addresses,
        hard_bounces=F("hard_bounces") + 1,
        hard_bounces_in_row=F("hard_bounces_in_row") + 1,
        last_bounce_at=Value(at),
    )
    due = list(
        ContactStats.objects.filter(
            provider_id=provider_id,
            address__in=addresses,
            retired_at__isnull=True,
            hard_bounces_in_row__gte=settings.SCART_CONTACT_HARD_BOUNCES,
        ).values_list("address", flat=True)
    )
    if not due:
        return []
    why = f"{settings.SCART_CONTACT_HARD_BOUNCES} hard bounce(s) in a row; last: {reason}"[:500]
    ContactStats.objects.filter(provider_id=provider_id, address__in=due).update(
        retired_at=at, retired_reason=why, checked_at=None, checked_by=None
    )
    provider = Provider.objects.select_for_update().get(pk=provider_id)
    retired = _addresses([*(provider.retired_emails or []), *due])
    Provider.objects.filter(pk=provider_id).update(retired_emails=retired)
    log.info("provider %s: retired %s after hard bounces", provider_id, ", ".join(due))
    return due


def contacts_all_retired(notice: Notice) -> bool:
    """Whether every address of ``notice`` is retired now (read after counting its bounce)."""
    if not _counted(notice):
        return False
    retired = set(
        ContactStats.objects.filter(
            provider_id=notice.provider_id or 0, address__in=_addresses(notice.emails), retired_at__isnull=False
        ).values_list("address", flat=True)
    )
    return set(_addresses(notice.emails)) <= retired


def contacts_reaction(*, notice: Notice, at: datetime, sender: str = "", human: bool = True) -> None:
    """Someone answered ``notice`` (a reply from ``sender``, or through the link when ``sender`` is
    empty). The address it shows to work starts a new run of hard bounces; a person's answer counts
    as a reply (a reply by mail) and, the first time, as the notice's first reaction."""
    if not _counted(notice):
        return
    mine = _addresses(notice.emails)
    alive = [sender.lower()] if sender and sender.lower() in mine else (mine if len(mine) == 1 else [])
    provider_id = notice.provider_id or 0
    ContactStats.objects.filter(provider_id=provider_id, address__in=alive).update(hard_bounces_in_row=0)
    if not human:
        return
    if sender:
        _bump(provider_id, mine, replies=F("replies") + 1, last_reply_at=Value(at))
    first = Notice.objects.filter(pk=notice.pk, first_reaction_at__isnull=True, sent_at__isnull=False).update(
        first_reaction_at=at
    )
    if first and notice.sent_at is not None:
        seconds = max(0, int((at - notice.sent_at).total_seconds()))
        _bump(provider_id, mine, reactions=F("reactions") + 1, reaction_seconds=F("reaction_seconds") + seconds)


def contacts_removal(*, case_id: int, removed_at: datetime, cycle_started_at: datetime | None) -> None:
    """A case was removed: the addresses of its first notice to the hosting side in this notice
    cycle get a removal and its time from that notice."""
    first = (
        NoticeCase.objects.filter(
            case_id=case_id,
            dropped_at__isnull=True,
            notice__state=NoticeState.SENT,
            notice__kind=NoticeKind.PROVIDER,
            notice__provider__isnull=False,
        )
        .filter(**({"notice__sent_at__gte": cycle_started_at} if cycle_started_at else {}))
        .select_related("notice")
        .order_by("notice__sent_at", "notice_id")
        .first()
    )
    if first is None or first.notice.sent_at is None:
        return
    notice = first.notice
    seconds = max(0, int((removed_at - notice.sent_at).total_seconds())) if notice.sent_at else 0
    _bump(
        notice.provider_id or 0,
        _addresses(notice.emails),
        removals=F("removals") + 1,
        removal_seconds=F("removal_seconds") + seconds,
    )


__all__ = [
    "CONTACT_KINDS",
    "contacts_all_retired",
    "contacts_bounce_record",
    "contacts_notice_sent",
    "contacts_reaction",
    "contacts_refused",
    "contacts_removal",
]
