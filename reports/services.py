"""Writes of the intake: reports, cases and their timeline.

Every intake channel (API, web form, bulk file, mailbox) ends in `report_create` or, for a
stream too large for one call, `report_create` followed by `report_add_urls` per chunk.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from reports import bulk
from reports.cases.hooks import cases_created, cases_resolution_due
from reports.cases.services import Actor, event_new, events_append
from reports.models import (
    ActorType,
    Case,
    Channel,
    EventKind,
    Partner,
    Report,
    ReportedUrl,
)
from reports.urls import NormalisedUrl, UrlRejected, normalise_url, url_without_credentials
from scart.db import enqueue_on_commit
from scart.mail import mail_failure_is_permanent, mail_failure_text, new_message_id

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AcceptedUrl:
    index: int
    url: str
    case_id: int
    canonical: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class RejectedUrl:
    index: int
    url: str
    code: str
    reason: str


@dataclass(slots=True)
class IntakeResult:
    report: Report
    accepted: list[AcceptedUrl] = field(default_factory=list)
    rejected: list[RejectedUrl] = field(default_factory=list)

    @property
    def new_count(self) -> int:
        return sum(1 for a in self.accepted if not a.duplicate)

    @property
    def duplicate_count(self) -> int:
        return sum(1 for a in self.accepted if a.duplicate)


def new_report_reference() -> str:
    """A public reference such as ``R-20261121-K7Q2M9XA``: dated, random, not enumerable."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
    suffix = "".join(secrets.choice(alphabet) for _ in range(8))
    return f"R-{timezone.localdate():%Y%m%d}-{suffix}"


def report_create(
    *,
    channel: Channel | str,
    urls: Iterable[Any],
    partner: Partner | None = None,
    source: str = "",
    reporter_email: str = "",
    description: str = "",
    external_ref: str = "",
    hashes: Sequence[dict[str, str]] = (),
    received_at: datetime | None = None,
    classification: dict[str, Any] | None = None,
    urgent: bool = False,
) -> IntakeResult:
    """File a report and the cases of every acceptable URL it names, in one transaction.

    Unacceptable URLs are returned with their reasons and do not stop the others. Raises nothing
    for bad URLs; the caller decides what a report without any acceptable URL means.
    """
    with transaction.atomic():
        report = Report.objects.create(
            reference=new_report_reference(),
            channel=channel,
            partner=partner,
            source=source,
            reporter_email=reporter_email,
            description=description,
            external_ref=external_ref,
            hashes=list(hashes),
            received_at=received_at or timezone.now(),
            classification=dict(classification or {}),
            urgent=urgent,
        )
        return report_add_urls(report=report, urls=urls)


def report_add_urls(*, report: Report, urls: Iterable[Any], first_index: int = 0) -> IntakeResult:
    """Add URLs to an existing report: normalise, deduplicate, upsert cases, link, write events.

    New cases are queued for resolution once the transaction commits. ``first_index`` numbers the
    URLs when a long stream is added in chunks; a URL that an earlier chunk of the same report
    already named counts as a repeat, so a report is counted once per case however often it names it.
    """
    result = IntakeResult(report=report)
    unique: dict[str, tuple[int, str, NormalisedUrl]] = {}
    canonical: dict[str, str] = {}
    repeated: list[tuple[int, str, str]] = []
    for index, raw in enumerate(urls, start=first_index):
        if not isinstance(raw, str):
            result.rejected.append(RejectedUrl(index, repr(raw)[:200], "not_a_string", "a URL must be a string"))
            continue
        try:
            norm = normalise_url(raw)
        except UrlRejected as exc:
            # Echoed to the sender (and kept for an Idempotency-Key's replay): without credentials.
            result.rejected.append(RejectedUrl(index, url_without_credentials(raw)[:4200], exc.code, exc.reason))
            continue
        # From here on the URL is the one as typed, less any user name and password: credentials
        # are never stored (the case and the link keep only the fact that there were some).
        raw = url_without_credentials(raw)
        if norm.sha256 in canonical:
            repeated.append((index, raw, norm.sha256))
        else:
            canonical[norm.sha256] = norm.canonical
            unique[norm.sha256] = (index, raw, norm)

    with transaction.atomic():
        rows: dict[str, tuple[int, bool]] = {}
        if report.url_count:
            # A later chunk of a streamed report: cases it linked already are repeats, not new reports.
            linked = ReportedUrl.objects.filter(report=report, case__url_sha256__in=list(unique))
            for case_id, sha in linked.values_list("case_id", "case__url_sha256"):
                index, raw, _ = unique.pop(sha)
                repeated.append((index, raw, sha))
                rows[sha] = (case_id, False)
        rows |= bulk.cases_upsert([(raw, norm) for _, raw, norm in unique.values()], at=report.received_at)
        new_ids = []
        links = []
        events = []
        actor = _reporter_actor(report)
        for sha, (index, raw, norm) in unique.items():
            case_id, is_new = rows[sha]
            result.accepted.append(AcceptedUrl(index, raw, case_id, norm.canonical, duplicate=not is_new))
            links.append(
                ReportedUrl(
                    report=report,
                    case_id=case_id,
                    original_url=raw,
                    had_credentials=norm.had_credentials,
                    duplicate=not is_new,
                )
            )
            events.append(
                event_new(
                    case=case_id,
                    kind=EventKind.REPORTED,
                    actor=actor,
                    at=report.received_at,
                    data={"report": report.reference, "channel": report.channel, "new": is_new},
                )
            )
            if is_new:
                new_ids.append(case_id)
        for index, raw, sha in repeated:
            case_id, _ = rows[sha]
            result.accepted.append(AcceptedUrl(index, raw, case_id, canonical[sha], duplicate=True))
        bulk.links_insert(links)
        events_append(events)
        Report.objects.filter(pk=report.pk).update(
            url_count=F("url_count") + len(result.accepted), rejected_count=F("rejected_count") + len(result.rejected)
        )
        if report.urgent and result.accepted:
            Case.objects.filter(pk__in=[a.case_id for a in result.accepted], urgent=False).update(urgent=True)
        if new_ids:
            # The sweep (`sweep_overdue`) queues them if the broker is down now.
            enqueue_on_commit(
                partial(cases_created.send, sender=Case, case_ids=new_ids),
                what=f"cases_enqueue_resolution of {len(new_ids)}",
            )
    result.accepted.sort(key=lambda a: a.index)
    report.url_count += len(result.accepted)
    report.rejected_count += len(result.rejected)
    return result


