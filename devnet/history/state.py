"""What the phases of the history share: one `SeedState` per run, handed to each phase's
functions (`world`, `intake`, `assessment`, `cycles`, `removal`, `notices`, `timeline`)."""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings

from devnet.history.cleanup import demo_case_filter
from devnet.history.constants import POLICE_PLACEHOLDER
from devnet.history.records import NoticeInfo, ProviderInfo
from devnet.history.tables import TABLE_ORDER, Ids, Rows, Writer
from reports.assessment import Classification
from reports.models import Case
from routing.notices.render import notice_language

T = TypeVar("T")


@dataclass
class SeedSummary:
    cases: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, name: str, count: int) -> None:
        self.rows[name] = self.rows.get(name, 0) + count


class SeedState:
    """One run: its single random source (every phase draws from it, in the order the cases are
    made, which is what makes a seed reproducible), the settings read once, the world, and the
    rows of the chunk being made."""

    def __init__(self, *, cases: int, seed: int, anchor: datetime, days: int, use_copy: bool) -> None:
        self.total = cases
        self.rng = random.Random(seed)
        # Arithmetic in UTC (an hour is an hour across DST changes); local time only for office hours.
        self.anchor = anchor.astimezone(UTC)
        # The last report is a few minutes before the anchor: every case is resolved by then.
        self.end = self.anchor - timedelta(minutes=5)
        self.start = self.end - timedelta(days=days)
        self.zone = ZoneInfo(settings.TIME_ZONE)
        self.home = settings.SCART_HOTLINE_COUNTRY
        self.writer = Writer(use_copy=use_copy)
        self.ids = Ids()
        self.summary = SeedSummary()
        self.rows: Rows = {t: [] for t in TABLE_ORDER}
        self.notices: dict[tuple[str, datetime], NoticeInfo] = {}
        self.new_notices: list[NoticeInfo] = []
        self.report_refs: set[str] = set()
        self.kept = set(Case.objects.filter(demo_case_filter()).values_list("canonical_url", flat=True))
        self.window = timedelta(minutes=settings.SCART_NOTICE_WINDOW_MINUTES)
        self.reminder_every = timedelta(hours=settings.SCART_REMINDER_HOURS)
        self.reminder_max = settings.SCART_REMINDER_MAX
        self.ladder = [s.strip() for s in settings.SCART_ESCALATION_LADDER if s.strip()]
        self.removal_checks = max(1, settings.SCART_REMOVAL_CHECKS)
        self.spacing = timedelta(minutes=settings.SCART_REMOVAL_SPACING_MINUTES)
        self.unreachable_close = timedelta(hours=settings.SCART_UNREACHABLE_CLOSE_HOURS)
        self.reappearance_days = sorted(int(d) for d in settings.SCART_REAPPEARANCE_CHECK_DAYS if str(d).strip())
        self.check_fast = timedelta(minutes=settings.SCART_CHECK_INTERVAL_MINUTES)
        self.check_slow = timedelta(hours=settings.SCART_CHECK_SLOW_INTERVAL_HOURS)
        self.slow_after = timedelta(days=settings.SCART_CHECK_SLOW_AFTER_DAYS)
        self.police_emails = [settings.SCART_POLICE_EMAIL or POLICE_PLACEHOLDER]
        self.police_name = settings.SCART_POLICE_NAME
        self.police_language = notice_language(settings.SCART_POLICE_LANGUAGE)
        self.classifications: dict[tuple[Any, ...], tuple[Classification, str]] = {}
        self.working_days: dict[date, bool] = {}
        self.latest_report = self.start
        self.analysts: list[int] = []
        self.seniors: list[int] = []
        self.partners: list[tuple[int, float, bool]] = []
        self.providers: list[ProviderInfo] = []
        self.provider_weights: list[float] = []  # cumulative
        self.channels: list[str] = []
        self.hourly: list[list[float]] = []
        self.cumulative: list[float] = []


def pick(rng: random.Random, population: Sequence[T], cumulative: Sequence[float]) -> T:
    """`random.choices` for one item, with cumulative weights made once (it sums them each call)."""
    return population[bisect.bisect(cumulative, rng.random() * cumulative[-1], 0, len(population) - 1)]
