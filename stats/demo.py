"""A synthetic takedown history on reserved example domains: the demo data of the statistics
dashboard and the data set of its benchmark (``python manage.py seed_demo``).

`demo_seed` lays ``cases`` cases out over the ``days`` before an anchor moment and gives each the
timeline the live system would have written: reports through the four intake channels, resolution,
a verdict some working hours later, routing by jurisdiction (own country: a notice to the
provider; a partner hotline's country: a referral; elsewhere: a notice to the provider and a
report to the police), batched notices with ``SCART-YYYYMMDD-NNNNNN`` references, reminders and
escalation for slow providers, the availability checks that decided something, removal (mostly
within days, a long tail over weeks, some never; some before any notice, some after 72 hours
unreachable), and a few reappearances with a new notice cycle. Events carry the kinds and ``data``
of the code that writes them live (`reports.services`, `reports.assessment`, `routing.services`,
`routing.jurisdiction`, `routing.notices.sending`, `routing.checks.tracking`).

The same ``seed``, ``cases``, ``days`` and anchor give the same cases, URLs and timestamps (ids and
notice numbers depend on what the database holds already). Nothing is read from the clock but the
default anchor, the start of today in ``TIME_ZONE``.

Demo data is recognisable, and `demo_delete` removes it and nothing else: cases on hosts under
``.seed-demo.example.com|net|org`` (named by no other report), reports whose ``external_ref``
starts with ``seed-demo-`` (from no partner or a demo one, naming only demo cases), notices whose Message-ID ends in ``.notice@seed-demo.example>``,
providers whose key starts with ``seed-demo:``, the partners of `PARTNERS` and the users named
``seed-demo-*`` (inactive, without a password), each only while nothing else refers to it.

Where the demo differs from a live system, on purpose:

- open cases have nothing scheduled (``check_due_at``, ``notice_plan_at`` and ``ladder_due_at`` are
  empty), so a running worker neither checks the reserved hosts nor sends reminders about them, and
  a notice that would still be queued at the anchor is not made (its cases wait, illegal);
- a case whose content went while it waited in a notice's batch window is left out of that notice
  (the live planner adds it and takes it out again);
- referrals and police reports go to the partner hotline's address or ``SCART_POLICE_EMAIL`` when
  set, else to placeholders on ``.example``: the seeded partner hotlines have no address yet;
- of the availability checks only those that decided something are stored (the last online one,
  the gone or unreachable run, the reappearance checks), not every hourly one in between.

Rows are written in chunks, one transaction each: with ``COPY`` on PostgreSQL (`bulk_create` takes
four times as long there; ``--no-copy`` uses it) and with `bulk_create` elsewhere. Primary keys are taken before the rows are written, so that rows can point at each
other: from the table's sequence on PostgreSQL, after the largest id inside the chunk's
transaction (which holds SQLite's write lock) elsewhere.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import queue
import random
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from reports.assessment import VERDICT_FIELDS, Classification
from reports.models import (
    ActorType,
    Assessment,
    Case,
    CaseState,
    Channel,
    Event,
    EventKind,
    Partner,
    RemovalKind,
    Report,
    ReportedUrl,
    Verdict,
)
from routing.jurisdiction import Hold, Recipient, RecipientKind, Route
from routing.models import (
    AvailabilityCheck,
    CheckOutcome,
    DomainRule,
    Notice,
    NoticeCase,
    NoticeCounter,
    NoticeKind,
    NoticeState,
    PartnerHotline,
    Provider,
)
from routing.notices.calendar import is_working_day, next_working_moment
from routing.notices.render import notice_language

T = TypeVar("T")
MARK = "seed-demo"
HOST_SUFFIXES = tuple(f".{MARK}.example.{tld}" for tld in ("com", "net", "org"))
PROVIDER_KEY_PREFIX = f"{MARK}:"
REPORT_REF_PREFIX = f"{MARK}-"
USER_PREFIX = f"{MARK}-"
MESSAGE_ID_SUFFIX = f".notice@{MARK}.example>"
# API partners: (name, share of the API reports, sends its own classification).
PARTNERS = [
    ("Partner hotline exchange (demo)", 0.45, True),
    ("Crawler alliance (demo)", 0.30, False),
    ("Platform trust and safety feed (demo)", 0.15, False),
    ("Research crawler (demo)", 0.10, False),
]
POLICE_PLACEHOLDER = "reports@police.example"
MAX_CASES = 10_000_000
# Cases per chunk (one transaction): short enough on SQLite for other writers not to wait long.
CHUNK_CASES = {"postgresql": 10_000, "sqlite": 1_000}

# URL shares of the intake channels, the mean number of URLs a report names, and how likely a
# report's URLs all come from one site.
CHANNELS: dict[str, tuple[float, float, float]] = {
    Channel.API: (0.50, 4.0, 0.6),
    Channel.BULK_IMPORT: (0.20, 30.0, 0.5),
    Channel.WEB_FORM: (0.15, 1.2, 0.9),
    Channel.MAILBOX: (0.15, 2.5, 0.7),
}
# Share of illegal verdicts by channel (a site that exists for such material raises it).
ILLEGAL_SHARE: dict[str, float] = {
    Channel.API: 0.72,
    Channel.BULK_IMPORT: 0.62,
    Channel.MAILBOX: 0.45,
    Channel.WEB_FORM: 0.28,
}
# Partner-hotline countries the big hosting countries are, by weight; the rest weigh 1.
PARTNER_WEIGHTS = {"US": 30, "DE": 20, "FR": 8, "GB": 8, "CA": 6, "SE": 3, "PL": 3, "CZ": 3, "RO": 3, "BG": 3}
OTHER_WEIGHTS = {"RU": 20, "HK": 15, "UA": 10, "SG": 10, "MD": 8, "TR": 8, "VN": 6, "PA": 5, "SC": 5, "BZ": 3}
OTHER_WEIGHTS |= {"KZ": 3, "MY": 3, "IN": 3, "ID": 3, "AR": 2, "CL": 2, "MX": 2, "RS": 2, "AE": 2, "TH": 2}
REGISTRY = {cc: "arin" for cc in ("US", "CA")}
REGISTRY |= {cc: "lacnic" for cc in ("BR", "CO", "AR", "CL", "MX", "PA", "BZ")}
REGISTRY |= {cc: "afrinic" for cc in ("ZA", "SC")}
REGISTRY |= {cc: "apnic" for cc in ("JP", "KR", "TW", "AU", "NZ", "HK", "SG", "VN", "MY", "IN", "ID", "TH")}
LEGAL_FORM = {"NL": "B.V.", "DE": "GmbH", "AT": "GmbH", "FR": "SAS", "GB": "Ltd", "US": "LLC", "CA": "Inc."}
SYLLABLES = ["kor", "val", "mer", "dan", "tel", "sor", "bri", "quel", "nor", "zan", "fen", "lum", "tor", "vex"]
SYLLABLES += ["ral", "pin", "gal", "dor", "sel", "mar", "ost", "kri", "bel", "tam", "ves", "orm", "lin", "dra"]
ENDINGS = ["ix", "a", "on", "eo", "ara", "ium", "ent", "ora", "ex", "is", "et", "ano"]
TRADES = ["Hosting", "Cloud", "Networks", "Data", "Servers", "Internet", "Datacenter", "Web Services", "Telecom"]
SITE_WORDS = ["img", "pic", "share", "file", "gallery", "media", "upload", "box", "vault", "drop", "board", "snap"]
SITE_WORDS += ["store", "host", "cloud", "stash", "post", "hub", "zone", "space", "deck", "nest", "port", "base"]
ANALYST_HOURS = (8, 18)
NOT_ILLEGAL_REASONS = [("adult", 50), ("nudity", 15), ("child_non_sexual", 15), ("virtual_legal", 5), ("other", 15)]
MEDIA = ["image", "video", "page", "other"]
MEDIA_WEIGHTS = list(itertools.accumulate([0.55, 0.15, 0.25, 0.05]))
CATEGORIES = ["A1", "A2", "B1", "B2"]
CATEGORY_WEIGHTS = list(itertools.accumulate([22, 18, 27, 33]))
B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
REPORT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def demo_case_filter() -> Q:
    """Cases on the demo's reserved hosts."""
    q = Q()
    for suffix in HOST_SUFFIXES:
        q |= Q(host__endswith=suffix)
    return q


