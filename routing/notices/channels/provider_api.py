"""The provider API channel: a notice becomes one report to the provider's abuse-reports API
(`routing.notices.abuseapi`, shaped like Cloudflare's ``act=abuse_children``).

Planning already gave a provider-API notice the URLs of one hostname, at most
``PROVIDER_API_MAX_URLS``: the notice is one part, ``report``. The provider's settings (base URL,
account, sealed token, whom the API tells) are a senior's (`routing.notices.api_settings`).

What a failure means for the part:

- transient (connection refused, 429 with its ``Retry-After``, 500, 503): `TemporaryFailure`,
  the notice is queued again, no later than the API asked;
- permanent (400 and other 4xx, 401/403 bad credentials): `PermanentFailure`; the credentials'
  refusal flags the provider (its account is at fault), a refused report only fails the notice;
- uncertain (the request went out and no usable answer came: a read timeout, a connection closed
  mid-answer, a gateway's 502/504): the API has no idempotency key, so the part is never resent
  blindly. The transport first lists the account's reports on that hostname since the part was
  made: exactly one it does not know already is taken as this part's (its id recorded, the part
  sent); otherwise `UncertainFailure`: the part and the notice become ``unknown`` for a senior,
  as after a sender that died mid-attempt. A part attempted again (a senior sent an unknown
  notice again) looks the same way before it submits, so a report that did land is not sent twice.

The residual risk (docs/notices.md): a report that lands after the look (the API still
processing it), or two reports on one hostname in the same minutes, may leave a person to judge; a
report is duplicated only if a senior resends a notice whose report landed unseen.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import ClassVar

from django.conf import settings

from reports.models import AiGenerated
from routing.models import DeliveryChannel, NoticeDelivery, Provider
from routing.notices.abuseapi import (
    MAX_URLS,
    AbuseApiClient,
    ApiFailure,
    Credentials,
    ReportStatus,
    Submission,
    hostname,
)
from routing.notices.channels.base import (
    Outgoing,
    Part,
    PartResult,
    PartStatus,
    PermanentFailure,
    TemporaryFailure,
    UncertainFailure,
)
from routing.notices.channels.registry import transport_register
from routing.notices.channels.shown import PartPreview

log = logging.getLogger(__name__)

# The API's clock and ours may differ: a look for a report that landed starts this much earlier.
CLOCK_SKEW = timedelta(minutes=2)


@transport_register(DeliveryChannel.PROVIDER_API)
class ProviderApiTransport:
    """One client per account, kept for the sending run."""

    channel: ClassVar[str] = DeliveryChannel.PROVIDER_API

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str, str], AbuseApiClient] = {}

    # -- the interface ------------------------------------------------------------------------

    def parts(self, outgoing: Outgoing) -> list[Part]:
        urls = outgoing.urls()
        if len(urls) > MAX_URLS or len({hostname(u) for u in urls}) > 1:
            raise PermanentFailure(
                f"a report to an abuse API takes at most {MAX_URLS} URLs on one hostname; this notice has "
                f"{len(urls)} on {len({hostname(u) for u in urls})}",
                flag=False,
            )
        return [Part(key="report", items=outgoing.items)]

    def deliver(self, outgoing: Outgoing, part: Part, delivery: NoticeDelivery) -> PartResult:
        client = self._client(outgoing.provider)
        urls = outgoing.urls(part.items)
        host = hostname(urls[0]) if urls else ""
        if delivery.attempts > 1:
            # Attempted before: a report that landed unseen is this part's, not a reason to send twice.
            found = self._landed(client, host, delivery, count=len(urls), strict=False)
            if found is not None:
                log.warning(
                    "notice %s: its earlier report %s had landed; not sent again", outgoing.notice.reference, found.id
                )
                return PartResult(external_id=found.id, status=found.status)
        submission = _submission(outgoing, part)
        try:
            report_id = client.submit(submission)
        except ApiFailure as exc:
            if exc.transient:
                wait = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
                raise TemporaryFailure(str(exc), retry_after=wait) from None
            if exc.permanent:
                raise PermanentFailure(str(exc), flag=exc.credentials) from None
            found = self._landed(client, host, delivery, count=len(urls), strict=True)
            if found is not None:
                log.warning("notice %s: %s, but its report %s landed", outgoing.notice.reference, exc, found.id)
                return PartResult(external_id=found.id, status=found.status)
            raise UncertainFailure(
                f"{exc}; the report may or may not have landed (none found on {host} yet): "
                "check with the provider before sending again"
            ) from None
        return PartResult(external_id=report_id, status="submitted")

    def preview(self, outgoing: Outgoing, part: Part, *, message_id: str) -> PartPreview:
        """The request `deliver` would make: where to, and its JSON body; the token never."""
        provider = outgoing.provider
        submission = _submission(outgoing, part)
        base = (provider.api_base_url if provider is not None else "") or "(no API base URL set)"
        account = (provider.api_account if provider is not None else "") or "(no account set)"
        headers = (
            ("Request", f"POST {base.rstrip('/')}/accounts/{account}/abuse-reports/{submission.report_type}"),
            ("Authorization", "Bearer (the stored token, not shown)"),
            ("Content-Type", "application/json"),
        )
        body = json.dumps(submission.body(), indent=2, ensure_ascii=False)
        return PartPreview(
            headers=headers,
            body=body,
            attachments=(),
            title=f"report on {hostname(submission.urls[0])}" if submission.urls else "",
        )

    def poll(self, delivery: NoticeDelivery) -> PartStatus | None:
        if not delivery.external_id:
            return None
        provider = delivery.notice.provider
        try:
            found = self._client(provider).report(delivery.external_id)
        except PermanentFailure:
            raise TemporaryFailure("the provider's abuse API settings are missing") from None
        except ApiFailure as exc:
            if exc.status == 404:
                return PartStatus(status="not known to the API", final=True)
            raise TemporaryFailure(str(exc)) from None
        return PartStatus(status=status_text(found), final=found.final)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    # -- helpers ------------------------------------------------------------------------------

    def _client(self, provider: Provider | None) -> AbuseApiClient:
        if provider is None or not provider.api_configured:
            name = provider.name if provider is not None else "the recipient"
            raise PermanentFailure(f"{name} has no abuse API settings (base URL, account, token)", flag=False)
        key = (provider.api_base_url, provider.api_account, provider.api_token)
        if key not in self._clients:
            try:
                self._clients[key] = AbuseApiClient(
                    Credentials(provider.api_base_url, provider.api_account, provider.api_token),
                    timeout=settings.SCART_PROVIDER_API_TIMEOUT,
                    connect_timeout=settings.SCART_PROVIDER_API_CONNECT_TIMEOUT,
                    allow_loopback=settings.SCART_PROVIDER_API_ALLOW_LOOPBACK,
                    user_agent=f"scart ({settings.SCART_HOTLINE_NAME})",
                )
            except ApiFailure as exc:
                raise PermanentFailure(f"{provider.name}'s abuse API base URL: {exc}", flag=False) from None
        return self._clients[key]

    def _landed(
        self, client: AbuseApiClient, host: str, delivery: NoticeDelivery, *, count: int, strict: bool
    ) -> ReportStatus | None:
        """The one report on ``host`` with ``count`` URLs since this part was made that no other
        part claims, if exactly one. ``strict``: a failure to look is an `UncertainFailure` (after an uncertain
        attempt); otherwise `TemporaryFailure` (before a new one: try again later)."""
        since: datetime = delivery.created_at - CLOCK_SKEW
        try:
            reports = client.find(host, since=since)
        except ApiFailure as exc:
            if strict:
                raise UncertainFailure(
                    f"the report may or may not have landed, and the API cannot tell now: {exc}"
                ) from None
            if exc.permanent:
                raise PermanentFailure(str(exc), flag=exc.credentials) from None
            wait = timedelta(seconds=exc.retry_after) if exc.retry_after is not None else None
            raise TemporaryFailure(
                f"cannot look for an earlier report before sending again: {exc}", retry_after=wait
            ) from None
        known = set(
            NoticeDelivery.objects.filter(channel=DeliveryChannel.PROVIDER_API, external_id__in=[r.id for r in reports])
            .exclude(pk=delivery.pk)
            .values_list("external_id", flat=True)
        )
        candidates = [
            r
            for r in reports
            if r.id
            and r.id not in known
            and r.domain.lower() in ("", host)
            and r.url_count in (None, count)  # where the API says how many URLs a report has
        ]
        if len(candidates) > 1:
            raise UncertainFailure(
                f"{len(candidates)} reports on {host} since this part was made: a person decides which is this one"
            )
        return candidates[0] if len(candidates) == 1 else None


def _submission(outgoing: Outgoing, part: Part) -> Submission:
    provider = outgoing.provider
    return Submission(
        urls=tuple(outgoing.urls(part.items)),
        email=settings.SCART_NOTICE_REPLY_TO,
        name=settings.SCART_HOTLINE_NAME,
        justification=justification(outgoing, part),
        host_notification=provider.api_host_notification if provider is not None else "send",
        owner_notification=provider.api_owner_notification if provider is not None else "none",
    )


def justification(outgoing: Outgoing, part: Part) -> str:
    """What the report says of itself: what was found, by whom, and the notice's reference. Only
    metadata: never content."""
    notice = outgoing.notice
    ai = [
        i
        for i in part.items
        if i.assessment is not None and i.assessment.ai_generated in (AiGenerated.YES, AiGenerated.SUSPECTED)
    ]
    lines = [
        f"Child sexual abuse material (CSAM) at the {len(part.items)} URL(s) listed, assessed as illegal by "
        f"{settings.SCART_HOTLINE_NAME}, a hotline for reports of child sexual abuse material.",
        f"Our reference: {notice.reference}. Please remove the material and preserve evidence for law enforcement.",
    ]
    if ai:
        lines.append(
            f"{len(ai)} of these URL(s) show material assessed as (possibly) AI-generated; it is illegal all the same."
        )
    if settings.SCART_HOTLINE_WEBSITE:
        lines.append(f"About us: {settings.SCART_HOTLINE_WEBSITE}")
    return "\n".join(lines)


def status_text(found: ReportStatus) -> str:
    """The API's word on a report as the notice page shows it, e.g. ``denied: content_removed``."""
    return f"{found.status}: {found.denial_reason}" if found.denial_reason else found.status
