"""Reads of the case list: every case (closed ones too: not illegal, cannot assess, removed) with
its filters, an allow-listed sort, and keyset pages.

A page is found by a cursor (the sort key and id of the last row shown), not by an offset: a page
stays the same page while cases arrive, and the thousandth page costs what the first does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from reports.models import AiGenerated, Assessment, Case, CaseState, Category, Channel, ReportedUrl, Verdict
from workspace.search import Query, cases_matching, query_parse

PAGE_SIZE = 50

# The sorts a person may ask for: name -> (column, descending).
SORTS: dict[str, tuple[str, bool]] = {
    "-received": ("first_reported_at", True),
    "received": ("first_reported_at", False),
    "-changed": ("state_changed_at", True),
    "changed": ("state_changed_at", False),
    "-id": ("id", True),
    "id": ("id", False),
}
SORT_LABELS = [
    ("-received", _("Received, newest first")),
    ("received", _("Received, oldest first")),
    ("-changed", _("Last change, newest first")),
    ("changed", _("Last change, oldest first")),
    ("-id", _("Case number, highest first")),
    ("id", _("Case number, lowest first")),
]
DEFAULT_SORT = "-received"


@dataclass
class CaseFilters:
    """The case list's filters as a query string carries them; unknown values are dropped."""

    q: str = ""  # a search query (workspace.search), narrowing the list to what it finds
    state: str = ""
    verdict: str = ""
    category: str = ""  # of the latest assessment
    ai: str = ""  # AI-generated, of the latest assessment
    provider: str = ""  # a provider's name, as written (any case)
    country: str = ""
    asn: str = ""
    channel: str = ""  # a report of this channel named the case
    partner: str = ""  # a partner's id (senior analysts only)
    assigned: str = ""  # "me", "nobody" or a user's id
    received_from: str = ""  # dates, in the hotline's zone, both ends included
    received_to: str = ""
    changed_from: str = ""
    changed_to: str = ""
    sort: str = DEFAULT_SORT

    @classmethod
    def from_query(cls, query: Any, *, see_partners: bool) -> CaseFilters:
        values = {f.name: (query.get(f.name) or "").strip() for f in fields(cls)}
        for name, allowed in (
            ("state", CaseState.values),
            ("verdict", Verdict.values),
            ("category", Category.values),
            ("ai", AiGenerated.values),
            ("channel", Channel.values),
            ("sort", SORTS),
        ):
            if values[name] not in allowed:
                values[name] = ""
        values["sort"] = values["sort"] or DEFAULT_SORT
        values["country"] = values["country"].upper()[:2] if values["country"].isalpha() else ""
        asn = values["asn"].upper().removeprefix("AS")
        values["asn"] = asn if asn.isdigit() and len(asn) <= 10 else ""
        if not see_partners or not values["partner"].isdigit():
            values["partner"] = ""
        if values["assigned"] not in ("me", "nobody") and not values["assigned"].isdigit():
            values["assigned"] = ""
        for name in ("received_from", "received_to", "changed_from", "changed_to"):
            if _date(values[name]) is None:
                values[name] = ""
        return cls(**values)

    def as_query(self, **changes: str) -> str:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        if values.get("sort") == DEFAULT_SORT:
            del values["sort"]
        return urlencode({k: v for k, v in values.items() if v})

    @property
    def search(self) -> Query | None:
        return query_parse(self.q) if self.q else None

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "sort")


def _date(text: str) -> date | None:
    if not text:
        return None
    try:
        return parse_date(text)
    except ValueError:
        return None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _range(column: str, start: str, end: str) -> Q:
    found = Q()
    if first := _date(start):
        found &= Q(**{f"{column}__gte": _day_start(first)})
    if last := _date(end):
        found &= Q(**{f"{column}__lt": _day_start(last + timedelta(days=1))})
    return found


def cases_filtered(filters: CaseFilters, *, user: Any) -> QuerySet[Case]:
    """The cases the filters leave, unordered."""
    cases = Case.objects.all()
    query = filters.search
    if query is not None:
        cases = cases_matching(query)
    if filters.state:
        cases = cases.filter(state=filters.state)
    if filters.verdict:
        cases = cases.filter(verdict=filters.verdict)
    if filters.category or filters.ai:
        latest = Assessment.objects.filter(case=OuterRef("pk")).order_by("-at", "-id")
        if filters.category:
            cases = cases.annotate(latest_category=Subquery(latest.values("category")[:1])).filter(
                latest_category=filters.category
            )
        if filters.ai:
            cases = cases.annotate(latest_ai=Subquery(latest.values("ai_generated")[:1])).filter(latest_ai=filters.ai)
    if filters.provider:
        cases = cases.filter(provider__name__iexact=filters.provider)
    if filters.country:
        cases = cases.filter(hosting_country=filters.country)
    if filters.asn:
        cases = cases.filter(asn=int(filters.asn))
    if filters.channel:
        cases = cases.filter(Exists(ReportedUrl.objects.filter(case=OuterRef("pk"), report__channel=filters.channel)))
    if filters.partner:
        cases = cases.filter(
            Exists(ReportedUrl.objects.filter(case=OuterRef("pk"), report__partner_id=int(filters.partner)))
        )
    if filters.assigned == "me":
        cases = cases.filter(assigned_to=user)
    elif filters.assigned == "nobody":
        cases = cases.filter(assigned_to__isnull=True)
    elif filters.assigned:
        cases = cases.filter(assigned_to_id=int(filters.assigned))
    cases = cases.filter(_range("first_reported_at", filters.received_from, filters.received_to))
    return cases.filter(_range("state_changed_at", filters.changed_from, filters.changed_to))