def demo_reports() -> models.QuerySet[Report]:
    """Reports the demo made: its ``external_ref`` prefix (which a partner could also send), from
    no partner or a demo one, naming demo cases only."""
    demo_partners = Partner.objects.filter(name__in=[name for name, _, _ in PARTNERS])
    elsewhere = ReportedUrl.objects.filter(report=OuterRef("pk")).exclude(
        case__in=Case.objects.filter(demo_case_filter())
    )
    return (
        Report.objects.filter(external_ref__startswith=REPORT_REF_PREFIX)
        .filter(Q(partner__isnull=True) | Q(partner__in=demo_partners))
        .exclude(Exists(elsewhere))
    )


def demo_counts() -> dict[str, int]:
    """How many demo rows of each kind exist (all zero: no demo data)."""
    return {
        "cases": Case.objects.filter(demo_case_filter()).count(),
        "reports": demo_reports().count(),
        "providers": Provider.objects.filter(key__startswith=PROVIDER_KEY_PREFIX).count(),
        "partners": Partner.objects.filter(name__in=[name for name, _, _ in PARTNERS]).count(),
        "users": get_user_model().objects.filter(username__startswith=USER_PREFIX).count(),
    }


def default_anchor() -> datetime:
    """The start of today in ``TIME_ZONE``: every run on one day lays the history out alike."""
    return timezone.make_aware(datetime.combine(timezone.localdate(), clock()))


@dataclass
class SeedSummary:
    cases: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, name: str, count: int) -> None:
        self.rows[name] = self.rows.get(name, 0) + count


def demo_seed(
    *,
    cases: int,
    seed: int,
    now: datetime | None = None,
    days: int = 730,
    use_copy: bool = True,
    progress: Callable[[int, int, float], None] | None = None,
) -> SeedSummary:
    """Create the demo history: ``cases`` cases reported over the ``days`` before ``now`` (default:
    `default_anchor`). Does not look for earlier demo data; the caller refuses or deletes first."""
    started = time.monotonic()
    anchor = now or default_anchor()
    seeder = _Seeder(cases=cases, seed=seed, anchor=anchor, days=days, use_copy=use_copy)
    seeder.run(progress=progress, started=started)
    seeder.summary.seconds = time.monotonic() - started
    return seeder.summary


def demo_delete(*, progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Delete the demo data (see the module docstring for how it is recognised) and nothing else.
    Returns the number of rows deleted per model, the cascades included."""
    deleted: dict[str, int] = {}

    def delete(queryset: models.QuerySet[Any], label: str, chunk: int = 5_000) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for start in range(0, len(ids), chunk):
            with transaction.atomic():
                _, per_model = queryset.model._default_manager.filter(pk__in=ids[start : start + chunk]).delete()
            for name, count in per_model.items():
                deleted[name] = deleted.get(name, 0) + count
            if progress:
                progress(label, min(start + chunk, len(ids)))

    delete(demo_reports(), "reports")
    named = ReportedUrl.objects.filter(case=OuterRef("pk"))
    delete(Case.objects.filter(demo_case_filter()).exclude(Exists(named)), "cases")
    delete(
        Notice.objects.filter(message_id__endswith=MESSAGE_ID_SUFFIX).exclude(
            Exists(NoticeCase.objects.filter(notice=OuterRef("pk")))
        ),
        "notices",
    )
    used = (
        Q(Exists(Case.objects.filter(provider=OuterRef("pk"))))
        | Q(Exists(Case.objects.filter(cdn=OuterRef("pk"))))
        | Q(Exists(Case.objects.filter(origin_provider=OuterRef("pk"))))
        | Q(Exists(Notice.objects.filter(provider=OuterRef("pk"))))
        | Q(Exists(DomainRule.objects.filter(provider=OuterRef("pk"))))
    )
    delete(Provider.objects.filter(key__startswith=PROVIDER_KEY_PREFIX).exclude(used), "providers")
    partners = Partner.objects.filter(name__in=[name for name, _, _ in PARTNERS])
    delete(
        partners.exclude(Exists(Report.objects.filter(partner=OuterRef("pk")))).exclude(
            Exists(Event.objects.filter(actor_partner=OuterRef("pk")))
        ),
        "partners",
    )
    for user in get_user_model().objects.filter(username__startswith=USER_PREFIX):
        try:
            with transaction.atomic():
                _, per_model = user.delete()
        except ProtectedError:
            continue  # still named by something that is not demo data
        for name, count in per_model.items():
            deleted[name] = deleted.get(name, 0) + count
    return deleted


# -- writing rows ----------------------------------------------------------------------------------


class _Table:
    """A table the seeder writes: its columns in the order of its row tuples, and which hold JSON."""

    def __init__(self, model: type[models.Model], columns: str, *, json: tuple[str, ...] = ()) -> None:
        self.model = model
        self.name = str(model._meta.db_table)
        self.label = str(model._meta.verbose_name_plural)
        self.columns = tuple(columns.split())
        self.json = tuple(self.columns.index(name) for name in json)


REPORTS = _Table(
    Report,
    "id reference channel partner_id source reporter_email description external_ref hashes classification urgent "
    "received_at url_count rejected_count acknowledged_at",
    json=("hashes", "classification"),
)
CASES = _Table(
    Case,
    "id url_sha256 canonical_url original_url scheme host registrable_domain is_ip unresolvable had_credentials "
    "state state_changed_at first_reported_at last_reported_at report_count resolve_attempts resolution resolved_at "
    "provider_id hosting_country asn contact_confidence contact_check verdict assessed_at urgent "
    "last_seen_online_at gone_since gone_count last_gone_at unreachable_since removed_at removal_kind "
    "reappearance_checks cycle_started_at",
    json=("resolution",),
)
REPORTED_URLS = _Table(ReportedUrl, "report_id case_id original_url duplicate")
ASSESSMENTS = _Table(
    Assessment,
    "id case_id at analyst_id source verdict legal_basis category age_group media_type ai_generated drawn "
    "police_first police_reason not_illegal_reason notes suggestion",
    json=("suggestion",),
)
NOTICES = _Table(
    Notice,
    "id reference kind recipient_kind recipient_name batch_key emails language provider_id hotline_id ask_origin "
    "step urgent state open created_at due_at claim_token sending_since attempts sent_at message_id last_error "
    "link_key_hash",
    json=("emails",),
)
NOTICE_CASES = _Table(
    NoticeCase,
    "notice_id case_id added_at drop_reason response response_reason responded_at dispute_state dispute_note",
)
EVENTS = _Table(Event, "case_id kind at actor_type actor_user_id actor_partner_id data", json=("data",))
CHECKS = _Table(AvailabilityCheck, "case_id at outcome status_code address duration_ms redirect_to reason")
TABLE_ORDER = (REPORTS, CASES, REPORTED_URLS, ASSESSMENTS, NOTICES, NOTICE_CASES, EVENTS, CHECKS)


class _Lazy:
    """A JSON value that can only be written once its notice has a reference (see `_Notice`)."""

    def json(self) -> str:
        raise NotImplementedError


def _json_default(value: Any) -> Any:
    if isinstance(value, _Notice):
        return value.reference
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _json_text(value: Any) -> str:
    """JSON columns hold text already serialised, a `_Lazy` value, or something to serialise."""
    if isinstance(value, str):
        return value
    if isinstance(value, _Lazy):
        return value.json()
    return json.dumps(value, default=_json_default)


class _Writer:
    def __init__(self, *, use_copy: bool) -> None:
        self.copy = use_copy and connection.vendor == "postgresql"

    def write(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.copy:
            self._copy(table, rows)
        else:
            self._bulk(table, rows)

    def _copy(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        sql = f"COPY {table.name} ({', '.join(table.columns)}) FROM STDIN"
        positions = table.json
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            if not positions:
                for row in rows:
                    copy.write_row(row)
                return
            for row in rows:
                values = list(row)
                for p in positions:
                    values[p] = _json_text(values[p])
                copy.write_row(values)

    def _bulk(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        objects = []
        for row in rows:
            values = dict(zip(table.columns, row, strict=True))
            for p in table.json:
                values[table.columns[p]] = json.loads(_json_text(row[p]))
            objects.append(table.model(**values))
        table.model._default_manager.bulk_create(objects, batch_size=500)


class _Ids:
    """Primary keys handed out before their rows are written. PostgreSQL: blocks taken from the
    table's sequence, which never hands them to anyone else. Elsewhere: the numbers after the
    largest in use, read inside the chunk's transaction (on SQLite it holds the write lock)."""

    BLOCK = 10_000

    def __init__(self) -> None:
        self.postgresql = connection.vendor == "postgresql"
        self.free: dict[str, list[int]] = {}
        self.next: dict[str, int] = {}

    def begin_chunk(self) -> None:
        if self.postgresql:
            return
        self.next.clear()

    def take(self, table: _Table) -> int:
        name = table.name
        if self.postgresql:
            free = self.free.setdefault(name, [])
            if not free:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                        [name, self.BLOCK],
                    )
                    free.extend(sorted((row[0] for row in cursor.fetchall()), reverse=True))
            return free.pop()
        if name not in self.next:
            self.next[name] = self._largest(name) + 1
        value = self.next[name]
        self.next[name] = value + 1
        return value

    @staticmethod
    def _largest(name: str) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT MAX(id) FROM {name}")  # noqa: S608 - a table name from model metadata
            largest = cursor.fetchone()[0] or 0
            if connection.vendor == "sqlite":
                cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [name])
                row = cursor.fetchone()
                largest = max(largest, row[0] if row else 0)
        return int(largest)


