"""The yearly transparency report: the notices sent in one year, in the shape of Art. 22 of the EU
Digital Services Act (a trusted flagger's report on its notices: by the identity of the hosting
provider, by the type of illegal content notified, and by the action the provider took).

What counts, for year ``Y`` in ``TIME_ZONE``:

- **notices**: notices to hosting providers, referrals to partner hotlines and reports to the police
  sent in ``Y`` (``Notice.sent_at``; the first-notice kinds of `stats.timings`). Reminders and
  escalations are follow-ups of those and are counted apart;
- **URLs notified**: the cases named in those notices (and not taken out before sending), each once
  however many of the year's notices named it. Every breakdown counts these URLs, so each adds up
  to the total; the notices column of a group counts the notices naming its URLs (one notice may
  name URLs of several groups, so those columns add up to more than the total);
- **action taken**, one per URL, the first that applies: removed after the notice; removed before
  it (the checks found it gone before the notice went out); unreachable for too long; disputed by
  the provider (through the notice's link) and not removed; still online; otherwise closed
  without a removal (its verdict was revised);
- **removal times**: from the case's first notice to its first removal (``CaseTiming.removal_s``,
  docs/statistics.md), for the URLs removed after a notice.

The hosting provider, the classification (the latest assessment's), the route and the removal are
those of the statistics table (`CaseTiming`, refreshed every minute; a case not in it yet is not
counted). Everything is aggregated in the database, in one transaction that sees the tables as
they were when it began (repeatable read, on PostgreSQL): the year's URLs are selected once into
temporary tables and counted from there; no case is loaded into Python. The
report holds no personal data: no URL, no analyst, no reporter, only counts per provider,
classification and route.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import Case, CharField, Count, F, IntegerField, Max, Min, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports.models import AiGenerated, Category, LegalBasis, RemovalKind
from routing.models import DisputeState, Notice, NoticeCase, NoticeKind, NoticeResponse, NoticeState, Provider
from scart.shown import ShownError
from scart.spreadsheets import SafeWriter
from stats.measures import choice_label
from stats.models import CaseTiming, Route
from stats.takedown_times import Row, aggregate
from stats.timings import FIRST_NOTICE_KINDS

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

FIRST_YEAR = 2000
FOLLOW_UP_KINDS = (NoticeKind.REMINDER, NoticeKind.ESCALATION)
REMOVED_AFTER_NOTICE = (RemovalKind.GONE, RemovalKind.MANUAL)
# The breakdowns: title, `CaseTiming` column, the labels of its values.
BREAKDOWNS: dict[str, tuple[StrOrPromise, str, Any]] = {
    "provider": (_("By hosting provider"), "provider_id", None),
    "category": (_("By category"), "category", Category),
    "legal_basis": (_("By legal basis"), "legal_basis", LegalBasis),
    "ai_generated": (_("By AI generation"), "ai_generated", AiGenerated),
    "route": (_("By route"), "route", Route),
}
# The action taken, in the order it is decided (the first that applies).
ACTIONS = {
    "removed": _("Removed after the notice"),
    "removed_before_notice": _("Removed before the notice went out"),
    "unreachable": _("Unreachable for too long"),
    "disputed": _("Disputed by the provider, not removed"),
    "still_online": _("Still online"),
    "other": _("Closed without removal (verdict revised)"),
}


class TransparencyYearError(ShownError, ValueError):
    """A year the report cannot be made for (the message says which years it can)."""

    code = "no_such_year"


@dataclass
class Line:
    """One group of URLs notified in the year: how many, what became of them, how fast."""

    key: Any
    label: str
    notices: int = 0
    urls: int = 0
    removed: int = 0
    removed_before_notice: int = 0
    unreachable: int = 0
    disputed: int = 0
    still_online: int = 0
    other: int = 0
    median_removal_hours: float | None = None
    p90_removal_hours: float | None = None


@dataclass
class Tally:
    """A count with its key and label (notices of a kind, disputes in a state)."""

    key: str
    label: StrOrPromise
    count: int


@dataclass
class TransparencyReport:
    year: int
    start: datetime
    end: datetime
    complete: bool  # False while the year is not over
    generated_at: datetime
    total: Line
    breakdowns: dict[str, list[Line]] = field(default_factory=dict)
    notice_kinds: list[Tally] = field(default_factory=list)
    follow_ups: list[Tally] = field(default_factory=list)
    disputes: list[Tally] = field(default_factory=list)
    removal: Row | None = None  # first notice to removal, over the URLs removed after a notice
    report_removal: Row | None = None  # first report to removal (removals before notice included)

    @property
    def actions(self) -> list[Tally]:
        return [Tally(key, label, getattr(self.total, key)) for key, label in ACTIONS.items()]


def transparency_years(*, now: datetime | None = None) -> list[int]:
    """The years a report can be asked for: from the first notice sent (or this year) to this year."""
    this_year = timezone.localtime(now or timezone.now()).year
    first = Notice.objects.filter(state=NoticeState.SENT).aggregate(first=Min("sent_at"))["first"]
    start = max(FIRST_YEAR, min(timezone.localtime(first).year, this_year)) if first else this_year
    return list(range(start, this_year + 1))


def transparency_report(*, year: int, now: datetime | None = None) -> TransparencyReport:
    """The report of the notices sent in ``year``; raises `TransparencyYearError` for a year before
    `FIRST_YEAR` or after this one."""
    now = now or timezone.now()
    this_year = timezone.localtime(now).year
    if not FIRST_YEAR <= year <= this_year:
        raise TransparencyYearError(
            _("there is no report for %(year)s: choose a year from %(first)s to %(last)s"),
            year=year,
            first=FIRST_YEAR,
            last=this_year,
        )
    zone = timezone.get_current_timezone()
    start, end = datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)
    postgresql = connection.vendor == "postgresql"
    opens = not connection.in_atomic_block
    with transaction.atomic():
        if postgresql:
            with connection.cursor() as cursor:
                if opens:
                    # Every figure from the same moment of the tables: at PostgreSQL's default
                    # (read committed) each statement would see the rows committed before it.
                    # (Inside a transaction already open, it keeps that transaction's level.)
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                # Big tables make high cost estimates, and JIT compiling the plans took longer than
                # running them (bench/stats.py --demo).
                cursor.execute("SET LOCAL jit = off")
        try:
            _tables_make(start, end)
            return _report(year, start, end, now)
        finally:
            if not postgresql:
                # On PostgreSQL they go with the transaction (ON COMMIT DROP), also when it fails:
                # a DROP here would fail in an aborted transaction and hide the first error.
                with connection.cursor() as cursor:
                    for name in (_ITEMS, _URLS, _DISPUTES):
                        cursor.execute(f"DROP TABLE IF EXISTS {name}")


# The year's URLs are selected once, into temporary tables of this connection, and every figure
# is counted from those: the notices (one row per notice and URL), the URLs with the columns the
# report groups and counts by, and the URLs the provider disputed.
_ITEMS = "scart_transparency_items"
_URLS = "scart_transparency_urls"
_DISPUTES = "scart_transparency_disputes"
_URL_COLUMNS = (
    "case_id",
    *(column for _title, column, _choices in BREAKDOWNS.values()),
    "removal_kind",
    "still_online",
    "removal_s",
    "report_removal_s",
)


def _tables_make(start: datetime, end: datetime) -> None:
    items = NoticeCase.objects.filter(
        dropped_at__isnull=True,
        notice__state=NoticeState.SENT,
        notice__kind__in=FIRST_NOTICE_KINDS,
        notice__sent_at__gte=start,
        notice__sent_at__lt=end,
    )
    _table_make(_ITEMS, items.values("notice_id", "case_id").distinct())
    _table_make(_URLS, CaseTiming.objects.filter(case_id__in=_ids(_ITEMS)).values(*_URL_COLUMNS))
    disputed = NoticeCase.objects.filter(response=NoticeResponse.DISPUTED, case_id__in=_ids(_URLS))
    _table_make(
        _DISPUTES,
        disputed.values("case_id")
        .annotate(
            dispute_open=Max(_flag(dispute_state=DisputeState.OPEN)),
            dispute_accepted=Max(_flag(dispute_state=DisputeState.ACCEPTED)),
        )
        .order_by(),
    )


def _ids(table: str) -> RawSQL:
    # ``table`` is one of the fixed names above.
    return RawSQL(f"SELECT case_id FROM {table}", [])  # noqa: S608, S611


def _flag(**condition: Any) -> Case:
    return Case(When(Q(**condition), then=Value(1)), default=Value(0), output_field=IntegerField())


def _table_make(name: str, rows: QuerySet[Any]) -> None:
    sql, params = rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS {sql}", params)
            cursor.execute(f"ANALYZE {name}")
        else:
            cursor.execute(f"CREATE TEMPORARY TABLE {name} AS {sql}", params)


def _fetch(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


# Per URL, the action taken (`ACTIONS`, the first that applies; "other" is what is left).
_ACTION_COUNTS = (
    "COUNT(*), "
    "SUM(CASE WHEN u.removal_kind IN (%s, %s) THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN u.removal_kind = %s THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN u.removal_kind = %s THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN u.removal_kind = '' AND d.case_id IS NOT NULL THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN u.removal_kind = '' AND d.case_id IS NULL AND u.still_online THEN 1 ELSE 0 END)"
)
_ACTION_PARAMS = [*REMOVED_AFTER_NOTICE, RemovalKind.BEFORE_NOTICE, RemovalKind.UNREACHABLE]
_COUNTED = ("urls", "removed", "removed_before_notice", "unreachable", "disputed", "still_online")


def _report(year: int, start: datetime, end: datetime, now: datetime) -> TransparencyReport:
    kinds = _notices_by_kind(start, end)
    (counts,) = _fetch(
        f"SELECT {_ACTION_COUNTS} FROM {_URLS} u LEFT JOIN {_DISPUTES} d ON d.case_id = u.case_id",  # noqa: S608
        _ACTION_PARAMS,
    )
    total = _line("all", "All", counts)
    total.notices = sum(k.count for k in kinds if k.key in FIRST_NOTICE_KINDS)
    report = TransparencyReport(
        year=year,
        start=start,
        end=end,
        complete=now >= end,
        generated_at=now,
        total=total,
        notice_kinds=[k for k in kinds if k.key in FIRST_NOTICE_KINDS],
        follow_ups=[k for k in kinds if k.key in FOLLOW_UP_KINDS],
        disputes=_disputes(),
    )
    (total.median_removal_hours, total.p90_removal_hours), report.removal = _removal_row("removal_s")
    _, report.report_removal = _removal_row("report_removal_s")
    for name, (_title, column, choices) in BREAKDOWNS.items():
        report.breakdowns[name] = _breakdown(column, choices)
    return report


def _line(key: Any, label: str, counts: tuple[Any, ...]) -> Line:
    line = Line(key=key, label=label, **{name: int(n or 0) for name, n in zip(_COUNTED, counts, strict=True)})
    line.other = line.urls - sum(getattr(line, name) for name in ACTIONS if name != "other")
    return line


def _timed(column: str) -> QuerySet[CaseTiming]:
    return CaseTiming.objects.filter(case_id__in=_ids(_URLS), **{f"{column}__isnull": False})


def _removal_row(column: str) -> tuple[tuple[float | None, float | None], Row | None]:
    found = aggregate(_timed(column).annotate(g=Value("all", output_field=CharField()), x=F(column)))
    row = found[0] if found else None
    return ((row.median_hours, row.p90_hours) if row else (None, None)), row


def _breakdown(column: str, choices: Any) -> list[Line]:
    # The column comes from BREAKDOWNS, never from a request.
    counts = _fetch(
        f"SELECT u.{column}, {_ACTION_COUNTS} FROM {_URLS} u "  # noqa: S608
        f"LEFT JOIN {_DISPUTES} d ON d.case_id = u.case_id GROUP BY u.{column}",
        _ACTION_PARAMS,
    )
    notices = dict(
        _fetch(
            f"SELECT u.{column}, COUNT(DISTINCT i.notice_id) FROM {_ITEMS} i "  # noqa: S608
            f"JOIN {_URLS} u ON u.case_id = i.case_id GROUP BY u.{column}",
            [],
        )
    )
    times = {r.group: r for r in aggregate(_timed("removal_s").annotate(g=F(column), x=F("removal_s")))}
    labels = _labels(column, choices, [key for key, *_ in counts])
    lines = []
    for key, *figures in counts:
        line = _line(key, labels[key], tuple(figures))
        line.notices = notices.get(key, 0)
        if key in times:
            line.median_removal_hours, line.p90_removal_hours = times[key].median_hours, times[key].p90_hours
        lines.append(line)
    if choices is None:  # providers: the busiest first
        lines.sort(key=lambda line: (-line.urls, line.label.lower()))
    else:  # the choices' own order, what was not recorded last
        order = {value: i for i, value in enumerate(choices.values)}
        lines.sort(key=lambda line: order.get(line.key, len(order)))
    return lines


def _labels(column: str, choices: Any, keys: list[Any]) -> dict[Any, str]:
    if choices is None:
        names = dict(Provider.objects.filter(pk__in=[k for k in keys if k]).values_list("pk", "name"))
        return {k: names.get(k, "Unknown provider") if k else "Unknown provider" for k in keys}
    return {k: choice_label(column, k, missing="Not recorded") for k in keys}


def _notices_by_kind(start: datetime, end: datetime) -> list[Tally]:
    kinds = (*FIRST_NOTICE_KINDS, *FOLLOW_UP_KINDS)
    sent = dict(
        Notice.objects.filter(state=NoticeState.SENT, kind__in=kinds, sent_at__gte=start, sent_at__lt=end)
        .values_list("kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return [Tally(kind, NoticeKind(kind).label, sent.get(kind, 0)) for kind in kinds]


def _disputes() -> list[Tally]:
    """URLs the provider disputed, by how the dispute stands (an open one first, then accepted)."""
    ((disputed, still_open, accepted, removed),) = _fetch(
        "SELECT COUNT(*), SUM(d.dispute_open), "  # noqa: S608
        "SUM(CASE WHEN d.dispute_open = 0 AND d.dispute_accepted = 1 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN u.removal_kind IN (%s, %s) THEN 1 ELSE 0 END) "
        f"FROM {_DISPUTES} d JOIN {_URLS} u ON u.case_id = d.case_id",
        list(REMOVED_AFTER_NOTICE),
    )
    still_open, accepted, removed = int(still_open or 0), int(accepted or 0), int(removed or 0)
    return [
        Tally("disputed", "URLs disputed by the provider", disputed),
        Tally(DisputeState.OPEN, _("awaiting a senior analyst's decision"), still_open),
        Tally(DisputeState.UPHELD, _("our assessment upheld"), disputed - still_open - accepted),
        Tally(DisputeState.ACCEPTED, _("the provider's view accepted"), accepted),
        Tally("removed", _("removed after all"), removed),
    ]


# --- CSV ---------------------------------------------------------------------------------------

LINE_COLUMNS = [f.name for f in fields(Line)]


def transparency_csv(report: TransparencyReport) -> str:
    """The report as one CSV table with a ``section`` column: ``total``, the breakdowns (the columns
    of `Line`), then ``notices`` and ``follow_ups`` (a count of notices per kind), ``disputes`` (a
    count of URLs) and ``removal_times`` (URLs timed, median and 90th percentile in hours)."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer, lineterminator="\n")  # provider names come from RDAP
    writer.writerow(["section", *LINE_COLUMNS])
    for section, lines in [("total", [report.total]), *report.breakdowns.items()]:
        for line in lines:
            writer.writerow([section, *("" if getattr(line, n) is None else getattr(line, n) for n in LINE_COLUMNS)])
    for section, tallies in (("notices", report.notice_kinds), ("follow_ups", report.follow_ups)):
        for t in tallies:
            writer.writerow([section, t.key, t.label, t.count])
    for t in report.disputes:
        writer.writerow(["disputes", t.key, t.label, "", t.count])
    for key, row in (("removal", report.removal), ("report_removal", report.report_removal)):
        if row is not None:
            writer.writerow(
                ["removal_times", key, _TIMES[key], "", row.count, *[""] * 6, row.median_hours, row.p90_hours]
            )
    return buffer.getvalue()


_TIMES = {"removal": "First notice to removal (hours)", "report_removal": "First report to removal (hours)"}
