"""The statistics dashboard: its figures for hand-checkable timelines, its charts (matplotlib SVG),
its CSV exports and who may see what."""

from __future__ import annotations

import csv
import html
import io
import itertools
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reports.models import RemovalKind, Verdict
from routing.models import NoticeKind
from stats.dashboard import QUERIES, dashboard_data
from stats.models import CaseTiming, week_of
from stats.params import StatsParams, stats_params
from stats.takedown_times import sort_memory
from stats.timings import timings_refresh_all
from tests.conftest import staff_client
from tests.stats.builders import provider, timeline

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # week 10 of 2026
NEXT_MONDAY = MONDAY + timedelta(days=7)  # week 11
SVG = "{http://www.w3.org/2000/svg}svg"


@pytest.fixture
def history():
    """Thirteen cases whose figures are checked by hand below (hours).

    Week 10, NL, provider p1: removed 10, 20, 30, 40, 50 h after the first notice; one more
    notified and still online; one removed before any notice (3 h after the verdict); one not
    illegal. Week 11, DE, provider p2, referred to a partner hotline through the web form:
    removed 60, 80, 100, 120, 140 h after the notice, the first of them AI-generated.
    """
    p1 = provider("p1")
    p2 = provider("p2", country="DE", asn=64501)
    cases = [
        timeline(MONDAY, verdict_after=1, notice_after=1, removed_after=hours, host_provider=p1)
        for hours in (10, 20, 30, 40, 50)
    ]
    cases += [
        timeline(
            NEXT_MONDAY,
            verdict_after=1,
            notice_after=1,
            removed_after=hours,
            host_provider=p2,
            country="DE",
            asn=64501,
            notice_kind=NoticeKind.REFERRAL,
            channel="web_form",
            ai_generated="yes" if hours == 60 else "no",
        )
        for hours in (60, 80, 100, 120, 140)
    ]
    cases.append(timeline(MONDAY, verdict_after=1, notice_after=1, host_provider=p1))
    cases.append(timeline(MONDAY, verdict_after=1, removed_after=3, removal_kind=RemovalKind.BEFORE_NOTICE))
    cases.append(timeline(MONDAY, verdict_after=2, verdict=Verdict.NOT_ILLEGAL))
    timings_refresh_all()
    return {"p1": p1, "p2": p2, "cases": cases}


def _text(response) -> str:
    return html.unescape(response.content.decode())


def _csv(response) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(body.decode())))


def _figures(response) -> dict[str, str]:
    """The headline figures as the page shows them, by their label."""
    return {label["text"]: value["text"] for label, value in response.context["headline"]}


def test_it_shows_the_hand_checked_figures_to_an_analyst(client, history, analyst):
    response = client.get("/stats/")
    assert response.status_code == 200
    page = _text(response)
    figures = _figures(response)
    assert figures["Cases first reported"] == "13"
    assert figures["Illegal"] == "12"
    assert figures["Removed before any notice"] == "1"
    assert figures["Illegal and still online"] == "1"
    # Notice to removal: 10 20 30 40 50 60 80 100 120 140.
    assert figures["Time to removal: cases timed"] == "10"
    assert figures["Time to removal: median (hours)"] == "55.0"
    assert figures["Time to removal: 90th percentile (hours)"] == "122.0"
    assert figures["Time to removal: within 24 h"] == "20.0%"
    assert figures["Time to removal: within 72 h"] == "60.0%"
    assert figures["AI-generated or suspected, of illegal"] == "8.3%"
    # The definitions of every measure are on the page.
    assert "First notice sent → removed (first of the gone checks)." in page
    assert "Removals before any notice and after 72 h unreachable are counted apart" in page
    assert "First report received → first verdict." in page
    # The slowest providers and countries, highest median first.
    providers = [row[0]["text"] for row in response.context["tables"]["providers"]["rows"]]
    assert providers == ["p2", "p1"]
    countries = [(row[0]["text"], row[3]["text"]) for row in response.context["tables"]["countries"]["rows"]]
    assert countries == [("Germany (DE)", "100.0"), ("Netherlands (NL)", "30.0")]
    # Each slow provider links to the page narrowed to it.
    assert f"?measure=removal&provider={history['p2'].pk}" in page
    # The weeks: volumes and median time to removal.
    weeks = {row[0]["text"]: [c["text"] for c in row] for row in response.context["tables"]["weeks"]["rows"]}
    assert weeks["2026-W10"][2:6] == ["8", "7", "5", "30.0"]
    assert weeks["2026-W11"][2:6] == ["5", "5", "5", "100.0"]
    routes = {row[0]["text"]: row[2]["text"] for row in response.context["tables"]["routes"]["rows"]}
    assert routes == {"Own country: notice to the hosting provider": "5", "Referred to a partner hotline": "5"}
    ai = {row[0]["text"]: (row[2]["text"], row[3]["text"]) for row in response.context["tables"]["ai"]["rows"]}
    assert ai == {"Yes": ("1", "8.3%"), "No": ("11", "91.7%")}
    # Nothing the page's Content-Security-Policy would block: no inline script or style.
    assert "<script" not in page and "<style" not in page and " style=" not in page


