"""What the seeder keeps of the world and of each case while it makes their rows: plain
dataclasses, much lighter than model instances. Named ``*Info`` where a model has the plain name."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reports.models import CaseState


@dataclass(slots=True)
class HotlineInfo:
    id: int
    name: str
    email: str
    language: str


@dataclass(slots=True, eq=False)
class ProviderInfo:
    rank: int
    name: str
    country: str
    route: str  # "own", "partner" or "elsewhere"
    asn: int
    cidr: str
    registry: str
    handle: str
    language: str
    speed_hours: float  # median time from notice to removal
    never: float  # share of its cases that stay online
    responds: bool  # confirms removals through the notice link
    weight: float
    hotline: HotlineInfo | None = None
    id: int = 0
    emails: list[str] = field(default_factory=list)
    sites: list[SiteInfo] = field(default_factory=list)
    site_weights: list[float] = field(default_factory=list)  # cumulative
    routed: str = ""
    routed_police_first: str = ""
    routed_released: str = ""


@dataclass(slots=True, eq=False)
class SiteInfo:
    host: str
    provider: ProviderInfo
    ip: str
    dedicated: bool
    resolution: str = ""
    resolved: str = ""


class LazyJson:
    """A JSON value that can only be written once its notice has a reference (see `NoticeInfo`)."""

    def json(self) -> str:
        raise NotImplementedError


@dataclass(slots=True, eq=False)
class NoticeInfo:
    """A notice as planned: one recipient and kind, one batch. Rows point at it by id; its
    reference is given when its chunk is written (`devnet.history.notices.number_notices`)."""

    id: int
    kind: str
    recipient_kind: str
    recipient_name: str
    batch_key: str
    emails: list[str]
    language: str
    provider_id: int | None
    hotline_id: int | None
    step: int
    urgent: bool
    created_at: datetime
    due_at: datetime
    sent_at: datetime
    reference: str = ""
    _sent_json: str = ""

    def sent_json(self) -> str:
        """The ``notice_sent`` event's data (`routing.notices.recording.notice_record_sent`)."""
        if not self._sent_json:
            self._sent_json = json.dumps(
                {
                    "notice": self.reference,
                    "kind": self.kind,
                    "step": self.step,
                    "recipient": self.recipient_name,
                    "recipient_kind": self.recipient_kind,
                    "emails": self.emails,
                }
            )
        return self._sent_json


class SentData(LazyJson):
    __slots__ = ("notice",)

    def __init__(self, notice: NoticeInfo) -> None:
        self.notice = notice

    def json(self) -> str:
        return self.notice.sent_json()


@dataclass(slots=True)
class NoticePlan:
    """A notice a case is due to be in: who, which batch, and when it goes out."""

    kind: str
    key: str  # the batch key
    step: int
    when: datetime  # the batch's identity: its window's end, or the minute it is due
    added_at: datetime
    sent_at: datetime
    hosting: bool = False
    urgent: bool = False


@dataclass(slots=True)
class ReportInfo:
    id: int
    reference: str
    channel: str
    partner_id: int | None
    at: datetime
    urgent: bool


@dataclass(slots=True, eq=False)
class CaseInfo:
    """A case as its timeline is made; the fields of its row as of the anchor."""

    id: int
    site: SiteInfo
    first_reported_at: datetime
    url: str = ""
    events: list[tuple[datetime, str, str, int | None, int | None, Any]] = field(default_factory=list)
    state: str = CaseState.NEW
    state_changed_at: datetime | None = None
    last_reported_at: datetime = field(init=False)
    report_count: int = 1
    resolved_at: datetime | None = None
    verdict: str = ""
    assessed_at: datetime | None = None
    assessment: int | None = None
    police_first: bool = False
    urgent: bool = False
    referred: bool = False
    last_seen_online_at: datetime | None = None
    gone_since: datetime | None = None
    gone_count: int = 0
    last_gone_at: datetime | None = None
    unreachable_since: datetime | None = None
    removed_at: datetime | None = None
    removal_kind: str = ""
    reappearance_checks: int = 0
    cycle_started_at: datetime | None = None

    def __post_init__(self) -> None:
        self.last_reported_at = self.first_reported_at
        self.state_changed_at = self.first_reported_at
