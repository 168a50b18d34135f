"""Takedown statistics: hand-computed figures for small timelines, and the SQL aggregation
against a plain Python reference on random data."""

from __future__ import annotations

import bisect
import math
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reports.models import RemovalKind, Verdict
from routing.models import NoticeKind
from stats.measures import MEASURES, Filters, StatsQueryError
from stats.models import CaseTiming, Route
from stats.takedown_times import takedown_stats
from stats.timings import timings_refresh, timings_refresh_all, timings_refresh_due
from stats.volumes import overview
from tests.stats.builders import provider, timeline

pytestmark = pytest.mark.django_db

MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Amsterdam


@pytest.fixture
def six_cases():
    """The timelines the hand-computed figures below are about (hours)."""
    p1 = provider("p1")
    p2 = provider("p2", country="DE", asn=64501)
    return {
        "a": timeline(MONDAY, verdict_after=2, notice_after=1, removed_after=20, host_provider=p1),
        "b": timeline(MONDAY, verdict_after=4, notice_after=2, removed_after=50, host_provider=p1, channel="web_form"),
        "c": timeline(
            MONDAY,
            verdict_after=1,
            notice_after=1,
            removed_after=100,
            host_provider=p2,
            country="DE",
            asn=64501,
            notice_kind=NoticeKind.REFERRAL,
            ai_generated="yes",
        ),
        "d": timeline(MONDAY, verdict_after=1, removed_after=3, removal_kind=RemovalKind.BEFORE_NOTICE),
        "e": timeline(MONDAY, verdict_after=1, notice_after=1, host_provider=p1),
        "f": timeline(MONDAY, verdict_after=1, notice_after=1, removed_after=80, removal_kind=RemovalKind.UNREACHABLE),
    }


def test_it_computes_the_hand_computed_figures(six_cases):
    assert timings_refresh_all() == 6
    removal = takedown_stats(measure="removal").rows
    assert len(removal) == 1
    (row,) = removal
    # First notice to removal: a 20 h, b 50 h, c 100 h (d before notice and f unreachable apart).
    assert row.count == 3
    assert row.median_hours == 50
    assert row.p90_hours == pytest.approx(90)  # 50 + 0.8 * (100 - 50)
    assert row.mean_hours == pytest.approx(56.67, abs=0.01)
    assert row.within_24h == pytest.approx(1 / 3, abs=1e-4)
    assert row.within_72h == pytest.approx(2 / 3, abs=1e-4)
    assert row.within_7d == 1

    # First report to removal: a 23, b 56, c 102, d 4 (before notice counts here), f apart.
    (row,) = takedown_stats(measure="report_removal").rows
    assert (row.count, row.median_hours) == (4, 39.5)

    # Time to assess: 2, 4, 1, 1, 1, 1.
    (row,) = takedown_stats(measure="assess").rows
    assert (row.count, row.median_hours) == (6, 1)
    assert row.mean_hours == pytest.approx(1.67, abs=0.01)

    # Time to notice (verdict to first notice): 1, 2, 1, 1, 1 (d had none).
    (row,) = takedown_stats(measure="notice").rows
    assert (row.count, row.median_hours) == (5, 1)
    assert row.p90_hours == pytest.approx(1.6)


def test_it_groups_by_route_provider_country_and_channel(six_cases):
    timings_refresh_all()
    by_route = {r.group: r for r in takedown_stats(measure="removal", group_by="route").rows}
    assert set(by_route) == {Route.OWN_COUNTRY, Route.PARTNER_HOTLINE}
    assert (by_route[Route.OWN_COUNTRY].count, by_route[Route.OWN_COUNTRY].median_hours) == (2, 35)
    assert by_route[Route.PARTNER_HOTLINE].median_hours == 100
    assert by_route[Route.PARTNER_HOTLINE].label == "Referred to a partner hotline"

    slowest = takedown_stats(measure="removal", group_by="provider", order="slowest").rows
    assert [r.label for r in slowest] == ["p2", "p1"]
    by_country = {r.group: r for r in takedown_stats(measure="report_removal", group_by="country").rows}
    assert by_country["DE"].label == "Germany (DE)" and by_country["NL"].count == 3
    by_channel = {r.group: r.count for r in takedown_stats(measure="assess", group_by="channel").rows}
    assert by_channel == {"api": 5, "web_form": 1}
    (week,) = takedown_stats(measure="assess", group_by="week").rows
    assert week.group == date(2026, 3, 2) and week.label == "2026-W10"


def test_filters_narrow_the_cases(six_cases):
    timings_refresh_all()
    (row,) = takedown_stats(measure="removal", filters=Filters(country="de")).rows
    assert (row.count, row.median_hours) == (1, 100)
    assert takedown_stats(measure="removal", filters=Filters(since=date(2026, 3, 3))).rows == []
    (row,) = takedown_stats(measure="assess", filters=Filters(until=date(2026, 3, 3), channel="web_form")).rows
    assert row.count == 1 and row.median_hours == 4
    (row,) = takedown_stats(measure="removal", filters=Filters(ai_generated="yes")).rows
    assert row.count == 1


def test_the_overview_counts_removals_apart_and_ages_what_is_still_online(six_cases):
    timings_refresh_all()
    now = MONDAY + timedelta(days=10)
    figures = overview(now=now)
    assert (figures.cases, figures.illegal, figures.notified, figures.removed) == (6, 6, 5, 5)
    assert (figures.removed_before_notice, figures.removed_unreachable, figures.still_online) == (1, 1, 1)
    assert figures.still_online_median_age_hours == 240
    assert figures.ai_generated_share == pytest.approx(1 / 6, abs=1e-4)