# Keyset pages ------------------------------------------------------------------------------------


def cursor_encode(value: Any, pk: int) -> str:
    raw = f"{value.isoformat() if isinstance(value, datetime) else value}~{pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(cursor: str, column: str) -> tuple[Any, int] | None:
    """The (sort value, id) a cursor carries; None for a cursor that is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        text, _sep, pk = raw.rpartition("~")
        value: Any = int(text) if column == "id" else parse_datetime(text)
        if value is None or not pk.isdigit():
            return None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return value, int(pk)


@dataclass(frozen=True)
class CaseListPage:
    cases: list[Case]
    next_cursor: str  # "" on the last page
    first_page: bool
    previous_cursor: str = ""  # "" on the first page: the page before ends just before this cursor


def cases_page(
    cases: QuerySet[Case], *, sort: str, cursor: str = "", before: str = "", size: int = PAGE_SIZE
) -> CaseListPage:
    """One page of ``cases`` in the order ``sort`` names: the rows after the row ``cursor`` names,
    or (``before``, paging backwards) the last ``size`` rows before the row ``before`` names."""
    column, descending = SORTS.get(sort, SORTS[DEFAULT_SORT])
    backwards = cursor_decode(before, column) if before and not cursor else None
    after = cursor_decode(cursor, column) if cursor else None
    bound = backwards or after
    # Paging backwards walks the same order reversed from the cursor, then turns the rows round.
    forwards = not descending if backwards is not None else descending
    if bound is not None:
        value, pk = bound
        op = "lt" if forwards else "gt"
        if column == "id":
            cases = cases.filter(**{f"id__{op}": pk})
        else:
            cases = cases.filter(Q(**{f"{column}__{op}": value}) | Q(**{column: value, f"id__{op}": pk}))
    prefix = "-" if forwards else ""
    order = [f"{prefix}{column}"] if column == "id" else [f"{prefix}{column}", f"{prefix}id"]
    rows = list(cases.select_related("provider", "assigned_to").order_by(*order)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards is not None:
        rows.reverse()
    first, last = (rows[0], rows[-1]) if rows else (None, None)
    if backwards is not None:
        # Came from a later page, so one follows; one comes before only if more rows were found.
        next_cursor = cursor_encode(getattr(last, column), last.pk) if last is not None else before
        previous_cursor = cursor_encode(getattr(first, column), first.pk) if more and first is not None else ""
    else:
        next_cursor = cursor_encode(getattr(last, column), last.pk) if more and last is not None else ""
        previous_cursor = cursor_encode(getattr(first, column), first.pk) if after and first is not None else ""
    return CaseListPage(
        cases=rows,
        next_cursor=next_cursor,
        first_page=bound is None or not previous_cursor,
        previous_cursor=previous_cursor,
    )


# Rows ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    """One case as the list shows it."""

    pk: int
    url: str
    state: str
    state_code: str
    verdict: str
    provider: str
    country: str
    asn: int | None
    received: datetime
    changed: datetime
    assigned: str
    reported_by: str  # the first report's channel; with the partner's name for senior analysts
    urgent: bool


def case_rows(cases: list[Case], *, see_partners: bool) -> list[CaseRow]:
    first_reports: dict[int, str] = {}
    named = (
        ReportedUrl.objects.filter(case_id__in=[c.pk for c in cases])
        .select_related("report__partner")
        .order_by("case_id", "report__received_at", "id")
    )
    for item in named:
        if item.case_id in first_reports:
            continue
        report = item.report
        text = str(report.get_channel_display())
        if report.partner is not None:
            text += f" ({report.partner.name})" if see_partners else f" ({_('a partner')})"
        first_reports[item.case_id] = text
    return [
        CaseRow(
            pk=c.pk,
            url=c.canonical_url,
            state=c.get_state_display(),
            state_code=c.state,
            verdict=c.get_verdict_display() if c.verdict else "",
            provider=c.provider.name if c.provider else "",
            country=c.hosting_country,
            asn=c.asn,
            received=c.first_reported_at,
            changed=c.state_changed_at,
            assigned=c.assigned_to.get_username() if c.assigned_to else "",
            reported_by=first_reports.get(c.pk, ""),
            urgent=c.urgent,
        )
        for c in cases
    ]