def _reporter_actor(report: Report) -> Actor:
    if report.partner_id:
        return Actor(ActorType.PARTNER, partner=report.partner)
    if report.channel == Channel.BULK_IMPORT:
        return Actor.system()
    return Actor(ActorType.REPORTER)


def report_acknowledge(*, report: Report) -> bool:
    """Email the reporter that their report arrived, with its reference; at most once per report.

    The message names the reference and how many URLs were received, never the URLs themselves:
    anyone can type any address into the public form, and scart must not become a way to send a
    list of abuse URLs to a third party. Returns True if a message was sent now. A permanent
    refusal is recorded in ``acknowledgement_error``; a temporary failure is raised for the task
    to retry.
    """
    if not report.reporter_email:
        return False
    claimed = Report.objects.filter(pk=report.pk, acknowledged_at__isnull=True, acknowledgement_error="").update(
        acknowledged_at=timezone.now()
    )
    if not claimed:
        return False
    context = {"report": report, "hotline_name": settings.SCART_HOTLINE_NAME}
    try:
        EmailMessage(
            subject=f"[{settings.SCART_HOTLINE_NAME}] Your report {report.reference}",
            body=render_to_string("reports/email/acknowledgement.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[report.reporter_email],
            headers={"Message-ID": new_message_id(kind="acknowledgement")},
        ).send()
    except Exception as exc:
        if mail_failure_is_permanent(exc):
            # A 5xx (no such mailbox, say) will be a 5xx next time too: recorded, never retried.
            error = mail_failure_text(exc)[:500]
            Report.objects.filter(pk=report.pk).update(acknowledged_at=None, acknowledgement_error=error)
            log.warning("acknowledgement of report %s refused for good: %s", report.reference, error)
            return False
        # Temporary (4xx, no connection, a timeout): release the claim and let the task retry.
        Report.objects.filter(pk=report.pk).update(acknowledged_at=None)
        raise
    return True


def sweep_overdue(*, now: datetime | None = None, limit: int = 10_000) -> int:
    """Enqueue resolution again for cases whose resolution is overdue by more than the grace period.

    Queue messages can be lost (a broker restart, a purge); the database is the truth about what
    is still to do. Returns the number of cases enqueued.
    """
    now = now or timezone.now()
    overdue = list(
        Case.objects.filter(resolve_due_at__lt=now - settings.SCART_SWEEP_GRACE)
        .order_by("resolve_due_at")
        .values_list("id", flat=True)[:limit]
    )
    if overdue:
        cases_resolution_due.send(sender=Case, case_ids=overdue)
    return len(overdue)


def sweep_abandoned(*, now: datetime | None = None, limit: int = 10_000) -> int:
    """Enqueue resolution again for cases a dead worker held: claimed (``Case.resolve_claim``), and
    the claim's lease ran out. A live worker renews its lease while it works, so these need no
    grace period; the cases are resolved again within about a lease and a sweep interval.
    Returns the number of cases enqueued."""
    now = now or timezone.now()
    abandoned = list(
        Case.objects.filter(resolve_due_at__lt=now)
        .exclude(resolve_claim="")
        .order_by("resolve_due_at")
        .values_list("id", flat=True)[:limit]
    )
    if abandoned:
        log.warning("resolving %d cases again whose worker stopped while resolving them", len(abandoned))
        cases_resolution_due.send(sender=Case, case_ids=abandoned)
    return len(abandoned)
