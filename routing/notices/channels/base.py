"""The transport interface: how the parts of one notice reach its recipient on its channel.

A notice is rendered once, whatever its channel (`Outgoing`: the text, the CSV and the X-ARF
reports of `routing.notices.render.notice_render`, with the items and addresses the sender took).
The recipient's channel (`routing.models.DeliveryChannel`, recorded on the notice when it was
planned) names a `Transport`, which

1. splits the notice into parts (`Transport.parts`): one ``message`` for batched mail, one
   ``case:<id>`` per URL for X-ARF per message, one ``report`` for a provider's API (planning
   already made a provider-API notice hold the URLs of one hostname only, at most
   ``PROVIDER_API_MAX_URLS``);
2. delivers one part (`Transport.deliver`) and says what the recipient's side called it
   (`PartResult`), or raises `TemporaryFailure` (it may succeed later: a timeout, a 4xx answer
   to SMTP, HTTP 429 or 5xx; ``retry_after`` when the other side said when) or `PermanentFailure`
   (it never will: SMTP 5xx, HTTP 4xx other than 408/429; ``flag`` when the recipient's address
   or account is at fault, so the provider's contact is flagged as for a bounce);
3. shows what it would send (`Transport.preview`, the notice page's preview: templates and
   reports are the notice's, rendered once, so the preview is what goes out);
4. optionally tells the recipient's later word on a part it delivered (`Transport.poll`, for a
   provider API's report status).

The caller (`routing.notices.channels.deliver`) does everything else, the same for every
channel: it keeps one `NoticeDelivery` row per part (unique per notice and part key, its
Message-ID given once when the row is made), claims each part and writes it ``sending`` before
the attempt (`routing.notices.channels.parts.delivery_transition`), records ``sent`` with the
result's ``external_id`` after it, never attempts a part that is ``sent``, ``unknown`` or
``by_hand``, stops at the first failure (the parts sent stay sent; the notice is queued again, or
failed), and marks the notice sent once every part is. A transport never writes a row, a state,
an event or an audit entry, and keeps nothing a later run needs in memory: what it must remember
(the report id) it returns.

Transports are registered per channel (`routing.notices.channels.registry.transport_register`)
and opened once per sending run (`Transports`), so a mail transport reuses one SMTP connection
for every message of the run; `close` ends what it opened.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar, Protocol

from routing.models import Notice, NoticeDelivery, PartnerHotline, Provider
from routing.notices.channels.shown import PartPreview
from routing.notices.delivery import PermanentFailure, TemporaryFailure
from routing.notices.render import Item, Rendered

__all__ = [
    "Outgoing",
    "Part",
    "PartPreview",
    "PartResult",
    "PartStatus",
    "PermanentFailure",
    "TemporaryFailure",
    "Transport",
]


@dataclass(frozen=True)
class Part:
    """One delivery of a notice: a message, or a report to an API."""

    key: str  # stable within the notice: ``message``, ``case:<id>``, ``report``
    items: tuple[Item, ...]  # the URLs it carries
    case_id: int | None = None  # the case, for a channel with one part per case
    position: int = 0  # order within the notice (parts go out in this order)


@dataclass(frozen=True)
class Outgoing:
    """A notice rendered once, as every channel delivers it (see the module)."""

    notice: Notice
    rendered: Rendered
    items: tuple[Item, ...]
    emails: tuple[str, ...]
    provider: Provider | None = None  # the recipient's provider (its channel settings, credentials)
    hotline: PartnerHotline | None = None
    # The provider's confirmation link as the message carries it ("" when none).
    link: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def xarf(self, item: Item) -> dict[str, Any]:
        """The X-ARF report of one item, as rendered (and validated) with the notice."""
        report: dict[str, Any] = json.loads(self.xarf_text(item))
        return report

    def xarf_text(self, item: Item) -> str:
        """The X-ARF report of one item as the batched message attaches it."""
        position = self.items.index(item) + 1
        filename = f"{self.notice.reference}-{position:03d}.xarf.json"
        for name, content, _mimetype in self.rendered.attachments:
            if name == filename:
                return content
        raise KeyError(filename)

    def urls(self, items: Sequence[Item] | None = None) -> list[str]:
        return [item.url for item in (self.items if items is None else items)]


@dataclass(frozen=True)
class PartResult:
    """What a transport says about a part it delivered."""

    external_id: str = ""  # the recipient's id for it (a provider API's report id)
    status: str = ""  # the recipient's first word on it, if it gave one
    # Nothing was sent: the part waits for a person (the manual channel).
    by_hand: bool = False


@dataclass(frozen=True)
class PartStatus:
    """The recipient's later word on a delivered part (a provider API's report status)."""

    status: str
    final: bool = False  # no need to ask again


class Transport(Protocol):
    """Delivers the parts of notices on one channel (see the module for the contract)."""

    channel: ClassVar[str]

    def parts(self, outgoing: Outgoing) -> list[Part]:
        """How this notice splits into parts; the same notice always gives the same keys."""
        ...

    def deliver(self, outgoing: Outgoing, part: Part, delivery: NoticeDelivery) -> PartResult:
        """Send one part. ``delivery`` is its row, already written ``sending`` (its
        ``message_id``, ``attempts`` and ``external_id`` of an earlier attempt are there to
        read; a transport never writes it). Raises `TemporaryFailure` or `PermanentFailure`."""
        ...

    def preview(self, outgoing: Outgoing, part: Part, *, message_id: str) -> PartPreview:
        """What ``deliver`` would send for this part, for a person to read (the notice page):
        a message's headers, text and attachments, or an API request's fields and body, never
        credentials. ``message_id`` is the part's, or a placeholder before it has one."""
        ...

    def poll(self, delivery: NoticeDelivery) -> PartStatus | None:
        """The recipient's current word on a part delivered with an ``external_id``; None when
        this channel has nothing to ask. Raises `TemporaryFailure` when it cannot tell now."""
        ...

    def close(self) -> None:
        """End what the transport opened (a connection), at the end of a sending run."""
        ...


def retry_after_of(exc: TemporaryFailure) -> timedelta | None:
    """The delay the other side asked for (HTTP ``Retry-After``), if any."""
    return getattr(exc, "retry_after", None)


class UncertainFailure(Exception):
    """The attempt may or may not have reached the recipient (a request went out and no usable
    answer came back): the part and the notice become ``unknown`` for a person, as after a sender
    that died mid-attempt, and nothing resends it by itself."""