def test_the_distribution_is_counted_per_bucket(history):
    headline = dashboard_data(stats_params({}), only=["headline"])["headline"]
    counts = headline.histogram
    # (0,6] (6,12] (12,24] (24,48] (48,72] (72,168] (168,336] (336,720] over 720
    assert counts == [0, 1, 1, 2, 2, 4, 0, 0, 0]
    assert sum(counts[:3]) == 2  # the shares within 24 h count the same cases
    assert sum(counts[:3]) == round(headline.within_24h * headline.count)  # from the same scan
    assert sum(counts[:5]) == round(headline.within_72h * headline.count)
    hours = dashboard_data(stats_params({"measure": "assess"}), only=["headline"])["headline"].histogram
    assert hours == [13, 0, 0, 0, 0, 0, 0, 0, 0]


def test_filters_change_the_figures(client, history, analyst):
    response = client.get("/stats/", {"country": "de"})
    figures = _figures(response)
    assert figures["Cases first reported"] == "5"
    assert figures["Time to removal: median (hours)"] == "100.0"

    response = client.get("/stats/", {"from": "2026-03-01", "to": "2026-03-09", "provider": history["p1"].pk})
    figures = _figures(response)
    assert figures["Cases first reported"] == "6"
    assert figures["Time to removal: median (hours)"] == "30.0"
    p1 = history["p1"].pk
    assert f'hosted by <a href="/providers/{p1}/">p1</a>' in _text(response)
    # The same provider by its name, in any case.
    by_name = client.get("/stats/", {"from": "2026-03-01", "to": "2026-03-09", "provider": "P1"})
    assert _figures(by_name) == figures

    response = client.get("/stats/", {"measure": "assess", "working_hours": "1"})
    figures = _figures(response)
    assert figures["Time to assess: cases timed"] == "13"
    assert "in working hours" in _text(response)


def test_a_filter_that_cannot_be_used_is_a_400_with_the_message(client, analyst):
    response = client.get("/stats/", {"from": "yesterday"})
    assert response.status_code == 400
    assert "from: 'yesterday' is not a date (YYYY-MM-DD)" in _text(response)
    assert client.get("/stats/", {"measure": "speed"}).status_code == 400
    assert client.get("/stats/", {"from": "2026-03-09", "to": "2026-03-01"}).status_code == 400
    assert client.get("/stats/", {"provider": "9" * 25}).status_code == 400
    assert client.get("/stats/chart/shares.svg", {"country": "Dutch"}).status_code == 400
    assert client.get("/stats/export/weeks.csv", {"provider": "no such host"}).status_code == 400
    assert client.get("/stats/export/cases.csv", {"working_hours": "maybe"}).status_code == 400


