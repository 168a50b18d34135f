"""The statistics dashboard, its charts and its CSV exports (analysts and above).

- ``/stats/``: headline figures, trends, the distribution of one measure, the slowest providers
  and countries, routes, channels and AI-generated content, for the filters of the query string
  (`stats.params`; a value it cannot use is a 400 with the message, never a 500).
- ``/stats/chart/<name>.svg``: a chart of the page (`stats.charts`), with the same query string.
  Charts are separate documents because matplotlib's SVG styles itself inline, which the pages'
  Content-Security-Policy forbids; each chart response carries a policy of its own that allows
  only that.
- ``/stats/export/<table>.csv``: any table of the page; ``/stats/export/cases.csv``: one timing
  row per case, streamed, with the URL only for senior analysts (others get its SHA-256).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from accounts.models import AuditAction
from accounts.roles import Role, has_role, require_role
from accounts.services import AuditContext, audit_record
from routing.models import Provider
from scart.spreadsheets import cell
from scart.times import file_stamp, iso
from stats.dashboard import dashboard_data
from stats.dashboard_tables import TABLE_QUERIES, Table, dashboard_tables
from stats.measures import MEASURES, StatsQueryError, choice_label
from stats.models import CaseTiming
from stats.params import CHOICES, StatsParams, stats_params

# The filters the form has fields for; any other filter of the query string is kept as a hidden
# field (a row's link narrows the page by route, channel or AI flag).
FORM_FIELDS = ("from", "to", "country", "provider", "measure", "working_hours")
EXTRA_FILTERS = ("asn", *CHOICES)
# The page's charts, in order, with what each shows for a screen reader.
CHART_ALTS = {
    "weekly-volumes": _("Bar chart of cases reported and illegal per week; the table by week has the figures."),
    "weekly-times": _("Line chart of the median and 90th percentile per week; the table by week has the figures."),
    "distribution": _("Histogram of the cases by duration; the distribution table has the figures."),
    "shares": _("Line chart of the shares within 24 and 72 hours per month; the table by month has the figures."),
}
CASE_CHUNK = 2_000
DURATIONS = ("assess", "notice", "report_notice", "removal", "report_removal")


def _query(params: StatsParams, **changes: Any) -> str:
    return urlencode(params.query(**changes))


def dashboard(request: HttpRequest) -> HttpResponse:
    require_role(request, Role.ANALYST)
    form = {name: request.GET.get(name, "") for name in FORM_FIELDS}
    context: dict[str, Any] = {
        "form": form,
        "measures": MEASURES.values(),
        "selected_measure": form["measure"] or "removal",
        "working_checked": form["working_hours"].lower() in ("1", "true", "yes"),
        "zone": timezone.get_current_timezone_name(),
        "last_year": timezone.localdate().year - 1,
    }
    try:
        params = stats_params(request.GET)
    except StatsQueryError as exc:
        context["error"] = str(exc)
        return render(request, "stats/dashboard.html", context, status=400)
    tables = dashboard_tables(dashboard_data(params), params)
    query = _query(params)
    context.update(
        {
            "params": params,
            "query": query,
            "unit": _("working hours") if params.working_hours else _("hours"),
            "measure": MEASURES[params.measure],
            "provider_name": _provider_name(params.filters.provider),
            "extra": _extra_filters(params),
            "headline": [_cells(tables["overview"], row, params)[:2] for row in tables["overview"].rows],
            "charts": [
                {"url": f"{reverse('stats-chart', args=[name])}?{query}", "alt": alt}
                for name, alt in CHART_ALTS.items()
            ],
            "tables": {name: _display(table, params) for name, table in tables.items() if name != "overview"},
            "overview_export": f"{reverse('stats-export', args=['overview'])}?{query}",
            "cases_export": f"{reverse('stats-export-cases')}?{query}",
            "may_see_urls": has_role(request.user, Role.SENIOR),
        }
    )
    return render(request, "stats/dashboard.html", context)


def _provider_name(pk: int | None) -> str:
    if pk is None:
        return ""
    return Provider.objects.filter(pk=pk).values_list("name", flat=True).first() or str(_("no such provider"))


def _extra_filters(params: StatsParams) -> list[dict[str, str]]:
    """The filters set that the form has no field for: each kept as a hidden field, and shown
    with a link that removes it."""
    values = params.filters.as_dict()
    found = []
    for name in EXTRA_FILTERS:
        value = values.get(name)
        if value in (None, ""):
            continue
        fields = params.query()
        fields.pop(name, None)
        found.append(
            {
                "name": name,
                "value": str(value),
                "label": f"{name.replace('_', ' ')}: {choice_label(name, value) if name in CHOICES else value}",
                "remove": urlencode(fields),
            }
        )
    return found


def _format(value: Any, kind: str, unit: str = "") -> str:
    if value is None or value == "":
        return "\N{EN DASH}"  # as the other pages show a missing value
    if kind == "unit":
        kind = {"cases": "count", "share": "share"}.get(unit, "hours")
    # In the reader's language: 1,234.5 and 12.1% in English, 1.234,5 and 12,1% in Dutch.
    # number_format cuts decimals off: round first, as the format strings before it did.
    if kind == "count":
        return number_format(value, force_grouping=True)
    if kind == "hours":
        return number_format(round(value, 1), 1, force_grouping=True)
    if kind == "share":
        return f"{number_format(round(value * 100, 1), 1)}%"
    if isinstance(value, date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


def _cells(table: Table, row: dict[str, Any], params: StatsParams) -> list[dict[str, Any]]:
    cells = []
    for i, column in enumerate(table.columns):
        cell: dict[str, Any] = {
            "text": _format(row.get(column.key), column.kind, row.get("unit", "")),
            "numeric": column.kind not in ("text", "date"),
            "href": "",
        }
        if i == 0 and table.links and row.get(table.links[1]) not in (None, ""):
            param, key = table.links
            cell["href"] = f"?{_query(params, **{param: row[key]})}"
        cells.append(cell)
    return cells


def _display(table: Table, params: StatsParams) -> dict[str, Any]:
    return {
        "name": table.name,
        "title": table.title,
        "note": table.note,
        "headers": [{"label": c.label, "numeric": c.kind not in ("text", "date")} for c in table.columns],
        "rows": [_cells(table, row, params) for row in table.rows],
        "export": f"{reverse('stats-export', args=[table.name])}?{_query(params)}",
    }


def _params_or_400(request: HttpRequest) -> StatsParams | HttpResponse:
    """The filters of the query string, or the plain-text 400 that says what is wrong with them
    (for a chart or an export, which have no page to show it on)."""
    try:
        return stats_params(request.GET)
    except StatsQueryError as exc:
        return HttpResponse(f"{exc}\n", status=400, content_type="text/plain; charset=utf-8")


def chart(request: HttpRequest, name: str) -> HttpResponse:
    """One chart of the dashboard as SVG, drawn for the query string's filters."""
    require_role(request, Role.ANALYST)
    from stats.charts import CHARTS, chart_svg  # matplotlib loads on the first chart, not at start-up

    if name not in CHARTS:
        raise Http404("no such chart")
    params = _params_or_400(request)
    if isinstance(params, HttpResponse):
        return params
    svg = chart_svg(name, dashboard_data(params, only=CHARTS[name].queries), params)
    response = HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")
    # matplotlib's SVG styles its elements inline; the document holds no script and nothing else.
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    response["Cache-Control"] = "private, max-age=60"
    return response


