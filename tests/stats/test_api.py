"""``GET /api/v1/stats/takedown/`` and ``manage.py takedown_stats``: the same figures, the same filters."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.api_auth import staff_token_create
from stats.timings import timings_refresh_all
from tests.stats.builders import provider, timeline
from tests.stats.test_queries import MONDAY

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases():
    p1 = provider("p1")
    timeline(MONDAY, verdict_after=2, notice_after=1, removed_after=20, host_provider=p1)
    timeline(MONDAY, verdict_after=4, notice_after=2, removed_after=50, host_provider=p1)
    timeline(MONDAY, verdict_after=1, notice_after=1, removed_after=100, country="DE", asn=64501)
    timings_refresh_all()


@pytest.fixture
def analyst_api(analyst):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {staff_token_create(user=analyst, name='stats')[1]}")
    return client


def test_the_api_gives_the_figures_per_group(cases, analyst_api):
    response = analyst_api.get("/api/v1/stats/takedown/", {"group_by": "country", "measure": "removal"})
    assert response.status_code == 200
    body = response.json()
    rows = {r["group"]: r for r in body["rows"]}
    assert rows["NL"]["count"] == 2 and rows["NL"]["median_hours"] == 35
    assert rows["DE"]["median_hours"] == 100
    assert body["overview"]["removed"] == 3
    assert body["unit"] == "hours" and body["from"] == "first notice sent"


def test_the_api_filters_and_refuses_what_it_cannot_use(cases, analyst_api):
    body = analyst_api.get("/api/v1/stats/takedown/", {"country": "de"}).json()
    assert [r["count"] for r in body["rows"]] == [1]
    for query, message in [
        ({"group_by": "colour"}, "group_by"),
        ({"from": "yesterday"}, "not a date"),
        ({"from": "2026-03-05", "to": "2026-03-01"}, "from must come before to"),
        ({"route": "pigeon"}, "route"),
        ({"country": "Nederland"}, "two-letter"),
        ({"provider": "9" * 30}, "not a number"),
        ({"asn": "AS-1"}, "not a number"),
        ({"provider": "²"}, "not a number"),
        ({"country": "ÄÖ"}, "two-letter"),
    ]:
        response = analyst_api.get("/api/v1/stats/takedown/", query)
        assert response.status_code == 400, query
        assert message in response.json()["detail"]


def test_partners_do_not_see_statistics(cases, partner_key):
    _partner, key = partner_key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get("/api/v1/stats/takedown/").status_code == 403


def test_the_command_prints_the_same_figures_as_the_api(cases, analyst_api, capsys):
    call_command("takedown_stats", "--group-by", "country", "--json")
    printed = json.loads(capsys.readouterr().out)
    api = analyst_api.get("/api/v1/stats/takedown/", {"group_by": "country"}).json()
    assert printed["rows"] == api["rows"]
    assert printed["overview"] == api["overview"]
    call_command("takedown_stats", "--group-by", "route")
    table = capsys.readouterr().out
    assert "Own country" in table and "50.0" in table and "90.0" in table


def test_the_command_refuses_bad_filters():
    with pytest.raises(CommandError, match="measure"):
        call_command("takedown_stats", "--measure", "speed")
