"""The yearly transparency report (DSA Art. 22 shape): hand-computed figures for a small year of
notices, the page and its CSV, and what they must never show."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction

import stats.transparency
from reports.models import Assessment, Case, RemovalKind, Verdict
from routing.models import Notice, NoticeCase, NoticeKind, NoticeState, Provider
from stats.timings import timings_refresh_all
from stats.transparency import Line, TransparencyYearError, transparency_report
from tests import factories
from tests.stats.builders import provider, timeline

pytestmark = pytest.mark.django_db

REPORTED = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
REPORTER = "reporter-jo@mail.example"


@pytest.fixture
def year_2025():
    """Eleven URLs notified in 2025 (Europe/Amsterdam), and some that are not (times in hours)."""
    alpha = provider("Alpha Hosting")
    beta = provider("Beta Cloud", country="DE", asn=64501)
    jane = factories.staff_user("jane-analyst")
    a = timeline(
        REPORTED,
        verdict_after=1,
        notice_after=1,
        removed_after=10,
        host_provider=alpha,
        analyst=jane,
        reporter_email=REPORTER,
    )
    batch = Notice.objects.get(items__case=a)
    # b goes out in a's notice (one notice, two URLs); k was in it too but taken out before it went.
    timeline(
        REPORTED,
        verdict_after=1,
        notice_after=1,
        removed_after=30,
        host_provider=alpha,
        category="A2",
        legal_basis="national",
        join_notice=batch,
        analyst=jane,
    )
    k = timeline(REPORTED, verdict_after=1, notice_after=1, host_provider=alpha, join_notice=batch)
    NoticeCase.objects.filter(case=k).update(dropped_at=REPORTED + timedelta(hours=2), drop_reason="moved")
    # c: referred to the partner hotline where it is hosted.
    timeline(
        REPORTED,
        verdict_after=1,
        notice_after=1,
        removed_after=100,
        host_provider=beta,
        country="DE",
        asn=64501,
        notice_kind=NoticeKind.REFERRAL,
        category="B1",
        ai_generated="yes",
    )
    # d: the checks found it gone before the notice went out.
    timeline(
        REPORTED,
        verdict_after=1,
        notice_after=1,
        removed_after=2,
        removal_kind=RemovalKind.BEFORE_NOTICE,
        host_provider=alpha,
    )
    timeline(REPORTED, verdict_after=1, notice_after=1, host_provider=alpha, dispute="open")  # e
    # f: unreachable for too long.
    timeline(
        REPORTED,
        verdict_after=1,
        notice_after=1,
        removed_after=80,
        removal_kind=RemovalKind.UNREACHABLE,
        host_provider=beta,
    )
    g = timeline(REPORTED, verdict_after=1, notice_after=1, host_provider=alpha)
    _reminder(g, at=REPORTED + timedelta(days=3))
    timeline(REPORTED, verdict_after=1, notice_after=1, host_provider=beta, dispute="accepted", category="B2")  # h
    timeline(REPORTED, verdict_after=1, notice_after=1, removed_after=50, host_provider=alpha, dispute="upheld")  # i
    # 2024 and a case that was never illegal: not in the report.
    timeline(
        datetime(2024, 6, 3, 9, 0, tzinfo=UTC), verdict_after=1, notice_after=1, removed_after=5, host_provider=alpha
    )
    timeline(REPORTED, verdict_after=1, verdict=Verdict.NOT_ILLEGAL)
    # m: sent 2024-12-31 23:30 UTC, 00:30 on New Year's Day in Amsterdam: 2025. Unknown provider, police.
    timeline(
        datetime(2024, 12, 31, 21, 0, tzinfo=UTC),
        verdict_after=1,
        notice_after=1.5,
        country="RU",
        asn=None,
        notice_kind=NoticeKind.POLICE,
    )
    # Sent 2025-12-31 23:00 UTC, midnight in Amsterdam: 2026.
    timeline(datetime(2025, 12, 31, 20, 0, tzinfo=UTC), verdict_after=1, notice_after=2, host_provider=beta)
    # o: notified, then its verdict revised to not illegal.
    o = timeline(REPORTED, verdict_after=1, notice_after=1, host_provider=beta)
    Assessment.objects.create(
        case=o,
        at=REPORTED + timedelta(hours=5),
        verdict=Verdict.NOT_ILLEGAL,
        not_illegal_reason="adult",
        ai_generated="no",
        analyst=jane,
    )
    Case.objects.filter(pk=o.pk).update(verdict=Verdict.NOT_ILLEGAL, state="not_illegal")
    timings_refresh_all()


def _reminder(case: Case, *, at: datetime) -> None:
    notice = Notice.objects.create(
        reference=f"SCART-REMINDER-{case.pk}",
        kind=NoticeKind.REMINDER,
        recipient_kind="provider",
        recipient_name="test",
        batch_key=f"reminder:{case.pk}",
        due_at=at,
        state=NoticeState.SENT,
        sent_at=at,
        open=False,
        step=1,
        provider=case.provider,
    )
    NoticeCase.objects.create(notice=notice, case=case, added_at=at)


def _actions(line: Line) -> tuple[int, ...]:
    return (
        line.urls,
        line.removed,
        line.removed_before_notice,
        line.unreachable,
        line.disputed,
        line.still_online,
        line.other,
    )


def test_it_counts_the_notices_and_urls_of_the_year_and_what_became_of_them(year_2025):
    report = transparency_report(year=2025, now=NOW)
    assert report.complete
    assert {t.key: t.count for t in report.notice_kinds} == {"provider": 8, "referral": 1, "police": 1}
    assert {t.key: t.count for t in report.follow_ups} == {"reminder": 1, "escalation": 0}
    # a+b (one notice), c, d, e, f, g, h, i, m, o; not k (taken out), 2024's, the not illegal one or 2026's.
    assert (report.total.notices, report.total.urls) == (10, 11)
    # Removed after notice a, b, c, i; before notice d; unreachable f; disputed e, h; online g, m; other o.
    assert _actions(report.total) == (11, 4, 1, 1, 2, 2, 1)
    assert [(t.key, t.count) for t in report.actions] == [
        ("removed", 4),
        ("removed_before_notice", 1),
        ("unreachable", 1),
        ("disputed", 2),
        ("still_online", 2),
        ("other", 1),
    ]
    # Disputed: e (open), h (accepted), i (upheld, then removed).
    assert [(t.key, t.count) for t in report.disputes] == [
        ("disputed", 3),
        ("open", 1),
        ("upheld", 1),
        ("accepted", 1),
        ("removed", 1),
    ]


def test_the_removal_times_are_from_the_first_notice(year_2025):
    report = transparency_report(year=2025, now=NOW)
    # a 10 h, b 30 h, i 50 h, c 100 h.
    assert report.removal is not None
    assert (report.removal.count, report.removal.median_hours) == (4, 40)
    assert report.removal.p90_hours == pytest.approx(85)  # 50 + 0.7 * (100 - 50)
    assert (report.removal.within_24h, report.removal.within_72h, report.removal.within_7d) == (0.25, 0.75, 1)
    assert report.total.median_removal_hours == 40
    assert report.total.p90_removal_hours == pytest.approx(85)
    # From the first report: d 4, a 12, b 32, i 52, c 102 (f, unreachable, is not timed).
    assert report.report_removal is not None
    assert (report.report_removal.count, report.report_removal.median_hours) == (5, 32)


def test_it_breaks_the_urls_down_by_provider_type_and_route(year_2025):
    report = transparency_report(year=2025, now=NOW)
    providers = report.breakdowns["provider"]
    assert [(line.label, line.notices, line.urls) for line in providers] == [
        ("Alpha Hosting", 5, 6),  # a+b, d, e, g, i
        ("Beta Cloud", 4, 4),  # c, f, h, o
        ("Unknown provider", 1, 1),  # m
    ]
    alpha, beta, unknown = providers
    assert _actions(alpha) == (6, 3, 1, 0, 1, 1, 0)
    assert _actions(beta) == (4, 1, 0, 1, 1, 0, 1)
    assert _actions(unknown) == (1, 0, 0, 0, 0, 1, 0)
    assert (alpha.median_removal_hours, beta.median_removal_hours, unknown.median_removal_hours) == (30, 100, None)

    categories = {line.key: line for line in report.breakdowns["category"]}
    assert {k: line.urls for k, line in categories.items()} == {"A1": 7, "A2": 1, "B1": 1, "B2": 1, "": 1}
    assert [line.label for line in report.breakdowns["category"]][-1] == "Not recorded"  # o, revised
    assert (categories["A1"].notices, categories["A1"].removed, categories["A1"].median_removal_hours) == (7, 2, 30)
    assert categories["A1"].label == "A1: prepubescent, sexual activity"
    bases = {line.key: (line.notices, line.urls) for line in report.breakdowns["legal_basis"]}
    assert bases == {"baseline": (9, 9), "national": (1, 1), "": (1, 1)}
    assert {line.key: line.urls for line in report.breakdowns["ai_generated"]} == {"yes": 1, "no": 10}
    routes = {line.key: line for line in report.breakdowns["route"]}
    assert {k: line.urls for k, line in routes.items()} == {"own_country": 9, "partner_hotline": 1, "police": 1}
    assert routes["partner_hotline"].median_removal_hours == 100
    for lines in report.breakdowns.values():  # every breakdown adds up to the total
        assert sum(line.urls for line in lines) == report.total.urls
        assert sum(line.removed for line in lines) == report.total.removed


def test_the_year_is_the_hotlines_year(year_2025):
    report = transparency_report(year=2026, now=NOW)
    assert (report.total.notices, report.total.urls) == (1, 1)  # sent at midnight on New Year's Day
    assert not report.complete
    (line,) = report.breakdowns["provider"]
    assert line.label == "Beta Cloud"
    report = transparency_report(year=2024, now=NOW)
    assert (report.total.urls, report.total.removed) == (1, 1)
    empty = transparency_report(year=2010, now=NOW)
    assert (empty.total.notices, empty.total.urls, empty.removal) == (0, 0, None)
    assert all(lines == [] for lines in empty.breakdowns.values())


def test_years_it_cannot_report_on_are_refused():
    for year in (1999, 2027, 99999):
        with pytest.raises(TransparencyYearError, match=f"no report for {year}"):
            transparency_report(year=year, now=NOW)


def _no_personal_data(text: str) -> None:
    assert "jane-analyst" not in text
    assert REPORTER not in text
    assert "reporter-jo" not in text
    assert "example.com" not in text and "/item/" not in text  # no reported URL or host
    assert "abuse@" not in text  # nor the providers' addresses


def test_the_page_shows_the_report_without_personal_data(client, year_2025, senior):
    response = client.get("/stats/transparency/2025/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Transparency report 2025" in text
    assert "Alpha Hosting" in text and "Beta Cloud" in text and "Unknown provider" in text
    assert "stats/transparency.css" in text  # the print stylesheet
    assert 'href="/stats/transparency/2025.csv"' in text
    assert 'href="/stats/transparency/2024/"' in text  # the year picker, from the first notice's year
    assert response.context["report"].total.urls == 11
    _no_personal_data(text)


def test_the_csv_has_the_same_figures_without_personal_data(client, year_2025, senior):
    response = client.get("/stats/transparency/2025.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="transparency-2025.csv"' in response["Content-Disposition"]
    text = response.content.decode()
    _no_personal_data(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    (total,) = [r for r in rows if r["section"] == "total"]
    assert (total["notices"], total["urls"], total["removed"], total["disputed"], total["other"]) == (
        "10",
        "11",
        "4",
        "2",
        "1",
    )
    assert total["median_removal_hours"] == "40.0"
    alpha = next(r for r in rows if r["section"] == "provider" and r["label"] == "Alpha Hosting")
    assert (alpha["notices"], alpha["urls"], alpha["median_removal_hours"]) == ("5", "6", "30.0")
    notices = {r["key"]: r["notices"] for r in rows if r["section"] == "notices"}
    assert notices == {"provider": "8", "referral": "1", "police": "1"}
    disputes = {r["key"]: r["urls"] for r in rows if r["section"] == "disputes"}
    assert disputes["disputed"] == "3"
    times = {r["key"]: r["median_removal_hours"] for r in rows if r["section"] == "removal_times"}
    assert times == {"removal": "40.0", "report_removal": "32.0"}


@pytest.mark.parametrize(
    "path", ["/stats/transparency/1999/", "/stats/transparency/2999/", "/stats/transparency/99999999999999999999.csv"]
)
def test_a_year_without_a_report_is_a_404_with_a_message(client, senior, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "there is no report for" in response.content.decode().lower()


def test_a_year_that_is_not_a_number_is_not_found(client, senior):
    assert client.get("/stats/transparency/last/").status_code == 404
    assert client.get("/stats/transparency/-1/").status_code == 404


def test_analysts_may_not_see_it(client, analyst):
    assert client.get("/stats/transparency/2025/").status_code == 403
    assert client.get("/stats/transparency/2025.csv").status_code == 403


def test_the_csv_cannot_smuggle_spreadsheet_formulas(client, year_2025, senior):
    Provider.objects.filter(name="Alpha Hosting").update(name="=HYPERLINK(1)")  # names come from RDAP
    rows = list(csv.DictReader(io.StringIO(client.get("/stats/transparency/2025.csv").content.decode())))
    assert "'=HYPERLINK(1)" in {r["label"] for r in rows}
    assert "=HYPERLINK(1)" not in {r["label"] for r in rows}


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_it_reads_one_moment_and_leaves_no_tables(year_2025, monkeypatch):
    """Its own transaction, repeatable read on PostgreSQL: the same figures as inside a test's."""
    levels = []
    report_make = stats.transparency._report

    def recorded(*args, **kwargs):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW transaction_isolation")
                levels.append(cursor.fetchone()[0])
        return report_make(*args, **kwargs)

    monkeypatch.setattr("stats.transparency._report", recorded)
    report = transparency_report(year=2025, now=NOW)
    assert levels == (["repeatable read"] if connection.vendor == "postgresql" else [])
    assert (report.total.notices, report.total.urls) == (10, 11)
    assert _actions(report.total) == (11, 4, 1, 1, 2, 2, 1)
    with connection.cursor() as cursor:
        for table in ("scart_transparency_items", "scart_transparency_urls", "scart_transparency_disputes"):
            with pytest.raises(DatabaseError), transaction.atomic():
                cursor.execute(f"SELECT 1 FROM {table}")


@pytest.mark.django_db(transaction=True)
def test_a_failing_query_is_the_error_it_raises(year_2025, monkeypatch):
    """The first error, not one about the aborted transaction from cleaning up after it."""

    def failing(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM scart_transparency_urls")

    monkeypatch.setattr("stats.transparency._report", failing)
    with pytest.raises(DatabaseError, match="no_such_column"):
        transparency_report(year=2025, now=NOW)