# --- CSV ---------------------------------------------------------------------------------------


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return cell(value)


def _csv_response(filename: str) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def export_table(request: HttpRequest, table: str) -> HttpResponse:
    """A table of the dashboard, every column, with its raw values (hours, shares as fractions)."""
    require_role(request, Role.ANALYST)
    if table not in TABLE_QUERIES:
        raise Http404("no such table")
    params = _params_or_400(request)
    if isinstance(params, HttpResponse):
        return params
    found = dashboard_tables(dashboard_data(params, only=TABLE_QUERIES[table]), params)[table]
    response = _csv_response(f"scart-stats-{table}-{file_stamp()}.csv")
    writer = csv.writer(response)
    keys = [c.key for c in found.columns]
    # Every table but the headline figures is of one measure, in one unit: each row says which.
    tagged = table != "overview"
    writer.writerow([*keys, *(["measure", "unit"] if tagged else [])])
    unit = "working_hours" if params.working_hours else "hours"
    for row in found.rows:
        writer.writerow([*(_csv_value(row.get(k)) for k in keys), *([params.measure, unit] if tagged else [])])
    return response


class _Echo:
    """A file whose ``write`` hands the line back, for `csv.writer` in a streamed response."""

    def write(self, value: str) -> str:
        return value


def export_cases(request: HttpRequest) -> HttpResponseBase:
    """One row per case of the filters with its moments and durations (`CaseTiming`), streamed.
    Senior analysts get the URL, everyone else its SHA-256; every export is audited."""
    require_role(request, Role.ANALYST)
    params = _params_or_400(request)
    if isinstance(params, HttpResponse):
        return params
    with_urls = has_role(request.user, Role.SENIOR)
    audit_record(
        action=AuditAction.EXPORTED,
        audit=AuditContext.from_request(request),
        object_type="case_timings",
        summary=gettext_noop("statistics export of case timings (URLs)")
        if with_urls
        else gettext_noop("statistics export of case timings (URL hashes)"),
        summary_params={},
        data={"filters": params.filters.as_dict(), "urls": with_urls},
    )
    response = StreamingHttpResponse(_case_lines(params, with_urls=with_urls), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scart-case-timings-{file_stamp()}.csv"'
    return response


def _case_lines(params: StatsParams, *, with_urls: bool) -> Iterator[str]:
    moments = ["first_reported_at", "first_verdict_at", "first_notice_at", "removed_at", "last_online_at"]
    groups = [
        "route",
        "hosting_country",
        "provider_id",
        "provider__name",
        "asn",
        "channel",
        "legal_basis",
        "category",
        "ai_generated",
    ]
    columns = [
        "case_id",
        "case__canonical_url" if with_urls else "url_sha256",
        *moments,
        "illegal",
        "removal_kind",
        "still_online",
        "reappeared",
        *(f"{d}_s" for d in DURATIONS),
        *(f"{d}_wh" for d in DURATIONS),
        *groups,
    ]
    header = [
        "case",
        "url" if with_urls else "url_sha256",
        *moments,
        "illegal",
        "removal_kind",
        "still_online",
        "reappeared",
        *(f"{d}_hours" for d in DURATIONS),
        *(f"{d}_working_hours" for d in DURATIONS),
        *(g.replace("provider__name", "provider") for g in groups),
    ]
    durations = {i for i, name in enumerate(columns) if name.endswith(("_s", "_wh"))}
    rows = params.filters.apply(CaseTiming.objects.all()).order_by("case_id").values_list(*columns)
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    lines: list[str] = []
    for row in rows.iterator(chunk_size=CASE_CHUNK):
        values = [
            ("" if v is None else round(v / 3600, 2)) if i in durations else _csv_value(v) for i, v in enumerate(row)
        ]
        lines.append(writer.writerow(values))
        if len(lines) >= CASE_CHUNK:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)