def test_working_hours_leave_out_nights_weekends_and_holidays(settings):
    settings.SCART_STATS_WORKING_HOURS = "09:00-17:00"
    friday = datetime(2026, 4, 24, 14, 0, tzinfo=UTC)  # 16:00 in Amsterdam; Monday 27 April is King's Day
    case = timeline(friday, verdict_after=90)  # Tuesday 28 April 10:00 in Amsterdam
    timings_refresh(case_ids=[case.pk])
    timing = CaseTiming.objects.get(pk=case.pk)
    assert timing.assess_s == 90 * 3600
    assert timing.assess_wh == 2 * 3600  # Friday 16-17 and Tuesday 9-10
    (row,) = takedown_stats(measure="assess", working_hours=True).rows
    assert row.median_hours == 2


def test_a_case_that_came_back_keeps_its_first_removal():
    case = timeline(MONDAY, verdict_after=1, notice_after=1, removed_after=10, reappeared=1)
    timings_refresh(case_ids=[case.pk])
    timing = CaseTiming.objects.get(pk=case.pk)
    assert timing.reappeared == 1
    assert timing.removal_s == 10 * 3600
    assert timing.removed_at is not None
    assert timing.last_online_at == timing.removed_at - timedelta(minutes=30)


def test_cases_that_are_not_illegal_count_only_in_time_to_assess():
    case = timeline(MONDAY, verdict_after=3, verdict=Verdict.NOT_ILLEGAL)
    timings_refresh(case_ids=[case.pk])
    timing = CaseTiming.objects.get(pk=case.pk)
    assert (timing.illegal, timing.assess_s, timing.notice_s, timing.still_online) == (False, 3 * 3600, None, False)


def test_the_refresh_follows_new_events(six_cases):
    assert timings_refresh_due() == 6  # every case has events
    assert CaseTiming.objects.count() == 6
    assert timings_refresh_due() == 0  # nothing new: nothing refreshed again
    late = timeline(MONDAY, verdict_after=1, notice_after=1, removed_after=5)
    assert not CaseTiming.objects.filter(pk=late.pk).exists()
    timings_refresh_due()
    assert CaseTiming.objects.get(pk=late.pk).removal_s == 5 * 3600


def test_unknown_measures_and_groupings_are_refused():
    with pytest.raises(StatsQueryError, match="unknown measure"):
        takedown_stats(measure="speed")
    with pytest.raises(StatsQueryError, match="unknown grouping"):
        takedown_stats(group_by="colour")


# --- the SQL aggregation against a plain Python reference ------------------------------------


def percentile_cont(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


@pytest.fixture
def pool():
    """Cases to hang random timings on (made once per test; each example replaces the timings)."""
    return [timeline(MONDAY).pk for _ in range(40)]


EDGES = (6 * 3600, 24 * 3600, 7 * 24 * 3600)
durations = st.lists(
    st.tuples(
        st.sampled_from(["NL", "DE", "RU"]),
        st.one_of(st.integers(min_value=0, max_value=30 * 24 * 3600), st.sampled_from(EDGES)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=durations)
def test_the_sql_figures_match_a_python_reference(pool, data):
    CaseTiming.objects.all().delete()
    CaseTiming.objects.bulk_create(
        CaseTiming(
            case_id=pk,
            url_sha256="x",
            first_reported_at=MONDAY,
            reported_week=MONDAY.date(),
            hosting_country=country,
            removal_s=seconds,
            refreshed_at=MONDAY,
        )
        for pk, (country, seconds) in zip(pool, data, strict=False)
    )
    expected: dict[str, list[int]] = {}
    for country, seconds in data:
        expected.setdefault(country, []).append(seconds)
    variants = [False, True] if connection.vendor == "postgresql" else [True]
    for windows in variants:
        found = takedown_stats(measure="removal", group_by="country", windows=windows, histogram=EDGES)
        rows = {r.group: r for r in found.rows}
        assert set(rows) == set(expected)
        for country, values in expected.items():
            row = rows[country]
            assert row.count == len(values)
            assert row.median_hours == pytest.approx(round(percentile_cont(values, 0.5) / 3600, 2), abs=0.011)
            assert row.p90_hours == pytest.approx(round(percentile_cont(values, 0.9) / 3600, 2), abs=0.011)
            assert row.mean_hours == pytest.approx(round(sum(values) / len(values) / 3600, 2), abs=0.011)
            within = sum(1 for v in values if v <= 24 * 3600) / len(values)
            assert row.within_24h == pytest.approx(within, abs=1e-4)
            # Buckets (lower, upper]: a value on an edge falls in the bucket below it.
            buckets = [0] * (len(EDGES) + 1)
            for v in values:
                buckets[bisect.bisect_left(EDGES, v)] += 1
            assert row.histogram == buckets


def test_the_removal_notes_name_the_unreachable_limit_as_set_now():
    with override_settings(SCART_UNREACHABLE_CLOSE_HOURS=48):
        assert "after 48 h unreachable" in MEASURES["removal"].note
        assert "after 48 h unreachable" in MEASURES["report_removal"].note
    assert MEASURES["assess"].note == ""