def test_anonymous_visitors_are_sent_to_the_login(client):
    for path in ("/stats/", "/stats/chart/shares.svg", "/stats/export/cases.csv"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_user_without_a_role_is_refused():
    client = staff_client("nobody-stats", None)
    assert client.get("/stats/").status_code == 403


@pytest.mark.parametrize("name", ["weekly-volumes", "weekly-times", "distribution", "shares"])
def test_the_charts_are_svg_drawn_by_matplotlib(client, history, analyst, name):
    response = client.get(f"/stats/chart/{name}.svg", {"country": "NL"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert "script-src" not in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    body = response.content.decode()
    root = ET.fromstring(response.content)
    assert root.tag == SVG
    assert "Matplotlib v" in body and "https://matplotlib.org" in body
    assert "<script" not in body


def test_a_chart_with_no_cases_still_draws(client, analyst):
    response = client.get("/stats/chart/weekly-times.svg")
    assert response.status_code == 200 and ET.fromstring(response.content).tag == SVG
    assert client.get("/stats/chart/pie.svg").status_code == 404


def test_the_page_links_its_charts_and_exports_with_its_filters(client, history, analyst):
    page = _text(client.get("/stats/", {"country": "DE"}))
    for name in ("weekly-volumes", "weekly-times", "distribution", "shares"):
        assert f"/stats/chart/{name}.svg?measure=removal&country=DE" in page
    for table in ("overview", "weeks", "months", "distribution", "providers", "countries", "routes", "channels", "ai"):
        assert f"/stats/export/{table}.csv?measure=removal&country=DE" in page
    assert "/stats/export/cases.csv?measure=removal&country=DE" in page


def test_every_table_exports_as_csv(client, history, analyst):
    for table in ("overview", "weeks", "months", "distribution", "providers", "countries", "routes", "channels", "ai"):
        response = client.get(f"/stats/export/{table}.csv")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert _csv(response), table
    providers = _csv(client.get("/stats/export/providers.csv"))
    assert [(r["name"], r["count"], r["median_hours"], r["within_72h"]) for r in providers] == [
        ("p2", "5", "100.0", "0.2"),
        ("p1", "5", "30.0", "1.0"),
    ]
    assert {r["unit"] for r in providers} == {"hours"}
    overview = {r["figure"]: r["value"] for r in _csv(client.get("/stats/export/overview.csv"))}
    assert (overview["cases"], overview["removal_median_hours"], overview["removal_within_24h"]) == (
        "13",
        "55.0",
        "0.2",
    )
    weeks = _csv(client.get("/stats/export/weeks.csv", {"measure": "assess", "working_hours": "1"}))
    assert [(w["week"], w["week_start"], w["cases"], w["illegal"]) for w in weeks] == [
        ("2026-W10", "2026-03-02", "8", "7"),
        ("2026-W11", "2026-03-09", "5", "5"),
    ]
    assert {(w["measure"], w["unit"]) for w in weeks} == {("assess", "working_hours")}
    distribution = _csv(client.get("/stats/export/distribution.csv"))
    assert [r["cases"] for r in distribution] == ["0", "1", "1", "2", "2", "4", "0", "0", "0"]
    assert client.get("/stats/export/secrets.csv").status_code == 404


def test_an_analyst_exports_case_timings_with_url_hashes(client, history, analyst):
    response = client.get("/stats/export/cases.csv", {"country": "DE"})
    assert response.status_code == 200 and response.streaming
    rows = _csv(response)
    assert len(rows) == 5
    assert "url" not in rows[0] and all(len(r["url_sha256"]) == 64 for r in rows)
    by_case = {int(r["case"]): r for r in rows}
    first = by_case[history["cases"][5].pk]
    assert first["url_sha256"] == history["cases"][5].url_sha256
    assert (first["removal_hours"], first["report_removal_hours"], first["assess_hours"]) == ("60.0", "62.0", "1.0")
    assert (first["route"], first["hosting_country"], first["provider"], first["asn"]) == (
        "partner_hotline",
        "DE",
        "p2",
        "64501",
    )
    assert (first["channel"], first["legal_basis"], first["category"], first["ai_generated"]) == (
        "web_form",
        "baseline",
        "A1",
        "yes",
    )
    # Moments in TIME_ZONE (Europe/Amsterdam, +01:00 in March before the change to summer time).
    assert first["first_reported_at"] == "2026-03-09T10:00:00+01:00"
    assert first["removed_at"] == "2026-03-12T00:00:00+01:00"
    assert "https://" not in b"".join(client.get("/stats/export/cases.csv").streaming_content).decode()


def test_a_senior_analyst_exports_case_timings_with_urls(client, history, senior):
    rows = _csv(client.get("/stats/export/cases.csv"))
    assert len(rows) == 13
    urls = {int(r["case"]): r["url"] for r in rows}
    assert urls == {case.pk: case.canonical_url for case in history["cases"]}
    assert "url_sha256" not in rows[0]


def test_case_exports_are_audited(client, history, analyst):
    from accounts.models import AuditAction, AuditEntry

    b"".join(client.get("/stats/export/cases.csv", {"country": "NL"}).streaming_content)
    entry = AuditEntry.objects.get(action=AuditAction.EXPORTED)
    assert entry.data["filters"] == {"country": "NL"} and entry.data["urls"] is False


def test_exports_cannot_smuggle_spreadsheet_formulas(client, history, analyst):
    history["p2"].name = "=HYPERLINK(1)"
    history["p2"].save()
    providers = _csv(client.get("/stats/export/providers.csv"))
    assert providers[0]["name"] == "'=HYPERLINK(1)"
    rows = _csv(client.get("/stats/export/cases.csv", {"country": "DE"}))
    assert {r["provider"] for r in rows} == {"'=HYPERLINK(1)"}


def test_the_dashboard_is_a_handful_of_queries(history):
    params = stats_params({"country": "NL"})
    with CaptureQueriesContext(connection) as captured:
        data = dashboard_data(params)
    assert set(data) == set(QUERIES)
    # Not counted: the savepoints and work_mem settings around the percentiles (PostgreSQL).
    reads = [
        q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT") and "set_config" not in q["sql"]
    ]
    assert len(reads) <= len(QUERIES) + 3  # the ages of the middle and oldest still online, the providers' names


def test_senior_analysts_find_the_transparency_report_from_the_dashboard(client, history, analyst):
    link = f"/stats/transparency/{timezone.localdate().year - 1}/"
    assert link not in client.get("/stats/").content.decode()
    assert link in staff_client("sen", "senior").get("/stats/").content.decode()


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_the_queries_run_on_several_connections_with_the_same_results(history, settings, monkeypatch):
    """Outside a transaction, on PostgreSQL, the queries share SCART_STATS_CONNECTIONS connections
    (threads); the figures are those of one connection. Elsewhere everything runs here."""
    threads: dict[str, str] = {}
    parallel = connection.vendor == "postgresql"
    # The first three queries wait for each other: with three connections they must be on three
    # threads (a fast thread could otherwise take every query).
    barrier: list[threading.Barrier] = []
    started = itertools.count()

    def recorded(name: str, run: Callable[[StatsParams], Any]) -> Callable[[StatsParams], Any]:
        def query(params: StatsParams) -> Any:
            threads[name] = threading.current_thread().name
            if barrier and next(started) < 3:
                barrier[0].wait()
            return run(params)

        return query

    monkeypatch.setattr("stats.dashboard.QUERIES", {name: recorded(name, run) for name, run in QUERIES.items()})
    params = stats_params({})
    with time_machine.travel(NEXT_MONDAY + timedelta(days=30), tick=False):
        settings.SCART_STATS_CONNECTIONS = 1
        alone = dashboard_data(params)
        assert set(threads.values()) == {threading.current_thread().name}
        threads.clear()
        settings.SCART_STATS_CONNECTIONS = 3
        if parallel:
            barrier.append(threading.Barrier(3, timeout=30))
        together = dashboard_data(params)
    assert together == alone
    assert together["volumes"].overview.cases == 13
    assert len(set(threads.values())) == (3 if parallel else 1)
    assert set(threads) == set(QUERIES)


@pytest.mark.django_db(transaction=True)
def test_a_failing_query_fails_the_page_and_starts_nothing_more(history, settings, monkeypatch):
    ran: list[str] = []

    def failing(params: StatsParams) -> Any:
        ran.append("volumes")
        raise RuntimeError("the database went away")

    def recorded(name: str, run: Callable[[StatsParams], Any]) -> Callable[[StatsParams], Any]:
        def query(params: StatsParams) -> Any:
            ran.append(name)
            return run(params)

        return query

    queries = {name: recorded(name, run) for name, run in QUERIES.items()} | {"volumes": failing}
    monkeypatch.setattr("stats.dashboard.QUERIES", queries)
    settings.SCART_STATS_CONNECTIONS = 2
    with pytest.raises(RuntimeError, match="went away"):
        dashboard_data(stats_params({}))
    # The failure empties the queue: only what the other lane had already started still runs.
    assert len(ran) <= 3  # without it: all nine


@pytest.mark.django_db(transaction=True)
def test_percentiles_sort_in_more_memory_for_their_own_transaction_only(settings):
    settings.SCART_STATS_WORK_MEM = "48MB"

    def work_mem() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW work_mem")
            return str(cursor.fetchone()[0])

    if connection.vendor != "postgresql":
        with CaptureQueriesContext(connection) as captured, sort_memory():
            pass
        assert captured.captured_queries == []  # nothing to set on SQLite
        return
    before = work_mem()
    assert before != "48MB"
    with sort_memory():
        assert work_mem() == "48MB"
    assert work_mem() == before
    with transaction.atomic(), sort_memory():
        assert work_mem() == before  # inside a transaction it would outlive the query: not set


def test_inside_a_transaction_the_queries_stay_on_its_connection(history, settings):
    """Another connection would not see what the transaction wrote (here: the test's cases)."""
    settings.SCART_STATS_CONNECTIONS = 3
    assert dashboard_data(stats_params({}))["volumes"].overview.cases == 13


def test_the_week_of_the_first_report_is_the_local_monday(settings):
    # Sunday 23:30 UTC is Monday 00:30 in Amsterdam (CET): the next week there.
    case = timeline(datetime(2026, 3, 8, 23, 30, tzinfo=UTC))
    timings_refresh_all()
    assert CaseTiming.objects.get(case_id=case.pk).reported_week == date(2026, 3, 9)
    assert week_of(datetime(2026, 3, 8, 22, 59, tzinfo=UTC)) == date(2026, 3, 2)
