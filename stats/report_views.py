"""The yearly transparency report (`stats.transparency`): a printable page and its CSV, for senior
analysts and administrators."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role, require_role
from stats.transparency import (
    BREAKDOWNS,
    TransparencyYearError,
    transparency_csv,
    transparency_report,
    transparency_years,
)

# The first column of each breakdown: what its lines are.
COLUMNS = {
    "provider": _("Hosting provider"),
    "category": _("Category"),
    "legal_basis": _("Legal basis"),
    "ai_generated": _("AI generation"),
    "route": _("Route"),
}


def transparency_page(request: HttpRequest, year: int) -> HttpResponse:
    require_role(request, Role.SENIOR)
    years = transparency_years()
    try:
        report = transparency_report(year=year)
    except TransparencyYearError as exc:
        context = {"year": year, "years": years, "error": str(exc)}
        return render(request, "stats/transparency.html", context, status=404)
    sections = [(name, BREAKDOWNS[name][0], COLUMNS[name], lines) for name, lines in report.breakdowns.items()]
    context = {
        "year": year,
        "years": years,
        "report": report,
        "sections": sections,
        "times": [
            (_("First notice to removal"), report.removal),
            (_("First report to removal (removals before a notice included)"), report.report_removal),
        ],
        "zone": timezone.get_current_timezone_name(),
    }
    return render(request, "stats/transparency.html", context)


def transparency_csv_view(request: HttpRequest, year: int) -> HttpResponse:
    require_role(request, Role.SENIOR)
    try:
        report = transparency_report(year=year)
    except TransparencyYearError as exc:
        return HttpResponse(f"{exc}\n", status=404, content_type="text/plain; charset=utf-8")
    response = HttpResponse(transparency_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="transparency-{year}.csv"'
    return response