# -- the world the cases live in -----------------------------------------------------------------


@dataclass(slots=True)
class _Hotline:
    id: int
    name: str
    email: str
    language: str


@dataclass(slots=True, eq=False)
class _Provider:
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
    hotline: _Hotline | None = None
    id: int = 0
    emails: list[str] = field(default_factory=list)
    sites: list[_Site] = field(default_factory=list)
    site_weights: list[float] = field(default_factory=list)  # cumulative
    routed: str = ""
    routed_police_first: str = ""
    routed_released: str = ""


@dataclass(slots=True, eq=False)
class _Site:
    host: str
    provider: _Provider
    ip: str
    dedicated: bool
    resolution: str = ""
    resolved: str = ""


@dataclass(slots=True, eq=False)
class _Notice:
    """A notice as planned: one recipient and kind, one batch. Rows point at it by id; its
    reference is given when its chunk is written (`_number`)."""

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
        """The ``notice_sent`` event's data (`routing.notices.sending._record_sent`)."""
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


class _SentData(_Lazy):
    __slots__ = ("notice",)

    def __init__(self, notice: _Notice) -> None:
        self.notice = notice

    def json(self) -> str:
        return self.notice.sent_json()


@dataclass(slots=True)
class _Plan:
    """A notice a case is due to be in: who, which batch, and when it goes out."""

    kind: str
    key: str  # the batch key
    step: int
    when: datetime  # the batch's identity: its window's end, or the minute it is due
    added_at: datetime
    sent_at: datetime
    hosting: bool = False
    urgent: bool = False


