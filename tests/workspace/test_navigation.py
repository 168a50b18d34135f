"""The workspace's header (workspace/navigation.py, templates/base.html): what each role is shown,
which link is current on a page and the pages below it, the counts on the worklists and what they
cost, and the sortable queue and notice list."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reports.models import Case
from tests import factories
from tests.conftest import staff_login
from workspace.navigation import counts, section_of

pytestmark = pytest.mark.django_db


def nav(html: str) -> str:
    return html.split('<nav class="staff', 1)[1].split("</nav>", 1)[0]


def current(html: str) -> list[str]:
    """The text of the links marked as the current page."""
    return [
        " ".join(re.sub(r"<[^>]+>", " ", text).split())
        for text in re.findall(r'<a class="nav-link[^"]* active" aria-current="page"[^>]*>(.*?)</a>', nav(html))
    ]


def count_of(html: str, label: str) -> int:
    found = re.search(rf">{label} <span class=\"badge[^\"]*\">(\d+)</span>", nav(html))
    assert found, label
    return int(found.group(1))


def test_an_analyst_sees_the_worklists_with_the_queue_count_and_no_senior_pages(client):
    factories.awaiting_cases(["https://example.com/1", "https://example.com/2"])
    staff_login(client, factories.staff_user("ana", "analyst"))
    page = client.get(reverse("workspace-queue")).content.decode()
    assert current(page) == ["Queue 2"]
    assert count_of(page, "Queue") == 2
    for link in ("notices-list", "stats-dashboard"):
        assert f'href="{reverse(link)}"' in nav(page)
    for link in ("reviews-queue", "disputes-queue", "contacts-queue", "rules-list"):
        assert f'href="{reverse(link)}"' not in nav(page)
    assert "Times in Europe/Amsterdam" in page.split("</header>")[0]
    assert reverse("logout") in page.split("</header>")[0]


def test_a_page_below_a_section_marks_the_section(client):
    case = factories.awaiting_case("https://example.com/a")
    staff_login(client, factories.staff_user("sen", "senior"))
    assert current(client.get(reverse("workspace-case", args=[case.pk])).content.decode()) == ["Queue 1"]
    assert current(client.get(reverse("rules-new")).content.decode()) == ["Rules"]
    assert current(client.get(reverse("notices-list")).content.decode()) == ["Notices"]
    year = timezone.localdate().year
    assert current(client.get(reverse("stats-transparency", args=[year])).content.decode()) == ["Statistics"]
    assert section_of("reviews-page") == "reviews-queue" and section_of("some-new-page") == "some-new-page"
    assert section_of(None) == ""


def test_a_senior_sees_the_counts_of_contacts_reviews_and_disputes(client):
    waiting = factories.awaiting_case("https://example.com/checked")
    Case.objects.filter(pk=waiting.pk).update(contact_check=True)
    staff_login(client, factories.staff_user("sen", "senior"))
    page = client.get(reverse("workspace-queue")).content.decode()
    assert count_of(page, "Contacts") == 1
    assert count_of(page, "Reviews") == 0 and count_of(page, "Disputes") == 0
    assert f'href="{reverse("rules-list")}"' in nav(page)


def test_the_counts_are_a_few_queries():
    analyst = factories.staff_user("ana", "analyst")
    senior = factories.staff_user("sen", "senior")
    with CaptureQueriesContext(connection) as captured:
        counts(rank=1, user=analyst)
    assert len(captured.captured_queries) == 1
    with CaptureQueriesContext(connection) as captured:
        counts(rank=2, user=senior)
    assert len(captured.captured_queries) == 4
    # Each count on its own, so that each can use its index: no count reads every case.
    assert all("FILTER" not in q["sql"].upper() for q in captured.captured_queries)


def test_nobody_signed_in_sees_no_workspace_header(client):
    page = client.get(reverse("report-form")).content.decode()
    assert '<nav class="staff' not in page and "Times in Europe/Amsterdam" in page


def test_the_queue_sorts_by_an_allowed_column_and_ignores_others(client):
    ids = factories.awaiting_cases(["https://example.com/a", "https://example.com/b", "https://example.com/c"])
    now = timezone.now()
    for offset, pk in enumerate(ids):
        Case.objects.filter(pk=pk).update(report_count=offset + 1, first_reported_at=now - timedelta(hours=offset))
    staff_login(client, factories.staff_user("ana", "analyst"))

    def order(query: str) -> list[int]:
        html = client.get(reverse("workspace-queue") + query).content.decode()
        return [int(pk) for pk in re.findall(r'<td class="url"><a href="/cases/(\d+)/', html)]

    assert order("?sort=-reports") == [ids[2], ids[1], ids[0]]
    assert order("?sort=reports") == ids
    assert order("?sort=received") == [ids[2], ids[1], ids[0]]  # the oldest first
    assert order("?sort=canonical_url") == order("")  # not a sortable column: the queue's own order
    html = client.get(reverse("workspace-queue") + "?sort=-reports").content.decode()
    assert 'aria-sort="descending"' in html
    # The case links carry the sort, so that the next case follows the order the analyst chose.
    assert f'href="/cases/{ids[2]}/?sort=-reports"' in html
    assert client.get(reverse("workspace-next") + "?sort=-reports")["Location"].startswith(f"/cases/{ids[2]}/")
