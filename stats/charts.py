"""The dashboard's charts, drawn by matplotlib on the server and returned as SVG text.

Figures are made with matplotlib's object API (`Figure`, no pyplot), as matplotlib advises for
web servers: no global figure state, so nothing accumulates in a long-running worker, and no GUI
backend is ever selected (``savefig`` renders with matplotlib's own SVG backend). Each chart draws the rows of `stats.dashboard` queries; `CHARTS` says
which queries each needs, so that ``/stats/chart/<name>.svg`` runs only those. Text is drawn as
paths: the SVG needs no fonts and holds no text from the data but week and bucket labels.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import matplotlib
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from matplotlib.typing import RcKeyType

from stats.dashboard_tables import Table, bucket_labels, dashboard_tables
from stats.measures import MEASURES
from stats.params import StatsParams

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

BLUE, RED, AMBER, GREY = "#0b5cad", "#b3261e", "#8a5a00", "#9aa5b1"
STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "path",
    "svg.hashsalt": "scart-stats",  # the same chart gives the same SVG
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e4e7eb",
    "axes.axisbelow": True,
}


@dataclass(frozen=True)
class Chart:
    title: StrOrPromise
    queries: tuple[str, ...]
    draw: Callable[[Axes, dict[str, Table], StatsParams], None]


def _unit(params: StatsParams) -> str:
    return _("working hours") if params.working_hours else _("hours")


def _ticks(ax: Axes, labels: Sequence[str], *, most: int = 12) -> None:
    """Label at most ``most`` of the positions 0..n-1, evenly spaced."""
    step = max(1, math.ceil(len(labels) / most))
    positions = list(range(len(labels)))[::step]
    ax.set_xticks(positions, [labels[i] for i in positions])


def _week_labels(rows: Sequence[dict[str, Any]]) -> list[str]:
    weeks: list[date] = [r["week_start"] for r in rows]
    return [date_format(w, "j M Y") for w in weeks]


def _nan(values: Sequence[Any]) -> list[float]:
    """None as NaN: a gap in the line, not a zero."""
    return [math.nan if v is None else float(v) for v in values]


def _empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, _("No cases for these filters"), ha="center", va="center", transform=ax.transAxes, color=GREY)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_weekly_volumes(ax: Axes, tables: dict[str, Table], params: StatsParams) -> None:
    rows = tables["weeks"].rows
    if not rows:
        return _empty(ax)
    # Steps, one filled shape per series: a bar per week costs a path per week to draw.
    edges = [i - 0.5 for i in range(len(rows) + 1)]
    ax.stairs([r["cases"] for r in rows], edges, fill=True, color=GREY, label=_("Cases reported"))
    ax.stairs([r["illegal"] for r in rows], edges, fill=True, color=RED, label=_("Illegal"))
    ax.set_ylabel(_("cases per week"))
    ax.legend(loc="upper left", frameon=False)
    ax.grid(axis="x", visible=False)
    _ticks(ax, _week_labels(rows), most=8)


def draw_weekly_times(ax: Axes, tables: dict[str, Table], params: StatsParams) -> None:
    rows = tables["weeks"].rows
    if not any(r["count"] for r in rows):
        return _empty(ax)
    positions = range(len(rows))
    ax.plot(positions, _nan([r["median_hours"] for r in rows]), color=BLUE, marker=".", label=_("Median"))
    ax.plot(positions, _nan([r["p90_hours"] for r in rows]), color=AMBER, linestyle="--", label=_("90th percentile"))
    ax.set_ylabel(_unit(params))
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", frameon=False)
    _ticks(ax, _week_labels(rows), most=8)


def draw_distribution(ax: Axes, tables: dict[str, Table], params: StatsParams) -> None:
    rows = tables["distribution"].rows
    if not any(r["cases"] for r in rows):
        return _empty(ax)
    labels = bucket_labels()
    bars = ax.bar(labels, [r["cases"] for r in rows], color=BLUE)
    ax.bar_label(bars, fmt="{:,.0f}", fontsize=8, padding=2)
    ax.set_xlabel(_unit(params))
    ax.set_ylabel(_("cases"))
    ax.grid(axis="x", visible=False)


def draw_shares(ax: Axes, tables: dict[str, Table], params: StatsParams) -> None:
    rows = tables["months"].rows
    if not rows:
        return _empty(ax)
    positions = range(len(rows))
    ax.plot(positions, _nan([r["within_24h"] for r in rows]), color=RED, marker="o", label=_("Within 24 h"))
    ax.plot(positions, _nan([r["within_72h"] for r in rows]), color=BLUE, marker="o", label=_("Within 72 h"))
    _ticks(ax, [r["month"] for r in rows])
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylabel(
        _("share of cases (%(unit)s)") % {"unit": _unit(params)} if params.working_hours else _("share of cases")
    )
    ax.legend(loc="lower left", frameon=False)


CHARTS: dict[str, Chart] = {
    "weekly-volumes": Chart(gettext_lazy("Cases reported and illegal per week"), ("volumes",), draw_weekly_volumes),
    "weekly-times": Chart(gettext_lazy("{measure} per week"), ("weekly_times",), draw_weekly_times),
    "distribution": Chart(gettext_lazy("Distribution of {measure_lower}"), ("headline",), draw_distribution),
    "shares": Chart(gettext_lazy("{measure}: share within 24 h and 72 h per month"), ("monthly_shares",), draw_shares),
}


def chart_title(name: str, params: StatsParams) -> str:
    measure = MEASURES[params.measure].label
    return str(CHARTS[name].title).format(measure=measure, measure_lower=str(measure).lower())


def chart_svg(name: str, data: dict[str, Any], params: StatsParams) -> str:
    """The chart ``name`` of `CHARTS` as an SVG document, from `stats.dashboard.dashboard_data`'s
    results (at least the chart's queries)."""
    chart = CHARTS[name]
    tables = dashboard_tables(data, params)
    with matplotlib.rc_context(STYLE):
        figure = Figure(figsize=(8, 3))
        # Fixed margins rather than a layout engine, which draws the figure twice.
        figure.subplots_adjust(left=0.085, right=0.985, bottom=0.15, top=0.9)
        ax = figure.subplots()
        ax.set_title(chart_title(name, params), loc="left", fontsize=10)
        chart.draw(ax, tables, params)
        out = io.StringIO()
        # No date in the metadata: the same figures give the same document.
        figure.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