def _ceil(moment: datetime, minutes: int) -> datetime:
    seconds = minutes * 60
    stamp = int(moment.timestamp())
    return datetime.fromtimestamp(-(-stamp // seconds) * seconds, tz=moment.tzinfo)


def _phase(who: str, when: datetime) -> timedelta:
    """The seconds past the minute a sender picks a batch up: a function of the batch alone (of
    its recipient's name, not its id, so that it does not depend on what the database holds)."""
    return timedelta(seconds=3 + zlib.crc32(f"{who}@{when.timestamp():.0f}".encode()) % 40)


class _Seeder:
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
        self.writer = _Writer(use_copy=use_copy)
        self.ids = _Ids()
        self.summary = SeedSummary()
        self.rows: dict[_Table, list[tuple[Any, ...]]] = {t: [] for t in TABLE_ORDER}
        self.notices: dict[tuple[str, datetime], _Notice] = {}
        self.new_notices: list[_Notice] = []
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
        self.providers: list[_Provider] = []
        self.provider_weights: list[float] = []  # cumulative
        self.channels: list[str] = []
        self.hourly: list[list[float]] = []
        self.cumulative: list[float] = []

    # -- set-up --------------------------------------------------------------------------------

    def run(self, *, progress: Callable[[int, int, float], None] | None, started: float) -> None:
        with transaction.atomic():
            self._actors()
            self._world()
        self._intensity()
        done = 0

        def written(count: int) -> None:
            if progress:
                progress(count, self.total, time.monotonic() - started)

        if self.writer.copy and not connection.in_atomic_block:
            # PostgreSQL: the next chunk is made while a thread (with a connection of its own)
            # writes the last one, so that Python and the database work at the same time.
            with _Background(self.writer, self.summary, written) as background:
                while done < self.total:
                    done = self._chunk(done)
                    background.put(self._take(), done)
        else:
            while done < self.total:
                with transaction.atomic():
                    self.ids.begin_chunk()
                    done = self._chunk(done)
                    _write(self.writer, self._take(), self.summary)
                written(done)
        self.summary.cases = done
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            # Fresh planner statistics: queries right after a bulk load (the statistics refresh,
            # a benchmark, `demo_delete`) would otherwise plan for the tables' old sizes.
            with connection.cursor() as cursor:
                for table in TABLE_ORDER:
                    cursor.execute(f"ANALYZE {table.name}")

    def _chunk(self, done: int) -> int:
        """Make the next chunk's reports and cases; returns the cases made so far."""
        target = min(self.total, done + CHUNK_CASES.get(connection.vendor, 1_000))
        while done < target:
            done += self._report(done)
        return done

    def _actors(self) -> None:
        first = self.start - timedelta(days=30)
        users = [
            get_user_model()(
                username=f"{USER_PREFIX}{role}-{n}",
                password=make_password(None),
                is_active=False,
                date_joined=first,
                first_name="Demo",
                last_name=f"{role.title()} {n}",
            )
            for role, count in (("analyst", 8), ("senior", 2))
            for n in range(1, count + 1)
        ]
        ids, made = _ensure(get_user_model(), "username", users)
        self.analysts = [pk for pk, u in zip(ids, users, strict=True) if "analyst" in u.username]
        self.seniors = [pk for pk, u in zip(ids, users, strict=True) if "senior" in u.username]
        self.summary.add("users", made)
        partners = [
            Partner(name=name, contact_email=f"api@{_slug(name)}.example", created_at=first) for name, _, _ in PARTNERS
        ]
        ids, made = _ensure(Partner, "name", partners)
        self.partners = [(pk, share, classifies) for pk, (_, share, classifies) in zip(ids, PARTNERS, strict=True)]
        self.summary.add("partners", made)

    def _world(self) -> None:
        """Providers (a few large, a long tail), their sites, and what routing says of each."""
        rng = self.rng
        hotlines = {
            h.country: _Hotline(
                h.pk, h.name, h.email or f"referrals@{h.country.lower()}-hotline.example", notice_language(h.language)
            )
            for h in PartnerHotline.objects.filter(active=True).exclude(country=self.home)
        }
        partner_countries = sorted(hotlines)
        others = sorted(c for c in OTHER_WEIGHTS if c not in hotlines and c != self.home)
        count = min(2_000, max(12, round(2 * math.sqrt(self.total))))
        names: set[str] = set()
        providers: list[_Provider] = []
        for rank in range(count):
            route = ["own", "partner", "elsewhere", "own"][rank] if rank < 4 else ""
            route = route or rng.choices(["own", "partner", "elsewhere"], [0.45, 0.35, 0.20])[0]
            if route == "partner" and not partner_countries:
                route = "elsewhere"
            if route == "elsewhere" and not others:
                route = "own"
            if route == "own":
                country = self.home
            elif route == "partner":
                country = rng.choices(partner_countries, [PARTNER_WEIGHTS.get(c, 1) for c in partner_countries])[0]
            else:
                country = rng.choices(others, [OTHER_WEIGHTS[c] for c in others])[0]
            name = _provider_name(rng, country, names)
            registry = REGISTRY.get(country, "ripe")
            kind = rng.random()
            speed = 240.0 if kind < 0.10 else 6.0 if kind < 0.15 else 40.0
            providers.append(
                _Provider(
                    rank=rank,
                    name=name,
                    country=country,
                    route=route,
                    asn=64512 + rank if rank < 1023 else 4_200_000_000 + rank,
                    cidr=f"198.{18 + rank // 1024}.{(rank % 1024) // 4}.{(rank % 4) * 64}/26",
                    registry=registry,
                    handle=f"ORG-{_slug(name)[:3].upper()}{rank + 1}-{registry.upper()}",
                    language={"NL": "nl", "DE": "de", "AT": "de"}.get(country, "en"),
                    speed_hours=speed * rng.lognormvariate(0, 0.5),
                    never=0.25 if kind < 0.10 else 0.03,
                    responds=rng.random() < 0.3,
                    weight=1 / (rank + 1) ** 1.05,
                    hotline=hotlines.get(country) if route == "partner" else None,
                )
            )
        created = self.start - timedelta(days=60)
        ids, made = _ensure(
            Provider,
            "key",
            [
                Provider(
                    name=p.name,
                    key=f"{PROVIDER_KEY_PREFIX}rdap:{p.registry}:{p.handle}",
                    source="rdap",
                    abuse_emails=[f"abuse@{_slug(p.name)}.example"],
                    abuse_source="abuse-role",
                    confidence="high",
                    country=p.country,
                    language=p.language,
                    rdap_handles=[p.handle],
                    verified=p.rank < 20,
                    notes="Synthetic provider made by seed_demo (reserved example data).",
                    created_at=created,
                )
                for p in providers
            ],
        )
        for p, pk in zip(providers, ids, strict=True):
            p.id, p.emails = pk, [f"abuse@{_slug(p.name)}.example"]
            self._routes(p)
        self.summary.add("providers", made)
        self.providers = providers
        self.provider_weights = list(itertools.accumulate(p.weight for p in providers))
        # Sites: each provider hosts some, in proportion to its size; a few sites are large.
        total_weight = self.provider_weights[-1]
        sites = min(30_000, max(count, self.total // 30))
        number = 0
        for p in providers:
            for n in range(max(1, round(p.weight / total_weight * sites))):
                number += 1
                word = rng.choice(SITE_WORDS) + rng.choice(SITE_WORDS)
                host = f"{word}-{number}{rng.choice(HOST_SUFFIXES)}"
                first, *_ = p.cidr.split("/")
                last_octet = int(first.rsplit(".", 1)[1]) + 1 + n % 62
                site = _Site(host, p, f"{first.rsplit('.', 1)[0]}.{last_octet}", dedicated=rng.random() < 0.25)
                self._resolution(site)
                p.sites.append(site)
                p.site_weights.append((p.site_weights[-1] if p.site_weights else 0) + 1 / (n + 1))

    def _routes(self, p: _Provider) -> None:
        """The ``routed`` event data of its cases (`routing.jurisdiction.route`)."""
        hosting = Recipient(
            kind=RecipientKind.PROVIDER, name=p.name, emails=tuple(p.emails), language=p.language, provider_id=p.id
        )
        police = Recipient(
            kind=RecipientKind.POLICE, name=self.police_name, emails=tuple(self.police_emails), language="en"
        )
        if p.route == "own":
            route = Route("own_country", (hosting,))
        elif p.route == "partner" and p.hotline is not None:
            hotline = Recipient(
                kind=RecipientKind.HOTLINE,
                name=p.hotline.name,
                emails=(p.hotline.email,),
                language=p.hotline.language,
                hotline_id=p.hotline.id,
            )
            route = Route(f"partner_hotline:{p.country}", (hotline,))
        else:
            route = Route("no_partner_hotline", (hosting, police))
        held = Recipient(**{**hosting.__dict__, "holds": (Hold.POLICE_FIRST,)})
        p.routed = json.dumps(route.as_dict())
        p.routed_police_first = json.dumps(Route("police_first", (police, held)).as_dict())
        p.routed_released = json.dumps(Route("police_first", (police, hosting)).as_dict())

    def _resolution(self, site: _Site) -> None:
        """What resolution stored (`routing.services.HostResolution.as_dict`) and its event summary."""
        p = site.provider
        domain = _domain(site.host)
        provider = {
            "id": p.id,
            "name": p.name,
            "abuse_emails": p.emails,
            "abuse_source": "abuse-role",
            "confidence": "high",
            "country": p.country,
            "is_cdn": False,
            "verified": p.rank < 20,
            "rule": f"rdap:{PROVIDER_KEY_PREFIX}rdap:{p.registry}:{p.handle}",
        }
        ip = {
            "ip": site.ip,
            "asn": p.asn,
            "asn_name": p.name.split(" ")[0].upper(),
            "asn_prefix": p.cidr,
            "cidr": p.cidr,
            "network_name": f"{_slug(p.name).upper()}-NET",
            "network_handle": f"NET-{p.cidr.split('/')[0].replace('.', '-')}-1",
            "org_handle": p.handle,
            "org_name": p.name,
            "country": p.country,
            "registry": p.registry,
            "abuse_emails": p.emails,
            "abuse_source": "abuse-role",
            "confidence": "high",
            "error": "",
            "note": "",
        }
        data = {
            "host": site.host,
            "registered_domain": domain,
            "outcome": "resolved",
            "cnames": [],
            "addresses": [site.ip],
            "dns": {
                "host": site.host,
                "outcome": "resolved",
                "cname_chain": [],
                "addresses": [site.ip],
                "error": "",
                "ttl": 3600,
            },
            "ips": [ip],
            "provider": provider,
            "country": p.country,
            "asn": p.asn,
            "cdn": None,
            "origin": None,
            "registrar": None,
            "confidence": "high",
            "contact_check": False,
            "errors": [],
        }
        site.resolution = json.dumps(data)
        site.resolved = json.dumps(
            {
                "outcome": "resolved",
                "addresses": [site.ip],
                "cnames": [],
                "provider": p.name,
                "provider_id": p.id,
                "rule": provider["rule"],
                "country": p.country,
                "asn": p.asn,
                "confidence": "high",
                "cdn": "",
                "errors": [],
            }
        )

    def _intensity(self) -> None:
        """Reports per hour over the span, per channel: API crawlers day and night, the web form
        mostly in the evening, bulk files and the mailbox in office hours; 70% more at the end."""
        hours = int((self.end - self.start).total_seconds() // 3600) + 1
        profiles: dict[str, list[float]] = {c: [] for c in CHANNELS}
        for b in range(hours):
            local = (self.start + timedelta(hours=b)).astimezone(self.zone)
            working = self._working_day(local.date())
            office = working and 8 <= local.hour < 18
            profiles[Channel.API].append(1.15 if office else 0.9)
            profiles[Channel.WEB_FORM].append(
                (0.35 if local.hour < 7 else 1.0 if local.hour < 18 else 1.5) * (1.0 if working else 1.2)
            )
            profiles[Channel.BULK_IMPORT].append(1.0 if office else 0.02)
            profiles[Channel.MAILBOX].append(1.0 if office else 0.35)
        self.channels = list(CHANNELS)
        cumulative: list[float] = []
        running = 0.0
        means = {c: sum(v) / len(v) for c, v in profiles.items()}
        for b in range(hours):
            trend = 0.7 + 0.6 * b / hours
            per_channel = [CHANNELS[c][0] * profiles[c][b] / means[c] * trend for c in self.channels]
            self.hourly.append(per_channel)
            running += sum(per_channel)
            cumulative.append(running)
        self.cumulative = cumulative

    # -- one report and its cases --------------------------------------------------------------

    def _report(self, index: int) -> int:
        """One report naming the next cases; returns how many."""
        rng = self.rng
        x = (index + rng.random()) / self.total * self.cumulative[-1]
        b = min(bisect.bisect_left(self.cumulative, x), len(self.cumulative) - 1)
        rates = self.hourly[b]
        before = self.cumulative[b] - sum(rates)
        seconds = int((b + (x - before) / max(sum(rates), 1e-9)) * 3600)
        at = min(self.start + timedelta(seconds=seconds), self.end)
        self.latest_report = at
        weights = [rate / CHANNELS[c][1] for c, rate in zip(self.channels, rates, strict=True)]
        channel = rng.choices(self.channels, weights)[0]
        count = min(self._size(channel), self.total - index)
        partner_id, classification, urgent = None, "{}", False
        if channel == Channel.API:
            partner_id, _, classifies = rng.choices(self.partners, [s for _, s, _ in self.partners])[0]
            urgent = rng.random() < 0.03
            if classifies:
                classification = '{"verdict": "illegal"}'
        report_id = self.ids.take(REPORTS)
        reference = self._report_reference(at)
        report = _ReportInfo(report_id, reference, channel, partner_id, at, urgent)
        focus = self._site()
        same = CHANNELS[channel][2]
        for n in range(count):
            site = focus if n == 0 or rng.random() < same else self._site()
            self._case(index + n, site, report)
        source = ""
        if channel == Channel.BULK_IMPORT:
            source = f"crawler-export-{timezone.localtime(at, self.zone):%Y-%m-%d}.csv"
        elif channel == Channel.MAILBOX:
            source = f"tips{rng.randrange(1, 400)}@mail.example"
        email = ""
        if channel == Channel.WEB_FORM and rng.random() < 0.3:
            email = f"reporter{rng.randrange(1, 100_000)}@mail.example"
        self.rows[REPORTS].append(
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

    def _size(self, channel: str) -> int:
        rng = self.rng
        if channel == Channel.WEB_FORM:
            return 1 if rng.random() < 0.85 else rng.randint(2, 3)
        if channel == Channel.MAILBOX:
            return 1 + int(rng.expovariate(1 / 1.5))
        if channel == Channel.BULK_IMPORT:
            return max(2, min(1_000, int(rng.lognormvariate(math.log(20), 0.8))))
        return max(1, min(200, int(rng.lognormvariate(math.log(2.5), 0.9))))

    def _site(self) -> _Site:
        provider = _pick(self.rng, self.providers, self.provider_weights)
        return _pick(self.rng, provider.sites, provider.site_weights)

    def _report_reference(self, at: datetime) -> str:
        day = timezone.localtime(at, self.zone)
        while True:
            reference = f"R-{day:%Y%m%d}-" + "".join(self.rng.choices(REPORT_ALPHABET, k=8))
            if reference not in self.report_refs:
                self.report_refs.add(reference)
                return reference

    def _case(self, index: int, site: _Site, report: _ReportInfo) -> None:
        rng = self.rng
        case = _CaseInfo(self.ids.take(CASES), site, report.at, urgent=report.urgent)
        media = _pick(rng, MEDIA, MEDIA_WEIGHTS)
        token = _b36(index).rjust(5, "0") + "".join(rng.choices(B36, k=4))
        path = {
            "image": f"/i/{token}.{rng.choice(['jpg', 'png', 'webp'])}",
            "video": f"/v/{token}",
            "page": f"/gallery/{token}/",
            "other": f"/f/{token}.zip",
        }[media]
        case.url = f"https://{site.host}{path}"
        while case.url in self.kept:
            case.url += "x"  # a demo URL that real data still names (see `demo_delete`)
        self.rows[REPORTED_URLS].append((report.id, case.id, case.url, False))
        self._event(case, report.at, EventKind.REPORTED, *self._reporter(report), _reported(report, new=True))
        resolved = report.at + timedelta(seconds=rng.randrange(2, 45))
        case.resolved_at = resolved
        self._event(case, resolved, EventKind.RESOLVED, ActorType.SYSTEM, None, None, site.resolved)
        self._transition(case, resolved, CaseState.NEW, CaseState.AWAITING_ASSESSMENT, ActorType.SYSTEM, None)
        if rng.random() < 0.06:
            self._reported_again(case)
        verdict_at = self._verdict_time(resolved, fast=report.urgent)
        if verdict_at > self.anchor:
            self._case_row(case)
            return
        illegal_share = 0.95 if site.dedicated else ILLEGAL_SHARE[report.channel]
        roll = rng.random()
        if roll < illegal_share:
            self._assess(case, verdict_at, self._illegal_classification(verdict_at), media)
            self._illegal(case, verdict_at)
        elif roll < illegal_share + 0.03:
            self._assess(case, verdict_at, Classification(verdict=Verdict.GONE), media)
        elif roll < illegal_share + 0.05:
            self._assess(case, verdict_at, Classification(verdict=Verdict.CANNOT_ASSESS), media)
        else:
            reason = rng.choices(*zip(*NOT_ILLEGAL_REASONS, strict=True))[0]
            drawn = True if reason == "virtual_legal" else None
            self._assess(
                case,
                verdict_at,
                Classification(verdict=Verdict.NOT_ILLEGAL, not_illegal_reason=reason, drawn=drawn),
                media,
            )
        self._case_row(case)

    def _reporter(self, report: _ReportInfo) -> tuple[str, int | None, int | None]:
        if report.partner_id:
            return ActorType.PARTNER, None, report.partner_id
        if report.channel == Channel.BULK_IMPORT:
            return ActorType.SYSTEM, None, None
        return ActorType.REPORTER, None, None

    def _reported_again(self, case: _CaseInfo) -> None:
        """Another report names the URL later: a duplicate (`reports.services.report_add_urls`)."""
        rng = self.rng
        for _ in range(rng.choice([1, 1, 1, 2])):
            at = case.last_reported_at + timedelta(hours=rng.lognormvariate(math.log(48), 1.2))
            if at > self.end:
                return
            channel = Channel.API if rng.random() < 0.6 else Channel.WEB_FORM
            partner_id = (
                rng.choices(self.partners, [s for _, s, _ in self.partners])[0][0] if channel == Channel.API else None
            )
            report = _ReportInfo(self.ids.take(REPORTS), self._report_reference(at), channel, partner_id, at, False)
            self.rows[REPORTS].append(
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
            self.rows[REPORTED_URLS].append((report.id, case.id, case.url, True))
            self._event(case, at, EventKind.REPORTED, *self._reporter(report), _reported(report, new=False))
            case.report_count += 1
            case.last_reported_at = at

    # -- verdicts ------------------------------------------------------------------------------

    def _working_day(self, day: date) -> bool:
        known = self.working_days.get(day)
        if known is None:
            known = self.working_days[day] = is_working_day(day)
        return known

    def _office(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        return self._working_day(local.date()) and ANALYST_HOURS[0] <= local.hour < ANALYST_HOURS[1]

    def _next_office(self, moment: datetime) -> datetime:
        local = moment.astimezone(self.zone)
        day = local.date()
        if not (self._working_day(day) and local.hour < ANALYST_HOURS[0]):
            day += timedelta(days=1)
            while not self._working_day(day):
                day += timedelta(days=1)
        return datetime.combine(day, clock(ANALYST_HOURS[0]), tzinfo=self.zone).astimezone(UTC)

    def _verdict_time(self, queued: datetime, *, fast: bool = False) -> datetime:
        """Analysts work office hours; at night and at weekends one on call takes a few cases, the
        rest wait for the next working morning."""
        rng = self.rng
        if fast:
            return queued + timedelta(minutes=3 + rng.lognormvariate(math.log(20), 0.7))
        candidate = queued + timedelta(minutes=3) + timedelta(hours=rng.lognormvariate(math.log(2.0), 0.9))
        if self._office(candidate) or rng.random() < 0.2:
            return candidate
        return self._next_office(candidate) + timedelta(hours=rng.expovariate(1 / 1.5))

    def _illegal_classification(self, at: datetime) -> Classification:
        rng = self.rng
        progress = (at - self.start) / (self.end - self.start)
        category = _pick(rng, CATEGORIES, CATEGORY_WEIGHTS)
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

    def _assess(self, case: _CaseInfo, at: datetime, classification: Classification, media: str) -> None:
        """An analyst's verdict (`reports.assessment.case_assess`): the row, its event, the state."""
        rng = self.rng
        if classification.verdict == Verdict.ILLEGAL:
            classification.media_type = media if rng.random() < 0.95 else "other"
        key = tuple(getattr(classification, name) for name in VERDICT_FIELDS)
        known = self.classifications.get(key)
        if known is None:
            cleaned = classification.cleaned()
            known = self.classifications[key] = (cleaned, json.dumps(cleaned.as_event_data())[1:-1])
        c, tail = known
        analyst = rng.choice(self.analysts)
        assessment = self.ids.take(ASSESSMENTS)
        self.rows[ASSESSMENTS].append(
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
        self._event(case, at, EventKind.ASSESSED, ActorType.USER, analyst, None, data)
        target = {
            Verdict.ILLEGAL: CaseState.ILLEGAL,
            Verdict.NOT_ILLEGAL: CaseState.NOT_ILLEGAL,
        }.get(Verdict(c.verdict), CaseState.CANNOT_ASSESS)
        self._transition(
            case, at, CaseState.AWAITING_ASSESSMENT, target, ActorType.USER, analyst, assessment=assessment
        )
        case.verdict, case.assessed_at, case.assessment = c.verdict, at, assessment
        case.police_first = c.police_first

    # -- after a verdict of illegal ------------------------------------------------------------

    def _illegal(self, case: _CaseInfo, verdict_at: datetime) -> None:
        """Routing, notices, checks, removal, and perhaps reappearance with a second cycle."""
        p = case.site.provider
        case.cycle_started_at = case.last_seen_online_at = verdict_at
        self._event(
            case,
            verdict_at,
            EventKind.ROUTED,
            ActorType.SYSTEM,
            None,
            None,
            p.routed_police_first if case.police_first else p.routed,
        )
        start, urgent, cycles = verdict_at, False, 0
        while start <= self.anchor and cycles < 2:
            cycles += 1
            back = self._cycle(case, start, urgent=urgent or case.urgent, first=cycles == 1)
            if back is None:
                return
            start, urgent = back, True

    def _plan(
        self,
        kind: str,
        key: str,
        at: datetime,
        *,
        who: str,
        step: int = 0,
        hosting: bool = False,
        urgent: bool = False,
    ) -> _Plan:
        """A notice due at ``at``: the sender (every minute) takes the batch of that minute."""
        when = _ceil(at, 1)
        return _Plan(kind, key, step, when, at, when + _phase(f"{kind}:{step}:{who}", when), hosting, urgent)

    def _interval(self, at: datetime, start: datetime) -> timedelta:
        return self.check_fast if at - start <= self.slow_after else self.check_slow

    def _cycle(self, case: _CaseInfo, start: datetime, *, urgent: bool, first: bool) -> datetime | None:
        """One notice cycle from ``start`` (the verdict, or the content's return). Returns when the
        content came back, or None."""
        rng = self.rng
        p = case.site.provider
        plans: list[_Plan] = []
        if p.route == "elsewhere" or case.police_first:
            plans.append(self._plan(NoticeKind.POLICE, "police:police", start, who="police", urgent=urgent))
        hosting_at = start
        if case.police_first and first:
            # A senior analyst releases the notices police first held back (`case_release`).
            hosting_at = self._verdict_time(start)
        at_once = urgent or hosting_at != start
        if p.route == "partner" and p.hotline is not None and not case.police_first:
            key = f"referral:hotline:{p.hotline.id}"
            plans.append(
                self._windowed(NoticeKind.REFERRAL, key, hosting_at, who=p.country, at_once=at_once, urgent=urgent)
            )
        else:
            key = f"provider:provider:{p.id}"
            plans.append(
                self._windowed(NoticeKind.PROVIDER, key, hosting_at, who=p.name, at_once=at_once, urgent=urgent)
            )
        first_sent = plans[-1].sent_at
        style, gone_at = self._goes(p, start, first_sent, first=first)
        first_check = start + (timedelta(seconds=rng.uniform(40, 240)) if first else self.check_fast)
        if plans[0].kind == NoticeKind.POLICE:
            # The police report goes out at once; the demo checks after it, so that content found
            # gone at the first check counts as removed after notice, not before a notice that
            # left in the same minute.
            first_check = max(first_check, plans[0].sent_at + timedelta(seconds=rng.uniform(5, 60)))
        checks: list[tuple[datetime, str]] = []
        responded: datetime | None = None
        runs: list[datetime] = []  # the gone or unreachable checks, the last of which closes the case
        last_online = start
        if gone_at is not None:
            g1 = max(first_check, gone_at + rng.uniform(0, 1) * self._interval(gone_at, start))
            if style == "gone" and p.responds and p.route != "partner" and gone_at >= first_sent:
                responded = gone_at + timedelta(minutes=rng.lognormvariate(math.log(20), 1.0))
                g1 = max(gone_at, min(g1, responded + timedelta(seconds=rng.uniform(20, 90))))
            if g1 > first_check:
                last_online = max(first_check, g1 - self._interval(g1, start) * rng.uniform(0.9, 1.1))
            runs.append(g1)
            if style == "gone":
                for _ in range(self.removal_checks - 1):
                    runs.append(runs[-1] + self.spacing + timedelta(seconds=rng.uniform(5, 60)))
            else:
                close = g1 + self.unreachable_close
                runs.append(close + rng.uniform(0, 1) * self._interval(close, start))
        closed = runs[-1] if runs else None
        if hosting_at != start and (closed is None or hosting_at < closed):
            data = f'{{"assessment": {case.assessment}, "hold": "police_first"}}'
            self._event(case, hosting_at, EventKind.RELEASED, ActorType.USER, rng.choice(self.seniors), None, data)
            self._event(case, hosting_at, EventKind.ROUTED, ActorType.SYSTEM, None, None, p.routed_released)
        # Which planned notices the case is in: none the sender takes after a gone check (but
        # the police hear all the same), none after the case closed.
        cutoff_hosting = runs[0] if runs and style == "gone" else closed
        sent: list[_Plan] = [
            plan
            for plan in plans
            if (closed is None or plan.sent_at < closed)
            and (plan.kind == NoticeKind.POLICE or cutoff_hosting is None or plan.sent_at < cutoff_hosting)
        ]
        ladder = [plan for plan in sent if plan.hosting]
        if ladder:
            sent.extend(self._ladder(p, ladder[0], cutoff_hosting))
        sent = [plan for plan in sent if plan.sent_at <= self.anchor]
        sent.sort(key=lambda plan: plan.sent_at)
        notified = False
        provider_notice: _Notice | None = None
        for plan in sent:
            notice = self._notice(plan, p)
            if plan.kind == NoticeKind.PROVIDER and provider_notice is None:
                provider_notice = notice
            response = responded if notice is provider_notice and responded and responded <= self.anchor else None
            self.rows[NOTICE_CASES].append(
                (notice.id, case.id, plan.added_at, "", "removed" if response else "", "", response, "", "")
            )
            self._event(case, plan.sent_at, EventKind.NOTICE_SENT, ActorType.SYSTEM, None, None, _SentData(notice))
            if plan.kind in (NoticeKind.PROVIDER, NoticeKind.REFERRAL, NoticeKind.POLICE):
                case.referred = case.referred or plan.kind == NoticeKind.REFERRAL
            if not notified and plan.kind != NoticeKind.UPDATE:
                notified = True
                moved = {"from": "illegal", "to": "notified", "notice": notice}
                self._transition_data(case, plan.sent_at, CaseState.NOTIFIED, moved)
        if responded is not None and provider_notice is not None and responded <= self.anchor:
            response_data = {
                "notice": provider_notice,
                "recipient": provider_notice.recipient_name,
                "response": "removed",
                "reason": "",
                "previous": "",
                "via": "notice link",
            }
            self._event(case, responded, EventKind.PROVIDER_RESPONDED, ActorType.SYSTEM, None, None, response_data)
        # The checks, up to the anchor: the last online one, and the run of gone or unreachable ones.
        seen = [at for at in runs if at <= self.anchor]
        if not seen and self.anchor > first_check:
            # Online at the anchor: its latest check.
            interval = self._interval(self.anchor, start)
            last_online = max(first_check, self.anchor - interval * rng.uniform(0, 1))
        elif not seen:
            last_online = start
        if last_online > start:
            checks.append((last_online, CheckOutcome.ONLINE))
        outcome = CheckOutcome.GONE if style == "gone" else CheckOutcome.UNREACHABLE
        checks.extend((at, outcome) for at in seen)
        if closed is None or closed > self.anchor:
            if seen and style == "gone":
                case.gone_since, case.gone_count, case.last_gone_at = seen[0], len(seen), seen[-1]
            elif seen:
                case.unreachable_since = seen[0]
            case.last_seen_online_at = last_online
            self._checks(case, checks)
            return None
        return self._close(
            case,
            p,
            runs=runs,
            style=style,
            last_online=last_online,
            sent=bool(sent),
            notified=notified,
            checks=checks,
            first=first,
        )

    def _goes(self, p: _Provider, start: datetime, notice_at: datetime, *, first: bool) -> tuple[str, datetime | None]:
        """How and when the content goes: ``gone`` (or ``unreachable``, 1 in 20) some time after the
        first notice, as fast as its provider usually is (a long tail, slower abroad, faster the
        second time), already before any notice (1 in 20 first cycles), or never (None)."""
        rng = self.rng
        style = "unreachable" if rng.random() < 0.05 else "gone"
        never = p.never * (2 if p.route == "elsewhere" else 1) if first else 0.1
        if first and rng.random() < 0.05:
            return style, start + timedelta(seconds=rng.uniform(0, 240))
        if rng.random() < never:
            return style, None
        hours = p.speed_hours * rng.lognormvariate(0, 0.7)
        if p.route == "partner":
            hours += rng.lognormvariate(math.log(12), 0.6)  # the partner hotline passes it on
        elif p.route == "elsewhere":
            hours *= 1.6
        return style, notice_at + timedelta(hours=hours * (1 if first else 0.5))

    def _close(
        self,
        case: _CaseInfo,
        p: _Provider,
        *,
        runs: list[datetime],
        style: str,
        last_online: datetime,
        sent: bool,
        notified: bool,
        checks: list[tuple[datetime, str]],
        first: bool,
    ) -> datetime | None:
        """The case closes as removed at the last check of ``runs`` (`case_close_removed`); then
        the checks that look for the content's return. Returns when it came back, or None."""
        rng = self.rng
        closed = runs[-1]
        kind = RemovalKind.UNREACHABLE if style == "unreachable" else RemovalKind.GONE
        if style == "gone" and not sent:
            kind = RemovalKind.BEFORE_NOTICE  # no notice of this cycle went out (`_gone_kind`)
        closing = {"from": "notified" if notified else "illegal", "to": "removed", "removal_kind": kind}
        self._transition_data(case, closed, CaseState.REMOVED, closing)
        removed = {
            "removal_kind": kind,
            "removed_at": runs[0].isoformat(),
            "last_seen_online_at": last_online.isoformat(),
        }
        self._event(case, closed, EventKind.REMOVED, ActorType.SYSTEM, None, None, removed)
        case.removed_at, case.removal_kind, case.last_seen_online_at = runs[0], kind, last_online
        case.gone_since = case.last_gone_at = case.unreachable_since = None
        case.gone_count = 0
        if case.referred and p.hotline is not None:
            # The partner hotline hears that the content is gone (`_tell_referral_hotline`).
            update = self._plan(NoticeKind.UPDATE, f"update:hotline:{p.hotline.id}", closed, who=p.country)
            if update.sent_at <= self.anchor:
                notice = self._notice(update, p)
                self.rows[NOTICE_CASES].append((notice.id, case.id, closed, "", "", "", None, "", ""))
                self._event(
                    case, update.sent_at, EventKind.NOTICE_SENT, ActorType.SYSTEM, None, None, _SentData(notice)
                )
        # Checks after closing, to see whether it comes back (`_closed_case_checked`).
        left = len(self.reappearance_days)
        back: datetime | None = None
        for n, days in enumerate(self.reappearance_days):
            at = closed + timedelta(days=days, seconds=rng.uniform(5, 90))
            if at > self.anchor:
                break
            if first and rng.random() < (0.015, 0.01, 0.005)[min(n, 2)]:
                back = at
                checks.append((at, CheckOutcome.ONLINE))
                break
            checks.append((at, CheckOutcome.GONE))
            left -= 1
        case.reappearance_checks = left
        self._checks(case, checks)
        if back is None:
            return None
        self._transition_data(
            case, back, CaseState.ILLEGAL, {"from": "removed", "to": "illegal", "reason": "reappeared"}
        )
        self._event(case, back, EventKind.REAPPEARED, ActorType.SYSTEM, None, None, {"removed_at": runs[0].isoformat()})
        case.cycle_started_at = case.last_seen_online_at = back
        case.removed_at, case.removal_kind, case.reappearance_checks, case.urgent = None, "", 0, True
        return back

    def _windowed(self, kind: str, key: str, at: datetime, *, who: str, at_once: bool, urgent: bool) -> _Plan:
        """A first notice: due at once (urgent, or released by a senior), or when its batch window
        ends (windows of ``SCART_NOTICE_WINDOW_MINUTES``, moved to working hours when those are set)."""
        if at_once:
            return self._plan(kind, key, at, who=who, hosting=kind == NoticeKind.PROVIDER, urgent=urgent)
        window = self.window.total_seconds() or 60
        end = datetime.fromtimestamp((at.timestamp() // window + 1) * window, tz=UTC)
        due = next_working_moment(end).astimezone(UTC)
        return _Plan(kind, key, 0, due, at, due + _phase(f"{kind}:0:{who}", due), kind == NoticeKind.PROVIDER)

    def _ladder(self, p: _Provider, notice: _Plan, cutoff: datetime | None) -> list[_Plan]:
        """Reminders while the content stays online, then the escalation ladder (`cases_plan_ladder`).
        The registrar (none for reserved domains) and the provider's escalation address (none
        set) are skipped, as the live ladder skips a rung without an address."""
        plans: list[_Plan] = []
        planned = notice.sent_at
        for step in range(1, self.reminder_max + 1):
            planned = _ceil(planned + self.reminder_every, 5)
            plan = self._plan(NoticeKind.REMINDER, f"reminder:{step}:provider:{p.id}", planned, who=p.name, step=step)
            if (cutoff is not None and plan.sent_at >= cutoff) or plan.sent_at > self.anchor:
                return plans
            plans.append(plan)
        for index, rung in enumerate(self.ladder, start=1):
            if rung != "police":
                continue
            planned = _ceil(planned + self.reminder_every, 5)
            plan = self._plan(NoticeKind.ESCALATION, f"escalation:{index}:police", planned, who="police", step=index)
            if (cutoff is not None and plan.sent_at >= cutoff) or plan.sent_at > self.anchor:
                return plans
            plans.append(plan)
        return plans

    def _notice(self, plan: _Plan, p: _Provider) -> _Notice:
        """The notice of this batch, made when the first of its cases joins it."""
        identity = (plan.key, plan.when)
        notice = self.notices.get(identity)
        if notice is not None:
            return notice
        recipient: tuple[str, str, list[str], str, int | None, int | None]
        if plan.kind in (NoticeKind.POLICE, NoticeKind.ESCALATION):
            recipient = ("police", self.police_name, self.police_emails, self.police_language, None, None)
        elif plan.kind in (NoticeKind.REFERRAL, NoticeKind.UPDATE) and p.hotline is not None:
            h = p.hotline
            recipient = (RecipientKind.HOTLINE, h.name, [h.email], h.language, None, h.id)
        else:
            recipient = (RecipientKind.PROVIDER, p.name, p.emails, notice_language(p.language), p.id, None)
        kind_name, name, emails, language, provider_id, hotline_id = recipient
        if plan.kind in (NoticeKind.REMINDER, NoticeKind.ESCALATION):
            created = plan.when - timedelta(minutes=5)
        elif plan.when - plan.added_at > timedelta(minutes=1):
            created = plan.when - self.window  # a batch window
        else:
            created = plan.when - timedelta(minutes=1)
        created = min(created, plan.added_at)
        notice = _Notice(
            id=self.ids.take(NOTICES),
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
        self.notices[identity] = notice
        self.new_notices.append(notice)
        return notice

    # -- timeline rows -------------------------------------------------------------------------

    def _event(
        self,
        case: _CaseInfo,
        at: datetime,
        kind: str,
        actor_type: str,
        user: int | None,
        partner: int | None,
        data: Any,
    ) -> None:
        if at <= self.anchor:
            case.events.append((at, kind, actor_type, user, partner, data))

    def _transition(
        self,
        case: _CaseInfo,
        at: datetime,
        old: str,
        new: str,
        actor_type: str,
        user: int | None,
        assessment: int | None = None,
    ) -> None:
        """A state change and its event (`reports.services.case_transition`)."""
        if at > self.anchor:
            return
        data = f'{{"from": "{old}", "to": "{new}"' + (f', "assessment": {assessment}}}' if assessment else "}")
        case.events.append((at, EventKind.STATE_CHANGED, actor_type, user, None, data))
        case.state, case.state_changed_at = new, at

    def _transition_data(self, case: _CaseInfo, at: datetime, new: str, data: dict[str, Any]) -> None:
        if at > self.anchor:
            return
        case.events.append((at, EventKind.STATE_CHANGED, ActorType.SYSTEM, None, None, data))
        case.state, case.state_changed_at = new, at

    def _checks(self, case: _CaseInfo, checks: list[tuple[datetime, str]]) -> None:
        rng = self.rng
        rows = self.rows[CHECKS]
        for at, outcome in checks:
            if outcome == CheckOutcome.ONLINE:
                rows.append((case.id, at, outcome, 200, case.site.ip, rng.randrange(80, 900), "", ""))
            elif outcome == CheckOutcome.GONE:
                status = 404 if rng.random() < 0.8 else 410
                rows.append((case.id, at, outcome, status, case.site.ip, rng.randrange(60, 600), "", ""))
            else:
                rows.append((case.id, at, outcome, None, case.site.ip, 15_000, "", "connection timed out"))

    def _case_row(self, case: _CaseInfo) -> None:
        site = case.site
        events = self.rows[EVENTS]
        case.events.sort(key=lambda e: e[0])
        events.extend(
            (case.id, kind, at, actor, user, partner, data) for at, kind, actor, user, partner, data in case.events
        )
        self.rows[CASES].append(
            (
                case.id,
                hashlib.sha256(case.url.encode()).hexdigest(),
                case.url,
                case.url,
                "https",
                site.host,
                _domain(site.host),
                False,
                False,
                False,
                case.state,
                case.state_changed_at,
                case.first_reported_at,
                case.last_reported_at,
                case.report_count,
                0,
                site.resolution,
                case.resolved_at,
                site.provider.id,
                site.provider.country,
                site.provider.asn,
                "high",
                False,
                case.verdict,
                case.assessed_at,
                case.urgent,
                case.last_seen_online_at,
                case.gone_since,
                case.gone_count,
                case.last_gone_at,
                case.unreachable_since,
                case.removed_at,
                case.removal_kind,
                case.reappearance_checks,
                case.cycle_started_at,
            )
        )
        self.summary.states[case.state] = self.summary.states.get(case.state, 0) + 1

    def _take(self) -> dict[_Table, list[tuple[Any, ...]]]:
        """The chunk's rows, its new notices numbered; the buffers start again."""
        _number(self.new_notices)
        self.rows[NOTICES] = [
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
            for n in self.new_notices
        ]
        rows, self.rows = self.rows, {t: [] for t in TABLE_ORDER}
        self.new_notices = []
        # Batches sent before the latest report cannot take more cases: forget them.
        self.notices = {k: n for k, n in self.notices.items() if n.sent_at >= self.latest_report}
        return rows


def _write(writer: _Writer, rows: dict[_Table, list[tuple[Any, ...]]], summary: SeedSummary) -> None:
    for table in TABLE_ORDER:
        writer.write(table, rows[table])
        summary.add(table.label, len(rows[table]))


class _Background:
    """Writes chunks in a thread, one transaction each, in the order they come; the queue holds
    one chunk, so that making them never runs far ahead of writing them."""

    def __init__(self, writer: _Writer, summary: SeedSummary, written: Callable[[int], None]) -> None:
        self.writer, self.summary, self.written = writer, summary, written
        self.queue: queue.Queue[tuple[dict[_Table, list[tuple[Any, ...]]], int] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="seed_demo writer", daemon=True)

    def __enter__(self) -> _Background:
        self.thread.start()
        return self

    def put(self, rows: dict[_Table, list[tuple[Any, ...]]], done: int) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((rows, done))

    def __exit__(self, kind: type[BaseException] | None, *_: Any) -> None:
        self.queue.put(None)
        self.thread.join()
        if self.error is not None and kind is None:
            raise self.error

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                if self.error is not None:
                    continue  # keep taking chunks, so that the maker is never stuck on a full queue
                rows, done = item
                try:
                    with transaction.atomic():
                        _write(self.writer, rows, self.summary)
                    self.written(done)
                except BaseException as exc:
                    self.error = exc
        finally:
            connection.close()


def _ensure(model: type[models.Model], field: str, objects: list[Any]) -> tuple[list[int], int]:
    """The ids of these rows, found by ``field``: rows that exist already (demo rows that real
    data still refer to, which `demo_delete` keeps) are used as they are, the others created.
    Returns the ids in the order of ``objects`` and how many were created."""
    values = [getattr(o, field) for o in objects]
    manager = model._default_manager
    found = dict(manager.filter(**{f"{field}__in": values}).values_list(field, "pk"))
    made = manager.bulk_create([o for o in objects if getattr(o, field) not in found])
    found |= {getattr(o, field): o.pk for o in made}
    return [found[v] for v in values], len(made)


def _number(notices: list[_Notice]) -> None:
    """Give the notices their references, ``SCART-YYYYMMDD-NNNNNN`` numbered per day of creation
    from the day's `NoticeCounter`, as `routing.notices.planning.new_references` does, for all the
    days at once: one statement that adds each day's count to its counter and returns the new last
    number (the counter rows stay locked until the chunk commits, so a live planner numbering the
    same day waits for it instead of taking the same numbers)."""
    by_day: dict[date, list[_Notice]] = {}
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


@dataclass(slots=True)
class _ReportInfo:
    id: int
    reference: str
    channel: str
    partner_id: int | None
    at: datetime
    urgent: bool


@dataclass(slots=True, eq=False)
class _CaseInfo:
    """A case as its timeline is made; the fields of its row as of the anchor."""

    id: int
    site: _Site
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


def _reported(report: _ReportInfo, *, new: bool) -> str:
    """The ``reported`` event's data (`reports.services.report_add_urls`)."""
    return f'{{"report": "{report.reference}", "channel": "{report.channel}", "new": {"true" if new else "false"}}}'


def _pick(rng: random.Random, population: Sequence[T], cumulative: Sequence[float]) -> T:
    """`random.choices` for one item, with cumulative weights made once (it sums them each call)."""
    return population[bisect.bisect(cumulative, rng.random() * cumulative[-1], 0, len(population) - 1)]


def _domain(host: str) -> str:
    """The registrable domain of a demo host: example.com, example.net or example.org."""
    return ".".join(host.rsplit(".", 2)[-2:])


def _b36(n: int) -> str:
    digits = []
    while True:
        n, r = divmod(n, 36)
        digits.append(B36[r])
        if not n:
            return "".join(reversed(digits))


def _slug(name: str) -> str:
    return "-".join("".join(ch for ch in word.lower() if ch.isalnum()) for word in name.split()[:2])


def _provider_name(rng: random.Random, country: str, used: set[str]) -> str:
    """An invented name; no two share the slug their abuse address is made of."""
    while True:
        brand = "".join(rng.choices(SYLLABLES, k=rng.choice([1, 2]))) + rng.choice(ENDINGS)
        name = f"{brand.title()} {rng.choice(TRADES)} {LEGAL_FORM.get(country, 'Ltd')}"
        if _slug(name) not in used:
            used.add(_slug(name))
            return name
