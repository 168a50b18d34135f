"""The small pieces every page shows the same way (reports/templatetags/ui.py): a URL on one line
cut in the middle, a time with its age, and a sortable column head."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from reports.templatetags.ui import TAIL, age_text, url_cell, when
from scart.sorting import ordering

NOW = datetime(2026, 11, 21, 14, 53, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(minutes=1), "1 min ago"),
        (timedelta(minutes=59, seconds=59), "59 min ago"),
        (timedelta(hours=3, minutes=10), "3 h ago"),
        (timedelta(days=2, hours=23), "2 d ago"),
        (timedelta(days=400), "1 y ago"),
        (-timedelta(seconds=30), "in under a minute"),
        (-timedelta(hours=2, minutes=5), "in 2 h"),
        (-timedelta(days=3), "in 3 d"),
    ],
)
def test_an_age_reads_as_a_person_says_it(delta, text):
    assert age_text(NOW - delta, now=NOW) == text


def test_a_short_url_is_shown_whole_and_a_long_one_keeps_its_tail():
    short = "https://example.com/a.jpg"
    assert url_cell(short) == (
        f'<span class="url-mid" title="{short}"><span class="url-head">{short}</span><span class="url-tail"></span></span>'
    )
    long = "https://gallery-hosting-12.example.com/albums/2026/some-long-path/003uudgqh.jpg"
    cell = url_cell(long)
    # The whole URL is the cell's text (copied whole) and its title; the tail stays visible when
    # the head is cut with an ellipsis by the style sheet.
    assert f'<span class="url-head">{long[:-TAIL]}</span><span class="url-tail">{long[-TAIL:]}</span>' in cell
    assert f'title="{long}"' in cell
    assert url_cell("") == "" and url_cell(None) == ""


def test_a_url_cannot_break_out_of_its_cell():
    hostile = 'https://example.com/"><script>alert(1)</script><b title="x'
    cell = url_cell(hostile)
    assert "<script>" not in cell and '"><' not in cell.replace('"><span', "")
    assert "&lt;script&gt;" in cell and "&quot;" in cell


def test_a_time_shows_its_age_and_the_local_time_on_hover(settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    moment = datetime.now(UTC) - timedelta(hours=3, minutes=5)
    html = when(moment)
    assert html.startswith(f'<time datetime="{moment.isoformat()}" title="')
    local = moment.astimezone(ZoneInfo("Europe/Amsterdam"))
    assert local.strftime("%Y-%m-%d %H:%M:%S") in html and f" {local.tzname()}" in html
    assert html.endswith(">3 h ago</time>")
    assert when(None) == ""


def _sort_head(query: str, key: str = "received", numeric: bool = False) -> str:
    request = RequestFactory().get("/" + query)
    template = Template('{% load ui %}{% sort_th key "Received" numeric=numeric %}')
    return template.render(Context({"request": request, "key": key, "numeric": numeric}))


def test_a_column_head_sorts_up_then_down_and_keeps_the_filters():
    assert (
        _sort_head("?state=new&page=3")
        == '<th scope="col"><a class="sort" href="?state=new&amp;sort=received">Received</a></th>'
    )
    up = _sort_head("?state=new&sort=received")
    assert 'aria-sort="ascending"' in up and "sort=-received" in up and "▲" in up
    down = _sort_head("?sort=-received&country=NL")
    assert 'aria-sort="descending"' in down and "country=NL" in down and "sort=received" in down and "▼" in down
    other = _sort_head("?sort=-provider")
    assert "aria-sort" not in other and "sort=received" in other
    assert 'class="n"' in _sort_head("", numeric=True)


def test_only_allowed_sort_keys_reach_the_query():
    allowed = {"received": ("first_reported_at",), "provider": ("provider__name", "-asn")}
    assert ordering("received", allowed) == ("received", ["first_reported_at", "pk"])
    assert ordering("-provider", allowed) == ("-provider", ["-provider__name", "asn", "-pk"])
    assert ordering("password", allowed) == ("", [])
    assert ordering("-canonical_url__secret", allowed) == ("", [])
    assert ordering(None, allowed) == ("", [])
